"""ONNX handlers for ReduceMax, ReduceMin, ReduceSum, ArgMax, ArgMin, MatMul of two computed
values and Gather, merged into ``frontends/onnx_ops.py``'s ``HANDLERS`` (``REDUCE_HANDLERS``).

- ReduceMax / ReduceMin / ReduceSum → REDUCE_MAX / REDUCE_MIN / SUM over the picoml axes that hold
  the ONNX axes (``axes`` an attribute, or an input from opset 18 — 13 for ReduceSum; none: every
  axis, or the input itself with ``noop_with_empty_axes``); ``keepdims``.
- ArgMax / ArgMin → ARG_MAX / ARG_MIN (int32 indices where ONNX's are int64: the same values;
  ``keepdims`` adds a RESHAPE; ``select_last_index=1`` is refused: TFLite takes the first index on
  ties, as ONNX's default).
- MatMul of two computed values (attention's scores and context), or of a constant by a computed
  value, or of a computed value of rank > 2 by a constant of rank > 2 → BATCH_MATMUL. Each
  operand is read in its stored layout: a layout that only swaps the last two axes is ``adj_x`` /
  ``adj_y``; the product is kept in ONNX order, or transposed (out^T = B^T · A^T) for a rank-3
  graph output, which picoml stores channels-last. A computed value by a constant 2-D matrix stays
  ``onnx_ops.op_matmul`` (FULLY_CONNECTED).
- Gather of a run-time value (constant or run-time indices) or of a constant table at run-time
  indices (an ArgMax) → GATHER along the picoml axis holding ONNX's ``axis``. Gather of constants
  only is still folded (``onnx_ops.FOLDERS``).
"""

from __future__ import annotations

import numpy as np

from picoml.frontends.onnx_importer import F32, Act, Importer
from picoml.graph.ops import OpType

_REDUCE = {"ReduceMax": OpType.REDUCE_MAX, "ReduceMin": OpType.REDUCE_MIN, "ReduceSum": OpType.SUM}
_ARG = {"ArgMax": OpType.ARG_MAX, "ArgMin": OpType.ARG_MIN}


def _kept(x: Act, y, axes: list[int], keep: bool) -> Act:
    """The Act of a reduction result ``y`` (picoml tensor) of ``x`` over ONNX ``axes``."""
    if keep:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        return Act(y, shape, x.perm, x.cols if 1 not in axes else None)
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    kept = [p for p in x.perm if p not in axes]
    renum = {p: i for i, p in enumerate(sorted(kept))}
    return Act(y, shape, tuple(renum[p] for p in kept))


def op_reduce(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    op = imp.node.op_type
    if imp.opset >= (13 if op == "ReduceSum" else 18):
        v = imp.const_input(1, "axes", required=False)
        axes = None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]
    else:
        axes = at.get("axes")
    keep = bool(int(at.get("keepdims", 1)))
    if not axes:
        if int(at.get("noop_with_empty_axes", 0)):
            imp.set_out(x)
            return
        axes = list(range(x.rank))
    r = x.rank
    if any(not -r <= int(a) < r for a in axes):
        raise imp.unsupported(f"axes {list(axes)} out of range for rank {r}")
    axes = sorted({int(a) % r for a in axes})
    # with a permuted feature axis (cols) a reduction over it does not depend on the order
    if x.cols is not None and 1 not in axes:
        x = imp.need_layout(x, tuple(range(r)))
    y = imp.emit_reduce(_REDUCE[op], x.t, [x.perm.index(a) for a in axes], keep, imp.out_name())
    imp.set_out(_kept(x, y, axes, keep))


def op_arg(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    if int(at.get("select_last_index", 0)):
        raise imp.unsupported("select_last_index=1 is not supported (TFLite takes the first index on ties)")
    r = x.rank
    axis = int(at.get("axis", 0))
    if not -r <= axis < r:
        raise imp.unsupported(f"axis {axis} out of range for rank {r}")
    axis %= r
    if x.cols is not None:  # indices along a permuted feature axis would be picoml's, not ONNX's
        x = imp.need_layout(x, tuple(range(r)))
    ax = x.perm.index(axis)
    name = imp.out_name()
    y = imp.emit_arg(_ARG[imp.node.op_type], x.t, ax, name if not int(at.get("keepdims", 1)) else f"{name}/arg")
    keep = bool(int(at.get("keepdims", 1)))
    if keep:
        y = imp.reshape(y, tuple(1 if i == ax else d for i, d in enumerate(x.t.shape)), name)
    imp.set_out(_kept(Act(x.t, x.shape, x.perm), y, [axis], keep))


def _operand(imp: Importer, i: int) -> tuple:
    """(picoml tensor, stored with its last two axes swapped?, rank) of MatMul input ``i``."""
    v = imp.inp(i)
    if not isinstance(v, Act):
        c = np.asarray(v)
        if c.ndim < 2:
            raise imp.unsupported(f"MatMul with a {c.ndim}-D constant is not supported")
        return imp.const(f"{imp.out_name()}/{'ab'[i]}", np.asarray(c, F32)), False, c.ndim
    r = v.rank
    if r < 2:
        raise imp.unsupported(f"MatMul with a {r}-D input is not supported")
    ident = tuple(range(r))
    swapped = ident[:-2] + (r - 1, r - 2)
    if v.cols is None and tuple(v.perm) == swapped:
        return v.t, True, r
    return imp.need_layout(v, ident, i).t, False, r


def op_matmul_any(imp: Importer, fallback) -> None:
    """MatMul: ``fallback`` (FULLY_CONNECTED) for a computed value by a constant 2-D matrix."""
    a, w = imp.inp(0), imp.inp(1)
    if isinstance(a, Act) and not isinstance(w, Act) and np.ndim(w) == 2:
        fallback(imp)
        return
    (ta, at, ra), (tb, bt, rb) = _operand(imp, 0), _operand(imp, 1)
    r = max(ra, rb)
    name = imp.out_name()
    outputs = {o.name for o in imp.model.graph.output}
    y = imp.emit_batch_matmul(ta, tb, at, bt, name) if r != 3 or name not in outputs else None
    if y is not None:
        imp.set_out(Act(y, tuple(y.shape), tuple(range(r))))
        return
    # a rank-3 model output: picoml stores it channels-last, (N, C, L) as (N, L, C): out^T = B^T · A^T
    y = imp.emit_batch_matmul(tb, ta, not bt, not at, name)
    n, d1, d2 = y.shape
    imp.set_out(Act(y, (n, d2, d1), (0, 2, 1)))


def op_gather(imp: Importer) -> None:
    """Gather with a run-time input or run-time indices → GATHER (int32 positions; constant negative
    indices count from the end, as ONNX's)."""
    data, ind = imp.inp(0), imp.inp(1)
    axis = int(imp.attrs().get("axis", 0))
    if isinstance(data, Act):
        r = data.rank
        if not -r <= axis < r:
            raise imp.unsupported(f"axis {axis} out of range for rank {r}")
        axis %= r
        if data.cols is not None:
            data = imp.need_layout(data, tuple(range(r)))
        x, perm, shape = data.t, data.perm, data.shape
    else:
        arr = np.asarray(data)
        if not np.issubdtype(arr.dtype, np.floating):
            raise imp.unsupported(f"a Gather table of dtype {arr.dtype} is not supported (float only)")
        r = arr.ndim
        axis %= r
        x, perm, shape = imp.const(f"{imp.out_name()}/table", arr.astype(F32)), tuple(range(r)), arr.shape
    if isinstance(ind, Act):
        ind = imp.need_layout(ind, tuple(range(ind.rank)), 1)
        if ind.t.dtype != "int32":
            raise imp.unsupported("run-time indices must be integers computed in the model (an ArgMax)")
        pos, pshape = ind.t, ind.shape
    else:
        v = np.asarray(ind).astype(np.int64)
        v = np.where(v < 0, v + shape[axis], v)
        pos, pshape = imp.const(f"{imp.out_name()}/positions", v.astype(np.int32), "int32"), v.shape
    pa = perm.index(axis)
    ri = len(pshape)
    if ri == 0:  # a scalar index: gather one position, then drop the axis (a RESHAPE)
        if tuple(pos.shape) != (1,):  # (a constant is stored 1-D already)
            pos = imp.reshape(pos, (1,), f"{imp.out_name()}/position")
        y = imp.emit(OpType.GATHER, [x, pos], f"{imp.out_name()}/gather", axis=pa, batch_dims=0)
        y = imp.reshape(y, tuple(d for i, d in enumerate(y.shape) if i != pa), imp.out_name())
    else:
        y = imp.emit(OpType.GATHER, [x, pos], imp.out_name(), axis=pa, batch_dims=0)

    def renum(p: int) -> int:
        return p if p < axis else p + ri - 1

    out_perm = tuple(renum(p) for p in perm[:pa]) + tuple(axis + k for k in range(ri))
    out_perm += tuple(renum(p) for p in perm[pa + 1 :])
    out_shape = tuple(shape[:axis]) + tuple(pshape) + tuple(shape[axis + 1 :])
    imp.set_out(Act(y, out_shape, out_perm))


def handlers(op_matmul) -> dict:
    """The handler table entries; ``op_matmul``: onnx_ops' FULLY_CONNECTED lowering of MatMul."""
    return {
        "ReduceMax": op_reduce,
        "ReduceMin": op_reduce,
        "ReduceSum": op_reduce,
        "ArgMax": op_arg,
        "ArgMin": op_arg,
        "MatMul": lambda imp: op_matmul_any(imp, op_matmul),
        "Gather": op_gather,
    }
