"""TANH vs tflite-micro (int8, exact) and LiteRT (float32, 1e-5 relative: see
``oracles.FLOAT_RTOL``; float32 tanh implementations differ by a few ulp)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml

from oracles import check_against_oracle, qtensor, random_input, single_op_graph
from strategies import DTYPES, act_quant, act_tensor

SHAPES = st.lists(st.integers(1, 8), min_size=1, max_size=4)
OUT_Q = (1 / 128, 0)


@settings(max_examples=120, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(-3, 0.5), seed=st.integers(0, 2**31))
def test_tanh(dtype, shape, q, seed):
    rng = np.random.default_rng(seed)
    x = act_tensor("x", shape, dtype, q)
    g = single_op_graph("TANH", [x], act_tensor("y", shape, dtype, OUT_Q))
    xs = random_input(x, 4, rng)
    if dtype == "float32":
        xs = xs * np.float32(3)
    check_against_oracle(g, xs, f"TANH {shape} q={q}")


@settings(max_examples=100, deadline=None)
@given(q=act_quant(-4, 1))
def test_tanh_int8_every_input_value(q):
    """All 256 int8 codes for this input quantization (the op is elementwise)."""
    x = qtensor("x", (256,), *q)
    g = single_op_graph("TANH", [x], qtensor("y", (256,), *OUT_Q))
    check_against_oracle(g, np.arange(-128, 128, dtype=np.int8)[None], f"TANH all codes q={q}")


@pytest.mark.parametrize("scale,zp", [(1 / 128, -128), (1 / 256, 0), (1 / 127, 0)])
def test_tanh_int8_rejects_other_output_quantization(scale, zp):
    x = qtensor("x", (4,), 0.1, 0)
    g = single_op_graph("TANH", [x], qtensor("y", (4,), scale, zp))
    with pytest.raises(picoml.UnsupportedError, match="TANH 'y'.*1/128"):
        picoml.run(g, np.zeros(4, np.int8))
