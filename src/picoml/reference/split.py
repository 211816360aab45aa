"""SPLIT, SPLIT_V, UNPACK (one input, several outputs) and PACK (several inputs, one output).

Values are copied, never rescaled. tflite-micro's kernels (``split.cc``, ``split_v.cc``,
``unpack.cc``, ``pack.cc``) copy bytes without checking quantization parameters, so an int8
output holds its input's codes whatever parameters the tensors declare (LiteRT's PACK refuses
int8 inputs whose parameters differ from the output's; picoml's PTQ gives PACK's inputs the
output's parameters, as CONCATENATION's, and SPLIT/UNPACK outputs their input's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.graph.ir import Op
from picoml.graph.shape_ops import pack_axis, split_axis, split_sizes, unpack_axis


@dataclass(frozen=True)
class SplitParams:
    axis: int  # of the tensor (without the interpreter's batch axis)
    sizes: tuple[int, ...]  # of each output along the axis
    keep_axis: bool  # False for UNPACK: the axis is dropped


def prepare_split(op: Op) -> SplitParams:
    return SplitParams(split_axis(op), tuple(split_sizes(op)), True)


def prepare_unpack(op: Op) -> SplitParams:
    ax = unpack_axis(op)
    return SplitParams(ax, (1,) * op.inputs[0].shape[ax], False)


def evaluate_split(p: SplitParams, inputs: list[np.ndarray]) -> list[np.ndarray]:
    x = inputs[0]
    bounds = np.cumsum((0,) + p.sizes)
    parts = [np.take(x, np.arange(lo, hi), axis=p.axis + 1) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    if not p.keep_axis:
        parts = [np.squeeze(v, axis=p.axis + 1) for v in parts]
    return [np.ascontiguousarray(v) for v in parts]


@dataclass(frozen=True)
class PackParams:
    axis: int  # the new axis of the output (without the batch axis)


def prepare_pack(op: Op) -> PackParams:
    return PackParams(pack_axis(op))


def evaluate_pack(p: PackParams, inputs: list[np.ndarray]) -> np.ndarray:
    n = max(x.shape[0] for x in inputs)
    xs = [np.broadcast_to(x, (n,) + x.shape[1:]) for x in inputs]
    return np.stack(xs, axis=p.axis + 1)
