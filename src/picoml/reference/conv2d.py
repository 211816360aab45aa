"""CONV_2D reference kernel (TFLite reference_ops::Conv / reference_integer_ops::ConvPerChannel).

int8: acc = Σ (x - input_zp) · w  (int32; padding contributes 0) + bias, then
MultiplyByQuantizedMultiplier per output channel, + output_zp, clamp to the fused
activation range. The dot products run as float64 BLAS matmuls: every product is at most
255·128 < 2^15 and a window has < 2^20 terms, so sums stay below 2^53 and are exact.
Grouped convolution (input channels a multiple of the filter's) is supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.reference.common import (
    activation_range_float,
    activation_range_int8,
    channel_multipliers,
    patches,
    requantize_output,
    to_nhwc,
)


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


def prepare_window_op(op: Op, depthwise: bool):
    """Shared Prepare for CONV_2D and DEPTHWISE_CONV_2D."""
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    b = op.inputs[2] if len(op.inputs) > 2 else None
    a = op.attrs
    oc = w.shape[3] if depthwise else w.shape[0]
    quantized = x.dtype == "int8"
    bias = b.data if b is not None else np.zeros(oc, np.int32 if quantized else np.float32)
    kw = dict(
        stride_h=a["stride_h"],
        stride_w=a["stride_w"],
        dilation_h=a["dilation_h"],
        dilation_w=a["dilation_w"],
        padding=a["padding"],
        groups=1 if depthwise else x.shape[3] // w.shape[3],
        filter=w.data,
        bias=bias.reshape(-1),
        quantized=quantized,
    )
    if quantized:
        mult, shift = channel_multipliers(x.scale[0], w, y.scale[0], oc)
        lo, hi = activation_range_int8(a["fused_activation"], y)
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
    return ConvParams(**kw)


def prepare(op: Op) -> ConvParams:
    return prepare_window_op(op, depthwise=False)


def finish(acc: np.ndarray, p: ConvParams) -> np.ndarray:
    """Bias, rescale and clamp a float64 accumulator (exact integers on the int8 path)."""
    if p.quantized:
        return requantize_output(acc.astype(np.int64) + p.bias.astype(np.int64), p)
    out = (acc + p.bias.astype(np.float64)).astype(np.float32)
    return np.clip(out, np.float32(p.act_min), np.float32(p.act_max))


def evaluate(p: ConvParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    oc, kh, kw, ic = p.filter.shape
    if p.quantized:
        xs = x.astype(np.float64) - p.input_zp  # padding with 0 == skipping the tap
    else:
        xs = x.astype(np.float64)
    win = patches(xs, kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding, 0.0)
    m, oh, ow = win.shape[:3]
    w = p.filter.astype(np.float64)
    per_group = oc // p.groups
    outs = []
    for g in range(p.groups):
        wg = w[g * per_group : (g + 1) * per_group]  # (og, KH, KW, ic)
        xg = win[..., g * ic : (g + 1) * ic].reshape(m * oh * ow, kh * kw * ic)
        outs.append(xg @ wg.reshape(per_group, -1).T)
    acc = np.concatenate(outs, axis=1) if p.groups > 1 else outs[0]
    y = finish(acc.reshape(m, oh, ow, oc), p)
    return y.reshape(lead + y.shape[1:])
