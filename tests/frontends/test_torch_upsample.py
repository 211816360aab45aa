"""picoml.from_torch of upsampling layers vs PyTorch: nn.Upsample / F.interpolate (nearest,
nearest-exact, bilinear with align_corners both ways), nn.ConvTranspose2d (stride, padding,
output_padding), nn.PixelShuffle / PixelUnshuffle; the torch.export (ATen) forms; the .tflite
of each through LiteRT; and the one-line refusals.

Tolerances: ``assert_float_close`` (1e-5 of the largest output; float32 rounding order: picoml sums
a transposed convolution in float64 and rounds once, PyTorch in float32; bilinear weights are
computed in float32 by slightly different expressions). Nearest and the depth/space moves copy
values and are compared exactly."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.torch import from_graph_layout, supported_torch, to_graph_layout
from picoml.graph.ops import OpType

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from oracles import assert_float_close, litert_run, to_tflite  # noqa: E402


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


class Fn(nn.Module):
    def __init__(self, f) -> None:
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def check(model: nn.Module, x: torch.Tensor, exact: bool = False, export: bool = False) -> picoml.Graph:
    model.eval()
    src = torch.export.export(model, (x[:1],)).module() if export else model
    g = picoml.from_torch(src, x[:1])
    xs = to_graph_layout(x.numpy())
    got = from_graph_layout(picoml.run(g, xs))
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == want.shape, (got.shape, want.shape)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        assert_float_close(got, want)
    lite = from_graph_layout(litert_run(to_tflite(g), xs[:, None])[:, 0])  # the .tflite in LiteRT
    assert_float_close(lite, got)
    return g


def types(g) -> list[str]:
    return [op.type for op in g.ops]


# ================================================================ resize
RESIZES = {
    "nearest-x2": (dict(scale_factor=2, mode="nearest"), (5, 4)),
    "nearest-x3x2": (dict(scale_factor=(3, 2), mode="nearest"), (3, 4)),
    "nearest-size": (dict(size=(7, 9), mode="nearest"), (4, 3)),
    "nearest-down": (dict(size=(2, 3), mode="nearest"), (5, 7)),
    "nearest-exact-x2": (dict(scale_factor=2, mode="nearest-exact"), (4, 5)),
    "nearest-exact-size": (dict(size=(7, 3), mode="nearest-exact"), (3, 5)),
    "bilinear-x2": (dict(scale_factor=2, mode="bilinear", align_corners=False), (4, 5)),
    "bilinear-size": (dict(size=(9, 7), mode="bilinear", align_corners=False), (4, 3)),
    "bilinear-down": (dict(size=(3, 2), mode="bilinear", align_corners=False), (7, 5)),
    "bilinear-ac": (dict(size=(9, 7), mode="bilinear", align_corners=True), (4, 3)),
    "bilinear-ac-x2": (dict(scale_factor=2, mode="bilinear", align_corners=True), (3, 3)),
}


@pytest.mark.parametrize("case", RESIZES)
def test_upsample_module_and_interpolate(case):
    kw, (h, w) = RESIZES[case]
    x = _x(3, 2, h, w)
    exact = kw["mode"].startswith("nearest")
    op = OpType.RESIZE_NEAREST_NEIGHBOR if exact else OpType.RESIZE_BILINEAR
    g = check(nn.Upsample(**kw), x, exact)
    assert types(g) == [op]
    attrs = g.ops[0].attrs
    if kw["mode"] == "bilinear":
        assert (attrs["align_corners"], attrs["half_pixel_centers"]) == (kw["align_corners"], not kw["align_corners"])
    if case == "nearest-exact-size":  # at 2x both rules pick the same pixels; the first match is plain
        assert attrs["half_pixel_centers"]
    assert types(check(Fn(lambda t: F.interpolate(t, **kw)), x, exact)) == [op]


@pytest.mark.parametrize("case", ["nearest-x2", "nearest-exact-size", "bilinear-size", "bilinear-ac"])
def test_upsample_aten_forms(case):
    kw, (h, w) = RESIZES[case]
    check(Fn(lambda t: F.interpolate(t, **kw)), _x(2, 3, h, w, seed=1), kw["mode"].startswith("nearest"), export=True)


def test_upsampling_modules():
    x = _x(2, 3, 4, 5, seed=2)
    check(nn.UpsamplingNearest2d(scale_factor=2), x, exact=True)
    g = check(nn.UpsamplingBilinear2d(size=(7, 8)), x)
    assert g.ops[0].attrs["align_corners"]


def test_resize_refusals():
    x = _x(1, 2, 4, 4)
    with pytest.raises(UnsupportedError, match="mode 'bicubic'"):
        picoml.from_torch(nn.Upsample(scale_factor=2, mode="bicubic"), x)
    with pytest.raises(UnsupportedError, match="antialias"):
        picoml.from_torch(Fn(lambda t: F.interpolate(t, size=(2, 2), mode="bilinear", antialias=True)), x)
    # 1/1.3 in float32 is not 4/5 (the output size): PyTorch and TFLite would sample other positions
    with pytest.raises(UnsupportedError, match="pass size="):
        picoml.from_torch(nn.Upsample(scale_factor=1.3, mode="bilinear"), _x(1, 2, 4, 4))


# ================================================================ transposed convolution
CONVT = {
    "k3-s2-p1-op1": dict(kernel_size=3, stride=2, padding=1, output_padding=1),
    "k4-s2-p1": dict(kernel_size=4, stride=2, padding=1),
    "k2-s2": dict(kernel_size=2, stride=2),
    "k3-s2": dict(kernel_size=3, stride=2),
    "k3-s1-p1": dict(kernel_size=3, padding=1),
    "k5-s3-p2-op2": dict(kernel_size=5, stride=3, padding=2, output_padding=2),
    "k3x5-s2x1-p1x2": dict(kernel_size=(3, 5), stride=(2, 1), padding=(1, 2), output_padding=(1, 0)),
    "k3-s2-op1-nobias": dict(kernel_size=3, stride=2, output_padding=1, bias=False),
}


@pytest.mark.parametrize("case", CONVT)
def test_conv_transpose2d(case):
    m = nn.ConvTranspose2d(3, 4, **CONVT[case])
    x = _x(2, 3, 5, 4, seed=3)
    g = check(m, x)
    assert types(g) == [OpType.TRANSPOSE_CONV]


def test_conv_transpose2d_functional_and_aten():
    m = nn.ConvTranspose2d(3, 5, 3, stride=2, padding=1, output_padding=1)
    x = _x(2, 3, 4, 4, seed=4)
    check(Fn(lambda t: F.conv_transpose2d(t, m.weight, m.bias, stride=2, padding=1, output_padding=1)), x)
    check(m, x, export=True)


def test_conv_transpose2d_in_a_decoder_with_batchnorm_and_relu():
    """Conv → ConvTranspose → BatchNorm → ReLU: the BatchNorm folds into TRANSPOSE_CONV's
    weights and bias (per output channel: axis 0 of OHWI) and the ReLU fuses."""
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ConvTranspose2d(4, 3, 4, 2, 1), nn.BatchNorm2d(3), nn.ReLU())
    with torch.no_grad():
        m[2].running_mean.uniform_(-1, 1)
        m[2].running_var.uniform_(0.5, 2)
        m[2].weight.uniform_(0.5, 2)
    g = check(m, _x(3, 2, 5, 5, seed=5))
    assert types(g) == [OpType.CONV_2D, OpType.TRANSPOSE_CONV]
    assert g.ops[1].attrs["fused_activation"] == "RELU"


def test_conv_transpose2d_refusals():
    x = _x(1, 4, 4, 4)
    with pytest.raises(UnsupportedError, match="groups=2"):
        picoml.from_torch(nn.ConvTranspose2d(4, 4, 3, groups=2), x)
    with pytest.raises(UnsupportedError, match="dilation"):
        picoml.from_torch(nn.ConvTranspose2d(4, 4, 3, dilation=2), x)
    # padding larger than the filter allows leaves no TFLite padding (a crop PyTorch does alone)
    with pytest.raises(UnsupportedError, match="no TFLite SAME/VALID form"):
        picoml.from_torch(nn.ConvTranspose2d(4, 4, 3, stride=1, padding=2), _x(1, 4, 6, 6))
    # one padding for both axes: H needs SAME (padding 1), W VALID (padding 0, a 4-tap filter)
    with pytest.raises(UnsupportedError, match="no TFLite SAME/VALID form"):
        picoml.from_torch(nn.ConvTranspose2d(4, 4, (3, 4), stride=(2, 1), padding=(1, 0), output_padding=(1, 0)), x)


# ================================================================ pixel shuffle
def test_pixel_shuffle_one_channel_and_unshuffle():
    x = _x(2, 4, 3, 5, seed=6)
    g = check(nn.PixelShuffle(2), x, exact=True)
    assert types(g) == [OpType.DEPTH_TO_SPACE]
    g = check(nn.PixelUnshuffle(3), _x(2, 1, 6, 9, seed=7), exact=True)
    assert types(g) == [OpType.SPACE_TO_DEPTH]
    check(Fn(lambda t: F.pixel_shuffle(t, 2)), x, exact=True, export=True)


def test_pixel_shuffle_permutes_the_convolution_before_it():
    """ESPCN-style: Conv2d(…, C·r²) → PixelShuffle(r). The convolution is emitted with its output
    channels in TFLite's DEPTH_TO_SPACE order; the original is dropped."""
    m = nn.Sequential(nn.Conv2d(3, 3 * 4, 3, padding=1), nn.PixelShuffle(2))
    g = check(m, _x(2, 3, 4, 5, seed=8))
    assert types(g) == [OpType.CONV_2D, OpType.DEPTH_TO_SPACE]
    m = nn.Sequential(nn.ConvTranspose2d(2, 8, 2, 2), nn.PixelShuffle(2))
    assert types(check(m, _x(2, 2, 3, 3, seed=9))) == [OpType.TRANSPOSE_CONV, OpType.DEPTH_TO_SPACE]


def test_pixel_shuffle_refusals():
    with pytest.raises(UnsupportedError, match="reordered"):
        picoml.from_torch(nn.Sequential(nn.ReLU(), nn.PixelShuffle(2)), _x(1, 8, 2, 2))
    with pytest.raises(UnsupportedError, match="one input channel"):
        picoml.from_torch(nn.PixelUnshuffle(2), _x(1, 2, 4, 4))


def test_supported_lists_name_the_layers():
    s = supported_torch()
    for m in ("Upsample", "ConvTranspose2d", "PixelShuffle", "PixelUnshuffle"):
        assert m in s["modules"]
    for f in ("F.interpolate", "torch.conv_transpose2d", "torch.pixel_shuffle"):  # F.* are torch's builtins
        assert f in s["functions"]
