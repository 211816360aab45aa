"""SQUARED_DIFFERENCE vs tflite-micro (int8, exact) and LiteRT (float32, exact: one subtraction and
one multiply in IEEE float32).

int8 pins: left shift 7, inputs rescaled with MultiplyByQuantizedMultiplierSmallerThanOneExp, the
squared difference rescaled with MultiplyByQuantizedMultiplier (a multiplier above 1 shifts left,
wrapping as int32), no fused activation, broadcasting over at most 4 dimensions.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import UnsupportedError
from picoml.graph.ops import OP_SET, OpType
from picoml.reference import squared_difference as sd

from oracles import check_against_oracle, litert_run, qtensor, random_input, single_op_graph, to_tflite
from strategies import DTYPES, act_quant, act_tensor, all_code_pairs, broadcast_pair


def _graph(shapes, dtype, q1, q2, qo):
    a = act_tensor("a", shapes[0], dtype, q1)
    b = act_tensor("b", shapes[1], dtype, q2)
    y = act_tensor("y", tuple(np.broadcast_shapes(*shapes)), dtype, qo)
    return single_op_graph(OpType.SQUARED_DIFFERENCE, [a, b], y)


@settings(max_examples=120, deadline=None)
@given(
    dtype=DTYPES,
    shapes=broadcast_pair(max_rank=4, max_dim=5),
    q1=act_quant(-2, 0),
    q2=act_quant(-2, 0),
    qo=act_quant(-3, 1),
    seed=st.integers(0, 2**31),
)
def test_squared_difference(dtype, shapes, q1, q2, qo, seed):
    rng = np.random.default_rng(seed)
    g = _graph(shapes, dtype, q1, q2, qo)
    xs = [random_input(t, 3, rng) for t in g.inputs]
    if dtype == "float32":
        got = sd.evaluate(sd.prepare(g.ops[0]), xs)
        np.testing.assert_array_equal(got, litert_run(to_tflite(g), xs))
    else:
        check_against_oracle(g, xs, "SQUARED_DIFFERENCE")


@st.composite
def tie_prone_scale(draw, lo=-10, hi=0):
    """Powers of two (times 1 + k·2^-20 at most): multipliers with few significant bits, whose
    products land on exact halves in SaturatingRoundingDoublingHighMul and RoundingDivideByPOT."""
    e = draw(st.integers(lo, hi))
    k = draw(st.sampled_from([0, 0, 0, 1, -1, 3]))
    return float(np.float32(2.0**e * (1 + k * 2.0**-20)))


@settings(max_examples=80, deadline=None)
@given(
    s1=tie_prone_scale(),
    s2=tie_prone_scale(),
    so=tie_prone_scale(-20, 2),
    zps=st.tuples(*[st.integers(-128, 127)] * 3),
)
def test_every_code_pair_tie_prone_scales(s1, s2, so, zps):
    """All 65536 code pairs; the output scale ranges down to 2^-20, where the output multiplier
    exceeds 1 (left shifts, wrapping: the output is then whatever int32 wrap-around gives)."""
    a, b = all_code_pairs()
    tm = 2 * max(s1, s2)
    if tm * tm / (float(np.float32(1 << 14) * np.float32(so))) >= 2.0**30:
        return  # refused: test_huge_output_multiplier_is_refused
    g = _graph(((65536,), (65536,)), "int8", (s1, zps[0]), (s2, zps[1]), (so, zps[2]))
    check_against_oracle(g, [a, b], f"SQUARED_DIFFERENCE scales {s1}, {s2}, {so}")


def test_left_shift_wraps_like_int32():
    """Output multiplier 2^9 (scales 1, 1, 2^-25): 255² · 2^14-scale squares shifted left by 9 wrap."""
    a, b = all_code_pairs()
    g = _graph(((65536,), (65536,)), "int8", (1.0, 0), (1.0, 0), (2.0**-25, 0))
    p = sd.prepare(g.ops[0])
    assert p.output_shift > 0
    got = check_against_oracle(g, [a, b], "SQUARED_DIFFERENCE")
    d = a.astype(np.int64) - b
    assert (got != np.clip(d * d * 2**25, -128, 127)).any()  # wrapped, not saturated


def test_constant_operand_and_broadcast():
    rng = np.random.default_rng(2)
    x = qtensor("x", (2, 3, 4), 0.02, 7)
    c = qtensor("c", (1, 4), 0.03, -4, data=rng.integers(-128, 128, (1, 4), dtype=np.int8))
    y = qtensor("y", (2, 3, 4), 0.01, -128)
    g = single_op_graph(OpType.SQUARED_DIFFERENCE, [x, c], y)
    check_against_oracle(g, random_input(x, 5, rng), "SQUARED_DIFFERENCE")


def test_huge_output_multiplier_is_refused():
    with pytest.raises(UnsupportedError, match="SQUARED_DIFFERENCE.*2\\^30 or more"):
        sd.prepare(_graph(((4,), (4,)), "int8", (1.0, 0), (1.0, 0), (2.0**-50, 0)).ops[0])


def test_broadcast_rank_limit():
    with pytest.raises(UnsupportedError, match="at most 4"):
        _graph(((2, 1, 1, 1, 3), (1, 1, 1, 2, 1)), "float32", None, None, None)
    _graph(((2, 1, 1, 1, 3), (2, 1, 1, 1, 3)), "float32", None, None, None)  # same shape: any rank


def test_schema_fields():
    from ai_edge_litert import schema_py_generated as s

    d = OP_SET[OpType.SQUARED_DIFFERENCE]
    assert (d.builtin_code, d.options_type, d.attrs) == (
        s.BuiltinOperator.SQUARED_DIFFERENCE,
        s.BuiltinOptions.SquaredDifferenceOptions,
        (),
    )
