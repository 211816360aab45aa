"""MIRROR_PAD (REFLECT, SYMMETRIC), PADV2 and REVERSE_V2 vs tflite-micro and LiteRT: exact for int8
and float32 (values are copied; float32 compared bit for bit with tflite-micro, by value with LiteRT,
whose PADV2 writes +0.0 for a -0.0 pad value)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor

from oracles import assert_int_equal, litert_run, qtensor, random_input, single_op_graph, tflm_run, to_tflite
from strategies import DTYPES, act_quant, act_tensor

SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def _bits(v):
    v = np.asarray(v)
    return v.view(np.int32) if v.dtype == np.float32 else v


def _check(g, xs, what, litert=True):
    got = picoml.run(g, xs if len(xs) > 1 else xs[0])
    model = to_tflite(g)
    assert_int_equal(_bits(got), _bits(tflm_run(model, xs)), what + " (tflite-micro)")
    if litert:  # by value: LiteRT's PADV2 pads with +0.0 for a -0.0 pad value (tflite-micro keeps -0.0)
        np.testing.assert_array_equal(got, litert_run(model, xs).reshape(got.shape), err_msg=what + " (LiteRT)")


@st.composite
def mirror_case(draw):
    shape = draw(SHAPES)
    mode = draw(st.sampled_from([0, 1]))
    edge = 1 if mode == 0 else 0
    pads = [(draw(st.integers(0, n - edge)), draw(st.integers(0, n - edge))) for n in shape]
    return shape, mode, pads


@settings(max_examples=80, deadline=None)
@given(dtype=DTYPES, case=mirror_case(), q=act_quant(-2, 0), int64=st.booleans(), seed=st.integers(0, 2**31))
def test_mirror_pad(dtype, case, q, int64, seed):
    shape, mode, pads = case
    rng = np.random.default_rng(seed)
    x = act_tensor("x", shape, dtype, q)
    out = tuple(n + lo + hi for n, (lo, hi) in zip(shape, pads, strict=True))
    pt = "int64" if int64 else "int32"
    p = Tensor("paddings", (len(shape), 2), pt, data=np.array(pads, pt).reshape(len(shape), 2))
    g = single_op_graph("MIRROR_PAD", [x, p], act_tensor("y", out, dtype, q), mode=mode)
    _check(g, [random_input(x, 2, rng)], f"MIRROR_PAD {dtype} {shape} mode={mode} pads={pads}")


@settings(max_examples=60, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(-2, 0), value=st.floats(-3, 3, width=32), data=st.data(),
       seed=st.integers(0, 2**31))  # fmt: skip
def test_padv2(dtype, shape, q, value, data, seed):
    rng = np.random.default_rng(seed)
    pads = [(data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in shape]
    x = act_tensor("x", shape, dtype, q)
    out = tuple(n + lo + hi for n, (lo, hi) in zip(shape, pads, strict=True))
    p = Tensor("paddings", (len(shape), 2), "int32", data=np.array(pads, np.int32).reshape(len(shape), 2))
    if dtype == "int8":
        code = int(np.clip(np.round(value / q[0]) + q[1], -128, 127))
        v = qtensor("value", (1,), q[0], q[1], data=np.array([code], np.int8))
    else:
        v = Tensor("value", (1,), data=np.array([value], np.float32))
    g = single_op_graph("PADV2", [x, p, v], act_tensor("y", out, dtype, q))
    _check(g, [random_input(x, 2, rng)], f"PADV2 {dtype} {shape} pads={pads} value={value}")


def test_padv2_without_a_value_pads_with_the_zero_point():
    x = qtensor("x", (2, 3), 0.1, -7)
    p = Tensor("paddings", (2, 2), "int32", data=np.array([[1, 0], [0, 2]], np.int32))
    g = single_op_graph("PADV2", [x, p], qtensor("y", (3, 5), 0.1, -7))
    _check(g, [random_input(x, 2, np.random.default_rng(0))], "PADV2 no value")


@settings(max_examples=60, deadline=None)
@given(dtype=DTYPES, shape=SHAPES, q=act_quant(-2, 0), data=st.data(), seed=st.integers(0, 2**31))
def test_reverse_v2(dtype, shape, q, data, seed):
    rng = np.random.default_rng(seed)
    r = len(shape)
    lo = data.draw(st.integers(0, r - 1))
    run = list(range(lo, data.draw(st.integers(lo, r - 1)) + 1))  # adjacent axes only (below)
    axes = [a - r if data.draw(st.booleans()) else a for a in data.draw(st.permutations(run))]
    x = act_tensor("x", shape, dtype, q)
    a = Tensor("axis", (len(axes),), "int32", data=np.array(axes, np.int32))
    g = single_op_graph("REVERSE_V2", [x, a], act_tensor("y", shape, dtype, q))
    _check(g, [random_input(x, 2, rng)], f"REVERSE_V2 {dtype} {shape} axes={axes}")


def test_reverse_v2_refuses_axes_with_a_gap_as_tflite_micro_does():
    """Pinned: tflite-micro (and LiteRT) fail the inference for axes [0, 2] of a rank-3 input."""
    x = Tensor("x", (2, 3, 4))
    a = Tensor("axis", (2,), "int32", data=np.array([0, 1], np.int32))
    g = single_op_graph("REVERSE_V2", [x, a], Tensor("y", (2, 3, 4)))
    a.data = np.array([0, 2], np.int32)  # past picoml's check, as a file could say
    with pytest.raises(RuntimeError, match="invocation failed"):
        tflm_run(to_tflite(g), np.zeros((1, 2, 3, 4), np.float32))


def test_refusals():
    x = Tensor("x", (3, 4))
    p = Tensor("paddings", (2, 2), "int32", data=np.array([[3, 0], [0, 0]], np.int32))
    with pytest.raises(picoml.UnsupportedError, match="MIRROR_PAD 'y': padding \\(3, 0\\) of dimension 0 .* exceeds 2"):
        single_op_graph("MIRROR_PAD", [x, p], Tensor("y", (6, 4)), mode=0)
    single_op_graph("MIRROR_PAD", [x, p], Tensor("y", (6, 4)), mode=1)  # SYMMETRIC mirrors 3
    with pytest.raises(picoml.GraphError, match="mode 2 is not REFLECT"):
        single_op_graph("MIRROR_PAD", [x, p], Tensor("y", (6, 4)), mode=2)
    with pytest.raises(picoml.GraphError, match="names a dimension twice"):
        a = Tensor("axis", (2,), "int32", data=np.array([1, -1], np.int32))
        single_op_graph("REVERSE_V2", [x, a], Tensor("y", (3, 4)))
    with pytest.raises(picoml.UnsupportedError, match="are not adjacent dimensions"):
        a = Tensor("axis", (2,), "int32", data=np.array([2, 0], np.int32))
        single_op_graph("REVERSE_V2", [Tensor("x", (2, 3, 4)), a], Tensor("y", (2, 3, 4)))
    with pytest.raises(picoml.UnsupportedError, match="is empty"):
        single_op_graph(
            "REVERSE_V2", [x, Tensor("axis", (0,), "int32", data=np.zeros(0, np.int32))], Tensor("y", (3, 4))
        )
    with pytest.raises(picoml.UnsupportedError, match="axis 'axis' must be a constant"):
        single_op_graph("REVERSE_V2", [x, Tensor("axis", (1,), "int32")], Tensor("y", (3, 4)))
    xq = qtensor("x", (3, 4), 0.1, 0)
    v = qtensor("value", (1,), 0.2, 0, data=np.array([1], np.int8))
    with pytest.raises(picoml.UnsupportedError, match="constant_values 'value' must be quantized as the output"):
        single_op_graph("PADV2", [xq, p, v], qtensor("y", (6, 4), 0.1, 0))
