"""Constant folding: ops whose value is known before any input arrives become constants.

Converters emit shape arithmetic for models with a variable batch size (Keras ``Flatten``
becomes SHAPE → STRIDED_SLICE → PACK → RESHAPE). On the device every shape is static, so
SHAPE is its input's shape and every op fed only by constants has one value: computing it
once with the reference kernels (bit-exact by construction: the same kernels the
interpreter runs) leaves a graph of real layers only. Graph outputs are never folded (the
C library computes what it returns), nor ops without a reference kernel."""

from __future__ import annotations

import numpy as np

from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS


def _known(op: Op) -> bool:
    if op.type == OpType.SHAPE:
        return True  # static shapes: the value does not depend on the input's values
    return all(t is None or t.data is not None for t in op.inputs)


def fold_constants(g: Graph) -> int:
    """Fold every foldable op of ``g`` in place (in execution order, so chains fold whole);
    the number of ops folded. The graph stays valid: folded outputs keep their dtype and
    quantization, with the computed values as data."""
    outputs = {id(t) for t in g.outputs}
    kept, folded = [], 0
    for op in g.ops:
        if op.type not in KERNELS or any(id(t) in outputs for t in op.outputs) or not _known(op):
            kept.append(op)
            continue
        kern = KERNELS[op.type]
        params = kern.prepare(op)
        ins = [
            None if t is None else (np.zeros((1,) + tuple(t.shape), t.np_dtype) if t.data is None else t.data[None])
            for t in op.inputs
        ]
        values = kern.evaluate(params, ins)
        values = values if isinstance(values, list | tuple) else [values]
        for t, v in zip(op.outputs, values, strict=True):
            t.data = np.ascontiguousarray(np.asarray(v)[0]).astype(t.np_dtype).reshape(t.shape)
        folded += 1
    if folded:
        g.ops = kept
        used = {id(t) for op in g.ops for t in op.inputs + op.outputs if t is not None}
        used |= {id(t) for t in g.inputs + g.outputs}
        g.tensors = [t for t in g.tensors if id(t) in used]
    return folded
