"""MEAN vs tflite-micro (int8, exact) and LiteRT (float32, 1e-5 relative: see
``oracles.FLOAT_RTOL``; picoml sums in float64, LiteRT in float32, and a mean near zero
by cancellation carries the absolute rounding error of the terms)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.graph import Tensor

from oracles import check_against_oracle, random_input, single_op_graph
from strategies import DTYPES, act_quant, act_tensor


def mean_graph(shape, axes, keep, dtype, qi, qo):
    r = len(shape)
    norm = sorted({a % r for a in axes})
    out = (
        tuple(1 if i in norm else d for i, d in enumerate(shape))
        if keep
        else tuple(d for i, d in enumerate(shape) if i not in norm)
    )
    x = act_tensor("x", shape, dtype, qi)
    a = Tensor("axes", (len(axes),), "int32", data=np.array(axes, np.int32))
    return single_op_graph("MEAN", [x, a], act_tensor("y", out, dtype, qo), keep_dims=keep), x


@st.composite
def shape_and_axes(draw):
    shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=5))
    r = len(shape)
    axes = draw(st.lists(st.integers(-r, r - 1), min_size=1, max_size=r + 1))  # negatives and repeats allowed
    return tuple(shape), axes


@settings(max_examples=150, deadline=None)
@given(
    dtype=DTYPES,
    sa=shape_and_axes(),
    keep=st.booleans(),
    qi=act_quant(-3, 0),
    qo=act_quant(-3, 0),
    same=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_mean(dtype, sa, keep, qi, qo, same, seed):
    rng = np.random.default_rng(seed)
    shape, axes = sa
    g, x = mean_graph(shape, axes, keep, dtype, qi, qi if same else qo)
    check_against_oracle(g, random_input(x, 3, rng), f"MEAN {shape} axes={axes} keep={keep} {qi}->{qo}")


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("same", [True, False])
@pytest.mark.parametrize("hw", [(5, 5), (8, 8), (32, 32)])
def test_mean_int8_spatial_4d(hw, same, keep):
    """The global-average-pool shape (axes 1, 2 of NHWC) that older TFLM sent to a fast path."""
    rng = np.random.default_rng(hw[0])
    qi, qo = (0.0625, -7), (0.031, 12)
    g, x = mean_graph((1,) + hw + (16,), [1, 2], keep, "int8", qi, qi if same else qo)
    check_against_oracle(g, random_input(x, 4, rng), f"MEAN spatial {hw} same={same} keep={keep}")


@pytest.mark.parametrize("seed", range(3))
def test_mean_int8_constant_inputs(seed):
    """Every input equal (incl. the extremes): the mean is that value, up to the requantisation."""
    rng = np.random.default_rng(seed)
    qi, qo = (float(np.float32(10 ** rng.uniform(-2, 0))), int(rng.integers(-128, 128))), (0.02, 3)
    g, x = mean_graph((1, 3, 7, 2), [1, 2], True, "int8", qi, qo)
    xs = np.stack([np.full(x.shape, v, np.int8) for v in (-128, -1, 0, 1, 127)])
    check_against_oracle(g, xs, f"MEAN constant inputs {qi}")
