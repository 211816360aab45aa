"""QUANTIZE (TFLM quantize.cc): float→int8 AffineQuantize, or int8→int8 Requantize.

float: q = round(x / scale) + zp, the division in float32, rounding half away from zero.
int8:  q = MultiplyByQuantizedMultiplier(x - in_zp, in_scale/out_scale) + out_zp.
Both clamp to the output type's range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier_checked
from picoml.graph.ir import Op
from picoml.qparams import quantize_array


@dataclass(frozen=True)
class QuantizeParams:
    from_float: bool
    out_dtype: str
    scale: float = 0.0  # float path: output scale (float32)
    output_zp: int = 0
    input_zp: int = 0
    multiplier: int = 0
    shift: int = 0


def prepare(op: Op) -> QuantizeParams:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype == "float32":
        return QuantizeParams(True, y.dtype, float(y.scale[0]), int(y.zero_point[0]))
    real = float(np.float32(x.scale[0])) / float(np.float32(y.scale[0]))
    m, s = quantize_multiplier_checked(real, f"{op.label}: output {y.name!r}", "input scale / output scale")
    return QuantizeParams(False, y.dtype, 0.0, int(y.zero_point[0]), int(x.zero_point[0]), m, s)


def evaluate(p: QuantizeParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    info = np.iinfo(p.out_dtype)
    if p.from_float:
        # NaN has no integer value (TFLite's cast is UB): quantize_array maps it to the zero point
        return quantize_array(x, p.scale, p.output_zp, info.min, info.max, dtype=p.out_dtype)
    else:
        q = multiply_by_quantized_multiplier(x.astype(np.int64) - p.input_zp, p.multiplier, p.shift) + p.output_zp
    return np.clip(q, info.min, info.max).astype(p.out_dtype)
