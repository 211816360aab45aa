"""MEAN reference kernel (reduce-mean over constant axes).

Sources: tflite-micro ``tensorflow/lite/micro/kernels/reduce.cc`` and
``reduce_common.cc`` (PrepareMeanOrSumHelper, EvalMeanHelper, EvalIntegerMean) and the
TFLM reference ``kernels/internal/reference/reduce.h`` (``QuantizedMeanOrSum``).

int8 → int8: the TFLM we test against (PyPI ``tflite-micro``) runs every int8 MEAN
through QuantizedMeanOrSum. There is no 4-D spatial fast path for integers any more
(``reference_integer_ops::Mean`` for axes {1, 2} + keep_dims was removed; its header
is empty), and no separate "same quantization" path: older sources divide the raw
int32 sum by the count with C truncation when input and output quantization agree,
but the oracle does not (checked against it: that variant mismatches, this one is
exact), so picoml follows the oracle.

- Prepare: ``m, shift = QuantizeMultiplier(double(in_scale) / double(out_scale))``
  (frexp, round half away; no clamp of the shift).
- 1/n is folded into the multiplier, with n the number of reduced elements:
  ``s = min(floor(log2 n), 32, 31 + shift)``; ``m' = (int64(m) << s) / n`` (int64
  division, truncating: m' <= m < 2^31), ``shift' = shift - s`` (>= -31). A ``shift' > 30``
  (scale ratio over count >= 2^30) is refused: TFLM would shift left by 31+ bits (undefined).
- Eval: the raw int8 values are summed in an int32 accumulator; for every output
  ``MultiplyByQuantizedMultiplier(int32(sum - input_zp · n), m', shift') + output_zp``
  (double rounding: SRDHM then round-half-away right shift), clamped to int8.
  ``sum - input_zp · n`` is formed in int64 and narrowed to int32 as C does; it cannot
  wrap below 2^23 reduced elements.

float32: sum / count. picoml sums in float64 and rounds once to float32 (TFLM and
LiteRT accumulate in float32, each in its own order; the difference is rounding noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    check_multiplier_shift,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    wrap_int32,
)
from picoml.graph.ir import Op
from picoml.graph.ops import reduce_axes


@dataclass(frozen=True)
class MeanParams:
    quantized: bool
    axes: tuple[int, ...]  # axes of the tensor (the batch axis not counted)
    keep_dims: bool
    out_shape: tuple[int, ...]
    count: int
    input_zp: int = 0
    output_zp: int = 0
    multiplier: int = 0  # with 1/count folded in
    shift: int = 0


def prepare(op: Op) -> MeanParams:
    x, y = op.inputs[0], op.outputs[0]
    axes = tuple(reduce_axes(op))
    keep = bool(op.attrs["keep_dims"])
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if x.dtype != "int8":
        return MeanParams(False, axes, keep, tuple(y.shape), count)
    if y.dtype != "int8":
        raise UnsupportedError(f"{op.label}: int8 MEAN only supports an int8 output, not {y.dtype}")
    in_scale, out_scale = np.float32(x.scale[0]), np.float32(y.scale[0])
    in_zp, out_zp = int(x.zero_point[0]), int(y.zero_point[0])
    real = float(in_scale) / float(out_scale)
    m, shift = quantize_multiplier(real)
    if count > 0:
        # QuantizedMeanOrSum folds 1/count into the multiplier (its "compute_sum=false" branch).
        s = min(count.bit_length() - 1, 32, 31 + shift)
        m = (m << s) // count
        shift -= s
    # the folded shift is what MultiplyByQuantizedMultiplier applies: refuse a left shift of 31+
    check_multiplier_shift(
        real / max(count, 1), shift, f"{op.label}: output {y.name!r}", "input scale / output scale / element count"
    )
    return MeanParams(True, axes, keep, tuple(y.shape), count, in_zp, out_zp, int(m), int(shift))


def evaluate(p: MeanParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    n = x.shape[0]
    ax = tuple(a + 1 for a in p.axes)  # skip the interpreter's batch axis
    out_shape = (n,) + p.out_shape
    if not p.quantized:
        if p.count == 0:
            return np.zeros(out_shape, np.float32)  # TFLM leaves the zero-initialised output
        s = x.astype(np.float64).sum(axis=ax)
        return (s / p.count).astype(np.float32).reshape(out_shape)
    if p.count == 0:
        return np.zeros(out_shape, np.int8)  # outputs are zero-initialised, nothing summed
    total = wrap_int32(x.astype(np.int64).sum(axis=ax))  # int32 accumulator of raw values
    shifted = wrap_int32(total - np.int64(p.input_zp) * p.count)
    out = multiply_by_quantized_multiplier(shifted, p.multiplier, p.shift) + p.output_zp
    out = np.clip(out, -128, 127)
    return out.astype(np.int8).reshape(out_shape)
