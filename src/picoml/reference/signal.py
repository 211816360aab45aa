"""Reference kernels of tflite-micro's signal library (custom ops ``Signal...``; SIGNAL_RFFT is in
``signal_fft.py``). Integer-only, batched over a leading axis; each reproduces the C of
``signal/src`` (window.cc, fft_auto_scale.cc + max_abs.cc + msb_32.cc, energy.cc, filter_bank.cc,
square_root_32/64.cc + filter_bank_square_root.cc, filter_bank_spectral_subtraction.cc,
pcan_argc_fixed.cc, log.cc + filter_bank_log.cc), C integer promotions and wrap-arounds included.

Behaviours that are not a literal reading of the C, and why:
- FftAutoScale: ``MaxAbs16`` keeps its running maximum in an int16, so -32768 makes it -32768 and a
  later value can replace it by a *smaller* magnitude (``[-32768, 5]`` scales by 12 bits and turns
  -32768 into 0). ``MostSignificantBit32(0)`` is 32 with GCC's ``__builtin_clz`` (tflite-micro's
  build), so an all-zero frame scales by 0 bits. Both pinned by tests/kernels/test_signal.py.
- Energy writes only bins start_index..end_index-1; tflite-micro leaves the others as the arena held
  them. picoml writes 0 there (nothing downstream reads them in a front end).
- FilterBankSquareRoot shifts by the runtime scale-bits input: shifts outside 0..31 are undefined
  in tflite-micro; picoml gives 0 for them.
- FilterBankSpectralSubtraction keeps a noise estimate across calls (tflite-micro's persistent
  buffer, zero after Prepare and Reset). ``evaluate`` runs every batch row from the reset state
  (one step of independent streams); ``spectral_subtraction_step`` carries the state over a stream,
  which the interpreter and ``reference.stream`` do through ``signal_stream.STREAM``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.signal_ops import energy_range, filter_bank_tables

U32 = np.uint64(0xFFFFFFFF)


def msb32(x: np.ndarray) -> np.ndarray:
    """MostSignificantBit32 as tflite-micro's GCC build computes it: bit length, and 32 for 0."""
    x = np.asarray(x, np.uint64)
    out = np.zeros(x.shape, np.int64)
    v = x.copy()
    for s in (16, 8, 4, 2, 1):
        big = v >= (np.uint64(1) << np.uint64(s))
        out += np.where(big, s, 0)
        v = np.where(big, v >> np.uint64(s), v)
    out += (v > 0).astype(np.int64)
    return np.where(x == 0, 32, out)


# ----------------------------------------------------------------- Window
@dataclass(frozen=True)
class WindowParams:
    weights: np.ndarray
    shift: int


def prepare_window(op: Op) -> WindowParams:
    return WindowParams(op.inputs[1].data.astype(np.int64).reshape(-1), int(op.attrs["shift"]))


def evaluate_window(p: WindowParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    rows = x.reshape(x.shape[0], -1, p.weights.size).astype(np.int64)
    y = np.clip((rows * p.weights) >> p.shift, -32768, 32767)
    return y.astype(np.int16).reshape(x.shape)


# ----------------------------------------------------------------- FftAutoScale
def prepare_none(op: Op) -> None:
    return None


def max_abs16(rows: np.ndarray) -> np.ndarray:
    """MaxAbs16 per row: |x| max, except the int16 wrap of -(-32768) (module docstring)."""
    r = rows.astype(np.int64)
    out = np.abs(r).max(axis=1) if r.shape[1] else np.zeros(r.shape[0], np.int64)
    for b in np.flatnonzero((r == -32768).any(axis=1)):
        m = 0
        for v in r[b].tolist():
            if v > m:
                m = v
            elif -v > m:
                m = ((-v + 32768) & 0xFFFF) - 32768
        out[b] = m
    return out


def evaluate_fft_auto_scale(p: None, inputs: list[np.ndarray]) -> list[np.ndarray]:
    x = inputs[0].astype(np.int64)
    m = max_abs16(x)
    scale = np.maximum(15 - msb32(m.astype(np.int64) & 0xFFFFFFFF), 0)
    y = x * (np.int64(1) << scale)[:, None]
    return [(((y + 32768) & 0xFFFF) - 32768).astype(np.int16), scale.astype(np.int32)]


# ----------------------------------------------------------------- Energy
@dataclass(frozen=True)
class EnergyParams:
    start: int
    end: int


def prepare_energy(op: Op) -> EnergyParams:
    return EnergyParams(*energy_range(op))


def evaluate_energy(p: EnergyParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0].astype(np.int64)
    re, im = x[:, 0::2], x[:, 1::2]
    out = np.zeros(re.shape, np.uint32)
    s = slice(p.start, p.end)
    out[:, s] = ((re[:, s] * re[:, s] + im[:, s] * im[:, s]) & 0xFFFFFFFF).astype(np.uint32)
    return out


# ----------------------------------------------------------------- FilterBank
@dataclass(frozen=True)
class FilterBankParams:
    tables: tuple[np.ndarray, ...]  # weights, unweights, frequency starts, weight starts, widths (checked)


def prepare_filter_bank(op: Op) -> FilterBankParams:
    return FilterBankParams(filter_bank_tables(op))


def evaluate_filter_bank(p: FilterBankParams, inputs: list[np.ndarray]) -> np.ndarray:
    """Output channel c = the weights of band c + 1 plus the unweights of band c (C's accumulator c + 1
    of FilterbankAccumulateChannels; accumulator 0 is scratch). int16 weights are sign-extended to
    uint64: products and sums wrap mod 2^64, as numpy's uint64 arithmetic does. One pass per band
    (no dense matrix: the tables come from an untrusted file)."""
    w, u, fs, ws, cw = p.tables
    x = inputs[0].astype(np.uint64)
    nc = len(fs) - 1
    out = np.zeros((x.shape[0], nc), np.uint64)
    for c in range(nc + 1):
        if cw[c] == 0:
            continue
        seg = x[:, fs[c] : fs[c] + cw[c]]
        if c > 0:
            out[:, c - 1] += (seg * w[ws[c] : ws[c] + cw[c]].astype(np.uint64)).sum(axis=1, dtype=np.uint64)
        if c < nc:
            out[:, c] += (seg * u[ws[c] : ws[c] + cw[c]].astype(np.uint64)).sum(axis=1, dtype=np.uint64)
    return out


# ----------------------------------------------------------------- FilterBankSquareRoot
def sqrt64(n: np.ndarray) -> np.ndarray:
    """Sqrt64 / Sqrt32: floor sqrt, +1 when the remainder exceeds it (not past 0xFFFF below 2^32,
    not past 0xFFFFFFFF above)."""
    n = np.asarray(n, np.uint64)
    top = np.uint64(0xFFFFFFFF)
    r = np.minimum(np.floor(np.sqrt(n.astype(np.float64))), float(top)).astype(np.uint64)
    one = np.uint64(1)
    for _ in range(2):
        r = np.where(r * r > n, r - one, r)
    for _ in range(2):
        up = (r < top) & ((r + one) * (r + one) <= n)
        r = np.where(up, r + one, r)
    cap = np.where(n >> np.uint64(32) == 0, np.uint64(0xFFFF), top)
    return np.where((n - r * r > r) & (r != cap), r + one, r)


def evaluate_square_root(p: None, inputs: list[np.ndarray]) -> np.ndarray:
    x, s = inputs[0], np.asarray(inputs[1]).astype(np.int64).reshape(-1, 1)
    r = sqrt64(x)
    ok = (s >= 0) & (s <= 31)
    return np.where(ok, r >> np.clip(s, 0, 31).astype(np.uint64), 0).astype(np.uint32)


# ----------------------------------------------------------------- FilterBankSpectralSubtraction
@dataclass(frozen=True)
class SpectralParams:
    smoothing: np.ndarray  # per channel (even: smoothing, odd: alternate_smoothing)
    one_minus: np.ndarray
    min_signal_remaining: int
    smoothing_bits: int
    spectral_subtraction_bits: int
    clamping: bool


def prepare_spectral_subtraction(op: Op) -> SpectralParams:
    a = op.attrs
    n = int(a["num_channels"])
    odd = np.arange(n) % 2 == 1
    sm = np.where(odd, int(a["alternate_smoothing"]), int(a["smoothing"])).astype(np.uint64)
    om = np.where(odd, int(a["alternate_one_minus_smoothing"]), int(a["one_minus_smoothing"])).astype(np.uint64)
    return SpectralParams(
        sm, om, int(a["min_signal_remaining"]), int(a["smoothing_bits"]),
        int(a["spectral_subtraction_bits"]), bool(a["clamping"]),
    )  # fmt: skip


def spectral_subtraction_step(p: SpectralParams, x: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One call on (B, C) uint32 channels of B independent streams with their noise estimates."""
    x = x.astype(np.uint64)
    sb, ssb = np.uint64(p.smoothing_bits), np.uint64(p.spectral_subtraction_bits)
    up = (x << sb) & U32
    noise = ((up * p.smoothing + noise.astype(np.uint64) * p.one_minus) >> ssb) & U32
    over = noise > up
    est = np.where(over, up, noise)
    if p.clamping:
        noise = est
    floor = ((x * np.uint64(p.min_signal_remaining)) >> ssb) & U32
    sub = (up - est) >> sb
    return np.maximum(sub, floor).astype(np.uint32), noise.astype(np.uint32)


def evaluate_spectral_subtraction(p: SpectralParams, inputs: list[np.ndarray]) -> list[np.ndarray]:
    x = inputs[0]
    return list(spectral_subtraction_step(p, x, np.zeros(x.shape, np.uint32)))


# ----------------------------------------------------------------- PCAN
@dataclass(frozen=True)
class PcanParams:
    lut: np.ndarray  # int16 as int64
    snr_shift: int


def prepare_pcan(op: Op) -> PcanParams:
    return PcanParams(op.inputs[2].data.astype(np.int64).reshape(-1), int(op.attrs["snr_shift"]))


def wide_dynamic_function(x: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """WideDynamicFunction: the int16 gain of noise estimate x (uint32) from the piecewise table."""
    x = np.asarray(x, np.uint64)
    small = x <= 2
    interval = msb32(x)
    base = np.where(small, 0, 4 * interval - 6)
    xi = x.astype(np.int64)
    frac = np.where(interval < 11, xi << np.clip(11 - interval, 0, 63), xi >> np.clip(interval - 11, 0, 63)) & 0x3FF
    res = (lut[base + 2] * frac) >> 5
    res = res + lut[base + 1] * 32
    res = (((res * frac) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)  # int32 product
    res = ((res + (1 << 14)) >> 15) + lut[base]
    gain = ((res + 32768) & 0xFFFF) - 32768
    return np.where(small, lut[np.minimum(xi, 2)], gain)


def evaluate_pcan(p: PcanParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, noise = inputs[0].astype(np.uint64), inputs[1]
    gain = (wide_dynamic_function(noise, p.lut) & 0xFFFFFFFF).astype(np.uint64)  # int16 -> uint32: sign-extended
    snr = ((x * gain) >> np.uint64(p.snr_shift)) & U32
    shrunk = np.where(snr < (2 << 12), (snr * snr) >> np.uint64(20), (snr >> np.uint64(6)) - np.uint64(64))
    return (shrunk & U32).astype(np.uint32)


# ----------------------------------------------------------------- FilterBankLog
_LOG_LUT = np.array(
    [
        0,
        224,
        442,
        654,
        861,
        1063,
        1259,
        1450,
        1636,
        1817,
        1992,
        2163,
        2329,
        2490,
        2646,
        2797,
        2944,
        3087,
        3224,
        3358,
        3487,
        3611,
        3732,
        3848,
        3960,
        4068,
        4172,
        4272,
        4368,
        4460,
        4549,
        4633,
        4714,
        4791,
        4864,
        4934,
        5001,
        5063,
        5123,
        5178,
        5231,
        5280,
        5326,
        5368,
        5408,
        5444,
        5477,
        5507,
        5533,
        5557,
        5578,
        5595,
        5610,
        5622,
        5631,
        5637,
        5640,
        5641,
        5638,
        5633,
        5626,
        5615,
        5602,
        5586,
        5568,
        5547,
        5524,
        5498,
        5470,
        5439,
        5406,
        5370,
        5332,
        5291,
        5249,
        5203,
        5156,
        5106,
        5054,
        5000,
        4944,
        4885,
        4825,
        4762,
        4697,
        4630,
        4561,
        4490,
        4416,
        4341,
        4264,
        4184,
        4103,
        4020,
        3935,
        3848,
        3759,
        3668,
        3575,
        3481,
        3384,
        3286,
        3186,
        3084,
        2981,
        2875,
        2768,
        2659,
        2549,
        2437,
        2323,
        2207,
        2090,
        1971,
        1851,
        1729,
        1605,
        1480,
        1353,
        1224,
        1094,
        963,
        830,
        695,
        559,
        421,
        282,
        142,
        0,
        0,
    ],
    np.int64,
)  # fmt: skip  (log.cc's kLogLut: log2(1 + f) - f on 128 segments, scale 2^16)


@dataclass(frozen=True)
class LogParams:
    correction_bits: int
    output_scale: int


def prepare_log(op: Op) -> LogParams:
    return LogParams(int(op.attrs["input_correction_bits"]), int(op.attrs["output_scale"]))


def log32(x: np.ndarray, out_scale: int) -> np.ndarray:
    """Log32 of uint32 x > 1: ln(x) · out_scale / 2^16, in log.cc's fixed point."""
    x = x.astype(np.int64)
    integer = msb32(x) - 1
    frac = x - (np.int64(1) << integer)
    frac = np.where(integer < 16, frac << np.clip(16 - integer, 0, 63), frac >> np.clip(integer - 16, 0, 63))
    seg = frac >> 9
    c0, c1 = _LOG_LUT[seg], _LOG_LUT[seg + 1]
    rel = ((c1 - c0) * (frac - (seg << 9))) >> 16
    log2 = ((integer << 16) + frac + c0 + rel) & 0xFFFFFFFF
    loge = ((45426 * log2 + 32768) >> 16) & 0xFFFFFFFF
    return ((out_scale * loge) & 0xFFFFFFFF) + 32768 & 0xFFFFFFFF


def evaluate_log(p: LogParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0].astype(np.int64)
    scaled = (x << p.correction_bits) & 0xFFFFFFFF
    big = scaled > 1
    v = log32(np.where(big, scaled, 2), p.output_scale) >> 16
    return np.where(big, np.minimum(v, 32767), 0).astype(np.int16)
