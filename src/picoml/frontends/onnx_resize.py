"""ONNX upsampling ops (merged into ``frontends/onnx_ops.py`` HANDLERS): Resize / Upsample,
ConvTranspose, DepthToSpace and SpaceToDepth (https://onnx.ai/onnx/operators/).

- Resize ``nearest``: ONNX's source index (its coordinate_transformation_mode, then its
  nearest_mode, clamped) is computed for every output row and column in float32, as
  onnxruntime does, and compared with TFLite's four nearest variants (``nearest_flags``); the
  first that picks the same pixels is emitted, none is refused.
- Resize ``linear``: half_pixel (and pytorch_half_pixel for outputs larger than 1) is TFLite's
  half_pixel_centers, align_corners its align_corners, asymmetric neither; with a scale that is
  not output / input (``scales`` whose product was floored) the sample positions differ and the
  node is refused, as are cubic, antialias, tf_crop_and_resize, exclude_outside and resizes of the
  batch or channel axes.
- ConvTranspose (2-D, group 1, dilation 1, explicit pads and output_padding, auto_pad NOTSET or
  VALID) → TRANSPOSE_CONV through ``frontends/upsample.py``.
- DepthToSpace DCR is TFLite's DEPTH_TO_SPACE; CRD (PyTorch's PixelShuffle order) reorders the
  channels in the convolution before it; SpaceToDepth is TFLite's SPACE_TO_DEPTH.
"""

from __future__ import annotations

import numpy as np

from picoml.frontends.onnx_importer import F32, Handler, Importer
from picoml.frontends.upsample import (
    emit_resize,
    emit_transpose_conv,
    nearest_flags,
    pixel_shuffle_perm,
    reorder_producer_channels,
)
from picoml.graph.ops import OpType

LINEAR_MODES = {"half_pixel": (False, True), "pytorch_half_pixel": (False, True), "align_corners": (True, False)}
LINEAR_MODES["asymmetric"] = (False, False)


def _resize_args(imp: Importer, x_shape: tuple[int, ...]) -> tuple[tuple[int, int], list[float]]:
    """(output H, W) and ONNX's spatial scales (output / input as the kernel uses them)."""
    if imp.node.op_type == "Upsample" or imp.opset < 11:
        scales, sizes = imp.const_input(1, "scales"), None
    else:
        scales = imp.const_input(2, "scales", required=False)
        sizes = imp.const_input(3, "sizes", required=False)
    if sizes is not None and np.size(sizes):
        out = [int(v) for v in np.asarray(sizes).reshape(-1)]
        if len(out) != 4:
            raise imp.unsupported(f"sizes {out} must give the 4 dimensions (axes= is not supported)")
        sc = [o / i for o, i in zip(out, x_shape, strict=True)]
    elif scales is not None and np.size(scales):
        sc = [float(v) for v in np.asarray(scales, np.float32).reshape(-1)]
        if len(sc) != 4:
            raise imp.unsupported(f"scales {sc} must give the 4 dimensions")
        out = [int(np.floor(i * np.float32(s))) for i, s in zip(x_shape, sc, strict=True)]
    else:
        raise imp.unsupported("needs constant scales or sizes")
    if out[:2] != list(x_shape[:2]) or min(out) <= 0:
        raise imp.unsupported(f"resizes the batch or channel axes ({list(x_shape)} -> {out}); only H and W")
    return (out[2], out[3]), [F32(s) for s in sc[2:]]


def _onnx_nearest(in_size: int, out_size: int, scale: np.float32, ctm: str, mode: str) -> np.ndarray | None:
    """onnxruntime's nearest source indices in float32, None for an unsupported mode."""
    i = np.arange(out_size, dtype=F32)
    half = F32(0.5)
    if ctm == "half_pixel" or (ctm == "pytorch_half_pixel" and out_size > 1):
        v = (i + half) / scale - half
    elif ctm == "pytorch_half_pixel":
        v = np.zeros(out_size, F32)
    elif ctm == "asymmetric":
        v = i / scale
    elif ctm == "tf_half_pixel_for_nn":
        v = (i + half) / scale
    elif ctm == "align_corners":
        v = i * (F32(in_size - 1) / F32(out_size - 1)) if out_size > 1 else np.zeros(out_size, F32)
    else:
        return None
    v = v.astype(F32)
    fl = np.floor(v)
    tie = v - fl == half
    if mode == "round_prefer_floor":
        idx = np.where(tie, fl, np.round(v))
    elif mode == "round_prefer_ceil":
        idx = np.where(tie, fl + 1, np.round(v))
    elif mode == "floor":
        idx = fl
    elif mode == "ceil":
        idx = np.ceil(v)
    else:
        return None
    return np.clip(idx.astype(np.int64), 0, in_size - 1)


def op_resize(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    if x.rank != 4:
        raise imp.unsupported(f"only 4-D (N, C, H, W) resizes are supported, input {list(x.shape)}")
    for name, ok in (("antialias", 0), ("exclude_outside", 0)):
        if int(at.get(name, ok)) != ok:
            raise imp.unsupported(f"{name}={at[name]} is not supported")
    if at.get("axes") is not None or at.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise imp.unsupported("axes / keep_aspect_ratio_policy are not supported")
    mode = at.get("mode", "nearest")
    ctm = at.get("coordinate_transformation_mode", "asymmetric" if imp.opset < 11 else "half_pixel")
    out_hw, scales = _resize_args(imp, x.shape)
    in_hw = (x.shape[2], x.shape[3])
    sizes = list(zip(in_hw, out_hw, strict=True))
    if imp.node.op_type == "Upsample":
        ctm = "asymmetric"
    if mode == "nearest":
        # Upsample (opset 7-9) takes the integer part of the source coordinate
        nmode = "floor" if imp.node.op_type == "Upsample" else at.get("nearest_mode", "round_prefer_floor")
        tables = [_onnx_nearest(i, o, s, ctm, nmode) for (i, o), s in zip(sizes, scales, strict=True)]
        flags = None if any(t is None for t in tables) else nearest_flags(sizes, tables)
        if flags is None:
            raise imp.unsupported(
                f"nearest resize {list(in_hw)} -> {list(out_hw)} with coordinate_transformation_mode={ctm!r}, "
                f"nearest_mode={nmode!r} picks other source pixels than any TFLite nearest resize"
            )
        bilinear = False
    elif mode == "linear":
        if ctm not in LINEAR_MODES or (ctm == "pytorch_half_pixel" and min(out_hw) == 1):
            raise imp.unsupported(f"linear resize with coordinate_transformation_mode={ctm!r} is not supported")
        flags = LINEAR_MODES[ctm]
        off = [abs(float(s) * i - o) > 1e-5 * o for (i, o), s in zip(sizes, scales, strict=True)]
        if not flags[0] and any(off):
            raise imp.unsupported(
                f"scales {[float(s) for s in scales]} are not output / input ({list(out_hw)} / {list(in_hw)}): "
                "TFLite's linear resize samples at in / out"
            )
        bilinear = True
    else:
        raise imp.unsupported(f"mode {mode!r} is not supported (nearest, linear)")
    t = imp.to_channels_last(x)
    name = imp.out_name()
    y = emit_resize(imp, t, bilinear, out_hw, flags[0], flags[1], name, f"{name}/size")
    imp.set_out(imp.from_channels_last(y, 4))


def op_conv_transpose(imp: Importer) -> None:
    x = imp.act(0)
    w = np.asarray(imp.const_input(1, "weights"), F32)
    b = imp.const_input(2, "bias", required=False)
    at = imp.attrs()
    if x.rank != 4 or w.ndim != 4:
        raise imp.unsupported(f"only 2-D transposed convolutions are supported (input {list(x.shape)})")
    if int(at.get("group", 1)) != 1:
        raise imp.unsupported(f"group={at['group']} is not supported (TFLite's TRANSPOSE_CONV has no groups)")
    if any(int(d) != 1 for d in at.get("dilations", [1, 1])):
        raise imp.unsupported(f"dilations {list(at['dilations'])} are not supported")
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or "output_shape" in at:
        raise imp.unsupported("auto_pad SAME_* and output_shape are not supported (give pads and output_padding)")
    ks = [int(k) for k in at.get("kernel_shape", w.shape[2:])]
    if tuple(ks) != tuple(w.shape[2:]):
        raise imp.unsupported(f"kernel_shape {ks} differs from the weights' {list(w.shape[2:])}")
    strides = [int(s) for s in at.get("strides", [1, 1])]
    pads = [int(p) for p in at.get("pads", [0, 0, 0, 0])] if at.get("auto_pad", "NOTSET") == "NOTSET" else [0] * 4
    ops = [int(p) for p in at.get("output_padding", [0, 0])]
    outs = tuple(
        s * (n - 1) + op + k - pb - pe
        for n, k, s, op, pb, pe in zip(x.shape[2:], ks, strides, ops, pads[:2], pads[2:], strict=True)
    )
    if min(outs) <= 0:
        raise imp.unsupported(f"pads {pads} leave no output")
    t = imp.to_channels_last(x)
    name = imp.out_name()
    names = (name, imp.name(name, "weights"), imp.name(name, "bias"), f"{name}/output_shape")
    bias = None if b is None else np.asarray(b, F32).reshape(-1)
    y = emit_transpose_conv(imp, t, w, bias, tuple(strides), tuple(pads[:2]), outs, names, imp.where())
    imp.set_out(imp.from_channels_last(y, 4))


def op_depth_space(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    r = int(at.get("blocksize", 0))
    if x.rank != 4 or r <= 0:
        raise imp.unsupported(f"needs a 4-D input and a positive blocksize (input {list(x.shape)}, blocksize {r})")
    t = imp.to_channels_last(x)
    if imp.node.op_type == "SpaceToDepth":
        y = imp.emit(OpType.SPACE_TO_DEPTH, [t], imp.out_name(), block_size=r)
    else:
        ch = t.shape[3]
        if at.get("mode", "DCR") == "CRD" and ch != r * r and r > 1 and ch % (r * r) == 0:
            sole = imp.consumers.get(imp.node.input[0], 0) == 1
            t = reorder_producer_channels(imp, t, pixel_shuffle_perm(ch, r), in_place=sole)
            if t is None:
                raise imp.unsupported(
                    "CRD mode orders channels unlike TFLite's DEPTH_TO_SPACE (DCR); picoml reorders them in a "
                    "convolution right before it, which is not there"
                )
        y = imp.emit(OpType.DEPTH_TO_SPACE, [t], imp.out_name(), block_size=r)
    imp.set_out(imp.from_channels_last(y, 4))


RESIZE_HANDLERS: dict[str, Handler] = {
    "Resize": op_resize,
    "Upsample": op_resize,
    "ConvTranspose": op_conv_transpose,
    "DepthToSpace": op_depth_space,
    "SpaceToDepth": op_depth_space,
}
