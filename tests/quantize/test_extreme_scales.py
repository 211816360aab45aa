"""Extreme quantization scales vs tflite-micro (issue 12, finding 6).

Scales of 1e30, 1e-30 and float32 denormals (1e-40) in every int8 kernel. Where TFLM's
arithmetic is well defined picoml must match it exactly: requantization multipliers below
2^-32 flush to zero (QuantizeMultiplier's ``shift < -31`` rule), left shifts up to 30 wrap
as int32, saturating kernels saturate. Where TFLM fails Prepare, aborts, or would compute
with undefined behaviour (``x * (1 << shift)`` with shift >= 31, an int64 shift by 63 or
more, an out-of-range float -> int32 conversion, uninitialised activation bounds) picoml
refuses the model at prepare time with a one-line UnsupportedError naming the op and tensor.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import UnsupportedError
from picoml.fixedpoint import quantize_multiplier
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs

from oracles import assert_int_equal, qtensor, random_input, tflm_run, to_tflite

N = 6  # samples per case
OP_NAME = "layer7"  # op names differ from tensor names so messages are checked for both


def one_op(op_type: str, inputs: list, output: Tensor, **attrs) -> Graph:
    a = default_attrs(op_type)
    a.update(attrs)
    ins = [t for t in inputs if t is not None]
    g = Graph(
        ins + [output],
        [Op(op_type, list(inputs), [output], a, name=OP_NAME)],
        [t for t in ins if t.data is None],
        [output],
        name="extreme",
    )
    g.validate()
    return g


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(sum(map(ord, key)))


def weights(rng, shape, scales, axis):
    s = np.atleast_1d(np.asarray(scales, np.float32))
    data = rng.integers(-127, 128, shape, dtype=np.int8)
    return qtensor("w", shape, s, np.zeros(s.size, np.int64), data=data, axis=axis if s.size > 1 else 0)


def bias_for(rng, n, x_scale, w):
    """int32 bias with scale float32(input scale · weight scale) per channel (None if that underflows)."""
    ws = np.broadcast_to(w.scale, (n,)).astype(np.float64)
    sc = (np.float64(np.float32(x_scale)) * ws).astype(np.float32)
    if not (np.isfinite(sc).all() and (sc > 0).all()):
        return None
    sc = sc if w.scale.size > 1 else sc[:1]
    data = rng.integers(-5000, 5000, n).astype(np.int32)
    return qtensor("b", (n,), sc, np.zeros(sc.size, np.int64), "int32", data=data, axis=0)


# ------------------------------------------------------------------------ model builders
def conv(xs, ws, ys, act="NONE", bias=True, key="conv"):
    rng = _rng(key)
    x = qtensor("x", (1, 5, 5, 3), xs, 3)
    w = weights(rng, (4, 3, 3, 3), ws, 0)
    b = bias_for(rng, 4, xs, w) if bias else None
    y = qtensor("y", (1, 3, 3, 4), ys, -5)
    return one_op("CONV_2D", [x, w, b], y, padding="VALID", stride_h=1, stride_w=1, fused_activation=act)


def dwconv(xs, ws, ys, act="NONE", key="dw"):
    rng = _rng(key)
    x = qtensor("x", (1, 5, 5, 3), xs, 3)
    w = weights(rng, (1, 3, 3, 6), ws, 3)
    y = qtensor("y", (1, 3, 3, 6), ys, -5)
    b = bias_for(rng, 6, xs, w)
    return one_op(
        "DEPTHWISE_CONV_2D",
        [x, w, b],
        y,
        padding="VALID",
        stride_h=1,
        stride_w=1,
        depth_multiplier=2,
        fused_activation=act,
    )


def fc(xs, ws, ys, act="NONE", bias=True, bias_scale=None, key="fc"):
    rng = _rng(key)
    x = qtensor("x", (2, 12), xs, 3)
    w = weights(rng, (5, 12), ws, 0)
    b = bias_for(rng, 5, xs, w) if bias else None
    if bias_scale is not None:
        b = qtensor("b", (5,), bias_scale, 0, "int32", data=rng.integers(-5000, 5000, 5).astype(np.int32))
    y = qtensor("y", (2, 5), ys, -5)
    return one_op("FULLY_CONNECTED", [x, w, b], y, fused_activation=act)


def binary(op_type, s1, s2, so, act="NONE"):
    a, b = qtensor("a", (3, 4), s1, 3), qtensor("c", (3, 4), s2, -7)
    return one_op(op_type, [a, b], qtensor("y", (3, 4), so, 2), fused_activation=act)


def unary(op_type, si, so, zpo=2, **attrs):
    return one_op(op_type, [qtensor("x", (3, 4), si, 3)], qtensor("y", (3, 4), so, zpo), **attrs)


def pool(op_type, si, so, act="NONE", zpo=3):
    x, y = qtensor("x", (1, 4, 4, 2), si, 3), qtensor("y", (1, 2, 2, 2), so, zpo)
    return one_op(
        op_type, [x], y, padding="VALID", stride_h=2, stride_w=2, filter_h=2, filter_w=2, fused_activation=act
    )


def mean(si, so):
    axes = Tensor("axes", (2,), "int32", data=np.array([1, 2], np.int32))
    return one_op("MEAN", [qtensor("x", (1, 4, 4, 3), si, 3), axes], qtensor("y", (1, 3), so, 2), keep_dims=False)


def concat(s1, s2, so, z1=1, z2=1, zo=1):
    a, b = qtensor("a", (2, 3), s1, z1), qtensor("c", (2, 3), s2, z2)
    return one_op("CONCATENATION", [a, b], qtensor("y", (4, 3), so, zo), axis=0)


def pad(si, so):
    p = Tensor("p", (4, 2), "int32", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    return one_op("PAD", [qtensor("x", (1, 2, 2, 1), si, 3), p], qtensor("y", (1, 4, 4, 1), so, 5))


def reshape(si, so):
    s = Tensor("s", (2,), "int32", data=np.array([1, 6], np.int32))
    return one_op("RESHAPE", [qtensor("x", (1, 2, 3), si, 3), s], qtensor("y", (1, 6), so, 5), new_shape=(1, 6))


def softmax(si, beta):
    return one_op("SOFTMAX", [qtensor("x", (2, 6), si, 3)], qtensor("y", (2, 6), 1 / 256, -128), beta=beta)


def sigmoid_like(op_type, si):
    y = qtensor("y", (3, 4), 1 / 256, -128) if op_type == "LOGISTIC" else qtensor("y", (3, 4), 1 / 128, 0)
    return one_op(op_type, [qtensor("x", (3, 4), si, 3)], y)


# Output scales putting input scale 0.05 × weight scale 0.01 at shift 30 / 31 of QuantizeMultiplier.
SHIFT30_OUT = 6e-13  # 5e-4 / 6e-13 = 8.3e8 in [2^29, 2^30)
SHIFT31_OUT = 3e-13  # 1.7e9 in [2^30, 2^31)

# ------------------------------------------------------------------------ matched exactly
MATCH = {
    # output multipliers below 2^-32 flush to zero: every output is the zero point
    "conv out 1e30": lambda: conv(0.05, 0.01, 1e30),
    "conv out 1e30 relu6": lambda: conv(0.05, 0.01, 1e30, "RELU6"),
    "conv in 1e-30": lambda: conv(1e-30, 0.01, 0.1),
    "conv w 1e-30": lambda: conv(0.05, 1e-30, 0.1),
    "conv w denormal 1e-40": lambda: conv(0.05, 1e-40, 0.1, bias=False),
    "conv in 1e-20 w 1e-20": lambda: conv(1e-20, 1e-20, 0.1, bias=False),
    "conv all 1e-30": lambda: conv(1e-30, 1e-30, 1e-30, bias=False),
    "conv all denormal": lambda: conv(1e-40, 1e-40, 1e-40, bias=False),
    "conv per-channel flush/denormal/tiny mix": lambda: conv(0.05, [1e-30, 0.01, 1e-40, 2e-7], 0.1),
    "conv shift 30 (wraps as int32)": lambda: conv(0.05, 0.01, SHIFT30_OUT),
    "dwconv out 1e30": lambda: dwconv(0.05, 0.01, 1e30),
    "dwconv per-channel mix": lambda: dwconv(0.05, [1e-30, 0.01, 1e-40, 1e-5, 1e-12, 0.02], 0.1),
    "fc out 1e30": lambda: fc(0.05, 0.01, 1e30),
    "fc in 1e-30": lambda: fc(1e-30, 0.01, 0.1),
    "fc w denormal": lambda: fc(0.05, 1e-40, 0.1, bias=False),
    "fc per-channel mix": lambda: fc(0.05, [1e-30, 0.01, 1e-40, 1e-5, 1e-12], 0.1),
    "fc shift 30": lambda: fc(0.05, 0.01, SHIFT30_OUT, bias=False),
    "fc bias scale within 0.02 steps": lambda: fc(0.05, 0.01, 0.1, bias_scale=0.0005 + 0.019 * 0.1),
    "add out 1e30": lambda: binary("ADD", 0.1, 0.1, 1e30),
    "add in 1e-30 vs 0.1": lambda: binary("ADD", 1e-30, 0.1, 0.1),
    "add in denormal vs 0.1": lambda: binary("ADD", 1e-40, 0.1, 0.1, "RELU"),
    "add all 1e30": lambda: binary("ADD", 1e30, 1e30, 1e30, "RELU6"),
    "add all 1e-30": lambda: binary("ADD", 1e-30, 1e-30, 1e-30),
    "add all denormal": lambda: binary("ADD", 1e-40, 1e-40, 1e-40),
    "mul out 1e30": lambda: binary("MUL", 0.1, 0.1, 1e30),
    "mul all 1e-30": lambda: binary("MUL", 1e-30, 1e-30, 1e-30),
    "mul in 1e-30": lambda: binary("MUL", 1e-30, 0.1, 0.1, "RELU6"),
    "mul shift 20 (wraps)": lambda: binary("MUL", 0.1, 0.1, 1e-8),
    "requantize out 1e30": lambda: unary("QUANTIZE", 0.1, 1e30),
    "requantize in 1e-30": lambda: unary("QUANTIZE", 1e-30, 0.1),
    "requantize in denormal": lambda: unary("QUANTIZE", 1e-40, 0.1),
    "requantize shift 30": lambda: unary("QUANTIZE", 0.1, 1e-10),
    "relu out 1e30": lambda: unary("RELU", 0.1, 1e30),
    "relu in 1e-30": lambda: unary("RELU", 1e-30, 0.1),
    "relu shift 30": lambda: unary("RELU", 0.1, 1e-10),
    "relu6 1e30": lambda: unary("RELU6", 1e30, 1e30, zpo=3),
    "mean out 1e30": lambda: mean(0.1, 1e30),
    "mean in 1e-30": lambda: mean(1e-30, 0.1),
    "mean in denormal": lambda: mean(1e-40, 0.1),
    "mean folded shift 28": lambda: mean(0.1, 2.5e-11),
    "avgpool 1e30 relu6": lambda: pool("AVERAGE_POOL_2D", 1e30, 1e30, "RELU6"),
    "avgpool 1e-30 relu": lambda: pool("AVERAGE_POOL_2D", 1e-30, 1e-30, "RELU"),
    "maxpool denormal": lambda: pool("MAX_POOL_2D", 1e-40, 1e-40),
    "maxpool scales 4e-10 apart (within TFLM's 1e-6)": lambda: pool("MAX_POOL_2D", 1e-10, 5e-10),
    "concat all 1e-30": lambda: concat(1e-30, 1e-30, 1e-30),
    "concat all 1e30": lambda: concat(1e30, 1e30, 1e30),
    "pad 1e-30 -> 1e30": lambda: pad(1e-30, 1e30),
    "reshape 1e30 -> 1e-30": lambda: reshape(1e30, 1e-30),
    "softmax in 1e30": lambda: softmax(1e30, 1.0),
    "softmax in 1e-7": lambda: softmax(1e-7, 1.0),
    "logistic in 1e10 (radius 0)": lambda: sigmoid_like("LOGISTIC", 1e10),
    "logistic in 7.46e-9": lambda: sigmoid_like("LOGISTIC", 7.46e-9),
    "tanh in 1e10 (radius 0)": lambda: sigmoid_like("TANH", 1e10),
}


@pytest.mark.parametrize("case", list(MATCH))
def test_matches_tflm_exactly(case):
    g = MATCH[case]()
    rng = _rng(case)
    xs = [random_input(t, N, rng) for t in g.inputs]
    got = picoml.run(g, xs if len(xs) > 1 else xs[0])
    assert_int_equal(got, tflm_run(to_tflite(g), xs), case)


def test_flush_to_zero_boundary_is_exact():
    """QuantizeMultiplier keeps 2^-32 (shift -31) and flushes anything below: with an int32
    accumulator near ±2^31 the kept multiplier still moves the output by one step, the flushed
    one gives exactly the zero point, both as in TFLM."""
    outs = {}
    for label, real in (("kept", 2.0**-32 * 1.0000001), ("flushed", 2.0**-32 * 0.9999999)):
        so = float(np.float32(1.0 / real))
        x = qtensor("x", (1, 1), 1.0, 0)
        w = qtensor("w", (2, 1), 1.0, 0, data=np.array([[1], [-1]], np.int8))
        b = qtensor("b", (2,), 1.0, 0, "int32", data=np.array([2**31 - 200, -(2**31) + 73], np.int32))
        g = one_op("FULLY_CONNECTED", [x, w, b], qtensor("y", (1, 2), so, 5))
        xs = np.array([[[127]], [[-128]], [[0]], [[72]]], np.int8)
        outs[label] = picoml.run(g, xs)
        assert_int_equal(outs[label], tflm_run(to_tflite(g), xs), label)
    assert quantize_multiplier(2.0**-32 * 0.9999999) == (0, 0)
    assert (outs["flushed"] == 5).all() and (outs["kept"] != 5).any()


# ------------------------------------------------------------------------ refused
# tflm: "prepare" = TFLM fails Prepare too (checked); "undefined" = TFLM runs, but on undefined
# behaviour (not a specification); "abort" = TFLM aborts the process (not run here).
REFUSE = {
    "conv out 1e-30": (lambda: conv(0.05, 0.01, 1e-30), "undefined", "'y'"),
    "conv in 1e30": (lambda: conv(1e30, 0.01, 0.1), "undefined", "'y'"),
    "conv w 1e30": (lambda: conv(0.05, 1e30, 0.1, bias=False), "undefined", "'y'"),
    "conv shift 31": (lambda: conv(0.05, 0.01, SHIFT31_OUT), "undefined", "'y'"),
    "conv per-channel with a 1e30 channel": (
        lambda: conv(0.05, [1e-30, 0.01, 1e30, 1e-5], 0.1),
        "undefined",
        "channel 2",
    ),
    "conv relu6 out 1e-10": (lambda: conv(0.05, 0.01, 1e-10, "RELU6"), "prepare", "'y'"),
    "conv relu_n1_to_1 denormal": (lambda: conv(1e-40, 1e-40, 1e-40, "RELU_N1_TO_1", bias=False), "prepare", "'y'"),
    "dwconv out 1e-30": (lambda: dwconv(0.05, 0.01, 1e-30), "undefined", "'y'"),
    "dwconv relu6 out 1e-10": (lambda: dwconv(0.05, 0.01, 1e-10, "RELU6"), "prepare", "'y'"),
    "fc out 1e-30": (lambda: fc(0.05, 0.01, 1e-30, bias=False), "undefined", "'y'"),
    "fc w 1e30": (lambda: fc(0.05, 1e30, 0.1, bias=False), "undefined", "'y'"),
    "fc per-channel with a 1e30 channel": (
        lambda: fc(0.05, [1e-30, 0.01, 1e30, 1e-5, 1e-12], 0.1),
        "undefined",
        "channel 2",
    ),
    "fc bias scale rounding at out 1e-30": (lambda: fc(0.05, 0.01, 1e-30), "prepare", "'b'"),
    "fc bias scale off by 0.021 steps": (
        lambda: fc(0.05, 0.01, 0.1, bias_scale=0.0005 + 0.021 * 0.1),
        "prepare",
        "'b'",
    ),
    "add relu6 all 1e-30": (lambda: binary("ADD", 1e-30, 1e-30, 1e-30, "RELU6"), "prepare", "'y'"),
    "mul in 1e30": (lambda: binary("MUL", 1e30, 0.1, 0.1), "undefined", "'y'"),
    "mul shift 31": (lambda: binary("MUL", 0.1, 0.1, 5e-12), "undefined", "'y'"),
    "mul relu6 out 1e-30": (lambda: binary("MUL", 1e-30, 1e-30, 1e-30, "RELU6"), "prepare", "'y'"),
    "requantize out 1e-30": (lambda: unary("QUANTIZE", 0.1, 1e-30), "undefined", "'y'"),
    "requantize shift 33": (lambda: unary("QUANTIZE", 0.1, 2e-11), "undefined", "'y'"),
    "relu out 1e-30": (lambda: unary("RELU", 0.1, 1e-30), "undefined", "'y'"),
    "relu6 scale 1e-30": (lambda: unary("RELU6", 1e-30, 1e-30, zpo=3), "undefined", "'x'"),
    "relu6 scale denormal": (lambda: unary("RELU6", 1e-40, 1e-40, zpo=3), "undefined", "'x'"),
    "mean out 1e-30": (lambda: mean(0.1, 1e-30), "undefined", "'y'"),
    "mean out denormal": (lambda: mean(0.1, 1e-40), "undefined", "'y'"),
    "avgpool relu6 1e-30 (uninitialised bound)": (
        lambda: pool("AVERAGE_POOL_2D", 1e-30, 1e-30, "RELU6"),
        "undefined",
        "'y'",
    ),
    "maxpool relu_n1_to_1 denormal": (lambda: pool("MAX_POOL_2D", 1e-40, 1e-40, "RELU_N1_TO_1"), "undefined", "'y'"),
    "avgpool output scale 1e30": (lambda: pool("AVERAGE_POOL_2D", 0.1, 1e30), "prepare", "'x'"),
    "maxpool output zero point": (lambda: pool("MAX_POOL_2D", 0.1, 0.1, zpo=2), "prepare", "'x'"),
    "concat scales 1e-30 and 1e30": (lambda: concat(1e-30, 1e30, 1e-30), "prepare", "'c'"),
    "concat scale one ulp apart": (
        lambda: concat(0.1, float(np.nextafter(np.float32(0.1), np.float32(1))), 0.1),
        "prepare",
        "'c'",
    ),
    "concat zero point": (lambda: concat(0.1, 0.1, 0.1, 1, 1, 2), "prepare", "'a'"),
    "softmax in 1e-30": (lambda: softmax(1e-30, 1.0), "abort", "SOFTMAX"),
    "softmax beta 1e-20": (lambda: softmax(0.1, 1e-20), "abort", "SOFTMAX"),
    "logistic in 1e30": (lambda: sigmoid_like("LOGISTIC", 1e30), "undefined", "'x'"),
    "logistic in 1e-30": (lambda: sigmoid_like("LOGISTIC", 1e-30), "undefined", "'x'"),
    "tanh in 3e38": (lambda: sigmoid_like("TANH", 3e38), "undefined", "'x'"),
    "tanh in denormal": (lambda: sigmoid_like("TANH", 1e-40), "undefined", "'x'"),
}


def check_refusal_message(msg: str, op_type: str, names: str) -> None:
    assert "\n" not in msg, msg
    assert msg.startswith(f"{op_type} '{OP_NAME}'"), msg
    assert names in msg, msg


@pytest.mark.parametrize("case", list(REFUSE))
def test_refused_at_prepare(case):
    build, tflm, names = REFUSE[case]
    g = build()  # validates
    with pytest.raises(UnsupportedError) as e:
        picoml.Interpreter(g)  # prepare time, before any input is seen
    check_refusal_message(str(e.value), g.ops[0].type, names)
    if tflm == "prepare":
        rng = _rng(case)
        with pytest.raises(RuntimeError):
            tflm_run(to_tflite(g), [random_input(t, 1, rng) for t in g.inputs])


def test_add_output_multiplier_above_one_is_refused_at_validate():
    """QuantizeMultiplierSmallerThanOneExp aborts TFLM for ADD's output rescale >= 1."""
    with pytest.raises(UnsupportedError) as e:
        binary("ADD", 0.1, 0.1, 1e-30)
    assert "\n" not in str(e.value) and "ADD" in str(e.value) and "'y'" in str(e.value)


@pytest.mark.parametrize("case", ["conv out 1e30", "conv per-channel flush/denormal/tiny mix", "fc per-channel mix"])
def test_generated_c_handles_flushed_multipliers(case):
    """Multipliers flushed to (0, 0) and denormal weight scales generate C that is bit-exact
    with the interpreter (which the cases above hold to TFLM)."""
    from picoml.flows.verify import verify

    rep = verify(MATCH[case](), "host", n_inputs=N, counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch


def test_codegen_refuses_with_the_same_error():
    from picoml.codegen import generate_c

    with pytest.raises(UnsupportedError, match=r"CONV_2D 'layer7': output 'y'.*2\^30 or more"):
        generate_c(conv(0.05, 0.01, 1e-30))


# ------------------------------------------------------------------------ random extreme scales
_exp = st.floats(-44.0, 38.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    op_type=st.sampled_from(["CONV_2D", "FULLY_CONNECTED", "MUL", "QUANTIZE", "RELU"]),
    e=st.tuples(_exp, _exp, _exp),
    act=st.sampled_from(["NONE", "RELU", "RELU6"]),
    seed=st.integers(0, 2**31),
)
def test_random_extreme_scales(op_type, e, act, seed):
    """Log-uniform scales over the whole float32 range: picoml either matches TFLM exactly or
    refuses at prepare, and then TFLM fails Prepare too or is in undefined behaviour."""
    s = [float(np.float32(10.0**v)) for v in e]
    if min(s) <= 0 or not all(np.isfinite(s)):
        return
    if op_type == "CONV_2D":
        g = conv(s[0], s[1], s[2], act, bias=False, key=str(seed))
    elif op_type == "FULLY_CONNECTED":
        g = fc(s[0], s[1], s[2], act, bias=False, key=str(seed))
    elif op_type == "MUL":
        g = binary("MUL", s[0], s[1], s[2], act)
    else:
        g = unary(op_type, s[0], s[2])
    rng = np.random.default_rng(seed)
    xs = [random_input(t, 3, rng) for t in g.inputs]
    try:
        ip = picoml.Interpreter(g)
    except UnsupportedError as err:
        msg = str(err)
        check_refusal_message(msg, op_type, "'")
        if "requantization multiplier" not in msg:  # not undefined behaviour: TFLM fails Prepare
            with pytest.raises(RuntimeError):
                tflm_run(to_tflite(g), xs)
        return
    got = ip.run(xs if len(xs) > 1 else xs[0])
    assert_int_equal(got, tflm_run(to_tflite(g), xs), f"{op_type} scales {s} {act}")
