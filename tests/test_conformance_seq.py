"""The sequences-and-sound section of the conformance suite (``benchmarks/conformance.py seq``,
issue 15): 16x8 converter models, Keras and PyTorch LSTM/GRU, resource-variable models, SVDF
and the audio front ends against tflite-micro on every tensor over consecutive calls with state
carried, and in C on emulated cortex-m4 / cortex-m0plus.

The default run checks one file of each stateful kind (interpreter and C) and that the check
sees a lost state; the whole section is marked slow (~1 min)."""

import sys
from pathlib import Path

import numpy as np
import pytest

import picoml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import conformance_run as CR  # noqa: E402
import conformance_seq as CS  # noqa: E402

pytest.importorskip("tflite_micro")
ENTRIES = {(e["model"], e["kind"]): e for e in CS.entries()}


def test_the_section_has_the_models_the_issue_lists():
    """At least 15 files: 16x8 converter models of several shapes, LSTM and GRU from Keras and
    PyTorch, an SVDF model, audio front ends, state across calls."""
    es = CS.entries()
    assert len(es) >= 15
    sources = {e["source"] for e in es}
    assert {"TF converter (16x8)", "TF converter (Keras)", "PyTorch nn.LSTM", "PyTorch nn.GRU"} <= sources
    assert {e["kind"] for e in es if e["source"] == "TF converter (Keras 2 LSTM, fused)"} == {"float32", "int8"}
    assert len({e["model"] for e in es if e["source"] == "TF converter (16x8)"}) >= 3
    assert any(e["model"].startswith("svdf") for e in es) and any("stride" in e for e in es)
    for e in es:
        if e["file"]:
            assert (CS.DATA / e["file"]).is_file(), e["file"]


@pytest.mark.parametrize(
    "key",
    [
        ("frontend_16k_40ch", "int16"),
        ("accumulator", "float32"),
        ("svdf_int16_state", "int8"),
        ("lstm_stacked", "int8"),
    ],
)
def test_stateful_file_exact_over_consecutive_calls(key, tmp_path):
    r = CS.check(ENTRIES[key], 10, True, tmp_path)
    assert r["status"] == ("within tolerance" if key[1] == "float32" and r["status"] != "exact" else "exact"), (
        r["status"],
        r.get("detail"),
    )
    assert r["inputs"] == 10 and r["distinct_outputs"] >= 9 and r["tensors_compared"] >= 1
    for t in CR.TARGETS:
        assert r["c"][t]["result"] == "bit-exact", (t, r["c"][t])


def test_a_lost_state_is_a_mismatch(tmp_path):
    """Were picoml's reference to forget the state between calls (each call a first one), the
    comparison with tflite-micro's consecutive calls must fail: the check sees state."""
    e = ENTRIES[("delay", "float32")]
    g = picoml.load(CS.DATA / e["file"])
    xs = CS.stream_inputs(g, e, 10)
    ref = CS.reference_all(g, xs)
    calls = [picoml.run(g, x[None], all_tensors=True) for x in xs]  # each call from the initial state
    forgetful = {k: np.stack([np.asarray(c[k]).reshape(v.shape[1:]) for c in calls]) for k, v in ref.items()}
    r = CR.compare_all_tensors(g, (CS.DATA / e["file"]).read_bytes(), [xs], ours=forgetful)
    assert r["status"] == "mismatch", r
    r = CR.compare_all_tensors(g, (CS.DATA / e["file"]).read_bytes(), [xs], ours=ref)
    assert r["status"] == "exact", r


def test_audio_frames_overlap_at_the_stride():
    e = ENTRIES[("frontend_16k_40ch", "int16")]
    g = picoml.load(CS.DATA / e["file"])
    xs = CS.stream_inputs(g, e, 3)
    s, n = e["stride"], xs.shape[1]
    np.testing.assert_array_equal(xs[0][s:], xs[1][: n - s])
    assert np.abs(xs).max() > 2000  # speech level, not silence


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_full_sequence_section(tmp_path):
    pytest.importorskip("unicorn")
    res = CS.run(tmp_path, None, 12, True)
    rows = res["rows"]
    assert not [
        (r["model"], r["kind"], r.get("detail")) for r in rows if r["status"] not in ("exact", "within tolerance")
    ]
    bad_c = [(r["model"], t, v["result"]) for r in rows for t, v in r["c"].items()
             if isinstance(v, dict) and not v["result"].startswith(("bit-exact", "within tolerance", "refused"))]  # fmt: skip
    assert not bad_c
    assert (tmp_path / "conformance_seq.md").is_file()
