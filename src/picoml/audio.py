"""The audio front end of a keyword spotter as a picoml graph, and the same arithmetic on training data.

``frontend(...)`` builds the graph of one frame (int16 PCM samples of one window → int16 log-mel
features) from tflite-micro's signal-library ops, the chain of its audio preprocessor and of the
micro-frontend it replaces::

    Window → FftAutoScale → Rfft → Energy → FilterBank → FilterBankSquareRoot
           → FilterBankSpectralSubtraction → PCAN → FilterBankLog

Every constant (Hann window, mel filter bank tables, PCAN gain table, smoothing coefficients) is
computed here, once, in Python floats the way tflite-micro's micro-frontend computes them
(window_util.c, filterbank_util.c, noise_reduction_util.c, pcan_gain_control_util.c), and stored
in the graph as integers: the device and ``features`` then run the same integer arithmetic.

``features(graph, audio)`` frames a batch of clips (stride ``graph.frame_stride``) and runs every
frame through the graph's reference kernels with the spectral-subtraction noise estimate carried
from frame to frame of a clip and reset at each clip's start, as tflite-micro (and the C library)
run one frame per invocation. Features computed for training are therefore bit for bit those the
device computes. ``picoml.run`` on the graph's frames gives the same: a batch of a stateful graph
is one sequence of calls.
"""

from __future__ import annotations

import math

import numpy as np

from picoml.errors import InputError, UnsupportedError
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference.stream import run_stream

WINDOW_BITS = 12  # window_util.c kFrontendWindowBits
FILTERBANK_BITS = 12  # filterbank_util.c kFilterbankBits
SPECTRAL_SUBTRACTION_BITS = 14  # noise_reduction.h kNoiseReductionBits
PCAN_SNR_BITS = 12  # pcan_gain_control.h kPcanSnrBits
WIDE_DYNAMIC_BITS = 32


def _mel(hz: float) -> float:
    return 1127.0 * math.log1p(hz / 700.0)


def hann_window(n: int, bits: int = WINDOW_BITS) -> np.ndarray:
    """Hann window in Q``bits`` (window_util.c: 0.5 − 0.5·cos(2π(i + ½)/n), rounded)."""
    arg = 2.0 * math.pi / n
    return np.array([math.floor((0.5 - 0.5 * math.cos(arg * (i + 0.5))) * (1 << bits) + 0.5) for i in range(n)])


def mel_tables(sample_rate: int, fft_length: int, channels: int, lower_hz: float, upper_hz: float):
    """Filter-bank tables of SignalFilterBank: (weights, unweights, frequency starts, weight starts,
    widths, first bin, last bin + 1). Band i (0..channels) holds the bins whose mel frequency lies in
    (center[i-1], center[i]]; a bin's weight falls from 1 to 0 across its band and counts towards
    channel i (C's accumulator i), its unweight (1 − weight) towards channel i + 1: each output
    channel is a triangle peaking at a center."""
    lo, hi = _mel(lower_hz), _mel(upper_hz)
    centers = [lo + (hi - lo) / (channels + 1) * (i + 1) for i in range(channels + 1)]
    hz_per_bin = sample_rate / fft_length
    n_bins = fft_length // 2 + 1
    mels = [_mel(b * hz_per_bin) for b in range(n_bins)]
    weights, unweights, fstarts, wstarts, widths = [], [], [], [], []
    prev = lo
    for c in centers:
        band = [b for b in range(n_bins) if prev < mels[b] <= c]
        fstarts.append(band[0] if band else 0)
        wstarts.append(len(weights))
        widths.append(len(band))
        for b in band:
            w = (c - mels[b]) / (c - prev)
            weights.append(math.floor(w * (1 << FILTERBANK_BITS) + 0.5))
            unweights.append(math.floor((1.0 - w) * (1 << FILTERBANK_BITS) + 0.5))
        prev = c
    used = [b for b in range(n_bins) if lo < mels[b] <= centers[-1]]
    if not used or 0 in widths[1:]:
        raise UnsupportedError(
            f"{channels} mel channels between {lower_hz} and {upper_hz} Hz leave a channel without an FFT bin at "
            f"{hz_per_bin:.1f} Hz per bin (fewer channels or a longer FFT)"
        )
    tabs = [np.array(v or [0], np.int16) for v in (weights, unweights)] + [
        np.array(v, np.int16) for v in (fstarts, wstarts, widths)
    ]
    return (*tabs, used[0], used[-1] + 1)


def pcan_gain_lut(strength: float, offset: float, gain_bits: int, input_bits: int) -> np.ndarray:
    """PCAN's 125-entry gain table (pcan_gain_control_util.c): gain(x) = 2^gain_bits · (x + offset)^−strength
    for x with ``input_bits`` fractional bits, as quadratic pieces per power of two."""

    def gain(x: int) -> int:
        g = float(np.float32(1 << gain_bits) * np.float32((np.float32(x) / np.float32(1 << input_bits)) + offset)
                  ** np.float32(-strength))  # fmt: skip
        return 32767 if g > 32767 else int(g + 0.5)

    lut = np.zeros(4 * WIDE_DYNAMIC_BITS - 3, np.int64)
    lut[0], lut[1] = gain(0), gain(1)
    for interval in range(2, WIDE_DYNAMIC_BITS + 1):
        x0 = 1 << (interval - 1)
        x1 = x0 + (x0 >> 1)
        x2 = x0 + (x0 - 1) if interval == WIDE_DYNAMIC_BITS else 2 * x0
        y0, y1, y2 = gain(x0), gain(x1), gain(x2)
        a1 = 4 * (y1 - y0) - (y2 - y0)
        a2 = (y2 - y0) - a1
        lut[4 * interval - 6 : 4 * interval - 3] = [y0, a1, a2]
    return (((lut + 32768) & 0xFFFF) - 32768).astype(np.int16)


def frontend(
    sample_rate: int = 16000,
    window_ms: float = 30.0,
    stride_ms: float = 20.0,
    channels: int = 40,
    *,
    fft_length: int | None = None,
    lower_hz: float = 125.0,
    upper_hz: float = 7500.0,
    smoothing_bits: int = 10,
    even_smoothing: float = 0.025,
    odd_smoothing: float = 0.06,
    min_signal_remaining: float = 0.05,
    pcan: bool = True,
    pcan_strength: float = 0.95,
    pcan_offset: float = 80.0,
    pcan_gain_bits: int = 21,
    log_scale_shift: int = 6,
    output: str = "int16",
) -> Graph:
    """The front-end graph of one frame: input int16 PCM [window samples], output [channels] features:
    ``output="int16"`` FilterBankLog's codes (log energy × 2^log_scale_shift), ``"float32"`` the same
    in natural-log units (the codes DEQUANTIZEd with scale 2^-log_scale_shift, a float interface
    for a float network). ``graph.frame_stride`` is the hop in samples (``features`` uses it to
    frame clips)."""
    if output not in ("int16", "float32"):
        raise UnsupportedError(f"frontend output {output!r}: int16 or float32")
    win = round(sample_rate * window_ms / 1000)
    stride = round(sample_rate * stride_ms / 1000)
    n = fft_length or 1 << max(2, (win - 1).bit_length())
    if not (0 < stride and 4 <= win <= n) or n & (n - 1):
        raise UnsupportedError(
            f"window {win} samples, stride {stride}, fft_length {n}: need 4 <= window <= a power-of-two fft_length"
        )
    if not 0 < lower_hz < upper_hz <= sample_rate / 2 or channels < 1:
        raise UnsupportedError(f"mel band {lower_hz}..{upper_hz} Hz with {channels} channels at {sample_rate} Hz")
    w, u, fs, ws, cw, first, end = mel_tables(sample_rate, n, channels, lower_hz, upper_hz)
    correction = max(n.bit_length() - 1 - FILTERBANK_BITS // 2, 0)  # MostSignificantBit32(n) - 1 - 6

    ts: list[Tensor] = []
    ops: list[Op] = []

    def t(name, shape, dtype, data=None) -> Tensor:
        ts.append(Tensor(name, tuple(shape), dtype, data=None if data is None else np.asarray(data, dtype)))
        return ts[-1]

    def op(kind, ins, outs, **attrs) -> None:
        ops.append(Op(kind, ins, outs, attrs, name=outs[0].name))

    x = t("audio", (win,), "int16")
    y = t("windowed", (win,), "int16")
    op(OpType.SIGNAL_WINDOW, [x, t("hann", (win,), "int16", hann_window(win))], [y], shift=WINDOW_BITS)
    scaled, bits = t("scaled", (win,), "int16"), t("scale_bits", (), "int32")
    op(OpType.SIGNAL_FFT_AUTO_SCALE, [y], [scaled, bits])
    spec = t("spectrum", (n + 2,), "int16")
    op(OpType.SIGNAL_RFFT, [scaled], [spec], T=7, fft_length=n)
    energy = t("energy", (n // 2 + 1,), "uint32")
    op(OpType.SIGNAL_ENERGY, [spec], [energy], end_index=end, start_index=first)
    tabs = [t(nm, a.shape, "int16", a) for nm, a in zip(("fb_weights", "fb_unweights", "fb_starts", "fb_weight_starts", "fb_widths"), (w, u, fs, ws, cw), strict=True)]  # fmt: skip
    fb = t("filter_bank", (channels,), "uint64")
    op(OpType.SIGNAL_FILTER_BANK, [energy, *tabs], [fb], num_channels=channels)
    root = t("amplitude", (channels,), "uint32")
    op(OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT, [fb, bits], [root])
    one = 1 << SPECTRAL_SUBTRACTION_BITS
    even, odd = int(even_smoothing * one), int(odd_smoothing * one)
    clean, noise = t("denoised", (channels,), "uint32"), t("noise_estimate", (channels,), "uint32")
    op(OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION, [root], [clean, noise],
       alternate_one_minus_smoothing=one - odd, alternate_smoothing=odd, clamping=False,
       min_signal_remaining=int(min_signal_remaining * one), num_channels=channels, one_minus_smoothing=one - even,
       smoothing=even, smoothing_bits=smoothing_bits, spectral_subtraction_bits=SPECTRAL_SUBTRACTION_BITS)  # fmt: skip
    if pcan:
        lut = t("pcan_gain_lut", (4 * WIDE_DYNAMIC_BITS - 3,), "int16",
                pcan_gain_lut(pcan_strength, pcan_offset, pcan_gain_bits, smoothing_bits))  # fmt: skip
        gained = t("gain_controlled", (channels,), "uint32")
        snr_shift = pcan_gain_bits - correction - PCAN_SNR_BITS
        if not 0 <= snr_shift <= 63:
            raise UnsupportedError(f"PCAN gain_bits {pcan_gain_bits} give snr_shift {snr_shift} outside 0..63")
        op(OpType.SIGNAL_PCAN, [clean, noise, lut], [gained], snr_shift=snr_shift)
        clean = gained
    feats = t("features", (channels,), "int16")
    op(OpType.SIGNAL_FILTER_BANK_LOG, [clean], [feats], input_correction_bits=correction,
       output_scale=1 << log_scale_shift)  # fmt: skip
    if output == "float32":  # natural-log units: DEQUANTIZE by 2^-log_scale_shift, exact in float32
        feats.scale, feats.zero_point = np.array([2.0**-log_scale_shift]), np.array([0])
        log = t("features_float", (channels,), "float32")
        op(OpType.DEQUANTIZE, [feats], [log])
        feats = log
    g = Graph(ts, ops, [x], [feats], name="audio_frontend",
              description=f"picoml.audio.frontend: {sample_rate} Hz, {win}-sample window, stride {stride}, {channels} channels")  # fmt: skip
    g.validate()
    g.frame_stride = stride  # type: ignore[attr-defined]
    return g


def frames(audio: np.ndarray, window: int, stride: int) -> np.ndarray:
    """(clips, samples) int16 → (clips, frames, window): every full window at multiples of stride."""
    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.dtype != np.int16:
        raise InputError(f"audio must be int16 of shape (clips, samples) or (samples,), got {a.dtype} {list(a.shape)}")
    n = (a.shape[1] - window) // stride + 1 if a.shape[1] >= window else 0
    idx = np.arange(n)[:, None] * stride + np.arange(window)[None, :]
    return a[:, idx]


def features(g: Graph, audio: np.ndarray, stride: int | None = None) -> np.ndarray:
    """Front-end features of a batch of int16 clips: (clips, frames, channels) int16, bit for bit
    what the compiled front end computes frame after frame on the device (state reset per clip)."""
    hop = stride or getattr(g, "frame_stride", None)
    if not hop:
        raise InputError("the frame stride is unknown: pass stride= (graphs read from a file do not carry it)")
    y = run_stream(g, frames(audio, g.inputs[0].shape[-1], int(hop)))
    assert isinstance(y, np.ndarray)
    return y
