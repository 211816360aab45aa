"""PyTorch handlers for reductions, arg-max/min, products of two computed tensors and gathers: merged
into ``frontends/torch_ops.py``'s tables (``functions``, ``ATEN``, ``methods``, ``modules``).

- ``torch.amax`` / ``amin`` / ``sum`` and ``max`` / ``min`` without a second tensor → REDUCE_MAX,
  REDUCE_MIN, SUM over the matching graph axes (kept as size-1 axes, then reshaped as PyTorch
  shapes the result, with a TRANSPOSE where the channels-last data is not in that order);
  ``max(x, dim)`` / ``min(x, dim)`` give (values, indices): REDUCE_MAX / REDUCE_MIN and ARG_MAX /
  ARG_MIN, each emitted only if used; ``max(x, y)`` of two tensors stays MAXIMUM / MINIMUM. Reducing
  the batch dimension (dim 0) is refused, as for mean.
- ``torch.argmax`` / ``argmin`` with a ``dim`` → ARG_MAX / ARG_MIN (int32 indices; PyTorch's are
  int64, the same values; ties take the first index in both).
- ``torch.matmul``, ``@``, ``torch.bmm``, ``torch.mm`` of two computed tensors (attention's scores
  and context) or of a tensor of rank ≠ 2 and a constant → BATCH_MATMUL. The graph keeps rank-3
  values transposed ((N, C, L) as (N, L, C)); the product is taken on the stored operands with
  ``adj_x`` / ``adj_y``, so no data moves. A rank-3 product continues as a value in PyTorch's own
  order (its ``order`` is the identity; elementwise ops and a softmax over the last dim accept it,
  and so does another product); as a model output it is replaced by its twin in the standard
  layout, out^T = B^T · A^T, emitted beside it (the unused one is dropped). An operand that a
  TRANSPOSE of the last two axes made (``k.transpose(1, 2)``) is read before it, with adj_x /
  adj_y flipped (the TRANSPOSE is dropped when nothing else reads it). Rank-4 operands
  (channels-last NHWC in the graph) are refused. A rank-1/2 input times a constant 2-D
  matrix stays FULLY_CONNECTED (``torch_ops._f_matmul``).
- ``index_select`` (constant or computed 1-D index, any dim but the batch's), ``torch.gather`` along
  the last dim of an (N, K) tensor (batch_dims 1), ``nn.Embedding`` / ``F.embedding`` of a constant
  table at computed (N,) ids → GATHER. PyTorch's int64 indices are int32 positions in the graph; the
  model's inputs are float, so ids come from inside the model (an argmax) or are constants.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np

from picoml.errors import UnsupportedError
from picoml.frontends.torch_values import Call, TorchBuilder, Val, _np
from picoml.graph.ops import OpType

_REDUCE = {"max": OpType.REDUCE_MAX, "min": OpType.REDUCE_MIN, "sum": OpType.SUM}
_ARG = {"max": OpType.ARG_MAX, "min": OpType.ARG_MIN}


class ValuesIndices(NamedTuple):
    """What ``torch.max(x, dim)`` / ``min`` return (``torch.return_types.max``)."""

    values: Val
    indices: Val


def _val(c: Call, v: Any) -> Val:
    if not isinstance(v, Val):
        raise UnsupportedError(f"{c.where}: expects a tensor that depends on the model input")
    return v


def _dims(c: Call, x: Val, dim: Any) -> list[int]:
    """PyTorch dims to reduce, normalized; None or an empty tuple: all of them."""
    r = len(x.shape)
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        dims = list(range(r))
    else:
        raw = [dim] if isinstance(dim, (int, np.integer)) else list(dim)
        if any(not -r <= int(d) < r for d in raw):
            raise UnsupportedError(f"{c.where}: dim {dim} out of range for rank {r}")
        dims = sorted({int(d) % r for d in raw})
    if 0 in dims:
        raise UnsupportedError(f"{c.where}: reducing over the batch dimension is not supported")
    return dims


def _squeezed(b: TorchBuilder, c: Call, v: Val, dims: list[int], keepdim: bool, suffix: str = "") -> Val:
    """``v`` (a reduction result with size-1 ``dims``) as PyTorch shapes it."""
    if keepdim:
        return v
    shape = tuple(n for i, n in enumerate(v.shape) if i not in dims)
    sub = Call(c.where, f"{c.name}{suffix}_squeeze", (), {}, np.zeros(shape, np.float32), c.mod)
    return b.reshape(sub, v, shape)


def reduce(b: TorchBuilder, c: Call, kind: str, x: Val, dim: Any, keepdim: bool) -> Val:
    b.plain(c, x, "a reduction")
    dims = _dims(c, x, dim)
    axes = sorted(b.gaxis(c, x, d) for d in dims)
    keep_shape = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
    t = b.emit_reduce(_REDUCE[kind], x.t, axes, True, c.name)
    return _squeezed(b, c, Val(t, keep_shape, None, x.nonneg), dims, keepdim)


def arg(b: TorchBuilder, c: Call, kind: str, x: Val, dim: Any, keepdim: bool, suffix: str = "") -> Val:
    b.plain(c, x, "an arg-max/min")
    if dim is None:
        raise UnsupportedError(f"{c.where}: arg{kind} over all elements (dim=None) is not supported; give a dim")
    dims = _dims(c, x, int(dim))
    ax = b.gaxis(c, x, dims[0])
    name = f"{c.name}{suffix}"
    y = b.emit_arg(_ARG[kind], x.t, ax, name)
    kept_g = tuple(1 if i == ax else n for i, n in enumerate(x.t.shape))
    y = b.emit_reshape(y, kept_g, f"{name}_keep", f"{name}_keep_shape")
    keep_shape = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
    return _squeezed(b, c, Val(y, keep_shape, None, True), dims, keepdim, suffix)


def _f_reduce(kind: str):
    """torch.amax / amin (dim, keepdim), torch.sum (dim, keepdim, dtype)."""

    def h(b: TorchBuilder, c: Call) -> Val:
        spec = ("input", ("dim", None), ("keepdim", False)) + ((("dtype", None),) if kind == "sum" else ())
        a = c.bind(*spec)
        if a.get("dtype") is not None:
            raise UnsupportedError(f"{c.where}: sum with dtype={a['dtype']} is not supported")
        return reduce(b, c, kind, _val(c, a["input"]), a["dim"], bool(a["keepdim"]))

    return h


def _f_min_max(kind: str, pair):
    """torch.max / min: of all elements, along a dim ((values, indices)); of two tensors: ``pair``
    (torch_ops' MAXIMUM / MINIMUM lowering)."""

    def h(b: TorchBuilder, c: Call) -> Any:
        second = c.args[1] if len(c.args) > 1 else c.kwargs.get("dim", c.kwargs.get("other"))
        if "other" in c.kwargs or (second is not None and not isinstance(second, (int, np.integer))):
            return pair(b, c)
        a = c.bind("input", ("dim", None), ("keepdim", False))
        x, dim = _val(c, a["input"]), a["dim"]
        if dim is None:
            return reduce(b, c, kind, x, None, False)
        keep = bool(a["keepdim"])
        vals = Call(c.where, c.name, (), {}, c.out[0], c.mod)
        return ValuesIndices(reduce(b, vals, kind, x, int(dim), keep), arg(b, c, kind, x, int(dim), keep, "_indices"))

    return h


def _f_arg(kind: str):
    def h(b: TorchBuilder, c: Call) -> Val:
        a = c.bind("input", ("dim", None), ("keepdim", False))
        return arg(b, c, kind, _val(c, a["input"]), a["dim"], bool(a["keepdim"]))

    return h


def _f_getattr(b: TorchBuilder, c: Call) -> Any:
    """``.values`` / ``.indices`` of max(x, dim) / min(x, dim); ``.T`` / ``.mT`` of a matrix."""
    obj, name = c.args[0], c.args[1]
    if isinstance(obj, ValuesIndices) and name in ValuesIndices._fields:
        return getattr(obj, name)
    if isinstance(obj, Val) and (name == "mT" or (name == "T" and len(obj.shape) == 2)):
        return _swap_last(b, c, obj)
    raise UnsupportedError(f"{c.where}: reading attribute {name!r} of a computed value is not supported")


def _swap_last(b: TorchBuilder, c: Call, x: Val) -> Val:
    """x with its last two dimensions swapped."""
    idx = np.swapaxes(np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape), -1, -2)
    return b.rearrange(c, x, idx)


# ---------------------------------------------------------------- products
def _transpose_source(b: TorchBuilder, t: Any) -> Any:
    """The data ``t`` was moved from by RESHAPEs and TRANSPOSEs (``k.transpose(1, 2)`` of a rank-3
    value), viewed with ``t``'s last two axes swapped, when those moves amount to exactly that swap;
    else None. A matrix product reads that source with adj_x / adj_y flipped instead, and the moves
    are dropped when nothing else reads them."""
    made = {id(op.outputs[0]): op for op in b.ops}
    chain, src = [], t
    while id(src) in made and made[id(src)].type in (OpType.RESHAPE, OpType.TRANSPOSE):
        chain.append(made[id(src)])
        src = chain[-1].inputs[0]
    if not any(op.type == OpType.TRANSPOSE for op in chain):
        return None
    idx = np.arange(src.size, dtype=np.int64).reshape(src.shape)
    for op in reversed(chain):
        if op.type == OpType.RESHAPE:
            idx = idx.reshape(op.outputs[0].shape)
        else:
            idx = idx.transpose([int(p) for p in np.asarray(op.inputs[1].data).reshape(-1)])
    shape = tuple(t.shape)
    swapped = shape[:-2] + (shape[-1], shape[-2])
    if not np.array_equal(idx, np.swapaxes(np.arange(t.size, dtype=np.int64).reshape(swapped), -1, -2)):
        return None
    return b.emit_reshape(src, swapped, f"{src.name}_as_matrix", f"{src.name}_as_matrix_shape")


def _stored(b: TorchBuilder, c: Call, v: Val) -> tuple[Any, bool] | None:
    """A value's graph data as a matrix operand: (graph tensor shaped as PyTorch's shape or with its
    last two dimensions swapped, swapped?), or None when its order is neither."""
    shape = tuple(v.shape)
    swapped = shape[:-2] + (shape[-1], shape[-2])
    if v.order is None:
        t, swapped_std = b.std(v), len(shape) == 3
        src = _transpose_source(b, t)
        return (src, not swapped_std) if src is not None else (t, swapped_std)
    idx = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
    if np.array_equal(v.order, idx.ravel()):
        return b.view(v, shape), False
    if np.array_equal(v.order, np.swapaxes(idx, -1, -2).ravel()):
        return b.view(v, swapped), True
    return None


def _operand(b: TorchBuilder, c: Call, v: Any, role: str) -> tuple[Any, bool, int]:
    """(graph tensor, stored transposed?, PyTorch rank) of a matmul operand."""
    if isinstance(v, Val):
        r = len(v.shape)
        if r < 2 or (r == 4 and v.order is None):
            why = "a 1-D operand" if r < 2 else "a 4-D operand (stored channels-last in the graph)"
            raise UnsupportedError(f"{c.where}: a matrix product with {why} is not supported")
        stored = _stored(b, c, v)
        if stored is None:
            b.plain(c, v, "a matrix product")
        return stored[0], stored[1], r
    arr = _np(v)
    if arr.ndim < 2:
        raise UnsupportedError(f"{c.where}: a matrix product with a 1-D constant is not supported")
    return b.const(f"{c.name}.{role}", arr.astype(np.float32)), False, arr.ndim


def batch_matmul(b: TorchBuilder, c: Call, x: Any, y: Any) -> Val:
    (ta, at, ra), (tb, bt, rb) = _operand(b, c, x, "lhs"), _operand(b, c, y, "rhs")
    r = max(ra, rb)
    if r == 4:
        raise UnsupportedError(f"{c.where}: a 4-D matrix product (stored channels-last in the graph) is not supported")
    if r != 3:
        return Val(b.emit_batch_matmul(ta, tb, at, bt, c.name), c.out_shape)
    # rank 3: the standard layout is the result transposed, out^T = B^T · A^T on the stored operands;
    # the value continues in PyTorch's order (a softmax over its last dim reads the graph's last axis)
    # and becomes the standard twin only where it is a model output
    torch_order = b.emit_batch_matmul(ta, tb, at, bt, c.name)
    std = Val(b.emit_batch_matmul(tb, ta, not bt, not at, f"{c.name}_t"), c.out_shape)
    order = np.arange(math.prod(c.out_shape), dtype=np.int64)
    return Val(torch_order, c.out_shape, order, False, c.where, twin=std)


def _f_matmul(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "other")
    x, y = a["input"], a["other"]
    if isinstance(x, Val) and not isinstance(y, Val) and _np(y).ndim == 2 and len(x.shape) <= 2:
        return b.linear(c, x, _np(y).T, None)  # FULLY_CONNECTED with the constant as weights
    return batch_matmul(b, c, x, y)


def _f_bmm(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "mat2")
    return batch_matmul(b, c, a["input"], a["mat2"])


# ---------------------------------------------------------------- GATHER
def _positions(b: TorchBuilder, c: Call, v: Any, role: str) -> Any:
    """GATHER positions: a computed int32 value (an argmax) or a constant, as a graph tensor."""
    if isinstance(v, Val):
        if v.t.dtype != "int32":
            raise UnsupportedError(f"{c.where}: {role} must be integer indices (an argmax or a constant)")
        return _stored_plain(b, c, v, role)
    arr = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v)
    if arr.dtype.kind not in "iu":
        raise UnsupportedError(f"{c.where}: {role} must be integers, not {arr.dtype}")
    return b.const(f"{c.name}.{role}", arr.astype(np.int32), "int32")


def _stored_plain(b: TorchBuilder, c: Call, v: Val, role: str) -> Any:
    """A value whose graph tensor holds PyTorch's order (rank ≤ 2, or rank ≥ 5)."""
    if v.order is not None or len(v.shape) in (3, 4):
        raise UnsupportedError(f"{c.where}: {role} of rank {len(v.shape)} is not supported (rank 1 or 2 only)")
    return b.std(v)


def _f_index_select(b: TorchBuilder, c: Call) -> Val:
    """x.index_select(dim, index) → GATHER along the graph axis holding ``dim``."""
    a = c.bind("input", "dim", "index")
    x = _val(c, a["input"])
    b.plain(c, x, "index_select")
    r = len(x.shape)
    d = int(a["dim"]) % r
    if d == 0:
        raise UnsupportedError(f"{c.where}: selecting along the batch dimension is not supported")
    pos = _positions(b, c, a["index"], "index")
    if len(pos.shape) != 1:
        raise UnsupportedError(f"{c.where}: index must be 1-D")
    y = b.emit(OpType.GATHER, [x.t, pos], c.name, axis=b.gaxis(c, x, d), batch_dims=0)
    return Val(y, c.out_shape, None, x.nonneg)


def _f_gather(b: TorchBuilder, c: Call) -> Val:
    """torch.gather(x, -1, index) on (N, K) with index (N, k) → GATHER(axis=1, batch_dims=1)."""
    a = c.bind("input", "dim", "index", ("sparse_grad", False))
    x = _val(c, a["input"])
    b.plain(c, x, "gather")
    if len(x.shape) != 2 or int(a["dim"]) % 2 != 1:
        raise UnsupportedError(f"{c.where}: gather is supported along the last dim of an (N, K) tensor only")
    pos = _positions(b, c, a["index"], "index")
    if len(pos.shape) != 2 or pos.shape[0] != x.shape[0]:
        raise UnsupportedError(f"{c.where}: index {list(pos.shape)} must be (N, k) for an input {list(x.shape)}")
    return Val(b.emit(OpType.GATHER, [x.t, pos], c.name, axis=1, batch_dims=1), c.out_shape, None, x.nonneg)


def embedding(b: TorchBuilder, c: Call, ids: Any, weight: Any) -> Val:
    """Embedding rows of a constant table at computed (N,) ids → GATHER(axis 0)."""
    if isinstance(weight, Val):
        raise UnsupportedError(f"{c.where}: an embedding table computed from the input is not supported")
    if not isinstance(ids, Val) or len(ids.shape) != 1:
        raise UnsupportedError(f"{c.where}: embedding ids must be a computed (N,) index tensor (e.g. an argmax)")
    pos = _positions(b, c, ids, "ids")
    table = b.const(f"{c.name}.weight", _np(weight).astype(np.float32))
    return Val(b.emit(OpType.GATHER, [table, pos], c.name, axis=0, batch_dims=0), c.out_shape)


def _f_embedding(b: TorchBuilder, c: Call) -> Val:
    if c.mod is not None:
        m = c.mod
        if m.max_norm is not None:
            raise UnsupportedError(f"{c.where}: max_norm renormalizes rows at run time; not supported")
        return embedding(b, c, c.args[0] if c.args else c.kwargs.get("input"), m.weight)
    a = c.bind(
        "input",
        "weight",
        ("padding_idx", None),
        ("max_norm", None),
        ("norm_type", 2.0),
        ("scale_grad_by_freq", False),
        ("sparse", False),
    )
    if a["max_norm"] is not None:
        raise UnsupportedError(f"{c.where}: max_norm renormalizes rows at run time; not supported")
    return embedding(b, c, a["input"], a["weight"])


def _aten_embedding(b: TorchBuilder, c: Call) -> Val:  # aten.embedding(weight, indices, ...)
    return embedding(b, c, c.args[1], c.args[0])


def modules(torch) -> dict[Any, Any]:
    return {torch.nn.Embedding: _f_embedding}


def functions(torch, pairs: dict) -> dict[Any, Any]:
    """The function-table entries; ``pairs``: torch_ops' max / min of two tensors (MAXIMUM / MINIMUM)."""
    return {
        torch.index_select: _f_index_select,
        torch.gather: _f_gather,
        torch.nn.functional.embedding: _f_embedding,
        torch.amax: _f_reduce("max"),
        torch.amin: _f_reduce("min"),
        torch.sum: _f_reduce("sum"),
        torch.max: _f_min_max("max", pairs["max"]),
        torch.min: _f_min_max("min", pairs["min"]),
        torch.argmax: _f_arg("max"),
        torch.argmin: _f_arg("min"),
        torch.matmul: _f_matmul,
        operator.matmul: _f_matmul,
        torch.bmm: _f_bmm,
        torch.mm: _f_bmm,
        getattr: _f_getattr,
    }


ATEN: dict[str, Any] = {
    "amax.default": _f_reduce("max"),
    "amin.default": _f_reduce("min"),
    "sum.dim_IntList": _f_reduce("sum"),
    "sum.default": lambda b, c: reduce(b, c, "sum", _val(c, c.args[0]), None, False),
    "max.default": lambda b, c: reduce(b, c, "max", _val(c, c.args[0]), None, False),
    "min.default": lambda b, c: reduce(b, c, "min", _val(c, c.args[0]), None, False),
    "max.dim": _f_min_max("max", None),
    "min.dim": _f_min_max("min", None),
    "argmax.default": _f_arg("max"),
    "argmin.default": _f_arg("min"),
    "matmul.default": _f_matmul,
    "bmm.default": _f_bmm,
    "mm.default": _f_bmm,
    "numpy_T.default": lambda b, c: _swap_last(b, c, _val(c, c.args[0])),
    "t.default": lambda b, c: _swap_last(b, c, _val(c, c.args[0])),
    "mT.default": lambda b, c: _swap_last(b, c, _val(c, c.args[0])),
    "index_select.default": _f_index_select,
    "gather.default": _f_gather,
    "embedding.default": _aten_embedding,
}


def methods(pairs: dict) -> dict[str, Any]:
    """Tensor-method entries; ``pairs`` as for ``functions``."""
    return {
        "amax": _f_reduce("max"),
        "amin": _f_reduce("min"),
        "sum": _f_reduce("sum"),
        "max": _f_min_max("max", pairs["max"]),
        "min": _f_min_max("min", pairs["min"]),
        "argmax": _f_arg("max"),
        "argmin": _f_arg("min"),
        "matmul": _f_matmul,
        "bmm": _f_bmm,
        "mm": _f_bmm,
        "index_select": _f_index_select,
        "gather": _f_gather,
    }


__all__ = ["ATEN", "ValuesIndices", "arg", "batch_matmul", "embedding", "functions", "methods", "modules", "reduce"]
