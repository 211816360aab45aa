"""`picoml convert` and `picoml evaluate` from every source kind, and their one-line errors."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest

import picoml
from picoml.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 1, 6, 6)).astype(np.float32)
    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        y = net(torch.from_numpy(x)).argmax(1).numpy()  # labels = the float model's own decisions
    return net, x, y


def _check_int8(path, net, x):
    import picoml
    from picoml.frontends.lowering import to_graph_layout
    from picoml.quantize.ptq import dequantize_output, quantize_input

    q = picoml.load(path)
    assert q.inputs[0].dtype == "int8" and q.outputs[0].dtype == "int8"
    assert q.inputs[0].shape == (1, 6, 6, 1)  # channels-last
    y = dequantize_output(q, picoml.run(q, quantize_input(q, to_graph_layout(x))))
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    # int8 vs float: a few output steps on a 3-layer net; the decisions mostly agree
    assert (y.argmax(1) == ref.argmax(1)).mean() >= 0.9


def test_convert_torchscript_onnx_and_factory(tmp_path, capsys, data, monkeypatch):
    net, x, y = data
    calib = tmp_path / "calib.npy"
    np.save(calib, x[:32])
    ts = tmp_path / "net.pt"
    torch.jit.trace(net, torch.from_numpy(x[:1])).save(str(ts))
    onnx_path = tmp_path / "net.onnx"
    torch.onnx.export(net, (torch.from_numpy(x[:1]),), str(onnx_path), dynamo=False)
    (tmp_path / "netpkg.py").write_text(
        textwrap.dedent(
            """
            import torch
            class Net(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
                    self.fc = torch.nn.Linear(4 * 6 * 6, 3)
                def forward(self, x):
                    return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))
            def make():
                return Net()
            """
        )
    )
    weights = tmp_path / "w.pt"
    torch.save(net.state_dict(), weights)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for src, extra in ((ts, []), (onnx_path, []), ("netpkg:make", ["--weights", weights])):
        out = tmp_path / f"out_{len(extra)}_{getattr(src, 'suffix', 'spec')}.tflite"
        code, text, err = cli(capsys, "convert", src, "--calibration", calib, "--out", out, *extra)
        assert code == 0, err
        assert "int8" in text and "zero_point" in text
        _check_int8(out, net, x)
    sys.modules.pop("netpkg", None)

    # evaluate: float model + its int8 conversion, labels = float decisions -> float accuracy 1.0
    test = tmp_path / "test.npz"
    np.savez(test, x=x, y=y)
    code, text, err = cli(capsys, "evaluate", onnx_path, "--data", test, "--calibration", calib, "--json")
    assert code == 0, err
    r = json.loads(text)
    assert r["kind"] == "classification" and r["float_value"] == 1.0
    assert r["int8_value"] == r["agreement"] >= 0.9


def test_convert_errors_are_one_line(tmp_path, capsys, data):
    net, x, _ = data
    onnx_path = tmp_path / "net.onnx"
    torch.onnx.export(net, (torch.from_numpy(x[:1]),), str(onnx_path), dynamo=False)
    ints = tmp_path / "ints.npy"
    np.save(ints, np.zeros((4, 1, 6, 6), np.int32))
    good = tmp_path / "good.npy"
    np.save(good, x[:4])
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((4, 1, 6, 6), np.nan, np.float32))
    cases = [
        (["convert", onnx_path, "--out", tmp_path / "o.tflite"], "needs --calibration"),
        (["convert", onnx_path, "--calibration", ints, "--out", tmp_path / "o.tflite"], "must be float"),
        (["convert", onnx_path, "--calibration", nan, "--out", tmp_path / "o.tflite"], "NaN"),
        (["convert", onnx_path, "--calibration", nan, "--out", tmp_path / "o.bin"], ".tflite suffix"),
        (["convert", tmp_path / "missing.onnx", "--calibration", good, "--out", tmp_path / "o.tflite"], "no such file"),
        (
            ["convert", "nosuchpkg:make", "--calibration", good, "--out", tmp_path / "o.tflite", "--random-weights"],
            "cannot import module",
        ),
        # a factory spec without --weights would ship random weights: refused unless asked for
        (["convert", "nosuchpkg:make", "--calibration", good, "--out", tmp_path / "o.tflite"], "--random-weights"),
        (["evaluate", onnx_path, "--data", tmp_path / "none.npz", "--calibration", good], "no such file"),
    ]
    for args, msg in cases:
        code, _, err = cli(capsys, *args)
        assert code == 2, (args, err)
        assert msg in err and len(err.strip().splitlines()) == 1, (args, err)
    assert not (tmp_path / "o.tflite").exists()


class LeakyNet(torch.nn.Module):
    """A small CNN whose activations are LeakyReLU: PyTorch's default slope, a negative one and one above 1."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.act1 = torch.nn.LeakyReLU()
        self.conv2 = torch.nn.Conv2d(4, 4, 3, stride=2)
        self.fc = torch.nn.Linear(4 * 2 * 2, 3)

    def forward(self, x):
        y = self.conv2(self.act1(self.conv(x)))
        y = torch.nn.functional.leaky_relu(y, -0.25) + torch.nn.functional.leaky_relu(y, 1.5)
        return self.fc(torch.flatten(y, 1))


@pytest.mark.parametrize("target", ["host", "cortex-m0plus"])
def test_convert_and_verify_leaky_relu(tmp_path, capsys, target):
    """PyTorch LeakyReLU end to end: TorchScript file → `picoml convert` (PTQ) → `picoml verify`:
    the generated C (a 256-entry table per LEAKY_RELU) is bit-exact with the reference interpreter
    on the host under ASan/UBSan and on an emulated Cortex-M0+."""
    torch.manual_seed(0)
    net = LeakyNet().eval()
    x = np.random.default_rng(1).normal(size=(64, 1, 6, 6)).astype(np.float32)
    np.save(tmp_path / "calib.npy", x[:32])
    torch.jit.trace(net, torch.from_numpy(x[:1])).save(str(tmp_path / "leaky.pt"))
    out = tmp_path / "leaky_int8.tflite"
    code, _, err = cli(capsys, "convert", tmp_path / "leaky.pt", "--calibration", tmp_path / "calib.npy", "--out", out)
    assert code == 0, err
    q = picoml.load(out)
    assert [op.type for op in q.ops].count("LEAKY_RELU") == 3
    _check_int8(out, net, x)  # the int8 model's decisions follow the float model's
    extra = ["--sanitize"] if target == "host" else []
    code, text, err = cli(capsys, "verify", out, "--target", target, "--inputs", 8, "--json", *extra)
    assert code == 0, err
    rep = json.loads(text)
    assert rep["bit_exact"] is True and rep["inputs"] == 8, rep


def test_torchscript_errors_name_the_users_file(tmp_path, capfd):
    """A TorchScript file is lowered through an ONNX export picoml makes itself: its errors name the
    user's .pt, not that intermediate graph, and torch's IR dump never reaches the terminal."""

    class Prod(torch.nn.Module):
        def forward(self, x):
            return torch.cumprod(x, 1)  # no ONNX export at all

    class Soft(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.softplus(x)  # exports to ONNX Softplus, which picoml lacks

    cal = tmp_path / "cal.npy"
    np.save(cal, np.ones((4, 4), np.float32))
    for mod, words in [(Prod(), "aten::cumprod"), (Soft(), "(Softplus) is not supported")]:
        pt = tmp_path / f"{type(mod).__name__}.pt"
        torch.jit.trace(mod, torch.ones(1, 4)).save(str(pt))
        code = main(["convert", str(pt), "--calibration", str(cal), "--out", str(tmp_path / "o.tflite")])
        out, err = capfd.readouterr()
        assert code == 2 and out == "", out
        line = err.strip()
        assert "\n" not in line and line.startswith(f"picoml: error: {pt}: ") and words in line, line
        assert "main_graph" not in line and "Torch IR" not in err
