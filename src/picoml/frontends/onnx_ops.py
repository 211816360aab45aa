"""The ONNX front-end's mapping tables: ONNX op type → handler for run-time values
(``HANDLERS``) and → numpy evaluation when every input is a constant (``FOLDERS``).

A handler takes the ``Importer`` (``frontends/onnx_importer.py``), reads the node's inputs and
attributes, lowers it onto picoml ops with the shared ``GraphBuilder`` helpers
(``frontends/lowering.py``: padding, convolution, dense, pooling, activations) and sets the
node's output. To support a new ONNX op, write its handler here and add it to ``HANDLERS``
(and to ``FOLDERS`` when constant inputs should fold). Operator semantics follow the ONNX
operator specification (https://onnx.ai/onnx/operators/).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from picoml.frontends import onnx_extra, onnx_logic, onnx_reduce
from picoml.frontends.lowering import (
    batchnorm_affine,
    channels_last_perm,
    clamp_activation,
    conv_filter,
    is_depthwise,
    pool_padding,
)
from picoml.frontends.onnx_importer import F32, Act, Folder, Handler, Importer
from picoml.frontends.onnx_recurrent import op_recurrent
from picoml.frontends.onnx_resize import RESIZE_HANDLERS
from picoml.graph.ir import Tensor
from picoml.graph.ops import OpType


# ----------------------------------------------------------------------------- handlers
def op_conv(imp: Importer) -> None:
    x = imp.act(0)
    w = imp.const_input(1, "weights")
    b = imp.const_input(2, "bias", required=False)
    at = imp.attrs()
    r = x.rank - 2
    if r not in (1, 2) or w.ndim != r + 2:
        raise imp.unsupported(f"only 1-D and 2-D convolutions are supported (input {list(x.shape)})")
    w = np.asarray(w, F32)
    c = x.shape[1]
    m = w.shape[0]
    kernels = [int(k) for k in at.get("kernel_shape", w.shape[2:])]
    if tuple(kernels) != tuple(w.shape[2:]):
        raise imp.unsupported(f"kernel_shape {kernels} differs from the weights' {list(w.shape[2:])}")
    group = int(at.get("group", 1))
    if group <= 0 or c % group or m % group or w.shape[1] * group != c:
        raise imp.unsupported(f"group {group} does not fit {c} input channels and weights {list(w.shape)}")
    strides, dil = imp.spatial_attrs(at, r, kernels)
    t = imp.to_channels_last(x)
    pad = imp.padding(list(x.shape[2:]), kernels, strides, dil, at)
    # PyTorch-style symmetric or asymmetric pads that SAME cannot read: explicit zeros, then VALID windows
    t, padding = imp.pad_spatial(t, pad.plan, imp.out_name())
    if r == 1:  # run as a 2-D convolution over (N, 1, L, C)
        w = w[:, :, None, :]
        strides, dil = [1] + strides, [1] + dil
    bias = np.zeros(m, F32) if b is None else np.asarray(b, F32).reshape(-1)
    if bias.size != m:
        raise imp.unsupported(f"bias has {bias.size} values for {m} output channels")
    name = imp.out_name()
    # depthwise (with multiplier): ONNX output channel g·mult + k is TFLite's ic·depth_multiplier + k;
    # grouped convolution: TFLite splits filters evenly over input-channel groups, as ONNX does
    depthwise = is_depthwise(group, c)
    wt = imp.const(imp.name(name, "weights"), conv_filter(w, depthwise))
    bt = imp.const(imp.name(name, "bias"), bias)
    y = imp.emit_conv(t, wt, bt, depthwise, strides, dil, padding, name if r == 2 else f"{name}/2d")
    imp.set_out(imp.from_channels_last(y, x.rank))


def op_pool(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    kind = imp.node.op_type
    imp.unused_outputs(1)
    r = x.rank - 2
    if r not in (1, 2):
        raise imp.unsupported(f"only 1-D and 2-D pooling is supported (input {list(x.shape)})")
    kernels = [int(k) for k in at.get("kernel_shape", [])]
    strides, dil = imp.spatial_attrs(at, r, kernels)
    if any(d != 1 for d in dil):
        raise imp.unsupported(f"dilations {dil} are not supported in pooling")
    if int(at.get("storage_order", 0)) != 0:
        raise imp.unsupported("storage_order=1 is not supported")
    ceil_mode = bool(int(at.get("ceil_mode", 0)))
    sizes = list(x.shape[2:])
    pad = imp.padding(sizes, kernels, strides, dil, at, ceil_mode, pooling=True)
    t = imp.to_channels_last(x)
    kind = "max" if kind == "MaxPool" else "avg"
    include_pad = kind == "avg" and bool(int(at.get("count_include_pad", 0)))
    padded = pad.plan.mode != "VALID"
    if include_pad and padded and any(u > e for u, e in zip(pad.used_end, pad.declared_end, strict=True)):
        # padded zeros count in the average: a zero PAD and VALID windows compute exactly that,
        # as long as no window runs past the declared padding (ceil_mode overhang is not counted)
        raise imp.unsupported("count_include_pad=1 with ceil_mode windows past the padding")
    # TFLite's max pool ignores SAME padding (like -inf); a zero PAD is exact only when the input
    # cannot be negative (it follows a ReLU), since every window holds a real value. TFLite
    # averages over the valid taps only with SAME padding: count_include_pad=0.
    padding = pool_padding(kind, pad.plan, padded, include_pad, kind == "max" and imp.nonnegative(t))
    if padding is None and kind == "max":
        raise imp.unsupported(
            f"pads (begin {pad.begin}, end {pad.used_end}) differ from TFLite SAME and the input may be "
            "negative; TFLite max pooling cannot pad with -inf"
        )
    if padding is None:
        raise imp.unsupported(
            f"pads (begin {pad.begin}, end {pad.used_end}) with count_include_pad=0 differ from TFLite SAME "
            "padding; TFLite averages only the valid taps with SAME padding, so no exact lowering exists"
        )
    if padding == "EXPLICIT":
        t, padding = imp.emit_pad(t, ((0, 0),) + pad.plan.pads + ((0, 0),), imp.out_name()), "VALID"
    if r == 1:
        kernels, strides = [1] + kernels, [1] + strides
    name = imp.out_name() if r == 2 else f"{imp.out_name()}/2d"
    y = imp.emit_pool(kind, t, kernels, strides, padding, name)
    imp.set_out(imp.from_channels_last(y, x.rank))


def op_global_pool(imp: Importer) -> None:
    x = imp.act(0)
    if x.rank < 3:
        raise imp.unsupported(f"input {list(x.shape)} has no spatial axes")
    if imp.node.op_type == "GlobalAveragePool":
        imp.set_out(imp.mean(x, list(range(2, x.rank)), True))
        return
    t = imp.to_channels_last(x)
    h, w = t.shape[1], t.shape[2]
    name = imp.out_name() if x.rank == 4 else f"{imp.out_name()}/2d"
    y = imp.emit_pool("max", t, (h, w), (1, 1), "VALID", name)
    imp.set_out(imp.from_channels_last(y, x.rank))


def op_reduce_mean(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    if imp.opset >= 18:
        axes_v = imp.const_input(1, "axes", required=False)
        axes = None if axes_v is None else [int(a) for a in np.asarray(axes_v).reshape(-1)]
    else:
        axes = at.get("axes")
    keep = bool(int(at.get("keepdims", 1)))
    if not axes:
        if int(at.get("noop_with_empty_axes", 0)):
            imp.set_out(x)
            return
        axes = list(range(x.rank))
    imp.set_out(imp.mean(x, [int(a) for a in axes], keep))


def op_gemm(imp: Importer) -> None:
    at = imp.attrs()
    a = imp.act(0)
    w = imp.const_input(1, "weights")
    if a.rank != 2 or np.ndim(w) != 2:
        raise imp.unsupported(f"Gemm needs 2-D operands, has {list(a.shape)} and {list(np.shape(w))}")
    if int(at.get("transA", 0)):
        a = imp.need_layout(imp.transposed(a, (1, 0)), (0, 1))
    w = np.asarray(w, np.float64)
    w = w if int(at.get("transB", 0)) else w.T  # → [out, in]
    alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
    if alpha != 1.0:
        w = w * alpha
    cv = imp.inp(2)
    bias = None
    if cv is not None and not isinstance(cv, Act) and beta != 0.0:
        c = np.asarray(cv, np.float64)
        rows = np.broadcast_to(c, (a.shape[0], w.shape[0])) if c.ndim <= 2 else None
        if rows is None or not (rows == rows[:1]).all():
            raise imp.unsupported(f"C of shape {list(c.shape)} is not a per-output bias")
        bias = rows[0] * beta
    y = imp.dense(a, w, bias, keep_num_dims=False)
    if isinstance(cv, Act) and beta != 0.0:
        if beta != 1.0:
            s = imp.const(f"{imp.out_name()}/beta", np.full((1,) * cv.rank, beta))
            cv = Act(imp.emit(OpType.MUL, [cv.t, s], f"{imp.out_name()}/beta_c"), cv.shape, cv.perm, cv.cols)
        y = imp.add_acts(y, cv, imp.out_name())
    imp.set_out(y)


def op_matmul(imp: Importer) -> None:
    a = imp.inp(0)
    w = imp.inp(1)
    if not isinstance(a, Act) or isinstance(w, Act):
        raise imp.unsupported(
            "only MatMul of a run-time input by constant weights is supported "
            f"({imp.node.input[0]!r} × {imp.node.input[1]!r}); non-constant weights need a MATMUL op picoml lacks"
        )
    if np.ndim(w) != 2 or a.rank < 2:
        raise imp.unsupported(f"MatMul of {list(a.shape)} by weights {list(np.shape(w))} is not supported")
    imp.set_out(imp.dense(a, np.asarray(w, np.float64).T, None, keep_num_dims=a.rank > 2))


def op_clip(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    if imp.opset < 11:
        lo, hi = at.get("min", -np.inf), at.get("max", np.inf)
    else:
        lo_v = imp.const_input(1, "min", required=False)
        hi_v = imp.const_input(2, "max", required=False)
        lo = -np.inf if lo_v is None else float(np.asarray(lo_v).reshape(-1)[0])
        hi = np.inf if hi_v is None else float(np.asarray(hi_v).reshape(-1)[0])
    lo, hi = float(lo), float(hi)
    act = clamp_activation(lo, hi)
    if act == "identity":
        imp.set_out(x)
    elif act is not None:
        imp.unary(act)
    else:
        raise imp.unsupported(f"Clip({lo:g}, {hi:g}) is not supported; only Clip(0, 6), Clip(0, +inf) and Clip(-1, 1)")


def op_leaky_relu(imp: Importer) -> None:
    """LeakyRelu (x ≥ 0 ? x : αx, α default 0.01) → LEAKY_RELU."""
    x = imp.act(0)
    alpha = imp.attrs().get("alpha", 0.01)
    imp.set_out(Act(imp.emit_leaky_relu(x.t, alpha, imp.out_name()), x.shape, x.perm, x.cols))


def op_hard_sigmoid(imp: Importer) -> None:
    """max(0, min(1, αx + β)) = RELU6(6αx + 6β) / 6; PyTorch's α = 1/6, β = 1/2 needs no MUL by 6α."""
    x = imp.act(0)
    at = imp.attrs()
    alpha, beta = float(at.get("alpha", 0.2)), float(at.get("beta", 0.5))
    name = imp.out_name()
    imp.set_out(Act(imp.emit_hard_sigmoid(x.t, name, name, alpha, beta), x.shape, x.perm, x.cols))


def op_hard_swish(imp: Importer) -> None:
    """HardSwish(x) = x · HardSigmoid(x) with α = 1/6, β = 1/2 (ONNX spec)."""
    x = imp.act(0)
    name = imp.out_name()
    imp.set_out(Act(imp.emit_hard_swish(x.t, name), x.shape, x.perm, x.cols))


def op_elu(imp: Importer) -> None:
    """Elu (x < 0 ? α(exp(x) - 1) : x) → ELU, α = 1 only (TFLite's ELU has no α)."""
    x = imp.act(0)
    alpha = float(imp.attrs().get("alpha", 1.0))
    imp.set_out(Act(imp.emit_elu(x.t, alpha, imp.out_name(), imp.where()), x.shape, x.perm, x.cols))


def op_prelu(imp: Importer) -> None:
    """PRelu (x < 0 ? slope·x : x, slope a constant broadcast to x) → PRELU."""
    x = imp.act(0)
    slope = np.asarray(imp.const_input(1, "slope"), np.float32)
    name = imp.out_name()
    ca = imp.align_const(slope, x, f"slope {imp.node.input[1]!r}")
    imp.set_out(imp.apply(OpType.PRELU, x, name, imp.const(f"{name}/alpha", ca)))


def op_neg(imp: Importer) -> None:
    """Neg → MUL by -1 (exact; TFLite's NEG has no int8 kernel in tflite-micro)."""
    x = imp.act(0)
    imp.set_out(Act(imp.emit_negate(x.t, imp.out_name()), x.shape, x.perm, x.cols))


def op_softmax(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    axis = int(at.get("axis", -1 if imp.opset >= 13 else 1)) % x.rank
    if imp.opset < 13 and any(d != 1 for d in x.shape[axis + 1 :]):
        # opset < 13 normalizes over all axes from `axis` on (flattened); equal to one axis only here
        raise imp.unsupported(f"softmax over the flattened axes {axis}.. of {list(x.shape)} is not supported")
    moved = tuple(p for p in x.perm if p != axis) + (axis,)  # the axis last: a TRANSPOSE if nothing cheaper
    cands = [x.perm, channels_last_perm(x.rank), tuple(range(x.rank)), moved]
    for perm in cands:
        if perm[-1] != axis:
            continue
        y = x if x.perm == perm else imp.relayout(x, perm)
        if y is not None:
            imp.set_out(Act(imp.emit_softmax(y.t, imp.out_name()), y.shape, y.perm, y.cols))
            return
    raise imp.unsupported(f"softmax over axis {axis} of a flattened channels-last tensor is not supported")


_NON_COMMUTATIVE = {"Sub": OpType.SUB, "Div": OpType.DIV}
_MAX_MIN = {"Max": OpType.MAXIMUM, "Min": OpType.MINIMUM}


def op_binary(imp: Importer) -> None:
    kind = imp.node.op_type
    a, b = imp.inp(0), imp.inp(1)
    name = imp.out_name()
    if isinstance(a, Act) and isinstance(b, Act):
        if kind == "Add":
            imp.set_out(imp.add_acts(a, b, name))
        elif kind == "Mul":
            imp.set_out(imp.mul_acts(a, b, name))
        else:  # Sub, Div: operands keep their order
            imp.set_out(imp.ordered_acts(_NON_COMMUTATIVE[kind], a, b, name))
        return
    if isinstance(a, Act):
        x, c, const_first = a, np.asarray(b), False
    else:
        x, c, const_first = b, np.asarray(a), True
    what = f"constant {imp.node.input[0 if const_first else 1]!r}"
    ca = imp.align_const(c, x, what)
    if kind == "Add":
        imp.set_out(imp.apply(OpType.ADD, x, name, imp.const(f"{name}/const", ca)))
    elif kind == "Mul":
        imp.set_out(imp.apply(OpType.MUL, x, name, imp.const(f"{name}/const", ca)))
    elif kind == "Sub" and not const_first:
        # x - c = x + (-c) exactly in float; ADD by a per-channel constant runs as tables in C
        imp.set_out(imp.apply(OpType.ADD, x, name, imp.const(f"{name}/const", -ca.astype(np.float64))))
    elif kind == "Div" and not const_first:
        # x / c as x · (1/c): not bit-identical to a division (one extra float32 rounding of 1/c),
        # and a MUL on the device instead of int8 DIV's reciprocal arithmetic
        imp.set_out(imp.apply(OpType.MUL, x, name, imp.const(f"{name}/const", 1.0 / ca.astype(np.float64))))
    else:  # c - x, c / x: SUB / DIV with the constant first
        y = imp.emit(_NON_COMMUTATIVE[kind], [imp.const(f"{name}/const", ca), x.t], name)
        imp.set_out(Act(y, x.shape, x.perm, x.cols))


def op_max_min(imp: Importer) -> None:
    """Max / Min of one or more inputs (broadcasting): a chain of MAXIMUM / MINIMUM."""
    kind = _MAX_MIN[imp.node.op_type]
    name = imp.out_name()
    vals = [imp.inp(i) for i in range(len(imp.node.input))]
    acts = [v for v in vals if isinstance(v, Act)]
    if not acts:
        raise imp.unsupported("needs a run-time input")
    consts = [np.asarray(v) for v in vals if not isinstance(v, Act) and v is not None]
    acc = acts[0]
    if len(vals) == 1:
        imp.set_out(acc)
        return
    steps = len(acts) - 1 + (1 if consts else 0)
    for k, other in enumerate(acts[1:]):
        acc = imp.ordered_acts(kind, acc, other, name if k == steps - 1 else f"{name}/{k}")
    if consts:
        c = consts[0]
        for more in consts[1:]:
            c = (np.maximum if kind == OpType.MAXIMUM else np.minimum)(c, more)
        ca = imp.align_const(c, acc, "constant operand")
        acc = imp.apply(kind, acc, name, imp.const(f"{name}/const", ca))
    imp.set_out(acc)


def op_batchnorm(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    imp.unused_outputs(1)
    if int(at.get("training_mode", 0)):
        raise imp.unsupported("training_mode=1 is not supported; export the model in eval mode")
    if imp.opset < 9 and not int(at.get("spatial", 1)):
        raise imp.unsupported("spatial=0 is not supported")
    scale, bias, mean, var = (
        np.asarray(imp.const_input(i, w), np.float64) for i, w in ((1, "scale"), (2, "B"), (3, "mean"), (4, "var"))
    )
    if x.rank < 2:
        raise imp.unsupported(f"input {list(x.shape)} has no channel axis")
    c = x.shape[1]
    if any(v.size != c for v in (scale, bias, mean, var)):
        raise imp.unsupported(f"statistics do not have {c} values")
    eps = float(at.get("epsilon", 1e-5))
    # y = (x - mean) / sqrt(var + eps) · scale + B = x · s + t (ONNX spec), folded later into a
    # preceding convolution or dense layer when there is one
    s, t = batchnorm_affine(mean, var, scale, bias, float(np.float32(eps)))
    shp = (1, c) + (1,) * (x.rank - 2)
    name = imp.out_name()
    y = imp.apply(OpType.MUL, x, f"{name}/scale", imp.const(f"{name}/s", imp.align_const(s.reshape(shp), x, "s")))
    imp.set_out(imp.apply(OpType.ADD, y, name, imp.const(f"{name}/t", imp.align_const(t.reshape(shp), x, "t"))))


def op_concat(imp: Importer) -> None:
    at = imp.attrs()
    vals = [imp.inp(i) for i in range(len(imp.node.input))]
    acts = [v for v in vals if isinstance(v, Act)]
    first = acts[0]
    r = first.rank
    axis = int(at["axis"]) % r
    name = imp.out_name()
    use_cols = r == 2 and axis == 1 and any(a.cols is not None for a in acts)
    perm = first.perm if first.cols is None else (0, 1)
    tensors: list[Tensor] = []
    cols: list[np.ndarray] = []
    offset = 0
    for i, v in enumerate(vals):
        if isinstance(v, Act):
            if use_cols:
                a = v
                if a.perm != (0, 1):
                    a = imp.need_layout(a, (0, 1), i)
                cols.append((a.cols if a.cols is not None else np.arange(a.shape[1])) + offset)
            else:
                a = imp.need_layout(v, perm, i)
            tensors.append(a.t)
            offset += v.shape[axis]
        else:
            if np.ndim(v) != r:
                raise imp.unsupported(f"constant input {i} has rank {np.ndim(v)}, expected {r}")
            c = np.asarray(v, F32)
            if use_cols:
                cols.append(np.arange(c.shape[1]) + offset)
                tensors.append(imp.const(f"{name}/const{i}", c))
            else:
                tensors.append(imp.const(f"{name}/const{i}", c.transpose(perm)))
            offset += c.shape[axis]
    shape = list(first.shape)
    shape[axis] = offset
    if use_cols:
        y = imp.emit(OpType.CONCATENATION, tensors, name, axis=1)
        imp.set_out(Act(y, tuple(shape), (0, 1), np.concatenate(cols)))
        return
    y = imp.emit(OpType.CONCATENATION, tensors, name, axis=perm.index(axis))
    imp.set_out(Act(y, tuple(shape), perm))


def op_transpose(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    tperm = tuple(int(p) for p in at.get("perm", range(x.rank - 1, -1, -1)))
    if sorted(tperm) != list(range(x.rank)):
        raise imp.unsupported(f"perm {list(tperm)} is not a permutation of {x.rank} axes")
    imp.set_out(imp.transposed(x, tperm))


def op_reshape(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    op = imp.node.op_type
    if op == "Flatten":
        ax = int(at.get("axis", 1)) % (x.rank + 1) if x.rank else 0
        shape = (math.prod(x.shape[:ax]), math.prod(x.shape[ax:]))
    elif op == "Reshape":
        s = imp.const_input(1, "shape")
        shape = _reshape_target(x.shape, s, bool(int(at.get("allowzero", 0))), imp)
    elif op == "Unsqueeze":
        shape = _unsqueeze_shape(x.shape, imp._axes(at), imp)
    else:  # Squeeze
        shape = _squeeze_shape(x.shape, imp._axes(at), imp)
    imp.set_out(imp.reshape_act(x, shape))


def _plain(imp: Importer, i: int = 0) -> Act:
    """Input ``i``, with a permuted feature axis (a flatten) brought back to ONNX's order."""
    x = imp.act(i)
    return imp.need_layout(x, tuple(range(x.rank)), i) if x.cols is not None else x


def op_slice(imp: Importer) -> None:
    """Slice → STRIDED_SLICE on picoml's axes (numpy's start/end clamping, negative steps too)."""
    x = _plain(imp)
    at = imp.attrs()
    if imp.opset >= 10:
        starts, ends = imp.const_input(1, "starts"), imp.const_input(2, "ends")
        axes, steps = imp.const_input(3, "axes", required=False), imp.const_input(4, "steps", required=False)
    else:
        starts, ends, axes, steps = at["starts"], at["ends"], at.get("axes"), None
    starts, ends = [int(v) for v in np.reshape(starts, -1)], [int(v) for v in np.reshape(ends, -1)]
    axes = list(range(len(starts))) if axes is None else [int(v) for v in np.reshape(axes, -1)]
    steps = [1] * len(starts) if steps is None else [int(v) for v in np.reshape(steps, -1)]
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise imp.unsupported("starts, ends, axes and steps differ in length")
    index = [np.arange(n) for n in x.shape]
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        if not -x.rank <= a < x.rank or st == 0:
            raise imp.unsupported(f"axis {a} (rank {x.rank}) with step {st}")
        index[a % x.rank] = np.arange(x.shape[a % x.rank])[slice(s, e, st)]
    if any(len(ix) == 0 for ix in index):
        raise imp.unsupported("the slice is empty")
    y = imp.emit_slice(x.t, [index[p] for p in x.perm], imp.out_name())
    imp.set_out(Act(y, tuple(len(ix) for ix in index), x.perm))


def op_split(imp: Importer) -> None:
    """Split → SPLIT (equal parts) or SPLIT_V on picoml's axis."""
    x = _plain(imp)
    at = imp.attrs()
    ax = int(at.get("axis", 0))
    if not -x.rank <= ax < x.rank:
        raise imp.unsupported(f"axis {ax} out of range for rank {x.rank}")
    ax %= x.rank
    n, k = x.shape[ax], len(imp.node.output)
    split = imp.const_input(1, "split", required=False) if imp.opset >= 13 else at.get("split")
    if split is None:  # equal parts; opset 18's num_outputs: the last part may be smaller
        size = -(-n // int(at.get("num_outputs", k)))
        sizes = [size] * (k - 1) + [n - size * (k - 1)]
    else:
        sizes = [int(v) for v in np.reshape(split, -1)]
    if len(sizes) != k or sum(sizes) != n or min(sizes) <= 0:
        raise imp.unsupported(f"split {sizes} of axis {ax} (size {n}) into {k} outputs")
    ys = imp.emit_split(x.t, x.perm.index(ax), sizes, [imp.out_name(i) for i in range(k)])
    for i, (y, s) in enumerate(zip(ys, sizes, strict=True)):
        imp.set_out(Act(y, tuple(s if d == ax else m for d, m in enumerate(x.shape)), x.perm), i)


def op_pad(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    if (at.get("mode", "constant") or "constant") != "constant":
        raise imp.unsupported(f"mode {at.get('mode')!r} is not supported; only constant padding")
    if imp.opset >= 11:
        pads = [int(p) for p in np.asarray(imp.const_input(1, "pads")).reshape(-1)]
        cv = imp.const_input(2, "constant_value", required=False)
        value = 0.0 if cv is None else float(np.asarray(cv).reshape(-1)[0])
        axes_v = imp.const_input(3, "axes", required=False)
        axes = list(range(x.rank)) if axes_v is None else [int(a) % x.rank for a in np.asarray(axes_v).reshape(-1)]
    else:
        pads = [int(p) for p in at.get("pads", at.get("paddings", []))]
        value = float(at.get("value", 0.0))
        axes = list(range(x.rank))
    if value != 0.0:
        raise imp.unsupported(f"padding with {value:g} is not supported; PAD pads with zeros")
    k = len(axes)
    if len(pads) != 2 * k or any(p < 0 for p in pads):
        raise imp.unsupported(f"pads {pads} must be {2 * k} non-negative values (cropping is not supported)")
    full = [[0, 0] for _ in range(x.rank)]
    for i, a in enumerate(axes):
        full[a] = [pads[i], pads[i + k]]
    if x.cols is not None and any(full[1]):
        x = imp.need_layout(x, (0, 1))
    p = np.array([full[a] for a in x.perm], np.int32)
    pt = imp.const(f"{imp.out_name()}/paddings", p, "int32")
    y = imp.emit(OpType.PAD, [x.t, pt], imp.out_name())
    shape = tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, full, strict=True))
    imp.set_out(Act(y, shape, x.perm, x.cols))


def op_identity(imp: Importer) -> None:
    if imp.node.op_type == "Dropout":
        imp.unused_outputs(1)
        tm = imp.inp(2)
        if tm is not None and (isinstance(tm, Act) or bool(np.asarray(tm).reshape(-1)[0])):
            raise imp.unsupported("training_mode must be a constant false")
    imp.set_out(imp.inp(0))


def op_cast(imp: Importer) -> None:
    to = int(imp.attrs().get("to", 0))
    if to != imp.onnx.TensorProto.FLOAT:
        raise imp.unsupported("casting a run-time value to a type other than float32 is not supported")
    imp.set_out(imp.inp(0))


def op_shape(imp: Importer) -> None:
    x = imp.inp(0)
    shape = x.shape if isinstance(x, Act) else np.shape(x)
    at = imp.attrs()
    if imp.node.op_type == "Size":
        imp.values[imp.out_name()] = np.array(math.prod(shape), np.int64)
        return
    start, end = int(at.get("start", 0)), at.get("end")
    imp.values[imp.out_name()] = np.array(shape[slice(start, None if end is None else int(end))], np.int64)


# ----------------------------------------------------------------------------- shape arithmetic
def _reshape_target(shape: tuple[int, ...], s: np.ndarray, allowzero: bool, imp: Importer) -> tuple[int, ...]:
    new = [int(d) for d in np.asarray(s).reshape(-1)]
    if not allowzero:
        new = [shape[i] if d == 0 and i < len(shape) else d for i, d in enumerate(new)]
    if new.count(-1) > 1 or any(d < -1 for d in new):
        raise imp.unsupported(f"shape {new} is not a valid reshape target")
    total = math.prod(shape)
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        if known == 0 or total % known:
            raise imp.unsupported(f"cannot reshape {list(shape)} to {new}")
        new[new.index(-1)] = total // known
    return tuple(new)


def _unsqueeze_shape(shape: tuple[int, ...], axes: list[int] | None, imp: Importer) -> tuple[int, ...]:
    if not axes:
        raise imp.unsupported("Unsqueeze needs axes")
    r = len(shape) + len(axes)
    norm = sorted(a % r for a in axes)
    out = list(shape)
    for a in norm:
        out.insert(a, 1)
    return tuple(out)


def _squeeze_shape(shape: tuple[int, ...], axes: list[int] | None, imp: Importer) -> tuple[int, ...]:
    r = len(shape)
    if axes is None:
        return tuple(d for d in shape if d != 1)
    norm = {a % r for a in axes}
    if any(shape[a] != 1 for a in norm):
        raise imp.unsupported(f"cannot squeeze axes {sorted(norm)} of {list(shape)}")
    return tuple(d for i, d in enumerate(shape) if i not in norm)


# ----------------------------------------------------------------------------- constant folding
def _np_dtype(imp: Importer, to: int) -> np.dtype:
    try:
        return np.dtype(imp.onnx.helper.tensor_dtype_to_np_dtype(to))
    except Exception:
        raise imp.unsupported(f"cast to ONNX type {to} is not supported") from None


def _fold_constant(imp: Importer, ins: list) -> list[np.ndarray]:
    at = imp.attrs()
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in at:
            v = at[key]
            if key == "value":
                return [np.asarray(v)]
            return [np.asarray(v, np.float32 if "float" in key else np.int64)]
    raise imp.unsupported(f"Constant with attributes {sorted(at)} is not supported (numeric tensors only)")


def _binary_fold(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    def fold(imp: Importer, ins: list) -> list[np.ndarray]:
        a, b = np.asarray(ins[0]), np.asarray(ins[1])
        out = fn(a, b)
        return [np.asarray(out).astype(np.result_type(a, b)) if out.dtype != np.bool_ else np.asarray(out)]

    return fold


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)  # ONNX integer Div truncates
    return a / b


def _fold_gather(imp: Importer, ins: list) -> list[np.ndarray]:
    axis = int(imp.attrs().get("axis", 0))
    return [np.take(np.asarray(ins[0]), np.asarray(ins[1]).astype(np.int64), axis=axis)]


def _fold_concat(imp: Importer, ins: list) -> list[np.ndarray]:
    return [np.concatenate([np.asarray(v) for v in ins], axis=int(imp.attrs()["axis"]))]


def _fold_unsqueeze(imp: Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    axes = imp._axes(imp.attrs())
    return [x.reshape(_unsqueeze_shape(x.shape, axes, imp))]


def _fold_squeeze(imp: Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    return [x.reshape(_squeeze_shape(x.shape, imp._axes(imp.attrs()), imp))]


def _fold_reshape(imp: Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    at = imp.attrs()
    if imp.node.op_type == "Flatten":
        ax = int(at.get("axis", 1)) % (x.ndim + 1) if x.ndim else 0
        return [x.reshape(math.prod(x.shape[:ax]), -1)]
    return [x.reshape(_reshape_target(x.shape, ins[1], bool(int(at.get("allowzero", 0))), imp))]


def _fold_transpose(imp: Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    perm = imp.attrs().get("perm")
    return [x.transpose(perm) if perm is not None else x.T]


def _fold_cast(imp: Importer, ins: list) -> list[np.ndarray]:
    return [np.asarray(ins[0]).astype(_np_dtype(imp, int(imp.attrs()["to"])))]


def _fold_slice(imp: Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    at = imp.attrs()
    if imp.opset >= 10:
        starts, ends = np.asarray(ins[1]).reshape(-1), np.asarray(ins[2]).reshape(-1)
        axes = np.asarray(ins[3]).reshape(-1) if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
        steps = np.asarray(ins[4]).reshape(-1) if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), int)
    else:
        starts, ends = at["starts"], at["ends"]
        axes = at.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        idx[int(a) % x.ndim] = slice(int(s), int(e), int(st))
    return [x[tuple(idx)]]


def _fold_constant_of_shape(imp: Importer, ins: list) -> list[np.ndarray]:
    v = imp.attrs().get("value")
    v = np.zeros(1, np.float32) if v is None else np.asarray(v).reshape(-1)
    return [np.full([int(d) for d in np.asarray(ins[0]).reshape(-1)], v[0], v.dtype)]


def _fold_range(imp: Importer, ins: list) -> list[np.ndarray]:
    s, e, d = (np.asarray(v).reshape(()) for v in ins)
    return [np.arange(s, e, d).astype(s.dtype)]


def _fold_reduce(fn: Callable[..., np.ndarray]):
    def fold(imp: Importer, ins: list) -> list[np.ndarray]:
        x = np.asarray(ins[0])
        at = imp.attrs()
        axes = at.get("axes")
        if len(ins) > 1 and ins[1] is not None:
            axes = [int(a) for a in np.asarray(ins[1]).reshape(-1)]
        keep = bool(int(at.get("keepdims", 1)))
        ax = None if not axes else tuple(int(a) for a in axes)
        return [np.asarray(fn(x, axis=ax, keepdims=keep)).astype(x.dtype)]

    return fold


def _unary_fold(fn: Callable[[np.ndarray], np.ndarray]):
    def fold(imp: Importer, ins: list) -> list[np.ndarray]:
        x = np.asarray(ins[0])
        return [np.asarray(fn(x)).astype(x.dtype)]

    return fold


def _fold_where(imp: Importer, ins: list) -> list[np.ndarray]:
    return [np.where(np.asarray(ins[0]), np.asarray(ins[1]), np.asarray(ins[2]))]


def _fold_expand(imp: Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    shape = tuple(int(d) for d in np.asarray(ins[1]).reshape(-1))
    return [np.broadcast_to(x, np.broadcast_shapes(x.shape, shape)).copy()]


def _fold_passthrough(imp: Importer, ins: list) -> list[np.ndarray]:
    return [np.asarray(ins[0])]


def _fold_clip(imp: Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    at = imp.attrs()
    if imp.opset < 11:
        lo, hi = at.get("min", -np.inf), at.get("max", np.inf)
    else:
        lo = -np.inf if len(ins) < 2 or ins[1] is None else np.asarray(ins[1])
        hi = np.inf if len(ins) < 3 or ins[2] is None else np.asarray(ins[2])
    return [np.clip(x, lo, hi).astype(x.dtype)]


def _fold_shape(imp: Importer, ins: list) -> list[np.ndarray]:
    imp.op_shape()
    return [imp.values[imp.out_name()]]


#: ONNX op → numpy evaluation when every input is known before run time.
FOLDERS: dict[str, Folder] = {
    "Constant": _fold_constant,
    "Identity": _fold_passthrough,
    "Dropout": _fold_passthrough,
    "Cast": _fold_cast,
    "Shape": _fold_shape,
    "Size": _fold_shape,
    "Gather": _fold_gather,
    "Concat": _fold_concat,
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": _fold_squeeze,
    "Reshape": _fold_reshape,
    "Flatten": _fold_reshape,
    "Transpose": _fold_transpose,
    "Slice": _fold_slice,
    "ConstantOfShape": _fold_constant_of_shape,
    "Range": _fold_range,
    "Expand": _fold_expand,
    "Where": _fold_where,
    "Add": _binary_fold(np.add),
    "Sub": _binary_fold(np.subtract),
    "Mul": _binary_fold(np.multiply),
    "Div": _binary_fold(_div),
    "Pow": _binary_fold(np.power),
    "Equal": _binary_fold(np.equal),
    "Min": _binary_fold(np.minimum),
    "Max": _binary_fold(np.maximum),
    "Neg": _unary_fold(np.negative),
    "Sqrt": _unary_fold(np.sqrt),
    "Reciprocal": _unary_fold(np.reciprocal),
    "Floor": _unary_fold(np.floor),
    "Ceil": _unary_fold(np.ceil),
    "Abs": _unary_fold(np.abs),
    "Relu": _unary_fold(lambda x: np.maximum(x, 0)),
    "Sigmoid": _unary_fold(lambda x: 1.0 / (1.0 + np.exp(-x))),
    "Tanh": _unary_fold(np.tanh),
    "Clip": _fold_clip,
    "ReduceProd": _fold_reduce(np.prod),
    "ReduceSum": _fold_reduce(np.sum),
    "ReduceMean": _fold_reduce(np.mean),
}

#: ONNX op → handler for run-time values (each emits picoml ops and sets the node's output).
HANDLERS: dict[str, Handler] = {
    "Conv": op_conv,
    "Gemm": op_gemm,
    "MatMul": op_matmul,
    "BatchNormalization": op_batchnorm,
    "Relu": lambda imp: imp.unary(OpType.RELU),
    "Clip": op_clip,
    "Sigmoid": lambda imp: imp.unary(OpType.LOGISTIC),
    "Tanh": lambda imp: imp.unary(OpType.TANH),
    "HardSwish": op_hard_swish,
    "HardSigmoid": op_hard_sigmoid,
    "LeakyRelu": op_leaky_relu,
    "MaxPool": op_pool,
    "AveragePool": op_pool,
    "GlobalAveragePool": op_global_pool,
    "GlobalMaxPool": op_global_pool,
    "ReduceMean": op_reduce_mean,
    "Flatten": op_reshape,
    "Reshape": op_reshape,
    "Squeeze": op_reshape,
    "Unsqueeze": op_reshape,
    "Transpose": op_transpose,
    "Slice": op_slice,
    "Split": op_split,
    "Add": op_binary,
    "Sub": op_binary,
    "Mul": op_binary,
    "Div": op_binary,
    "Max": op_max_min,
    "Min": op_max_min,
    "Concat": op_concat,
    "Softmax": op_softmax,
    "Pad": op_pad,
    "Dropout": op_identity,
    "Identity": op_identity,
    "Cast": op_cast,
    "Shape": op_shape,
    "Size": op_shape,
    "Elu": op_elu,
    "PRelu": op_prelu,
    "Neg": op_neg,
    "Abs": lambda imp: imp.unary(OpType.ABS),
    "Exp": lambda imp: imp.unary(OpType.EXP),
    "Log": lambda imp: imp.unary(OpType.LOG),
    "Sqrt": lambda imp: imp.unary(OpType.SQRT),
    "Sin": lambda imp: imp.unary(OpType.SIN),
    "Cos": lambda imp: imp.unary(OpType.COS),
    "Floor": lambda imp: imp.unary(OpType.FLOOR),
    "Ceil": lambda imp: imp.unary(OpType.CEIL),
    "Round": lambda imp: imp.unary(OpType.ROUND),
}
HANDLERS.update(RESIZE_HANDLERS)
HANDLERS.update(onnx_reduce.handlers(op_matmul))  # ReduceMax/Min/Sum, ArgMax/Min, MatMul of two values
HANDLERS.update(onnx_logic.handlers(op_cast))  # comparisons, And/Or/Not, Where, Expand, Cast of bools, Mod
FOLDERS.update(onnx_logic.FOLDERS)
HANDLERS.update(onnx_extra.handlers(op_pad))  # Sum, Pad reflect / value, LogSoftmax, LpNormalization, Gelu


def supported_onnx_ops() -> dict[str, str]:
    """ONNX op type → what picoml does with it ("run time" ops emit picoml ops; the rest fold to constants)."""
    out = {op: "constants only" for op in FOLDERS}
    out.update({op: "run time" for op in HANDLERS if op not in ("Shape", "Size")})
    return dict(sorted(out.items()))


HANDLERS.update(LSTM=op_recurrent, GRU=op_recurrent)  # unrolled (frontends/onnx_recurrent.py)
