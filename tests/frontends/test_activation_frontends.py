"""PyTorch and ONNX mappings of HARD_SWISH, PRELU, ELU and the unary ops, each against the
framework: PyTorch (eager) and onnxruntime, exact where the op is one float32 operation or the
C library's function on both sides, else within 1e-5 relative (oracles.FLOAT_RTOL); the .tflite
round trip against LiteRT too."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.onnx import from_graph_layout, from_onnx, to_graph_layout

from oracles import assert_float_close, litert_run, to_tflite


def _x(*shape: int, seed: int = 0, scale: float = 3.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def _torch(model, x):
    model.eval()
    g = picoml.from_torch(model, x[:1])
    got = from_graph_layout(picoml.run(g, to_graph_layout(x.numpy())))
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == want.shape
    return g, got, want


def _types(g):
    return [op.type for op in g.ops]


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


# (callable on a positive-or-any input, op type, positive input only, exact vs PyTorch)
TORCH_UNARY = [
    (torch.abs, "ABS", False),
    (lambda x: x.abs(), "ABS", False),
    (torch.exp, "EXP", False),
    (torch.log, "LOG", True),
    (torch.sqrt, "SQRT", True),
    (torch.rsqrt, "RSQRT", True),
    (torch.square, "SQUARE", False),
    (torch.sin, "SIN", False),
    (torch.cos, "COS", False),
    (torch.floor, "FLOOR", False),
    (torch.ceil, "CEIL", False),
    (torch.round, "ROUND", False),
    (lambda x: x.exp(), "EXP", False),
    (lambda x: x.floor(), "FLOOR", False),
]


@pytest.mark.parametrize("case", TORCH_UNARY, ids=lambda c: c[1] + ("_m" if c[0].__name__ == "<lambda>" else ""))
def test_torch_unary(case):
    fn, op, positive = case
    x = _x(3, 4, 5, 6)
    if positive:
        x = x.abs() + 0.01
    g, got, want = _torch(Fn(fn), x)
    assert _types(g) == [op]
    if op in ("ABS", "SQUARE", "FLOOR", "CEIL", "ROUND"):  # one IEEE operation: exact
        np.testing.assert_array_equal(got, want)
    else:  # PyTorch's own vectorized exp/log/sin/cos/rsqrt and sqrt (1 ulp off on 16%): 1e-5
        assert_float_close(got, want, op)


def test_torch_neg_is_exact_mul_by_minus_one():
    """neg stays MUL by -1 (exact), which has an int8 kernel; TFLite's NEG has none in tflite-micro."""
    g, got, want = _torch(Fn(lambda x: torch.neg(x) + (-x)), _x(2, 3, 4))
    assert "NEG" not in _types(g)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "module",
    [
        nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish()),
        nn.Sequential(nn.Conv2d(3, 4, 3), Fn(F.hardswish)),
    ],
)
def test_torch_hardswish(module):
    torch.manual_seed(0)
    g, got, want = _torch(module, _x(2, 3, 6, 6))
    assert _types(g) == ["CONV_2D", "HARD_SWISH"]
    assert_float_close(got, want, "hardswish")
    xs = to_graph_layout(_x(2, 3, 6, 6).numpy())[:, None]
    assert_float_close(litert_run(to_tflite(g), xs), to_graph_layout(want)[:, None])


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("rank", [2, 3, 4])
def test_torch_prelu(n, rank):
    torch.manual_seed(n + rank)
    conv = {2: nn.Linear(6, 4), 3: nn.Conv1d(3, 4, 3), 4: nn.Conv2d(3, 4, 3)}[rank]
    m = nn.Sequential(conv, nn.PReLU(n))
    with torch.no_grad():
        m[1].weight.copy_(torch.linspace(-1.5, 2.0, n))
    x = _x(2, 6) if rank == 2 else _x(2, 3, 7) if rank == 3 else _x(2, 3, 6, 6)
    g, got, want = _torch(m, x)
    assert "PRELU" in _types(g)
    assert_float_close(got, want, "PReLU")


def test_torch_functional_prelu_and_elu():
    w = torch.tensor([0.25, -0.5, 2.0])
    m = Fn(lambda x: F.prelu(x, w) + F.elu(x) + nn.ELU()(x))
    g, got, want = _torch(m, _x(2, 3, 4, 4))
    assert _types(g).count("PRELU") == 1 and _types(g).count("ELU") == 2
    assert_float_close(got, want, "prelu/elu")


def test_torch_elu_alpha_other_than_1_is_refused():
    with pytest.raises(UnsupportedError, match="ELU with alpha=0.5 is not supported"):
        picoml.from_torch(nn.Sequential(nn.ELU(0.5)).eval(), _x(1, 4))


def test_torch_export_aten():
    """torch.export graphs (ATen overloads) map the same ops."""
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish(), nn.PReLU(4), nn.ELU(), Fn(torch.abs), Fn(torch.floor))
    m.eval()
    x = _x(1, 3, 6, 6)
    ep = torch.export.export(m, (x,))
    g = picoml.from_torch(ep.module(), x)
    assert _types(g) == ["CONV_2D", "HARD_SWISH", "PRELU", "ELU", "ABS", "FLOOR"]
    got = from_graph_layout(picoml.run(g, to_graph_layout(x.numpy())))
    with torch.no_grad():
        np.testing.assert_allclose(got, m(x).numpy(), rtol=1e-5, atol=1e-5)


# ================================================================ ONNX
def _model(nodes, shape, inits=None, opset=17):
    vi = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))]
    out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))]
    inits = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "t", vi, out, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _ort(model, x):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def _onnx(model, x):
    g = from_onnx(model)
    got = from_graph_layout(picoml.run(g, to_graph_layout(x)))
    return g, got, _ort(model, x)


ONNX_UNARY = [
    ("Abs", "ABS", False, True),
    ("Exp", "EXP", False, False),
    ("Log", "LOG", True, False),
    ("Sqrt", "SQRT", True, True),
    ("Sin", "SIN", False, False),
    ("Cos", "COS", False, False),
    ("Floor", "FLOOR", False, True),
    ("Ceil", "CEIL", False, True),
    ("Round", "ROUND", False, True),
    ("Elu", "ELU", False, False),
    ("HardSwish", "HARD_SWISH", False, False),
]


@pytest.mark.parametrize("case", ONNX_UNARY, ids=lambda c: c[0])
def test_onnx_unary(case):
    onnx_op, op, positive, exact = case
    x = _x(2, 3, 4, 5).numpy()
    if positive:
        x = np.abs(x) + np.float32(0.01)
    model = _model([helper.make_node(onnx_op, ["x"], ["y"])], x.shape)
    g, got, want = _onnx(model, x)
    assert _types(g) == [op]
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        assert_float_close(got, want, onnx_op)


def test_onnx_neg_is_mul_by_minus_one():
    x = _x(2, 3, 4).numpy()
    g, got, want = _onnx(_model([helper.make_node("Neg", ["x"], ["y"])], x.shape), x)
    assert _types(g) == ["MUL"]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("slope_shape", [(1,), (3, 1, 1), (1, 3, 1, 1), (3, 4, 5)])
def test_onnx_prelu(slope_shape):
    x = _x(2, 3, 4, 5).numpy()
    slope = np.linspace(-1, 2, int(np.prod(slope_shape)), dtype=np.float32).reshape(slope_shape)
    model = _model([helper.make_node("PRelu", ["x", "s"], ["y"])], x.shape, {"s": slope})
    g, got, want = _onnx(model, x)
    assert _types(g) == ["PRELU"]
    np.testing.assert_array_equal(got, want)  # one float32 multiply on both sides
    assert_float_close(litert_run(to_tflite(g), to_graph_layout(x)[None]), to_graph_layout(want)[None])


def test_onnx_elu_alpha_other_than_1_is_refused():
    model = _model([helper.make_node("Elu", ["x"], ["y"], alpha=0.3)], (1, 4))
    with pytest.raises(UnsupportedError, match="ELU with alpha=0.3 is not supported"):
        from_onnx(model)


def test_onnx_from_pytorch_export():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.p = nn.PReLU(4)

        def forward(self, x):
            y = self.p(self.c(x))
            return F.hardswish(y) + F.elu(y) + torch.abs(y)

    torch.manual_seed(0)
    m = M().eval()
    x = _x(1, 3, 6, 6)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x,), buf, dynamo=False, input_names=["x"], output_names=["y"], opset_version=17)
    model = onnx.load_from_string(buf.getvalue())
    g, got, want = _onnx(model, x.numpy())
    assert {"PRELU", "HARD_SWISH", "ELU", "ABS"} <= set(_types(g))
    assert_float_close(got, want, "vs onnxruntime")
    with torch.no_grad():
        assert_float_close(got, m(x).numpy(), "vs PyTorch")
