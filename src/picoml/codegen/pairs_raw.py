"""Raw-lane packed pairs (Armv7E-M, PM_FC_RAW and PM_CONV_RAW): one SXTB16 per weight word, not two.

A packed pair's interleaved chunk word (PM_PAIRS_ILV) is a0 b0 a2 b2 (or a1 b1 a3 b3). SXTB16 of it
gives channel a's two values as 16-bit lanes; the word itself, read as two int16 lanes, is
(256 * b0 + u(a0), 256 * b2 + u(a2)) with u(a) = a mod 256. Storing b' = b - [a < 0] in b's byte
makes each raw lane exactly 256 * b + a, so SMLAD of the widened input with the raw word adds
256 * (x . b) + x . a to a second accumulator started where a's started: their difference is
256 times channel b's sum, which one subtract and an arithmetic shift by 8 recover
(pm_raw_b in pm_dot_s8.h). Per pair and word: one SXTB16 and two SMLADs, not two and two.

Exact when (checked per layer here; a model with a layer that fails keeps the plain layout):
- b' fits int8: no value where a < 0 and b == -128 (TFLite's int8 weights are in [-127, 127]);
- channel b's sum over the full chunks, |x . b| <= 128 * sum|b|, stays below 2^23, so that
  256 times it, which the kernels form modulo 2^32, is recovered exactly.
The k % 4 tail of a pair is stored plainly, as ever.
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.requant import prepare_layer
from picoml.codegen.variants import uses_gemm
from picoml.graph.ir import Graph
from picoml.graph.ops import OpType

SUM_LIMIT = 1 << 16  # sum|b| over a pair's full chunks below this: |x . b| < 2^23


def raw_fits(w: np.ndarray) -> bool:
    """Whether weights [units, k] (int8) can be stored as raw-lane pairs exactly."""
    w = np.asarray(w).reshape(w.shape[0], -1).astype(np.int64)
    n, k = w.shape
    full = k - k % 4
    if n < 2 or full == 0:
        return True  # no pair chunk: the layout is the plain one
    a, b = w[0 : n - 1 : 2, :full], w[1:n:2, :full]
    if ((a < 0) & (b == -128)).any():
        return False
    return bool((np.abs(b).sum(axis=1) < SUM_LIMIT).all())


def to_raw(w: np.ndarray) -> np.ndarray:
    """Weights [units, k] with each pair's b values in the full chunks replaced by b - [a < 0]
    (packed by generate.pack_pairs as usual, that is the raw-lane layout). Needs raw_fits."""
    w2 = np.asarray(w).reshape(w.shape[0], -1).astype(np.int16)
    n, k = w2.shape
    full = k - k % 4
    out = w2.copy()
    out[1:n:2, :full] -= (w2[0 : n - 1 : 2, :full] < 0).astype(np.int16)
    return out.astype(np.int8).reshape(np.asarray(w).shape)


def fc_raw(g: Graph, encoding: dict[int, str], enabled: bool) -> bool:
    """PM_FC_RAW for a model: the ISA has interleaved pairs (``enabled``) and every densely
    stored FULLY_CONNECTED layer's weights, as the generator packs them (``prepare_layer``),
    fit the raw-lane layout."""
    if not enabled:
        return False
    for i, op in enumerate(g.ops):
        if op.type != OpType.FULLY_CONNECTED or encoding.get(i, "dense") != "dense":
            continue
        if op.inputs[0].dtype != "int8" or op.outputs[0].dtype != "int8":  # 16x8, float, hybrid: other kernels
            continue
        if not raw_fits(prepare_layer(op).weights):
            return False
    return True


def conv_raw(g: Graph, encoding: dict[int, str], enabled: bool) -> bool:
    """PM_CONV_RAW for a model: as fc_raw, over the densely stored CONV_2D layers of the GEMM
    variants (their packed filters; K4 padding adds zero weights, which change nothing here)."""
    if not enabled:
        return False
    for i, op in enumerate(g.ops):
        if not uses_gemm(op) or encoding.get(i, "dense") != "dense":
            continue
        rows = prepare_layer(op).filter.reshape(op.inputs[1].shape[0], -1)
        if not raw_fits(np.pad(rows, ((0, 0), (0, -rows.shape[1] % 4)))):  # as if K4-padded: conservative
            return False
    return True
