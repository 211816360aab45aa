"""The shipped MLPerf Tiny int8 models: picoml == tflite-micro bit for bit, outputs and every
intermediate tensor (tflite-micro's kPreserveAllTensors)."""

import numpy as np
import pytest

import picoml

from oracles import MODEL_NAMES, assert_int_equal, model_path, random_input, tflm_interpreter, tflm_run

pytestmark = pytest.mark.models

N_INPUTS = 200


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_outputs_bit_exact(name):
    path = model_path(name, "int8")
    g = picoml.load(path)
    xs = random_input(g.inputs[0], N_INPUTS, np.random.default_rng(2024))
    got = picoml.run(g, xs)  # one batched call
    assert got.shape == (N_INPUTS,) + g.outputs[0].shape
    assert_int_equal(got, tflm_run(path.read_bytes(), xs), f"{name} output")
    # the outputs are not degenerate (a constant output would make equality cheap)
    assert len(np.unique(got.reshape(N_INPUTS, -1), axis=0)) > N_INPUTS // 10


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_intermediate_tensor_bit_exact(name):
    """Every activation tensor (the input and each op's output) of N_INPUTS random inputs."""
    path = model_path(name, "int8")
    g = picoml.load(path)
    xs = random_input(g.inputs[0], N_INPUTS, np.random.default_rng(99))
    ours = picoml.run(g, xs, all_tensors=True)  # one batched call
    activations = [(i, t) for i, t in enumerate(g.tensors) if t.data is None]
    assert len(activations) == len(g.ops) + 1  # the shipped models: one input, then each op's own output
    ip = tflm_interpreter(path.read_bytes(), preserve_all=True)
    for sample in range(N_INPUTS):
        ip.set_input(xs[sample], 0)
        ip.invoke()
        for i, t in activations:
            theirs = np.asarray(ip.GetTensor(i, 0)["tensor_data"]).reshape(t.shape)
            assert_int_equal(ours[t.name][sample], theirs, f"{name} sample {sample} tensor {t.name!r}")


def test_batch_layouts_agree():
    g = picoml.load(model_path("kws", "int8"))
    xs = random_input(g.inputs[0], 4, np.random.default_rng(1))  # (4, 1, 49, 10, 1)
    full = picoml.run(g, xs)
    squeezed = picoml.run(g, xs.reshape(4, 49, 10, 1))
    single = picoml.run(g, xs[2])
    np.testing.assert_array_equal(full.reshape(4, 12), squeezed)
    np.testing.assert_array_equal(full[2], single)
