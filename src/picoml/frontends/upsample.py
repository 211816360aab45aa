"""Lowering of upsampling layers shared by the PyTorch and ONNX front-ends: resizes, transposed
convolutions and depth/space rearrangements onto RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR,
TRANSPOSE_CONV, DEPTH_TO_SPACE and SPACE_TO_DEPTH.

- ``nearest_flags``: a framework's nearest-neighbour source indices (computed by its own rule)
  against TFLite's four (align_corners, half_pixel_centers) variants; the first that picks the
  same source pixel everywhere is exact, and none means the layer is refused.
- ``transpose_conv_plan``: a framework's explicit transposed-convolution padding (leading crop
  ``begin``, output size) as TFLite's SAME or VALID. TFLite derives its leading padding from
  the output size as a forward convolution's SAME padding, so PyTorch's ``padding=p,
  output_padding=op`` is generally not SAME as it stands; appending ``extra`` zero taps to the
  filter moves TFLite's padding onto ``p`` without changing any sum (a 3x3 stride-2
  ``padding=1, output_padding=1`` layer becomes a 4x4 SAME one whose last row and column are
  zero).
- ``GraphBuilder`` helpers that emit the ops (``emit_resize``, ``emit_transpose_conv``).
"""

from __future__ import annotations

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Tensor
from picoml.graph.ops import OP_SET, OpType
from picoml.reference.resize import nearest_indices

F32 = np.float32


def tflite_scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    """The float32 scale TFLite's resize kernels compute from the sizes."""
    if align_corners and out_size > 1:
        return F32(in_size - 1) / F32(out_size - 1)
    return F32(in_size) / F32(out_size)


def nearest_flags(sizes: list[tuple[int, int]], tables: list[np.ndarray]) -> tuple[bool, bool] | None:
    """(align_corners, half_pixel_centers) under which TFLite's nearest indices equal ``tables``
    (one source-index array per spatial axis; ``sizes``: (in, out) per axis), or None."""
    for ac, hp in ((False, False), (False, True), (True, False), (True, True)):
        if all(
            np.array_equal(nearest_indices(i, o, ac, hp), np.asarray(t))
            for (i, o), t in zip(sizes, tables, strict=True)
        ):
            return ac, hp
    return None


def floor_indices(in_size: int, out_size: int, scale: np.float32, offset: float) -> np.ndarray:
    """``min(floor((i + offset) · scale), in - 1)`` in float32, the rule of PyTorch's
    ``nearest`` (offset 0) and ``nearest-exact`` (offset 0.5) and of ONNX's asymmetric /
    tf_half_pixel_for_nn nearest with ``floor``."""
    v = (np.arange(out_size, dtype=F32) + F32(offset)) * F32(scale)
    return np.minimum(np.floor(v).astype(np.int64), in_size - 1)


def transpose_conv_plan(
    ins: tuple[int, ...], ks: tuple[int, ...], ss: tuple[int, ...], begins: tuple[int, ...], outs: tuple[int, ...]
) -> tuple[str, tuple[int, ...]] | None:
    """(padding, zero taps to append to the filter per axis) under which TFLite's TRANSPOSE_CONV
    computes the framework's output: output row ``r`` sums input row ``iy`` and filter row ``ky``
    where ``r = iy · stride - begin + ky``. TFLite's leading pad must equal ``begin`` and its
    input size must be what a forward convolution of the output gives (LiteRT checks that).
    None when neither SAME nor VALID can."""
    for mode in ("VALID", "SAME"):
        extra = []
        for n, k, s, b, o in zip(ins, ks, ss, begins, outs, strict=True):
            found = None
            for a in range(0, k + 2 * s + 1):
                kk = k + a
                fwd = -(-o // s) if mode == "SAME" else (o - kk + s) // s
                pad = max((fwd - 1) * s + kk - o, 0) // 2 if mode == "SAME" else 0
                if fwd == n and pad == b:
                    found = a
                    break
            if found is None:
                break
            extra.append(found)
        else:
            return mode, tuple(extra)
    return None


def emit_resize(b, x: Tensor, bilinear: bool, out_hw: tuple[int, int], ac: bool, hp: bool, name: str, size_name: str):
    size = b.const(size_name, np.asarray(out_hw, np.int32), "int32")
    op = OpType.RESIZE_BILINEAR if bilinear else OpType.RESIZE_NEAREST_NEIGHBOR
    return b.emit(op, [x, size], name, align_corners=bool(ac), half_pixel_centers=bool(hp))


def emit_transpose_conv(
    b,
    x: Tensor,
    w_io: np.ndarray,
    bias: np.ndarray | None,
    strides: tuple[int, int],
    begins: tuple[int, int],
    out_hw: tuple[int, int],
    names: tuple[str, str, str, str],
    where: str,
) -> Tensor:
    """TRANSPOSE_CONV of NHWC ``x`` by framework weights ``w_io`` (in, out, kh, kw), leading crop
    ``begins`` and output size ``out_hw``. ``names``: (op, weights, bias, output_shape)."""
    n, ih, iw, ic = x.shape
    if w_io.ndim != 4 or w_io.shape[0] != ic:
        raise UnsupportedError(f"{where}: weights {list(w_io.shape)} do not match {ic} input channels")
    _, oc, kh, kw = w_io.shape
    plan = transpose_conv_plan((ih, iw), (kh, kw), strides, begins, out_hw)
    if plan is None:
        raise UnsupportedError(
            f"{where}: padding {list(begins)} with output {list(out_hw)} has no TFLite SAME/VALID form "
            f"(TFLite pads a transposed convolution like a forward convolution of its output)"
        )
    mode, (ah, aw) = plan
    w = np.asarray(w_io, np.float32).transpose(1, 2, 3, 0)  # (in, out, kh, kw) -> OHWI
    w = np.pad(w, ((0, 0), (0, ah), (0, aw), (0, 0)))
    op_name, w_name, b_name, s_name = names
    wt = b.const(w_name, w)
    bt = None if bias is None else b.const(b_name, np.asarray(bias, np.float32).reshape(-1))
    shape = b.const(s_name, np.array([n, out_hw[0], out_hw[1], oc], np.int32), "int32")
    return b.emit(
        OpType.TRANSPOSE_CONV, [x, wt, shape, bt], op_name, padding=mode, stride_h=strides[0], stride_w=strides[1]
    )


def pixel_shuffle_perm(channels: int, r: int) -> np.ndarray:
    """perm[k]: the PyTorch (CRD) channel that TFLite's DEPTH_TO_SPACE (DCR) reads as channel ``k``
    of an input of ``channels`` = C·r² channels: DCR channel (i·r + j)·C + c is CRD channel
    c·r² + i·r + j."""
    c_out = channels // (r * r)
    k = np.arange(channels)
    ij, c = k // c_out, k % c_out
    return c * r * r + ij


def reorder_producer_channels(b, t: Tensor, perm: np.ndarray, in_place: bool = False) -> Tensor | None:
    """``t`` with its channels reordered (channel k = old channel perm[k]) by giving the layer that
    computes it permuted output channels (weights along their output axis, and the bias): a
    CONV_2D without groups or a TRANSPOSE_CONV. None when ``t`` comes from anything else.

    ``in_place``: the caller knows nothing else reads ``t``, so the layer itself changes;
    otherwise a permuted copy of the layer is emitted (the front-end drops the original if
    nothing else reads it)."""
    prod = next((op for op in b.ops if op.outputs[0] is t), None)
    if prod is None or prod.type not in (OpType.CONV_2D, OpType.TRANSPOSE_CONV):
        return None
    if prod.type == OpType.CONV_2D and prod.inputs[1].shape[3] != prod.inputs[0].shape[3]:
        return None  # grouped: output channel groups read their own input channels
    if in_place and any(u is t for op in b.ops for u in op.inputs):
        in_place = False
    wts = OP_SET[prod.type].weights
    inputs = list(prod.inputs)
    w = inputs[wts.input]
    inputs[wts.input] = b.const(f"{w.name}_reordered", np.take(w.data, perm, axis=wts.axis))
    if len(inputs) > wts.bias and inputs[wts.bias] is not None:
        bt = inputs[wts.bias]
        inputs[wts.bias] = b.const(f"{bt.name}_reordered", np.asarray(bt.data)[perm])
    if in_place:
        prod.inputs = inputs
        return t
    return b.emit(prod.type, inputs, f"{t.name}_reordered", **prod.attrs)
