"""MAXIMUM and MINIMUM reference kernels (TFLM maximum_minimum.cc, reference_ops::
MaximumMinimumBroadcastSlow).

tflite-micro registers these ops without a Prepare: int8 compares the raw codes of the two
inputs and writes the winner's code, whatever the tensors' scales and zero points. The result
means max/min of the real values only when both inputs share the output's quantization, which
picoml's PTQ arranges (``Int8Output.JOINED``); a model with differing parameters runs exactly as
tflite-micro runs it (``tests/kernels/test_maximum_minimum.py::test_int8_ignores_quantization``).

float32 follows LiteRT, NaN included: ``a > b ? a : b`` (MAXIMUM) and ``a < b ? a : b`` (MINIMUM),
so a NaN in the second input wins and one in the first loses (tests pin this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference.common import align_ranks


@dataclass(frozen=True)
class MaxMinParams:
    maximum: bool


def prepare(op: Op) -> MaxMinParams:
    return MaxMinParams(op.type == OpType.MAXIMUM)


def evaluate(p: MaxMinParams, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = align_ranks(*inputs)
    a, b = np.broadcast_arrays(a, b)
    pick_a = a > b if p.maximum else a < b
    return np.where(pick_a, a, b)
