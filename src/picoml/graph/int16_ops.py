"""int16 activations with int8 weights (TFLite's "16x8" scheme): which ops take them and the
dtype / quantization rules ``Graph.validate`` holds them to (issue 15).

The rules are tflite-micro's, where its Prepare refuses, and the TFLite 16x8 spec where its
kernels silently assume: activations per-tensor int16 with zero point 0 (the int16 kernels of
FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D never read a zero point), weights int8 symmetric
per channel (what the converter writes, FULLY_CONNECTED included) or per tensor, bias int64, or int32
for CONV_2D and FULLY_CONNECTED, whose int16 kernels have an int32-accumulator path for it
(``INT32_BIAS``); DEPTHWISE_CONV_2D reads any bias buffer as int64, so an int32 bias there is
read as garbage by tflite-micro, and so is a missing one: both are refused here
(tests/kernels/test_s16_layers.py pins them).

Data movement ops (``OpDef.any_dtype``) take int16 through validate's generic rule and need
nothing from here.
"""

from __future__ import annotations

from typing import Any

from picoml.errors import GraphError, UnsupportedError
from picoml.graph.optypes import OpType

#: ops with an int16-activation kernel in picoml (reference and C)
INT16_OPS: frozenset[OpType] = frozenset(
    {
        OpType.FULLY_CONNECTED,
        OpType.CONV_2D,
        OpType.DEPTHWISE_CONV_2D,
        OpType.LOGISTIC,
        OpType.TANH,
        OpType.ADD,
        OpType.SUB,
        OpType.MUL,
        OpType.AVERAGE_POOL_2D,
        OpType.MAX_POOL_2D,
        OpType.MEAN,
        OpType.SOFTMAX,
        OpType.RELU,
        OpType.RELU6,
        OpType.LEAKY_RELU,
        OpType.SUM,
        OpType.MAXIMUM,  # codes compared as they are (reference/maximum_minimum.py serves int16 too)
        OpType.MINIMUM,
        OpType.TRANSPOSE_CONV,
        OpType.ABS,
        OpType.BATCH_MATMUL,
        OpType.RESIZE_NEAREST_NEIGHBOR,  # a gather of codes (reference/resize.py serves int16 too)
    }
)
#: layers whose int16 kernel has int8 weights and a bias
INT16_LAYERS = frozenset({OpType.FULLY_CONNECTED, OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D, OpType.TRANSPOSE_CONV})
#: layers whose int16 kernel also takes an int32 bias (an int32 accumulator, the int32 rescale)
INT32_BIAS = frozenset({OpType.FULLY_CONNECTED, OpType.CONV_2D})


def is_int16_op(op: Any) -> bool:
    """True for an op whose activations are int16 (the 16x8 kernels)."""
    x = op.inputs[0] if op.inputs else None
    return x is not None and x.dtype == "int16" and op.type in INT16_OPS


def _need_symmetric_activation(op: Any, t: Any, what: str) -> None:
    if t.dtype != "int16":
        raise GraphError(f"{op.label}: {what} {t.name!r} is {t.dtype}, expected int16")
    if not t.quantized or t.per_axis:
        raise GraphError(f"{op.label}: int16 {what} {t.name!r} needs per-tensor quantization")
    if int(t.zero_point[0]) != 0:
        raise UnsupportedError(
            f"{op.label}: int16 {what} {t.name!r} has zero point {int(t.zero_point[0])}; "
            "16x8 activations are symmetric (zero point 0)"
        )


def check_int16_types(op: Any, weights: Any) -> None:
    """validate's dtype and quantization rules for an op with an int16 input 0.

    ``weights``: the op's ``OpDef.weights`` (None for ops without)."""
    if op.type not in INT16_OPS:
        raise UnsupportedError(f"{op.label}: int16 {op.type} is not supported (int16 kernels: {_names()})")
    x, y = op.inputs[0], op.outputs[0]
    _need_symmetric_activation(op, x, "input")
    _need_symmetric_activation(op, y, "output")
    if op.type in (OpType.ADD, OpType.SUB, OpType.MUL, OpType.MAXIMUM, OpType.MINIMUM, OpType.BATCH_MATMUL):
        _need_symmetric_activation(op, op.inputs[1], "input")
    if op.type not in INT16_LAYERS or weights is None:
        return
    w = op.inputs[weights.input]
    if w.dtype != "int8" or not w.quantized:
        raise UnsupportedError(f"{op.label}: 16x8 weights {w.name!r} must be quantized int8, are {w.dtype}")
    if (w.zero_point != 0).any():
        raise GraphError(f"{op.label}: weights {w.name!r} must be symmetric (zero point 0)")
    if w.per_axis:
        if w.quantized_dimension != weights.axis:
            raise GraphError(f"{op.label}: weights {w.name!r} must be quantized along axis {weights.axis}")
    b = op.inputs[weights.bias] if len(op.inputs) > weights.bias else None
    if b is None and op.type == OpType.DEPTHWISE_CONV_2D:
        # tflite-micro's int16 kernel reads a bias even when there is none: garbage from the second
        # channel on (tests/kernels/test_s16_layers.py::test_refusals pins it)
        raise UnsupportedError(f"{op.label}: int16 DEPTHWISE_CONV_2D needs a bias (TFLite Micro reads one regardless)")
    if b is None:
        return
    allowed = ("int64", "int32") if op.type in INT32_BIAS else ("int64",)
    if op.type == OpType.TRANSPOSE_CONV:
        allowed = ("int64", "int16")  # transpose_conv.cc widens an int16 bias to int64
    if b.dtype not in allowed:
        raise UnsupportedError(
            f"{op.label}: bias {b.name!r} is {b.dtype}; TFLite Micro's int16 {op.type} reads "
            f"{' or '.join(allowed)} bias"
        )
    if b.quantized and (b.zero_point != 0).any():
        raise GraphError(f"{op.label}: bias {b.name!r} must have zero point 0")


def _names() -> str:
    return ", ".join(sorted(INT16_OPS))
