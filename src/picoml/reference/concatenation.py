"""CONCATENATION: values are copied; int8 inputs share the output's quantization (TFLM)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import concat_axis


@dataclass(frozen=True)
class ConcatParams:
    axis: int  # axis of the tensor (without the interpreter's batch axis)


def prepare(op: Op) -> ConcatParams:
    y = op.outputs[0]
    if y.dtype == "int8":
        # values are copied, never rescaled: TFLM fails Prepare unless every input has exactly the
        # output's scale (float32 equality) and zero point
        sy, zy = np.float32(y.scale[0]), int(y.zero_point[0])
        for x in op.inputs:
            sx, zx = np.float32(x.scale[0]), int(x.zero_point[0])
            if sx != sy or zx != zy:
                raise UnsupportedError(
                    f"{op.label}: int8 CONCATENATION input {x.name!r} (scale {float(sx):.9g}, zero point {zx}) "
                    f"does not share the output's quantization (scale {float(sy):.9g}, zero point {zy}), "
                    "as TFLite Micro requires"
                )
    return ConcatParams(concat_axis(op))


def evaluate(p: ConcatParams, inputs: list[np.ndarray]) -> np.ndarray:
    n = max(x.shape[0] for x in inputs)
    xs = [np.broadcast_to(x, (n,) + x.shape[1:]) for x in inputs]
    return np.concatenate(xs, axis=p.axis + 1)
