"""PyTorch → MIRROR_PAD, PADV2, REVERSE_V2, L2_NORMALIZATION, LOG_SOFTMAX, GELU and RELU_N1_TO_1: fx and
torch.export, vs PyTorch within the front-end tests' 1e-5 (module docstring of test_torch.py); the
converted graph runs in LiteRT too (it has every one of these ops)."""

from __future__ import annotations

import pytest

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.torch import from_graph_layout, to_graph_layout

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from oracles import assert_float_close, litert_run, to_tflite  # noqa: E402


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def check(model: nn.Module, x: torch.Tensor, export: bool = True) -> list[picoml.Graph]:
    model.eval()
    graphs = [picoml.from_torch(model, x[:1])]
    if export:
        graphs.append(picoml.from_torch(torch.export.export(model, (x[:1],)).module(), x[:1]))
    with torch.no_grad():
        want = model(x).numpy()
    for g in graphs:
        xg = to_graph_layout(x.numpy())
        out = picoml.run(g, xg)
        assert_float_close(from_graph_layout(out), want, str([op.type for op in g.ops]))
        lit = litert_run(to_tflite(g), xg[:, None])
        assert_float_close(from_graph_layout(lit.reshape(out.shape)), want, "LiteRT")
    return graphs


def types(g):
    return [str(op.type) for op in g.ops]


class Pads(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.refl = nn.ReflectionPad2d((1, 2, 2, 0))
        self.const = nn.ConstantPad2d(1, 0.5)

    def forward(self, x):
        y = self.refl(self.conv(x))
        y = F.pad(y, (1, 1, 0, 1), mode="reflect")
        return F.pad(self.const(y), (0, 1), value=-1.25)


def test_padding():
    for g in check(Pads(), _x(2, 3, 8, 8)):
        assert types(g).count("MIRROR_PAD") == 2 and types(g).count("PADV2") == 2


def test_reflection_pad_1d():
    m = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReflectionPad1d((2, 1)))
    for g in check(m, _x(2, 2, 10)):
        assert "MIRROR_PAD" in types(g)


@pytest.mark.parametrize("mod", [nn.ReplicationPad2d(1), nn.ReplicationPad1d(1)])
def test_replication_pad_is_not_mirror_pad(mod):
    x = _x(1, 3, 6, 6) if isinstance(mod, nn.ReplicationPad2d) else _x(1, 3, 6)
    with pytest.raises(UnsupportedError, match="repeats the edge value, which is not MIRROR_PAD"):
        picoml.from_torch(nn.Sequential(mod), x)


class Flip(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.flip(x, self.dims) * 2 + x.flip(-1)


@pytest.mark.parametrize("dims", [(1,), (2, 3), (1, 3), (-1,), (1, 2, 3)])
def test_flip(dims):
    for g in check(Flip(dims), _x(2, 3, 4, 5)):
        assert "REVERSE_V2" in types(g)


class Heads(nn.Module):
    def __init__(self, approximate):
        super().__init__()
        self.fc = nn.Linear(12, 8)
        self.gelu = nn.GELU(approximate=approximate)

    def forward(self, x):
        h = self.gelu(self.fc(x))
        return F.log_softmax(F.normalize(h) * 3, dim=-1) + F.hardtanh(h) + F.gelu(x[:, :8], approximate="tanh")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_normalize_log_softmax_hardtanh(approximate):
    """fx only: torch.export decomposes F.normalize into linalg_vector_norm / clamp / div (refused,
    naming aten.linalg_vector_norm)."""
    for g in check(Heads(approximate), _x(4, 12), export=False):
        t = types(g)
        assert t.count("GELU") == 2 and "L2_NORMALIZATION" in t and "LOG_SOFTMAX" in t and "RELU_N1_TO_1" in t


class Acts(nn.Module):
    def forward(self, x):
        return F.log_softmax(F.gelu(x), dim=-1) + F.hardtanh(x) + nn.GELU("tanh")(x)


def test_gelu_log_softmax_hardtanh_exported():
    for g in check(Acts(), _x(3, 10)):
        t = types(g)
        assert t.count("GELU") == 2 and "LOG_SOFTMAX" in t and "RELU_N1_TO_1" in t


def test_normalize_of_channels_and_log_softmax_module():
    m = nn.Sequential(nn.Conv2d(3, 5, 1), nn.LogSoftmax(dim=1))
    check(m, _x(2, 3, 4, 4), export=False)

    class N(nn.Module):
        def forward(self, x):
            return F.normalize(x, dim=1)

    for g in check(N(), _x(2, 3, 4, 4), export=False):
        assert types(g) == ["L2_NORMALIZATION"]


def test_refusals():
    class P(nn.Module):
        def forward(self, x):
            return F.normalize(x, p=1.0, dim=-1)

    with pytest.raises(UnsupportedError, match="p=1.0"):
        picoml.from_torch(P(), _x(1, 4))

    class S(nn.Module):
        def forward(self, x):
            return F.log_softmax(x, dim=2)

    with pytest.raises(UnsupportedError, match="not the channels-last graph's last axis"):
        picoml.from_torch(S(), _x(1, 3, 4, 4))


class Cum(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1) + x.cumsum(-1)


def test_cumsum():
    for g in check(Cum(), _x(2, 3, 4, 5)):
        assert types(g).count("CUMSUM") == 2
