"""STRIDED_SLICE, SLICE and TRANSPOSE: each output element is one input element, copied.

The indices come from ``picoml.graph.shape_ops`` (the same resolution validation checks the
declared output shape against). Values are never rescaled: an int8 output holds the input's
codes (tflite-micro's kernels copy bytes and check no quantization parameters).

STRIDED_SLICE follows LiteRT for every option (``strided_slice.cc``: the ellipsis expands to the
unspecified dimensions, new_axis inserts a dimension of 1, offset makes end relative to begin).
tflite-micro (``strided_slice_common.cc``) ignores ellipsis_mask, new_axis_mask and offset and
reads begin/end/strides for the input's dimensions only; an int8 slice whose elements differ
between the two readings is refused (measured: ``tests/kernels/test_slicing.py``), so what picoml
runs in int8 is what tflite-micro computes and what the float model means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.errors import PicomlError, UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.graph.shape_ops import StridedSlice, slice_ranges, strided_slice, transpose_perm

#: most input dimensions tflite-micro runs (strided_slice_common.cc: 4; slice.cc, transpose_common.cc: 5)
TFLM_MAX_DIMS = {OpType.STRIDED_SLICE: 4, OpType.SLICE: 5, OpType.TRANSPOSE: 5}


def _micro_rank(op: Op) -> None:
    rank, most = len(op.inputs[0].shape), TFLM_MAX_DIMS[op.type]
    if op.inputs[0].dtype == "int8" and rank > most:
        raise UnsupportedError(
            f"{op.label}: int8 {op.type} of a rank-{rank} input (TFLite Micro supports up to {most})"
        )


@dataclass(frozen=True)
class GatherParams:
    """Output = input (seen as ``in_shape``) indexed by ``index[d]`` along dimension d, transposed by
    ``perm``, reshaped to ``out_shape``."""

    in_shape: tuple[int, ...]
    index: tuple[np.ndarray, ...]
    perm: tuple[int, ...]
    out_shape: tuple[int, ...]


def source_index(p: GatherParams) -> np.ndarray:
    """Flat input index of every output element, in output order (what the C copy loop reads)."""
    flat = np.arange(math.prod(p.in_shape), dtype=np.int64).reshape(p.in_shape)
    return evaluate(p, [flat[None]])[0].reshape(-1)


def _spec_params(s: StridedSlice) -> GatherParams:
    idx = tuple(np.arange(*r, dtype=np.int64) for r in s.ranges)
    return GatherParams(s.in_shape, idx, tuple(range(len(s.in_shape))), s.out_shape)


def prepare_strided_slice(op: Op) -> GatherParams:
    p = _spec_params(strided_slice(op))
    if op.inputs[0].dtype == "int8":
        a = op.attrs
        try:
            micro = _spec_params(strided_slice(op, full=False))
        except PicomlError as e:
            raise UnsupportedError(f"int8 {e}") from None
        if micro.out_shape != p.out_shape or not np.array_equal(source_index(micro), source_index(p)):
            raise UnsupportedError(
                f"{op.label}: int8 STRIDED_SLICE with ellipsis_mask {a['ellipsis_mask']}, new_axis_mask "
                f"{a['new_axis_mask']}, offset {a['offset']}: TFLite Micro ignores these options and would copy "
                "other elements (express them in begin/end/masks and a RESHAPE)"
            )
    _micro_rank(op)
    return p


def prepare_slice(op: Op) -> GatherParams:
    x = op.inputs[0]
    _micro_rank(op)
    idx = tuple(np.arange(b, b + s, dtype=np.int64) for b, s in slice_ranges(op))
    return GatherParams(x.shape, idx, tuple(range(len(x.shape))), op.outputs[0].shape)


def prepare_transpose(op: Op) -> GatherParams:
    x = op.inputs[0]
    perm = transpose_perm(op)
    _micro_rank(op)
    idx = tuple(np.arange(n, dtype=np.int64) for n in x.shape)
    return GatherParams(x.shape, idx, tuple(perm), op.outputs[0].shape)


def evaluate(p: GatherParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    n = x.shape[0]
    y = x.reshape((n,) + p.in_shape)
    y = y[(slice(None),) + np.ix_(*p.index)]
    y = y.transpose((0,) + tuple(d + 1 for d in p.perm))
    return np.ascontiguousarray(y).reshape((n,) + p.out_shape)
