"""Shape inference and dtype rules of TILE (builtin 69, no options; issue 14).

``graph/ops.py`` registers it (its ``OpDef`` is built here). tflite-micro has no TILE kernel: the
rules are LiteRT's (``lite/kernels/tile.cc``): inputs (data, multiples), multiples a 1-D int32 or
int64 tensor with one value per input dimension, output dimension k = input dimension k ·
multiples[k], output type = input type. picoml also needs multiples constant (a static arena),
every multiple ≥ 1, rank ≤ ``TILE_MAX_RANK`` and an output of at most ``MAX_TILE_BYTES``.

int8 TILE copies codes: PTQ gives the output the input's parameters (``Int8Output.SHARED``); a
file whose output has other parameters still gets the codes copied, as LiteRT does (its Prepare
checks only the types; tests/kernels/test_tile.py pins it). The reference interpreter runs a
separate leading batch axis over the graph's own shapes, so any multiple of the batch dimension
is fine.
"""

from __future__ import annotations

import math

import numpy as np

from picoml.errors import GraphError, UnsupportedError

TILE_MAX_RANK = 6
#: largest TILE output (elements): graph/limits.py's DEFAULT_MAX_MEMORY (not imported: limits imports the IR)
MAX_TILE_ELEMENTS = 256 << 20
TILE_DTYPES = ("int8", "int32", "float32", "bool")


def tile_multiples(op) -> tuple[int, ...]:
    """The constant ``multiples`` input of a TILE op, checked against its input's rank."""
    x = op.inputs[0]
    t = op.inputs[1] if len(op.inputs) > 1 else None
    if t is None or t.data is None:
        raise UnsupportedError(f"{op.label}: multiples (input 1) must be a constant tensor")
    if t.dtype not in ("int32", "int64"):
        raise GraphError(f"{op.label}: multiples {t.name!r} must be int32 or int64, is {t.dtype}")
    rank = len(x.shape)
    if len(t.shape) != 1 or int(t.shape[0]) != rank:
        raise GraphError(
            f"{op.label}: multiples {t.name!r} must be 1-D with {rank} values (the input's rank), "
            f"has shape {list(t.shape)}"
        )
    v = np.asarray(t.data).astype(np.int64).reshape(-1)
    if (v < 1).any() or (v > 2**31 - 1).any():
        raise UnsupportedError(f"{op.label}: multiples {v.tolist()} must all be in 1..2^31-1")
    return tuple(int(m) for m in v)


def infer_tile(op) -> list[tuple[int, ...]]:
    x = tuple(int(d) for d in op.inputs[0].shape)
    if not 1 <= len(x) <= TILE_MAX_RANK:
        raise UnsupportedError(f"{op.label}: input rank {len(x)} outside 1..{TILE_MAX_RANK}")
    m = tile_multiples(op)
    out = tuple(d * k for d, k in zip(x, m, strict=True))
    if math.prod(out) > MAX_TILE_ELEMENTS:
        raise UnsupportedError(f"{op.label}: output {list(out)} has more than {MAX_TILE_ELEMENTS} elements")
    return [out]


def check_tile(op) -> None:
    x, y = op.inputs[0], op.outputs[0]
    if x.dtype not in TILE_DTYPES:
        raise UnsupportedError(f"{op.label}: input {x.name!r} is {x.dtype}; TILE takes {', '.join(TILE_DTYPES)}")
    if y.dtype != x.dtype:
        raise GraphError(f"{op.label}: output {y.name!r} is {y.dtype}, input {x.name!r} is {x.dtype} (must match)")
    for t in (x, y):
        if t.dtype == "int8" and (not t.quantized or t.per_axis):
            raise GraphError(f"{op.label}: int8 tensor {t.name!r} needs per-tensor quantization")
        if t.dtype != "int8" and t.quantized and t.dtype != "int32":
            raise GraphError(f"{op.label}: {t.dtype} tensor {t.name!r} cannot be quantized")


def op_defs(OpDef, OpType, Int8Output) -> list:  # noqa: N803 (classes)
    return [
        OpDef(OpType.TILE, 69, 0, (), 2, 2, infer_tile,
              "repeat the input multiples[k] times along each axis k (constant multiples)",
              check_types=check_tile, int8_version=1, shape_inputs=frozenset({1}),
              int8_output=Int8Output.SHARED),
    ]  # fmt: skip
