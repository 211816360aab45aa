"""REDUCE_MAX, REDUCE_MIN and SUM vs tflite-micro (int8, exact) and LiteRT (float32: MAX and MIN
exact, SUM within ``oracles.FLOAT_RTOL``: picoml sums in float64, LiteRT in float32)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor

from oracles import assert_int_equal, check_against_oracle, litert_run, random_input, single_op_graph, to_tflite
from strategies import DTYPES, act_quant, act_tensor

REDUCE_OPS = ["REDUCE_MAX", "REDUCE_MIN", "SUM"]


def reduce_graph(op_type, shape, axes, keep, dtype, qi, qo):
    r = len(shape)
    norm = sorted({a % r for a in axes})
    out = (
        tuple(1 if i in norm else d for i, d in enumerate(shape))
        if keep
        else tuple(d for i, d in enumerate(shape) if i not in norm)
    )
    x = act_tensor("x", shape, dtype, qi)
    a = Tensor("axes", (len(axes),), "int32", data=np.array(axes, np.int32))
    return single_op_graph(op_type, [x, a], act_tensor("y", out, dtype, qo), keep_dims=keep), x


@st.composite
def shape_and_axes(draw):
    shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=5))
    r = len(shape)
    axes = draw(st.lists(st.integers(-r, r - 1), min_size=0, max_size=r + 1))  # negatives, repeats, none
    return tuple(shape), axes


@pytest.mark.parametrize("op_type", REDUCE_OPS)
@settings(max_examples=60, deadline=None)
@given(
    dtype=DTYPES,
    sa=shape_and_axes(),
    keep=st.booleans(),
    qi=act_quant(-3, 0),
    qo=act_quant(-2, 1),
    seed=st.integers(0, 2**31),
)
def test_reduce(op_type, dtype, sa, keep, qi, qo, seed):
    rng = np.random.default_rng(seed)
    shape, axes = sa
    # int8 REDUCE_MAX / REDUCE_MIN: tflite-micro requires the input's quantization on the output
    qo = qi if op_type != "SUM" else qo
    g, x = reduce_graph(op_type, shape, axes, keep, dtype, qi, qo)
    xs = random_input(x, 3, rng)
    if dtype == "int8" and op_type != "SUM":
        xs = (xs // 64 * 64).astype(np.int8)  # many ties and the extreme codes
    check_against_oracle(g, xs, f"{op_type} {shape} axes={axes} keep={keep} {qi}->{qo}")


@settings(max_examples=60, deadline=None)
@given(sa=shape_and_axes(), keep=st.booleans(), qi=act_quant(-3, 0), qo=act_quant(-3, 1), seed=st.integers(0, 2**31))
def test_sum_int8_rescaling(sa, keep, qi, qo, seed):
    """SUM's own multiplier (input / output scale, no count folded in) over output scales from
    1000 times smaller than the input's (saturates, left shifts) to 10 times larger."""
    rng = np.random.default_rng(seed)
    shape, axes = sa
    g, x = reduce_graph("SUM", shape, axes, keep, "int8", qi, (float(np.float32(qi[0] * qo[0])), qo[1]))
    check_against_oracle(g, random_input(x, 4, rng), f"SUM {shape} axes={axes} {qi}->{qo}")


@pytest.mark.parametrize("keep", [True, False])
def test_sum_int8_many_terms_and_extremes(keep):
    """1024 terms of every extreme code: the int32 sum minus input_zp · count, then the rescale."""
    g, x = reduce_graph("SUM", (1, 32, 32, 3), [1, 2], keep, "int8", (0.01, -128), (2.0, 5))
    xs = np.stack([np.full(x.shape, v, np.int8) for v in (-128, -1, 0, 1, 127)])
    check_against_oracle(g, xs, "SUM extremes")


def test_sum_left_shift_wraps_as_tflite_micro():
    """Output scale 2^-20 of the input's: the multiplier's left shift of 20 wraps the int32
    (sum - zp · count) before the high multiply, as tflite-micro's ``x * (1 << shift)`` does."""
    g, x = reduce_graph("SUM", (2, 50), [1], False, "int8", (1.0, 0), (float(2.0**-20), 0))
    xs = np.random.default_rng(0).integers(-128, 128, (8, 2, 50)).astype(np.int8)
    check_against_oracle(g, xs, "SUM left shift")


def test_reduce_three_axes_and_rank_five():
    """More than tflite-micro's two resolved axes (a stack array of 2 in its SUM and MEAN Eval): the
    oracle still agrees, so picoml runs them."""
    rng = np.random.default_rng(5)
    for op_type in REDUCE_OPS:
        qo = (0.5, 2) if op_type == "SUM" else (0.05, -3)
        g, x = reduce_graph(op_type, (2, 3, 2, 4, 3), [0, 2, -1, 3], False, "int8", (0.05, -3), qo)
        check_against_oracle(g, random_input(x, 4, rng), f"{op_type} four axes")


@pytest.mark.parametrize("op_type", ["REDUCE_MAX", "REDUCE_MIN"])
def test_int8_min_max_refuses_different_output_quantization(op_type):
    g, _ = reduce_graph(op_type, (2, 3), [1], False, "int8", (0.05, 3), (0.1, 3))
    with pytest.raises(picoml.UnsupportedError, match=f"{op_type} 'y': int8 {op_type} needs the output 'y'"):
        picoml.run(g, np.zeros((2, 3), np.int8))


@pytest.mark.parametrize("op_type", ["REDUCE_MAX", "REDUCE_MIN"])
def test_float_min_max_are_exact(op_type):
    """float32 MAX / MIN select a value: equal to LiteRT's bit for bit."""
    rng = np.random.default_rng(3)
    g, x = reduce_graph(op_type, (3, 4, 5), [0, -1], True, "float32", None, None)
    xs = random_input(x, 6, rng)
    np.testing.assert_array_equal(picoml.run(g, xs), litert_run(to_tflite(g), xs))


def test_sum_refuses_a_left_shift_of_31():
    g, _ = reduce_graph("SUM", (2, 3), [1], False, "int8", (1.0, 0), (float(2.0**-31), 0))
    with pytest.raises(picoml.UnsupportedError, match=r"SUM 'y': output 'y': requantization multiplier .* 2\^30"):
        picoml.run(g, np.zeros((2, 3), np.int8))


def test_sum_of_nothing_is_the_input_rescaled():
    """An empty axis list reduces nothing: SUM requantizes each value, MAX copies it."""
    rng = np.random.default_rng(9)
    g, x = reduce_graph("SUM", (2, 5), [], True, "int8", (0.05, 3), (0.1, -4))
    xs = random_input(x, 4, rng)
    got = check_against_oracle(g, xs, "SUM no axes")
    g2, _ = reduce_graph("REDUCE_MAX", (2, 5), [], False, "int8", (0.05, 3), (0.05, 3))
    assert_int_equal(picoml.run(g2, xs), xs, "REDUCE_MAX no axes")
    assert got.shape == xs.shape
