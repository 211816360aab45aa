"""16x8 layers (int16 activations, int8 weights) vs tflite-micro, exact.

FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D with int64 bias, int32 bias (CONV_2D and
FULLY_CONNECTED: tflite-micro runs an int32 accumulator and the int32 rescale for it) and no bias
(CONV_2D: the int32 path; FULLY_CONNECTED and DEPTHWISE_CONV_2D: the int64 path), per-tensor and
per-channel weights, every fused activation, random scales.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import UnsupportedError
from picoml.graph.ops import out_size
from picoml.reference import s16

from oracles import assert_int_equal, qtensor, random_input, single_op_graph, tflm_run, to_tflite

ACTS = st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
SCALE = st.floats(1e-4, 0.05).map(lambda v: float(np.float32(v)))


def _weights(rng, shape, oc, per_channel, axis):
    ws = (rng.random(oc) * 0.03 + 1e-3).astype(np.float32) if per_channel else np.float32(rng.random() * 0.03 + 1e-3)
    zp = np.zeros(oc if per_channel else 1, np.int64)
    return qtensor("w", shape, ws, zp, "int8", rng.integers(-127, 128, shape, dtype=np.int8), axis=axis), ws


def _bias(rng, oc, dtype, in_scale, ws, span):
    if dtype is None:
        return None
    scale = (np.float32(in_scale) * np.broadcast_to(np.float32(ws), (oc,))).astype(np.float32)
    data = rng.integers(-span, span + 1, oc).astype(dtype)
    return qtensor(
        "b", (oc,), scale if np.ndim(ws) else scale[:1], np.zeros(oc if np.ndim(ws) else 1, np.int64), dtype, data
    )


def _check(g, n, rng, what):
    xs = random_input(g.inputs[0], n, rng)
    got = picoml.run(g, xs)
    assert_int_equal(got, tflm_run(to_tflite(g), xs), what)
    return g, xs


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 3),
    st.integers(1, 40),
    st.integers(1, 9),
    st.sampled_from(["int64", "int32", None]),
    st.booleans(),
    ACTS,
    SCALE,
    SCALE,
)
def test_fully_connected(seed, batch, depth, units, bias, per_channel, act, s_in, s_out):
    """Per-tensor and per-channel weights: the converter writes per-channel 16x8 FULLY_CONNECTED
    weights, and this tflite-micro takes them (an older fully_connected_common.cc did not)."""
    rng = np.random.default_rng(seed)
    x = qtensor("x", (batch, depth), s_in, 0, "int16")
    w, ws = _weights(rng, (units, depth), units, per_channel, 0)
    b = _bias(rng, units, bias, s_in, ws, 1 << 22)
    y = qtensor("y", (batch, units), s_out * 40, 0, "int16")
    g = single_op_graph("FULLY_CONNECTED", [x, w, b] if b is not None else [x, w], y, fused_activation=act)
    _check(g, 4, rng, f"FC {depth}->{units} bias {bias} {act}")


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(3, 8),
    st.integers(1, 4),
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(1, 2),
    st.sampled_from(["SAME", "VALID"]),
    st.sampled_from(["int64", "int32", None]),
    st.booleans(),
    ACTS,
)
def test_conv2d(seed, hw, c, oc, k, stride, padding, bias, per_channel, act):
    rng = np.random.default_rng(seed)
    s_in = np.float32(rng.random() * 0.01 + 1e-4)
    x = qtensor("x", (1, hw, hw, c), s_in, 0, "int16")
    w, ws = _weights(rng, (oc, k, k, c), oc, per_channel, 0)
    b = _bias(rng, oc, bias, s_in, ws, 1 << 22)
    o = out_size(hw, k, stride, 1, padding)
    y = qtensor("y", (1, o, o, oc), float(rng.random() * 0.2 + 0.01), 0, "int16")
    g = single_op_graph(
        "CONV_2D",
        [x, w, b] if b is not None else [x, w],
        y,
        padding=padding,
        stride_h=stride,
        stride_w=stride,
        fused_activation=act,
    )
    _check(g, 3, rng, f"CONV {hw}x{hw}x{c} k{k} s{stride} {padding} -> {oc} bias {bias} {act}")


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(3, 8),
    st.integers(1, 5),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 2),
    st.sampled_from(["SAME", "VALID"]),
    ACTS,
)
def test_depthwise_conv2d(seed, hw, c, mult, k, stride, padding, act):
    bias = "int64"
    rng = np.random.default_rng(seed)
    oc = c * mult
    s_in = np.float32(rng.random() * 0.01 + 1e-4)
    x = qtensor("x", (1, hw, hw, c), s_in, 0, "int16")
    w, ws = _weights(rng, (1, k, k, oc), oc, True, 3)
    b = _bias(rng, oc, bias, s_in, ws, 1 << 22)
    o = out_size(hw, k, stride, 1, padding)
    y = qtensor("y", (1, o, o, oc), float(rng.random() * 0.05 + 0.002), 0, "int16")
    g = single_op_graph(
        "DEPTHWISE_CONV_2D",
        [x, w, b],
        y,
        padding=padding,
        stride_h=stride,
        stride_w=stride,
        depth_multiplier=mult,
        fused_activation=act,
    )
    _check(g, 3, rng, f"DW {hw}x{hw}x{c} m{mult} k{k} s{stride} {padding} bias {bias} {act}")


def _conv(rng, bias):
    x = qtensor("x", (1, 6, 6, 8), 0.01, 0, "int16")
    w, ws = _weights(rng, (4, 3, 3, 8), 4, True, 0)
    b = _bias(rng, 4, bias, 0.01, ws, 1 << 20)
    y = qtensor("y", (1, 6, 6, 4), 0.5, 0, "int16")
    ins = [x, w, b] if b is not None else [x, w]
    return single_op_graph("CONV_2D", ins, y, padding="SAME", stride_h=1, stride_w=1)


@pytest.mark.parametrize("bias", ["int64", "int32", None])
def test_conv_rescale_path_is_tflms_choice(bias):
    """The two rescales (int64: Q15 multiplier, one rounding; int32: SRDHM then a rounding
    shift) differ on these inputs, and tflite-micro takes the int32 one for an int32 bias and for
    no bias at all, the int64 one for an int64 bias."""
    rng = np.random.default_rng(7)
    g, xs = _check(_conv(rng, bias), 8, rng, f"conv bias {bias}")
    p = s16.prepare(g.ops[0])
    assert p.acc32 == (bias != "int64")
    other = s16.evaluate(dataclasses.replace(p, acc32=not p.acc32), [xs])
    assert (other != picoml.run(g, xs)).any(), "the test inputs do not tell the two rescales apart"


def test_fc_without_bias_takes_the_int64_path():
    rng = np.random.default_rng(3)
    x = qtensor("x", (2, 64), 0.01, 0, "int16")
    w, _ = _weights(rng, (8, 64), 8, False, 0)
    g = single_op_graph("FULLY_CONNECTED", [x, w], qtensor("y", (2, 8), 0.5, 0, "int16"))
    g, xs = _check(g, 50, rng, "fc no bias")
    p = s16.prepare(g.ops[0])
    assert not p.acc32
    assert (s16.evaluate(dataclasses.replace(p, acc32=True), [xs]) != picoml.run(g, xs)).any()


def test_refusals():
    rng = np.random.default_rng(1)
    x = qtensor("x", (1, 4, 4, 2), 0.01, 0, "int16")
    w, ws = _weights(rng, (1, 3, 3, 2), 2, True, 3)
    b = _bias(rng, 2, "int32", 0.01, ws, 100)
    # tflite-micro's int16 DEPTHWISE_CONV_2D reads the bias as int64: an int32 bias is garbage there
    with pytest.raises(UnsupportedError, match="reads int64 bias"):
        single_op_graph(
            "DEPTHWISE_CONV_2D",
            [x, w, b],
            qtensor("y", (1, 4, 4, 2), 0.1, 0, "int16"),
            depth_multiplier=1,
            stride_h=1,
            stride_w=1,
        )
    # ... and a bias that is not there: the second channel on comes out as garbage (seen: 32767 for -33)
    with pytest.raises(UnsupportedError, match="needs a bias"):
        single_op_graph(
            "DEPTHWISE_CONV_2D",
            [x, w],
            qtensor("y", (1, 4, 4, 2), 0.1, 0, "int16"),
            depth_multiplier=1,
            stride_h=1,
            stride_w=1,
        )
    xz = qtensor("x", (1, 8), 0.01, 3, "int16")
    w2, _ = _weights(rng, (2, 8), 2, False, 0)
    with pytest.raises(UnsupportedError, match="zero point 3"):
        single_op_graph("FULLY_CONNECTED", [xz, w2], qtensor("y", (1, 2), 0.1, 0, "int16"))


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(1, 3),
    st.sampled_from(["SAME", "VALID"]),
    st.sampled_from(["int64", "int16", None]),
    st.booleans(),
    ACTS,
)
def test_transpose_conv(seed, hw, ic, oc, k, stride, padding, bias, per_channel, act):
    """int64 accumulators and rescale; an int16 bias is widened (transpose_conv.cc)."""
    rng = np.random.default_rng(seed)
    s_in = np.float32(rng.random() * 0.01 + 1e-4)
    x = qtensor("x", (1, hw, hw, ic), s_in, 0, "int16")
    w, ws = _weights(rng, (oc, k, k, ic), oc, per_channel, 0)
    b = _bias(rng, oc, bias, s_in, ws, 1 << 14 if bias == "int16" else 1 << 22)
    o = hw * stride if padding == "SAME" else (hw - 1) * stride + k
    shape = qtensor("shape", (4,), [], [], "int32", np.array([1, o, o, oc], np.int32))
    y = qtensor("y", (1, o, o, oc), float(rng.random() * 0.05 + 0.002), 0, "int16")
    g = single_op_graph(
        "TRANSPOSE_CONV", [x, w, shape, b], y, padding=padding, stride_h=stride, stride_w=stride, fused_activation=act
    )
    _check(g, 3, rng, f"TRANSPOSE_CONV {hw} {ic}->{oc} k{k} s{stride} {padding} bias {bias} {act}")


def test_transpose_conv_int32_bias_is_refused():
    """tflite-micro's int16 TRANSPOSE_CONV reads an int32 bias as int64 (checked: its outputs differ
    from the widened bias's); int16 and int64 biases are what it handles."""
    rng = np.random.default_rng(2)
    x = qtensor("x", (1, 3, 3, 2), 0.01, 0, "int16")
    w, ws = _weights(rng, (4, 3, 3, 2), 4, True, 0)
    shape = qtensor("shape", (4,), [], [], "int32", np.array([1, 6, 6, 4], np.int32))
    b = _bias(rng, 4, "int32", 0.01, ws, 1 << 20)
    with pytest.raises(UnsupportedError, match="reads int64 or int16 bias"):
        single_op_graph(
            "TRANSPOSE_CONV",
            [x, w, shape, b],
            qtensor("y", (1, 6, 6, 4), 0.02, 0, "int16"),
            padding="SAME",
            stride_h=2,
            stride_w=2,
        )
