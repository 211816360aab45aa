"""Shape inference and index resolution of the data-movement ops that take constant integer
arguments: STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK, PACK, TRANSPOSE, SQUEEZE, EXPAND_DIMS.

``graph/ops.py`` registers them (their ``OpDef.infer`` is here); the reference kernels and the C
emitters read the same resolved indices (``strided_slice``, ``slice_ranges``, ``split_sizes``, ...),
so the shape a graph declares, the values the interpreter computes and the bytes the C copies
come from one computation.

The rules are TFLite's (LiteRT's ``kernels/strided_slice.cc`` and ``strided_slice_logic.h``,
tflite-micro's ``slice.cc``, ``split.cc``, ``split_v.cc``, ``pack.cc``, ``unpack.cc``,
``transpose.cc``, ``squeeze.cc``, ``expand_dims.cc``); every argument is checked before it is
used, with a one-line error naming the op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import GraphError, UnsupportedError

#: most dimensions of a STRIDED_SLICE or SLICE input picoml runs (PM_MAX_DIMS of the C runtime;
#: LiteRT runs more, tflite-micro fewer: its int8 limits are in reference/slicing.py)
MAX_SLICE_DIMS = 6
#: most dimensions of a TRANSPOSE input (LiteRT and tflite-micro: 6)
MAX_TRANSPOSE_DIMS = 6
#: most dimensions of a SQUEEZE input (tflite-micro's squeeze.cc: 8)
MAX_SQUEEZE_DIMS = 8
#: bits of a STRIDED_SLICE mask picoml reads (the masks are int32 in the schema)
MASK_BITS = 32


def const_ints(op, idx: int, what: str, int64_ok: bool = False) -> np.ndarray:
    """Input ``idx`` of ``op`` as int64 values: a constant int32 (or int64 if ``int64_ok``) tensor."""
    t = op.inputs[idx] if idx < len(op.inputs) else None
    if t is None or t.data is None:
        raise GraphError(f"{op.label}: {what} (input {idx}) must be a constant tensor")
    allowed = ("int32", "int64") if int64_ok else ("int32",)
    if t.dtype not in allowed:
        raise GraphError(f"{op.label}: {what} {t.name!r} must be {' or '.join(allowed)}, is {t.dtype}")
    return np.asarray(t.data).astype(np.int64)


def _vector(op, idx: int, what: str, int64_ok: bool = False) -> list[int]:
    v = const_ints(op, idx, what, int64_ok)
    if v.ndim != 1:
        raise GraphError(f"{op.label}: {what} must be a 1-D tensor, has shape {list(v.shape)}")
    return [int(a) for a in v]


def _scalar(op, idx: int, what: str) -> int:
    """A one-value int32 argument (a scalar or a 1-element vector, as TFLite reads element 0)."""
    v = const_ints(op, idx, what).reshape(-1)
    if v.size != 1:
        raise GraphError(f"{op.label}: {what} must hold one value, holds {v.size}")
    return int(v[0])


def _axis(op, axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise GraphError(f"{op.label}: {what} {axis} out of range for rank {rank}")
    return axis % rank


def _outputs(op, n: int, what: str) -> None:
    if len(op.outputs) != n:
        raise GraphError(f"{op.label}: {what} is {n}, the op has {len(op.outputs)} outputs")


# ------------------------------------------------------------------ STRIDED_SLICE
@dataclass(frozen=True)
class StridedSlice:
    """A resolved STRIDED_SLICE: the input seen with its new axes inserted (``in_shape``), one
    (start, stop, stride) per dimension of it, which dimensions are dropped (shrink_axis) and
    the output shape. Dimension d reads indices ``range(start, stop, stride)``."""

    in_shape: tuple[int, ...]
    ranges: tuple[tuple[int, int, int], ...]
    shrink: tuple[bool, ...]
    out_shape: tuple[int, ...]


def _bit(mask: int, i: int) -> bool:
    return 0 <= i < MASK_BITS and bool((mask >> i) & 1)


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(v, hi))


def _check_offset_form(op, shape, begin, end, strides, a) -> None:
    """offset (end is a size from begin: StableHLO's slice) as LiteRT runs it safely: one spec per
    dimension, positive strides, no mask, begin and begin + size inside the dimension. Measured on
    LiteRT 2.3: outside this it reads past the input (a size larger than the dimension is not
    clamped) or crashes (fewer specs than dimensions, ellipsis or new axes with offset)."""
    masks = [k for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask") if a[k]]
    if len(begin) != len(shape) or masks or any(st <= 0 for st in strides):
        raise UnsupportedError(
            f"{op.label}: offset needs one spec per dimension, positive strides and no masks "
            f"(has {len(begin)} specs for rank {len(shape)}, strides {strides}, masks {masks})"
        )
    for d, (b, e, n) in enumerate(zip(begin, end, shape, strict=True)):
        b = b + n if b < 0 else b
        if not (0 <= b < n and 0 <= e <= n - b):
            raise UnsupportedError(f"{op.label}: offset slice {begin[d]}:+{e} is outside dimension {d} of size {n}")


def resolve_strided_slice(
    op, shape: tuple[int, ...], begin: list[int], end: list[int], strides: list[int], a: dict, full: bool
) -> StridedSlice:
    """LiteRT's resolution (``full``: ellipsis_mask, new_axis_mask and offset honoured), or
    tflite-micro's (``full`` False: it reads begin/end/strides for the input's dimensions only
    and ignores those three options)."""
    rank = len(shape)
    begin_mask, end_mask, shrink_mask = (int(a[k]) for k in ("begin_mask", "end_mask", "shrink_axis_mask"))
    ellipsis, new_axis = (int(a["ellipsis_mask"]), int(a["new_axis_mask"])) if full else (0, 0)
    offset = bool(a["offset"]) if full else False
    if offset:
        _check_offset_form(op, shape, begin, end, strides, a)
    count = len(begin)
    if not full:
        if count < rank:
            raise UnsupportedError(
                f"{op.label}: begin/end/strides have {count} values for a rank-{rank} input "
                "(TFLite Micro reads one per input dimension)"
            )
        count = rank
    # LiteRT's BuildStridedSliceParams: new axes (not at an ellipsis) add dimensions of 1; the
    # ellipsis expands to the dimensions begin/end/strides leave unspecified
    n_new = sum(1 for i in range(count) if _bit(new_axis, i) and not _bit(ellipsis, i))
    dims = rank + n_new
    ell = [False] * dims
    new = [False] * dims
    ell_start, expand, i = dims, 0, 0
    while i < dims:
        if _bit(ellipsis, i):
            ell_start = i
            ell_end = max(i + 1, min(i + 1 + n_new + rank - count, dims))
            expand = ell_end - ell_start - 1
            for k in range(i, ell_end):
                ell[k] = True
            i = ell_end
            continue
        if _bit(new_axis, i - expand):
            new[i] = True
        i += 1
    eff_shape, ranges, shrink = [], [], []
    added_ell = added_axes = 0
    for i in range(dims):
        if ell[i] or (not new[i] and i >= count + expand):  # a whole input dimension
            added_ell = max(0, i - ell_start) if ell[i] else added_ell
            if i - added_axes >= rank:
                raise GraphError(f"{op.label}: begin/end/strides and masks address more dimensions than {rank}")
            n = shape[i - added_axes]
            eff_shape.append(n)
            ranges.append((0, n, 1))
            shrink.append(False)
            continue
        if new[i]:
            eff_shape.append(1)
            ranges.append((0, 1, 1))
            shrink.append(False)
            added_axes += 1
            continue
        k = i - added_ell  # the index into begin/end/strides and the mask bits
        if i - added_axes >= rank:
            raise GraphError(f"{op.label}: begin/end/strides and masks address more dimensions than {rank}")
        n = shape[i - added_axes]
        eff_shape.append(n)
        st = strides[k]
        if st == 0:
            raise GraphError(f"{op.label}: stride {k} is 0")
        s = begin[k] + n if begin[k] < 0 else begin[k]
        s = _clamp(s, 0, n) if st > 0 else _clamp(s, -1, n - 1)
        if _bit(begin_mask, k):
            s = 0 if st > 0 else n - 1
        if _bit(shrink_mask, k):
            # TFLite reads begin..begin+1 with the given stride's direction: a negative stride or an
            # index outside the dimension reads nothing and leaves the output unwritten
            if st < 0 or not 0 <= s < n:
                raise UnsupportedError(
                    f"{op.label}: shrink_axis index {begin[k]} with stride {st} selects no element of a "
                    f"dimension of {n} (TFLite leaves the output unwritten)"
                )
            ranges.append((s, s + 1, 1))
            shrink.append(True)
            continue
        e = end[k] + s if offset else end[k]
        e = e + n if e < 0 else e
        e = _clamp(e, 0, n) if st > 0 else _clamp(e, -1, n - 1)
        if _bit(end_mask, k):
            e = n if st > 0 else -1
        ranges.append((s, e, st))
        shrink.append(False)
    out = tuple(len(range(*r)) for r, sh in zip(ranges, shrink, strict=True) if not sh)
    return StridedSlice(tuple(eff_shape), tuple(ranges), tuple(shrink), out)


def strided_slice(op, full: bool = True) -> StridedSlice:
    """The STRIDED_SLICE of ``op`` resolved as LiteRT does (``full``) or tflite-micro does."""
    x = op.inputs[0]
    rank = len(x.shape)
    if rank > MAX_SLICE_DIMS:
        raise UnsupportedError(
            f"{op.label}: STRIDED_SLICE of a rank-{rank} input (picoml supports up to {MAX_SLICE_DIMS})"
        )
    begin, end, strides = (_vector(op, i, w) for i, w in ((1, "begin"), (2, "end"), (3, "strides")))
    if not len(begin) == len(end) == len(strides):
        raise GraphError(f"{op.label}: begin, end and strides have {len(begin)}, {len(end)}, {len(strides)} values")
    if len(begin) > MASK_BITS:
        raise GraphError(f"{op.label}: {len(begin)} slice specs, at most {MASK_BITS}")
    return resolve_strided_slice(op, x.shape, begin, end, strides, op.attrs, full)


def infer_strided_slice(op) -> list[tuple[int, ...]]:
    return [strided_slice(op).out_shape]


# ------------------------------------------------------------------ SLICE
def slice_ranges(op) -> list[tuple[int, int]]:
    """(begin, size) per dimension of a SLICE, size -1 resolved (tflite-micro's checks)."""
    x = op.inputs[0]
    rank = len(x.shape)
    if rank > MAX_SLICE_DIMS:
        raise UnsupportedError(f"{op.label}: SLICE of a rank-{rank} input (picoml supports up to {MAX_SLICE_DIMS})")
    for i in (1, 2):
        if op.inputs[i] is not None and op.inputs[i].data is not None and op.inputs[i].dtype != op.inputs[1].dtype:
            raise GraphError(f"{op.label}: begin and size must have one dtype")
    begin, size = _vector(op, 1, "begin", True), _vector(op, 2, "size", True)
    if len(begin) != rank or len(size) != rank:
        raise GraphError(f"{op.label}: begin and size need {rank} values, have {len(begin)} and {len(size)}")
    out = []
    for d, (b, s, n) in enumerate(zip(begin, size, x.shape, strict=True)):
        if not 0 <= b <= n:
            raise GraphError(f"{op.label}: begin {b} of dimension {d} is outside [0, {n}]")
        s = n - b if s == -1 else s
        if not 0 <= s <= n - b:
            raise GraphError(f"{op.label}: size {size[d]} of dimension {d} does not fit {n} values from {b}")
        out.append((b, s))
    return out


def infer_slice(op) -> list[tuple[int, ...]]:
    return [tuple(s for _, s in slice_ranges(op))]


# ------------------------------------------------------------------ SPLIT, SPLIT_V, UNPACK
def split_axis(op) -> int:
    """The normalized axis of SPLIT (IR input 1) or SPLIT_V (input 2)."""
    x = op.inputs[0]
    idx = 1 if len(op.inputs) == 2 else 2
    return _axis(op, _scalar(op, idx, "axis"), len(x.shape))


def split_sizes(op) -> list[int]:
    """Sizes along the split axis of each output of SPLIT or SPLIT_V."""
    x = op.inputs[0]
    ax = split_axis(op)
    n = x.shape[ax]
    if len(op.inputs) == 2:  # SPLIT
        k = int(op.attrs["num_splits"])
        _outputs(op, k, "num_splits")
        if k <= 0 or n % k:
            raise GraphError(f"{op.label}: dimension {ax} of size {n} does not split into {k} equal parts")
        return [n // k] * k
    sizes = _vector(op, 1, "size_splits", True)
    _outputs(op, len(sizes), "the number of size_splits")
    if int(op.attrs["num_splits"]) != len(sizes):
        raise GraphError(f"{op.label}: num_splits {op.attrs['num_splits']} != {len(sizes)} size_splits")
    if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
        raise GraphError(f"{op.label}: size_splits {sizes} may hold one -1 and otherwise sizes >= 0")
    if -1 in sizes:
        rest = n - sum(s for s in sizes if s != -1)
        if rest < 0:
            raise GraphError(f"{op.label}: size_splits {sizes} exceed dimension {ax} of size {n}")
        sizes[sizes.index(-1)] = rest
    if sum(sizes) != n:
        raise GraphError(f"{op.label}: size_splits {sizes} do not add up to dimension {ax} of size {n}")
    return sizes


def infer_split(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    ax = split_axis(op)
    return [tuple(s if i == ax else d for i, d in enumerate(x.shape)) for s in split_sizes(op)]


def unpack_axis(op) -> int:
    x = op.inputs[0]
    ax = _axis(op, int(op.attrs["axis"]), len(x.shape))
    if int(op.attrs["num"]) != x.shape[ax]:
        raise GraphError(f"{op.label}: num {op.attrs['num']} != dimension {ax} of size {x.shape[ax]}")
    _outputs(op, x.shape[ax], "num")
    return ax


def infer_unpack(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    ax = unpack_axis(op)
    return [tuple(d for i, d in enumerate(x.shape) if i != ax)] * x.shape[ax]


# ------------------------------------------------------------------ PACK
def pack_axis(op) -> int:
    x = op.inputs[0]
    if int(op.attrs["values_count"]) != len(op.inputs):
        raise GraphError(f"{op.label}: values_count {op.attrs['values_count']} != {len(op.inputs)} inputs")
    for t in op.inputs:
        if t.shape != x.shape:
            raise GraphError(f"{op.label}: input {t.name!r} shape {list(t.shape)} != {list(x.shape)}")
    return _axis(op, int(op.attrs["axis"]), len(x.shape) + 1)


def infer_pack(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    ax = pack_axis(op)
    return [x.shape[:ax] + (len(op.inputs),) + x.shape[ax:]]


# ------------------------------------------------------------------ TRANSPOSE
def transpose_perm(op) -> list[int]:
    x = op.inputs[0]
    rank = len(x.shape)
    if rank > MAX_TRANSPOSE_DIMS:
        raise UnsupportedError(f"{op.label}: TRANSPOSE of a rank-{rank} input (TFLite supports up to 6)")
    perm = _vector(op, 1, "perm")
    if sorted(perm) != list(range(rank)):
        raise GraphError(f"{op.label}: perm {perm} is not a permutation of the {rank} input dimensions")
    return perm


def infer_transpose(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    return [tuple(x.shape[p] for p in transpose_perm(op))]


# ------------------------------------------------------------------ SQUEEZE, EXPAND_DIMS
def infer_squeeze(op) -> list[tuple[int, ...]]:
    """Dimensions of size 1 named by squeeze_dims (all of them when it is empty) are dropped."""
    x = op.inputs[0]
    rank = len(x.shape)
    if rank > MAX_SQUEEZE_DIMS:
        raise UnsupportedError(f"{op.label}: SQUEEZE of a rank-{rank} input (TFLite Micro supports up to 8)")
    dims = op.attrs.get("squeeze_dims") or ()
    if not dims:
        return [tuple(d for d in x.shape if d != 1)]
    drop = set()
    for a in dims:
        ax = _axis(op, int(a), rank, "squeeze_dims entry")
        if x.shape[ax] != 1:
            raise GraphError(f"{op.label}: cannot squeeze dimension {ax} of size {x.shape[ax]}")
        drop.add(ax)
    return [tuple(d for i, d in enumerate(x.shape) if i not in drop)]


def infer_expand_dims(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    rank = len(x.shape)
    ax = _axis(op, _scalar(op, 1, "axis"), rank + 1)
    return [x.shape[:ax] + (1,) + x.shape[ax:]]
