"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND reference kernels: whole channel vectors moved between
pixels, as a table of source pixels.

Sources: tflite-micro ``micro/kernels/space_to_batch_nd.cc``, ``batch_to_space_nd.cc`` and
``reference/space_to_batch_nd.h``, ``reference/batch_to_space_nd.h``. A rank-3 input (N, H, C) is
(N, H, 1, C) with a block width of 1. ``prepare`` lists, per output pixel (batch, row, column), the
input pixel whose C values it copies, or -1 for the pad value; the interpreter and the C kernel
(``pm_pixel_copy_s8``, ``codegen/emit_extra.py``) both read that table.

- SPACE_TO_BATCH_ND: output batch ``ob`` reads input batch ``ob % N`` at row ``oh·bh + (ob / N) / bw
  - top`` and column ``ow·bw + (ob / N) % bw - left``; outside the input: the pad value, a real 0 —
  the output zero point for int8, 0.0 for float32, as LiteRT. tflite-micro's kernel ``memset``s the
  padding with ``SpaceToBatchParams.output_offset``, which its Prepare never sets: the padding is
  whatever byte the persistent buffer held (0 in a fresh process, other bytes — even in float32
  outputs — after other models ran; pinned in tests/kernels/test_space_batch.py). picoml agrees with
  tflite-micro everywhere else and with LiteRT everywhere.
- BATCH_TO_SPACE_ND: input batch ``ib`` writes output batch ``ib % N_out`` at row ``ih·bh + (ib /
  N_out) / bw - top`` and column ``iw·bw + (ib / N_out) % bw - left``, cropped to the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.extra_ops import block_geometry
from picoml.graph.ir import Op
from picoml.graph.ops import OpType


@dataclass(frozen=True)
class PixelCopyParams:
    table: tuple[int, ...]  # per output pixel: the input pixel, -1 for the pad value
    depth: int  # values per pixel (the channels)
    value: float | int  # the pad value
    out_shape: tuple[int, ...]

    @property
    def padded(self) -> bool:
        return min(self.table, default=0) < 0


def _nhwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    return (shape[0], shape[1], shape[2], shape[3]) if len(shape) == 4 else (shape[0], shape[1], 1, shape[2])


def prepare(op: Op) -> PixelCopyParams:
    x, y = op.inputs[0], op.outputs[0]
    n, h, w, c = _nhwc(tuple(x.shape))
    on, oh, ow, _ = _nhwc(tuple(y.shape))
    s2b = op.type == OpType.SPACE_TO_BATCH_ND
    (bh, bw), ((top, _), (left, _)) = block_geometry(op, "paddings" if s2b else "crops")
    if s2b:
        ob, r, col = np.meshgrid(np.arange(on), np.arange(oh), np.arange(ow), indexing="ij")
        shift = ob // n
        ih = r * bh + shift // bw - top
        iw = col * bw + shift % bw - left
        inside = (ih >= 0) & (ih < h) & (iw >= 0) & (iw < w)
        table = np.where(inside, ((ob % n) * h + ih) * w + iw, -1).reshape(-1)
        value = int(y.zero_point[0]) if x.dtype == "int8" and y.quantized else 0.0  # a real 0, as LiteRT
    else:
        ib, r, col = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), indexing="ij")
        shift = ib // on
        orow = r * bh + shift // bw - top
        ocol = col * bw + shift % bw - left
        keep = (orow >= 0) & (orow < oh) & (ocol >= 0) & (ocol < ow)
        table = np.full(on * oh * ow, -1, np.int64)
        dest = (((ib % on) * oh + orow) * ow + ocol)[keep]
        table[dest] = ((ib * h + r) * w + col)[keep]
        if (table < 0).any():
            raise AssertionError(f"{op.label}: an output pixel has no source")
        value = 0
    return PixelCopyParams(tuple(int(v) for v in table), c, value, tuple(y.shape))


def evaluate(p: PixelCopyParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    xs = x.reshape(x.shape[0], -1, p.depth)
    t = np.asarray(p.table, np.int64)
    out = xs[:, np.maximum(t, 0)]
    if p.padded:
        out = np.where((t < 0)[None, :, None], np.asarray(p.value).astype(x.dtype), out)
    return out.reshape((x.shape[0],) + p.out_shape)
