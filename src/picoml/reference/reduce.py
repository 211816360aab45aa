"""REDUCE_MAX, REDUCE_MIN and SUM reference kernels (reductions over constant axes).

Sources: tflite-micro ``micro/kernels/reduce.cc`` and ``reduce_common.cc`` (PrepareMinMaxHelper,
PrepareMeanOrSumHelper, EvalMaxHelper, EvalMinHelper, EvalSumHelper) and the reference
``kernels/internal/reference/reduce.h`` (``ReduceGeneric``, ``QuantizedMeanOrSum``). Axes are
MEAN's: ``graph.ops.reduce_axes`` (negative axes counted from the end, repeats ignored); an empty
axis list reduces nothing (each output is its input).

REDUCE_MAX / REDUCE_MIN: ``ReduceGeneric`` fills the output with the type's lowest (MAX) or
highest (MIN) value and folds ``in > current ? in : current`` (MIN: ``<``) over the inputs. int8
compares the raw codes: tflite-micro's Eval fails unless input and output share scale and zero
point, and picoml refuses the same graph at prepare. float32: a NaN never replaces the running
value (so an all-NaN slice gives the initial value), and the initial value is float32's lowest
(highest), not -inf (+inf).

SUM int8: ``QuantizedMeanOrSum(..., compute_sum=true)``: MEAN's arithmetic without the 1/count
folded into the multiplier, ``m, shift = QuantizeMultiplier(double(in_scale) / double(out_scale))``;
``MultiplyByQuantizedMultiplier(int32(sum - input_zp · count), m, shift) + output_zp``, clamped.
The parameters are a ``mean.MeanParams`` (MEAN's evaluation and C kernel run SUM unchanged). A
shift above 30 (output scale below in_scale / 2^30) is refused: tflite-micro would shift int32
values left by 31 or more bits, undefined in C. float32: picoml sums in float64 and rounds once
(tflite-micro and LiteRT accumulate in float32, each in its own order).

tflite-micro keeps SUM's resolved axes in a stack array of 2 (``kMaxNumberOfReducedAxis``); more
than two distinct axes overrun it, yet the oracle's results match this kernel on them
(tests/kernels/test_reduce.py draws up to five): picoml runs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import check_multiplier_shift, quantize_multiplier
from picoml.graph.ir import Op
from picoml.graph.ops import OpType, reduce_axes
from picoml.reference import mean

F32_LOWEST, F32_HIGHEST = np.finfo(np.float32).min, np.finfo(np.float32).max


@dataclass(frozen=True)
class MinMaxParams:
    is_min: bool
    quantized: bool
    axes: tuple[int, ...]  # axes of the tensor (the batch axis not counted)
    out_shape: tuple[int, ...]


def prepare_min_max(op: Op) -> MinMaxParams:
    x, y = op.inputs[0], op.outputs[0]
    axes = tuple(reduce_axes(op))
    quantized = x.dtype == "int8"
    if quantized:
        same = float(np.float32(x.scale[0])) == float(np.float32(y.scale[0])) and int(x.zero_point[0]) == int(
            y.zero_point[0]
        )
        if not same:
            raise UnsupportedError(
                f"{op.label}: int8 {op.type} needs the output {y.name!r} quantized as the input {x.name!r} "
                f"(scale {float(x.scale[0]):g}, zero point {int(x.zero_point[0])}), as tflite-micro's kernel requires"
            )
    return MinMaxParams(op.type == OpType.REDUCE_MIN, quantized, axes, tuple(y.shape))


def evaluate_min_max(p: MinMaxParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    out_shape = (x.shape[0],) + p.out_shape
    ax = tuple(a + 1 for a in p.axes)  # skip the interpreter's batch axis
    if p.quantized:
        v = x.min(axis=ax) if p.is_min else x.max(axis=ax)
        return v.astype(np.int8).reshape(out_shape)
    init = F32_HIGHEST if p.is_min else F32_LOWEST
    x = np.where(np.isnan(x), init, x)  # a NaN never wins a comparison
    v = np.minimum(x.min(axis=ax), init) if p.is_min else np.maximum(x.max(axis=ax), init)
    return v.astype(np.float32).reshape(out_shape)


def prepare_sum(op: Op) -> mean.MeanParams:
    x, y = op.inputs[0], op.outputs[0]
    axes = tuple(reduce_axes(op))
    keep = bool(op.attrs["keep_dims"])
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if x.dtype != "int8":
        return mean.MeanParams(False, axes, keep, tuple(y.shape), count)
    real = float(np.float32(x.scale[0])) / float(np.float32(y.scale[0]))
    m, shift = quantize_multiplier(real)
    check_multiplier_shift(real, shift, f"{op.label}: output {y.name!r}", "input scale / output scale")
    return mean.MeanParams(
        True, axes, keep, tuple(y.shape), count, int(x.zero_point[0]), int(y.zero_point[0]), int(m), int(shift)
    )


def evaluate_sum(p: mean.MeanParams, inputs: list[np.ndarray]) -> np.ndarray:
    if p.quantized:
        return mean.evaluate(p, inputs)
    x = inputs[0]
    ax = tuple(a + 1 for a in p.axes)
    return x.astype(np.float64).sum(axis=ax).astype(np.float32).reshape((x.shape[0],) + p.out_shape)
