"""Graph → graph rewrites shared by the front-ends.

- ``fold_batchnorm`` (``fold_bn.py``): per-channel MUL/ADD constants (a lowered BatchNorm) into
  the preceding conv / dense layer's weights and bias.
- ``fuse_activations``: a RELU/RELU6 op into the ``fused_activation`` of the layer before it.
- ``collapse_reshapes`` (``reshapes.py``): back-to-back RESHAPEs merge, a RESHAPE that changes
  nothing disappears; ``drop_dead_ops``: ops whose results reach no output go.

The first two look through one RESHAPE between the layer and the op they remove: a 1-D
convolution runs as its 2-D form on (N, 1, L, C) and a RESHAPE brings the result back to
(N, L, C), and an elementwise clamp (or a per-channel constant, when the RESHAPE keeps the
channel axis last) commutes with it.

Both keep a float graph's values (up to float32 rounding of the folded weights) and shrink the
int8 graph the quantizer makes from it: fewer ops, fewer requantizations.
"""

from __future__ import annotations

from picoml.graph.ir import Graph
from picoml.graph.ops import OP_SET, Activation, OpType
from picoml.passes.fold_bn import fold_batchnorm, sole_reader
from picoml.passes.reshapes import collapse_reshapes, drop_dead_ops

# Which producers absorb an activation (``OpDef.fuses_activation``) and which standalone ops
# are activations (``OpDef.as_activation``: the fused_activation value with the same clamp)
# are facts of the op registry.


def fuse_activations(graph: Graph) -> int:
    """Fuse RELU / RELU6 ops into the CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or ADD that
    produces their input; returns how many activation ops were removed.

    TFLite's converter does the same. A float fused clamp computes exactly what the separate op
    does (``max(x, 0)``, ``min(max(x, 0), 6)``); in the int8 graph the clamp then happens inside
    the layer's requantization instead of costing another op (and another rounding). Float
    graphs only: in an int8 graph a separate RELU may requantize to a different scale.
    Fuses only when the producer's output feeds nothing else and is not a graph output. One
    RESHAPE between the producer and the activation is looked through (the clamp commutes with
    it) when it, too, is the only reader of its input.
    """
    fused = 0
    producers = graph.producers()
    consumers = graph.consumers()
    outputs = {id(t) for t in graph.outputs}
    for act in list(graph.ops):
        d = OP_SET.get(act.type)
        if d is None or d.as_activation is None:
            continue
        x = act.inputs[0]
        if x.dtype != "float32" or not sole_reader(x, consumers, outputs):
            continue
        prod = producers.get(id(x))
        through = None
        if prod is not None and prod.type == OpType.RESHAPE:
            through, prod = prod, producers.get(id(prod.inputs[0]))
            if not sole_reader(through.inputs[0], consumers, outputs):
                continue
        pd = None if prod is None else OP_SET.get(prod.type)
        if (
            pd is None
            or not pd.fuses_activation
            or prod.attrs.get("fused_activation", Activation.NONE) != Activation.NONE
        ):
            continue
        prod.attrs["fused_activation"] = d.as_activation.value  # attrs hold plain strings, as the reader stores them
        (through or prod).outputs[0] = act.outputs[0]
        producers[id(act.outputs[0])] = through or prod
        graph.ops.remove(act)
        fused += 1
    if fused:
        graph.prune_unused()
    return fused


__all__ = ["collapse_reshapes", "drop_dead_ops", "fold_batchnorm", "fuse_activations"]
