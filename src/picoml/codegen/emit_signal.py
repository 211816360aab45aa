"""C emitters of tflite-micro's signal-library ops (runtime/pm_signal.[ch]; merged into
``generate.EMITTERS`` / ``KERNEL_FILES``; branch signal).

Every table is computed by the reference kernels' ``prepare`` (the kissfft twiddles, permutation
and stages of ``reference/signal_fft.fft_tables``; the filter-bank and PCAN tables as stored in
the graph) and emitted as a constant array: the C does no floating point. Two kinds of RAM live
outside the arena, as static arrays: the FFT's work buffer (fft_length int16, one per length,
shared by every FFT layer of that length: the layers run one after the other) and the state of
the stateful ops (spectral subtraction's noise estimate, the Delay / Framer / Stacker /
OverlapAdd buffers), which persists across invocations as in tflite-micro; ``<name>_reset()``
returns it to the program-start values (each emitter adds its lines to ``c.resets``).

Identical constant tables (the window, the kissfft tables and configuration, the filter bank and
PCAN tables) are emitted once and shared by every layer that uses them (``c.shared``, keyed by
their content): ``picoml.audio.clip_frontend`` runs 49 copies of one front end, which would
otherwise hold 49 copies of each table.
"""

from __future__ import annotations

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

CTYPES = {"int16": "int16_t", "int32": "int32_t", "uint32": "uint32_t", "uint64": "uint64_t", "bool": "uint8_t"}


def tptr(c, t: Tensor, const: bool = False) -> str:
    """A typed pointer to an activation in the arena."""
    q = "const " if const else ""
    return f"({q}{CTYPES[t.dtype]} *)({q}void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def _shared_array(c, sym: str, values: np.ndarray) -> str:
    """``c.const_array`` once per distinct content: a later layer with the same table gets the
    first one's symbol."""
    a = np.ascontiguousarray(values)
    key = ("array", a.dtype.str, a.shape, a.tobytes())
    if key not in c.shared:
        c.shared[key] = c.const_array(sym, a)
    return c.shared[key]


def _i16(c, sym: str, values) -> str:
    return _shared_array(c, sym, np.asarray(values, np.int64).astype(np.int16))


def _fft_work(c, n: int) -> str:
    """The int16 work buffer of ``n`` values that every FFT layer needing that many shares."""
    key = ("fft_work", n)
    if key not in c.shared:
        c.shared[key] = f"{c.name}_fft_work{n}"
        c.decls.append(f"static int16_t {c.shared[key]}[{n}];\n")
    return c.shared[key]


def emit_window(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    w = _i16(c, f"l{i}_window", p.weights)
    c.body.append(
        f"status |= pm_sig_window({tptr(c, x, True)}, {w}, {p.weights.size}, {x.size}, {p.shift}, {tptr(c, y)});"
    )


def emit_fft_auto_scale(c, op: Op, i: int) -> None:
    x, (y, s) = op.inputs[0], op.outputs
    c.body.append(f"status |= pm_sig_fft_auto_scale({tptr(c, x, True)}, {x.size}, {tptr(c, y)}, {tptr(c, s)});")


def _fft_config(c, i: int, t, op: Op) -> str:
    if t.bits != 16:
        raise UnsupportedError(f"{op.label}: only int16 {op.type} compiles to C (int32 runs in the interpreter)")
    stages = np.array([v for st in t.stages for v in st], np.int32)
    fields = {
        "n": t.n,
        "n_stages": len(t.stages),
        "stages": _shared_array(c, f"l{i}_stages", stages),
        "perm": _i16(c, f"l{i}_perm", t.perm),
        "twiddles": _i16(c, f"l{i}_twiddles", t.twiddles.reshape(-1)),
        "super_twiddles": _i16(c, f"l{i}_super_twiddles", t.super_twiddles.reshape(-1)),
        "inverse": int(t.inverse),
    }
    key = ("pm_sig_fft", tuple(fields.items()))
    if key not in c.shared:
        c.shared[key] = c.struct("pm_sig_fft", f"l{i}_fft", fields)
    return c.shared[key]


def emit_irfft(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    cfg = _fft_config(c, i, p.tables, op)
    work = _fft_work(c, 2 * p.tables.n)
    rows = x.size // p.in_len
    c.body.append(f"status |= pm_sig_irfft_s16(&{cfg}, {tptr(c, x, True)}, {rows}, {work}, {tptr(c, y)});")


def emit_rfft(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    t = p.tables
    x, y = op.inputs[0], op.outputs[0]
    cfg = _fft_config(c, i, t, op)
    work = _fft_work(c, t.n)
    rows = x.size // p.in_len
    c.body.append(f"status |= pm_sig_rfft_s16(&{cfg}, {tptr(c, x, True)}, {p.in_len}, {rows}, {work}, {tptr(c, y)});")


def emit_energy(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    c.body.append(f"status |= pm_sig_energy({tptr(c, x, True)}, {p.start}, {p.end}, {y.size}, {tptr(c, y)});")


def emit_filter_bank(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    names = ("weights", "unweights", "fstarts", "wstarts", "widths")
    tabs = ", ".join(_i16(c, f"l{i}_{n}", a) for n, a in zip(names, p.tables, strict=True))
    c.body.append(f"status |= pm_sig_filter_bank({tptr(c, x, True)}, {y.size}, {tabs}, {tptr(c, y)});")


def emit_square_root(c, op: Op, i: int) -> None:
    x, s = op.inputs
    y = op.outputs[0]
    shift = f"(int32_t){int(np.asarray(s.data).reshape(-1)[0])}" if s.data is not None else f"*{tptr(c, s, True)}"
    c.body.append(f"status |= pm_sig_filter_bank_sqrt({tptr(c, x, True)}, {x.size}, {shift}, {tptr(c, y)});")


def emit_spectral_subtraction(c, op: Op, i: int) -> None:
    a = op.attrs
    x, (y, noise) = op.inputs[0], op.outputs
    fields = {
        k: int(a[k])
        for k in (
            "smoothing",
            "one_minus_smoothing",
            "alternate_smoothing",
            "alternate_one_minus_smoothing",
            "min_signal_remaining",
            "smoothing_bits",
            "spectral_subtraction_bits",
        )  # fmt: skip
    }
    fields["clamping"] = int(bool(a["clamping"]))
    prm = c.struct("pm_sig_spectral", f"l{i}_spectral", fields)
    state = f"{c.name}_l{i}_noise"
    c.decls.append(f"static uint32_t {state}[{x.size}]; /* noise estimate: persists across invocations */\n")
    c.resets.append(f"memset({state}, 0, sizeof {state});")
    c.body.append(
        f"status |= pm_sig_spectral_subtraction(&{prm}, {tptr(c, x, True)}, {x.size}, {state}, {tptr(c, y)}, "
        f"{tptr(c, noise)});"
    )


def emit_pcan(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, noise = op.inputs[0], op.inputs[1]
    y = op.outputs[0]
    lut = _i16(c, f"l{i}_gain_lut", p.lut)
    c.body.append(
        f"status |= pm_sig_pcan({lut}, {p.snr_shift}, {tptr(c, x, True)}, {tptr(c, noise, True)}, {x.size}, "
        f"{tptr(c, y)});"
    )


def emit_log(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    c.body.append(
        f"status |= pm_sig_filter_bank_log({tptr(c, x, True)}, {x.size}, {p.correction_bits}, "
        f"UINT32_C({p.output_scale}), {tptr(c, y)});"
    )


def _rows(t: Tensor, inner: int) -> int:
    return t.size // inner


def emit_delay(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    rows = _rows(x, p.frame)
    state = f"{c.name}_l{i}_delay"
    c.decls.append(
        f"static int16_t {state}[{max(rows * p.delay, 1)}]; /* the last delay_length samples of each row */\n"
    )
    c.resets.append(f"memset({state}, 0, sizeof {state});")
    c.body.append(f"status |= pm_sig_delay({tptr(c, x, True)}, {rows}, {p.frame}, {p.delay}, {state}, {tptr(c, y)});")


def emit_framer(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, (y, valid) = op.inputs[0], op.outputs
    rows = _rows(x, p.innermost)
    cap = max(-(-p.size // p.step) * p.step, p.size)
    prm = c.struct("pm_sig_framer_params", f"l{i}_framer", {"size": p.size, "step": p.step, "n_frames": p.n_frames,
                                                              "innermost": p.innermost, "capacity": cap})  # fmt: skip
    fifo, n = f"{c.name}_l{i}_fifo", f"{c.name}_l{i}_fill"
    c.decls.append(
        f"static int16_t {fifo}[{rows * cap}];\nstatic int32_t {n} = {p.size - p.step if p.prefill else 0};\n"
    )
    c.resets += [f"memset({fifo}, 0, sizeof {fifo});", f"{n} = {p.size - p.step if p.prefill else 0};"]
    c.body.append(
        f"status |= pm_sig_framer(&{prm}, {tptr(c, x, True)}, {rows}, {fifo}, &{n}, {tptr(c, y)}, {tptr(c, valid)});"
    )


def emit_stacker(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, (y, valid) = op.inputs[0], op.outputs
    prm = c.struct("pm_sig_stacker_params", f"l{i}_stacker",
                   {"channels": p.channels, "left": p.left, "right": p.right, "step": p.step})  # fmt: skip
    fifo, n, started = f"{c.name}_l{i}_fifo", f"{c.name}_l{i}_fill", f"{c.name}_l{i}_started"
    size = p.channels * (p.left + p.right + 1)
    c.decls.append(f"static int16_t {fifo}[{size}];\nstatic int32_t {n}, {started};\n")
    c.resets += [f"memset({fifo}, 0, sizeof {fifo});", f"{n} = 0;", f"{started} = 0;"]
    c.body.append(
        f"status |= pm_sig_stacker(&{prm}, {tptr(c, x, True)}, {fifo}, &{n}, &{started}, {tptr(c, y)}, "
        f"{tptr(c, valid)});"
    )


def emit_overlap_add(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y = op.inputs[0], op.outputs[0]
    rows = x.size // (p.frames * p.size)
    state = f"{c.name}_l{i}_overlap"
    c.decls.append(f"static int16_t {state}[{rows * p.size}];\n")
    c.resets.append(f"memset({state}, 0, sizeof {state});")
    c.body.append(
        f"status |= pm_sig_overlap_add_s16({tptr(c, x, True)}, {rows}, {p.frames}, {p.size}, {p.step}, {state}, "
        f"{tptr(c, y)});"
    )


SIGNAL_EMITTERS = {
    OpType.SIGNAL_WINDOW: emit_window,
    OpType.SIGNAL_FFT_AUTO_SCALE: emit_fft_auto_scale,
    OpType.SIGNAL_RFFT: emit_rfft,
    OpType.SIGNAL_ENERGY: emit_energy,
    OpType.SIGNAL_FILTER_BANK: emit_filter_bank,
    OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT: emit_square_root,
    OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: emit_spectral_subtraction,
    OpType.SIGNAL_PCAN: emit_pcan,
    OpType.SIGNAL_FILTER_BANK_LOG: emit_log,
    OpType.SIGNAL_IRFFT: emit_irfft,
    OpType.SIGNAL_DELAY: emit_delay,
    OpType.SIGNAL_FRAMER: emit_framer,
    OpType.SIGNAL_STACKER: emit_stacker,
    OpType.SIGNAL_OVERLAP_ADD: emit_overlap_add,  # int16 (float32 OverlapAdd: no C kernel)
}
SIGNAL_FILES: dict[OpType, tuple[str, ...]] = {t: ("pm_signal",) for t in SIGNAL_EMITTERS}

__all__ = ["SIGNAL_EMITTERS", "SIGNAL_FILES", "tptr"]
