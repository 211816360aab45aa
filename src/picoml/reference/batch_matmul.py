"""BATCH_MATMUL reference kernel: out[..., i, j] = sum_k lhs[..., i, k] · rhs[..., k, j].

Sources: tflite-micro ``micro/kernels/batch_matmul.cc`` (Prepare, EvalInt8) and
``batch_matmul_common.cc``, and the reference ``kernels/internal/reference/batch_matmul.h``.
``adj_x`` / ``adj_y`` transpose the last two dimensions of lhs / rhs first; the batch dimensions
(up to three: operands have rank 2 to 5) broadcast as in numpy. Either operand may be an
activation (attention: both are) or a constant (picoml's PTQ quantizes a constant operand per
tensor from its own range, as TFLite's quantizer does: ``quantize_input_as_activations``).

int8 (both operands and the output int8, per tensor; tflite-micro refuses mixed types):
``acc = sum_k (lhs - lhs_zp) · (rhs - rhs_zp)`` in an int32 accumulator (wrapped as C's int32
arithmetic does: the products are at most 255² < 2^16, the float64 sum below is exact for depths
below 2^37), then ``MultiplyByQuantizedMultiplier(acc, m, shift) + output_zp`` clamped to int8,
with ``m, shift = QuantizeMultiplier(real)`` where real is tflite-micro's
``GetQuantizedConvolutionMultipler`` (no bias): ``double(lhs_scale) · double(rhs_scale) /
double(output_scale)``, all in double (some ports take the product of the float scales in
float32; the oracle does not: tests/kernels/test_batch_matmul.py pins that on scales where the two
give different outputs). A shift above 30 is refused:
tflite-micro would shift int32 values left by 31 or more bits, undefined in C. There is no fused
activation: the clamp is int8's range.

float32: the product in float64, rounded once to float32 (LiteRT and tflite-micro accumulate in
float32, each in its own order: within ``oracles.FLOAT_RTOL``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import check_multiplier_shift, multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32
from picoml.graph.ir import Op
from picoml.graph.reduce_ops import MatmulGeometry, batch_matmul_geometry


@dataclass(frozen=True)
class BatchMatmulParams:
    geometry: MatmulGeometry
    lhs_shape: tuple[int, ...]
    rhs_shape: tuple[int, ...]
    adj_x: bool
    adj_y: bool
    out_shape: tuple[int, ...]
    quantized: bool
    lhs_zp: int = 0
    rhs_zp: int = 0
    output_zp: int = 0
    multiplier: int = 0
    shift: int = 0


def multiplier_real(lhs_scale: float, rhs_scale: float, out_scale: float) -> float:
    """GetQuantizedConvolutionMultipler without a bias, in double."""
    return float(np.float32(lhs_scale)) * float(np.float32(rhs_scale)) / float(np.float32(out_scale))


def prepare(op: Op) -> BatchMatmulParams:
    lhs, rhs, y = op.inputs[0], op.inputs[1], op.outputs[0]
    geo = batch_matmul_geometry(op)
    base = (geo, tuple(lhs.shape), tuple(rhs.shape), bool(op.attrs["adj_x"]), bool(op.attrs["adj_y"]), tuple(y.shape))
    if lhs.dtype != "int8":
        return BatchMatmulParams(*base, False)
    real = multiplier_real(lhs.scale[0], rhs.scale[0], y.scale[0])
    m, shift = quantize_multiplier(real)
    check_multiplier_shift(real, shift, f"{op.label}: output {y.name!r}", "lhs scale × rhs scale / output scale")
    return BatchMatmulParams(
        *base, True, int(lhs.zero_point[0]), int(rhs.zero_point[0]), int(y.zero_point[0]), int(m), int(shift)
    )


def _matrices(v: np.ndarray, shape: tuple[int, ...], adj: bool) -> np.ndarray:
    """A batched operand (n, *shape) as (n, b0, b1, b2, rows, cols), transposed if ``adj``."""
    full = (v.shape[0],) + (1,) * (5 - len(shape)) + tuple(shape)
    m = v.reshape(full)
    return np.swapaxes(m, -1, -2) if adj else m


def evaluate(p: BatchMatmulParams, inputs: list[np.ndarray]) -> np.ndarray:
    lhs, rhs = inputs
    n = max(lhs.shape[0], rhs.shape[0])
    a = _matrices(lhs, p.lhs_shape, p.adj_x).astype(np.float64)
    b = _matrices(rhs, p.rhs_shape, p.adj_y).astype(np.float64)
    if not p.quantized:
        return np.matmul(a, b).astype(np.float32).reshape((n,) + p.out_shape)
    acc = np.matmul(a - p.lhs_zp, b - p.rhs_zp)  # exact integers (see the module docstring)
    acc = wrap_int32(acc.astype(np.int64))
    out = multiply_by_quantized_multiplier(acc, p.multiplier, p.shift) + p.output_zp
    return np.clip(out, -128, 127).astype(np.int8).reshape((n,) + p.out_shape)
