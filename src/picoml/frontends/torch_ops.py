"""The PyTorch front-end's mapping tables: torch module class, function, Tensor method or ATen
overload → handler. A handler takes (``TorchBuilder``, ``Call``), checks the call's arguments and
lowers it with the builder (``frontends/torch_values.py``, on ``frontends/lowering.py``);
``supported_torch`` lists what the tables hold. To support a new PyTorch layer, add its handler
here and its key to ``_module_table``, ``_function_table``, ``_aten_table`` or ``_METHODS``."""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from picoml.errors import PicomlError, UnsupportedError
from picoml.frontends import torch_extra, torch_logic, torch_reduce, torch_resize
from picoml.frontends.torch_recurrent import m_recurrent
from picoml.frontends.torch_values import Call, TorchBuilder, Val, _np
from picoml.graph.ops import OpType


def _need_torch():
    try:
        import torch
        import torch.fx  # noqa: F401
    except ImportError:
        raise PicomlError("from_torch needs PyTorch: pip install 'picoml[torch]'") from None
    return torch


# A handler takes (builder, call) and returns a Val (or a tuple for multi-output ATen ops).
Handler = Callable[[TorchBuilder, Call], Any]


def _first(c: Call) -> Val:
    return c.args[0] if c.args else next(iter(c.kwargs.values()))


def _x(c: Call, *names: str) -> Val:
    """The tensor argument, checked to be a traced value."""
    x = c.bind(*names)[names[0] if isinstance(names[0], str) else names[0][0]]
    if not isinstance(x, Val):
        raise UnsupportedError(f"{c.where}: expects a tensor that depends on the model input")
    return x


# ---------------------------------------------------------------- modules
def _m_conv(nd: int) -> Handler:
    def h(b: TorchBuilder, c: Call) -> Val:
        m = c.mod
        if m.padding_mode != "zeros":
            raise UnsupportedError(f"{c.where}: padding_mode={m.padding_mode!r} is not supported (only 'zeros')")
        return b.conv(c, _x(c, "input"), m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups, nd)

    return h


def _m_linear(b: TorchBuilder, c: Call) -> Val:
    return b.linear(c, _x(c, "input"), c.mod.weight, c.mod.bias)


def _m_bn(b: TorchBuilder, c: Call) -> Val:
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


def _m_hardtanh(b: TorchBuilder, c: Call) -> Val:
    return b.clamp(c, _x(c, "input"), c.mod.min_val, c.mod.max_val)


def _m_identity(b: TorchBuilder, c: Call) -> Val:
    return _first(c)


def _m_flatten(b: TorchBuilder, c: Call) -> Val:
    return b.reshape(c, _x(c, "input"), c.out_shape)


def _m_softmax(b: TorchBuilder, c: Call) -> Val:
    return b.softmax(c, _x(c, "input"), c.mod.dim)


def _m_pool(kind: str, nd: int) -> Handler:
    def h(b: TorchBuilder, c: Call) -> Val:
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
    def h(b: TorchBuilder, c: Call) -> Val:
        if kind == "max" and c.mod.return_indices:
            raise UnsupportedError(f"{c.where}: return_indices=True is not supported")
        return b.adaptive(c, kind, _x(c, "input"), c.mod.output_size, nd)

    return h


# ---------------------------------------------------------------- functions (F.*, torch.*, Tensor.*, aten)
_CONV_SPEC = ("input", "weight", ("bias", None), ("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1))


def _f_conv(nd: int) -> Handler:
    def h(b: TorchBuilder, c: Call) -> Val:
        a = c.bind(*_CONV_SPEC)
        if not isinstance(a["input"], Val) or isinstance(a["weight"], Val) or isinstance(a["bias"], Val):
            raise UnsupportedError(f"{c.where}: only a constant filter applied to the input is supported")
        return b.conv(c, a["input"], a["weight"], a["bias"], a["stride"], a["padding"], a["dilation"], a["groups"], nd)

    return h


def _f_linear(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "weight", ("bias", None))
    if isinstance(a["weight"], Val) or isinstance(a["bias"], Val):
        raise UnsupportedError(f"{c.where}: weights computed from the input are not supported")
    return b.linear(c, a["input"], a["weight"], a["bias"])


def _f_matmul(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "other")
    if not isinstance(a["input"], Val) or isinstance(a["other"], Val) or _np(a["other"]).ndim != 2:
        raise UnsupportedError(f"{c.where}: only (input @ constant 2-D matrix) is supported")
    return b.linear(c, a["input"], _np(a["other"]).T, None)


def _f_batch_norm(b: TorchBuilder, c: Call) -> Val:  # F.batch_norm
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


def _aten_batch_norm(b: TorchBuilder, c: Call) -> Val:  # aten.batch_norm
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


def _aten_bn_no_training(b: TorchBuilder, c: Call) -> tuple:  # aten._native_batch_norm_legit_no_training
    a = c.bind("input", "weight", "bias", "running_mean", "running_var", "momentum", "eps")
    a["training"] = False
    return (_bn_checked(b, c, a), None, None)


def _bn_checked(b: TorchBuilder, c: Call, a: dict) -> Val:
    if a["training"] or a["running_mean"] is None or a["running_var"] is None:
        raise UnsupportedError(f"{c.where}: batch_norm with batch statistics (training=True) is not supported")
    if any(isinstance(a[k], Val) for k in ("running_mean", "running_var", "weight", "bias")):
        raise UnsupportedError(f"{c.where}: batch_norm parameters computed from the input are not supported")
    return b.batchnorm(c, a["input"], a["running_mean"], a["running_var"], a["weight"], a["bias"], a["eps"])


def _f_unary(op_type: str, *extra: tuple[str, Any]) -> Handler:
    return lambda b, c: b.unary(c, _x(c, "input", *extra), op_type)


def _f_relu6(b: TorchBuilder, c: Call) -> Val:
    return b.unary(c, _x(c, "input", ("inplace", False)), OpType.RELU6)


def _f_leaky_relu(b: TorchBuilder, c: Call) -> Val:
    """nn.LeakyReLU, F.leaky_relu, aten leaky_relu: LEAKY_RELU with alpha = negative_slope."""
    if c.mod is not None:  # the module: its attribute
        x, slope = _x(c, "input"), c.mod.negative_slope
    else:
        spec = ("input", ("negative_slope", 0.01), ("inplace", False))
        x, slope = _x(c, *spec), c.bind(*spec)["negative_slope"]
    if isinstance(slope, bool) or not isinstance(slope, (int, float)):
        raise UnsupportedError(f"{c.where}: negative_slope must be a number, is {type(slope).__name__}")
    return Val(b.emit_leaky_relu(x.t, slope, c.name), c.out_shape, x.order, False, x.origin)


def _f_hardtanh(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("min_val", -1.0), ("max_val", 1.0), ("inplace", False))
    return b.clamp(c, a["input"], a["min_val"], a["max_val"])


def _f_clamp(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("min", None), ("max", None))
    if isinstance(a["min"], Val) or isinstance(a["max"], Val):
        raise UnsupportedError(f"{c.where}: clamp bounds computed from the input are not supported")
    return b.clamp(c, a["input"], a["min"], a["max"])


def _f_special(kind: str) -> Handler:
    def h(b: TorchBuilder, c: Call) -> Val:
        x = _x(c, "input", ("inplace", False))
        return getattr(b, kind)(c, x)

    return h


def _f_elu(b: TorchBuilder, c: Call) -> Val:
    """nn.ELU, F.elu (alpha 1 only: TFLite's ELU has no alpha)."""
    if c.mod is not None:
        return b.elu(c, _x(c, "input"), c.mod.alpha)
    spec = ("input", ("alpha", 1.0), ("inplace", False))
    return b.elu(c, _x(c, *spec), c.bind(*spec)["alpha"])


def _aten_elu(b: TorchBuilder, c: Call) -> Val:  # aten.elu(self, alpha, scale, input_scale)
    spec = ("input", ("alpha", 1.0), ("scale", 1.0), ("input_scale", 1.0))
    a = c.bind(*spec)
    if float(a["scale"]) != 1.0 or float(a["input_scale"]) != 1.0:
        raise UnsupportedError(f"{c.where}: ELU with scale or input_scale other than 1 is not supported")
    return b.elu(c, _x(c, *spec), a["alpha"])


def _f_prelu(b: TorchBuilder, c: Call) -> Val:
    """nn.PReLU (num_parameters 1 or C), F.prelu, aten prelu: PRELU with a constant alpha."""
    if c.mod is not None:
        return b.prelu(c, _x(c, "input"), c.mod.weight)
    a = c.bind("input", "weight")
    if isinstance(a["weight"], Val):
        raise UnsupportedError(f"{c.where}: PReLU slopes computed from the input are not supported")
    return b.prelu(c, _x(c, "input", "weight"), a["weight"])


def _f_round(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("decimals", 0))
    if a["decimals"]:
        raise UnsupportedError(f"{c.where}: round with decimals={a['decimals']} is not supported")
    return b.unary(c, _x(c, "input", ("decimals", 0)), OpType.ROUND)


#: torch functions / Tensor methods / ATen overloads (name.default) with a one-op unary mapping
_UNARY = {
    "abs": OpType.ABS,
    "exp": OpType.EXP,
    "log": OpType.LOG,
    "sqrt": OpType.SQRT,
    "rsqrt": OpType.RSQRT,
    "square": OpType.SQUARE,
    "sin": OpType.SIN,
    "cos": OpType.COS,
    "floor": OpType.FLOOR,
    "ceil": OpType.CEIL,
}


def _f_identity(b: TorchBuilder, c: Call) -> Val:
    return _x(c, "input", ("memory_format", None))


def _f_dropout(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("p", 0.5), ("training", True), ("inplace", False))
    if a["training"] and float(a["p"]) > 0:
        raise UnsupportedError(
            f"{c.where}: dropout with training=True drops values at inference; pass training=self.training"
        )
    return a["input"]


def _aten_dropout(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "p", "train")
    if a["train"] and float(a["p"]) > 0:
        raise UnsupportedError(f"{c.where}: dropout in training mode is not supported")
    return a["input"]


def _f_reshape_like(b: TorchBuilder, c: Call) -> Val:
    """view/reshape/flatten/squeeze/unsqueeze/unflatten: PyTorch's output shape says it all."""
    return b.reshape(c, _first(c), c.out_shape)


def _f_permute(b: TorchBuilder, c: Call) -> Val:
    x = _first(c)
    dims = c.args[1:] if len(c.args) > 1 else tuple(c.kwargs.get("dims", ()))
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    idx = np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape).transpose([int(d) for d in dims])
    return b.rearrange(c, x, idx)


def _f_transpose(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "dim0", "dim1")
    x = a["input"]
    idx = np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape).swapaxes(int(a["dim0"]), int(a["dim1"]))
    return b.rearrange(c, x, idx)


def _f_add(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "other", ("alpha", 1))
    x, y, alpha = a["input"], a["other"], a["alpha"]
    if alpha != 1:
        if isinstance(y, Val):
            y = b.binary(_sub_call(c, "alpha", y.shape), OpType.MUL, y, float(alpha))
        else:
            y = _np(y) * float(alpha)
    return b.binary(c, OpType.ADD, x, y)


def _f_sub(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "other", ("alpha", 1))
    x, y, alpha = a["input"], a["other"], float(a["alpha"])
    if not isinstance(y, Val):
        # x − c == x + (−c) exactly in float; ADD by a per-channel constant runs as tables in C
        return b.binary(c, OpType.ADD, x, -alpha * _np(y))
    if alpha != 1:
        y = b.binary(_sub_call(c, "alpha", y.shape), OpType.MUL, y, alpha)
    return b.binary(c, OpType.SUB, x, y)


def _f_rsub(b: TorchBuilder, c: Call) -> Val:  # c − x (operator.sub with the constant first, torch.rsub)
    a = c.bind("input", "other", ("alpha", 1))
    x, k, alpha = a["input"], a["other"], float(a["alpha"])
    if alpha != 1:
        x = b.binary(_sub_call(c, "alpha", x.shape), OpType.MUL, x, alpha)
    return b.binary(c, OpType.SUB, k, x)


def _op_sub(b: TorchBuilder, c: Call) -> Val:
    x, y = c.args
    if isinstance(x, Val):
        return _f_sub(b, c)
    return _f_rsub(b, Call(c.where, c.name, (y, x), {}, c.out, c.mod))


def _f_mul(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "other")
    return b.binary(c, OpType.MUL, a["input"], a["other"])


def _f_div(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "other", ("rounding_mode", None))
    x, y = a["input"], a["other"]
    if a["rounding_mode"] is not None:
        raise UnsupportedError(f"{c.where}: division with rounding_mode={a['rounding_mode']!r} is not supported")
    if not isinstance(x, Val) and not isinstance(y, Val):
        raise UnsupportedError(f"{c.where}: division of two constants is not supported")
    if not isinstance(y, Val):
        # x / k as x · (1/k): within an ulp of PyTorch's division, and a MUL (or per-channel tables)
        # instead of int8 DIV's reciprocal arithmetic on the device
        return b.binary(c, OpType.MUL, x, 1.0 / _np(y))
    return b.binary(c, OpType.DIV, x, y)  # a run-time divisor (or a constant dividend): DIV


def _f_reciprocal(b: TorchBuilder, c: Call) -> Val:
    """1 / x (torch.reciprocal; aten's form of a number divided by a tensor) as DIV(1, x)."""
    return b.binary(c, OpType.DIV, np.float32(1.0), _first(c))


def _op_truediv(b: TorchBuilder, c: Call) -> Val:
    x, y = c.args[:2]
    if isinstance(x, Val) or not isinstance(y, Val) or np.ndim(x) != 0:
        return _f_div(b, Call(c.where, c.name, (x, y), {}, c.out))
    # number / tensor: PyTorch's __rtruediv__ is reciprocal(y) · number; the same two roundings
    r = _f_reciprocal(b, Call(c.where, f"{c.name}_reciprocal", (y,), {}, c.out, c.mod))
    return r if float(x) == 1.0 else b.binary(c, OpType.MUL, r, float(x))


def _f_max_min(kind: OpType) -> Handler:
    """torch.maximum / torch.minimum and the two-tensor forms of torch.max / torch.min."""

    def handler(b: TorchBuilder, c: Call) -> Val:
        a = c.bind("input", "other")
        if not isinstance(a["other"], Val) and not isinstance(a["input"], Val):
            raise UnsupportedError(f"{c.where}: {kind.lower()} of two constants is not supported")
        return b.binary(c, kind, a["input"], a["other"])

    return handler


def _f_max_min_any(kind: OpType, reduce: str) -> Handler:
    """torch.max / torch.min: the elementwise form of two tensors only (the reductions are refused)."""
    pair = _f_max_min(kind)

    def handler(b: TorchBuilder, c: Call) -> Val:
        if len(c.args) + len(c.kwargs) == 2 and "dim" not in c.kwargs and not isinstance(_arg(c, 1), int):
            return pair(b, c)
        raise UnsupportedError(f"{c.where}: torch.{reduce} as a reduction is not supported")

    return handler


def _arg(c: Call, i: int):
    return c.args[i] if len(c.args) > i else c.kwargs.get("other")


def _sub_call(c: Call, suffix: str, shape: tuple[int, ...] | None = None) -> Call:
    """A helper call for an intermediate op of a handler (its own tensor name and output shape)."""

    out = c.out if shape is None else np.broadcast_to(np.float32(0), shape)  # only .shape is read
    return Call(c.where, f"{c.name}_{suffix}", (), {}, out, c.mod)


def _f_cat(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("tensors", ("dim", 0))
    return b.cat(c, list(a["tensors"]), a["dim"])


def _f_softmax(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("dim", None), ("_stacklevel", 3), ("dtype", None))
    return b.softmax(c, a["input"], a["dim"])


def _aten_softmax(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "dim", ("dtype", None))
    return b.softmax(c, a["input"], a["dim"])


def _f_max_pool(nd: int) -> Handler:
    def h(b: TorchBuilder, c: Call) -> Val:
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
    def h(b: TorchBuilder, c: Call) -> Val:
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
    def h(b: TorchBuilder, c: Call) -> Val:
        spec = ["input", "output_size"] + ([("return_indices", False)] if kind == "max" else [])
        a = c.bind(*spec)
        if a.get("return_indices"):
            raise UnsupportedError(f"{c.where}: return_indices=True is not supported")
        return b.adaptive(c, kind, a["input"], a["output_size"], nd)

    return h


def _f_mean(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("dim", None), ("keepdim", False), ("dtype", None))
    return b.mean(c, a["input"], a["dim"], bool(a["keepdim"]))


def _f_pad(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "pad", ("mode", "constant"), ("value", None))
    return b.pad(c, a["input"], a["pad"], a["mode"], a["value"])


def _aten_constant_pad(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "pad", ("value", 0))
    return b.pad(c, a["input"], a["pad"], "constant", a["value"])


def _movement(fn: Callable[..., Any]) -> Handler:
    """A PyTorch call that only moves values (slicing, narrow, select, chunk, split, unbind, ...): the
    call itself, run on a tensor of flat indices in place of the traced value, says which input
    element each output element is; ``TorchBuilder.gather`` / ``split_parts`` lower that to
    STRIDED_SLICE (and a TRANSPOSE if the layout needs one) or SPLIT, SPLIT_V, UNPACK."""

    def h(b: TorchBuilder, c: Call) -> Any:
        torch = _need_torch()
        vals = [a for a in (*c.args, *c.kwargs.values()) if isinstance(a, Val)]
        if len(vals) != 1:
            raise UnsupportedError(f"{c.where}: expects one tensor that depends on the model input")
        v = vals[0]
        idx = torch.arange(math.prod(v.shape), dtype=torch.int64).reshape(v.shape)

        def sub(a: Any) -> Any:
            return idx if a is v else a

        o = fn(*[sub(a) for a in c.args], **{k: sub(a) for k, a in c.kwargs.items()})
        if isinstance(o, (tuple, list)):
            return b.split_parts(c, v, [np.asarray(p.numpy()) for p in o])
        if not hasattr(o, "numpy"):
            raise UnsupportedError(f"{c.where}: does not return a tensor")
        return b.gather(c, v, np.asarray(o.numpy()))

    return h


def _method(name: str) -> Handler:
    return _movement(lambda x, *a, **k: getattr(x, name)(*a, **k))


def _f_getitem(b: TorchBuilder, c: Call) -> Any:
    obj, key = c.args
    if isinstance(obj, (tuple, list)):
        v = obj[key]
        if v is None:
            raise UnsupportedError(f"{c.where}: uses a statistic output of batch_norm, which is not supported")
        return v
    if isinstance(obj, Val) and not any(isinstance(k, Val) for k in (key if isinstance(key, tuple) else (key,))):
        return _movement(operator.getitem)(b, c)  # basic indexing: ints, slices, None, ...
    raise UnsupportedError(f"{c.where}: indexing a tensor with a tensor is not supported")


def _f_stack(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("tensors", ("dim", 0))
    vals = list(a["tensors"])
    if not all(isinstance(v, Val) for v in vals):
        raise UnsupportedError(f"{c.where}: stacks a constant with the model's values (only computed values)")
    return b.stack(c, vals, int(a["dim"]))


def _module_table(torch) -> dict[type, Handler]:
    nn = torch.nn
    t: dict[type, Handler] = {
        nn.Conv1d: _m_conv(1),
        nn.Conv2d: _m_conv(2),
        nn.Linear: _m_linear,
        nn.LSTM: m_recurrent,
        nn.GRU: m_recurrent,
        nn.BatchNorm1d: _m_bn,
        nn.BatchNorm2d: _m_bn,
        nn.ReLU: _m_unary(OpType.RELU),
        nn.ReLU6: _m_unary(OpType.RELU6),
        nn.Hardtanh: _m_hardtanh,
        nn.LeakyReLU: _f_leaky_relu,
        nn.Sigmoid: _m_unary(OpType.LOGISTIC),
        nn.Tanh: _m_unary(OpType.TANH),
        nn.Hardswish: lambda b, c: b.hardswish(c, _x(c, "input")),
        nn.Hardsigmoid: lambda b, c: b.hardsigmoid(c, _x(c, "input")),
        nn.SiLU: lambda b, c: b.silu(c, _x(c, "input")),
        nn.ELU: _f_elu,
        nn.PReLU: _f_prelu,
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
    t.update(torch_resize.module_table(torch))
    t.update(torch_reduce.modules(torch))  # nn.Embedding
    t.update(torch_extra.modules(torch))  # padding, LogSoftmax, GELU
    return t


def _function_table(torch) -> dict[Any, Handler]:
    F = torch.nn.functional
    relu = _f_unary(OpType.RELU, ("inplace", False))
    sigmoid = _f_unary(OpType.LOGISTIC)
    tanh = _f_unary(OpType.TANH)
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
        torch.relu: _f_unary(OpType.RELU),
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
        operator.add: lambda b, c: b.binary(c, OpType.ADD, *c.args),
        operator.iadd: lambda b, c: b.binary(c, OpType.ADD, *c.args),
        torch.add: _f_add,
        operator.sub: _op_sub,
        operator.isub: _op_sub,
        torch.sub: _f_sub,
        torch.rsub: _f_rsub,
        operator.mul: lambda b, c: b.binary(c, OpType.MUL, *c.args),
        operator.imul: lambda b, c: b.binary(c, OpType.MUL, *c.args),
        torch.mul: _f_mul,
        operator.truediv: _op_truediv,
        torch.reciprocal: _f_reciprocal,
        torch.div: _f_div,
        torch.true_divide: _f_div,
        torch.maximum: _f_max_min(OpType.MAXIMUM),
        torch.minimum: _f_max_min(OpType.MINIMUM),
        torch.max: _f_max_min_any(OpType.MAXIMUM, "max"),
        torch.min: _f_max_min_any(OpType.MINIMUM, "min"),
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
        torch.narrow: _movement(torch.narrow),
        torch.select: _movement(torch.select),
        torch.chunk: _movement(torch.chunk),
        torch.split: _movement(torch.split),
        torch.unbind: _movement(torch.unbind),
        torch.movedim: _movement(torch.movedim),
        torch.swapaxes: _movement(torch.swapaxes),
        torch.stack: _f_stack,
        F.elu: _f_elu,
        F.prelu: _f_prelu,
        torch.prelu: _f_prelu,
        torch.neg: lambda b, c: b.negate(c, _x(c, "input")),
        torch.negative: lambda b, c: b.negate(c, _x(c, "input")),
        torch.round: _f_round,
        **{getattr(torch, n): _f_unary(op) for n, op in _UNARY.items()},
    }
    # reductions, arg-max/min, products of two tensors, gathers; max/min of two tensors stay MAXIMUM/MINIMUM
    pairs = {"max": _f_max_min(OpType.MAXIMUM), "min": _f_max_min(OpType.MINIMUM)}
    t.update(torch_reduce.functions(torch, pairs))
    t.update(_aten_table(torch))
    t.update(torch_resize.function_table(torch))
    t.update(torch_logic.functions(torch))
    t.update(torch_extra.functions(torch))  # F.pad reflect / value, flip, log_softmax, normalize, gelu
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
        "relu.default": _f_unary(OpType.RELU),
        "relu_.default": _f_unary(OpType.RELU),
        "relu6.default": _f_relu6,
        "hardtanh.default": _f_hardtanh,
        "hardtanh_.default": _f_hardtanh,
        "leaky_relu.default": _f_leaky_relu,
        "leaky_relu_.default": _f_leaky_relu,
        "clamp.default": _f_clamp,
        "sigmoid.default": _f_unary(OpType.LOGISTIC),
        "tanh.default": _f_unary(OpType.TANH),
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
        "slice.Tensor": _movement(torch.ops.aten.slice.Tensor),
        "select.int": _movement(torch.ops.aten.select.int),
        "narrow.default": _movement(torch.ops.aten.narrow.default),
        "split.Tensor": _movement(torch.ops.aten.split.Tensor),
        "split_with_sizes.default": _movement(torch.ops.aten.split_with_sizes.default),
        "chunk.default": _movement(torch.ops.aten.chunk.default),
        "unbind.int": _movement(torch.ops.aten.unbind.int),
        "stack.default": _f_stack,
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
        "maximum.default": _f_max_min(OpType.MAXIMUM),
        "minimum.default": _f_max_min(OpType.MINIMUM),
        "max.other": _f_max_min(OpType.MAXIMUM),
        "min.other": _f_max_min(OpType.MINIMUM),
        "reciprocal.default": _f_reciprocal,
        "neg.default": lambda b, c: b.negate(c, c.args[0]),
        "cat.default": _f_cat,
        "softmax.int": _aten_softmax,
        "_softmax.default": lambda b, c: b.softmax(c, c.args[0], c.args[1]),
        "constant_pad_nd.default": _aten_constant_pad,
        "pad.default": _f_pad,
        "elu.default": _aten_elu,
        "elu_.default": _aten_elu,
        "prelu.default": _f_prelu,
        "_prelu_kernel.default": _f_prelu,
        "round.default": _f_round,
        **{f"{n}.default": _f_unary(op) for n, op in _UNARY.items()},
        **torch_reduce.ATEN,
        **torch_logic.ATEN,
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
    **{m: _method(m) for m in ("narrow", "select", "chunk", "split", "unbind", "movedim", "swapaxes")},
    "contiguous": _f_identity,
    "clone": _f_identity,
    "detach": lambda b, c: _first(c),
    "float": lambda b, c: _first(c),
    "relu": _f_unary(OpType.RELU),
    "sigmoid": _f_unary(OpType.LOGISTIC),
    "tanh": _f_unary(OpType.TANH),
    "clamp": _f_clamp,
    "clip": _f_clamp,
    "softmax": _f_softmax,
    "mean": _f_mean,
    "add": _f_add,
    "sub": _f_sub,
    "mul": _f_mul,
    "div": _f_div,
    "maximum": _f_max_min(OpType.MAXIMUM),
    "minimum": _f_max_min(OpType.MINIMUM),
    "neg": lambda b, c: b.negate(c, c.args[0]),
    "round": _f_round,
    **{n: _f_unary(op) for n, op in _UNARY.items()},
    **torch_reduce.methods({"max": _f_max_min(OpType.MAXIMUM), "min": _f_max_min(OpType.MINIMUM)}),
    **torch_logic.METHODS,
    **torch_extra.methods(),
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
