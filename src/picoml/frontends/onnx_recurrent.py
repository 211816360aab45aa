"""ONNX LSTM / GRU → the unrolled graphs of ``frontends/recurrent.py``.

Supported: direction forward / reverse / bidirectional, layout 0 and 1, bias present or absent,
GRU linear_before_reset 0 and 1, outputs Y, Y_h (and Y_c). initial_h / initial_c absent, zero
constants or model inputs. Refused with one line: sequence_lens, peepholes (P), non-default activations, clip, input_forget.
"""

from __future__ import annotations

import numpy as np

from picoml.frontends.onnx_importer import Act, Importer
from picoml.frontends.recurrent import direction

# ONNX gate order → PyTorch's (the order recurrent.py uses)
_ORDER = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2]}  # iofc → ifco(=ifgo); zrh → rzh


def _reorder(m: np.ndarray, kind: str, hidden: int) -> np.ndarray:
    blocks = np.split(np.asarray(m, np.float32), len(_ORDER[kind]), axis=0)
    return np.concatenate([blocks[i] for i in _ORDER[kind]], axis=0)


def _state(imp: Importer, i: int, layout: int):
    """initial_h / initial_c: None (absent or all zeros) or one (N, H) tensor per direction."""
    v = imp.inp(i)
    if v is None:
        return None
    if not isinstance(v, Act):
        if np.any(np.asarray(v) != 0):
            raise imp.unsupported(f"a constant non-zero initial state (input {i}) is not supported")
        return None
    t = imp.need_layout(v, (1, 0, 2) if layout else (0, 1, 2), i).t  # (D, N, H)
    return imp.emit_unpack(t, 0, [f"{imp.out_name()}/init{i}_{d}" for d in range(t.shape[0])])


def op_recurrent(imp: Importer) -> None:
    kind = imp.node.op_type
    at = imp.attrs()
    ngates = 4 if kind == "LSTM" else 3
    for i, what in [(4, "sequence_lens"), (7, "peepholes P")]:
        if imp.inp(i) is not None:
            raise imp.unsupported(f"{what} (input {i}) is not supported; picoml unrolls full sequences")
    if "activations" in at or "clip" in at or int(at.get("input_forget", 0)):
        raise imp.unsupported("only the default activations, no clip and input_forget=0 are supported")
    layout = int(at.get("layout", 0))
    dir_name = at.get("direction", "forward")
    if dir_name not in ("forward", "reverse", "bidirectional"):
        raise imp.unsupported(f"direction {dir_name!r} is not supported")
    x = imp.act(0)
    if x.rank != 3:
        raise imp.unsupported(f"X must be rank 3, has shape {list(x.shape)}")
    w = imp.const_input(1, "W")
    r = imp.const_input(2, "R")
    bias = imp.const_input(3, "B", required=False)
    ndir = 2 if dir_name == "bidirectional" else 1
    hidden = int(r.shape[-1])
    if w.shape[:2] != (ndir, ngates * hidden) or r.shape != (ndir, ngates * hidden, hidden):
        raise imp.unsupported(f"W {list(w.shape)} / R {list(r.shape)} do not match hidden_size {hidden}")
    if bias is None:
        bias = np.zeros((ndir, 2 * ngates * hidden), np.float32)
    lbr = bool(int(at.get("linear_before_reset", 0)))
    tm = imp.need_layout(x, (1, 0, 2) if layout else (0, 1, 2)).t  # (T, N, I)
    xs = imp.emit_unpack(tm, 0, [f"{imp.out_name()}/x{t}" for t in range(tm.shape[0])])
    init = [_state(imp, i, layout) for i in (5, 6)]
    hs_all, hn, cn = [], [], []
    for d in range(ndir):
        p = (
            _reorder(w[d], kind, hidden),
            _reorder(r[d], kind, hidden),
            _reorder(bias[d][: ngates * hidden], kind, hidden),
            _reorder(bias[d][ngates * hidden :], kind, hidden),
        )
        rev = dir_name == "reverse" or d == 1
        h0, c0 = (None if v is None else v[d] for v in init)
        hs, h, c = direction(imp, kind, xs, p, f"{imp.out_name()}/d{d}", rev, lbr, h0, c0)
        hs_all.append(imp.emit_pack(hs, 0, f"{imp.out_name()}/y{d}"))  # (T, N, H)
        hn.append(h)
        cn.append(c)
    t_steps, n = tm.shape[0], tm.shape[1]
    y = imp.emit_pack(hs_all, 1, f"{imp.out_name()}/y")  # (T, D, N, H)
    if layout:
        imp.set_out(Act(y, (n, t_steps, ndir, hidden), (1, 2, 0, 3)), 0)
    else:
        imp.set_out(Act(y, (t_steps, ndir, n, hidden), (0, 1, 2, 3)), 0)
    states = [hn] + ([cn] if kind == "LSTM" else [])
    for i, ts in enumerate(states, start=1):
        if len(imp.node.output) > i and imp.node.output[i]:
            s = imp.emit_pack(ts, 0, f"{imp.out_name(i)}/packed")  # (D, N, H)
            imp.set_out(Act(s, (n, ndir, hidden), (1, 0, 2)) if layout else Act(s, (ndir, n, hidden), (0, 1, 2)), i)
