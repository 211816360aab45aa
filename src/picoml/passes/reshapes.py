"""Structural clean-ups: collapse RESHAPE chains (a RESHAPE of a RESHAPE reads the first one's
input, a RESHAPE to the same shape disappears) and drop ops whose results reach no output.

Front-ends that keep 1-D values in their 2-D (N, 1, L, C) form around convolutions and pooling
emit such chains (``(N,1,L,C) → (N,L,C) → (N,1,L,C)``); a RESHAPE moves no data, so the chain is
one RESHAPE or none.
"""

from __future__ import annotations

from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OpType


def _rewire(g: Graph, old: Tensor, new: Tensor) -> None:
    """Every reader of ``old`` reads ``new`` instead."""
    for op in g.ops:
        op.inputs = [new if t is old else t for t in op.inputs]
    g.outputs = [new if t is old else t for t in g.outputs]


def _only_reader(g: Graph, t: Tensor, reader: Op) -> bool:
    """``t`` is read only by ``reader`` and is not a graph output."""
    if any(o is t for o in g.outputs):
        return False
    return [op for op in g.ops if any(i is t for i in op.inputs)] == [reader]


def collapse_reshapes(g: Graph) -> int:
    """Merge back-to-back RESHAPEs and drop RESHAPEs that keep the shape; returns how many rewrites
    were made."""
    n = 0
    changed = True
    while changed:
        changed = False
        producers = g.producers()
        for op in list(g.ops):
            if op.type != OpType.RESHAPE:
                continue
            p = producers.get(id(op.inputs[0]))
            if p is not None and p.type == OpType.RESHAPE:
                op.inputs[0] = p.inputs[0]
                if not any(p.outputs[0] is t for o in g.ops for t in o.inputs) and p.outputs[0] not in g.outputs:
                    g.ops.remove(p)
                changed = True
                break
            x, y = op.inputs[0], op.outputs[0]
            if tuple(x.shape) != tuple(y.shape) or x.is_const:
                continue
            if y not in g.outputs:
                _rewire(g, y, x)
                g.ops.remove(op)
                changed = True
                break
            q = producers.get(id(x))
            if q is not None and _only_reader(g, x, op):
                q.outputs[0] = y
                g.ops.remove(op)
                changed = True
                break
        n += changed
    return n


def drop_dead_ops(graph: Graph) -> int:
    """Remove ops whose results reach no output (e.g. unused branches of a traced ``forward``);
    an unused graph input stays an input. Returns how many ops were removed."""
    producers = graph.producers()
    live: set[int] = set()
    stack = [producers[id(t)] for t in graph.outputs if id(t) in producers]
    while stack:
        op = stack.pop()
        if id(op) in live:
            continue
        live.add(id(op))
        stack.extend(producers[id(t)] for t in op.inputs if t is not None and id(t) in producers)
    before = len(graph.ops)
    graph.ops = [op for op in graph.ops if id(op) in live]
    graph.prune_unused()
    for t in graph.inputs:  # an unused input stays an input
        if all(t is not u for u in graph.tensors):
            graph.tensors.insert(0, t)
    return before - len(graph.ops)
