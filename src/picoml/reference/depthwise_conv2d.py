"""DEPTHWISE_CONV_2D reference kernel (reference_integer_ops::DepthwiseConvPerChannel,
LiteRT's optimized float DepthwiseConv, and LiteRT's hybrid depthwise_conv.cc
EvalHybridPerChannel).

Filter 1HWO with O = C_in · depth_multiplier; output channel ``c*m + k`` reads input
channel ``c``.

int8: same accumulation, rescale and clamp as CONV_2D (see conv2d.py); the sums are exact
in float64 (products are at most 255·128 < 2^15 and a window has < 2^20 taps).

float32: LiteRT's order, in float32: the accumulator starts at the bias, then each tap
inside the input adds float32(x · w), filter row by filter row (taps in the padding add
nothing). This matches LiteRT's optimized kernel bit for bit, which matters for hybrid
models: a float DEPTHWISE_CONV_2D feeding a hybrid CONV_2D whose on-the-fly quantization
would otherwise flip an int8 step now and then on a 1-ulp difference.

hybrid (float32 input, int8 weights): each batch row of the input is quantized
asymmetrically (conv2d.asymmetric_quantize_rows), acc = Σ (q - zero_point) · w over the taps
inside the input (exact, as int8), and DepthwiseConvHybridGeneral stores
``float(acc) · filter_scale[c] · input_scale + bias`` for whole groups of four channels (its
NEON loop) and ``float(acc) · input_scale · filter_scale[c] + bias`` for the remaining
O mod 4 channels, each product rounded to float32. LiteRT requires one filter scale per
output channel here; picoml also accepts a per-tensor scale (broadcast).
"""

from __future__ import annotations

import numpy as np

from picoml.graph.ir import Op
from picoml.reference.common import patches, requantize_output, to_nhwc, window_geometry
from picoml.reference.conv2d import ConvParams, finish, finish_hybrid, hybrid_quantize, prepare_window_op


def prepare(op: Op) -> ConvParams:
    return prepare_window_op(op, depthwise=True)


def evaluate(p: ConvParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    _, kh, kw, oc = p.filter.shape
    c = x.shape[3]
    mult = oc // c
    geometry = (kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding)
    if not p.quantized and not p.hybrid:
        win = patches(x.astype(np.float32), *geometry, np.float32(0))
        f = p.filter.astype(np.float32).reshape(kh, kw, c, mult)
        m, oh, ow = win.shape[:3]
        acc = np.empty((m, oh, ow, c, mult), np.float32)
        acc[...] = p.bias.astype(np.float32).reshape(c, mult)
        for i in range(kh):
            for j in range(kw):
                acc += win[:, :, :, i, j, :, None] * f[i, j]  # float32 product, then float32 add
        y = np.clip(acc.reshape(m, oh, ow, oc), np.float32(p.act_min), np.float32(p.act_max))
        return y.reshape(lead + y.shape[1:])
    if p.quantized and not p.hybrid:
        y = _evaluate_int8(p, x, kh, kw, c, mult)
        return y.reshape(lead + y.shape[1:])
    scale = None
    if p.hybrid:
        xs, scale = hybrid_quantize(x, asymmetric=True)  # padding 0 == skipping the tap
    else:
        xs = x.astype(np.float64) - p.input_zp
    win = patches(xs, *geometry, 0.0)
    f = p.filter.astype(np.float64).reshape(kh, kw, c, mult)
    m, oh, ow = win.shape[:3]
    acc = np.zeros((m, oh, ow, c, mult))
    for i in range(kh):
        for j in range(kw):
            acc += win[:, :, :, i, j, :, None] * f[i, j]
    acc = acc.reshape(m, oh, ow, oc)
    y = finish_hybrid(acc, scale, p) if p.hybrid else finish(acc, p)
    return y.reshape(lead + y.shape[1:])


def _evaluate_int8(p: ConvParams, x: np.ndarray, kh: int, kw: int, c: int, mult: int) -> np.ndarray:
    """int8 depthwise: per tap, a strided slice of the zero-point-shifted, zero-padded input
    times that tap's weights. Products (x - zp) * w are at most 255 * 128 < 2^15, so they are
    exact in int16; sums are accumulated in int32 (exact for < 2^16 taps)."""
    m, h, w_, _ = x.shape
    oh, ow, pt, pl = window_geometry(h, w_, kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding)
    hp = max((oh - 1) * p.stride_h + (kh - 1) * p.dilation_h + 1, pt + h)
    wp = max((ow - 1) * p.stride_w + (kw - 1) * p.dilation_w + 1, pl + w_)
    f = p.filter.astype(np.int16).reshape(kh, kw, c, mult)
    out = np.empty((m, oh, ow, c * mult), np.int8)
    # a block of samples at a time keeps the int16/int32 temporaries in cache
    block = max(1, (1 << 17) // max(1, oh * ow * c * mult))
    for s0 in range(0, m, block):
        xb = x[s0 : s0 + block]
        b = xb.shape[0]
        xp = np.zeros((b, hp, wp, c), np.int16)
        xp[:, pt : pt + h, pl : pl + w_, :] = xb
        xp[:, pt : pt + h, pl : pl + w_, :] -= np.int16(p.input_zp)
        acc = np.zeros((b, oh, ow, c, mult), np.int32)
        tmp = np.empty((b, oh, ow, c, mult), np.int16)
        for i in range(kh):
            y0 = i * p.dilation_h
            for j in range(kw):
                x0 = j * p.dilation_w
                tap = xp[
                    :,
                    y0 : y0 + (oh - 1) * p.stride_h + 1 : p.stride_h,
                    x0 : x0 + (ow - 1) * p.stride_w + 1 : p.stride_w,
                    :,
                ]
                np.multiply(tap[..., None], f[i, j], out=tmp)
                acc += tmp
        out[s0 : s0 + b] = requantize_output(acc.reshape(b, oh, ow, c * mult), p, p.bias)
    return out
