"""RELU and RELU6 (TFLM activations.cc).

int8 RELU requantizes: out = output_zp + MultiplyByQuantizedMultiplier(x - input_zp,
in_scale/out_scale), clamped to [max(-128, output_zp), 127]. int8 RELU6 clamps in the
*input's* quantization between zp and zp + round(6/scale) (TFLM's Relu6Quantized),
which assumes the output shares the input's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier_checked
from picoml.graph.ir import Op
from picoml.reference.common import INT8_MAX, INT8_MIN, quantize_value, quantize_value_checked


@dataclass(frozen=True)
class ReluParams:
    six: bool
    quantized: bool
    input_zp: int = 0
    output_zp: int = 0
    multiplier: int = 0
    shift: int = 0
    act_min: int = 0
    act_max: int = 0


def _prepare(op: Op, six: bool) -> ReluParams:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8":
        return ReluParams(six, False)
    if six:
        lo = int(x.zero_point[0])
        # FloatToQuantizedType(6, input scale, zp): an int32 conversion, undefined beyond int32
        hi = min(INT8_MAX, max(INT8_MIN, quantize_value_checked(6.0, x, f"{op.label}: RELU6 bound")))
        return ReluParams(True, True, act_min=lo, act_max=hi)
    real = float(np.float32(x.scale[0])) / float(np.float32(y.scale[0]))
    m, s = quantize_multiplier_checked(real, f"{op.label}: output {y.name!r}", "input scale / output scale")
    lo = max(INT8_MIN, quantize_value(0.0, y))
    return ReluParams(False, True, int(x.zero_point[0]), int(y.zero_point[0]), m, s, lo, INT8_MAX)


def prepare_relu(op: Op) -> ReluParams:
    return _prepare(op, six=False)


def prepare_relu6(op: Op) -> ReluParams:
    return _prepare(op, six=True)


def evaluate(p: ReluParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        return np.clip(x, np.float32(0), np.float32(6) if p.six else None).astype(np.float32)
    if p.six:
        return np.clip(x, p.act_min, p.act_max).astype(np.int8)
    v = multiply_by_quantized_multiplier(x.astype(np.int64) - p.input_zp, p.multiplier, p.shift) + p.output_zp
    return np.clip(v, p.act_min, p.act_max).astype(np.int8)
