"""C emitters for the comparisons, logical ops, SELECT_V2, CAST, ZEROS_LIKE, FILL and BROADCAST_TO on
int8, int32 and bool tensors (merged into ``generate.EMITTERS`` / ``KERNEL_FILES`` like
``emit_nonlinear``'s tables); the kernels are ``runtime/pm_logic.[ch]``, portable C99.

- An int8 comparison rescales each input by its own multiplier (``reference.compare``); the rescaled
  value depends on the code alone, so the emitter runs the reference rescale on all 256 codes of
  each input and stores, per input, the *rank* of each code's value among both inputs' values
  (int16, 512 bytes an input): comparing ranks is comparing the rescaled values, exactly, with
  no arithmetic on the device.
- bool tensors are bytes holding 0 or 1 (``uint8_t`` in the C API); int32 tensors sit on 4-byte
  boundaries (every arena buffer starts on a 16-byte one).
- FLOOR_DIV / FLOOR_MOD are float32 only (no int8 kernel in tflite-micro) and float graphs have
  no C path yet: ``generate.compile_c`` refuses them with its float error.
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.emit_binary import MAX_DIMS
from picoml.errors import UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference.compare import COMPARE, scaled

LOGIC_FILE = ("pm_logic",)
LOGIC_FILES: dict[OpType, tuple[str, ...]] = dict.fromkeys(
    (
        *COMPARE,
        OpType.LOGICAL_AND,
        OpType.LOGICAL_OR,
        OpType.LOGICAL_NOT,
        OpType.SELECT_V2,
        OpType.CAST,
        OpType.ZEROS_LIKE,
        OpType.FILL,
        OpType.BROADCAST_TO,
    ),
    LOGIC_FILE,
)

_CMP_CODE = {
    OpType.EQUAL: "PM_CMP_EQUAL",
    OpType.NOT_EQUAL: "PM_CMP_NOT_EQUAL",
    OpType.GREATER: "PM_CMP_GREATER",
    OpType.GREATER_EQUAL: "PM_CMP_GREATER_EQUAL",
    OpType.LESS: "PM_CMP_LESS",
    OpType.LESS_EQUAL: "PM_CMP_LESS_EQUAL",
}
_CTYPE = {"int8": "int8_t", "int32": "int32_t", "bool": "uint8_t"}
_TYPE_CODE = {"int8": "PM_TYPE_INT8", "int32": "PM_TYPE_INT32", "bool": "PM_TYPE_BOOL"}


def _ctype(op: Op, t: Tensor) -> str:
    if t.dtype not in _CTYPE:
        raise UnsupportedError(f"{op.label}: {t.dtype} tensor {t.name!r} has no C kernel (int8, int32 and bool do)")
    return _CTYPE[t.dtype]


def _ptr(c, op: Op, t: Tensor, sym: str, const: bool = True) -> str:
    """A typed pointer to an activation in the arena, or a constant's static array."""
    ctype = _ctype(op, t)
    if t.data is not None:
        data = np.asarray(t.data)
        return c.const_array(sym, data.astype(np.uint8) if t.dtype == "bool" else data, ctype)
    if const:
        return f"(const {ctype} *)(const void *)(pm_arena.bytes + {c.plan.offset_of(t)})"
    return f"({ctype} *)(void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def _strides(shape: tuple[int, ...], t_shape: tuple[int, ...]) -> list[int]:
    rank = len(shape)
    s = (1,) * (rank - len(t_shape)) + tuple(t_shape)
    st, acc = [0] * rank, 1
    for d in range(rank - 1, -1, -1):
        st[d] = 0 if s[d] == 1 and shape[d] != 1 else acc
        acc *= s[d]
    return st


def _bcast(c, op: Op, i: int, ctype: str, operands: dict[str, tuple[int, ...]]) -> str:
    """A ``pm_broadcast`` / ``pm_select_broadcast`` record: the output extents and each operand's
    element strides (0 along a broadcast dimension), ranks aligned at the end as TFLite does."""
    y = op.outputs[0]
    rank = max(len(y.shape), 1)
    if rank > MAX_DIMS:
        raise UnsupportedError(f"{op.label}: more than {MAX_DIMS} dimensions")
    shape = (1,) * (rank - len(y.shape)) + tuple(y.shape)
    pad = [0] * (MAX_DIMS - rank)
    fields: dict[str, object] = {"rank": rank, "size": y.size, "shape": list(shape) + pad}
    for name, s in operands.items():
        fields[name] = _strides(shape, s) + pad
    fields["same_shape"] = int(all(tuple(s) == tuple(y.shape) for s in operands.values()))
    return c.struct(ctype, f"l{i}_bcast", fields)


def _binary_bcast(c, op: Op, i: int) -> str:
    a, b = op.inputs[0], op.inputs[1]
    return _bcast(c, op, i, "pm_broadcast", {"stride_a": a.shape, "stride_b": b.shape})


def rank_tables(op: Op) -> tuple[np.ndarray, np.ndarray]:
    """Each int8 input's code (index code + 128) -> rank of its rescaled value among both inputs'."""
    p = KERNELS[op.type].prepare(op)
    codes = np.arange(-128, 128, dtype=np.int64)
    va = scaled(codes, p.input1_zp, p.input1_multiplier, p.input1_shift)
    vb = scaled(codes, p.input2_zp, p.input2_multiplier, p.input2_shift)
    levels = np.unique(np.concatenate([va, vb]))
    return np.searchsorted(levels, va).astype(np.int16), np.searchsorted(levels, vb).astype(np.int16)


def emit_compare(c, op: Op, i: int) -> None:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    bc = _binary_bcast(c, op, i)
    pa, pb, out = _ptr(c, op, a, f"l{i}_a"), _ptr(c, op, b, f"l{i}_b"), _ptr(c, op, y, "", const=False)
    code = _CMP_CODE[op.type]
    if a.dtype == "int8":
        ra, rb = rank_tables(op)
        ta, tb = c.const_array(f"l{i}_rank_a", ra, "int16_t"), c.const_array(f"l{i}_rank_b", rb, "int16_t")
        c.body.append(f"status |= pm_compare_s8(&{bc}, {code}, {ta}, {tb}, {pa}, {pb}, {out});")
    elif a.dtype == "int32":
        c.body.append(f"status |= pm_compare_i32(&{bc}, {code}, {pa}, {pb}, {out});")
    else:
        c.body.append(f"status |= pm_compare_b(&{bc}, {code}, {pa}, {pb}, {out});")


def emit_logical(c, op: Op, i: int) -> None:
    y = op.outputs[0]
    out = _ptr(c, op, y, "", const=False)
    pa = _ptr(c, op, op.inputs[0], f"l{i}_a")
    if op.type == OpType.LOGICAL_NOT:
        c.body.append(f"status |= pm_logical_not_b({y.size}, {pa}, {out});")
        return
    code = "PM_LOGICAL_AND" if op.type == OpType.LOGICAL_AND else "PM_LOGICAL_OR"
    pb = _ptr(c, op, op.inputs[1], f"l{i}_b")
    c.body.append(f"status |= pm_logical_b(&{_binary_bcast(c, op, i)}, {code}, {pa}, {pb}, {out});")


def emit_select(c, op: Op, i: int) -> None:
    cond, x, yv, out = op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]
    if x.dtype != "int8":
        raise UnsupportedError(f"{op.label}: only int8 SELECT_V2 compiles to C")
    bc = _bcast(c, op, i, "pm_select_broadcast", {"stride_c": cond.shape, "stride_x": x.shape, "stride_y": yv.shape})
    args = (_ptr(c, op, cond, f"l{i}_c"), _ptr(c, op, x, f"l{i}_x"), _ptr(c, op, yv, f"l{i}_y"))
    c.body.append(f"status |= pm_select_s8(&{bc}, {', '.join(args)}, {_ptr(c, op, out, '', const=False)});")


def emit_cast(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    src, dst = _TYPE_CODE.get(x.dtype), _TYPE_CODE.get(y.dtype)
    if src is None or dst is None or y.dtype == "bool":
        raise UnsupportedError(f"{op.label}: CAST {x.dtype} -> {y.dtype} has no C kernel (int8, int32, bool do)")
    c.body.append(
        f"status |= pm_cast({y.size}, {src}, {dst}, {_ptr(c, op, x, f'l{i}_x')}, {_ptr(c, op, y, '', const=False)});"
    )


def _fill(c, op: Op, value: str) -> None:
    y = op.outputs[0]
    size = y.np_dtype.itemsize
    c.body.append(f"status |= pm_fill({y.size}, {size}, {value}, {_ptr(c, op, y, '', const=False)});")


def emit_zeros_like(c, op: Op, i: int) -> None:
    y = op.outputs[0]
    _fill(c, op, c.const_array(f"l{i}_zero", np.zeros(1, y.np_dtype), _ctype(op, y)))


def emit_fill(c, op: Op, i: int) -> None:
    _fill(c, op, _ptr(c, op, op.inputs[0], f"l{i}_value"))


def emit_broadcast_to(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    bc = _bcast(c, op, i, "pm_broadcast", {"stride_a": x.shape, "stride_b": ()})
    c.body.append(
        f"status |= pm_broadcast_to(&{bc}, {y.np_dtype.itemsize}, {_ptr(c, op, x, f'l{i}_x')}, "
        f"{_ptr(c, op, y, '', const=False)});"
    )


LOGIC_EMITTERS = {
    **dict.fromkeys(COMPARE, emit_compare),
    OpType.LOGICAL_AND: emit_logical,
    OpType.LOGICAL_OR: emit_logical,
    OpType.LOGICAL_NOT: emit_logical,
    OpType.SELECT_V2: emit_select,
    OpType.CAST: emit_cast,
    OpType.ZEROS_LIKE: emit_zeros_like,
    OpType.FILL: emit_fill,
    OpType.BROADCAST_TO: emit_broadcast_to,
}
