"""ONNX → ADD_N (Sum), MIRROR_PAD / PADV2 (Pad reflect / a value), LOG_SOFTMAX, L2_NORMALIZATION
(LpNormalization), GELU and RELU_N1_TO_1 (Clip(-1, 1)): vs onnxruntime and LiteRT within the
front-end tests' 1e-5, and from PyTorch's exporter."""

from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.onnx import from_graph_layout, from_onnx, to_graph_layout

from oracles import assert_float_close, litert_run, to_tflite


def make_model(nodes, inputs: dict, outputs: list[str], inits: dict | None = None, opset: int = 17):
    vi_in = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    m = helper.make_model(
        helper.make_graph(nodes, "g", vi_in, [], initializer=inits), opset_imports=[helper.make_opsetid("", opset)]
    )
    m.ir_version = 9
    known = {vi.name: vi for vi in onnx.shape_inference.infer_shapes(m).graph.value_info}
    m.graph.output.extend(known[n] for n in outputs)
    onnx.checker.check_model(m)
    return m


def ort_run(model, xs):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, dict(zip([i.name for i in s.get_inputs()], xs, strict=True)))[0]


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, name=f"{op.lower()}_{outs[0]}", **attrs)


def rnd(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def check(model, xs):
    xs = [xs] if isinstance(xs, np.ndarray) else list(xs)
    g = from_onnx(model)
    ins = [to_graph_layout(x) for x in xs]
    got = from_graph_layout(np.asarray(picoml.run(g, ins[0] if len(ins) == 1 else ins)))
    want = ort_run(model, xs)
    assert got.shape == want.shape, (got.shape, want.shape)
    lite = from_graph_layout(litert_run(to_tflite(g), [x[None] for x in ins])[0])
    assert_float_close(got, want, "picoml vs onnxruntime")
    assert_float_close(lite, want, "LiteRT vs onnxruntime")
    return g


def types(g):
    return [str(op.type) for op in g.ops if op.type != "RESHAPE"]


def test_sum_of_three_values():
    nodes = [node("Relu", ["x"], ["a"]), node("Neg", ["x"], ["b"]), node("Sum", ["x", "a", "b"], ["y"])]
    g = check(make_model(nodes, {"x": (1, 3, 4, 5)}, ["y"]), rnd((1, 3, 4, 5)))
    assert "ADD_N" in types(g)


@pytest.mark.parametrize("mode,value", [("reflect", None), ("constant", 1.5), ("constant", 0.0)])
def test_pad(mode, value):
    pads = np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)
    inits = {"pads": pads}
    ins = ["x", "pads"]
    if value is not None:
        inits["v"] = np.array(value, np.float32)
        ins.append("v")
    model = make_model([node("Pad", ins, ["y"], mode=mode)], {"x": (1, 3, 4, 5)}, ["y"], inits, opset=13)
    g = check(model, rnd((1, 3, 4, 5)))
    want = {"reflect": "MIRROR_PAD", "constant": "PADV2" if value else "PAD"}[mode]
    assert types(g) == [want]


def test_pad_edge_is_not_mirror_pad():
    inits = {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)}
    model = make_model([node("Pad", ["x", "pads"], ["y"], mode="edge")], {"x": (1, 3, 4, 5)}, ["y"], inits, opset=13)
    with pytest.raises(UnsupportedError, match="mode='edge' repeats the edge value, which is not MIRROR_PAD"):
        from_onnx(model)


@pytest.mark.parametrize("axis", [-1, 1, 3])
def test_log_softmax_and_l2_normalization(axis):
    nodes = [node("LogSoftmax", ["x"], ["a"], axis=axis), node("LpNormalization", ["x"], ["b"], axis=axis, p=2),
             node("Add", ["a", "b"], ["y"])]  # fmt: skip
    g = check(make_model(nodes, {"x": (1, 3, 4, 5)}, ["y"]), rnd((1, 3, 4, 5), 2, 3.0))
    assert "LOG_SOFTMAX" in types(g) and "L2_NORMALIZATION" in types(g)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_clip(approximate):
    nodes = [node("Gelu", ["x"], ["a"], approximate=approximate), node("Clip", ["a", "lo", "hi"], ["y"])]
    inits = {"lo": np.array(-1, np.float32), "hi": np.array(1, np.float32)}
    g = check(make_model(nodes, {"x": (1, 6, 5)}, ["y"], inits, opset=20), rnd((1, 6, 5), 3, 2.0))
    assert types(g) == ["GELU", "RELU_N1_TO_1"]


def test_from_pytorch():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(3, 4, 3)
            self.p = torch.nn.ReflectionPad2d(1)

        def forward(self, x):
            y = torch.nn.functional.gelu(self.p(self.c(x)))
            return torch.log_softmax(torch.nn.functional.hardtanh(y), dim=1)

    torch.manual_seed(0)
    m = M().eval()
    x = rnd((1, 3, 6, 6), 8)
    buf = io.BytesIO()
    torch.onnx.export(m, (torch.from_numpy(x),), buf, opset_version=20, dynamo=False)
    g = check(onnx.load_from_string(buf.getvalue()), x)
    assert {"MIRROR_PAD", "GELU", "RELU_N1_TO_1", "LOG_SOFTMAX"} <= set(types(g))
    with torch.no_grad():
        want = m(torch.from_numpy(x)).numpy()
    assert_float_close(from_graph_layout(picoml.run(g, to_graph_layout(x))), want, "picoml vs PyTorch")


@pytest.mark.parametrize("exclusive,reverse", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_cumsum(exclusive, reverse):
    nodes = [node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)]
    model = make_model(nodes, {"x": (1, 3, 4, 5)}, ["y"], {"axis": np.array(1, np.int32)}, opset=14)
    assert types(check(model, rnd((1, 3, 4, 5), 4))) == ["CUMSUM"]


def test_gather_nd():
    inits = {"idx": np.array([[0, 2, 1], [0, -1, 3]], np.int64)}
    model = make_model(
        [node("Relu", ["x"], ["r"]), node("GatherND", ["r", "idx"], ["y"])], {"x": (1, 3, 4, 5)}, ["y"], inits
    )
    assert "GATHER_ND" in types(check(model, rnd((1, 3, 4, 5), 5)))
