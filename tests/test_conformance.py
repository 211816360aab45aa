"""The conformance corpus (tests/data/conformance: models made by TensorFlow's own converter, see
its README) through picoml, against tflite-micro on every tensor: ``benchmarks/conformance.py run``.

The default run checks a handful of corpus models that picoml loads today (exact equality on every
integer tensor; the float model within the suite's stated tolerance) and that the checker itself
sees a difference and records a refusal; the full run over the whole corpus, with the C on
emulated cores, is marked slow. Nothing here needs TensorFlow."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OpType, default_attrs

from oracles import qtensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import conformance as C  # noqa: E402
import conformance_run as CR  # noqa: E402

pytest.importorskip("tflite_micro")

MANIFEST = json.loads((C.CORPUS / "manifest.json").read_text())
ENTRIES = {e["file"]: e for e in MANIFEST["models"] if "file" in e}

# Loaded by picoml today; between them: the applications' CONV/DEPTHWISE/MEAN/SOFTMAX chains, the
# float-interface QUANTIZE/DEQUANTIZE edges, a 1-D CNN and single-op models.
SHORT = [
    "ds_cnn_kws.int8.tflite",
    "resnet8_cifar.int8_fio.tflite",
    "cnn1d_har.int8.tflite",
    "fc_autoencoder.int8.tflite",
    "op_hard_swish.int8.tflite",
    "op_leaky_relu.int8_fio.tflite",
    "op_prelu.int8.tflite",
]
SHORT_FLOAT = ["ds_cnn_kws.float32.tflite"]


def test_manifest_describes_the_committed_files():
    files = {p.name for p in C.CORPUS.glob("*.tflite")}
    assert files == set(ENTRIES), "manifest.json and the .tflite files differ"
    for name, e in ENTRIES.items():
        data = (C.CORPUS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"], name
        assert e["ops"], name
    models = {e["model"] for e in MANIFEST["models"]}
    assert len(models) >= 40
    assert MANIFEST["tensorflow"] == C.TF_VERSION
    assert sum(p.stat().st_size for p in C.CORPUS.iterdir()) < 8_000_000
    # every model in all three variants, or the converter's refusal recorded
    for m in models:
        kinds = {(e["kind"], e["interface"]) for e in MANIFEST["models"] if e["model"] == m}
        assert kinds == set(C.VARIANTS.values()), m


@pytest.mark.parametrize("file", SHORT + SHORT_FLOAT)
def test_corpus_model_matches_tflite_micro_on_every_tensor(file, tmp_path):
    r = CR.check_model(ENTRIES[file], C.CORPUS, 10, False, tmp_path)
    if file in SHORT_FLOAT:
        assert r["status"] in ("exact", "within tolerance"), r
        assert r["float_max_rel_diff"] <= CR.FLOAT_RTOL
    else:
        assert r["status"] == "exact", r
        assert r["integer_tensors"] >= 1
    assert r["tensors_compared"] >= 2, r
    assert r["inputs"] == 10
    assert r["distinct_outputs"] >= 5, r  # inputs that change the output, or equality is cheap
    if "distinct_argmax" in r:
        assert r["distinct_argmax"] >= 2, r


def test_the_check_sees_one_changed_weight(tmp_path):
    """A picoml graph whose first weight differs by one step from the file's: a mismatch, named."""
    file = "ds_cnn_kws.int8.tflite"
    g = picoml.load(C.CORPUS / file)
    w = next(t for t in g.ops[0].inputs[1:] if t is not None and t.data is not None and t.dtype == "int8")
    w.data = w.data.copy()
    flat = w.data.reshape(-1)
    flat[0] = flat[0] + 1 if flat[0] < 127 else flat[0] - 1
    xs, _ = CR.pick_inputs(g, ENTRIES[file], 10)
    r = CR.compare_all_tensors(g, (C.CORPUS / file).read_bytes(), xs)
    assert r["status"] == "mismatch", r
    assert "picoml" in r["detail"] and "tflite-micro" in r["detail"]


def test_shape_arithmetic_folded_at_load_is_compared(tmp_path):
    """A tensor the file computes (SHAPE's output) but picoml folded to a constant at load is compared
    once per input with tflite-micro's computed value (the variable-batch chains fold so)."""
    x = qtensor("x", (1, 4, 4, 2), 0.05, -3)
    like = Tensor("like", (1, 32), "int8", np.array([1.0]), np.array([0]), data=np.zeros((1, 32), np.int8))
    sh = Tensor("flat_shape", (2,), "int32")
    y = qtensor("y", (1, 32), 0.05, -3)
    ops = [
        Op(OpType.SHAPE, [like], [sh], default_attrs(OpType.SHAPE), name="shape"),
        Op(OpType.RESHAPE, [x, sh], [y], default_attrs(OpType.RESHAPE), name="flatten"),
    ]
    g = Graph([x, like, sh, y], ops, [x], [y], name="varbatch")
    picoml.save(g, tmp_path / "vb.tflite")
    assert picoml.load(tmp_path / "vb.tflite").tensor("flat_shape").data is not None  # folded
    entry = {"model": "vb", "file": "vb.tflite", "kind": "int8", "interface": "int8", "data": {"dist": "normal"}}
    r = CR.check_model(entry, tmp_path, 10, False, tmp_path)
    assert r["status"] == "exact", r
    assert r["tensors_compared"] == 3  # x, flat_shape, y
    assert r["integer_tensors"] == 3


def test_a_refusal_is_one_row(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(40))
    entry = {**ENTRIES[SHORT[0]], "file": "bad.tflite", "model": "bad"}
    r = CR.check_model(entry, tmp_path, 10, True, tmp_path)
    assert r["status"] == "refused" and r["stage"] == "load"
    assert r["detail"] and "\n" not in r["detail"]
    assert r["c"] == {}
    converted = CR.check_model(
        {**entry, "conversion_error": "error: 'tfl.x' op is neither"}, tmp_path, 10, True, tmp_path
    )
    assert converted["status"] == "not converted"


def test_summary_groups_refusals_by_missing_op():
    rows = [
        {
            "model": "a",
            "kind": "int8",
            "interface": "int8",
            "status": "refused",
            "detail": "unsupported ops: PACK, STRIDED_SLICE",
        },
        {
            "model": "b",
            "kind": "int8",
            "interface": "int8",
            "status": "refused",
            "detail": "unsupported ops: STRIDED_SLICE",
        },
        {"model": "c", "kind": "float32", "interface": "float32", "status": "exact", "c": {}},
    ]
    for r in rows[:2]:
        r.update(stage="load", ops=["SHAPE", "PACK", "STRIDED_SLICE"], tflite_micro="runs")
    s = CR.summary(rows)
    assert list(s["missing_ops"]) == ["STRIDED_SLICE", "PACK"]
    assert s["missing_ops"]["STRIDED_SLICE"] == {"files": 2, "models": ["a", "b"], "alone": 1, "tflm_runs": 2}
    assert s["missing_ops"]["PACK"]["files"] == 1 and s["missing_ops"]["PACK"]["alone"] == 0
    assert s["interpreter"]["all"] == {"refused": 2, "exact": 1}
    assert CR.op_label("BUILTIN_124", ["FULLY_CONNECTED", "DENSIFY"]) == "BUILTIN_124 (DENSIFY)"


def test_inputs_are_generated_the_same_in_both_phases():
    """The builder (TensorFlow venv) and the run (picoml venv) draw from the same seeded streams."""
    a, la = C.generate("x", {"dist": "classes", "classes": 4}, [(5, 3)], 6, salt=3)
    b, lb = C.generate("x", {"dist": "classes", "classes": 4}, [(5, 3)], 6, salt=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(la, lb)
    c, _ = C.generate("x", {"dist": "classes", "classes": 4}, [(5, 3)], 6, salt=1)
    assert not np.array_equal(a[0], c[0])  # calibration and comparison streams differ


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_full_conformance_run(tmp_path):
    """Every corpus model, with the C on emulated cortex-m4 and cortex-m0plus: refusals are allowed
    (they are what the table reports), a wrong value or a traceback is not."""
    pytest.importorskip("unicorn")
    res = CR.run_all(C.CORPUS, tmp_path, None, 10, True)
    rows = res["rows"]
    assert len(rows) == len(MANIFEST["models"])
    assert not [r["file"] for r in rows if r["status"] in ("mismatch", "error")]
    bad_c = [
        (r["file"], t, v["result"])
        for r in rows
        for t, v in r["c"].items()
        if isinstance(v, dict) and not v["result"].startswith(("bit-exact", "refused"))
    ]
    assert not bad_c
    assert (tmp_path / "conformance.md").is_file() and (tmp_path / "conformance.json").is_file()
