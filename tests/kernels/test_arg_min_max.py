"""ARG_MAX and ARG_MIN vs tflite-micro and LiteRT: int32 indices, exact for int8 and float32 inputs
(an index has no rounding), ties included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Tensor

from oracles import assert_int_equal, litert_run, random_input, single_op_graph, tflm_run, to_tflite
from strategies import DTYPES, act_quant, act_tensor


def arg_graph(op_type, shape, axis, dtype, q=None, axis_shape=(1,)):
    x = act_tensor("x", shape, dtype, q)
    a = Tensor("axis", axis_shape, "int32", data=np.full(axis_shape, axis, np.int32))
    out = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    return single_op_graph(op_type, [x, a], Tensor("y", out, "int32")), x


def check(g, xs, what):
    got = picoml.run(g, xs)
    assert got.dtype == np.int32
    model = to_tflite(g)
    assert_int_equal(got, tflm_run(model, xs), what + " vs tflite-micro")
    assert_int_equal(got, litert_run(model, xs), what + " vs LiteRT")
    return got


@st.composite
def shape_and_axis(draw):
    shape = draw(st.lists(st.integers(1, 7), min_size=1, max_size=5))
    return tuple(shape), draw(st.integers(-len(shape), len(shape) - 1))


@pytest.mark.parametrize("op_type", ["ARG_MAX", "ARG_MIN"])
@settings(max_examples=60, deadline=None)
@given(
    dtype=DTYPES,
    sa=shape_and_axis(),
    q=act_quant(-3, 0),
    levels=st.sampled_from([2, 3, 256]),
    scalar_axis=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_arg(op_type, dtype, sa, q, levels, scalar_axis, seed):
    """Few distinct values (2 or 3 levels: ties everywhere) or all 256 codes."""
    rng = np.random.default_rng(seed)
    shape, axis = sa
    g, x = arg_graph(op_type, shape, axis, dtype, q, () if scalar_axis else (1,))
    xs = random_input(x, 4, rng)
    if levels < 256:
        v = rng.integers(0, levels, xs.shape)
        xs = (v * 100 - 128).astype(np.int8) if dtype == "int8" else v.astype(np.float32) - 1.5
    check(g, xs, f"{op_type} {shape} axis={axis} {dtype}")


@pytest.mark.parametrize("op_type", ["ARG_MAX", "ARG_MIN"])
def test_ties_take_the_first_index(op_type):
    g, _ = arg_graph(op_type, (2, 6), 1, "int8", (0.1, 0))
    xs = np.array([[[5, 5, 5, 5, 5, 5], [-128, 127, 127, -128, -128, 127]]], np.int8)
    got = check(g, xs, "ties")
    assert got.tolist() == [[0, 1 if op_type == "ARG_MAX" else 0]]


def test_reads_output_type_and_refuses_int64():
    g, _ = arg_graph("ARG_MAX", (2, 6), -1, "float32")
    g2 = read_tflite_bytes(to_tflite(g))
    assert g2.ops[0].attrs == {"output_type": 2}
    g.ops[0].attrs["output_type"] = 4  # INT64: LiteRT only; tflite-micro's Eval fails
    with pytest.raises(picoml.UnsupportedError, match=r"ARG_MAX 'y': output_type 4 is not supported \(INT32 = 2 only"):
        g.validate()


def test_refuses_bad_axes():
    with pytest.raises(picoml.GraphError, match="ARG_MIN 'y': axis 3 out of range for an input of rank 2"):
        arg_graph("ARG_MIN", (2, 6), 3, "int8", (0.1, 0))
    x = Tensor("x", (2, 6), "float32")
    two = Tensor("axis", (2,), "int32", data=np.array([0, 1], np.int32))
    with pytest.raises(picoml.GraphError, match="ARG_MAX 'y': axis must hold one value, holds 2"):
        single_op_graph("ARG_MAX", [x, two], Tensor("y", (6,), "int32"))
    with pytest.raises(picoml.GraphError, match="ARG_MAX 'y': output 'y' is float32, expected int32"):
        single_op_graph("ARG_MAX", [x, Tensor("axis", (1,), "int32", data=np.array([0], np.int32))], Tensor("y", (6,)))
