"""GATHER reference kernel: slices of input 0 at int32 positions along an axis.

Source: tflite-micro ``micro/kernels/gather.cc`` (GatherPrepare, Gather). Input 0 is viewed as
[batch, outer, axis_size, inner] and the positions as [batch, coords] (``batch_dims`` leading
dimensions shared, ``graph.reduce_ops.gather_geometry``); ``out[b, o, c, :] = in[b, o, pos[b, c], :]``,
the output shape in[:axis] + pos[batch_dims:] + in[axis + 1:]. Values are copied (int8 bytes with
the input's quantization: PTQ gives the output the same parameters; float32 bit for bit). Positions
may be constant (checked when the graph is validated) or computed (ARG_MAX's output, a model input):
tflite-micro fails the inference on a position outside [0, axis_size), and so does picoml
(``InputError``), as the C kernel does (``pm_gather_s8`` returns an error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import InputError
from picoml.graph.ir import Op
from picoml.graph.reduce_ops import GatherGeometry, gather_geometry


@dataclass(frozen=True)
class GatherParams:
    label: str
    geometry: GatherGeometry
    out_shape: tuple[int, ...]


def prepare(op: Op) -> GatherParams:
    return GatherParams(op.label, gather_geometry(op), tuple(op.outputs[0].shape))


def evaluate(p: GatherParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, pos = inputs
    g = p.geometry
    n = max(x.shape[0], pos.shape[0])
    bad = (pos < 0) | (pos >= g.axis_size)
    if bad.any():
        raise InputError(f"{p.label}: position {int(pos[bad][0])} is out of range [0, {g.axis_size})")
    xs = x.reshape(x.shape[0], g.batch, g.outer, g.axis_size, g.inner)
    idx = pos.reshape(pos.shape[0], g.batch, 1, g.coords, 1).astype(np.intp)
    idx = np.broadcast_to(idx, (n, g.batch, g.outer, g.coords, g.inner))
    xs = np.broadcast_to(xs, (n, g.batch, g.outer, g.axis_size, g.inner))
    return np.take_along_axis(xs, idx, axis=3).reshape((n,) + p.out_shape)
