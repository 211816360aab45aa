"""The conformance corpus's files for REDUCE_MAX, REDUCE_MIN, SUM, ARG_MAX, ARG_MIN, BATCH_MATMUL and
GATHER (made by TensorFlow's converter, tests/data/conformance): every tensor equal to tflite-micro's,
and the int8 files' generated C bit-exact on emulated Cortex-M4 and Cortex-M0+
(``benchmarks/conformance_run.check_model``, as ``benchmarks/conformance.py run`` does)."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import conformance as C  # noqa: E402
import conformance_run as CR  # noqa: E402

pytest.importorskip("tflite_micro")

ENTRIES = {e["file"]: e for e in json.loads((C.CORPUS / "manifest.json").read_text())["models"] if "file" in e}

OPS = [
    "op_reduce_max",
    "op_reduce_min",
    "op_sum",
    "op_arg_max",
    "op_arg_min",
    "op_batch_matmul",
    "op_batch_matmul_adj_y",
    "op_gather",
]
# applications: a 1-D CNN with a global max (REDUCE_MAX), a tiny transformer block (BATCH_MATMUL of
# two computed values, softmax, layer norm); the latter's C is refused for its NEG / DEQUANTIZE
APPS = ["cnn1d_dilated_causal", "attention_tiny"]


@pytest.mark.parametrize("file", [f"{m}.int8.tflite" for m in OPS + APPS])
def test_int8_file_is_exact_and_its_c_bit_exact(file, tmp_path):
    r = CR.check_model(ENTRIES[file], C.CORPUS, 10, True, tmp_path)
    assert r["status"] == "exact", r
    assert r["distinct_outputs"] >= 5, r
    if not file.startswith("attention_tiny"):
        results = {t: r["c"][t]["result"] for t in CR.TARGETS}
        assert results == {t: "bit-exact" for t in CR.TARGETS}, r["c"]


@pytest.mark.parametrize("variant", ["int8_fio", "float32"])
@pytest.mark.parametrize("model", OPS + APPS)
def test_other_variants(model, variant, tmp_path):
    r = CR.check_model(ENTRIES[f"{model}.{variant}.tflite"], C.CORPUS, 10, False, tmp_path)
    assert r["status"] in (("exact",) if variant == "int8_fio" else ("exact", "within tolerance")), r
