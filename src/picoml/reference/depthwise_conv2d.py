"""DEPTHWISE_CONV_2D reference kernel (reference_integer_ops::DepthwiseConvPerChannel).

Filter 1HWO with O = C_in · depth_multiplier; output channel ``c*m + k`` reads input
channel ``c``. Same accumulation, rescale and clamp as CONV_2D (see conv2d.py).
"""

from __future__ import annotations

import numpy as np

from picoml.graph.ir import Op
from picoml.reference.common import patches, to_nhwc
from picoml.reference.conv2d import ConvParams, finish, prepare_window_op


def prepare(op: Op) -> ConvParams:
    return prepare_window_op(op, depthwise=True)


def evaluate(p: ConvParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    _, kh, kw, oc = p.filter.shape
    c = x.shape[3]
    mult = oc // c
    xs = x.astype(np.float64) - (p.input_zp if p.quantized else 0)
    win = patches(xs, kh, kw, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding, 0.0)
    f = p.filter.astype(np.float64).reshape(kh, kw, c, mult)
    m, oh, ow = win.shape[:3]
    acc = np.zeros((m, oh, ow, c, mult))
    for i in range(kh):
        for j in range(kw):
            acc += win[:, :, :, i, j, :, None] * f[i, j]
    y = finish(acc.reshape(m, oh, ow, oc), p)
    return y.reshape(lead + y.shape[1:])
