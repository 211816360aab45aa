"""MAXIMUM and MINIMUM vs tflite-micro (int8, exact) and LiteRT (float32, exact, NaN included).

tflite-micro's kernels have no Prepare: int8 compares raw codes, ignoring every scale and zero point.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import UnsupportedError
from picoml.graph.ops import OP_SET, Int8Output, OpType
from picoml.reference import KERNELS

from oracles import check_against_oracle, litert_run, qtensor, random_input, single_op_graph, tflm_run, to_tflite
from strategies import DTYPES, act_quant, act_tensor, all_code_pairs, broadcast_pair

OPS = [OpType.MAXIMUM, OpType.MINIMUM]


def _graph(op_type, shapes, dtype, q1, q2, qo):
    a = act_tensor("a", shapes[0], dtype, q1)
    b = act_tensor("b", shapes[1], dtype, q2)
    y = act_tensor("y", tuple(np.broadcast_shapes(*shapes)), dtype, qo)
    return single_op_graph(op_type, [a, b], y)


def _float_check(g, xs):
    k = KERNELS[g.ops[0].type]
    got = k.evaluate(k.prepare(g.ops[0]), xs)
    np.testing.assert_array_equal(got, litert_run(to_tflite(g), xs))


@pytest.mark.parametrize("op_type", OPS)
@settings(max_examples=80, deadline=None)
@given(
    dtype=DTYPES,
    shapes=broadcast_pair(max_rank=5, max_dim=4),
    q=act_quant(-2, 0),
    shared=st.booleans(),
    q2=act_quant(-2, 0),
    qo=act_quant(-2, 0),
    seed=st.integers(0, 2**31),
)
def test_maximum_minimum(op_type, dtype, shapes, q, shared, q2, qo, seed):
    rng = np.random.default_rng(seed)
    g = _graph(op_type, shapes, dtype, q, q if shared else q2, q if shared else qo)
    xs = [random_input(t, 3, rng) for t in g.inputs]
    if dtype == "float32":
        _float_check(g, xs)
    else:
        check_against_oracle(g, xs, op_type)


@pytest.mark.parametrize("op_type", OPS)
def test_int8_ignores_quantization(op_type):
    """With three different scales and zero points the output is still the larger (smaller) raw code."""
    a, b = all_code_pairs()
    g = _graph(op_type, ((65536,), (65536,)), "int8", (0.1, 20), (0.003, -50), (1.7, 3))
    got = check_against_oracle(g, [a, b], op_type)
    np.testing.assert_array_equal(got, (np.maximum if op_type == OpType.MAXIMUM else np.minimum)(a, b))


@pytest.mark.parametrize("op_type", OPS)
def test_float_nan_and_signed_zero(op_type):
    """LiteRT picks the first input when it compares greater (smaller), else the second: a NaN
    second input wins, a NaN first input loses; -0 vs +0 keeps the second."""
    nan = np.float32(np.nan)
    a = np.array([[nan, 1.0, nan, -0.0, 0.0, 2.0, -np.inf]], np.float32)
    b = np.array([[1.0, nan, nan, 0.0, -0.0, 2.0, np.inf]], np.float32)
    g = _graph(op_type, ((7,), (7,)), "float32", None, None, None)
    k = KERNELS[op_type]
    got = k.evaluate(k.prepare(g.ops[0]), [a, b])
    ref = litert_run(to_tflite(g), [a, b])
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))


@pytest.mark.parametrize("op_type", OPS)
def test_constant_operand(op_type):
    rng = np.random.default_rng(5)
    x = qtensor("x", (1, 3, 3, 4), 0.05, -10)
    c = qtensor("c", (4,), 0.05, -10, data=rng.integers(-128, 128, (4,), dtype=np.int8))
    y = qtensor("y", (1, 3, 3, 4), 0.05, -10)
    g = single_op_graph(op_type, [c, x], y)
    check_against_oracle(g, random_input(x, 4, rng), op_type)


def test_rank_five_broadcast_runs_and_six_is_refused():
    rng = np.random.default_rng(1)
    g = _graph(OpType.MAXIMUM, ((2, 1, 3, 1, 2), (1, 2, 1, 2, 1)), "int8", (0.1, 0), (0.1, 0), (0.1, 0))
    xs = [random_input(t, 2, rng) for t in g.inputs]
    np.testing.assert_array_equal(
        KERNELS[OpType.MAXIMUM].evaluate(KERNELS[OpType.MAXIMUM].prepare(g.ops[0]), xs), tflm_run(to_tflite(g), xs)
    )
    with pytest.raises(UnsupportedError, match="at most 5"):
        _graph(OpType.MINIMUM, ((2, 1, 1, 1, 1, 3), (1, 1, 1, 1, 2, 1)), "float32", None, None, None)
    # equal shapes run elementwise at any rank
    _graph(OpType.MINIMUM, ((2, 1, 1, 1, 1, 3), (2, 1, 1, 1, 1, 3)), "float32", None, None, None)


def test_registry_facts():
    from ai_edge_litert import schema_py_generated as s

    for op, code in ((OpType.MAXIMUM, s.BuiltinOperator.MAXIMUM), (OpType.MINIMUM, s.BuiltinOperator.MINIMUM)):
        d = OP_SET[op]
        assert (d.builtin_code, d.options_type, d.attrs) == (code, s.BuiltinOptions.MaximumMinimumOptions, ())
        assert d.int8_output == Int8Output.JOINED  # PTQ gives inputs and output one quantization
