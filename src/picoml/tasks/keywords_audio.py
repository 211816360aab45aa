"""Signal pieces of the synthesized keyword data set: WAV parsing, an exact-ratio resampler,
background noises. numpy only, deterministic (no threads inside, no random state but the
generator handed in).

These prepare *training audio*; they are not the audio front end (the features a model sees
come from ``picoml.audio``).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from math import gcd

import numpy as np

from picoml.errors import PicomlError

NOISE_KINDS = ("white", "pink", "brown", "hum", "babble")
#: the kinds a ``_silence_`` clip may hold: stationary noise without speech in it
SILENCE_NOISE_KINDS = ("white", "pink", "brown", "hum")


def parse_wav(data: bytes, what: str = "audio") -> tuple[int, np.ndarray]:
    """(sample rate, float64 samples in [-1, 1)) of a mono 16-bit PCM WAV.

    eSpeak NG's ``--stdout`` writes a streaming header (RIFF and data sizes 0x7fffffff), so the
    data chunk is taken as everything after its header, cut to the sizes the header states when
    they are smaller. One-line PicomlError for anything else.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise PicomlError(f"{what}: not a WAV stream ({len(data)} bytes)")
    pos, rate, fmt_ok = 12, 0, False
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise PicomlError(f"{what}: truncated WAV fmt chunk")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag != 1 or channels != 1 or bits != 16 or not 1000 <= rate <= 192000:
                raise PicomlError(f"{what}: WAV is not mono 16-bit PCM (format {tag}, {channels} ch, {bits} bit)")
            fmt_ok = True
        elif cid == b"data":
            if not fmt_ok:
                raise PicomlError(f"{what}: WAV data before its fmt chunk")
            raw = data[body : body + min(size, len(data) - body)]
            raw = raw[: len(raw) // 2 * 2]
            return rate, np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0
        pos = body + size + (size & 1)
    raise PicomlError(f"{what}: WAV without a data chunk")


@lru_cache(maxsize=8)
def _polyphase(up: int, down: int, taps_per_phase: int) -> np.ndarray:
    """(up, taps_per_phase) prototype low-pass split into its ``up`` phases, scaled by ``up``.

    A Kaiser-windowed sinc (beta 8.6, about 90 dB stop band) at 0.92 of the lower of the two
    Nyquist frequencies; filter delay ``up * taps_per_phase / 2`` upsampled samples.
    """
    n = up * taps_per_phase
    c = n // 2
    fc = 0.92 * 0.5 / max(up, down)  # cycles per upsampled sample
    k = np.arange(n) - c
    h = 2 * fc * np.sinc(2 * fc * k) * np.kaiser(n + 1, 8.6)[:n]
    h *= up / h.sum()  # DC gain 1: the ``up`` phases sum to ``up`` in all
    return h.reshape(taps_per_phase, up).T.copy()


def resample(x: np.ndarray, rate_in: int, rate_out: int, taps_per_phase: int = 96) -> np.ndarray:
    """``x`` (float, 1-D) resampled from ``rate_in`` to ``rate_out`` Hz by the exact rational ratio.

    Polyphase FIR: output sample n sits at input time n * rate_in / rate_out exactly (no drift,
    no rounding of the ratio); ``len(x) * rate_out // rate_in`` samples out. The outputs of one
    phase are one matrix-vector product over a strided view of the input. Deterministic.
    """
    x = np.asarray(x, np.float64)
    if rate_in == rate_out:
        return x.copy()
    g = gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    t = taps_per_phase
    hr = _polyphase(up, down, t)[:, ::-1]  # tap j of a phase multiplies x[base - j]; reversed: a window in time order
    n_out = len(x) * up // down
    y = np.zeros(n_out)
    # window k of xp is x[k - t + 1 .. k]: the t newest input samples at input time k
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.zeros(t - 1), x, np.zeros(t + 1)]), t)
    for n0 in range(min(up, n_out)):
        # outputs n0, n0 + up, ... share one phase; their newest input sample steps by ``down``
        pos = n0 * down + (up * t) // 2  # upsampled time of output n0, filter delay included
        y[n0::up] = windows[pos // up :: down][: len(range(n0, n_out, up))] @ hr[pos % up]
    return y


def _shaped(rng: np.random.Generator, n: int, rate: int, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent above 20 Hz (1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / rate)
    spec *= np.maximum(f, 20.0) ** (-exponent / 2)
    spec[0] = 0
    return np.fft.irfft(spec, n)


def _hum(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and its harmonics up to 1 kHz, decaying random amplitudes, a little hiss."""
    f0 = float(rng.choice([50.0, 60.0])) * (1 + rng.uniform(-0.004, 0.004))
    t = np.arange(n) / rate
    out = np.zeros(n)
    for k in range(1, int(1000 // f0) + 1):
        amp = rng.uniform(0.2, 1.0) / k ** rng.uniform(0.5, 1.5)
        out += amp * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    return out + 0.02 * rms(out) * rng.standard_normal(n)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def unit(x: np.ndarray) -> np.ndarray:
    r = rms(x)
    return x / r if r > 0 else x


def babble(rng: np.random.Generator, n: int, pool: list[np.ndarray], talkers: int) -> np.ndarray:
    """Several talkers at once: ``talkers`` utterances of ``pool``, each at unit level from a random
    point (wrapping around), summed."""
    out = np.zeros(n)
    for i in rng.choice(len(pool), size=min(talkers, len(pool)), replace=False):
        s = pool[int(i)]
        start = int(rng.integers(len(s)))
        seg = np.resize(np.roll(s, -start), n)  # np.resize repeats the utterance to length n
        out += unit(seg)
    return out


def noise(kind: str, rng: np.random.Generator, n: int, rate: int, pool: list[np.ndarray] | None = None) -> np.ndarray:
    """``n`` samples of background noise of ``kind`` (NOISE_KINDS) at unit RMS."""
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _shaped(rng, n, rate, 1.0)
    elif kind == "brown":
        x = _shaped(rng, n, rate, 2.0)
    elif kind == "hum":
        x = _hum(rng, n, rate)
    elif kind == "babble":
        if not pool:
            raise PicomlError("babble noise needs synthesized speech to mix")
        x = babble(rng, n, pool, int(rng.integers(3, 7)))
    else:
        raise PicomlError(f"unknown noise kind {kind!r}; one of {NOISE_KINDS}")
    return unit(x)


def active_region(x: np.ndarray, rate: int, threshold_db: float = -40.0, margin_ms: float = 10.0) -> tuple[int, int]:
    """[start, stop) of the samples within ``threshold_db`` of the peak (plus a margin): the
    utterance without the synthesizer's leading and trailing silence. (0, 0) for silence."""
    a = np.abs(x)
    peak = a.max() if len(a) else 0.0
    if peak <= 0:
        return 0, 0
    loud = np.flatnonzero(a >= peak * 10 ** (threshold_db / 20))
    m = int(rate * margin_ms / 1000)
    return max(0, int(loud[0]) - m), min(len(x), int(loud[-1]) + 1 + m)
