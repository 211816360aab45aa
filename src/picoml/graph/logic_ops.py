"""Registry entries, shape inference and dtype rules of the comparison and logical ops, SELECT_V2,
CAST, ZEROS_LIKE, FILL, BROADCAST_TO, FLOOR_DIV and FLOOR_MOD (issue 14).

``graph/ops.py`` appends ``op_defs`` to its table. These ops mix dtypes (a comparison of int8 or
float32 values gives bool; SELECT_V2 takes a bool condition; CAST converts), so each ``OpDef``
carries its own ``check_types`` instead of validate's generic one-dtype rule. The rules are
tflite-micro's Prepare and Eval (``micro/kernels/comparisons.cc``, ``logical.cc``,
``select.cc``, ``cast.cc``, ``zeros_like.cc``, ``fill.cc``, ``broadcast_to.cc``,
``floor_div.cc``, ``floor_mod.cc``): a dtype its Eval rejects (or, for CAST's output, silently
leaves unwritten) is refused here with a one-line error naming the op and tensor.
"""

from __future__ import annotations

import math

import numpy as np

from picoml.errors import GraphError, UnsupportedError
from picoml.fixedpoint import quantize_multiplier

#: dtypes tflite-micro's comparisons take (its int16 / int64 kernels are outside picoml's dtypes)
COMPARE_DTYPES = ("float32", "int32", "int8")
#: EQUAL and NOT_EQUAL also compare bools
EQUALITY_DTYPES = ("bool", "float32", "int32", "int8")
#: SELECT_V2's value dtypes (select.cc: float32, int8, int16; its Eval refuses int32)
SELECT_DTYPES = ("float32", "int8")
#: CAST: what cast.cc reads and what it writes (no bool output: its Eval leaves the buffer unwritten)
CAST_IN_DTYPES = ("bool", "float32", "int32", "int8")
CAST_OUT_DTYPES = ("float32", "int32", "int8")
#: ZEROS_LIKE (zeros_like.cc: int64, int32, int8, float32) and FILL's value (fill.cc: float32, int32, int8)
ZEROS_DTYPES = ("float32", "int32", "int8")
FILL_DTYPES = ("float32", "int32", "int8")
#: broadcasting ranks of the kernels (Broadcast4DSlow / BroadcastSelect5DSlow / BroadcastTo<5>)
BROADCAST_RANK_4 = 4
SELECT_RANK = 5
BROADCAST_TO_RANK = 5


def _shape(t) -> tuple[int, ...]:
    return tuple(t.shape)


def _broadcast(op, shapes: list[tuple[int, ...]], max_rank: int) -> tuple[int, ...]:
    try:
        out = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise GraphError(f"{op.label}: input shapes {[list(s) for s in shapes]} do not broadcast") from None
    if any(s != shapes[0] for s in shapes) and len(out) > max_rank:
        raise UnsupportedError(
            f"{op.label}: broadcasting {[list(s) for s in shapes]} over {len(out)} dimensions "
            f"(TFLite Micro's {op.type} broadcasts over at most {max_rank})"
        )
    return out


def infer_binary4(op) -> list[tuple[int, ...]]:
    return [_broadcast(op, [_shape(op.inputs[0]), _shape(op.inputs[1])], BROADCAST_RANK_4)]


def infer_same(op) -> list[tuple[int, ...]]:
    return [_shape(op.inputs[0])]


def infer_select(op) -> list[tuple[int, ...]]:
    return [_broadcast(op, [_shape(t) for t in op.inputs], SELECT_RANK)]


def const_shape(op, idx: int, what: str) -> tuple[int, ...]:
    """A constant 1-D int32/int64 shape argument (FILL's dims, BROADCAST_TO's shape)."""
    t = op.inputs[idx] if idx < len(op.inputs) else None
    if t is None or t.data is None:
        raise UnsupportedError(f"{op.label}: {what} (input {idx}) must be a constant tensor")
    if t.dtype not in ("int32", "int64"):
        raise GraphError(f"{op.label}: {what} {t.name!r} must be int32, is {t.dtype}")
    if len(t.shape) != 1:
        raise GraphError(f"{op.label}: {what} {t.name!r} must be 1-D, has shape {list(t.shape)}")
    v = np.asarray(t.data).astype(np.int64).reshape(-1)
    if (v < 0).any() or (v > 2**31 - 1).any():
        raise GraphError(f"{op.label}: {what} {t.name!r} holds a dimension out of range: {v.tolist()}")
    return tuple(int(d) for d in v)


def infer_fill(op) -> list[tuple[int, ...]]:
    value = op.inputs[0]
    if len(value.shape) != 0:
        raise GraphError(f"{op.label}: value {value.name!r} must be a scalar (rank 0), has shape {list(value.shape)}")
    return [const_shape(op, 1, "dims")]


def infer_broadcast_to(op) -> list[tuple[int, ...]]:
    x = _shape(op.inputs[0])
    out = const_shape(op, 1, "shape")
    if len(out) > BROADCAST_TO_RANK or len(x) > len(out):
        raise UnsupportedError(
            f"{op.label}: input {list(x)} to shape {list(out)}: tflite-micro broadcasts to at most "
            f"{BROADCAST_TO_RANK} dimensions, never fewer than the input's"
        )
    lead = len(out) - len(x)
    if any(d != 1 and d != out[lead + k] for k, d in enumerate(x)):
        raise GraphError(f"{op.label}: input shape {list(x)} does not broadcast to {list(out)}")
    return [out]


# ----------------------------------------------------------------- dtype rules
def _want(op, t, dtypes: tuple[str, ...], what: str) -> None:
    if t.dtype not in dtypes:
        raise UnsupportedError(f"{op.label}: {what} {t.name!r} is {t.dtype}; {op.type} takes {', '.join(dtypes)}")


def _same(op, a, b, what: str) -> None:
    if a.dtype != b.dtype:
        raise GraphError(f"{op.label}: {what} {b.name!r} is {b.dtype}, {a.name!r} is {a.dtype}; they must match")


def _per_tensor(op, t) -> None:
    if t.dtype != "int8":
        if t.quantized and t.dtype != "int32":
            raise GraphError(f"{op.label}: {t.dtype} tensor {t.name!r} cannot be quantized")
        return
    if not t.quantized or t.per_axis:
        raise GraphError(f"{op.label}: int8 tensor {t.name!r} needs per-tensor quantization")


def comparison_multiplier(op, t) -> tuple[int, int]:
    """An int8 comparison input's (multiplier, shift): tflite-micro's Prepare rescales every int8
    input by its own scale with QuantizeMultiplierSmallerThanOneExp, which aborts unless the scale
    is below 1 (after rounding to Q31)."""
    m, s = quantize_multiplier(float(np.float64(np.float32(t.scale[0]))))
    if s > 0:
        raise UnsupportedError(
            f"{op.label}: int8 input {t.name!r} has scale {float(t.scale[0]):g}; tflite-micro's {op.type} "
            "needs scales below 1"
        )
    return m, s


def check_comparison(dtypes: tuple[str, ...]):
    """The dtype rule of a comparison taking ``dtypes`` (EQUAL / NOT_EQUAL also take bool)."""

    def check(op) -> None:
        a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
        _want(op, a, dtypes, "input")
        _same(op, a, b, "input")
        if y.dtype != "bool":
            raise GraphError(f"{op.label}: output {y.name!r} is {y.dtype}, expected bool")
        if a.dtype == "int8":
            for t in (a, b):
                _per_tensor(op, t)
                comparison_multiplier(op, t)

    return check


def check_logical(op) -> None:
    for t in [*op.inputs, *op.outputs]:
        if t.dtype != "bool":
            raise UnsupportedError(f"{op.label}: tensor {t.name!r} is {t.dtype}; {op.type} takes and gives bool")


def check_select(op) -> None:
    cond, x, yv, out = op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]
    if cond.dtype != "bool":
        raise GraphError(f"{op.label}: condition {cond.name!r} is {cond.dtype}, expected bool")
    _want(op, x, SELECT_DTYPES, "input")
    _same(op, x, yv, "input")
    _same(op, x, out, "output")
    for t in (x, yv, out):
        _per_tensor(op, t)


def check_cast(op) -> None:
    x, y = op.inputs[0], op.outputs[0]
    _want(op, x, CAST_IN_DTYPES, "input")
    _want(op, y, CAST_OUT_DTYPES, "output")
    if x.per_axis or y.per_axis:
        raise GraphError(f"{op.label}: CAST tensors cannot be per-axis quantized")


def check_zeros_like(op) -> None:
    x, y = op.inputs[0], op.outputs[0]
    _want(op, x, ZEROS_DTYPES, "input")
    _same(op, x, y, "output")
    for t in (x, y):
        _per_tensor(op, t)


def check_fill(op) -> None:
    value, y = op.inputs[0], op.outputs[0]
    _want(op, value, FILL_DTYPES, "value")
    _same(op, value, y, "output")
    for t in (value, y):
        _per_tensor(op, t)


def check_broadcast_to(op) -> None:
    x, y = op.inputs[0], op.outputs[0]
    _want(op, x, ("bool", *ZEROS_DTYPES), "input")
    _same(op, x, y, "output")
    for t in (x, y):
        _per_tensor(op, t)


def check_floor(op) -> None:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    _want(op, a, ("float32",), "input")  # floor_div.cc / floor_mod.cc: float32 only
    _same(op, a, b, "input")
    _same(op, a, y, "output")


def _bool_out(op) -> str:
    return "bool"


def _cast_out(op) -> str:
    return op.outputs[0].dtype


def elements(op) -> int:
    return math.prod(op.outputs[0].shape)


# ----------------------------------------------------------------- the registry entries
def op_defs(OpDef, OpType, Attr, Int8Output) -> list:  # noqa: N803 (classes)
    """The ``OpDef``s of this module's ops, which ``graph/ops.py`` appends to its table."""
    # PTQ joins the inputs' parameters where that loses nothing (a constant operand takes the other's)
    cmp = {
        "check_types": check_comparison(COMPARE_DTYPES),
        "output_dtype": _bool_out,
        "int8_version": 2,
        "in_place": True,
        "int8_output": Int8Output.JOINED,
    }
    eq = {**cmp, "check_types": check_comparison(EQUALITY_DTYPES)}
    logic = {"check_types": check_logical, "output_dtype": _bool_out, "int8_version": 1, "in_place": True}
    # the int8 value kernels copy codes: the output keeps the input's parameters
    move = {"int8_output": Int8Output.SHARED}
    return [
        OpDef(OpType.EQUAL, 71, 53, (), 2, 2, infer_binary4, "a == b elementwise (broadcast), bool", **eq),
        OpDef(OpType.NOT_EQUAL, 72, 54, (), 2, 2, infer_binary4, "a != b elementwise (broadcast), bool", **eq),
        OpDef(OpType.GREATER, 61, 44, (), 2, 2, infer_binary4, "a > b elementwise (broadcast), bool", **cmp),
        OpDef(OpType.GREATER_EQUAL, 62, 45, (), 2, 2, infer_binary4, "a >= b elementwise (broadcast), bool",
              **cmp),
        OpDef(OpType.LESS, 58, 41, (), 2, 2, infer_binary4, "a < b elementwise (broadcast), bool", **cmp),
        OpDef(OpType.LESS_EQUAL, 63, 46, (), 2, 2, infer_binary4, "a <= b elementwise (broadcast), bool", **cmp),
        OpDef(OpType.LOGICAL_AND, 86, 62, (), 2, 2, infer_binary4, "a and b on bools (broadcast)", **logic),
        OpDef(OpType.LOGICAL_OR, 84, 60, (), 2, 2, infer_binary4, "a or b on bools (broadcast)", **logic),
        OpDef(OpType.LOGICAL_NOT, 87, 63, (), 1, 1, infer_same, "not a on bools", **logic),
        OpDef(OpType.SELECT_V2, 123, 98, (), 3, 3, infer_select,
              "condition ? x : y elementwise (the three broadcast); int8 copies codes",
              check_types=check_select, int8_version=1, int8_output=Int8Output.JOINED, in_place=True),
        OpDef(OpType.CAST, 53, 37,
              (Attr("in_data_type", "i8", 0, 0), Attr("out_data_type", "i8", 0, 1)), 1, 1, infer_same,
              "convert between bool, int8, int32 and float32 (C casts: no quantization)",
              check_types=check_cast, output_dtype=_cast_out, int8_version=1, int8_output=Int8Output.SHARED),
        # int8 writes the code 0: PTQ gives the output zero point 0, so that code means the real 0
        OpDef(OpType.ZEROS_LIKE, 93, 67, (), 1, 1, infer_same, "zeros of the input's shape (int8: code 0)",
              check_types=check_zeros_like, int8_version=1, int8_output=Int8Output.FIXED,
              fixed_qparams=(1.0 / 128, 0)),
        OpDef(OpType.FILL, 94, 68, (), 2, 2, infer_fill,
              "a scalar repeated to a constant shape; IR inputs (value, dims)",
              check_types=check_fill, int8_version=1, shape_inputs=frozenset({1}), tflite_inputs=(1, 0), **move),
        OpDef(OpType.BROADCAST_TO, 130, 104, (), 2, 2, infer_broadcast_to,
              "repeat the input along broadcast dimensions to a constant shape",
              check_types=check_broadcast_to, int8_version=2, version=2, shape_inputs=frozenset({1}), **move),
        OpDef(OpType.FLOOR_DIV, 90, 65, (), 2, 2, infer_binary4, "floor(a / b) elementwise (broadcast)",
              check_types=check_floor, int8_kernel=False, in_place=True),
        OpDef(OpType.FLOOR_MOD, 95, 72, (), 2, 2, infer_binary4, "a - floor(a / b)·b elementwise (broadcast)",
              check_types=check_floor, int8_kernel=False, in_place=True),
    ]  # fmt: skip
