"""LOGISTIC reference kernel — placeholder float path; int8 being written (see tests/kernels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op


@dataclass(frozen=True)
class Params:
    quantized: bool


def prepare(op: Op) -> Params:
    if op.inputs[0].dtype == "int8":
        raise UnsupportedError(f"{op.label}: int8 LOGISTIC is not implemented yet")
    return Params(False)


def evaluate(p: Params, inputs: list[np.ndarray]) -> np.ndarray:
    raise UnsupportedError("LOGISTIC is not implemented yet")
