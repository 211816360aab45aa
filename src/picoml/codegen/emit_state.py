"""C for state (issue 15): the SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM emitters, ``<name>_reset()`` and the state updates after a run.

Variable tensors live in the arena's persistent region (``plan/planner.py``). ``<name>_reset()``
gives each its initial value (zeros, int8 its zero point, or the ``initial`` array); the first
``<name>_run()`` calls it, so state starts as in the reference interpreter and then carries over
from one run to the next. ``Graph.state_updates`` become copies at the end of ``run``, ordered so
no variable is overwritten before another update reads it (a cycle of updates is refused).
``generate.py`` merges ``STATE_EMITTERS`` / ``STATE_FILES`` and calls ``reset_lines`` / ``update_lines``.
"""

from __future__ import annotations

import numpy as np

from picoml.codegen import cemit
from picoml.codegen.emit_float import f32, fptr
from picoml.codegen.emit_s16 import _int64_array
from picoml.errors import UnsupportedError
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference.interpreter import initial_value

STATE_FILES: dict[OpType, tuple[str, ...]] = {OpType.SVDF: ("pm_svdf_s8",)}


def _at(c, t: Tensor) -> str:
    return f"(void *)(pm_arena.bytes + {c.plan.offset_of(t)})"


def emit_svdf(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y, state = op.inputs[0], op.outputs[0], op.inputs[4]
    wf = c.const_array(f"l{i}_wf", p.wf.astype(np.int8), flash=True)
    wt = c.const_array(f"l{i}_wt", p.wt.astype(state.np_dtype))
    bias = c.const_array(f"l{i}_bias", p.bias.astype(np.int32))
    fields = {
        "batch": x.shape[0], "n_in": x.shape[1], "n_filter": p.n_filter, "n_unit": p.n_unit, "memory": p.memory, "rank": p.rank,
        "x_zp": p.x_zp, "state_zp": p.state_zp, "y_zp": p.y_zp,
        "m1": p.m1[0], "s1": p.m1[1], "m2": p.m2[0], "s2": p.m2[1],
        "state16": int(state.dtype == "int16"), "wf": wf, "wt": wt, "bias": bias,
    }  # fmt: skip
    rec = c.struct("pm_svdf_params", f"l{i}_svdf", fields)
    c.body.append(f"status |= pm_svdf_s8(&{rec}, {c.ptr(x, True)}, {_at(c, state)}, {c.ptr(y)});")


def emit_svdf_float(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y, state = op.inputs[0], op.outputs[0], op.inputs[4]
    wf = c.const_array(f"l{i}_wf", p.wf.astype(np.float32))
    wt = c.const_array(f"l{i}_wt", p.wt.astype(np.float32))
    bias = c.const_array(f"l{i}_bias", p.bias.astype(np.float32)) if p.has_bias else "NULL"
    fields = {
        "batch": x.shape[0], "n_in": x.shape[1], "n_filter": p.n_filter, "n_unit": p.n_unit, "memory": p.memory,
        "rank": p.rank, "wf": wf, "wt": wt, "bias": bias, "lo": f32(p.lo), "hi": f32(p.hi),
    }  # fmt: skip
    rec = c.struct("pm_svdf_f32_params", f"l{i}_svdf", fields)
    c.body.append(f"status |= pm_svdf_f32(&{rec}, {fptr(c, x, True)}, (float *){_at(c, state)}, {fptr(c, y)});")


def emit_lstm(c, op: Op, i: int) -> None:
    """UNIDIRECTIONAL_SEQUENCE_LSTM, int8 or 16x8 (runtime/pm_lstm_s8.c)."""
    p = KERNELS[op.type].prepare(op)
    x, y, h, cs = op.inputs[0], op.outputs[0], op.inputs[18], op.inputs[19]
    wx = c.const_array(f"l{i}_wx", np.stack(p.wx).astype(np.int8))
    wh = c.const_array(f"l{i}_wh", np.stack(p.wh).astype(np.int8))
    b = np.stack(p.bias)
    bias = _int64_array(c, f"l{i}_bias", b) if p.wide else c.const_array(f"l{i}_bias", b.astype(np.int32))
    q = c.const_array(f"l{i}_q", np.array([[*p.mx[k], *p.mh[k]] for k in range(4)], np.int32))
    assert p.tanh_cell is not None
    fields = {
        "batch": p.batch, "steps": p.steps, "n_in": p.n_in, "n_state": p.n_state,
        "time_major": int(p.time_major), "wide": int(p.wide), "x_zp": p.x_zp, "h_zp": p.h_zp,
        "h_lo": p.h_lo, "h_hi": p.h_hi, "m_fc": p.m_fc[0], "s_fc": p.m_fc[1], "m_ic": p.m_ic[0],
        "s_ic": p.m_ic[1], "m_h": p.m_h[0], "s_h": p.m_h[1], "clip": int(p.cell_clip > 0), "qclip": p.qclip,
        "tanh_mult": p.tanh_cell.multiplier, "tanh_shift": p.tanh_cell.left_shift,
        "q": q, "wx": wx, "wh": wh, "bias": bias,
    }  # fmt: skip
    rec = c.struct("pm_lstm_params", f"l{i}_lstm", fields)
    c.body.append(f"status |= pm_lstm_s8(&{rec}, {c.ptr(x, True)}, {_at(c, h)}, (int16_t *){_at(c, cs)}, {c.ptr(y)});")


def emit_lstm_float(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    x, y, h, cs = op.inputs[0], op.outputs[0], op.inputs[18], op.inputs[19]
    fields = {
        "batch": p.batch, "steps": p.steps, "n_in": p.n_in, "n_state": p.n_state,
        "time_major": int(p.time_major), "cell_clip": f32(p.cell_clip),
        "wx": c.const_array(f"l{i}_wx", np.stack(p.wx).astype(np.float32)),
        "wh": c.const_array(f"l{i}_wh", np.stack(p.wh).astype(np.float32)),
        "bias": c.const_array(f"l{i}_bias", np.stack(p.bias).astype(np.float32)),
    }  # fmt: skip
    rec = c.struct("pm_lstm_f32_params", f"l{i}_lstm", fields)
    c.body.append(
        f"status |= pm_lstm_f32(&{rec}, {fptr(c, x, True)}, (float *){_at(c, h)}, (float *){_at(c, cs)}, {fptr(c, y)});"
    )


LSTM = OpType.UNIDIRECTIONAL_SEQUENCE_LSTM
STATE_FILES[LSTM] = ("pm_lstm_s8", "pm_sigmoid_s16")
STATE_EMITTERS = {OpType.SVDF: emit_svdf, LSTM: emit_lstm}
STATE_FLOAT_EMITTERS = {OpType.SVDF: emit_svdf_float, LSTM: emit_lstm_float}  # merged into generate.FLOAT_EMITTERS
STATE_FLOAT_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.SVDF: ("pm_svdf_f32", "pm_math_f32"),
    LSTM: ("pm_lstm_f32", "pm_math_f32"),
}


def reset_lines(c, g: Graph) -> list[str]:
    """The body of ``<name>_reset()``: every variable to its initial value."""
    lines = []
    for k, t in enumerate(v for v in g.tensors if v.variable):
        init = initial_value(t)
        lines.append(cemit.comment(f"state: {t.name}"))
        flat = init.reshape(-1)
        if flat.size and (flat == flat[0]).all() and (t.np_dtype.itemsize == 1 or not flat.any()):
            byte = int(flat.view(np.uint8)[0]) if t.np_dtype.itemsize == 1 else 0
            lines.append(f"memset({_at(c, t)}, {byte}, {t.nbytes});")
        else:
            sym = c.const_array(f"state{k}_initial", init.reshape(-1))
            lines.append(f"memcpy({_at(c, t)}, {sym}, {t.nbytes});")
    return lines


def update_lines(c, g: Graph) -> list[str]:
    """Copies that apply ``g.state_updates`` after the last layer (each value read before its
    variable is overwritten)."""
    pending = [(v, x) for v, x in g.state_updates]
    lines: list[str] = []
    while pending:
        read = {id(x) for _, x in pending}
        ready = next(((v, x) for v, x in pending if id(v) not in read or x is v), None)
        if ready is None:
            raise UnsupportedError(
                f"state updates of {', '.join(v.name for v, _ in pending)} form a cycle; C generation needs an order"
            )
        pending.remove(ready)
        v, x = ready
        if x is v:
            continue
        lines.append(cemit.comment(f"state update: {v.name} <- {x.name}"))
        src = c.const_array(f"state_value{len(lines)}", x.data.reshape(-1)) if x.data is not None else _at(c, x)
        lines.append(f"memmove({_at(c, v)}, {src}, {v.nbytes});")
    return lines
