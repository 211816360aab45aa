"""PRELU reference kernel: ``x ≥ 0 ? x : alpha · x``, alpha a constant tensor broadcast
against x (rank ≤ 4).

Sources: tflite-micro ``tensorflow/lite/micro/kernels/prelu.cc``, ``prelu_common.cc`` and
``BroadcastPrelu4DSlow`` of ``tensorflow/lite/kernels/internal/reference/prelu.h``.

float32: ``x >= 0 ? x : x · alpha``, one float32 multiply (TFLM's BroadcastPrelu4DSlowFloat).

int8: alpha has its own per-tensor (scale, zero point). Prepare, in double: ``m1 = in_scale /
out_scale`` and ``m2 = in_scale · alpha_scale / out_scale``, each through QuantizeMultiplier.
Eval: ``v = x - in_zp``; ``v ≥ 0`` gives ``MultiplyByQuantizedMultiplier(v, m1)``, otherwise
``MultiplyByQuantizedMultiplier(v · (alpha - alpha_zp), m2)``; plus ``out_zp``, clamped to int8.
A multiplier of 2^30 or more is refused (``quantize_multiplier_checked``).

The generated C (``runtime/pm_prelu_s8.c``) computes the same per element.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier_checked
from picoml.graph.ir import Op
from picoml.reference.common import INT8_MAX, INT8_MIN

F32 = np.float32


@dataclass(frozen=True)
class PreluParams:
    quantized: bool
    alpha: np.ndarray  # the constant's values (int8 codes or float32)
    out_shape: tuple[int, ...]
    input_zp: int = 0
    alpha_zp: int = 0
    output_zp: int = 0
    multiplier_1: int = 0
    shift_1: int = 0
    multiplier_2: int = 0
    shift_2: int = 0


def prepare(op: Op) -> PreluParams:
    x, a, y = op.inputs[0], op.inputs[1], op.outputs[0]
    alpha = np.asarray(a.data)
    if x.dtype != "int8":
        return PreluParams(False, alpha.astype(np.float32), tuple(y.shape))
    where = f"{op.label}: output {y.name!r}"
    s_in, s_a, s_out = (float(F32(t.scale[0])) for t in (x, a, y))
    m1, sh1 = quantize_multiplier_checked(s_in / s_out, where, "input scale / output scale")
    m2, sh2 = quantize_multiplier_checked(s_in * s_a / s_out, where, "input scale * alpha scale / output scale")
    zps = (int(x.zero_point[0]), int(a.zero_point[0]), int(y.zero_point[0]))
    return PreluParams(True, alpha.astype(np.int8), tuple(y.shape), *zps, m1, sh1, m2, sh2)


def evaluate(p: PreluParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    shape = (x.shape[0],) + p.out_shape
    x = np.broadcast_to(x.reshape((x.shape[0],) + (1,) * (len(p.out_shape) + 1 - x.ndim) + x.shape[1:]), shape)
    if not p.quantized:
        with np.errstate(invalid="ignore", over="ignore"):
            return np.where(x >= 0, x, x * p.alpha).astype(np.float32)
    v = x.astype(np.int64) - p.input_zp
    a = np.broadcast_to(p.alpha.astype(np.int64) - p.alpha_zp, shape)
    pos = v >= 0
    out = np.where(
        pos,
        multiply_by_quantized_multiplier(v, p.multiplier_1, p.shift_1),
        multiply_by_quantized_multiplier(v * a, p.multiplier_2, p.shift_2),
    )
    return np.clip(out + p.output_zp, INT8_MIN, INT8_MAX).astype(np.int8)
