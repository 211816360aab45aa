"""CONCATENATION: values are copied; int8 inputs share the output's quantization (TFLM)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.ops import concat_axis


@dataclass(frozen=True)
class ConcatParams:
    axis: int  # axis of the tensor (without the interpreter's batch axis)


def prepare(op: Op) -> ConcatParams:
    return ConcatParams(concat_axis(op))


def evaluate(p: ConcatParams, inputs: list[np.ndarray]) -> np.ndarray:
    n = max(x.shape[0] for x in inputs)
    xs = [np.broadcast_to(x, (n,) + x.shape[1:]) for x in inputs]
    return np.concatenate(xs, axis=p.axis + 1)
