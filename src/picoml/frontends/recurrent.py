"""Recurrent layers (LSTM, GRU) unrolled over a fixed sequence length onto existing ops.

Each time step is FULLY_CONNECTED + ADD for the gates, SPLIT into the gates, LOGISTIC / TANH, and
MUL / ADD / SUB for the state update, exactly PyTorch's equations (gate order i,f,g,o for LSTM and
r,z,n for GRU, with the hidden bias of n inside r * (W_hn h + b_hn)). The zero initial state is
folded into the first step (no FULLY_CONNECTED on a constant). Work on time-major per-step
tensors (N, features); the front-ends lay out the sequence.
"""

from __future__ import annotations

import numpy as np

from picoml.frontends.lowering import GraphBuilder
from picoml.graph.ir import Tensor
from picoml.graph.optypes import OpType


def _lstm_dir(
    gb: GraphBuilder, xs: list[Tensor], w_ih, w_hh, b_ih, b_hh, name: str, h0=None, c0=None
) -> tuple[list[Tensor], Tensor]:
    hidden = w_hh.shape[1]
    bias = b_ih + b_hh
    hs: list[Tensor] = []
    h, c = h0, c0
    for t, x in enumerate(xs):
        s = f"{name}/t{t}"
        gates = gb.emit_dense(x, w_ih, bias, f"{s}/gx")
        if h is not None:
            gates = gb.emit(OpType.ADD, [gates, gb.emit_dense(h, w_hh, None, f"{s}/gh")], f"{s}/gates")
        i, f, g, o = gb.emit_split(gates, 1, [hidden] * 4, [f"{s}/{k}" for k in "ifgo"])
        i = gb.emit(OpType.LOGISTIC, [i], f"{s}/i_sig")
        f = gb.emit(OpType.LOGISTIC, [f], f"{s}/f_sig")
        g = gb.emit(OpType.TANH, [g], f"{s}/g_tanh")
        o = gb.emit(OpType.LOGISTIC, [o], f"{s}/o_sig")
        ig = gb.emit(OpType.MUL, [i, g], f"{s}/ig")
        c = ig if c is None else gb.emit(OpType.ADD, [gb.emit(OpType.MUL, [f, c], f"{s}/fc"), ig], f"{s}/c")
        h = gb.emit(OpType.MUL, [o, gb.emit(OpType.TANH, [c], f"{s}/c_tanh")], f"{s}/h")
        hs.append(h)
    assert c is not None
    return hs, c


def _gru_dir(
    gb: GraphBuilder, xs: list[Tensor], w_ih, w_hh, b_ih, b_hh, name: str, lbr: bool = True, h0=None
) -> list[Tensor]:
    """``lbr``: linear_before_reset (PyTorch's form, r * (W_hn h + b_hn)); else ONNX's default
    W_hn (r * h) + b_hn."""
    hidden = w_hh.shape[1]
    hs: list[Tensor] = []
    h = h0
    for t, x in enumerate(xs):
        s = f"{name}/t{t}"
        names = [f"{s}/x{k}" for k in "rzn"]
        if h is None:  # h = 0: the hidden projection is its bias
            # lbr: n = tanh(x_n + r * b_hn); else (r * 0 projected) n = tanh(x_n + b_hn)
            bias = b_ih + (np.concatenate([b_hh[: 2 * hidden], np.zeros(hidden, np.float32)]) if lbr else b_hh)
            xr, xz, xn = gb.emit_split(gb.emit_dense(x, w_ih, bias, f"{s}/gx"), 1, [hidden] * 3, names)
            hr, hz = xr, xz
            r = gb.emit(OpType.LOGISTIC, [hr], f"{s}/r")
            z = gb.emit(OpType.LOGISTIC, [hz], f"{s}/z")
            if lbr:
                hn = gb.emit(OpType.MUL, [r, gb.const(f"{s}/b_hn", b_hh[2 * hidden :].reshape(1, hidden))], f"{s}/rhn")
                xn = gb.emit(OpType.ADD, [xn, hn], f"{s}/npre")
            n = gb.emit(OpType.TANH, [xn], f"{s}/n")
            h = gb.emit(OpType.SUB, [n, gb.emit(OpType.MUL, [z, n], f"{s}/zn")], f"{s}/h")
        else:
            xr, xz, xn = gb.emit_split(gb.emit_dense(x, w_ih, b_ih, f"{s}/gx"), 1, [hidden] * 3, names)
            if lbr:
                gh = gb.emit_dense(h, w_hh, b_hh, f"{s}/gh")
                hr, hz, hn = gb.emit_split(gh, 1, [hidden] * 3, [f"{s}/h{k}" for k in "rzn"])
            else:
                gh = gb.emit_dense(h, w_hh[: 2 * hidden], b_hh[: 2 * hidden], f"{s}/gh")
                hr, hz = gb.emit_split(gh, 1, [hidden] * 2, [f"{s}/h{k}" for k in "rz"])
            r = gb.emit(OpType.LOGISTIC, [gb.emit(OpType.ADD, [xr, hr], f"{s}/rpre")], f"{s}/r")
            z = gb.emit(OpType.LOGISTIC, [gb.emit(OpType.ADD, [xz, hz], f"{s}/zpre")], f"{s}/z")
            if lbr:
                rhn = gb.emit(OpType.MUL, [r, hn], f"{s}/rhn")
            else:
                rh = gb.emit(OpType.MUL, [r, h], f"{s}/rh")
                rhn = gb.emit_dense(rh, w_hh[2 * hidden :], b_hh[2 * hidden :], f"{s}/rhn")
            n = gb.emit(OpType.TANH, [gb.emit(OpType.ADD, [xn, rhn], f"{s}/npre")], f"{s}/n")
            # h' = (1 - z) * n + z * h = n + z * (h - n)
            d = gb.emit(OpType.SUB, [h, n], f"{s}/hmn")
            h = gb.emit(OpType.ADD, [n, gb.emit(OpType.MUL, [z, d], f"{s}/zd")], f"{s}/h")
        hs.append(h)
    return hs


def direction(
    gb: GraphBuilder,
    kind: str,
    xs: list[Tensor],
    p: tuple,
    name: str,
    reverse: bool,
    lbr: bool = True,
    h0=None,
    c0=None,
):
    """One direction of one layer: (per-step h in time order, final h, final c or None)."""
    seq = xs[::-1] if reverse else xs
    c = None
    if kind == "LSTM":
        hs, c = _lstm_dir(gb, seq, *p, name, h0, c0)
    else:
        hs = _gru_dir(gb, seq, *p, name, lbr, h0)
    return (hs[::-1] if reverse else hs), hs[-1], c


def unroll(gb: GraphBuilder, kind: str, xs: list[Tensor], params: list[list], name: str, h0=None, c0=None):
    """Unrolled stacked (bi)directional LSTM/GRU.

    ``params[layer][direction]`` = (w_ih, w_hh, b_ih, b_hh) as float32 arrays (zeros for no bias),
    in PyTorch's gate order; ``h0`` / ``c0``: initial states per layer*direction (N, H) or None
    (zeros). Returns (per-step outputs (N, D*H), [h_n per layer*dir], [c_n ...]).
    """
    hn: list[Tensor] = []
    cn: list[Tensor] = []
    for layer, dirs in enumerate(params):
        outs_per_dir = []
        for d, (w_ih, w_hh, b_ih, b_hh) in enumerate(dirs):
            k = layer * len(dirs) + d
            hk = None if h0 is None else h0[k]
            ck = None if c0 is None else c0[k]
            base = f"{name}/l{layer}" + ("_reverse" if d else "")
            hs, h, c = direction(gb, kind, xs, (w_ih, w_hh, b_ih, b_hh), base, d == 1, True, hk, ck)
            if c is not None:
                cn.append(c)
            hn.append(h)
            outs_per_dir.append(hs)
        if len(outs_per_dir) == 1:
            xs = outs_per_dir[0]
        else:
            xs = [
                gb.emit(OpType.CONCATENATION, list(pair), f"{name}/l{layer}/t{t}/cat", axis=1)
                for t, pair in enumerate(zip(*outs_per_dir, strict=True))
            ]
    return xs, hn, cn
