"""ELU reference kernel: ``x < 0 ? exp(x) - 1 : x``.

Sources: tflite-micro ``tensorflow/lite/micro/kernels/elu.cc`` and ``Elu`` of
``tensorflow/lite/kernels/internal/reference/elu.h``.

float32: ``x < 0 ? expm1f(x) : x`` (TfLiteExpm1 is ``std::expm1`` on a float), the C library's
single-precision function (``reference/cmath.py``).

int8: TFLM fills a 256-entry table at Prepare in float32 arithmetic and looks each input up.
For each code q: ``d = in_scale · (q - in_zp)`` (float32), ``t = d < 0 ? expf(d) - 1 : d``
(``expf`` then a float32 subtraction — not expm1f, unlike the float kernel), ``r = round(t ·
(1 / out_scale))`` with the reciprocal a float32 and rounding half away from zero, then
``(int)(r + out_zp)`` (a float32 addition, truncated), clamped to int8. picoml computes the same
table with the same float32 operations and the C library's ``expf``; the generated C is that
table (codegen/emit_activation.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import round_half_away
from picoml.graph.ir import Op
from picoml.reference import cmath
from picoml.reference.common import INT8_MAX, INT8_MIN

F32 = np.float32
CODES = np.arange(-128, 128, dtype=np.int64)


@dataclass(frozen=True)
class EluParams:
    quantized: bool
    table: tuple[int, ...] = ()  # output for input codes -128..127


def int8_table(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLM's PopulateLookupTable for ELU: the int8 output of every input code -128..127."""
    d = F32(in_scale) * (CODES - in_zp).astype(F32)
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.where(d < 0, cmath.expf(d) - F32(1), d).astype(F32)
        r = round_half_away(t * (F32(1) / F32(out_scale))).astype(F32)
        q = r + F32(out_zp)
    # (int32_t) of a float beyond int32 is undefined in C; every such value clamps to int8 anyway
    q = np.clip(np.nan_to_num(q, nan=0.0), -(2.0**31), 2.0**31 - 128)
    return np.clip(np.trunc(q).astype(np.int64), INT8_MIN, INT8_MAX)


def prepare(op: Op) -> EluParams:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype != "int8":
        return EluParams(False)
    table = int8_table(x.scale[0], int(x.zero_point[0]), y.scale[0], int(y.zero_point[0]))
    return EluParams(True, tuple(int(v) for v in table))


def evaluate(p: EluParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    if not p.quantized:
        return np.where(x < 0, cmath.expm1f(x), x).astype(np.float32)
    return np.asarray(p.table, np.int8)[x.astype(np.int64) + 128]
