"""SUB reference kernel (TFLM sub.cc / sub_common.cc, reference_ops::Sub for int8).

int8: ADD's scheme (``picoml.reference.add``): left_shift = 20, each input rescaled to the common
scale 2·max(input scales), then the scaled second input is subtracted from the scaled first
(not the second input negated before scaling: the roundings differ at ties), the difference
rescaled to the output, + output_zp, clamped to the fused activation.

Prepare: sub_common.cc writes the quotients on C floats (``static_cast<double>(in1_scale /
twice_max_input_scale)``), but the tflite-micro oracle matched ADD's double quotients on 20 of
20 configurations picked because the two give different outputs, and float on none
(``tests/kernels/test_sub.py::test_prepare_multipliers_are_double``), so SUB shares ADD's
prepare. float32: a - b, clamped (LiteRT).
"""

from __future__ import annotations

import numpy as np

from picoml.graph.ir import Op
from picoml.reference.add import AddParams, combine
from picoml.reference.add import prepare as _prepare_add


def prepare(op: Op) -> AddParams:
    return _prepare_add(op)


def evaluate(p: AddParams, inputs: list[np.ndarray]) -> np.ndarray:
    return combine(p, inputs, subtract=True)
