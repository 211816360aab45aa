"""BATCH_MATMUL vs tflite-micro (int8, exact) and LiteRT (float32, within ``oracles.FLOAT_RTOL``:
picoml sums in float64, LiteRT in float32): adj_x / adj_y, broadcast batch dimensions (ranks 2 to
5), both operands computed (attention) or a constant right operand, any zero points."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor
from picoml.graph.ops import op_macs

from oracles import assert_int_equal, check_against_oracle, qtensor, random_input, single_op_graph, tflm_run, to_tflite
from strategies import DTYPES, act_quant, act_tensor


def _shapes(batch_l, batch_r, rows, depth, cols, adj_x, adj_y):
    ls = tuple(batch_l) + ((depth, rows) if adj_x else (rows, depth))
    rs = tuple(batch_r) + ((cols, depth) if adj_y else (depth, cols))
    r = max(len(batch_l), len(batch_r))
    bl, br = (1,) * (r - len(batch_l)) + tuple(batch_l), (1,) * (r - len(batch_r)) + tuple(batch_r)
    return ls, rs, tuple(max(a, b) for a, b in zip(bl, br, strict=True)) + (rows, cols)


def matmul_graph(dtype, ls, rs, out, adj_x, adj_y, ql=None, qr=None, qo=None, rhs_data=None):
    lhs = act_tensor("lhs", ls, dtype, ql)
    rhs = act_tensor("rhs", rs, dtype, qr)
    rhs.data = rhs_data
    y = act_tensor("y", out, dtype, qo)
    return single_op_graph("BATCH_MATMUL", [lhs, rhs], y, adj_x=adj_x, adj_y=adj_y), lhs, rhs


@st.composite
def geometry(draw):
    rank = draw(st.integers(0, 3))  # batch dimensions of the larger operand
    full = [draw(st.integers(1, 3)) for _ in range(rank)]
    bl = [d if draw(st.booleans()) else 1 for d in full]
    br = [d if draw(st.booleans()) else 1 for d in full]
    if draw(st.booleans()):
        bl = bl[draw(st.integers(0, rank)) :]  # lower rank
    elif draw(st.booleans()):
        br = br[draw(st.integers(0, rank)) :]
    dims = [draw(st.integers(1, 6)) for _ in range(3)]
    return bl, br, *dims, draw(st.booleans()), draw(st.booleans())


@settings(max_examples=80, deadline=None)
@given(
    dtype=DTYPES,
    geo=geometry(),
    const_rhs=st.booleans(),
    ql=act_quant(-2, 0),
    qr=act_quant(-2, 0),
    qo=act_quant(-1, 1),
    seed=st.integers(0, 2**31),
)
def test_batch_matmul(dtype, geo, const_rhs, ql, qr, qo, seed):
    rng = np.random.default_rng(seed)
    bl, br, rows, depth, cols, adj_x, adj_y = geo
    ls, rs, out = _shapes(bl, br, rows, depth, cols, adj_x, adj_y)
    probe = act_tensor("rhs", rs, dtype, qr)
    data = random_input(probe, 1, rng)[0] if const_rhs else None
    g, lhs, rhs = matmul_graph(dtype, ls, rs, out, adj_x, adj_y, ql, qr, qo, data)
    xs = [random_input(lhs, 3, rng)] + ([] if const_rhs else [random_input(rhs, 3, rng)])
    assert op_macs(g.ops[0]) == int(np.prod(out)) * depth
    check_against_oracle(g, xs if len(xs) > 1 else xs[0], f"BATCH_MATMUL {ls} x {rs} adj={adj_x},{adj_y}")


def test_attention_shapes():
    """Scores = Q · K^T (adj_y) and context = P · V of a 2-head attention over 16 tokens of 8 values."""
    rng = np.random.default_rng(4)
    for ls, rs, out, adj_y, q in [
        ((1, 2, 16, 8), (1, 2, 16, 8), (1, 2, 16, 16), True, ((0.05, -3), (0.04, 7), (0.2, 0))),
        ((1, 2, 16, 16), (1, 2, 16, 8), (1, 2, 16, 8), False, ((1 / 256, -128), (0.04, 7), (0.05, -1))),
    ]:
        g, lhs, rhs = matmul_graph("int8", ls, rs, out, False, adj_y, *q)
        check_against_oracle(g, [random_input(lhs, 4, rng), random_input(rhs, 4, rng)], f"attention {ls} {rs}")


# Scales whose multiplier differs between a float32 and a double product of the two input scales,
# chosen so that some product of two int8 codes then rounds differently (found by search):
# tflite-micro's GetQuantizedConvolutionMultipler takes the product in double.
DOUBLE_PRODUCT_SCALES = [
    (0.3576427698135376, 0.022951645776629448, 1.0496840476989746),
    (0.5725753903388977, 0.2182103991508484, 7.050485134124756),
    (0.6039735078811646, 0.7237874865531921, 35.02583312988281),
    (0.11477410048246384, 0.04417730122804642, 3.533153533935547),
    (0.04793393239378929, 0.46981069445610046, 3.703592300415039),
]


@pytest.mark.parametrize("scales", DOUBLE_PRODUCT_SCALES)
def test_multiplier_takes_the_scale_product_in_double(scales):
    from picoml.fixedpoint import quantize_multiplier

    sl, sr, so = scales
    f32 = quantize_multiplier(float(np.float32(sl) * np.float32(sr)) / so)
    assert f32 != quantize_multiplier(sl * sr / so)  # the two readings differ here
    g, _, _ = matmul_graph("int8", (256, 1), (1, 256), (256, 256), False, False, (sl, 0), (sr, 0), (so, 0))
    codes = np.arange(-128, 128, dtype=np.int8)
    xs = [codes.reshape(1, 256, 1), codes.reshape(1, 1, 256)]  # every product of two codes
    check_against_oracle(g, xs, f"scales {scales}")


def test_int32_accumulator_wraps_as_tflite_micro():
    """A depth of 40,000 products of 255·255 overflows int32; tflite-micro's accumulator wraps."""
    g, _, _ = matmul_graph("int8", (1, 40000), (40000, 2), (1, 2), False, False, (1.0, 127), (1.0, 127), (1e6, 0))
    lhs = np.full((2, 1, 40000), -128, np.int8)
    rhs = np.stack([np.full((40000, 2), -128, np.int8), np.full((40000, 2), 127, np.int8)])
    got = picoml.run(g, [lhs, rhs])
    assert_int_equal(got, tflm_run(to_tflite(g), [lhs, rhs]), "wrapped accumulator")
    assert got[0, 0, 0] != 127  # the true sum (2.6e9) would saturate at 127


def test_constant_rhs_quantized_with_its_own_zero_point():
    rng = np.random.default_rng(8)
    data = rng.integers(-128, 128, (2, 6, 5)).astype(np.int8)
    g, lhs, _ = matmul_graph(
        "int8", (3, 1, 4, 6), (2, 6, 5), (3, 2, 4, 5), False, False, (0.1, -20), (0.03, 11), (0.5, 9), data
    )
    check_against_oracle(g, random_input(lhs, 5, rng), "constant rhs, zero point 11")


def test_refusals():
    q = (0.1, 0)
    with pytest.raises(
        picoml.UnsupportedError, match="BATCH_MATMUL 'y': lhs 'lhs' has rank 1; BATCH_MATMUL takes ranks 2 to 5"
    ):
        matmul_graph("int8", (4,), (4, 2), (2,), False, False, q, q, q)
    with pytest.raises(picoml.UnsupportedError, match="rhs 'rhs' has rank 6"):
        matmul_graph("float32", (2, 3), (1, 1, 1, 1, 3, 2), (1, 1, 1, 1, 2, 2), False, False)
    with pytest.raises(picoml.GraphError, match=r"do not agree on the accumulation depth \(3 vs 4\)"):
        matmul_graph("float32", (2, 3), (4, 2), (2, 2), False, False)
    with pytest.raises(picoml.GraphError, match="batch dimensions of lhs .* do not broadcast"):
        matmul_graph("float32", (2, 2, 3), (3, 3, 2), (3, 2, 2), False, False)
    lhs = Tensor("lhs", (2, 3), "float32")
    rhs = qtensor("rhs", (3, 2), 0.1, 0, data=np.zeros((3, 2), np.int8))
    with pytest.raises(picoml.GraphError, match="BATCH_MATMUL 'y': input 1 'rhs' is int8, expected float32"):
        single_op_graph("BATCH_MATMUL", [lhs, rhs], Tensor("y", (2, 2)))  # hybrid: tflite-micro refuses it
    g, _, _ = matmul_graph("int8", (2, 3), (3, 2), (2, 2), False, False, (1.0, 0), (1.0, 0), (float(2.0**-31), 0))
    with pytest.raises(picoml.UnsupportedError, match=r"requantization multiplier .* 2\^30 or more"):
        picoml.run(g, [np.zeros((2, 3), np.int8), np.zeros((3, 2), np.int8)])
