"""MobileNetV1-0.25 96x96 int8 (the MLPerf Tiny visual-wake-words shape) with trained-scale
weights (tests/codegen/mobilenet_int8.py): its dead channels' biases put many layers past the
fast requantization's 2^29 bound. Those channels' outputs are constant, so the generator gives
them constant records (codegen/requant.py, prepare_layer) and every layer keeps the fast path
(before that, 17 of its 28 layers ran on the slower _exact twins); it is bit-exact with the
reference, itself equal to tflite-micro, on the host and on emulated Cortex-M4 and Cortex-M0+.
About 25 s on two cores."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import generate_c
from picoml.codegen.requant import ACCUMULATING_OPS, constant_channels, exact_layers, exact_requant, folded_bias
from picoml.flows.verify import verify
from picoml.graph.ops import OpType
from picoml.reference import KERNELS, interpreter

from mobilenet_int8 import mobilenet_v1_int8
from oracles import tflm_run, to_tflite


@pytest.fixture(scope="module")
def model():
    return mobilenet_v1_int8()


def inputs(g, n_random=1):
    shape = g.inputs[0].shape
    xs = np.random.default_rng(3).integers(-128, 128, (n_random + 1,) + shape, dtype=np.int8)
    xs[0] = np.where(np.indices(shape).sum(axis=0) % 2, 127, -128)  # a checkerboard of the extremes
    return xs


def test_mobilenet_dead_channels_stay_on_the_fast_path(model):
    """The layers whose bound passes 2^29 owe it to constant (dead) channels only: with those
    rewritten every layer is fast, and the C calls no _exact twin; the reference equals
    tflite-micro on the whole model."""
    acc = [i for i, op in enumerate(model.ops) if op.type in ACCUMULATING_OPS]
    beyond = []
    for i in acc:
        op = model.ops[i]
        p = KERNELS[op.type].prepare(op)
        w = p.weights if op.type == OpType.FULLY_CONNECTED else p.filter
        dw = op.type == OpType.DEPTHWISE_CONV_2D
        if exact_requant(op, folded_bias(op, p.bias, w, dw), w, np.broadcast_to(p.shift, p.bias.shape), dw):
            beyond.append(i)
            assert constant_channels(op, p), f"layer {i}"
    assert len(acc) == 28 and len(beyond) >= 10  # the dead channels are there
    assert exact_layers(model) == []
    for isa in ("armv6m", "armv7em"):
        src = generate_c(model, isa=isa)["model.c"]
        assert "_exact(" not in src
    xs = inputs(model, 2)
    np.testing.assert_array_equal(interpreter.run(model, xs), tflm_run(to_tflite(model), xs))


@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus"])
def test_mobilenet_bit_exact(model, target):
    rep = verify(model, target, xs=inputs(model), sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
