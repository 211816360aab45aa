"""PyTorch upsampling layers (merged into the tables of ``frontends/torch_ops.py``):

- ``nn.Upsample`` (and ``UpsamplingNearest2d`` / ``UpsamplingBilinear2d``), ``F.interpolate``,
  ``F.upsample`` and their ATen forms: ``nearest`` → RESIZE_NEAREST_NEIGHBOR when TFLite picks
  the same source pixel for every output (``nearest-exact`` is TFLite's half_pixel_centers);
  ``bilinear`` → RESIZE_BILINEAR (align_corners=True as is; False is TFLite's half_pixel_centers,
  whose clamping at the border gives PyTorch's weights). PyTorch scales by ``1 / scale_factor``
  when one is given and TFLite by ``in / out``: where the two float32 scales differ the layer is
  refused (pass ``size=``). Other modes are refused.
- ``nn.ConvTranspose2d`` / ``F.conv_transpose2d`` (groups 1, dilation 1, any stride, padding and
  output_padding with a TFLite form) → TRANSPOSE_CONV (``frontends/upsample.py``).
- ``nn.PixelShuffle`` / ``F.pixel_shuffle`` → DEPTH_TO_SPACE. PyTorch orders the input channels
  c·r² + i·r + j, TFLite (i·r + j)·C + c: equal for one output channel; otherwise the
  convolution (or transposed convolution) before it is re-emitted with its output channels
  permuted (the original is dropped when nothing else reads it), else refused.
  ``nn.PixelUnshuffle`` / ``F.pixel_unshuffle`` → SPACE_TO_DEPTH for one input channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from picoml.errors import UnsupportedError
from picoml.frontends.torch_values import Call, TorchBuilder, Val, _ints, _np
from picoml.frontends.upsample import (
    emit_resize,
    emit_transpose_conv,
    floor_indices,
    nearest_flags,
    pixel_shuffle_perm,
    reorder_producer_channels,
    tflite_scale,
)
from picoml.graph.ops import OpType

F32 = np.float32


def _val(c: Call, v: Any) -> Val:
    if not isinstance(v, Val):
        raise UnsupportedError(f"{c.where}: expects a tensor that depends on the model input")
    return v


def _scales(c: Call, sf: Any, recompute: Any) -> list[float | None]:
    """PyTorch's per-axis scale_factor as its kernels use it (None: scale from the sizes)."""
    if sf is None or recompute:
        return [None, None]
    vals = [sf, sf] if isinstance(sf, (int, float)) else list(sf)
    if len(vals) != 2:
        raise UnsupportedError(f"{c.where}: scale_factor {sf!r} should have 2 values")
    return [None if v is None or float(v) <= 0 else float(v) for v in vals]


def _torch_scale(in_size: int, out_size: int, sf: float | None) -> np.float32:
    """ATen compute_scales_value: (float)(1.0 / scale_factor), else (float)in / out."""
    return F32(1.0 / sf) if sf is not None else F32(in_size) / F32(out_size)


def resize(b: TorchBuilder, c: Call, x: Val, mode: str, align_corners: Any, sfs: list[float | None]) -> Val:
    xt = b.as4d(c, x, 2)
    _, ih, iw, _ = xt.shape
    oh, ow = c.out_shape[2], c.out_shape[3]
    sizes = [(ih, oh), (iw, ow)]
    if mode in ("nearest", "nearest-exact"):
        offset = 0.0 if mode == "nearest" else 0.5
        tables = [floor_indices(i, o, _torch_scale(i, o, s), offset) for (i, o), s in zip(sizes, sfs, strict=True)]
        flags = nearest_flags(sizes, tables)
        if flags is None:
            raise UnsupportedError(
                f"{c.where}: {mode} resize {ih}x{iw} -> {oh}x{ow} with scale_factor {sfs} picks other source "
                "pixels than TFLite's nearest resize (pass size= so that the scale is in / out)"
            )
        ac, hp = flags
        bilinear = False
    elif mode == "bilinear":
        ac, hp, bilinear = bool(align_corners), not align_corners, True
        if not ac and any(
            _torch_scale(i, o, s) != tflite_scale(i, o, False) for (i, o), s in zip(sizes, sfs, strict=True)
        ):
            raise UnsupportedError(
                f"{c.where}: bilinear scale_factor {sfs} differs from in / out = {ih}/{oh}, {iw}/{ow} in float32, "
                "TFLite's scale (pass size= instead)"
            )
    else:
        raise UnsupportedError(f"{c.where}: interpolation mode {mode!r} is not supported (nearest, bilinear)")
    y = emit_resize(b, xt, bilinear, (oh, ow), ac, hp, c.name, f"{c.name}_size")
    return Val(y, c.out_shape, None, x.nonneg)


def _m_upsample(b: TorchBuilder, c: Call) -> Val:
    m = c.mod
    x = _val(c, c.args[0] if c.args else c.kwargs.get("input"))
    recompute = getattr(m, "recompute_scale_factor", None)
    return resize(b, c, x, m.mode, m.align_corners, _scales(c, m.scale_factor, recompute))


def _f_interpolate(b: TorchBuilder, c: Call) -> Val:
    a = c.bind(
        "input",
        ("size", None),
        ("scale_factor", None),
        ("mode", "nearest"),
        ("align_corners", None),
        ("recompute_scale_factor", None),
        ("antialias", False),
    )
    if a["antialias"]:
        raise UnsupportedError(f"{c.where}: antialias=True is not supported")
    return resize(b, c, _val(c, a["input"]), a["mode"], a["align_corners"], _scales(c, a["scale_factor"], None))


def _aten_upsample(mode: str, has_align: bool, vec: bool):
    """upsample_*2d.vec (input, output_size, [align_corners,] scale_factors) and .default
    (input, output_size, [align_corners,] scales_h, scales_w)."""

    def h(b: TorchBuilder, c: Call) -> Val:
        args = list(c.args) + [None] * 5
        rest = args[2 + has_align :]
        ac = bool(args[2]) if has_align else None
        sfs = _scales(c, rest[0], None) if vec else [rest[0], rest[1]]
        sfs = [None if s is None or float(s) <= 0 else float(s) for s in sfs]
        return resize(b, c, _val(c, args[0]), mode, ac, sfs)

    return h


def conv_transpose(
    b: TorchBuilder, c: Call, x: Val, weight, bias, stride, padding, output_padding, groups, dilation
) -> Val:
    if int(groups) != 1:
        raise UnsupportedError(f"{c.where}: groups={groups} is not supported (TFLite's TRANSPOSE_CONV has none)")
    if _ints(dilation, 2, "dilation", c.where) != (1, 1):
        raise UnsupportedError(f"{c.where}: dilation {dilation} is not supported (TRANSPOSE_CONV has none)")
    if isinstance(padding, str):
        raise UnsupportedError(f"{c.where}: padding {padding!r} is not supported")
    xt = b.as4d(c, x, 2)
    strides = _ints(stride, 2, "stride", c.where)
    begins = _ints(padding, 2, "padding", c.where)
    _ints(output_padding, 2, "output_padding", c.where)  # the output size already holds it
    out_hw = (c.out_shape[2], c.out_shape[3])
    w = _np(weight).astype(np.float32)
    bv = None if bias is None else _np(bias)
    names = (c.name, b.name(c.name, "weights"), b.name(c.name, "bias"), f"{c.name}_output_shape")
    y = emit_transpose_conv(b, xt, w, bv, strides, begins, out_hw, names, c.where)
    return Val(y, c.out_shape)


def _m_conv_transpose(b: TorchBuilder, c: Call) -> Val:
    m = c.mod
    if m.padding_mode != "zeros":
        raise UnsupportedError(f"{c.where}: padding_mode={m.padding_mode!r} is not supported (only 'zeros')")
    if len(c.args) + len(c.kwargs) > 1:
        raise UnsupportedError(f"{c.where}: output_size= in the call is not supported (set output_padding)")
    x = _val(c, c.args[0] if c.args else c.kwargs.get("input"))
    return conv_transpose(b, c, x, m.weight, m.bias, m.stride, m.padding, m.output_padding, m.groups, m.dilation)


def _f_conv_transpose(b: TorchBuilder, c: Call) -> Val:
    a = c.bind(
        "input",
        "weight",
        ("bias", None),
        ("stride", 1),
        ("padding", 0),
        ("output_padding", 0),
        ("groups", 1),
        ("dilation", 1),
    )
    if isinstance(a["weight"], Val) or isinstance(a["bias"], Val):
        raise UnsupportedError(f"{c.where}: weights must be constants")
    x = _val(c, a["input"])
    return conv_transpose(
        b, c, x, a["weight"], a["bias"], a["stride"], a["padding"], a["output_padding"], a["groups"], a["dilation"]
    )


def depth_to_space(b: TorchBuilder, c: Call, x: Val, r: int) -> Val:
    xt = b.as4d(c, x, 2)
    ch = xt.shape[3]
    if r <= 0 or ch % (r * r):
        raise UnsupportedError(f"{c.where}: {ch} channels are not a multiple of upscale_factor² = {r * r}")
    if ch != r * r and r > 1:  # PyTorch's channel order is not TFLite's: reorder in the layer before
        xt = reorder_producer_channels(b, xt, pixel_shuffle_perm(ch, r))
        if xt is None:
            raise UnsupportedError(
                f"{c.where}: PixelShuffle of {ch // (r * r)} > 1 channels needs its input channels reordered for "
                "TFLite's DEPTH_TO_SPACE; picoml does that in a convolution right before it, which is not there"
            )
    y = b.emit(OpType.DEPTH_TO_SPACE, [xt], c.name, block_size=int(r))
    return Val(y, c.out_shape, None, x.nonneg)


def space_to_depth(b: TorchBuilder, c: Call, x: Val, r: int) -> Val:
    xt = b.as4d(c, x, 2)
    if xt.shape[3] != 1 and r > 1:
        raise UnsupportedError(
            f"{c.where}: PixelUnshuffle of {xt.shape[3]} > 1 channels orders its output channels unlike TFLite's "
            "SPACE_TO_DEPTH (one input channel is supported)"
        )
    y = b.emit(OpType.SPACE_TO_DEPTH, [xt], c.name, block_size=int(r))
    return Val(y, c.out_shape, None, x.nonneg)


def _shuffle(fn, arg: str):
    def h(b: TorchBuilder, c: Call) -> Val:
        if c.mod is not None:
            r = c.mod.upscale_factor if fn is depth_to_space else c.mod.downscale_factor
            return fn(b, c, _val(c, c.args[0] if c.args else c.kwargs.get("input")), int(r))
        a = c.bind("input", arg)
        return fn(b, c, _val(c, a["input"]), int(a[arg]))

    return h


def module_table(torch) -> dict[type, Any]:
    nn = torch.nn
    return {
        nn.Upsample: _m_upsample,
        nn.UpsamplingNearest2d: _m_upsample,
        nn.UpsamplingBilinear2d: _m_upsample,
        nn.ConvTranspose2d: _m_conv_transpose,
        nn.PixelShuffle: _shuffle(depth_to_space, "upscale_factor"),
        nn.PixelUnshuffle: _shuffle(space_to_depth, "downscale_factor"),
    }


def function_table(torch) -> dict[Any, Any]:
    F = torch.nn.functional
    t: dict[Any, Any] = {
        F.interpolate: _f_interpolate,
        F.upsample: _f_interpolate,
        F.conv_transpose2d: _f_conv_transpose,
        torch.conv_transpose2d: _f_conv_transpose,
        F.pixel_shuffle: _shuffle(depth_to_space, "upscale_factor"),
        F.pixel_unshuffle: _shuffle(space_to_depth, "downscale_factor"),
    }
    aten = {
        "upsample_nearest2d.vec": _aten_upsample("nearest", False, True),
        "upsample_nearest2d.default": _aten_upsample("nearest", False, False),
        "_upsample_nearest_exact2d.vec": _aten_upsample("nearest-exact", False, True),
        "_upsample_nearest_exact2d.default": _aten_upsample("nearest-exact", False, False),
        "upsample_bilinear2d.vec": _aten_upsample("bilinear", True, True),
        "upsample_bilinear2d.default": _aten_upsample("bilinear", True, False),
        "conv_transpose2d.input": _f_conv_transpose,
        "pixel_shuffle.default": _shuffle(depth_to_space, "upscale_factor"),
        "pixel_unshuffle.default": _shuffle(space_to_depth, "downscale_factor"),
    }
    for name, h in aten.items():
        packet, _, overload = name.partition(".")
        op = getattr(getattr(torch.ops.aten, packet, None), overload, None)
        if op is not None:
            t[op] = h
    return t
