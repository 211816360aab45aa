"""Generated C for int8 SOFTMAX, LOGISTIC, TANH, MEAN and LEAKY_RELU: bit-exact with the reference
interpreter (itself bit-exact with TFLite Micro) on the host under ASan/UBSan and on an
emulated Cortex-M0+, warning-free for every MCU target, float-free.

One C build per quantization configuration; every build runs a batch of inputs (all 256
codes for the elementwise ops)."""

from __future__ import annotations

import re
import subprocess
from importlib import resources

import numpy as np
import pytest

import picoml
from picoml.codegen import generate as gen
from picoml.codegen import write_c
from picoml.codegen.emit_nonlinear import (
    FIXEDPOINT_HEADER,
    FIXEDPOINT_USERS,
    NONLINEAR_EMITTERS,
    NONLINEAR_FILES,
    mean_index_spaces,
)
from picoml.flows.verify import verify
from picoml.graph import Tensor
from picoml.targets.toolchain import WARNINGS, host_cc

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers, undefined_symbols
from oracles import qtensor, single_op_graph

RUNTIME_FILES = ["pm_fixedpoint_math.h"] + [
    f"{s}.{e}" for stems in NONLINEAR_FILES.values() for s in stems for e in "hc"
]


@pytest.fixture(autouse=True)
def nonlinear_registered(monkeypatch):
    """Register the emitters with the generator unless it already has them (idempotent), and
    make sure the header-only pm_fixedpoint_math.h is copied next to the kernels using it."""
    for op_type, fn in NONLINEAR_EMITTERS.items():
        if op_type not in gen.EMITTERS:
            monkeypatch.setitem(gen.EMITTERS, op_type, fn)
        if op_type not in gen.KERNEL_FILES:
            monkeypatch.setitem(gen.KERNEL_FILES, op_type, NONLINEAR_FILES[op_type])
    original = gen.generate_c

    def generate_with_header(g, name="model", isa=None, sparse=True):
        files = original(g, name, isa, sparse)
        if FIXEDPOINT_HEADER not in files and any(f"{u}.h" in files for u in FIXEDPOINT_USERS):
            files[FIXEDPOINT_HEADER] = gen._runtime_text(FIXEDPOINT_HEADER)
        return files

    monkeypatch.setattr(gen, "generate_c", generate_with_header)


def check(g, xs, target="host", what=""):
    rep = verify(g, target, xs=np.asarray(xs, np.int8), sanitize=target == "host", counted_runs=1)
    assert rep.inputs == len(xs)
    assert rep.bit_exact, f"{what} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def all_codes(shape, rng, extra=3):
    """Samples of `shape` (size 256) that together hold every int8 code: the codes in order,
    reversed, then `extra` random permutations."""
    codes = np.arange(-128, 128)
    rows = [codes, codes[::-1]] + [rng.permutation(codes) for _ in range(extra)]
    return np.stack([r.reshape(shape) for r in rows]).astype(np.int8)


def f32(v):
    return float(np.float32(v))


# ---------------------------------------------------------------------------- LOGISTIC, TANH

# (input scale, input zero point): typical, tiny (nothing saturates), exact powers of two,
# the radius boundary region, and scales so large that the radius is 0 (all saturate).
ELEMENTWISE_QUANT = [
    (0.05, 3),
    (f32(1 / 256), -128),
    (f32(2**-20), 0),
    (0.0625, -7),
    (0.12345, 100),
    (1.0, -1),
    (7.5, 0),
    (40.0, 5),
]


def _elementwise_graph(op_type, shape, q):
    out_q = (1 / 256, -128) if op_type == "LOGISTIC" else (1 / 128, 0)
    x = qtensor("x", shape, *q)
    return single_op_graph(op_type, [x], qtensor("y", shape, *out_q))


@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("q", ELEMENTWISE_QUANT, ids=lambda q: f"s{q[0]:.3g}_zp{q[1]}")
def test_logistic_tanh_all_codes_host(op_type, q):
    rng = np.random.default_rng(abs(q[1]) + 1)
    shape = (2, 8, 16) if q[1] % 2 else (256,)
    g = _elementwise_graph(op_type, shape, q)
    check(g, all_codes(shape, rng), what=f"{op_type} {q}")


@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
def test_logistic_tanh_all_codes_cortex_m0plus(op_type):
    g = _elementwise_graph(op_type, (1, 256), (0.0625, -7))
    check(g, all_codes((1, 256), np.random.default_rng(0), extra=0), "cortex-m0plus", op_type)


# ------------------------------------------------------------------------------- LEAKY_RELU

# (input quantization, output quantization, alpha): PyTorch's default slope, negative (a
# negative multiplier, with ties), zero, above 1, tiny (multiplier flushed to 0), a left shift
LEAKY_CASES = [
    ((0.05, 3), (0.04, -20), f32(0.01)),
    ((1.0, 0), (1.0, 0), -0.5),
    ((f32(1 / 64), -128), (f32(1 / 32), 17), 0.0),
    ((0.1, 100), (0.3, 0), 2.5),
    ((0.02, -7), (0.02, -7), f32(-1.7)),
    ((0.01, 0), (0.5, 5), f32(1e-30)),
    ((0.5, -3), (f32(1e-3), 0), f32(0.2)),
]


def _leaky_graph(shape, q_in, q_out, alpha):
    return single_op_graph("LEAKY_RELU", [qtensor("x", shape, *q_in)], qtensor("y", shape, *q_out), alpha=alpha)


@pytest.mark.parametrize("case", LEAKY_CASES, ids=lambda c: f"s{c[0][0]:.3g}_a{c[2]:.3g}")
def test_leaky_relu_all_codes_host(case):
    """Portable C (the host build under ASan/UBSan): a 256-entry table, no gemmlowp header."""
    q_in, q_out, alpha = case
    shape = (2, 8, 16) if q_in[1] % 2 else (256,)
    g = _leaky_graph(shape, q_in, q_out, alpha)
    files = gen.generate_c(g)
    assert "pm_lut_s8.c" in files and FIXEDPOINT_HEADER not in files
    check(g, all_codes(shape, np.random.default_rng(abs(q_in[1]))), what=f"LEAKY_RELU {case}")


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_leaky_relu_all_codes_emulated(target):
    g = _leaky_graph((1, 256), (1.0, 0), (1.0, 0), -0.5)
    check(g, all_codes((1, 256), np.random.default_rng(0), extra=1), target, "LEAKY_RELU")


# ---------------------------------------------------------------------------------- SOFTMAX


def _softmax_graph(shape, q, beta):
    x = qtensor("x", shape, *q)
    return single_op_graph("SOFTMAX", [x], qtensor("y", shape, 1 / 256, -128), beta=beta)


def _softmax_inputs(shape, rng, n=6):
    """Random rows plus structured ones: flat, one peak, two levels, every code."""
    xs = rng.integers(-128, 128, (n,) + tuple(shape)).astype(np.int8)
    depth = shape[-1]
    xs[0] = -128
    xs[1] = 127
    xs[2] = -128
    xs[2][..., depth // 2] = 127
    xs[3] = np.where(rng.random(shape) < 0.5, 127, 126)
    xs[4] = np.resize(np.arange(-128, 128), shape)
    return xs


# (shape, input quantization, beta): beta * scale from the smallest TFLM accepts (> 2^-26)
# to saturation of the Q31 multiplier (shift 31, diff_min 0: only the max survives)
SOFTMAX_CASES = [
    ((1, 10), (0.1, 0), 1.0),
    ((4, 12), (f32(1 / 16), -3), 1.0),
    ((2, 3, 7), (0.00390625, -128), 1.0),
    ((1, 35), (0.25, 17), 30.0),
    ((3, 1), (0.5, 0), 1.0),
    ((2, 64), (f32(2e-7), 5), 1.0),
    ((2, 16), (0.05, 0), f32(1e-5)),
    ((1, 20), (64.0, 0), 1e4),
    ((1, 20), (8.0, -1), f32(1e6)),
    ((1, 300), (0.02, 0), 0.5),
    ((2, 511), (f32(0.01), 3), f32(0.1)),
]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=lambda c: f"{c[0]}_s{c[1][0]:.3g}_b{c[2]:.3g}")
def test_softmax_host(case):
    shape, q, beta = case
    rng = np.random.default_rng(len(shape) * 1000 + shape[-1])
    g = _softmax_graph(shape, q, beta)
    xs = _softmax_inputs(shape, rng)
    try:
        picoml.run(g, xs)
    except picoml.UnsupportedError:  # a flat long row whose sum of exponentials reaches 512
        xs = xs[[i for i in range(len(xs)) if _runs(g, xs[i : i + 1])]]
    check(g, xs, what=f"SOFTMAX {case}")


def _runs(g, xs):
    try:
        picoml.run(g, xs)
        return True
    except picoml.UnsupportedError:
        return False


@pytest.mark.parametrize("seed", range(6))
def test_softmax_random_host(seed):
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 5))
    shape = tuple(int(v) for v in rng.integers(1, 9, rank))
    q = (f32(10 ** rng.uniform(-3, 0.5)), int(rng.integers(-128, 128)))
    beta = f32(10 ** rng.uniform(-1.5, 1.5))
    check(_softmax_graph(shape, q, beta), _softmax_inputs(shape, rng), what=f"SOFTMAX {shape} {q} beta={beta}")


def test_softmax_cortex_m0plus():
    shape = (3, 10)
    check(_softmax_graph(shape, (0.1, 2), 1.0), _softmax_inputs(shape, np.random.default_rng(1)), "cortex-m0plus")


def test_softmax_sum_too_large_returns_error(tmp_path):
    """Where TFLM aborts (TFLITE_CHECK) and picoml.run raises, the C kernel returns PM_ERROR."""
    g = _softmax_graph((1, 600), (0.1, 0), 0.1)
    with pytest.raises(picoml.UnsupportedError):
        picoml.run(g, np.zeros((1, 1, 600), np.int8))
    write_c(g, tmp_path, name="model")
    (tmp_path / "main.c").write_text(
        '#include "model.h"\n'
        "int main(void) {\n"
        "  static int8_t in[MODEL_INPUT_SIZE], out[MODEL_OUTPUT_SIZE];\n"
        "  int i, status = model_invoke(in, out);\n"
        "  for (i = 0; i < MODEL_OUTPUT_SIZE; ++i) if (out[i] != -128) return 3;\n"
        "  in[7] = 127; for (i = 0; i < MODEL_INPUT_SIZE; ++i) if (i != 7) in[i] = -128;\n"
        "  if (model_invoke(in, out) != 0) return 4; /* a peaked row is fine */\n"
        "  return status == 0 ? 2 : 0;\n"
        "}\n"
    )
    exe = tmp_path / "run"
    sources = [str(p) for p in tmp_path.glob("*.c")]
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    cmd = host_cc() + [*WARNINGS, "-O1", *sanitize, "-I", str(tmp_path), *sources, "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([str(exe)]).returncode == 0


# ------------------------------------------------------------------------------------- MEAN


def _mean_graph(shape, axes, keep, qi, qo):
    r = len(shape)
    norm = sorted({a % r for a in axes})
    out = (
        tuple(1 if i in norm else d for i, d in enumerate(shape))
        if keep
        else tuple(d for i, d in enumerate(shape) if i not in norm)
    )
    x = qtensor("x", shape, *qi)
    a = Tensor("axes", (len(axes),), "int32", data=np.array(axes, np.int32))
    return single_op_graph("MEAN", [x, a], qtensor("y", out, *qo), keep_dims=keep)


QI, QO = (0.0625, -7), (0.031, 12)

# (shape, axes, keep_dims, input quantization, output quantization)
MEAN_CASES = [
    ((1, 5, 5, 16), [1, 2], True, QI, QI),  # global average pool, same quantization
    ((1, 5, 5, 16), [1, 2], False, QI, QO),
    ((1, 32, 32, 4), [1, 2], False, (0.02, 100), (0.0001, -128)),  # 1024 terms, large ratio
    ((2, 3, 4), [-1], False, QI, QO),
    ((2, 3, 4), [0, 2], True, (0.5, 0), (0.003, 1)),
    ((2, 3, 4, 5), [1, 3, 1, -1], False, QO, QI),  # repeated and negative axes
    ((3, 1, 4, 1, 2), [0, 4], True, (f32(1 / 3), -128), (f32(1 / 7), 127)),  # rank 5, extent-1 dims
    ((6, 7), [0, 1], False, QI, (1.0, 0)),  # everything reduced: one output
    ((4, 6), [0], False, (0.9, 0), (0.0003, 0)),  # batch axis; ratio 3000 (left shift)
    ((1, 10, 1), [1], True, (f32(1e-4), 0), (2.0, 0)),  # tiny ratio (deep right shift)
]


@pytest.mark.parametrize("case", MEAN_CASES, ids=lambda c: f"{c[0]}_ax{c[1]}_{'keep' if c[2] else 'drop'}")
def test_mean_host(case):
    shape, axes, keep, qi, qo = case
    rng = np.random.default_rng(sum(shape))
    g = _mean_graph(shape, axes, keep, qi, qo)
    xs = rng.integers(-128, 128, (6,) + shape).astype(np.int8)
    xs[0], xs[1], xs[2] = -128, 127, 0
    check(g, xs, what=f"MEAN {case}")


@pytest.mark.parametrize("seed", range(6))
def test_mean_random_host(seed):
    rng = np.random.default_rng(100 + seed)
    r = int(rng.integers(1, 6))
    shape = tuple(int(v) for v in rng.integers(1, 7, r))
    axes = [int(v) for v in rng.integers(-r, r, int(rng.integers(1, r + 2)))]
    keep = bool(rng.integers(2))
    qi = (f32(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128)))
    qo = qi if seed % 2 else (f32(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128)))
    g = _mean_graph(shape, axes, keep, qi, qo)
    check(g, rng.integers(-128, 128, (5,) + shape).astype(np.int8), what=f"MEAN {shape} {axes} {keep} {qi}->{qo}")


def test_mean_cortex_m0plus():
    g = _mean_graph((1, 8, 8, 6), [1, 2], True, QI, QO)
    xs = np.random.default_rng(2).integers(-128, 128, (4, 1, 8, 8, 6)).astype(np.int8)
    check(g, xs, "cortex-m0plus", "MEAN spatial")


def test_mean_index_spaces():
    assert mean_index_spaces((1, 5, 5, 8), (1, 2)) == ([(8, 1)], [(25, 8)])
    assert mean_index_spaces((2, 3, 4), (0, 2)) == ([(3, 4)], [(2, 12), (4, 1)])
    assert mean_index_spaces((1, 1), (0,)) == ([], [])


# ------------------------------------------------------------------------- portability, hygiene


def _all_op_graphs():
    return {
        "logistic": _elementwise_graph("LOGISTIC", (16,), (0.05, 3)),
        "tanh": _elementwise_graph("TANH", (16,), (0.05, 3)),
        "softmax": _softmax_graph((2, 8), (0.1, 0), 1.0),
        "mean": _mean_graph((1, 4, 4, 3), [1, 2], True, QI, QO),
        "leaky_relu": _leaky_graph((16,), (0.05, 3), (0.04, -20), f32(-0.3)),
    }


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    """zig clang, -Werror, -O2 and -Os; on Cortex-M0+ the kernels must not call soft-float or
    division helpers (no divide instruction there)."""
    objs = build_objects(_all_op_graphs(), target, tmp_path)
    if target == "cortex-m0plus":
        ks = kernels(objs)
        assert len({(o.stem, o.opt) for o in ks}) == 2 * len(NONLINEAR_FILES)
        helpers = slow_helpers(ks)
        assert helpers == [], f"kernels call soft-float or division helpers {helpers}"
        softmax = next(o for o in ks if o.stem == "pm_softmax_s8" and o.opt == "-O2")
        assert "__aeabi_lmul" in undefined_symbols(softmax.path)  # the scan sees helpers


def test_runtime_files_are_float_free_and_use_allowed_headers():
    assert_runtime_float_free(RUNTIME_FILES)


def test_generated_files_include_fixedpoint_header():
    for name, g in _all_op_graphs().items():
        files = gen.generate_c(g)  # as write_c sees it (header copying registered)
        assert (FIXEDPOINT_HEADER in files) == (name not in ("mean", "leaky_relu")), name
        for fname, text in files.items():
            for inc in re.findall(r'#include "([^"]+)"', text):
                assert inc in files, (name, fname, inc)


# --------------------------------------------------------------------- pm_fixedpoint_math.h

_FIXEDPOINT_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "pm_fixedpoint_math.h"
/* driver FUNC PARAM in.bin out.bin: int32 values in; (result, num_bits_over_unit) pairs out */
int main(int argc, char **argv) {
  FILE *fi, *fo;
  int32_t a, r = 0, n, k;
  int f;
  if (argc != 5) return 2;
  f = atoi(argv[1]);
  k = (int32_t)atoi(argv[2]);
  fi = fopen(argv[3], "rb");
  fo = fopen(argv[4], "wb");
  if (!fi || !fo) return 2;
  while (fread(&a, 4, 1, fi) == 1) {
    n = 0;
    switch (f) {
      case 0: r = pm_exp_on_negative_values(a, k); break;
      case 1: r = pm_one_over_one_plus_x_for_x_in_0_1(a); break;
      case 2: r = pm_one_minus_x_over_one_plus_x_for_x_in_0_1(a); break;
      case 3: r = pm_fixedpoint_logistic(a, k); break;
      case 4: r = pm_fixedpoint_tanh(a, k); break;
      case 5: r = pm_get_reciprocal(a, k, &n); break;
      case 6: r = pm_saturating_rounding_multiply_by_pot(a, k); break;
      case 7: r = pm_rounding_half_sum(a, k); break;
      case 8: r = pm_count_leading_zeros_u32((uint32_t)a); break;
      default: return 2;
    }
    if (fwrite(&r, 4, 1, fo) != 1 || fwrite(&n, 4, 1, fo) != 1) return 2;
  }
  fclose(fi);
  return fclose(fo) == 0 ? 0 : 2;
}
"""


def test_fixedpoint_math_matches_python(tmp_path):
    """Each pm_ function of pm_fixedpoint_math.h against its twin in picoml.fixedpoint,
    over uniform and log-uniform int32 samples of the whole domain plus the edges, under
    ASan/UBSan (no signed overflow, no bad shift anywhere in the domain)."""
    from picoml import fixedpoint as fp

    runtime = resources.files("picoml.codegen.runtime")
    for f in ("pm_common.h", FIXEDPOINT_HEADER):
        (tmp_path / f).write_text(runtime.joinpath(f).read_text())
    # the generator writes a pm_config.h next to every library; the portable one of any model does
    (tmp_path / "pm_config.h").write_text(
        gen.generate_c(_elementwise_graph("LOGISTIC", (16,), (0.05, 3)))["pm_config.h"]
    )
    (tmp_path / "driver.c").write_text(_FIXEDPOINT_DRIVER)
    exe = tmp_path / "driver"
    cmd = host_cc() + [*WARNINGS, "-O2", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    r = subprocess.run(cmd + [str(tmp_path / "driver.c"), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(7)
    lo32, hi32 = -(1 << 31), (1 << 31) - 1

    def samples(lo, hi, n=20000):
        uniform = rng.integers(lo, hi + 1, n, dtype=np.int64)
        mag = (2.0 ** rng.uniform(0, 31, n)).astype(np.int64)
        edges = [lo, hi, 0, 1, -1] + [
            s * (1 << k) + d for k in (26, 27, 28, 29, 30) for s in (1, -1) for d in (-1, 0, 1)
        ]
        return np.clip(np.concatenate([uniform, np.where(rng.random(n) < 0.5, mag, -mag), edges]), lo, hi)

    def run_c(func, param, a):
        a = np.unique(a)
        a.astype(np.int32).tofile(tmp_path / "in.bin")
        subprocess.run(
            [str(exe), str(func), str(param), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True
        )
        out = np.fromfile(tmp_path / "out.bin", np.int32).reshape(-1, 2).astype(np.int64)
        return a, out[:, 0], out[:, 1]

    def same(what, a, got, expected):
        expected = np.asarray(expected, np.int64)
        bad = np.flatnonzero(got != expected)
        assert not len(bad), (
            f"{what}: {len(bad)} differ, e.g. a={a[bad[0]]}: C {got[bad[0]]}, Python {expected[bad[0]]}"
        )

    for ib in range(1, 9):
        a, got, _ = run_c(0, ib, samples(lo32, 0))
        same(f"exp_on_negative_values ib={ib}", a, got, fp.exp_on_negative_values(a, ib))
    a, got, _ = run_c(1, 0, samples(0, hi32))
    same("one_over_one_plus_x_for_x_in_0_1", a, got, fp.one_over_one_plus_x_for_x_in_0_1(a))
    a, got, _ = run_c(2, 0, samples(0, hi32))
    same("one_minus_x_over_one_plus_x_for_x_in_0_1", a, got, fp.one_minus_x_over_one_plus_x_for_x_in_0_1(a))
    for ib in (4, 5):
        a, got, _ = run_c(3, ib, samples(lo32, hi32))
        same(f"fixedpoint_logistic ib={ib}", a, got, fp.fixedpoint_logistic(a, ib))
        a, got, _ = run_c(4, ib, samples(lo32, hi32))
        same(f"fixedpoint_tanh ib={ib}", a, got, fp.fixedpoint_tanh(a, ib))
    a, got, nbou = run_c(5, 12, samples(1, hi32))
    recip, expected_nbou = fp.get_reciprocal(a, 12)
    same("get_reciprocal", a, got, recip)
    same("get_reciprocal num_bits_over_unit", a, nbou, expected_nbou)
    for e in (-31, -7, -1, 0, 1, 2, 4, 30):
        a, got, _ = run_c(6, e, samples(lo32, hi32))
        same(f"saturating_rounding_multiply_by_pot {e}", a, got, fp.saturating_rounding_multiply_by_pot(a, e))
    for b in (hi32, lo32, 0, -5):
        a, got, _ = run_c(7, b, samples(lo32, hi32))
        same(f"rounding_half_sum b={b}", a, got, fp.rounding_half_sum(a, b))
    a, got, _ = run_c(8, 0, samples(lo32, hi32))
    same("count_leading_zeros_u32", a, got, fp.count_leading_zeros_u32(a))
