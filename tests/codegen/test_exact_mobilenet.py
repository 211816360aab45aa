"""MobileNetV1-0.25 96x96 int8 (the MLPerf Tiny visual-wake-words shape) with trained-scale
weights (tests/codegen/mobilenet_int8.py): its dead channels' biases put many layers past the
fast requantization's 2^29 bound; it compiles (those layers on the _exact kernel twins, the others
on the fast path) and is bit-exact with the reference, itself equal to tflite-micro, on the host
and on emulated Cortex-M4 and Cortex-M0+. About 25 s on two cores."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import generate_c
from picoml.codegen.requant import ACCUMULATING_OPS, exact_layers
from picoml.flows.verify import verify
from picoml.reference import interpreter

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


def test_mobilenet_mixes_exact_and_fast_layers(model):
    """Some layers need the exact twin, the others keep the fast kernels; the reference equals
    tflite-micro on the whole model."""
    acc = [i for i, op in enumerate(model.ops) if op.type in ACCUMULATING_OPS]
    exact = exact_layers(model)
    assert len(acc) == 28 and 0 < len(exact) < len(acc)
    src = generate_c(model, isa="armv6m")["model.c"]
    assert src.count("_exact(&") == len(exact)  # call sites: model_call_<variant>_exact(&record, ...)
    # the fast ones stay (on Armv6-M the pointwise convolutions take the two-lane kernel)
    assert "pm_depthwise_conv2d_s8_mult1(&" in src and "pm_conv2d_s8_lanes(&" in src
    xs = inputs(model, 2)
    np.testing.assert_array_equal(interpreter.run(model, xs), tflm_run(to_tflite(model), xs))


@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus"])
def test_mobilenet_bit_exact(model, target):
    rep = verify(model, target, xs=inputs(model), sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
