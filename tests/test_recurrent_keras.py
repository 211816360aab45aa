"""Converter-made Keras LSTM / GRU (unroll=True) .tflite files (tests/data/recurrent, see its README):
picoml's interpreter exact with tflite-micro (int8) and within 1e-5 of LiteRT (float: summation
order), and the generated C bit-exact on host, cortex-m4 and cortex-m0plus."""

from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.flows.verify import verify

from oracles import litert_run, tflm_run

DATA = Path(__file__).parent / "data" / "recurrent"
NAMES = ["lstm_unroll_float", "lstm_unroll_int8", "gru_unroll_float", "gru_unroll_int8"]


def _inputs(g, n=6):
    t = g.inputs[0]
    rng = np.random.default_rng(0)
    if t.dtype == "int8":
        return rng.integers(-128, 128, (n, *t.shape)).astype(np.int8)
    return rng.standard_normal((n, *t.shape)).astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_keras_recurrent_interpreter(name):
    blob = (DATA / f"{name}.tflite").read_bytes()
    g = picoml.load(DATA / f"{name}.tflite")
    x = _inputs(g)
    got = np.stack([np.asarray(picoml.run(g, xi)) for xi in x])
    if g.inputs[0].dtype == "int8":
        np.testing.assert_array_equal(got, tflm_run(blob, x))
    else:
        np.testing.assert_allclose(got, litert_run(blob, x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["lstm_unroll_int8", "gru_unroll_int8"])
@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus"])
def test_keras_recurrent_c(name, target):
    g = picoml.load(DATA / f"{name}.tflite")
    rep = verify(g, target, xs=_inputs(g, 3), sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, (name, target, rep.first_mismatch)
