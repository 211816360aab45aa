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
   target (module class, function, method name or ATen overload), hls4ml-style
   (``frontends/torch_ops.py``); the handlers lower onto picoml's closed op set through
   ``TorchBuilder`` (``frontends/torch_values.py``), the shared ``GraphBuilder`` of
   ``frontends/lowering.py`` plus PyTorch's layout tracking.
4. Passes: BatchNorm (lowered to per-channel MUL + ADD) folds into the preceding conv / dense
   layer (``picoml.passes.fold_batchnorm``); RELU/RELU6 fuse into the producing conv, dense or
   add (``picoml.passes.fuse_activations``).

Layout
------
PyTorch is channels-first, the graph channels-last: a PyTorch value of shape (N,C,H,W) lives
in the graph as (N,H,W,C), (N,C,L) as (N,L,C) — or as (N,1,L,C) around Conv1d/pooling, which
run as their 2-D ops with a 1-row image — and (N,F) as is. ``to_graph_layout`` and
``from_graph_layout`` (``frontends/lowering.py``) permute data the same way. Reshapes are checked element by element: a
``view``/``flatten``/``permute`` whose result the channels-last data already holds in order
becomes a RESHAPE; a flatten of a channels-last feature map gives an (N,F) value whose columns
are a known permutation of PyTorch's (C,H,W) order, which a following Linear absorbs by
permuting its weight columns (no transpose at run time); anything else gets a TRANSPOSE.
Slicing, narrow/select, chunk/split/unbind and stack become STRIDED_SLICE, SPLIT/SPLIT_V/UNPACK
and PACK (``torch_values.TorchBuilder.gather``, ``split_parts``, ``stack``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from picoml.errors import GraphError, InputError, PicomlError, UnsupportedError
from picoml.frontends.lowering import from_graph_layout, to_graph_layout
from picoml.frontends.torch_ops import (
    _METHODS,
    _SHAPE_ATTRS,
    _SHAPE_METHODS,
    Handler,
    _fn_name,
    _need_torch,
    _tables,
    supported_torch,
)
from picoml.frontends.torch_values import Call, TorchBuilder, Val, _std_gshape
from picoml.graph.ir import Graph, Tensor
from picoml.passes import drop_dead_ops, fold_batchnorm, fuse_activations
from picoml.reference.interpreter import Interpreter

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["from_graph_layout", "from_torch", "supported_torch", "to_graph_layout"]

#: Self-check of the finished graph against PyTorch on the example input. Loose on purpose: it
#: catches a wrong layout or a mis-mapped option (errors of the order of the values themselves),
#: not float32 summation-order noise (~1e-6 relative), so it never rejects a correct graph.
SELF_CHECK_RTOL = 1e-3


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
    if isinstance(v, Val):
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
    b = TorchBuilder()
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
            env[node] = Val(t, shape)
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
        call = Call(where, name, tuple(args), dict(kwargs), value, mod)
        try:
            result = handler(b, call)
        except PicomlError as e:
            msg = str(e)
            raise type(e)(msg if msg.startswith(f"{model}: ") else f"{model}: {msg}") from None
        except Exception as e:  # a call shape no handler anticipated: still one line naming the call
            raise UnsupportedError(f"{model}: {where}: cannot be converted ({type(e).__name__}: {e})") from None
        if isinstance(result, Val):
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
        if inplace and node.args and isinstance(node.args[0], fx.Node) and isinstance(result, Val):
            env[node.args[0]] = result

    outs: list[Tensor] = []
    for i, v in enumerate(outputs):
        if not isinstance(v, Val):
            raise UnsupportedError(f"{model}: output {i} does not depend on the input (a constant output)")
        if isinstance(v.twin, Val):
            v = v.twin  # a product kept in PyTorch's order: its twin in the standard layout
        if v.order is not None:  # a flattened channels-last tensor: into PyTorch's order (a TRANSPOSE)
            try:
                v = b.materialize(Call(f"output {i}", f"output{i}", (), {}, None), v)
            except PicomlError as e:
                raise UnsupportedError(f"{model}: {e}") from None
        outs.append(b.std(v))
    graph = Graph(b.tensors, b.ops, inputs, outs, name=model, description="converted by picoml.from_torch")
    drop_dead_ops(graph)
    fold_batchnorm(graph)
    fuse_activations(graph)
    graph.toposort()
    graph.validate()
    return graph


def _normalize(b: TorchBuilder, c: Call, v: Val, model: str) -> Val:
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
        return Val(b.view(v, _std_gshape(shape) if v.order is None else shape), shape, v.order, v.nonneg, v.origin)
    return v


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
