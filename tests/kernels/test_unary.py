"""ELU and the unary math ops vs tflite-micro (int8, exact) and LiteRT / tflite-micro (float32,
exact).

float32 is one IEEE operation per element or the C library's expf / expm1f / logf / sinf / cosf
(reference/cmath.py) in picoml, TFLM and LiteRT alike, so it is compared exactly, with ±0,
tiny, large and out-of-domain inputs (log of a negative, sqrt of a negative: NaN in all three).
int8 exists where tflite-micro has a kernel (ELU, ABS, RSQRT; every int8 code vs tflite-micro) and
for EXP and SQRT, which only LiteRT runs in int8 (every code vs LiteRT, exact); all over
hypothesis-drawn quantizations. The other ops refuse int8 as both runtimes do.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor
from picoml.graph.ops import OP_SET, OpType

from oracles import assert_int_equal, litert_run, qtensor, single_op_graph, tflm_run, to_tflite
from strategies import act_quant

CODES = np.arange(-128, 128, dtype=np.int8)
FLOAT_OPS = ["ELU", "ABS", "NEG", "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "SIN", "COS", "FLOOR", "CEIL", "ROUND"]
INT8_OPS = ["ELU", "ABS", "RSQRT", "EXP", "SQRT"]
FLOAT_ONLY = [op for op in FLOAT_OPS if op not in INT8_OPS]


def _qgraph(op, n, q_in, q_out):
    return single_op_graph(op, [qtensor("x", (n,), *q_in)], qtensor("y", (n,), *q_out))


def _fgraph(op, shape):
    return single_op_graph(op, [Tensor("x", shape, "float32")], Tensor("y", shape, "float32"))


def _same(a, b, what):
    a, b = np.asarray(a), np.asarray(b).reshape(np.shape(a))
    bad = ~((a == b) | (np.isnan(a) & np.isnan(b)))
    assert not bad.any(), f"{what}: {bad.sum()} differ, e.g. {a[bad][:3]} vs {b[bad][:3]}"
    assert (np.signbit(a) == np.signbit(b))[~np.isnan(a)].all(), f"{what}: sign of zero"


def _float_inputs(rng):
    xs = np.concatenate(
        [
            rng.standard_normal((3, 512)) * 3,
            rng.standard_normal((1, 512)) * 60,
            (10.0 ** rng.uniform(-40, 38, (1, 512))) * rng.choice([-1, 1], (1, 512)),
        ]
    ).astype(np.float32)
    xs[0, :12] = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-45, -1e-45, 88.8, -104.0, 3.4e38]
    return xs


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_float_exact(op):
    rng = np.random.default_rng(FLOAT_OPS.index(op))
    g = _fgraph(op, (512,))
    xs = _float_inputs(rng)
    got, model = picoml.run(g, xs), to_tflite(g)
    _same(got, litert_run(model, xs), f"{op} vs LiteRT")
    _same(got, tflm_run(model, xs), f"{op} vs tflite-micro")


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(["ELU", "ABS"]), q_in=act_quant(-4, 1), q_out=act_quant(-4, 1))
def test_int8_every_input_value(op, q_in, q_out):
    g = _qgraph(op, 256, q_in, q_out)
    assert_int_equal(picoml.run(g, CODES[None]), tflm_run(to_tflite(g), CODES[None]), f"{op} {q_in}->{q_out}")


@settings(max_examples=200, deadline=None)
@given(q_in=act_quant(-5, 1), q_out=act_quant(-4, 1))
def test_rsqrt_int8_every_valid_input_value(q_in, q_out):
    """Every code at or above the input zero point (TFLM fails the inference below it)."""
    xs = CODES[CODES >= q_in[1]][None]
    g = _qgraph("RSQRT", xs.size, q_in, q_out)
    try:
        got = picoml.run(g, xs)
    except picoml.UnsupportedError as e:  # a multiplier of 2^30 or more
        assert "is 2^30 or more" in str(e)
        return
    assert_int_equal(got, tflm_run(to_tflite(g), xs), f"RSQRT {q_in}->{q_out}")


@settings(max_examples=200, deadline=None)
@given(op=st.sampled_from(["EXP", "SQRT"]), q_in=act_quant(-4, 0), q_out=act_quant(-4, 1))
def test_exp_sqrt_int8_every_input_value_against_litert(op, q_in, q_out):
    """LiteRT's tables: EXP rounds expf(v) / out_scale half away from zero; SQRT truncates (every code
    at or above the input zero point: LiteRT fails the inference below it)."""
    xs = (CODES if op == "EXP" else CODES[CODES >= q_in[1]])[None]
    g = _qgraph(op, xs.size, q_in, q_out)
    try:
        got = picoml.run(g, xs)
    except picoml.UnsupportedError as e:  # an EXP code beyond int32: LiteRT's cast is undefined
        assert "beyond int32" in str(e)
        return
    assert_int_equal(got, litert_run(to_tflite(g), xs), f"{op} {q_in}->{q_out}")


def test_exp_sqrt_int8_fixed_cases():
    g = _qgraph("EXP", 256, (0.06011372, 8), (4.999659, -128))  # the conformance corpus's op_exp
    assert_int_equal(picoml.run(g, CODES[None]), litert_run(to_tflite(g), CODES[None]), "EXP corpus")
    g = _qgraph("SQRT", 4, (0.1, 0), (0.05, -128))
    xs = np.array([[1, 4, -1, 9]], np.int8)
    with pytest.raises(picoml.UnsupportedError, match="SQRT of a negative value"):
        picoml.run(g, xs)
    with pytest.raises(RuntimeError):
        litert_run(to_tflite(g), xs)
    with pytest.raises(picoml.UnsupportedError, match=r"int8 EXP of input code -1 gives 3.6\d*e\+09 output codes"):
        picoml.run(_qgraph("EXP", 1, (1.0, 0), (1e-10, 0)), CODES[None, -1:])


def test_rsqrt_int8_negative_input_fails_as_in_tflm():
    g = _qgraph("RSQRT", 4, (0.1, 0), (0.05, -128))
    xs = np.array([[1, 4, -1, 9]], np.int8)
    with pytest.raises(picoml.UnsupportedError, match="RSQRT of a negative value"):
        picoml.run(g, xs)
    with pytest.raises(RuntimeError):
        tflm_run(to_tflite(g), xs)
    assert picoml.run(g, np.array([[0, 1, 4, 9]], np.int8))[0, 0] == 127  # 0 gives the largest code


def test_abs_same_scale_needs_no_multiplier():
    g = _qgraph("ABS", 256, (0.05, -3), (0.05, -128))
    p = picoml.reference.KERNELS[OpType.ABS].prepare(g.ops[0])
    assert not p.rescale
    assert_int_equal(picoml.run(g, CODES[None]), tflm_run(to_tflite(g), CODES[None]), "ABS same scale")


@pytest.mark.parametrize("op", FLOAT_ONLY)
def test_int8_refused_where_tflm_has_no_kernel(op):
    assert not OP_SET[op].int8_kernel
    with pytest.raises(picoml.UnsupportedError, match=f"{op} 'y': int8 {op} is not supported"):
        _qgraph(op, 4, (0.1, 0), (0.1, 0))


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_tflite_round_trip_and_schema(op, tmp_path):
    from ai_edge_litert import schema_py_generated as schema

    g = _fgraph(op, (2, 3))
    m = schema.Model.GetRootAsModel(to_tflite(g), 0)
    o = m.Subgraphs(0).Operators(0)
    assert m.OperatorCodes(o.OpcodeIndex()).BuiltinCode() == getattr(schema.BuiltinOperator, op)
    options = {"ABS": "AbsOptions", "NEG": "NegOptions", "EXP": "ExpOptions", "SQUARE": "SquareOptions"}
    options["COS"] = "CosOptions"
    assert o.BuiltinOptionsType() == getattr(schema.BuiltinOptions, options.get(op, "NONE"))
    picoml.save(g, tmp_path / "m.tflite")
    g2 = picoml.load(tmp_path / "m.tflite")
    assert g.equals(g2), g.diff(g2)
