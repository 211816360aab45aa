"""SQUARED_DIFFERENCE reference kernel (TFLM squared_difference.cc).

float32: d = a - b; d·d (LiteRT).

int8 (left_shift = 7, chosen by TFLM so that 255² · 2^14 fits an int32): each input is offset by
its zero point, shifted left by 7, rescaled by in_scale / (2·max_in_scale) with
MultiplyByQuantizedMultiplierSmallerThanOneExp; the difference d of the two is squared in int32
(|d| < 2^15) and rescaled by (2·max_in_scale)² / (2^14 · out_scale) with
MultiplyByQuantizedMultiplier (a multiplier that may exceed 1: a left shift, which wraps as C's
int32 does), + output_zp, clamped to the int8 range (the op has no fused activation).

Prepare in double, as squared_difference.cc: twice_max = 2·double(max(s1, s2)), the product
``(1 << 14) * output_scale`` on C floats (exact: a power of two), then double.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import (
    multiply_by_quantized_multiplier,
    quantize_multiplier_checked,
    quantize_multiplier_smaller_than_one_exp,
)
from picoml.fixedpoint import (
    multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm_lt1,
)
from picoml.graph.ir import Op
from picoml.reference.common import INT8_MAX, INT8_MIN, align_ranks

LEFT_SHIFT = 7


@dataclass(frozen=True)
class SquaredDifferenceParams:
    quantized: bool
    input1_zp: int = 0
    input2_zp: int = 0
    output_zp: int = 0
    input1_multiplier: int = 0
    input1_shift: int = 0
    input2_multiplier: int = 0
    input2_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0


def prepare(op: Op) -> SquaredDifferenceParams:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if a.dtype != "int8":
        return SquaredDifferenceParams(False)
    s1, s2 = (float(np.float32(t.scale[0])) for t in (a, b))
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    denominator = float(np.float32(1 << (2 * LEFT_SHIFT)) * np.float32(y.scale[0]))
    mo, sho = quantize_multiplier_checked(
        twice_max * twice_max / denominator,
        f"{op.label}: output {y.name!r}",
        "(2·max input scale)² / (2^14 · output scale)",
    )
    zps = (int(a.zero_point[0]), int(b.zero_point[0]), int(y.zero_point[0]))
    return SquaredDifferenceParams(True, *zps, m1, sh1, m2, sh2, mo, sho)


def evaluate(p: SquaredDifferenceParams, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = align_ranks(*inputs)
    if not p.quantized:
        d = a - b
        return (d * d).astype(np.float32)
    x1 = (a.astype(np.int64) - p.input1_zp) << LEFT_SHIFT
    x2 = (b.astype(np.int64) - p.input2_zp) << LEFT_SHIFT
    d = mbqm_lt1(x1, p.input1_multiplier, p.input1_shift) - mbqm_lt1(x2, p.input2_multiplier, p.input2_shift)
    out = multiply_by_quantized_multiplier(d * d, p.output_multiplier, p.output_shift) + p.output_zp
    return np.clip(out, INT8_MIN, INT8_MAX).astype(np.int8)
