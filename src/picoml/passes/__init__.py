"""Graph → graph rewrites shared by the front-ends.

- ``fold_batchnorm`` (``fold_bn.py``): per-channel MUL/ADD constants (a lowered BatchNorm) into
  the preceding conv / dense layer's weights and bias.
- ``fuse_activations``: a RELU/RELU6 op into the ``fused_activation`` of the layer before it.

Both keep a float graph's values (up to float32 rounding of the folded weights) and shrink the
int8 graph the quantizer makes from it: fewer ops, fewer requantizations.
"""

from __future__ import annotations

from picoml.graph.ir import Graph
from picoml.passes.fold_bn import fold_batchnorm

#: producers whose TFLite options carry a fused activation and that front-ends fuse into
FUSABLE_PRODUCERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD")
#: standalone activation op -> the fused_activation value that computes the same clamp
FUSABLE_ACTIVATIONS = {"RELU": "RELU", "RELU6": "RELU6"}


def fuse_activations(graph: Graph) -> int:
    """Fuse RELU / RELU6 ops into the CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or ADD that
    produces their input; returns how many activation ops were removed.

    TFLite's converter does the same. A float fused clamp computes exactly what the separate op
    does (``max(x, 0)``, ``min(max(x, 0), 6)``); in the int8 graph the clamp then happens inside
    the layer's requantization instead of costing another op (and another rounding). Float
    graphs only: in an int8 graph a separate RELU may requantize to a different scale.
    Fuses only when the producer's output feeds nothing else and is not a graph output.
    """
    fused = 0
    producers = graph.producers()
    consumers = graph.consumers()
    outputs = {id(t) for t in graph.outputs}
    for act in list(graph.ops):
        if act.type not in FUSABLE_ACTIVATIONS:
            continue
        x = act.inputs[0]
        prod = producers.get(id(x))
        if (
            prod is None
            or prod.type not in FUSABLE_PRODUCERS
            or prod.attrs.get("fused_activation", "NONE") != "NONE"
            or x.dtype != "float32"
            or id(x) in outputs
            or len(consumers.get(id(x), [])) != 1
        ):
            continue
        prod.attrs["fused_activation"] = FUSABLE_ACTIVATIONS[act.type]
        prod.outputs[0] = act.outputs[0]
        producers[id(act.outputs[0])] = prod
        graph.ops.remove(act)
        fused += 1
    if fused:
        graph.prune_unused()
    return fused


__all__ = ["FUSABLE_ACTIVATIONS", "FUSABLE_PRODUCERS", "fold_batchnorm", "fuse_activations"]
