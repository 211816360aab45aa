"""Lowering shared by the framework front-ends (PyTorch, ONNX): channels-first data and layers
→ the graph's channels-last ops.

What lives here, used by both ``frontends/torch*.py`` and ``frontends/onnx*.py``:

- layout: ``channels_last_perm`` (NCHW → NHWC, NCL → NLC per rank), ``to_graph_layout`` /
  ``from_graph_layout`` for data;
- padding: ``window_out`` (a framework's output length for explicit pads) and ``plan_padding``
  (explicit pads → TFLite SAME, VALID, or a PAD op + VALID), ``pool_padding`` (when a padded
  pooling window has an exact TFLite form);
- ``GraphBuilder``: tensor / constant / op emission with shape inference, and the lowerings of
  layers that do not depend on how a front-end tracks its values: RESHAPE, PAD, convolution
  (CONV_2D / DEPTHWISE_CONV_2D with OIHW → OHWI / 1HWO filters), FULLY_CONNECTED, MEAN, SOFTMAX,
  negation, hard-sigmoid (ADD, RELU6, MUL), hard-swish (HARD_SWISH), ELU, inference BatchNorm as per-channel
  MUL + ADD constants (``batchnorm_affine``), and ``clamp_activation`` (which clamps are
  RELU / RELU6).

Each front-end subclasses ``GraphBuilder`` and names its tensors its own way (``NAMES``: role →
format of the base name, ``FIRST_DUPLICATE``); the ops and constants are the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from picoml.errors import PicomlError, UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OP_SET, OpType, default_attrs, infer_output_shapes, out_size, same_padding

#: ops whose output is never negative (zero padding is then neutral for max pooling)
NONNEGATIVE_OPS = (OpType.RELU, OpType.RELU6, OpType.LOGISTIC)


# ====================================================================== layout
def channels_last_perm(rank: int) -> tuple[int, ...]:
    """Framework (channels-first) axes in graph order: (N,C,H,W) → (N,H,W,C), (N,C,L) → (N,L,C),
    other ranks as they are. Graph axis ``k`` holds framework axis ``perm[k]``."""
    if rank == 4:
        return (0, 2, 3, 1)
    if rank == 3:
        return (0, 2, 1)
    return tuple(range(rank))


def to_graph_layout(x: np.ndarray) -> np.ndarray:
    """Channels-first framework data → the graph's channels-last layout.

    (N,C,H,W) → (N,H,W,C); (N,C,L) → (N,L,C); other ranks unchanged.
    """
    x = np.asarray(x)
    if x.ndim in (3, 4):
        return np.ascontiguousarray(x.transpose(channels_last_perm(x.ndim)))
    return x


def from_graph_layout(y: np.ndarray) -> np.ndarray:
    """Inverse of ``to_graph_layout``."""
    y = np.asarray(y)
    if y.ndim == 4:
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    if y.ndim == 3:
        return np.ascontiguousarray(y.transpose(0, 2, 1))
    return y


# ====================================================================== padding
def window_out(size: int, k: int, s: int, d: int, lo: int, hi: int, ceil: bool = False) -> int:
    """Output length of a window ``k`` (dilation ``d``, stride ``s``) over ``size`` padded by
    ``lo``/``hi``: PyTorch's ATen ``pooling_output_shape`` and ONNX's pooling formula (convolution
    is the floor case); with ``ceil`` no window may start in the trailing padding."""
    eff = (k - 1) * d + 1
    num = size + lo + hi - eff
    if num < 0:
        return 0
    o = (num + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= size + lo:  # the last window must start inside the input or left padding
        o -= 1
    return o


@dataclass
class Padding:
    """How padded windows map to TFLite: ``mode`` SAME or VALID, or None = a PAD op then VALID.

    ``outs``: output size per spatial axis; ``pads``: (leading, trailing) zeros per spatial axis
    that a PAD op adds so that VALID windows read exactly the framework's (the trailing side only
    as far as the last window reads).
    """

    outs: tuple[int, ...]
    mode: str | None
    pads: tuple[tuple[int, int], ...]


def plan_padding(
    sizes: tuple[int, ...],
    ks: tuple[int, ...],
    ss: tuple[int, ...],
    ds: tuple[int, ...],
    begins: tuple[int, ...],
    outs: tuple[int, ...],
) -> Padding:
    """Pick SAME or VALID when it reads exactly the framework's windows, else an explicit PAD.

    Two paddings give the same windows when they give the same output size and the same leading
    pad (taps past the end are zeros in both). PyTorch pads symmetrically; TFLite's SAME puts an
    odd total pad at the end (``ComputePaddingWithOffset``), so e.g. a 3x3 stride-2 conv with
    ``padding=1`` on an even input is *not* SAME.
    """
    outs = tuple(outs)
    zipped = list(zip(sizes, ks, ss, ds, begins, outs, strict=True))
    used = tuple((lo, max(0, (o - 1) * s + (k - 1) * d + 1 - n - lo)) for n, k, s, d, lo, o in zipped)
    if all(lo == 0 and o == out_size(n, k, s, d, "VALID") for n, k, s, d, lo, o in zipped):
        return Padding(outs, "VALID", used)
    if all(o == out_size(n, k, s, d, "SAME") and same_padding(n, k, s, d, o) == lo for n, k, s, d, lo, o in zipped):
        return Padding(outs, "SAME", used)
    return Padding(outs, None, used)


def pool_padding(kind: str, plan: Padding, padded: bool, count_include_pad: bool, nonneg: bool) -> str | None:
    """TFLite padding for a padded pooling window, "EXPLICIT" for a zero PAD op + VALID, or None when
    no exact lowering exists (``padded``: the framework declares padding).

    AVERAGE_POOL_2D divides by the taps inside the input (TFLite excludes padding): a framework
    average that counts the padding (``count_include_pad``) is PAD (zeros) + VALID; one that does
    not is exact only as SAME/VALID. MAX_POOL_2D never reads padding; PAD (zeros) + VALID is exact
    only on non-negative inputs (after a ReLU), where a zero never wins a window holding a real
    value.
    """
    if kind == "avg" and padded and count_include_pad:
        return "EXPLICIT"
    if plan.mode is not None:
        return plan.mode
    if kind == "max" and nonneg:
        return "EXPLICIT"
    return None


# ====================================================================== activations and folds
def clamp_activation(lo: float | None, hi: float | None) -> OpType | str | None:
    """The op computing a clamp to [lo, hi] (None = unbounded): RELU, RELU6, RELU_N1_TO_1, "identity" when
    nothing is clamped, None when picoml has no such op."""
    lo = None if lo is None or lo == -math.inf else float(lo)
    hi = None if hi is None or hi == math.inf else float(hi)
    if lo == 0.0 and hi is None:
        return OpType.RELU
    if lo == 0.0 and hi == 6.0:
        return OpType.RELU6
    if lo == -1.0 and hi == 1.0:
        return OpType.RELU_N1_TO_1
    if lo is None and hi is None:
        return "identity"
    return None


def batchnorm_affine(mean: Any, var: Any, gamma: Any, beta: Any, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Inference BatchNorm as y = x · s + t per channel, in float64.

    y = (x − μ) / sqrt(σ² + ε) · γ + β, so s = γ / sqrt(σ² + ε) and t = β − μ · s
    (``picoml.passes.fold_batchnorm`` folds the MUL + ADD into a preceding conv / dense layer).
    """
    s = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + float(eps))
    return s, np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * s


def conv_filter(w: np.ndarray, depthwise: bool) -> np.ndarray:
    """A 2-D filter (O, I/groups, kh, kw) in TFLite's layout: OHWI, or 1HWO for a depthwise conv
    (framework output channel o reads input o // multiplier, as TFLite's)."""
    return w.transpose(1, 2, 3, 0) if depthwise else w.transpose(0, 2, 3, 1)


def is_depthwise(groups: int, in_channels: int) -> bool:
    """groups == in_channels > 1 is DEPTHWISE_CONV_2D; other groupings (grouped included) CONV_2D."""
    return groups > 1 and groups == in_channels


# ====================================================================== graph builder
def transpose_factors(q: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(shape, perm) with ``arange(n).reshape(shape).transpose(perm).ravel() == q``, or None when the
    permutation ``q`` is no transpose. Read innermost first: each output dimension is a run of
    constant input step; the input shape orders the dimensions by step."""
    q = np.asarray(q, np.int64).reshape(-1)
    dims: list[tuple[int, int]] = []  # (extent, input step), innermost output dimension first
    cur = q
    while cur.size > 1:
        d = int(cur[1] - cur[0])
        run = 1
        while run < cur.size and cur[run] - cur[0] == run * d:
            run += 1
        while cur.size % run:
            run -= 1
        if run == 1:
            return None
        dims.append((run, d))
        cur = cur[::run]
    if q.size == 0 or q[0] != 0 or any(step <= 0 for _, step in dims):
        return None
    order = sorted(range(len(dims)), key=lambda k: -dims[k][1])  # input dimensions, outermost first
    shape = tuple(dims[k][0] for k in order)
    perm = tuple(order.index(k) for k in reversed(range(len(dims))))
    if not np.array_equal(np.arange(q.size).reshape(shape or (1,)).transpose(perm or (0,)).ravel(), q):
        return None
    return shape, perm


class GraphBuilder:
    """Emits graph tensors and ops with shape inference; subclasses track framework values."""

    #: role of a tensor a lowering makes → format of its name from the layer's base name
    NAMES: dict[str, str] = {
        "weights": "{}/weights",
        "bias": "{}/bias",
        "paddings": "{}/paddings",
        "pad": "{}/pad",
        "shape": "{}/shape",
        "axes": "{}/axes",
        "neg": "{}/neg",
        "minus_one": "{}/minus1",
        "hsig.6alpha": "{}/6alpha",
        "hsig.scaled": "{}/scaled",
        "hsig.6beta": "{}/6beta",
        "hsig.shifted": "{}/shifted",
        "hsig.relu6": "{}/relu6",
        "hsig.sixth": "{}/sixth",
        "hswish.hsig": "{}/hsig",
        "hswish.hsig_out": "{}/hsig",
    }
    #: suffix of the first duplicate of a name (base, base_<n>, base_<n+1>, ...)
    FIRST_DUPLICATE = 1

    def __init__(self) -> None:
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.names: set[str] = set()

    # ------------------------------------------------------------ primitives
    def name(self, base: str, role: str) -> str:
        return self.NAMES[role].format(base)

    def unique(self, base: str) -> str:
        base = base or "t"
        name, k = base, self.FIRST_DUPLICATE
        while name in self.names:
            name = f"{base}_{k}"
            k += 1
        self.names.add(name)
        return name

    def const(self, base: str, data: Any, dtype: str = "float32") -> Tensor:
        arr = np.ascontiguousarray(np.asarray(data).astype(dtype))
        t = Tensor(self.unique(base), arr.shape, dtype, data=arr)
        self.tensors.append(t)
        return t

    def scalar(self, base: str, value: float, like: Tensor) -> Tensor:
        """A float constant shaped (1, ..., 1) with ``like``'s rank (broadcasts in ADD/MUL)."""
        return self.const(base, np.full((1,) * len(like.shape), value, np.float32))

    def op_name(self, out: Tensor) -> str:
        """The name of the op that writes ``out``."""
        return out.name

    def shape_error(self, e: PicomlError) -> PicomlError:
        """The error to raise when shape inference refuses an emitted op."""
        return e

    def emit(self, op_type: OpType, inputs: list[Tensor | None], name: str, **attrs: Any) -> Tensor:
        a = default_attrs(op_type)
        assert set(attrs) <= set(a), (op_type, attrs)
        a.update(attrs)
        out = Tensor(self.unique(name), ())
        op = Op(op_type, inputs, [out], a, name=self.op_name(out))
        try:
            (shape,) = infer_output_shapes(op)
            d = OP_SET[op_type]
            if d.output_dtype is not None:  # ARG_MAX: int32 indices
                out.dtype = d.output_dtype(op)
            elif d.any_dtype and inputs and inputs[0] is not None:  # data movement keeps the dtype
                out.dtype = inputs[0].dtype
        except PicomlError as e:
            raise self.shape_error(e) from None
        out.shape = tuple(shape)
        self.tensors.append(out)
        self.ops.append(op)
        return out

    def emit_multi(self, op_type: OpType, inputs: list[Tensor | None], names: list[str], **attrs: Any) -> list[Tensor]:
        """An op with one output per name (SPLIT, SPLIT_V, UNPACK)."""
        a = default_attrs(op_type)
        assert set(attrs) <= set(a), (op_type, attrs)
        a.update(attrs)
        outs = [Tensor(self.unique(n), ()) for n in names]
        op = Op(op_type, inputs, outs, a, name=self.op_name(outs[0]))
        try:
            shapes = infer_output_shapes(op)
        except PicomlError as e:
            raise self.shape_error(e) from None
        for t, shape in zip(outs, shapes, strict=True):
            t.shape = tuple(shape)
        self.tensors += outs
        self.ops.append(op)
        return outs

    # ------------------------------------------------------------ data movement
    def emit_transpose(self, t: Tensor, perm: Any, name: str) -> Tensor:
        """TRANSPOSE: output axis k is input axis perm[k] (none for the identity)."""
        perm = [int(p) for p in perm]
        if perm == list(range(len(perm))):
            return t
        return self.emit(OpType.TRANSPOSE, [t, self.const(f"{name}/perm", np.array(perm, np.int32), "int32")], name)

    def emit_slice(self, t: Tensor, index: list[np.ndarray], name: str) -> Tensor:
        """The elements of ``t`` at ``index[k]`` (strictly monotonic arithmetic progressions) along
        each axis k: a STRIDED_SLICE (none when every axis is whole). A backward run that ends at
        index 0 uses end_mask (end -1 would count from the end)."""
        if all(len(ix) == n and (ix == np.arange(n)).all() for ix, n in zip(index, t.shape, strict=True)):
            return t
        begin, end, strides, end_mask = [], [], [], 0
        for k, ix in enumerate(index):
            step = int(ix[1] - ix[0]) if len(ix) > 1 else 1
            begin.append(int(ix[0]))
            strides.append(step)
            last = int(ix[-1])
            if step < 0 and last + step < 0:
                end.append(0)
                end_mask |= 1 << k
            else:
                end.append(last + step)
        args = [
            self.const(f"{name}/{w}", np.array(v, np.int32), "int32")
            for w, v in zip(("begin", "end", "strides"), (begin, end, strides), strict=True)
        ]
        return self.emit(OpType.STRIDED_SLICE, [t, *args], name, end_mask=end_mask)

    def emit_split(self, t: Tensor, axis: int, sizes: list[int], names: list[str]) -> list[Tensor]:
        """Parts of ``sizes`` along ``axis``: SPLIT when they are equal, else SPLIT_V."""
        ax = self.const(f"{names[0]}/axis", np.array([axis], np.int32), "int32")
        if len(set(sizes)) == 1:
            return self.emit_multi(OpType.SPLIT, [t, ax], names, num_splits=len(sizes))
        sz = self.const(f"{names[0]}/sizes", np.array(sizes, np.int32), "int32")
        return self.emit_multi(OpType.SPLIT_V, [t, sz, ax], names, num_splits=len(sizes))

    def emit_unpack(self, t: Tensor, axis: int, names: list[str]) -> list[Tensor]:
        return self.emit_multi(OpType.UNPACK, [t], names, num=t.shape[axis], axis=axis)

    def emit_pack(self, ts: list[Tensor], axis: int, name: str) -> Tensor:
        return self.emit(OpType.PACK, ts, name, values_count=len(ts), axis=axis)

    def emit_permutation(self, t: Tensor, q: np.ndarray, shape: tuple[int, ...], name: str) -> Tensor | None:
        """``t``'s elements reordered, element i of the result (flat) being element ``q[i]`` of ``t``,
        with shape ``shape``: RESHAPE → TRANSPOSE → RESHAPE (dimensions that move together merged);
        None when ``q`` is no transpose (or one of more than 6 dimensions)."""
        f = transpose_factors(q)
        if f is None or len(f[0]) > 6:
            return None
        dims, perm = f
        u = self.emit_reshape(t, dims, f"{name}/unflat", f"{name}/unflat_shape")
        u = self.emit_transpose(u, perm, f"{name}/transpose")
        return self.emit_reshape(u, tuple(shape), f"{name}/flat", f"{name}/flat_shape")

    def emit_gather_order(self, t: Tensor, q: np.ndarray, name: str) -> Tensor | None:
        """Rank-2 ``t`` (rows × features) with its features reordered: column i of the result is
        column ``q[i]`` of ``t``; None if ``q`` is no transpose."""
        n, f = t.shape
        full = (np.arange(n)[:, None] * f + np.asarray(q)[None, :]).reshape(-1)
        return self.emit_permutation(t, full, tuple(t.shape), name)

    def emit_reshape(self, t: Tensor, shape: tuple[int, ...], name: str, shape_name: str) -> Tensor:
        """``t`` as ``shape`` (a RESHAPE; none when the shape is already that)."""
        shape = tuple(int(d) for d in shape)
        if tuple(t.shape) == shape:
            return t
        s = self.const(shape_name, np.array(shape, np.int32), "int32")
        return self.emit(OpType.RESHAPE, [t, s], name, new_shape=shape)

    def emit_pad(self, t: Tensor, pads: Any, base: str) -> Tensor:
        """PAD with zeros; ``pads`` is (before, after) per axis of ``t``."""
        p = self.const(self.name(base, "paddings"), np.array(pads, np.int32), "int32")
        return self.emit(OpType.PAD, [t, p], self.name(base, "pad"))

    def pad_spatial(self, t: Tensor, plan: Padding, base: str) -> tuple[Tensor, str]:
        """An NHWC input for windows planned by ``plan``: (input, TFLite padding), with a PAD op
        in front when SAME/VALID cannot express the pads."""
        if plan.mode is not None:
            return t, plan.mode
        return self.emit_pad(t, ((0, 0),) + tuple(plan.pads) + ((0, 0),), base), "VALID"

    # ------------------------------------------------------------ layers
    def emit_conv(
        self,
        x: Tensor,
        weights: Tensor,
        bias: Tensor | None,
        depthwise: bool,
        strides: tuple[int, ...],
        dilations: tuple[int, ...],
        padding: str,
        name: str,
    ) -> Tensor:
        """CONV_2D or DEPTHWISE_CONV_2D of NHWC ``x`` with a filter from ``conv_filter``."""
        attrs = dict(
            padding=padding, stride_h=strides[0], stride_w=strides[1], dilation_h=dilations[0], dilation_w=dilations[1]
        )
        if depthwise:
            mult = weights.shape[3] // x.shape[3]
            return self.emit(OpType.DEPTHWISE_CONV_2D, [x, weights, bias], name, depth_multiplier=mult, **attrs)
        return self.emit(OpType.CONV_2D, [x, weights, bias], name, **attrs)

    def emit_dense(self, x: Tensor, w: np.ndarray, bias: Any, name: str, **attrs: Any) -> Tensor:
        """FULLY_CONNECTED with ``w`` [out, in] (in the graph's feature order) and optional bias."""
        wt = self.const(self.name(name, "weights"), w)
        bt = None if bias is None else self.const(self.name(name, "bias"), np.asarray(bias).reshape(-1))
        return self.emit(OpType.FULLY_CONNECTED, [x, wt, bt], name, **attrs)

    def emit_pool(
        self, kind: str, x: Tensor, ks: tuple[int, ...], ss: tuple[int, ...], padding: str, name: str
    ) -> Tensor:
        """MAX_POOL_2D (``kind`` "max") or AVERAGE_POOL_2D of NHWC ``x``."""
        op_type = OpType.MAX_POOL_2D if kind == "max" else OpType.AVERAGE_POOL_2D
        return self.emit(
            op_type, [x], name, padding=padding, stride_h=ss[0], stride_w=ss[1], filter_h=ks[0], filter_w=ks[1]
        )

    def emit_mean(self, x: Tensor, axes: list[int], keep_dims: bool, name: str) -> Tensor:
        """MEAN over graph axes ``axes``."""
        ax = self.const(self.name(name, "axes"), np.array(sorted(axes), np.int32), "int32")
        return self.emit(OpType.MEAN, [x, ax], name, keep_dims=keep_dims)

    def emit_reduce(self, op_type: OpType, x: Tensor, axes: list[int], keep_dims: bool, name: str) -> Tensor:
        """REDUCE_MAX, REDUCE_MIN or SUM over graph axes ``axes``."""
        ax = self.const(self.name(name, "axes"), np.array(sorted(axes), np.int32), "int32")
        return self.emit(op_type, [x, ax], name, keep_dims=keep_dims)

    def emit_arg(self, op_type: OpType, x: Tensor, axis: int, name: str) -> Tensor:
        """ARG_MAX or ARG_MIN along graph axis ``axis``: int32 indices, the axis dropped."""
        ax = self.const(self.name(name, "axes"), np.array([axis], np.int32), "int32")
        return self.emit(op_type, [x, ax], name, output_type=2)

    def emit_batch_matmul(self, a: Tensor, b: Tensor, adj_x: bool, adj_y: bool, name: str) -> Tensor:
        """BATCH_MATMUL (either operand may be a constant tensor)."""
        return self.emit(OpType.BATCH_MATMUL, [a, b], name, adj_x=bool(adj_x), adj_y=bool(adj_y))

    def emit_softmax(self, x: Tensor, name: str) -> Tensor:
        return self.emit(OpType.SOFTMAX, [x], name, beta=1.0)

    def emit_negate(self, x: Tensor, name: str) -> Tensor:
        """−x as MUL by −1 (exact in IEEE arithmetic)."""
        return self.emit(OpType.MUL, [x, self.scalar(self.name(name, "minus_one"), -1.0, x)], self.name(name, "neg"))

    def emit_leaky_relu(self, x: Tensor, alpha: float, name: str) -> Tensor:
        """x ≥ 0 ? x : αx. α is stored as the float32 both TFLite and the source frameworks use
        (PyTorch multiplies a float32 tensor by the slope in float32; ONNX's attribute is a float)."""
        return self.emit(OpType.LEAKY_RELU, [x], name, alpha=float(np.float32(alpha)))

    def emit_hard_sigmoid(self, x: Tensor, out: str, base: str, alpha: float = 1.0 / 6.0, beta: float = 0.5) -> Tensor:
        """max(0, min(1, αx + β)) = RELU6(6αx + 6β) / 6; PyTorch's α = 1/6, β = 1/2 needs no MUL by 6α.
        ``out`` names the result, ``base`` the steps."""
        y = x
        if not math.isclose(6.0 * alpha, 1.0, rel_tol=1e-6):
            k = self.scalar(self.name(base, "hsig.6alpha"), 6.0 * alpha, x)
            y = self.emit(OpType.MUL, [y, k], self.name(base, "hsig.scaled"))
        k = self.scalar(self.name(base, "hsig.6beta"), 6.0 * beta, x)
        y = self.emit(OpType.ADD, [y, k], self.name(base, "hsig.shifted"))
        y = self.emit(OpType.RELU6, [y], self.name(base, "hsig.relu6"))
        return self.emit(OpType.MUL, [y, self.scalar(self.name(base, "hsig.sixth"), 1.0 / 6.0, x)], out)

    def emit_hard_swish(self, x: Tensor, name: str) -> Tensor:
        """x · relu6(x + 3) / 6 (PyTorch Hardswish, ONNX HardSwish) as TFLite's one HARD_SWISH op,
        what the TFLite converter emits (hard-sigmoid has no TFLite op and stays a chain)."""
        return self.emit(OpType.HARD_SWISH, [x], name)

    def emit_elu(self, x: Tensor, alpha: float, name: str, where: str) -> Tensor:
        """x < 0 ? exp(x) - 1 : x; TFLite's ELU has no alpha, so only alpha = 1 maps to it."""
        if float(alpha) != 1.0:
            raise UnsupportedError(f"{where}: ELU with alpha={alpha:g} is not supported (TFLite's ELU has alpha 1)")
        return self.emit(OpType.ELU, [x], name)
