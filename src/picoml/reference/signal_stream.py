"""The stateful signal-library ops: Delay, Framer, Stacker, OverlapAdd (custom ops SignalDelay /
SignalFramer / SignalStacker / SignalOverlapAdd; tflite-micro's signal/micro/kernels/delay.cc,
framer.cc, stacker.cc over signal/src/circular_buffer.cc, overlap_add.cc + signal/src/overlap_add.cc), and the stream registry that carries state between invocations.

Each op keeps int16 FIFOs (tflite-micro's circular buffers) whose *lengths* do not depend on the data,
so a state is one (streams, length) array per FIFO. ``evaluate`` runs every batch row from the reset
state (one step of independent streams); ``STREAM[op] = (init, step)`` carries the state over a
stream: the interpreter keeps it across calls, ``reference.stream.run_stream`` across many streams.

Where tflite-micro reports an output as not valid (Framer, Stacker: ``output_valid`` false) it leaves
the output tensor as the arena held it; picoml writes zeros there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import signal as sig


# ----------------------------------------------------------------- Delay
@dataclass(frozen=True)
class DelayParams:
    delay: int
    frame: int


def prepare_delay(op: Op) -> DelayParams:
    return DelayParams(int(op.attrs["delay_length"]), op.inputs[0].shape[-1])


def _rows(x: np.ndarray, frame: int) -> np.ndarray:
    return x.reshape(-1, frame)


def delay_init(p: DelayParams, streams: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return [np.zeros((streams * rows, p.delay), np.int16)]


def delay_step(p: DelayParams, inputs: list[np.ndarray], state: list[np.ndarray]):
    x = inputs[0]
    fifo = np.concatenate([state[0], _rows(x, p.frame)], axis=1)
    return [fifo[:, : p.frame].reshape(x.shape)], [fifo[:, p.frame :]]


# ----------------------------------------------------------------- Framer
@dataclass(frozen=True)
class FramerParams:
    size: int
    step: int
    prefill: bool
    n_frames: int
    innermost: int


def prepare_framer(op: Op) -> FramerParams:
    a = op.attrs
    inner = op.inputs[0].shape[-1]
    return FramerParams(
        int(a["frame_size"]), int(a["frame_step"]), bool(a["prefill"]), inner // int(a["frame_step"]), inner
    )


def framer_init(p: FramerParams, streams: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1
    return [np.zeros((streams * rows, p.size - p.step if p.prefill else 0), np.int16)]


def framer_step(p: FramerParams, inputs: list[np.ndarray], state: list[np.ndarray]):
    x = inputs[0]
    rows = _rows(x, p.innermost)
    fifo = state[0]
    out = np.zeros((rows.shape[0], p.n_frames, p.size), np.int16)
    valid = True
    for f in range(p.n_frames):
        fifo = np.concatenate([fifo, rows[:, f * p.step : (f + 1) * p.step]], axis=1)
        if fifo.shape[1] >= p.size:
            out[:, f] = fifo[:, : p.size]
            fifo = fifo[:, p.step :]
        else:
            valid = False
    n = x.shape[0]
    y = out.reshape(x.shape[:-1] + (p.n_frames, p.size))
    return [y, np.full((n,), valid)], [fifo]


# ----------------------------------------------------------------- Stacker
@dataclass(frozen=True)
class StackerParams:
    channels: int
    left: int
    right: int
    step: int


def prepare_stacker(op: Op) -> StackerParams:
    a = op.attrs
    return StackerParams(
        int(a["num_channels"]), int(a["stacker_left_context"]), int(a["stacker_right_context"]), int(a["stacker_step"])
    )


def stacker_init(p: StackerParams, streams: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    return [np.zeros((streams, 0), np.int16), np.zeros((streams, 1), bool)]  # FIFO, has_first_frame


def stacker_step(p: StackerParams, inputs: list[np.ndarray], state: list[np.ndarray]):
    x = inputs[0]
    fifo, started = state[0], state[1]
    fifo = np.concatenate([fifo, x[:, : p.channels]], axis=1)
    if not started.all():  # the first frame is repeated left_context more times
        fifo = np.concatenate([fifo] + [x[:, : p.channels]] * p.left, axis=1)
        started = np.ones_like(started)
    size = p.channels * (p.left + p.right + 1)
    n = x.shape[0]
    if fifo.shape[1] >= size:
        y, valid = fifo[:, :size].copy(), True
        fifo = fifo[:, p.channels * p.step :]
    else:
        y, valid = np.zeros((n, size), np.int16), False
    return [y, np.full((n,), valid)], [fifo, started]


# ----------------------------------------------------------------- OverlapAdd
@dataclass(frozen=True)
class OverlapAddParams:
    step: int
    frames: int
    size: int
    dtype: np.dtype


def prepare_overlap_add(op: Op) -> OverlapAddParams:
    x = op.inputs[0]
    return OverlapAddParams(int(op.attrs["frame_step"]), x.shape[-2], x.shape[-1], x.np_dtype)


def overlap_add_init(p: OverlapAddParams, streams: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    rows = int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1
    return [np.zeros((streams * rows, p.size), p.dtype)]


def overlap_add_step(p: OverlapAddParams, inputs: list[np.ndarray], state: list[np.ndarray]):
    x = inputs[0]
    frames = x.reshape(-1, p.frames, p.size)
    buf = state[0]
    out = np.empty((frames.shape[0], p.frames, p.step), p.dtype)
    for f in range(p.frames):
        if p.dtype == np.int16:  # saturating int16 sum
            buf = np.clip(buf.astype(np.int32) + frames[:, f], -32768, 32767).astype(np.int16)
        else:  # float32: one IEEE add per sample
            buf = (buf + frames[:, f]).astype(np.float32)
        out[:, f] = buf[:, : p.step]
        buf = np.concatenate([buf[:, p.step :], np.zeros((buf.shape[0], p.step), p.dtype)], axis=1)
    return [out.reshape(x.shape[:-2] + (p.frames * p.step,))], [buf]


# ----------------------------------------------------------------- the stream registry
def _stream_eval(init, step):
    """evaluate = one step from the reset state, each batch row its own stream."""

    def evaluate(p, inputs: list[np.ndarray]):
        n = inputs[0].shape[0]
        outs, _ = step(p, inputs, init(p, n, inputs[0].shape[1:]))
        return outs if len(outs) > 1 else outs[0]

    return evaluate


def _spectral_init(p, streams: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    return [np.zeros((streams,) + tuple(shape), np.uint32)]


def _spectral_step(p, inputs: list[np.ndarray], state: list[np.ndarray]):
    y, noise = sig.spectral_subtraction_step(p, inputs[0], state[0])
    return [y, noise], [noise]


#: op -> (init(params, streams, input shape) -> state, step(params, inputs, state) -> (outputs, state))
STREAM = {
    OpType.SIGNAL_DELAY: (delay_init, delay_step),
    OpType.SIGNAL_FRAMER: (framer_init, framer_step),
    OpType.SIGNAL_STACKER: (stacker_init, stacker_step),
    OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: (_spectral_init, _spectral_step),
    OpType.SIGNAL_OVERLAP_ADD: (overlap_add_init, overlap_add_step),
}
evaluate_delay = _stream_eval(delay_init, delay_step)
evaluate_framer = _stream_eval(framer_init, framer_step)
evaluate_stacker = _stream_eval(stacker_init, stacker_step)
evaluate_overlap_add = _stream_eval(overlap_add_init, overlap_add_step)
