"""HARD_SWISH vs tflite-micro (int8, exact; float32, exact) and LiteRT (float32, 2 ulp).

int8 is TFLM's own 16-bit fixed-point arithmetic (reference/hard_swish.py): every int8 code is
checked over hypothesis-drawn quantizations, including output multipliers below 2^-16 (gemmlowp's
int16 RoundingDivideByPOT by 16 or more bits) and reluish multipliers with left shifts.

float32 is ``x · relu6(x + 3) / 6`` in float32, bit-exact with tflite-micro's float kernel.
LiteRT's optimized float kernel rounds differently (up to 2 ulp on about a third of random
inputs), so it is compared within 2 ulp (``assert_array_max_ulp``).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.fixedpoint import downscale_int32_to_int16_multiplier, quantize_multiplier
from picoml.reference import KERNELS
from picoml.reference.hard_swish import HardSwishParams

from oracles import assert_int_equal, litert_run, qtensor, random_input, single_op_graph, tflm_run, to_tflite
from strategies import act_quant, act_tensor

CODES = np.arange(-128, 128, dtype=np.int8)
SHAPES = st.lists(st.integers(1, 8), min_size=1, max_size=4)


def _graph(dtype, shape, q_in=None, q_out=None):
    return single_op_graph("HARD_SWISH", [act_tensor("x", shape, dtype, q_in)], act_tensor("y", shape, dtype, q_out))


def _runs_in_tflm(q_in, q_out) -> bool:
    """TFLM's Prepare requires input scale / 128 / output scale to have exponent <= 0."""
    return quantize_multiplier(float(np.float32(q_in[0])) / 128 / float(np.float32(q_out[0])))[1] <= 0


@settings(max_examples=300, deadline=None)
@given(q_in=act_quant(-4, 1), q_out=act_quant(-4, 1))
def test_hard_swish_int8_every_input_value(q_in, q_out):
    g = _graph("int8", (256,), q_in, q_out)
    model = to_tflite(g)
    if not _runs_in_tflm(q_in, q_out):
        with pytest.raises(picoml.UnsupportedError, match="HARD_SWISH needs input scale / 128 < output scale"):
            picoml.run(g, CODES[None])
        with pytest.raises(RuntimeError):  # TFLM's Prepare fails
            tflm_run(model, CODES[None])
        return
    assert_int_equal(picoml.run(g, CODES[None]), tflm_run(model, CODES[None]), f"HARD_SWISH {q_in}->{q_out}")


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, q_in=act_quant(-3, 0), seed=st.integers(0, 2**31))
def test_hard_swish_shapes(shape, q_in, seed):
    rng = np.random.default_rng(seed)
    q_out = (float(np.float32(q_in[0] * rng.uniform(0.3, 3))), int(rng.integers(-128, 128)))
    g = _graph("int8", shape, q_in, q_out)
    xs = random_input(g.inputs[0], 3, rng)
    assert_int_equal(picoml.run(g, xs), tflm_run(to_tflite(g), xs), f"HARD_SWISH {shape}")


def test_float_exact_with_tflm_and_within_2ulp_of_litert():
    rng = np.random.default_rng(0)
    g = _graph("float32", (2, 500))
    xs = (rng.standard_normal((6, 2, 500)) * 4).astype(np.float32)
    xs[0, 0, :7] = [-3.0, 3.0, 0.0, -0.0, -1.5, 1e-30, -1e-30]
    got, model = picoml.run(g, xs), to_tflite(g)
    np.testing.assert_array_equal(got, tflm_run(model, xs))
    np.testing.assert_array_max_ulp(got, litert_run(model, xs), maxulp=2)


# found by a search of 20000 random quantizations for outputs that differ with the Prepare
# quotients in float32 or in double (reference/hard_swish.py)
DOUBLE_CASES = [
    (0.004947170615196228, 0.001215537078678608, 86, -35),
    (0.03645369037985802, 0.014833899214863777, -95, -1),
    (0.03521285951137543, 0.30005818605422974, -56, 27),
]


@pytest.mark.parametrize("case", DOUBLE_CASES)
def test_prepare_quotients_are_double(case):
    s_in, s_out, zp_in, zp_out = case
    g = single_op_graph("HARD_SWISH", [qtensor("x", (256,), s_in, zp_in)], qtensor("y", (256,), s_out, zp_out))
    f = np.float32
    hires = f(1 / 128) * f(s_in)
    m_out, e_out = quantize_multiplier(float(f(hires / f(s_out))))
    m_rel, e_rel = quantize_multiplier(float(f(hires / f(3 / 32768))))
    d16 = downscale_int32_to_int16_multiplier
    as_float32 = HardSwishParams(True, zp_in, zp_out, d16(m_out), e_out, d16(m_rel), e_rel)
    k = KERNELS["HARD_SWISH"]
    got = picoml.run(g, CODES[None])
    assert (k.evaluate(as_float32, [CODES[None]]) != got).any()  # the case discriminates
    assert_int_equal(got, tflm_run(to_tflite(g), CODES[None]), "picoml vs tflite-micro")


def test_tiny_output_multiplier_rounds_by_the_int16_mask():
    """An output multiplier below 2^-16: gemmlowp's int16 RoundingDivideByPOT gives +1 for every
    value >= 0 and -1 below (fixedpoint.rounding_divide_by_pot_int16), so the output is zp ± 1."""
    g = _graph("int8", (256,), (0.001, 0), (20.0, 5))
    p = KERNELS["HARD_SWISH"].prepare(g.ops[0])
    assert p.output_exponent <= -16
    out = picoml.run(g, CODES[None])[0]
    assert set(np.unique(out)) <= {4, 6}
    assert_int_equal(out, tflm_run(to_tflite(g), CODES[None])[0], "tiny output multiplier")


def test_tflite_round_trip(tmp_path):
    from ai_edge_litert import schema_py_generated as schema

    g = _graph("int8", (2, 3), (0.05, 3), (0.04, -7))
    m = schema.Model.GetRootAsModel(to_tflite(g), 0)
    op = m.Subgraphs(0).Operators(0)
    assert m.OperatorCodes(op.OpcodeIndex()).BuiltinCode() == schema.BuiltinOperator.HARD_SWISH == 117
    assert op.BuiltinOptionsType() == schema.BuiltinOptions.HardSwishOptions == 91
    picoml.save(g, tmp_path / "hs.tflite")
    g2 = picoml.load(tmp_path / "hs.tflite")
    assert g.equals(g2), g.diff(g2)
