"""AVERAGE_POOL_2D and MAX_POOL_2D (reference_integer_ops::AveragePool / MaxPool).

Windows are clipped to the input: padding never enters an average or a max. The int8
average divides the int32 sum by the count of valid taps rounding half away from zero:
``(sum ± count/2) / count`` with C's truncating division.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.reference.common import activation_range_float, activation_range_int8, patches, to_nhwc


@dataclass(frozen=True)
class PoolParams:
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    padding: str
    quantized: bool
    act_min: float
    act_max: float


POOL_SCALE_TOLERANCE = 1e-6  # PoolingPrepare (pooling_common.cc): absolute, in double


def prepare(op: Op) -> PoolParams:
    a = op.attrs
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype == "int8":
        # TFLM pools raw int8 values without rescaling and fails Prepare unless input and output
        # share the quantization (scales within 1e-6, equal zero points)
        sx, sy = float(np.float32(x.scale[0])), float(np.float32(y.scale[0]))
        zx, zy = int(x.zero_point[0]), int(y.zero_point[0])
        if not abs(sx - sy) <= POOL_SCALE_TOLERANCE or zx != zy:
            raise UnsupportedError(
                f"{op.label}: int8 {op.type} needs the input's quantization on its output "
                f"(input {x.name!r}: scale {sx:.6g}, zero point {zx}; output: scale {sy:.6g}, zero point {zy}), "
                "as TFLite Micro requires"
            )
        lo, hi = activation_range_int8(a["fused_activation"], y, op.label)
        q = True
    else:
        lo, hi = activation_range_float(a["fused_activation"])
        q = False
    return PoolParams(a["filter_h"], a["filter_w"], a["stride_h"], a["stride_w"], a["padding"], q, lo, hi)


def _windows(p: PoolParams, x: np.ndarray, fill) -> np.ndarray:
    return patches(x, p.filter_h, p.filter_w, p.stride_h, p.stride_w, 1, 1, p.padding, fill)


def evaluate_average(p: PoolParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    ones = np.ones((1,) + x.shape[1:3] + (1,), np.int64)
    count = _windows(p, ones, 0).sum(axis=(3, 4))  # (1, OH, OW, 1) valid taps
    if p.quantized:
        s = _windows(p, x.astype(np.int64), 0).sum(axis=(3, 4))
        half = count // 2
        num = np.where(s > 0, s + half, s - half)
        avg = np.where(num >= 0, num // count, -((-num) // count))  # C division truncates
        y = np.clip(avg, p.act_min, p.act_max).astype(np.int8)
    else:
        s = _windows(p, x.astype(np.float32), np.float32(0)).sum(axis=(3, 4), dtype=np.float32)
        y = np.clip(s / count.astype(np.float32), np.float32(p.act_min), np.float32(p.act_max)).astype(np.float32)
    return y.reshape(lead + y.shape[1:])


def evaluate_max(p: PoolParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    if p.quantized:
        m = _windows(p, x.astype(np.int32), np.iinfo(np.int32).min).max(axis=(3, 4))
        y = np.clip(m, p.act_min, p.act_max).astype(np.int8)
    else:
        m = _windows(p, x, np.float32(-np.inf)).max(axis=(3, 4))
        y = np.clip(m, np.float32(p.act_min), np.float32(p.act_max)).astype(np.float32)
    return y.reshape(lead + y.shape[1:])
