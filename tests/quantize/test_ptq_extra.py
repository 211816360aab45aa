"""PTQ and QAT of graphs with ADD_N, MIRROR_PAD, PADV2, REVERSE_V2, L2_NORMALIZATION, LOG_SOFTMAX, GELU
and RELU_N1_TO_1, and the whole path: the int8 graph equals tflite-micro (LiteRT for the GELU /
RELU_N1_TO_1 graph, which tflite-micro cannot run) and its generated C is bit-exact.

The parameter rules (tflite-micro's kernels): MIRROR_PAD, PADV2 and REVERSE_V2 outputs share their
input's parameters, PADV2's pad value is quantized as its output, ADD_N's inputs share one scale and
zero point (0: tflite-micro's int8 ADD_N adds an extra -zero point term, see reference/add_n.py,
which zero point 0 cancels), L2_NORMALIZATION writes (1/128, 0) and LOG_SOFTMAX (16/256, 127); GELU and RELU_N1_TO_1
take their own range (RELU_N1_TO_1's clamped to [-1, 1])."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs
from picoml.quantize.ptq import dequantize_output, quantize_input

from oracles import assert_int_equal, litert_run, tflm_run, to_tflite

torch = pytest.importorskip("torch")
from picoml.compress.qat import QATModel  # noqa: E402


def _op(op_type, ins, out, **attrs):
    return Op(op_type, ins, [out], {**default_attrs(op_type), **attrs}, name=out.name)


def _i32(name, v):
    v = np.asarray(v, np.int32)
    return Tensor(name, v.shape, "int32", data=v)


def pad_graph(seed: int = 0) -> Graph:
    """x (1, 4, 6) → FC → MIRROR_PAD (REFLECT) → REVERSE_V2 → PADV2 (0.75) → ADD_N with its
    SYMMETRIC twin → L2_NORMALIZATION → FC → LOG_SOFTMAX."""
    rng = np.random.default_rng(seed)
    x, h = Tensor("x", (1, 4, 6)), Tensor("h", (1, 4, 5))
    w1 = Tensor("w1", (5, 6), data=rng.standard_normal((5, 6)).astype(np.float32))
    m, r, p, s, sm = (Tensor(n, (1, 6, 8)) for n in ("m", "r", "p", "s", "sm"))
    n = Tensor("n", (1, 6, 8))
    w2 = Tensor("w2", (3, 8), data=rng.standard_normal((3, 8)).astype(np.float32))
    z, y = Tensor("z", (1, 6, 3)), Tensor("y", (1, 6, 3))
    value = Tensor("value", (1,), data=np.array([0.75], np.float32))
    ops = [
        _op("FULLY_CONNECTED", [x, w1, None], h, keep_num_dims=True),
        _op("MIRROR_PAD", [h, _i32("pm", [[0, 0], [1, 1], [2, 1]])], m, mode=0),
        _op("REVERSE_V2", [m, _i32("ax", [2, 1])], r),
        _op("PADV2", [h, _i32("pp", [[0, 0], [0, 2], [3, 0]]), value], p),
        _op("MIRROR_PAD", [h, _i32("ps", [[0, 0], [2, 0], [0, 3]])], sm, mode=1),
        _op("ADD_N", [r, p, sm], s),
        _op("L2_NORMALIZATION", [s], n),
        _op("FULLY_CONNECTED", [n, w2, None], z, keep_num_dims=True),
        _op("LOG_SOFTMAX", [z], y),
    ]
    ts = {t.name: t for op in ops for t in [*op.inputs, *op.outputs] if t is not None}
    g = Graph(list(ts.values()), ops, [x], [y], name="pads")
    g.validate()
    return g


def act_graph(seed: int = 0) -> Graph:
    """x (1, 12) → FC → GELU (tanh form) → FC → RELU_N1_TO_1."""
    rng = np.random.default_rng(seed)
    x, h, gl, z, y = (
        Tensor("x", (1, 12)),
        Tensor("h", (1, 10)),
        Tensor("g", (1, 10)),
        Tensor("z", (1, 4)),
        Tensor("y", (1, 4)),
    )
    w1 = Tensor("w1", (10, 12), data=rng.standard_normal((10, 12)).astype(np.float32))
    w2 = Tensor("w2", (4, 10), data=(rng.standard_normal((4, 10)) * 0.3).astype(np.float32))
    ops = [
        _op("FULLY_CONNECTED", [x, w1, None], h),
        _op("GELU", [h], gl, approximate=True),
        _op("FULLY_CONNECTED", [gl, w2, None], z),
        _op("RELU_N1_TO_1", [z], y),
    ]
    g = Graph([x, w1, h, gl, w2, z, y], ops, [x], [y], name="acts")
    g.validate()
    return g


def block_graph(seed: int = 0) -> Graph:
    """x (1, 4, 6, 3) → FC → SPACE_TO_BATCH_ND (2×2, padded below) → BATCH_TO_SPACE_ND (cropping the
    padding away: tflite-micro's padding value is undefined, see reference/space_batch.py) → CUMSUM
    (exclusive, reverse) → GATHER_ND at constant (row, column) pairs."""
    rng = np.random.default_rng(seed)
    x, h = Tensor("x", (1, 4, 6, 3)), Tensor("h", (1, 4, 6, 3))
    w = Tensor("w", (3, 3), data=rng.standard_normal((3, 3)).astype(np.float32))
    s, b, c, y = Tensor("s", (4, 3, 3, 3)), Tensor("b", (1, 4, 5, 3)), Tensor("c", (1, 4, 5, 3)), Tensor("y", (1, 4, 3))
    ops = [
        _op("FULLY_CONNECTED", [x, w, None], h, keep_num_dims=True),
        _op("SPACE_TO_BATCH_ND", [h, _i32("bs", [2, 2]), _i32("pad", [[0, 2], [0, 0]])], s),
        _op("BATCH_TO_SPACE_ND", [s, _i32("bb", [2, 2]), _i32("crop", [[0, 2], [1, 0]])], b),
        _op("CUMSUM", [b, _i32("axis", [2])], c, exclusive=True, reverse=True),
        _op("GATHER_ND", [c, _i32("idx", [[[0, 0, 1], [0, 3, 4], [0, 2, 0], [0, 1, 3]]])], y),
    ]
    ts = {t.name: t for op in ops for t in [*op.inputs, *op.outputs] if t is not None}
    g = Graph(list(ts.values()), ops, [x], [y], name="blocks")
    g.validate()
    return g


def test_ptq_block_graph_is_exact_with_tflite_micro():
    g = block_graph()
    x = data(g, 64, 6)
    q = picoml.quantize(g, x)
    t = {v.name: v for v in q.tensors}
    assert int(t["b"].zero_point[0]) == 0  # CUMSUM's input
    assert (t["y"].scale[0], t["y"].zero_point[0]) == (t["c"].scale[0], t["c"].zero_point[0])  # GATHER_ND shares
    xq = quantize_input(q, x[:16])
    got = picoml.run(q, xq)
    assert_int_equal(got, tflm_run(to_tflite(q), xq), "int8 block graph vs tflite-micro")
    want = picoml.run(g, x[:16])
    assert np.abs(dequantize_output(q, got) - want).max() < 0.05 * np.abs(want).max()


def data(g, n, seed):
    return np.random.default_rng(seed).standard_normal((n,) + g.inputs[0].shape).astype(np.float32)


def test_ptq_parameters_follow_tflite_micro():
    g = pad_graph()
    q = picoml.quantize(g, data(g, 64, 1))
    t = {v.name: v for v in q.tensors}

    def qp(name):
        return float(t[name].scale[0]), int(t[name].zero_point[0])

    assert qp("m") == qp("h") == qp("r") == qp("p") == qp("sm")  # shared with the input, and ADD_N's inputs
    assert qp("value") == qp("p") and t["value"].dtype == "int8"
    assert qp("n") == (1 / 128, 0) and qp("y") == (16 / 256, 127)
    assert qp("s") != qp("r")  # ADD_N's output takes its own range
    # ADD_N's inputs get zero point 0, which cancels tflite-micro's extra -zero point term
    assert qp("r")[1] == 0


def test_ptq_pad_graph_is_exact_with_tflite_micro():
    g = pad_graph()
    x = data(g, 64, 2)
    q = picoml.quantize(g, x)
    xq = quantize_input(q, x[:16])
    got = picoml.run(q, xq)
    assert_int_equal(got, tflm_run(to_tflite(q), xq), "int8 pad graph vs tflite-micro")
    err = np.abs(dequantize_output(q, got) - picoml.run(g, x[:16])).max()
    assert err < 0.5  # log-probabilities in steps of 1/16


def test_ptq_activation_graph_is_exact_with_litert():
    g = act_graph()
    x = data(g, 64, 3)
    q = picoml.quantize(g, x)
    t = {v.name: v for v in q.tensors}
    lo = (-128 - int(t["y"].zero_point[0])) * float(t["y"].scale[0])
    assert -1.02 < lo <= -0.98  # RELU_N1_TO_1's output range is clamped to [-1, 1]
    xq = quantize_input(q, x[:16])
    got = picoml.run(q, xq)
    assert_int_equal(got, litert_run(to_tflite(q), xq), "int8 GELU / RELU_N1_TO_1 graph vs LiteRT")


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "riscv32"])
def test_int8_models_are_bit_exact_in_c(target):
    for g in (pad_graph(), act_graph(), block_graph()):
        x = data(g, 32, 4)
        q = picoml.quantize(g, x)
        rep = verify(q, target, xs=quantize_input(q, x[:6]), sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, f"{g.name} on {target}: {rep.first_mismatch}"


@pytest.mark.parametrize("make", [pad_graph, act_graph, block_graph])
def test_qat_forward_is_the_int8_graph(make):
    """QAT's fake-quantized forward (float64) equals the int8 graph its to_int8() makes."""
    g = make()
    x = data(g, 128, 5)
    model = QATModel(g, x[:64])
    model.fake_quant = False
    with torch.no_grad():
        plain = model.double()(torch.from_numpy(x[:8].astype(np.float64))).numpy()
    want = picoml.run(g, x[:8])
    np.testing.assert_allclose(plain, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    model.fake_quant = True
    q = model.to_int8()
    with torch.no_grad():
        fq64 = model(torch.from_numpy(x[64:].astype(np.float64))).numpy()
    np.testing.assert_array_equal(
        fq64.astype(np.float32), dequantize_output(q, picoml.run(q, quantize_input(q, x[64:])))
    )
