"""SPLIT, SPLIT_V, UNPACK (several outputs) and PACK vs tflite-micro (int8) and LiteRT (float32), exact."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.errors import GraphError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph.ops import OpType

from movement import act, check, graph, ints, samples
from strategies import DTYPES, act_quant

SHAPES = st.lists(st.integers(1, 4), min_size=1, max_size=5)


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(), data=st.data(), seed=st.integers(0, 2**31))
def test_split(dtype, shape, q, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    ax = axis % len(shape)
    k = data.draw(st.integers(1, 4))
    shape[ax] *= k
    parts = [[shape[ax] // k if i == ax else d for i, d in enumerate(shape)]] * k
    axis_t = ints("axis", [axis], data.draw(st.sampled_from([(), (1,)])))
    g = graph(OpType.SPLIT, [act("x", shape, dtype, q), axis_t], parts, dtype, q, num_splits=k)
    check(g, samples(g, 2, np.random.default_rng(seed)), f"{shape} axis {axis} into {k}")


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(), data=st.data(), seed=st.integers(0, 2**31))
def test_split_v(dtype, shape, q, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    ax = axis % len(shape)
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    shape[ax] = sum(sizes)
    given_sizes = list(sizes)
    if data.draw(st.booleans()):
        given_sizes[data.draw(st.integers(0, len(sizes) - 1))] = -1
    parts = [[s if i == ax else d for i, d in enumerate(shape)] for s in sizes]
    ins = [act("x", shape, dtype, q), ints("size_splits", given_sizes), ints("axis", [axis])]
    g = graph(OpType.SPLIT_V, ins, parts, dtype, q, num_splits=len(sizes))
    check(g, samples(g, 2, np.random.default_rng(seed)), f"{shape} axis {axis} sizes {given_sizes}")


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(), data=st.data(), seed=st.integers(0, 2**31))
def test_unpack(dtype, shape, q, data, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    ax = axis % len(shape)
    part = [d for i, d in enumerate(shape) if i != ax]
    g = graph(OpType.UNPACK, [act("x", shape, dtype, q)], [part] * shape[ax], dtype, q, num=shape[ax], axis=axis)
    check(g, samples(g, 2, np.random.default_rng(seed)), f"{shape} axis {axis}")


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, shape=st.lists(st.integers(1, 4), min_size=0, max_size=4), q=act_quant(), data=st.data())
def test_pack(dtype, shape, q, data):
    k = data.draw(st.integers(1, 4))
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    ax = axis % (len(shape) + 1)
    xs = [act(f"x{i}", shape, dtype, q) for i in range(k)]
    out = shape[:ax] + [k] + shape[ax:]
    g = graph(OpType.PACK, xs, [out], dtype, q, values_count=k, axis=axis)
    check(g, samples(g, 2, np.random.default_rng(data.draw(st.integers(0, 99)))), f"{shape} x{k} axis {axis}")


def test_int8_copies_codes_whatever_the_parameters():
    """tflite-micro's SPLIT and PACK copy int8 codes without looking at quantization parameters:
    outputs (or inputs) with other scales and zero points hold the same codes."""
    x = act("x", (2, 4), "int8", (0.05, 3))
    g = graph(OpType.SPLIT, [x, ints("axis", [1])], [(2, 2), (2, 2)], "int8", (0.3, -7), num_splits=2)
    xs = samples(g, 3, np.random.default_rng(0))
    got = check(g, xs, "split")
    np.testing.assert_array_equal(np.concatenate(got, axis=2), xs[0])
    a, b = act("a", (3,), "int8", (0.1, 0)), act("b", (3,), "int8", (0.2, 5))
    g = graph(OpType.PACK, [a, b], [(2, 3)], "int8", (0.4, -1), values_count=2, axis=0)
    xs = samples(g, 3, np.random.default_rng(1))
    got = check(g, xs, "pack")
    np.testing.assert_array_equal(got[0], np.stack(xs, axis=1))


def test_split_reads_and_writes_the_axis_first():
    """SPLIT's .tflite inputs are (axis, input); picoml's IR keeps the data input first."""
    x = act("x", (2, 6), "float32")
    g = graph(OpType.SPLIT, [x, ints("axis", [1])], [(2, 2)] * 3, "float32", num_splits=3)
    data = write_tflite_bytes(g)
    from ai_edge_litert import schema_py_generated as fb

    model = fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))
    sg = model.subgraphs[0]
    assert [sg.tensors[i].name.decode() for i in sg.operators[0].inputs] == ["axis", "x"]
    g2 = read_tflite_bytes(data)
    assert [t.name for t in g2.ops[0].inputs] == ["x", "axis"]
    assert g.diff(g2) == [] and write_tflite_bytes(g2) == data


def test_refusals():
    x = act("x", (2, 6), "float32")
    with pytest.raises(GraphError, match="does not split into 4 equal parts"):
        graph(OpType.SPLIT, [x, ints("axis", [1])], [(2, 1)] * 4, "float32", num_splits=4)
    with pytest.raises(GraphError, match="num_splits is 3, the op has 2 outputs"):
        graph(OpType.SPLIT, [x, ints("axis", [1])], [(2, 3)] * 2, "float32", num_splits=3)
    with pytest.raises(GraphError, match="do not add up"):
        graph(OpType.SPLIT_V, [x, ints("s", [2, 2]), ints("axis", [1])], [(2, 2)] * 2, "float32", num_splits=2)
    with pytest.raises(GraphError, match="one -1"):
        graph(OpType.SPLIT_V, [x, ints("s", [-1, -1]), ints("axis", [1])], [(2, 3)] * 2, "float32", num_splits=2)
    with pytest.raises(GraphError, match="num 3 != dimension 0 of size 2"):
        graph(OpType.UNPACK, [x], [(6,)] * 3, "float32", num=3, axis=0)
    with pytest.raises(GraphError, match="values_count 3 != 2 inputs"):
        graph(OpType.PACK, [x, act("x2", (2, 6), "float32")], [(2, 2, 6)], "float32", values_count=3, axis=0)
    with pytest.raises(GraphError, match="shape"):
        graph(OpType.PACK, [x, act("x2", (2, 5), "float32")], [(2, 2, 6)], "float32", values_count=2, axis=0)
    # a non-constant axis: tflite-micro refuses it in Prepare
    with pytest.raises(GraphError, match="must be a constant"):
        graph(OpType.SPLIT, [x, act("axis", (1,), "int32")], [(2, 3)] * 2, "float32", num_splits=2)
