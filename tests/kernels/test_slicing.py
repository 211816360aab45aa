"""STRIDED_SLICE, SLICE, TRANSPOSE, SQUEEZE, EXPAND_DIMS vs tflite-micro (int8) and LiteRT (float32),
exact (values are copied: no rounding anywhere, float included)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import GraphError, PicomlError, UnsupportedError
from picoml.graph import Op, Tensor
from picoml.graph.ops import OpType, default_attrs
from picoml.graph.shape_ops import strided_slice
from picoml.reference import slicing

from movement import act, check, graph, ints, oracle_outputs, samples
from strategies import DTYPES, act_quant

SHAPES = st.lists(st.integers(1, 4), min_size=1, max_size=5)
MASK_NAMES = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def ss_graph(shape, dtype, begin, end, strides, q=(0.05, 3), **masks):
    """A STRIDED_SLICE graph whose output shape is picoml's inference (raises PicomlError if refused)."""
    x = act("x", shape, dtype, q)
    args = [ints("begin", begin), ints("end", end), ints("strides", strides)]
    probe = Op(OpType.STRIDED_SLICE, [x, *args], [Tensor("y", (1,))], {**default_attrs(OpType.STRIDED_SLICE), **masks})
    out = strided_slice(probe).out_shape
    if 0 in out:
        raise UnsupportedError("empty output")
    return graph(OpType.STRIDED_SLICE, [x, *args], [out], dtype, q, **masks)


@st.composite
def slice_specs(draw, rank: int, count: int, extra_masks: bool):
    n = 4
    begin = [draw(st.integers(-n - 2, n + 2)) for _ in range(count)]
    end = [draw(st.integers(-n - 2, n + 2)) for _ in range(count)]
    strides = [draw(st.sampled_from([-3, -2, -1, 1, 1, 1, 2, 3])) for _ in range(count)]
    bits = st.integers(0, (1 << count) - 1)
    masks = {k: draw(bits) for k in ("begin_mask", "end_mask", "shrink_axis_mask")}
    if extra_masks:
        masks["ellipsis_mask"] = draw(st.sampled_from([0, 0] + [1 << i for i in range(count)]))
        masks["new_axis_mask"] = draw(st.one_of(st.just(0), bits))
        masks["offset"] = draw(st.booleans())
    return begin, end, strides, masks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(shape=SHAPES, data=st.data(), seed=st.integers(0, 2**31))
def test_strided_slice_float_every_option(shape, data, seed):
    """LiteRT with every mask (ellipsis, new_axis, shrink, negative strides, offset), ranks 1-5 and
    fewer or more slice specs than dimensions."""
    count = data.draw(st.integers(1, len(shape) + 2))
    begin, end, strides, masks = data.draw(slice_specs(len(shape), count, True))
    try:
        g = ss_graph(shape, "float32", begin, end, strides, **masks)
    except PicomlError as e:
        assume(False)  # an empty output, or a shrink index TFLite leaves unwritten (see below)
        raise AssertionError from e
    check(g, samples(g, 2, np.random.default_rng(seed)), f"{shape} {begin} {end} {strides} {masks}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), q=act_quant(), data=st.data(), seed=st.integers(0, 2**31)
)
def test_strided_slice_int8(shape, q, data, seed):
    """tflite-micro: begin/end/shrink masks and negative strides, one spec per dimension."""
    begin, end, strides, masks = data.draw(slice_specs(len(shape), len(shape), False))
    try:
        g = ss_graph(shape, "int8", begin, end, strides, q, **masks)
    except PicomlError:
        assume(False)
        return
    check(g, samples(g, 2, np.random.default_rng(seed)), f"{shape} {begin} {end} {strides} {masks}")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data(), seed=st.integers(0, 2**31))
def test_strided_slice_int8_ellipsis_new_axis_offset(shape, data, seed):
    """tflite-micro ignores ellipsis_mask, new_axis_mask and offset. picoml runs an int8 slice with
    them when tflite-micro's reading copies the same elements (and then must match it), and
    refuses it otherwise: then tflite-micro either fails Prepare or copies other elements."""
    count = data.draw(st.integers(len(shape), len(shape) + 2))
    begin, end, strides, masks = data.draw(slice_specs(len(shape), count, True))
    try:
        fg = ss_graph(shape, "float32", begin, end, strides, **masks)
    except PicomlError:
        assume(False)
        return
    out = fg.outputs[0].shape
    g = graph(OpType.STRIDED_SLICE, [act("x", shape, "int8"), *fg.ops[0].inputs[1:]], [out], "int8", **masks)
    xs = samples(g, 2, np.random.default_rng(seed))
    try:
        picoml.run(g, xs[0])
    except UnsupportedError as e:
        assert "int8" in str(e), e
        litert_reading = slicing.evaluate(slicing._spec_params(strided_slice(g.ops[0])), [xs[0]])
        try:
            micro = oracle_outputs(g, xs)[0]
        except RuntimeError:
            return  # Prepare failed
        assert micro.shape != litert_reading.shape or not np.array_equal(micro, litert_reading)
        return
    check(g, xs, f"{shape} {begin} {end} {strides} {masks}")


def test_strided_slice_known_cases():
    x = act("x", (4, 3, 2), "float32")
    g = ss_graph((4, 3, 2), "float32", [0, 1], [0, 2], [1, 1], ellipsis_mask=1)  # x[..., 1:2]
    assert g.outputs[0].shape == (4, 3, 1)
    g = ss_graph((4, 3), "float32", [0, 1, 0], [0, 2, 1], [1, 1, 1], new_axis_mask=1)  # x[None, 1:2, 0:1]
    assert g.outputs[0].shape == (1, 1, 1)
    g = ss_graph((4, 3), "float32", [-1, 0], [0, 3], [1, 1], shrink_axis_mask=1)  # x[-1, :]
    assert g.outputs[0].shape == (3,)
    g = ss_graph((4, 3), "float32", [1, 0], [2, 3], [1, 1], offset=True)  # end = begin + 2
    assert g.outputs[0].shape == (2, 3)
    del x


def test_strided_slice_refusals():
    # a shrink index outside the dimension or with a negative stride: TFLite reads nothing and
    # leaves the output unwritten (LiteRT returns uninitialized memory); picoml refuses
    for begin, stride in ((5, 1), (2, -1)):
        with pytest.raises(UnsupportedError, match="selects no element"):
            ss_graph((4, 3), "float32", [begin, 0], [3, 3], [stride, 1], shrink_axis_mask=1)
    with pytest.raises(GraphError, match="stride 0 is 0"):
        ss_graph((4, 3), "float32", [0, 0], [3, 3], [0, 1])
    # tflite-micro: at most 4 input dimensions (strided_slice_common.cc), begin for every dimension
    g = ss_graph((2, 2, 2, 2, 2), "int8", [0] * 5, [2] * 5, [1] * 5)
    with pytest.raises(UnsupportedError, match="rank-5 input .TFLite Micro supports up to 4"):
        picoml.run(g, np.zeros((2,) * 5, np.int8))
    with pytest.raises(RuntimeError):
        oracle_outputs(g, [np.zeros((1,) + (2,) * 5, np.int8)])
    g = ss_graph((4, 3), "int8", [1], [3], [1])
    with pytest.raises(UnsupportedError, match="reads one per input dimension"):
        picoml.run(g, np.zeros((4, 3), np.int8))


# ------------------------------------------------------------------ SLICE
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(), data=st.data(), seed=st.integers(0, 2**31))
def test_slice(dtype, shape, q, data, seed):
    begin = [data.draw(st.integers(0, n - 1)) for n in shape]
    size = [
        data.draw(st.sampled_from([-1, data.draw(st.integers(1, n - b))])) for n, b in zip(shape, begin, strict=True)
    ]
    out = [n - b if s == -1 else s for n, b, s in zip(shape, begin, size, strict=True)]
    wide = data.draw(st.booleans())  # begin/size may be int64 (tflite-micro and LiteRT read both)
    args = [
        Tensor(n, (len(v),), "int64", data=np.array(v, np.int64)) if wide else ints(n, v)
        for n, v in (("begin", begin), ("size", size))
    ]
    g = graph(OpType.SLICE, [act("x", shape, dtype, q), *args], [out], dtype, q)
    check(g, samples(g, 2, np.random.default_rng(seed)), f"{shape} {begin} {size}")


def test_slice_refusals():
    x = act("x", (4, 3), "float32")
    for begin, size, msg in (([5, 0], [-1, -1], "begin 5"), ([1, 0], [4, 3], "size 4"), ([0], [1], "need 2 values")):
        with pytest.raises(GraphError, match=msg):
            graph(OpType.SLICE, [x, ints("begin", begin), ints("size", size)], [(1, 1)], "float32")


# ------------------------------------------------------------------ TRANSPOSE
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(), data=st.data(), seed=st.integers(0, 2**31))
def test_transpose(dtype, shape, q, data, seed):
    perm = data.draw(st.permutations(range(len(shape))))
    out = [shape[p] for p in perm]
    g = graph(OpType.TRANSPOSE, [act("x", shape, dtype, q), ints("perm", perm)], [out], dtype, q)
    check(g, samples(g, 2, np.random.default_rng(seed)), f"{shape} {perm}")


def test_transpose_refusals():
    x = act("x", (2, 3), "float32")
    with pytest.raises(GraphError, match="not a permutation"):
        graph(OpType.TRANSPOSE, [x, ints("perm", [0, 0])], [(2, 2)], "float32")
    g = graph(OpType.TRANSPOSE, [act("x", (1,) * 6, "int8"), ints("perm", [5, 4, 3, 2, 1, 0])], [(1,) * 6], "int8")
    with pytest.raises(UnsupportedError, match="rank-6 input .TFLite Micro supports up to 5"):
        picoml.run(g, np.zeros((1,) * 6, np.int8))
    with pytest.raises(RuntimeError):
        oracle_outputs(g, [np.zeros((1,) * 7, np.int8)])


# ------------------------------------------------------------------ SQUEEZE, EXPAND_DIMS
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    dtype=DTYPES, shape=st.lists(st.sampled_from([1, 1, 2, 3]), min_size=1, max_size=6), q=act_quant(), data=st.data()
)
def test_squeeze(dtype, shape, q, data):
    ones = [i for i, d in enumerate(shape) if d == 1]
    dims = data.draw(st.lists(st.sampled_from(ones), unique=True)) if ones else []
    dims = [d - len(shape) if data.draw(st.booleans()) else d for d in dims]  # negative axes too
    out = [d for i, d in enumerate(shape) if not (d == 1 and (not dims or i in {a % len(shape) for a in dims}))]
    g = graph(OpType.SQUEEZE, [act("x", shape, dtype, q)], [out], dtype, q, squeeze_dims=tuple(dims))
    check(g, samples(g, 2, np.random.default_rng(0)), f"{shape} {dims}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(dtype=DTYPES, shape=st.lists(st.integers(1, 4), min_size=0, max_size=4), q=act_quant(), data=st.data())
def test_expand_dims(dtype, shape, q, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    ax = axis % (len(shape) + 1)
    out = shape[:ax] + [1] + shape[ax:]
    g = graph(OpType.EXPAND_DIMS, [act("x", shape, dtype, q), ints("axis", [axis])], [out], dtype, q)
    check(g, samples(g, 2, np.random.default_rng(0)), f"{shape} {axis}")


def test_squeeze_and_expand_dims_refusals():
    x = act("x", (1, 3), "float32")
    with pytest.raises(GraphError, match="cannot squeeze dimension 1 of size 3"):
        graph(OpType.SQUEEZE, [x], [(1,)], "float32", squeeze_dims=(1,))
    with pytest.raises(GraphError, match="axis 3 out of range"):
        graph(OpType.EXPAND_DIMS, [x, ints("axis", [3])], [(1, 3, 1)], "float32")
    with pytest.raises(GraphError, match="one value"):
        graph(OpType.EXPAND_DIMS, [x, ints("axis", [0, 1])], [(1, 1, 3)], "float32")
