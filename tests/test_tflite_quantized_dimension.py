"""A 1-D tensor's per-axis scales and its stated quantized_dimension in .tflite files.

tflite-micro's person-detection example stores its depthwise biases with per-channel scales and
quantized_dimension 3 (the converter copies the filter's axis onto the bias); tflite-micro runs
it, reading a bias's scales by their count. picoml's reader normalizes exactly that case (a 1-D
tensor with as many scales as elements, any stated axis) to axis 0, and still refuses
quantization that does not fit the tensor, with one line naming it."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.errors import PicomlError
from picoml.flows.verify import verify
from picoml.frontends.tflite_writer import write_tflite_bytes

from oracles import qtensor, single_op_graph, tflm_run


def depthwise(c=8, seed=0):
    rng = np.random.default_rng(seed)
    x = qtensor("x", (1, 6, 6, c), 0.05, -3)
    sw = rng.uniform(0.005, 0.02, c).astype(np.float32)
    w = qtensor("w", (1, 3, 3, c), sw, np.zeros(c), data=rng.integers(-127, 128, (1, 3, 3, c), dtype=np.int8), axis=3)
    bias = rng.integers(-3000, 3000, c).astype(np.int32)
    b = qtensor("b", (c,), (np.float32(0.05) * sw).astype(np.float32), np.zeros(c), "int32", data=bias)
    y = qtensor("y", (1, 6, 6, c), 0.1, 2)
    attrs = {"padding": "SAME", "stride_h": 1, "stride_w": 1, "depth_multiplier": 1, "fused_activation": "RELU6"}
    return single_op_graph("DEPTHWISE_CONV_2D", [x, w, b], y, **attrs)


def fully_connected(units=5, depth=12, seed=1):
    rng = np.random.default_rng(seed)
    x = qtensor("x", (2, depth), 0.05, 3)
    sw = rng.uniform(0.005, 0.02, units).astype(np.float32)
    w = qtensor("w", (units, depth), sw, np.zeros(units), data=rng.integers(-127, 128, (units, depth), dtype=np.int8))
    bias = rng.integers(-3000, 3000, units).astype(np.int32)
    b = qtensor("b", (units,), (np.float32(0.05) * sw).astype(np.float32), np.zeros(units), "int32", data=bias)
    return single_op_graph("FULLY_CONNECTED", [x, w, b], qtensor("y", (2, units), 0.1, -4))


def file_with(g, tensor: str, **fields) -> bytes:
    """g as .tflite bytes with fields of one tensor changed first (the writer does not validate)."""
    t = next(t for t in g.tensors if t.name == tensor)
    for k, v in fields.items():
        setattr(t, k, v)
    return write_tflite_bytes(g)


def load(data: bytes, tmp_path):
    p = tmp_path / "m.tflite"
    p.write_bytes(data)
    return picoml.load(p)


@pytest.mark.parametrize(
    "build,qdim",
    [(depthwise, 3), (depthwise, 7), (fully_connected, 1), (fully_connected, -2)],
    ids=["depthwise-bias-axis-3", "depthwise-bias-axis-7", "fc-bias-axis-1", "fc-bias-axis-negative"],
)
def test_bias_scales_along_a_stated_other_axis_load_and_match_tflm(build, qdim, tmp_path):
    data = file_with(build(), "b", quantized_dimension=qdim)
    g = load(data, tmp_path)
    b = g.ops[0].inputs[2]
    assert b.quantized_dimension == 0 and b.scale.size == b.shape[0]
    xs = np.random.default_rng(2).integers(-128, 128, (6,) + g.inputs[0].shape, dtype=np.int8)
    xs[0], xs[1] = -128, 127
    want = tflm_run(data, xs)  # tflite-micro runs the file as it is
    np.testing.assert_array_equal(picoml.run(g, xs), want)
    for target in ("host", "cortex-m4"):
        rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, rep.first_mismatch  # the C equals the interpreter, which equals tflite-micro


def test_normalized_bias_is_written_along_axis_0(tmp_path):
    g = load(file_with(depthwise(), "b", quantized_dimension=3), tmp_path)
    again = load(write_tflite_bytes(g), tmp_path)
    assert again.ops[0].inputs[2].quantized_dimension == 0


def _seven_scales(g):
    b = g.ops[0].inputs[2]
    return {"scale": b.scale[:7].copy(), "zero_point": b.zero_point[:7].copy(), "quantized_dimension": 3}


@pytest.mark.parametrize(
    "tensor,fields,message,tflm_runs",
    [
        # a 1-D bias with fewer scales than elements: no axis fits. tflite-micro runs it anyway
        # (its int8 kernels never read a bias's scales); picoml refuses the inconsistent file.
        ("b", _seven_scales, r"tensor 'b': 7 per-axis scales do not match dimension 3 of shape \[8\]", True),
        # weights' per-axis scales along an axis of another length (tflite-micro fails Prepare)
        ("w", {"quantized_dimension": 1}, r"tensor 'w': 8 per-axis scales do not match dimension 1 of shape", False),
        # along an axis the tensor does not have
        ("w", {"quantized_dimension": 4}, r"tensor 'w': 8 per-axis scales do not match dimension 4 of shape", None),
    ],
    ids=["bias-7-scales-of-8", "weights-wrong-axis", "weights-axis-out-of-range"],
)
def test_inconsistent_quantization_is_still_refused(tensor, fields, message, tflm_runs, tmp_path):
    g = depthwise()
    data = file_with(g, tensor, **(fields(g) if callable(fields) else fields))
    with pytest.raises(PicomlError, match=message) as e:
        load(data, tmp_path)
    assert "\n" not in str(e.value)
    if tflm_runs is not None:
        xs = np.zeros((1, 1, 6, 6, 8), np.int8)
        if tflm_runs:
            assert tflm_run(data, xs).shape == (1, 1, 6, 6, 8)
        else:
            with pytest.raises(RuntimeError):
                tflm_run(data, xs)
