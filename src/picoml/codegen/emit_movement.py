"""C emitters of the data-movement ops: STRIDED_SLICE, SLICE, TRANSPOSE, SPLIT, SPLIT_V, UNPACK,
PACK, SQUEEZE and EXPAND_DIMS. ``generate.py`` merges ``MOVEMENT_FILES`` and ``MOVEMENT_EMITTERS``
into its tables.

Every op whose output elements are input elements at computable places is one generic kernel,
``pm_strided_copy`` (runtime/pm_strided_copy.[ch]): the index arithmetic is done here, once, from
the reference kernel's ``prepare`` (the same resolution the interpreter runs), as at most
PM_MAX_DIMS loops of (extent, input byte stride) over runs of contiguous bytes. Dimensions of one
value drop out, dimensions that continue each other merge, and an innermost contiguous dimension
becomes the run, so a slice of rows is one ``memcpy`` per row and a plain copy one ``memcpy``.
SPLIT, SPLIT_V and UNPACK are one such copy per output; PACK is CONCATENATION's
``pm_concatenation_s8`` (each input is ``outer`` blocks of its bytes side by side). SQUEEZE and
EXPAND_DIMS are RESHAPEs: the memory plan gives them their input's bytes (``OpDef.aliases_input``)
and they emit no code.

The loops are in bytes, so the kernels serve any element size; every descriptor is checked
against the reference's source indices before it is written (``check_loops``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference.slicing import GatherParams, source_index

MAX_DIMS = 6  # PM_MAX_DIMS in pm_common.h

COPY_FILE = "pm_strided_copy"
MOVEMENT_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.STRIDED_SLICE: (COPY_FILE,),
    OpType.SLICE: (COPY_FILE,),
    OpType.TRANSPOSE: (COPY_FILE,),
    OpType.SPLIT: (COPY_FILE,),
    OpType.SPLIT_V: (COPY_FILE,),
    OpType.UNPACK: (COPY_FILE,),
    OpType.PACK: ("pm_data_s8",),
    OpType.SQUEEZE: (),
    OpType.EXPAND_DIMS: (),
}


@dataclass(frozen=True)
class CopyLoops:
    """A pm_strided_copy_params record: loops (outermost first) of (extent, input byte stride), the
    input byte offset of the first run and the bytes of one run."""

    extent: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int
    run: int

    def fields(self) -> dict:
        fill = [0] * (MAX_DIMS - len(self.extent))
        return {
            "rank": len(self.extent),
            "extent": list(self.extent) + fill,
            "stride": list(self.stride) + fill,
            "offset": self.offset,
            "run": self.run,
        }


def copy_loops(dims: list[tuple[int, int]], offset: int, itemsize: int, what: str) -> CopyLoops:
    """Loops of (extent, element stride) over the output, outermost first, starting at element
    ``offset``, as the fewest byte loops: extents of 1 dropped, a dimension that continues the next
    (stride = next stride × next extent) merged into it, an innermost unit-stride dimension made
    the run."""
    loops: list[list[int]] = []
    for n, s in dims:
        if n == 1:
            continue
        if loops and loops[-1][1] == s * n:  # the previous loop continues this one
            loops[-1] = [loops[-1][0] * n, s]
        else:
            loops.append([n, s])
    run = itemsize
    if loops and loops[-1][1] == 1:
        run *= loops.pop()[0]
    if len(loops) > MAX_DIMS:
        raise UnsupportedError(f"{what}: needs {len(loops)} copy loops, the C runtime has {MAX_DIMS}")
    return CopyLoops(tuple(n for n, _ in loops), tuple(s * itemsize for _, s in loops), offset * itemsize, run)


def gather_loops(p: GatherParams, itemsize: int, what: str) -> CopyLoops:
    """The loops of a reference gather: dimension d of the (indexed) input reads
    ``index[d] = start + k·step``; the output visits the dimensions in ``perm`` order."""
    strides = [math.prod(p.in_shape[d + 1 :]) for d in range(len(p.in_shape))]
    prog = []
    for d, idx in enumerate(p.index):
        step = int(idx[1] - idx[0]) if len(idx) > 1 else 1
        if len(idx) and not np.array_equal(idx, idx[0] + step * np.arange(len(idx))):
            raise AssertionError(f"{what}: index of dimension {d} is not an arithmetic progression")
        prog.append((int(idx[0]) if len(idx) else 0, step, len(idx)))
    offset = sum(start * strides[d] for d, (start, _, _) in enumerate(prog))
    dims = [(prog[d][2], prog[d][1] * strides[d]) for d in p.perm]
    return copy_loops(dims, offset, itemsize, what)


def loop_bytes(loops: CopyLoops) -> np.ndarray:
    """The input byte each output byte comes from, in output order (what pm_strided_copy reads)."""
    pos = np.array([loops.offset], np.int64)
    for n, s in zip(loops.extent, loops.stride, strict=True):
        pos = (pos[:, None] + s * np.arange(n, dtype=np.int64)[None, :]).reshape(-1)
    return (pos[:, None] + np.arange(loops.run, dtype=np.int64)[None, :]).reshape(-1)


def check_loops(loops: CopyLoops, p: GatherParams, itemsize: int, what: str) -> None:
    want = (source_index(p)[:, None] * itemsize + np.arange(itemsize)[None, :]).reshape(-1)
    if not np.array_equal(loop_bytes(loops), want):
        raise AssertionError(f"{what}: copy loops do not read the reference's elements")


def _src(c, t: Tensor, sym: str) -> str:
    return f"(const int8_t *){c.const_array(sym, t.data)}" if t.data is not None else c.ptr(t, True)


def _copy(c, p: GatherParams, x: Tensor, y: Tensor, sym: str, what: str, src: str) -> None:
    loops = gather_loops(p, x.np_dtype.itemsize, what)
    check_loops(loops, p, x.np_dtype.itemsize, what)
    prm = c.struct("pm_strided_copy_params", sym, loops.fields())
    c.body.append(f"status |= pm_strided_copy(&{prm}, {src}, {c.ptr(y)});")


def emit_gather(c, op: Op, i: int) -> None:
    """STRIDED_SLICE, SLICE, TRANSPOSE: one strided copy."""
    p = KERNELS[op.type].prepare(op)
    x = op.inputs[0]
    _copy(c, p, x, op.outputs[0], f"l{i}_copy", op.label, _src(c, x, f"l{i}_in"))


def emit_split(c, op: Op, i: int) -> None:
    """SPLIT, SPLIT_V, UNPACK: one strided copy per output (a slice along the axis)."""
    p = KERNELS[op.type].prepare(op)
    x = op.inputs[0]
    src = _src(c, x, f"l{i}_in")
    full = [np.arange(n, dtype=np.int64) for n in x.shape]
    lo = 0
    for k, (y, size) in enumerate(zip(op.outputs, p.sizes, strict=True)):
        idx = full[: p.axis] + [np.arange(lo, lo + size, dtype=np.int64)] + full[p.axis + 1 :]
        g = GatherParams(x.shape, tuple(idx), tuple(range(len(x.shape))), y.shape)
        _copy(c, g, x, y, f"l{i}_copy{k}", f"{op.label} output {k}", src)
        lo += size


def emit_pack(c, op: Op, i: int) -> None:
    """PACK: each input is ``outer`` blocks of its bytes, side by side (pm_concatenation_s8)."""
    p = KERNELS[op.type].prepare(op)
    x = op.inputs[0]
    outer = math.prod(x.shape[: p.axis])
    inner = math.prod(x.shape[p.axis :]) * x.np_dtype.itemsize
    sizes = c.const_array(f"l{i}_inner", np.full(len(op.inputs), inner, np.int32))
    ptrs = ", ".join(_src(c, t, f"l{i}_in{k}") for k, t in enumerate(op.inputs))
    c.body.append(f"{{ const int8_t *const ins[{len(op.inputs)}] = {{{ptrs}}};")
    c.body.append(
        f"  status |= pm_concatenation_s8({len(op.inputs)}, {outer}, {sizes}, ins, {c.ptr(op.outputs[0])}); }}"
    )


def emit_alias(c, op: Op, i: int) -> None:
    """SQUEEZE, EXPAND_DIMS: the input's bytes with a new shape (a copy only if the plan split them)."""
    x, y = op.inputs[0], op.outputs[0]
    if x.data is not None:
        c.body.append(f"memcpy({c.ptr(y)}, {c.const_array(f'l{i}_in', x.data)}, {x.nbytes});")
    elif c.plan.offset_of(x) != c.plan.offset_of(y):
        c.body.append(f"memmove({c.ptr(y)}, {c.ptr(x, True)}, {x.nbytes});")


MOVEMENT_EMITTERS = {
    OpType.STRIDED_SLICE: emit_gather,
    OpType.SLICE: emit_gather,
    OpType.TRANSPOSE: emit_gather,
    OpType.SPLIT: emit_split,
    OpType.SPLIT_V: emit_split,
    OpType.UNPACK: emit_split,
    OpType.PACK: emit_pack,
    OpType.SQUEEZE: emit_alias,
    OpType.EXPAND_DIMS: emit_alias,
}
