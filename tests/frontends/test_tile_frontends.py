"""TILE from PyTorch (``x.repeat``, ``torch.tile``; fx and torch.export) and ONNX (``Tile`` with
constant repeats): exact against PyTorch / onnxruntime (a copy), repeats mapped to the graph's
channels-last layout; refusals for what TILE cannot express."""

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
from picoml.frontends.onnx import from_graph_layout, from_onnx, to_graph_layout
from picoml.graph.ops import OpType

torch.set_num_threads(1)


def _x(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


class Repeat(nn.Module):
    def forward(self, x):
        return x.repeat(1, 2, 1, 3) * 2 + torch.tile(x.mean(2, keepdim=True), (1, 2, 4, 3))


class Repeat2d(nn.Module):
    def forward(self, x):
        return torch.tile(x.repeat(2, 1), (1, 3))


def _torch_check(m, x, export=False):
    m = m.eval()
    g = picoml.from_torch(torch.export.export(m, (x[:1],)).module() if export else m, x[:1])
    got = from_graph_layout(np.asarray(picoml.run(g, to_graph_layout(x.numpy()))))
    with torch.no_grad():
        want = m(x).numpy()
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-6, atol=1e-6)  # the mean rounds
    assert OpType.TILE in [op.type for op in g.ops]
    return g


@pytest.mark.parametrize("export", [False, True], ids=["fx", "export"])
def test_torch_repeat_tile_nchw(export):
    _torch_check(Repeat(), _x(2, 3, 4, 5), export)


def test_torch_repeat_rank2():
    m = Repeat2d().eval()
    x = _x(1, 5)
    g = picoml.from_torch(m, x)
    got = np.asarray(picoml.run(g, x.numpy()))
    with torch.no_grad():
        np.testing.assert_array_equal(got.reshape(2, 15), m(x).numpy())  # a copy: exact
    assert [op.type for op in g.ops].count(OpType.TILE) == 2


class RepeatUp(nn.Module):
    def forward(self, x):
        return x.repeat(2, 1, 1, 1, 1)


def test_torch_repeat_to_a_higher_rank_refused():
    with pytest.raises(UnsupportedError, match="higher rank"):
        picoml.from_torch(RepeatUp().eval(), _x(1, 3, 4, 5))


def _ort(model, xs):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {i.name: x for i, x in zip(s.get_inputs(), xs, strict=True)})[0]


def _tile_model(reps, shape=(1, 3, 4, 5)):
    node = helper.make_node("Tile", ["x", "reps"], ["y"], name="tile")
    out = [d * r for d, r in zip(shape, reps, strict=True)]
    g = helper.make_graph(
        [node], "tile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
        initializer=[numpy_helper.from_array(np.array(reps, np.int64), "reps")],
    )  # fmt: skip
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("reps", [(1, 2, 1, 3), (1, 1, 2, 2), (2, 1, 3, 1)])
def test_onnx_tile(reps):
    model = _tile_model(reps)
    x = _x(1, 3, 4, 5, seed=1).numpy()
    g = from_onnx(model)
    got = from_graph_layout(np.asarray(picoml.run(g, to_graph_layout(x))))
    want = _ort(model, [x])
    np.testing.assert_array_equal(got.reshape(want.shape), want)
    assert OpType.TILE in [op.type for op in g.ops]


class RepeatOnly(nn.Module):
    def forward(self, x):
        return x.repeat(1, 2, 1, 3) - 1


def test_onnx_exported_repeat():
    """torch.onnx exports ``x.repeat`` as Tile (``torch.tile`` becomes an If on the repeats' length)."""
    m, x = RepeatOnly().eval(), _x(1, 3, 4, 5, seed=2)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x,), buf, dynamo=False, input_names=["x"], output_names=["y"])
    model = onnx.load_from_string(buf.getvalue())
    g = from_onnx(model)
    got = from_graph_layout(np.asarray(picoml.run(g, to_graph_layout(x.numpy()))))
    want = _ort(model, [x.numpy()])
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-6, atol=1e-6)
    assert OpType.TILE in [op.type for op in g.ops]
