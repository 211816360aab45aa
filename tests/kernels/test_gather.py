"""GATHER vs tflite-micro and LiteRT: exact for int8 and float32 (values are copied), constant and
computed (model input) int32 positions, any axis (negative included) and batch_dims."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor

from oracles import assert_int_equal, litert_run, random_input, single_op_graph, tflm_run, to_tflite
from strategies import DTYPES, act_quant, act_tensor


def gather_graph(dtype, shape, pos_shape, axis, batch_dims, q=None, positions=None):
    x = act_tensor("x", shape, dtype, q)
    pos = Tensor("pos", pos_shape, "int32", data=positions)
    a = axis % len(shape)
    bd = batch_dims % len(pos_shape) if batch_dims < 0 else batch_dims
    out = tuple(shape[:a]) + tuple(pos_shape[bd:]) + tuple(shape[a + 1 :])
    y = act_tensor("y", out, dtype, q)
    return single_op_graph("GATHER", [x, pos], y, axis=axis, batch_dims=batch_dims), x


@st.composite
def geometry(draw):
    rank = draw(st.integers(1, 4))
    shape = [draw(st.integers(1, 5)) for _ in range(rank)]
    axis = draw(st.integers(0, rank - 1))
    bd = draw(st.integers(0, axis))
    pos_shape = shape[:bd] + [draw(st.integers(1, 4)) for _ in range(draw(st.integers(0, 2)))]
    neg_axis = draw(st.booleans())
    return tuple(shape), tuple(pos_shape), axis - rank if neg_axis else axis, bd


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, geo=geometry(), const=st.booleans(), q=act_quant(-2, 0), seed=st.integers(0, 2**31))
def test_gather(dtype, geo, const, q, seed):
    rng = np.random.default_rng(seed)
    shape, pos_shape, axis, bd = geo
    size = shape[axis]
    positions = rng.integers(0, size, pos_shape).astype(np.int32) if const else None
    g, x = gather_graph(dtype, shape, pos_shape, axis, bd, q, positions)
    xs = [random_input(x, 3, rng)]
    if not const:
        xs.append(rng.integers(0, size, (3,) + pos_shape).astype(np.int32))
    got = picoml.run(g, xs if len(xs) > 1 else xs[0])
    model = to_tflite(g)
    what = f"GATHER {shape} pos {pos_shape} axis={axis} batch_dims={bd} const={const}"
    assert_int_equal(got.view(np.int32) if dtype == "float32" else got, _bits(tflm_run(model, xs)), what)
    assert_int_equal(got.view(np.int32) if dtype == "float32" else got, _bits(litert_run(model, xs)), what)


def _bits(v):
    v = np.asarray(v)
    return v.view(np.int32) if v.dtype == np.float32 else v


def test_negative_batch_dims():
    """batch_dims counts from the positions' rank when negative (-1 of a rank-2 positions: 1)."""
    rng = np.random.default_rng(1)
    g, x = gather_graph("int8", (2, 5, 3), (2, 4), 1, -1, (0.1, 3))
    xs = [random_input(x, 2, rng), rng.integers(0, 5, (2, 2, 4)).astype(np.int32)]
    assert_int_equal(picoml.run(g, xs), tflm_run(to_tflite(g), xs), "batch_dims -1")


def test_out_of_range_positions():
    with pytest.raises(picoml.GraphError, match=r"GATHER 'y': position 5 in 'pos' is out of range \[0, 5\)"):
        gather_graph("float32", (5, 2), (2,), 0, 0, positions=np.array([1, 5], np.int32))
    g, _ = gather_graph("int8", (5, 2), (2,), 0, 0, (0.1, 0))
    with pytest.raises(picoml.InputError, match=r"GATHER 'y': position -1 is out of range \[0, 5\)"):
        picoml.run(g, [np.zeros((5, 2), np.int8), np.array([0, -1], np.int32)])


def test_refusals():
    x = Tensor("x", (2, 5, 3))
    with pytest.raises(picoml.GraphError, match="batch_dims 2 must be in"):
        single_op_graph("GATHER", [x, Tensor("pos", (2, 5), "int32")], Tensor("y", (2, 5, 3)), axis=1, batch_dims=2)
    with pytest.raises(picoml.GraphError, match="input 1 'pos' is float32, expected int32 positions"):
        single_op_graph("GATHER", [x, Tensor("pos", (2,))], Tensor("y", (2, 5, 3)), axis=0)
    with pytest.raises(picoml.GraphError, match="the first 1 dimensions"):
        single_op_graph("GATHER", [x, Tensor("pos", (3, 2), "int32")], Tensor("y", (2, 3, 2, 3)), axis=1, batch_dims=1)
