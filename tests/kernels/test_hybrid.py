"""Hybrid ("dynamic-range quantized") CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: float32
activations, int8 constant weights, vs LiteRT's builtin hybrid kernels.

LiteRT quantizes each sample's input on the fly (symmetric for per-tensor CONV_2D and for
FULLY_CONNECTED by default, asymmetric otherwise), runs the layer in integers and rescales to
float32; picoml reproduces that arithmetic (bit for bit on x86-64, see
``picoml.reference.conv2d``).

Tolerance: 1e-5 of each sample's largest |output|, per element (oracles.assert_float_close).
One int8 step of the on-the-fly quantization moves an output by orders of magnitude more, so
a wrong quantization still fails; the slack is for LiteRT builds whose float32 roundings
differ in the last bit (other CPUs). On x86-64 the match is exact (test_hybrid_bit_exact_on_x86).
"""

import platform

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor
from picoml.graph.ops import out_size

from oracles import assert_float_close, litert_run, qtensor, single_op_graph, to_tflite

ACTS = st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
PADDINGS = st.sampled_from(["SAME", "VALID"])
X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def int8_weights(rng, shape, axis: int, per_channel: bool) -> Tensor:
    """Symmetric int8 weights, per-channel along `axis` (distinct scales) or per-tensor."""
    n = shape[axis] if per_channel else 1
    scales = (10 ** rng.uniform(-3, -1, n)).astype(np.float32)
    data = rng.integers(-127, 128, shape, dtype=np.int8)
    return qtensor("w", shape, scales, np.zeros(n, np.int64), data=data, axis=axis if per_channel else 0)


def float_bias(rng, n: int, present: bool) -> Tensor | None:
    return Tensor("b", (n,), "float32", data=rng.standard_normal(n).astype(np.float32)) if present else None


def float_inputs(rng, shape, n: int) -> np.ndarray:
    """n samples with independent magnitudes; sample 1 one-signed (zero point at an end)."""
    x = rng.standard_normal((n,) + tuple(shape)) * 10 ** rng.uniform(-2, 2, (n,) + (1,) * len(shape))
    if n > 1:
        x[1] = np.abs(x[1]) * (1 if rng.random() < 0.5 else -1)
    return x.astype(np.float32)


def check(g, xs: np.ndarray, what: str) -> np.ndarray:
    expected = litert_run(to_tflite(g), xs)
    got = picoml.run(g, xs)
    for i in range(len(xs)):  # each sample against its own largest output
        assert_float_close(got[i], expected[i], f"{what} sample {i}")
    return got


@settings(max_examples=150, deadline=None)
@given(
    batch=st.integers(1, 2),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    cin=st.integers(1, 6),
    cout=st.integers(1, 9),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    sh=st.integers(1, 2),
    sw=st.integers(1, 2),
    dh=st.integers(1, 2),
    dw=st.integers(1, 2),
    padding=PADDINGS,
    act=ACTS,
    per_channel=st.booleans(),
    grouped=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_hybrid_conv2d(batch, h, w, cin, cout, kh, kw, sh, sw, dh, dw, padding, act, per_channel, grouped, seed):
    oh, ow = out_size(h, kh, sh, dh, padding), out_size(w, kw, sw, dw, padding)
    if oh <= 0 or ow <= 0:
        return
    groups = 2 if grouped else 1
    if grouped:  # LiteRT runs grouped hybrid conv only with one scale per output channel
        cin, cout, per_channel = 2 * cin, 2 * cout, True
    rng = np.random.default_rng(seed)
    x = Tensor("x", (batch, h, w, cin), "float32")
    wt = int8_weights(rng, (cout, kh, kw, cin // groups), 0, per_channel)
    y = Tensor("y", (batch, oh, ow, cout), "float32")
    # LiteRT's CONV_2D requires a bias
    g = single_op_graph(
        "CONV_2D",
        [x, wt, float_bias(rng, cout, True)],
        y,
        padding=padding,
        stride_h=sh,
        stride_w=sw,
        dilation_h=dh,
        dilation_w=dw,
        fused_activation=act,
    )
    check(g, float_inputs(rng, x.shape, 4), f"hybrid conv per_channel={per_channel} groups={groups}")


@settings(max_examples=100, deadline=None)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    c=st.integers(1, 9),
    mult=st.integers(1, 3),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    sh=st.integers(1, 2),
    sw=st.integers(1, 2),
    dh=st.integers(1, 2),
    dw=st.integers(1, 2),
    padding=PADDINGS,
    act=ACTS,
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_hybrid_depthwise_conv2d(h, w, c, mult, kh, kw, sh, sw, dh, dw, padding, act, with_bias, seed):
    oh, ow = out_size(h, kh, sh, dh, padding), out_size(w, kw, sw, dw, padding)
    if oh <= 0 or ow <= 0:
        return
    rng = np.random.default_rng(seed)
    oc = c * mult
    x = Tensor("x", (1, h, w, c), "float32")
    wt = int8_weights(rng, (1, kh, kw, oc), 3, True)  # LiteRT: one scale per output channel
    y = Tensor("y", (1, oh, ow, oc), "float32")
    g = single_op_graph(
        "DEPTHWISE_CONV_2D",
        [x, wt, float_bias(rng, oc, with_bias)],
        y,
        padding=padding,
        stride_h=sh,
        stride_w=sw,
        dilation_h=dh,
        dilation_w=dw,
        depth_multiplier=mult,
        fused_activation=act,
    )
    check(g, float_inputs(rng, x.shape, 4), "hybrid depthwise")


@settings(max_examples=120, deadline=None)
@given(
    lead=st.sampled_from([(1,), (3,), (2, 2)]),
    depth=st.integers(1, 70),
    units=st.integers(1, 20),
    per_channel=st.booleans(),
    asymmetric=st.booleans(),
    with_bias=st.booleans(),
    act=ACTS,
    seed=st.integers(0, 2**31),
)
def test_hybrid_fully_connected(lead, depth, units, per_channel, asymmetric, with_bias, act, seed):
    rng = np.random.default_rng(seed)
    rows = int(np.prod(lead))
    x = Tensor("x", lead + (depth,), "float32")
    wt = int8_weights(rng, (units, depth), 0, per_channel)
    y = Tensor("y", (rows, units), "float32")
    g = single_op_graph(
        "FULLY_CONNECTED",
        [x, wt, float_bias(rng, units, with_bias)],
        y,
        asymmetric_quantize_inputs=asymmetric,
        fused_activation=act,
    )
    check(g, float_inputs(rng, x.shape, 4), f"hybrid fc per_channel={per_channel} asymmetric={asymmetric}")


# ------------------------------------------------------------------ pinned details
def conv1x1_graph(n: int, weights: np.ndarray, scales):
    """1x1 CONV_2D over a (1, 1, n, 1) input with a zero bias."""
    oc = weights.shape[0]
    x = Tensor("x", (1, 1, n, 1), "float32")
    wt = qtensor("w", weights.shape, scales, np.zeros(np.size(scales), np.int64), data=weights)
    b = Tensor("b", (oc,), "float32", data=np.zeros(oc, np.float32))
    y = Tensor("y", (1, 1, n, oc), "float32")
    return single_op_graph(
        "CONV_2D", [x, wt, b], y, padding="VALID", stride_h=1, stride_w=1, dilation_h=1, dilation_w=1
    )


@pytest.mark.skipif(not X86_64, reason="pins the rounding of LiteRT's x86-64 build (NEON_2_SSE quantizers)")
def test_symmetric_rounding_vector_part_and_tail():
    """range 127 makes the quantization step exactly 1: the first (n & ~7) values round with
    trunc(p ± 0.5) in float32 (0.49999997 -> 1), the tail with std::round (0.49999997 -> 0)."""
    h = np.float32(0.5) - np.float32(2.0**-25)
    x = np.array([127, h, 1.5, 2.5, -h, -1.5, -2.5, 0.5, h, -h, -2.5], np.float32)
    g = conv1x1_graph(x.size, np.ones((1, 1, 1, 1), np.int8), [1.0])
    want = np.array([127, 1, 2, 3, -1, -2, -3, 1, 0, 0, -3], np.float32)
    got = picoml.run(g, x.reshape(1, 1, 1, -1, 1)).reshape(-1)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(litert_run(to_tflite(g), x.reshape(1, 1, 1, -1, 1)).reshape(-1), want)


@pytest.mark.skipif(not X86_64, reason="bit-exactness is pinned for LiteRT's x86-64 build")
def test_hybrid_bit_exact_on_x86():
    """The arithmetic is reproduced, not approximated: per-tensor, per-channel, grouped conv,
    depthwise (channels past the last group of four take the other multiply order) and FC."""
    rng = np.random.default_rng(5)
    x = Tensor("x", (2, 5, 6, 6), "float32")
    xs = float_inputs(rng, x.shape, 8)
    xs[2, 0] = 0.0  # an all-zero batch row: scale 1, q 0
    for per_channel, groups in ((False, 1), (True, 1), (True, 2)):
        wt = int8_weights(rng, (6, 3, 3, 6 // groups), 0, per_channel)
        g = single_op_graph(
            "CONV_2D",
            [x, wt, float_bias(rng, 6, True)],
            Tensor("y", (2, 5, 6, 6), "float32"),
            padding="SAME",
            stride_h=1,
            stride_w=1,
            dilation_h=1,
            dilation_w=1,
        )
        np.testing.assert_array_equal(picoml.run(g, xs), litert_run(to_tflite(g), xs))
    wt = int8_weights(rng, (1, 3, 3, 6), 3, True)
    g = single_op_graph(
        "DEPTHWISE_CONV_2D",
        [x, wt, float_bias(rng, 6, True)],
        Tensor("y", (2, 5, 6, 6), "float32"),
        padding="SAME",
        stride_h=1,
        stride_w=1,
        dilation_h=1,
        dilation_w=1,
        depth_multiplier=1,
    )
    np.testing.assert_array_equal(picoml.run(g, xs), litert_run(to_tflite(g), xs))
    xf = Tensor("x", (3, 37), "float32")
    xsf = float_inputs(rng, xf.shape, 8)
    for per_channel, asymmetric in ((False, False), (True, False), (False, True), (True, True)):
        wt = int8_weights(rng, (9, 37), 0, per_channel)
        g = single_op_graph(
            "FULLY_CONNECTED",
            [xf, wt, float_bias(rng, 9, True)],
            Tensor("y", (3, 9), "float32"),
            asymmetric_quantize_inputs=asymmetric,
        )
        np.testing.assert_array_equal(picoml.run(g, xsf), litert_run(to_tflite(g), xsf))


def test_each_sample_quantized_on_its_own():
    """A batch of N samples gives the same outputs as N single runs (LiteRT is invoked per sample)."""
    rng = np.random.default_rng(2)
    x = Tensor("x", (1, 4, 4, 3), "float32")
    wt = int8_weights(rng, (5, 3, 3, 3), 0, True)
    g = single_op_graph(
        "CONV_2D",
        [x, wt, float_bias(rng, 5, True)],
        Tensor("y", (1, 4, 4, 5), "float32"),
        padding="SAME",
        stride_h=1,
        stride_w=1,
        dilation_h=1,
        dilation_w=1,
    )
    xs = float_inputs(rng, x.shape, 5)
    batched = picoml.run(g, xs)
    for i in range(len(xs)):
        np.testing.assert_array_equal(batched[i], picoml.run(g, xs[i]))


def test_per_tensor_scale_broadcasts_where_litert_needs_per_channel():
    """Grouped CONV_2D and DEPTHWISE_CONV_2D with one weight scale: LiteRT wants one scale per
    channel (it rejects the grouped conv and reads past the scale array for depthwise); picoml
    broadcasts the scale, which equals LiteRT with that scale repeated per channel."""
    rng = np.random.default_rng(3)
    x = Tensor("x", (1, 5, 5, 4), "float32")
    xs = float_inputs(rng, x.shape, 4)
    b = float_bias(rng, 4, True)
    data = rng.integers(-127, 128, (4, 3, 3, 2), dtype=np.int8)
    cases = [("CONV_2D", data, 0, {}), ("DEPTHWISE_CONV_2D", data[:1].repeat(2, axis=3), 3, {"depth_multiplier": 1})]
    for op, wdata, axis, extra in cases:
        got, want = [], None
        for scales in ([0.01], [0.01] * 4):
            wt = qtensor("w", wdata.shape, scales, [0] * len(scales), data=wdata, axis=axis if len(scales) > 1 else 0)
            g = single_op_graph(
                op,
                [x, wt, b],
                Tensor("y", (1, 5, 5, 4), "float32"),
                padding="SAME",
                stride_h=1,
                stride_w=1,
                dilation_h=1,
                dilation_w=1,
                **extra,
            )
            got.append(picoml.run(g, xs))
            if len(scales) > 1:
                want = litert_run(to_tflite(g), xs)
        np.testing.assert_array_equal(got[0], got[1])
        for i in range(len(xs)):
            assert_float_close(got[0][i], want[i], f"{op} broadcast scale sample {i}")
