"""L2_NORMALIZATION reference kernel: ``x / sqrt(sum(x^2))`` over the last axis.

Sources: tflite-micro ``micro/kernels/l2norm.cc``, ``reference/l2normalization.h`` (float) and
``reference/integer_ops/l2normalization.h`` (int8), ``GetInvSqrtQuantizedMultiplierExp``
(``kernels/internal/common.h``, ``reference.unary.inv_sqrt_multiplier_exp`` here).

float32: per row ``ss = Σ x·x`` summed in float32 in order, ``n = max(sqrtf(ss), 1e-6f)``,
``out = x / n``.

int8: per row ``acc = Σ (x - zp)^2`` (int32), ``(m, s) = GetInvSqrtQuantizedMultiplierExp(acc,
-1)``, ``out = clamp(MultiplyByQuantizedMultiplier(x - zp, m, s + 7))``: the output is in units
of 1/128 with zero point 0, whatever the output tensor says (tflite-micro does not check it;
picoml's graph/extra_ops.py requires (1/128, 0), the parameters TFLite gives it, and PTQ assigns
them). A row of all zero points has acc 0, which the helper treats as 1: the output is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import multiply_by_quantized_multiplier
from picoml.graph.ir import Op
from picoml.reference.common import INT8_MAX, INT8_MIN
from picoml.reference.unary import inv_sqrt_multiplier_exp

OUTPUT_SHIFT = 7  # the output is x/‖x‖ · 2^7
EPSILON = np.float32(1e-6)
#: the longest row whose int32 sum of squares cannot overflow (255^2 per element)
MAX_DEPTH = ((1 << 31) - 1) // (255 * 255)


@dataclass(frozen=True)
class L2NormParams:
    quantized: bool
    input_zp: int = 0


def prepare(op: Op) -> L2NormParams:
    x = op.inputs[0]
    if x.dtype != "int8":
        return L2NormParams(False)
    if x.shape[-1] > MAX_DEPTH:
        raise UnsupportedError(f"{op.label}: rows of {x.shape[-1]} values overflow the int32 sum of squares")
    return L2NormParams(True, int(x.zero_point[0]))


def evaluate(p: L2NormParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        x = x.astype(np.float32)
        ss = np.zeros(x.shape[:-1], np.float32)
        for c in range(x.shape[-1]):
            ss = (ss + x[..., c] * x[..., c]).astype(np.float32)
        norm = np.maximum(np.sqrt(ss), EPSILON)[..., None]
        return (x / norm).astype(np.float32)
    v = x.astype(np.int64) - p.input_zp
    acc = (v * v).sum(axis=-1, keepdims=True)
    m, s = inv_sqrt_multiplier_exp(acc)
    out = multiply_by_quantized_multiplier(v, m, s + OUTPUT_SHIFT)
    return np.clip(out, INT8_MIN, INT8_MAX).astype(np.int8)
