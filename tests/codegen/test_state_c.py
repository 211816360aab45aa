"""C for state (issue 15): the persistent arena region, <name>_reset() and state carried across
<name>_run() calls, checked bit-exact (float: verify's tolerance) against the reference interpreter
over consecutive inputs on the host (sanitizers) and emulated cortex-m4 / cortex-m0plus: the
harnesses run the inputs one after another in one program, so state carries as on a device."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.codegen.generate import compile_c
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType
from picoml.targets.toolchain import host_cc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernels"))
from test_svdf import svdf_graph  # noqa: E402

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "state"
TARGETS = ["host", "cortex-m4", "cortex-m0plus"]
CALLS = 12


def _check(g, xs, target):
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
    assert rep.inputs == len(xs)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("state_dtype", ["int16", "int8"])
def test_svdf_int8_c_bit_exact_over_consecutive_calls(target, state_dtype):
    g = svdf_graph(1, 10, 6, 5, 2, "int8", state_dtype, seed=7)
    xs = np.random.default_rng(7).integers(-128, 128, (CALLS, 1, 10), dtype=np.int8)
    _check(g, xs, target)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("act", ["NONE", "RELU"])
@pytest.mark.parametrize("bias", [True, False])
def test_svdf_float_c_over_consecutive_calls(target, act, bias):
    """float32 SVDF in C (pm_svdf_f32): within verify's float tolerance (float32 sums in the C,
    float64 in the reference) of the reference over 12 calls with the state carried."""
    g = svdf_graph(2, 7, 6, 4, 2, "float32", act=act, seed=5, bias=bias)
    xs = np.random.default_rng(5).standard_normal((CALLS, 2, 7)).astype(np.float32)
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
    assert rep.inputs == CALLS and rep.bit_exact, f"{target}: {rep.first_mismatch}"
    assert "pm_svdf_f32" in compile_c(g).files["model.c"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["accumulator", "delay"])
def test_resource_variable_models_in_c(target, name):
    g = picoml.load(DATA / f"{name}.float32.tflite")
    xs = np.random.default_rng(3).standard_normal((CALLS,) + g.inputs[0].shape).astype(np.float32)
    _check(g, xs, target)


def test_generated_api_has_reset_and_persistent_region():
    g = svdf_graph(2, 4, 4, 3, 2, "int8", "int16", seed=1)
    m = compile_c(g, name="kws")
    h, c = m.files["kws.h"], m.files["kws.c"]
    assert "void kws_reset(void);" in h and "#define KWS_STATE_BYTES 48" in h
    assert "if (!pm_state_ready) kws_reset();" in c
    assert m.plan.offset_of(g.ops[0].inputs[4]) == 0 and m.plan.state_bytes == 48
    x, y = Tensor("x", (1, 4)), Tensor("y", (1, 4))
    stateless = Graph([x, y], [Op(OpType.RELU, [x], [y], {}, name="y")], [x], [y])
    m = compile_c(stateless)
    assert "reset" not in m.files["model.h"] and "pm_state_ready" not in m.files["model.c"]
    assert m.plan.state_bytes == 0


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_svdf_kernel_compiles_warning_free_and_helper_free(target, tmp_path):
    """zig clang -Werror at -O2 and -Os; on Cortex-M0+ the int8 kernel calls no soft-float or
    division helper (the float32 one is soft float there by design)."""
    graphs = {"svdf16": svdf_graph(1, 6, 4, 3, 2, "int8", "int16"), "svdf8": svdf_graph(1, 6, 4, 3, 1, "int8", "int8"),
              "svdf_f32": svdf_graph(1, 6, 4, 3, 2, "float32")}  # fmt: skip
    objs = build_objects(graphs, target, tmp_path)
    ks = kernels(objs)
    assert {"pm_svdf_s8", "pm_svdf_f32"} <= {o.stem for o in ks}
    if target == "cortex-m0plus":
        assert slow_helpers([o for o in ks if o.stem == "pm_svdf_s8"]) == []


def test_svdf_runtime_is_float_free():
    assert_runtime_float_free(["pm_svdf_s8.c", "pm_svdf_s8.h"])


_RESET_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "{name}.h"
/* stdin: CALLS inputs; runs them, then {name}_reset() and the same inputs again: the second pass
 * must repeat the first byte for byte, and (state mattering) the last call differ from the first. */
int main(void) {{
  static {ct} xs[{calls}][{NAME}_INPUT_SIZE], ys[2][{calls}][{NAME}_OUTPUT_SIZE];
  if (fread(xs, sizeof xs, 1, stdin) != 1) return 2;
  for (int pass = 0; pass < 2; pass++) {{
    if (pass) {name}_reset();
    for (int k = 0; k < {calls}; k++)
      if ({name}_invoke(xs[k], ys[pass][k]) != 0) return 3;
  }}
  fwrite(ys, sizeof ys, 1, stdout);
  return memcmp(ys[0], ys[1], sizeof ys[0]) != 0;
}}
"""


@pytest.mark.parametrize(
    "model", ["signal/frontend_16k_40ch.tflite", "signal/frontend_8k_20ch_no_pcan.tflite", "state/delay.float32.tflite"]
)
def test_reset_restores_every_state(model, tmp_path):
    """``<name>_reset()`` returns variable tensors and the signal ops' static state (noise
    estimates, framer / stacker / delay buffers) to the start: a second pass over the same inputs
    after it repeats the first exactly, although state changed the outputs along the way."""
    g = picoml.load(DATA.parent / model)
    x = g.inputs[0]
    one = np.random.default_rng(5).standard_normal(x.shape)
    # the same input six times: only state can make the outputs differ
    if x.dtype == "int16":
        xs, ct = np.repeat((one * 6000).astype(np.int16)[None], 6, axis=0), "int16_t"
    else:
        xs, ct = np.repeat(one.astype(np.float32)[None], 6, axis=0), "float"
    files = compile_c(g, name="m").write(tmp_path / "src")
    (tmp_path / "src" / "main.c").write_text(_RESET_MAIN.format(name="m", NAME="M", ct=ct, calls=len(xs)))
    exe = tmp_path / "run"
    srcs = [str(tmp_path / "src" / f) for f in sorted(files) if f.endswith(".c")] + [str(tmp_path / "src" / "main.c")]
    subprocess.run([*host_cc(), "-std=c99", "-O1", "-o", str(exe), *srcs, "-lm"], check=True)
    r = subprocess.run([str(exe)], input=xs.tobytes(), capture_output=True, timeout=60)
    assert r.returncode == 0, f"the pass after {model}'s reset differs from the first (rc {r.returncode})"
    ys = np.frombuffer(r.stdout, g.outputs[0].np_dtype).reshape(2, len(xs), -1)
    assert (ys[0, 0] != ys[0, -1]).any(), "state did not change the outputs: the test would prove nothing"
