"""TILE vs LiteRT (tflite-micro has no TILE kernel), exact: it is a copy for every dtype.

int8 copies codes: the output keeps the input's parameters (PTQ's rule), and a file whose output
has other parameters still gets the codes copied, as LiteRT does (``test_tile_int8_copies_codes``).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import GraphError, UnsupportedError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Tensor
from picoml.graph.ops import OpType
from picoml.quantize.ptq import quantize
from picoml.reference import KERNELS
from picoml.reference.interpreter import run

from oracles import litert_run, qtensor, single_op_graph, to_tflite


def _t(name, shape, dtype, q=(0.1, 3)):
    return qtensor(name, shape, *q) if dtype == "int8" else Tensor(name, tuple(shape), dtype)


def _graph(shape, mult, dtype, mdtype="int32", qy=(0.1, 3)):
    m = Tensor("multiples", (len(mult),), mdtype, data=np.array(mult, mdtype))
    out = tuple(d * max(k, 1) for d, k in zip(shape, mult, strict=False))
    return single_op_graph(OpType.TILE, [_t("x", shape, dtype), m], _t("y", out, dtype, qy))


def _run(g, x):
    op = g.ops[0]
    k = KERNELS[op.type]
    return k.evaluate(k.prepare(op), [x, op.inputs[1].data[None]])


def _sample(rng, shape, dtype, n=2):
    if dtype == "float32":
        return rng.standard_normal((n, *shape)).astype(np.float32)
    if dtype == "bool":
        return rng.integers(0, 2, (n, *shape)).astype(bool)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, (n, *shape), dtype=dtype)


@st.composite
def shape_mult(draw):
    rank = draw(st.integers(1, 5))
    shape = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    mult = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    return shape, mult


@pytest.mark.parametrize("dtype", ["int8", "float32", "int32", "bool"])
@settings(max_examples=40, deadline=None)
@given(sm=shape_mult(), mdtype=st.sampled_from(["int32", "int64"]), seed=st.integers(0, 2**31))
def test_tile(dtype, sm, mdtype, seed):
    shape, mult = sm
    g = _graph(shape, mult, dtype, mdtype)
    x = _sample(np.random.default_rng(seed), shape, dtype)
    got = _run(g, x)
    np.testing.assert_array_equal(got, np.stack([np.tile(s, mult) for s in x]))
    model = to_tflite(g)
    np.testing.assert_array_equal(got, litert_run(model, [x]))
    # .tflite round trip: same op, same multiples, same result
    back = read_tflite_bytes(model)
    assert [op.type for op in back.ops] == [OpType.TILE]
    np.testing.assert_array_equal(back.ops[0].inputs[1].data, g.ops[0].inputs[1].data)
    np.testing.assert_array_equal(_run(back, x), got)


def test_tile_int8_copies_codes():
    """An int8 output with other parameters than the input's: LiteRT copies codes anyway."""
    g = _graph((2, 3), (2, 1), "int8", qy=(0.5, -7))
    x = _sample(np.random.default_rng(0), (2, 3), "int8")
    got = _run(g, x)
    np.testing.assert_array_equal(got, np.tile(x, (1, 2, 1)))
    np.testing.assert_array_equal(got, litert_run(to_tflite(g), [x]))


def test_tile_refusals():
    with pytest.raises(GraphError, match="1-D with 2 values"):
        _graph((2, 3), (2,), "float32")
    with pytest.raises(UnsupportedError, match="multiples .* must all be in 1"):
        _graph((2, 3), (2, 0), "float32")
    with pytest.raises(UnsupportedError, match="rank 7 outside"):
        _graph((1,) * 7, (1,) * 7, "float32")
    with pytest.raises(UnsupportedError, match="more than"):
        _graph((64, 64), (1 << 12, 1 << 12), "float32")
    m = Tensor("multiples", (2,), "int32")
    with pytest.raises(UnsupportedError, match="must be a constant"):
        single_op_graph(OpType.TILE, [Tensor("x", (2, 3)), m], Tensor("y", (2, 3)))
    with pytest.raises(GraphError, match="int32 or int64"):
        _graph((2, 3), (1, 1), "float32", mdtype="float32")
    with pytest.raises(GraphError, match="must match"):
        single_op_graph(
            OpType.TILE,
            [Tensor("x", (2,)), Tensor("m", (1,), "int32", data=np.array([2], np.int32))],
            Tensor("y", (4,), "int32"),
        )


def test_ptq_gives_the_output_the_inputs_parameters():
    """PTQ: the int8 TILE output shares its input's (scale, zero point); the int8 model is exact
    in LiteRT and its dequantized output is the tiled dequantized input."""
    g = _graph((2, 3, 4), (1, 2, 3), "float32")
    rng = np.random.default_rng(1)
    q = quantize(g, (rng.standard_normal((16, 2, 3, 4)) * 3).astype(np.float32))
    op = q.ops[[o.type for o in q.ops].index(OpType.TILE)]
    x, y = op.inputs[0], op.outputs[0]
    assert x.dtype == y.dtype == "int8"
    assert (float(x.scale[0]), int(x.zero_point[0])) == (float(y.scale[0]), int(y.zero_point[0]))
    xs = _sample(rng, (2, 3, 4), "int8", n=3)
    assert q.inputs[0].dtype == "int8" and [o.type for o in q.ops] == [OpType.TILE]
    np.testing.assert_array_equal(run(q, xs), litert_run(to_tflite(q), [xs]))
