"""int16 SOFTMAX (reference_ops::SoftmaxInt16 with tflite-micro's Prepare, softmax_common.cc).

Prepare: output zero point 0 and scale 2^-15 (within 0.1 %); input multiplier =
QuantizeMultiplier(input_scale · beta / (10 / 65535)) (so [-65535, 0] spans [-10, 0]); two
513-entry tables built by gen_lut in float32: exp on [-10, 0] and 1 / (1 + x) on [0, 1], both to
[-1, 1) in Q0.15 (``gen_lut``: each entry the rounded sample minus half the rounded error of
linear interpolation at the midpoint).

Eval per row: d = x - max(row) (int32); s = MultiplyByQuantizedMultiplier(d) + 32767 saturated to
int16; e = table lookup (``lut_lookup``: 256 + (s >> 7) indexes the base, the low 7 bits
interpolate the slope, rounding); sum of e (int32); h = clz(sum); the sum normalised to
((sum << (h - 1)) + 2^13) >> 14, recentred by -(2^15 + 2^16), saturated, looked up in the 1/(1+x)
table: r; out = clamp((e · r + 2^(30 - h)) >> (31 - h), 0, 32767).

expf is taken as float32(exp in double): glibc's expf is correctly rounded, so the tables match
tflite-micro's (tests/kernels/test_s16_ops.py::test_softmax checks against it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import count_leading_zeros_u32, multiply_by_quantized_multiplier, quantize_multiplier_checked
from picoml.graph.ir import Op

F32 = np.float32
LUT_SIZE = 513


def _round(x: np.ndarray) -> np.ndarray:
    """TfLiteRound on float32 values (half away from zero), kept float32."""
    a = np.abs(x)
    fl = np.floor(a)
    return np.copysign(fl + (a - fl >= F32(0.5)), x).astype(F32)


def gen_lut(func: Callable[[np.ndarray], np.ndarray], lo: float, hi: float) -> np.ndarray:
    """TFLite's gen_lut<float, int16_t, int16_t>(func, lo, hi, -1, 1): 513 int16 entries."""
    steps = 512
    lo32, hi32 = F32(lo), F32(hi)
    step = F32((hi32 - lo32) / F32(steps))
    half = F32(step / F32(2))
    inv = F32(65536) / F32(F32(1) - F32(-1))
    i = np.arange(steps, dtype=F32)
    x = (lo32 + (i * step).astype(F32)).astype(F32)
    val = func(x)
    mid = func((x + half).astype(F32))
    nxt = func((lo32 + ((i + F32(1)) * step).astype(F32)).astype(F32))
    sample = _round((val * inv).astype(F32))
    interp = _round((((nxt * inv).astype(F32) + sample).astype(F32) / F32(2)).astype(F32))
    midv = _round((mid * inv).astype(F32))
    bias = _round(((interp - midv).astype(F32) / F32(2)).astype(F32))
    body = np.clip((sample - bias).astype(F32), F32(-32768), F32(32767))
    last = np.clip(_round((func(np.array([hi32], F32)) * inv).astype(F32)), F32(-32768), F32(32767))
    return np.concatenate([body, last]).astype(np.int64)


def _expf(x: np.ndarray) -> np.ndarray:
    return np.exp(np.asarray(x, np.float64)).astype(F32)


def _recip(x: np.ndarray) -> np.ndarray:
    return (F32(1) / (F32(1) + np.asarray(x, F32)).astype(F32)).astype(F32)


EXP_LUT = gen_lut(_expf, -10.0, 0.0)
RECIP_LUT = gen_lut(_recip, 0.0, 1.0)


def lut_lookup(v: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """lut_lookup_with_interpolation for int16 values and an int16 table (int16 arithmetic as C)."""
    v = np.asarray(v, np.int64)
    idx = 256 + (v >> 7)
    off = v & 0x7F
    base = lut[idx]
    slope = ((lut[idx + 1] - base + 32768) % 65536) - 32768  # stored as int16
    return ((base + ((slope * off + 64) >> 7) + 32768) % 65536) - 32768


@dataclass(frozen=True)
class Softmax16Params:
    multiplier: int
    shift: int


def prepare(op: Op) -> Softmax16Params:
    x, y = op.inputs[0], op.outputs[0]
    so = float(np.float32(y.scale[0]))
    if int(y.zero_point[0]) != 0 or not abs(so - 1.0 / 32768) <= 0.001 / 32768:
        raise UnsupportedError(f"{op.label}: int16 SOFTMAX needs output {y.name!r} at scale 2^-15, zero point 0")
    real = float(np.float32(x.scale[0])) * float(op.attrs["beta"]) / (10.0 / 65535.0)
    m, s = quantize_multiplier_checked(real, f"{op.label}: input {x.name!r}", "input scale · beta / (10 / 65535)")
    return Softmax16Params(m, s)


def evaluate(p: Softmax16Params, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0].astype(np.int64)
    d = x - x.max(axis=-1, keepdims=True)
    s = np.clip(multiply_by_quantized_multiplier(d, p.multiplier, p.shift) + 32767, -32768, 32767)
    e = lut_lookup(s, EXP_LUT)
    total = e.sum(axis=-1, keepdims=True)
    h = count_leading_zeros_u32(total)
    shifted = ((total << (h - 1)) + (1 << 13)) >> 14
    r = lut_lookup(np.clip(shifted - ((1 << 15) + (1 << 16)), -32768, 32767), RECIP_LUT)
    right = 31 - h
    out = (e * r + (np.int64(1) << (right - 1))) >> right
    return np.clip(out, 0, 32767).astype(np.int16)
