"""SHAPE: the input's shape as a vector (tflite-micro ``shape.cc``: the dims of the input
tensor, written as int32; INT64 fails there and is refused here). Shapes are static in picoml (a model's
batch dimension is 1 on the device), so ``fold.fold_constants`` replaces SHAPE by its value at
load; the kernel serves graphs built in Python and the folding itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op


@dataclass(frozen=True)
class ShapeParams:
    shape: tuple[int, ...]
    dtype: np.dtype


def prepare(op: Op) -> ShapeParams:
    return ShapeParams(tuple(op.inputs[0].shape), op.outputs[0].np_dtype)


def evaluate(p: ShapeParams, inputs: list[np.ndarray]) -> np.ndarray:
    n = inputs[0].shape[0]
    return np.broadcast_to(np.asarray(p.shape, p.dtype), (n, len(p.shape))).copy()
