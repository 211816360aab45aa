"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND vs LiteRT (int8 and float32) and tflite-micro: exact (values
are copied; float32 bit for bit).

tflite-micro's SPACE_TO_BATCH_ND fills its padding with an uninitialized byte (its Prepare never sets
``SpaceToBatchParams.output_offset``): 0 in a fresh process, other bytes after other models ran.
picoml pads with a real 0 (the zero point; 0.0), as LiteRT, and is compared with tflite-micro
outside the padding; ``test_tflite_micro_padding_is_uninitialized`` pins the bug."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Op, Tensor
from picoml.graph.extra_ops import infer_batch_to_space, infer_space_to_batch
from picoml.reference import KERNELS

from oracles import assert_int_equal, litert_run, qtensor, random_input, single_op_graph, tflm_run, to_tflite
from strategies import DTYPES, act_quant, act_tensor


def _i32(name, v):
    v = np.asarray(v, np.int32)
    return Tensor(name, v.shape, "int32", data=v)


def _bits(v):
    v = np.asarray(v)
    return v.view(np.int32) if v.dtype == np.float32 else v


def graph(op, dtype, shape, block, pads, q=None):
    x = act_tensor("x", shape, dtype, q)
    ins = [x, _i32("block", block), _i32("pads", pads)]
    infer = infer_space_to_batch if op == "SPACE_TO_BATCH_ND" else infer_batch_to_space
    out = infer(Op(op, ins, [Tensor("y", ())], {}))[0]
    return single_op_graph(op, ins, act_tensor("y", out, dtype, q)), x


@st.composite
def s2b_case(draw):
    rank = draw(st.sampled_from([3, 4]))
    m = rank - 2
    block = [draw(st.integers(1, 3)) for _ in range(m)]
    shape = [draw(st.integers(1, 2))]
    pads = []
    for b in block:
        n = draw(st.integers(1, 6))
        lo = draw(st.integers(0, 3))
        hi = (-(n + lo)) % b + b * draw(st.integers(0, 1))
        shape.append(n)
        pads.append([lo, hi])
    shape.append(draw(st.integers(1, 3)))
    return tuple(shape), block, pads


@st.composite
def b2s_case(draw):
    rank = draw(st.sampled_from([3, 4]))
    m = rank - 2
    block = [draw(st.integers(1, 3)) for _ in range(m)]
    shape = [draw(st.integers(1, 2)) * int(np.prod(block))]
    crops = []
    for b in block:
        n = draw(st.integers(1, 4))
        total = n * b
        lo = draw(st.integers(0, total - 1))
        hi = draw(st.integers(0, total - 1 - lo))
        shape.append(n)
        crops.append([lo, hi])
    shape.append(draw(st.integers(1, 3)))
    return tuple(shape), block, crops


def _check(g, x, rng):
    xs = random_input(x, 2, rng)
    got = picoml.run(g, xs)
    model = to_tflite(g)
    assert_int_equal(_bits(got), _bits(litert_run(model, xs)), "LiteRT")
    pad = np.asarray(KERNELS[g.ops[0].type].prepare(g.ops[0]).table) < 0  # per output pixel
    keep = ~pad.reshape(got.shape[1:-1])
    assert_int_equal(_bits(got)[:, keep], _bits(tflm_run(model, xs))[:, keep], "tflite-micro outside the padding")


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, case=s2b_case(), q=act_quant(-2, 0), seed=st.integers(0, 2**31))
def test_space_to_batch(dtype, case, q, seed):
    shape, block, pads = case
    g, x = graph("SPACE_TO_BATCH_ND", dtype, shape, block, pads, q)
    _check(g, x, np.random.default_rng(seed))


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, case=b2s_case(), q=act_quant(-2, 0), seed=st.integers(0, 2**31))
def test_batch_to_space(dtype, case, q, seed):
    shape, block, crops = case
    g, x = graph("BATCH_TO_SPACE_ND", dtype, shape, block, crops, q)
    _check(g, x, np.random.default_rng(seed))


def test_tflite_micro_padding_is_uninitialized():
    """After another model ran in the process, tflite-micro's padding holds a stale byte (here 0x70 from
    its arena), not the zero point: the same byte in int8 and, four times over, in float32."""
    for _ in range(2):
        dirty = single_op_graph("RELU", [qtensor("a", (1, 64, 64, 4), 0.05, 0)], qtensor("b", (1, 64, 64, 4), 0.05, 0))
        tflm_run(to_tflite(dirty), np.full((1, 1, 64, 64, 4), 75, np.int8))
    g, x = graph("SPACE_TO_BATCH_ND", "int8", (1, 2, 2, 1), [2, 2], [[1, 1], [1, 1]], (0.05, 7))
    xs = np.full((1, 1, 2, 2, 1), 100, np.int8)
    got = picoml.run(g, xs)
    model = to_tflite(g)
    assert_int_equal(got, litert_run(model, xs), "LiteRT")
    assert sorted(set(got.reshape(-1).tolist())) == [7, 100]  # picoml and LiteRT: the zero point
    assert 7 not in tflm_run(model, xs)  # tflite-micro: a stale byte


def test_refusals():
    x = Tensor("x", (1, 5, 5, 2))
    with pytest.raises(picoml.GraphError, match="not a multiple of the block"):
        single_op_graph(
            "SPACE_TO_BATCH_ND", [x, _i32("b", [2, 2]), _i32("p", [[0, 0], [0, 0]])], Tensor("y", (4, 2, 2, 2))
        )
    with pytest.raises(picoml.UnsupportedError, match="rank 5"):
        single_op_graph(
            "BATCH_TO_SPACE_ND",
            [Tensor("x", (4, 1, 1, 1, 2)), _i32("b", [2, 2, 1]), _i32("c", [[0, 0]] * 3)],
            Tensor("y", (1, 2, 2, 1, 2)),
        )
    with pytest.raises(picoml.GraphError, match="batch 3 of 'x' is not a multiple"):
        single_op_graph("BATCH_TO_SPACE_ND", [Tensor("x", (3, 2, 2, 1)), _i32("b", [2, 1]), _i32("c", [[0, 0], [0, 0]])],
                        Tensor("y", (1, 4, 2, 1)))  # fmt: skip
