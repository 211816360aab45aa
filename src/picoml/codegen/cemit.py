"""A tiny C emitter: identifiers, constant arrays, struct initializers. No string soup elsewhere."""

from __future__ import annotations

import re

import numpy as np

from picoml.errors import PicomlError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_KEYWORDS = {
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
}

C_TYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.int32): "int32_t",
}


def check_identifier(name: str, what: str = "model name") -> str:
    """Reject anything that is not a plain C identifier (it prefixes every generated symbol)."""
    if not _IDENT.match(name) or name in _C_KEYWORDS or len(name) > 40:
        raise PicomlError(f"{what} {name!r} is not a valid C identifier (letters, digits, _; at most 40 chars)")
    return name


def c_int(v: int) -> str:
    """An int32 literal; INT32_MIN needs the expression form to stay warning-free."""
    v = int(v)
    if v == -(1 << 31):
        return "(-2147483647 - 1)"
    return str(v)


def array(name: str, values: np.ndarray, ctype: str | None = None, per_line: int = 16, static: bool = True) -> str:
    """``static const T name[N] = {...};`` with a fixed layout (byte-identical output)."""
    flat = np.asarray(values).reshape(-1)
    ctype = ctype or C_TYPES[flat.dtype]
    items = [c_int(v) for v in flat.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)] or ["0"]
    body = ",\n  ".join(lines)
    n = max(len(items), 1)
    return f"{'static ' if static else ''}const {ctype} {name}[{n}] = {{\n  {body}\n}};\n"


def struct_init(ctype: str, name: str, fields: dict[str, object], static: bool = True) -> str:
    """``static const T name = {.a = 1, ...};`` (designated initializers are C99)."""
    parts = []
    for k, v in fields.items():
        if isinstance(v, (list, tuple)):
            v = "{" + ", ".join(c_int(x) for x in v) + "}"
        elif isinstance(v, (int, np.integer)):
            v = c_int(int(v))
        parts.append(f"  .{k} = {v},")
    return f"{'static ' if static else ''}const {ctype} {name} = {{\n" + "\n".join(parts) + "\n};\n"


def struct_array(ctype: str, name: str, rows: list[dict[str, int]], static: bool = True) -> str:
    """``static const T name[N] = {{.a = 1, ...}, ...};`` one row per line (byte-identical output)."""
    items = ["{" + ", ".join(f".{k} = {c_int(v)}" for k, v in r.items()) + "}" for r in rows]
    body = ",\n  ".join(items) if items else "{0}"
    return f"{'static ' if static else ''}const {ctype} {name}[{max(len(items), 1)}] = {{\n  {body}\n}};\n"


def comment(text: str) -> str:
    return "/* " + text.replace("*/", "* /") + " */"
