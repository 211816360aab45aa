"""C for UNIDIRECTIONAL_SEQUENCE_LSTM (issue 15): pm_lstm_s8 (int8 and 16x8) bit-exact with the
reference, pm_lstm_f32 within verify's float tolerance, over 12 consecutive calls with the hidden
and cell state carried in the arena's persistent region, on the host (sanitizers) and emulated
cortex-m4 / cortex-m0plus (the harness runs the inputs one after another in one program)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import picoml
from picoml.codegen.generate import compile_c
from picoml.flows.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernels"))
from test_lstm import _xs, lstm_graph  # noqa: E402

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "lstm"
TARGETS = ["host", "cortex-m4", "cortex-m0plus"]


def _check(g, target):
    xs = _xs(g, 4)
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
    assert rep.inputs == len(xs) == 12
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", ["int8", "float32"])
def test_converter_lstm_in_c(target, kind):
    """The converter's stacked LSTM (two layers, the last step sliced): int8 bit-exact, float32
    within verify's tolerance, state carried over 12 calls."""
    _check(picoml.load(DATA / f"lstm_stacked.{kind}.tflite"), target)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
def test_built_lstm_in_c_time_major_with_clip(target, dtype):
    """Time-major, batch 2, a cell clip that bites; 16x8 (int16 activations, int64 biases) too."""
    g = lstm_graph(2, 3, 4, 5, dtype, time_major=True, clip=0.6, seed=7)
    _check(g, target)
    assert ("pm_lstm_f32(" if dtype == "float32" else "pm_lstm_s8(") in compile_c(g).files["model.c"]


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_lstm_kernels_compile_warning_free_and_helper_free(target, tmp_path):
    """zig clang -Werror at -O2 and -Os; on Cortex-M0+ the integer kernel calls no soft-float or
    division helper (the float32 one is soft float there by design)."""
    graphs = {"lstm8": lstm_graph(1, 2, 3, 4, "int8"), "lstm16": lstm_graph(1, 2, 3, 4, "int16"),
              "lstm_f32": lstm_graph(1, 2, 3, 4, "float32")}  # fmt: skip
    ks = kernels(build_objects(graphs, target, tmp_path))
    assert {"pm_lstm_s8", "pm_lstm_f32"} <= {o.stem for o in ks}
    if target == "cortex-m0plus":
        assert slow_helpers([o for o in ks if o.stem == "pm_lstm_s8"]) == []


def test_lstm_integer_runtime_is_float_free():
    assert_runtime_float_free(["pm_lstm_s8.c", "pm_lstm_s8.h"])
