"""picoml validate: the generated C over a whole test set on an emulated core, with the task's
metrics, agreeing with the reference interpreter on every sample (digits, trained here)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

import picoml
from picoml.cli import main
from picoml.flows import validate as V
from picoml.frontends.lowering import to_graph_layout

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")


@functools.cache
def _digits(tmp):
    from picoml.tasks import digits

    split = digits.load(0)
    model, _ = digits.train(seed=0, quick=True)
    g = picoml.from_torch(model, split.x_test[:1])
    q = picoml.quantize(g, to_graph_layout(split.x_train[:200]))
    picoml.save(g, tmp / "digits_float.tflite")
    picoml.save(q, tmp / "digits_int8.tflite")
    np.savez(tmp / "test.npz", x=split.x_test, y=split.y_test)
    return split


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("digits")
    return tmp, _digits(tmp)


def test_validate_digits_on_cortex_m0plus(digits_files, capsys):
    tmp, split = digits_files
    args = ["validate", str(tmp / "digits_int8.tflite"), "--data", str(tmp / "test.npz"), "--nchw"]
    args += ["--target", "cortex-m0plus", "--float", str(tmp / "digits_float.tflite"), "--json"]
    assert main(args) == 0
    r = json.loads(capsys.readouterr().out)
    n = len(split.y_test)
    assert r["samples"] == n == 360 and r["bit_exact"] and r["mismatched_samples"] == 0
    assert r["task"] == "classification"
    assert r["accuracy"]["c"] == r["accuracy"]["reference"] > 0.8
    assert abs(r["accuracy"]["float"] - r["accuracy"]["c"]) < 0.05  # int8 vs float: a few samples at most
    cm = np.asarray(r["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == n
    assert np.trace(cm) / n == pytest.approx(r["accuracy"]["c"])
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(split.y_test, minlength=10))
    # the text report
    assert main(args[:-1] + ["--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "20 samples, C = reference on every sample" in out and "confusion matrix" in out


def test_regression_targets_give_rmse(digits_files):
    tmp, split = digits_files
    q = picoml.load(tmp / "digits_int8.tflite")
    onehot = np.eye(10, dtype=np.float32)[split.y_test[:8]]
    r = V.validate(q, "host", to_graph_layout(split.x_test[:8]), onehot)
    assert r.task == "regression" and r.bit_exact and r.rmse["c"] == r.rmse["reference"] >= 0


def test_a_difference_fails_the_command(digits_files, monkeypatch, capsys):
    """C ≠ reference on a sample is the check that fails (exit 1), and the report says where."""
    tmp, _ = digits_files
    real = V.interpreter.run

    def off_by_one(g, x, **kw):
        y = np.asarray(real(g, x, **kw)).copy()
        y.reshape(len(y), -1)[3, 0] ^= 1
        return y

    monkeypatch.setattr(V.interpreter, "run", off_by_one)
    args = ["validate", str(tmp / "digits_int8.tflite"), "--data", str(tmp / "test.npz"), "--nchw"]
    assert main(args + ["--target", "host", "--limit", "6"]) == 1
    out = capsys.readouterr().out
    assert "C DIFFERS from the reference on 1 samples (sample 3:" in out


def test_data_mistakes_are_one_line(digits_files, tmp_path, capsys):
    tmp, split = digits_files
    np.savez(tmp_path / "bad.npz", images=split.x_test)
    model = str(tmp / "digits_int8.tflite")
    assert main(["validate", model, "--data", str(tmp_path / "bad.npz")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "needs an array x" in err
    np.savez(tmp_path / "chw.npz", x=split.x_test[:4], y=split.y_test[:4])
    assert main(["validate", model, "--data", str(tmp_path / "chw.npz")]) == 2  # NCHW without --nchw
    assert "pass --nchw" in capsys.readouterr().err
