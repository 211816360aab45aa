"""Front-end mappings of SUB, DIV, MAXIMUM and MINIMUM (issue 14): PyTorch (fx and torch.export)
and ONNX models vs the framework. Checked exactly where picoml computes the framework's float ops
one for one, else within the front-end tests' 1e-5 (a convolution before them sums in float32)."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.torch import from_graph_layout, to_graph_layout
from picoml.graph.ops import OpType

from oracles import assert_float_close

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
nn = torch.nn

from test_onnx import check as onnx_check  # noqa: E402
from test_onnx import make_model, node, rnd  # noqa: E402


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _run(model, x, exported=False):
    model.eval()
    g = picoml.from_torch(torch.export.export(model, (x[:1],)).module() if exported else model, x[:1])
    got = from_graph_layout(picoml.run(g, to_graph_layout(x.numpy())))
    with torch.no_grad():
        want = model(x).numpy()
    return g, got, want


class Pair(nn.Module):
    """Two run-time values from one input (no convolution: every float op maps one for one)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        a = torch.relu(x)
        b = torch.relu(-x) + 0.5  # >= 0.5: a safe divisor; every op exact in float32
        return self.fn(a, b)


PAIRS = {
    "operator-": (lambda a, b: a - b, OpType.SUB),
    "torch.sub": (lambda a, b: torch.sub(a, b), OpType.SUB),
    "torch.sub-alpha": (lambda a, b: torch.sub(a, b, alpha=2.0), OpType.SUB),
    "rsub-const": (lambda a, b: 3.0 - a, OpType.SUB),
    "operator/": (lambda a, b: a / b, OpType.DIV),
    "torch.div": (lambda a, b: torch.div(a, b), OpType.DIV),
    "const/x": (lambda a, b: 3.0 / b, OpType.DIV),  # PyTorch: reciprocal(b) · 3
    "torch.reciprocal": (lambda a, b: torch.reciprocal(b), OpType.DIV),
    "torch.maximum": (lambda a, b: torch.maximum(a, b), OpType.MAXIMUM),
    "torch.minimum": (lambda a, b: torch.minimum(a, b), OpType.MINIMUM),
    "torch.max-pair": (lambda a, b: torch.max(a, b), OpType.MAXIMUM),
    "torch.min-pair": (lambda a, b: torch.min(b, a), OpType.MINIMUM),
}


@pytest.mark.parametrize("exported", [False, True])
@pytest.mark.parametrize("case", list(PAIRS))
def test_torch_binary_ops_exact(case, exported):
    fn, op = PAIRS[case]
    g, got, want = _run(Pair(fn), _x(4, 3, 5, 6), exported)
    assert op in [o.type for o in g.ops]
    np.testing.assert_array_equal(got, want)


def test_torch_broadcast_and_constant_operands():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.register_buffer("k", torch.linspace(0.5, 2.0, 4).reshape(4, 1, 1))

        def forward(self, x):
            y = self.conv(x)
            s = y.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1): broadcast over H, W
            d = (y - s) / (torch.sigmoid(s) + 0.1)
            return torch.maximum(d, self.k) - torch.minimum(y, 0.5 * self.k)

    g, got, want = _run(M(), _x(2, 3, 6, 6, seed=1))
    kinds = [o.type for o in g.ops]
    assert {OpType.SUB, OpType.DIV, OpType.MAXIMUM, OpType.MINIMUM} <= set(kinds)
    assert_float_close(got, want, "broadcast")


def test_torch_division_by_a_constant_stays_a_multiply():
    g, got, want = _run(Pair(lambda a, b: a / 4.0), _x(2, 3, 4, 4))
    assert [o.type for o in g.ops].count(OpType.DIV) == 0
    assert_float_close(got, want, "x / 4")


def test_torch_refusals():
    with pytest.raises(UnsupportedError, match="rounding_mode"):
        picoml.from_torch(Pair(lambda a, b: torch.div(a, b, rounding_mode="floor")), _x(1, 2, 3, 3))
    # torch.max(a, 1) is a reduction: REDUCE_MAX (tests/frontends/test_torch_reduce.py)
    g = picoml.from_torch(Pair(lambda a, b: torch.max(a, 1)[0]), _x(1, 2, 3, 3))
    assert OpType.REDUCE_MAX in [o.type for o in g.ops]


# ------------------------------------------------------------------------------------------ ONNX
@pytest.mark.parametrize(
    "kind, want",
    [("Sub", OpType.SUB), ("Div", OpType.DIV), ("Max", OpType.MAXIMUM), ("Min", OpType.MINIMUM)],
)
def test_onnx_binary_of_run_time_values(kind, want):
    model = make_model(
        [node("Sigmoid", ["x"], ["s"]), node("Relu", ["x"], ["r"]), node(kind, ["r", "s"], ["y"])],
        {"x": (1, 3, 4, 5)},
        ["y"],
    )
    g = onnx_check(model, rnd((1, 3, 4, 5), 1))
    assert want in [o.type for o in g.ops]


@pytest.mark.parametrize("kind", ["Sub", "Div", "Max", "Min"])
def test_onnx_constant_first_and_broadcast(kind):
    model = make_model(
        [node("Sigmoid", ["x"], ["s"]), node(kind, ["c", "s"], ["y"])],
        {"x": (1, 3, 4, 5)},
        ["y"],
        {"c": (np.abs(rnd((1, 3, 1, 1), 2)) + 0.5).astype(np.float32)},
    )
    onnx_check(model, rnd((1, 3, 4, 5), 3))


def test_onnx_max_of_three_inputs_and_a_constant():
    model = make_model(
        [node("Sigmoid", ["x"], ["s"]), node("Tanh", ["x"], ["t"]), node("Max", ["x", "s", "k", "t"], ["y"])],
        {"x": (1, 2, 3, 3)},
        ["y"],
        {"k": np.float32(0.3)},
    )
    g = onnx_check(model, rnd((1, 2, 3, 3), 4))
    assert [o.type for o in g.ops].count(OpType.MAXIMUM) == 3
