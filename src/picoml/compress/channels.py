"""Structured (channel) pruning of PyTorch models: whole output channels or neurons removed.

The layers are rebuilt smaller, so parameters, MACs and activation memory all drop on any
dense kernel — which is what picoml's C kernels are. ``prune_channels`` / ``channel_groups``;
compare costs with ``picoml.compress.cost.model_cost``.

Channel ranking: L1 norm of filters (Li et al. 2017, "Pruning Filters for Efficient
ConvNets"), |BatchNorm γ| (Liu et al. 2017, "Network Slimming"); dependency groups as in Fang
et al. 2023, "DepGraph" (Torch-Pruning), here derived from a torch.fx trace.

torch is imported inside the functions, so importing this module needs numpy only.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from picoml.compress.cost import _as_inputs, model_cost
from picoml.compress.sparsity import _check_fraction, _check_paths, _matches
from picoml.compress.train import _eval_mode
from picoml.errors import InputError, PicomlError, UnsupportedError

if TYPE_CHECKING:
    pass

CRITERIA = ("l1", "l2", "bn")

# ---------------------------------------------------------------------------------------------
# Structured pruning: channel dependency analysis on a torch.fx trace
# ---------------------------------------------------------------------------------------------
#
# Every channel a Conv/Linear layer produces gets an integer id; id 0 means "fixed" (the
# model's input channels, the model's outputs, excluded layers, ops that mix channels). Each
# tensor on dim 1 carries one id per channel ("labels"): pass-through ops copy them, a
# flatten repeats each id H·W times, a concatenation concatenates them. Ops that require two
# tensors to have the *same* channels (add, mul, ...) unite the ids position by position in a
# union-find; so do two calls of one module. Afterwards each union-find class is one unit of
# removal: removing it removes every channel with an id in it, in every producer, and the
# matching input slices of every consumer. Producers that share a class form a group (a
# residual stage, say) that is ranked and pruned together.


class _UnionFind:
    """Union-find over channel ids; the root of the fixed class is always 0 (smaller id wins)."""

    def __init__(self) -> None:
        self.parent = [0]

    def new(self, n: int) -> np.ndarray:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return np.arange(start, start + n, dtype=np.int64)

    def find(self, a: int) -> int:
        parent = self.parent
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def union_arrays(self, a: np.ndarray, b: np.ndarray) -> None:
        for x, y in zip(a.tolist(), b.tolist(), strict=True):
            self.union(x, y)

    def pin(self, a: np.ndarray) -> None:
        for x in a.tolist():
            self.union(x, 0)

    def roots(self, a: np.ndarray) -> np.ndarray:
        return np.array([self.find(x) for x in a.tolist()], dtype=np.int64)

    def all_fixed(self, a: np.ndarray) -> bool:
        return all(self.find(x) == 0 for x in a.tolist())


@dataclass
class _Layer:
    """What the analysis learned about one module that has channel-indexed parameters."""

    path: str
    module: Any
    kind: str  # "conv" | "convT" | "linear" (producer + consumer), "depthwise", "norm", "prelu"
    in_labels: np.ndarray
    out_ids: np.ndarray | None = None  # producers only
    multiplier: int = 1  # depthwise: output channels per input channel


@dataclass(frozen=True)
class ChannelGroup:
    """Producers whose output channels are pruned together, and how many channels it has/loses.

    ``channels``: width of the group (the widest producer); ``prunable``: channels that may go
    (not pinned by the model output, an exclusion or a channel-mixing op); ``removed``: how
    many ``prune_channels`` removed (0 from ``channel_groups``).
    """

    producers: tuple[str, ...]
    channels: int
    prunable: int
    removed: int = 0
    criterion: str = ""


@functools.cache
def _op_tables() -> dict[str, Any]:
    """Function/method/module tables of the channel analysis (built on first use: needs torch)."""
    import operator

    import torch
    import torch.nn.functional as F
    from torch import nn

    def fns(mod: Any, names: str) -> set[Any]:
        return {getattr(mod, n) for n in names.split() if hasattr(mod, n)}

    elementwise = fns(operator, "add sub mul truediv neg pos pow iadd isub imul itruediv")
    elementwise |= fns(
        torch,
        "add sub subtract mul multiply div divide true_divide maximum minimum relu relu_ sigmoid tanh abs neg "
        "exp sqrt rsqrt square clamp clip erf sin cos",
    )
    elementwise |= fns(
        F,
        "relu relu_ relu6 leaky_relu elu selu celu gelu silu mish hardtanh hardswish hardsigmoid softplus "
        "sigmoid tanh logsigmoid dropout dropout1d dropout2d dropout3d alpha_dropout max_pool1d max_pool2d "
        "max_pool3d avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d "
        "adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d lp_pool1d lp_pool2d interpolate upsample pad",
    )
    unary_modules = (
        nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid,
        nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.LogSigmoid, nn.Identity,
        nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
        nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
        nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
        nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.LPPool1d, nn.LPPool2d,
        nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d,
        nn.ZeroPad1d, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d,
        nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReplicationPad1d, nn.ReplicationPad2d,
    )  # fmt: skip
    return {
        "elementwise_fns": elementwise,
        "elementwise_methods": set(
            "add add_ sub sub_ mul mul_ div div_ relu relu_ sigmoid sigmoid_ tanh tanh_ clamp clamp_ clip abs "
            "neg exp sqrt square pow contiguous clone detach float to type_as maximum minimum".split()
        ),
        "reshape_fns": fns(torch, "flatten reshape squeeze unsqueeze"),
        "reshape_methods": set("view reshape flatten squeeze unsqueeze view_as reshape_as".split()),
        "reduce_fns": fns(torch, "mean sum amax amin std var logsumexp"),
        "reduce_methods": set("mean sum amax amin std var logsumexp".split()),
        "softmax_fns": fns(torch, "softmax log_softmax") | fns(F, "softmax log_softmax softmin normalize"),
        "softmax_methods": {"softmax", "log_softmax"},
        "cat_fns": fns(torch, "cat concat concatenate"),
        "pin_fns": fns(F, "group_norm local_response_norm"),
        "getitem": operator.getitem,
        "shape_queries": {getattr, len, "size", "dim", "numel", "nelement"},
        "unary_modules": unary_modules,
        "pin_modules": (nn.GroupNorm, nn.LocalResponseNorm, nn.Softmax2d),
        "softmax_modules": (nn.Softmax, nn.LogSoftmax, nn.Softmin),
        "reshape_modules": (nn.Flatten, nn.Unflatten),
    }


def _describe(node: Any) -> str:
    t = node.target
    if node.op == "call_method":
        return f"Tensor.{t}"
    if node.op == "call_function":
        mod = getattr(t, "__module__", None) or ""
        return f"{mod + '.' if mod and mod != 'builtins' else ''}{getattr(t, '__name__', t)}"
    return str(t)


class _ChannelAnalysis:
    """Traces ``model`` with torch.fx, propagates shapes, and builds the channel union-find."""

    def __init__(self, model: Any, example_input: Any, exclude: Sequence[str]) -> None:
        import torch
        import torch.fx as fx
        from torch.fx.passes.shape_prop import ShapeProp

        self.model = model
        self.exclude = list(exclude)
        self.uf = _UnionFind()
        self.layers: dict[str, _Layer] = {}
        self.labels: dict[Any, np.ndarray | None] = {}
        self.t = _op_tables()

        class _PathTracer(fx.Tracer):
            """Records, on every node, the path of the module whose forward created it (for error messages)."""

            def __init__(self) -> None:
                super().__init__()
                self.stack = [""]

            def call_module(self, m: Any, forward: Any, args: Any, kwargs: Any) -> Any:
                self.stack.append(self.path_of_module(m))
                try:
                    return super().call_module(m, forward, args, kwargs)
                finally:
                    self.stack.pop()

            def create_node(self, *args: Any, **kwargs: Any) -> Any:
                node = super().create_node(*args, **kwargs)
                node.meta["picoml_path"] = self.stack[-1]
                return node

        try:
            graph = _PathTracer().trace(model)
        except Exception as e:  # fx raises TraceError, TypeError, AttributeError... for untraceable code
            raise UnsupportedError(
                f"prune_channels: torch.fx cannot trace {type(model).__name__} ({type(e).__name__}: {e}); "
                "structured pruning needs a forward without data-dependent control flow"
            ) from e
        self.gm = fx.GraphModule(model, graph)
        inputs = _as_inputs(example_input)
        try:
            with torch.no_grad(), _eval_mode(model):
                ShapeProp(self.gm).propagate(*inputs)
        except Exception as e:
            raise InputError(f"prune_channels: the model fails on example_input ({type(e).__name__}: {e})") from e
        for node in self.gm.graph.nodes:
            self._visit(node)

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def shape(node: Any) -> tuple[int, ...] | None:
        from torch.fx.passes.shape_prop import TensorMetadata

        meta = node.meta.get("tensor_meta")
        return tuple(int(d) for d in meta.shape) if isinstance(meta, TensorMetadata) else None

    def fixed(self, node: Any) -> np.ndarray | None:
        s = self.shape(node)
        return np.zeros(s[1], dtype=np.int64) if s is not None and len(s) >= 2 else None

    def tensor_inputs(self, node: Any) -> list[Any]:
        import torch.fx as fx

        found: list[Any] = []
        fx.node.map_arg((node.args, node.kwargs), lambda n: found.append(n) or n)
        return [n for n in dict.fromkeys(found) if n.op != "output"]

    def where(self, node: Any) -> str:
        path = node.meta.get("picoml_path", "")
        if node.op == "call_module":
            return f"module {node.target!r} ({type(self.gm.get_submodule(node.target)).__name__})"
        owner = type(self.model.get_submodule(path)).__name__ if path else type(self.model).__name__
        return f"node {node.name!r} ({_describe(node)}) in {path or '<top level>'!r} ({owner})"

    def excluded(self, node: Any) -> bool:
        path = node.target if node.op == "call_module" else node.meta.get("picoml_path", "")
        return bool(path) and _matches(path, self.exclude)

    @staticmethod
    def arg(node: Any, pos: int, name: str, default: Any = None) -> Any:
        if len(node.args) > pos:
            return node.args[pos]
        return node.kwargs.get(name, default)

    # -- rules ----------------------------------------------------------------------------------

    def opaque(self, node: Any, why: str = "") -> None:
        """An op whose channel mapping is unknown: fine if it only sees fixed channels, else an error."""
        live = [n for n in self.tensor_inputs(node) if self.labels.get(n) is not None]
        prunable = [n for n in live if not self.uf.all_fixed(self.labels[n])]
        if prunable and not self.excluded(node):
            path = node.target if node.op == "call_module" else node.meta.get("picoml_path", "")
            hint = (
                f"add {path!r} to exclude= to keep the channels around it, or restructure the forward"
                if path
                else "exclude the layers that produce its input, or restructure the forward"
            )
            raise UnsupportedError(
                f"prune_channels: cannot follow channels through {self.where(node)}{': ' + why if why else ''}; {hint}"
            )
        for n in live:
            self.uf.pin(self.labels[n])
        self.labels[node] = self.fixed(node)

    def pin_through(self, node: Any) -> None:
        """A known op that mixes channels (softmax over C, GroupNorm...): keep every channel it sees."""
        for n in self.tensor_inputs(node):
            if self.labels.get(n) is not None:
                self.uf.pin(self.labels[n])
        self.labels[node] = self.fixed(node)

    def elementwise(self, node: Any) -> None:
        """Channel-preserving ops with numpy broadcasting: every full-channel operand shares the output's channels."""
        out = self.shape(node)
        if out is None or len(out) < 2:
            return self.opaque(node, "its result has no channel axis")
        ndim, channels = len(out), out[1]
        labels, pin = None, False
        for n in self.tensor_inputs(node):
            s = self.shape(n)
            if s is None:
                continue
            lab = self.labels.get(n)
            if len(s) == ndim and s[1] == channels:  # lines up channel for channel
                if labels is None:
                    labels = lab
                else:
                    self.uf.union_arrays(labels, lab)
                continue
            if lab is not None and not self.uf.all_fixed(lab):
                if s[1] != 1:  # prunable channels broadcast onto another axis of the output
                    return self.opaque(node, f"an operand of shape {s} does not line up with the output {out}")
                self.uf.pin(lab)  # a one-channel map (e.g. spatial attention) broadcast over all channels
            axis = 1 - (ndim - len(s))  # operand axis aligned with the output's channel axis
            if axis >= 0 and s[axis] != 1:
                pin = True  # a per-channel constant we cannot slice (e.g. a raw Parameter): keep the channels
        if labels is None:
            labels = self.fixed(node)
        if pin:
            self.uf.pin(labels)
        self.labels[node] = labels

    def reshape(self, node: Any, src: Any) -> None:
        """view/reshape/flatten/squeeze: fine if dim 0 stays and dim 1 becomes dims 1..k of the input merged."""
        ins, out = self.shape(src), self.shape(node)
        lab = self.labels.get(src)
        if ins is None or out is None or lab is None or len(out) < 2 or out[0] != ins[0]:
            return self.opaque(node, "the reshape does not keep the batch axis and a channel axis")
        # Row-major reshapes with the batch kept: if dim 1 is the product of input dims 1..k, each
        # input channel becomes prod(ins[2:k+1]) consecutive output channels (flatten: H·W of them);
        # k = 1 keeps the channels and only reshapes within each channel's block.
        for k in range(1, len(ins)):
            if math.prod(ins[1 : k + 1]) == out[1] and math.prod(ins[k + 1 :]) == math.prod(out[2:]):
                self.labels[node] = np.repeat(lab, math.prod(ins[2 : k + 1]))
                return None
        return self.opaque(node, f"the reshape {ins} -> {out} splits or moves the channel axis")

    def reduce(self, node: Any) -> None:
        src = node.args[0]
        ins = self.shape(src)
        dims = self.arg(node, 1, "dim")
        keepdim = bool(self.arg(node, 2, "keepdim", False))
        if ins is None or self.labels.get(src) is None:
            return self.opaque(node)
        if dims is None:
            return self.pin_through(node)  # reduce over everything: channels mixed
        dims = {d % len(ins) for d in (dims if isinstance(dims, (tuple, list)) else (dims,))}
        if 1 in dims:
            return self.pin_through(node)
        if 0 in dims and not keepdim:
            return self.opaque(node, "reducing the batch axis moves the channel axis")
        out = self.shape(node)
        if out is None or len(out) < 2 or out[1] != ins[1]:
            return self.opaque(node)
        self.labels[node] = self.labels[src]
        return None

    def softmax(self, node: Any, dim: Any) -> None:
        src = self.tensor_inputs(node)[0]
        ins = self.shape(src)
        if ins is None or dim is None or dim % len(ins) == 1:
            return self.pin_through(node)  # normalizes across channels: removing one changes the others
        return self.elementwise(node)

    def cat(self, node: Any) -> None:
        tensors = self.arg(node, 0, "tensors")
        dim = self.arg(node, 1, "dim", 0)
        out = self.shape(node)
        labs = [self.labels.get(t) for t in tensors]
        if out is None or len(out) < 2 or any(lab is None for lab in labs):
            return self.opaque(node)
        if dim % len(out) == 1:
            self.labels[node] = np.concatenate(labs)
            return None
        for lab in labs[1:]:
            self.uf.union_arrays(labs[0], lab)  # stacked along another axis: same channels everywhere
        self.labels[node] = labs[0]
        return None

    def getitem(self, node: Any) -> None:
        src, idx = node.args[0], node.args[1]
        ins, out = self.shape(src), self.shape(node)
        if ins is None or out is None or self.labels.get(src) is None:
            return self.opaque(node)
        idx = idx if isinstance(idx, tuple) else (idx,)
        full = slice(None, None, None)
        if len(idx) >= 2 and idx[0] == full and idx[1] == full and len(out) >= 2 and out[1] == ins[1]:
            self.labels[node] = self.labels[src]
            return None
        return self.opaque(node, "indexing touches the channel axis")

    def record(self, node: Any, kind: str, src: Any, n_in: int, multiplier: int = 1) -> np.ndarray:
        """Register a module with channel-indexed parameters; two calls of one module share channels."""
        lab = self.labels.get(src)
        if lab is None or len(lab) != n_in:
            raise UnsupportedError(
                f"prune_channels: {self.where(node)} expects {n_in} channels on dim 1 of its input, "
                f"got shape {self.shape(src)}"
            )
        layer = self.layers.get(node.target)
        if layer is None:
            mod = self.gm.get_submodule(node.target)
            layer = _Layer(node.target, mod, kind, lab.copy(), multiplier=multiplier)
            self.layers[node.target] = layer
            if kind in ("conv", "convT", "linear"):
                n_out = mod.out_features if kind == "linear" else mod.out_channels
                layer.out_ids = self.uf.new(n_out)
                if self.excluded(node):
                    self.uf.pin(layer.out_ids)
            elif self.excluded(node):
                self.uf.pin(lab)
        else:
            self.uf.union_arrays(layer.in_labels, lab)
        return layer.in_labels

    def module(self, node: Any) -> None:
        from torch import nn

        mod = self.gm.get_submodule(node.target)
        src = node.args[0] if node.args else None
        ins = self.shape(src) if src is not None and hasattr(src, "op") else None
        t = self.t
        if isinstance(mod, nn.modules.conv._ConvTransposeNd):
            if mod.groups != 1:
                return self.opaque(node, f"grouped transposed convolution (groups={mod.groups})")
            self.record(node, "convT", src, mod.in_channels)
            self.labels[node] = self.layers[node.target].out_ids
        elif isinstance(mod, nn.modules.conv._ConvNd):
            if mod.groups == 1:
                self.record(node, "conv", src, mod.in_channels)
                self.labels[node] = self.layers[node.target].out_ids
            elif mod.groups == mod.in_channels and mod.out_channels % mod.in_channels == 0:
                k = mod.out_channels // mod.in_channels
                lab = self.record(node, "depthwise", src, mod.in_channels, multiplier=k)
                self.labels[node] = np.repeat(lab, k)  # output channel c·k + j comes from input channel c
            else:
                return self.opaque(node, f"grouped convolution (groups={mod.groups}) is not supported")
        elif isinstance(mod, nn.Linear):
            if ins is not None and len(ins) == 2:
                self.record(node, "linear", src, mod.in_features)
                self.labels[node] = self.layers[node.target].out_ids
            else:
                return self.elementwise(node)  # acts on the last axis: dim-1 channels pass through untouched
        elif isinstance(mod, nn.modules.batchnorm._NormBase):
            self.record(node, "norm", src, mod.num_features)
            return self.elementwise(node)
        elif isinstance(mod, nn.PReLU):
            if mod.num_parameters > 1:
                self.record(node, "prelu", src, mod.num_parameters)
            return self.elementwise(node)
        elif isinstance(mod, nn.LayerNorm):
            if ins is not None and len(mod.normalized_shape) >= len(ins) - 1:
                return self.pin_through(node)
            return self.elementwise(node)
        elif isinstance(mod, t["pin_modules"]):
            return self.pin_through(node)
        elif isinstance(mod, t["softmax_modules"]):
            return self.softmax(node, mod.dim)
        elif isinstance(mod, t["reshape_modules"]):
            return self.reshape(node, src)
        elif isinstance(mod, t["unary_modules"]):
            return self.elementwise(node)
        else:
            return self.opaque(node, f"{type(mod).__name__} is not a layer prune_channels knows")
        return None

    def _visit(self, node: Any) -> None:
        t = self.t
        if node.op in ("placeholder", "get_attr"):
            self.labels[node] = self.fixed(node)
        elif node.op == "output":
            for n in self.tensor_inputs(node):
                if self.labels.get(n) is not None:
                    self.uf.pin(self.labels[n])  # the model's outputs keep every channel
        elif node.op == "call_module":
            self.module(node)
        elif "tensor_meta" not in node.meta and (
            node.target in t["shape_queries"]
            or not any(self.labels.get(n) is not None for n in self.tensor_inputs(node))
        ):
            self.labels[node] = None  # shape arithmetic (x.size(0), x.shape[2]...): no channels involved
        elif node.op == "call_function":
            f = node.target
            if f in t["elementwise_fns"]:
                self.elementwise(node)
            elif f in t["reshape_fns"]:
                self.reshape(node, node.args[0])
            elif f in t["reduce_fns"]:
                self.reduce(node)
            elif f in t["softmax_fns"]:
                is_normalize = getattr(f, "__name__", "") == "normalize"  # F.normalize(input, p, dim=1)
                self.softmax(node, self.arg(node, 2, "dim", 1) if is_normalize else self.arg(node, 1, "dim"))
            elif f in t["cat_fns"]:
                self.cat(node)
            elif f in t["pin_fns"]:
                self.pin_through(node)
            elif f is t["getitem"]:
                self.getitem(node)
            else:
                self.opaque(node)
        elif node.op == "call_method":
            m = node.target
            if m in t["elementwise_methods"]:
                self.elementwise(node)
            elif m in t["reshape_methods"]:
                self.reshape(node, node.args[0])
            elif m in t["reduce_methods"]:
                self.reduce(node)
            elif m in t["softmax_methods"]:
                self.softmax(node, self.arg(node, 1, "dim"))
            else:
                self.opaque(node)
        else:
            self.opaque(node)

    # -- groups -------------------------------------------------------------------------------

    def producers(self) -> list[_Layer]:
        return [layer for layer in self.layers.values() if layer.out_ids is not None]

    def groups(self) -> list[list[_Layer]]:
        """Producers that share at least one (non-fixed) channel class, in first-call order."""
        prods = self.producers()
        owner: dict[int, int] = {}
        parent = list(range(len(prods)))

        def find(i: int) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        for i, p in enumerate(prods):
            for r in set(self.uf.roots(p.out_ids).tolist()) - {0}:
                if r in owner:
                    a, b = find(owner[r]), find(i)
                    parent[max(a, b)] = min(a, b)
                else:
                    owner[r] = i
        out: dict[int, list[_Layer]] = {}
        for i, p in enumerate(prods):
            out.setdefault(find(i), []).append(p)
        return list(out.values())


def _channel_scores(layer: _Layer, criterion: str) -> np.ndarray:
    """Per-output-channel L1 or L2 norm of a producer's weight (float64)."""
    w = layer.module.weight.detach().to("cpu").double().numpy()
    if layer.kind == "convT":
        w = np.moveaxis(w, 1, 0)  # [in, out, k...] -> [out, in, k...]
    w = w.reshape(w.shape[0], -1)
    return np.abs(w).sum(axis=1) if criterion == "l1" else np.sqrt((w * w).sum(axis=1))


def _plan(
    an: _ChannelAnalysis, ratio: float | Mapping[str, float], criterion: str, min_channels: int
) -> tuple[set[int], list[ChannelGroup]]:
    """Choose the channel classes to remove in every group; returns (removed roots, group report)."""
    uf = an.uf
    producer_paths = [p.path for p in an.producers()]
    if isinstance(ratio, Mapping):
        for key in ratio:
            if key not in producer_paths:
                raise InputError(
                    f"prune_channels: ratio key {key!r} is not a Conv/Linear layer whose channels can be pruned; "
                    f"those are {producer_paths}"
                )
            _check_fraction(ratio[key], f"ratio[{key!r}]")
    else:
        _check_fraction(ratio, "ratio")
    bn_score: dict[int, float] = {}
    if criterion == "bn":
        for layer in an.layers.values():
            if layer.kind == "norm" and getattr(layer.module, "weight", None) is not None:
                gamma = np.abs(layer.module.weight.detach().to("cpu").double().numpy())
                for r, g in zip(uf.roots(layer.in_labels).tolist(), gamma.tolist(), strict=True):
                    if r != 0:
                        bn_score[r] = bn_score.get(r, 0.0) + g
    removed: set[int] = set()
    report = []
    for members in an.groups():
        paths = tuple(p.path for p in members)
        width = max(len(p.out_ids) for p in members)
        classes: dict[int, float] = {}  # root -> importance, in first-seen order
        for p in members:
            for r in uf.roots(p.out_ids).tolist():
                if r != 0:
                    classes.setdefault(r, 0.0)
        used = criterion
        if criterion == "bn" and not any(r in bn_score for r in classes):
            used = "l1"  # no BatchNorm sees these channels: fall back to the weights
            if classes:
                warnings.warn(f"prune_channels: no BatchNorm follows {list(paths)}; ranked by L1 norm", stacklevel=3)
        if used == "bn":
            for r in classes:
                classes[r] = bn_score.get(r, 0.0)
        else:
            for p in members:
                for r, s in zip(uf.roots(p.out_ids).tolist(), _channel_scores(p, used).tolist(), strict=True):
                    if r != 0:
                        classes[r] += s
        if isinstance(ratio, Mapping):
            given = {ratio[p] for p in paths if p in ratio}
            if len(given) > 1:
                raise InputError(
                    f"prune_channels: {list(paths)} are pruned as one group (they share channels) but "
                    f"ratio gives them different values {sorted(given)}"
                )
            r_group = given.pop() if given else 0.0
            if r_group > 0 and not classes:
                raise InputError(
                    f"prune_channels: the output channels of {list(paths)} cannot be pruned: they are a model "
                    "output, excluded, or feed an op that mixes channels"
                )
        else:
            r_group = float(ratio)
        n_remove = min(math.floor(r_group * width + 0.5), len(classes), width - max(1, min_channels))
        n_remove = max(0, n_remove)
        roots, scores = list(classes), list(classes.values())
        order = sorted(range(len(roots)), key=lambda i: (scores[i], i))
        removed.update(roots[i] for i in order[:n_remove])
        report.append(ChannelGroup(paths, width, len(classes), n_remove, used))
    return removed, report


def _keep(an: _ChannelAnalysis, labels: np.ndarray, removed: set[int]) -> np.ndarray:
    roots = an.uf.roots(labels)
    return np.flatnonzero(~np.isin(roots, np.fromiter(removed, dtype=np.int64, count=len(removed))))


def _set_param(mod: Any, name: str, value: Any) -> None:
    import torch

    old = getattr(mod, name, None)
    if old is None:
        return
    if isinstance(old, torch.nn.Parameter):
        setattr(mod, name, torch.nn.Parameter(value.detach().clone().contiguous(), requires_grad=old.requires_grad))
    else:
        setattr(mod, name, value.detach().clone().contiguous())


def _apply_plan(an: _ChannelAnalysis, removed: set[int]) -> None:
    """Rebuild every affected layer in place with only the surviving channels."""
    import torch

    for layer in an.layers.values():
        mod = layer.module
        keep_in = torch.as_tensor(_keep(an, layer.in_labels, removed), dtype=torch.long)
        if layer.kind in ("conv", "convT", "linear"):
            keep_out = torch.as_tensor(_keep(an, layer.out_ids, removed), dtype=torch.long)
            if len(keep_out) == len(layer.out_ids) and len(keep_in) == len(layer.in_labels):
                continue
            w = mod.weight.detach()
            if layer.kind == "convT":  # [in, out, k...]
                w = w.index_select(0, keep_in).index_select(1, keep_out)
            else:  # [out, in, ...]
                w = w.index_select(0, keep_out).index_select(1, keep_in)
            _set_param(mod, "weight", w)
            if mod.bias is not None:
                _set_param(mod, "bias", mod.bias.detach().index_select(0, keep_out))
            if layer.kind == "linear":
                mod.in_features, mod.out_features = len(keep_in), len(keep_out)
            else:
                mod.in_channels, mod.out_channels = len(keep_in), len(keep_out)
        elif layer.kind == "depthwise":
            if len(keep_in) == len(layer.in_labels):
                continue
            k = layer.multiplier
            rows = (keep_in[:, None] * k + torch.arange(k)[None, :]).reshape(-1)
            _set_param(mod, "weight", mod.weight.detach().index_select(0, rows))
            if mod.bias is not None:
                _set_param(mod, "bias", mod.bias.detach().index_select(0, rows))
            mod.in_channels, mod.out_channels, mod.groups = len(keep_in), len(keep_in) * k, len(keep_in)
        elif layer.kind == "norm":
            if len(keep_in) == len(layer.in_labels):
                continue
            for name in ("weight", "bias", "running_mean", "running_var"):
                value = getattr(mod, name, None)
                if value is not None:
                    _set_param(mod, name, value.detach().index_select(0, keep_in))
            mod.num_features = len(keep_in)
        elif layer.kind == "prelu":
            if len(keep_in) == len(layer.in_labels):
                continue
            _set_param(mod, "weight", mod.weight.detach().index_select(0, keep_in))
            mod.num_parameters = len(keep_in)


def _tensor_leaves(obj: Any) -> list[Any]:
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, Mapping):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in _tensor_leaves(item)]
    return []


def _refuse_masks(model: Any) -> None:
    from torch.nn.utils import parametrize

    for name, mod in model.named_modules():
        if parametrize.is_parametrized(mod):
            raise UnsupportedError(
                f"prune_channels: {name or '<model>'!r} has parametrized weights (pruning masks?); "
                "call picoml.compress.prune.strip(model) first, or prune channels before weights"
            )


def channel_groups(model: Any, example_input: Any, *, exclude: Iterable[str] = ()) -> list[ChannelGroup]:
    """The channel dependency groups ``prune_channels`` would prune, without changing anything.

    Useful to see what a ratio dict should name and what is pinned: a residual stage shows up
    as one group listing all its producers; the last layer's group has ``prunable == 0``.
    """
    work = copy.deepcopy(model)
    _refuse_masks(work)
    an = _ChannelAnalysis(work, example_input, _check_paths(work, exclude, "exclude"))
    return _plan(an, 0.0, "l1", 1)[1]


def prune_channels(
    model: Any,
    example_input: Any,
    ratio: float | Mapping[str, float] = 0.5,
    *,
    criterion: str = "l1",
    min_channels: int = 1,
    exclude: Iterable[str] = (),
    verbose: bool = False,
) -> Any:
    """A smaller copy of ``model`` with the least important output channels/neurons physically removed.

    ``ratio``: fraction of channels removed from every prunable group, or
    ``{producer_path: ratio}`` for chosen layers (others untouched; layers that share channels
    must agree). ``criterion``: ``"l1"`` / ``"l2"`` norm of each output channel's weights
    (summed over a group), or ``"bn"``: |γ| of the BatchNorm that normalizes the channel
    (L1 for groups without one). ``min_channels``: no group drops below it. ``exclude``:
    module paths whose output channels are kept (a container excludes all of its layers; ops
    inside it that cannot be analyzed are treated as opaque).

    How dependent layers follow, from a torch.fx trace of ``forward`` on ``example_input``:
    the next Conv/Linear loses the matching input channels; BatchNorm/PReLU lose the same
    channels; depthwise convolutions follow their producer; tensors that are added or
    multiplied together (residuals, squeeze-excite) are pruned as one group; ``torch.cat``
    maps each input's channels to its slice; ``flatten`` → Linear drops the H·W features of
    each removed channel. The model's outputs keep all their channels. An op the analysis
    cannot follow raises ``UnsupportedError`` naming the node and module path.

    The original is untouched; the copy has the same class and ``forward`` with
    smaller Conv/Linear/BatchNorm modules. Fine-tune it afterwards. Compare costs with
    ``model_cost(model, x)`` (or ``verbose=True``).
    """
    import torch
    import torch.fx as fx

    if criterion not in CRITERIA:
        raise InputError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if not isinstance(min_channels, int) or min_channels < 1:
        raise InputError(f"min_channels must be an integer >= 1, got {min_channels!r}")
    work = copy.deepcopy(model)
    _refuse_masks(work)
    an = _ChannelAnalysis(work, example_input, _check_paths(work, exclude, "exclude"))
    removed, report = _plan(an, ratio, criterion, min_channels)
    _apply_plan(an, removed)
    inputs = _as_inputs(example_input)
    expected: list[tuple[int, ...] | None] = []
    out_node = next(n for n in an.gm.graph.nodes if n.op == "output")
    fx.node.map_arg(out_node.args, lambda n: expected.append(an.shape(n)) or n)
    try:
        with torch.no_grad(), _eval_mode(work):
            result = work(*inputs)
    except Exception as e:
        raise UnsupportedError(
            f"prune_channels: the pruned {type(model).__name__} fails to run ({type(e).__name__}: {e}); its forward "
            "probably hard-codes a channel count (e.g. x.view(-1, 400)); use torch.flatten(x, 1) or x.size(...)"
        ) from e
    got = [tuple(t.shape) for t in _tensor_leaves(result)]
    if [s for s in expected if s is not None] != got:
        raise PicomlError(f"prune_channels: output shapes changed from {expected} to {got} (please report this)")
    if verbose:
        before, after = model_cost(model, example_input), model_cost(work, example_input)
        for g in report:
            if g.removed:
                print(f"  {', '.join(g.producers)}: {g.channels} -> {g.channels - g.removed} channels ({g.criterion})")
        print(f"prune_channels: params {before.params:,} -> {after.params:,}, MACs {before.macs:,} -> {after.macs:,}")
    return work


__all__ = ["CRITERIA", "ChannelGroup", "channel_groups", "prune_channels"]
