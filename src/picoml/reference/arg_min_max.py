"""ARG_MAX and ARG_MIN reference kernels: int32 indices along one axis.

Sources: tflite-micro ``micro/kernels/arg_min_max.cc`` and the reference
``kernels/internal/reference/arg_min_max.h`` (``ArgMinMax`` with ``GreaterFn`` / ``LessFn``).
For every position of the other axes the kernel starts at index 0 and moves to index i only
when value i is strictly greater (ARG_MAX) or strictly smaller (ARG_MIN) than the value held:
ties keep the first index. int8 compares the raw codes (no quantization is involved: the output
is an index, and the input's scale is positive, so the order of the codes is the order of the
values). float32: a NaN never wins a comparison, so a NaN at index 0 is kept and a later NaN
is skipped. The axis is a constant holding one value (``graph.reduce_ops.arg_axis``); the output
is the input's shape without that axis. tflite-micro returns int32 only (``output_type`` 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.graph.reduce_ops import arg_axis


@dataclass(frozen=True)
class ArgParams:
    is_max: bool
    axis: int  # of the tensor (the batch axis not counted)
    out_shape: tuple[int, ...]


def prepare(op: Op) -> ArgParams:
    return ArgParams(op.type == OpType.ARG_MAX, arg_axis(op), tuple(op.outputs[0].shape))


def evaluate(p: ArgParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    ax = p.axis + 1  # skip the interpreter's batch axis
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        v = np.where(nan, -np.inf if p.is_max else np.inf, x)  # a later NaN is never selected
        idx = np.argmax(v, axis=ax) if p.is_max else np.argmin(v, axis=ax)
        first_nan = np.take(nan, 0, axis=ax)  # ... and one at index 0 is never replaced
        idx = np.where(first_nan, 0, idx)
    else:
        idx = np.argmax(x, axis=ax) if p.is_max else np.argmin(x, axis=ax)  # numpy: first index on ties
    return idx.astype(np.int32).reshape((x.shape[0],) + p.out_shape)
