"""SOFTMAX vs tflite-micro (int8, exact) and LiteRT (float32, 1e-5 relative: see
``oracles.FLOAT_RTOL`` — float32 exp/sum rounding differs between implementations by a
few ulp, far below 1e-5)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor

from oracles import check_against_oracle, qtensor, random_input, single_op_graph
from strategies import DTYPES, act_quant, act_tensor

SHAPES = st.lists(st.integers(1, 12), min_size=1, max_size=4)
BETAS = st.floats(-1.5, 1.0).map(lambda e: float(np.float32(10**e)))


def softmax_graph(shape, dtype, q, beta):
    x = act_tensor("x", shape, dtype, q)
    y = act_tensor("y", shape, dtype, (1 / 256, -128))  # the int8 output TFLM requires
    return single_op_graph("SOFTMAX", [x], y, beta=beta), x


@settings(max_examples=150, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(-3, 0.5), beta=BETAS, seed=st.integers(0, 2**31))
def test_softmax(dtype, shape, q, beta, seed):
    rng = np.random.default_rng(seed)
    g, x = softmax_graph(shape, dtype, q, beta)
    xs = random_input(x, 4, rng)
    if dtype == "float32":
        xs = xs * np.float32(4)
    check_against_oracle(g, xs, f"SOFTMAX {shape} q={q} beta={beta}")


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(60, 511), q=act_quant(-3, 0), beta=BETAS, seed=st.integers(0, 2**31))
def test_softmax_int8_long_rows(depth, q, beta, seed):
    """Long rows: the Q12.19 accumulator and GetReciprocal's normalisation shift move.
    (Below 512 entries: a sum of exponentials >= 512 makes TFLM abort the process.)"""
    rng = np.random.default_rng(seed)
    g, x = softmax_graph((2, depth), "int8", q, beta)
    check_against_oracle(g, random_input(x, 2, rng), f"SOFTMAX depth={depth} q={q} beta={beta}")


def test_softmax_int8_sum_of_exps_too_large_is_rejected():
    """TFLM's TFLITE_CHECK(exponent <= 31) aborts for a flat row of >= 512 entries;
    picoml reports it (not run against TFLM, which would kill the test process)."""
    g, _ = softmax_graph((1, 600), "int8", (0.1, 0), 0.1)
    with pytest.raises(picoml.UnsupportedError, match="SOFTMAX 'y'.*512"):
        picoml.run(g, np.zeros((1, 600), np.int8))
    # a peaked row of the same length is fine (and matches TFLM)
    xs = np.full((1, 1, 600), -128, np.int8)
    xs[..., 7] = 127
    check_against_oracle(g, xs, "SOFTMAX long peaked row")


@pytest.mark.parametrize("q", [(0.001, 0), (0.05, -3), (0.25, 17), (2.0, -128)])
@pytest.mark.parametrize("beta", [0.1, 1.0, 30.0])
def test_softmax_int8_extreme_inputs(q, beta):
    """All-equal rows, one large entry, all extremes, and a row of length one."""
    depth = 10
    rows = [
        np.full(depth, -128),
        np.full(depth, 0),
        np.full(depth, 127),  # all equal: 1/depth each
        np.r_[127, np.full(depth - 1, -128)],  # one large: its probability saturates near 1
        np.r_[np.full(depth - 1, -128), 127],
        np.r_[-127, np.full(depth - 1, -128)],  # a difference of one step
        np.tile([127, -128], depth // 2),
        np.arange(depth) * 28 - 128,
    ]
    x = qtensor("x", (len(rows), depth), *q)
    y = qtensor("y", (len(rows), depth), 1 / 256, -128)
    g = single_op_graph("SOFTMAX", [x], y, beta=beta)
    xs = np.stack(rows).astype(np.int8)[None]
    got = check_against_oracle(g, xs, f"SOFTMAX extremes q={q} beta={beta}")
    assert got.shape == (1, len(rows), depth)
    # single-element rows always give probability 1 (raw 127)
    x1 = qtensor("x", (3, 1), *q)
    g1 = single_op_graph("SOFTMAX", [x1], qtensor("y", (3, 1), 1 / 256, -128), beta=beta)
    assert (check_against_oracle(g1, np.array([[[-128], [0], [127]]], np.int8), "SOFTMAX depth 1") == 127).all()


def test_softmax_int8_huge_beta_times_scale():
    """beta·scale >= 32: the multiplier caps at 2^31 - 1 with shift 31 (unclamped in the
    double-rounding build) and only the row maxima survive."""
    x = qtensor("x", (4, 9), 1.0, 0)
    g = single_op_graph("SOFTMAX", [x], qtensor("y", (4, 9), 1 / 256, -128), beta=100.0)
    check_against_oracle(g, random_input(x, 3, np.random.default_rng(1)), "SOFTMAX beta·scale huge")


def test_softmax_float_extreme_inputs():
    x = Tensor("x", (4, 6))
    g = single_op_graph("SOFTMAX", [x], Tensor("y", (4, 6)), beta=1.0)
    xs = np.array([[[0] * 6, [50] * 6, [80, -80, 0, 0, 0, 0], [-1e4, 1e4, 3, 2, 1, 0]]], np.float32)
    got = check_against_oracle(g, xs, "SOFTMAX float extremes")
    np.testing.assert_allclose(got[0, 0], 1 / 6, rtol=1e-6)


@pytest.mark.parametrize("scale,zp", [(1 / 255, -128), (1 / 256, 0), (1 / 128, -128)])
def test_softmax_int8_rejects_other_output_quantization(scale, zp):
    x = qtensor("x", (2, 5), 0.1, 0)
    g = single_op_graph("SOFTMAX", [x], qtensor("y", (2, 5), scale, zp), beta=1.0)
    with pytest.raises(picoml.UnsupportedError, match="SOFTMAX 'y'.*1/256"):
        picoml.run(g, np.zeros((2, 5), np.int8))
