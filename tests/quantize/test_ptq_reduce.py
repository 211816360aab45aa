"""PTQ and QAT of graphs with REDUCE_MAX, REDUCE_MIN, SUM, ARG_MAX and BATCH_MATMUL (attention), and
the whole path: the int8 graph equals tflite-micro and its generated C is bit-exact on the host
(ASan/UBSan) and on emulated cores.

What PTQ must do (TFLite's quantizer, operator_property.cc, and tflite-micro's kernels):
REDUCE_MAX / REDUCE_MIN and GATHER outputs share their input's parameters (tflite-micro's int8 kernel requires
it: ``Int8Output.SHARED``); SUM and BATCH_MATMUL outputs take their own calibrated range; a constant
BATCH_MATMUL operand is quantized per tensor from its own range (``quantize_input_as_activations``,
asymmetric: tflite-micro reads one scale and zero point per operand); ARG_MAX's int32 indices are not
quantized, nor are GATHER's int32 positions."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs
from picoml.quantize.ptq import dequantize_output, quantize_input

from oracles import assert_int_equal, tflm_run, to_tflite

torch = pytest.importorskip("torch")
from picoml.compress.qat import QATModel  # noqa: E402


def _op(op_type, ins, out, **attrs):
    return Op(op_type, ins, [out], {**default_attrs(op_type), **attrs}, name=out.name)


def attention_graph(seed: int = 0) -> Graph:
    """x (1, 4, 8) → a = x · W → softmax(a · a^T) · a → max + sum + min over the tokens → (1, 6)."""
    rng = np.random.default_rng(seed)
    x, a, s, p, c = (
        Tensor(n, sh)
        for n, sh in [("x", (1, 4, 8)), ("a", (1, 4, 6)), ("s", (1, 4, 4)), ("p", (1, 4, 4)), ("c", (1, 4, 6))]
    )
    w = Tensor("w", (8, 6), data=(rng.standard_normal((8, 6)) * 0.5).astype(np.float32))
    ax = Tensor("ax", (1,), "int32", data=np.array([1], np.int32))
    mx, sm, mn, t, y = (Tensor(n, (1, 6)) for n in ("mx", "sm", "mn", "t", "y"))
    ops = [
        _op("BATCH_MATMUL", [x, w], a),
        _op("BATCH_MATMUL", [a, a], s, adj_y=True),
        _op("SOFTMAX", [s], p, beta=1.0),
        _op("BATCH_MATMUL", [p, a], c),
        _op("REDUCE_MAX", [c, ax], mx),
        _op("SUM", [c, ax], sm),
        _op("REDUCE_MIN", [c, ax], mn),
        _op("ADD", [mx, sm], t),
        _op("ADD", [t, mn], y),
    ]
    g = Graph([x, w, a, s, p, c, ax, mx, sm, mn, t, y], ops, [x], [y], name="attention")
    g.validate()
    return g


def classifier_graph(seed: int = 0) -> Graph:
    """x (1, 10) → FULLY_CONNECTED → (1, 5) scores → ARG_MAX: an int32 class index."""
    rng = np.random.default_rng(seed)
    x, h, k = Tensor("x", (1, 10)), Tensor("h", (1, 5)), Tensor("k", (1,), "int32")
    w = Tensor("w", (5, 10), data=rng.standard_normal((5, 10)).astype(np.float32))
    b = Tensor("b", (5,), data=rng.standard_normal(5).astype(np.float32))
    ax = Tensor("ax", (1,), "int32", data=np.array([1], np.int32))
    g = Graph([x, w, b, h, ax, k], [_op("FULLY_CONNECTED", [x, w, b], h), _op("ARG_MAX", [h, ax], k)], [x], [k])
    g.validate()
    return g


def lookup_graph(seed: int = 0) -> Graph:
    """x (1, 6, 5) → GATHER of tokens 4, 0, 4 (constant positions) and of a constant table at ARG_MAX of
    the token scores: an embedding looked up by a computed class."""
    rng = np.random.default_rng(seed)
    x, sel, k, e, y = (
        Tensor("x", (1, 6, 5)),
        Tensor("sel", (1, 3, 5)),
        Tensor("k", (1, 6), "int32"),
        Tensor("e", (1, 6, 5)),
        Tensor("y", (1, 6, 5)),
    )
    pos = Tensor("pos", (3,), "int32", data=np.array([4, 0, 4], np.int32))
    table = Tensor("table", (5, 5), data=rng.standard_normal((5, 5)).astype(np.float32))
    ax = Tensor("ax", (1,), "int32", data=np.array([2], np.int32))
    ops = [
        _op("GATHER", [x, pos], sel, axis=1),
        _op("ARG_MAX", [x, ax], k),
        _op("GATHER", [table, k], e, axis=0),
        _op("ADD", [x, e], y),
    ]
    g = Graph([x, pos, sel, table, ax, k, e, y], ops, [x], [y, sel], name="lookup")
    g.validate()
    return g


def data(g, n, seed):
    return np.random.default_rng(seed).standard_normal((n,) + g.inputs[0].shape).astype(np.float32)


def test_ptq_parameters_follow_tflite():
    g = attention_graph()
    q = picoml.quantize(g, data(g, 64, 1))
    t = {x.name: x for x in q.tensors}
    for a, b in (("c", "mx"), ("c", "mn")):  # shared: tflite-micro's int8 REDUCE_MAX/MIN require it
        assert t[a].scale[0] == t[b].scale[0] and t[a].zero_point[0] == t[b].zero_point[0]
    assert t["sm"].scale[0] != t["c"].scale[0]  # SUM rescales to its own range
    w = t["w"]  # constant operand: one (scale, zero point), from its own range
    assert w.dtype == "int8" and w.scale.size == 1 and w.data.min() == -128 and w.data.max() == 127


def test_ptq_argmax_output_stays_int32():
    g = classifier_graph()
    x = data(g, 64, 2)
    q = picoml.quantize(g, x)
    assert q.outputs[0].dtype == "int32" and not q.outputs[0].quantized
    xq = quantize_input(q, x)
    got = picoml.run(q, xq)
    assert_int_equal(got, tflm_run(to_tflite(q), xq), "int8 classifier + ARG_MAX vs tflite-micro")
    assert (got[:, 0] == picoml.run(g, x)[:, 0]).mean() > 0.9  # the int8 model mostly agrees with float


def test_ptq_attention_is_exact_with_tflite_micro_and_close_to_float():
    g = attention_graph()
    x = data(g, 64, 3)
    q = picoml.quantize(g, x)
    xq = quantize_input(q, x[:16])
    got = picoml.run(q, xq)
    assert_int_equal(got, tflm_run(to_tflite(q), xq), "int8 attention vs tflite-micro")
    err = np.abs(dequantize_output(q, got) - picoml.run(g, x[:16])).max()
    assert err < 0.05 * np.abs(picoml.run(g, x[:16])).max()


def test_ptq_gather_shares_parameters_and_is_exact():
    g = lookup_graph()
    x = data(g, 64, 8)
    q = picoml.quantize(g, x)
    t = {v.name: v for v in q.tensors}
    assert (t["sel"].scale[0], t["sel"].zero_point[0]) == (t["x"].scale[0], t["x"].zero_point[0])
    assert (t["e"].scale[0], t["e"].zero_point[0]) == (t["table"].scale[0], t["table"].zero_point[0])
    assert t["k"].dtype == "int32" and t["pos"].dtype == "int32" and not t["pos"].quantized
    xq = quantize_input(q, x[:16])
    got = picoml.run(q, xq)
    want = tflm_run(to_tflite(q), xq)  # the first output
    assert_int_equal(got[0], want, "int8 lookup vs tflite-micro")


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "riscv32"])
def test_int8_models_are_bit_exact_in_c(target):
    for g in (attention_graph(), classifier_graph(), lookup_graph()):
        x = data(g, 32, 4)
        q = picoml.quantize(g, x)
        rep = verify(q, target, xs=quantize_input(q, x[:6]), sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, f"{g.name} on {target}: {rep.first_mismatch}"


def select_graph() -> Graph:
    """x (1, 6, 5) → GATHER of tokens 4, 0, 4 → a (1, 3, 5) constant weighting (MUL) → SUM over tokens."""
    x, sel, m, y = Tensor("x", (1, 6, 5)), Tensor("sel", (1, 3, 5)), Tensor("m", (1, 3, 5)), Tensor("y", (1, 5))
    pos = Tensor("pos", (3,), "int32", data=np.array([4, 0, 4], np.int32))
    w = Tensor("w", (1, 3, 1), data=np.array([0.5, -1.0, 2.0], np.float32).reshape(1, 3, 1))
    ax = Tensor("ax", (1,), "int32", data=np.array([1], np.int32))
    ops = [_op("GATHER", [x, pos], sel, axis=1), _op("MUL", [sel, w], m), _op("SUM", [m, ax], y)]
    g = Graph([x, pos, sel, w, m, ax, y], ops, [x], [y], name="select")
    g.validate()
    return g


@pytest.mark.parametrize("make", [attention_graph, select_graph])
def test_qat_forward_is_the_int8_graph(make):
    """QAT's fake-quantized forward (float64) equals the int8 graph its to_int8() makes."""
    g = make()
    x = data(g, 128, 5)
    model = QATModel(g, x[:64])
    model.fake_quant = False
    with torch.no_grad():
        plain = model.double()(torch.from_numpy(x[:8].astype(np.float64))).numpy()
    want = picoml.run(g, x[:8])
    np.testing.assert_allclose(plain, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
    model.fake_quant = True
    q = model.to_int8()
    with torch.no_grad():
        fq64 = model(torch.from_numpy(x[64:].astype(np.float64))).numpy()
    np.testing.assert_array_equal(
        fq64.astype(np.float32), dequantize_output(q, picoml.run(q, quantize_input(q, x[64:])))
    )


def test_qat_refuses_argmax():
    g = classifier_graph()
    with pytest.raises(picoml.UnsupportedError, match="QAT: ARG_MAX 'k' is not supported"):
        QATModel(g, data(g, 16, 6))(torch.from_numpy(data(g, 4, 7)))
