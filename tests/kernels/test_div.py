"""DIV vs tflite-micro (int8, exact) and LiteRT (float32, exact: one IEEE division).

tflite-micro's int8 DIV divides through GetReciprocal and two fixed-point multiplies; the tests pin
what a literal reading of div.h gets wrong: double Prepare, RoundingDivideByPOT by 32 or more, and a
zero divisor (see picoml/reference/div.py).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import UnsupportedError
from picoml.fixedpoint import quantize_multiplier, rounding_divide_by_pot
from picoml.graph.ops import OP_SET, OpType
from picoml.reference import div

from oracles import (
    assert_int_equal,
    check_against_oracle,
    litert_run,
    qtensor,
    random_input,
    single_op_graph,
    tflm_run,
    to_tflite,
)
from strategies import ACTS, DTYPES, act_quant, act_tensor, all_code_pairs, broadcast_pair


def _graph(shapes, dtype, q1, q2, qo, act="NONE"):
    a = act_tensor("a", shapes[0], dtype, q1)
    b = act_tensor("b", shapes[1], dtype, q2)
    y = act_tensor("y", tuple(np.broadcast_shapes(*shapes)), dtype, qo)
    return single_op_graph(OpType.DIV, [a, b], y, fused_activation=act)


def _pairs_graph(s1, s2, so, zps, act="NONE"):
    return _graph(((65536,), (65536,)), "int8", (s1, zps[0]), (s2, zps[1]), (so, zps[2]), act)


@settings(max_examples=120, deadline=None)
@given(
    dtype=DTYPES,
    shapes=broadcast_pair(max_rank=5, max_dim=4),
    act=ACTS,
    q1=act_quant(-2, 0),
    q2=act_quant(-2, 0),
    qo=act_quant(-2, 1),
    seed=st.integers(0, 2**31),
)
def test_div(dtype, shapes, act, q1, q2, qo, seed):
    rng = np.random.default_rng(seed)
    g = _graph(shapes, dtype, q1, q2, qo, act)
    xs = [random_input(t, 3, rng) for t in g.inputs]
    if dtype == "float32":
        xs[1][np.abs(xs[1]) < 1e-3] = 1.0
        got = div.evaluate(div.prepare(g.ops[0]), xs)
        np.testing.assert_array_equal(got, litert_run(to_tflite(g), xs))
    else:
        check_against_oracle(g, xs, "DIV")


@settings(max_examples=40, deadline=None)
@given(
    s1=st.floats(-3, 0),
    s2=st.floats(-3, 0),
    so=st.floats(-3, 1),
    zps=st.tuples(*[st.integers(-128, 127)] * 3),
    act=ACTS,
)
def test_every_code_pair(s1, s2, so, zps, act):
    """All 65536 (dividend, divisor) pairs, zero divisors and exponents of 32 and more included."""
    s1, s2, so = (float(np.float32(10**v)) for v in (s1, s2, so))
    a, b = all_code_pairs()
    check_against_oracle(_pairs_graph(s1, s2, so, zps, act), [a, b], "DIV")


# (s1, s2, s_out): QuantizeMultiplier of s1 / (s2 · s_out) differs between float and double
# arithmetic, and so do some outputs; tflite-micro matches the double quotient
DOUBLE_PREPARE = [
    (0.01496973354369402, 0.02363603748381138, 0.0026585599407553673, (73, 44, -119)),
    (0.0022134515456855297, 0.1819642037153244, 0.10984653979539871, (-37, 2, 75)),
    (0.4696151912212372, 0.015318844467401505, 0.44875288009643555, (-92, -53, 11)),
]


@pytest.mark.parametrize("case", DOUBLE_PREPARE)
def test_prepare_multiplier_is_double(case):
    s1, s2, so, zps = case
    a, b = all_code_pairs()
    g = _pairs_graph(s1, s2, so, zps)
    expected = check_against_oracle(g, [a, b], "DIV")
    f = np.float32
    p = div.prepare(g.ops[0])
    m, shift = quantize_multiplier(float(f(s1) / (f(s2) * f(so))))  # div.cc read literally
    assert (m, shift) != (p.multiplier, p.shift)
    literal = div.evaluate(div.DivParams(**{**vars(p), "multiplier": m, "shift": shift}), [a, b])
    assert (literal != expected).any()


def test_exponents_of_32_and_more_follow_tflite_micro():
    """Multiplier 0.9 (shift 0): 0 / v has exponent 31 + recip_shift >= 32 for v >= 2 and tflite-micro
    returns zp_out + 1 there (gemmlowp's mask truncated to int32, x86's shift count modulo 32);
    a RoundingDivideByPOT that saturated the exponent to 31 would give zp_out."""
    a, b = all_code_pairs()
    g = _pairs_graph(0.9, 1.0, 1.0, (0, 0, 0))
    p = div.prepare(g.ops[0])
    assert p.shift == 0
    expected = tflm_run(to_tflite(g), [a, b]).reshape(a.shape)
    assert_int_equal(div.evaluate(p, [a, b]), expected, "DIV")
    zero_dividend = (a == 0) & (np.abs(b.astype(int)) >= 2)
    assert (expected[zero_dividend] == 1).all()
    assert int(rounding_divide_by_pot(0, 31)) == 0


def test_zero_divisor_matches_tflite_micro():
    """b == zp2 is not refused by tflite-micro (a DCHECK only): GetReciprocal(0) runs 1/(1 + x) on
    x = -1.0, whose Newton iterations wrap int32; deterministic, and matched code for code."""
    rng = np.random.default_rng(4)
    for _ in range(8):
        s1, s2, so = (float(np.float32(10 ** rng.uniform(-3, 0))) for _ in range(3))
        zps = tuple(int(v) for v in rng.integers(-128, 128, 3))
        a = np.arange(-128, 128, dtype=np.int8)[None]
        b = np.full((1, 256), zps[1], np.int8)
        g = _graph(((256,), (256,)), "int8", (s1, zps[0]), (s2, zps[1]), (so, zps[2]))
        check_against_oracle(g, [a, b], "DIV by zero")


def test_constant_divisor_broadcast():
    rng = np.random.default_rng(6)
    x = qtensor("x", (1, 3, 3, 4), 0.05, -10)
    c = qtensor("c", (4,), 0.02, 5, data=rng.integers(-128, 128, (4,), dtype=np.int8))
    y = qtensor("y", (1, 3, 3, 4), 0.3, 3)
    check_against_oracle(single_op_graph(OpType.DIV, [x, c], y), random_input(x, 5, rng), "DIV")
    check_against_oracle(single_op_graph(OpType.DIV, [c, x], y), random_input(x, 5, rng), "DIV")


def test_float_division_by_zero_is_ieee():
    a = np.array([[1.0, -1.0, 0.0, 3.0]], np.float32)
    b = np.array([[0.0, 0.0, 0.0, -0.0]], np.float32)
    g = _graph(((4,), (4,)), "float32", None, None, None)
    got = div.evaluate(div.prepare(g.ops[0]), [a, b])
    np.testing.assert_array_equal(got, litert_run(to_tflite(g), [a, b]))


@pytest.mark.parametrize("so", [2.0**-30, 2.0**28])
def test_out_of_range_shifts_are_refused(so):
    with pytest.raises(UnsupportedError, match="DIV.*shift"):
        div.prepare(_graph(((4,), (4,)), "int8", (1.0, 0), (1.0, 0), (so, 0)).ops[0])


def test_schema_fields_and_rank_limit():
    from ai_edge_litert import schema_py_generated as s

    d = OP_SET[OpType.DIV]
    assert (d.builtin_code, d.options_type) == (s.BuiltinOperator.DIV, s.BuiltinOptions.DivOptions)
    assert [a.name for a in d.attrs] == ["fused_activation"]
    with pytest.raises(UnsupportedError, match="at most 5"):
        _graph(((2, 1, 1, 1, 1, 3), (1, 1, 1, 1, 2, 1)), "float32", None, None, None)
