"""DEPTH_TO_SPACE and SPACE_TO_DEPTH vs tflite-micro (int8) and LiteRT (float32): both exact (data
movement), block sizes 1-4, every shape the ops accept, and the refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import GraphError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph.ops import OpType

from oracles import check_against_oracle, litert_run, random_input, single_op_graph, to_tflite
from strategies import DTYPES, act_quant, act_tensor


def ds_graph(op, dtype, n, h, w, c, b, qin=(0.05, 3)):
    if op == OpType.DEPTH_TO_SPACE:
        x, y = (n, h, w, c * b * b), (n, h * b, w * b, c)
    else:
        x, y = (n, h * b, w * b, c), (n, h, w, c * b * b)
    return single_op_graph(op, [act_tensor("x", x, dtype, qin)], act_tensor("y", y, dtype, qin), block_size=b)


@settings(max_examples=80, deadline=None)
@given(
    op=st.sampled_from([OpType.DEPTH_TO_SPACE, OpType.SPACE_TO_DEPTH]),
    dtype=DTYPES,
    n=st.integers(1, 2),
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    c=st.integers(1, 4),
    b=st.integers(1, 4),
    qin=act_quant(),
    seed=st.integers(0, 2**31),
)
def test_depth_space(op, dtype, n, h, w, c, b, qin, seed):
    g = ds_graph(op, dtype, n, h, w, c, b, qin)
    xs = random_input(g.inputs[0], 2, np.random.default_rng(seed))
    if dtype == "int8":
        check_against_oracle(g, xs)
    else:
        np.testing.assert_array_equal(picoml.run(g, xs), litert_run(to_tflite(g), xs))


def test_the_two_are_inverse_and_round_trip():
    g1 = ds_graph(OpType.SPACE_TO_DEPTH, "int8", 1, 2, 3, 5, 2)
    g2 = ds_graph(OpType.DEPTH_TO_SPACE, "int8", 1, 2, 3, 5, 2)
    x = random_input(g1.inputs[0], 3, np.random.default_rng(0))
    np.testing.assert_array_equal(picoml.run(g2, picoml.run(g1, x)), x)
    for g in (g1, g2):
        assert g.diff(read_tflite_bytes(to_tflite(g))) == []


@pytest.mark.parametrize(
    "op, x, y, b, match",
    [
        (OpType.DEPTH_TO_SPACE, (1, 2, 2, 6), (1, 4, 4, 1), 2, "multiple of block_size"),
        (OpType.SPACE_TO_DEPTH, (1, 3, 4, 1), (1, 1, 2, 4), 2, "multiple of block_size"),
        (OpType.SPACE_TO_DEPTH, (1, 4, 4, 1), (1, 4, 4, 1), 0, "block_size must be"),
        (OpType.DEPTH_TO_SPACE, (1, 4, 4), (1, 4, 4), 1, "rank 4"),
    ],
)
def test_refusals(op, x, y, b, match):
    with pytest.raises(GraphError, match=match):
        single_op_graph(op, [act_tensor("x", x, "float32")], act_tensor("y", y, "float32"), block_size=b)
