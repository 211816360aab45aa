"""Generated C for int8 HARD_SWISH, ELU, ABS, RSQRT, EXP, SQRT (256-entry tables) and PRELU
(pm_prelu_s8; a table for a single alpha): bit-exact with the reference interpreter (itself
bit-exact with tflite-micro; with LiteRT for EXP and SQRT) on the host under ASan/UBSan and on emulated Cortex-M0+, Cortex-M4 and RISC-V 32,
warning-free (-Werror, gcc and zig clang) and free of soft-float and division helpers."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import picoml
from picoml.codegen import generate as gen
from picoml.codegen import write_c
from picoml.codegen.emit_activation import ACTIVATION_FILES
from picoml.flows.verify import verify
from picoml.graph import Graph, Op
from picoml.graph.ops import default_attrs
from picoml.plan import plan_memory
from picoml.targets.toolchain import WARNINGS, host_cc

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers
from oracles import qtensor, single_op_graph

RUNTIME_FILES = sorted({f"{s}.{e}" for stems in ACTIVATION_FILES.values() for s in stems for e in "hc"})


def check(g, xs, target="host", what=""):
    rep = verify(g, target, xs=np.asarray(xs, np.int8), sanitize=target == "host", counted_runs=1)
    assert rep.inputs == len(xs)
    assert rep.bit_exact, f"{what} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def all_codes(shape, rng, extra=2):
    """Samples of `shape` (size 256) that together hold every int8 code."""
    codes = np.arange(-128, 128)
    rows = [codes, codes[::-1]] + [rng.permutation(codes) for _ in range(extra)]
    return np.stack([r.reshape(shape) for r in rows]).astype(np.int8)


def _unary(op, shape, q_in, q_out):
    return single_op_graph(op, [qtensor("x", shape, *q_in)], qtensor("y", shape, *q_out))


# (op, input quantization, output quantization): typical, a tiny output multiplier (HARD_SWISH's
# int16 rounding by 16+ bits), a reluish left shift, equal scales (ABS without a multiplier)
LUT_CASES = [
    ("HARD_SWISH", (0.05, 3), (0.04, -20)),
    ("HARD_SWISH", (0.001, 0), (20.0, 5)),
    ("HARD_SWISH", (2.0, -100), (0.5, 0)),
    ("ELU", (0.05, 3), (0.02, 40)),
    ("ELU", (0.2, 100), (0.01, -128)),
    ("ABS", (0.05, -3), (0.05, -128)),
    ("ABS", (0.1, 17), (0.03, -60)),
    ("EXP", (0.06011372, 8), (4.999659, -128)),
    ("EXP", (0.02, -3), (0.01, -100)),
]


@pytest.mark.parametrize("case", LUT_CASES, ids=lambda c: f"{c[0]}_s{c[1][0]:.3g}")
def test_table_ops_all_codes_host(case):
    op, q_in, q_out = case
    shape = (2, 8, 16) if q_in[1] % 2 else (256,)
    g = _unary(op, shape, q_in, q_out)
    files = gen.generate_c(g)
    assert "pm_lut_s8.c" in files and "pm_fixedpoint_math.h" not in files
    check(g, all_codes(shape, np.random.default_rng(abs(q_in[1]))), what=f"{op} {case}")


def _rsqrt_graph(n, q_in=(0.02, -60), q_out=(0.1, -128)):
    return _unary("RSQRT", (n,), q_in, q_out)


@pytest.mark.parametrize("op", ["RSQRT", "SQRT"])
def test_rsqrt_sqrt_valid_codes_host(op):
    g = _unary(op, (188,), (0.02, -60), (0.1, -128) if op == "RSQRT" else (0.005, -128))
    codes = np.arange(-60, 128)
    xs = np.stack([codes, codes[::-1], np.random.default_rng(1).permutation(codes)]).astype(np.int8)
    check(g, xs, what=op)


def test_rsqrt_negative_input_returns_error(tmp_path):
    """An input below the zero point: picoml.run raises and the C returns PM_ERROR (TFLM fails)."""
    g = _rsqrt_graph(4)
    with pytest.raises(picoml.UnsupportedError):
        picoml.run(g, np.array([[0, -61, 5, 6]], np.int8))
    write_c(g, tmp_path, name="model")
    (tmp_path / "main.c").write_text(
        '#include "model.h"\n'
        "int main(void) {\n"
        "  static int8_t in[MODEL_INPUT_SIZE] = {0, 5, 6, 7}, out[MODEL_OUTPUT_SIZE];\n"
        "  if (model_invoke(in, out) != 0) return 2;\n"
        "  in[2] = -61;\n"
        "  return model_invoke(in, out) != 0 ? 0 : 3;\n"
        "}\n"
    )
    exe = tmp_path / "run"
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    cmd = host_cc() + [
        *WARNINGS,
        "-O1",
        *sanitize,
        "-I",
        str(tmp_path),
        *map(str, tmp_path.glob("*.c")),
        "-o",
        str(exe),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([str(exe)]).returncode == 0


def _prelu_graph(shape, ashape, q_in, q_a, q_out, seed=0):
    rng = np.random.default_rng(seed)
    a = qtensor("alpha", ashape, *q_a, data=rng.integers(-128, 128, ashape).astype(np.int8))
    return single_op_graph("PRELU", [qtensor("x", shape, *q_in), a], qtensor("y", shape, *q_out))


# (input shape, alpha shape, input, alpha and output quantization)
PRELU_CASES = [
    ((1, 4, 4, 8), (8,), (0.05, 3), (0.01, 0), (0.04, -20)),  # per channel (PyTorch PReLU(C))
    ((1, 4, 4, 8), (1, 1, 8), (0.1, -128), (0.003, -40), (0.05, 7)),
    ((2, 3, 5), (2, 3, 5), (0.02, 0), (0.02, 11), (0.03, 0)),  # full shape: no broadcasting
    ((3, 6), (6,), (1.0, 0), (0.5, 0), (1.0, 0)),  # ties
    ((1, 256), (1,), (0.05, 3), (0.004, -100), (0.04, -20)),  # one alpha: a table
]


@pytest.mark.parametrize("case", PRELU_CASES, ids=lambda c: f"{c[0]}_a{c[1]}")
def test_prelu_host(case):
    shape, ashape, q_in, q_a, q_out = case
    g = _prelu_graph(shape, ashape, q_in, q_a, q_out)
    files = gen.generate_c(g)
    assert ("pm_prelu_s8(" in files["model.c"]) == (int(np.prod(ashape)) > 1)
    rng = np.random.default_rng(len(shape))
    xs = rng.integers(-128, 128, (6,) + shape).astype(np.int8)
    xs[0], xs[1], xs[2] = -128, 127, q_in[1]
    check(g, xs, what=f"PRELU {case}")


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_emulated(target):
    rng = np.random.default_rng(3)
    for op, q_in, q_out in (LUT_CASES[0], LUT_CASES[3], LUT_CASES[6], LUT_CASES[7]):
        check(_unary(op, (1, 256), q_in, q_out), all_codes((1, 256), rng, extra=0), target, op)
    g = _prelu_graph(*PRELU_CASES[0])
    check(g, rng.integers(-128, 128, (3, 1, 4, 4, 8)).astype(np.int8), target, "PRELU")


def _all_op_graphs():
    return {
        "hard_swish": _unary("HARD_SWISH", (16,), (0.05, 3), (0.04, -20)),
        "rsqrt": _rsqrt_graph(16),
        "exp": _unary("EXP", (16,), (0.02, -3), (0.01, -100)),
        "sqrt": _unary("SQRT", (16,), (0.02, -60), (0.005, -128)),
        "prelu": _prelu_graph(*PRELU_CASES[0]),
    }


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    """zig clang, -Werror, -O2 and -Os; on Cortex-M0+ no soft-float or division helper."""
    objs = build_objects(_all_op_graphs(), target, tmp_path)
    if target == "cortex-m0plus":
        ks = kernels(objs)
        assert any(o.stem == "pm_prelu_s8" for o in ks) and any(o.stem == "pm_lut_s8" for o in ks)
        helpers = slow_helpers(ks)
        assert helpers == [], f"kernels call soft-float or division helpers {helpers}"


def test_runtime_files_are_float_free_and_use_allowed_headers():
    assert_runtime_float_free(RUNTIME_FILES)


def test_prelu_in_place():
    """The planner lets PRELU write over its dying input (same shape; the kernel reads element i
    before writing it), and the C stays exact: x -> ABS -> h -> PRELU -> p -> ABS -> y."""
    shape = (1, 4, 4, 8)
    x, h, p, y = (qtensor(n, shape, 0.05, 3) for n in ("x", "h", "p", "y"))
    a = qtensor("alpha", (8,), 0.01, 0, data=np.arange(-4, 4, dtype=np.int8) * 30)
    ops = [
        Op("ABS", [x], [h], default_attrs("ABS"), name="h"),
        Op("PRELU", [h, a], [p], default_attrs("PRELU"), name="p"),
        Op("ABS", [p], [y], default_attrs("ABS"), name="y"),
    ]
    g = Graph([x, h, a, p, y], ops, [x], [y])
    g.validate()
    plan = plan_memory(g)
    assert plan.offset_of(h) == plan.offset_of(p)
    check(g, np.random.default_rng(0).integers(-128, 128, (4,) + shape).astype(np.int8), what="PRELU in place")
