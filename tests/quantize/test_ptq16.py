"""``picoml.quantize(..., activations="int16")``: TFLite's 16x8 scheme on float models of the
conformance corpus. The quantized graph follows the scheme (int16 symmetric activations, int8
per-channel weights, int64 bias, 2^-15 outputs of SOFTMAX / LOGISTIC / TANH), runs exactly as
tflite-micro runs it, tracks the float model closer than int8 PTQ does, round-trips through the
.tflite writer, and compiles to C bit-exactly; ``picoml convert --activations int16`` writes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.cli import main
from picoml.errors import InputError, UnsupportedError
from picoml.flows.verify import verify
from picoml.frontends.tflite import read_tflite_bytes
from picoml.quantize.ptq import dequantize_output, quantize_input

from oracles import assert_int_equal, tflm_run, to_tflite

CORPUS = Path(__file__).resolve().parents[1] / "data" / "conformance"
MODELS = ["ds_cnn_kws", "resnet8_cifar", "vb_mlp", "op_swish", "op_concatenation", "op_tanh", "op_sub_broadcast"]


def _calibration(g, n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, *t.shape)).astype(np.float32) for t in g.inputs]


def _one(xs):
    return xs[0] if len(xs) == 1 else xs


@pytest.mark.parametrize("name", MODELS)
def test_16x8_ptq_is_tflms_and_closer_than_int8(name):
    g = picoml.load(CORPUS / f"{name}.float32.tflite")
    cal = _calibration(g, 48)
    q16 = picoml.quantize(g, _one(cal), activations="int16")
    q8 = picoml.quantize(g, _one(cal))
    for t in q16.tensors:
        if t.data is None and t.quantized:
            assert t.dtype == "int16" and (t.zero_point == 0).all(), t
    for op in q16.ops:
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            assert op.inputs[1].dtype == "int8" and (len(op.inputs) < 3 or op.inputs[2].dtype == "int64")
        if op.type in ("SOFTMAX", "LOGISTIC", "TANH"):
            assert float(op.outputs[0].scale[0]) == 2.0**-15
    test = _calibration(g, 8, seed=1)
    x16 = [quantize_input(q16, x, i) for i, x in enumerate(test)]
    got = picoml.run(q16, _one(x16))
    assert_int_equal(got, tflm_run(to_tflite(q16), x16), f"{name} 16x8 vs tflite-micro")
    ref = picoml.run(g, _one(test))
    err16 = np.abs(dequantize_output(q16, got) - ref).mean()
    x8 = [quantize_input(q8, x, i) for i, x in enumerate(test)]
    err8 = np.abs(dequantize_output(q8, picoml.run(q8, _one(x8))) - ref).mean()
    assert err16 < err8, f"{name}: 16x8 error {err16:.3g} is not below int8's {err8:.3g}"
    assert read_tflite_bytes(to_tflite(q16)).equals(q16)  # the writer and reader keep every int16 / int64 detail


@pytest.mark.parametrize("target", ["host", "cortex-m0plus"])
def test_16x8_ptq_compiles_bit_exact(target):
    g = picoml.load(CORPUS / "ds_cnn_kws.float32.tflite")
    q = picoml.quantize(g, _calibration(g, 32)[0], activations="int16")
    x = quantize_input(q, _calibration(g, 3, seed=2)[0])
    rep = verify(q, target, xs=x, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{target}: {rep.first_mismatch}"


def test_activations_are_checked():
    g = picoml.load(CORPUS / "vb_mlp.float32.tflite")
    cal = _calibration(g, 4)[0]
    with pytest.raises(InputError, match="activations must be one of"):
        picoml.quantize(g, cal, activations="int4")


def test_ops_without_int16_kernels_are_refused_in_one_line():
    g = picoml.load(CORPUS / "op_hard_swish.float32.tflite")
    with pytest.raises(UnsupportedError, match="int16 HARD_SWISH is not supported"):
        picoml.quantize(g, _calibration(g, 4)[0], activations="int16")


def test_cli_convert_activations(tmp_path, capsys):
    g = picoml.load(CORPUS / "vb_mlp.float32.tflite")
    cal = tmp_path / "cal.npy"
    np.save(cal, _calibration(g, 16)[0])
    out = tmp_path / "m16.tflite"
    src = str(CORPUS / "vb_mlp.float32.tflite")
    assert main(["convert", src, "--calibration", str(cal), "--out", str(out), "--activations", "int16"]) == 0
    assert "16x8" in capsys.readouterr().out
    q = picoml.load(out)
    assert q.inputs[0].dtype == "int16" and q.outputs[0].dtype == "int16"
    mixed = tmp_path / "mixed.tflite"
    assert main(["convert", src, "--calibration", str(cal), "--out", str(mixed), "--activations", "mixed"]) == 0
    assert "mixed int8 / 16x8" in capsys.readouterr().out
    assert picoml.load(mixed).inputs[0].dtype == "int8"


@pytest.mark.parametrize("name", ["ds_cnn_kws", "cnn1d_har", "vb_cnn"])
def test_mixed_precision(name):
    """activations="mixed": int8 graph with some layers in 16x8 behind QUANTIZE int8 -> int16 and back;
    tflite-micro runs it exactly, its error is below int8's, the choice and its cost are in notes, and
    the C is bit-exact."""
    g = picoml.load(CORPUS / f"{name}.float32.tflite")
    cal = _calibration(g, 32)[0]
    q = picoml.quantize(g, cal, activations="mixed")
    assert q.inputs[0].dtype == q.outputs[0].dtype == "int8"
    layers16 = [op for op in q.ops if op.inputs[0].dtype == "int16" and op.type != "QUANTIZE"]
    assert layers16 and any(op.type == "QUANTIZE" and op.outputs[0].dtype == "int16" for op in q.ops)
    note = q.notes[-1]
    assert note.startswith("mixed precision:") and "live activations int8" in note and "% of the MACs" in note
    x = quantize_input(q, cal[:4])
    assert_int_equal(picoml.run(q, x), tflm_run(to_tflite(q), x), f"{name} mixed vs tflite-micro")
    ref = picoml.run(g, cal)
    q8 = picoml.quantize(g, cal)
    err8 = np.abs(dequantize_output(q8, picoml.run(q8, quantize_input(q8, cal))) - ref).mean()
    errm = np.abs(dequantize_output(q, picoml.run(q, quantize_input(q, cal))) - ref).mean()
    assert errm < err8
    rep = verify(q, "host", xs=x, sanitize=True, counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch
