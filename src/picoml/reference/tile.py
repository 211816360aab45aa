"""Reference kernel of TILE (LiteRT's ``lite/kernels/tile.cc``; tflite-micro has none).

The output repeats the input ``multiples[k]`` times along each axis k. Any dtype (int8, int32,
float32, bool) is copied as it is: int8 codes keep their values, so the output means the same
reals when it has the input's parameters (what PTQ gives it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.tile_ops import tile_multiples


@dataclass(frozen=True)
class TileParams:
    multiples: tuple[int, ...]


def prepare(op: Op) -> TileParams:
    return TileParams(tile_multiples(op))


def evaluate(p: TileParams, inputs: list[np.ndarray]) -> np.ndarray:
    """``inputs[0]`` has a leading batch axis over the graph's shape; it is never repeated."""
    return np.ascontiguousarray(np.tile(inputs[0], (1, *p.multiples)))
