"""The HTML report: real data from a model, every plot written and referenced, JSON round-trips."""

from __future__ import annotations

import json
import struct

import pytest

import picoml
from picoml.flows.report import write_report
from picoml.plan import plan_memory

from oracles import model_path

pytestmark = pytest.mark.models


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def memory_section(g) -> dict:
    plan = plan_memory(g)
    s = plan.summary()
    return {
        "ops": [f"{i} {op.type}" for i, op in enumerate(g.ops)],
        "live_bytes": s["live_bytes_per_op"],
        "arena_bytes": s["arena_bytes"],
        "lower_bound": s["arena_lower_bound_bytes"],
        "buffers": [
            {"name": b["name"], "offset": b["offset"], "size": b["size"], "first": b["first_op"], "last": b["last_op"]}
            for b in s["buffers"]
        ],
    }


def test_report_from_a_verified_model(tmp_path):
    pytest.importorskip("matplotlib")
    from picoml.flows.verify import verify

    g = picoml.load(model_path("ad", "int8"))
    rep = verify(g, "cortex-m4", n_inputs=2)
    assert rep.bit_exact
    data = {
        "title": "AD report",
        "task": "anomaly",
        "metric": "accuracy",
        "steps": [
            {"step": "float", "value": 0.91, "params": 100, "macs": 1000, "weight_bytes": 4000, "arena_bytes": None},
            {
                "step": "int8",
                "value": 0.9,
                "params": 100,
                "macs": 1000,
                "weight_bytes": 1000,
                "arena_bytes": 768,
                "instructions": {"cortex-m4": rep.instructions},
            },
        ],
        "targets": {"cortex-m4": rep.to_json()},
        "boards": [
            {
                "board": "nrf52840",
                "ram_kb": 256,
                "flash_kb": 1024,
                "fits": True,
                "message": rep.fit_message,
                "latency_ms": rep.latency_ms_lower_bound,
            }
        ],
        "memory": memory_section(g),
    }
    page = write_report(tmp_path, data)
    text = page.read_text()
    for png in ("accuracy_vs_flash.png", "memory_timeline.png", "layer_instructions.png"):
        assert f"src='{png}'" in text
        w, h = _png_size(tmp_path / png)
        assert w >= 500 and h >= 300  # legible: at least ~5 inches at 110 dpi
    assert (
        json.loads((tmp_path / "report.json").read_text())["targets"]["cortex-m4"]["instructions"] == rep.instructions
    )
    assert f"{rep.instructions:,}" in text
    assert "AD report" in text and "nrf52840" in text


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    """The page renders in a real browser (Debian's chromium): a non-blank full-page screenshot."""
    import shutil
    import sys

    if not shutil.which("chromium"):
        pytest.skip("chromium not installed (apt-get install chromium)")
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from screenshot_report import png_size_and_colors, screenshot

    test_report_from_a_verified_model(tmp_path)
    shot = screenshot(tmp_path / "index.html", tmp_path / "shot.png")
    w, h, rows = png_size_and_colors(shot)
    assert (w, h) == (1200, 2600)
    assert rows > 200  # tables and three plots, not a blank or error page


def test_report_is_one_output_that_never_overwrites_the_users_files(tmp_path):
    """write_report goes through write_tree: a rerun replaces picoml's own files, a file the user put
    there or edited is refused (InputError: exit 2) unless forced, and an input is never written."""
    from picoml.errors import InputError

    data = {"title": "t", "summary": "s", "advice": [{"gain": 0.5, "kind": "pad", "text": "x"}]}
    write_report(tmp_path, data)
    write_report(tmp_path, {**data, "summary": "again"})  # picoml's own files: replaced
    assert "again" in (tmp_path / "index.html").read_text()
    (tmp_path / "index.html").write_text("my notes")  # the user edits picoml's file
    with pytest.raises(InputError, match="changed since picoml wrote it"):
        write_report(tmp_path, data)
    assert (tmp_path / "index.html").read_text() == "my notes"
    other = tmp_path.parent / f"{tmp_path.name}-other"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match="did not write"):
        write_report(other, data)
    write_report(other, data, force=True)
    assert (other / "mine.txt").read_text() == "keep" and (other / "index.html").is_file()
