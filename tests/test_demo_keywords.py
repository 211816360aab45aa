"""`picoml demo --task keywords --quick` end to end: speech synthesized with eSpeak NG, the device
front end, a CNN, int8 / 16x8, one C library from raw PCM verified bit-exact on both emulated
cores, the report in the digits demo's layout with the measured figures. Needs espeak-ng (skips
with one line without it, fails where CI requires it: tests/test_keywords_data.py)."""

from __future__ import annotations

import io
import json

import pytest

from picoml.cli import main
from picoml.frontends.tflite import read_tflite_bytes
from test_keywords_data import _espeak_or_skip

pytest.importorskip("torch")
pytest.importorskip("matplotlib")


def test_keywords_demo_quick(tmp_path):
    from picoml.flows.demo import Progress
    from picoml.flows.demo_keywords import run_keywords_demo

    _espeak_or_skip()
    log = io.StringIO()
    out = tmp_path / "demo-keywords"
    data = run_keywords_demo(out, quick=True, n_verify=2, progress=Progress(log), cache_dir=tmp_path / "cache")
    assert data["task"] == "keywords" and data["metric"] == "accuracy"
    steps = {s["step"]: s for s in data["steps"]}
    assert list(steps) == ["float", "int8", "16x8"]
    chance = 1 / len(data["classes"])
    assert len(data["classes"]) == 12
    # every accuracy is measured on the held-out voices (72 clips in the quick set), above chance
    assert all(chance < s["value"] <= 1.0 for s in data["steps"]), [s["value"] for s in data["steps"]]
    assert data["data"]["clips"]["test"] == 72 and data["data"]["voices"]["test"]
    assert not set(data["data"]["voices"]["test"]) & set(data["data"]["voices"]["train"])
    chosen = steps[data["chosen"]]
    assert steps["int8"]["weight_bytes"] < 0.4 * steps["float"]["weight_bytes"]
    for target in ("cortex-m0plus", "cortex-m4"):
        r = data["targets"][target]
        assert r["bit_exact"] is True and r["mismatches"] == 0 and r["inputs"] == 2
        assert r["instructions"] == chosen["instructions"][target] > 1_000_000
        assert r["arena_bytes"] == chosen["arena_bytes"] > 32_000  # the 1 s clip of int16 PCM is in it
        rt = data["realtime"][target]
        assert rt["instructions_per_second_of_audio"] == r["instructions"]
        assert rt["ms_per_second_at_64_mhz"] == pytest.approx(r["instructions"] / 64e3)
        assert rt["real_time_at_64_mhz"] == (r["instructions"] < 64e6)
        rows = {lay["op"]: lay for lay in r["layer_instructions"]}  # the 49 frames summed per op type
        assert rows["49x SIGNAL_RFFT"]["instructions"] > 0 and "49x SLICE" in rows
        assert sum(lay["instructions"] for lay in r["layer_instructions"]) <= r["instructions"]
    boards = {b["board"]: b for b in data["boards"]}
    assert {"rp2040", "nrf52840"} <= set(boards)
    nrf = boards["nrf52840"]
    assert nrf["latency_ms"] == pytest.approx(data["targets"]["cortex-m4"]["instructions"] / 64e3)
    assert nrf["real_time"] == (nrf["latency_ms"] < 1000)
    for name in ("index.html", "report.json", "accuracy_vs_flash.png", "memory_timeline.png", "layer_instructions.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "report.json").read_text())
    assert saved["task"] == "keywords" and saved["steps"][1]["step"] == "int8"
    assert all(t["bit_exact"] for t in saved["targets"].values())
    g = read_tflite_bytes((out / f"keywords_{data['chosen']}.tflite").read_bytes())
    assert g.inputs[0].dtype == "int16" and g.inputs[0].shape == (16000,)  # raw PCM in
    assert len(data["memory"]["ops"]) < 60  # frames 1-48 collapsed for the plot
    text = log.getvalue()
    assert "[6/6] report" in text and "verify on cortex-m4" in text


def test_keywords_demo_without_espeak_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on it
    assert main(["demo", "--task", "keywords", "--quick", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt-get install espeak-ng" in err[0], err
    assert not (tmp_path / "out" / "report.json").exists()
