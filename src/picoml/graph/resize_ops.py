"""Shape inference of the ops that change spatial size: RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR,
TRANSPOSE_CONV, DEPTH_TO_SPACE and SPACE_TO_DEPTH.

``graph/ops.py`` registers them (their ``OpDef.infer`` is here). The rules are tflite-micro's
Prepare functions (``micro/kernels/resize_nearest_neighbor.cc``, ``resize_bilinear.cc``,
``transpose_conv.cc``, ``depth_to_space_common.cc``, ``space_to_depth_common.cc``): every
argument is checked before it is used, with a one-line error naming the op.

TRANSPOSE_CONV keeps the data input first in the IR, as every op does: IR inputs are
(input, weights, output_shape, bias); a ``.tflite`` file lists (output_shape, weights, input,
bias), and the reader and writer swap them (``OpDef.tflite_inputs``).
"""

from __future__ import annotations

import numpy as np

from picoml.errors import GraphError, UnsupportedError

#: largest output height or width picoml resizes to (the C kernels index rows with int16 tables)
MAX_RESIZE_DIM = 1 << 14
#: largest block size of DEPTH_TO_SPACE / SPACE_TO_DEPTH
MAX_BLOCK = 1 << 10
#: TRANSPOSE_CONV input indices in the IR
TC_INPUT, TC_WEIGHTS, TC_SHAPE, TC_BIAS = 0, 1, 2, 3


def _rank4(op, t, what: str) -> tuple[int, ...]:
    if t is None or len(t.shape) != 4:
        shape = None if t is None else list(t.shape)
        raise GraphError(f"{op.label}: {what} must have rank 4, has shape {shape}")
    return tuple(int(d) for d in t.shape)


def _const_int32(op, idx: int, what: str, count: int) -> list[int]:
    t = op.inputs[idx] if idx < len(op.inputs) else None
    if t is None or t.data is None:
        raise UnsupportedError(f"{op.label}: {what} (input {idx}) must be a constant tensor (tflite-micro's rule)")
    if t.dtype != "int32":
        raise GraphError(f"{op.label}: {what} {t.name!r} must be int32, is {t.dtype}")
    if len(t.shape) != 1 or t.shape[0] != count:
        raise GraphError(
            f"{op.label}: {what} {t.name!r} must be a 1-D tensor of {count} values, has shape {list(t.shape)}"
        )
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def resize_size(op) -> tuple[int, int]:
    """(output height, output width) of a RESIZE op: its constant ``size`` input."""
    h, w = _const_int32(op, 1, "size", 2)
    if not (0 < h <= MAX_RESIZE_DIM and 0 < w <= MAX_RESIZE_DIM):
        raise UnsupportedError(f"{op.label}: output size {h}x{w} outside 1..{MAX_RESIZE_DIM}")
    return h, w


def infer_resize_nearest(op) -> list[tuple[int, ...]]:
    n, ih, iw, c = _rank4(op, op.inputs[0], "input")
    if max(ih, iw) > MAX_RESIZE_DIM:
        raise UnsupportedError(f"{op.label}: input {ih}x{iw} larger than {MAX_RESIZE_DIM} along an axis")
    oh, ow = resize_size(op)
    return [(n, oh, ow, c)]


def infer_resize_bilinear(op) -> list[tuple[int, ...]]:
    if op.attrs["align_corners"] and op.attrs["half_pixel_centers"]:  # tflite-micro's Prepare fails
        raise UnsupportedError(f"{op.label}: align_corners and half_pixel_centers together (tflite-micro refuses)")
    return infer_resize_nearest(op)


def transpose_conv_padding(op) -> tuple[int, int]:
    """(pad_h, pad_w): tflite-micro computes them as a forward convolution's SAME / VALID padding
    of the *output* (ComputePaddingHeightWidth with dilation 1); the odd row goes at the end."""
    _, oh, ow, _ = op.outputs[0].shape
    _, kh, kw, _ = op.inputs[TC_WEIGHTS].shape
    a = op.attrs
    if a["padding"] != "SAME":
        return 0, 0
    pads = []
    for size, k, s in ((oh, kh, a["stride_h"]), (ow, kw, a["stride_w"])):
        out = (size + s - 1) // s
        pads.append(max((out - 1) * s + k - size, 0) // 2)
    return pads[0], pads[1]


def infer_transpose_conv(op) -> list[tuple[int, ...]]:
    n, ih, iw, ic = _rank4(op, op.inputs[TC_INPUT], "input")
    oc, kh, kw, wic = _rank4(op, op.inputs[TC_WEIGHTS], "weights")
    a = op.attrs
    for k in ("stride_h", "stride_w"):
        if a[k] <= 0:
            raise GraphError(f"{op.label}: {k} must be positive, is {a[k]}")
    if wic != ic:
        raise GraphError(f"{op.label}: input has {ic} channels, weights {op.inputs[TC_WEIGHTS].name!r} expect {wic}")
    shape = _const_int32(op, TC_SHAPE, "output_shape", 4)
    if shape[0] != n or shape[3] != oc or min(shape) <= 0:
        raise GraphError(
            f"{op.label}: output_shape {shape} must be positive with batch {n} and {oc} channels (the weights' O)"
        )
    oh, ow = shape[1], shape[2]
    for what, size, out, k, st in (("height", ih, oh, kh, a["stride_h"]), ("width", iw, ow, kw, a["stride_w"])):
        # LiteRT's Prepare: the input is what a forward convolution of the output would produce
        # (tflite-micro does not check; every converter-made model satisfies it)
        fwd = (out + st - 1) // st if a["padding"] == "SAME" else (out - k + st) // st
        if fwd != size:
            raise GraphError(
                f"{op.label}: input {what} {size} does not match output {what} {out} with a {k}-tap filter, "
                f"stride {st} and {a['padding']} padding (expected {fwd})"
            )
    if kh <= 0 or kw <= 0 or kh > 2 * oh + 64 or kw > 2 * ow + 64:
        raise UnsupportedError(f"{op.label}: a {kh}x{kw} filter for a {oh}x{ow} output is outside what picoml runs")
    if max(a["stride_h"] * ih, a["stride_w"] * iw) > (1 << 20):
        raise UnsupportedError(
            f"{op.label}: strides {a['stride_h']}x{a['stride_w']} on a {ih}x{iw} input are too large"
        )
    return [tuple(shape)]


def _block(op) -> int:
    b = op.attrs["block_size"]
    if not 0 < b <= MAX_BLOCK:
        raise GraphError(f"{op.label}: block_size must be in 1..{MAX_BLOCK}, is {b}")
    return b


def infer_depth_to_space(op) -> list[tuple[int, ...]]:
    n, h, w, c = _rank4(op, op.inputs[0], "input")
    b = _block(op)
    if c % (b * b):
        raise GraphError(f"{op.label}: {c} input channels are not a multiple of block_size² = {b * b}")
    return [(n, h * b, w * b, c // (b * b))]


def infer_space_to_depth(op) -> list[tuple[int, ...]]:
    n, h, w, c = _rank4(op, op.inputs[0], "input")
    b = _block(op)
    if h % b or w % b:
        raise GraphError(f"{op.label}: input {h}x{w} is not a multiple of block_size {b}")
    return [(n, h // b, w // b, c * b * b)]
