"""Quantization parameters of the TFLite int8 spec (ground layer: numpy and fixed point only).

How a float range becomes an activation's (scale, zero point), how weights and biases become
int8 / int32 with their scales. ``quantize/ptq.py`` applies these to a graph; QAT, the front-ends
and the flows use the same formulas, so there is one of each.

``BIAS_LIMIT``: a quantized bias is kept below 2^26 in magnitude so that the generated C's
folded bias (bias − input_zp·Σw) and accumulator stay inside the bound the kernels prove
(see quantize/ptq.py's module docstring).
"""

from __future__ import annotations

import numpy as np

from picoml.errors import InputError
from picoml.fixedpoint import round_half_away

INT8_MIN, INT8_MAX = -128, 127
WEIGHT_QMAX = 127  # symmetric int8 weights use [-127, 127] (the spec: -128 is never used)
INT32_MAX = (1 << 31) - 1
BIAS_LIMIT = 1 << 26  # |quantized bias| bound (see the module docstring)


def activation_qparams(lo: float, hi: float) -> tuple[np.float32, int]:
    """(scale, zero point) of an int8 activation with float range [lo, hi].

    TFLite's GetAsymmetricQuantizationParams in float32: the range is widened to include 0,
    ``scale = (max - min) / 255``, and the zero point ``-128 - min / scale`` is rounded half away
    from zero (clamped to [-128, 127]), so 0.0 is exactly representable. A range of exactly 0
    gives scale 1, zero point -128 (MLIR FakeQuantSupport's degenerate case; TFLite writes 0).
    """
    f32 = np.float32
    mn = f32(min(float(lo), 0.0))
    mx = f32(max(float(hi), 0.0))
    with np.errstate(over="ignore", under="ignore"):
        scale = f32((mx - mn) / f32(INT8_MAX - INT8_MIN))
    if not (np.isfinite(scale) and scale >= np.finfo(np.float32).tiny):
        if not np.isfinite(scale):
            raise InputError(f"activation range [{lo}, {hi}] is too wide for float32 scales")
        return f32(1.0), INT8_MIN
    zp_from_min = f32(f32(INT8_MIN) - mn / scale)
    if zp_from_min < INT8_MIN:
        zp = INT8_MIN
    elif zp_from_min > INT8_MAX:
        zp = INT8_MAX
    else:
        zp = int(round_half_away(np.float64(zp_from_min)))
    return scale, zp


def representable_range(scale: float, zp: int) -> tuple[float, float]:
    """The float interval an int8 tensor with (scale, zp) covers."""
    return float(scale) * (INT8_MIN - zp), float(scale) * (INT8_MAX - zp)


def weight_scales(
    w: np.ndarray, axis: int | None, bias: np.ndarray | None = None, input_scale: float | None = None
) -> np.ndarray:
    """Symmetric int8 weight scales (float32): per slice of ``axis``, or one for ``axis=None``.

    ``scale = max|w| / 127`` per channel. An all-zero channel takes the largest scale of the
    tensor (1.0 if the tensor is all zero): it quantizes to zeros either way, and its bias keeps
    the layer's resolution. With a bias and the input scale, each scale is raised until
    ``|bias| / (input_scale · scale) <= BIAS_LIMIT``.
    """
    w = np.asarray(w, np.float32)
    if axis is None:
        maxabs = np.array([np.abs(w).max() if w.size else 0.0], np.float32)
    else:
        moved = np.moveaxis(np.abs(w), axis, 0).reshape(w.shape[axis], -1)
        maxabs = moved.max(axis=1) if moved.shape[1] else np.zeros(w.shape[axis], np.float32)
    s = (maxabs.astype(np.float64) / WEIGHT_QMAX).astype(np.float32)
    zero = s == 0
    if zero.any():
        s[zero] = s.max() if not zero.all() else np.float32(1.0)
    if bias is not None and input_scale is not None:
        b = np.abs(np.asarray(bias, np.float64).reshape(-1))
        if axis is None:
            b = np.array([b.max(initial=0.0)])
        lim = float(np.float32(input_scale)) * BIAS_LIMIT
        need = (b / lim).astype(np.float32)
        # float32 rounding of `need` may land just below the bound: step up one ulp where it does
        low = b > lim * need.astype(np.float64)
        need[low] = np.nextafter(need[low], np.float32(np.inf))
        s = np.maximum(s, need)
    return np.atleast_1d(s).astype(np.float32)


def quantize_array(
    x: np.ndarray,
    scale: float | np.ndarray,
    zero_point: int | np.ndarray = 0,
    qmin: int = INT8_MIN,
    qmax: int = INT8_MAX,
    *,
    precision: type = np.float32,
    dtype: type = np.int8,
) -> np.ndarray:
    """float → integer, TFLite's AffineQuantize: ``clamp(round(x / scale) + zero_point, qmin, qmax)``.

    Rounding is ``fixedpoint.round_half_away`` (std::round). ``scale`` and ``zero_point``
    broadcast against ``x`` (per-channel or per-candidate arrays). ``precision`` is the type the
    division is done in, the one way the two kinds of conversion genuinely differ:

    * ``np.float32`` — TFLite's QUANTIZE kernel at run time (``x`` and ``scale`` cast to float32,
      ``static_cast<float>(x) / scale``): graph inputs, the reference QUANTIZE kernel;
    * ``np.float64`` — constants quantized once by the converter, in double: weights, biases,
      constant operands, the MSE range search, the integers QAT recovers from float values.

    The rounded quotient is added to the zero point and clamped in float64 (exact for every
    quotient that is not clamped anyway). NaN has no integer value (TFLite's cast is undefined
    there): it maps to the zero point; ±inf and overflowing quotients clamp to qmax / qmin.

    Not routed through here, on purpose: QAT's fake quantization does the same arithmetic on
    torch tensors (``compress/qat.py``, with the same ``round_half_away``) so that gradients flow;
    the hybrid kernels' per-row input quantizers (``reference/conv2d.py``) model LiteRT's NEON
    quantizers, which multiply by a float32 reciprocal and round with ``trunc(p ± 0.5)``.
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        q = round_half_away(np.asarray(x, precision) / np.asarray(scale, precision))
    q = np.nan_to_num(np.asarray(q, np.float64), nan=0.0) + np.asarray(zero_point, np.float64)
    return np.clip(q, qmin, qmax).astype(dtype)


def dequantize_array(q: np.ndarray, scale: float | np.ndarray, zero_point: int | np.ndarray = 0) -> np.ndarray:
    """integer → float32, TFLite's DEQUANTIZE: ``scale · (q − zero_point)`` with the float32 scale.

    The product of a float32 scale and an integer below 2^29 is exact in float64, so the one
    rounding is the final one to float32 (the correctly rounded float32 product).
    """
    s = np.asarray(scale, np.float32).astype(np.float64)
    return (s * (np.asarray(q).astype(np.int64) - np.asarray(zero_point, np.int64))).astype(np.float32)


def quantize_weights(w: np.ndarray, scales: np.ndarray, axis: int | None) -> np.ndarray:
    """int8 ``clamp(round(w / scale), -127, 127)`` with the scale broadcast along ``axis``."""
    w64 = np.asarray(w, np.float64)
    s = np.asarray(scales, np.float64)
    if axis is not None and s.size > 1:
        shape = [1] * w64.ndim
        shape[axis] = s.size
        s = s.reshape(shape)
    else:
        s = s.reshape(())
    return quantize_array(w64, s, 0, -WEIGHT_QMAX, WEIGHT_QMAX, precision=np.float64)


def quantize_bias(b: np.ndarray, input_scale: float, w_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 values, float32 scales): ``round(b / (input_scale · weight_scale[c]))``.

    The product of two float32 scales is exact in float64, so the quantized bias is the rounding
    of the real quotient; the kernels use that same product in their output multiplier.
    """
    b64 = np.asarray(b, np.float64).reshape(-1)
    prod = float(np.float32(input_scale)) * np.asarray(w_scales, np.float64).reshape(-1)
    prod = np.broadcast_to(prod, b64.shape)
    q = quantize_array(b64, prod, 0, -INT32_MAX, INT32_MAX, precision=np.float64, dtype=np.int32)
    return q.reshape(np.shape(b)), prod.astype(np.float32)


# ======================================================================= float graph preparation
