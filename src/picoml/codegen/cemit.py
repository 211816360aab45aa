"""A tiny C emitter: identifiers, constant arrays, struct initializers. No string soup elsewhere."""

from __future__ import annotations

import re

import numpy as np

from picoml.errors import InputError
from picoml.untrusted import for_terminal, printable

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# C99 and C11 keywords (a model name is also a symbol prefix; no leading underscore is allowed,
# so every reserved _X and __x name is refused before this list is looked at).
C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "asm fortran bool true false".split()
)
# Target names CMake reserves (add_library(all ...) fails) and names the exported projects use.
RESERVED_NAMES = frozenset(
    "all clean help install preinstall test package package_source edit_cache rebuild_cache list_install_components "
    "zero_check all_build run_tests main".split()
)
NAME_MAX = 40


def check_identifier(name: str, what: str = "model name") -> str:
    """The model name prefixes every generated symbol, macro and file: it must be a plain C
    identifier (letters, digits, _, starting with a letter, at most 40 characters), not a C
    keyword, and it may not start with ``pm`` (the runtime's prefix: ``pm_config`` would replace
    ``pm_config.h``, ``PM_COMMON`` its header guard) nor be a name CMake reserves."""
    if not isinstance(name, str):
        raise InputError(f"{what} must be a string, got {type(name).__name__}")
    shown = repr(for_terminal(name, 60))
    if not _IDENT.fullmatch(name) or len(name) > NAME_MAX:
        raise InputError(
            f"{what} {shown} is not a valid C identifier (a letter, then letters, digits or _; at most {NAME_MAX} chars)"
        )
    if name in C_KEYWORDS:
        raise InputError(f"{what} {shown} is a C keyword; choose another name")
    if name.lower() == "pm" or name.lower().startswith("pm_"):
        raise InputError(f"{what} {shown}: the pm_ prefix belongs to picoml's runtime files; choose another name")
    if name.lower() in RESERVED_NAMES:
        raise InputError(f"{what} {shown} is reserved (CMake target or entry point); choose another name")
    return name


C_TYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.int32): "int32_t",
}


def c_int(v: int) -> str:
    """An int32 literal; INT32_MIN needs the expression form to stay warning-free."""
    v = int(v)
    if v == -(1 << 31):
        return "(-2147483647 - 1)"
    return str(v)


def array(
    name: str,
    values: np.ndarray,
    ctype: str | None = None,
    per_line: int = 16,
    static: bool = True,
    qualifier: str = "const",
) -> str:
    """``static const T name[N] = {...};`` with a fixed layout (byte-identical output);
    ``qualifier`` ``PM_CONST``: a table kernels read through PM_LD_* (program memory on AVR)."""
    flat = np.asarray(values).reshape(-1)
    ctype = ctype or C_TYPES[flat.dtype]
    items = [c_int(v) for v in flat.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)] or ["0"]
    body = ",\n  ".join(lines)
    n = max(len(items), 1)
    return f"{'static ' if static else ''}{qualifier} {ctype} {name}[{n}] = {{\n  {body}\n}};\n"


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


def struct_array(
    ctype: str, name: str, rows: list[dict[str, int]], static: bool = True, qualifier: str = "const"
) -> str:
    """``static const T name[N] = {{.a = 1, ...}, ...};`` one row per line (byte-identical output)."""
    items = ["{" + ", ".join(f".{k} = {c_int(v)}" for k, v in r.items()) + "}" for r in rows]
    body = ",\n  ".join(items) if items else "{0}"
    return f"{'static ' if static else ''}{qualifier} {ctype} {name}[{max(len(items), 1)}] = {{\n  {body}\n}};\n"


def comment(text: str) -> str:
    """A one-line C comment. Text that may come from a model file (op and tensor names) is reduced
    to ``untrusted.printable``'s subset: it cannot end the comment, splice the next line or form
    a trigraph."""
    return "/* " + printable(text, 110) + " */"
