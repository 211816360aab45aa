"""EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, LOGICAL_AND / OR / NOT and SELECT_V2 vs
tflite-micro and LiteRT (int8, int32, bool, float32: exact — a comparison or a
selection has no rounding, so no tolerance).

int8 comparisons rescale each input by its own scale (comparisons.cc), even when both inputs share
their parameters; ``test_int8_small_scales_merge_codes`` pins what that does to small scales.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import GraphError, UnsupportedError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference.compare import COMPARE

from oracles import assert_int_equal, litert_run, qtensor, single_op_graph, tflm_run, to_tflite
from strategies import act_quant, all_code_pairs, broadcast_pair

CMP = list(COMPARE)
ORDERED = [OpType.GREATER, OpType.GREATER_EQUAL, OpType.LESS, OpType.LESS_EQUAL]
NP = {
    OpType.EQUAL: np.equal,
    OpType.NOT_EQUAL: np.not_equal,
    OpType.GREATER: np.greater,
    OpType.GREATER_EQUAL: np.greater_equal,
    OpType.LESS: np.less,
    OpType.LESS_EQUAL: np.less_equal,
}


def _t(name, shape, dtype, q=None):
    if dtype == "int8":
        return qtensor(name, shape, *q)
    return Tensor(name, tuple(shape), dtype)


def _values(t: Tensor, n: int, rng) -> np.ndarray:
    """Samples with many ties: small integers (halves for float32), any code for int8."""
    shape = (n, *t.shape)
    if t.dtype == "int8":
        return rng.integers(-128, 128, shape, dtype=np.int8)
    if t.dtype == "bool":
        return rng.integers(0, 2, shape).astype(np.bool_)
    v = rng.integers(-4, 5, shape)
    return (v * 0.5).astype(np.float32) if t.dtype == "float32" else (v * 100_000_000).astype(np.int32)


def _run(g, xs):
    op = g.ops[0]
    k = KERNELS[op.type]
    it = iter(xs)
    return k.evaluate(k.prepare(op), [t.data[None] if t.data is not None else next(it) for t in op.inputs])


def _against_oracles(g, xs, what=""):
    """Exact against tflite-micro and LiteRT (whose int8 comparisons rescale the same way)."""
    got = _run(g, xs)
    model = to_tflite(g)
    assert_int_equal(got, tflm_run(model, xs), f"{what} tflite-micro")
    assert_int_equal(got, litert_run(model, xs), f"{what} LiteRT")
    return got


def _cmp_graph(op_type, shapes, dtype, q1=None, q2=None):
    a, b = _t("a", shapes[0], dtype, q1), _t("b", shapes[1], dtype, q2)
    return single_op_graph(op_type, [a, b], Tensor("y", tuple(np.broadcast_shapes(*shapes)), "bool"))


@pytest.mark.parametrize("op_type", CMP)
@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(["int8", "float32", "int32"]),
    shapes=broadcast_pair(max_rank=4, max_dim=4),
    q1=act_quant(-3, -0.01),
    q2=act_quant(-3, -0.01),
    shared=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_comparison(op_type, dtype, shapes, q1, q2, shared, seed):
    rng = np.random.default_rng(seed)
    g = _cmp_graph(op_type, shapes, dtype, q1, q1 if shared else q2)
    xs = [_values(t, 4, rng) for t in g.inputs]
    _against_oracles(g, xs, op_type)


@pytest.mark.parametrize("op_type", CMP)
@pytest.mark.parametrize("q1, q2", [((0.05, 3), (0.07, -2)), ((0.1, 0), (0.1, 0)), ((0.5, -128), (0.0039, 127))])
def test_int8_every_code_pair(op_type, q1, q2):
    a, b = all_code_pairs()
    g = _cmp_graph(op_type, ((65536,), (65536,)), "int8", q1, q2)
    _against_oracles(g, [a, b], op_type)


@pytest.mark.parametrize("op_type", [OpType.EQUAL, OpType.NOT_EQUAL])
def test_bool_equality(op_type):
    a, b = all_code_pairs()
    a, b = (a & 1).astype(np.bool_)[:, :64], (b & 1).astype(np.bool_)[:, :64]
    g = _cmp_graph(op_type, ((64,), (64,)), "bool")
    got = _against_oracles(g, [a, b], op_type)
    assert_int_equal(got, NP[op_type](a, b))


@pytest.mark.parametrize("op_type", ORDERED)
def test_bool_ordering_refused(op_type):
    with pytest.raises(UnsupportedError, match=f"{op_type}.*bool"):
        _cmp_graph(op_type, ((4,), (4,)), "bool")


def test_int8_small_scales_merge_codes():
    """Surprising but tflite-micro's: each int8 input is rescaled to units of 2^-8 of its real value
    before comparing (comparisons.cc, left shift 8), so below a scale of 2^-9 neighbouring codes
    round to the same value: with scale 0.001 (and the same zero point on both sides) codes 0 and
    1 are EQUAL and not GREATER. Comparing the codes would say otherwise."""
    q = (0.001, 0)
    a = np.array([[0, 1, 2, 0, 1, 100]], np.int8)
    b = np.array([[1, 0, 0, 2, 2, 101]], np.int8)
    eq = _against_oracles(_cmp_graph(OpType.EQUAL, ((6,), (6,)), "int8", q, q), [a, b], "EQUAL")
    gt = _against_oracles(_cmp_graph(OpType.GREATER, ((6,), (6,)), "int8", q, q), [a, b], "GREATER")
    assert eq.tolist() == [[True, True, False, False, False, True]]
    assert gt.tolist() == [[False, False, True, False, False, False]]
    assert not np.array_equal(eq, a == b)  # the literal reading (compare codes) fails here


def test_float_nan_infinities_signed_zero():
    nan, inf = np.float32(np.nan), np.float32(np.inf)
    a = np.array([[nan, 1.0, nan, -0.0, inf, -inf, 2.0]], np.float32)
    b = np.array([[1.0, nan, nan, 0.0, inf, 3.0, 2.0]], np.float32)
    for op_type in CMP:
        got = _against_oracles(_cmp_graph(op_type, ((7,), (7,)), "float32"), [a, b], op_type)
        assert_int_equal(got, NP[op_type](a, b))


@pytest.mark.parametrize("scale", [1.0, 3.5, 0.99999999])
def test_int8_scale_of_one_or_more_refused(scale):
    """comparisons.cc: QuantizeMultiplierSmallerThanOneExp(scale) aborts tflite-micro at 1 or more
    (0.99999999 rounds to 1 in Q31)."""
    with pytest.raises(UnsupportedError, match="scales below 1"):
        _cmp_graph(OpType.LESS, ((4,), (4,)), "int8", (0.1, 0), (scale, 0))


def test_mixed_dtypes_and_wrong_output_refused():
    with pytest.raises(GraphError, match="must match"):
        single_op_graph(
            OpType.EQUAL, [Tensor("a", (4,), "float32"), Tensor("b", (4,), "int32")], Tensor("y", (4,), "bool")
        )
    with pytest.raises(GraphError, match="expected bool"):
        single_op_graph(
            OpType.EQUAL, [Tensor("a", (4,), "int32"), Tensor("b", (4,), "int32")], Tensor("y", (4,), "int32")
        )


def test_broadcast_over_five_dimensions_refused():
    with pytest.raises(UnsupportedError, match="at most 4"):
        _cmp_graph(OpType.GREATER, ((2, 1, 2, 1, 2), (2, 1, 2, 1)), "float32")
    g = _cmp_graph(OpType.GREATER, ((2, 1, 2, 1, 2), (2, 1, 2, 1, 2)), "float32")  # same shape: any rank
    rng = np.random.default_rng(0)
    _against_oracles(g, [_values(t, 2, rng) for t in g.inputs])


def test_constant_operand():
    b = Tensor("b", (3,), "int32", data=np.array([-1, 0, 5], np.int32))
    g = single_op_graph(OpType.GREATER_EQUAL, [Tensor("a", (2, 3), "int32"), b], Tensor("y", (2, 3), "bool"))
    a = np.array([[[-2, 0, 5], [0, -1, 6]]], np.int32)
    assert _against_oracles(g, [a]).tolist() == [[[False, True, True], [True, False, True]]]


# ----------------------------------------------------------------- logical ops
@pytest.mark.parametrize("op_type", [OpType.LOGICAL_AND, OpType.LOGICAL_OR])
@settings(max_examples=30, deadline=None)
@given(shapes=broadcast_pair(max_rank=4, max_dim=4), seed=st.integers(0, 2**31))
def test_logical_binary(op_type, shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = Tensor("a", shapes[0], "bool"), Tensor("b", shapes[1], "bool")
    g = single_op_graph(op_type, [a, b], Tensor("y", tuple(np.broadcast_shapes(*shapes)), "bool"))
    xs = [_values(t, 3, rng) for t in g.inputs]
    got = _against_oracles(g, xs, op_type)
    fn = np.logical_and if op_type == OpType.LOGICAL_AND else np.logical_or
    x0, x1 = xs
    r = max(x0.ndim, x1.ndim)
    x0 = x0.reshape(x0.shape[:1] + (1,) * (r - x0.ndim) + x0.shape[1:])
    x1 = x1.reshape(x1.shape[:1] + (1,) * (r - x1.ndim) + x1.shape[1:])
    assert_int_equal(got, fn(x0, x1))


def test_logical_not():
    g = single_op_graph(OpType.LOGICAL_NOT, [Tensor("a", (2, 3), "bool")], Tensor("y", (2, 3), "bool"))
    x = _values(g.inputs[0], 5, np.random.default_rng(1))
    assert_int_equal(_against_oracles(g, [x]), ~x)


@pytest.mark.parametrize("dtype", ["int8", "float32", "int32"])
def test_logical_takes_bool_only(dtype):
    a = _t("a", (4,), dtype, (0.1, 0))
    with pytest.raises(UnsupportedError, match="takes and gives bool"):
        single_op_graph(OpType.LOGICAL_NOT, [a], Tensor("y", (4,), "bool"))


# ----------------------------------------------------------------- SELECT_V2
@st.composite
def select_shapes(draw, max_rank=5, max_dim=3):
    """Three shapes broadcasting to one output: each keeps or collapses (to 1) each output
    dimension and may drop leading ones."""
    rank = draw(st.integers(1, max_rank))
    out = [draw(st.integers(1, max_dim)) for _ in range(rank)]
    shapes = []
    for _ in range(3):
        s = [d if draw(st.booleans()) else 1 for d in out]
        shapes.append(tuple(s[draw(st.integers(0, rank)) :]) or (1,))
    return shapes


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(["int8", "float32"]),
    shapes=select_shapes(),
    qx=act_quant(-2, 0),
    qy=act_quant(-2, 0),
    qo=act_quant(-2, 0),
    seed=st.integers(0, 2**31),
)
def test_select_v2(dtype, shapes, qx, qy, qo, seed):
    """int8 copies the chosen code whatever the three tensors' parameters (select.cc; LiteRT too)."""
    rng = np.random.default_rng(seed)
    out = tuple(np.broadcast_shapes(*shapes))
    c = Tensor("c", shapes[0], "bool")
    g = single_op_graph(OpType.SELECT_V2, [c, _t("x", shapes[1], dtype, qx), _t("y", shapes[2], dtype, qy)],
                        _t("o", out, dtype, qo))  # fmt: skip
    xs = [_values(t, 3, rng) for t in g.inputs]
    _against_oracles(g, xs, "SELECT_V2")  # LiteRT's int8 SELECT_V2 copies codes too


def test_select_v2_int32_refused():
    """select.cc's Eval: 'Does not support type other than int8|int16|float32'."""
    ins = [Tensor("c", (4,), "bool"), Tensor("x", (4,), "int32"), Tensor("y", (4,), "int32")]
    with pytest.raises(UnsupportedError, match="SELECT_V2 takes float32, int8"):
        single_op_graph(OpType.SELECT_V2, ins, Tensor("o", (4,), "int32"))


def test_select_v2_condition_must_be_bool():
    ins = [Tensor("c", (4,), "float32"), Tensor("x", (4,), "float32"), Tensor("y", (4,), "float32")]
    with pytest.raises(GraphError, match="expected bool"):
        single_op_graph(OpType.SELECT_V2, ins, Tensor("o", (4,), "float32"))


def test_bool_constant_operand_round_trips():
    """A constant bool mask is written as TensorType BOOL (one byte a value) and read back; tflite-micro
    and LiteRT run it."""
    mask = Tensor("mask", (2, 3), "bool", data=np.array([[1, 0, 1], [0, 0, 1]], np.bool_))
    g = single_op_graph(OpType.LOGICAL_OR, [Tensor("a", (2, 3), "bool"), mask], Tensor("y", (2, 3), "bool"))
    g2 = read_tflite_bytes(to_tflite(g))
    assert g.diff(g2) == [] and g2.tensor("mask").data.dtype == np.bool_
    x = _values(g.inputs[0], 4, np.random.default_rng(2))
    assert_int_equal(_against_oracles(g, [x]), x | mask.data)
