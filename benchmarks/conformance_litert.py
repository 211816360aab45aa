"""Op-by-op checking for the conformance rows whose oracle is LiteRT (tflite-micro refuses the model).

Comparing every tensor of a whole graph against LiteRT mixes two specifications: picoml's int8
kernels are tflite-micro's arithmetic, and LiteRT's own int8 kernels round some values one code
away from it (seen: the FULLY_CONNECTED before GELU in ``op_gelu.int8``, 2 of 256 values). So
where the whole-graph comparison differs, each op is checked alone: picoml's reference kernel fed
LiteRT's own input tensors must give LiteRT's output; where it does not, the op alone (a one-op
.tflite written by picoml) goes to tflite-micro with the same inputs, and picoml's output must
equal tflite-micro's. An op that neither oracle confirms stays a mismatch, named in the row.
"""

from __future__ import annotations

import numpy as np

from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph.ir import Graph
from picoml.reference import KERNELS


def _litert_values(ip, index: dict[str, int], xs: list[np.ndarray], s: int) -> dict[str, np.ndarray]:
    for k, x in enumerate(xs):
        ip.set_input(x[s], k)
    ip.invoke()
    return {name: np.asarray(ip.GetTensor(i, 0)["tensor_data"]).copy() for name, i in index.items()}


def _tflm_single_op(op, args: list[np.ndarray], tflm) -> list[np.ndarray] | str:
    """The op alone through tflite-micro: its outputs for ``args`` (one sample each, the op's
    non-constant inputs in order), or why tflite-micro could not run it."""
    inputs = [t for t in op.inputs if t is not None and t.data is None]
    tensors = list(dict.fromkeys([t for t in op.inputs if t is not None] + list(op.outputs)))
    try:
        g = Graph(tensors, [op], inputs, list(op.outputs), name="single_op")
        ip = tflm(write_tflite_bytes(g), preserve_all=False)[0]
        for k, a in enumerate(args):
            ip.set_input(a, k)
        ip.invoke()
        return [np.asarray(ip.get_output(k)).copy() for k in range(len(op.outputs))]
    except Exception as e:  # noqa: BLE001 - the reason is the answer
        return f"tflite-micro cannot run it alone ({type(e).__name__}: {str(e).strip()[:120]})"


def op_by_op(
    g, ip, index: dict[str, int], ours: dict[str, np.ndarray], xs: list[np.ndarray], tflm, rtol: float
) -> dict:
    """Every op of ``g`` alone against LiteRT (``ip``), and against tflite-micro where LiteRT differs.

    Returns ``ops_checked``, ``float_max_rel_diff`` (the largest float difference of an op alone,
    relative to its output's largest magnitude), ``litert_differs`` (op label -> "tflite-micro agrees" or the
    reason it is a mismatch) and ``first_bad`` ("" when every op is confirmed by one oracle)."""
    n = xs[0].shape[0]
    samples = [_litert_values(ip, index, xs, s) for s in range(n)]
    differs: dict[str, str] = {}
    first_bad, checked, worst = "", 0, 0.0
    for op in g.ops:
        outs = [t for t in op.outputs if t.name in index]
        if not outs:  # an op picoml added (lowering): its inputs and outputs are not the file's
            continue
        k = KERNELS[op.type]
        params = k.prepare(op)
        checked += 1
        for s, vals in enumerate(samples):
            args, free = [], []
            for t in op.inputs:
                if t is None:
                    continue
                if t.data is not None:
                    args.append(t.data[None])
                    continue
                v = vals[t.name] if t.name in vals else np.asarray(ours[t.name][s])
                v = v.astype(t.np_dtype).reshape(t.shape)
                args.append(v[None])
                free.append(v)
            y = k.evaluate(params, args)
            ys = [y] if len(op.outputs) == 1 else list(y)
            got = {t.name: np.asarray(v[0]) for t, v in zip(op.outputs, ys, strict=True)}
            for t in outs:
                if got[t.name].dtype.kind == "f":
                    worst = max(worst, _rel(got[t.name], vals[t.name]))
            bad = [t for t in outs if not _equal(got[t.name], vals[t.name], rtol)]
            if not bad:
                continue
            if all(got[t.name].dtype.kind == "f" for t in bad):
                first_bad = first_bad or f"{op.label}: differs from LiteRT beyond the float tolerance (input {s})"
                differs[op.label] = "mismatch"
                break
            theirs = _tflm_single_op(op, free, tflm)
            if isinstance(theirs, str):
                why = theirs
            else:
                why = (
                    ""
                    if all(
                        np.array_equal(got[t.name], theirs[j].reshape(got[t.name].shape))
                        for j, t in enumerate(op.outputs)
                        if t in bad
                    )
                    else "tflite-micro differs too"
                )
            if why:
                differs[op.label] = f"mismatch: {why}"
                t = bad[0]
                n_bad = int(np.sum(got[t.name] != vals[t.name].reshape(got[t.name].shape)))
                first_bad = first_bad or f"{op.label} alone, input {s}: {n_bad} values differ from LiteRT; {why}"
                break
            differs.setdefault(op.label, "LiteRT differs, tflite-micro's kernel alone equals picoml's")
    return {"ops_checked": checked, "litert_differs": differs, "first_bad": first_bad, "float_max_rel_diff": worst}


def _rel(mine: np.ndarray, theirs: np.ndarray) -> float:
    a, b = mine.astype(np.float64), theirs.reshape(mine.shape).astype(np.float64)
    if not a.size:
        return 0.0
    err, scale = float(np.max(np.abs(a - b))), float(np.max(np.abs(b)))
    return err / scale if scale > 0 else (0.0 if err == 0 else np.inf)


def _equal(mine: np.ndarray, theirs: np.ndarray, rtol: float) -> bool:
    if mine.dtype.kind in "iub":
        return bool(np.array_equal(mine, theirs.reshape(mine.shape).astype(mine.dtype)))
    return _rel(mine, theirs) <= rtol
