"""LEAKY_RELU vs tflite-micro (int8, exact) and LiteRT (float32, exact).

Float32 is compared with ``assert_array_equal``, not the 1e-5 of ``oracles.FLOAT_RTOL``: the op
is one IEEE float32 multiply (``x > 0 ? x : x * alpha``) in picoml, TFLM and LiteRT alike, so
there is no summation order or transcendental approximation to differ in.

Alphas cover the whole real line the op accepts: 0, tiny (down to 1e-30: the int8 multiplier
flushes to 0 below 2^-32), PyTorch's 0.01, between 0 and 1, 1, above 1 and negative (TFLM's
QuantizeMultiplier then gives a negative Q31 multiplier).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from picoml.frontends import tflite_schema as S
from picoml.graph import Tensor
from picoml.reference import KERNELS

from oracles import (
    assert_int_equal,
    litert_run,
    qtensor,
    random_input,
    single_op_graph,
    tflm_run,
    to_tflite,
)
from strategies import DTYPES, act_quant, act_tensor

SHAPES = st.lists(st.integers(1, 8), min_size=1, max_size=4)
CODES = np.arange(-128, 128, dtype=np.int8)


def _f32(v: float) -> float:
    return float(np.float32(v))


SIGNED = st.sampled_from([1.0, -1.0])
ALPHAS = st.one_of(
    st.sampled_from([0.0, 0.01, 0.1, 0.2, 0.5, 1.0, 1.5, 3.0, -0.01, -0.5, -1.0, -2.0, 1e-6, 1e-30]),
    st.floats(-4.0, 4.0, width=32),
    st.builds(lambda s, e: _f32(s * 10.0**e), SIGNED, st.floats(-30.0, 0.0)),  # tiny, either sign
)


def _graph(dtype: str, shape, alpha: float, q_in=None, q_out=None):
    x = act_tensor("x", shape, dtype, q_in)
    return single_op_graph("LEAKY_RELU", [x], act_tensor("y", shape, dtype, q_out), alpha=alpha)


def _check(g, xs, what: str) -> None:
    got = picoml.run(g, xs)
    model = to_tflite(g)
    if g.outputs[0].dtype == "float32":
        np.testing.assert_array_equal(got, litert_run(model, xs), err_msg=what)  # one float32 multiply
    else:
        assert_int_equal(got, tflm_run(model, xs), what)


@settings(max_examples=200, deadline=None)
@given(
    dtype=DTYPES,
    shape=SHAPES,
    alpha=ALPHAS,
    q_in=act_quant(-3, 0.5),
    q_out=act_quant(-3, 0.5),
    seed=st.integers(0, 2**31),
)
def test_leaky_relu(dtype, shape, alpha, q_in, q_out, seed):
    rng = np.random.default_rng(seed)
    g = _graph(dtype, shape, alpha, q_in, q_out)
    xs = random_input(g.inputs[0], 4, rng)
    if dtype == "float32":
        xs = xs * np.float32(4)
    _check(g, xs, f"LEAKY_RELU {dtype} {shape} alpha={alpha} {q_in}->{q_out}")


@settings(max_examples=300, deadline=None)
@given(alpha=ALPHAS, q_in=act_quant(-4, 1), q_out=act_quant(-4, 1))
def test_leaky_relu_int8_every_input_value(alpha, q_in, q_out):
    """Elementwise: all 256 int8 codes at once cover the op for this quantization and alpha."""
    g = _graph("int8", (256,), alpha, q_in, q_out)
    _check(g, CODES[None], f"LEAKY_RELU all codes alpha={alpha} {q_in}->{q_out}")


def _outputs_with(real_alpha: float, real_identity: float, zp_in: int, zp_out: int) -> np.ndarray:
    """The int8 kernel's 256 outputs from the given multipliers (TFLM's Eval)."""
    m_a, s_a = quantize_multiplier(real_alpha)
    m_i, s_i = quantize_multiplier(real_identity)
    v = CODES.astype(np.int64) - zp_in
    pos = v >= 0
    out = multiply_by_quantized_multiplier(v, np.where(pos, m_i, m_a), np.where(pos, s_i, s_a)) + zp_out
    return np.clip(out, -128, 127)


# (input scale, output scale, input zero point, output zero point, alpha): found by a search for
# configurations whose int8 outputs differ with the multipliers evaluated in float32 or double
DOUBLE_CASES = [
    (0.9397757053375244, 0.23274798691272736, -67, -2, 0.5297243595123291),
    (0.4594716429710388, 0.08307942003011703, -42, 103, 0.09295424818992615),
    (0.052461620420217514, 0.006608379073441029, 5, 122, 0.3051416873931885),
    (0.02836526744067669, 0.23287636041641235, -126, -78, 2.3522536754608154),
    (0.002202864270657301, 0.0016854129498824477, -47, -109, 2.780214786529541),
]


@pytest.mark.parametrize("case", DOUBLE_CASES)
def test_prepare_multipliers_are_double(case):
    """tflite-micro's Prepare behaves as double arithmetic on the float32 scales and alpha (see
    reference/leaky_relu.py): each case's output differs if the quotients are rounded to float32
    first, and tflite-micro agrees with picoml's double evaluation."""
    s_in, s_out, zp_in, zp_out, alpha = case
    f = np.float32
    as_float32 = _outputs_with(float(f(s_in) * f(alpha) / f(s_out)), float(f(s_in) / f(s_out)), zp_in, zp_out)
    as_double = _outputs_with(s_in * alpha / s_out, s_in / s_out, zp_in, zp_out)
    assert (as_float32 != as_double).any()  # the case discriminates
    g = single_op_graph(
        "LEAKY_RELU", [qtensor("x", (256,), s_in, zp_in)], qtensor("y", (256,), s_out, zp_out), alpha=alpha
    )
    got = picoml.run(g, CODES[None])[0]
    assert_int_equal(got, as_double, "picoml vs double Prepare")
    assert_int_equal(got, tflm_run(to_tflite(g), CODES[None])[0], "picoml vs tflite-micro")


@pytest.mark.parametrize("alpha", [-0.25, -1.0, -3.0])
def test_negative_alpha_gives_negative_multiplier(alpha):
    """A negative alpha: the Q31 multiplier is the negation of |alpha|'s, same shift (frexp keeps
    the exponent), and negative inputs map to or above the output zero point."""
    x, y = qtensor("x", (256,), 0.05, 10), qtensor("y", (256,), 0.1, -20)
    g = single_op_graph("LEAKY_RELU", [x], y, alpha=alpha)
    p = KERNELS["LEAKY_RELU"].prepare(g.ops[0])
    q = KERNELS["LEAKY_RELU"].prepare(single_op_graph("LEAKY_RELU", [x], y, alpha=-alpha).ops[0])
    assert p.alpha_multiplier < 0 and (p.alpha_multiplier, p.alpha_shift) == (-q.alpha_multiplier, q.alpha_shift)
    out = picoml.run(g, CODES[None])[0].astype(int)
    assert (out[CODES < 10] >= -20).all()  # negative real inputs give non-negative real outputs
    assert_int_equal(out, tflm_run(to_tflite(g), CODES[None])[0], f"alpha={alpha}")


def _tie_cases(n: int, seed: int):
    """Configurations whose multipliers have few significant bits (power-of-two scales, alphas of
    at most 6 bits), so that v * multiplier lands on rounding ties; both signs of alpha."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        s_in, s_out = 2.0 ** int(rng.integers(-10, 3)), 2.0 ** int(rng.integers(-10, 3))
        alpha = float(rng.choice([-1, 1]) * int(rng.integers(1, 64)) * 2.0 ** int(rng.integers(-8, 2)))
        if quantize_multiplier(s_in * abs(alpha) / s_out)[1] <= 30:
            cases.append((s_in, s_out, int(rng.integers(-128, 128)), int(rng.integers(-128, 128)), alpha))
    return cases


def test_negative_alpha_ties_round_toward_zero_point():
    """tflite-micro rounds a tie of v * (negative multiplier) as the negated product with the
    multiplier's magnitude (toward the output zero point), not as gemmlowp's rounding of the
    signed product taken literally (reference/leaky_relu.py). 200 tie-prone configurations, all
    256 codes each; the literal reading must differ on some of them (the test discriminates)."""
    literal_differs = 0
    for s_in, s_out, zp_in, zp_out, alpha in _tie_cases(200, seed=11):
        g = single_op_graph(
            "LEAKY_RELU", [qtensor("x", (256,), s_in, zp_in)], qtensor("y", (256,), s_out, zp_out), alpha=alpha
        )
        got = picoml.run(g, CODES[None])[0]
        what = f"alpha={alpha} {s_in},{zp_in}->{s_out},{zp_out}"
        assert_int_equal(got, tflm_run(to_tflite(g), CODES[None])[0], what)
        if alpha < 0:
            literal = _outputs_with(s_in * alpha / s_out, s_in / s_out, zp_in, zp_out)
            literal_differs += bool((literal != got).any())
    assert literal_differs >= 20, literal_differs


def test_alpha_zero_is_relu_without_the_clamp():
    """alpha = 0: multiplier 0, every negative input gives the output zero point, as in TFLM."""
    g = _graph("int8", (256,), 0.0, (0.05, 10), (0.02, -100))
    out = picoml.run(g, CODES[None])[0]
    assert (out[CODES < 10] == -100).all()
    _check(g, CODES[None], "alpha=0")


@pytest.mark.parametrize(
    "alpha,q_in,q_out,match",
    [
        (float("nan"), (0.05, 0), (0.05, 0), "multiplier nan .input scale \\* alpha / output scale. is not finite"),
        (float("-inf"), (0.05, 0), (0.05, 0), "multiplier -inf .input scale \\* alpha / output scale. is not finite"),
        (-1e9, (1.0, 0), (0.001, 0), "multiplier -1e\\+12 .* is 2\\^30 or more"),
        (0.1, (1.0, 0), (1e-10, 0), "multiplier 1e\\+10 .input scale / output scale. is 2\\^30 or more"),
    ],
)
def test_int8_refuses_what_tflm_leaves_undefined(alpha, q_in, q_out, match):
    g = _graph("int8", (4,), alpha, q_in, q_out)
    with pytest.raises(picoml.UnsupportedError, match="LEAKY_RELU 'y': output 'y': requantization " + match):
        picoml.run(g, np.zeros((1, 4), np.int8))


def test_float_nan_and_inf_alpha_run_as_litert():
    """Float has nothing undefined: NaN and inf alphas give NaN / ±inf (and inf · 0 = NaN) as in LiteRT."""
    xs = np.array([[-2.0, -0.0, 0.0, 1.5, -1e-3]], np.float32)
    for alpha in (float("nan"), float("inf"), float("-inf")):
        _check(_graph("float32", (5,), alpha), xs, f"alpha={alpha}")


@pytest.mark.parametrize("alpha", [0.01, -0.75, 2.5, 1e-30])
def test_tflite_round_trip_and_schema_fields(alpha, tmp_path):
    """The writer stores alpha in LeakyReluOptions (BuiltinOptions tag 75, field 0) of builtin 98,
    checked with LiteRT's own generated schema; the reader gives the graph back."""
    from ai_edge_litert import schema_py_generated as schema

    g = _graph("int8", (2, 3), _f32(alpha), (0.05, 3), (0.04, -7))  # a float32 option, as the front-ends give
    model = to_tflite(g)
    m = schema.Model.GetRootAsModel(model, 0)
    op = m.Subgraphs(0).Operators(0)
    assert m.OperatorCodes(op.OpcodeIndex()).BuiltinCode() == schema.BuiltinOperator.LEAKY_RELU == 98
    assert op.BuiltinOptionsType() == schema.BuiltinOptions.LeakyReluOptions == 75
    opts = schema.LeakyReluOptions()
    opts.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
    assert opts.Alpha() == np.float32(alpha)
    assert 98 not in S.OTHER_BUILTINS  # the table of builtins picoml does not run
    path = tmp_path / "leaky.tflite"
    picoml.save(g, path)
    g2 = picoml.load(path)
    assert g.equals(g2), g.diff(g2)
    assert g2.ops[0].attrs["alpha"] == _f32(alpha)


def test_shape_is_the_input_shape():
    x = Tensor("x", (2, 5, 3), "float32")
    with pytest.raises(picoml.GraphError, match="inferred \\[2, 5, 3\\]"):
        single_op_graph("LEAKY_RELU", [x], Tensor("y", (2, 15), "float32"), alpha=0.1)
