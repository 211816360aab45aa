"""RESHAPE: a view with a new shape; values (and quantization) unchanged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op


@dataclass(frozen=True)
class ReshapeParams:
    out_shape: tuple[int, ...]


def prepare(op: Op) -> ReshapeParams:
    return ReshapeParams(op.outputs[0].shape)


def evaluate(p: ReshapeParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    return x.reshape((x.shape[0],) + p.out_shape)
