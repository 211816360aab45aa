"""MIRROR_PAD, PADV2 and REVERSE_V2: outputs whose every element is an input element picked
independently along each dimension (or a constant pad value).

Sources: tflite-micro ``micro/kernels/mirror_pad.cc`` (GetInputDimension), ``pad_common.cc`` /
``reference/pad.h`` and ``micro/kernels/reverse.cc`` with ``reference/reverse.h``. Each op is,
per output dimension ``d``, a table ``t_d`` of input indices (``-1``: the pad value), and
``out[i0, i1, ...] = in[t_0[i0], t_1[i1], ...]``. The tables are computed once here; the
interpreter indexes with them and the C kernel (``pm_axis_gather``, ``codegen/emit_extra.py``)
walks the same tables, so the two cannot disagree on an index.

- MIRROR_PAD: left of the input, output index ``i`` reads ``lo + offset - 1 - i``; right of it,
  ``n - 1 - offset - j`` (``j`` counted from the input's end), ``offset`` 1 for REFLECT (the edge
  is not repeated) and 0 for SYMMETRIC. Paddings beyond ``n - offset`` make tflite-micro read
  outside the input; graph/extra_ops.py refuses them.
- PADV2: PAD with a given value: input 2 (one element, a constant; int8 quantized as the output,
  tflite-micro's rule) or, without it, the output zero point (int8) / 0.0.
- REVERSE_V2: ``n - 1 - i`` along each listed axis.

Values are copied: int8 codes keep the input's parameters (PTQ gives the output the same), float32
bits are copied exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.extra_ops import paddings, reverse_axes
from picoml.graph.ir import Op
from picoml.graph.ops import OpType


@dataclass(frozen=True)
class AxisGatherParams:
    tables: tuple[tuple[int, ...], ...]  # per output dimension: input index, -1 for the pad value
    value: float | int  # the pad value without input 2 (int8 code or float32); input 2 is read by evaluate
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def padded(self) -> bool:
        return any(min(t, default=0) < 0 for t in self.tables)


def mirror_table(n: int, lo: int, hi: int, offset: int) -> list[int]:
    left = [lo + offset - 1 - i for i in range(lo)]
    right = [n - 1 - offset - j for j in range(hi)]
    return left + list(range(n)) + right


def _pad_value(op: Op) -> float | int:
    """Without input 2: the output zero point (int8) or 0.0; with it, its value (read by evaluate)."""
    x, y = op.inputs[0], op.outputs[0]
    return int(y.zero_point[0]) if x.dtype == "int8" and y.quantized else 0.0


def pad_value(op: Op) -> float | int:
    """PADV2's pad value as the generated C writes it: input 2's (a constant) or the default."""
    v = op.inputs[2] if len(op.inputs) > 2 else None
    if v is None:
        return _pad_value(op)
    data = np.asarray(v.data).reshape(-1)[0]
    return int(data) if op.inputs[0].dtype == "int8" else float(np.float32(data))


def prepare(op: Op) -> AxisGatherParams:
    x, y = op.inputs[0], op.outputs[0]
    shape = tuple(int(n) for n in x.shape)
    value: float | int = 0
    if op.type == OpType.REVERSE_V2:
        axes = reverse_axes(op)
        tables = [list(range(n))[::-1] if d in axes else list(range(n)) for d, n in enumerate(shape)]
    elif op.type == OpType.MIRROR_PAD:
        offset = 1 if op.attrs["mode"] == 0 else 0
        p = paddings(op)
        tables = [mirror_table(n, int(lo), int(hi), offset) for n, (lo, hi) in zip(shape, p, strict=True)]
    else:  # PADV2
        p = paddings(op)
        tables = [[-1] * int(lo) + list(range(n)) + [-1] * int(hi) for n, (lo, hi) in zip(shape, p, strict=True)]
        value = _pad_value(op)
    return AxisGatherParams(tuple(tuple(t) for t in tables), value, shape, tuple(int(n) for n in y.shape))


def evaluate(p: AxisGatherParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    out = x
    mask = None
    for d, t in enumerate(p.tables):
        idx = np.asarray(t, np.int64)
        out = np.take(out, np.maximum(idx, 0), axis=d + 1)
        if (idx < 0).any():
            m = (idx < 0).reshape((1,) * (d + 1) + (-1,) + (1,) * (len(p.tables) - d - 1))
            mask = m if mask is None else (mask | m)
    if mask is not None:
        value = np.asarray(p.value).astype(x.dtype)
        if len(inputs) > 2 and inputs[2] is not None:  # PADV2's value: one per sample (or a constant)
            v = inputs[2]
            value = v.reshape((v.shape[0],) + (1,) * len(p.tables)).astype(x.dtype)
        out = np.where(mask, value, out)
    return np.ascontiguousarray(out)
