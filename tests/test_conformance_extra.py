"""The conformance corpus's files for MIRROR_PAD, L2_NORMALIZATION, LOG_SOFTMAX, CUMSUM, GELU and RELU_N1_TO_1
(made by TensorFlow's converter, tests/data/conformance). MIRROR_PAD, L2_NORMALIZATION and
LOG_SOFTMAX: every tensor equal to tflite-micro's and the int8 files' generated C bit-exact on
emulated Cortex-M4 and Cortex-M0+ (``benchmarks/conformance_run.check_model``). GELU and
RELU_N1_TO_1: tflite-micro cannot run them (no kernel), so the check compares the files with LiteRT
(its reference kernels; int8 exact, float32 within conformance_run.FLOAT_RTOL), op by op where
LiteRT's own int8 FULLY_CONNECTED rounds differently (that op alone then goes to tflite-micro), and
their int8 C is still bit-exact with picoml's interpreter. CUMSUM: the converter runs it in float (its
"int8" file between DEQUANTIZE and QUANTIZE): every tensor exact in all three variants, no C (float)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.graph.ops import OpType
from picoml.reference import KERNELS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import conformance as C  # noqa: E402
import conformance_run as CR  # noqa: E402

from oracles import assert_float_close, assert_int_equal  # noqa: E402

pytest.importorskip("tflite_micro")

ENTRIES = {e["file"]: e for e in json.loads((C.CORPUS / "manifest.json").read_text())["models"] if "file" in e}
TFLM_OPS = ["op_mirror_pad", "op_l2_normalization", "op_log_softmax"]
LITERT_OPS = ["op_gelu", "op_relu_n1_to_1"]


@pytest.mark.parametrize("model", TFLM_OPS + LITERT_OPS)
def test_int8_file_c_is_bit_exact(model, tmp_path):
    r = CR.check_model(ENTRIES[f"{model}.int8.tflite"], C.CORPUS, 10, True, tmp_path)
    assert r["status"] == "exact", r
    assert r["oracle"].startswith("tflite-micro" if model in TFLM_OPS else "LiteRT"), r
    assert r["distinct_outputs"] >= 5, r
    assert {t: r["c"][t]["result"] for t in CR.TARGETS} == {t: "bit-exact" for t in CR.TARGETS}, r["c"]


def test_litert_rows_fail_on_a_wrong_kernel(tmp_path, monkeypatch):
    """The op-by-op fallback is a real check: a GELU kernel one code off is a mismatch naming the op
    (LiteRT disagrees and tflite-micro cannot run GELU alone), not an "exact" row."""
    k = KERNELS[OpType.GELU]

    def off_by_one(params, args):
        y = k.evaluate(params, args)
        return np.where(y < 127, y + 1, y).astype(y.dtype) if y.dtype == np.int8 else y

    monkeypatch.setitem(KERNELS, OpType.GELU, k._replace(evaluate=off_by_one))
    r = CR.check_model(ENTRIES["op_gelu.int8.tflite"], C.CORPUS, 10, False, tmp_path)
    assert r["status"] == "mismatch" and "GELU" in r["detail"] and "tflite-micro cannot run it" in r["detail"], r
    assert r["op_by_op"]["litert_differs"], r


@pytest.mark.parametrize("variant", ["int8", "int8_fio", "float32"])
def test_cumsum_files_are_exact(variant, tmp_path):
    r = CR.check_model(ENTRIES[f"op_cumsum.{variant}.tflite"], C.CORPUS, 10, False, tmp_path)
    assert r["status"] == "exact" and r["distinct_outputs"] >= 5, r


@pytest.mark.parametrize("variant", ["int8_fio", "float32"])
@pytest.mark.parametrize("model", TFLM_OPS)
def test_other_variants(model, variant, tmp_path):
    r = CR.check_model(ENTRIES[f"{model}.{variant}.tflite"], C.CORPUS, 10, False, tmp_path)
    assert r["status"] in (("exact",) if variant == "int8_fio" else ("exact", "within tolerance")), r


def _litert_tensors(path: Path, x: np.ndarray) -> list[dict[str, np.ndarray]]:
    """LiteRT (reference kernels, every tensor kept): name -> value, per sample."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    ip = Interpreter(
        model_content=path.read_bytes(),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    ip.allocate_tensors()
    out = []
    for v in x:
        ip.set_tensor(ip.get_input_details()[0]["index"], v)
        ip.invoke()
        out.append({d["name"]: ip.get_tensor(d["index"]).copy() for d in ip.get_tensor_details() if d["name"]})
    return out


@pytest.mark.parametrize("variant", ["int8", "int8_fio", "float32"])
@pytest.mark.parametrize("model", LITERT_OPS)
def test_litert_ops_match_litert(model, variant):
    """Each GELU / RELU_N1_TO_1 of the file, fed LiteRT's own input tensor, gives LiteRT's output
    (op by op: LiteRT's int8 FULLY_CONNECTED before GELU differs from tflite-micro's, and so from
    picoml's, in a few values)."""
    path = C.CORPUS / f"{model}.{variant}.tflite"
    g = picoml.load(path)
    t = g.inputs[0]
    x = (np.random.default_rng(3).standard_normal((8, *t.shape)) * 2).astype(np.float32)
    if t.dtype == "int8":
        x = np.clip(np.round(x / t.scale[0]) + t.zero_point[0], -128, 127).astype(np.int8)
    values = _litert_tensors(path, x)
    ops = [op for op in g.ops if op.type in (OpType.GELU, OpType.RELU_N1_TO_1)]
    assert len(ops) == 1
    op = ops[0]
    k = KERNELS[op.type]
    a = np.stack([v[op.inputs[0].name] for v in values])
    got = k.evaluate(k.prepare(op), [a])
    want = np.stack([v[op.outputs[0].name] for v in values])
    if got.dtype == np.int8:
        assert_int_equal(got, want, f"{model}.{variant}")
        assert len(np.unique(got)) > 20
    else:
        assert_float_close(got, want, f"{model}.{variant}")
