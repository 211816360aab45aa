"""Comparisons, logical ops, where, zeros_like, expand, floor_divide / remainder and mask casts from
PyTorch (fx and torch.export) and ONNX: exact against PyTorch / onnxruntime (a comparison, a
selection, a copy have no rounding; floor ops on values where float32 and double agree), then the
relu-like ``where(x > 0, x, 0.1 x)`` and masking models end to end: PTQ, the int8 model exact in
tflite-micro, and bit-exact C."""

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import picoml
from picoml.errors import UnsupportedError
from picoml.flows.verify import verify
from picoml.frontends.onnx import from_graph_layout, from_onnx, to_graph_layout
from picoml.graph.ops import OpType
from picoml.quantize.ptq import dequantize_output, quantize_input

from oracles import assert_int_equal, tflm_run, to_tflite

torch.set_num_threads(1)


def _x(*shape, seed=0, step=0.25):
    """Values on a grid of ``step`` (ties for the comparisons)."""
    return torch.from_numpy((np.random.default_rng(seed).integers(-8, 9, shape) * step).astype(np.float32))


def _torch_check(m, x, exact=True):
    m = m.eval()
    g = picoml.from_torch(m, x[:1])
    xg = to_graph_layout(x.numpy())
    got = from_graph_layout(np.asarray(picoml.run(g, xg)))
    with torch.no_grad():
        want = m(x).numpy()
    if exact:
        np.testing.assert_array_equal(got.reshape(want.shape), want)
    else:
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-5, atol=1e-5)
    return g


class Where(nn.Module):
    def __init__(self, cmp):
        super().__init__()
        self.cmp = cmp

    def forward(self, x):
        return torch.where(self.cmp(x), x, -x)


CMPS = {
    "operator >": lambda x: x > 0.25,
    "operator >=": lambda x: x >= 0.25,
    "operator <": lambda x: 0.25 < x,  # constant first: GREATER with the constant on the right
    "operator <=": lambda x: x <= -0.5,
    "operator ==": lambda x: x == 0.5,
    "operator !=": lambda x: x != 0.5,
    "torch.gt": lambda x: torch.gt(x, x * 0.5),
    "torch.less_equal": lambda x: torch.less_equal(x, 0.0),
    "method .ge": lambda x: x.ge(x * 0.5),
    "method .eq": lambda x: x.eq(0.0),
}


@pytest.mark.parametrize("form", list(CMPS))
def test_torch_comparisons(form):
    g = _torch_check(Where(CMPS[form]), _x(4, 3, 5, 6))
    assert OpType.SELECT_V2 in [op.type for op in g.ops]


class Logic(nn.Module):
    def forward(self, x):
        a, b = x > 0, x < 1.0
        m = (a & b) | ~torch.logical_or(x == 0.5, torch.logical_not(x.abs() <= 1.5))
        m = torch.logical_and(m, x != -0.25)
        return torch.where(m, x, 0.0) + m.float() + torch.zeros_like(x)


def test_torch_logical_where_zeros_like_and_mask_float():
    g = _torch_check(Logic(), _x(3, 2, 4, 4))
    ts = {op.type for op in g.ops}
    assert {OpType.LOGICAL_AND, OpType.LOGICAL_OR, OpType.LOGICAL_NOT, OpType.CAST, OpType.ZEROS_LIKE} <= ts


class Expand(nn.Module):
    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)  # (N, C, 1, 1)
        return torch.where(x > s.expand(-1, -1, 4, 5), x, torch.broadcast_to(s, x.shape))


def test_torch_expand_broadcast_to():
    g = _torch_check(Expand(), _x(2, 3, 4, 5), exact=False)  # the mean rounds
    assert OpType.BROADCAST_TO in [op.type for op in g.ops]


class Floor(nn.Module):
    def forward(self, x):
        return torch.floor_divide(x, 0.75) + x % 0.5 + torch.remainder(-x, 1.25) + x // -2.0


def test_torch_floor_divide_remainder():
    g = _torch_check(Floor(), _x(3, 16))
    assert {OpType.FLOOR_DIV, OpType.FLOOR_MOD} <= {op.type for op in g.ops}


def test_torch_export_aten():
    m = Logic().eval()
    x = _x(2, 2, 4, 4)
    ep = torch.export.export(m, (x[:1],))
    g = picoml.from_torch(ep.module(), x[:1])
    got = from_graph_layout(np.asarray(picoml.run(g, to_graph_layout(x.numpy()))))
    with torch.no_grad():
        np.testing.assert_array_equal(got.reshape(x.shape), m(x).numpy())


def test_torch_bitwise_on_floats_refused():
    class M(nn.Module):
        def forward(self, x):
            return torch.logical_and(x, x)

    with pytest.raises(UnsupportedError, match="bool tensors only"):
        picoml.from_torch(M(), _x(1, 4))


# ----------------------------------------------------------------- ONNX
def _ort(model, xs):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, dict(zip([i.name for i in s.get_inputs()], xs, strict=True)))[0]


def _export(m, x):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m.eval(), (x,), buf, dynamo=False, input_names=["x"], output_names=["y"])
    return onnx.load_from_string(buf.getvalue())


def _onnx_check(model, x):
    g = from_onnx(model)
    got = from_graph_layout(np.asarray(picoml.run(g, to_graph_layout(x))))
    want = _ort(model, [x])
    np.testing.assert_array_equal(got.reshape(want.shape), want)
    return g


@pytest.mark.parametrize("module", [Logic(), Where(CMPS["operator >="]), Where(CMPS["torch.gt"])])
def test_onnx_exported_logic(module):
    x = _x(1, 2, 4, 4, seed=3)
    g = _onnx_check(_export(module, x), x.numpy())
    assert OpType.SELECT_V2 in [op.type for op in g.ops]


def _node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, name=f"{op.lower()}_{outs[0]}", **attrs)


def test_onnx_hand_built_ops():
    """Greater/Less/Equal/LessOrEqual/GreaterOrEqual, And/Or/Not, Where, Cast bool → float and
    Expand in one model."""
    nodes = [
        _node("Greater", ["x", "z"], ["gt"]),
        _node("LessOrEqual", ["x", "h"], ["le"]),
        _node("Equal", ["x", "h"], ["eq"]),
        _node("GreaterOrEqual", ["x", "z"], ["ge"]),
        _node("Less", ["x", "h"], ["lt"]),
        _node("And", ["gt", "le"], ["and"]),
        _node("Or", ["and", "eq"], ["or"]),
        _node("Not", ["ge"], ["not"]),
        _node("Or", ["or", "not"], ["m"]),
        _node("Cast", ["m"], ["mf"], to=TensorProto.FLOAT),
        _node("Expand", ["col", "shape"], ["ex"]),
        _node("Where", ["m", "x", "ex"], ["w"]),
        _node("Add", ["w", "mf"], ["y"]),
    ]
    inits = {
        "z": np.array(0.0, np.float32),
        "h": np.array(0.5, np.float32),
        "shape": np.array([1, 3, 4, 5], np.int64),
    }
    g = helper.make_graph(
        nodes,
        "logic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 5]),
         helper.make_tensor_value_info("col", TensorProto.FLOAT, [1, 3, 1, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 5])],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()],
    )  # fmt: skip
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x, col = _x(1, 3, 4, 5, seed=1).numpy(), _x(1, 3, 1, 5, seed=2).numpy()
    pg = from_onnx(model)
    got = from_graph_layout(np.asarray(picoml.run(pg, [to_graph_layout(x), to_graph_layout(col)])))
    np.testing.assert_array_equal(got.reshape(x.shape), _ort(model, [x, col]))
    want = {OpType.LOGICAL_AND, OpType.LOGICAL_OR, OpType.LOGICAL_NOT, OpType.CAST}
    assert want | {OpType.BROADCAST_TO, OpType.SELECT_V2} <= {op.type for op in pg.ops}


def test_onnx_floor_mod_opset_28():
    """Mod with fmod=0 on floats (floor modulo, the sign of the divisor) is valid ONNX from opset 28."""
    nodes = [_node("Mod", ["x", "k"], ["y"], fmod=0)]
    g = helper.make_graph(
        nodes,
        "mod",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
        initializer=[numpy_helper.from_array(np.array([0.75, -1.25] * 4, np.float32), "k")],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 28)])
    model.ir_version = 11
    x = _x(2, 8, seed=4).numpy()
    pg = from_onnx(model)
    assert [op.type for op in pg.ops] == [OpType.FLOOR_MOD]
    got = np.asarray(picoml.run(pg, x))
    k = np.array([0.75, -1.25] * 4, np.float32)
    np.testing.assert_array_equal(got.reshape(x.shape), np.mod(x, k))  # numpy's % is floor modulo
    try:
        want = _ort(model, [x])
    except Exception as e:  # an onnxruntime without opset 28
        pytest.skip(f"onnxruntime cannot run opset 28 Mod: {str(e)[:80]}")
    np.testing.assert_array_equal(got.reshape(x.shape), want)


# ----------------------------------------------------------------- end to end: PTQ, tflite-micro, C
class LeakyWhere(nn.Module):
    """relu-like where(x > 0, x, 0.1 x) and a mask."""

    def __init__(self, mask=True):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 5)
        self.mask = mask

    def forward(self, x):
        h = self.conv(x)
        h = torch.where(h > 0, h, 0.1 * h)
        if self.mask:
            keep = torch.logical_and(h < 1.0, ~(h == 0.25))
            h = torch.where(keep, h, torch.zeros_like(h)) + keep.float()
        return self.fc(h.flatten(1))


def test_where_model_end_to_end():
    torch.manual_seed(0)
    m = LeakyWhere().eval()
    x = torch.randn(64, 3, 6, 6)
    g = _torch_check(m, x, exact=False)
    xs = to_graph_layout(x.numpy())
    q = picoml.quantize(g, xs)
    assert OpType.SELECT_V2 in [op.type for op in q.ops] and q.inputs[0].dtype == "int8"
    xq = quantize_input(q, xs)
    got = np.asarray(picoml.run(q, xq))
    assert_int_equal(got, tflm_run(to_tflite(q), xq[:, None]).reshape(got.shape), "int8 vs tflite-micro")
    rep = verify(q, "host", xs=xq[:16], sanitize=True, counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch


def test_where_as_leaky_relu_quantizes_like_leaky_relu():
    """where(x > 0, x, 0.1 x) after PTQ is as close to the float model as nn.LeakyReLU(0.1) is."""
    x = torch.randn(64, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    xs = to_graph_layout(x.numpy())
    errs = []
    for leaky in (False, True):
        torch.manual_seed(0)
        m = LeakyWhere(mask=False).eval()
        g = picoml.from_torch(m, x[:1])
        if leaky:  # the same graph with the where replaced by LEAKY_RELU
            g = picoml.from_torch(nn.Sequential(m.conv, nn.LeakyReLU(0.1), nn.Flatten(), m.fc).eval(), x[:1])
        q = picoml.quantize(g, xs)
        y = dequantize_output(q, np.asarray(picoml.run(q, quantize_input(q, xs)))).reshape(64, -1)
        with torch.no_grad():
            errs.append(float(np.abs(y - m(x).numpy()).mean()))
    assert errs[0] <= 1.2 * errs[1], errs


def test_where_model_cortex_m0plus():
    torch.manual_seed(1)
    m = LeakyWhere().eval()
    xs = to_graph_layout(torch.randn(32, 3, 6, 6).numpy())
    q = picoml.quantize(picoml.from_torch(m, torch.randn(1, 3, 6, 6)), xs)
    rep = verify(q, "cortex-m0plus", xs=quantize_input(q, xs)[:8], counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch


def test_argmax_cast_to_float():
    """An ArgMax's int32 indices made float (ONNX Cast, PyTorch .float()) → CAST int32 → float32."""
    nodes = [
        _node("ArgMax", ["x"], ["i"], axis=1, keepdims=1),
        _node("Cast", ["i"], ["f"], to=TensorProto.FLOAT),
        _node("Mul", ["f", "x"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "argmax_cast",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    x = _x(2, 5, seed=5).numpy() + np.arange(5, dtype=np.float32) * 0.01  # no ties
    pg = from_onnx(model)
    assert OpType.CAST in [op.type for op in pg.ops]
    np.testing.assert_array_equal(np.asarray(picoml.run(pg, x)).reshape(2, 5), _ort(model, [x]))

    class M(nn.Module):
        def forward(self, x):
            return x * x.argmax(1, keepdim=True).float()

    _torch_check(M(), torch.from_numpy(x))
