"""TRANSPOSE_CONV vs tflite-micro (int8, exact) and LiteRT (float32, within the oracles' 1e-5: LiteRT
sums in float32 through im2col/GEMM/col2im, picoml in float64): shapes, strides, SAME/VALID, the
output rows VALID adds beyond the taps, per-channel and per-tensor weights, optional bias, every
fused activation, and the refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import GraphError, UnsupportedError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Tensor
from picoml.graph.ops import OpType, op_macs

from oracles import check_against_oracle, qtensor, random_input, single_op_graph, tflm_run, to_tflite
from strategies import ACTS, DTYPES, PADDINGS, act_quant, act_tensor, bias, output_scale, weights


def tc_graph(
    dtype,
    n,
    ih,
    iw,
    ic,
    oc,
    kh,
    kw,
    sh,
    sw,
    padding,
    act,
    extra_h=0,
    extra_w=0,
    per_channel=True,
    with_bias=True,
    qin=(0.05, 3),
    zp_out=-5,
    seed=0,
    wt=None,
):
    """A TRANSPOSE_CONV graph; VALID outputs may be up to stride - 1 rows/columns larger (extra_h/w)."""
    rng = np.random.default_rng(seed)
    if padding == "SAME":
        oh, ow = ih * sh, iw * sw
    else:
        oh, ow = (ih - 1) * sh + kh + extra_h, (iw - 1) * sw + kw + extra_w
    x = act_tensor("x", (n, ih, iw, ic), dtype, qin)
    w = wt if wt is not None else weights(rng, "w", (oc, kh, kw, ic), dtype, 0, per_channel)
    b = bias(rng, "b", oc, dtype, qin[0], w) if with_bias else None
    qout = (output_scale(rng, qin[0], w, kh * kw * ic), zp_out) if dtype == "int8" else None
    y = act_tensor("y", (n, oh, ow, oc), dtype, qout)
    shape = Tensor("output_shape", (4,), "int32", data=np.array([n, oh, ow, oc], np.int32))
    return single_op_graph(
        OpType.TRANSPOSE_CONV, [x, w, shape, b], y, padding=padding, stride_h=sh, stride_w=sw, fused_activation=act
    )


@settings(max_examples=120, deadline=None)
@given(
    dtype=DTYPES,
    n=st.integers(1, 2),
    ih=st.integers(1, 7),
    iw=st.integers(1, 7),
    ic=st.integers(1, 6),
    oc=st.integers(1, 6),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    padding=PADDINGS,
    act=ACTS,
    extra=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    per_channel=st.booleans(),
    with_bias=st.booleans(),
    qin=act_quant(),
    zp_out=st.integers(-128, 127),
    seed=st.integers(0, 2**31),
)
def test_transpose_conv(
    dtype, n, ih, iw, ic, oc, kh, kw, sh, sw, padding, act, extra, per_channel, with_bias, qin, zp_out, seed
):
    eh, ew = (min(extra[0], sh - 1), min(extra[1], sw - 1)) if padding == "VALID" else (0, 0)
    g = tc_graph(
        dtype, n, ih, iw, ic, oc, kh, kw, sh, sw, padding, act, eh, ew, per_channel, with_bias, qin, zp_out, seed
    )
    check_against_oracle(g, random_input(g.inputs[0], 3, np.random.default_rng(seed + 1)), f"transpose conv {dtype}")


def test_int8_applies_the_fused_activation():
    """The tflite-micro release picoml is checked against clamps int8 outputs to the fused
    activation (older releases passed kTfLiteActNone for int8 and ignored it)."""
    g = tc_graph("int8", 1, 3, 3, 2, 3, 3, 3, 2, 2, "SAME", "RELU6", seed=3)
    xs = random_input(g.inputs[0], 4, np.random.default_rng(4))
    got = check_against_oracle(g, xs)
    y = g.outputs[0]
    lo = int(y.zero_point[0])
    assert got.min() >= lo and (got == lo).any()  # the RELU clamp bites


def test_accumulator_is_int32_and_wraps():
    """tflite-micro's int8 kernel accumulates in an int32 scratch buffer. A 1x1 filter over 64
    input channels of -128 against weights of 127 with input zero point 127 sums
    64 · (-255) · 127 = -2,072,640; a bias of -2^31 + 2^20 takes acc + bias below -2^31, and the
    int32 sum wraps to a large positive value."""
    oc, ic = 1, 64
    w = qtensor("w", (oc, 1, 1, ic), [1e-4], [0], data=np.full((oc, 1, 1, ic), 127, np.int8))
    x = qtensor("x", (1, 2, 2, ic), 0.01, 127)
    y = qtensor("y", (1, 2, 2, oc), 100.0, 0)
    b = qtensor("b", (oc,), [1e-6], [0], "int32", data=np.array([-(2**31) + 2**20], np.int32))
    shape = Tensor("output_shape", (4,), "int32", data=np.array([1, 2, 2, oc], np.int32))
    g = single_op_graph(OpType.TRANSPOSE_CONV, [x, w, shape, b], y, padding="VALID", stride_h=1, stride_w=1)
    xs = np.full((1, 1, 2, 2, ic), -128, np.int8)
    got = check_against_oracle(g, xs, "wrap")
    assert (got == 21).all()  # (2^31 - 1,024,064) · 1e-8; without the wrap it would be -21


def test_weights_without_bias_and_per_tensor():
    g = tc_graph("int8", 1, 4, 3, 3, 5, 4, 4, 2, 2, "SAME", "NONE", per_channel=False, with_bias=False, seed=5)
    check_against_oracle(g, random_input(g.inputs[0], 3, np.random.default_rng(6)))


def test_macs_count_every_tap_of_every_input_value():
    g = tc_graph("float32", 2, 3, 4, 5, 6, 3, 2, 2, 2, "SAME", "NONE")
    assert op_macs(g.ops[0]) == 2 * 3 * 4 * 5 * 6 * 3 * 2


def test_file_input_order_is_output_shape_weights_input_bias():
    from ai_edge_litert import schema_py_generated as s

    g = tc_graph("int8", 1, 2, 2, 3, 4, 3, 3, 2, 2, "SAME", "RELU")
    data = to_tflite(g)
    m = s.Model.GetRootAsModel(data, 0)
    sg, o = m.Subgraphs(0), m.Subgraphs(0).Operators(0)
    names = [sg.Tensors(o.Inputs(k)).Name().decode() for k in range(o.InputsLength())]
    assert names == ["output_shape", "w", "x", "b"]
    assert m.OperatorCodes(o.OpcodeIndex()).BuiltinCode() == s.BuiltinOperator.TRANSPOSE_CONV
    t = s.TransposeConvOptions()
    t.Init(o.BuiltinOptions().Bytes, o.BuiltinOptions().Pos)
    assert (t.Padding(), t.StrideW(), t.StrideH(), t.FusedActivationFunction()) == (0, 2, 2, 1)
    g2 = read_tflite_bytes(data)
    assert [t.name for t in g2.ops[0].inputs] == ["x", "w", "output_shape", "b"]
    assert g.diff(g2) == []
    xs = random_input(g.inputs[0], 2, np.random.default_rng(0))
    np.testing.assert_array_equal(picoml.run(g2, xs), tflm_run(data, xs))


def test_three_input_file_round_trips():
    g = tc_graph("float32", 1, 2, 2, 3, 4, 3, 3, 2, 2, "VALID", "NONE", with_bias=False)
    g2 = read_tflite_bytes(to_tflite(g))
    assert len(g2.ops[0].inputs) == 3 and g.diff(g2) == []


@pytest.mark.parametrize(
    "change, match",
    [
        ({"out": (1, 5, 4, 2)}, "does not match output height"),
        ({"out": (1, 4, 4, 3)}, "output_shape"),
        ({"wic": 2}, "expect 2"),
        ({"stride": 0}, "stride_h must be positive"),
    ],
)
def test_refusals(change, match):
    x = act_tensor("x", (1, 2, 2, 3), "float32")
    w = Tensor("w", (2, 3, 3, change.get("wic", 3)), data=np.zeros((2, 3, 3, change.get("wic", 3)), np.float32))
    out = change.get("out", (1, 4, 4, 2))
    shape = Tensor("output_shape", (4,), "int32", data=np.array(out, np.int32))
    y = act_tensor("y", out, "float32")
    st_ = change.get("stride", 2)
    with pytest.raises(GraphError, match=match):
        single_op_graph(OpType.TRANSPOSE_CONV, [x, w, shape, None], y, stride_h=st_, stride_w=2)


def test_refuses_hybrid_weights():
    x = act_tensor("x", (1, 2, 2, 3), "float32")
    w = qtensor("w", (2, 3, 3, 3), [0.1], [0], data=np.ones((2, 3, 3, 3), np.int8))
    shape = Tensor("output_shape", (4,), "int32", data=np.array([1, 4, 4, 2], np.int32))
    g = single_op_graph(
        OpType.TRANSPOSE_CONV, [x, w, shape], act_tensor("y", (1, 4, 4, 2), "float32"), stride_h=2, stride_w=2
    )
    with pytest.raises(UnsupportedError, match="hybrid"):
        picoml.run(g, np.zeros((1, 1, 2, 2, 3), np.float32))


def test_huge_filter_is_bounded_by_the_memory_limit(monkeypatch):
    """A 4160x4160 int8 filter (17 MB) that a 1x1 input scatters into a 2048x2048 output: the
    reference accumulates over the taps' extent, 4160² int64 values (138 MB), far more than the
    output. ``transpose_conv.windows`` declares it, so a 128 MiB limit refuses the graph in one
    line; without the declaration the estimate would let it through. (The reference loops over
    the one input pixel here, not over the 17 M taps.)"""
    from picoml.reference import KERNELS, Kernel, no_windows
    from picoml.reference.interpreter import working_bytes

    k, out = 4160, 2048
    w = qtensor("w", (1, k, k, 1), [0.01], [0], data=np.zeros((1, k, k, 1), np.int8))
    shape = Tensor("output_shape", (4,), "int32", data=np.array([1, out, out, 1], np.int32))
    x, y = qtensor("x", (1, 1, 1, 1), 0.1, 0), qtensor("y", (1, out, out, 1), 0.1, 0)
    g = single_op_graph(OpType.TRANSPOSE_CONV, [x, w, shape], y, stride_h=out, stride_w=out)
    with pytest.raises(picoml.PicomlError, match="memory"):
        picoml.run(g, np.zeros((1, 1, 1, 1, 1), np.int8), max_memory=128 << 20)
    kern = KERNELS[OpType.TRANSPOSE_CONV]
    monkeypatch.setitem(KERNELS, OpType.TRANSPOSE_CONV, Kernel(kern.prepare, kern.evaluate, no_windows))
    assert working_bytes(g)[0] < 128 << 20


def test_large_filter_path_vs_tflite_micro():
    """Filters with more taps than the input has pixels take the per-input-pixel loop."""
    for seed, (ih, k, s) in enumerate([(1, 3, 2), (2, 5, 2), (2, 4, 1)]):
        g = tc_graph("int8", 1, ih, ih, 3, 4, k, k, s, s, "VALID", "NONE", seed=seed)
        check_against_oracle(g, random_input(g.inputs[0], 3, np.random.default_rng(seed)))
