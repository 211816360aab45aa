"""ONNX ReduceMax / ReduceMin / ReduceSum / ArgMax / ArgMin / MatMul of two computed values vs
onnxruntime (and PyTorch for an exported attention block); the graphs also round-trip through
.tflite into LiteRT (float).

Max, min and indices are compared exactly; sums and products within ``oracles.assert_float_close``
(1e-5 relative: picoml sums in float64, onnxruntime in float32)."""

from __future__ import annotations

import io
import warnings

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
    """An ONNX model (float inputs of the given shapes; output types from ONNX shape inference)."""
    vi_in = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    m = helper.make_model(
        helper.make_graph(nodes, "g", vi_in, [], initializer=inits), opset_imports=[helper.make_opsetid("", opset)]
    )
    m.ir_version = 8
    known = {vi.name: vi for vi in onnx.shape_inference.infer_shapes(m).graph.value_info}
    m.graph.output.extend(known[n] for n in outputs)
    onnx.checker.check_model(m)
    return m


def ort_run(model, xs):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the ONNX ops as written
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, dict(zip([i.name for i in s.get_inputs()], xs, strict=True)))[0]


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, name=f"{op.lower()}_{outs[0]}", **attrs)


def rnd(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check(model, xs, exact=False):
    xs = [xs] if isinstance(xs, np.ndarray) else list(xs)
    g = from_onnx(model)
    ins = [to_graph_layout(x) for x in xs]
    got = from_graph_layout(np.asarray(picoml.run(g, ins[0] if len(ins) == 1 else ins)))
    want = ort_run(model, xs)
    assert got.shape == want.shape, (got.shape, want.shape)
    lite = from_graph_layout(litert_run(to_tflite(g), [x[None] for x in ins])[0])
    if exact or want.dtype.kind == "i":
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(lite, want)
    else:
        assert_float_close(got, want, "picoml vs onnxruntime")
        assert_float_close(lite, want, "LiteRT vs onnxruntime")
    return g


def types(g):
    return [op.type for op in g.ops if op.type != "RESHAPE"]


def ties(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float32)


# (op, input shape, attributes, axes input (opset 18) or None, opset)
REDUCE_CASES = [
    ("ReduceMax", (1, 3, 4, 5), {"axes": [2, 3], "keepdims": 1}, None, 17),
    ("ReduceMin", (1, 3, 4, 5), {"axes": [1], "keepdims": 1}, None, 17),
    ("ReduceMin", (2, 3, 4), {"axes": [2], "keepdims": 0}, None, 17),
    ("ReduceMax", (2, 6), {"keepdims": 0}, [-1], 18),
    ("ReduceMin", (1, 4, 7), {}, [1, 2], 18),
    ("ReduceSum", (1, 3, 4, 5), {"keepdims": 0}, [2, 3], 13),
    ("ReduceSum", (1, 3, 4, 5), {"axes": [1]}, None, 11),
    ("ReduceSum", (1, 4, 7), {"keepdims": 0}, [-1], 18),
]


@pytest.mark.parametrize("case", REDUCE_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-op{c[4]}")
def test_reduce(case):
    op, shape, attrs, axes, opset = case
    inits = {} if axes is None else {"axes": np.array(axes, np.int64)}
    ins = ["x"] + (["axes"] if axes is not None else [])
    model = make_model([node(op, ins, ["y"], **attrs)], {"x": shape}, ["y"], inits, opset=opset)
    g = check(model, rnd(shape, 1), exact=op != "ReduceSum")
    assert types(g) == [{"ReduceMax": "REDUCE_MAX", "ReduceMin": "REDUCE_MIN", "ReduceSum": "SUM"}[op]]


def test_reduce_over_flattened_features():
    """A reduction over a flattened channels-last feature axis ignores picoml's permuted order."""
    nodes = [node("Flatten", ["x"], ["f"]), node("ReduceMax", ["f"], ["y"], axes=[1], keepdims=1)]
    check(make_model(nodes, {"x": (1, 3, 2, 2)}, ["y"]), rnd((1, 3, 2, 2), 2), exact=True)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize(
    "shape,axis,keep", [((2, 7), 1, 0), ((2, 7), -1, 1), ((1, 3, 4, 5), 1, 1), ((1, 3, 4, 5), 3, 1), ((1, 4, 6), 2, 1)]
)
def test_arg(op, shape, axis, keep):
    model = make_model([node(op, ["x"], ["y"], axis=axis, keepdims=keep)], {"x": shape}, ["y"])
    g = check(model, ties(shape, axis + 3))  # ties: both take the first index
    assert types(g) == [op.upper().replace("ARGM", "ARG_M")] and g.outputs[0].dtype == "int32"


def test_arg_refusals():
    last = make_model([node("ArgMax", ["x"], ["y"], axis=1, select_last_index=1)], {"x": (1, 5)}, ["y"])
    with pytest.raises(UnsupportedError, match="select_last_index=1 is not supported"):
        from_onnx(last)
    # indices along a flattened channels-last axis need ONNX's order: a TRANSPOSE first
    flat = make_model([node("Flatten", ["x"], ["f"]), node("ArgMax", ["f"], ["y"], axis=1)], {"x": (1, 3, 2, 2)}, ["y"])
    assert "TRANSPOSE" in types(check(flat, ties((1, 3, 2, 2), 9)))


# ------------------------------------------------------------------------------ MatMul
MATMUL_CASES = {
    "rank2": ([node("MatMul", ["a", "b"], ["y"])], {"a": (4, 6), "b": (6, 3)}),
    "rank3_output": ([node("MatMul", ["a", "b"], ["y"])], {"a": (2, 4, 6), "b": (2, 6, 3)}),
    "rank3_by_rank2": ([node("MatMul", ["a", "b"], ["y"])], {"a": (2, 4, 6), "b": (6, 5)}),
    "transposed_b": (
        [node("Transpose", ["b"], ["bt"], perm=[1, 0]), node("MatMul", ["a", "bt"], ["y"])],
        {"a": (4, 6), "b": (5, 6)},
    ),
}


@pytest.mark.parametrize("case", sorted(MATMUL_CASES))
def test_matmul_of_two_values(case):
    nodes, inputs = MATMUL_CASES[case]
    model = make_model(nodes, inputs, ["y"])
    g = check(model, [rnd(s, i) for i, s in enumerate(inputs.values())])
    assert types(g) == ["BATCH_MATMUL"]


def test_matmul_constant_by_value():
    inits = {"w": rnd((5, 4), 9)}
    model = make_model([node("MatMul", ["w", "x"], ["y"])], {"x": (1, 4, 3)}, ["y"], inits)
    g = check(model, rnd((1, 4, 3), 1))
    assert types(g) == ["BATCH_MATMUL"]


class Attention(torch.nn.Module):
    """Single-head self-attention over (tokens, features): q, k, v projections, softmax(q k^T / 2) v."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.q, self.k, self.v = (torch.nn.Linear(8, 4) for _ in range(3))
        for lin in (self.q, self.k, self.v):
            torch.nn.init.normal_(lin.weight, generator=g)

    def forward(self, x):
        return torch.softmax(self.q(x) @ self.k(x).transpose(0, 1) * 0.5, dim=-1) @ self.v(x)


def test_attention_from_pytorch():
    """Scores of two computed values (k^T: a Transpose the importer reads as adj_y), scaling, a softmax
    over the last axis, then the product with v."""
    x = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    m = Attention().eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x,), buf, dynamo=False, input_names=["x"], output_names=["y"])
    g = check(onnx.load_from_string(buf.getvalue()), x.numpy())
    assert types(g).count("BATCH_MATMUL") == 2 and "SOFTMAX" in types(g)
    got = np.asarray(picoml.run(g, x.numpy()))
    with torch.no_grad():
        assert_float_close(got, m(x).numpy(), "picoml vs PyTorch")


def test_matmul_refusals():
    vec = make_model([node("MatMul", ["a", "b"], ["y"])], {"a": (1, 4), "b": (4,)}, ["y"])
    with pytest.raises(UnsupportedError, match="MatMul with a 1-D input is not supported"):
        from_onnx(vec)
    # NCHW inputs are stored NHWC: TRANSPOSEs bring them (and the output back) to the product's layout
    m = make_model([node("MatMul", ["a", "b"], ["y"])], {"a": (1, 3, 4, 4), "b": (1, 3, 4, 4)}, ["y"])
    assert types(check(m, [rnd((1, 3, 4, 4), 1), rnd((1, 3, 4, 4), 2)])).count("BATCH_MATMUL") == 1


# ------------------------------------------------------------------------------ Gather
@pytest.mark.parametrize(
    "shape,indices,axis",
    [
        ((2, 7), [3, 0, -1], 1),
        ((1, 3, 4, 5), [2, 0], 1),  # the channel axis: picoml's last
        ((1, 3, 4, 5), [1, 1, 0], 2),
        ((1, 6, 5), [4], 1),
        ((2, 6), 2, 1),  # a scalar index drops the axis
    ],
)
def test_gather_constant_indices(shape, indices, axis):
    inits = {"i": np.array(indices, np.int64)}
    model = make_model([node("Gather", ["x", "i"], ["y"], axis=axis)], {"x": shape}, ["y"], inits)
    g = check(model, rnd(shape, 3), exact=True)
    assert types(g) == ["GATHER"]


def test_gather_at_argmax():
    """A constant table looked up at an ArgMax (int64 in ONNX, int32 in picoml)."""
    inits = {"table": rnd((5, 3), 4)}
    nodes = [node("ArgMax", ["x"], ["k"], axis=1, keepdims=0), node("Gather", ["table", "k"], ["y"], axis=0)]
    g = check(make_model(nodes, {"x": (4, 5)}, ["y"], inits), rnd((4, 5), 5), exact=True)
    assert types(g) == ["ARG_MAX", "GATHER"]
