"""SIGNAL_RFFT (custom op SignalRfft, int16): kissfft's fixed-point real FFT, integer-exact.

tflite-micro (signal/micro/kernels/rfft.cc, signal/src/rfft_int16.cc) runs kissfft 1.3.0 built with
FIXED_POINT=16 (``kiss_fftr``): a complex FFT of n/2 points over the input read as (even, odd)
pairs, then the split into n/2 + 1 bins. Every radix-r stage first divides its inputs by r
(``C_FIXDIV``: x · ⌊32767 / r⌋, rounded at bit 15), products are rounded at bit 15 (``sround``),
and every sum is stored back into int16 (wrapping). picoml builds power-of-two lengths only,
which kissfft factors into radix-4 stages and at most one final radix-2 stage.

The twiddles are ``floor(0.5 + 32767 · cos/sin(phase))`` computed in double with the C library's
cos and sin (Python's ``math``), exactly as kissfft's ``kf_cexp``; ``fft_tables`` returns them for the C
kernel, which therefore needs no floating point.

Instead of kissfft's recursion, the stages run level by level (the butterflies of one level touch
disjoint elements, so their order does not matter), each vectorized over the batch and the
level's butterflies. Inputs are kept as int64 arrays holding int16 values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.signal_ops import fft_length

_PI_KISS = 3.141592653589793238462643383279502884197169399375105820974944  # kiss_fft_alloc's pi (= math.pi)
_PI_FFTR = 3.14159265358979323846264338327  # kiss_fftr_alloc's pi (= math.pi as a double, too)


class _Fixed:
    """kissfft's FIXED_POINT arithmetic for 16- or 32-bit samples (``_kiss_fft_guts.h``): products in
    int32 / int64 (SAMPPROD) rounded at FRACBITS (15 / 31), stores wrapping into the sample type."""

    def __init__(self, bits: int) -> None:
        self.bits, self.frac, self.samp_max = bits, bits - 1, (1 << (bits - 1)) - 1

    def w(self, x: np.ndarray) -> np.ndarray:
        """Store into the sample type (two's complement wrap, as the C assignment does on every target)."""
        h = 1 << (self.bits - 1)
        return ((x + h) & ((h << 1) - 1)) - h

    @staticmethod
    def w32(x: np.ndarray) -> np.ndarray:
        """An int sum (HALF_OF's operand): int16 operands are promoted and never wrap, int32 ones wrap."""
        return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)

    def sround(self, x: np.ndarray) -> np.ndarray:
        return self.w((x + (1 << (self.frac - 1))) >> self.frac)

    def fixdiv(self, x: np.ndarray, k: int) -> np.ndarray:
        return self.sround(x * (self.samp_max // k))

    def cmul(self, ar, ai, br, bi):
        return self.sround(ar * br - ai * bi), self.sround(ar * bi + ai * br)

    def cexp(self, phase: float) -> tuple[int, int]:
        return math.floor(0.5 + self.samp_max * math.cos(phase)), math.floor(0.5 + self.samp_max * math.sin(phase))

    def half(self, x: np.ndarray) -> np.ndarray:  # HALF_OF(a + b): the int sum >> 1, stored
        return self.w(self.w32(x) >> 1)

    @property
    def work(self) -> type:
        return np.int64

    @property
    def out(self) -> type:
        return np.int16 if self.bits == 16 else np.int32


class _Float:
    """kissfft in float32 (tflite-micro's kiss_fft_float): no scaling, every operation one IEEE
    float32 rounding (C_MUL's products rounded before their sum: tflite-micro's x86-64 build has no
    FMA), twiddles ``(float) cos(phase)`` of the double phase."""

    bits = 0
    work = out = np.float32

    @staticmethod
    def w(x):
        return np.asarray(x, np.float32)

    w32 = w

    @staticmethod
    def fixdiv(x, k: int):
        return x

    @staticmethod
    def cmul(ar, ai, br, bi):
        f = np.float32
        ar, ai, br, bi = (np.asarray(v, f) for v in (ar, ai, br, bi))
        return (ar * br - ai * bi).astype(f), (ar * bi + ai * br).astype(f)

    @staticmethod
    def cexp(phase: float) -> tuple[float, float]:
        return float(np.float32(math.cos(phase))), float(np.float32(math.sin(phase)))

    @staticmethod
    def half(x):
        return (np.asarray(x, np.float32) * np.float32(0.5)).astype(np.float32)


_FX = {16: _Fixed(16), 32: _Fixed(32), 0: _Float()}


def factors(n: int) -> list[tuple[int, int]]:
    """kissfft's kf_factor: (radix, remaining length) pairs, 4s first."""
    out, p, floor_sqrt = [], 4, math.floor(math.sqrt(n))
    while True:
        while n % p:
            p = 2 if p == 4 else 3 if p == 2 else p + 2
            if p > floor_sqrt:
                p = n
        n //= p
        out.append((p, n))
        if n <= 1:
            return out


@dataclass(frozen=True)
class FftTables:
    n: int  # fft_length (real points)
    twiddles: np.ndarray  # (n/2, 2) int16: the n/2-point complex FFT's
    super_twiddles: np.ndarray  # (n/4, 2) int16: the real split's
    perm: np.ndarray  # complex input index of each output position before the first butterfly
    stages: tuple[tuple[int, int, int], ...]  # (radix, m, fstride), deepest level first
    inverse: bool = False
    bits: int = 16  # sample width: int16 or int32 kissfft


@lru_cache(maxsize=32)
def fft_tables(n: int, inverse: bool = False, bits: int = 16) -> FftTables:
    """kiss_fftr_alloc's tables; ``inverse``: kiss_fftri's (every phase negated); ``bits``: 16 or 32."""
    nc, sign, fx = n // 2, -1.0 if inverse else 1.0, _FX[bits]
    tw = np.array([fx.cexp(sign * (-2 * _PI_KISS * i / nc)) for i in range(nc)], fx.work)
    stw = np.array([fx.cexp(sign * (-_PI_FFTR * ((i + 1) / nc + 0.5))) for i in range(nc // 2)], fx.work)
    stw = stw.reshape(-1, 2)
    fac = factors(nc)
    perm = np.zeros(nc, np.int64)

    def walk(out: int, f: int, fstride: int, level: int) -> None:  # kf_work's copies at the leaves
        p, m = fac[level]
        for j in range(p):
            if m == 1:
                perm[out + j] = f + j * fstride
            else:
                walk(out + j * m, f + j * fstride, fstride * p, level + 1)

    walk(0, 0, 1, 0)
    stages, fstride = [], 1
    for p, m in fac:
        stages.append((p, m, fstride))
        fstride *= p
    dt = fx.out
    arrays = [tw.astype(dt), stw.astype(dt), perm]
    for a in arrays:  # cached and shared by every caller: read-only, so none can change another's tables
        a.setflags(write=False)
    return FftTables(n, arrays[0], arrays[1], arrays[2], tuple(reversed(stages)), inverse, bits)


def complex_fft(t: FftTables, zr: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """kissfft's complex FFT (forward, or inverse for inverse tables) of (B, n/2) int16 values (as int64)."""
    fx = _FX[t.bits]
    nc = t.n // 2
    fr, fi = zr[:, t.perm].copy(), zi[:, t.perm].copy()
    twr, twi = t.twiddles[:, 0].astype(fx.work), t.twiddles[:, 1].astype(fx.work)
    for p, m, fs in t.stages:
        base = (np.arange(nc // (p * m)) * (p * m))[:, None]
        j = np.arange(m)[None, :]
        idx = [(base + j + q * m).reshape(-1) for q in range(p)]
        jj = np.broadcast_to(j, (base.shape[0], m)).reshape(-1)
        if p == 2:
            a_r, a_i = fx.fixdiv(fr[:, idx[0]], 2), fx.fixdiv(fi[:, idx[0]], 2)
            b_r, b_i = fx.fixdiv(fr[:, idx[1]], 2), fx.fixdiv(fi[:, idx[1]], 2)
            t_r, t_i = fx.cmul(b_r, b_i, twr[jj * fs], twi[jj * fs])
            fr[:, idx[1]], fi[:, idx[1]] = fx.w(a_r - t_r), fx.w(a_i - t_i)
            fr[:, idx[0]], fi[:, idx[0]] = fx.w(a_r + t_r), fx.w(a_i + t_i)
        elif p == 4:
            v = [(fx.fixdiv(fr[:, k], 4), fx.fixdiv(fi[:, k], 4)) for k in idx]
            s0 = fx.cmul(*v[1], twr[jj * fs], twi[jj * fs])
            s1 = fx.cmul(*v[2], twr[2 * jj * fs], twi[2 * jj * fs])
            s2 = fx.cmul(*v[3], twr[3 * jj * fs], twi[3 * jj * fs])
            s5 = fx.w(v[0][0] - s1[0]), fx.w(v[0][1] - s1[1])
            f0 = fx.w(v[0][0] + s1[0]), fx.w(v[0][1] + s1[1])
            s3 = fx.w(s0[0] + s2[0]), fx.w(s0[1] + s2[1])
            s4 = fx.w(s0[0] - s2[0]), fx.w(s0[1] - s2[1])
            fr[:, idx[2]], fi[:, idx[2]] = fx.w(f0[0] - s3[0]), fx.w(f0[1] - s3[1])
            fr[:, idx[0]], fi[:, idx[0]] = fx.w(f0[0] + s3[0]), fx.w(f0[1] + s3[1])
            if t.inverse:
                fr[:, idx[1]], fi[:, idx[1]] = fx.w(s5[0] - s4[1]), fx.w(s5[1] + s4[0])
                fr[:, idx[3]], fi[:, idx[3]] = fx.w(s5[0] + s4[1]), fx.w(s5[1] - s4[0])
            else:
                fr[:, idx[1]], fi[:, idx[1]] = fx.w(s5[0] + s4[1]), fx.w(s5[1] - s4[0])
                fr[:, idx[3]], fi[:, idx[3]] = fx.w(s5[0] - s4[1]), fx.w(s5[1] + s4[0])
        else:  # pragma: no cover - fft_length is a power of two (graph/signal_ops.py)
            raise AssertionError(p)
    return fr, fi


def rfft_rows(t: FftTables, x: np.ndarray) -> np.ndarray:
    """kiss_fftr of (B, n) int16 rows -> (B, 2 · (n/2 + 1)) int16 (re, im interleaved)."""
    fx = _FX[t.bits]
    nc = t.n // 2
    x = x.astype(fx.work)
    fr, fi = complex_fft(t, x[:, 0::2], x[:, 1::2])
    b = x.shape[0]
    out_r, out_i = np.zeros((b, nc + 1), fx.work), np.zeros((b, nc + 1), fx.work)
    dr, di = fx.fixdiv(fr[:, 0], 2), fx.fixdiv(fi[:, 0], 2)
    out_r[:, 0], out_r[:, nc] = fx.w(dr + di), fx.w(dr - di)
    k = np.arange(1, nc // 2 + 1)
    if k.size:
        pk_r, pk_i = fx.fixdiv(fr[:, k], 2), fx.fixdiv(fi[:, k], 2)
        nk_r, nk_i = fx.fixdiv(fr[:, nc - k], 2), fx.fixdiv(fx.w(-fi[:, nc - k]), 2)
        f1_r, f1_i = fx.w(pk_r + nk_r), fx.w(pk_i + nk_i)
        f2_r, f2_i = fx.w(pk_r - nk_r), fx.w(pk_i - nk_i)
        st = t.super_twiddles.astype(fx.work)
        tw_r, tw_i = fx.cmul(f2_r, f2_i, st[k - 1, 0], st[k - 1, 1])
        # kissfft writes bin k, then bin nc - k: at k = nc/2 both are the same bin, the second write wins
        out_r[:, k], out_i[:, k] = fx.half(f1_r + tw_r), fx.half(f1_i + tw_i)
        out_r[:, nc - k], out_i[:, nc - k] = fx.half(f1_r - tw_r), fx.half(tw_i - f1_i)
    return np.stack([out_r, out_i], axis=-1).reshape(b, -1).astype(fx.out)


@dataclass(frozen=True)
class RfftParams:
    tables: FftTables
    in_len: int


def _bits(op: Op) -> int:
    return {"int16": 16, "int32": 32, "float32": 0}[op.inputs[0].dtype]


def prepare(op: Op) -> RfftParams:
    return RfftParams(fft_tables(fft_length(op), bits=_bits(op)), op.inputs[0].shape[-1])


def evaluate(p: RfftParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    rows = x.reshape(-1, p.in_len)
    padded = np.zeros((rows.shape[0], p.tables.n), x.dtype)
    padded[:, : p.in_len] = rows
    y = rfft_rows(p.tables, padded)
    return y.reshape(x.shape[:-1] + (y.shape[-1],))


def irfft_rows(t: FftTables, x: np.ndarray) -> np.ndarray:
    """kiss_fftri of (B, 2 · (n/2 + 1)) int16 (re, im interleaved) -> (B, n) int16."""
    fx = _FX[t.bits]
    nc = t.n // 2
    z = x.astype(fx.work).reshape(x.shape[0], -1, 2)
    re, im = z[:, : nc + 1, 0], z[:, : nc + 1, 1]
    b = x.shape[0]
    tr, ti = np.zeros((b, nc), fx.work), np.zeros((b, nc), fx.work)
    tr[:, 0] = fx.fixdiv(fx.w(re[:, 0] + re[:, nc]), 2)
    ti[:, 0] = fx.fixdiv(fx.w(re[:, 0] - re[:, nc]), 2)
    k = np.arange(1, nc // 2 + 1)
    if k.size:
        fk_r, fk_i = fx.fixdiv(re[:, k], 2), fx.fixdiv(im[:, k], 2)
        nk_r, nk_i = fx.fixdiv(re[:, nc - k], 2), fx.fixdiv(fx.w(-im[:, nc - k]), 2)
        fe_r, fe_i = fx.w(fk_r + nk_r), fx.w(fk_i + nk_i)
        d_r, d_i = fx.w(fk_r - nk_r), fx.w(fk_i - nk_i)
        st = t.super_twiddles.astype(fx.work)
        fo_r, fo_i = fx.cmul(d_r, d_i, st[k - 1, 0], st[k - 1, 1])
        tr[:, k], ti[:, k] = fx.w(fe_r + fo_r), fx.w(fe_i + fo_i)
        tr[:, nc - k], ti[:, nc - k] = fx.w(fe_r - fo_r), fx.w(-fx.w(fe_i - fo_i))  # then imag *= -1
    fr, fi = complex_fft(t, tr, ti)
    return np.stack([fr, fi], axis=-1).reshape(b, -1).astype(fx.out)


@dataclass(frozen=True)
class IrfftParams:
    tables: FftTables
    in_len: int


def prepare_irfft(op: Op) -> IrfftParams:
    return IrfftParams(fft_tables(fft_length(op), inverse=True, bits=_bits(op)), op.inputs[0].shape[-1])


def evaluate_irfft(p: IrfftParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    y = irfft_rows(p.tables, x.reshape(-1, p.in_len))
    if p.tables.bits == 0:  # irfft_float.cc divides by fft_length (kissfft leaves the n/2 scale, and the split's 2)
        y = (y / np.float32(p.tables.n)).astype(np.float32)
    return y.reshape(x.shape[:-1] + (p.tables.n,))
