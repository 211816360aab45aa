"""read → write → read gives an equal graph; written files run identically in tflite-micro."""

import numpy as np
import pytest

import picoml
from picoml.frontends.tflite import read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes

from oracles import MODEL_NAMES, model_path, random_input, tflm_run

pytestmark = pytest.mark.models


@pytest.mark.parametrize("kind", ["int8", "float"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_read_write_read_equal(name, kind):
    g = picoml.load(model_path(name, kind))
    data = write_tflite_bytes(g)
    g2 = read_tflite_bytes(data)
    g2.validate()
    assert g.diff(g2) == []
    assert write_tflite_bytes(g2) == data  # deterministic


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_written_int8_model_runs_identically_in_tflm(name):
    path = model_path(name, "int8")
    g = picoml.load(path)
    xs = random_input(g.inputs[0], 20, np.random.default_rng(7))
    original = tflm_run(path.read_bytes(), xs)
    rewritten = tflm_run(write_tflite_bytes(g), xs)
    np.testing.assert_array_equal(rewritten, original)


def test_edit_constant_and_save(tmp_path):
    g = picoml.load(model_path("ad", "int8"))
    w = g.ops[0].inputs[1]
    w.data = np.zeros_like(w.data)
    out = tmp_path / "edited.tflite"
    picoml.save(g, out)
    g2 = picoml.load(out)
    assert not g2.ops[0].inputs[1].data.any()
