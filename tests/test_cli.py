"""The picoml command: info, run (incl. --all-tensors), targets; one-line errors with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

import picoml

from oracles import model_path

pytestmark = pytest.mark.models


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "picoml.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_info_json_keys_and_values():
    r = cli("info", model_path("kws", "int8"), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["macs"] == 2_656_768 and d["params"] == 22_604
    assert {"type", "macs"} <= set(d["ops"][0])
    assert d["ops"][0]["type"] == "CONV_2D" and d["ops"][0]["macs"] == 320_000
    assert d["weight_bytes"] > d["params"]  # int32 biases
    assert d["arena_lower_bound_bytes"] == 16_000 and d["arena_bytes"] == 10_880  # streamed below the bound
    assert len(d["arena_streamed"]) == 8 and all(s["lag"] > 0 for s in d["arena_streamed"])  # conv → dw → … pairs


def test_info_text_has_table_and_timeline():
    r = cli("info", model_path("resnet8", "int8"))
    assert r.returncode == 0
    assert "DEPTHWISE" not in r.stdout and "ADD" in r.stdout
    assert "live memory per op" in r.stdout and "49,152" in r.stdout


def test_run_batch_and_all_tensors(tmp_path):
    g = picoml.load(model_path("kws", "int8"))
    x = np.random.default_rng(0).integers(-128, 128, (5, 1, 49, 10, 1), dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    r = cli(
        "run",
        model_path("kws", "int8"),
        "--input",
        tmp_path / "x.npy",
        "--output",
        tmp_path / "y.npy",
        "--all-tensors",
        tmp_path / "all",
    )
    assert r.returncode == 0, r.stderr
    y = np.load(tmp_path / "y.npy")
    np.testing.assert_array_equal(y, picoml.run(g, x))
    index = json.loads((tmp_path / "all" / "index.json").read_text())
    assert len(index) == len(g.tensors)
    first_conv = g.ops[0].outputs[0].name
    assert np.load(tmp_path / "all" / index[first_conv]).shape == (5, 1, 25, 5, 64)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((1, 49, 10, 1), np.float32), "dtype is float32, the model expects int8"),
        (np.zeros((2, 49, 11, 1), np.int8), "does not match the model's [1, 49, 10, 1]"),
    ],
)
def test_run_bad_input_is_one_line_exit_2(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    r = cli("run", model_path("kws", "int8"), "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "y.npy").exists()


def test_run_refuses_to_overwrite_its_input(tmp_path):
    x = np.zeros((1, 640), np.int8)
    np.save(tmp_path / "x.npy", x)
    r = cli("run", model_path("ad", "int8"), "--input", tmp_path / "x.npy", "--output", tmp_path / "x.npy")
    assert r.returncode == 2 and "overwrite" in r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), x)


def test_unsupported_op_is_named(tmp_path):
    g = picoml.load(model_path("ad", "int8"))
    from picoml.frontends.tflite_writer import write_tflite_bytes

    data = bytearray(write_tflite_bytes(g))
    # the writer stores FULLY_CONNECTED (9) as both deprecated and new builtin code; make it DELEGATE (51)
    from picoml.frontends.tflite import read_tflite_bytes

    i = data.find(bytes([9, 0, 0, 0]))
    while i >= 0:
        trial = bytearray(data)
        trial[i] = 51
        try:
            read_tflite_bytes(bytes(trial))
        except picoml.UnsupportedError as e:
            if "DELEGATE" in str(e):
                (tmp_path / "m.tflite").write_bytes(trial)
                break
        except picoml.PicomlError:
            pass
        i = data.find(bytes([9, 0, 0, 0]), i + 1)
    r = cli("info", tmp_path / "m.tflite")
    assert r.returncode == 2 and "unsupported ops: DELEGATE" in r.stderr


def test_targets_lists_budgets():
    r = cli("targets", "--json")
    d = json.loads(r.stdout)
    names = {t["name"] for t in d["targets"]}
    assert {"host", "cortex-m0plus", "cortex-m4", "cortex-m7", "riscv32"} <= names
    rp = next(b for b in d["boards"] if b["name"] == "rp2040")
    assert rp["ram_bytes"] == 264 * 1024 and rp["flash_bytes"] == 2 * 1024 * 1024


def test_ops_lists_every_registered_op_with_what_runs_it(capsys):
    from picoml.cli import main
    from picoml.graph.ops import OpType

    assert main(["ops", "--json"]) == 0
    rows = {r["op"]: r for r in json.loads(capsys.readouterr().out)["ops"]}
    assert set(rows) == {str(o) for o in OpType}
    assert rows["CONV_2D"]["c_int8"] and rows["CONV_2D"]["int8"] and rows["CONV_2D"]["builtin_code"] == 3
    assert not rows["NEG"]["int8"] and not rows["NEG"]["c_int8"]  # float32 only, as in tflite-micro
    assert main(["ops"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith(f"{len(OpType)} ops:")


def test_run_quantizes_inputs_and_dequantizes_outputs(tmp_path, capsys):
    """--quantize-input / --dequantize-output: float data in, float results out, equal to doing
    TFLite's QUANTIZE and DEQUANTIZE by hand around the int8 run."""
    from picoml.cli import main
    from picoml.quantize.ptq import dequantize_output, quantize_input

    from oracles import qtensor, single_op_graph

    g = single_op_graph("RELU", [qtensor("x", (1, 6), 0.05, -3)], qtensor("y", (1, 6), 0.05, -3))
    picoml.save(g, tmp_path / "relu.tflite")
    xf = np.linspace(-2, 4, 12, dtype=np.float32).reshape(2, 1, 6)
    np.save(tmp_path / "x.npy", xf)
    args = ["run", str(tmp_path / "relu.tflite"), "--input", str(tmp_path / "x.npy"), "--output"]
    assert main(args + [str(tmp_path / "y.npy"), "--quantize-input", "--dequantize-output"]) == 0
    want = dequantize_output(g, picoml.run(g, quantize_input(g, xf)))
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)
    assert np.load(tmp_path / "y.npy").dtype == np.float32
    np.save(tmp_path / "xi.npy", quantize_input(g, xf))
    bad = [
        "run",
        str(tmp_path / "relu.tflite"),
        "--input",
        str(tmp_path / "xi.npy"),
        "--output",
        str(tmp_path / "z.npy"),
    ]
    assert main(bad + ["--quantize-input"]) == 2  # already integers: a user error, one line
    assert "give float values" in capsys.readouterr().err


def test_ops_lists_a_frontends_layers(capsys):
    from picoml.cli import main

    assert main(["ops", "--frontend", "onnx", "--json"]) == 0
    onnx = json.loads(capsys.readouterr().out)["onnx"]
    assert onnx["Conv"] == "run time" and onnx["LeakyRelu"] == "run time"
    pytest.importorskip("torch")
    assert main(["ops", "--frontend", "torch"]) == 0
    out = capsys.readouterr().out
    assert "modules:" in out and "  Conv2d" in out and "  LeakyReLU" in out
