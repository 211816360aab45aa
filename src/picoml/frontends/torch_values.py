"""PyTorch values in the graph and their lowering: ``Val`` (a graph tensor plus how it maps to
PyTorch's channels-first value), ``Call`` (one traced call) and ``TorchBuilder`` — the shared
``GraphBuilder`` (``frontends/lowering.py``) plus PyTorch's layout tracking and the layer
lowerings the handlers in ``frontends/torch_ops.py`` call. See ``frontends/torch.py`` for the
layout rules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from picoml.errors import UnsupportedError
from picoml.frontends.lowering import (
    NONNEGATIVE_OPS,
    GraphBuilder,
    Padding,
    batchnorm_affine,
    channels_last_perm,
    clamp_activation,
    conv_filter,
    is_depthwise,
    plan_padding,
    pool_padding,
    window_out,
)
from picoml.graph.ir import Tensor
from picoml.graph.ops import OpType


# ====================================================================== layout helpers
def _std_gshape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[i] for i in channels_last_perm(len(shape)))


def _std_order(shape: tuple[int, ...]) -> np.ndarray:
    """PyTorch flat index of each element of the standard graph layout, in graph memory order."""
    idx = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
    return idx.transpose(channels_last_perm(len(shape))).ravel()


def _ints(v: Any, n: int, what: str, where: str) -> tuple[int, ...]:
    """An int or a sequence of n ints (PyTorch's ``_pair``/``_single`` arguments) as a tuple."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    try:
        t = tuple(int(a) for a in v)
    except TypeError:
        raise UnsupportedError(f"{where}: {what} {v!r} is not an int or a tuple of ints") from None
    if len(t) == 1:
        return t * n
    if len(t) != n:
        raise UnsupportedError(f"{where}: {what} {v!r} should have {n} values")
    return t


def _np(v: Any) -> np.ndarray:
    """A constant argument (torch tensor, Python number, numpy) as float64 numpy."""
    if hasattr(v, "detach"):
        v = v.detach().cpu()
        if v.dtype.is_complex:
            raise UnsupportedError("complex constants are not supported")
        return v.double().numpy()
    return np.asarray(v, np.float64)


def _plan_padding(
    sizes: tuple[int, ...],
    ks: tuple[int, ...],
    ss: tuple[int, ...],
    ds: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    ceil: bool = False,
) -> Padding:
    """PyTorch's windows (symmetric ``pads``, ATen output sizes) as SAME, VALID or PAD + VALID."""
    outs = tuple(
        window_out(n, k, s, d, lo, hi, ceil) for n, k, s, d, (lo, hi) in zip(sizes, ks, ss, ds, pads, strict=True)
    )
    return plan_padding(sizes, ks, ss, ds, tuple(lo for lo, _ in pads), outs)


# ====================================================================== traced values
@dataclass
class Val:
    """A value that depends on the model input: a graph tensor plus how it maps to PyTorch's.

    ``order`` is None for the standard layout (``_perm``), else one PyTorch flat index per graph
    element in graph memory order (only for rank ≤ 2, e.g. a flattened channels-last map).
    """

    t: Tensor
    shape: tuple[int, ...]  # PyTorch shape
    order: np.ndarray | None = None
    nonneg: bool = False  # every value >= 0 (zero padding is then neutral for max pooling)
    origin: str = ""  # who made ``order`` (for messages)
    #: a product kept in PyTorch's order (``torch_reduce``): its twin in the standard layout, which a
    #: model output uses (the unused one is dropped)
    twin: Any = None


@dataclass
class Call:
    """One traced call handed to a handler."""

    where: str  # how messages name it: "features.0 (Conv2d)", "F.relu in blocks.1 (Block)"
    name: str  # base name for the graph tensors it makes
    args: tuple
    kwargs: dict
    out: Any  # PyTorch's value of this call on the example input
    mod: Any = None  # the submodule for call_module

    def bind(self, *spec: str | tuple[str, Any]) -> dict[str, Any]:
        """Arguments by name, positional or keyword, with defaults (``spec``: "name" or (name, default))."""
        names = [s if isinstance(s, str) else s[0] for s in spec]
        out = {s[0]: s[1] for s in spec if not isinstance(s, str)}
        if len(self.args) > len(names):
            raise UnsupportedError(f"{self.where}: takes at most {len(names)} arguments, got {len(self.args)}")
        out.update(zip(names, self.args, strict=False))  # fewer args than names
        for k, v in self.kwargs.items():
            if k not in names:
                raise UnsupportedError(f"{self.where}: argument {k!r} is not supported")
            out[k] = v
        missing = [n for n in names if n not in out]
        if missing:
            raise UnsupportedError(f"{self.where}: missing argument {missing[0]!r}")
        return out

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.out.shape)


# ====================================================================== graph builder
class TorchBuilder(GraphBuilder):
    """The shared ``GraphBuilder`` plus PyTorch's value tracking: layouts of ``Val``s, reshapes
    checked element by element, and the layer lowerings the handlers call."""

    NAMES = {
        "weights": "{}.weight",
        "bias": "{}.bias",
        "paddings": "{}_paddings",
        "pad": "{}_pad",
        "axes": "{}_axes",
        "neg": "{}_neg",
        "minus_one": "{}.minus_one",
        "hsig.6alpha": "{}.six_alpha",
        "hsig.scaled": "{}_scaled",
        "hsig.6beta": "{}.three",
        "hsig.shifted": "{}_add3",
        "hsig.relu6": "{}_relu6",
        "hsig.sixth": "{}.sixth",
        "hswish.hsig": "{}",
        "hswish.hsig_out": "{}_div6",
    }
    FIRST_DUPLICATE = 2

    def __init__(self) -> None:
        super().__init__()
        self._views: dict[tuple[int, tuple[int, ...]], Tensor] = {}

    # ------------------------------------------------------------ layouts
    def view(self, v: Val, gshape: tuple[int, ...]) -> Tensor:
        """``v``'s graph tensor with graph shape ``gshape`` (a RESHAPE, made once per shape)."""
        gshape = tuple(int(d) for d in gshape)
        if v.t.shape == gshape:
            return v.t
        key = (id(v.t), gshape)
        if key not in self._views:
            self._views[key] = self.emit_reshape(v.t, gshape, f"{v.t.name}_reshape", f"{v.t.name}_shape")
        return self._views[key]

    def std(self, v: Val) -> Tensor:
        return self.view(v, _std_gshape(v.shape))

    def as4d(self, c: Call, v: Val, nd: int) -> Tensor:
        """NHWC for a 2-D op; (N,1,L,C) for a 1-D op running as its 2-D form."""
        self.plain(c, v, "this layer")
        if len(v.shape) != nd + 2:
            dims = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
            raise UnsupportedError(f"{c.where}: expects a batched input {dims}, got shape {list(v.shape)}")
        if nd == 1:
            n, ch, length = v.shape
            return self.view(v, (n, 1, length, ch))
        return self.std(v)

    def gaxis(self, c: Call, v: Val, dim: int) -> int:
        """Graph axis of PyTorch dim ``dim`` of ``v`` (in v's current graph shape)."""
        r = len(v.shape)
        if not -r <= dim < r:
            raise UnsupportedError(f"{c.where}: dim {dim} out of range for rank {r}")
        d = dim % r
        if v.order is not None:
            return d
        if r == 4:
            return (0, 3, 1, 2)[d]
        if r == 3:
            return (0, 3, 2)[d] if len(v.t.shape) == 4 else (0, 2, 1)[d]
        return d

    def plain(self, c: Call, v: Val, what: str) -> None:
        if v.order is not None:
            raise UnsupportedError(
                f"{c.where}: {what} needs PyTorch's element order, but its input comes from {v.origin}, which "
                "flattens a channels-last tensor; feed the flatten straight to a Linear (its weights absorb the "
                "order) or flatten after global pooling"
            )

    def cols(self, c: Call, v: Val) -> np.ndarray:
        """For a permuted rank-1/2 value: the PyTorch feature index of each graph column."""
        f = v.shape[-1]
        rows = math.prod(v.shape[:-1])
        o = v.order.reshape(rows, f) - (np.arange(rows, dtype=np.int64) * f)[:, None]
        if ((o < 0) | (o >= f)).any() or not (o == o[0]).all():
            raise UnsupportedError(f"{c.where}: {v.origin} mixes values across the batch axis")
        return o[0]

    def layout_const(self, c: Call, v: Val, value: Any) -> np.ndarray:
        """A constant operand of an elementwise op with ``v``, in ``v``'s graph layout."""
        cv = _np(value)
        r = len(v.shape)
        if cv.ndim > r:
            raise UnsupportedError(f"{c.where}: constant of shape {list(cv.shape)} has a higher rank than the input")
        full = cv.reshape((1,) * (r - cv.ndim) + cv.shape)
        try:
            grown = np.broadcast_shapes(full.shape, v.shape) != tuple(v.shape)
        except ValueError:
            grown = True
        if grown:
            raise UnsupportedError(
                f"{c.where}: constant of shape {list(cv.shape)} does not broadcast to the input {list(v.shape)}"
            )
        if full.size == 1:
            return full.reshape((1,) * len(v.t.shape))
        if v.order is not None:
            return np.broadcast_to(full, v.shape).ravel()[v.order].reshape(v.t.shape)
        g = full.transpose(channels_last_perm(r))
        if len(v.t.shape) != g.ndim:  # (N,1,L,C) form of a rank-3 value
            g = g.reshape((g.shape[0], 1) + g.shape[1:])
        return g

    # ------------------------------------------------------------ lowerings
    def rearrange(self, c: Call, v: Val, idx_out: np.ndarray) -> Val:
        """A reshape/permute whose output element i is input element ``idx_out.flat[i]`` (PyTorch flat
        indices): a RESHAPE when the graph data already has that order, a permuted rank-≤2 value,
        or an error (it would need a transpose)."""
        out_shape = tuple(int(d) for d in idx_out.shape)
        gin = v.order if v.order is not None else _std_order(v.shape)
        want = idx_out.ravel()[_std_order(out_shape)]
        if np.array_equal(gin, want):
            return Val(self.view(v, _std_gshape(out_shape)), out_shape, None, v.nonneg)
        if len(out_shape) <= 2:
            inv = np.empty(idx_out.size, np.int64)
            inv[idx_out.ravel()] = np.arange(idx_out.size)
            order = inv[gin]
            if np.array_equal(order, np.arange(order.size)):
                order = None
            origin = v.origin if v.order is not None else c.where
            return Val(self.view(v, out_shape), out_shape, order, v.nonneg, origin)
        inv = np.empty(idx_out.size, np.int64)
        inv[idx_out.ravel()] = np.arange(idx_out.size)
        src, gin = self.source(c, v)
        return self.place(c, src, inv[gin], out_shape, v.nonneg)

    # ------------------------------------------------------------ data movement (gathers)
    def source(self, c: Call, v: Val) -> tuple[Tensor, np.ndarray]:
        """``v``'s graph tensor in its graph shape and the PyTorch flat index each of its elements
        holds (graph memory order)."""
        if v.order is not None:
            return v.t, v.order
        return self.std(v), _std_order(v.shape)

    def place(self, c: Call, t: Tensor, order: np.ndarray, out_shape: tuple[int, ...], nonneg: bool = False) -> Val:
        """The value of PyTorch shape ``out_shape`` held by graph tensor ``t``, whose element i (memory
        order) is the value's PyTorch element ``order[i]``: a view when that is the standard layout,
        a permuted rank-≤2 value (dense layers absorb it), else a TRANSPOSE into the standard layout."""
        out_shape = tuple(int(d) for d in out_shape)
        want = _std_order(out_shape)
        if np.array_equal(order, want):
            return Val(self.view(Val(t, out_shape), _std_gshape(out_shape)), out_shape, None, nonneg)
        if len(out_shape) <= 2:
            return Val(self.view(Val(t, out_shape), out_shape), out_shape, order, nonneg, c.where)
        inv = np.empty(order.size, np.int64)
        inv[order] = np.arange(order.size)
        y = self.emit_permutation(t, inv[want], _std_gshape(out_shape), f"{c.name}_layout")
        if y is None:
            raise UnsupportedError(f"{c.where}: the result's element order is no transpose of the input's")
        return Val(y, out_shape, None, nonneg)

    def materialize(self, c: Call, v: Val) -> Val:
        """``v`` in the standard layout: a permuted rank-≤2 value (a flattened channels-last tensor) is
        moved into PyTorch's order with a TRANSPOSE."""
        if v.order is None:
            return v
        inv = np.empty(v.order.size, np.int64)
        inv[v.order] = np.arange(v.order.size)
        y = self.emit_permutation(v.t, inv, tuple(v.t.shape), f"{v.t.name}_torch_order")
        if y is None:
            raise UnsupportedError(
                f"{c.where}: needs PyTorch's element order, but its input comes from {v.origin}, whose order is no "
                "transpose of PyTorch's"
            )
        return Val(y, v.shape, None, v.nonneg)

    @staticmethod
    def _box(m: np.ndarray, o: np.ndarray) -> list[np.ndarray] | None:
        """Per axis of graph index array ``m``, the coordinates holding the PyTorch elements ``o``
        reads, if they form a box of arithmetic progressions (a STRIDED_SLICE); else None."""
        used = np.zeros(m.size, bool)
        used[o.ravel()] = True
        mask = used[m]
        sel = [np.flatnonzero(mask.any(axis=tuple(a for a in range(m.ndim) if a != k))) for k in range(m.ndim)]
        if int(mask.sum()) != math.prod(len(x) for x in sel) or not mask[np.ix_(*sel)].all():
            return None
        for x in sel:
            if len(x) > 1 and not (np.diff(x) == x[1] - x[0]).all():
                return None
        return sel

    @staticmethod
    def _inverse(o: np.ndarray, n: int) -> np.ndarray | None:
        """Output flat index of each input element ``o`` reads (None if one is read twice)."""
        if np.unique(o).size != o.size:
            return None
        inv = np.full(n, -1, np.int64)
        inv[o.ravel()] = np.arange(o.size)
        return inv

    def gather(self, c: Call, v: Val, o: np.ndarray) -> Val:
        """The value whose PyTorch element j is ``v``'s element ``o.flat[j]`` (``o`` of the output's
        shape): a STRIDED_SLICE of the elements it reads (none if all), then ``place``."""
        src, gin = self.source(c, v)
        m = gin.reshape(src.shape)
        sel, inv = self._box(m, o), self._inverse(o, gin.size)
        if inv is None:
            raise UnsupportedError(f"{c.where}: reads an element twice (only slices and permutations are supported)")
        if sel is None:
            if v.order is not None:
                return self.gather(c, self.materialize(c, v), o)
            raise UnsupportedError(f"{c.where}: the elements it reads are no strided box of the input")
        r = self.emit_slice(src, sel, c.name)
        return self.place(c, r, inv[m[np.ix_(*sel)].ravel()], o.shape, v.nonneg)

    def split_parts(self, c: Call, v: Val, parts: list[np.ndarray]) -> tuple[Val, ...]:
        """chunk / split / unbind: parts along one axis as SPLIT, SPLIT_V or UNPACK (one gather per
        part when they are not)."""
        v = self.materialize(c, v)
        src, gin = self.source(c, v)
        m = gin.reshape(src.shape)
        names = [f"{c.name}_{i}" for i in range(len(parts))]
        boxes = [self._box(m, o) for o in parts]
        axis = None
        if all(b is not None for b in boxes):
            moving = [k for k in range(m.ndim) if any(not np.array_equal(b[k], boxes[0][k]) for b in boxes)]
            k = moving[0] if len(moving) == 1 else (int(np.argmax(m.shape)) if len(parts) == 1 else None)
            if k is not None and all(len(b[j]) == m.shape[j] for b in boxes for j in range(m.ndim) if j != k):
                flat = np.concatenate([b[k] for b in boxes])
                if np.array_equal(flat, np.arange(m.shape[k])) and all((np.diff(b[k]) == 1).all() for b in boxes):
                    axis = k
        if axis is None:
            return tuple(self.gather(Call(c.where, n, (), {}, o), v, o) for n, o in zip(names, parts, strict=True))
        sizes = [len(b[axis]) for b in boxes]
        unbind = all(o.ndim == len(v.shape) - 1 for o in parts)
        ts = self.emit_unpack(src, axis, names) if unbind else self.emit_split(src, axis, sizes, names)
        out, lo = [], 0
        for t, o, n, size in zip(ts, parts, names, sizes, strict=True):
            mi = m.take(lo, axis=axis) if unbind else m.take(np.arange(lo, lo + size), axis=axis)
            inv = self._inverse(o, gin.size)
            out.append(self.place(Call(c.where, n, (), {}, o), t, inv[mi.ravel()], o.shape, v.nonneg))
            lo += size
        return tuple(out)

    def stack(self, c: Call, vals: list[Val], dim: int) -> Val:
        """torch.stack: PACK of the inputs' graph tensors on the graph axis that keeps the standard
        layout when there is one (else the last, and ``place`` transposes)."""
        out_shape = c.out_shape
        r = len(out_shape)
        d = dim % r
        vals = [self.materialize(c, v) for v in vals]
        srcs = [self.std(v) for v in vals]
        gin = _std_order(vals[0].shape)
        grid = np.arange(math.prod(out_shape), dtype=np.int64).reshape(out_shape)
        orders = [grid.take(i, axis=d).ravel()[gin].reshape(srcs[0].shape) for i in range(len(vals))]
        want = _std_order(out_shape)
        best = next((a for a in range(r) if np.array_equal(np.stack(orders, axis=a).ravel(), want)), r - 1)
        y = self.emit_pack(srcs, best, c.name)
        return self.place(c, y, np.stack(orders, axis=best).ravel(), out_shape, all(v.nonneg for v in vals))

    def reshape(self, c: Call, v: Val, out_shape: tuple[int, ...]) -> Val:
        return self.rearrange(c, v, np.arange(math.prod(out_shape), dtype=np.int64).reshape(out_shape))

    def conv(
        self,
        c: Call,
        x: Val,
        weight: Any,
        bias: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        nd: int,
    ) -> Val:
        """Conv1d/Conv2d → CONV_2D (groups incl. grouped) or DEPTHWISE_CONV_2D, with SAME/VALID or PAD."""
        xt = self.as4d(c, x, nd)
        w = _np(weight).astype(np.float32)
        stride = _ints(stride, nd, "stride", c.where)
        dilation = _ints(dilation, nd, "dilation", c.where)
        if nd == 1:
            w = w[:, :, None, :]
            stride, dilation = (1,) + stride, (1,) + dilation
        n, h, wd, cin = xt.shape
        cout, cg, kh, kw = w.shape
        groups = int(groups)
        if cg * groups != cin or cout % groups:
            raise UnsupportedError(
                f"{c.where}: {cin} input channels do not match weight {list(w.shape)}, groups {groups}"
            )
        if isinstance(padding, str):
            if padding == "valid":
                pads = ((0, 0), (0, 0))
            elif padding == "same":  # ATen _convolution_same: total d·(k-1), the odd pad at the end
                pads = tuple(
                    ((k - 1) * d // 2, (k - 1) * d - (k - 1) * d // 2) for k, d in zip((kh, kw), dilation, strict=True)
                )
            else:
                raise UnsupportedError(f"{c.where}: padding {padding!r} is not supported")
        else:
            p = _ints(padding, nd, "padding", c.where)
            if nd == 1:
                p = (0,) + p
            pads = tuple((q, q) for q in p)
        plan = _plan_padding((h, wd), (kh, kw), stride, dilation, pads)
        xin, mode = self.pad_spatial(xt, plan, c.name)
        b = None if bias is None else self.const(self.name(c.name, "bias"), _np(bias))
        depthwise = is_depthwise(groups, cin)
        wt = self.const(self.name(c.name, "weights"), conv_filter(w, depthwise))
        y = self.emit_conv(xin, wt, b, depthwise, stride, dilation, mode, c.name)
        return Val(y, c.out_shape)

    def linear(self, c: Call, x: Val, weight: Any, bias: Any) -> Val:
        """Linear → FULLY_CONNECTED; a permuted (flattened channels-last) input permutes the weight columns."""
        if len(x.shape) not in (1, 2):
            raise UnsupportedError(
                f"{c.where}: Linear on a rank-{len(x.shape)} input {list(x.shape)} is not supported "
                "(the graph is channels-last); flatten to (N, features) first"
            )
        w = _np(weight)
        if w.ndim != 2 or w.shape[1] != x.shape[-1]:
            raise UnsupportedError(f"{c.where}: weight {list(w.shape)} does not match input {list(x.shape)}")
        if x.order is not None:
            w = w[:, self.cols(c, x)]  # graph column j holds PyTorch feature cols[j]
        b = None if bias is None else _np(bias).reshape(-1)
        return Val(self.emit_dense(x.t, w, b, c.name), c.out_shape)

    def channel_const(self, c: Call, x: Val, vec: np.ndarray, suffix: str) -> Tensor:
        """A per-channel (PyTorch dim 1) constant laid out to broadcast against ``x``'s graph tensor."""
        if x.order is not None:
            vec = vec[self.cols(c, x)]
        return self.const(f"{c.name}.{suffix}", vec.reshape((1,) * (len(x.t.shape) - 1) + (-1,)))

    def batchnorm(self, c: Call, x: Val, mean: Any, var: Any, gamma: Any, beta: Any, eps: float) -> Val:
        """Inference BatchNorm as MUL + ADD per channel (``fold_batchnorm`` folds it into a preceding layer).

        PyTorch ``batch_norm``: y = (x − μ) / sqrt(σ² + ε) · γ + β = x · s + (β − μ · s).
        """
        if len(x.shape) < 2 or len(x.shape) > 4:
            raise UnsupportedError(f"{c.where}: BatchNorm on a rank-{len(x.shape)} input is not supported")
        ch = x.shape[1]
        g = np.ones(ch) if gamma is None else _np(gamma)
        be = np.zeros(ch) if beta is None else _np(beta)
        s, t = batchnorm_affine(_np(mean), _np(var), g, be, eps)
        y = self.emit(OpType.MUL, [x.t, self.channel_const(c, x, s, "scale")], f"{c.name}_scale")
        y = self.emit(OpType.ADD, [y, self.channel_const(c, x, t, "shift")], c.name)
        return Val(y, c.out_shape, x.order, False, x.origin)

    def unary(self, c: Call, x: Val, op_type: str) -> Val:
        y = self.emit(op_type, [x.t], c.name)
        nonneg = op_type in NONNEGATIVE_OPS
        return Val(y, c.out_shape, x.order, nonneg, x.origin)

    def clamp(self, c: Call, x: Val, lo: Any, hi: Any) -> Val:
        lo = None if lo is None else float(lo)
        hi = None if hi is None else float(hi)
        act = clamp_activation(lo, hi)
        if act == "identity":
            return x
        if act is not None:
            return self.unary(c, x, act)
        raise UnsupportedError(
            f"{c.where}: clamp to [{lo}, {hi}] is not supported (picoml has RELU [0, inf), RELU6 [0, 6] and RELU_N1_TO_1 [-1, 1])"
        )

    def binary(self, c: Call, kind: str, a: Any, b: Any) -> Val:
        """A binary elementwise op with PyTorch broadcasting; a constant operand is laid out like the
        other one and keeps its side (SUB, DIV, ... are not commutative)."""
        const_first = not isinstance(a, Val)
        if const_first:
            a, b = b, a
        out_shape = c.out_shape
        if isinstance(b, Val):
            if len(a.shape) != len(b.shape):
                raise UnsupportedError(
                    f"{c.where}: operands of rank {len(a.shape)} and {len(b.shape)} (broadcasting across ranks "
                    "is not supported)"
                )
            if a.order is not None or b.order is not None:
                if (
                    a.order is None
                    or b.order is None
                    or a.shape != b.shape
                    or not np.array_equal(a.order, b.order)
                    or a.t.shape != b.t.shape
                ):
                    self.plain(c, a if a.order is not None else b, "an elementwise op with another tensor")
                ta, tb = a.t, b.t
            elif len(a.t.shape) == len(b.t.shape):
                ta, tb = a.t, b.t
            else:
                ta, tb = self.std(a), self.std(b)
            y = self.emit(kind, [ta, tb], c.name)
            nonneg = kind in (OpType.MUL, OpType.ADD) and a.nonneg and b.nonneg
            return Val(y, out_shape, a.order, nonneg, a.origin)
        if tuple(a.shape) != out_shape:
            raise UnsupportedError(
                f"{c.where}: constant operand grows the input {list(a.shape)} to {list(out_shape)} by broadcasting"
            )
        k = self.const(f"{c.name}.const", self.layout_const(c, a, b))
        ins = [k, a.t] if const_first else [a.t, k]
        return Val(self.emit(kind, ins, c.name), out_shape, a.order, False, a.origin)

    def negate(self, c: Call, v: Val) -> Val:
        y = self.emit_negate(v.t, c.name)
        return Val(y, v.shape, v.order, False, v.origin)

    def pool(
        self,
        c: Call,
        kind: str,
        x: Val,
        kernel: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        ceil_mode: bool,
        count_include_pad: bool,
        divisor_override: Any,
        nd: int,
    ) -> Val:
        """Max/average pooling with PyTorch's padding and divisor semantics mapped exactly or refused.

        AVERAGE_POOL_2D divides by the taps inside the input (TFLite excludes padding). PyTorch's
        ``count_include_pad=True`` divides by the window including padding: that is PAD (zeros)
        + VALID. MAX_POOL_2D never reads padding; PAD (zeros) + VALID is exact only on
        non-negative inputs (after ReLU), where a zero never wins a window holding a real value.
        """
        xt = self.as4d(c, x, nd)
        k = _ints(kernel, nd, "kernel_size", c.where)
        s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else None
        s = s or _ints(stride, nd, "stride", c.where)
        p = _ints(padding, nd, "padding", c.where)
        d = _ints(dilation, nd, "dilation", c.where)
        if any(v != 1 for v in d):
            raise UnsupportedError(f"{c.where}: pooling with dilation {list(d)} is not supported")
        if divisor_override is not None:
            raise UnsupportedError(f"{c.where}: divisor_override is not supported")
        if nd == 1:
            k, s, p = (1,) + k, (1,) + s, (0,) + p
        _, h, w, _ = xt.shape
        plan = _plan_padding((h, w), k, s, (1, 1), tuple((q, q) for q in p), bool(ceil_mode))
        padded = any(p)
        mode = pool_padding(kind, plan, padded, bool(count_include_pad), x.nonneg)
        pads = plan.pads
        if kind == "avg" and padded and count_include_pad:
            # the divisor counts the padding: PAD (zeros) + VALID, exact when every window lies
            # inside the padded input (a ceil_mode window hanging past it has a smaller divisor)
            if plan.outs != tuple((n + 2 * q - kk) // ss + 1 for n, q, kk, ss in zip((h, w), p, k, s, strict=True)):
                raise UnsupportedError(
                    f"{c.where}: ceil_mode with count_include_pad=True and padding is not supported "
                    "(PyTorch's divisor for the overhanging window has no TFLite equivalent)"
                )
            pads = tuple((q, q) for q in p)
        elif mode is None and kind == "avg":
            raise UnsupportedError(
                f"{c.where}: average pooling with padding {list(p[-nd:])} and count_include_pad=False does not "
                "match TFLite's SAME padding here (PyTorch pads both sides equally; TFLite puts the odd pad at the end)"
            )
        elif mode is None:
            raise UnsupportedError(
                f"{c.where}: max pooling with padding {list(p[-nd:])} does not match TFLite's SAME padding here and "
                "its input may be negative (explicit zero padding is exact only after a ReLU)"
            )
        xin = xt
        if mode == "EXPLICIT":
            xin, mode = self.emit_pad(xt, ((0, 0),) + pads + ((0, 0),), c.name), "VALID"
        y = self.emit_pool(kind, xin, k, s, mode, c.name)
        return Val(y, c.out_shape, None, x.nonneg)

    def mean(self, c: Call, x: Val, dims: Any, keepdim: bool) -> Val:
        """torch.mean over non-batch dims → MEAN on the matching graph axes."""
        self.plain(c, x, "a mean")
        r = len(x.shape)
        if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
            dims = list(range(r))
        dims = sorted({int(d) % r for d in ([dims] if isinstance(dims, int) else dims)})
        if 0 in dims:
            raise UnsupportedError(f"{c.where}: averaging over the batch dimension is not supported")
        axes = sorted(self.gaxis(c, x, d) for d in dims)
        keep_shape = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
        v = Val(self.emit_mean(x.t, axes, True, c.name), keep_shape, None, x.nonneg)
        if keepdim:
            return v
        return self.reshape(c, v, c.out_shape)

    def adaptive(self, c: Call, kind: str, x: Val, output_size: Any, nd: int) -> Val:
        """AdaptiveAvg/MaxPool: global → MEAN (avg) or a whole-input window (max); an output size that
        divides the input gives uniform windows → AVERAGE/MAX_POOL_2D (ATen start = ⌊i·L/o⌋, end = ⌈(i+1)·L/o⌉)."""
        self.plain(c, x, "adaptive pooling")
        if len(x.shape) != nd + 2:
            raise UnsupportedError(f"{c.where}: expects a batched {nd + 2}-D input, got shape {list(x.shape)}")
        sizes = x.shape[2:]
        if isinstance(output_size, int) or output_size is None:
            output_size = (output_size,) * nd
        outs = tuple(n if o is None else int(o) for o, n in zip(output_size, sizes, strict=True))
        if kind == "avg" and all(o == 1 for o in outs):
            return self.mean(c, x, list(range(2, 2 + nd)), True)
        if any(n % o for n, o in zip(sizes, outs, strict=True)):
            raise UnsupportedError(
                f"{c.where}: adaptive pooling from {list(sizes)} to {list(outs)} has unequal windows; "
                "only output sizes that divide the input are supported"
            )
        ks = tuple(n // o for n, o in zip(sizes, outs, strict=True))
        return self.pool(c, kind, x, ks, ks, 0, 1, False, False, None, nd)

    def softmax(self, c: Call, x: Val, dim: Any) -> Val:
        if dim is None:
            raise UnsupportedError(f"{c.where}: softmax needs an explicit dim")
        ax = self.gaxis(c, x, int(dim))
        if ax != len(x.t.shape) - 1:
            raise UnsupportedError(
                f"{c.where}: softmax over PyTorch dim {dim} of shape {list(x.shape)} is not the channels-last "
                "graph's last axis (SOFTMAX works on the last axis)"
            )
        # softmax is permutation-invariant along its axis, so a permuted value keeps its order
        return Val(self.emit_softmax(x.t, c.name), x.shape, x.order, True, x.origin)

    def cat(self, c: Call, items: list[Any], dim: int) -> Val:
        """torch.cat → CONCATENATION on the graph axis of ``dim`` (channels → last axis)."""
        vals = [v for v in items if isinstance(v, Val)]
        r = len(vals[0].shape)
        d = int(dim) % r
        out_shape = c.out_shape
        if any(v.order is not None for v in vals):
            if r != 2 or d != 1 or len(vals) != len(items):
                self.plain(c, next(v for v in vals if v.order is not None), "this concatenation")
            cols, off = [], 0
            for v in vals:
                cols.append((self.cols(c, v) if v.order is not None else np.arange(v.shape[1])) + off)
                off += v.shape[1]
            perm = np.concatenate(cols)
            order = (perm[None, :] + (np.arange(out_shape[0]) * out_shape[1])[:, None]).ravel()
            y = self.emit(OpType.CONCATENATION, [v.t for v in vals], c.name, axis=1)
            origin = next(v.origin for v in vals if v.order is not None)
            return Val(y, out_shape, order, all(v.nonneg for v in vals), origin)
        four = r == 3 and all(len(v.t.shape) == 4 for v in vals)
        ts: list[Tensor] = []
        for i, v in enumerate(items):
            if isinstance(v, Val):
                ts.append(v.t if four else self.std(v))
            else:
                g = _np(v).transpose(channels_last_perm(r))
                if four:
                    g = g.reshape((g.shape[0], 1) + g.shape[1:])
                ts.append(self.const(f"{c.name}.const{i}", g))
        ref = Val(ts[0], vals[0].shape)
        y = self.emit(OpType.CONCATENATION, ts, c.name, axis=self.gaxis(c, ref, d))
        return Val(y, out_shape, None, all(v.nonneg for v in vals))

    def pad(self, c: Call, x: Val, pad: Any, mode: str, value: Any) -> Val:
        """F.pad (constant 0) → PAD; PyTorch lists (before, after) pairs from the last dim backwards."""
        self.plain(c, x, "padding")
        if mode != "constant" or (value is not None and float(value) != 0.0):
            raise UnsupportedError(f"{c.where}: only zero constant padding is supported (got {mode}, {value})")
        pad = [int(p) for p in pad]
        if any(p < 0 for p in pad) or len(pad) % 2:
            raise UnsupportedError(f"{c.where}: padding {pad} is not supported (negative or odd length)")
        pads = [[0, 0] for _ in x.t.shape]
        for i in range(len(pad) // 2):
            ax = self.gaxis(c, x, len(x.shape) - 1 - i)
            pads[ax] = [pad[2 * i], pad[2 * i + 1]]
        if any(pads[0]):
            raise UnsupportedError(f"{c.where}: padding the batch dimension is not supported")
        return Val(self.emit_pad(x.t, tuple(map(tuple, pads)), c.name), c.out_shape, None, x.nonneg)

    def hardswish(self, c: Call, x: Val) -> Val:
        """PyTorch: x · relu6(x + 3) / 6 (HARD_SWISH)."""
        return Val(self.emit_hard_swish(x.t, c.name), c.out_shape, x.order, False, x.origin)

    def elu(self, c: Call, x: Val, alpha: Any) -> Val:
        return Val(self.emit_elu(x.t, float(alpha), c.name, c.where), c.out_shape, x.order, False, x.origin)

    def prelu(self, c: Call, x: Val, weight: Any) -> Val:
        """PReLU with one slope or one per channel (PyTorch dim 1), as a PRELU constant alpha."""
        w = np.asarray(_np(weight), np.float32).reshape(-1)
        if w.size == 1:
            alpha = self.const(f"{c.name}.alpha", w.reshape((1,)))
        elif len(x.shape) >= 2 and x.shape[1] == w.size:
            alpha = self.channel_const(c, x, w, "alpha")
        else:
            raise UnsupportedError(f"{c.where}: {w.size} PReLU slopes for an input of shape {list(x.shape)}")
        return Val(self.emit(OpType.PRELU, [x.t, alpha], c.name), c.out_shape, x.order, False, x.origin)

    def hardsigmoid(self, c: Call, x: Val) -> Val:
        """PyTorch: relu6(x + 3) / 6."""
        y = self.emit_hard_sigmoid(x.t, c.name, c.name)
        return Val(y, c.out_shape, x.order, True, x.origin)

    def silu(self, c: Call, x: Val) -> Val:
        """PyTorch: x · sigmoid(x)."""
        s = self.emit(OpType.LOGISTIC, [x.t], f"{c.name}_sigmoid")
        return Val(self.emit(OpType.MUL, [x.t, s], c.name), c.out_shape, x.order, False, x.origin)
