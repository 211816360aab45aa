"""PRELU vs tflite-micro (int8, exact) and LiteRT / tflite-micro (float32, exact).

alpha is a constant tensor that broadcasts into the input's shape (per-channel ``(C,)``,
``(1, 1, C)``, full shape, all but the leading axis, a single value); an alpha that would
broadcast the output beyond the input is refused, as LiteRT's Prepare refuses it.
int8 alpha has its own per-tensor quantization; the kernel has two requantization multipliers.
float32 is one float32 multiply per negative element in all three, so compared exactly.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor

from oracles import assert_int_equal, litert_run, qtensor, single_op_graph, tflm_run, to_tflite
from strategies import act_quant


@st.composite
def shapes(draw):
    """(input shape, alpha shape): alpha broadcasts against the input (rank <= 4)."""
    shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    kind = draw(st.sampled_from(["channel", "channel_keepdims", "full", "scalar", "inner"]))
    if kind == "channel":
        return tuple(shape), (shape[-1],)
    if kind == "channel_keepdims":
        return tuple(shape), (1,) * (len(shape) - 1) + (shape[-1],)
    if kind == "full":
        return tuple(shape), tuple(shape)
    if kind == "scalar":
        return tuple(shape), (1,)
    return tuple(shape), tuple(shape[1:]) or (1,)  # all but the leading axis


def _graph(shape, ashape, alpha, q_in=None, q_a=None, q_out=None):
    out = tuple(np.broadcast_shapes(shape, ashape))
    if q_in is None:
        a = Tensor("alpha", ashape, "float32", data=alpha.astype(np.float32))
        return single_op_graph("PRELU", [Tensor("x", shape, "float32"), a], Tensor("y", out, "float32"))
    a = qtensor("alpha", ashape, *q_a, data=alpha.astype(np.int8))
    return single_op_graph("PRELU", [qtensor("x", shape, *q_in), a], qtensor("y", out, *q_out))


@settings(max_examples=200, deadline=None)
@given(
    s=shapes(), q_in=act_quant(-3, 0.5), q_a=act_quant(-3, 0.5), q_out=act_quant(-3, 0.5), seed=st.integers(0, 2**31)
)
def test_prelu_int8(s, q_in, q_a, q_out, seed):
    rng = np.random.default_rng(seed)
    shape, ashape = s
    g = _graph(shape, ashape, rng.integers(-128, 128, ashape), q_in, q_a, q_out)
    xs = rng.integers(-128, 128, (3,) + shape).astype(np.int8)
    xs[0] = q_in[1]  # the zero point (v = 0 takes the identity branch)
    try:
        got = picoml.run(g, xs)
    except picoml.UnsupportedError as e:  # a multiplier of 2^30 or more
        assert "is 2^30 or more" in str(e)
        return
    assert_int_equal(got, tflm_run(to_tflite(g), xs), f"PRELU {shape} alpha {ashape} {q_in} {q_a} {q_out}")


@settings(max_examples=100, deadline=None)
@given(s=shapes(), seed=st.integers(0, 2**31))
def test_prelu_float(s, seed):
    rng = np.random.default_rng(seed)
    shape, ashape = s
    g = _graph(shape, ashape, rng.standard_normal(ashape) * 2)
    xs = rng.standard_normal((3,) + shape).astype(np.float32)
    got, model = picoml.run(g, xs), to_tflite(g)
    np.testing.assert_array_equal(got, litert_run(model, xs))
    np.testing.assert_array_equal(got, tflm_run(model, xs))


@settings(max_examples=100, deadline=None)
@given(q_in=act_quant(-4, 1), q_a=act_quant(-4, 1), q_out=act_quant(-4, 1), seed=st.integers(0, 2**31))
def test_prelu_int8_every_input_and_alpha_code(q_in, q_a, q_out, seed):
    """Every input code against every alpha code: a (256, 256) input with a full-shape alpha."""
    rng = np.random.default_rng(seed)
    codes = np.arange(-128, 128)
    alpha = np.tile(codes, (256, 1))
    g = _graph((256, 256), (256, 256), alpha, q_in, q_a, q_out)
    xs = np.tile(rng.permutation(codes)[:, None], (1, 256))[None].astype(np.int8)
    try:
        got = picoml.run(g, xs)
    except picoml.UnsupportedError:
        return
    assert_int_equal(got, tflm_run(to_tflite(g), xs), f"PRELU all codes {q_in} {q_a} {q_out}")


def test_alpha_must_be_constant():
    a = Tensor("alpha", (4,), "float32")
    with pytest.raises(picoml.UnsupportedError, match="PRELU 'y': alpha 'alpha' must be a constant tensor"):
        single_op_graph("PRELU", [Tensor("x", (2, 4), "float32"), a], Tensor("y", (2, 4), "float32"))


def test_alpha_wider_than_the_input_is_refused():
    a = Tensor("alpha", (3, 4), "float32", data=np.ones((3, 4), np.float32))
    with pytest.raises(picoml.GraphError, match="alpha of shape \\[3, 4\\] does not broadcast to input \\[1, 4\\]"):
        single_op_graph("PRELU", [Tensor("x", (1, 4), "float32"), a], Tensor("y", (3, 4), "float32"))


def test_rank_above_4_is_refused():
    a = Tensor("alpha", (1,), "float32", data=np.ones(1, np.float32))
    with pytest.raises(picoml.UnsupportedError, match="PRELU of rank 5"):
        single_op_graph("PRELU", [Tensor("x", (1, 2, 2, 2, 2), "float32"), a], Tensor("y", (1, 2, 2, 2, 2), "float32"))


def test_tflite_round_trip(tmp_path):
    g = _graph((1, 3, 3, 4), (4,), np.arange(4) - 2, (0.05, 3), (0.01, 0), (0.04, -7))
    picoml.save(g, tmp_path / "prelu.tflite")
    g2 = picoml.load(tmp_path / "prelu.tflite")
    assert g.equals(g2), g.diff(g2)
