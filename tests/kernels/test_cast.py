"""CAST, ZEROS_LIKE, FILL, BROADCAST_TO, FLOOR_DIV and FLOOR_MOD vs tflite-micro and LiteRT, exact
(casts, copies and fills do no arithmetic; FLOOR_DIV divides in double and floors, FLOOR_MOD is a
float32 fmod and one add: both are single correctly rounded operations on every runtime).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import GraphError, InputError, UnsupportedError
from picoml.graph import Tensor
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

from oracles import assert_int_equal, litert_run, qtensor, single_op_graph, tflm_run, to_tflite
from strategies import act_quant, broadcast_pair

CAST_IN = ["bool", "int8", "int32", "float32"]
CAST_OUT = ["int8", "int32", "float32"]


def _t(name, shape, dtype, q=None, data=None):
    if dtype == "int8" and q is not None:
        return qtensor(name, shape, *q, data=data)
    return Tensor(name, tuple(shape), dtype, data=data)


def _run(g, xs):
    op = g.ops[0]
    k = KERNELS[op.type]
    it = iter(xs)
    return k.evaluate(k.prepare(op), [t.data[None] if t.data is not None else next(it) for t in op.inputs])


def _both(g, xs, litert=True):
    got = _run(g, xs)
    model = to_tflite(g)
    assert_int_equal(got, tflm_run(model, xs), "tflite-micro")
    if litert:
        assert_int_equal(got, litert_run(model, xs), "LiteRT")
    return got


# ----------------------------------------------------------------- CAST
@pytest.mark.parametrize("src", CAST_IN)
@pytest.mark.parametrize("dst", CAST_OUT)
@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), quantized=st.booleans(), seed=st.integers(0, 2**31))
def test_cast(src, dst, shape, quantized, seed):
    """Values inside the target's range (a float outside it is undefined behaviour in C); int8
    tensors with or without quantization parameters: CAST ignores them."""
    rng = np.random.default_rng(seed)
    q = (0.1, 7) if quantized else None
    g = single_op_graph(OpType.CAST, [_t("x", shape, src, q)], _t("y", shape, dst, q))
    n = (3, *shape)
    if src == "bool":
        x = rng.integers(0, 2, n).astype(np.bool_)
    elif src == "float32":
        hi = 127 if dst == "int8" else 1e6
        x = (rng.uniform(-hi, hi, n)).astype(np.float32)
    elif src == "int8":
        x = rng.integers(-128, 128, n, dtype=np.int8)
    else:
        x = rng.integers(-(2**31), 2**31, n, dtype=np.int64).astype(np.int32)  # int8: wraps to the low byte
    _both(g, [x], litert=not (src == "int32" and dst == "int8"))


def test_cast_int32_to_int8_keeps_the_low_byte():
    g = single_op_graph(OpType.CAST, [Tensor("x", (6,), "int32")], Tensor("y", (6,), "int8"))
    x = np.array([[127, 128, 255, 256, -129, -(2**31)]], np.int32)
    assert _both(g, [x], litert=False).tolist() == [[127, -128, -1, 0, 127, 0]]


def test_cast_float_truncates_toward_zero():
    g = single_op_graph(OpType.CAST, [Tensor("x", (6,), "float32")], Tensor("y", (6,), "int32"))
    x = np.array([[2.9, -2.9, 0.5, -0.5, 1e6 + 0.75, -7.0]], np.float32)
    assert _both(g, [x]).tolist() == [[2, -2, 0, 0, 1000000, -7]]


def test_cast_ignores_quantization():
    """An int8 code 5 of scale 0.1 becomes the float 5.0, not 0.5 (no dequantization)."""
    g = single_op_graph(OpType.CAST, [qtensor("x", (3,), 0.1, 2)], Tensor("y", (3,), "float32"))
    assert _both(g, [np.array([[5, -3, 2]], np.int8)]).tolist() == [[5.0, -3.0, 2.0]]


@pytest.mark.parametrize("src", CAST_IN)
def test_cast_to_bool_refused(src):
    """cast.cc writes no bool: its Eval prints 'Output type BOOL not supported' and returns OK with
    the output unwritten."""
    with pytest.raises(UnsupportedError, match="CAST takes float32, int32, int8"):
        single_op_graph(OpType.CAST, [Tensor("x", (3,), src)], Tensor("y", (3,), "bool"))


# ----------------------------------------------------------------- ZEROS_LIKE, FILL
@pytest.mark.parametrize("dtype", ["int8", "int32", "float32"])
def test_zeros_like(dtype):
    g = single_op_graph(OpType.ZEROS_LIKE, [_t("x", (2, 3), dtype, (0.1, 5))], _t("y", (2, 3), dtype, (0.1, 5)))
    x = np.arange(-6, 6).reshape(2, 2, 3).astype(dtype)
    got = _both(g, [x], litert=dtype != "int8")
    assert not got.any()


def test_zeros_like_int8_writes_code_zero_not_the_zero_point():
    """tflite-micro (and LiteRT) write the code 0: with zero point 5 that is the real value -0.5."""
    g = single_op_graph(OpType.ZEROS_LIKE, [qtensor("x", (4,), 0.1, 5)], qtensor("y", (4,), 0.1, 5))
    assert _both(g, [np.full((1, 4), 9, np.int8)], litert=False).tolist() == [[0, 0, 0, 0]]


@pytest.mark.parametrize("dtype", ["int8", "int32", "float32"])
@settings(max_examples=10, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=4), q=act_quant(-2, 0), seed=st.integers(0, 2**31))
def test_fill(dtype, dims, q, seed):
    rng = np.random.default_rng(seed)
    d = Tensor("dims", (len(dims),), "int32", data=np.array(dims, np.int32))
    g = single_op_graph(OpType.FILL, [_t("v", (), dtype, q), d], _t("y", tuple(dims), dtype, q))
    v = rng.integers(-100, 100, (3,)).astype(dtype)
    got = _both(g, [v], litert=dtype != "int8")
    assert_int_equal(got, np.broadcast_to(v.reshape((3,) + (1,) * len(dims)), (3, *dims)))


def test_fill_refusals():
    d = Tensor("dims", (2,), "int32", data=np.array([2, 3], np.int32))
    with pytest.raises(GraphError, match="must be a scalar"):
        single_op_graph(OpType.FILL, [Tensor("v", (1,), "float32"), d], Tensor("y", (2, 3), "float32"))
    with pytest.raises(GraphError, match="must match"):
        single_op_graph(OpType.FILL, [Tensor("v", (), "float32"), d], Tensor("y", (2, 3), "int32"))
    with pytest.raises(GraphError, match="inferred"):
        single_op_graph(OpType.FILL, [Tensor("v", (), "float32"), d], Tensor("y", (3, 2), "float32"))
    with pytest.raises(UnsupportedError, match="must be a constant"):
        single_op_graph(OpType.FILL, [Tensor("v", (), "float32"), Tensor("d", (2,), "int32")], Tensor("y", (2, 3)))


# ----------------------------------------------------------------- BROADCAST_TO
@pytest.mark.parametrize("dtype", ["int8", "int32", "float32", "bool"])
@settings(max_examples=15, deadline=None)
@given(shapes=broadcast_pair(max_rank=5, max_dim=3), seed=st.integers(0, 2**31))
def test_broadcast_to(dtype, shapes, seed):
    rng = np.random.default_rng(seed)
    out = tuple(np.broadcast_shapes(*shapes))
    s = Tensor("shape", (len(out),), "int32", data=np.array(out, np.int32))
    g = single_op_graph(OpType.BROADCAST_TO, [_t("x", shapes[1], dtype, (0.1, 3)), s], _t("y", out, dtype, (0.1, 3)))
    x = rng.integers(-100, 100, (2, *shapes[1])).astype(dtype)
    _both(g, [x], litert=dtype != "int8")


def test_broadcast_to_refusals():
    def g(x_shape, out):
        s = Tensor("shape", (len(out),), "int32", data=np.array(out, np.int32))
        return single_op_graph(OpType.BROADCAST_TO, [Tensor("x", x_shape), s], Tensor("y", out))

    with pytest.raises(GraphError, match="does not broadcast"):
        g((2, 3), (2, 4))
    with pytest.raises(UnsupportedError, match="at most 5"):
        g((3,), (1, 1, 1, 1, 1, 3))
    with pytest.raises(UnsupportedError, match="never fewer"):
        g((1, 1, 3), (1, 3))


# ----------------------------------------------------------------- FLOOR_DIV, FLOOR_MOD
@pytest.mark.parametrize("op_type", [OpType.FLOOR_DIV, OpType.FLOOR_MOD])
@settings(max_examples=30, deadline=None)
@given(shapes=broadcast_pair(max_rank=4, max_dim=4), seed=st.integers(0, 2**31))
def test_floor_div_mod(op_type, shapes, seed):
    rng = np.random.default_rng(seed)
    out = tuple(np.broadcast_shapes(*shapes))
    g = single_op_graph(op_type, [Tensor("a", shapes[0]), Tensor("b", shapes[1])], Tensor("y", out))
    a = (rng.standard_normal((3, *shapes[0])) * 20).astype(np.float32)
    b = (rng.standard_normal((3, *shapes[1])) * 4).astype(np.float32)
    b[b == 0] = 1.5
    a[..., :1] = np.round(a[..., :1])  # exact multiples too
    _both(g, [a, b])


def test_floor_div_by_zero_fails_the_inference():
    g = single_op_graph(OpType.FLOOR_DIV, [Tensor("a", (3,)), Tensor("b", (3,))], Tensor("y", (3,)))
    a, b = np.ones((1, 3), np.float32), np.array([[1.0, 0.0, 2.0]], np.float32)
    with pytest.raises(InputError, match="division by 0"):
        _run(g, [a, b])
    with pytest.raises(RuntimeError):  # tflite-micro: "Division by 0", the invocation fails
        tflm_run(to_tflite(g), [a, b])


def test_floor_mod_signs():
    g = single_op_graph(OpType.FLOOR_MOD, [Tensor("a", (6,)), Tensor("b", (6,))], Tensor("y", (6,)))
    a = np.array([[7.0, -7.0, 7.0, -7.0, 6.0, -0.5]], np.float32)
    b = np.array([[3.0, 3.0, -3.0, -3.0, 3.0, 2.0]], np.float32)
    assert _both(g, [a, b]).tolist() == [[1.0, 2.0, -2.0, -1.0, 0.0, 1.5]]


@pytest.mark.parametrize("op_type", [OpType.FLOOR_DIV, OpType.FLOOR_MOD])
@pytest.mark.parametrize("dtype", ["int32", "int8"])
def test_floor_ops_are_float_only(op_type, dtype):
    """floor_div.cc / floor_mod.cc: float32 only ("Type 'INT32' is not supported")."""
    ins = [_t("a", (3,), dtype, (0.1, 0)), _t("b", (3,), dtype, (0.1, 0))]
    with pytest.raises(UnsupportedError, match="takes float32"):
        single_op_graph(op_type, ins, _t("y", (3,), dtype, (0.1, 0)))
