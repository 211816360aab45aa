"""int16 LOGISTIC and TANH (reference_integer_ops' int16 Logistic / Tanh as tflite-micro runs them).

Both read one table, sigmoid(i / 24) in unsigned Q0.16 for i = 0..255 (``SIGMOID_TABLE``;
tanh(x) = 2·sigmoid(2x) - 1), and interpolate linearly between its entries.

Prepare (logistic_common.cc / tanh.cc): zero points 0; the output scale must be 2^-15 (log2 within
1e-3, TFLite's CheckedLog2). The input is brought to the table's scale 1/(3·4096):
- a power-of-two input scale with left shift (12 + log2 scale) = 0 (TANH: 0 or 1) takes the
  multiplier 3 << shift;
- any other scale: multiplier = scale · 3 · 4096 (double), doubled while ≤ 32767 / 2 (and the
  shift ≤ 30), then truncated to int32.
Eval: v = (x · multiplier + round) >> shift; then on |v|:
- LOGISTIC: h = |v| >> 9; h ≥ 255 saturates (0x7FFF << 10), else table[h] << 9 + (|v| & 511) ·
  (table[h+1] - table[h]); for v ≥ 0 (r + 2^9) >> 10, else (2^25 - r + 2^9 - 1) >> 10;
- TANH: h = |v| >> 8; h ≥ 255 saturates (0xFFFF << 8), else table[h] << 8 + (|v| & 255) · (table[h+1]
  - table[h]); v ≥ 0: (r - 2^23 + 2^7) >> 8, else (2^23 - r + 2^7 - 1) >> 8;
stored as int16 (the C cast: modulo 2^16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType

#: TFLite's sigmoid_table_uint16: sigmoid(i / 24) in unsigned Q0.16, i = 0..255. Not a plain rounding
#: of that function (44 entries sit one above round-to-nearest), so the values are TFLite's own
#: (tests/kernels/test_s16_quantize.py checks every int16 input against tflite-micro).
SIGMOID_TABLE = np.array(
    [
        32768,
        33451,
        34133,
        34813,
        35493,
        36169,
        36843,
        37513,
        38180,
        38841,
        39498,
        40149,
        40794,
        41432,
        42064,
        42688,
        43304,
        43912,
        44511,
        45102,
        45683,
        46255,
        46817,
        47369,
        47911,
        48443,
        48964,
        49475,
        49975,
        50464,
        50942,
        51409,
        51865,
        52311,
        52745,
        53169,
        53581,
        53983,
        54374,
        54755,
        55125,
        55485,
        55834,
        56174,
        56503,
        56823,
        57133,
        57433,
        57724,
        58007,
        58280,
        58544,
        58800,
        59048,
        59288,
        59519,
        59743,
        59959,
        60168,
        60370,
        60565,
        60753,
        60935,
        61110,
        61279,
        61441,
        61599,
        61750,
        61896,
        62036,
        62172,
        62302,
        62428,
        62549,
        62666,
        62778,
        62886,
        62990,
        63090,
        63186,
        63279,
        63368,
        63454,
        63536,
        63615,
        63691,
        63765,
        63835,
        63903,
        63968,
        64030,
        64090,
        64148,
        64204,
        64257,
        64308,
        64357,
        64405,
        64450,
        64494,
        64536,
        64576,
        64614,
        64652,
        64687,
        64721,
        64754,
        64786,
        64816,
        64845,
        64873,
        64900,
        64926,
        64950,
        64974,
        64997,
        65019,
        65039,
        65060,
        65079,
        65097,
        65115,
        65132,
        65149,
        65164,
        65179,
        65194,
        65208,
        65221,
        65234,
        65246,
        65258,
        65269,
        65280,
        65291,
        65301,
        65310,
        65319,
        65328,
        65337,
        65345,
        65352,
        65360,
        65367,
        65374,
        65381,
        65387,
        65393,
        65399,
        65404,
        65410,
        65415,
        65420,
        65425,
        65429,
        65433,
        65438,
        65442,
        65445,
        65449,
        65453,
        65456,
        65459,
        65462,
        65465,
        65468,
        65471,
        65474,
        65476,
        65479,
        65481,
        65483,
        65485,
        65488,
        65489,
        65491,
        65493,
        65495,
        65497,
        65498,
        65500,
        65501,
        65503,
        65504,
        65505,
        65507,
        65508,
        65509,
        65510,
        65511,
        65512,
        65513,
        65514,
        65515,
        65516,
        65517,
        65517,
        65518,
        65519,
        65520,
        65520,
        65521,
        65522,
        65522,
        65523,
        65523,
        65524,
        65524,
        65525,
        65525,
        65526,
        65526,
        65526,
        65527,
        65527,
        65528,
        65528,
        65528,
        65529,
        65529,
        65529,
        65529,
        65530,
        65530,
        65530,
        65530,
        65531,
        65531,
        65531,
        65531,
        65531,
        65532,
        65532,
        65532,
        65532,
        65532,
        65532,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65533,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65534,
        65535,
    ],
    np.int64,
)
MAX_INPUT_MULTIPLIER = 32767  # TFLM's DCHECK: larger ones overflow x · multiplier in int32


@dataclass(frozen=True)
class LutParams:
    tanh: bool
    multiplier: int
    left_shift: int


def checked_log2(x: float) -> tuple[bool, int]:
    """TFLite's CheckedLog2(float): (log2 within 1e-3 of an integer, that integer), in float32."""
    x32 = np.float32(x)
    lg = np.float32(np.log(x32)) * np.float32(np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    r = np.float32(math.copysign(math.floor(abs(float(lg)) + 0.5), float(lg)))
    return bool(abs(np.float32(lg - r)) < np.float32(1e-3)), int(r)


def prepare(op: Op) -> LutParams:
    x, y = op.inputs[0], op.outputs[0]
    tanh = op.type == OpType.TANH
    pot, log2_in = checked_log2(float(x.scale[0]))
    shift = 12 + log2_in
    pot &= shift in ((0, 1) if tanh else (0,))
    ok, log2_out = checked_log2(float(y.scale[0]))
    if not ok or log2_out != -15:
        raise UnsupportedError(
            f"{op.label}: int16 {op.type} needs output scale 2^-15 for {y.name!r}, has {float(y.scale[0]):g}"
        )
    if pot:
        return LutParams(tanh, 3 << shift, 0)
    m = float(np.float32(x.scale[0])) * 4096.0 * 3.0
    shift = 0
    while m <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        m *= 2.0
    if m > MAX_INPUT_MULTIPLIER:
        raise UnsupportedError(
            f"{op.label}: input scale {float(x.scale[0]):g} of {x.name!r} is too large for int16 {op.type} "
            f"(TFLite Micro's input multiplier {int(m)} exceeds {MAX_INPUT_MULTIPLIER})"
        )
    return LutParams(tanh, int(m), shift)


def evaluate(p: LutParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0].astype(np.int64)
    rnd = (1 << (p.left_shift - 1)) if p.left_shift > 0 else 0
    v = (x * p.multiplier + rnd) >> p.left_shift
    a = np.abs(v)
    bits = 8 if p.tanh else 9
    h = a >> bits
    sat = h >= 255
    hc = np.minimum(h, 254)
    ua, ub = SIGMOID_TABLE[hc], SIGMOID_TABLE[hc + 1]
    r = (ua << bits) + (a & ((1 << bits) - 1)) * (ub - ua)
    if p.tanh:
        r = np.where(sat, 0xFFFF << 8, r)
        out = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1) >> 8
    else:
        r = np.where(sat, 0x7FFF << 10, r)
        out = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1) >> 10
    return ((out + 32768) % 65536 - 32768).astype(np.int16)  # the C store into int16: modulo 2^16
