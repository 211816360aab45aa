"""ADD and MUL (with broadcasting and fused activations), RELU and RELU6 vs tflite-micro (int8, exact)
and LiteRT (float32, 1e-5)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracles import check_against_oracle, random_input, single_op_graph
from strategies import ACTS, DTYPES, act_quant, act_tensor


@st.composite
def broadcast_pair(draw):
    rank = draw(st.integers(1, 4))
    a = [draw(st.integers(1, 5)) for _ in range(rank)]
    b = [d if draw(st.booleans()) else 1 for d in a]
    if draw(st.booleans()):
        b = b[draw(st.integers(0, rank - 1)) :]  # lower rank
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


@pytest.mark.parametrize("op_type", ["ADD", "MUL"])
@settings(max_examples=80, deadline=None)
@given(
    dtype=DTYPES,
    shapes=broadcast_pair(),
    act=ACTS,
    q1=act_quant(-2, 0),
    q2=act_quant(-2, 0),
    qo=act_quant(-2, 0.5),
    seed=st.integers(0, 2**31),
)
def test_binary(op_type, dtype, shapes, act, q1, q2, qo, seed):
    rng = np.random.default_rng(seed)
    a = act_tensor("a", shapes[0], dtype, q1)
    b = act_tensor("b", shapes[1], dtype, q2)
    out_shape = tuple(np.broadcast_shapes(shapes[0], shapes[1]))
    y = act_tensor("y", out_shape, dtype, qo)
    g = single_op_graph(op_type, [a, b], y, fused_activation=act)
    check_against_oracle(g, [random_input(a, 3, rng), random_input(b, 3, rng)], op_type)


@pytest.mark.parametrize("op_type", ["ADD", "MUL"])
def test_binary_with_constant_operand(op_type):
    rng = np.random.default_rng(3)
    a = act_tensor("a", (1, 4, 4, 3), "int8", (0.05, -10))
    c = act_tensor("c", (3,), "int8", (0.02, 5))
    c.data = rng.integers(-128, 128, (3,), dtype=np.int8)
    y = act_tensor("y", (1, 4, 4, 3), "int8", (0.07, 3))
    g = single_op_graph(op_type, [a, c], y)
    check_against_oracle(g, random_input(a, 5, rng), op_type)


@pytest.mark.parametrize("op_type", ["RELU", "RELU6"])
@settings(max_examples=60, deadline=None)
@given(
    dtype=DTYPES,
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    q=act_quant(-2, 0),
    qo=act_quant(-2, 0),
    seed=st.integers(0, 2**31),
)
def test_relu(op_type, dtype, shape, q, qo, seed):
    rng = np.random.default_rng(seed)
    x = act_tensor("x", shape, dtype, q)
    # TFLM's RELU6 clamps in the input's quantization, so its output shares it
    y = act_tensor("y", shape, dtype, q if op_type == "RELU6" else qo)
    g = single_op_graph(op_type, [x], y)
    check_against_oracle(g, random_input(x, 3, rng) * (3 if dtype == "float32" else 1), op_type)
