"""PyTorch nn.LSTM / nn.GRU → the unrolled graphs of ``frontends/recurrent.py``.

Whole sequences only (the length is the example input's); the initial state (h0 / c0) is zeros
or model inputs (a constant one and proj_size are refused). A PyTorch rank-3 value (A, B, C)
lives in the graph as (A, C, B), so the sequence is transposed to time-major once on the way in
and back on the way out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from picoml.errors import UnsupportedError
from picoml.frontends.recurrent import unroll
from picoml.frontends.torch_values import Call, TorchBuilder, Val


def _w(p: Any) -> np.ndarray:
    return p.detach().cpu().numpy().astype(np.float32)


def m_recurrent(b: TorchBuilder, c: Call) -> Any:
    m = c.mod
    kind = type(m).__name__
    if getattr(m, "proj_size", 0):
        raise UnsupportedError(f"{c.where}: proj_size is not supported")
    a = c.bind("input", ("hx", None))
    x = a["input"]
    hx = a["hx"]
    if hx is not None:
        hx = hx if isinstance(hx, tuple) else (hx,)
        if not all(isinstance(v, Val) for v in hx):
            raise UnsupportedError(f"{c.where}: a constant initial state is not supported; pass it as a model input")
    if not isinstance(x, Val) or len(x.shape) != 3:
        raise UnsupportedError(f"{c.where}: expects a batched (3-D) input tensor")
    b.plain(c, x, kind)
    g = b.std(x)  # graph (A, C, B) of PyTorch (A, B, C)
    tm = b.emit_transpose(g, (2, 0, 1) if m.batch_first else (0, 2, 1), f"{c.name}/time_major")  # (T, N, F)
    xs = b.emit_unpack(tm, 0, [f"{c.name}/x{t}" for t in range(tm.shape[0])])
    dirs = 2 if m.bidirectional else 1
    params = []
    for layer in range(m.num_layers):
        row = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = _w(getattr(m, "weight_ih" + sfx)), _w(getattr(m, "weight_hh" + sfx))
            zeros = np.zeros(w_ih.shape[0], np.float32)
            b_ih = _w(getattr(m, "bias_ih" + sfx)) if m.bias else zeros
            b_hh = _w(getattr(m, "bias_hh" + sfx)) if m.bias else zeros
            row.append((w_ih, w_hh, b_ih, b_hh))
        params.append(row)
    states = [None, None]
    for k, v in enumerate(hx or ()):  # (L*D, N, H) in PyTorch → graph (L*D, H, N) → per-row (N, H)
        b.plain(c, v, kind)
        tv = b.emit_transpose(b.std(v), (0, 2, 1), f"{c.name}/state{k}")
        states[k] = b.emit_unpack(tv, 0, [f"{c.name}/state{k}_{i}" for i in range(tv.shape[0])])
    ys, hn, cn = unroll(b, kind, xs, params, c.name, *states)
    seq = b.emit_pack(ys, 0, f"{c.name}/seq")  # (T, N, DH)
    out = b.emit_transpose(seq, (1, 2, 0) if m.batch_first else (0, 2, 1), f"{c.name}/output")
    out_shape = tuple(int(s) for s in c.out[0].shape)
    outv = Val(out, out_shape)

    def state(ts: list, name: str, ref: Any) -> Val:
        packed = b.emit_pack(ts, 0, f"{c.name}/{name}_packed")  # (L*D, N, H)
        return Val(b.emit_transpose(packed, (0, 2, 1), f"{c.name}/{name}"), tuple(int(s) for s in ref.shape))

    if kind == "LSTM":
        return outv, (state(hn, "h_n", c.out[1][0]), state(cn, "c_n", c.out[1][1]))
    return outv, state(hn, "h_n", c.out[1])
