"""Shape inference and resolved geometry of ARG_MAX / ARG_MIN, BATCH_MATMUL and GATHER.

``graph/ops.py`` registers the ops (their ``OpDef.infer`` is here; REDUCE_MAX, REDUCE_MIN and SUM
share MEAN's ``reduce_axes`` and inference there); the reference kernels and the C emitters read
the same resolved geometry (``arg_axis``, ``batch_matmul_geometry``), so the shape a graph
declares, the values the interpreter computes and the loops the C runs come from one computation.

Rules are tflite-micro's (``micro/kernels/arg_min_max.cc`` with ``reference/arg_min_max.h``,
``micro/kernels/batch_matmul.cc`` and ``batch_matmul_common.cc``, ``micro/kernels/gather.cc``);
every argument is checked
before it is used, with a one-line error naming the op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.errors import GraphError, UnsupportedError

#: TensorType codes ARG_MAX / ARG_MIN may return: INT32 (2) only, as tflite-micro (its
#: arg_min_max.cc fails Eval on any other output type; INT64 = 4 is LiteRT only)
ARG_OUT_TYPES = {2: "int32"}
#: ranks of BATCH_MATMUL operands (tflite-micro's Prepare: 2 to 5)
MATMUL_MIN_RANK, MATMUL_MAX_RANK = 2, 5


def _const_ints(op, idx: int, what: str) -> np.ndarray:
    t = op.inputs[idx] if idx < len(op.inputs) else None
    if t is None or t.data is None:
        raise GraphError(f"{op.label}: {what} (input {idx}) must be a constant tensor")
    if t.dtype != "int32":
        raise GraphError(f"{op.label}: {what} {t.name!r} must be int32, is {t.dtype}")
    return np.asarray(t.data).astype(np.int64).reshape(-1)


# ----------------------------------------------------------------- ARG_MAX / ARG_MIN
def arg_axis(op) -> int:
    """The normalized axis of ARG_MAX / ARG_MIN: a constant int32 holding one value (tflite-micro
    reads element 0; LiteRT requires exactly one), negative counted from the end."""
    a = _const_ints(op, 1, "axis")
    if a.size != 1:
        raise GraphError(f"{op.label}: axis must hold one value, holds {a.size}")
    r = len(op.inputs[0].shape)
    ax = int(a[0])
    if not -r <= ax < r:
        raise GraphError(f"{op.label}: axis {ax} out of range for an input of rank {r}")
    return ax % r


def infer_arg(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    ax = arg_axis(op)
    return [tuple(d for i, d in enumerate(x.shape) if i != ax)]


def arg_out_dtype(op) -> str:
    code = op.attrs.get("output_type", 2)
    if code not in ARG_OUT_TYPES:
        raise UnsupportedError(f"{op.label}: output_type {code} is not supported (INT32 = 2 only, as in tflite-micro)")
    return ARG_OUT_TYPES[code]


# ----------------------------------------------------------------- BATCH_MATMUL
@dataclass(frozen=True)
class MatmulGeometry:
    """One BATCH_MATMUL as loops: ``batch`` (output batch extents, outermost first, padded to 3),
    the element strides of each operand's matrix per batch index (0 along a broadcast dimension),
    and the matrix product out[i, j] = sum_k lhs[i, k] * rhs[k, j] with element (i, k) of lhs at
    ``i * lhs_row + k * lhs_depth`` and (k, j) of rhs at ``k * rhs_depth + j * rhs_col`` (adj_x /
    adj_y only change these strides)."""

    batch: tuple[int, int, int]
    lhs_batch: tuple[int, int, int]
    rhs_batch: tuple[int, int, int]
    rows: int
    cols: int
    depth: int
    lhs_row: int
    lhs_depth: int
    rhs_depth: int
    rhs_col: int


def _rank_ok(op, t, what: str) -> None:
    r = len(t.shape)
    if not MATMUL_MIN_RANK <= r <= MATMUL_MAX_RANK:
        raise UnsupportedError(
            f"{op.label}: {what} {t.name!r} has rank {r}; BATCH_MATMUL takes ranks "
            f"{MATMUL_MIN_RANK} to {MATMUL_MAX_RANK} (as tflite-micro)"
        )


def batch_matmul_geometry(op) -> MatmulGeometry:
    lhs, rhs = op.inputs[0], op.inputs[1]
    _rank_ok(op, lhs, "lhs")
    _rank_ok(op, rhs, "rhs")
    adj_x, adj_y = bool(op.attrs["adj_x"]), bool(op.attrs["adj_y"])
    ls, rs = tuple(lhs.shape), tuple(rhs.shape)
    lr, lc = ls[-2:]
    rr, rc = rs[-2:]
    rows, depth = (lc, lr) if adj_x else (lr, lc)
    depth_r, cols = (rc, rr) if adj_y else (rr, rc)
    if depth != depth_r:
        raise GraphError(
            f"{op.label}: lhs {list(ls)} (adj_x={adj_x}) and rhs {list(rs)} (adj_y={adj_y}) do not agree on the "
            f"accumulation depth ({depth} vs {depth_r})"
        )
    lb, rb = (1,) * (5 - len(ls)) + ls[:-2], (1,) * (5 - len(rs)) + rs[:-2]  # 3 batch dims each
    batch = []
    for a, b in zip(lb, rb, strict=True):
        if a != b and a != 1 and b != 1:
            raise GraphError(f"{op.label}: batch dimensions of lhs {list(ls)} and rhs {list(rs)} do not broadcast")
        batch.append(max(a, b) if min(a, b) != 0 else 0)

    def strides(dims: tuple[int, ...], matrix: int) -> tuple[int, int, int]:
        out, acc = [0, 0, 0], matrix
        for d in (2, 1, 0):
            out[d] = 0 if dims[d] == 1 else acc
            acc *= dims[d]
        return out[0], out[1], out[2]

    return MatmulGeometry(
        tuple(batch),  # type: ignore[arg-type]
        strides(lb, lr * lc),
        strides(rb, rr * rc),
        rows,
        cols,
        depth,
        1 if adj_x else lc,
        lc if adj_x else 1,
        1 if adj_y else rc,
        rc if adj_y else 1,
    )


def infer_batch_matmul(op) -> list[tuple[int, ...]]:
    g = batch_matmul_geometry(op)
    rank = max(len(op.inputs[0].shape), len(op.inputs[1].shape))
    return [tuple(g.batch[3 - (rank - 2) :]) + (g.rows, g.cols)]


def batch_matmul_macs(op) -> int:
    lhs = op.inputs[0]
    depth = lhs.shape[-2] if op.attrs["adj_x"] else lhs.shape[-1]
    return int(op.outputs[0].size * depth)


# ----------------------------------------------------------------- GATHER
@dataclass(frozen=True)
class GatherGeometry:
    """GATHER as loops (tflite-micro's gather.cc): input 0 viewed as [batch, outer, axis_size, inner],
    the positions as [batch, coords]; out[b, o, c, :] = in[b, o, positions[b, c], :]."""

    axis: int
    batch_dims: int
    batch: int
    outer: int
    axis_size: int
    coords: int
    inner: int


def gather_geometry(op) -> GatherGeometry:
    x, idx = op.inputs[0], op.inputs[1]
    r, ri = len(x.shape), len(idx.shape)
    if idx.dtype != "int32":
        raise UnsupportedError(f"{op.label}: positions {idx.name!r} are {idx.dtype}; tflite-micro takes int32 only")
    axis, bd = int(op.attrs["axis"]), int(op.attrs["batch_dims"])
    if not -r <= axis < r:
        raise GraphError(f"{op.label}: axis {axis} out of range for an input of rank {r}")
    axis %= r
    if bd < 0:
        bd += ri
    if not (0 <= bd <= axis and bd < r and bd <= ri):
        raise GraphError(
            f"{op.label}: batch_dims {op.attrs['batch_dims']} must be in [0, axis {axis}] and at most the "
            f"positions' rank {ri}"
        )
    if tuple(x.shape[:bd]) != tuple(idx.shape[:bd]):
        raise GraphError(
            f"{op.label}: the first {bd} dimensions of {list(x.shape)} and positions {list(idx.shape)} must agree"
        )
    prod = math.prod
    return GatherGeometry(
        axis,
        bd,
        prod(x.shape[:bd]),
        prod(x.shape[bd:axis]),
        x.shape[axis],
        prod(idx.shape[bd:]),
        prod(x.shape[axis + 1 :]),
    )


def infer_gather(op) -> list[tuple[int, ...]]:
    g = gather_geometry(op)
    x, idx = op.inputs[0], op.inputs[1]
    if idx.data is not None:
        v = np.asarray(idx.data)
        bad = (v < 0) | (v >= g.axis_size)
        if bad.any():
            raise GraphError(
                f"{op.label}: position {int(v[bad].reshape(-1)[0])} in {idx.name!r} is out of range "
                f"[0, {g.axis_size}) (tflite-micro fails the inference)"
            )
    return [tuple(x.shape[: g.axis]) + tuple(idx.shape[g.batch_dims :]) + tuple(x.shape[g.axis + 1 :])]


# ----------------------------------------------------------------- the registry entries
def op_defs(OpDef, OpType, Attr, Int8Output, infer_mean, shape_arg_1) -> list:  # noqa: N803 (classes)
    """The ``OpDef``s of REDUCE_MAX, REDUCE_MIN, SUM, ARG_MAX, ARG_MIN, BATCH_MATMUL and GATHER, which
    ``graph/ops.py`` appends to its table (its classes are passed in: it imports this module)."""
    keep = (Attr("keep_dims", "bool", False, 0),)  # MEAN's ReducerOptions; the axes are constant input 1
    arg = {"shape_inputs": shape_arg_1, "output_dtype": arg_out_dtype}
    return [
        # tflite-micro's int8 REDUCE_MAX / REDUCE_MIN require the output quantized as the input
        OpDef(OpType.REDUCE_MAX, 82, 27, keep, 2, 2, infer_mean, "max over axes", shape_inputs=shape_arg_1,
              int8_output=Int8Output.SHARED),
        OpDef(OpType.REDUCE_MIN, 89, 27, keep, 2, 2, infer_mean, "min over axes", shape_inputs=shape_arg_1,
              int8_output=Int8Output.SHARED),
        OpDef(OpType.SUM, 74, 27, keep, 2, 2, infer_mean, "sum over axes", shape_inputs=shape_arg_1),
        OpDef(OpType.ARG_MAX, 56, 40, (Attr("output_type", "i8", 2, 0),), 2, 2, infer_arg,
              "int32 index of the largest value along an axis (the first on ties)", **arg),
        OpDef(OpType.ARG_MIN, 79, 57, (Attr("output_type", "i8", 2, 0),), 2, 2, infer_arg,
              "int32 index of the smallest value along an axis (the first on ties)", **arg),
        OpDef(OpType.BATCH_MATMUL, 126, 101,
              (Attr("adj_x", "bool", False, 0), Attr("adj_y", "bool", False, 1),
               Attr("asymmetric_quantize_inputs", "bool", False, 2)),
              2, 2, infer_batch_matmul, "matrix product of two tensors (either may be computed), batches broadcast",
              macs=batch_matmul_macs),
        # tflite-micro copies GATHER's bytes
        OpDef(OpType.GATHER, 36, 23, (Attr("axis", "i32", 0, 0), Attr("batch_dims", "i32", 0, 1)), 2, 2,
              infer_gather, "slices at int32 positions (input 1, constant or computed) along an axis",
              int8_output=Int8Output.SHARED, index_inputs=frozenset({1})),
    ]  # fmt: skip
