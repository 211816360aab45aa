"""SUB vs tflite-micro (int8, exact) and LiteRT (float32, exact: one IEEE subtraction).

int8 SUB is ADD's arithmetic (left shift 20, both inputs rescaled to 2·max input scale) with the
*scaled* second input subtracted; the tests pin that it is not ADD of the negated input, that
Prepare's quotients are double (sub_common.cc reads float), and the fused activations.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import UnsupportedError
from picoml.fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm_lt1
from picoml.fixedpoint import quantize_multiplier_smaller_than_one_exp
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph.ops import OP_SET, OpType
from picoml.reference import KERNELS, sub
from picoml.reference.add import LEFT_SHIFT

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


def _graph(shapes, dtype, q1, q2, qo, act="NONE", **attrs):
    a = act_tensor("a", shapes[0], dtype, q1)
    b = act_tensor("b", shapes[1], dtype, q2)
    y = act_tensor("y", tuple(np.broadcast_shapes(*shapes)), dtype, qo)
    return single_op_graph(OpType.SUB, [a, b], y, fused_activation=act, **attrs)


@settings(max_examples=120, deadline=None)
@given(
    dtype=DTYPES,
    shapes=broadcast_pair(max_rank=6, max_dim=4),
    act=ACTS,
    q1=act_quant(-2, 0),
    q2=act_quant(-2, 0),
    qo=act_quant(-2, 0.5),
    seed=st.integers(0, 2**31),
)
def test_sub(dtype, shapes, act, q1, q2, qo, seed):
    rng = np.random.default_rng(seed)
    g = _graph(shapes, dtype, q1, q2, qo, act)
    xs = [random_input(t, 3, rng) for t in g.inputs]
    if dtype == "float32":
        got = KERNELS[OpType.SUB].evaluate(KERNELS[OpType.SUB].prepare(g.ops[0]), xs)
        np.testing.assert_array_equal(got, litert_run(to_tflite(g), xs))
    else:
        check_against_oracle(g, xs, "SUB")


def _negated_before_scaling(p, a, b):
    """The reading the tests rule out: ADD of the negated second input (negation before rescaling)."""
    x1 = (a.astype(np.int64) - p.input1_zp) << LEFT_SHIFT
    x2 = -((b.astype(np.int64) - p.input2_zp) << LEFT_SHIFT)
    s = mbqm_lt1(x1, p.input1_multiplier, p.input1_shift) + mbqm_lt1(x2, p.input2_multiplier, p.input2_shift)
    return np.clip(mbqm_lt1(s, p.output_multiplier, p.output_shift) + p.output_zp, p.act_min, p.act_max)


@st.composite
def tie_prone_scale(draw):
    """Scales whose rescale multipliers have few significant bits, so SaturatingRoundingDoublingHighMul
    meets exact halves: powers of two, times 1 + k·2^-20 (k small) at most."""
    e = draw(st.integers(-10, 0))
    k = draw(st.sampled_from([0, 0, 1, 3, -1, 5]))
    return float(np.float32(2.0**e * (1 + k * 2.0**-20)))


@settings(max_examples=60, deadline=None)
@given(
    s1=tie_prone_scale(),
    s2=tie_prone_scale(),
    so=tie_prone_scale(),
    zps=st.tuples(*[st.integers(-128, 127)] * 3),
    act=ACTS,
)
def test_every_code_pair_tie_prone_scales(s1, s2, so, zps, act):
    if 2 * max(s1, s2) >= (1 << 20) * so:
        return  # refused (test_output_scale_too_small_is_refused)
    a, b = all_code_pairs()
    g = _graph(((65536,), (65536,)), "int8", (s1, zps[0]), (s2, zps[1]), (so, zps[2]), act)
    check_against_oracle(g, [a, b], f"SUB scales {s1}, {s2}, {so}")


# (s1, s2, s_out, zero points): tie-prone scales where the two readings below give different outputs
# (3 to 65 of the 65536 code pairs), found by searching; tflite-micro matches picoml on all of them
NEGATION_TIES = [
    (0.062499940395355225, 0.00390625, 0.007812552154064178, (69, 53, 82)),
    (0.125, 0.03125008940696716, 0.06250029802322388, (-31, 63, 114)),
    (1.0, 0.2500002384185791, 0.4999985694885254, (10, -123, -104)),
    (0.0625, 0.007812507450580597, 0.015625, (-79, -93, -14)),
]


@pytest.mark.parametrize("case", NEGATION_TIES)
def test_subtracts_the_scaled_input_not_the_negated_one(case):
    """sub.h subtracts the rounded scaled second input. Adding the rounded scaled *negation* (ADD of
    -b) differs where SaturatingRoundingDoublingHighMul meets an exact half, which it rounds up
    (toward +inf), not symmetrically: that reading fails on each of these configurations."""
    s1, s2, so, zps = case
    a, b = all_code_pairs()
    g = _graph(((65536,), (65536,)), "int8", (s1, zps[0]), (s2, zps[1]), (so, zps[2]))
    expected = tflm_run(to_tflite(g), [a, b])
    p = sub.prepare(g.ops[0])
    assert_int_equal(sub.evaluate(p, [a, b]), expected, "SUB")
    assert (_negated_before_scaling(p, a, b) != expected.reshape(a.shape)).any()


# (s1, s2, s_out) whose input or output multipliers differ when sub_common.cc's quotients are taken
# on C floats instead of doubles, and whose outputs then differ on some code pair; tflite-micro
# matches the doubles (ADD's Prepare) on all of them
DOUBLE_PREPARE = [
    (0.16800138354301453, 0.0018814245704561472, 0.07834357023239136),
    (0.013454373925924301, 0.017094871029257774, 0.006889889482408762),
    (0.14660270512104034, 0.39977917075157166, 1.3344956636428833),
]


def _float_prepare(p, s1, s2, so):
    """sub_common.cc read literally: the quotients on C floats, then widened to double."""
    f = np.float32
    twice_max = f(2) * max(f(s1), f(s2))
    reals = (f(s1) / twice_max, f(s2) / twice_max, twice_max / (f(1 << LEFT_SHIFT) * f(so)))
    (m1, h1), (m2, h2), (mo, ho) = (quantize_multiplier_smaller_than_one_exp(float(r)) for r in reals)
    return dataclasses.replace(
        p,
        input1_multiplier=m1,
        input1_shift=h1,
        input2_multiplier=m2,
        input2_shift=h2,
        output_multiplier=mo,
        output_shift=ho,
    )


@pytest.mark.parametrize("scales", DOUBLE_PREPARE)
def test_prepare_multipliers_are_double(scales):
    a, b = all_code_pairs()
    g = _graph(((65536,), (65536,)), "int8", (scales[0], 3), (scales[1], -7), (scales[2], 11))
    expected = check_against_oracle(g, [a, b], "SUB")
    literal = sub.evaluate(_float_prepare(sub.prepare(g.ops[0]), *scales), [a, b])
    assert (literal != expected).any()


def test_constant_operand_either_side():
    rng = np.random.default_rng(3)
    for k in (0, 1):
        x = qtensor("x", (1, 4, 4, 3), 0.05, -10)
        c = qtensor("c", (3,), 0.02, 5, data=rng.integers(-128, 128, (3,), dtype=np.int8))
        y = qtensor("y", (1, 4, 4, 3), 0.07, 3)
        g = single_op_graph(OpType.SUB, [x, c] if k == 0 else [c, x], y)
        check_against_oracle(g, random_input(x, 5, rng), "SUB")


def test_pot_scale_int16_round_trips_and_does_not_change_int8():
    """pot_scale_int16 selects TFLite's power-of-two path for int16 only; int8 SUB ignores it."""
    a, b = all_code_pairs()
    outs = []
    for pot in (True, False):
        g = _graph(((65536,), (65536,)), "int8", (0.03, 1), (0.02, -2), (0.05, 0), pot_scale_int16=pot)
        data = to_tflite(g)
        assert read_tflite_bytes(data).ops[0].attrs["pot_scale_int16"] is pot
        outs.append(check_against_oracle(g, [a, b], "SUB"))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_output_scale_too_small_is_refused():
    with pytest.raises(UnsupportedError, match="SUB.*too small"):
        _graph(((4,), (4,)), "int8", (1.0, 0), (0.5, 0), (2.0**-21, 0))


def test_schema_fields():
    from ai_edge_litert import schema_py_generated as s

    d = OP_SET[OpType.SUB]
    assert (d.builtin_code, d.options_type) == (s.BuiltinOperator.SUB, s.BuiltinOptions.SubOptions)
    assert [a.name for a in d.attrs] == ["fused_activation", "pot_scale_int16"]
    assert s.SubOptionsT().potScaleInt16 is True


def test_broadcast_over_more_than_six_dimensions_is_refused():
    with pytest.raises(UnsupportedError, match="at most 6"):
        _graph(((2, 1, 1, 1, 1, 1, 3), (1, 1, 1, 1, 1, 2, 1)), "float32", None, None, None)


@pytest.mark.parametrize("op_type", [OpType.ADD, OpType.SUB, OpType.MUL])
def test_float_overflow_clamps_to_flt_max(op_type):
    """LiteRT clamps with activation NONE at ±FLT_MAX (CalculateActivationRange<float>), so an
    overflow to ±inf comes out as ±FLT_MAX; NaN passes."""
    a = np.array([[3e38, np.inf, -3e38, np.nan, 1.0]], np.float32)
    b = np.array([[-3e38, 1.0, 3e38, 1.0, 2.0]], np.float32)
    g = _graph(((5,), (5,)), "float32", None, None, None)
    g.ops[0].type = op_type
    if op_type == OpType.MUL:
        del g.ops[0].attrs["pot_scale_int16"]
    k = KERNELS[op_type]
    np.testing.assert_array_equal(k.evaluate(k.prepare(g.ops[0]), [a, b]), litert_run(to_tflite(g), [a, b]))
