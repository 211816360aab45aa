"""Smoke test of benchmarks/bench_codegen.py: its helpers, and the --quick run on AD."""

import ctypes
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.plan import plan_memory

from oracles import model_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_codegen as bc  # noqa: E402

pytest.importorskip("tflite_micro")
pytest.importorskip("ai_edge_litert")
pytest.importorskip("unicorn")


def test_run_captured_sees_what_c_writes_to_the_descriptors():
    libc = ctypes.CDLL(None)

    def noisy():
        libc.printf(b"printf from C %d\n", 42)  # stdio-buffered: must be flushed before fd 1 returns
        os.write(2, b"straight to fd 2\n")
        return 7

    result, text = bc.run_captured(noisy)
    assert result == 7
    assert "printf from C 42" in text
    assert "straight to fd 2" in text


ALLOC = """\
[RecordingMicroAllocator] Arena allocation total {total} bytes
[RecordingMicroAllocator] Arena allocation head 200 bytes
[RecordingMicroAllocator] Arena allocation tail 100 bytes
[RecordingMicroAllocator] 'NodeAndRegistration struct' used 64 bytes with alignment overhead (requested 64 bytes)
"""


def test_parse_allocations():
    r = bc.parse_allocations(ALLOC.format(total=300))
    assert (r["arena_bytes"], r["head_bytes"], r["tail_bytes"]) == (300, 200, 100)
    assert r["sections"] == {"NodeAndRegistration struct": 64}
    with pytest.raises(SystemExit, match="total 301"):
        bc.parse_allocations(ALLOC.format(total=301))
    with pytest.raises(SystemExit, match="could not parse"):
        bc.parse_allocations("no allocator report here")


@pytest.mark.models
def test_tflm_arena_of_ad():
    path = model_path("ad", "int8")
    g = picoml.load(path)
    r = bc.tflm_arena(path, np.zeros(g.inputs[0].shape, np.int8))
    # the figure issue 3 quotes for this model; deterministic for a given tflite-micro build
    assert r["arena_bytes"] == 3984
    assert sum(r["sections"].values()) <= r["tail_bytes"]


@pytest.mark.models
def test_host_check_refuses_a_wrong_model(tmp_path):
    """The latency part compares the host library with tflite-micro before timing anything."""
    path = model_path("ad", "int8")
    g = picoml.load(path)
    w = g.ops[0].inputs[1].data
    w[:] = -w  # the generated C now computes another model than the file tflite-micro runs
    xs = np.random.default_rng(1).integers(-128, 128, (2,) + g.inputs[0].shape, dtype=np.int8)
    with pytest.raises(SystemExit, match="not benchmarking a wrong result"):
        bc.host_latency(g, path, xs, tmp_path, batches=5, batch_s=0.01)


@pytest.mark.models
def test_quick_run_on_ad(tmp_path):
    data = bc.main(["--quick", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "codegen.json").read_text())["results"][0]["model"] == "ad"
    md = (tmp_path / "codegen.md").read_text()
    assert "| AD |" in md and bc.QUOTED_NOTE in md and "--quick" in md
    # per layer, estimated cycles on both cores: AD's 10 FULLY_CONNECTED layers, each its own row
    section = md.split("## Per layer: AD, estimated cycles")[1]
    assert section.count("| FULLY_CONNECTED |") == 10
    [r] = data["results"]
    g = picoml.load(model_path("ad", "int8"))

    ram = r["ram"]
    assert ram["arena_bytes"] == plan_memory(g).arena_bytes
    assert ram["picoml_bytes"] == ram["data_bss_bytes"] + ram["stack_bytes"]
    # zero-copy harness: the input and output live in the arena, .data + .bss is the arena and a few bytes
    assert 0 <= ram["other_static_bytes"] < 16 and ram["harness_ram_bytes"] == 0
    assert ram["ratio"] == ram["picoml_bytes"] / ram["tflm_arena_bytes"]
    assert ram["tflm_arena_bytes"] == r["tflm"]["arena_bytes"] == 3984

    for opt in bc.FLASH_OPTS:
        f = r["flash"][opt]
        by = f["by_origin"]
        assert f["model_kernels_bytes"] == by["model"] + by["kernels"]
        # verify's figure = every non-weight symbol + what no symbol covers (padding)
        assert sum(v for k, v in by.items() if k != "weights") + f["unlisted_bytes"] == f["code_bytes"]
        assert 0 <= f["unlisted_bytes"] < 256, "flash bytes no symbol covers"
        assert by["harness_startup"] > 0 and f["model_kernels_bytes"] < f["code_bytes"]
    run = next(x for x in r["emulated_runs"] if x["target"] == "cortex-m4" and x["opt"] == "-O2")
    origin = {s["name"]: s["origin"] for s in run["symbols"]}
    assert origin["model_run"] == "model" and "model_invoke" not in origin  # the harness calls run()
    assert origin["pm_fully_connected_s8"] == "kernels"
    assert origin["pm_start"] == "harness_startup"
    assert "memcpy" not in origin  # zero-copy: nothing copies AD's input in or its output out

    # issue 17's cycle aim: est. cycles on cortex-m4 at most 0.9x Plumerai's 4.05 ms at 120 MHz
    [cyc] = [a for a in data["aims"] if "est. cycles" in a["aim"]]
    assert "0.44 M" in cyc["aim"] and cyc["met"] == (r["speed"]["cortex-m4"]["cycles"] <= 0.9 * 4.05e-3 * 120e6)

    macs = sum(layer["macs"] for layer in r["speed"]["cortex-m4"]["layers"])
    assert macs == r["macs"] > 0
    for t in bc.SPEED_TARGETS:
        s = r["speed"][t]
        assert len(s["layers"]) == len(g.ops)
        assert sum(layer["instructions"] for layer in s["layers"]) <= s["instructions"]
        assert s["instructions"] > r["macs"]
        assert s["instructions_per_mac"] == s["instructions"] / r["macs"]
        assert s["kernel_variant"] in ("portable", "armv6m", "armv7em")
    # one counted inference is exact: a fresh build and run counts the same
    again = bc.emulate(g, bc.bench_inputs(g, quick=True)[0], "cortex-m4", "-O2", tmp_path / "again")
    assert again["instructions"] == r["speed"]["cortex-m4"]["instructions"]

    h = r["host"]
    assert h["picoml_equals_tflm"] and h["checked_inputs"] >= 2
    assert all(v > 0 for v in h["us"].values())
    assert h["tflm_over_picoml"] == h["us"]["tflm"] / h["us"]["picoml"]
    assert 0 <= h["litert_equal_elements"] <= h["litert_total_elements"] == h["checked_inputs"] * g.outputs[0].size
