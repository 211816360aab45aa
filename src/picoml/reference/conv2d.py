"""CONV_2D reference kernel (TFLite reference_ops::Conv / reference_integer_ops::ConvPerChannel,
and LiteRT's hybrid kernels in conv.cc).

int8: acc = Σ (x - input_zp) · w  (int32; padding contributes 0) + bias, then
MultiplyByQuantizedMultiplier per output channel, + output_zp, clamp to the fused
activation range.

hybrid (float32 activations, int8 constant weights: "dynamic-range quantized" models): each
batch row of the input (the tensor's own batch index, so each picoml sample separately) is
quantized on the fly to int8, convolved in integers, and rescaled to float32 (see
``hybrid_quantize`` and ``finish_hybrid``). LiteRT's builtin kernel picks the variant:

- per-tensor weights (or per-channel scales that are all equal), groups == 1: EvalHybrid,
  symmetric input quantization, out = float(acc) · (input_scale · filter_scale) + bias;
- per-channel weights, groups == 1: EvalHybridPerChannel → optimized HybridConvPerChannel,
  asymmetric input quantization, out = float(acc) · (filter_scale[c] · input_scale) + bias;
- groups > 1: EvalHybridPerChannel → reference_ops::HybridConvPerChannel, asymmetric input
  quantization, out = float(acc) · filter_scale[c] · input_scale + bias (left to right).

Every float32 operation is rounded as LiteRT (x86-64 build) rounds it, so the hybrid path
matches LiteRT bit for bit there; the activation clamps in float.

The dot products run as float64 BLAS matmuls: every product is at most 255·128 < 2^15 (int8
path: |x - input_zp| ≤ 255; hybrid: |q - input_zp| ≤ 255) and a window has < 2^20 terms, so
sums stay below 2^53 and are exact. (LiteRT's hybrid int32 accumulator, Σ q·w minus
zero_point · Σ w, wraps to the same value while the result fits int32: windows under 65,793
taps.) Grouped convolution (input channels a multiple of the filter's) is supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import GraphError, UnsupportedError
from picoml.fixedpoint import round_half_away
from picoml.graph.ir import Op, Tensor
from picoml.reference.common import (
    activation_range_float,
    activation_range_int8,
    channel_multipliers,
    exact_float_dtype,
    patches,
    requantize_output,
    to_nhwc,
    window_geometry,
)

F32 = np.float32

# Hybrid variants (ConvParams.hybrid / FullyConnectedParams.hybrid).
HYBRID_PER_TENSOR = "per_tensor"  # symmetric input, one filter scale
HYBRID_PER_CHANNEL = "per_channel"  # asymmetric input, acc · (scale[c] · input_scale)
HYBRID_PER_CHANNEL_REF = "per_channel_reference"  # asymmetric input, acc · scale[c] · input_scale
HYBRID_DEPTHWISE = "depthwise"  # asymmetric input, DepthwiseConvHybridGeneral's store order


@dataclass(frozen=True)
class ConvParams:
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    padding: str
    groups: int
    filter: np.ndarray  # OHWI (int8 or float32)
    bias: np.ndarray  # [O] int32 / float32 (zeros when absent)
    quantized: bool
    input_zp: int = 0
    output_zp: int = 0
    multiplier: np.ndarray | None = None  # [O] int32 Q31
    shift: np.ndarray | None = None  # [O] int32, >0 left
    act_min: float = -np.inf
    act_max: float = np.inf
    hybrid: str = ""  # "" or one of the HYBRID_* variants
    filter_scale: np.ndarray | None = None  # [O] float32 (hybrid only; per-tensor broadcast)


# ------------------------------------------------------------------ hybrid input quantization
# LiteRT's x86-64 wheels are built with SSE4.1, so neon_check.h defines USE_NEON and
# tensor_utils runs the NEON quantizers through NEON_2_SSE (NeonSymmetricQuantizeFloats,
# NeonAsymmetricQuantizeFloats in neon_tensor_utils.cc). Their vector loop covers the first
# (size & ~7) values of a row and rounds with RoundToNearest's pre-ARMv8 fallback,
# trunc(p ± 0.5) with the addition in float32 (so 0.49999997 rounds to 1); the scalar tail
# uses TfLiteRound (halves away from zero).


def _round_row_values(p: np.ndarray) -> np.ndarray:
    """Round float32 rows (R, K) the way the NEON quantizers do (vector part, then tail)."""
    vec = p.shape[1] & ~7
    out = np.empty(p.shape, np.float64)
    head = p[:, :vec]
    out[:, :vec] = np.trunc(head + np.where(head < 0, F32(-0.5), F32(0.5)))  # float32 add
    out[:, vec:] = round_half_away(p[:, vec:])
    return out


def symmetric_quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SymmetricQuantizeFloats per row of a float32 (R, K) array -> (q float64 (R, K), scale float32 (R,)).

    range = max(|min|, |max|); scale = range / 127 and inv = 127 / range in float32;
    q = clamp(round(x · inv), -127, 127). An all-zero row gives q = 0, scale = 1.
    """
    x = np.asarray(x, F32)
    rng = np.maximum(np.abs(x.min(axis=1)), np.abs(x.max(axis=1)))
    zero = rng == 0
    rng = np.where(zero, F32(1), rng)
    scale = np.where(zero, F32(1), rng / F32(127)).astype(F32)
    inv = (F32(127) / rng).astype(F32)
    q = np.clip(_round_row_values(x * inv[:, None]), -127, 127)
    q[zero] = 0.0
    return q, scale


def asymmetric_quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NeonAsymmetricQuantizeFloats per row of a float32 (R, K) array -> (q, scale, zero_point).

    rmin = min(0, min x), rmax = max(0, max x) (float32); scale = double(rmax - rmin, the
    subtraction in float32) / 255; the zero point is nudged from whichever end has the smaller
    error, in double, rounded half away; the stored scale is float32(scale) and
    inv = float32(1.0 / double(scale_f32)); q = clamp(round(x · inv) + zero_point, -128, 127).
    An all-zero row gives q = 0, scale = 1, zero point 0.
    """
    x = np.asarray(x, F32)
    rmin32 = np.minimum(F32(0), x.min(axis=1))
    rmax32 = np.maximum(F32(0), x.max(axis=1))
    same = rmin32 == rmax32
    rmin, rmax = rmin32.astype(np.float64), rmax32.astype(np.float64)
    scale = np.where(same, 1.0, (rmax32 - rmin32).astype(np.float64) / 255.0)
    zp_from_min = -128.0 - rmin / scale
    zp_from_max = 127.0 - rmax / scale
    err_min = 128.0 + np.abs(rmin / scale)
    err_max = 127.0 + np.abs(rmax / scale)
    zp_d = np.where(err_min < err_max, zp_from_min, zp_from_max)
    zp = np.where(zp_d <= -128.0, -128.0, np.where(zp_d >= 127.0, 127.0, round_half_away(np.clip(zp_d, -128, 127))))
    zp = np.where(same, 0.0, zp).astype(np.int64)
    scale_f = np.where(same, F32(1), scale.astype(F32)).astype(F32)
    inv = (1.0 / scale_f.astype(np.float64)).astype(F32)
    q = np.clip(_round_row_values(x * inv[:, None]) + zp[:, None], -128, 127)
    q[same] = 0.0
    return q, scale_f, zp


def hybrid_quantize(x: np.ndarray, asymmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Quantize each row x[m] (all its elements, C order) -> (q - zero_point as float64, scale (M,))."""
    rows = x.reshape(x.shape[0], -1)
    if asymmetric:
        q, scale, zp = asymmetric_quantize_rows(rows)
        q = q - zp[:, None]
    else:
        q, scale = symmetric_quantize_rows(rows)
    return q.reshape(x.shape), scale


def hybrid_variant(op: Op, w: Tensor, depthwise: bool, groups: int) -> str:
    """Which LiteRT hybrid kernel runs this op (checks the weights' quantization first)."""
    axis = 3 if depthwise else 0
    if (w.zero_point != 0).any():
        raise UnsupportedError(f"{op.label}: hybrid weights {w.name!r} must be symmetric (zero point 0)")
    if w.per_axis and (w.quantized_dimension != axis or w.scale.size != w.shape[axis]):
        raise GraphError(f"{op.label}: weights {w.name!r} must have one scale per slice of axis {axis}")
    if depthwise:
        return HYBRID_DEPTHWISE
    distinct = w.per_axis and bool((w.scale != w.scale[0]).any())
    if groups != 1:
        # conv.cc sends grouped hybrid convolution to reference_ops::HybridConvPerChannel
        # (LiteRT itself needs distinct per-channel scales here; picoml broadcasts one scale).
        return HYBRID_PER_CHANNEL_REF
    return HYBRID_PER_CHANNEL if distinct else HYBRID_PER_TENSOR


def finish_hybrid(acc: np.ndarray, scale: np.ndarray, p: ConvParams) -> np.ndarray:
    """Rescale an exact integer accumulator (M, OH, OW, O) to float32 as LiteRT does, + bias, clamp.

    ``scale`` is the per-row input scale (M,). Each operation below is one float32 rounding.
    """
    a = acc.astype(F32)  # int32 -> float conversion (round to nearest even)
    s_in = scale.astype(F32).reshape(-1, 1, 1, 1)
    fs = p.filter_scale
    if p.hybrid == HYBRID_PER_TENSOR:
        out = a * (s_in * F32(fs[0]))  # EvalHybrid: scaling_factor *= filter scale
    elif p.hybrid == HYBRID_PER_CHANNEL:
        out = a * (fs * s_in)  # Eigen: acc · (per_channel_scale · input_scale)
    elif p.hybrid == HYBRID_PER_CHANNEL_REF:
        out = (a * fs) * s_in
    else:  # HYBRID_DEPTHWISE: NEON store loop for whole groups of 4 channels, scalar loop after
        out = np.empty_like(a)
        nv = (a.shape[-1] // 4) * 4
        out[..., :nv] = (a[..., :nv] * fs[:nv]) * s_in
        out[..., nv:] = (a[..., nv:] * s_in) * fs[nv:]
    out = out + p.bias.astype(F32)
    return np.clip(out, F32(p.act_min), F32(p.act_max))


# ------------------------------------------------------------------ prepare / evaluate
def prepare_window_op(op: Op, depthwise: bool):
    """Shared Prepare for CONV_2D and DEPTHWISE_CONV_2D."""
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    b = op.inputs[2] if len(op.inputs) > 2 else None
    a = op.attrs
    oc = w.shape[3] if depthwise else w.shape[0]
    quantized = x.dtype == "int8"
    hybrid = x.dtype == "float32" and w.dtype == "int8"
    bias = b.data if b is not None else np.zeros(oc, np.int32 if quantized else np.float32)
    groups = 1 if depthwise else x.shape[3] // w.shape[3]
    kw = dict(
        stride_h=a["stride_h"],
        stride_w=a["stride_w"],
        dilation_h=a["dilation_h"],
        dilation_w=a["dilation_w"],
        padding=a["padding"],
        groups=groups,
        filter=w.data,
        bias=bias.reshape(-1),
        quantized=quantized,
    )
    if quantized:
        mult, shift = channel_multipliers(x.scale[0], w, y.scale[0], oc, op.label, y.name)
        lo, hi = activation_range_int8(a["fused_activation"], y, op.label)
        kw.update(
            input_zp=int(x.zero_point[0]),
            output_zp=int(y.zero_point[0]),
            multiplier=mult,
            shift=shift,
            act_min=lo,
            act_max=hi,
        )
    else:
        kw["act_min"], kw["act_max"] = activation_range_float(a["fused_activation"])
        if hybrid:
            kw["hybrid"] = hybrid_variant(op, w, depthwise, groups)
            kw["filter_scale"] = np.broadcast_to(w.scale.astype(F32), (oc,)).copy()
    return ConvParams(**kw)


def prepare(op: Op) -> ConvParams:
    return prepare_window_op(op, depthwise=False)


def finish(acc: np.ndarray, p: ConvParams) -> np.ndarray:
    """Bias, rescale and clamp a float64 accumulator (exact integers on the int8 path)."""
    if p.quantized:
        return requantize_output(acc, p, p.bias)
    out = (acc + p.bias.astype(np.float64)).astype(np.float32)
    return np.clip(out, np.float32(p.act_min), np.float32(p.act_max))


def evaluate(p: ConvParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    oc, kh, kw, ic = p.filter.shape
    scale = None
    if p.hybrid:
        # padding with 0 == a tap at the zero point, which LiteRT cancels via the row sums
        xs, scale = hybrid_quantize(x, asymmetric=p.hybrid != HYBRID_PER_TENSOR)
    elif p.quantized:
        y = _evaluate_int8(p, x)
        return y.reshape(lead + y.shape[1:])
    else:
        xs = x.astype(np.float64)
    win = patches(xs, kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding, 0.0)
    m, oh, ow = win.shape[:3]
    w = p.filter.astype(xs.dtype)
    per_group = oc // p.groups
    outs = []
    for g in range(p.groups):
        wg = w[g * per_group : (g + 1) * per_group]  # (og, KH, KW, ic)
        xg = win[..., g * ic : (g + 1) * ic].reshape(m * oh * ow, kh * kw * ic)
        outs.append(xg @ wg.reshape(per_group, -1).T)
    acc = (np.concatenate(outs, axis=1) if p.groups > 1 else outs[0]).reshape(m, oh, ow, oc)
    y = finish_hybrid(acc, scale, p) if p.hybrid else finish(acc, p)
    return y.reshape(lead + y.shape[1:])


def _evaluate_int8(p: ConvParams, x: np.ndarray) -> np.ndarray:
    """int8 convolution as im2col + GEMM on exact floats (see exact_float_dtype), a block of
    samples at a time so the window matrix and the requantization stay in cache.
    A 1x1, stride-1 convolution needs no window copy at all: it is a plain GEMM."""
    oc, kh, kw, ic = p.filter.shape
    m, h, w_, c = x.shape
    dt = exact_float_dtype(kh * kw * ic)
    w = p.filter.astype(dt)
    per_group = oc // p.groups
    pointwise = kh == kw == 1 and p.stride_h == p.stride_w == 1 and p.groups == 1
    oh, ow, _, _ = window_geometry(h, w_, kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding)
    out = np.empty((m, oh, ow, oc), np.int8)
    block = max(1, (1 << 18) // max(1, oh * ow * max(kh * kw * ic, oc)))
    zp = dt(p.input_zp)
    for s0 in range(0, m, block):
        xs = x[s0 : s0 + block].astype(dt)
        xs -= zp  # padding with 0 == skipping the tap
        b = xs.shape[0]
        if pointwise:
            acc = xs.reshape(-1, c) @ w.reshape(oc, c).T
        else:
            win = patches(xs, kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding, 0.0)
            outs = []
            for g in range(p.groups):
                wg = w[g * per_group : (g + 1) * per_group]
                xg = win[..., g * ic : (g + 1) * ic].reshape(b * oh * ow, kh * kw * ic)
                outs.append(xg @ wg.reshape(per_group, -1).T)
            acc = np.concatenate(outs, axis=1) if p.groups > 1 else outs[0]
        out[s0 : s0 + b] = requantize_output(acc, p, p.bias).reshape(b, oh, ow, oc)
    return out
