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

``frontend(..., noise_reduction=False)`` leaves out spectral subtraction and PCAN: a stateless
front end. ``clip_frontend(...)`` builds one graph from a whole clip (e.g. 1 s, 16,000 samples)
to its (frames, channels) feature map: a SLICE per window through its own copy of the stateless
chain (the copies share their constant tensors; the C emits each table once), the rows
CONCATENATEd. It is the front end of ``picoml demo --task keywords`` (``tasks/keywords.py``).

``features(graph, audio)`` frames a batch of clips (stride ``graph.frame_stride``) and runs every
frame through the graph's reference kernels with the spectral-subtraction noise estimate carried
from frame to frame of a clip and reset at each clip's start, as tflite-micro (and the C library)
run one frame per invocation. Features computed for training are therefore bit for bit those the
device computes. ``picoml.run`` on the graph's frames gives the same: a batch of a stateful graph
is one sequence of calls.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Design:
    """Everything one front-end frame computes with: sizes and the integer tables."""

    sample_rate: int
    win: int
    stride: int
    n: int
    channels: int
    tables: tuple  # mel_tables' five arrays
    first: int
    end: int
    correction: int
    noise_reduction: bool
    pcan: bool
    spectral: dict
    pcan_lut: np.ndarray | None
    snr_shift: int
    log_scale_shift: int
    description: str


def _design(
    sample_rate: int,
    window_ms: float,
    stride_ms: float,
    channels: int,
    fft_length: int | None,
    lower_hz: float,
    upper_hz: float,
    smoothing_bits: int,
    even_smoothing: float,
    odd_smoothing: float,
    min_signal_remaining: float,
    noise_reduction: bool,
    pcan: bool | None,
    pcan_strength: float,
    pcan_offset: float,
    pcan_gain_bits: int,
    log_scale_shift: int,
) -> _Design:
    win = round(sample_rate * window_ms / 1000)
    stride = round(sample_rate * stride_ms / 1000)
    n = fft_length or 1 << max(2, (win - 1).bit_length())
    if not (0 < stride and 4 <= win <= n) or n & (n - 1):
        raise UnsupportedError(
            f"window {win} samples, stride {stride}, fft_length {n}: need 4 <= window <= a power-of-two fft_length"
        )
    if not 0 < lower_hz < upper_hz <= sample_rate / 2 or channels < 1:
        raise UnsupportedError(f"mel band {lower_hz}..{upper_hz} Hz with {channels} channels at {sample_rate} Hz")
    pcan = noise_reduction if pcan is None else pcan
    if pcan and not noise_reduction:
        raise UnsupportedError("PCAN divides by the noise estimate of noise reduction: pcan=True needs noise_reduction")
    w, u, fs, ws, cw, first, end = mel_tables(sample_rate, n, channels, lower_hz, upper_hz)
    correction = max(n.bit_length() - 1 - FILTERBANK_BITS // 2, 0)  # MostSignificantBit32(n) - 1 - 6
    one = 1 << SPECTRAL_SUBTRACTION_BITS
    even, odd = int(even_smoothing * one), int(odd_smoothing * one)
    spectral = {
        "alternate_one_minus_smoothing": one - odd, "alternate_smoothing": odd, "clamping": False,
        "min_signal_remaining": int(min_signal_remaining * one), "num_channels": channels,
        "one_minus_smoothing": one - even, "smoothing": even, "smoothing_bits": smoothing_bits,
        "spectral_subtraction_bits": SPECTRAL_SUBTRACTION_BITS,
    }  # fmt: skip
    snr_shift = pcan_gain_bits - correction - PCAN_SNR_BITS
    if pcan and not 0 <= snr_shift <= 63:
        raise UnsupportedError(f"PCAN gain_bits {pcan_gain_bits} give snr_shift {snr_shift} outside 0..63")
    lut = pcan_gain_lut(pcan_strength, pcan_offset, pcan_gain_bits, smoothing_bits) if pcan else None
    stages = "noise reduction + PCAN" if pcan else "noise reduction" if noise_reduction else "no noise reduction"
    return _Design(
        sample_rate, win, stride, n, channels, (w, u, fs, ws, cw), first, end, correction, noise_reduction, pcan,
        spectral, lut, snr_shift, log_scale_shift,
        f"{sample_rate} Hz, {win}-sample window, stride {stride}, {channels} channels, {stages}",
    )  # fmt: skip


class _Builder:
    """Tensors and ops of a graph being built; constants made once and shared by every frame."""

    def __init__(self) -> None:
        self.ts: list[Tensor] = []
        self.ops: list[Op] = []
        self.consts: dict[str, Tensor] = {}

    def t(self, name: str, shape, dtype: str, data=None) -> Tensor:
        self.ts.append(Tensor(name, tuple(shape), dtype, data=None if data is None else np.asarray(data, dtype)))
        return self.ts[-1]

    def const(self, name: str, data, dtype: str) -> Tensor:
        if name not in self.consts:
            a = np.asarray(data)
            self.consts[name] = self.t(name, a.shape, dtype, a)
        return self.consts[name]

    def op(self, kind: OpType, ins: list[Tensor], outs: list[Tensor], **attrs) -> None:
        self.ops.append(Op(kind, ins, outs, attrs, name=outs[0].name))


def _chain(b: _Builder, d: _Design, x: Tensor, p: str = "") -> Tensor:
    """The ops of one frame from ``x`` (d.win int16 samples) to its d.channels int16 features;
    tensor names prefixed with ``p``."""
    n, ch = d.n, d.channels
    y = b.t(p + "windowed", (d.win,), "int16")
    b.op(OpType.SIGNAL_WINDOW, [x, b.const("hann", hann_window(d.win), "int16")], [y], shift=WINDOW_BITS)
    scaled, bits = b.t(p + "scaled", (d.win,), "int16"), b.t(p + "scale_bits", (), "int32")
    b.op(OpType.SIGNAL_FFT_AUTO_SCALE, [y], [scaled, bits])
    spec = b.t(p + "spectrum", (n + 2,), "int16")
    b.op(OpType.SIGNAL_RFFT, [scaled], [spec], T=7, fft_length=n)
    energy = b.t(p + "energy", (n // 2 + 1,), "uint32")
    b.op(OpType.SIGNAL_ENERGY, [spec], [energy], end_index=d.end, start_index=d.first)
    names = ("fb_weights", "fb_unweights", "fb_starts", "fb_weight_starts", "fb_widths")
    tabs = [b.const(nm, a, "int16") for nm, a in zip(names, d.tables, strict=True)]
    fb = b.t(p + "filter_bank", (ch,), "uint64")
    b.op(OpType.SIGNAL_FILTER_BANK, [energy, *tabs], [fb], num_channels=ch)
    clean = b.t(p + "amplitude", (ch,), "uint32")
    b.op(OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT, [fb, bits], [clean])
    if d.noise_reduction:
        den, noise = b.t(p + "denoised", (ch,), "uint32"), b.t(p + "noise_estimate", (ch,), "uint32")
        b.op(OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION, [clean], [den, noise], **d.spectral)
        clean = den
        if d.pcan:
            gained = b.t(p + "gain_controlled", (ch,), "uint32")
            lut = b.const("pcan_gain_lut", d.pcan_lut, "int16")
            b.op(OpType.SIGNAL_PCAN, [clean, noise, lut], [gained], snr_shift=d.snr_shift)
            clean = gained
    feats = b.t(p + "features", (ch,), "int16")
    b.op(OpType.SIGNAL_FILTER_BANK_LOG, [clean], [feats], input_correction_bits=d.correction,
         output_scale=1 << d.log_scale_shift)  # fmt: skip
    return feats


def _finish(b: _Builder, feats: Tensor, output: str, log_scale_shift: int) -> Tensor:
    """The int16 codes as they are, or DEQUANTIZEd to float32 with scale 2^-log_scale_shift
    (natural-log units, exact)."""
    if output == "float32":
        feats.scale, feats.zero_point = np.array([2.0**-log_scale_shift], np.float32), np.array([0])
        log = b.t(feats.name + "_float", feats.shape, "float32")
        b.op(OpType.DEQUANTIZE, [feats], [log])
        return log
    return feats


def _check_output(output: str) -> None:
    if output not in ("int16", "float32"):
        raise UnsupportedError(f"frontend output {output!r}: int16 or float32")


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
    noise_reduction: bool = True,
    pcan: bool | None = None,
    pcan_strength: float = 0.95,
    pcan_offset: float = 80.0,
    pcan_gain_bits: int = 21,
    log_scale_shift: int = 6,
    output: str = "int16",
) -> Graph:
    """The front-end graph of one frame: input int16 PCM [window samples], output [channels] features:
    ``output="int16"`` FilterBankLog's codes (log energy × 2^log_scale_shift, quantization scale
    2^-log_scale_shift), ``"float32"`` the same in natural-log units (the codes DEQUANTIZEd, a
    float interface for a float network). ``noise_reduction=False`` leaves out spectral
    subtraction (and PCAN, which divides by its noise estimate): a stateless front end, each
    frame's features a function of that frame alone. ``pcan`` (default: with noise reduction).
    ``graph.frame_stride`` is the hop in samples (``features`` uses it to frame clips)."""
    _check_output(output)
    d = _design(sample_rate, window_ms, stride_ms, channels, fft_length, lower_hz, upper_hz, smoothing_bits,
                even_smoothing, odd_smoothing, min_signal_remaining, noise_reduction, pcan, pcan_strength,
                pcan_offset, pcan_gain_bits, log_scale_shift)  # fmt: skip
    b = _Builder()
    x = b.t("audio", (d.win,), "int16")
    y = _finish(b, _chain(b, d, x), output, log_scale_shift)
    g = Graph(b.ts, b.ops, [x], [y], name="audio_frontend", description=f"picoml.audio.frontend: {d.description}")
    g.validate()
    g.frame_stride = d.stride  # type: ignore[attr-defined]
    return g


def clip_frontend(
    sample_rate: int = 16000,
    clip_ms: float = 1000.0,
    window_ms: float = 30.0,
    stride_ms: float = 20.0,
    channels: int = 40,
    *,
    output: str = "int16",
    **options,
) -> Graph:
    """One graph from a whole clip to its feature map: input int16 PCM [clip samples], output
    [frames, channels] (frames = every full window at multiples of the stride: 49 for 1 s at
    30/20 ms). Each frame is a SLICE of the clip through its own copy of the stateless front end
    (``frontend(..., noise_reduction=False)``; the copies share their constant tables), the frames
    CONCATENATEd and reshaped: a C library that takes the raw 16-bit PCM of a clip. Its output equals
    ``features(frontend(..., noise_reduction=False), clips)`` bit for bit. ``options``: those of
    ``frontend`` (noise reduction must stay off: its state would make a clip depend on history)."""
    _check_output(output)
    if options.get("noise_reduction", False) or options.get("pcan"):
        raise UnsupportedError(
            "clip_frontend is stateless: noise reduction (and PCAN) adapt over a stream, use frontend() per frame"
        )
    options = {"noise_reduction": False, **options}
    sig = inspect.signature(frontend)
    bad = sorted(set(options) - set(sig.parameters))
    if bad:
        raise UnsupportedError(f"clip_frontend: unknown options {bad}")
    kw = {k: v.default for k, v in sig.parameters.items() if v.kind is inspect.Parameter.KEYWORD_ONLY} | options
    kw.pop("output")
    d = _design(sample_rate, window_ms, stride_ms, channels, **kw)
    samples = round(sample_rate * clip_ms / 1000)
    n_frames = (samples - d.win) // d.stride + 1 if samples >= d.win else 0
    if n_frames < 1:
        raise UnsupportedError(f"a {samples}-sample clip holds no {d.win}-sample window")
    b = _Builder()
    x = b.t("audio", (samples,), "int16")
    size = b.const("frame_size", [d.win], "int32")
    parts = []
    for k in range(n_frames):
        fr = b.t(f"f{k}_frame", (d.win,), "int16")
        b.op(OpType.SLICE, [x, b.const(f"frame_begin_{k}", [k * d.stride], "int32"), size], [fr])
        parts.append(_chain(b, d, fr, f"f{k}_"))
    flat = b.t("frames", (n_frames * channels,), "int16")
    b.op(OpType.CONCATENATION, parts, [flat], axis=0, fused_activation="NONE")
    feats = b.t("features", (n_frames, channels), "int16")
    b.op(
        OpType.RESHAPE,
        [flat, b.const("features_shape", [n_frames, channels], "int32")],
        [feats],
        new_shape=[n_frames, channels],
    )
    for t in (*parts, flat, feats):  # natural-log units: what a QUANTIZE after it reads
        t.scale, t.zero_point = np.array([2.0**-d.log_scale_shift], np.float32), np.array([0])
    y = _finish(b, feats, output, d.log_scale_shift)
    g = Graph(b.ts, b.ops, [x], [y], name="audio_clip_frontend",
              description=f"picoml.audio.clip_frontend: {samples} samples -> {n_frames} frames; {d.description}")  # fmt: skip
    g.validate()
    g.frame_stride = d.stride  # type: ignore[attr-defined]
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
