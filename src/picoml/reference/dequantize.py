"""DEQUANTIZE (reference_ops::Dequantize): float32(double(scale) * (q - zp))."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.qparams import dequantize_array


@dataclass(frozen=True)
class DequantizeParams:
    scale: float
    zero_point: int


def prepare(op: Op) -> DequantizeParams:
    x = op.inputs[0]
    return DequantizeParams(float(np.float32(x.scale[0])), int(x.zero_point[0]))


def evaluate(p: DequantizeParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    return dequantize_array(x, p.scale, p.zero_point)
