"""C emitter for TILE (``pm_tile`` in ``pm_tile_s8``): int8, and any other dtype the generator
takes (float32, int32, bool): the kernel copies elements of the tensor's size in bytes, so
``emit_float.BYTE_OPS`` lists TILE and float32 models use this emitter unchanged.

Same pattern as ``emit_resize.py``; ``generate.py`` merges ``TILE_FILES`` and ``TILE_EMITTERS``
into its tables. The input's dims and the multiples (from the reference kernel's ``prepare``)
become two int32 arrays; the kernel copies bytes, so an int8 output shares the input's codes.
"""

from __future__ import annotations

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

TILE_FILES: dict[OpType, tuple[str, ...]] = {OpType.TILE: ("pm_tile_s8",)}


def emit_tile(c, op: Op, i: int) -> None:
    x, y = op.inputs[0], op.outputs[0]
    p = KERNELS[op.type].prepare(op)
    dims = c.const_array(f"l{i}_in_dims", np.array(x.shape, np.int32))
    mult = c.const_array(f"l{i}_multiples", np.array(p.multiples, np.int32))
    c.body.append(
        f"status |= pm_tile({len(x.shape)}, {dims}, {mult}, {x.np_dtype.itemsize}, {c.ptr(x, True)}, {c.ptr(y)});"
    )


TILE_EMITTERS = {OpType.TILE: emit_tile}
