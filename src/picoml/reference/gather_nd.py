"""GATHER_ND and EMBEDDING_LOOKUP reference kernels: slices of input 0 at int32 positions.

Sources: tflite-micro ``micro/kernels/gather_nd.cc`` and ``micro/kernels/embedding_lookup.cc``.

- GATHER_ND: the last axis of the indices (K values) addresses the first K dimensions of params;
  each index tuple copies one slice of ``prod(params.shape[K:])`` values. tflite-micro computes the
  flat position ``Σ index[k] · prod(params.shape[k+1:])`` and fails the inference only when that
  position (plus the slice) is outside the whole tensor — not when one coordinate is outside its
  own dimension: index (0, 5) of a (3, 4) tensor reads element (1, 1). picoml does the same (pinned
  in tests/kernels/test_cumsum_gather_nd.py) and fails the inference (``InputError``) where
  tflite-micro does.
- EMBEDDING_LOOKUP: IR inputs (value, ids) — the .tflite file lists (ids, value) — rows
  ``value[ids[i]]``; an id outside [0, rows) fails the inference. Values are copied (int8 codes
  keep the table's parameters; float32 bit for bit). tflite-micro's hybrid form (int8 table,
  float32 output) is not supported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.errors import InputError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType


@dataclass(frozen=True)
class GatherNdParams:
    label: str
    depth: int  # K: index values per slice (1 for EMBEDDING_LOOKUP)
    strides: tuple[int, ...]  # elements per step of each indexed dimension
    slice_size: int
    total: int  # params' elements
    out_shape: tuple[int, ...]
    rows: bool  # EMBEDDING_LOOKUP: each id must be a row


def prepare(op: Op) -> GatherNdParams:
    x, y = op.inputs[0], op.outputs[0]
    shape = tuple(int(d) for d in x.shape)
    k = 1 if op.type == OpType.EMBEDDING_LOOKUP else int(op.inputs[1].shape[-1])
    strides = tuple(math.prod(shape[d + 1 :]) for d in range(k))
    return GatherNdParams(
        op.label, k, strides, math.prod(shape[k:]), math.prod(shape), tuple(y.shape), op.type == OpType.EMBEDDING_LOOKUP
    )


def positions(p: GatherNdParams, idx: np.ndarray) -> np.ndarray:
    """Flat element positions of the slices, (samples, slices); InputError where tflite-micro fails."""
    idx = np.asarray(idx, np.int64).reshape(idx.shape[0], -1, p.depth)
    if p.rows:
        bad = (idx < 0) | (idx >= p.total // p.slice_size)
        if bad.any():
            raise InputError(f"{p.label}: id {int(idx[bad][0])} is out of range [0, {p.total // p.slice_size})")
    pos = (idx * np.asarray(p.strides, np.int64)).sum(axis=-1)
    bad = (pos < 0) | (pos + p.slice_size > p.total)
    if bad.any():
        raise InputError(f"{p.label}: an index addresses element {int(pos[bad][0])}, outside the {p.total} of params")
    return pos


def evaluate(p: GatherNdParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, idx = inputs
    pos = positions(p, idx)
    n = max(x.shape[0], pos.shape[0])
    flat = np.broadcast_to(x.reshape(x.shape[0], -1), (n, p.total))
    take = np.broadcast_to(pos, (n, pos.shape[1]))[:, :, None] + np.arange(p.slice_size)[None, None, :]
    out = np.take_along_axis(flat, take.reshape(n, -1), axis=1)
    return out.reshape((n,) + p.out_shape)
