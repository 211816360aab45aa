"""ADD reference kernel (reference_integer_ops::Add with TFLM's Prepare in add_common.cc), and
the arithmetic SUB shares with it (``combine``).

int8 (left_shift = 20): both inputs are offset by their zero points, shifted left by 20
bits, scaled by in_scale / (2·max_in_scale) each, summed (SUB: subtracted), scaled by
2·max_in_scale / (2^20 · out_scale), + output_zp, clamped. All scales in double.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import (
    multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm_lt1,
)
from picoml.fixedpoint import quantize_multiplier_smaller_than_one_exp
from picoml.graph.ir import Op
from picoml.reference.common import activation_clamp_float, activation_range_int8, align_ranks

LEFT_SHIFT = 20


@dataclass(frozen=True)
class AddParams:
    quantized: bool
    act_min: float
    act_max: float
    input1_zp: int = 0
    input2_zp: int = 0
    output_zp: int = 0
    input1_multiplier: int = 0
    input1_shift: int = 0
    input2_multiplier: int = 0
    input2_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0


def prepare(op: Op) -> AddParams:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    act = op.attrs["fused_activation"]
    if a.dtype != "int8":
        lo, hi = activation_clamp_float(act)
        return AddParams(False, lo, hi)
    s1, s2, so = (float(np.float32(t.scale[0])) for t in (a, b, y))
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << LEFT_SHIFT) * so))
    lo, hi = activation_range_int8(act, y, op.label)
    return AddParams(
        True, lo, hi, int(a.zero_point[0]), int(b.zero_point[0]), int(y.zero_point[0]), m1, sh1, m2, sh2, mo, sho
    )


BLOCK = 1 << 15  # elements per block: int64 temporaries stay in cache


def _combine_int8(p: AddParams, a: np.ndarray, b: np.ndarray, subtract: bool) -> np.ndarray:
    x1 = (a.astype(np.int64) - p.input1_zp) << LEFT_SHIFT
    x2 = (b.astype(np.int64) - p.input2_zp) << LEFT_SHIFT
    s1 = mbqm_lt1(x1, p.input1_multiplier, p.input1_shift)
    s2 = mbqm_lt1(x2, p.input2_multiplier, p.input2_shift)
    # SUB (sub.h SubElementwise) subtracts the *scaled* second input: rounding it first and
    # negating after differs from scaling the negated input at ties (tests/kernels/test_sub.py)
    s = s1 - s2 if subtract else s1 + s2
    out = mbqm_lt1(s, p.output_multiplier, p.output_shift) + p.output_zp
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)


def combine(p: AddParams, inputs: list[np.ndarray], subtract: bool) -> np.ndarray:
    """a + b (ADD) or a - b (SUB) with TFLite's broadcasting."""
    a, b = align_ranks(*inputs)
    if not p.quantized:
        v = a - b if subtract else a + b
        return np.clip(v, np.float32(p.act_min), np.float32(p.act_max)).astype(np.float32)
    if a.shape != b.shape:
        return _combine_int8(p, a, b, subtract)
    fa, fb = a.reshape(-1), b.reshape(-1)
    out = np.empty(fa.shape, np.int8)
    for s0 in range(0, fa.size, BLOCK):
        out[s0 : s0 + BLOCK] = _combine_int8(p, fa[s0 : s0 + BLOCK], fb[s0 : s0 + BLOCK], subtract)
    return out.reshape(a.shape)


def evaluate(p: AddParams, inputs: list[np.ndarray]) -> np.ndarray:
    return combine(p, inputs, subtract=False)
