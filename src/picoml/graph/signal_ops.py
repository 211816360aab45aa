"""tflite-micro's signal library (``signal/micro/kernels``): custom ops ``Signal...`` (issue 15, branch signal).

The audio front end of a keyword spotter: Window → FftAutoScale → Rfft → Energy → FilterBank →
FilterBankSquareRoot → FilterBankSpectralSubtraction → PCAN → FilterBankLog, on int16, uint32 and
uint64 tensors. ``graph/ops.py`` registers the ``OpDef`` s built here.

Options are a flexbuffer map, but tflite-micro reads them by *position* (``FlexbufferWrapper::
ElementAsInt32(i)``: the map's values in key order), not by name: a missing or extra key shifts
every later option. So every option is required (``Attr`` default None) and the reader refuses
other keys (frontends/tflite.py). Every size, index and shift that tflite-micro would use out of
bounds or with undefined behaviour is refused here, with the op and tensor named, before a kernel
allocates anything.
"""

from __future__ import annotations

import numpy as np

from picoml.errors import GraphError, UnsupportedError
from picoml.graph.optypes import OpType

#: the custom_code of each op in a .tflite file (tflite-micro's op resolver names)
SIGNAL_CODES = {
    OpType.SIGNAL_WINDOW: "SignalWindow",
    OpType.SIGNAL_FFT_AUTO_SCALE: "SignalFftAutoScale",
    OpType.SIGNAL_RFFT: "SignalRfft",
    OpType.SIGNAL_ENERGY: "SignalEnergy",
    OpType.SIGNAL_FILTER_BANK: "SignalFilterBank",
    OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT: "SignalFilterBankSquareRoot",
    OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: "SignalFilterBankSpectralSubtraction",
    OpType.SIGNAL_PCAN: "SignalPCAN",
    OpType.SIGNAL_FILTER_BANK_LOG: "SignalFilterBankLog",
    OpType.SIGNAL_DELAY: "SignalDelay",
    OpType.SIGNAL_FRAMER: "SignalFramer",
    OpType.SIGNAL_STACKER: "SignalStacker",
    OpType.SIGNAL_IRFFT: "SignalIrfft",
    OpType.SIGNAL_OVERLAP_ADD: "SignalOverlapAdd",
}
#: TensorType code of OverlapAdd's option 'T' -> dtype
OVERLAP_ADD_TYPES = {7: "int16", 0: "float32"}
#: the longest delay, frame and stack picoml builds (their FIFOs are static RAM on the device)
MAX_STREAM = 1 << 16
#: largest FFT picoml builds (kissfft's int16 twiddles; a 32768-point FFT needs 96 KiB of tables)
MAX_FFT_LENGTH = 1 << 15
#: PCAN's gain table: WideDynamicFunction reads lut[4·msb(x) − 6 + 2] for msb(x) up to 32
PCAN_LUT_SIZE = 125
#: TensorType code of the Rfft / Irfft option 'T' -> dtype
RFFT_TYPES = {7: "int16", 2: "int32", 0: "float32"}


def _need(op, t, dtype: str, rank: int | None, what: str, labels: bool = False) -> None:
    """``labels``: an int16 output may carry symmetric quantization parameters (zero point 0) that
    say what its codes mean to the ops after it (the kernel computes the codes as tflite-micro does,
    whatever they say; e.g. FilterBankLog's log units, dequantized or requantized next)."""
    if t is None:
        raise GraphError(f"{op.label}: {what} is missing")
    if t.dtype != dtype:
        raise UnsupportedError(f"{op.label}: {what} {t.name!r} is {t.dtype}; tflite-micro's kernel takes {dtype}")
    if rank is not None and len(t.shape) != rank:
        raise GraphError(f"{op.label}: {what} {t.name!r} has rank {len(t.shape)}, must be {rank}")
    if t.quantized and not (labels and dtype == "int16" and not np.asarray(t.zero_point).any()):
        raise GraphError(f"{op.label}: {what} {t.name!r} cannot carry quantization parameters")


def _const(op, t, what: str) -> np.ndarray:
    if t.data is None:
        raise UnsupportedError(f"{op.label}: {what} {t.name!r} must be a constant tensor")
    return np.asarray(t.data).reshape(-1)


def _attr(op, name: str, lo: int, hi: int) -> int:
    v = op.attrs.get(name)
    if v is None or isinstance(v, float) or not lo <= int(v) <= hi:
        raise UnsupportedError(f"{op.label}: option {name} = {v!r} must be an integer in {lo}..{hi}")
    return int(v)


def _outputs(op, n: int) -> None:
    if len(op.outputs) != n:
        raise GraphError(f"{op.label}: has {len(op.outputs)} outputs, {op.type} writes {n}")


# ----------------------------------------------------------------- shape inference (checks sizes too)
def infer_window(op) -> list[tuple[int, ...]]:
    x, w = op.inputs[0], op.inputs[1]
    _attr(op, "shift", 0, 31)
    if len(x.shape) < 1 or len(w.shape) != 1 or w.shape[0] < 1:
        raise GraphError(f"{op.label}: input must have rank >= 1 and weights {w.name!r} rank 1")
    if x.size % w.shape[0]:
        raise GraphError(f"{op.label}: input of {x.size} values is not a whole number of {w.shape[0]}-value windows")
    return [tuple(x.shape)]


def infer_fft_auto_scale(op) -> list[tuple[int, ...]]:
    _outputs(op, 2)
    x = op.inputs[0]
    if len(x.shape) != 1:
        raise GraphError(f"{op.label}: input {x.name!r} has rank {len(x.shape)}, must be 1")
    return [tuple(x.shape), ()]


def fft_length(op) -> int:
    n = _attr(op, "fft_length", 2, MAX_FFT_LENGTH)
    if n & (n - 1):
        raise UnsupportedError(f"{op.label}: fft_length {n} is not a power of two (picoml builds radix-2/4 FFTs only)")
    return n


def infer_rfft(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    n = fft_length(op)
    t = _attr(op, "T", 0, 255)
    if t not in RFFT_TYPES:
        raise UnsupportedError(f"{op.label}: Rfft of tensor type {t}; tflite-micro runs int16, int32 and float32")
    if len(x.shape) < 1 or not 1 <= x.shape[-1] <= n:
        raise GraphError(f"{op.label}: input {x.name!r} {list(x.shape)}: its last dimension must be 1..fft_length {n}")
    return [tuple(x.shape[:-1]) + (2 * (n // 2 + 1),)]


def infer_irfft(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    n = fft_length(op)
    t = _attr(op, "T", 0, 255)
    if t not in RFFT_TYPES:
        raise UnsupportedError(f"{op.label}: Irfft of tensor type {t}; tflite-micro runs int16, int32 and float32")
    if len(x.shape) < 1 or x.shape[-1] != n + 2:
        raise GraphError(
            f"{op.label}: input {x.name!r} {list(x.shape)}: its last dimension must be fft_length + 2 = {n + 2}"
        )
    return [tuple(x.shape[:-1]) + (n,)]


def energy_range(op) -> tuple[int, int]:
    x = op.inputs[0]
    bins = x.shape[0] // 2 if len(x.shape) == 1 else 0
    end = _attr(op, "end_index", 0, bins)
    start = _attr(op, "start_index", 0, end)
    return start, end


def infer_energy(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    if len(x.shape) != 1 or x.shape[0] % 2:
        raise GraphError(f"{op.label}: input {x.name!r} must be 1-D complex (an even number of int16 values)")
    energy_range(op)
    return [(x.shape[0] // 2,)]


def filter_bank_tables(op) -> tuple[np.ndarray, ...]:
    """The five constant tables (weights, unweights, channel frequency starts, weight starts,
    widths), checked so that every index the kernel forms lies inside its table."""
    x = op.inputs[0]
    nc = _attr(op, "num_channels", 1, 1 << 15)
    names = ("weights", "unweights", "channel_frequency_starts", "channel_weight_starts", "channel_widths")
    tabs = []
    for k, name in enumerate(names, start=1):
        t = op.inputs[k]
        _need(op, t, "int16", 1, name)
        tabs.append(_const(op, t, name).astype(np.int64))
    w, u, fs, ws, cw = tabs
    for name, t in zip(names[2:], (fs, ws, cw), strict=True):
        if t.size < nc + 1:
            raise GraphError(f"{op.label}: {name} has {t.size} values, num_channels {nc} needs {nc + 1}")
    fs, ws, cw = fs[: nc + 1], ws[: nc + 1], cw[: nc + 1]
    n_in, n_w = x.shape[0] if len(x.shape) == 1 else 0, min(w.size, u.size)
    bad = (fs < 0) | (ws < 0) | (cw < 0) | (fs + cw > n_in) | (ws + cw > n_w)
    if bad.any():
        c = int(np.argmax(bad))
        raise GraphError(
            f"{op.label}: channel {c} (frequency start {fs[c]}, weight start {ws[c]}, width {cw[c]}) reads outside "
            f"the {n_in} input values or {n_w} weights"
        )
    return w, u, fs, ws, cw


def infer_filter_bank(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    if len(x.shape) != 1:
        raise GraphError(f"{op.label}: input {x.name!r} has rank {len(x.shape)}, must be 1")
    filter_bank_tables(op)
    return [(int(op.attrs["num_channels"]),)]


def infer_square_root(op) -> list[tuple[int, ...]]:
    x, s = op.inputs[0], op.inputs[1]
    if len(x.shape) != 1 or len(s.shape) != 0:
        raise GraphError(f"{op.label}: input must be 1-D and scale bits {s.name!r} a scalar")
    return [tuple(x.shape)]


SPECTRAL_ATTRS = (
    "alternate_one_minus_smoothing", "alternate_smoothing", "clamping", "min_signal_remaining", "num_channels",
    "one_minus_smoothing", "smoothing", "smoothing_bits", "spectral_subtraction_bits",
)  # fmt: skip


def infer_spectral_subtraction(op) -> list[tuple[int, ...]]:
    _outputs(op, 2)
    x = op.inputs[0]
    if len(x.shape) != 1:
        raise GraphError(f"{op.label}: input {x.name!r} has rank {len(x.shape)}, must be 1")
    nc = _attr(op, "num_channels", 1, 1 << 15)
    if nc != x.shape[0]:
        raise GraphError(f"{op.label}: num_channels {nc} != input {x.name!r} size {x.shape[0]}")
    for k in ("alternate_one_minus_smoothing", "alternate_smoothing", "min_signal_remaining",
              "one_minus_smoothing", "smoothing"):  # fmt: skip
        _attr(op, k, 0, 2**31 - 1)
    _attr(op, "smoothing_bits", 0, 31)
    _attr(op, "spectral_subtraction_bits", 0, 63)
    if not isinstance(op.attrs.get("clamping"), bool):
        raise UnsupportedError(f"{op.label}: option clamping = {op.attrs.get('clamping')!r} must be a bool")
    return [(nc,), (nc,)]


def infer_pcan(op) -> list[tuple[int, ...]]:
    x, noise, lut = op.inputs[0], op.inputs[1], op.inputs[2]
    _attr(op, "snr_shift", 0, 63)
    if len(x.shape) != 1 or tuple(noise.shape) != tuple(x.shape) or len(lut.shape) != 1:
        raise GraphError(f"{op.label}: input and noise estimate must be 1-D of one size, the gain table 1-D")
    if lut.shape[0] < PCAN_LUT_SIZE:
        raise GraphError(
            f"{op.label}: gain table {lut.name!r} has {lut.shape[0]} values, the kernel reads {PCAN_LUT_SIZE}"
        )
    return [tuple(x.shape)]


def infer_log(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    _attr(op, "input_correction_bits", 0, 31)
    _attr(op, "output_scale", 0, 2**31 - 1)
    if len(x.shape) != 1:
        raise GraphError(f"{op.label}: input {x.name!r} has rank {len(x.shape)}, must be 1")
    return [tuple(x.shape)]


def infer_delay(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    _attr(op, "delay_length", 0, MAX_STREAM)
    if len(x.shape) < 1:
        raise GraphError(f"{op.label}: input {x.name!r} must have rank >= 1")
    return [tuple(x.shape)]


def infer_framer(op) -> list[tuple[int, ...]]:
    _outputs(op, 2)
    x = op.inputs[0]
    size, step = _attr(op, "frame_size", 1, MAX_STREAM), _attr(op, "frame_step", 1, MAX_STREAM)
    if not isinstance(op.attrs.get("prefill"), bool):
        raise UnsupportedError(f"{op.label}: option prefill = {op.attrs.get('prefill')!r} must be a bool")
    if op.attrs["prefill"] and size < step:
        raise UnsupportedError(
            f"{op.label}: prefill with frame_size {size} < frame_step {step} (tflite-micro overflows)"
        )
    if len(x.shape) < 1 or x.shape[-1] < step or x.shape[-1] % step:
        raise GraphError(
            f"{op.label}: input {x.name!r} {list(x.shape)}: its last dimension must be a multiple of {step}"
        )
    return [tuple(x.shape[:-1]) + (x.shape[-1] // step, size), ()]


def infer_stacker(op) -> list[tuple[int, ...]]:
    _outputs(op, 2)
    x = op.inputs[0]
    nc = _attr(op, "num_channels", 1, MAX_STREAM)
    left, right = _attr(op, "stacker_left_context", 0, 255), _attr(op, "stacker_right_context", 0, 255)
    _attr(op, "stacker_step", 1, left + right + 1)
    if len(x.shape) != 1 or x.shape[0] != nc:
        raise GraphError(f"{op.label}: input {x.name!r} {list(x.shape)} must be 1-D with num_channels {nc} values")
    return [(nc * (left + right + 1),), ()]


def infer_overlap_add(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    t = _attr(op, "T", 0, 255)
    if t not in OVERLAP_ADD_TYPES:
        raise UnsupportedError(
            f"{op.label}: OverlapAdd of tensor type {t}; tflite-micro runs int16 (7) and float32 (0)"
        )
    if len(x.shape) < 2:
        raise GraphError(f"{op.label}: input {x.name!r} must have rank >= 2 (frames, frame size)")
    step = _attr(op, "frame_step", 1, x.shape[-1])
    return [tuple(x.shape[:-2]) + (x.shape[-2] * step,)]


def check_overlap_add(op) -> None:
    dt = OVERLAP_ADD_TYPES.get(int(op.attrs.get("T") or 0), "int16")
    _need(op, op.inputs[0], dt, None, "input 0")
    _need(op, op.outputs[0], dt, None, "output 0")


# ----------------------------------------------------------------- dtype rules (each kernel's Prepare)
_TYPES = {
    OpType.SIGNAL_WINDOW: (("int16", "int16"), ("int16",)),
    OpType.SIGNAL_FFT_AUTO_SCALE: (("int16",), ("int16", "int32")),
    OpType.SIGNAL_RFFT: (("int16",), ("int16",)),
    OpType.SIGNAL_ENERGY: (("int16",), ("uint32",)),
    OpType.SIGNAL_FILTER_BANK: (("uint32",) + ("int16",) * 5, ("uint64",)),
    OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT: (("uint64", "int32"), ("uint32",)),
    OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: (("uint32",), ("uint32", "uint32")),
    OpType.SIGNAL_PCAN: (("uint32", "uint32", "int16"), ("uint32",)),
    OpType.SIGNAL_FILTER_BANK_LOG: (("uint32",), ("int16",)),
    OpType.SIGNAL_DELAY: (("int16",), ("int16",)),
    OpType.SIGNAL_FRAMER: (("int16",), ("int16", "bool")),
    OpType.SIGNAL_STACKER: (("int16",), ("int16", "bool")),
    OpType.SIGNAL_IRFFT: (("int16",), ("int16",)),
}


def check_signal(op) -> None:
    if op.type in (OpType.SIGNAL_RFFT, OpType.SIGNAL_IRFFT):
        code = op.attrs.get("T")
        if isinstance(code, float) or code not in RFFT_TYPES:
            raise UnsupportedError(
                f"{op.label}: tensor type {code!r}; tflite-micro runs int16 (7), int32 (2) and float32 (0) FFTs"
            )
        dt = RFFT_TYPES[code]
        _need(op, op.inputs[0], dt, None, "input 0")
        _need(op, op.outputs[0], dt, None, "output 0")
        return
    ins, outs = _TYPES[op.type]
    for k, (t, dt) in enumerate(zip(op.inputs, ins, strict=True)):
        _need(op, t, dt, None, f"input {k}")
    for k, (t, dt) in enumerate(zip(op.outputs, outs, strict=False)):
        _need(op, t, dt, None, f"output {k}", labels=True)
    if op.type == OpType.SIGNAL_WINDOW:
        _const(op, op.inputs[1], "weights")
    if op.type == OpType.SIGNAL_PCAN:
        _const(op, op.inputs[2], "gain table")


def op_defs(OpDef, Attr) -> list:  # noqa: N803 (classes)
    def req(*names: str, kinds: dict | None = None) -> tuple:
        return tuple(Attr(n, (kinds or {}).get(n, "flex_i"), None, -1) for n in names)

    def sig(t, attrs, n_in, infer, doc, n_out=1):
        return OpDef(
            t,
            32,
            0,
            attrs,
            n_in,
            n_in,
            infer,
            doc,
            int8_kernel=False,
            check_types=check_signal,
            max_outputs=n_out,
            custom_code=SIGNAL_CODES[t],
        )

    return [
        sig(OpType.SIGNAL_WINDOW, req("shift"), 2, infer_window,
            "int16 x · window >> shift, saturated (custom op SignalWindow)"),
        sig(OpType.SIGNAL_FFT_AUTO_SCALE, (), 1, infer_fft_auto_scale,
            "int16 x << s with s the headroom of max |x|; outputs (x << s, s) (custom op SignalFftAutoScale)", 2),
        sig(OpType.SIGNAL_RFFT, req("T", "fft_length"), 1, infer_rfft,
            "kissfft fixed-point int16 real FFT of each row, zero-padded (custom op SignalRfft)"),
        sig(OpType.SIGNAL_ENERGY, req("end_index", "start_index"), 1, infer_energy,
            "re² + im² of complex int16 bins start..end-1 as uint32 (custom op SignalEnergy)"),
        sig(OpType.SIGNAL_FILTER_BANK, req("num_channels"), 6, infer_filter_bank,
            "triangular mel filter bank: uint64 weighted sums of uint32 energies (custom op SignalFilterBank)"),
        sig(OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT, (), 2, infer_square_root,
            "rounded integer sqrt of uint64 channels >> scale bits (custom op SignalFilterBankSquareRoot)"),
        sig(OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION, req(*SPECTRAL_ATTRS, kinds={"clamping": "flex_b"}), 1,
            infer_spectral_subtraction,
            "noise estimate (state across calls) subtracted from uint32 channels; outputs (signal, noise) "
            "(custom op SignalFilterBankSpectralSubtraction)", 2),
        sig(OpType.SIGNAL_PCAN, req("snr_shift"), 3, infer_pcan,
            "per-channel automatic gain control by the noise estimate (custom op SignalPCAN)"),
        sig(OpType.SIGNAL_FILTER_BANK_LOG, req("input_correction_bits", "output_scale"), 1, infer_log,
            "fixed-point log of uint32 channels as int16 (custom op SignalFilterBankLog)"),
        sig(OpType.SIGNAL_DELAY, req("delay_length"), 1, infer_delay,
            "int16 rows delayed by delay_length samples (state across calls; custom op SignalDelay)"),
        sig(OpType.SIGNAL_FRAMER, req("frame_size", "frame_step", "prefill", kinds={"prefill": "flex_b"}), 1,
            infer_framer, "overlapping int16 frames of a sample stream, and a valid flag (custom op SignalFramer)", 2),
        sig(OpType.SIGNAL_STACKER, req("num_channels", "stacker_left_context", "stacker_right_context",
                                       "stacker_step"), 1, infer_stacker,
            "int16 feature frames stacked with left/right context, and a valid flag (custom op SignalStacker)", 2),
        OpDef(OpType.SIGNAL_OVERLAP_ADD, 32, 0, req("T", "frame_step"), 1, 1, infer_overlap_add,
              "frames overlap-added into a sample stream, frame_step samples out per frame (state across calls; "
              "custom op SignalOverlapAdd)", int8_kernel=False, check_types=check_overlap_add,
              custom_code=SIGNAL_CODES[OpType.SIGNAL_OVERLAP_ADD]),
        sig(OpType.SIGNAL_IRFFT, req("T", "fft_length"), 1, infer_irfft,
            "kissfft fixed-point int16 inverse real FFT of each row of n/2 + 1 bins (custom op SignalIrfft)"),
    ]  # fmt: skip
