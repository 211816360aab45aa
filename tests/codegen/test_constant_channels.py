"""Constant channels (codegen/requant.py, ``constant_channels`` / ``prepare_layer``): a dead
channel — weights quantized with a tiny scale, so its int32 bias is huge — has one output for
every input. The generator gives it zero weights and a small bias with multiplier 0.5, so the
layer keeps the fast requantization instead of the _exact twin; the outputs stay bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import generate_c
from picoml.codegen.requant import constant_channels, exact_layers, exact_requant, folded_bias, prepare_layer
from picoml.flows.verify import verify
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

from oracles import qtensor, single_op_graph

SX, SY, X_ZP, Y_ZP = 0.05, 0.08, -128, 3
DEAD = 2  # the dead channel's index


def _layer(op_type: str, oc: int = 6, seed: int = 0, act: str = "NONE"):
    """One layer with ``oc`` ordinary channels and channel DEAD dead: scale 1e-9, bias ±(2^29 + 2^24)."""
    rng = np.random.default_rng(seed)
    sw = rng.uniform(0.002, 0.02, oc).astype(np.float32)
    bias = rng.integers(-3000, 3000, oc).astype(np.int64)
    sw[DEAD], bias[DEAD] = 1e-9, ((1 << 29) + (1 << 24)) * (1 if seed % 2 else -1)
    if op_type == "FULLY_CONNECTED":
        x_shape, w_shape, y_shape, axis, attrs = (2, 40), (oc, 40), (2, oc), 0, {}
    elif op_type == "CONV_2D":
        x_shape, w_shape, y_shape, axis = (1, 5, 5, 4), (oc, 3, 3, 4), (1, 5, 5, oc), 0
        attrs = {"stride_h": 1, "stride_w": 1, "padding": "SAME"}
    else:
        x_shape, w_shape, y_shape, axis = (1, 5, 5, oc), (1, 3, 3, oc), (1, 5, 5, oc), 3
        attrs = {"stride_h": 1, "stride_w": 1, "padding": "SAME", "depth_multiplier": 1}
    w = rng.integers(-127, 128, w_shape).astype(np.int8)
    x = qtensor("x", x_shape, SX, X_ZP)
    wt = qtensor("w", w_shape, sw, np.zeros(oc), data=w, axis=axis)
    bt = qtensor(
        "b", (oc,), (np.float32(SX) * sw).astype(np.float32), np.zeros(oc), "int32", data=bias.astype(np.int32)
    )
    y = qtensor("y", y_shape, SY, Y_ZP)
    if op_type != "FULLY_CONNECTED" or act != "NONE":
        attrs["fused_activation"] = act
    return single_op_graph(op_type, [x, wt, bt], y, **attrs)


def _inputs(g, n=4, seed=1):
    xs = np.random.default_rng(seed).integers(-128, 128, (n,) + g.inputs[0].shape, dtype=np.int8)
    xs[0], xs[1] = -128, 127
    return xs


def _w(op, p):
    return p.weights if op.type == OpType.FULLY_CONNECTED else p.filter


KINDS = ["FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"]


@pytest.mark.parametrize("op_type", KINDS)
@pytest.mark.parametrize("act", ["NONE", "RELU6"])
def test_dead_channel_is_constant_and_the_layer_fast(op_type, act):
    g = _layer(op_type, seed=len(op_type), act=act)
    op = g.ops[0]
    p = KERNELS[op.type].prepare(op)
    dw = op.type == OpType.DEPTHWISE_CONV_2D
    n = p.bias.size
    raw_exact = exact_requant(op, folded_bias(op, p.bias, _w(op, p), dw), _w(op, p), np.broadcast_to(p.shift, n), dw)
    consts = constant_channels(op, p)
    assert raw_exact and list(consts) == [DEAD]  # only the dead channel; it alone forced the twin
    assert exact_layers(g) == []
    q = prepare_layer(op)
    assert not np.asarray(_w(op, q))[..., DEAD].any() if dw else not _w(op, q)[DEAD].any()
    # the rewritten params give the reference kernel's outputs exactly, the dead channel included
    xs = _inputs(g, 8)
    ins = [xs] + [t.data for t in op.inputs[1:]]
    want = KERNELS[op.type].evaluate(p, ins)
    np.testing.assert_array_equal(KERNELS[op.type].evaluate(q, ins), want)
    assert (np.asarray(want)[..., DEAD] == consts[DEAD]).all()
    assert "_exact(" not in generate_c(g)["model.c"]


@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus"])
def test_dead_channels_bit_exact_in_c(target):
    for op_type in KINDS:
        g = _layer(op_type, seed=3)
        rep = verify(g, target, xs=_inputs(g), sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, f"{target} {op_type}: {rep.mismatches} mismatches; {rep.first_mismatch}"


def test_a_varying_channel_is_not_constant():
    """A channel with a bias near 2^29 whose output still moves with the input (600 full-scale
    weights, a scale that puts the bias ~100 codes up): not constant, so the layer keeps the
    exact twin."""
    depth, oc = 600, 4
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (oc, depth)).astype(np.int8)
    w[DEAD] = np.where(rng.random(depth) < 0.5, -127, 127)
    bias = rng.integers(-3000, 3000, oc).astype(np.int32)
    bias[DEAD] = (1 << 29) - (1 << 23)
    sw = rng.uniform(0.002, 0.02, oc).astype(np.float32)
    sw[DEAD] = np.float32(100 * SY / SX / float(bias[DEAD]))  # bias * SX * sw / SY = 100 codes
    x = qtensor("x", (2, depth), SX, X_ZP)
    wt = qtensor("w", w.shape, sw, np.zeros(oc), data=w)
    bt = qtensor("b", (oc,), (np.float32(SX) * sw).astype(np.float32), np.zeros(oc), "int32", data=bias)
    g = single_op_graph("FULLY_CONNECTED", [x, wt, bt], qtensor("y", (2, oc), SY, Y_ZP))
    op = g.ops[0]
    p = KERNELS[op.type].prepare(op)
    assert DEAD not in constant_channels(op, p)
    xs = _inputs(g, 8)
    xs[2] = np.where(w[DEAD] > 0, 127, -128)  # the channel's extremes
    xs[3] = np.where(w[DEAD] > 0, -128, 127)
    out = np.asarray(KERNELS[op.type].evaluate(p, [xs] + [t.data for t in op.inputs[1:]]))
    assert len(np.unique(out[..., DEAD])) > 1
    assert exact_layers(g) == [0]
