"""`picoml demo` end to end in its quick form: every step runs, the report is complete, and the
numbers in it are the measured ones (bit-exact on both cores, sizes consistent)."""

from __future__ import annotations

import io
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")


def test_demo_quick(tmp_path):
    from picoml.flows.demo import Progress, run_demo

    log = io.StringIO()
    data = run_demo(tmp_path, quick=True, n_verify=3, progress=Progress(log))
    steps = {s["step"]: s for s in data["steps"]}
    assert list(steps) == ["teacher", "distilled", "pruned", "int8"]
    # distillation: the student has at most a quarter of the teacher's parameters
    assert steps["distilled"]["params"] * 4 <= steps["teacher"]["params"] * 1.05
    # channel pruning removes parameters and MACs physically
    assert steps["pruned"]["params"] < steps["distilled"]["params"]
    assert steps["pruned"]["macs"] < steps["distilled"]["macs"]
    # int8 weights: about a quarter of the float bytes (biases stay int32)
    assert steps["int8"]["weight_bytes"] < 0.4 * steps["pruned"]["weight_bytes"]
    # every accuracy is a real measurement on the test split, well above chance (10 classes)
    assert all(0.3 < s["value"] <= 1.0 for s in data["steps"])
    for target in ("cortex-m0plus", "cortex-m4"):
        r = data["targets"][target]
        assert r["bit_exact"] and r["mismatches"] == 0 and r["inputs"] == 3
        assert r["instructions"] == steps["int8"]["instructions"][target] > 0
        assert r["arena_bytes"] == steps["int8"]["arena_bytes"]
    assert {b["board"] for b in data["boards"]} >= {"rp2040", "nrf52840"}
    for name in ("index.html", "report.json", "accuracy_vs_flash.png", "memory_timeline.png", "layer_instructions.png"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "report.json").read_text())["steps"][-1]["step"] == "int8"
    assert (tmp_path / "digits_int8.tflite").is_file()
    text = log.getvalue()
    assert "[6/6] report" in text and "verify on cortex-m4" in text
