"""PyTorch front-end: ``from_torch(module, example_input)`` → a validated float32 ``Graph``.

How it works
------------
1. The module is traced with ``torch.fx`` symbolic tracing (module paths stay node targets, so
   every message names the offending submodule). Code fx cannot trace — Python control flow on
   shapes — falls back to ``torch.export`` (ATen ops; module paths from ``nn_module_stack``).
   A ``torch.fx.GraphModule`` (e.g. ``torch.export.load(...).module()``) is used as it is.
2. The traced graph runs once on ``example_input``: every node's value gives its static shape,
   folds constant sub-expressions (``w * 2``, ``x.size(0)``) and is the reference the finished
   graph is checked against.
3. Each node that depends on the input goes through an explicit handler table keyed by the torch
   target (module class, function, method name or ATen overload), hls4ml-style; the handlers
   lower onto picoml's closed op set.
4. Passes: BatchNorm (lowered to per-channel MUL + ADD) folds into the preceding conv / dense
   layer (``picoml.passes.fold_batchnorm``); RELU/RELU6 fuse into the producing conv, dense or
   add (``picoml.passes.fuse_activations``).

Layout
------
PyTorch is channels-first, the graph channels-last: a PyTorch value of shape (N,C,H,W) lives
in the graph as (N,H,W,C), (N,C,L) as (N,L,C) — or as (N,1,L,C) around Conv1d/pooling, which
run as their 2-D ops with a 1-row image — and (N,F) as is. ``to_graph_layout`` and
``from_graph_layout`` permute data the same way. Reshapes are checked element by element: a
``view``/``flatten``/``permute`` whose result the channels-last data already holds in order
becomes a RESHAPE; a flatten of a channels-last feature map gives an (N,F) value whose columns
are a known permutation of PyTorch's (C,H,W) order, which a following Linear absorbs by
permuting its weight columns (no transpose at run time); anything else would need a TRANSPOSE,
which picoml does not have, and is refused naming the module.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from picoml.errors import GraphError, InputError, PicomlError, UnsupportedError
from picoml.frontends.lowering import from_graph_layout, to_graph_layout
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import default_attrs, infer_output_shapes, out_size, same_padding
from picoml.passes import fold_batchnorm, fuse_activations
from picoml.reference.interpreter import Interpreter

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["from_graph_layout", "from_torch", "supported_torch", "to_graph_layout"]

#: Self-check of the finished graph against PyTorch on the example input. Loose on purpose: it
#: catches a wrong layout or a mis-mapped option (errors of the order of the values themselves),
#: not float32 summation-order noise (~1e-6 relative), so it never rejects a correct graph.
SELF_CHECK_RTOL = 1e-3


def _need_torch():
    try:
        import torch
        import torch.fx  # noqa: F401
    except ImportError:
        raise PicomlError("from_torch needs PyTorch: pip install 'picoml[torch]'") from None
    return torch


# ====================================================================== layout helpers
def _perm(rank: int) -> tuple[int, ...]:
    """PyTorch axes in graph order: (N,C,H,W) → (N,H,W,C), (N,C,L) → (N,L,C), others as is."""
    if rank == 4:
        return (0, 2, 3, 1)
    if rank == 3:
        return (0, 2, 1)
    return tuple(range(rank))


def _std_gshape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[i] for i in _perm(len(shape)))


def _std_order(shape: tuple[int, ...]) -> np.ndarray:
    """PyTorch flat index of each element of the standard graph layout, in graph memory order."""
    idx = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)
    return idx.transpose(_perm(len(shape))).ravel()


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


def _torch_out(size: int, k: int, s: int, d: int, lo: int, hi: int, ceil: bool = False) -> int:
    """PyTorch's output length (ATen ``pooling_output_shape`` for pools; conv is the floor case)."""
    eff = (k - 1) * d + 1
    num = size + lo + hi - eff
    if num < 0:
        return 0
    o = (num + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= size + lo:  # the last window must start inside the input or left padding
        o -= 1
    return o


@dataclass
class _Padding:
    """How a PyTorch padded window maps to TFLite: ``mode`` SAME/VALID, or None = PAD op + VALID."""

    outs: tuple[int, ...]
    mode: str | None
    pads: tuple[tuple[int, int], ...]  # for the PAD op: (before, after) per spatial axis


def _plan_padding(
    sizes: tuple[int, ...],
    ks: tuple[int, ...],
    ss: tuple[int, ...],
    ds: tuple[int, ...],
    pads: tuple[tuple[int, int], ...],
    ceil: bool = False,
) -> _Padding:
    """Pick SAME or VALID when it reads exactly PyTorch's windows, else an explicit PAD.

    Two paddings give the same windows when they give the same output size and the same leading
    pad (taps past the end are zeros in both). PyTorch pads symmetrically; TFLite's SAME puts an
    odd total pad at the end (``ComputePaddingWithOffset``), so e.g. a 3x3 stride-2 conv with
    ``padding=1`` on an even input is *not* SAME.
    """
    outs = tuple(
        _torch_out(n, k, s, d, lo, hi, ceil) for n, k, s, d, (lo, hi) in zip(sizes, ks, ss, ds, pads, strict=True)
    )
    zipped = list(zip(sizes, ks, ss, ds, pads, outs, strict=True))
    if all(lo == 0 and o == out_size(n, k, s, d, "VALID") for n, k, s, d, (lo, _), o in zipped):
        return _Padding(outs, "VALID", ())
    if all(
        o == out_size(n, k, s, d, "SAME") and same_padding(n, k, s, d, o) == lo for n, k, s, d, (lo, _), o in zipped
    ):
        return _Padding(outs, "SAME", ())
    # Explicit: pad the leading side as PyTorch does and the trailing side only as far as the
    # last window reads, then VALID reproduces PyTorch's output size.
    exp = tuple((lo, max(0, (o - 1) * s + (k - 1) * d + 1 - n - lo)) for n, k, s, d, (lo, _), o in zipped)
    return _Padding(outs, None, exp)


# ====================================================================== traced values
@dataclass
class _Val:
    """A value that depends on the model input: a graph tensor plus how it maps to PyTorch's.

    ``order`` is None for the standard layout (``_perm``), else one PyTorch flat index per graph
    element in graph memory order (only for rank ≤ 2, e.g. a flattened channels-last map).
    """

    t: Tensor
    shape: tuple[int, ...]  # PyTorch shape
    order: np.ndarray | None = None
    nonneg: bool = False  # every value >= 0 (zero padding is then neutral for max pooling)
    origin: str = ""  # who made ``order`` (for messages)


@dataclass
class _Call:
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
class _Builder:
    """Emits graph tensors and ops; every lowering helper used by the handlers lives here."""

    def __init__(self) -> None:
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self._names: set[str] = set()
        self._views: dict[tuple[int, tuple[int, ...]], Tensor] = {}

    # ------------------------------------------------------------ primitives
    def unique(self, base: str) -> str:
        base = base or "t"
        name, k = base, 1
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def const(self, base: str, data: Any, dtype: str = "float32") -> Tensor:
        arr = np.ascontiguousarray(np.asarray(data).astype(dtype))
        t = Tensor(self.unique(base), arr.shape, dtype, data=arr)
        self.tensors.append(t)
        return t

    def scalar(self, base: str, value: float, like: Tensor) -> Tensor:
        """A float constant shaped (1, ..., 1) with ``like``'s rank (broadcasts in ADD/MUL)."""
        return self.const(base, np.full((1,) * len(like.shape), value))

    def emit(self, op_type: str, inputs: list[Tensor | None], name: str, **attrs: Any) -> Tensor:
        a = default_attrs(op_type)
        assert set(attrs) <= set(a), (op_type, attrs)
        a.update(attrs)
        out = Tensor(self.unique(name), ())
        op = Op(op_type, inputs, [out], a, name=out.name)
        (shape,) = infer_output_shapes(op)
        out.shape = tuple(shape)
        self.tensors.append(out)
        self.ops.append(op)
        return out

    def view(self, v: _Val, gshape: tuple[int, ...]) -> Tensor:
        """``v``'s graph tensor with graph shape ``gshape`` (a RESHAPE, made once per shape)."""
        gshape = tuple(int(d) for d in gshape)
        if v.t.shape == gshape:
            return v.t
        key = (id(v.t), gshape)
        if key not in self._views:
            shp = self.const(f"{v.t.name}_shape", np.array(gshape, np.int32), "int32")
            self._views[key] = self.emit("RESHAPE", [v.t, shp], f"{v.t.name}_reshape", new_shape=tuple(gshape))
        return self._views[key]

    def std(self, v: _Val) -> Tensor:
        return self.view(v, _std_gshape(v.shape))

    def as4d(self, c: _Call, v: _Val, nd: int) -> Tensor:
        """NHWC for a 2-D op; (N,1,L,C) for a 1-D op running as its 2-D form."""
        self.plain(c, v, "this layer")
        if len(v.shape) != nd + 2:
            dims = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
            raise UnsupportedError(f"{c.where}: expects a batched input {dims}, got shape {list(v.shape)}")
        if nd == 1:
            n, ch, length = v.shape
            return self.view(v, (n, 1, length, ch))
        return self.std(v)

    def gaxis(self, c: _Call, v: _Val, dim: int) -> int:
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

    def plain(self, c: _Call, v: _Val, what: str) -> None:
        if v.order is not None:
            raise UnsupportedError(
                f"{c.where}: {what} needs PyTorch's element order, but its input comes from {v.origin}, which "
                "flattens a channels-last tensor (picoml has no TRANSPOSE op); feed the flatten straight to a "
                "Linear (its weights absorb the order) or flatten after global pooling"
            )

    def cols(self, c: _Call, v: _Val) -> np.ndarray:
        """For a permuted rank-1/2 value: the PyTorch feature index of each graph column."""
        f = v.shape[-1]
        rows = math.prod(v.shape[:-1])
        o = v.order.reshape(rows, f) - (np.arange(rows, dtype=np.int64) * f)[:, None]
        if ((o < 0) | (o >= f)).any() or not (o == o[0]).all():
            raise UnsupportedError(f"{c.where}: {v.origin} mixes values across the batch axis")
        return o[0]

    def layout_const(self, c: _Call, v: _Val, value: Any) -> np.ndarray:
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
        g = full.transpose(_perm(r))
        if len(v.t.shape) != g.ndim:  # (N,1,L,C) form of a rank-3 value
            g = g.reshape((g.shape[0], 1) + g.shape[1:])
        return g

    # ------------------------------------------------------------ lowerings
    def rearrange(self, c: _Call, v: _Val, idx_out: np.ndarray) -> _Val:
        """A reshape/permute whose output element i is input element ``idx_out.flat[i]`` (PyTorch flat
        indices): a RESHAPE when the graph data already has that order, a permuted rank-≤2 value,
        or an error (it would need a transpose)."""
        out_shape = tuple(int(d) for d in idx_out.shape)
        gin = v.order if v.order is not None else _std_order(v.shape)
        want = idx_out.ravel()[_std_order(out_shape)]
        if np.array_equal(gin, want):
            return _Val(self.view(v, _std_gshape(out_shape)), out_shape, None, v.nonneg)
        if len(out_shape) <= 2:
            inv = np.empty(idx_out.size, np.int64)
            inv[idx_out.ravel()] = np.arange(idx_out.size)
            order = inv[gin]
            if np.array_equal(order, np.arange(order.size)):
                order = None
            origin = v.origin if v.order is not None else c.where
            return _Val(self.view(v, out_shape), out_shape, order, v.nonneg, origin)
        raise UnsupportedError(
            f"{c.where}: reshaping/permuting PyTorch shape {list(v.shape)} to {list(out_shape)} would need a "
            "transpose of the channels-last data, and picoml has no TRANSPOSE op"
        )

    def reshape(self, c: _Call, v: _Val, out_shape: tuple[int, ...]) -> _Val:
        return self.rearrange(c, v, np.arange(math.prod(out_shape), dtype=np.int64).reshape(out_shape))

    def conv(
        self,
        c: _Call,
        x: _Val,
        weight: Any,
        bias: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        nd: int,
    ) -> _Val:
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
        xin, mode = xt, plan.mode
        if mode is None:
            xin = self.pad_op(c, xt, ((0, 0),) + plan.pads + ((0, 0),))
            mode = "VALID"
        attrs = dict(
            padding=mode, stride_h=stride[0], stride_w=stride[1], dilation_h=dilation[0], dilation_w=dilation[1]
        )
        b = None if bias is None else self.const(f"{c.name}.bias", _np(bias))
        if groups == 1 or groups != cin:  # ordinary or grouped convolution (OHWI filter)
            wt = self.const(f"{c.name}.weight", w.transpose(0, 2, 3, 1))
            y = self.emit("CONV_2D", [xin, wt, b], c.name, **attrs)
        else:  # groups == in_channels: depthwise; PyTorch output o reads input o // m, as TFLite's
            wt = self.const(f"{c.name}.weight", w.transpose(1, 2, 3, 0))
            y = self.emit("DEPTHWISE_CONV_2D", [xin, wt, b], c.name, depth_multiplier=cout // cin, **attrs)
        return _Val(y, c.out_shape)

    def pad_op(self, c: _Call, t: Tensor, pads: tuple[tuple[int, int], ...]) -> Tensor:
        p = self.const(f"{c.name}_paddings", np.array(pads, np.int32), "int32")
        return self.emit("PAD", [t, p], f"{c.name}_pad")

    def linear(self, c: _Call, x: _Val, weight: Any, bias: Any) -> _Val:
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
        wt = self.const(f"{c.name}.weight", w)
        b = None if bias is None else self.const(f"{c.name}.bias", _np(bias).reshape(-1))
        return _Val(self.emit("FULLY_CONNECTED", [x.t, wt, b], c.name), c.out_shape)

    def channel_const(self, c: _Call, x: _Val, vec: np.ndarray, suffix: str) -> Tensor:
        """A per-channel (PyTorch dim 1) constant laid out to broadcast against ``x``'s graph tensor."""
        if x.order is not None:
            vec = vec[self.cols(c, x)]
        return self.const(f"{c.name}.{suffix}", vec.reshape((1,) * (len(x.t.shape) - 1) + (-1,)))

    def batchnorm(self, c: _Call, x: _Val, mean: Any, var: Any, gamma: Any, beta: Any, eps: float) -> _Val:
        """Inference BatchNorm as MUL + ADD per channel (``fold_batchnorm`` folds it into a preceding layer).

        PyTorch ``batch_norm``: y = (x − μ) / sqrt(σ² + ε) · γ + β = x · s + (β − μ · s).
        """
        if len(x.shape) < 2 or len(x.shape) > 4:
            raise UnsupportedError(f"{c.where}: BatchNorm on a rank-{len(x.shape)} input is not supported")
        mu, var = _np(mean), _np(var)
        ch = x.shape[1]
        g = np.ones(ch) if gamma is None else _np(gamma)
        be = np.zeros(ch) if beta is None else _np(beta)
        s = g / np.sqrt(var + float(eps))
        t = be - mu * s
        y = self.emit("MUL", [x.t, self.channel_const(c, x, s, "scale")], f"{c.name}_scale")
        y = self.emit("ADD", [y, self.channel_const(c, x, t, "shift")], c.name)
        return _Val(y, c.out_shape, x.order, False, x.origin)

    def unary(self, c: _Call, x: _Val, op_type: str) -> _Val:
        y = self.emit(op_type, [x.t], c.name)
        nonneg = op_type in ("RELU", "RELU6", "LOGISTIC")
        return _Val(y, c.out_shape, x.order, nonneg, x.origin)

    def clamp(self, c: _Call, x: _Val, lo: Any, hi: Any) -> _Val:
        lo = None if lo is None else float(lo)
        hi = None if hi is None else float(hi)
        if lo == 0.0 and hi is None:
            return self.unary(c, x, "RELU")
        if lo == 0.0 and hi == 6.0:
            return self.unary(c, x, "RELU6")
        if lo is None and hi is None:
            return x
        raise UnsupportedError(
            f"{c.where}: clamp to [{lo}, {hi}] is not supported (picoml has RELU [0, inf) and RELU6 [0, 6])"
        )

    def binary(self, c: _Call, kind: str, a: Any, b: Any) -> _Val:
        """ADD / MUL with PyTorch broadcasting; a constant operand is laid out like the other one."""
        if not isinstance(a, _Val):
            a, b = b, a
        out_shape = c.out_shape
        if isinstance(b, _Val):
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
            nonneg = kind == "MUL" and a.nonneg and b.nonneg or kind == "ADD" and a.nonneg and b.nonneg
            return _Val(y, out_shape, a.order, nonneg, a.origin)
        if tuple(a.shape) != out_shape:
            raise UnsupportedError(
                f"{c.where}: constant operand grows the input {list(a.shape)} to {list(out_shape)} by broadcasting"
            )
        k = self.const(f"{c.name}.const", self.layout_const(c, a, b))
        return _Val(self.emit(kind, [a.t, k], c.name), out_shape, a.order, False, a.origin)

    def negate(self, c: _Call, v: _Val) -> _Val:
        y = self.emit("MUL", [v.t, self.scalar(f"{c.name}.minus_one", -1.0, v.t)], f"{c.name}_neg")
        return _Val(y, v.shape, v.order, False, v.origin)

    def pool(
        self,
        c: _Call,
        kind: str,
        x: _Val,
        kernel: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        ceil_mode: bool,
        count_include_pad: bool,
        divisor_override: Any,
        nd: int,
    ) -> _Val:
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
        op_type = "MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"
        mode = plan.mode
        if kind == "avg" and padded and count_include_pad:
            # the divisor counts the padding: PAD (zeros) + VALID, exact when every window lies
            # inside the padded input (a ceil_mode window hanging past it has a smaller divisor)
            if plan.outs != tuple((n + 2 * q - kk) // ss + 1 for n, q, kk, ss in zip((h, w), p, k, s, strict=True)):
                raise UnsupportedError(
                    f"{c.where}: ceil_mode with count_include_pad=True and padding is not supported "
                    "(PyTorch's divisor for the overhanging window has no TFLite equivalent)"
                )
            mode = None
            plan = _Padding(plan.outs, None, tuple((q, q) for q in p))
        elif mode is None and kind == "avg":
            raise UnsupportedError(
                f"{c.where}: average pooling with padding {list(p[-nd:])} and count_include_pad=False does not "
                "match TFLite's SAME padding here (PyTorch pads both sides equally; TFLite puts the odd pad at the end)"
            )
        elif mode is None and not x.nonneg:
            raise UnsupportedError(
                f"{c.where}: max pooling with padding {list(p[-nd:])} does not match TFLite's SAME padding here and "
                "its input may be negative (explicit zero padding is exact only after a ReLU)"
            )
        xin = xt
        if mode is None:
            xin = self.pad_op(c, xt, ((0, 0),) + plan.pads + ((0, 0),))
            mode = "VALID"
        y = self.emit(op_type, [xin], c.name, padding=mode, stride_h=s[0], stride_w=s[1], filter_h=k[0], filter_w=k[1])
        return _Val(y, c.out_shape, None, x.nonneg)

    def mean(self, c: _Call, x: _Val, dims: Any, keepdim: bool) -> _Val:
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
        ax = self.const(f"{c.name}_axes", np.array(axes, np.int32), "int32")
        v = _Val(self.emit("MEAN", [x.t, ax], c.name, keep_dims=True), keep_shape, None, x.nonneg)
        if keepdim:
            return v
        return self.reshape(c, v, c.out_shape)

    def adaptive(self, c: _Call, kind: str, x: _Val, output_size: Any, nd: int) -> _Val:
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

    def softmax(self, c: _Call, x: _Val, dim: Any) -> _Val:
        if dim is None:
            raise UnsupportedError(f"{c.where}: softmax needs an explicit dim")
        ax = self.gaxis(c, x, int(dim))
        if ax != len(x.t.shape) - 1:
            raise UnsupportedError(
                f"{c.where}: softmax over PyTorch dim {dim} of shape {list(x.shape)} is not the channels-last "
                "graph's last axis (SOFTMAX works on the last axis)"
            )
        # softmax is permutation-invariant along its axis, so a permuted value keeps its order
        return _Val(self.emit("SOFTMAX", [x.t], c.name, beta=1.0), x.shape, x.order, True, x.origin)

    def cat(self, c: _Call, items: list[Any], dim: int) -> _Val:
        """torch.cat → CONCATENATION on the graph axis of ``dim`` (channels → last axis)."""
        vals = [v for v in items if isinstance(v, _Val)]
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
            y = self.emit("CONCATENATION", [v.t for v in vals], c.name, axis=1)
            origin = next(v.origin for v in vals if v.order is not None)
            return _Val(y, out_shape, order, all(v.nonneg for v in vals), origin)
        four = r == 3 and all(len(v.t.shape) == 4 for v in vals)
        ts: list[Tensor] = []
        for i, v in enumerate(items):
            if isinstance(v, _Val):
                ts.append(v.t if four else self.std(v))
            else:
                g = _np(v).transpose(_perm(r))
                if four:
                    g = g.reshape((g.shape[0], 1) + g.shape[1:])
                ts.append(self.const(f"{c.name}.const{i}", g))
        ref = _Val(ts[0], vals[0].shape)
        y = self.emit("CONCATENATION", ts, c.name, axis=self.gaxis(c, ref, d))
        return _Val(y, out_shape, None, all(v.nonneg for v in vals))

    def pad(self, c: _Call, x: _Val, pad: Any, mode: str, value: Any) -> _Val:
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
        return _Val(self.pad_op(c, x.t, tuple(map(tuple, pads))), c.out_shape, None, x.nonneg)

    def hardswish(self, c: _Call, x: _Val) -> _Val:
        """PyTorch: x · relu6(x + 3) / 6 (ADD, RELU6, MUL by 1/6, MUL)."""
        t = self.emit("ADD", [x.t, self.scalar(f"{c.name}.three", 3.0, x.t)], f"{c.name}_add3")
        t = self.emit("RELU6", [t], f"{c.name}_relu6")
        t = self.emit("MUL", [t, self.scalar(f"{c.name}.sixth", 1.0 / 6.0, x.t)], f"{c.name}_div6")
        return _Val(self.emit("MUL", [x.t, t], c.name), c.out_shape, x.order, False, x.origin)

    def hardsigmoid(self, c: _Call, x: _Val) -> _Val:
        """PyTorch: relu6(x + 3) / 6."""
        t = self.emit("ADD", [x.t, self.scalar(f"{c.name}.three", 3.0, x.t)], f"{c.name}_add3")
        t = self.emit("RELU6", [t], f"{c.name}_relu6")
        y = self.emit("MUL", [t, self.scalar(f"{c.name}.sixth", 1.0 / 6.0, x.t)], c.name)
        return _Val(y, c.out_shape, x.order, True, x.origin)

    def silu(self, c: _Call, x: _Val) -> _Val:
        """PyTorch: x · sigmoid(x)."""
        s = self.emit("LOGISTIC", [x.t], f"{c.name}_sigmoid")
        return _Val(self.emit("MUL", [x.t, s], c.name), c.out_shape, x.order, False, x.origin)


# ====================================================================== handlers
# A handler takes (builder, call) and returns a _Val (or a tuple for multi-output ATen ops).
Handler = Callable[[_Builder, _Call], Any]


def _first(c: _Call) -> _Val:
    return c.args[0] if c.args else next(iter(c.kwargs.values()))


def _x(c: _Call, *names: str) -> _Val:
    """The tensor argument, checked to be a traced value."""
    x = c.bind(*names)[names[0] if isinstance(names[0], str) else names[0][0]]
    if not isinstance(x, _Val):
        raise UnsupportedError(f"{c.where}: expects a tensor that depends on the model input")
    return x


# ---------------------------------------------------------------- modules
def _m_conv(nd: int) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        m = c.mod
        if m.padding_mode != "zeros":
            raise UnsupportedError(f"{c.where}: padding_mode={m.padding_mode!r} is not supported (only 'zeros')")
        return b.conv(c, _x(c, "input"), m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups, nd)

    return h


def _m_linear(b: _Builder, c: _Call) -> _Val:
    return b.linear(c, _x(c, "input"), c.mod.weight, c.mod.bias)


def _m_bn(b: _Builder, c: _Call) -> _Val:
    m = c.mod
    if m.running_mean is None or m.running_var is None:
        raise UnsupportedError(
            f"{c.where}: BatchNorm without running statistics (track_running_stats=False) normalizes with "
            "batch statistics at inference; it cannot be frozen into constants"
        )
    x = _x(c, "input")
    return b.batchnorm(c, x, m.running_mean, m.running_var, m.weight, m.bias, m.eps)


def _m_unary(op_type: str) -> Handler:
    return lambda b, c: b.unary(c, _x(c, "input"), op_type)


def _m_hardtanh(b: _Builder, c: _Call) -> _Val:
    return b.clamp(c, _x(c, "input"), c.mod.min_val, c.mod.max_val)


def _m_identity(b: _Builder, c: _Call) -> _Val:
    return _first(c)


def _m_flatten(b: _Builder, c: _Call) -> _Val:
    return b.reshape(c, _x(c, "input"), c.out_shape)


def _m_softmax(b: _Builder, c: _Call) -> _Val:
    return b.softmax(c, _x(c, "input"), c.mod.dim)


def _m_pool(kind: str, nd: int) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        m = c.mod
        if kind == "max":
            if m.return_indices:
                raise UnsupportedError(f"{c.where}: return_indices=True is not supported")
            return b.pool(
                c, "max", _x(c, "input"), m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, False, None, nd
            )
        return b.pool(
            c,
            "avg",
            _x(c, "input"),
            m.kernel_size,
            m.stride,
            m.padding,
            1,
            m.ceil_mode,
            m.count_include_pad,
            getattr(m, "divisor_override", None),
            nd,
        )

    return h


def _m_adaptive(kind: str, nd: int) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        if kind == "max" and c.mod.return_indices:
            raise UnsupportedError(f"{c.where}: return_indices=True is not supported")
        return b.adaptive(c, kind, _x(c, "input"), c.mod.output_size, nd)

    return h


# ---------------------------------------------------------------- functions (F.*, torch.*, Tensor.*, aten)
_CONV_SPEC = ("input", "weight", ("bias", None), ("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))


def _f_conv(nd: int) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        a = c.bind(*_CONV_SPEC)
        if not isinstance(a["input"], _Val) or isinstance(a["weight"], _Val) or isinstance(a["bias"], _Val):
            raise UnsupportedError(f"{c.where}: only a constant filter applied to the input is supported")
        return b.conv(c, a["input"], a["weight"], a["bias"], a["stride"], a["padding"], a["dilation"], a["groups"], nd)

    return h


def _f_linear(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "weight", ("bias", None))
    if isinstance(a["weight"], _Val) or isinstance(a["bias"], _Val):
        raise UnsupportedError(f"{c.where}: weights computed from the input are not supported")
    return b.linear(c, a["input"], a["weight"], a["bias"])


def _f_matmul(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "other")
    if not isinstance(a["input"], _Val) or isinstance(a["other"], _Val) or _np(a["other"]).ndim != 2:
        raise UnsupportedError(f"{c.where}: only (input @ constant 2-D matrix) is supported")
    return b.linear(c, a["input"], _np(a["other"]).T, None)


def _f_batch_norm(b: _Builder, c: _Call) -> _Val:  # F.batch_norm
    a = c.bind(
        "input",
        "running_mean",
        "running_var",
        ("weight", None),
        ("bias", None),
        ("training", False),
        ("momentum", 0.1),
        ("eps", 1e-5),
    )
    return _bn_checked(b, c, a)


def _aten_batch_norm(b: _Builder, c: _Call) -> _Val:  # aten.batch_norm
    a = c.bind(
        "input",
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "training",
        "momentum",
        "eps",
        ("cudnn_enabled", False),
    )
    return _bn_checked(b, c, a)


def _aten_bn_no_training(b: _Builder, c: _Call) -> tuple:  # aten._native_batch_norm_legit_no_training
    a = c.bind("input", "weight", "bias", "running_mean", "running_var", "momentum", "eps")
    a["training"] = False
    return (_bn_checked(b, c, a), None, None)


def _bn_checked(b: _Builder, c: _Call, a: dict) -> _Val:
    if a["training"] or a["running_mean"] is None or a["running_var"] is None:
        raise UnsupportedError(f"{c.where}: batch_norm with batch statistics (training=True) is not supported")
    if any(isinstance(a[k], _Val) for k in ("running_mean", "running_var", "weight", "bias")):
        raise UnsupportedError(f"{c.where}: batch_norm parameters computed from the input are not supported")
    return b.batchnorm(c, a["input"], a["running_mean"], a["running_var"], a["weight"], a["bias"], a["eps"])


def _f_unary(op_type: str, *extra: tuple[str, Any]) -> Handler:
    return lambda b, c: b.unary(c, _x(c, "input", *extra), op_type)


def _f_relu6(b: _Builder, c: _Call) -> _Val:
    return b.unary(c, _x(c, "input", ("inplace", False)), "RELU6")


def _f_leaky_relu(b: _Builder, c: _Call) -> _Val:
    """nn.LeakyReLU, F.leaky_relu, aten leaky_relu: LEAKY_RELU with alpha = negative_slope as the
    float32 TFLite stores (PyTorch multiplies a float32 tensor by the slope in float32 too)."""
    if c.mod is not None:  # the module: its attribute
        x, slope = _x(c, "input"), c.mod.negative_slope
    else:
        spec = ("input", ("negative_slope", 0.01), ("inplace", False))
        x, slope = _x(c, *spec), c.bind(*spec)["negative_slope"]
    if isinstance(slope, bool) or not isinstance(slope, (int, float)):
        raise UnsupportedError(f"{c.where}: negative_slope must be a number, is {type(slope).__name__}")
    y = b.emit("LEAKY_RELU", [x.t], c.name, alpha=float(np.float32(slope)))
    return _Val(y, c.out_shape, x.order, False, x.origin)


def _f_hardtanh(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", ("min_val", -1.0), ("max_val", 1.0), ("inplace", False))
    return b.clamp(c, a["input"], a["min_val"], a["max_val"])


def _f_clamp(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", ("min", None), ("max", None))
    if isinstance(a["min"], _Val) or isinstance(a["max"], _Val):
        raise UnsupportedError(f"{c.where}: clamp bounds computed from the input are not supported")
    return b.clamp(c, a["input"], a["min"], a["max"])


def _f_special(kind: str) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        x = _x(c, "input", ("inplace", False))
        return getattr(b, kind)(c, x)

    return h


def _f_identity(b: _Builder, c: _Call) -> _Val:
    return _x(c, "input", ("memory_format", None))


def _f_dropout(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", ("p", 0.5), ("training", True), ("inplace", False))
    if a["training"] and float(a["p"]) > 0:
        raise UnsupportedError(
            f"{c.where}: dropout with training=True drops values at inference; pass training=self.training"
        )
    return a["input"]


def _aten_dropout(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "p", "train")
    if a["train"] and float(a["p"]) > 0:
        raise UnsupportedError(f"{c.where}: dropout in training mode is not supported")
    return a["input"]


def _f_reshape_like(b: _Builder, c: _Call) -> _Val:
    """view/reshape/flatten/squeeze/unsqueeze/unflatten: PyTorch's output shape says it all."""
    return b.reshape(c, _first(c), c.out_shape)


def _f_permute(b: _Builder, c: _Call) -> _Val:
    x = _first(c)
    dims = c.args[1:] if len(c.args) > 1 else tuple(c.kwargs.get("dims", ()))
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    idx = np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape).transpose([int(d) for d in dims])
    return b.rearrange(c, x, idx)


def _f_transpose(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "dim0", "dim1")
    x = a["input"]
    idx = np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape).swapaxes(int(a["dim0"]), int(a["dim1"]))
    return b.rearrange(c, x, idx)


def _f_add(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "other", ("alpha", 1))
    x, y, alpha = a["input"], a["other"], a["alpha"]
    if alpha != 1:
        if isinstance(y, _Val):
            y = b.binary(_sub_call(c, "alpha", y.shape), "MUL", y, float(alpha))
        else:
            y = _np(y) * float(alpha)
    return b.binary(c, "ADD", x, y)


def _f_sub(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "other", ("alpha", 1))
    x, y, alpha = a["input"], a["other"], float(a["alpha"])
    if not isinstance(y, _Val):
        return b.binary(c, "ADD", x, -alpha * _np(y))  # x − c == x + (−c) exactly in float
    ny = b.binary(_sub_call(c, "neg", y.shape), "MUL", y, -alpha)
    return b.binary(c, "ADD", x, ny)


def _f_rsub(b: _Builder, c: _Call) -> _Val:  # c − x (operator.sub with the constant first, torch.rsub)
    a = c.bind("input", "other", ("alpha", 1))
    x, k = a["input"], a["other"]
    nx = b.binary(_sub_call(c, "neg", x.shape), "MUL", x, -float(a["alpha"]))
    return b.binary(c, "ADD", nx, k)


def _op_sub(b: _Builder, c: _Call) -> _Val:
    x, y = c.args
    if isinstance(x, _Val):
        return _f_sub(b, c)
    return _f_rsub(b, _Call(c.where, c.name, (y, x), {}, c.out, c.mod))


def _f_mul(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "other")
    return b.binary(c, "MUL", a["input"], a["other"])


def _f_div(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "other", ("rounding_mode", None))
    if a["rounding_mode"] is not None or isinstance(a["other"], _Val) or not isinstance(a["input"], _Val):
        raise UnsupportedError(f"{c.where}: only division of a tensor by a constant is supported")
    # x / k as x · (1/k): within an ulp of PyTorch's division
    return b.binary(c, "MUL", a["input"], 1.0 / _np(a["other"]))


def _sub_call(c: _Call, suffix: str, shape: tuple[int, ...] | None = None) -> _Call:
    """A helper call for an intermediate op of a handler (its own tensor name and output shape)."""

    out = c.out if shape is None else np.broadcast_to(np.float32(0), shape)  # only .shape is read
    return _Call(c.where, f"{c.name}_{suffix}", (), {}, out, c.mod)


def _f_cat(b: _Builder, c: _Call) -> _Val:
    a = c.bind("tensors", ("dim", 0))
    return b.cat(c, list(a["tensors"]), a["dim"])


def _f_softmax(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", ("dim", None), ("_stacklevel", 3), ("dtype", None))
    return b.softmax(c, a["input"], a["dim"])


def _aten_softmax(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "dim", ("dtype", None))
    return b.softmax(c, a["input"], a["dim"])


def _f_max_pool(nd: int) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        a = c.bind(
            "input",
            "kernel_size",
            ("stride", None),
            ("padding", 0),
            ("dilation", 1),
            ("ceil_mode", False),
            ("return_indices", False),
        )
        if a["return_indices"]:
            raise UnsupportedError(f"{c.where}: return_indices=True is not supported")
        return b.pool(
            c,
            "max",
            a["input"],
            a["kernel_size"],
            a["stride"],
            a["padding"],
            a["dilation"],
            a["ceil_mode"],
            False,
            None,
            nd,
        )

    return h


def _f_avg_pool(nd: int) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        spec = [
            "input",
            "kernel_size",
            ("stride", None),
            ("padding", 0),
            ("ceil_mode", False),
            ("count_include_pad", True),
        ]
        if nd == 2:
            spec.append(("divisor_override", None))
        a = c.bind(*spec)
        return b.pool(
            c,
            "avg",
            a["input"],
            a["kernel_size"],
            a["stride"],
            a["padding"],
            1,
            a["ceil_mode"],
            a["count_include_pad"],
            a.get("divisor_override"),
            nd,
        )

    return h


def _f_adaptive(kind: str, nd: int) -> Handler:
    def h(b: _Builder, c: _Call) -> _Val:
        spec = ["input", "output_size"] + ([("return_indices", False)] if kind == "max" else [])
        a = c.bind(*spec)
        if a.get("return_indices"):
            raise UnsupportedError(f"{c.where}: return_indices=True is not supported")
        return b.adaptive(c, kind, a["input"], a["output_size"], nd)

    return h


def _f_mean(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", ("dim", None), ("keepdim", False), ("dtype", None))
    return b.mean(c, a["input"], a["dim"], bool(a["keepdim"]))


def _f_pad(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "pad", ("mode", "constant"), ("value", None))
    return b.pad(c, a["input"], a["pad"], a["mode"], a["value"])


def _aten_constant_pad(b: _Builder, c: _Call) -> _Val:
    a = c.bind("input", "pad", ("value", 0))
    return b.pad(c, a["input"], a["pad"], "constant", a["value"])


def _f_getitem(b: _Builder, c: _Call) -> Any:
    obj, key = c.args
    if isinstance(obj, (tuple, list)):
        v = obj[key]
        if v is None:
            raise UnsupportedError(f"{c.where}: uses a statistic output of batch_norm, which is not supported")
        return v
    raise UnsupportedError(f"{c.where}: indexing or slicing a tensor is not supported")


def _module_table(torch) -> dict[type, Handler]:
    nn = torch.nn
    t: dict[type, Handler] = {
        nn.Conv1d: _m_conv(1),
        nn.Conv2d: _m_conv(2),
        nn.Linear: _m_linear,
        nn.BatchNorm1d: _m_bn,
        nn.BatchNorm2d: _m_bn,
        nn.ReLU: _m_unary("RELU"),
        nn.ReLU6: _m_unary("RELU6"),
        nn.Hardtanh: _m_hardtanh,
        nn.LeakyReLU: _f_leaky_relu,
        nn.Sigmoid: _m_unary("LOGISTIC"),
        nn.Tanh: _m_unary("TANH"),
        nn.Hardswish: lambda b, c: b.hardswish(c, _x(c, "input")),
        nn.Hardsigmoid: lambda b, c: b.hardsigmoid(c, _x(c, "input")),
        nn.SiLU: lambda b, c: b.silu(c, _x(c, "input")),
        nn.MaxPool1d: _m_pool("max", 1),
        nn.MaxPool2d: _m_pool("max", 2),
        nn.AvgPool1d: _m_pool("avg", 1),
        nn.AvgPool2d: _m_pool("avg", 2),
        nn.AdaptiveAvgPool1d: _m_adaptive("avg", 1),
        nn.AdaptiveAvgPool2d: _m_adaptive("avg", 2),
        nn.AdaptiveMaxPool1d: _m_adaptive("max", 1),
        nn.AdaptiveMaxPool2d: _m_adaptive("max", 2),
        nn.Flatten: _m_flatten,
        nn.Unflatten: _m_flatten,
        nn.Softmax: _m_softmax,
        nn.Identity: _m_identity,
        nn.Dropout: _m_identity,
        nn.Dropout1d: _m_identity,
        nn.Dropout2d: _m_identity,
        nn.AlphaDropout: _m_identity,
    }
    return t


def _function_table(torch) -> dict[Any, Handler]:
    F = torch.nn.functional
    relu = _f_unary("RELU", ("inplace", False))
    sigmoid = _f_unary("LOGISTIC")
    tanh = _f_unary("TANH")
    t: dict[Any, Handler] = {
        F.conv1d: _f_conv(1),
        F.conv2d: _f_conv(2),
        torch.conv1d: _f_conv(1),
        torch.conv2d: _f_conv(2),
        F.linear: _f_linear,
        torch.matmul: _f_matmul,
        operator.matmul: _f_matmul,
        F.batch_norm: _f_batch_norm,
        F.relu: relu,
        torch.relu: _f_unary("RELU"),
        F.relu6: _f_relu6,
        F.hardtanh: _f_hardtanh,
        F.leaky_relu: _f_leaky_relu,
        torch.clamp: _f_clamp,
        torch.clip: _f_clamp,
        torch.sigmoid: sigmoid,
        F.sigmoid: sigmoid,
        torch.tanh: tanh,
        F.tanh: tanh,
        F.hardswish: _f_special("hardswish"),
        F.hardsigmoid: _f_special("hardsigmoid"),
        F.silu: _f_special("silu"),
        F.max_pool1d: _f_max_pool(1),
        F.max_pool2d: _f_max_pool(2),
        torch.max_pool1d: _f_max_pool(1),
        torch.max_pool2d: _f_max_pool(2),
        F.avg_pool1d: _f_avg_pool(1),
        F.avg_pool2d: _f_avg_pool(2),
        torch.avg_pool1d: _f_avg_pool(1),
        F.adaptive_avg_pool1d: _f_adaptive("avg", 1),
        F.adaptive_avg_pool2d: _f_adaptive("avg", 2),
        torch.adaptive_avg_pool1d: _f_adaptive("avg", 1),
        F.adaptive_max_pool1d: _f_adaptive("max", 1),
        F.adaptive_max_pool2d: _f_adaptive("max", 2),
        torch.mean: _f_mean,
        torch.flatten: _f_reshape_like,
        torch.reshape: _f_reshape_like,
        torch.squeeze: _f_reshape_like,
        torch.unsqueeze: _f_reshape_like,
        torch.permute: _f_permute,
        torch.transpose: _f_transpose,
        operator.add: lambda b, c: b.binary(c, "ADD", *c.args),
        operator.iadd: lambda b, c: b.binary(c, "ADD", *c.args),
        torch.add: _f_add,
        operator.sub: _op_sub,
        operator.isub: _op_sub,
        torch.sub: _f_sub,
        torch.rsub: _f_rsub,
        operator.mul: lambda b, c: b.binary(c, "MUL", *c.args),
        operator.imul: lambda b, c: b.binary(c, "MUL", *c.args),
        torch.mul: _f_mul,
        operator.truediv: lambda b, c: _f_div(b, _Call(c.where, c.name, c.args[:2], {}, c.out)),
        torch.div: _f_div,
        operator.neg: lambda b, c: b.negate(c, c.args[0]),
        torch.cat: _f_cat,
        torch.concat: _f_cat,
        torch.concatenate: _f_cat,
        F.softmax: _f_softmax,
        torch.softmax: _f_softmax,
        F.dropout: _f_dropout,
        F.dropout1d: _f_dropout,
        F.dropout2d: _f_dropout,
        F.pad: _f_pad,
        operator.getitem: _f_getitem,
    }
    t.update(_aten_table(torch))
    return t


def _aten_table(torch) -> dict[Any, Handler]:
    """ATen overloads as ``torch.export`` emits them (its graphs reach here for .pt2 files and for
    code fx cannot trace)."""
    spec: dict[str, Handler] = {
        "conv1d.default": _f_conv(1),
        "conv2d.default": _f_conv(2),
        "conv1d.padding": _f_conv(1),
        "conv2d.padding": _f_conv(2),
        "linear.default": _f_linear,
        "matmul.default": _f_matmul,
        "batch_norm.default": _aten_batch_norm,
        "_native_batch_norm_legit_no_training.default": _aten_bn_no_training,
        "relu.default": _f_unary("RELU"),
        "relu_.default": _f_unary("RELU"),
        "relu6.default": _f_relu6,
        "hardtanh.default": _f_hardtanh,
        "hardtanh_.default": _f_hardtanh,
        "leaky_relu.default": _f_leaky_relu,
        "leaky_relu_.default": _f_leaky_relu,
        "clamp.default": _f_clamp,
        "sigmoid.default": _f_unary("LOGISTIC"),
        "tanh.default": _f_unary("TANH"),
        "hardswish.default": _f_special("hardswish"),
        "hardsigmoid.default": _f_special("hardsigmoid"),
        "silu.default": _f_special("silu"),
        "max_pool1d.default": _f_max_pool(1),
        "max_pool2d.default": _f_max_pool(2),
        "avg_pool1d.default": _f_avg_pool(1),
        "avg_pool2d.default": _f_avg_pool(2),
        "adaptive_avg_pool1d.default": _f_adaptive("avg", 1),
        "adaptive_avg_pool2d.default": _f_adaptive("avg", 2),
        "mean.dim": _f_mean,
        "view.default": _f_reshape_like,
        "reshape.default": _f_reshape_like,
        "_unsafe_view.default": _f_reshape_like,
        "flatten.using_ints": _f_reshape_like,
        "squeeze.dim": _f_reshape_like,
        "squeeze.dims": _f_reshape_like,
        "squeeze.default": _f_reshape_like,
        "unsqueeze.default": _f_reshape_like,
        "permute.default": _f_permute,
        "transpose.int": _f_transpose,
        "clone.default": _f_identity,
        "alias.default": lambda b, c: _first(c),
        "detach.default": lambda b, c: _first(c),
        "contiguous.default": _f_identity,
        "dropout.default": _aten_dropout,
        "add.Tensor": _f_add,
        "add_.Tensor": _f_add,
        "sub.Tensor": _op_sub,
        "rsub.Scalar": _f_rsub,
        "mul.Tensor": _f_mul,
        "mul_.Tensor": _f_mul,
        "div.Tensor": _f_div,
        "neg.default": lambda b, c: b.negate(c, c.args[0]),
        "cat.default": _f_cat,
        "softmax.int": _aten_softmax,
        "_softmax.default": lambda b, c: b.softmax(c, c.args[0], c.args[1]),
        "constant_pad_nd.default": _aten_constant_pad,
        "pad.default": _f_pad,
    }
    out: dict[Any, Handler] = {}
    for name, h in spec.items():
        packet, _, overload = name.partition(".")
        op = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if op is not None:
            out[op] = h
    return out


#: Tensor methods (``x.view(...)``); a trailing ``_`` (in-place) maps to the same handler.
_METHODS: dict[str, Handler] = {
    "view": _f_reshape_like,
    "reshape": _f_reshape_like,
    "flatten": _f_reshape_like,
    "squeeze": _f_reshape_like,
    "unsqueeze": _f_reshape_like,
    "unflatten": _f_reshape_like,
    "view_as": _f_reshape_like,
    "reshape_as": _f_reshape_like,
    "permute": _f_permute,
    "transpose": _f_transpose,
    "contiguous": _f_identity,
    "clone": _f_identity,
    "detach": lambda b, c: _first(c),
    "float": lambda b, c: _first(c),
    "relu": _f_unary("RELU"),
    "sigmoid": _f_unary("LOGISTIC"),
    "tanh": _f_unary("TANH"),
    "clamp": _f_clamp,
    "clip": _f_clamp,
    "softmax": _f_softmax,
    "mean": _f_mean,
    "add": _f_add,
    "sub": _f_sub,
    "mul": _f_mul,
    "div": _f_div,
    "neg": lambda b, c: b.negate(c, c.args[0]),
}

#: nodes whose value is shape metadata, not data: folded to constants from the example run
_SHAPE_METHODS = {"size", "dim", "numel", "nelement", "ndimension", "type", "get_device"}
_SHAPE_ATTRS = {"shape", "ndim", "dtype", "device", "is_cuda"}


@functools.cache
def _tables() -> tuple[dict[type, Handler], dict[Any, Handler]]:
    torch = _need_torch()
    return _module_table(torch), _function_table(torch)


def supported_torch() -> dict[str, list[str]]:
    """What the PyTorch front-end converts: module classes, functions and Tensor methods."""
    modules, functions = _tables()
    fns = sorted({_fn_name(f) for f in functions if not _fn_name(f).startswith("aten.")})
    return {
        "modules": sorted(m.__name__ for m in modules),
        "functions": fns,
        "methods": sorted(f"Tensor.{m}" for m in _METHODS),
    }


def _fn_name(f: Any) -> str:
    """How messages and docs name a traced function: F.relu, torch.cat, operator.add, aten.conv2d.default."""
    mod = getattr(f, "__module__", None) or ""
    name = getattr(f, "__name__", None) or str(f)
    if type(f).__name__ == "OpOverload":
        return f"aten.{f._schema.name.split('::')[-1]}.{f._overloadname}"
    if mod.startswith("torch.nn.functional") or mod == "torch._C._nn":
        return f"F.{name}"
    if mod in ("_operator", "operator"):
        return f"operator.{name}"
    if mod.startswith("torch") or mod == "":
        return f"torch.{name}"
    return f"{mod}.{name}"


# ====================================================================== tracing
def _trace(torch, module, xs: tuple, model: str):
    """fx symbolic trace (module paths kept); torch.export when fx cannot trace the code."""
    import torch.fx as fx

    if isinstance(module, fx.GraphModule):
        return module

    class Tracer(fx.Tracer):
        """Records the innermost module being traced when tracing fails, for the message."""

        failed_at: str | None = None

        def call_module(self, m, forward, args, kwargs):
            try:
                return super().call_module(m, forward, args, kwargs)
            except Exception:
                if self.failed_at is None:
                    path = self.path_of_module(m) if m is not self.root else ""
                    self.failed_at = f"{path} ({type(m).__name__})" if path else "forward"
                raise

    tracer = Tracer()
    try:
        graph = tracer.trace(module)
        return fx.GraphModule(tracer.root, graph, model)
    except Exception as e:
        fx_error = e
    where = tracer.failed_at or "forward"
    control_flow = "control flow" in str(fx_error) or "iterate" in str(fx_error)
    try:
        with _quiet_torch():
            ep = torch.export.export(module, xs, strict=False)
    except Exception as e:
        text = str(e)
        if control_flow or "data-dependent" in text or "DataDependent" in type(e).__name__:
            raise UnsupportedError(
                f"{model}: {where}: data-dependent control flow (a Python if/for/while on tensor values) cannot "
                "be converted to a static graph; compute both branches or move the decision out of forward"
            ) from None
        first = (str(fx_error).strip().splitlines() or [type(fx_error).__name__])[0]
        raise UnsupportedError(f"{model}: {where}: cannot be traced into a static graph: {first}") from None
    return ep.module()


@contextlib.contextmanager
def _quiet_torch():
    """Silence torch's loggers and warnings while torch.export tries code that may fail (its
    failures end in one picoml message instead)."""
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict) if n.startswith("torch")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL)
        sink = io.StringIO()  # torch.export also print()s the partial graph of a failed trace
        with warnings.catch_warnings(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def _clone(v: Any) -> Any:
    """Snapshot a value (in-place ops later in forward must not change what we recorded)."""
    if hasattr(v, "detach") and hasattr(v, "clone"):
        return v.detach().clone()
    if isinstance(v, (tuple, list)):
        items = [_clone(a) for a in v]
        try:
            return type(v)(items)  # torch.Size, list, tuple
        except TypeError:  # named tuples (torch.return_types)
            return tuple(items)
    return v


def _run(torch, gm, xs: tuple) -> dict:
    """Every node's value on the example input."""
    import torch.fx as fx

    values: dict = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            v = super().run_node(n)
            values[n] = _clone(v)
            return v

    rec = Recorder(gm)
    rec.extra_traceback = False  # its error decoration imports torch._inductor (seconds) for nothing we show
    with torch.no_grad():
        rec.run(*xs)
    return values


def _has_tensor(v: Any) -> bool:
    if hasattr(v, "shape") and hasattr(v, "detach"):
        return True
    if isinstance(v, (tuple, list)):
        return any(_has_tensor(a) for a in v)
    if isinstance(v, dict):
        return any(_has_tensor(a) for a in v.values())
    return False


def _is_dyn(v: Any) -> bool:
    if isinstance(v, _Val):
        return True
    if isinstance(v, (tuple, list)):
        return any(_is_dyn(a) for a in v)
    if isinstance(v, dict):
        return any(_is_dyn(a) for a in v.values())
    return False


def _scope(node) -> tuple[str, str]:
    """(module path, class name) of the innermost module a node was traced in."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", ""
    path, cls = list(stack.values())[-1]
    cls = cls.__name__ if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1]
    return path, cls


def _describe(node, mod: Any, root: Any) -> str:
    if node.op == "call_module":
        return f"{node.target} ({type(mod).__name__})"
    what = _fn_name(node.target) if node.op == "call_function" else f"Tensor.{node.target}"
    path, cls = _scope(node)
    return f"{what} in {path} ({cls})" if path else f"{what} in forward ({cls or type(root).__name__})"


def _flatten_outputs(v: Any) -> list:
    if isinstance(v, (tuple, list)):
        return [a for item in v for a in _flatten_outputs(item)]
    if isinstance(v, dict):
        return [a for item in v.values() for a in _flatten_outputs(item)]
    return [v]


def _lookup_module(modules: dict[type, Handler], mod: Any) -> Handler | None:
    """The handler for a leaf module's class, or for a base class whose forward it keeps
    (e.g. torch.nn.utils.parametrize's ParametrizedConv2d)."""
    for cls in type(mod).__mro__:
        h = modules.get(cls)
        if h is not None:
            return h if type(mod).forward is cls.forward else None
    return None


def _convert(torch, gm, values: dict, xs: tuple, model: str) -> Graph:
    import torch.fx as fx

    modules, functions = _tables()
    b = _Builder()
    env: dict = {}
    inputs: list[Tensor] = []
    outputs: list[Any] = []
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(xs):
        raise InputError(f"{model}: forward takes {len(placeholders)} inputs, example_input gives {len(xs)}")
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            x = xs[placeholders.index(node)]
            shape = tuple(int(d) for d in x.shape)
            t = Tensor(b.unique(str(node.target)), _std_gshape(shape))
            b.tensors.append(t)
            inputs.append(t)
            env[node] = _Val(t, shape)
            continue
        if node.op == "get_attr":
            env[node] = values[node]
            continue
        if node.op == "output":
            outputs = _flatten_outputs(fx.node.map_arg(node.args[0], lambda n: env[n]))
            continue
        args = fx.node.map_arg(node.args, lambda n: env[n])
        kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n])
        value = values[node]
        mod = gm.get_submodule(node.target) if node.op == "call_module" else None
        where = _describe(node, mod, gm)
        if not (_is_dyn(args) or _is_dyn(kwargs)):
            env[node] = value  # constant sub-expression: PyTorch already computed it
            continue
        if not _has_tensor(value):
            # shape queries are static; anything else reads tensor *values* into Python
            shape_query = (
                (node.op == "call_method" and node.target in _SHAPE_METHODS)
                or (node.target is getattr and len(node.args) > 1 and node.args[1] in _SHAPE_ATTRS)
                or (node.op == "call_function" and _fn_name(node.target).startswith("aten.sym_"))
                or value is None
            )
            if not shape_query:
                raise UnsupportedError(
                    f"{model}: {where} turns tensor values into a Python {type(value).__name__}; picoml graphs are "
                    "static, so the result would be frozen to the example input's"
                )
            env[node] = value
            continue
        if node.op == "call_module":
            handler = _lookup_module(modules, mod)
            if handler is None:
                raise UnsupportedError(
                    f"{model}: {where} is not supported by the PyTorch front-end; supported modules: "
                    + ", ".join(sorted(m.__name__ for m in modules))
                )
        elif node.op == "call_function":
            handler = functions.get(node.target)
            if handler is None:
                raise UnsupportedError(
                    f"{model}: {where} is not supported by the PyTorch front-end; supported functions: "
                    + ", ".join(supported_torch()["functions"])
                )
        else:
            method = str(node.target)
            handler = _METHODS.get(method) or (_METHODS.get(method[:-1]) if method.endswith("_") else None)
            if handler is None:
                raise UnsupportedError(
                    f"{model}: {where} is not supported by the PyTorch front-end; supported methods: "
                    + ", ".join(supported_torch()["methods"])
                )
        name = str(node.target) if node.op == "call_module" else node.name
        call = _Call(where, name, tuple(args), dict(kwargs), value, mod)
        try:
            result = handler(b, call)
        except PicomlError as e:
            msg = str(e)
            raise type(e)(msg if msg.startswith(f"{model}: ") else f"{model}: {msg}") from None
        except Exception as e:  # a call shape no handler anticipated: still one line naming the call
            raise UnsupportedError(f"{model}: {where}: cannot be converted ({type(e).__name__}: {e})") from None
        if isinstance(result, _Val):
            result = _normalize(b, call, result, model)
        env[node] = result
        # in-place ops (x.relu_(), F.relu(x, inplace=True), nn.ReLU(inplace=True)) rebind their input
        if node.op == "call_module":
            inplace = bool(getattr(mod, "inplace", False))
        elif node.op == "call_method":
            inplace = str(node.target).endswith("_")
        else:
            parts = _fn_name(node.target).split(".")  # ATen in-place overloads: aten.relu_.default
            inplace = bool(kwargs.get("inplace")) or (parts[0] == "aten" and parts[1].endswith("_"))
        if inplace and node.args and isinstance(node.args[0], fx.Node) and isinstance(result, _Val):
            env[node.args[0]] = result

    outs: list[Tensor] = []
    for i, v in enumerate(outputs):
        if not isinstance(v, _Val):
            raise UnsupportedError(f"{model}: output {i} does not depend on the input (a constant output)")
        if v.order is not None:
            raise UnsupportedError(
                f"{model}: output {i} comes from {v.origin}, which flattens a channels-last tensor; its order would "
                "differ from PyTorch's (picoml has no TRANSPOSE op): flatten after global pooling or end in a Linear"
            )
        outs.append(b.std(v))
    graph = Graph(b.tensors, b.ops, inputs, outs, name=model, description="converted by picoml.from_torch")
    _drop_dead(graph)
    fold_batchnorm(graph)
    fuse_activations(graph)
    graph.toposort()
    graph.validate()
    return graph


def _normalize(b: _Builder, c: _Call, v: _Val, model: str) -> _Val:
    """Check a handler's result against PyTorch's shape (an internal consistency check)."""
    shape = c.out_shape
    if v.shape != shape:
        raise GraphError(f"{model}: {c.where}: converted shape {list(v.shape)} != PyTorch's {list(shape)}")
    g = v.t.shape
    ok = (
        g == (shape if v.order is not None else _std_gshape(shape))
        or (len(shape) == 3 and g == (shape[0], 1, shape[2], shape[1]))
        or (len(shape) <= 2 and g == shape)
    )
    if not ok:
        if math.prod(g) != math.prod(shape):
            raise GraphError(f"{model}: {c.where}: graph shape {list(g)} does not hold PyTorch shape {list(shape)}")
        return _Val(b.view(v, _std_gshape(shape) if v.order is None else shape), shape, v.order, v.nonneg, v.origin)
    return v


def _drop_dead(graph: Graph) -> None:
    """Remove ops whose results reach no output (e.g. unused branches of forward)."""
    producers = graph.producers()
    live: set[int] = set()
    stack = [producers[id(t)] for t in graph.outputs if id(t) in producers]
    while stack:
        op = stack.pop()
        if id(op) in live:
            continue
        live.add(id(op))
        stack.extend(producers[id(t)] for t in op.inputs if t is not None and id(t) in producers)
    graph.ops = [op for op in graph.ops if id(op) in live]
    graph.prune_unused()
    for t in graph.inputs:  # an unused input stays an input
        if all(t is not u for u in graph.tensors):
            graph.tensors.insert(0, t)


def _examples(torch, example_input: Any) -> tuple:
    items = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    xs = []
    for i, x in enumerate(items):
        if isinstance(x, np.ndarray):
            if x.dtype.kind == "f":
                x = x.astype(np.float32, copy=False)  # the graph is float32; so is a default-dtype module
            x = torch.from_numpy(np.ascontiguousarray(x))
        if not isinstance(x, torch.Tensor):
            raise InputError(f"example_input {i}: expected a torch.Tensor or numpy array, got {type(x).__name__}")
        if not x.dtype.is_floating_point:
            raise InputError(f"example_input {i}: dtype {x.dtype} is not floating point (picoml graphs take float32)")
        if x.dim() == 0 or 0 in x.shape:
            raise InputError(f"example_input {i}: shape {list(x.shape)} is empty")
        xs.append(x.detach())
    return tuple(xs)


def _self_check(graph: Graph, xs: tuple, expected: list, model: str) -> None:
    """Run the graph on the example input and compare with PyTorch (see SELF_CHECK_RTOL)."""

    ip = Interpreter(graph)
    feed = [to_graph_layout(x.detach().cpu().float().numpy()) for x in xs]
    got = ip.run(feed if len(feed) > 1 else feed[0])
    got = got if isinstance(got, (list, tuple)) else [got]
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        ref = to_graph_layout(e.detach().cpu().float().numpy()).reshape(np.shape(g))
        fin = np.isfinite(ref)
        if not fin.any():
            continue
        scale = float(np.max(np.abs(ref[fin]))) or 1.0
        err = np.abs(np.asarray(g, np.float64) - ref)[fin]
        if err.size and float(err.max()) > SELF_CHECK_RTOL * scale:
            raise GraphError(
                f"{model}: output {i} of the converted graph differs from PyTorch's on the example input "
                f"(max error {float(err.max()):.3g}, largest value {scale:.3g}); please report this model"
            )


def from_torch(module: torch.nn.Module, example_input: torch.Tensor | np.ndarray, *, name: str = "") -> Graph:
    """Trace a PyTorch ``nn.Module`` into a validated float32 Graph (channels-last, weights frozen).

    ``example_input`` is a batch in PyTorch's own layout (N, C, H, W), (N, C, L) or (N, F) — a
    tensor, numpy array, or a tuple of them for several inputs. The graph's inputs and outputs
    have its batch size, permuted channels-last (see ``to_graph_layout``). The module runs in
    eval mode during tracing; every submodule's training flag is restored afterwards. Raises
    ``UnsupportedError`` naming the module path for layers, functions or code the front-end
    cannot convert exactly.
    """
    torch = _need_torch()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    model = name or type(module).__name__
    xs = _examples(torch, example_input)
    modes = {m: m.training for m in module.modules()}
    try:
        try:
            module.eval()
        except NotImplementedError:  # torch.export's module(): its mode was fixed when it was exported
            pass
        gm = _trace(torch, module, xs, model)
        try:
            values = _run(torch, gm, xs)
        except Exception as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise InputError(f"{model}: running the model on example_input failed: {first}") from None
        graph = _convert(torch, gm, values, xs, model)
        out_node = next(n for n in gm.graph.nodes if n.op == "output")
        expected = _flatten_outputs(_fx_map(out_node.args[0], values))
        _self_check(graph, xs, expected, model)
    finally:
        for m, mode in modes.items():
            m.training = mode
    return graph


def _fx_map(arg: Any, values: dict) -> Any:
    """``arg`` with fx nodes replaced by their recorded values."""
    import torch.fx as fx

    return fx.node.map_arg(arg, lambda n: values[n])
