"""Fold an explicit int8 PAD into the convolution that reads it, for code generation.

PyTorch's ``Conv2d(padding=1, stride=2)`` has no TFLite padding mode (SAME pads such a layer
asymmetrically), so front-ends and converters emit PAD → CONV_2D (VALID). The PAD copies the
whole activation into a larger buffer; folding it gives the convolution explicit top/left
pads, and its kernels treat taps outside the input as the zero point — exactly what the PAD
wrote — so the result is bit-identical, the copy and its buffer disappear.

Folded only when exact: an int8 PAD (its fill is the zero point) whose input and output share
their quantization, padding only height and width by at most the window's reach, read by
nothing but one CONV_2D or DEPTHWISE_CONV_2D with VALID padding, and not a model output.
Pooling is never folded: TFLite's pooling leaves padded taps out of the max and the average,
an explicit PAD's values take part in both.

The folded graph is for the C generator only (``explicit_padding`` is not a TFLite option): the
PAD keeps its index as an op with no inputs and outputs, so layer indices — the arena plan's
scratch, per-layer measurements — stay those of the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType

WINDOW_OPS = (OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D)
EXPLICIT = "explicit_padding"  # (top, bottom, left, right) on a folded convolution


@dataclass(frozen=True)
class PadFold:
    pad: int  # op index of the PAD
    conv: int  # op index of the convolution
    pad_label: str
    conv_label: str
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    saved_bytes: int  # the PAD's output buffer

    def describe(self) -> str:
        t, b, left, r = self.pads
        return (
            f"{self.pad_label} folded into {self.conv_label} (pads top {t} bottom {b} left {left} right {r}; "
            f"no copy, {self.saved_bytes:,} B buffer less)"
        )


def _same_quant(a, b) -> bool:
    return (
        a.quantized
        and b.quantized
        and np.array_equal(np.asarray(a.scale), np.asarray(b.scale))
        and np.array_equal(np.asarray(a.zero_point), np.asarray(b.zero_point))
    )


def foldable_pads(g: Graph) -> list[PadFold]:
    """The PAD → convolution pairs of ``g`` that fold exactly (see the module doc)."""
    readers: dict[int, list[int]] = {}
    for i, op in enumerate(g.ops):
        for t in op.inputs:
            if t is not None:
                readers.setdefault(id(t), []).append(i)
    outputs = {id(t) for t in g.outputs}
    out: list[PadFold] = []
    for i, op in enumerate(g.ops):
        if op.type != OpType.PAD or len(op.inputs) < 2 or op.inputs[1] is None:
            continue
        x, p, y = op.inputs[0], op.inputs[1], op.outputs[0]
        if x.dtype != "int8" or y.dtype != "int8" or p.data is None or len(x.shape) != 4 or id(y) in outputs:
            continue
        if not _same_quant(x, y):
            continue
        pads = np.asarray(p.data).astype(np.int64).reshape(-1, 2)
        if pads.shape != (4, 2) or (pads < 0).any() or pads[0].any() or pads[3].any():
            continue
        r = readers.get(id(y), [])
        if len(r) != 1:
            continue
        j = r[0]
        conv = g.ops[j]
        if conv.type not in WINDOW_OPS or conv.inputs[0] is not y or conv.attrs.get("padding") != "VALID":
            continue
        w = conv.inputs[1]
        kh, kw = w.shape[1], w.shape[2]
        reach_h = (kh - 1) * conv.attrs.get("dilation_h", 1)
        reach_w = (kw - 1) * conv.attrs.get("dilation_w", 1)
        (t, b), (left, right) = pads[1], pads[2]
        if max(t, b) > reach_h or max(left, right) > reach_w:
            continue
        pd = (int(t), int(b), int(left), int(right))
        out.append(PadFold(i, j, op.label, conv.label, pd, int(y.nbytes)))
    return out


def fold_pads(g: Graph) -> tuple[Graph, list[PadFold]]:
    """A graph for code generation with every foldable PAD folded; ``g`` is not changed."""
    folds = foldable_pads(g)
    if not folds:
        return g, []
    by_pad = {f.pad: f for f in folds}
    by_conv = {f.conv: f for f in folds}
    ops: list[Op] = []
    dropped = set()
    for i, op in enumerate(g.ops):
        if i in by_pad:
            dropped.add(id(op.outputs[0]))
            ops.append(Op(op.type, [], [], {}, op.name))  # keeps the layer index, does nothing
        elif i in by_conv:
            pad = g.ops[by_conv[i].pad]
            attrs = {**op.attrs, EXPLICIT: by_conv[i].pads}
            ops.append(Op(op.type, [pad.inputs[0], *op.inputs[1:]], list(op.outputs), attrs, op.name))
        else:
            ops.append(op)
    tensors = [t for t in g.tensors if id(t) not in dropped]  # the pads constants stay: nothing emits them
    return Graph(tensors, ops, g.inputs, g.outputs, g.name, g.description), folds


def window_pads(op: Op, default: tuple[int, int]) -> tuple[int, int]:
    """(top, left) pads of a window op: a folded PAD's, else ``default`` (TFLite's SAME/VALID)."""
    e = op.attrs.get(EXPLICIT)
    return (int(e[0]), int(e[2])) if e is not None else default
