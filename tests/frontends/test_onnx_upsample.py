"""ONNX Resize / Upsample, ConvTranspose, DepthToSpace and SpaceToDepth vs onnxruntime (and PyTorch
for exported modules, LiteRT for the saved .tflite): the same 1e-5 float tolerance as
tests/frontends/test_onnx.py; nearest resizes and depth/space moves are exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from test_onnx import check, export, make_model, node, ort_run, rnd, types

from picoml.errors import UnsupportedError
from picoml.frontends.onnx import from_onnx
from picoml.graph.ops import OpType

CTMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]


def resize_model(in_shape, out_hw, mode, ctm, nmode=None, scales=None, opset=17):
    inits = {"roi": np.zeros(0, np.float32)}
    ins = ["x", "roi"]
    if scales is not None:
        inits["scales"] = np.asarray(scales, np.float32)
        ins.append("scales")
    else:
        inits["scales"] = np.zeros(0, np.float32)
        inits["sizes"] = np.array([*in_shape[:2], *out_hw], np.int64)
        ins += ["scales", "sizes"]
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm}
    if nmode:
        attrs["nearest_mode"] = nmode
    return make_model([node("Resize", ins, ["y"], **attrs)], {"x": in_shape}, ["y"], inits, opset=opset)


@pytest.mark.parametrize("sizes", [((4, 3), (7, 6)), ((3, 5), (6, 10)), ((6, 7), (4, 3))], ids=str)
def test_nearest_exact_where_accepted_refused_elsewhere(sizes):
    """Every coordinate mode × nearest mode: picoml either finds the TFLite variant that picks the
    same pixels (then it equals onnxruntime exactly) or refuses in one line."""
    (ih, iw), (oh, ow) = sizes
    x = rnd((2, 3, ih, iw), 1)
    accepted = set()
    for ctm, nmode in itertools.product(CTMS, NEAREST_MODES):
        m = resize_model((2, 3, ih, iw), (oh, ow), "nearest", ctm, nmode)
        try:
            g = from_onnx(m)
        except UnsupportedError as e:
            assert "\n" not in str(e) and "picks other source pixels" in str(e)
            continue
        import picoml
        from picoml.frontends.onnx import from_graph_layout, to_graph_layout

        np.testing.assert_array_equal(from_graph_layout(picoml.run(g, to_graph_layout(x))), ort_run(m, [x]))
        accepted.add((ctm, nmode))
    # the rules that are TFLite's by construction
    assert {("asymmetric", "floor"), ("tf_half_pixel_for_nn", "floor")} <= accepted
    assert ("align_corners", "round_prefer_ceil") in accepted
    assert ("half_pixel", "round_prefer_ceil") in accepted


@pytest.mark.parametrize("ctm", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"])
@pytest.mark.parametrize("sizes", [((4, 3), (9, 7)), ((4, 5), (8, 10)), ((7, 5), (3, 2))], ids=str)
def test_linear(ctm, sizes):
    (ih, iw), (oh, ow) = sizes
    g = check(resize_model((2, 3, ih, iw), (oh, ow), "linear", ctm), rnd((2, 3, ih, iw), 2))
    assert types(g) == [OpType.RESIZE_BILINEAR]
    a = g.ops[0].attrs
    assert (a["align_corners"], a["half_pixel_centers"]) == (ctm == "align_corners", "half_pixel" in ctm)


def test_linear_and_nearest_from_scales():
    check(resize_model((1, 2, 4, 5), None, "linear", "half_pixel", scales=[1, 1, 2, 2]), rnd((1, 2, 4, 5), 3))
    check(resize_model((1, 2, 4, 5), None, "nearest", "asymmetric", "floor", scales=[1, 1, 3, 2]), rnd((1, 2, 4, 5)))


def test_resize_refusals():
    x = (1, 2, 4, 4)
    for m, match in [
        (resize_model(x, (8, 8), "cubic", "half_pixel"), "mode 'cubic'"),
        (resize_model(x, (8, 8), "linear", "tf_crop_and_resize"), "tf_crop_and_resize"),
        (resize_model(x, None, "linear", "half_pixel", scales=[1, 1, 1.3, 1.3]), "not output / input"),
        (resize_model(x, None, "linear", "half_pixel", scales=[1, 2, 2, 2]), "batch or channel"),
    ]:
        with pytest.raises(UnsupportedError, match=match):
            from_onnx(m)


class Up(torch.nn.Module):
    def __init__(self, **kw) -> None:
        super().__init__()
        self.kw = kw

    def forward(self, x):
        return torch.nn.functional.interpolate(x, **self.kw)


@pytest.mark.parametrize(
    "kw",
    [
        dict(scale_factor=2, mode="nearest"),
        dict(size=(7, 9), mode="nearest"),
        dict(scale_factor=2, mode="bilinear", align_corners=False),
        dict(size=(7, 9), mode="bilinear", align_corners=True),
    ],
    ids=str,
)
def test_pytorch_interpolate_exported(kw):
    m = Up(**kw)
    x = torch.randn(1, 3, 4, 5, generator=torch.Generator().manual_seed(0))  # exports have a dynamic batch: 1
    check(export(m, x), x.numpy(), torch_module=m)


# ---------------------------------------------------------------------------- ConvTranspose
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=3, stride=2, padding=1, output_padding=1),
        dict(kernel_size=4, stride=2, padding=1),
        dict(kernel_size=2, stride=2, bias=False),
        dict(kernel_size=(3, 5), stride=(2, 1), padding=(1, 2), output_padding=(1, 0)),
    ],
    ids=str,
)
def test_conv_transpose_exported_from_pytorch(kw):
    m = torch.nn.ConvTranspose2d(3, 4, **kw)
    x = torch.randn(1, 3, 5, 4, generator=torch.Generator().manual_seed(1))
    g = check(export(m, x), x.numpy(), torch_module=m)
    assert types(g) == [OpType.TRANSPOSE_CONV]


def test_conv_transpose_asymmetric_pads():
    """ONNX pads may differ at the two ends: only the leading pad and the output size matter."""
    w = rnd((2, 3, 3, 3), 4, 0.5)
    b = rnd((3,), 5)
    n = node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 0, 0], output_padding=[0, 0])
    m = make_model([n], {"x": (1, 2, 4, 4)}, ["y"], {"w": w, "b": b})
    check(m, rnd((1, 2, 4, 4), 6))


def test_conv_transpose_refusals():
    w = rnd((4, 2, 3, 3), 7)
    for attrs, match in [
        (dict(group=2), "group=2"),
        (dict(dilations=[2, 2]), "dilations"),
        (dict(auto_pad="SAME_UPPER", strides=[2, 2]), "auto_pad"),
        (dict(output_shape=[8, 8], strides=[2, 2]), "output_shape"),
    ]:
        ww = w if "group" not in attrs else rnd((4, 1, 3, 3), 7)
        m = make_model([node("ConvTranspose", ["x", "w"], ["y"], **attrs)], {"x": (1, 4, 4, 4)}, ["y"], {"w": ww})
        with pytest.raises(UnsupportedError, match=match):
            from_onnx(m)


# ---------------------------------------------------------------------------- depth / space
def test_depth_to_space_dcr_and_space_to_depth():
    m = make_model([node("DepthToSpace", ["x"], ["y"], blocksize=2)], {"x": (2, 8, 3, 4)}, ["y"])
    assert types(check(m, rnd((2, 8, 3, 4), 8))) == [OpType.DEPTH_TO_SPACE]
    m = make_model([node("SpaceToDepth", ["x"], ["y"], blocksize=2)], {"x": (2, 3, 4, 6)}, ["y"])
    assert types(check(m, rnd((2, 3, 4, 6), 9))) == [OpType.SPACE_TO_DEPTH]


def test_depth_to_space_crd_after_a_convolution():
    """PyTorch's PixelShuffle exports as DepthToSpace CRD: the convolution before it is re-emitted
    with its output channels in DCR order."""
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.PixelShuffle(2))
    x = torch.randn(1, 3, 4, 5, generator=torch.Generator().manual_seed(2))
    g = check(export(m, x), x.numpy(), torch_module=m)
    assert types(g) == [OpType.CONV_2D, OpType.DEPTH_TO_SPACE]
    crd = make_model([node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")], {"x": (1, 8, 2, 2)}, ["y"])
    with pytest.raises(UnsupportedError, match="CRD"):
        from_onnx(crd)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample_opset9(mode):
    """The deprecated Upsample (opset 9): asymmetric coordinates, integer part for nearest."""
    inits = {"scales": np.array([1, 1, 2, 3], np.float32)}
    m = make_model([node("Upsample", ["x", "scales"], ["y"], mode=mode)], {"x": (1, 2, 3, 4)}, ["y"], inits, opset=9)
    g = check(m, rnd((1, 2, 3, 4), 10))
    a = g.ops[0].attrs
    assert not a["align_corners"] and not a["half_pixel_centers"]
