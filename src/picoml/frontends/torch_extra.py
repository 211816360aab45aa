"""PyTorch handlers for MIRROR_PAD, PADV2, REVERSE_V2, L2_NORMALIZATION, LOG_SOFTMAX and GELU: merged
into ``frontends/torch_ops.py``'s tables (``modules``, ``functions``, ``methods``; the function table
includes the ATen overloads ``torch.export`` emits). RELU_N1_TO_1 needs no handler: ``nn.Hardtanh()``,
``F.hardtanh`` and ``clamp(-1, 1)`` reach it through ``lowering.clamp_activation``.

- ``nn.ReflectionPad1d/2d``, ``F.pad(mode="reflect")`` → MIRROR_PAD REFLECT (PyTorch's reflection
  does not repeat the edge, as REFLECT). ``nn.ReplicationPad*`` / ``mode="replicate"`` repeats the
  edge value and is *not* MIRROR_PAD (SYMMETRIC mirrors the edge pixels inward: ``b a | a b c``,
  replication gives ``a a | a b c``): refused, naming ReflectionPad / zero padding as replacements;
  ``mode="circular"`` likewise.
- ``nn.ConstantPad1d/2d``, ``nn.ZeroPad1d/2d``, ``F.pad(value=v)`` → PAD for 0, PADV2 for another
  value.
- ``torch.flip`` / ``Tensor.flip`` → REVERSE_V2, one per run of adjacent graph axes (tflite-micro
  reverses only adjacent axes; NCHW's H and W are adjacent in NHWC).
- ``F.normalize`` (p = 2, the dim that is the graph's last axis: PyTorch's default dim 1 on
  (N, C) and on NCHW's channels) → L2_NORMALIZATION. PyTorch divides by max(‖x‖, 1e-12), TFLite by
  max(‖x‖, 1e-6): they differ only for rows of norm below 1e-6.
- ``nn.LogSoftmax``, ``F.log_softmax``, ``torch.log_softmax`` over the last graph axis → LOG_SOFTMAX.
- ``nn.GELU``, ``F.gelu`` (``approximate="none"`` or ``"tanh"``) → GELU.
- ``torch.cumsum`` / ``Tensor.cumsum`` → CUMSUM on the graph axis of the dim.

PyTorch has no counterpart of SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, GATHER_ND or L2_POOL_2D
(``nn.LPPool2d`` is a root of a *sum*, L2_POOL_2D of a mean); ``nn.Embedding`` stays GATHER
(torch_reduce), which computes what EMBEDDING_LOOKUP does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from picoml.errors import UnsupportedError
from picoml.frontends.torch_values import Call, TorchBuilder, Val
from picoml.graph.ops import OpType

_NOT_MIRROR = (
    "repeats the edge value, which is not MIRROR_PAD (tflite-micro has no edge-replication padding); use "
    "nn.ReflectionPad (MIRROR_PAD) or zero padding instead"
)


def _val(c: Call, v: Any) -> Val:
    if not isinstance(v, Val):
        raise UnsupportedError(f"{c.where}: expects a tensor that depends on the model input")
    return v


def _graph_pads(b: TorchBuilder, c: Call, x: Val, pad: Any) -> list[list[int]]:
    """PyTorch's (before, after) pairs, last dim first, as per-graph-axis pads."""
    b.plain(c, x, "padding")
    pad = [int(p) for p in pad]
    if any(p < 0 for p in pad) or len(pad) % 2 or len(pad) // 2 > len(x.shape):
        raise UnsupportedError(f"{c.where}: padding {pad} is not supported (negative, odd length or too long)")
    pads = [[0, 0] for _ in x.t.shape]
    for i in range(len(pad) // 2):
        pads[b.gaxis(c, x, len(x.shape) - 1 - i)] = [pad[2 * i], pad[2 * i + 1]]
    if any(pads[0]):
        raise UnsupportedError(f"{c.where}: padding the batch dimension is not supported")
    return pads


def pad(b: TorchBuilder, c: Call, x: Val, pads: Any, mode: str, value: Any) -> Val:
    x = _val(c, x)
    if mode in ("replicate", "circular"):
        raise UnsupportedError(f"{c.where}: {mode} padding {_NOT_MIRROR}")
    if mode not in ("reflect", "constant"):
        raise UnsupportedError(f"{c.where}: padding mode {mode!r} is not supported")
    gp = _graph_pads(b, c, x, pads)
    p = b.const(f"{c.name}.paddings", np.array(gp, np.int32), "int32")
    if mode == "reflect":
        y = b.emit(OpType.MIRROR_PAD, [x.t, p], c.name, mode=0)
        return Val(y, c.out_shape, None, x.nonneg)
    v = 0.0 if value is None else float(value)
    if v == 0.0:
        return Val(b.emit(OpType.PAD, [x.t, p], c.name), c.out_shape, None, x.nonneg)
    y = b.emit(OpType.PADV2, [x.t, p, b.const(f"{c.name}.value", np.array([v], np.float32))], c.name)
    return Val(y, c.out_shape, None, x.nonneg and v >= 0)


def _f_pad(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "pad", ("mode", "constant"), ("value", None))
    return pad(b, c, a["input"], a["pad"], a["mode"], a["value"])


def _m_pad(mode: str):
    def h(b: TorchBuilder, c: Call) -> Val:  # the modules store padding as a tuple
        return pad(b, c, c.args[0], list(c.mod.padding), mode, getattr(c.mod, "value", 0.0))

    return h


def _m_replication(b: TorchBuilder, c: Call) -> Val:
    raise UnsupportedError(f"{c.where}: {type(c.mod).__name__} {_NOT_MIRROR}")


def flip(b: TorchBuilder, c: Call, x: Any, dims: Any) -> Val:
    x = _val(c, x)
    b.plain(c, x, "flip")
    dims = [dims] if isinstance(dims, int) else list(dims)
    axes = sorted({b.gaxis(c, x, int(d)) for d in dims})
    y, k = x.t, 0
    while axes:  # one REVERSE_V2 per run of adjacent graph axes
        run = [axes.pop(0)]
        while axes and axes[0] == run[-1] + 1:
            run.append(axes.pop(0))
        ax = b.const(f"{c.name}.axis{k}", np.array(run, np.int32), "int32")
        y = b.emit(OpType.REVERSE_V2, [y, ax], c.name if not axes else f"{c.name}_{k}")
        k += 1
    return Val(y, c.out_shape, None, x.nonneg)


def _last_axis(b: TorchBuilder, c: Call, x: Val, dim: Any, what: str) -> None:
    if dim is None:
        raise UnsupportedError(f"{c.where}: {what} needs an explicit dim")
    if b.gaxis(c, x, int(dim)) != len(x.t.shape) - 1:
        raise UnsupportedError(
            f"{c.where}: {what} over PyTorch dim {dim} of shape {list(x.shape)} is not the channels-last graph's "
            f"last axis ({what} works on the last axis)"
        )


def log_softmax(b: TorchBuilder, c: Call, x: Any, dim: Any) -> Val:
    x = _val(c, x)
    _last_axis(b, c, x, dim, "log_softmax")
    return Val(b.emit(OpType.LOG_SOFTMAX, [x.t], c.name), c.out_shape, x.order, False, x.origin)


def normalize(b: TorchBuilder, c: Call, x: Any, p: Any, dim: Any) -> Val:
    x = _val(c, x)
    if float(p) != 2.0:
        raise UnsupportedError(f"{c.where}: F.normalize with p={p} (L2_NORMALIZATION is p=2)")
    _last_axis(b, c, x, dim, "normalize")
    if len(x.t.shape) > 4:
        raise UnsupportedError(f"{c.where}: L2_NORMALIZATION of rank {len(x.t.shape)} (tflite-micro: up to 4)")
    return Val(b.emit(OpType.L2_NORMALIZATION, [x.t], c.name), c.out_shape, x.order, False, x.origin)


def gelu(b: TorchBuilder, c: Call, x: Any, approximate: Any) -> Val:
    x = _val(c, x)
    if approximate not in ("none", "tanh"):
        raise UnsupportedError(f"{c.where}: GELU approximate={approximate!r} (none or tanh)")
    y = b.emit(OpType.GELU, [x.t], c.name, approximate=approximate == "tanh")
    return Val(y, c.out_shape, x.order, False, x.origin)


def cumsum(b: TorchBuilder, c: Call, x: Any, dim: Any) -> Val:
    x = _val(c, x)
    b.plain(c, x, "cumsum")
    if dim is None:
        raise UnsupportedError(f"{c.where}: cumsum needs a dim")
    ax = b.const(f"{c.name}.axis", np.array([b.gaxis(c, x, int(dim))], np.int32), "int32")
    return Val(b.emit(OpType.CUMSUM, [x.t, ax], c.name), c.out_shape, None, x.nonneg)


def _f_cumsum(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("dim", None), ("dtype", None), ("out", None))
    return cumsum(b, c, a["input"], a["dim"])


def _f_flip(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", "dims")
    return flip(b, c, a["input"], a["dims"])


def _f_log_softmax(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("dim", None), ("_stacklevel", 3), ("dtype", None))
    return log_softmax(b, c, a["input"], a["dim"])


def _f_normalize(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("p", 2.0), ("dim", 1), ("eps", 1e-12), ("out", None))
    return normalize(b, c, a["input"], a["p"], a["dim"])


def _f_gelu(b: TorchBuilder, c: Call) -> Val:
    a = c.bind("input", ("approximate", "none"))
    return gelu(b, c, a["input"], a["approximate"])


def modules(torch) -> dict[Any, Any]:
    nn = torch.nn
    out = {
        nn.ReflectionPad1d: _m_pad("reflect"),
        nn.ReflectionPad2d: _m_pad("reflect"),
        nn.ConstantPad1d: _m_pad("constant"),
        nn.ConstantPad2d: _m_pad("constant"),
        nn.ReplicationPad1d: _m_replication,
        nn.ReplicationPad2d: _m_replication,
        nn.LogSoftmax: lambda b, c: log_softmax(b, c, c.args[0], c.mod.dim),
        nn.GELU: lambda b, c: gelu(b, c, c.args[0], c.mod.approximate),
    }
    for name in ("ZeroPad1d", "ZeroPad2d"):
        if hasattr(nn, name):
            out[getattr(nn, name)] = _m_pad("constant")
    return out


def _aten(torch) -> dict[Any, Any]:
    spec = {
        "flip.default": lambda b, c: flip(b, c, c.args[0], c.args[1]),
        "cumsum.default": lambda b, c: cumsum(b, c, c.args[0], c.args[1]),
        "log_softmax.int": lambda b, c: log_softmax(b, c, c.args[0], c.args[1]),
        "_log_softmax.default": lambda b, c: log_softmax(b, c, c.args[0], c.args[1]),
        "gelu.default": lambda b, c: gelu(b, c, c.args[0], c.kwargs.get("approximate", "none")),
        "reflection_pad1d.default": lambda b, c: pad(b, c, c.args[0], c.args[1], "reflect", None),
        "reflection_pad2d.default": lambda b, c: pad(b, c, c.args[0], c.args[1], "reflect", None),
        "replication_pad1d.default": lambda b, c: pad(b, c, c.args[0], c.args[1], "replicate", None),
        "replication_pad2d.default": lambda b, c: pad(b, c, c.args[0], c.args[1], "replicate", None),
        "constant_pad_nd.default": lambda b, c: pad(
            b, c, c.args[0], c.args[1], "constant", c.args[2] if len(c.args) > 2 else c.kwargs.get("value", 0)
        ),
        "pad.default": _f_pad,
    }
    out: dict[Any, Any] = {}
    for name, h in spec.items():
        packet, _, overload = name.partition(".")
        op = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if op is not None:
            out[op] = h
    return out


def functions(torch) -> dict[Any, Any]:
    """Function-table entries (F.pad replaces torch_ops' zero-only handler), ATen overloads included."""
    F = torch.nn.functional
    return {
        F.pad: _f_pad,
        torch.flip: _f_flip,
        torch.cumsum: _f_cumsum,
        F.log_softmax: _f_log_softmax,
        torch.log_softmax: _f_log_softmax,
        F.normalize: _f_normalize,
        F.gelu: _f_gelu,
        **_aten(torch),
    }


def methods() -> dict[str, Any]:
    return {"flip": _f_flip, "log_softmax": _f_log_softmax, "cumsum": _f_cumsum}


__all__ = ["cumsum", "flip", "functions", "gelu", "log_softmax", "methods", "modules", "normalize", "pad"]
