"""Public API names, input checking and error messages."""

import numpy as np
import pytest

import picoml
from picoml.errors import InputError, ModelFormatError
from picoml.graph.ops import OpType

from oracles import model_path

pytestmark = pytest.mark.models


def test_api_shapes_and_tensors():
    g = picoml.load(model_path("kws", "int8"))
    assert [t.shape for t in g.inputs] == [(1, 49, 10, 1)]
    assert g.ops[0].type == "CONV_2D"
    w = g.ops[0].inputs[1]
    assert w.data is not None and w.data.dtype == np.int8 and w.scale.size == 64
    assert (w.zero_point == 0).all()
    act = g.ops[0].outputs[0]
    assert act.data is None and act.scale.size == 1
    assert all(isinstance(t.scale, np.ndarray) for t in g.tensors)
    # every registered op, each once (the count grows with each op: no number to keep in step here)
    assert sorted(picoml.supported_ops()) == sorted(OpType) and len(set(picoml.supported_ops())) >= 93


def test_wrong_input_dtype_and_shape():
    g = picoml.load(model_path("kws", "int8"))
    with pytest.raises(InputError, match="dtype is float32, the model expects int8"):
        picoml.run(g, np.zeros((1, 49, 10, 1), np.float32))
    with pytest.raises(InputError, match=r"shape \[1, 49, 10\] does not match"):
        picoml.run(g, np.zeros((1, 49, 10), np.int8))


def test_load_errors(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        picoml.load(tmp_path / "missing.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"hello world, not a model")
    with pytest.raises(ModelFormatError, match="not a .tflite model"):
        picoml.load(bad)
    with pytest.raises(ModelFormatError, match="unknown model format"):
        picoml.load(tmp_path / "model.h5")


def test_validate_names_op_and_tensor():
    g = picoml.load(model_path("kws", "int8"))
    op = g.ops[2]
    op.inputs[1].data = op.inputs[1].data[:, :, :, :48].copy()  # 64 input channels are not a multiple of 48
    op.inputs[1].shape = op.inputs[1].data.shape
    with pytest.raises(picoml.GraphError, match="CONV_2D") as e:
        g.validate()
    assert op.inputs[1].name in str(e.value) and "64 channels" in str(e.value)


def test_save_refuses_invalid_graph_and_keeps_existing_file(tmp_path):
    g = picoml.load(model_path("ad", "int8"))
    out = tmp_path / "m.tflite"
    picoml.save(g, out)
    before = out.read_bytes()
    g.ops[0].attrs["fused_activation"] = "SIGN_BIT"
    with pytest.raises(picoml.PicomlError):
        picoml.save(g, out)
    assert out.read_bytes() == before
