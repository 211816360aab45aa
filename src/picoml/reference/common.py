"""Helpers shared by the reference kernels: activation clamps, padding, patch extraction.

Batch convention: every activation array carries one extra leading axis, the batch of
independent inferences: a tensor of shape ``S`` is held as ``(N,) + S``. Constants are
handed to kernels as ``data[None]`` (a batch of one that broadcasts).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    check_multiplier_shift,
    multiply_by_quantized_multiplier,
    quantize_multiplier_array,
    round_half_away,
    wrap_int32,
)
from picoml.graph.ir import Tensor
from picoml.graph.ops import Activation, out_size, same_padding

INT8_MIN, INT8_MAX = -128, 127


def quantize_value(f: float, t: Tensor) -> int:
    """zero_point + round(f / scale), the float division in float32 as TFLite does."""
    q = round_half_away(np.float32(f) / np.float32(t.scale[0]))
    return int(t.zero_point[0]) + int(q)


def quantize_value_checked(f: float, t: Tensor, where: str) -> int:
    """quantize_value, refusing values TFLite cannot hold in an int32 (UnsupportedError).

    TFLite's Quantize (kernel_util.cc) rounds f / scale in float32 and fails Prepare when
    that is outside [INT32_MIN, float(INT32_MAX)] (inf for a tiny scale included); the
    remaining edge (exactly 2^31, or the zero point pushing the sum out of int32) is an
    undefined conversion/overflow in C. Either way picoml refuses the model.
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        q = round_half_away(np.float32(f) / np.float32(t.scale[0]))
    v = int(t.zero_point[0]) + int(q) if np.isfinite(q) and -(2.0**31) <= q < 2.0**31 else None
    if v is None or not INT32_MIN <= v <= INT32_MAX:
        raise UnsupportedError(
            f"{where}: {f:g} / scale {float(t.scale[0]):.6g} of {t.name!r} is outside int32, so "
            "TFLite Micro cannot quantize that bound (check the scale)"
        )
    return v


def activation_range_int8(act: str, out: Tensor, label: str | None = None) -> tuple[int, int]:
    """CalculateActivationRangeQuantized (kernel_util.cc) for an int8 output.

    Each bound quantizes 0, 6, -1 or 1 with TFLite's Quantize; where that cannot be held in
    an int32 (a tiny output scale with RELU6 / RELU_N1_TO_1) TFLM fails Prepare (or, in
    pooling, which ignores the failure, clamps with uninitialised bounds): refused here.
    """
    where = f"{label or 'op'}: fused {act}"
    lo, hi = INT8_MIN, INT8_MAX
    if act == Activation.RELU:
        lo = max(lo, quantize_value_checked(0.0, out, where))
    elif act == Activation.RELU6:
        lo = max(lo, quantize_value_checked(0.0, out, where))
        hi = min(hi, quantize_value_checked(6.0, out, where))
    elif act == Activation.RELU_N1_TO_1:
        lo = max(lo, quantize_value_checked(-1.0, out, where))
        hi = min(hi, quantize_value_checked(1.0, out, where))
    return lo, hi


def activation_range_float(act: str) -> tuple[float, float]:
    """CalculateActivationRange for float outputs."""
    return {
        Activation.NONE: (-np.inf, np.inf),
        Activation.RELU: (0.0, np.inf),
        Activation.RELU6: (0.0, 6.0),
        Activation.RELU_N1_TO_1: (-1.0, 1.0),
    }[act]


FLOAT32_MAX = float(np.finfo(np.float32).max)


def activation_clamp_float(act: str) -> tuple[float, float]:
    """The float clamp of LiteRT's arithmetic kernels (ADD, SUB, MUL, DIV): CalculateActivationRange
    gives NONE and RELU the bounds lowest() / max() of float, so an overflow to ±inf comes out as
    ±FLT_MAX (NaN passes)."""
    lo, hi = activation_range_float(act)
    return max(lo, -FLOAT32_MAX), min(hi, FLOAT32_MAX)


def to_nhwc(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Fold the interpreter batch axis into the tensor's own batch: (N, B, H, W, C) -> (N*B, H, W, C)."""
    return x.reshape((-1,) + x.shape[2:]), x.shape[:2]


def window_geometry(h: int, w: int, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, padding: str):
    """(out_h, out_w, pad_top, pad_left) as TFLite computes them."""
    oh = out_size(h, kh, sh, dh, padding)
    ow = out_size(w, kw, sw, dw, padding)
    if padding == "SAME":
        return oh, ow, same_padding(h, kh, sh, dh, oh), same_padding(w, kw, sw, dw, ow)
    return oh, ow, 0, 0


def no_windows(op) -> int:
    """Unfolded-window elements of an op that has none (the ``Kernel.windows`` default)."""
    return 0


def window_elems(op, kh: int, kw: int) -> int:
    """Elements ``patches`` unfolds for one inference of a window op with a kh×kw window:
    output pixels × window taps × input channels (its float64 temporaries are 8× that)."""
    y, x = op.outputs[0].shape, op.inputs[0].shape
    if len(y) != 4 or not x:
        return 0
    return y[1] * y[2] * kh * kw * x[-1]


def patches(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, padding: str, fill) -> np.ndarray:
    """Sliding windows of an NHWC array: (M, OH, OW, KH, KW, C), positions outside the input = fill.

    A read-only strided view of a padded copy, so no data is duplicated per window.
    """
    m, h, w, c = x.shape
    oh, ow, pt, pl = window_geometry(h, w, kh, kw, sh, sw, dh, dw, padding)
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    pb = max(need_h - h - pt, 0)
    pr = max(need_w - w - pl, 0)
    if pt or pb or pl or pr:
        xp = np.full((m, h + pt + pb, w + pl + pr, c), fill, dtype=x.dtype)
        xp[:, pt : pt + h, pl : pl + w, :] = x
    else:
        xp = np.ascontiguousarray(x)
    s0, s1, s2, s3 = xp.strides
    return as_strided(
        xp,
        shape=(m, oh, ow, kh, kw, c),
        strides=(s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
        writeable=False,
    )


REQUANT_BLOCK = 1 << 15  # elements per block: the int64 temporaries stay in L2 cache


def requantize_output(acc: np.ndarray, p, bias: np.ndarray | None = None) -> np.ndarray:
    """Accumulator (+ int32 bias) -> int8 via the per-channel multiplier, zero point and clamp.

    ``acc`` holds exact integers (any numeric dtype) with channels on the last axis; ``p`` has
    ``multiplier``, ``shift``, ``output_zp``, ``act_min`` and ``act_max``. The steps are
    TFLite's: acc + bias wraps to int32, MultiplyByQuantizedMultiplier (see fixedpoint.py
    for why SRDHM is (a*m + 2^30) >> 31 and RoundingDivideByPOT an add and a shift), then
    + output_zp and the clamp. Done block by block, in place, so it runs at cache speed.
    """

    c = acc.shape[-1] if acc.ndim else 1
    flat = acc.reshape(-1, c)
    out = np.empty(flat.shape, np.int8)
    mult = np.broadcast_to(np.asarray(p.multiplier, np.int64), (c,))
    shift = np.broadcast_to(np.asarray(p.shift, np.int64), (c,))
    if np.any(mult == INT32_MIN):  # cannot come from quantize_multiplier; keep the exact general path
        a = flat.astype(np.int64) + (0 if bias is None else np.asarray(bias, np.int64))
        v = multiply_by_quantized_multiplier(wrap_int32(a), mult, shift) + p.output_zp
        return np.clip(v, p.act_min, p.act_max).astype(np.int8).reshape(acc.shape)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    half = (np.int64(1) << right) >> 1
    has_left = bool(left.any())
    b64 = None if bias is None else np.asarray(bias, np.int64)
    rows = max(1, REQUANT_BLOCK // max(c, 1))
    for s0 in range(0, flat.shape[0], rows):
        a = flat[s0 : s0 + rows].astype(np.int64)
        if b64 is not None:
            a += b64
        a = wrap_int32(a)  # C adds bias to an int32 accumulator
        if has_left:
            a = wrap_int32(a << left)
        a *= mult
        a += 1 << 30
        a >>= 31  # SaturatingRoundingDoublingHighMul
        neg = (a < 0) & (right > 0)
        a += half
        a -= neg
        a >>= right  # RoundingDivideByPOT
        a += p.output_zp
        np.clip(a, p.act_min, p.act_max, out=a)
        out[s0 : s0 + rows] = a
    return out.reshape(acc.shape)


def exact_float_dtype(terms: int) -> type:
    """float32 when every int8·int8 dot product of ``terms`` terms is exact in it, else float64.

    |x - zp| <= 255 and |w| <= 128, so a sum of n products is below 255·128·n; float32
    represents every integer below 2^24 exactly, float64 below 2^53.
    """
    return np.float32 if 255 * 128 * terms < (1 << 24) else np.float64


def channel_multipliers(
    in_scale: float, w: Tensor, out_scale: float, channels: int, label: str | None = None, out_name: str = ""
):
    """PopulateConvolutionQuantizationParams: effective scale per output channel, in double.

    effective = double(input_scale) * double(filter_scale[c]) / double(output_scale),
    quantized with QuantizeMultiplier: below ~2^-32 it flushes to 0 (that channel outputs
    the zero point, as in TFLM); at 2^30 or more it is refused (UnsupportedError naming
    ``label`` and, for per-channel weights, the channel): TFLM would shift left by 31 or more.
    """
    ws = w.scale.astype(np.float64)
    per_channel = ws.size > 1
    if not per_channel:
        ws = np.full(channels, ws[0])
    real = np.float64(np.float32(in_scale)) * ws / np.float64(np.float32(out_scale))
    m, s = quantize_multiplier_array(real)
    where = f"{label or 'op'}: output {out_name!r}" if out_name else (label or "op")
    formula = "input scale × weight scale / output scale"
    if per_channel:
        check_multiplier_shift(real, s, where, formula)
    else:
        check_multiplier_shift(real[:1], s[:1], where, formula)
    return m, s


def align_ranks(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give two batched operands equal rank by inserting unit axes after the batch axis, so
    numpy broadcasting matches TFLite's (trailing-aligned) broadcasting of the tensors."""
    r = max(a.ndim, b.ndim)
    a = a.reshape(a.shape[:1] + (1,) * (r - a.ndim) + a.shape[1:])
    b = b.reshape(b.shape[:1] + (1,) * (r - b.ndim) + b.shape[1:])
    return a, b
