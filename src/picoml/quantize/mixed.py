"""Mixed int8 / 16x8 PTQ (``picoml.quantize(..., activations="mixed")``): int16 activations only for
the layers whose int8 rounding hurts the output most.

Both full quantizations are made from the same prepared float graph (``ptq.quantize`` with int8
and with int16: the same ops in the same order, each with its parameters). A mixed graph is the
int8 graph with a set S of ops taken from the 16x8 graph: every activation an op of S reads that
is int8 passes through a QUANTIZE int8 → int16 (into the 16x8 graph's parameters of that tensor),
and every int16 result read by an int8 op or returned as a graph output passes through a QUANTIZE
int16 → int8 (the int8 graph's parameters), so inputs and outputs stay int8 and every op runs a
kernel tflite-micro has.

Sensitivity: each layer with weights (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV)
that has an int16 kernel is tried alone in 16x8; the gain is how much the mean absolute output
error against the float model (on the calibration data) falls. Layers are taken greedily by gain,
each kept only when the error of the whole mixed graph falls, until ``budget`` of the layers (a
fraction, default 1/4) are 16x8. The chosen layers, the errors and the cost (peak live activation
bytes of the int8, mixed and 16x8 graphs, ``graph/limits.py``: the arena's lower bound; the share
of multiply-accumulates moved to 16x8) are in ``graph.notes``; ``picoml convert`` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.int16_ops import is_int16_op
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.limits import live_bytes
from picoml.graph.ops import OpType, op_macs
from picoml.qparams import dequantize_array, quantize_array
from picoml.reference.interpreter import Interpreter

LAYERS = (OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D, OpType.FULLY_CONNECTED, OpType.TRANSPOSE_CONV)
DEFAULT_BUDGET = 0.25


def compose(q8: Graph, q16: Graph, chosen: set[int]) -> Graph:
    """The int8 graph with the ops at ``chosen`` (indices into both graphs' ops) in 16x8."""
    g8, g16 = q8.copy(), q16.copy()
    # tensor of g8 -> its 16x8 twin: both graphs come from one prepared float graph, names kept
    twin = {t.name: t for t in g16.tensors}
    tensors = list(g8.tensors)
    names = {t.name for t in tensors}
    to16: dict[int, Tensor] = {}  # id(int8 tensor) -> int16 tensor read by 16x8 ops
    ops: list[Op] = []

    def fresh(base: str) -> str:
        name = base
        while name in names:
            name += "_"
        names.add(name)
        return name

    def as16(t: Tensor) -> Tensor:
        if id(t) in to16:
            return to16[id(t)]
        tw = twin[t.name]
        r = Tensor(fresh(f"{t.name}/int16"), t.shape, "int16", tw.scale.copy(), tw.zero_point.copy())
        tensors.append(r)
        ops.append(Op(OpType.QUANTIZE, [t], [r], {}, name=r.name))
        to16[id(t)] = r
        return r

    for k, op in enumerate(g8.ops):
        if k not in chosen:
            ops.append(op)
            continue
        op16 = g16.ops[k]
        ins: list[Tensor | None] = []
        for t8, t16 in zip(op.inputs, op16.inputs, strict=True):
            if t8 is None:
                ins.append(None)
            elif t16 is not None and t16.is_const:  # weights, bias, shapes, constant operands: 16x8's
                tensors.append(t16)
                ins.append(t16)
            elif id(t8) in to16:
                ins.append(to16[id(t8)])
            elif t8.dtype == "int8":
                ins.append(as16(t8))
            else:
                ins.append(t8)
        outs = []
        for t8 in op.outputs:
            tw = twin[t8.name]
            r = Tensor(fresh(f"{t8.name}/int16"), t8.shape, "int16", tw.scale.copy(), tw.zero_point.copy())
            tensors.append(r)
            to16[id(t8)] = r
            outs.append(r)
        ops.append(Op(op16.type, ins, outs, dict(op16.attrs), name=op.name))
        for t8, r in zip(op.outputs, outs, strict=True):  # the int8 tensor, for int8 readers and outputs
            ops.append(Op(OpType.QUANTIZE, [r], [t8], {}, name=f"{t8.name}/int8"))
    g = Graph(tensors, ops, g8.inputs, g8.outputs, g8.name, g8.description)
    g.prune_unused()
    g.validate()
    return g


def _error(g: Graph, xs: list[np.ndarray], ref: list[np.ndarray]) -> float:
    qin = []
    for x, t in zip(xs, g.inputs, strict=True):
        info = np.iinfo(t.np_dtype)
        qin.append(
            quantize_array(x, float(t.scale[0]), int(t.zero_point[0]), int(info.min), int(info.max), dtype=t.np_dtype)
        )
    out = Interpreter(g).run(qin if len(qin) > 1 else qin[0])
    outs = out if isinstance(out, list) else [out]
    err = 0.0
    for y, t, r in zip(outs, g.outputs, ref, strict=True):
        err += float(np.abs(dequantize_array(y, float(t.scale[0]), int(t.zero_point[0])) - r).mean())
    return err


def mix(float_graph: Graph, q8: Graph, q16: Graph, xs: Sequence[np.ndarray], budget: float = DEFAULT_BUDGET) -> Graph:
    """The mixed graph (see the module docstring); ``xs``: float calibration inputs, one per input."""
    if len(q8.ops) != len(q16.ops) or any(a.type != b.type for a, b in zip(q8.ops, q16.ops, strict=True)):
        raise UnsupportedError("quantize: mixed precision needs the int8 and 16x8 graphs to have the same ops")
    if any(t.dtype != "int8" for t in q8.inputs + q8.outputs):
        raise UnsupportedError("quantize: mixed precision needs int8 graph inputs and outputs")
    ref_out = Interpreter(float_graph).run(list(xs) if len(xs) > 1 else xs[0])
    ref = ref_out if isinstance(ref_out, list) else [ref_out]
    candidates = [k for k, op in enumerate(q16.ops) if op.type in LAYERS and is_int16_op(op)]
    base = _error(q8, list(xs), ref)
    gains = []
    for k in candidates:
        gains.append((base - _error(compose(q8, q16, {k}), list(xs), ref), k))
    limit = max(1, int(round(budget * len(candidates)))) if candidates else 0
    chosen: set[int] = set()
    best = base
    for gain, k in sorted(gains, key=lambda p: (-p[0], p[1])):
        if len(chosen) >= limit or gain <= 0:
            break
        trial = chosen | {k}
        e = _error(compose(q8, q16, trial), list(xs), ref)
        if e < best:
            chosen, best = trial, e
    g = compose(q8, q16, chosen)
    macs = sum(op_macs(q8.ops[k]) for k in chosen)
    total = max(sum(op_macs(op) for op in q8.ops), 1)
    g.notes.append(
        f"mixed precision: {len(chosen)} of {len(candidates)} layers in 16x8 "
        f"(ops {', '.join(f'{k} {q8.ops[k].type}' for k in sorted(chosen)) or 'none'}); "
        f"mean |output error| int8 {base:.4g}, mixed {best:.4g}, 16x8 {_error(q16, list(xs), ref):.4g}; "
        f"peak live activations int8 {max(live_bytes(q8))} B, mixed {max(live_bytes(g))} B, "
        f"16x8 {max(live_bytes(q16))} B; {100 * macs / total:.0f} % of the MACs in 16x8"
    )
    g.description = q8.description.replace("int8 PTQ", "mixed int8/16x8 PTQ")
    return g
