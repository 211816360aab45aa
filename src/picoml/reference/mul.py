"""MUL reference kernel (reference_integer_ops::Mul).

int8: (x1 - zp1)·(x2 - zp2) rescaled by in1_scale·in2_scale/out_scale (double), + output_zp,
clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier_checked
from picoml.graph.ir import Op
from picoml.reference.common import activation_clamp_float, activation_range_int8, align_ranks


@dataclass(frozen=True)
class MulParams:
    quantized: bool
    act_min: float
    act_max: float
    input1_zp: int = 0
    input2_zp: int = 0
    output_zp: int = 0
    multiplier: int = 0
    shift: int = 0


def prepare(op: Op) -> MulParams:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    act = op.attrs["fused_activation"]
    if a.dtype != "int8":
        lo, hi = activation_clamp_float(act)
        return MulParams(False, lo, hi)
    real = float(np.float32(a.scale[0])) * float(np.float32(b.scale[0])) / float(np.float32(y.scale[0]))
    m, s = quantize_multiplier_checked(
        real, f"{op.label}: output {y.name!r}", "input scale × input scale / output scale"
    )
    lo, hi = activation_range_int8(act, y, op.label)
    return MulParams(True, lo, hi, int(a.zero_point[0]), int(b.zero_point[0]), int(y.zero_point[0]), m, s)


def evaluate(p: MulParams, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = align_ranks(*inputs)
    if not p.quantized:
        return np.clip(a * b, np.float32(p.act_min), np.float32(p.act_max)).astype(np.float32)
    prod = (a.astype(np.int64) - p.input1_zp) * (b.astype(np.int64) - p.input2_zp)
    out = multiply_by_quantized_multiplier(prod, p.multiplier, p.shift) + p.output_zp
    return np.clip(out, p.act_min, p.act_max).astype(np.int8)
