"""Converter-made 16x8 models (tests/data/s16, made by benchmarks/corpus_16x8.py with TensorFlow
2.21's EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8): every intermediate tensor
exact against tflite-micro over consecutive inputs, and the C bit-exact on the host and on
emulated Cortex-M4, Cortex-M0+ and RISC-V."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.flows.verify import verify
from test_fuzz import run_case

from fuzz_mutators import case_rng, make_case, walk
from oracles import assert_int_equal, tflm_interpreter

DATA = Path(__file__).parent / "data" / "s16"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
MODELS = [m["file"] for m in MANIFEST["models"] if "error" not in m]
N_INPUTS = 10


def _inputs(g, n: int, seed: int) -> np.ndarray:
    """N(0, 1) samples (the calibration distribution), quantized to the input's int16 when it is int16."""
    t = g.inputs[0]
    x = np.random.default_rng(seed).standard_normal((n, *t.shape)).astype(np.float32)
    if t.dtype == "float32":
        return x
    return np.clip(np.round(x / np.float32(t.scale[0])), -32768, 32767).astype(np.int16)


def test_manifest_lists_every_file_with_provenance():
    files = {p.name for p in DATA.glob("*.tflite")}
    assert files == set(MODELS) and len(MODELS) >= 8
    assert MANIFEST["generator"] == "benchmarks/corpus_16x8.py" and MANIFEST["tensorflow"].startswith("2.")
    for m in MANIFEST["models"]:
        data = (DATA / m["file"]).read_bytes()
        assert len(data) == m["bytes"] < 200_000
        assert "int16" in m["tensor_dtypes"] and "int8" in m["tensor_dtypes"]


@pytest.mark.parametrize("name", MODELS)
def test_every_intermediate_tensor_exact(name):
    path = DATA / name
    g = picoml.load(path)
    xs = _inputs(g, N_INPUTS, 15)
    ours = picoml.run(g, xs, all_tensors=True)
    activations = [(i, t) for i, t in enumerate(g.tensors) if t.data is None]
    assert len(activations) == len(g.ops) + 1
    ip = tflm_interpreter(path.read_bytes(), preserve_all=True)
    for k in range(N_INPUTS):
        ip.set_input(xs[k], 0)
        ip.invoke()
        for i, t in activations:
            theirs = np.asarray(ip.GetTensor(i, 0)["tensor_data"]).reshape(t.shape)
            if t.dtype == "float32":
                np.testing.assert_array_equal(ours[t.name][k], theirs, err_msg=f"{name} input {k} {t.name!r}")
            else:
                assert_int_equal(ours[t.name][k], theirs, f"{name} input {k} tensor {t.name!r}")
    out = picoml.run(g, xs)
    assert len(np.unique(out.reshape(N_INPUTS, -1), axis=0)) > N_INPUTS // 2  # not a constant output


@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus"])
@pytest.mark.parametrize("name", MODELS)
def test_c_bit_exact(name, target):
    _c_bit_exact(name, target)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_c_bit_exact_riscv32(name):
    _c_bit_exact(name, "riscv32")


def _c_bit_exact(name, target):
    g = picoml.load(DATA / name)
    rep = verify(
        g, target, xs=_inputs(g, 4 if target != "host" else N_INPUTS, 3), sanitize=target == "host", counted_runs=1
    )
    assert rep.bit_exact, f"{name} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"


FUZZ_MODELS = ["residual_net.s16.tflite", "small_cnn.s16_fio.tflite", "conv1d_net.s16.tflite"]
FUZZ_CASES = 150


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", FUZZ_MODELS)
def test_fuzzed_16x8_models_fail_in_one_line(name):
    """tests/test_fuzz.py's mutations on 16x8 files: every case loads and runs, or is refused with
    one PicomlError line; none crashes (int16 / int64 tensors, the 16x8 kernels' prepare checks)."""
    data = (DATA / name).read_bytes()
    lay = walk(data)
    seen = {}
    for i in range(FUZZ_CASES):
        case, desc = make_case(data, lay, case_rng(15, name, i))
        try:
            outcome = run_case(case)
        except Exception as e:  # noqa: BLE001 - a crash is the failure this test looks for
            raise AssertionError(f"{name} case {i} ({desc}): {type(e).__name__}: {e}") from e
        seen[outcome.split(":")[0]] = seen.get(outcome.split(":")[0], 0) + 1
    assert seen.get("parse") and seen.get("validate") and seen.get("ran"), seen
