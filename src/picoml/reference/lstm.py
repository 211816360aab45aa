"""UNIDIRECTIONAL_SEQUENCE_LSTM reference kernel (tflite-micro ``kernels/lstm_eval.h`` EvalLstm /
LstmStep, ``lstm_eval_common.cc`` parameters), batched over the interpreter's leading axis.

Every time step, for each gate k in forget, input, cell, output (in that order):
gate_k = act(FC(x_t, Wx_k) + bx_k + FC(h, Wh_k)) (act: sigmoid; the cell gate tanh); then
c = f · c + i · g (clipped to ±cell_clip when it is > 0), h = o · tanh(c), and the step's output is
h. Batch-major input runs every sequence of the batch from its own state rows; time-major input
runs the batch together: the same arithmetic row by row. The op returns its output and the new
hidden and cell states (``OpDef.state_inputs``: the interpreter stores them as the variables').

Integer (int8: int8 activations, int32 bias; 16x8: int16 activations, int64 bias; both int8
weights and an int16 cell state, tflite-micro's EvalLstm<.., int16_t, ..>):
- each FC is tflite-micro's integer FullyConnected into int16 at scale 2^-12 (Q3.12): acc =
  Σ w · (v - v_zp) (+ bias on the input FC only), MultiplyByQuantizedMultiplier by
  float32(v_scale · w_scale) / 2^-12 (the int64 version for 16x8), clamped to int16;
- the two FC results are added saturating to int16; sigmoid / tanh are the int16 LOGISTIC / TANH
  (``s16_nonlinear``) with input multiplier 3, shift 0: Q0.15 results;
- c = sat16(MBQM(f · c, 2^-15)) + sat16(MBQM(i · g, 2^-30 / c_scale)), saturated to int16, then
  clamped to ±round-toward-zero(cell_clip / c_scale) when cell_clip > 0;
- h = clamp(MBQM(o · tanh(c), 2^-30 / h_scale) + h_zp) to the hidden state's type, tanh(c) the
  int16 TANH of the cell state at scale 2^p (p its rounded log2: input multiplier 3 << (p + 12)
  when p ≥ -12, else 3 with a right shift of -(p + 12)).
Multipliers of the gate products are computed in double, as CreateInterGateMulParams does.

Float: sums in float64, each stored value (state, output) rounded to float32 (tflite-micro and
LiteRT add in float32: the tests allow the oracles' tolerance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier_checked,
    wrap_int32,
)
from picoml.graph.ir import Op
from picoml.graph.lstm_ops import BIASES, C_STATE, H_STATE, INPUT, WEIGHTS_H, WEIGHTS_X, lstm_dims
from picoml.reference import s16_nonlinear as nl

Q12, Q15 = 2.0**-12, 2.0**-15
#: the gates in tflite-micro's order of computation: forget, input, cell, output (TFLite input
#: order is input, forget, cell, output: index into WEIGHTS_X / WEIGHTS_H / BIASES)
GATE_ORDER = (1, 0, 2, 3)


@dataclass(frozen=True)
class Params:
    batch: int
    steps: int
    n_in: int
    n_state: int
    time_major: bool
    integer: bool
    wx: tuple  # per TFLite gate (input, forget, cell, output): [state, input]
    wh: tuple  # [state, state]
    bias: tuple  # [state]
    cell_clip: float
    positions: tuple[int, int, int]  # where x, h, c sit among the evaluated (non-None) inputs
    state_shapes: tuple[tuple[int, ...], tuple[int, ...]]
    # integer only
    wide: bool = False  # 16x8: int16 activations, int64 accumulators
    x_zp: int = 0
    h_zp: int = 0
    h_lo: int = 0
    h_hi: int = 0
    mx: tuple = ()  # per gate (multiplier, shift) of the input FC
    mh: tuple = ()  # of the recurrent FC
    m_fc: tuple[int, int] = (0, 0)  # forget · cell -> cell
    m_ic: tuple[int, int] = (0, 0)  # input · cell gate -> cell
    m_h: tuple[int, int] = (0, 0)  # tanh(cell) · output -> hidden
    qclip: int = 0
    tanh_cell: nl.LutParams | None = None


def _tanh_cell_params(power: int) -> nl.LutParams:
    shift = 15 + power - 3
    return nl.LutParams(True, 3 << shift, 0) if shift >= 0 else nl.LutParams(True, 3, -shift)


def prepare(op: Op) -> Params:
    batch, steps, n_in, n_state = lstm_dims(op)
    x, h, c = op.inputs[INPUT], op.inputs[H_STATE], op.inputs[C_STATE]
    present = [k for k, t in enumerate(op.inputs) if t is not None]
    pos = (present.index(INPUT), present.index(H_STATE), present.index(C_STATE))
    time_major = bool(op.attrs["time_major"])
    clip = float(op.attrs["cell_clip"])
    shapes = (tuple(h.shape), tuple(c.shape))
    integer = x.dtype != "float32"
    dt = np.int64 if integer else np.float64
    wx = tuple(op.inputs[k].data.astype(dt) for k in WEIGHTS_X)
    wh = tuple(op.inputs[k].data.astype(dt) for k in WEIGHTS_H)
    bias = tuple(op.inputs[k].data.astype(dt) for k in BIASES)
    if not integer:
        return Params(batch, steps, n_in, n_state, time_major, False, wx, wh, bias, clip, pos, shapes)
    f32 = np.float32
    lbl = op.label

    def fc_mult(v, k: int) -> tuple[int, int]:
        w = op.inputs[k]
        real = float(f32(v.scale[0]) * f32(w.scale[0])) / Q12
        return quantize_multiplier_checked(real, lbl, f"{v.name!r} × {w.name!r} scales / 2^-12")

    mx = tuple(fc_mult(x, k) for k in WEIGHTS_X)
    mh = tuple(fc_mult(h, k) for k in WEIGHTS_H)
    cs, hs = float(f32(c.scale[0])), float(f32(h.scale[0]))
    m_fc = quantize_multiplier_checked(Q15 * cs / cs, lbl, "forget gate × cell state")
    m_ic = quantize_multiplier_checked(Q15 * Q15 / cs, lbl, "input gate × cell gate / cell_state scale")
    m_h = quantize_multiplier_checked(Q15 * Q15 / hs, lbl, "output gate × tanh(cell) / output_state scale")
    _, power = nl.checked_log2(cs)
    qclip = int(min(max(clip / cs, -32768.0), 32767.0)) if clip > 0 else 0
    info = np.iinfo(h.np_dtype)
    return Params(batch, steps, n_in, n_state, time_major, True, wx, wh, bias, clip, pos, shapes,
                  wide=x.dtype == "int16", x_zp=int(x.zero_point[0]), h_zp=int(h.zero_point[0]),
                  h_lo=int(info.min), h_hi=int(info.max), mx=mx, mh=mh, m_fc=m_fc, m_ic=m_ic, m_h=m_h,
                  qclip=qclip, tanh_cell=_tanh_cell_params(power))  # fmt: skip


def _sat16(v: np.ndarray) -> np.ndarray:
    return np.clip(v, -32768, 32767)


def _fc16(p: Params, v: np.ndarray, zp: int, w: np.ndarray, b: np.ndarray | None, m: tuple[int, int]) -> np.ndarray:
    """tflite-micro's integer FullyConnected into int16 (output zero point 0, no activation)."""
    acc = np.einsum("...i,si->...s", v.astype(np.int64) - zp, w)
    if b is not None:
        acc = acc + b
    if p.wide:
        out = multiply_by_quantized_multiplier_int64(acc, *m)
    else:
        out = multiply_by_quantized_multiplier(wrap_int32(acc), *m)
    return _sat16(out)


_SIGMOID = nl.LutParams(False, 3, 0)
_TANH_GATE = nl.LutParams(True, 3, 0)


def _mul(a: np.ndarray, b: np.ndarray, m: tuple[int, int]) -> np.ndarray:
    return multiply_by_quantized_multiplier(a.astype(np.int64) * b.astype(np.int64), *m)


def _step_int(p: Params, xt: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gates = {}
    for k in GATE_ORDER:
        a = _fc16(p, xt, p.x_zp, p.wx[k], p.bias[k], p.mx[k])
        r = _fc16(p, h, p.h_zp, p.wh[k], None, p.mh[k])
        pre = _sat16(a + r).astype(np.int16)
        gates[k] = nl.evaluate(_TANH_GATE if k == 2 else _SIGMOID, [pre]).astype(np.int64)
    i, f, g, o = gates[0], gates[1], gates[2], gates[3]
    c = _sat16(_sat16(_mul(f, c, p.m_fc)) + _sat16(_mul(i, g, p.m_ic)))
    if p.cell_clip > 0:
        c = np.clip(c, -p.qclip, p.qclip)
    assert p.tanh_cell is not None
    tc = nl.evaluate(p.tanh_cell, [c.astype(np.int16)]).astype(np.int64)
    h = np.clip(_mul(tc, o, p.m_h) + p.h_zp, p.h_lo, p.h_hi)
    return h, c


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _step_float(p: Params, xt: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pre = [xt @ p.wx[k].T + p.bias[k] + h @ p.wh[k].T for k in range(4)]
    i, f, g, o = _sigmoid(pre[0]), _sigmoid(pre[1]), np.tanh(pre[2]), _sigmoid(pre[3])
    c = (f * c + i * g).astype(np.float32).astype(np.float64)
    if p.cell_clip > 0:
        c = np.clip(c, -p.cell_clip, p.cell_clip)
    h = (o * np.tanh(c)).astype(np.float32).astype(np.float64)
    return h, c


def evaluate(p: Params, inputs: list) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    x, h0, c0 = (inputs[k] for k in p.positions)
    n = x.shape[0]
    seq = x if p.time_major else np.swapaxes(x, 1, 2)  # [n, time, batch, input]
    dt = np.int64 if p.integer else np.float64
    h = h0.reshape(n, p.batch, p.n_state).astype(dt)
    c = c0.reshape(n, p.batch, p.n_state).astype(dt)
    step = _step_int if p.integer else _step_float
    out = np.empty((n, p.steps, p.batch, p.n_state), dt)
    for t in range(p.steps):
        h, c = step(p, seq[:, t], h, c)
        out[:, t] = h
    if not p.time_major:
        out = np.swapaxes(out, 1, 2)
    y_dtype, c_dtype = (h0.dtype, np.int16) if p.integer else (np.float32, np.float32)
    new = {H_STATE: h.astype(y_dtype).reshape((n,) + p.state_shapes[0]),
           C_STATE: c.astype(c_dtype).reshape((n,) + p.state_shapes[1])}  # fmt: skip
    return out.astype(y_dtype), new
