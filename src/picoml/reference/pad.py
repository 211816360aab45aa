"""PAD: constant padding with the output zero point (int8) or 0.0 (float)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op


@dataclass(frozen=True)
class PadParams:
    paddings: tuple[tuple[int, int], ...]
    value: float


def prepare(op: Op) -> PadParams:
    pads = tuple((int(lo), int(hi)) for lo, hi in np.asarray(op.inputs[1].data).reshape(-1, 2))
    y = op.outputs[0]
    value = float(y.zero_point[0]) if y.dtype == "int8" and y.quantized else 0.0
    return PadParams(pads, value)


def evaluate(p: PadParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    return np.pad(x, ((0, 0),) + p.paddings, constant_values=np.asarray(p.value).astype(x.dtype))
