"""picoml.from_torch: traced graphs vs PyTorch (float), .tflite round trip and LiteRT.

Every conversion test runs the graph in picoml's reference interpreter on a seeded batch and
compares with the PyTorch module in eval mode with ``assert_float_close`` (tests/oracles.py):
1e-5 relative to the largest output magnitude. Why not exact: picoml accumulates convolutions in
float64 and rounds once, PyTorch accumulates in float32 in its own order, and folding BatchNorm
into the weights rounds the folded weights once (w·s instead of (x·w)·s) — float32 rounding
noise of ~1e-7 per operation.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import InputError, PicomlError, UnsupportedError
from picoml.frontends.torch import from_graph_layout, supported_torch, to_graph_layout
from picoml.passes import fold_batchnorm, fuse_activations

torch = pytest.importorskip("torch")
# PyTorch's own note when it runs padding="same" with an even kernel (our tests do, on purpose)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
nn = torch.nn
F = torch.nn.functional

from oracles import assert_float_close, litert_run, to_tflite  # noqa: E402


def _bn_stats(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters (fresh ones are the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 2 - 1)
    return model


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def check(model: nn.Module, x: torch.Tensor, what: str = "") -> picoml.Graph:
    """Convert with x[:1], run the whole batch x in picoml, compare with PyTorch (eval mode)."""
    model.eval()
    g = picoml.from_torch(model, x[:1])
    got = from_graph_layout(picoml.run(g, to_graph_layout(x.numpy())))
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == want.shape, (got.shape, want.shape)
    assert_float_close(got, want, what)  # 1e-5 relative: float32 summation order (module docstring)
    return g


def types(g: picoml.Graph) -> list[str]:
    return [op.type for op in g.ops]


# ================================================================ convolutions
CONV2D_CASES = {
    "k3-p1": dict(kernel_size=3, padding=1),
    "k3-s2-p1": dict(kernel_size=3, stride=2, padding=1),
    "k3-s2-p0": dict(kernel_size=3, stride=2),
    "k5-d2-p4": dict(kernel_size=5, dilation=2, padding=4),
    "k4-same": dict(kernel_size=4, padding="same"),
    "k3-d2-same": dict(kernel_size=3, dilation=2, padding="same"),
    "k3-valid-s2": dict(kernel_size=3, padding="valid", stride=2),
    "k3x5-s2x1-p1x2": dict(kernel_size=(3, 5), stride=(2, 1), padding=(1, 2)),
    "k1-nobias": dict(kernel_size=1, bias=False),
    "grouped": dict(kernel_size=3, padding=1, groups=2),
}


@pytest.mark.parametrize("hw", [(10, 10), (11, 9)], ids=["even", "odd"])
@pytest.mark.parametrize("case", list(CONV2D_CASES), ids=list(CONV2D_CASES))
def test_conv2d(case, hw):
    g = check(nn.Conv2d(4, 6, **CONV2D_CASES[case]), _x(3, 4, *hw), case)
    assert types(g)[-1] == "CONV_2D"
    assert "RESHAPE" not in types(g)


def test_conv2d_padding_same_or_pad():
    """Symmetric padding is TFLite SAME only when it reads the same windows; else PAD + VALID."""
    g = check(nn.Conv2d(4, 6, 3, stride=2, padding=1), _x(2, 4, 10, 10))  # TFLite SAME pads 0 before, 1 after
    assert types(g) == ["PAD", "CONV_2D"] and g.ops[1].attrs["padding"] == "VALID"
    g = check(nn.Conv2d(4, 6, 3, stride=2, padding=1), _x(2, 4, 11, 11))  # odd: SAME pads 1 and 1
    assert types(g) == ["CONV_2D"] and g.ops[0].attrs["padding"] == "SAME"
    g = check(nn.Conv2d(4, 6, 3, stride=1, padding=1), _x(2, 4, 10, 10))
    assert types(g) == ["CONV_2D"] and g.ops[0].attrs["padding"] == "SAME"


@pytest.mark.parametrize("mult", [1, 2])
def test_depthwise(mult):
    g = check(nn.Conv2d(4, 4 * mult, 3, padding=1, groups=4), _x(2, 4, 8, 8))
    (op,) = g.ops
    assert op.type == "DEPTHWISE_CONV_2D" and op.attrs["depth_multiplier"] == mult
    assert op.inputs[1].shape == (1, 3, 3, 4 * mult)  # 1HWO


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 2),
    pad=st.sampled_from(["int", "same", "valid"]),
    p=st.integers(0, 2),
    groups=st.sampled_from(["1", "2", "dw", "dw2"]),
    bias=st.booleans(),
    h=st.integers(5, 9),
    w=st.integers(5, 9),
    seed=st.integers(0, 2**16),
)
def test_conv2d_random(k, stride, dilation, pad, p, groups, bias, h, w, seed):
    """Random conv options (hypothesis): every combination PyTorch accepts converts exactly."""
    torch.manual_seed(seed)
    cin, cout, g = {"1": (4, 6, 1), "2": (4, 6, 2), "dw": (4, 4, 4), "dw2": (4, 8, 4)}[groups]
    if pad == "same":
        stride = 1  # PyTorch allows padding="same" only with stride 1
    padding = p if pad == "int" else pad
    # PyTorch itself rejects a dilated window larger than the padded input: not a combination it accepts
    total_pad = {"int": 2 * p, "valid": 0, "same": (k - 1) * dilation}[pad]
    assume((k - 1) * dilation + 1 <= min(h, w) + total_pad)
    check(nn.Conv2d(cin, cout, k, stride, padding, dilation, g, bias), _x(2, cin, h, w, seed=seed))


CONV1D_CASES = {
    "k5-p2": dict(kernel_size=5, padding=2),
    "k3-s2-p1": dict(kernel_size=3, stride=2, padding=1),
    "k3-d2": dict(kernel_size=3, dilation=2),
    "k4-same": dict(kernel_size=4, padding="same"),
    "dw-mult2": dict(kernel_size=3, groups=6, out_channels=12),
    "grouped-nobias": dict(kernel_size=3, groups=2, bias=False),
}


@pytest.mark.parametrize("case", list(CONV1D_CASES), ids=list(CONV1D_CASES))
def test_conv1d(case):
    kw = dict(CONV1D_CASES[case])
    cout = kw.pop("out_channels", 4)
    g = check(nn.Conv1d(6, cout, **kw), _x(3, 6, 20), case)
    # (N, L, C) in, reshaped to (N, 1, L, C) for the 2-D op, and back
    assert types(g)[0] == "RESHAPE" and types(g)[-1] == "RESHAPE"
    assert g.inputs[0].shape == (1, 20, 6)


def test_conv1d_chain_stays_4d():
    """Consecutive 1-D layers share the (N, 1, L, C) form: one RESHAPE in, none between."""
    m = nn.Sequential(
        nn.Conv1d(6, 8, 5, padding=2),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool1d(2),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )
    g = check(_bn_stats(m), _x(4, 6, 20))
    assert types(g) == [
        "RESHAPE",
        "CONV_2D",
        "MAX_POOL_2D",
        "CONV_2D",
        "AVERAGE_POOL_2D",
        "MEAN",
        "RESHAPE",
        "FULLY_CONNECTED",
    ]


# ================================================================ dense, BatchNorm, activations
def test_linear_and_bn1d_fold():
    m = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4, bias=False))
    g = check(_bn_stats(m), _x(5, 12))
    assert types(g) == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert g.ops[0].attrs["fused_activation"] == "RELU"


@pytest.mark.parametrize("bias", [True, False])
def test_bn2d_folds_into_conv(bias):
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=bias), nn.BatchNorm2d(8), nn.ReLU6())
    g = check(_bn_stats(m), _x(2, 3, 8, 8))
    assert types(g) == ["CONV_2D"] and g.ops[0].attrs["fused_activation"] == "RELU6"
    assert g.ops[0].inputs[2] is not None  # the BN shift became the bias


def test_bn_not_after_conv_is_mul_add():
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.BatchNorm2d(8))
    g = check(_bn_stats(m), _x(2, 3, 8, 8))
    assert types(g) == ["CONV_2D", "MUL", "ADD"]
    assert g.ops[1].inputs[1].shape == (1, 1, 1, 8)  # per channel, channels-last


def test_bn_functional():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.register_buffer("mean", torch.linspace(-1, 1, 4))
            self.register_buffer("var", torch.linspace(0.5, 2, 4))

        def forward(self, x):
            return F.batch_norm(self.c(x), self.mean, self.var, eps=1e-3)

    assert types(check(M(), _x(2, 3, 6, 6))) == ["CONV_2D"]


class Acts(nn.Module):
    """Every supported activation, as modules, functions and methods."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)
        self.mods = nn.ModuleList([nn.ReLU(), nn.ReLU6(), nn.Sigmoid(), nn.Tanh(), nn.Hardswish(), nn.Hardtanh(0, 6)])

    def forward(self, x):
        y = self.c(x)
        out = [m(y) for m in self.mods]
        out += [F.relu(y), torch.relu(y), y.relu(), F.relu6(y), F.hardtanh(y, 0.0, 6.0), torch.clamp(y, 0, 6)]
        out += [torch.sigmoid(y), F.sigmoid(y), y.sigmoid(), torch.tanh(y), y.tanh(), F.hardswish(y)]
        out += [F.hardsigmoid(y), F.silu(y), nn.functional.relu(y, inplace=False)]
        return torch.cat(out, 1)


def test_activations():
    g = check(Acts(), _x(2, 3, 6, 6) * 4)  # ×4: exercise the RELU6 and hardswish clamps
    t = types(g)
    for want in ("RELU", "RELU6", "LOGISTIC", "TANH", "MUL", "CONCATENATION"):
        assert want in t


class Leaky(nn.Module):
    SLOPES = (0.01, 0.2, -0.5, 3.0, 0.0, 0.01, 0.3, -1.25)  # in the order forward applies them

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.mods = nn.ModuleList([nn.LeakyReLU(), nn.LeakyReLU(0.2), nn.LeakyReLU(-0.5), nn.LeakyReLU(3.0)])
        self.inplace = nn.LeakyReLU(0.0, inplace=True)

    def forward(self, x):
        y = self.c(x)
        out = [m(y) for m in self.mods] + [self.inplace(self.c(x))]
        out += [F.leaky_relu(y), F.leaky_relu(y, 0.3), F.leaky_relu(y, negative_slope=-1.25)]
        return torch.cat(out, 1)


def test_leaky_relu():
    """nn.LeakyReLU and F.leaky_relu (fx) and aten leaky_relu (torch.export) → LEAKY_RELU with
    alpha = negative_slope as float32; vs PyTorch within 1e-5 (the convolution's float32 sums)."""
    torch.manual_seed(0)
    m = Leaky()
    x = _x(2, 3, 6, 6) * 2
    for g in (check(m, x), picoml.from_torch(torch.export.export(m.eval(), (x[:1],)).module(), x[:1])):
        alphas = [op.attrs["alpha"] for op in g.ops if op.type == "LEAKY_RELU"]
        assert alphas == [float(np.float32(s)) for s in Leaky.SLOPES]


@pytest.mark.parametrize("slope", [0.01, -0.5, 2.0, 0.0, 1e-6])
def test_leaky_relu_alone_is_exact(slope):
    """LEAKY_RELU is one float32 multiply in picoml and PyTorch alike: exact equality."""
    m = nn.LeakyReLU(slope).eval()
    x = _x(3, 4, 5, seed=2) * 3
    g = picoml.from_torch(m, x[:1])
    assert types(g) == ["LEAKY_RELU"]
    with torch.no_grad():
        np.testing.assert_array_equal(from_graph_layout(picoml.run(g, to_graph_layout(x.numpy()))), m(x).numpy())


def test_leaky_relu_slope_must_be_a_number():
    class M(nn.Module):
        def forward(self, x):
            return F.leaky_relu(x, torch.tensor(0.1))  # a tensor slope, folded to a constant

    with pytest.raises(UnsupportedError, match="negative_slope"):
        picoml.from_torch(M(), _x(1, 4))


def test_hardswish_is_one_hard_swish_op():
    g = check(nn.Sequential(nn.Linear(8, 8), nn.Hardswish()), _x(4, 8) * 4)
    assert types(g) == ["FULLY_CONNECTED", "HARD_SWISH"]  # what the TFLite converter emits


def test_fused_activation_only_for_single_consumer():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            y = self.c(x)
            return F.relu(y) + y  # y has two readers: RELU stays an op

    g = check(M(), _x(2, 3, 6, 6))
    assert types(g) == ["CONV_2D", "RELU", "ADD"]
    assert g.ops[0].attrs["fused_activation"] == "NONE"


def test_inplace_relu_rebinds():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)
            self.r = nn.ReLU(inplace=True)

        def forward(self, x):
            y = self.c(x)
            z = self.r(y)  # also overwrites y
            return y + z

    check(M(), _x(2, 3, 6, 6))


# ================================================================ pooling
POOL_CASES = {
    "max-k2": (nn.MaxPool2d(2), (10, 10)),
    "max-k3-s2-p1-odd": (nn.MaxPool2d(3, 2, 1), (11, 11)),  # == SAME
    "max-ceil": (nn.MaxPool2d(2, 2, ceil_mode=True), (11, 9)),
    "avg-k2": (nn.AvgPool2d(2), (10, 10)),
    "avg-k3-p1-include": (nn.AvgPool2d(3, 1, 1), (10, 10)),  # PAD + VALID: the divisor counts padding
    "avg-k3-s2-p1-include": (nn.AvgPool2d(3, 2, 1), (10, 10)),
    "avg-k3-p1-exclude": (nn.AvgPool2d(3, 1, 1, count_include_pad=False), (10, 10)),  # == SAME
    "avg-ceil": (nn.AvgPool2d(2, 2, ceil_mode=True), (11, 9)),
    "adaptive-avg-1": (nn.AdaptiveAvgPool2d((1, 1)), (10, 10)),
    "adaptive-avg-2": (nn.AdaptiveAvgPool2d(2), (10, 10)),
    "adaptive-max-1": (nn.AdaptiveMaxPool2d(1), (10, 10)),
}


@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_pool2d(case):
    m, hw = POOL_CASES[case]
    g = check(m, _x(3, 4, *hw), case)
    if "include" in case:
        assert types(g) == ["PAD", "AVERAGE_POOL_2D"]
    if case == "adaptive-avg-1":
        assert types(g) == ["MEAN"]


def test_maxpool_explicit_padding_after_relu():
    """ResNet stem pooling (3x3, stride 2, pad 1 on an even input) is not SAME; zero padding is
    exact after a ReLU, and refused before one."""
    g = check(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, 1)), _x(2, 3, 10, 10))
    assert types(g) == ["CONV_2D", "PAD", "MAX_POOL_2D"]
    with pytest.raises(UnsupportedError, match=r"1 \(MaxPool2d\).*may be negative"):
        picoml.from_torch(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(3, 2, 1)), _x(1, 3, 10, 10))


def test_avgpool_unmatched_padding_refused():
    with pytest.raises(UnsupportedError, match="count_include_pad=False"):
        picoml.from_torch(nn.AvgPool2d(3, 2, 1, count_include_pad=False), _x(1, 4, 10, 10))
    with pytest.raises(UnsupportedError, match="ceil_mode"):
        picoml.from_torch(nn.AvgPool2d(3, 2, 1, ceil_mode=True), _x(1, 4, 10, 10))


class FunctionalPools(nn.Module):
    def forward(self, x):
        a = F.avg_pool2d(F.max_pool2d(x, 2), 2, count_include_pad=False)
        b = F.adaptive_avg_pool2d(x, 1)
        c = x.mean((2, 3), keepdim=True)
        d = torch.mean(F.max_pool2d(x, 3, 1, 1), dim=[-1, -2], keepdim=True)
        return torch.cat([a.mean((2, 3)), b.flatten(1), c.flatten(1), d.squeeze(-1).squeeze(-1)], dim=1)


def test_functional_pools():
    check(FunctionalPools(), _x(3, 4, 8, 8))


@pytest.mark.parametrize(
    "m",
    [nn.MaxPool1d(2), nn.MaxPool1d(3, 2, 1), nn.AvgPool1d(3, 1, 1), nn.AvgPool1d(4, 2), nn.AdaptiveAvgPool1d(1)],
    ids=["max2", "max3-s2-p1", "avg3-p1", "avg4-s2", "adaptive1"],
)
def test_pool1d(m):
    g = check(m, _x(3, 5, 17))
    if isinstance(m, nn.AdaptiveAvgPool1d):
        assert types(g) == ["MEAN"]


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["max", "avg"]),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    ceil=st.booleans(),
    include=st.booleans(),
    relu=st.booleans(),
    h=st.integers(4, 9),
    w=st.integers(4, 9),
    seed=st.integers(0, 2**16),
)
def test_pool2d_random(kind, k, s, p, ceil, include, relu, h, w, seed):
    """Random pooling options (hypothesis): the conversion is exact or refused, never wrong, and
    the documented always-exact cases are never refused."""
    p = min(p, k // 2)  # PyTorch: padding at most half the window
    pool = nn.MaxPool2d(k, s, p, ceil_mode=ceil) if kind == "max" else nn.AvgPool2d(k, s, p, ceil, include)
    m = nn.Sequential(nn.ReLU(), pool) if relu else nn.Sequential(pool)
    x = _x(2, 3, h, w, seed=seed)
    try:
        check(m, x)
    except UnsupportedError:
        assert p > 0 or ceil, "unpadded pooling must convert"
        assert not (kind == "max" and relu), "max pooling after ReLU must convert"
        assert not (kind == "avg" and include and not ceil), "count_include_pad=True must convert"


def test_adaptive_unequal_windows_refused():
    with pytest.raises(UnsupportedError, match="unequal windows"):
        picoml.from_torch(nn.AdaptiveAvgPool2d(3), _x(1, 4, 10, 10))


# ================================================================ reshapes, flatten order
class FlattenLinear(nn.Module):
    """Flatten a 4x4 feature map straight into a Linear: PyTorch's (C, H, W) order."""

    def __init__(self, how: str):
        super().__init__()
        self.how = how
        self.c = nn.Conv2d(3, 5, 3, padding=1)
        self.fc = nn.Linear(5 * 4 * 4, 7)

    def forward(self, x):
        y = F.relu(self.c(x))
        if self.how == "view":
            y = y.view(y.size(0), -1)
        elif self.how == "flatten":
            y = torch.flatten(y, 1)
        elif self.how == "reshape":
            y = y.reshape(-1, 5 * 4 * 4)
        elif self.how == "dropout":
            y = F.dropout(y.flatten(1), 0.5, training=self.training)
        return self.fc(y)


@pytest.mark.parametrize("how", ["view", "flatten", "reshape", "dropout"])
def test_flatten_into_linear_permutes_weights(how):
    g = check(FlattenLinear(how), _x(3, 3, 4, 4))
    assert types(g) == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]  # no transpose at run time


def test_flatten_then_elementwise_then_linear():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.ReLU(), nn.Dropout(), nn.Linear(4 * 4 * 4, 3))
    check(m, _x(2, 3, 6, 6))


def test_flatten_order_becomes_a_transpose_where_it_matters():
    """A flattened channels-last tensor that reaches an output, an Unflatten or a transpose is moved
    into PyTorch's order by a TRANSPOSE (before TRANSPOSE existed these were refused)."""
    g = check(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), _x(2, 3, 6, 6))
    assert "TRANSPOSE" in types(g)
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.ReLU(), nn.Linear(64, 64), nn.Unflatten(1, (4, 4, 4)))
    assert "TRANSPOSE" in types(check(m, _x(2, 3, 6, 6)))

    class T(nn.Module):
        def forward(self, x):
            return x.transpose(1, 2)

    assert "TRANSPOSE" in types(check(T(), _x(2, 3, 5)))


def test_unflatten_restores_layout():
    """Flatten → softmax over all features → unflatten: softmax ignores the order, so the
    channels-last data is back in place and the Unflatten is a RESHAPE."""
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Softmax(-1), nn.Unflatten(1, (4, 4, 4)))
    g = check(m, _x(2, 3, 6, 6))
    assert types(g) == ["CONV_2D", "RESHAPE", "SOFTMAX", "RESHAPE"]


def test_flatten_after_global_pool_is_plain():
    g = check(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()), _x(2, 3, 6, 6))
    assert types(g) == ["CONV_2D", "MEAN", "RESHAPE"]


def test_view_to_channels_by_positions():
    """(N, C, H, W) → (N, C, H·W) keeps channels-last data in order: a RESHAPE."""

    class M(nn.Module):
        def forward(self, x):
            return x.view(x.shape[0], x.shape[1], -1).mean(2)

    g = check(M(), _x(2, 4, 3, 5))
    assert types(g) == ["RESHAPE", "MEAN", "RESHAPE"]


# ================================================================ add, cat, softmax, misc
class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.c = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        y = self.a(x) + x
        y = torch.add(self.b(y), y)
        y += self.c(y)
        y = F.relu(y + 1.0) - 0.5
        return torch.cat((y, x * 2.0, 3.0 - x), dim=1) / 4


def test_add_cat_constants():
    g = check(Residual(), _x(3, 4, 6, 6))
    assert "CONCATENATION" in types(g)
    cat = next(op for op in g.ops if op.type == "CONCATENATION")
    assert cat.attrs["axis"] == 3  # channels → last axis


def test_cat_along_height():
    class M(nn.Module):
        def forward(self, x):
            return torch.cat([x, F.relu(x)], dim=2)

    g = check(M(), _x(2, 3, 4, 5))
    assert next(op for op in g.ops if op.type == "CONCATENATION").attrs["axis"] == 1


def test_squeeze_excitation_broadcast_mul():
    class SE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            s = torch.sigmoid(self.fc(F.adaptive_avg_pool2d(x, 1)))  # (N, C, 1, 1)
            return x * s

    check(SE(), _x(2, 4, 5, 5))


@pytest.mark.parametrize("dim", [-1, 1])
def test_softmax(dim):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 5)

        def forward(self, x):
            return F.softmax(self.fc(x), dim=dim) + torch.softmax(self.fc(x), dim) + self.fc(x).softmax(dim)

    check(M(), _x(4, 6))
    g = check(nn.Sequential(nn.Linear(6, 5), nn.Softmax(dim=dim)), _x(4, 6))
    assert types(g) == ["FULLY_CONNECTED", "SOFTMAX"] and g.ops[1].attrs["beta"] == 1.0


def test_softmax_over_channels_of_a_map():
    check(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Softmax(dim=1)), _x(2, 3, 3, 3))
    with pytest.raises(UnsupportedError, match="last axis"):
        picoml.from_torch(nn.Softmax(dim=2), _x(1, 3, 3, 3))


def test_dropout_identity_removed():
    m = nn.Sequential(nn.Identity(), nn.Linear(5, 5), nn.Dropout(0.5), nn.Identity(), nn.Dropout1d(), nn.ReLU())
    g = check(m, _x(3, 5))
    assert types(g) == ["FULLY_CONNECTED"]


def test_pad():
    class M(nn.Module):
        def forward(self, x):
            return F.pad(x, (1, 2, 0, 1)) * 1.5

    g = check(M(), _x(2, 3, 4, 5))
    assert g.ops[0].type == "PAD" and g.ops[0].inputs[1].data.tolist() == [[0, 0], [0, 1], [1, 2], [0, 0]]


# ================================================================ end-to-end models
class ResCNN(nn.Module):
    """conv-bn-relu blocks with a skip add and a channel concat, global pool, dense head."""

    def __init__(self):
        super().__init__()

        def cbr(cin, cout, stride=1):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

        self.stem = cbr(3, 8)
        self.block = nn.Sequential(cbr(8, 8), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.down = cbr(8, 12, stride=2)
        self.side = nn.Sequential(nn.Conv2d(8, 4, 1, stride=2), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(16, 10))

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(x + self.block(x))
        x = torch.cat([self.down(x), self.side(x)], dim=1)
        return self.head(x)


def tcn() -> nn.Module:
    """A Conv1d time-series classifier (the activity task's shape)."""
    layers: list[nn.Module] = []
    for cin, cout, k in ((6, 16, 5), (16, 16, 5), (16, 16, 3)):
        layers += [
            nn.Conv1d(cin, cout, k, padding=k // 2, bias=False),
            nn.BatchNorm1d(cout),
            nn.ReLU(),
            nn.MaxPool1d(2),
        ]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, 4))


def digits_mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 10))


END_TO_END = {
    "rescnn": (ResCNN, (3, 16, 16)),
    "tcn": (tcn, (6, 32)),
    "digits-mlp": (digits_mlp, (1, 8, 8)),
}


@pytest.mark.parametrize("name", list(END_TO_END))
def test_end_to_end_roundtrip_litert(name, tmp_path):
    """Convert, compare with PyTorch, save/load as .tflite, and run the file in LiteRT: the
    graph is a real .tflite model (LiteRT's float kernels, same 1e-5 relative tolerance)."""
    factory, shape = END_TO_END[name]
    torch.manual_seed(0)
    model = _bn_stats(factory())
    x = _x(8, *shape, seed=1)
    g = check(model, x, name)
    path = tmp_path / f"{name}.tflite"
    picoml.save(g, path)
    g2 = picoml.load(path)
    assert g.equals(g2), g.diff(g2)
    with torch.no_grad():
        want = model(x).numpy()
    xs = to_graph_layout(x.numpy())
    got = litert_run(to_tflite(g2), xs[:, None])  # one (1, ...) sample per invoke
    assert_float_close(from_graph_layout(got.reshape((len(x),) + g2.outputs[0].shape[1:])), want, f"{name} LiteRT")
    assert not any(op.type in ("MUL", "ADD") and op.inputs[1].is_const for op in g.ops), "BatchNorm not folded"


def test_resnet_structure():
    torch.manual_seed(0)
    g = check(_bn_stats(ResCNN()), _x(2, 3, 16, 16))
    fused = [op.attrs["fused_activation"] for op in g.ops if op.type in ("CONV_2D", "ADD")]
    assert fused.count("RELU") >= 4
    assert g.inputs[0].shape == (1, 16, 16, 3) and g.outputs[0].shape == (1, 10)


def test_task_models_convert():
    """The example tasks' models (digits CNN, activity Conv1d, vowels Conv1d, sine MLP)."""
    from picoml.tasks import activity, digits, sine, vowels

    torch.manual_seed(0)
    for mod, shape in ((digits, (1, 8, 8)), (activity, (6, 100)), (vowels, (12, 26)), (sine, (1,))):
        check(_bn_stats(mod.build_model()), _x(4, *shape), mod.__name__)


# ================================================================ API details
def test_batch_and_numpy_input_and_name():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    x = _x(3, 3, 6, 6).numpy().astype(np.float64)  # numpy float64: converted to float32
    g = picoml.from_torch(m, x, name="net")
    assert g.name == "net"
    assert g.inputs[0].shape == (3, 6, 6, 3) and g.outputs[0].shape == (3, 4, 4, 4)


def test_layout_helpers():
    a = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    assert to_graph_layout(a).shape == (2, 4, 5, 3) and np.array_equal(from_graph_layout(to_graph_layout(a)), a)
    b = np.arange(24).reshape(2, 3, 4)
    assert to_graph_layout(b).shape == (2, 4, 3) and np.array_equal(from_graph_layout(to_graph_layout(b)), b)
    c = np.arange(6).reshape(2, 3)
    assert to_graph_layout(c) is c or np.array_equal(to_graph_layout(c), c)


def test_mode_restored():
    m = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout())
    m.train()
    m[2].eval()
    picoml.from_torch(m, _x(2, 4))
    assert m.training and m[0].training and m[1].training and not m[2].training


def test_multiple_inputs_and_outputs():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, a, b):
            return self.fc(a), F.relu(b) + 1

    m = M().eval()
    a, b = _x(1, 4), _x(1, 2, 3, 3, seed=1)
    g = picoml.from_torch(m, (a, b))
    ya, yb = picoml.run(g, [a.numpy(), to_graph_layout(b.numpy())])
    with torch.no_grad():
        wa, wb = m(a, b)
    assert_float_close(ya, wa.numpy())
    assert_float_close(from_graph_layout(yb), wb.numpy())


def test_torch_export_program(tmp_path):
    """A torch.export program (ATen ops, e.g. from a .pt2 file) converts through the ATen table."""
    torch.manual_seed(0)
    model = _bn_stats(ResCNN()).eval()
    x = _x(2, 3, 16, 16)
    ep = torch.export.export(model, (x[:1],))
    torch.export.save(ep, tmp_path / "m.pt2")
    loaded = torch.export.load(tmp_path / "m.pt2").module()
    g = picoml.from_torch(loaded, x[:1])
    with torch.no_grad():
        want = model(x).numpy()
    assert_float_close(picoml.run(g, to_graph_layout(x.numpy())), want)
    assert types(g) == types(picoml.from_torch(model, x[:1]))


def test_shape_dependent_python_falls_back_to_export():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.MaxPool2d(2)

        def forward(self, x):
            if x.shape[-1] > 4:  # fx cannot trace this; torch.export specializes it
                x = self.p(x)
            return x * 2

    assert types(check(M(), _x(2, 3, 8, 8))) == ["MAX_POOL_2D", "MUL"]


def test_supported_torch_lists():
    s = supported_torch()
    assert "Conv2d" in s["modules"] and "BatchNorm1d" in s["modules"]
    assert "F.relu" in s["functions"] and "torch.cat" in s["functions"] and "Tensor.view" in s["methods"]


# ================================================================ errors
class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2)

    def forward(self, x):
        return self.attn(x, x, x)[0]


def test_unsupported_module_named_by_path():
    m = nn.Sequential()
    m.add_module("features", nn.Sequential(nn.Conv2d(3, 4, 1), nn.Flatten(2), nn.Identity(), Attn()))
    with pytest.raises(
        UnsupportedError, match=r"^Sequential: features\.3\.attn \(MultiheadAttention\) is not supported"
    ):
        picoml.from_torch(m, _x(1, 3, 4, 4))


def test_unsupported_function_named():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 3, 1))

        def forward(self, x):
            return torch.roll(self.body(x), 1, 2)

    with pytest.raises(UnsupportedError, match=r"torch\.roll in forward .*not supported.*supported functions"):
        picoml.from_torch(M(), _x(1, 3, 4, 4))
    with pytest.raises(UnsupportedError, match=r"Softplus"):  # LogSoftmax converts: test_torch_extra.py
        picoml.from_torch(nn.Softplus(), _x(1, 4))
    # x > 0 converts (GREATER); boolean-mask indexing does not (basic slicing does: test_torch_movement.py)
    with pytest.raises(UnsupportedError, match="indexing a tensor with a tensor"):
        picoml.from_torch(type("S", (nn.Module,), {"forward": lambda self, x: x[:, x[0] > 0]})(), _x(1, 4))


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = Gate()

    def forward(self, x):
        return self.gate(x)


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        return -x


def test_data_dependent_control_flow():
    with pytest.raises(UnsupportedError, match=r"^Branchy: gate \(Gate\): data-dependent control flow"):
        picoml.from_torch(Branchy(), _x(1, 4))


def test_value_to_python_refused():
    class M(nn.Module):
        def forward(self, x):
            return x * x.mean(1).item()

    with pytest.raises(PicomlError, match=r"item|static|data-dependent"):
        picoml.from_torch(M(), _x(1, 4))


def test_bad_arguments():
    with pytest.raises(InputError, match="nn.Module"):
        picoml.from_torch(lambda x: x, _x(1, 4))
    with pytest.raises(InputError, match="not floating point"):
        picoml.from_torch(nn.Linear(4, 4), torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(InputError, match="running the model on example_input failed"):
        picoml.from_torch(nn.Linear(4, 4), _x(1, 5))
    with pytest.raises(UnsupportedError, match="padding_mode"):
        picoml.from_torch(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")), _x(1, 3, 5, 5))
    with pytest.raises(UnsupportedError, match="training=True"):
        picoml.from_torch(type("D", (nn.Module,), {"forward": lambda self, x: F.dropout(x, 0.5)})(), _x(1, 4))


def test_missing_torch_message(monkeypatch):
    from picoml.frontends import torch as ft

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(PicomlError, match=r"pip install 'picoml\[torch\]'"):
        ft._need_torch()


# ================================================================ passes on their own
def test_passes_leave_shared_and_output_tensors():
    """fold_batchnorm / fuse_activations must not fold into a layer whose output is also read elsewhere."""

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 1)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.c(x)
            return self.bn(y), y

    m = _bn_stats(M()).eval()
    g = picoml.from_torch(m, _x(1, 3, 4, 4))
    assert types(g) == ["CONV_2D", "MUL", "ADD"]
    assert fold_batchnorm(g) == 0 and fuse_activations(g) == 0


def test_passes_look_through_a_reshape():
    """A RELU after a flatten fuses into the conv before it; a BatchNorm1d after a reshape that keeps
    the channels last folds into the conv (the clamp and a per-channel constant commute with the
    RESHAPE). ONNX's Conv1d results reach their BatchNorm and Relu the same way."""
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.ReLU(), nn.Linear(4 * 4 * 4, 3))
    g = check(m, _x(2, 3, 6, 6))
    assert types(g) == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert g.ops[0].attrs["fused_activation"] == "RELU"

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm1d(4)

        def forward(self, x):
            return self.bn(self.c(x).flatten(2))  # (N, C, H·W): channels stay last in the graph

    g = check(_bn_stats(M()), _x(2, 3, 6, 6))
    assert types(g) == ["CONV_2D", "RESHAPE"]
