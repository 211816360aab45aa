"""Fold per-channel affine constants — a lowered BatchNorm — into the preceding conv or dense layer.

Front-ends lower an inference-mode BatchNorm to ``MUL(x, s)`` then ``ADD(·, t)`` with
per-channel constants (``s = γ / sqrt(σ² + ε)``, ``t = β − μ·s``; PyTorch
``torch.nn.functional.batch_norm``, ONNX ``BatchNormalization``). The pass works on the graph,
not on framework modules, so every front-end gets it and a BatchNorm that follows no conv stays
a correct MUL + ADD.

A convolution is linear in its filter per output channel, so for a constant ``s`` and ``t``
along the output channels::

    (conv(x, W) + b) · s + t  ==  conv(x, W · s) + (b · s + t)

One RESHAPE between the layer and the MUL/ADD is looked through when it keeps the channel axis
last (a 1-D convolution runs as its 2-D form on (N, 1, L, C) and is reshaped back to (N, L, C)).

This removes two elementwise ops and, for int8, two requantizations (TFLite's converter does
the same fold). The new weights are computed in float64 and rounded once to float32.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OP_SET, Activation, OpType

# A foldable layer is one with weights (``OpDef.weights``); ``weights.axis`` indexes its output
# channels (OHWI, 1HWO, [out, in]).


def _channel_vector(c: Tensor, out: Tensor) -> np.ndarray | None:
    """``c`` as one value per output channel of ``out``, or None when it varies along another axis."""
    if c.data is None or c.dtype != "float32" or len(c.shape) > len(out.shape):
        return None
    oc = out.shape[-1]
    if any(d != 1 for d in c.shape[:-1]) or (c.shape and c.shape[-1] not in (1, oc)):
        return None
    return np.broadcast_to(np.asarray(c.data, np.float64).reshape(-1), (oc,))


def sole_reader(t: Tensor, consumers: dict[int, list[Op]], outputs: set[int]) -> bool:
    """``t`` is read by exactly one op and is not a graph output."""
    return len(consumers.get(id(t), [])) == 1 and id(t) not in outputs


def _foldable(graph: Graph, op: Op, consumers: dict[int, list[Op]], producers: dict[int, Op]):
    """(producer, per-channel constant, RESHAPE in between or None) when ``op`` is a MUL/ADD by a
    constant after a foldable layer."""
    if (
        op.type not in (OpType.MUL, OpType.ADD)
        or op.attrs.get("fused_activation", Activation.NONE) != Activation.NONE
        or len(op.inputs) != 2
    ):
        return None
    a, b = op.inputs
    x, c = (a, b) if b is not None and b.is_const else (b, a)
    if x is None or c is None or x.is_const or not c.is_const:
        return None
    outputs = {id(t) for t in graph.outputs}
    if not sole_reader(x, consumers, outputs):
        return None
    prod = producers.get(id(x))
    through = None
    if prod is not None and prod.type == OpType.RESHAPE:
        inner = prod.inputs[0]
        if not (inner.shape and x.shape and inner.shape[-1] == x.shape[-1]):
            return None  # the RESHAPE moves the channel axis
        if not sole_reader(inner, consumers, outputs):
            return None
        through, prod = prod, producers.get(id(inner))
    pd = None if prod is None else OP_SET.get(prod.type)
    if pd is None or pd.weights is None or prod.attrs.get("fused_activation", Activation.NONE) != Activation.NONE:
        return None
    w = prod.inputs[pd.weights.input]
    if x.dtype != "float32" or w is None or w.dtype != "float32" or w.data is None:
        return None  # hybrid (int8-weight) and quantized layers keep their arithmetic
    if op.outputs[0].shape != x.shape:
        return None  # the constant broadcasts the layer's output to a larger shape
    vec = _channel_vector(c, x)
    if vec is None:
        return None
    return prod, vec, through


def _own(graph: Graph, op: Op, i: int, consumers: dict[int, list[Op]], suffix: str) -> Tensor:
    """``op.inputs[i]``, copied first when another op shares it (the fold must not change that op)."""
    t = op.inputs[i]
    if len(consumers.get(id(t), [])) <= 1 and not any(t is g for g in graph.outputs):
        return t
    names = {u.name for u in graph.tensors}
    name = f"{t.name}_{suffix}"
    k = 1
    while name in names:
        k += 1
        name = f"{t.name}_{suffix}{k}"
    new = Tensor(name, t.shape, t.dtype, data=np.array(t.data, copy=True))
    graph.add_tensor(new)
    op.inputs[i] = new
    return new


def fold_batchnorm(graph: Graph, *, bias_name: Callable[[Op], str] | None = None) -> int:
    """Fold MUL/ADD by per-output-channel constants into the CONV_2D, DEPTHWISE_CONV_2D or
    FULLY_CONNECTED that produces their input; returns how many elementwise ops were removed.

    Folds only when the layer's output feeds nothing else and is not a graph output, and the
    layer has no fused activation (the activation would sit between the layer and the constant).
    A layer without a bias gets one, named ``bias_name(layer)`` (default: the layer's name or
    output name + ``.bias``; a front-end passes its own naming), made unique.
    """
    removed = 0
    changed = True
    while changed:
        changed = False
        producers = graph.producers()
        consumers = graph.consumers()
        for op in graph.ops:
            found = _foldable(graph, op, consumers, producers)
            if found is None:
                continue
            prod, vec, through = found
            wts = OP_SET[prod.type].weights
            axis = wts.axis
            oc = prod.outputs[0].shape[-1]
            bias = prod.inputs[wts.bias] if len(prod.inputs) > wts.bias else None
            b = np.zeros(oc) if bias is None else np.asarray(bias.data, np.float64).reshape(-1)
            if op.type == OpType.MUL:
                w = _own(graph, prod, wts.input, consumers, "folded")
                shape = [1] * len(w.shape)
                shape[axis] = oc
                w.data = (np.asarray(w.data, np.float64) * vec.reshape(shape)).astype(np.float32)
                b = b * vec
            else:
                b = b + vec
            if bias is None:
                names = {t.name for t in graph.tensors}
                base = bias_name(prod) if bias_name is not None else f"{prod.name or prod.outputs[0].name}.bias"
                name = base
                k = 1
                while name in names:
                    k += 1
                    name = f"{base}{k}"
                bias = graph.add_tensor(Tensor(name, (oc,), "float32", data=np.zeros(oc, np.float32)))
                prod.inputs = list(prod.inputs[: wts.bias]) + [bias]
            else:
                bias = _own(graph, prod, wts.bias, consumers, "folded")
            bias.data = b.astype(np.float32).reshape(bias.shape)
            (through or prod).outputs[0] = op.outputs[0]
            graph.ops.remove(op)
            removed += 1
            changed = True
            break
    if removed:
        graph.prune_unused()
    return removed
