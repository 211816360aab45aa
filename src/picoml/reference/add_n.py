"""ADD_N reference kernel: the elementwise sum of N same-shape tensors.

Sources: tflite-micro ``micro/kernels/add_n.cc`` (CalculateOpData) and ``reference/add_n.h``.

float32: ``out = ((0 + x0) + x1) + ...`` in float32, input order (the reference's loop).

int8 (every input has one scale and zero point, checked by graph/extra_ops.py as tflite-micro's
Prepare does): ``left_shift = 20``; ``m_in, s_in = QuantizeMultiplierSmallerThanOneExp(1/2)``
(in_scale / (2 · in_scale)), ``m_out, s_out = QuantizeMultiplierSmallerThanOneExp(2 · in_scale /
(2^20 · out_scale))`` in double. Per element: ``acc = scaled(-zp) + Σ_j scaled(x_j - zp)`` with
``scaled(v) = MultiplyByQuantizedMultiplierSmallerThanOneExp(v · 2^20, m_in, s_in)``, then
``out = MBQMSmallerThanOneExp(acc, m_out, s_out) + out_zp`` clamped to int8.

The accumulator starts at ``scaled(-zp)``, not 0: add_n.h initializes it from
``params.input1_offset`` (its comment says "x = 0"), so tflite-micro's int8 sum carries one
extra ``-zp`` term; picoml reproduces it (``test_add_n.py::test_int8_sum_carries_an_extra_minus_zero_point``
pins it against the oracle). An output scale that makes the second multiplier 1 or more is
refused (QuantizeMultiplierSmallerThanOneExp requires < 1), and so are more inputs than the
int32 accumulator holds for every input value (signed overflow in the C reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp, quantize_multiplier
from picoml.graph.ir import Op
from picoml.reference.common import INT8_MAX, INT8_MIN

LEFT_SHIFT = 20
INT32_MAX = (1 << 31) - 1


@dataclass(frozen=True)
class AddNParams:
    quantized: bool
    input_zp: int = 0
    output_zp: int = 0
    input_multiplier: int = 0
    input_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0


def _scaled(v: np.ndarray, p: AddNParams) -> np.ndarray:
    return multiply_by_quantized_multiplier_smaller_than_one_exp(
        np.asarray(v, np.int64) * (1 << LEFT_SHIFT), p.input_multiplier, p.input_shift
    )


def prepare(op: Op) -> AddNParams:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8":
        return AddNParams(False)
    s_in, s_out = float(np.float32(x.scale[0])), float(np.float32(y.scale[0]))
    twice = 2.0 * s_in
    m_in, sh_in = quantize_multiplier(s_in / twice)
    m_out, sh_out = quantize_multiplier(twice / ((1 << LEFT_SHIFT) * s_out))
    if sh_out > 0 or m_out == 0:
        raise UnsupportedError(
            f"{op.label}: output scale {s_out:g} of {y.name!r} is too small for input scale {s_in:g} "
            "(int8 ADD_N needs 2·input scale < 2^20 · output scale)"
        )
    zp = int(x.zero_point[0])
    p = AddNParams(True, zp, int(y.zero_point[0]), m_in, sh_in, m_out, sh_out)
    worst = int(np.abs(_scaled(np.array([-128 - zp, 127 - zp]), p)).max())
    if worst * (len(op.inputs) + 1) > INT32_MAX:
        raise UnsupportedError(
            f"{op.label}: {len(op.inputs)} int8 inputs can overflow tflite-micro's int32 accumulator "
            f"(at most {INT32_MAX // worst - 1} with zero point {zp})"
        )
    return p


def evaluate(p: AddNParams, inputs: list[np.ndarray]) -> np.ndarray:
    n = max(v.shape[0] for v in inputs)
    if not p.quantized:
        acc = np.zeros((n,) + inputs[0].shape[1:], np.float32)
        for v in inputs:
            acc = (acc + v).astype(np.float32)
        return acc
    acc = _scaled(np.int64(-p.input_zp), p) + np.zeros((n,) + inputs[0].shape[1:], np.int64)
    for v in inputs:
        acc = acc + _scaled(v.astype(np.int64) - p.input_zp, p)
    out = multiply_by_quantized_multiplier_smaller_than_one_exp(acc, p.output_multiplier, p.output_shift)
    return np.clip(out + p.output_zp, INT8_MIN, INT8_MAX).astype(np.int8)
