"""TRANSPOSE_CONV reference kernel (tflite-micro ``micro/kernels/transpose_conv.cc`` with
``reference_integer_ops::TransposeConv``; LiteRT's builtin float kernel).

IR inputs: (input NHWC, weights OHWI, output_shape, bias). Every input value scatters its
product with each filter tap into the output pixel ``(in_y · stride_h - pad_h + ky,
in_x · stride_w - pad_w + kx)``; taps that land outside the output are dropped. The padding is
that of a forward convolution over the *output* (``resize_ops.transpose_conv_padding``).

int8: ``acc = Σ (x - input_zp) · w`` in an **int32** accumulator (tflite-micro's int8 kernel
keeps an int32 scratch buffer of the output's size; the int64 accumulator is its 16x8
kernel's), ``+ bias`` (int32), then MultiplyByQuantizedMultiplier per output channel (the
multipliers of PopulateConvolutionQuantizationParams, as CONV_2D), ``+ output_zp``, clamp to
the fused activation's range (older tflite-micro releases computed the int8 parameters with
``kTfLiteActNone`` and ignored it; the release picoml is checked against applies it, and
tests/kernels/test_transpose_conv.py pins that).

float32: the same sums in float64, rounded once to float32, + bias, fused activation. LiteRT
sums in float32 (im2col, GEMM, col2im), so the float path is compared within the oracles'
1e-5 relative tolerance.

Hybrid weights (float input, int8 weights) are refused: tflite-micro refuses them too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.resize_ops import TC_BIAS, TC_INPUT, TC_WEIGHTS, transpose_conv_padding
from picoml.reference.common import (
    activation_range_float,
    activation_range_int8,
    channel_multipliers,
    requantize_output,
    to_nhwc,
)

F32 = np.float32


@dataclass(frozen=True)
class TransposeConvParams:
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    out_h: int
    out_w: int
    filter: np.ndarray  # OHWI
    bias: np.ndarray  # [O] int32 / float32 (zeros when absent)
    quantized: bool
    input_zp: int = 0
    output_zp: int = 0
    multiplier: np.ndarray | None = None
    shift: np.ndarray | None = None
    act_min: float = -np.inf
    act_max: float = np.inf


def prepare(op: Op) -> TransposeConvParams:
    x, w, y = op.inputs[TC_INPUT], op.inputs[TC_WEIGHTS], op.outputs[0]
    b = op.inputs[TC_BIAS] if len(op.inputs) > TC_BIAS else None
    a = op.attrs
    quantized = x.dtype == "int8"
    if x.dtype == "float32" and w.dtype != "float32":
        raise UnsupportedError(
            f"{op.label}: hybrid weights {w.name!r} (float input, {w.dtype} weights) are not supported"
        )
    oc = w.shape[0]
    pad_h, pad_w = transpose_conv_padding(op)
    bias = b.data if b is not None else np.zeros(oc, np.int32 if quantized else np.float32)
    kw = dict(
        stride_h=a["stride_h"],
        stride_w=a["stride_w"],
        pad_h=pad_h,
        pad_w=pad_w,
        out_h=y.shape[1],
        out_w=y.shape[2],
        filter=w.data,
        bias=np.asarray(bias).reshape(-1),
        quantized=quantized,
    )
    if quantized:
        mult, shift = channel_multipliers(x.scale[0], w, y.scale[0], oc, op.label, y.name)
        kw.update(
            input_zp=int(x.zero_point[0]),
            output_zp=int(y.zero_point[0]),
            multiplier=mult,
            shift=shift,
        )
        kw["act_min"], kw["act_max"] = activation_range_int8(a["fused_activation"], y, op.label)
    else:
        kw["act_min"], kw["act_max"] = activation_range_float(a["fused_activation"])
    return TransposeConvParams(**kw)


def windows(op: Op) -> int:
    """Elements of ``accumulate``'s temporaries for one inference (the interpreter's memory
    estimate): the accumulator over the full extent of the taps and one tap's products."""
    _, ih, iw, _ = op.inputs[TC_INPUT].shape
    oc, kh, kw, _ = op.inputs[TC_WEIGHTS].shape
    _, oh, ow, _ = op.outputs[0].shape
    pad_h, pad_w = transpose_conv_padding(op)
    a = op.attrs
    full_h = max((ih - 1) * a["stride_h"] + kh, pad_h + oh)
    full_w = max((iw - 1) * a["stride_w"] + kw, pad_w + ow)
    return full_h * full_w * oc + ih * iw * oc


def accumulate(p: TransposeConvParams, xs: np.ndarray) -> np.ndarray:
    """Σ x · w scattered to the output, (M, out_h, out_w, O) in xs's float dtype (exact for integers)."""
    m, ih, iw, _ = xs.shape
    oc, kh, kw, _ = p.filter.shape
    sh, sw = p.stride_h, p.stride_w
    full_h = max((ih - 1) * sh + kh, p.pad_h + p.out_h)
    full_w = max((iw - 1) * sw + kw, p.pad_w + p.out_w)
    acc = np.zeros((m, full_h, full_w, oc), xs.dtype)
    w = p.filter.astype(xs.dtype)
    if kh * kw <= ih * iw:  # one matrix product per filter tap, scattered with the stride
        rows = xs.reshape(-1, xs.shape[-1])
        for ky in range(kh):
            for kx in range(kw):
                part = (rows @ w[:, ky, kx, :].T).reshape(m, ih, iw, oc)
                acc[:, ky : ky + (ih - 1) * sh + 1 : sh, kx : kx + (iw - 1) * sw + 1 : sw] += part
    else:  # large filters: one product per input pixel, its whole footprint at once
        wmat = w.transpose(3, 1, 2, 0).reshape(w.shape[3], kh * kw * oc)
        for iy in range(ih):
            for ix in range(iw):
                part = (xs[:, iy, ix, :] @ wmat).reshape(m, kh, kw, oc)
                acc[:, iy * sh : iy * sh + kh, ix * sw : ix * sw + kw] += part
    return acc[:, p.pad_h : p.pad_h + p.out_h, p.pad_w : p.pad_w + p.out_w]


def evaluate(p: TransposeConvParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    if p.quantized:
        acc = accumulate(p, x.astype(np.float64) - p.input_zp)  # products < 2^15, exact in float64
        y = requantize_output(acc, p, p.bias)  # int32 wrap after the bias, as tflite-micro's int32 scratch
    else:
        acc = accumulate(p, x.astype(np.float64))
        y = (acc + p.bias.astype(np.float64)).astype(F32)
        y = np.clip(y, F32(p.act_min), F32(p.act_max))
    return y.reshape(lead + y.shape[1:])
