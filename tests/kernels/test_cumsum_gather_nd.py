"""CUMSUM, GATHER_ND, EMBEDDING_LOOKUP and L2_POOL_2D vs tflite-micro and LiteRT.

- CUMSUM: int8 vs tflite-micro (LiteRT has no int8 CUMSUM), exact; float32 exact vs both (the
  float32 running sum in order). tflite-micro's int8 running sum starts at the scaled -zero point,
  as ADD_N's (pinned below).
- GATHER_ND: exact for int8 and float32, constant or computed indices. tflite-micro checks only
  that the flat position of a slice is inside the tensor, not each coordinate (pinned below).
- EMBEDDING_LOOKUP: exact, constant or computed ids; the .tflite input order (ids, value).
- L2_POOL_2D: float32 only (tflite-micro refuses int8): exact vs tflite-micro, 1e-5 vs LiteRT.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp
from picoml.graph import Tensor
from picoml.graph.ops import out_size
from picoml.reference import KERNELS

from oracles import (
    assert_float_close,
    assert_int_equal,
    litert_run,
    qtensor,
    random_input,
    single_op_graph,
    tflm_run,
    to_tflite,
)
from strategies import DTYPES, act_quant, act_tensor

SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def _i32(name, v):
    v = np.asarray(v, np.int32)
    return Tensor(name, v.shape, "int32", data=v)


def _bits(v):
    v = np.asarray(v)
    return v.view(np.int32) if v.dtype == np.float32 else v


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, data=st.data(), q_in=act_quant(-2, 0), q_out=act_quant(-2, 0.7),
       exclusive=st.booleans(), reverse=st.booleans(), seed=st.integers(0, 2**31))  # fmt: skip
def test_cumsum(dtype, shape, data, q_in, q_out, exclusive, reverse, seed):
    r = len(shape)
    axis = data.draw(st.integers(-r, r - 1))
    x = act_tensor("x", shape, dtype, q_in)
    g = single_op_graph("CUMSUM", [x, _i32("axis", [axis])], act_tensor("y", shape, dtype, q_out),
                        exclusive=exclusive, reverse=reverse)  # fmt: skip
    xs = random_input(x, 3, np.random.default_rng(seed))
    got = picoml.run(g, xs)
    model = to_tflite(g)
    what = f"CUMSUM {dtype} {shape} axis={axis} exclusive={exclusive} reverse={reverse}"
    assert_int_equal(_bits(got), _bits(tflm_run(model, xs)), what)
    if dtype == "float32":
        assert_int_equal(_bits(got), _bits(litert_run(model, xs)), what + " (LiteRT)")


def test_int8_cumsum_carries_an_extra_minus_zero_point():
    x = qtensor("x", (1, 8), 0.05, 60)
    g = single_op_graph("CUMSUM", [x, _i32("axis", [1])], qtensor("y", (1, 8), 0.1, 0))
    xs = np.arange(50, 66, 2, dtype=np.int8).reshape(1, 1, 8)
    got = picoml.run(g, xs)
    want = tflm_run(to_tflite(g), xs)
    assert_int_equal(got, want, "CUMSUM zero point 60")
    p = KERNELS[g.ops[0].type].prepare(g.ops[0])
    terms = multiply_by_quantized_multiplier_smaller_than_one_exp(
        (xs.astype(np.int64) - 60) << 20, p.input_multiplier, p.input_shift
    )
    literal = multiply_by_quantized_multiplier_smaller_than_one_exp(
        terms.cumsum(-1), p.output_multiplier, p.output_shift
    )
    assert (np.clip(literal, -128, 127) != want).any()  # a sum from 0 would not match


@st.composite
def gather_nd_case(draw):
    shape = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 4))))
    k = draw(st.integers(1, min(len(shape), 5)))
    lead = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    return shape, k, lead


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, case=gather_nd_case(), const=st.booleans(), q=act_quant(-2, 0), seed=st.integers(0, 2**31))
def test_gather_nd(dtype, case, const, q, seed):
    rng = np.random.default_rng(seed)
    shape, k, lead = case
    x = act_tensor("x", shape, dtype, q)
    idx_shape = lead + (k,)
    pick = np.stack([rng.integers(0, shape[d], idx_shape[:-1]) for d in range(k)], -1).astype(np.int32)
    idx = _i32("idx", pick) if const else Tensor("idx", idx_shape, "int32")
    g = single_op_graph("GATHER_ND", [x, idx], act_tensor("y", lead + shape[k:], dtype, q))
    xs = [random_input(x, 2, rng)]
    if not const:
        other = np.stack([rng.integers(0, shape[d], idx_shape[:-1]) for d in range(k)], -1)
        xs.append(np.stack([pick, other]).astype(np.int32))
    got = picoml.run(g, xs if len(xs) > 1 else xs[0])
    model = to_tflite(g)
    what = f"GATHER_ND {dtype} {shape} indices {idx_shape} const={const}"
    assert_int_equal(_bits(got), _bits(tflm_run(model, xs)), what)
    assert_int_equal(_bits(got), _bits(litert_run(model, xs)), what + " (LiteRT)")


def test_gather_nd_checks_the_flat_position_only_as_tflite_micro():
    """Index (0, 5) of a (3, 4) tensor is flat position 5: tflite-micro reads element (1, 1); (2, 4)
    is position 12, outside: tflite-micro fails the inference, and so does picoml."""
    x = Tensor("x", (3, 4))
    g = single_op_graph("GATHER_ND", [x, Tensor("idx", (1, 2), "int32")], Tensor("y", (1,)))
    xs = [np.arange(12, dtype=np.float32).reshape(1, 3, 4), np.array([[[0, 5]]], np.int32)]
    got = picoml.run(g, xs)
    assert got.tolist() == [[5.0]]
    np.testing.assert_array_equal(got, tflm_run(to_tflite(g), xs))
    xs[1] = np.array([[[2, 4]]], np.int32)
    with pytest.raises(picoml.InputError, match="outside the 12 of params"):
        picoml.run(g, xs)
    with pytest.raises(RuntimeError):
        tflm_run(to_tflite(g), xs)


@settings(max_examples=40, deadline=None)
@given(dtype=DTYPES, rows=st.integers(1, 6), cols=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       n=st.integers(1, 5), const_table=st.booleans(), seed=st.integers(0, 2**31))  # fmt: skip
def test_embedding_lookup(dtype, rows, cols, n, const_table, seed):
    rng = np.random.default_rng(seed)
    shape = (rows, *cols)
    v = act_tensor("value", shape, dtype, (0.1, 3))
    if const_table:
        v.data = random_input(v, 1, rng)[0]
    ids = Tensor("ids", (n,), "int32")
    g = single_op_graph("EMBEDDING_LOOKUP", [v, ids], act_tensor("y", (n, *cols), dtype, (0.1, 3)))
    pick = rng.integers(0, rows, (2, n)).astype(np.int32)
    xs = [pick] if const_table else [random_input(v, 2, rng), pick]
    got = picoml.run(g, xs if len(xs) > 1 else xs[0])
    model = to_tflite(g)
    assert_int_equal(_bits(got), _bits(tflm_run(model, xs)), "tflite-micro")  # the op reads (ids, value)
    assert_int_equal(_bits(got), _bits(litert_run(model, xs)), "LiteRT")


def test_embedding_lookup_out_of_range_id_fails():
    v = Tensor("value", (3, 2), data=np.zeros((3, 2), np.float32))
    g = single_op_graph("EMBEDDING_LOOKUP", [v, Tensor("ids", (2,), "int32")], Tensor("y", (2, 2)))
    with pytest.raises(picoml.InputError, match=r"id 3 is out of range \[0, 3\)"):
        picoml.run(g, np.array([[0, 3]], np.int32))
    with pytest.raises(RuntimeError):
        tflm_run(to_tflite(g), np.array([[0, 3]], np.int32))


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.sampled_from(["SAME", "VALID"]),
       act=st.sampled_from(["NONE", "RELU", "RELU6"]), seed=st.integers(0, 2**31))  # fmt: skip
def test_l2_pool(h, w, k, s, padding, act, seed):
    oh, ow = out_size(h, k[0], s[0], 1, padding), out_size(w, k[1], s[1], 1, padding)
    if oh <= 0 or ow <= 0:
        return
    x = Tensor("x", (1, h, w, 3))
    g = single_op_graph("L2_POOL_2D", [x], Tensor("y", (1, oh, ow, 3)), filter_h=k[0], filter_w=k[1],
                        stride_h=s[0], stride_w=s[1], padding=padding, fused_activation=act)  # fmt: skip
    xs = (random_input(x, 2, np.random.default_rng(seed)) * 3).astype(np.float32)
    got = picoml.run(g, xs)
    model = to_tflite(g)
    np.testing.assert_array_equal(got, tflm_run(model, xs))
    assert_float_close(got, litert_run(model, xs), "LiteRT")


def test_int8_l2_pool_is_refused():
    with pytest.raises(picoml.UnsupportedError, match="int8 L2_POOL_2D is not supported"):
        single_op_graph("L2_POOL_2D", [qtensor("x", (1, 2, 2, 1), 0.1, 0)], qtensor("y", (1, 1, 1, 1), 0.1, 0),
                        filter_h=2, filter_w=2, stride_h=2, stride_w=2, padding="VALID")  # fmt: skip
