"""L2_POOL_2D reference kernel (float32 only: tflite-micro's l2_pool_2d.cc refuses other types).

Source: tflite-micro ``micro/kernels/l2_pool_2d.cc`` and ``reference/pooling.h`` (L2Pool): per
output value, over the window taps inside the input (row by row), ``ss += v·v`` in float32, then
``sqrtf(ss / count)`` clamped to the fused activation's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.reference.common import activation_range_float, patches, to_nhwc


@dataclass(frozen=True)
class L2PoolParams:
    kh: int
    kw: int
    sh: int
    sw: int
    padding: str
    act_min: float
    act_max: float


def prepare(op: Op) -> L2PoolParams:
    a = op.attrs
    lo, hi = activation_range_float(a["fused_activation"])
    return L2PoolParams(a["filter_h"], a["filter_w"], a["stride_h"], a["stride_w"], a["padding"], lo, hi)


def evaluate(p: L2PoolParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0].astype(np.float32))
    win = patches(x, p.kh, p.kw, p.sh, p.sw, 1, 1, p.padding, np.float32(np.nan))
    ss = np.zeros(win.shape[:3] + win.shape[5:], np.float32)
    count = np.zeros(win.shape[:3] + win.shape[5:], np.float32)
    for i in range(p.kh):
        for j in range(p.kw):
            v = win[:, :, :, i, j, :]
            ok = ~np.isnan(v)
            ss = np.where(ok, (ss + np.where(ok, v, 0) * np.where(ok, v, 0)).astype(np.float32), ss)
            count = count + ok
    y = np.sqrt((ss / count).astype(np.float32)).astype(np.float32)
    y = np.clip(y, np.float32(p.act_min), np.float32(p.act_max)).astype(np.float32)
    return y.reshape(lead + y.shape[1:])
