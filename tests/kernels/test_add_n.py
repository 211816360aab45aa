"""ADD_N vs tflite-micro (int8 and float32, exact) and LiteRT (float32, exact: the same in-order
float32 sum; LiteRT has no int8 ADD_N, "AddN only supports FLOAT32|INT32").

tflite-micro's int8 sum starts from the scaled ``-zero point`` instead of 0 (reference/add_n.h
initializes its accumulator from ``input1_offset``); ``test_int8_sum_carries_an_extra_minus_zero_point``
pins that against the oracle and checks that the literal reading (start at 0) would fail.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp
from picoml.graph import Tensor
from picoml.reference import KERNELS

from oracles import assert_int_equal, litert_run, qtensor, random_input, single_op_graph, tflm_run, to_tflite
from strategies import DTYPES, act_quant, act_tensor

SHAPES = st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple)


def add_n_graph(dtype, shape, n, q_in=None, q_out=None):
    xs = [act_tensor(f"x{k}", shape, dtype, q_in) for k in range(n)]
    return single_op_graph("ADD_N", xs, act_tensor("y", shape, dtype, q_out)), xs


@settings(max_examples=60, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, n=st.integers(2, 6), q_in=act_quant(-3, 0), q_out=act_quant(-3, 0.5),
       seed=st.integers(0, 2**31))  # fmt: skip
def test_add_n(dtype, shape, n, q_in, q_out, seed):
    rng = np.random.default_rng(seed)
    g, xs_t = add_n_graph(dtype, shape, n, q_in, q_out)
    xs = [random_input(t, 3, rng) for t in xs_t]
    got = picoml.run(g, xs)
    model = to_tflite(g)
    what = f"ADD_N {dtype} {shape} n={n} {q_in} -> {q_out}"
    if dtype == "float32":
        np.testing.assert_array_equal(got, tflm_run(model, xs), err_msg=what)
        np.testing.assert_array_equal(got, litert_run(model, xs), err_msg=what)
    else:
        assert_int_equal(got, tflm_run(model, xs), what)


def test_int8_sum_carries_an_extra_minus_zero_point():
    g, xs_t = add_n_graph("int8", (64,), 2, (0.05, 60), (0.1, 0))
    x = np.arange(28, 92, dtype=np.int8)[None]
    xs = [x, x[:, ::-1].copy()]
    got = picoml.run(g, xs)
    want = tflm_run(to_tflite(g), xs)
    assert_int_equal(got, want, "ADD_N zero point 60")
    p = KERNELS[g.ops[0].type].prepare(g.ops[0])

    def scaled(v):
        return multiply_by_quantized_multiplier_smaller_than_one_exp(
            np.asarray(v, np.int64) << 20, p.input_multiplier, p.input_shift
        )

    literal = sum(scaled(v.astype(np.int64) - 60) for v in xs)  # accumulator from 0
    lit = multiply_by_quantized_multiplier_smaller_than_one_exp(literal, p.output_multiplier, p.output_shift)
    lit = np.clip(lit + p.output_zp, -128, 127)
    assert (lit != want).sum() > 0  # the extra term is visible: the literal reading fails


def test_refusals():
    x0, x1 = qtensor("x0", (4,), 0.1, 0), qtensor("x1", (4,), 0.1, 1)
    with pytest.raises(picoml.UnsupportedError, match="ADD_N 'y': input 'x1' is quantized .* one scale and zero"):
        single_op_graph("ADD_N", [x0, x1], qtensor("y", (4,), 0.1, 0))
    with pytest.raises(picoml.GraphError, match="input 'x1' has shape \\[5\\], input 0 \\[4\\]"):
        single_op_graph("ADD_N", [Tensor("x0", (4,)), Tensor("x1", (5,))], Tensor("y", (4,)))
    g, _ = add_n_graph("int8", (4,), 2, (1.0, 0), (1e-8, 0))
    with pytest.raises(picoml.UnsupportedError, match="too small for input scale"):
        picoml.run(g, [np.zeros((1, 4), np.int8)] * 2)
    g, _ = add_n_graph("int8", (4,), 40, (0.1, 0), (0.1, 0))
    with pytest.raises(picoml.UnsupportedError, match="overflow tflite-micro's int32 accumulator"):
        picoml.run(g, [np.zeros((1, 4), np.int8)] * 40)
