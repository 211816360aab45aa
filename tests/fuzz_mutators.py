"""Mutation strategies for the model-loading fuzz test (``tests/test_fuzz.py``).

Everything here is deterministic: ``make_case(data, layout, rng)`` with a ``random.Random``
seeded from (seed, model, case index) always gives the same bytes, so a failure report's
case id is enough to reproduce it.

Two families of mutations:

- blind: bit flips, boundary-value bytes, aligned 4-byte words set to special values,
  truncation, appended junk, inserted/deleted bytes, copied chunks, a wrong file
  identifier, or a file that is not a .tflite model at all;
- structure-aware: ``walk`` parses the pristine flatbuffer independently of picoml (with
  TFLite's schema field ids) and records where every uoffset, vtable, vector length and
  interesting scalar lives, so edits can point offsets out of bounds or into other objects,
  claim huge counts, break vtables, and set shapes, type codes and tensor/buffer/opcode
  indices to values just past what is valid.
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass, field

# ----------------------------------------------------------------------------- the walk
# Table schemas: field id -> (kind, child). kinds: scalar widths "u8", "i8", "u32", "i32",
# "i64"; "str"; "table" (child = table name); "[table]"; "[i32]", "[i64]", "[f32]", "[u8]".
# Fields are the ones of TFLite's schema.fbs; unknown ids are still recorded as vtable entries.
_SCHEMA: dict[str, dict[int, tuple[str, str]]] = {
    "Model": {
        0: ("u32", "version"),
        1: ("[table]", "OperatorCode"),
        2: ("[table]", "SubGraph"),
        3: ("str", "description"),
        4: ("[table]", "Buffer"),
        5: ("[i32]", "metadata_buffer"),
        6: ("[table]", "Metadata"),
        7: ("[table]", "Opaque"),
    },
    "OperatorCode": {
        0: ("i8", "deprecated_builtin_code"),
        1: ("str", "custom_code"),
        2: ("i32", "version"),
        3: ("i32", "builtin_code"),
    },
    "SubGraph": {
        0: ("[table]", "Tensor"),
        1: ("[i32]", "inputs"),
        2: ("[i32]", "outputs"),
        3: ("[table]", "Operator"),
        4: ("str", "name"),
    },
    "Tensor": {
        0: ("[i32]", "shape"),
        1: ("i8", "type"),
        2: ("u32", "buffer"),
        3: ("str", "name"),
        4: ("table", "Quantization"),
        5: ("u8", "is_variable"),
        6: ("table", "Opaque"),
        7: ("[i32]", "shape_signature"),
    },
    "Quantization": {
        0: ("[f32]", "min"),
        1: ("[f32]", "max"),
        2: ("[f32]", "scale"),
        3: ("[i64]", "zero_point"),
        4: ("u8", "details_type"),
        5: ("table", "Opaque"),
        6: ("i32", "quantized_dimension"),
    },
    "Buffer": {0: ("[u8]", "data"), 1: ("i64", "offset"), 2: ("i64", "size")},
    "Metadata": {0: ("str", "name"), 1: ("u32", "buffer")},
    "Operator": {
        0: ("u32", "opcode_index"),
        1: ("[i32]", "inputs"),
        2: ("[i32]", "outputs"),
        3: ("u8", "builtin_options_type"),
        4: ("table", "Options"),
        5: ("[u8]", "custom_options"),
    },
    # Builtin options differ per op; every field is recorded as "option" (its width unknown).
    "Options": {},
    # Tables picoml does not read: only their vtable and offsets are recorded.
    "Opaque": {},
}
_WIDTH = {"u8": 1, "i8": 1, "u32": 4, "i32": 4, "i64": 8}


@dataclass(frozen=True)
class Field:
    """One structural word: ``kind`` says how to mutate it, ``what`` names it for reports."""

    kind: str  # root, soffset, vt_size, vt_tsize, vt_entry, uoffset, elem_uoffset, vec_len, scalar, option,
    #            shape_dim, tensor_index, opcode_index, buffer_index, type_code, options_type, qdim, q_scale,
    #            q_zero_point, const_i32, string_bytes
    pos: int
    size: int
    what: str


@dataclass
class Layout:
    """Where the structure of one pristine .tflite file lives."""

    size: int
    fields: list[Field] = field(default_factory=list)
    objects: list[int] = field(default_factory=list)  # starts of tables, vtables, vectors, strings
    vtables: list[tuple[int, int]] = field(default_factory=list)  # (start, byte size)
    # uoffset fields of vectors and strings: (field pos, element kind, what); element kinds are
    # Field kinds (shape_dim, tensor_index, q_scale, ...), "string" or "scalar"
    vec_refs: list[tuple[int, str, str]] = field(default_factory=list)
    by_kind: dict[str, list[Field]] = field(default_factory=dict)
    n_tensors: int = 0
    n_buffers: int = 0
    n_opcodes: int = 0

    def add(self, kind: str, pos: int, size: int, what: str) -> None:
        f = Field(kind, pos, size, what)
        self.fields.append(f)
        self.by_kind.setdefault(kind, []).append(f)


_SPECIAL_INDEX_KINDS = {
    ("Operator", "inputs"): "tensor_index",
    ("Operator", "outputs"): "tensor_index",
    ("SubGraph", "inputs"): "tensor_index",
    ("SubGraph", "outputs"): "tensor_index",
    ("Tensor", "shape"): "shape_dim",
}
_SPECIAL_SCALAR_KINDS = {
    ("Operator", "opcode_index"): "opcode_index",
    ("Tensor", "buffer"): "buffer_index",
    ("Tensor", "type"): "type_code",
    ("Operator", "builtin_options_type"): "options_type",
    ("Quantization", "quantized_dimension"): "qdim",
    ("OperatorCode", "builtin_code"): "type_code",
    ("OperatorCode", "deprecated_builtin_code"): "type_code",
}


def walk(data: bytes) -> Layout:
    """Record the structure of a well-formed .tflite flatbuffer (raises on a malformed one)."""
    lay = Layout(len(data))
    seen_tables: set[int] = set()
    seen_vtables: set[int] = set()
    buffers: dict[int, tuple[int, int]] = {}  # buffer index -> (data start, bytes)
    tensors: list[tuple[int, int]] = []  # (type code, buffer index) of every tensor

    def u32(p: int) -> int:
        return struct.unpack_from("<I", data, p)[0]

    def vector(p: int, what: str) -> tuple[int, int]:
        n = u32(p)
        lay.add("vec_len", p, 4, f"{what} length")
        lay.objects.append(p)
        return p + 4, n

    def table(pos: int, name: str, what: str) -> dict[str, int]:
        """Walk one table; returns its scalar values and vector (start, count) by field name."""
        found: dict[str, int] = {}
        if pos in seen_tables:
            return found
        seen_tables.add(pos)
        lay.objects.append(pos)
        lay.add("soffset", pos, 4, f"{what} vtable offset")
        vt = pos - struct.unpack_from("<i", data, pos)[0]
        vsize, tsize = struct.unpack_from("<HH", data, vt)
        if vt not in seen_vtables:
            seen_vtables.add(vt)
            lay.objects.append(vt)
            lay.vtables.append((vt, vsize))
            lay.add("vt_size", vt, 2, f"{what} vtable size")
            lay.add("vt_tsize", vt + 2, 2, f"{what} table size")
        schema = _SCHEMA[name]
        for fid in range((vsize - 4) // 2):
            off = struct.unpack_from("<H", data, vt + 4 + 2 * fid)[0]
            lay.add("vt_entry", vt + 4 + 2 * fid, 2, f"{what} vtable entry {fid}")
            if off == 0:
                continue
            fp = pos + off
            kind, child = schema.get(fid, ("option" if name == "Options" else "opaque", ""))
            fwhat = f"{what}.{child or fid}"
            if kind in _WIDTH:
                special = _SPECIAL_SCALAR_KINDS.get((name, child), "scalar")
                lay.add(special, fp, _WIDTH[kind], fwhat)
                fmt = {"u8": "<B", "i8": "<b", "u32": "<I", "i32": "<i", "i64": "<q"}[kind]
                found[child] = struct.unpack_from(fmt, data, fp)[0]
            elif kind == "option":
                lay.add("option", fp, 1, fwhat)
            elif kind == "opaque":
                pass  # unknown field of a table picoml ignores: width unknown
            else:
                lay.add("uoffset", fp, 4, f"{fwhat} offset")
                target = fp + u32(fp)
                if kind == "str":
                    lay.vec_refs.append((fp, "string", fwhat))
                    start, n = vector(target, fwhat)
                    if n:
                        lay.add("string_bytes", start, n, f"{fwhat} text")
                elif kind == "table":
                    table(target, child, fwhat)
                elif kind == "[table]":
                    start, n = vector(target, fwhat)
                    if child == "OperatorCode":
                        lay.n_opcodes = max(lay.n_opcodes, n)
                    elif child == "Buffer":
                        lay.n_buffers = max(lay.n_buffers, n)
                    for i in range(n):
                        ep = start + 4 * i
                        lay.add("elem_uoffset", ep, 4, f"{fwhat}[{i}] offset")
                        sub = table(ep + u32(ep), child, f"{child}[{i}]")
                        if child == "Buffer" and "data" in sub:
                            buffers[i] = (sub["data"], sub["data_count"])
                        elif child == "Tensor":
                            tensors.append((sub.get("type", 0), sub.get("buffer", 0)))
                else:  # vector of scalars
                    start, n = vector(target, fwhat)
                    found[child], found[child + "_count"] = start, n
                    ekind = _SPECIAL_INDEX_KINDS.get((name, child))
                    vkind = {("Quantization", "scale"): "q_scale", ("Quantization", "zero_point"): "q_zero_point"}
                    lay.vec_refs.append((fp, ekind or vkind.get((name, child), kind), fwhat))
                    if ekind:
                        for i in range(n):
                            lay.add(ekind, start + 4 * i, 4, f"{fwhat}[{i}]")
                    elif (name, child) == ("Quantization", "scale"):
                        for i in range(min(n, 64)):
                            lay.add("q_scale", start + 4 * i, 4, f"{fwhat}[{i}]")
                    elif (name, child) == ("Quantization", "zero_point"):
                        for i in range(min(n, 64)):
                            lay.add("q_zero_point", start + 8 * i, 8, f"{fwhat}[{i}]")
        return found

    lay.add("root", 0, 4, "root table offset")
    table(u32(0), "Model", "model")
    lay.n_tensors = len(tensors)
    # Small int32 constants are shape arguments (RESHAPE shape, PAD paddings, MEAN axes) and
    # biases: their values drive shape inference and kernels.
    for i, (code, b) in enumerate(tensors):
        if code == 2 and b in buffers and 0 < buffers[b][1] <= 64:
            start, nbytes = buffers[b]
            for k in range(nbytes // 4):
                lay.add("const_i32", start + 4 * k, 4, f"tensor {i} data[{k}]")
    lay.objects.sort()
    return lay


# ----------------------------------------------------------------------------- values
U32_SPECIAL = [
    0,
    1,
    2,
    3,
    4,
    8,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0xFFFF,
    0x10000,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0xFFFFFFFE,
    0xFFFFFFFC,
    0xFFFFFF00,
]
BYTE_SPECIAL = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE]


def _u32_values(n: int, pos: int) -> list[int]:
    """Special values plus ones relative to the file: its length, just past it, the word itself."""
    return U32_SPECIAL + [n, n - 4, n + 4, n - pos, n - pos - 1, n - pos + 4, (n - pos) // 2, (-pos) & 0xFFFFFFFF]


def _put(b: bytearray, pos: int, size: int, value: int) -> None:
    if 0 <= pos and pos + size <= len(b):
        b[pos : pos + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _field_value(f: Field, lay: Layout, rng: random.Random, b: bytearray) -> tuple[int, int, str]:
    """(size, value, description) of an edit of structural field f."""
    n = lay.size
    k = f.kind
    if k in ("root", "uoffset", "elem_uoffset"):
        r = rng.random()
        if r < 0.4 and lay.objects:  # point at another object (or just beside it)
            tgt = rng.choice(lay.objects) + rng.choice([0, 0, 0, 2, 4, -4, 1])
            return 4, (tgt - f.pos) & 0xFFFFFFFF, f"-> byte {tgt}"
        if r < 0.5:  # slightly off its real target
            cur = int.from_bytes(b[f.pos : f.pos + 4], "little")
            d = rng.choice([-8, -4, -2, -1, 1, 2, 4, 8, 12, 16])
            return 4, (cur + d) & 0xFFFFFFFF, f"{d:+d}"
        v = rng.choice(_u32_values(n, f.pos))
        return 4, v, f"= {v:#x}"
    if k == "vec_len":
        cur = int.from_bytes(b[f.pos : f.pos + 4], "little")
        v = rng.choice(
            U32_SPECIAL
            + [
                cur + 1,
                cur - 1,
                cur * 2,
                cur + 1000,
                n // 4,
                n,
                (n - f.pos) // 4,
                (n - f.pos) // 4 + 1,
                n - f.pos,
                n - f.pos - 3,
            ]
        )
        return 4, v & 0xFFFFFFFF, f"= {v & 0xFFFFFFFF:#x} (was {cur})"
    if k == "soffset":
        r = rng.random()
        if r < 0.4 and lay.vtables:  # use another table's vtable
            vt = rng.choice(lay.vtables)[0]
            return 4, (f.pos - vt) & 0xFFFFFFFF, f"-> vtable at {vt}"
        cur = struct.unpack_from("<i", b, f.pos)[0] if f.pos + 4 <= len(b) else 0
        v = rng.choice(
            [
                0,
                1,
                2,
                4,
                -4,
                4 - f.pos - 4,
                f.pos,
                f.pos + 1,
                f.pos - n,
                -n,
                0x7FFFFFFF,
                -0x80000000,
                cur + 2,
                cur - 2,
                cur + 4,
                -cur,
            ]
        )
        return 4, v & 0xFFFFFFFF, f"= {v}"
    if k in ("vt_size", "vt_tsize", "vt_entry"):
        cur = int.from_bytes(b[f.pos : f.pos + 2], "little")
        v = rng.choice(
            [
                0,
                1,
                2,
                3,
                4,
                5,
                6,
                0xFF,
                0x100,
                0x7FFF,
                0x8000,
                0xFFFF,
                0xFFFE,
                cur + 1,
                cur - 1,
                cur + 2,
                cur - 2,
                cur + 4,
                cur * 2,
                4 + 2 * rng.randrange(16),
            ]
        )
        return 2, v & 0xFFFF, f"= {v & 0xFFFF} (was {cur})"
    if k == "shape_dim":
        v = rng.choice([0, 1, 2, 3, -1, -2, 7, 1000, 65535, 65536, 1 << 20, 1 << 24, 0x7FFFFFFF, -0x80000000])
        return 4, v & 0xFFFFFFFF, f"= {v}"
    if k == "tensor_index":
        m = lay.n_tensors
        v = rng.choice([-1, -1, -2, -0x80000000, 0x7FFFFFFF, m, m - 1, m + 1, 0, 1, rng.randrange(max(m, 1))])
        return 4, v & 0xFFFFFFFF, f"= {v}"
    if k == "opcode_index":
        m = lay.n_opcodes
        v = rng.choice([m, m - 1, m + 1, 0, 0xFFFFFFFF, 0x80000000, rng.randrange(max(m, 1))])
        return f.size, v & 0xFFFFFFFF, f"= {v}"
    if k == "buffer_index":
        m = lay.n_buffers
        v = rng.choice([m, m - 1, m + 1, 0, 0xFFFFFFFF, 0x80000000, rng.randrange(max(m, 1))])
        return 4, v & 0xFFFFFFFF, f"= {v}"
    if k in ("type_code", "options_type"):
        v = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 17, 18, 32, 127, 128, 255, rng.randrange(256)])
        return 1, v, f"= {v}"
    if k == "qdim":
        v = rng.choice([-1, 1, 2, 3, 4, 5, 100, 0x7FFFFFFF, -0x80000000])
        return 4, v & 0xFFFFFFFF, f"= {v}"
    if k == "option":
        r = rng.random()
        if r < 0.5:
            v = rng.choice(BYTE_SPECIAL + [2, 3, 4, 5, 6, 7])
            return 1, v, f"byte = {v}"
        v = rng.choice([0, 1, 2, 100, 0x7FFF, 0x7FFFFFFF, -1, -2, -0x80000000, 0x7F800000, 0x7FC00000, 0xFF800000])
        return 4, v & 0xFFFFFFFF, f"word = {v & 0xFFFFFFFF:#x}"
    if k == "q_scale":
        v = rng.choice(
            [
                0.0,
                -1.0,
                float("nan"),
                float("inf"),
                float("-inf"),
                1e-45,
                1e-38,
                1e-20,
                1e20,
                3.4e38,
                1.0,
                256.0,
                2.0**-32,
                0.5,
            ]
        )
        return 4, struct.unpack("<I", struct.pack("<f", v))[0], f"= {v}"
    if k == "q_zero_point":
        v = rng.choice([-129, 128, 255, -128, 127, 1, -1, 1 << 31, -(1 << 63), (1 << 63) - 1])
        return 8, v & ((1 << 64) - 1), f"= {v}"
    if k == "const_i32":
        v = rng.choice([-1, -2, 0, 1, 2, 3, 4, 5, 7, 100, 1 << 16, 1 << 30, 0x7FFFFFFF, -0x80000000])
        return 4, v & 0xFFFFFFFF, f"= {v}"
    if k == "string_bytes":
        v = rng.choice([0x0A, 0x0D, 0x00, 0x85, 0x0B, 0x1C, 0xC3, 0xE2, 0xFF, 0x22, 0x27, 0x5C])
        return 1, v, f"byte {v:#04x}"
    # generic scalar
    if f.size == 1:
        v = rng.choice(BYTE_SPECIAL + [2, 3])
    elif f.size == 8:
        v = rng.choice([0, 1, 2, n, n - 1, n + 1, -1, 1 << 62, (1 << 63) - 1, -(1 << 63), 1 << 32])
    else:
        v = rng.choice(_u32_values(n, f.pos))
    return f.size, v & ((1 << (8 * f.size)) - 1), f"= {v}"


# ----------------------------------------------------------------------------- wrong formats
def _png(rng: random.Random) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + rng.randbytes(rng.randrange(0, 200))


def _onnx(rng: random.Random) -> bytes:
    # ModelProto: ir_version=8, producer_name="pytorch", producer_version="2.1", graph {...}
    return b"\x08\x08\x12\x07pytorch\x1a\x032.1:" + bytes([rng.randrange(1, 128)]) + rng.randbytes(rng.randrange(200))


WRONG_FORMATS = {
    "empty": lambda rng: b"",
    "1..8 random bytes": lambda rng: rng.randbytes(rng.randrange(1, 9)),
    "random bytes": lambda rng: rng.randbytes(rng.choice([9, 16, 64, 1000, 4096])),
    "zeros": lambda rng: bytes(rng.choice([8, 9, 16, 1024])),
    "0xff": lambda rng: b"\xff" * rng.choice([8, 16, 1024]),
    "png": _png,
    "zip": lambda rng: b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + rng.randbytes(rng.randrange(100)),
    "gzip": lambda rng: b"\x1f\x8b\x08\x00" + rng.randbytes(rng.randrange(100)),
    "elf": lambda rng: b"\x7fELF\x02\x01\x01\x00" + bytes(8) + rng.randbytes(rng.randrange(100)),
    "onnx-like protobuf": _onnx,
    "text": lambda rng: b"this is not a model, just some text\n" * rng.randrange(1, 20),
    "json": lambda rng: b'{"format": "tflite", "version": 3, "subgraphs": []}\n',
    "npy": lambda rng: b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }" + b" " * 40,
    # past the file-identifier check, garbage after it
    "TFL3 + random": lambda rng: rng.randbytes(4) + b"TFL3" + rng.randbytes(rng.choice([0, 1, 4, 8, 64, 1000])),
    "TFL3 + zeros": lambda rng: bytes(4) + b"TFL3" + bytes(rng.choice([0, 4, 16, 256])),
    "TFL3, root -> itself": lambda rng: b"\x00\x00\x00\x00TFL3" + struct.pack("<iHH", 0, 4, 4),
    "TFL3, vtable loop": lambda rng: struct.pack("<I", 8) + b"TFL3" + struct.pack("<iHHH", 0, 6, 8, 4),
}


# ----------------------------------------------------------------------------- mutations
def redirect_vector(data: bytes, offset_pos: int, payload: bytes, count: int) -> bytes:
    """Append a new vector (``count`` then ``payload``) at the end of ``data`` and point the
    uoffset at ``offset_pos`` to it (a uoffset may point anywhere after itself)."""
    b = bytearray(data) + bytes(-len(data) % 8 + 4)  # length word at 8k + 4: payload 8-aligned
    target = len(b) - 4
    b[target:] = struct.pack("<I", count)
    b += payload
    b[offset_pos : offset_pos + 4] = struct.pack("<I", target - offset_pos)
    return bytes(b)


def redirect_string(data: bytes, offset_pos: int, raw: bytes) -> bytes:
    return redirect_vector(data, offset_pos, raw + b"\0", len(raw))


# element format of a vector by element kind (default: 4-byte words)
_ELEM = {"q_scale": "<I", "q_zero_point": "<Q", "[i64]": "<Q", "[u8]": "<B"}
_VALUE_KINDS = {"shape_dim", "tensor_index", "q_scale", "q_zero_point", "const_i32"}
_NASTY_TEXT = [
    "",
    "a\nb",
    "line1\r\nline2",
    "\x85",
    "\u2028",
    "tab\there",
    "\x1b[31mred",
    "quote'\"",
    "\\",
    "é" * 40,
    "x" * 5000,
]


def _m_new_vector(b, lay, rng):
    """Point a vector or string field at a new one appended to the file: other ranks, counts and values."""
    pos, kind, what = rng.choice(lay.vec_refs)
    if pos + 4 > len(b):  # an earlier mutation truncated the file
        return b, f"{what}: gone"
    if kind == "string":
        raw = rng.choice(_NASTY_TEXT).encode() if rng.random() < 0.8 else rng.randbytes(rng.randrange(1, 16))
        return bytearray(redirect_string(bytes(b), pos, raw)), f"{what} = {raw[:40]!r}"
    count = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 8, 16])
    fmt = _ELEM.get(kind, "<I")
    mask = (1 << (8 * struct.calcsize(fmt))) - 1
    vals = [
        _field_value(Field(kind, 0, 4, what), lay, rng, b)[1] if kind in _VALUE_KINDS else rng.choice(U32_SPECIAL)
        for _ in range(count)
    ]
    payload = b"".join(struct.pack(fmt, v & mask) for v in vals)
    return bytearray(redirect_vector(bytes(b), pos, payload, count)), f"{what} = new vector {vals}"


def _pick_struct_pos(lay: Layout, rng: random.Random) -> int:
    f = rng.choice(lay.by_kind[rng.choice(sorted(lay.by_kind))])
    return f.pos + rng.randrange(f.size)


def _m_bitflip(b, lay, rng):
    anywhere = rng.random() < 0.5
    bits = []
    for _ in range(rng.randint(1, 8)):
        p = rng.randrange(len(b)) if anywhere else _pick_struct_pos(lay, rng)
        if p < len(b):
            bit = rng.randrange(8)
            b[p] ^= 1 << bit
            bits.append(f"{p}.{bit}")
    return b, f"flip bits {' '.join(bits)} ({'anywhere' if anywhere else 'in structure'})"


def _m_byte(b, lay, rng):
    p = rng.randrange(len(b)) if rng.random() < 0.3 else _pick_struct_pos(lay, rng)
    v = rng.choice(BYTE_SPECIAL)
    if p < len(b):
        b[p] = v
    return b, f"byte {p} = {v:#04x}"


def _m_word(b, lay, rng):
    p = rng.randrange(max(len(b) // 4, 1)) * 4
    v = rng.choice(_u32_values(len(b), p))
    _put(b, p, 4, v)
    return b, f"aligned word {p} = {v & 0xFFFFFFFF:#x}"


def _m_truncate(b, lay, rng):
    r = rng.random()
    if r < 0.2:
        n = rng.randint(0, 8)
    elif r < 0.5:
        n = rng.randrange(len(b))
    elif r < 0.8:
        n = min(_pick_struct_pos(lay, rng) + rng.randrange(-2, 4), len(b) - 1)
    else:
        n = max(len(b) - rng.randint(1, 16), 0)
    n = max(n, 0)
    return b[:n], f"truncate to {n} bytes"


def _m_append(b, lay, rng):
    k = rng.choice([1, 3, 4, 16, 100, 1000])
    junk = rng.choice([rng.randbytes(k), bytes(k), b"\xff" * k, bytes(b[:k])])
    return b + junk, f"append {len(junk)} bytes"


def _m_insert_delete(b, lay, rng):
    # not in the 8-byte header: shifting the file identifier is a single, boring case
    p = rng.randrange(len(b)) if rng.random() < 0.5 else min(_pick_struct_pos(lay, rng), len(b) - 1)
    p = max(p, min(8, len(b)))
    k = rng.choice([1, 2, 4, 8, 16])
    if rng.random() < 0.5:
        return b[:p] + bytearray(rng.randbytes(k)) + b[p:], f"insert {k} bytes at {p}"
    return b[:p] + b[p + k :], f"delete {k} bytes at {p}"


def _m_splice(b, lay, rng):
    k = rng.choice([4, 8, 16, 64])
    src = rng.choice(lay.objects) if rng.random() < 0.7 else rng.randrange(len(b))
    dst = rng.choice(lay.objects) if rng.random() < 0.7 else rng.randrange(len(b))
    chunk = bytes(b[src : src + k])
    b[dst : dst + len(chunk)] = chunk
    return b, f"copy {len(chunk)} bytes {src} -> {dst}"


def _m_field(b, lay, rng):
    # Pick a kind first so rare kinds (root, opcode_index, options_type) get hit as often as common ones.
    kind = rng.choice(sorted(lay.by_kind))
    f = rng.choice(lay.by_kind[kind])
    size, v, desc = _field_value(f, lay, rng, b)
    pos = f.pos + rng.randrange(f.size) if f.kind == "string_bytes" else f.pos
    _put(b, pos, size, v)
    return b, f"{f.what} ({f.kind} @{pos}) {desc}"


def _m_vtable_swap(b, lay, rng):
    vt, size = rng.choice(lay.vtables)
    i, j = rng.randrange(size), rng.randrange(size)
    if vt + max(i, j) < len(b):
        b[vt + i], b[vt + j] = b[vt + j], b[vt + i]
    return b, f"swap bytes {vt + i} and {vt + j} of the vtable at {vt}"


def _m_file_id(b, lay, rng):
    v = rng.choice([bytes(4), b"TFL2", b"tfl3", b"TFL4", rng.randbytes(4)])
    b[4:8] = v
    return b, f"file identifier = {v!r}"


def _m_wrong_format(b, lay, rng):
    name = rng.choice(sorted(WRONG_FORMATS))
    return bytearray(WRONG_FORMATS[name](rng)), f"wrong format: {name}"


# (weight, mutation): structure-aware edits dominate, since most of a model's bytes are
# weights, where blind edits only give valid models with other numbers.
MUTATIONS = [
    (22, _m_field),
    (14, _m_bitflip),
    (8, _m_byte),
    (8, _m_word),
    (8, _m_truncate),
    (4, _m_append),
    (5, _m_insert_delete),
    (6, _m_splice),
    (5, _m_vtable_swap),
    (2, _m_file_id),
    (3, _m_wrong_format),
    (8, _m_new_vector),
]
_FUNCS = [m for _, m in MUTATIONS]
_WEIGHTS = [w for w, _ in MUTATIONS]


def make_case(data: bytes, lay: Layout, rng: random.Random) -> tuple[bytes, str]:
    """Apply 1..5 mutations (mostly one) to data; returns (bytes, description)."""
    b = bytearray(data)
    k = rng.choices([1, 2, 3, 5], [70, 18, 8, 4])[0]
    descs = []
    for _ in range(k):
        if not b:
            break
        fn = rng.choices(_FUNCS, _WEIGHTS)[0]
        b, d = fn(b, lay, rng)
        descs.append(d)
    return bytes(b), "; ".join(descs)


def case_rng(seed: int, model: str, index: int) -> random.Random:
    return random.Random(f"picoml-fuzz:{seed}:{model}:{index}")
