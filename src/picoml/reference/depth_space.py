"""DEPTH_TO_SPACE and SPACE_TO_DEPTH reference kernels (tflite-micro ``depth_to_space.cc``,
``space_to_depth.cc`` with ``reference_ops::DepthToSpace`` / ``SpaceToDepth``).

TensorFlow's "DCR" order, block size ``b``: DEPTH_TO_SPACE writes
``out[n, h·b + i, w·b + j, c] = in[n, h, w, (i·b + j)·C_out + c]``; SPACE_TO_DEPTH is its inverse.
Pure data movement: int8 codes are copied unchanged (in and out share the quantization,
``Int8Output.SHARED``), so both dtypes are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference.common import to_nhwc


@dataclass(frozen=True)
class DepthSpaceParams:
    block: int
    to_space: bool


def prepare(op: Op) -> DepthSpaceParams:
    return DepthSpaceParams(int(op.attrs["block_size"]), op.type == OpType.DEPTH_TO_SPACE)


def evaluate(p: DepthSpaceParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    m, h, w, c = x.shape
    b = p.block
    if p.to_space:
        y = x.reshape(m, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5).reshape(m, h * b, w * b, -1)
    else:
        y = x.reshape(m, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(m, h // b, w // b, -1)
    return np.ascontiguousarray(y).reshape(lead + y.shape[1:])
