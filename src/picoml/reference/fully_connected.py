"""FULLY_CONNECTED reference kernel (reference_integer_ops::FullyConnected[PerChannel]).

int8: acc = Σ (x - input_zp) · (w - weights_zp) + bias, rescaled per tensor (or per
output channel when the weights are per-axis), + output_zp, clamped. Input is flattened
to [batch, depth] unless keep_num_dims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.reference.common import (
    activation_range_float,
    activation_range_int8,
    channel_multipliers,
    requantize_output,
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


def prepare(op: Op) -> FullyConnectedParams:
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    b = op.inputs[2] if len(op.inputs) > 2 else None
    units = w.shape[0]
    quantized = x.dtype == "int8"
    bias = b.data.reshape(-1) if b is not None else np.zeros(units, np.int32 if quantized else np.float32)
    act = op.attrs["fused_activation"]
    if not quantized:
        lo, hi = activation_range_float(act)
        return FullyConnectedParams(w.data, bias, y.shape, False, act_min=lo, act_max=hi)
    mult, shift = channel_multipliers(x.scale[0], w, y.scale[0], units)
    lo, hi = activation_range_int8(act, y)
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


def evaluate(p: FullyConnectedParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    n = x.shape[0]
    depth = p.weights.shape[1]
    xf = x.reshape(-1, depth).astype(np.float64)
    w = p.weights.astype(np.float64)
    if p.quantized:
        acc = (xf - p.input_zp) @ (w - p.weights_zp).T
        y = requantize_output(acc.astype(np.int64) + p.bias.astype(np.int64), p)
    else:
        y = ((xf @ w.T) + p.bias.astype(np.float64)).astype(np.float32)
        y = np.clip(y, np.float32(p.act_min), np.float32(p.act_max))
    return y.reshape((n,) + p.out_shape)
