"""Generated C for the 16x8 layers and int16 edges (codegen/emit_s16.py): bit-exact with the
reference interpreter (itself exact with tflite-micro: tests/kernels/test_s16_*.py) on the host
under ASan/UBSan and on emulated Cortex-M4 and Cortex-M0+; warning-free under -Werror for MCUs;
the int kernels float-free."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import compile_c
from picoml.codegen.emit_s16 import FLOAT_EDGE_FILE, S16_FILES
from picoml.flows.verify import verify
from picoml.graph import Graph, Op
from picoml.graph.ops import default_attrs
from picoml.targets import simavr

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers
from oracles import qtensor, random_input, single_op_graph

RNG_SEED = 5


def _w(rng, shape, oc, per_channel, axis):
    ws = (rng.random(oc) * 0.03 + 1e-3).astype(np.float32) if per_channel else np.float32(0.02)
    zp = np.zeros(oc if per_channel else 1, np.int64)
    return qtensor("w", shape, ws, zp, "int8", rng.integers(-127, 128, shape, dtype=np.int8), axis=axis), ws


def _b(rng, oc, dtype, s_in, ws, span=1 << 22):
    scale = (np.float32(s_in) * np.broadcast_to(np.float32(ws), (oc,))).astype(np.float32)
    per = np.ndim(ws) > 0
    data = rng.integers(-span, span + 1, oc).astype(dtype)
    return qtensor("b", (oc,), scale if per else scale[:1], np.zeros(oc if per else 1, np.int64), dtype, data)


def fc_graph(bias="int64", act="NONE"):
    rng = np.random.default_rng(1)
    x = qtensor("x", (2, 24), 0.003, 0, "int16")
    w, ws = _w(rng, (7, 24), 7, False, 0)
    ins = [x, w] + ([_b(rng, 7, bias, 0.003, ws)] if bias else [])
    return single_op_graph("FULLY_CONNECTED", ins, qtensor("y", (2, 7), 0.05, 0, "int16"), fused_activation=act)


def conv_graph(bias="int64", stride=1, padding="SAME", act="RELU"):
    rng = np.random.default_rng(2)
    x = qtensor("x", (1, 7, 7, 3), 0.002, 0, "int16")
    w, ws = _w(rng, (5, 3, 3, 3), 5, True, 0)
    ins = [x, w] + ([_b(rng, 5, bias, 0.002, ws)] if bias else [])
    from picoml.graph.ops import out_size

    o = out_size(7, 3, stride, 1, padding)
    y = qtensor("y", (1, o, o, 5), 0.03, 0, "int16")
    return single_op_graph("CONV_2D", ins, y, padding=padding, stride_h=stride, stride_w=stride, fused_activation=act)


def dw_graph(mult=2, stride=1, padding="SAME"):
    rng = np.random.default_rng(3)
    x = qtensor("x", (1, 6, 6, 3), 0.004, 0, "int16")
    oc = 3 * mult
    w, ws = _w(rng, (1, 3, 3, oc), oc, True, 3)
    from picoml.graph.ops import out_size

    o = out_size(6, 3, stride, 1, padding)
    y = qtensor("y", (1, o, o, oc), 0.01, 0, "int16")
    return single_op_graph(
        "DEPTHWISE_CONV_2D",
        [x, w, _b(rng, oc, "int64", 0.004, ws)],
        y,
        padding=padding,
        stride_h=stride,
        stride_w=stride,
        depth_multiplier=mult,
    )


def quantize_graph(src, dst):
    x = qtensor(
        "x", (3, 5), 0.02 if src != "float32" else [], 3 if src == "int8" else 0 if src != "float32" else [], src
    )
    y = qtensor(
        "y", (3, 5), 0.05 if dst != "float32" else [], 0 if dst != "int8" else -4 if dst != "float32" else [], dst
    )
    return single_op_graph("DEQUANTIZE" if dst == "float32" else "QUANTIZE", [x], y)


def chain_graph():
    """float32 → QUANTIZE int16 → CONV (int32 bias) → PAD → DEPTHWISE → CONCATENATION → FC → QUANTIZE int8
    → QUANTIZE int16 → DEQUANTIZE float32: every emitter of the module in one library."""
    rng = np.random.default_rng(4)
    t = {}

    def tensor(name, shape, scale, zp=0, dtype="int16", data=None, axis=0):
        t[name] = qtensor(name, shape, scale, zp, dtype, data, axis)
        return t[name]

    x = tensor("x", (1, 6, 6, 2), [], [], "float32")
    q = tensor("q", (1, 6, 6, 2), 0.001)
    w1, ws1 = _w(rng, (4, 3, 3, 2), 4, True, 0)
    w1.name = "w1"
    b1 = _b(rng, 4, "int32", 0.001, ws1, 1 << 12)
    b1.name = "b1"
    c1 = tensor("c1", (1, 6, 6, 4), 0.004)
    pads = qtensor("pads", (4, 2), [], [], "int32", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    p1 = tensor("p1", (1, 8, 8, 4), 0.004)
    w2, ws2 = _w(rng, (1, 3, 3, 4), 4, True, 3)
    w2.name = "w2"
    b2 = _b(rng, 4, "int64", 0.004, ws2)
    b2.name = "b2"
    d1 = tensor("d1", (1, 6, 6, 4), 0.01)
    cat = tensor("cat", (1, 6, 6, 8), 0.01)
    shape = qtensor("shape", (2,), [], [], "int32", np.array([1, 288], np.int32))
    r = tensor("r", (1, 288), 0.01)
    w3, ws3 = _w(rng, (6, 288), 6, False, 0)
    w3.name = "w3"
    b3 = _b(rng, 6, "int64", 0.01, ws3)
    b3.name = "b3"
    f = tensor("f", (1, 6), 0.2)
    q8 = tensor("q8", (1, 6), 0.3, -5, "int8")
    q16 = tensor("q16", (1, 6), 0.01)
    out = tensor("out", (1, 6), [], [], "float32")

    def op(kind, ins, outs, **attrs):
        a = default_attrs(kind)
        a.update(attrs)
        return Op(kind, ins, outs, a, name=outs[0].name)

    conv_a = dict(padding="SAME", stride_h=1, stride_w=1)
    ops = [
        op("QUANTIZE", [x], [q]),
        op("CONV_2D", [q, w1, b1], [c1], **conv_a),
        op("PAD", [c1, pads], [p1]),
        op("DEPTHWISE_CONV_2D", [p1, w2, b2], [d1], padding="VALID", stride_h=1, stride_w=1, depth_multiplier=1),
        op("CONCATENATION", [d1, d1], [cat], axis=3),
        op("RESHAPE", [cat, shape], [r], new_shape=[1, 288]),
        op("FULLY_CONNECTED", [r, w3, b3], [f]),
        op("QUANTIZE", [f], [q8]),
        op("QUANTIZE", [q8], [q16]),
        op("DEQUANTIZE", [q16], [out]),
    ]
    tensors = [x, q, w1, b1, c1, pads, p1, w2, b2, d1, cat, shape, r, w3, b3, f, q8, q16, out]
    g = Graph(tensors, ops, [x], [out], name="chain16")
    g.validate()
    return g


def sigmoid_graph(op_type, s_in):
    x = qtensor("x", (4096,), s_in, 0, "int16")
    return single_op_graph(op_type, [x], qtensor("y", (4096,), 2.0**-15, 0, "int16"))


def binary_graph(op_type, sa, sb):
    a, b = qtensor("a", sa, 0.01, 0, "int16"), qtensor("b", sb, 0.02, 0, "int16")
    so = 0.03 if op_type != "MUL" else 2.0
    shape = np.broadcast_shapes(sa, sb)
    attrs = {"fused_activation": "RELU"} if op_type == "ADD" else {}
    so = so if op_type not in ("MAXIMUM", "MINIMUM") else 0.01
    return single_op_graph(op_type, [a, b], qtensor("y", shape, so, 0, "int16"), **attrs)


def pool_graph(op_type, k, stride, padding):
    from picoml.graph.ops import out_size

    x = qtensor("x", (1, 7, 7, 3), 0.01, 0, "int16")
    o = out_size(7, k, stride, 1, padding)
    y = qtensor("y", (1, o, o, 3), 0.01, 0, "int16")
    return single_op_graph(
        op_type,
        [x],
        y,
        filter_h=k,
        filter_w=k,
        stride_h=stride,
        stride_w=stride,
        padding=padding,
        fused_activation="RELU6",
    )


def mean_graph(shape, axes, keep, op_type="MEAN"):
    x = qtensor("x", shape, 0.01, 0, "int16")
    ax = qtensor("axes", (len(axes),), [], [], "int32", np.array(axes, np.int32))
    out = (
        [1 if i in axes else d for i, d in enumerate(shape)]
        if keep
        else [d for i, d in enumerate(shape) if i not in axes]
    )
    return single_op_graph(
        op_type, [x, ax], qtensor("y", out, 0.004 if op_type == "MEAN" else 0.1, 0, "int16"), keep_dims=keep
    )


def softmax_graph(shape, beta):
    x = qtensor("x", shape, 0.0007, 0, "int16")
    return single_op_graph("SOFTMAX", [x], qtensor("y", shape, 2.0**-15, 0, "int16"), beta=beta)


def act_graph(op_type, alpha=0.0):
    x = qtensor("x", (4096,), 0.001, 0, "int16")
    y = qtensor("y", (4096,), 0.001 if op_type == "RELU6" else 0.0007, 0, "int16")
    return single_op_graph(op_type, [x], y, **({"alpha": alpha} if op_type == "LEAKY_RELU" else {}))


def tc_graph(stride, padding, bias="int64"):
    rng = np.random.default_rng(6)
    x = qtensor("x", (1, 4, 5, 3), 0.003, 0, "int16")
    w, ws = _w(rng, (4, 3, 3, 3), 4, True, 0)
    oh, ow = (4 * stride, 5 * stride) if padding == "SAME" else (3 * stride + 3, 4 * stride + 3)
    shape = qtensor("shape", (4,), [], [], "int32", np.array([1, oh, ow, 4], np.int32))
    ins = [x, w, shape] + ([_b(rng, 4, bias, 0.003, ws, 1 << 12)] if bias else [])
    y = qtensor("y", (1, oh, ow, 4), 0.02, 0, "int16")
    return single_op_graph("TRANSPOSE_CONV", ins, y, padding=padding, stride_h=stride, stride_w=stride)


def bmm_graph(const_rhs, adj_y):
    rng = np.random.default_rng(9)
    lhs = qtensor("lhs", (2, 3, 6), 0.002, 0, "int16")
    shape = (2, 5, 6) if adj_y else (2, 6, 5)
    data = rng.integers(-32768, 32768, shape).astype(np.int16) if const_rhs else None
    rhs = qtensor("rhs", shape, 0.003, 0, "int16", data)
    return single_op_graph("BATCH_MATMUL", [lhs, rhs], qtensor("y", (2, 3, 5), 0.05, 0, "int16"), adj_y=adj_y)


ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16).reshape(16, 4096)

GRAPHS = {
    "fc_int64": lambda: fc_graph("int64", "RELU6"),
    "fc_int32": lambda: fc_graph("int32"),
    "fc_nobias": lambda: fc_graph(None, "RELU_N1_TO_1"),
    "conv_int64": lambda: conv_graph("int64"),
    "conv_int32": lambda: conv_graph("int32", 2, "VALID", "NONE"),
    "conv_nobias": lambda: conv_graph(None),
    "dw_mult2": lambda: dw_graph(2),
    "dw_s2": lambda: dw_graph(1, 2, "VALID"),
    "q_16_8": lambda: quantize_graph("int16", "int8"),
    "q_8_16": lambda: quantize_graph("int8", "int16"),
    "q_16_16": lambda: quantize_graph("int16", "int16"),
    "q_32_16": lambda: quantize_graph("int32", "int16"),
    "q_32_8": lambda: quantize_graph("int32", "int8"),
    "q_f_16": lambda: quantize_graph("float32", "int16"),
    "dq_16_f": lambda: quantize_graph("int16", "float32"),
    "logistic_pot": lambda: sigmoid_graph("LOGISTIC", 2.0**-12),
    "logistic": lambda: sigmoid_graph("LOGISTIC", 0.0007),
    "tanh_pot1": lambda: sigmoid_graph("TANH", 2.0**-11),
    "tanh": lambda: sigmoid_graph("TANH", 3.1e-4),
    "add_bcast": lambda: binary_graph("ADD", (2, 3, 4), (4,)),
    "sub": lambda: binary_graph("SUB", (3, 5), (3, 5)),
    "mul_bcast": lambda: binary_graph("MUL", (1, 3, 1), (2, 1, 5)),
    "avgpool": lambda: pool_graph("AVERAGE_POOL_2D", 3, 2, "SAME"),
    "maxpool": lambda: pool_graph("MAX_POOL_2D", 2, 1, "VALID"),
    "mean_hw": lambda: mean_graph((1, 4, 5, 3), [1, 2], True),
    "mean_mixed": lambda: mean_graph((2, 3, 4, 5), [0, 2], False),
    "maximum": lambda: binary_graph("MAXIMUM", (2, 3, 4), (4,)),
    "minimum": lambda: binary_graph("MINIMUM", (3, 1), (1, 5)),
    "sum": lambda: mean_graph((2, 3, 4, 5), [1, 3], True, "SUM"),
    "softmax": lambda: softmax_graph((3, 10), 1.0),
    "softmax_long": lambda: softmax_graph((1, 300), 0.5),
    "tconv_s2_same": lambda: tc_graph(2, "SAME"),
    "tconv_s3_valid_int16_bias": lambda: tc_graph(3, "VALID", "int16"),
    "tconv_s1_nobias": lambda: tc_graph(1, "SAME", None),
    "bmm": lambda: bmm_graph(False, False),
    "bmm_const_adj": lambda: bmm_graph(True, True),
    "relu": lambda: act_graph("RELU"),
    "abs": lambda: act_graph("ABS"),
    "resize_nearest": lambda: single_op_graph(
        "RESIZE_NEAREST_NEIGHBOR",
        [qtensor("x", (1, 3, 4, 3), 0.01, 0, "int16"), qtensor("s", (2,), [], [], "int32", np.array([7, 5], np.int32))],
        qtensor("y", (1, 7, 5, 3), 0.01, 0, "int16"),
        half_pixel_centers=True,
    ),
    "relu6": lambda: act_graph("RELU6"),
    "leaky_relu": lambda: act_graph("LEAKY_RELU", 0.1),
    "leaky_relu_neg": lambda: act_graph("LEAKY_RELU", -0.7),
}


def _inputs(g, n=6):
    rng = np.random.default_rng(RNG_SEED)
    if len(g.inputs) > 1:
        return [random_input(t, n, rng) for t in g.inputs]
    t = g.inputs[0]
    if t.shape == (4096,) and t.dtype == "int16":
        return ALL_INT16  # every int16 value
    if t.dtype == "float32":
        return (rng.standard_normal((n, *t.shape)) * 20).astype(np.float32)
    if t.dtype == "int32":
        return rng.integers(-(1 << 20), 1 << 20, (n, *t.shape)).astype(np.int32)
    return random_input(t, n, rng)


def check(g, target):
    rep = verify(g, target, xs=_inputs(g), sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_host(name):
    check(GRAPHS[name](), "host")


def test_chain_host():
    check(chain_graph(), "host")


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus"])
def test_chain_emulated(target):
    rep = check(chain_graph(), target)
    assert rep.instructions


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus"])
@pytest.mark.parametrize(
    "name",
    [
        "fc_nobias",
        "conv_int32",
        "conv_nobias",
        "q_32_16",
        "logistic",
        "tanh_pot1",
        "add_bcast",
        "mul_bcast",
        "tconv_s2_same",
    ],
)
def test_emulated(name, target):
    check(GRAPHS[name](), target)


def test_int64_bias_beyond_int32_stays_int64():
    g = fc_graph("int64")
    b = g.ops[0].inputs[2]
    b.data = (b.data.astype(np.int64) * 4096).astype(np.int64)  # beyond int32
    assert np.abs(b.data).max() > (1 << 31)
    files = compile_c(g, "m").files
    assert "INT64_C(" in files["m.c"]
    check(g, "host")


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4"])
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    graphs = {
        k: GRAPHS[k]()
        for k in ("fc_int64", "conv_int32", "dw_mult2", "q_16_8", "tanh", "add_bcast", "softmax", "tconv_s2_same")
    }
    objs = build_objects(graphs, target, tmp_path)
    ks = [o for o in kernels(objs) if o.stem in S16_FILES]
    assert {o.stem for o in ks} == {"pm_layers_s16", "pm_quantize_s16", "pm_sigmoid_s16", "pm_ops_s16"}
    assert {o.stem for o in kernels(objs)} - {o.stem for o in ks} <= {
        "pm_mean_s8",
        "pm_batch_matmul_s8",
    }  # their headers' structs
    if target == "cortex-m0plus":
        # AVERAGE_POOL_2D divides by the window's tap count (as TFLite does); nothing else may
        helpers = slow_helpers([o for o in ks if o.stem != "pm_ops_s16"])
        assert helpers == [], f"the 16x8 kernels call soft-float or division helpers {helpers}"


def test_int_runtime_files_are_float_free():
    assert_runtime_float_free([f"{s}.{e}" for s in S16_FILES if s != FLOAT_EDGE_FILE for e in "hc"])


def test_int16_data_movement_host_and_m0plus():
    """STRIDED_SLICE, TRANSPOSE, SPLIT, PACK and friends are byte copies (codegen/emit_movement.py):
    int16 elements move as two bytes each."""
    x = qtensor("x", (1, 4, 5, 3), 0.01, 0, "int16")

    def i32(n, v):
        return qtensor(n, (len(v),), [], [], "int32", np.array(v, np.int32))

    graphs = [
        single_op_graph(
            "STRIDED_SLICE",
            [x, i32("b", [0, 1, 0, 0]), i32("e", [1, 4, 5, 3]), i32("s", [1, 2, 2, 1])],
            qtensor("y", (1, 2, 3, 3), 0.01, 0, "int16"),
        ),
        single_op_graph("TRANSPOSE", [x, i32("p", [0, 3, 1, 2])], qtensor("y", (1, 3, 4, 5), 0.01, 0, "int16")),
    ]
    for g in graphs:
        for target in ("host", "cortex-m0plus"):
            check(g, target)


def _small_sigmoid(op_type, s_in, **attrs):
    x = qtensor("x", (512,), s_in, 0, "int16")
    y = qtensor("y", (512,), 2.0**-15 if op_type != "LEAKY_RELU" else 0.0007, 0, "int16")
    return single_op_graph(op_type, [x], y, **attrs)


AVR_GRAPHS = ["fc_int64", "fc_nobias", "conv_int64", "conv_int32", "dw_mult2", "tconv_s2_same", "softmax_long"]
AVR_QUICK = ["fc_int64", "dw_mult2", "softmax_long", "logistic512"]  # the int64 rescale, LUTs, PROGMEM table
AVR_GRAPHS += ["add_bcast", "mul_bcast", "sum", "avgpool", "q_32_16", "resize_nearest", "bmm"]


@pytest.mark.slow  # 15 simavr runs: about a minute on a loaded machine
@pytest.mark.parametrize("name", AVR_GRAPHS + ["logistic512", "tanh512", "leaky512"])
def test_avr_bit_exact(name):
    _avr(name)


@pytest.mark.parametrize("name", AVR_QUICK)
def test_avr_bit_exact_quick(name):
    _avr(name)


def _avr(name):
    """AVR: int is 16 bits there (every constant shift in the kernels is int32_t; an int `1 << 15`
    broke the int64 rescale's rounding), the tables stay in program memory."""
    if simavr.missing():
        pytest.skip(simavr.missing())
    extra = {
        "logistic512": lambda: _small_sigmoid("LOGISTIC", 0.0007),
        "tanh512": lambda: _small_sigmoid("TANH", 2.0**-11),
        "leaky512": lambda: _small_sigmoid("LEAKY_RELU", 0.001, alpha=-0.7),
    }
    g = extra[name]() if name in extra else GRAPHS[name]()
    xs = ALL_INT16.reshape(128, 512)[::9][:6] if name in extra else _inputs(g, 3)
    rep = verify(g, "atmega2560", xs=xs, counted_runs=1)
    assert rep.bit_exact, f"atmega2560: {rep.mismatches} mismatches; {rep.first_mismatch}"
