"""FULLY_CONNECTED reference kernel (reference_integer_ops::FullyConnected[PerChannel], and
LiteRT's hybrid fully_connected.cc EvalHybridDense).

int8: acc = Σ (x - input_zp) · (w - weights_zp) + bias, rescaled per tensor (or per
output channel when the weights are per-axis), + output_zp, clamped. Input is flattened
to [batch, depth] unless keep_num_dims.

hybrid (float32 input, int8 weights): every row of the flattened [rows, depth] input is
quantized on its own: symmetrically (conv2d.symmetric_quantize_rows), or asymmetrically
when ``asymmetric_quantize_inputs`` is set (conv2d.asymmetric_quantize_rows). Then
acc = Σ (q - zero_point) · w (LiteRT: Σ q·w - zero_point · row_sum(w)) and
``out = bias + float(acc) · s`` with s = input_scale · filter_scale (per-tensor weights: the
input scale is multiplied by the filter scale first) or s = filter_scale[o] · input_scale
(per-channel weights), every operation rounded to float32; then the activation in float.

The products are at most 255·128 < 2^15, so the float64 matmul is exact for depth < 2^38.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import GraphError, UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.reference.common import (
    activation_range_float,
    activation_range_int8,
    channel_multipliers,
    requantize_output,
)
from picoml.reference.conv2d import (
    F32,
    HYBRID_PER_CHANNEL,
    HYBRID_PER_TENSOR,
    asymmetric_quantize_rows,
    symmetric_quantize_rows,
)


@dataclass(frozen=True)
class FullyConnectedParams:
    weights: np.ndarray  # [out, in]
    bias: np.ndarray  # [out]
    out_shape: tuple[int, ...]  # the output tensor's shape
    quantized: bool
    input_zp: int = 0
    weights_zp: int = 0
    output_zp: int = 0
    multiplier: np.ndarray | None = None
    shift: np.ndarray | None = None
    act_min: float = -np.inf
    act_max: float = np.inf
    hybrid: str = ""  # "", HYBRID_PER_TENSOR or HYBRID_PER_CHANNEL
    asymmetric: bool = False  # hybrid: asymmetric_quantize_inputs
    filter_scale: np.ndarray | None = None  # hybrid: [1] or [out] float32


BIAS_SCALE_TOLERANCE = 0.02  # GetQuantizedConvolutionMultipler (kernel_util.cc)


def check_bias_scale(op: Op, x: Tensor, w: Tensor, b: Tensor, y: Tensor) -> None:
    """TFLM's per-tensor int8 FULLY_CONNECTED Prepare: |input·weight scale - bias scale| /
    output scale <= 0.02 (in double), else Prepare fails. With an extreme output scale even
    a bias scale that is float32(input · weight scale) fails it, by that float rounding."""
    product = float(np.float32(x.scale[0])) * float(np.float32(w.scale[0]))
    bias_scale = float(np.float32(b.scale[0]))
    ratio = abs(product - bias_scale) / float(np.float32(y.scale[0]))
    if not ratio <= BIAS_SCALE_TOLERANCE:
        raise UnsupportedError(
            f"{op.label}: bias {b.name!r} scale {bias_scale:.6g} differs from input × weight scale {product:.6g} "
            f"by {ratio:.3g} output steps; TFLite Micro's per-tensor int8 FULLY_CONNECTED allows at most "
            f"{BIAS_SCALE_TOLERANCE}"
        )


def prepare(op: Op) -> FullyConnectedParams:
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    b = op.inputs[2] if len(op.inputs) > 2 else None
    units = w.shape[0]
    quantized = x.dtype == "int8"
    bias = b.data.reshape(-1) if b is not None else np.zeros(units, np.int32 if quantized else np.float32)
    act = op.attrs["fused_activation"]
    if not quantized:
        lo, hi = activation_range_float(act)
        if x.dtype == "float32" and w.dtype == "int8":
            if (w.zero_point != 0).any():
                raise UnsupportedError(f"{op.label}: hybrid weights {w.name!r} must be symmetric (zero point 0)")
            if w.per_axis and (w.quantized_dimension != 0 or w.scale.size != units):
                raise GraphError(f"{op.label}: weights {w.name!r} must have one scale per output unit")
            return FullyConnectedParams(
                w.data,
                bias,
                y.shape,
                False,
                act_min=lo,
                act_max=hi,
                # fully_connected.cc: per-channel as soon as there is more than one scale
                hybrid=HYBRID_PER_CHANNEL if w.per_axis else HYBRID_PER_TENSOR,
                asymmetric=bool(op.attrs.get("asymmetric_quantize_inputs", False)),
                filter_scale=w.scale.astype(F32),
            )
        return FullyConnectedParams(w.data, bias, y.shape, False, act_min=lo, act_max=hi)
    if b is not None and w.scale.size == 1:
        check_bias_scale(op, x, w, b, y)
    mult, shift = channel_multipliers(x.scale[0], w, y.scale[0], units, op.label, y.name)
    lo, hi = activation_range_int8(act, y, op.label)
    return FullyConnectedParams(
        w.data,
        bias,
        y.shape,
        True,
        input_zp=int(x.zero_point[0]),
        weights_zp=int(w.zero_point[0]),
        output_zp=int(y.zero_point[0]),
        multiplier=mult,
        shift=shift,
        act_min=lo,
        act_max=hi,
    )


def _evaluate_hybrid(p: FullyConnectedParams, x: np.ndarray) -> np.ndarray:
    """Rows (R, depth) float32 -> (R, units) float32 through LiteRT's hybrid arithmetic."""
    if p.asymmetric:
        q, scale, zp = asymmetric_quantize_rows(x)
        q = q - zp[:, None]
    else:
        q, scale = symmetric_quantize_rows(x)
    acc = (q @ p.weights.astype(np.float64).T).astype(F32)  # exact integers, then int32 -> float
    if p.hybrid == HYBRID_PER_TENSOR:
        s = (scale * F32(p.filter_scale[0]))[:, None]  # scaling_factors[b] *= filter scale
    else:
        s = p.filter_scale[None, :] * scale[:, None]  # per_channel_scale[row] * batch scale
    out = p.bias.astype(F32) + acc * s  # output starts as the bias; += acc · s
    return np.clip(out, F32(p.act_min), F32(p.act_max))


def evaluate(p: FullyConnectedParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    n = x.shape[0]
    depth = p.weights.shape[1]
    if p.hybrid:
        return _evaluate_hybrid(p, x.reshape(-1, depth).astype(F32)).reshape((n,) + p.out_shape)
    xf = x.reshape(-1, depth).astype(np.float64)
    w = p.weights.astype(np.float64)
    if p.quantized:
        acc = (xf - p.input_zp) @ (w - p.weights_zp).T
        y = requantize_output(acc, p, p.bias)
    else:
        y = ((xf @ w.T) + p.bias.astype(np.float64)).astype(np.float32)
        y = np.clip(y, np.float32(p.act_min), np.float32(p.act_max))
    return y.reshape((n,) + p.out_shape)
