"""int8 ADD / MUL by a per-channel constant (an unfused BatchNorm, typically after an
activation) as one table per channel.

The general kernels (pm_add_s8, pm_mul_s8) requantize each element with broadcast index
arithmetic: 80-170 instructions per element on Cortex-M0+. When one operand is a constant that
varies only along the channel axis, the output of each channel is a function of the input code
alone, so the generator runs the reference kernel on all 256 codes of every channel and the C
looks the result up (``pm_lut_channels_s8``): exact by construction, one load per element, at
the price of 256 bytes of flash per channel (used up to ``TABLE_LIMIT``)."""

from __future__ import annotations

import numpy as np

from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

#: largest set of tables (bytes of flash) traded for speed; above it the general kernel runs
TABLE_LIMIT = 16 * 1024
FILE = "pm_lut_s8"


def _channel_const(op: Op) -> tuple[int, Tensor, Tensor] | None:
    """(index of the constant operand, the constant, the activation) if ``op`` qualifies."""
    if op.type not in (OpType.ADD, OpType.MUL) or len(op.inputs) != 2:
        return None
    y = op.outputs[0]
    consts = [k for k, t in enumerate(op.inputs) if t is not None and t.data is not None]
    if len(consts) != 1 or y.dtype != "int8" or not y.shape:
        return None
    k = consts[0]
    c, x = op.inputs[k], op.inputs[1 - k]
    if x.shape != y.shape or any(d != 1 for d in c.shape[:-1]) or len(c.shape) > len(y.shape):
        return None
    channels = y.shape[-1]
    if c.shape and c.shape[-1] not in (1, channels):
        return None
    return k, c, x


def uses_channel_tables(op: Op) -> bool:
    """Whether the generator emits ``op`` as per-channel tables."""
    found = _channel_const(op)
    return found is not None and 256 * op.outputs[0].shape[-1] <= TABLE_LIMIT


def channel_tables(op: Op) -> np.ndarray:
    """int8 [channels, 256]: the reference kernel's output for every input code of every channel."""
    k, const, x = _channel_const(op)
    y = op.outputs[0]
    channels = y.shape[-1]
    row = (1, channels)
    xs = Tensor(x.name, row, "int8", x.scale, x.zero_point)
    cdata = np.broadcast_to(np.asarray(const.data).reshape(-1), (channels,)).reshape(row).copy()
    cs = Tensor(const.name, row, const.dtype, const.scale, const.zero_point, data=cdata)
    ys = Tensor(y.name, row, "int8", y.scale, y.zero_point)
    shell = Op(op.type, [xs, cs] if k == 1 else [cs, xs], [ys], dict(op.attrs), name=op.name)
    kern = KERNELS[op.type]
    codes = np.repeat(np.arange(-128, 128, dtype=np.int8)[:, None, None], channels, axis=2)  # (256, 1, C)
    ins = [codes, cdata[None]] if k == 1 else [cdata[None], codes]
    out = kern.evaluate(kern.prepare(shell), ins)  # (256, 1, C)
    return np.ascontiguousarray(np.asarray(out, np.int8)[:, 0, :].T)


def emit_channel_tables(c, op: Op, i: int) -> None:
    _, _, x = _channel_const(op)
    y = op.outputs[0]
    channels = y.shape[-1]
    tables = c.const_array(f"l{i}_tables", channel_tables(op).reshape(-1), flash=True)
    c.files.add(FILE)
    c.body.append(
        f"status |= pm_lut_channels_s8({tables}, {channels}, {y.size // channels}, {c.ptr(x, True)}, {c.ptr(y)});"
    )
