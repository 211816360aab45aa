"""The exact requantization path of the generated C (issue 14, item 2).

The fast ``pm_requant_s8`` is exact only for |acc << shift| < 2^29; a CONV_2D, DEPTHWISE_CONV_2D
or FULLY_CONNECTED layer where the generator cannot prove that calls the ``_exact`` twin of its
kernel variant (``pm_requant_exact_s8``: TFLite's 64-bit rounding doubling high multiply, in
32-bit halves on Armv6-M, then RoundingDivideByPOT). Here:

- the C arithmetic against ``picoml.fixedpoint`` on 2M (acc, multiplier, shift, zp, clamp)
  cases, through the 64-bit product and through the 32-bit halves (Armv6-M's form);
- one layer per kernel variant (CONV_2D 1x1 / im2col / generic, DEPTHWISE mult1 / generic,
  FULLY_CONNECTED, sparse CONV_2D and FULLY_CONNECTED) whose channels put the accumulator at
  ±2^31 - 2^27, round at shift -31, shift left, or are ordinary: inputs at the extremes reach
  accumulators >= 2^30; the reference (= tflite-micro, checked) differs there from what the fast
  path computes, and a build forced onto the fast path fails verification, so these tests can
  fail; the exact build is bit-exact on the host (ASan/UBSan) and on emulated Cortex-M0+,
  Cortex-M4 and RISC-V.
"""

from __future__ import annotations

import re
import subprocess
from importlib import resources

import numpy as np
import pytest

from picoml.codegen import generate as gen
from picoml.codegen import generate_c
from picoml.codegen.requant import ACC_LIMIT, exact_layers, requant_rows
from picoml.errors import UnsupportedError
from picoml.fixedpoint import multiply_by_quantized_multiplier, wrap_int32
from picoml.flows.verify import verify
from picoml.graph import Graph, Op
from picoml.reference import KERNELS, conv2d, depthwise_conv2d, fully_connected, interpreter
from picoml.targets.toolchain import WARNINGS, host_cc

from oracles import qtensor, single_op_graph, tflm_run, to_tflite

RUNTIME = resources.files(gen.RUNTIME)

# ----------------------------------------------------------------------------- the arithmetic

_REQUANT_MAIN = r"""
#include <stdio.h>
#include "pm_common.h"
/* stdin: int32 (acc, multiplier, shift, zp, lo, hi) records; stdout: one int8 per record */
int main(void) {
  int32_t t[6];
  while (fread(t, 4, 6, stdin) == 6) {
    const pm_requant q = pm_requant_unpack_exact(t[1], t[2]);
    const int8_t o = pm_requant_exact_s8(t[0], &q, t[3], t[4], t[5]);
    if (pm_srdhm_halves(t[0], t[1]) != (int32_t)(((int64_t)t[0] * t[1] + ((int64_t)1 << 30)) >> 31)) return 2;
    fwrite(&o, 1, 1, stdout);
  }
  return 0;
}
"""


def _requant_cases(n: int, seed: int = 1) -> np.ndarray:
    """(acc, multiplier, shift, zp, lo, hi) int32 rows: accumulators of every magnitude up to
    ±2^31 (the extremes among them), Q31 multipliers with their edges and 0, shifts mostly
    putting the result near the int8 range (else anywhere in [-31, 30]), random clamps."""
    rng = np.random.default_rng(seed)
    acc = rng.integers(-(1 << 31), 1 << 31, n, dtype=np.int64) >> rng.integers(0, 31, n)
    ext = np.array([-(1 << 31), (1 << 31) - 1, 0, 1, -1, 1 << 30, -(1 << 30), 1 << 29, -(1 << 29), (1 << 29) - 1])
    acc[: ext.size * 50] = np.tile(ext, 50)
    m = rng.integers(1 << 30, 1 << 31, n, dtype=np.int64)
    m[::17], m[1::13], m[2::13] = 0, (1 << 31) - 1, 1 << 30
    bits = np.floor(np.log2(np.abs(acc) + 1)).astype(np.int64)
    shift = np.clip(7 - bits + rng.integers(-2, 3, n), -31, 30)
    shift[::11] = rng.integers(-31, 31, shift[::11].size)
    zp = rng.integers(-128, 128, n)
    lo, hi = rng.integers(-128, 0, n), rng.integers(0, 128, n)
    lo[::3], hi[::3] = -128, 127
    return np.stack([acc, m, shift, zp, lo, hi], 1).astype(np.int32)


@pytest.mark.parametrize(
    "flags",
    [[], ["-D__ARM_ARCH_6M__=1"], ["-D__ARM_FEATURE_SAT=1"]],
    ids=["int64", "armv6m-halves", "ssat-clamp"],
)
def test_exact_requantization_matches_the_reference_arithmetic(flags, tmp_path):
    """pm_requant_exact_s8 == clamp(MultiplyByQuantizedMultiplier(acc) + zp) for any int32 acc; the
    32-bit-halves SRDHM (Armv6-M's, selected here with __ARM_ARCH_6M__ on the host) equals the
    64-bit one on every case; the SSAT cores' clamp order (__ARM_FEATURE_SAT) gives the same.
    Warning-free, ASan/UBSan clean."""
    (tmp_path / "main.c").write_text(_REQUANT_MAIN)
    (tmp_path / "pm_common.h").write_text(RUNTIME.joinpath("pm_common.h").read_text())
    (tmp_path / "pm_config.h").write_text("#define PM_PLAIN_WEIGHTS 0\n")
    exe = tmp_path / "rq"
    cmd = host_cc() + [*WARNINGS, "-O2", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", *flags]
    subprocess.run([*cmd, "-I", str(tmp_path), str(tmp_path / "main.c"), "-o", str(exe)], check=True)
    cases = _requant_cases(2_000_000)
    r = subprocess.run([str(exe)], input=cases.tobytes(), capture_output=True, check=True)
    got = np.frombuffer(r.stdout, np.int8)
    acc, m, shift, zp, lo, hi = (cases[:, i].astype(np.int64) for i in range(6))
    v = multiply_by_quantized_multiplier(acc, m, shift) + zp
    assert 0.2 < ((v >= lo) & (v <= hi)).mean() < 0.8  # both the rounding and the clamps are exercised
    np.testing.assert_array_equal(got, np.clip(v, lo, hi).astype(np.int8))


def test_exact_records():
    """requant_rows(..., exact=True): multiplier, mask 2^e - 1, left shift, e up to 31."""
    assert requant_rows([1 << 30, 1 << 30, 1 << 30], [3, -7, -31], 3, exact=True) == [
        {"multiplier": 1 << 30, "round": 0, "left": 3, "right": 0},
        {"multiplier": 1 << 30, "round": 127, "left": 0, "right": 7},
        {"multiplier": 1 << 30, "round": (1 << 31) - 1, "left": 0, "right": 31},
    ]


# ----------------------------------------------------------------------------- layers

SX, SY, X_ZP, Y_ZP = 0.5, 1.0, 3, -5
# per output channel (cycled): (real multiplier, int32 bias). At most 128 * sum|w| ~ 1e7 moves
# the accumulator off the bias, so: 0/1 sit at ±(2^31 - 2^27) and round to ±119.5 ± 0.1 (the
# outputs straddle a rounding edge); 2 has shift -31 (e = 31) and rounds 0.5 ± 0.01; 3 shifts
# left by 2 with acc << 2 near 2^30 (saturates, the sign matters); 4 is an ordinary channel.
KINDS = [
    (2.0**-24, round(119.5 * 2**24)),
    (2.0**-24, -round(119.5 * 2**24)),
    (0.7 * 2.0**-31, round(0.5 * 2**31 / 0.7)),
    (3.0, 1 << 28),
    (1e-4, 1000),
]


def _channels(n: int):
    mult = np.array([KINDS[c % len(KINDS)][0] for c in range(n)])
    bias = np.array([KINDS[c % len(KINDS)][1] for c in range(n)], np.int32)
    return (mult * SY / SX).astype(np.float32), bias


def _weights(rng, shape, signs, density=1.0):
    """int8 weights of magnitude 64..127 with the given signs (broadcast); zeros where a random
    draw exceeds ``density``."""
    w = np.broadcast_to(signs, shape) * rng.integers(64, 128, shape)
    if density < 1:
        w = np.where(rng.random(shape) < density, w, 0)
    return w.astype(np.int8)


def _tensors(prefix, x_shape, w, oc, y_shape, axis=0, sw=None, bias=None):
    """Input, weights, bias and output of one layer with the KINDS channels (or sw, bias given)."""
    if sw is None:
        sw, bias = _channels(oc)
    x = qtensor(f"{prefix}x", x_shape, SX, X_ZP)
    wt = qtensor(f"{prefix}w", w.shape, sw, np.zeros(oc), data=w, axis=axis)
    bt = qtensor(f"{prefix}b", (oc,), (np.float32(SX) * sw).astype(np.float32), np.zeros(oc), "int32", data=bias)
    return x, wt, bt, qtensor(f"{prefix}y", y_shape, SY, Y_ZP)


def _graph(op_type, x_shape, w, oc, y_shape, **attrs):
    x, wt, bt, y = _tensors("", x_shape, w, oc, y_shape, 3 if op_type == "DEPTHWISE_CONV_2D" else 0)
    return single_op_graph(op_type, [x, wt, bt], y, **attrs)


def conv(kh, ic, oc, groups=1, density=1.0, seed=0):
    """CONV_2D 5x5 SAME, filter signs per (channel, filter input channel) so an input aligned
    with one channel's signs drives its accumulator to the extreme at every interior pixel."""
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1, 1], (oc, 1, 1, ic // groups))
    w = _weights(rng, (oc, kh, kh, ic // groups), signs, density)
    return _graph("CONV_2D", (1, 5, 5, ic), w, oc, (1, 5, 5, oc), stride_h=1, stride_w=1, padding="SAME")


def depthwise(c, mult, seed=0, density=1.0):
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1, 1], (1, 1, 1, c * mult))
    w = _weights(rng, (1, 3, 3, c * mult), signs, density)
    w[0, 0, 0] = signs[0, 0, 0] * 100  # extreme_inputs reads each channel's sign at tap 0
    attrs = {"stride_h": 1, "stride_w": 1, "padding": "SAME", "depth_multiplier": mult}
    return _graph("DEPTHWISE_CONV_2D", (1, 5, 5, c), w, c * mult, (1, 5, 5, c * mult), **attrs)


def fc(depth, units, density=1.0, seed=0):
    rng = np.random.default_rng(seed)
    w = _weights(rng, (units, depth), rng.choice([-1, 1], (units, depth)), density)
    return _graph("FULLY_CONNECTED", (2, depth), w, units, (2, units))


LAYERS = {
    "conv_im2col": lambda: conv(3, 8, 7),
    "conv_1x1": lambda: conv(1, 16, 11),
    "conv_generic_grouped": lambda: conv(3, 8, 10, groups=2),
    "dw_mult1": lambda: depthwise(8, 1),
    "dw_generic_mult2": lambda: depthwise(5, 2),
    "fc": lambda: fc(600, 9),
    "sparse_conv": lambda: conv(3, 16, 7, density=0.15),
    "sparse_fc": lambda: fc(600, 9, density=0.02),
    "sparse_dw": lambda: depthwise(8, 1, density=0.3),
}
# the variant each layer must call (the _exact twin of its fast variant)
CALLS = {
    "conv_im2col": "pm_conv2d_s8_im2col_exact(",
    "conv_1x1": "pm_conv2d_s8_1x1_exact(",
    "conv_generic_grouped": "pm_conv2d_s8_generic_exact(",
    "dw_mult1": "pm_depthwise_conv2d_s8_mult1_exact(",
    "dw_generic_mult2": "pm_depthwise_conv2d_s8_generic_exact(",
    "fc": "pm_fully_connected_s8_exact(",
    "sparse_conv": "pm_conv2d_sparse_s8_exact(",
    "sparse_fc": "pm_fully_connected_sparse_s8_exact(",
    "sparse_dw": "pm_depthwise_conv2d_sparse_s8_exact(",
}


def extreme_inputs(g, n_random=4, seed=0):
    """For each of the first channels, the input aligned with its weight signs (every tap at
    +127 or -128 as the weight's sign says) and the opposite one; all -128, all 127; random."""
    op = g.ops[0]
    x, w = op.inputs[0], op.inputs[1].data
    rows = []
    for c in range(1 if op.type == "DEPTHWISE_CONV_2D" else len(KINDS)):
        if op.type == "DEPTHWISE_CONV_2D":  # every channel's taps share its sign
            s = np.sign(w[0, 0, 0].reshape(x.shape[3], -1)[:, 0]) * np.ones(x.shape, np.int64)
        elif op.type == "FULLY_CONNECTED":
            s = np.broadcast_to(np.sign(w[c]), x.shape)
        else:
            fc_ = w.shape[3]
            group = c // (w.shape[0] // (x.shape[3] // fc_))
            s = np.zeros(x.shape, np.int64)
            s[..., group * fc_ : (group + 1) * fc_] = np.sign(w[c].sum(axis=(0, 1)))
        for sign in (1, -1):
            rows.append(np.where(sign * s > 0, 127, np.where(sign * s < 0, -128, 0)))
    rows += [np.full(x.shape, -128), np.full(x.shape, 127)]
    rng = np.random.default_rng(seed)
    rows += list(rng.integers(-128, 128, (n_random,) + x.shape))
    return np.stack(rows).astype(np.int8)


def reference_accumulators(g, xs, monkeypatch) -> np.ndarray:
    """The int32 accumulators (bias included, wrapped) the reference requantizes, channels last."""
    seen = []
    original = conv2d.requantize_output

    def spy(acc, p, bias=None):
        a = np.asarray(acc).astype(np.int64) + (0 if bias is None else np.asarray(bias, np.int64))
        seen.append(wrap_int32(a).reshape(-1, a.shape[-1]))
        return original(acc, p, bias)

    for mod in (conv2d, depthwise_conv2d, fully_connected):
        monkeypatch.setattr(mod, "requantize_output", spy)
    interpreter.run(g, xs)
    monkeypatch.undo()
    return np.concatenate(seen)


def fast_path(acc: np.ndarray, op) -> np.ndarray:
    """What pm_requant_s8 (the fast path; portable C, Armv7E-M's SMMULR and the vector hosts all
    compute this) gives for these accumulators: the wrong answer where the bound fails."""
    p = KERNELS[op.type].prepare(op)
    q = requant_rows(p.multiplier, p.shift, acc.shape[-1])
    left, rnd, right, m = (np.array([r[k] for r in q], np.int64) for k in ("left", "round", "right", "multiplier"))
    a2 = wrap_int32(acc << left)
    v = (a2 * m + (1 << 31)) >> 32
    r = wrap_int32(2 * v + rnd - (v < 0)) >> right
    return np.clip(r + p.output_zp, p.act_min, p.act_max)


@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layers_beyond_the_fast_bound_take_the_exact_twin(case, monkeypatch):
    """Every layer needs the exact path, calls the _exact twin of its variant (and nothing else),
    and its extreme inputs reach accumulators >= 2^30, where the reference (tflite-micro's
    output, checked here) differs from the fast path's."""
    g = LAYERS[case]()
    assert exact_layers(g) == [0]
    src = generate_c(g, isa="armv7em")
    assert CALLS[case] in src["model.c"]
    # the kernel itself is called once (a layer-call wrapper, model_call_<kernel>, may wrap it)
    assert len(re.findall(r"\bpm_\w+_exact\(", src["model.c"])) == 1
    assert not re.search(r"\b" + CALLS[case].replace("_exact(", r"\("), src["model.c"])
    xs = extreme_inputs(g)
    acc = reference_accumulators(g, xs, monkeypatch)
    assert np.abs(acc).max() >= 1 << 30 and np.abs(acc).max() < ACC_LIMIT
    want = interpreter.run(g, xs)
    np.testing.assert_array_equal(want, tflm_run(to_tflite(g), xs))
    got_fast = fast_path(acc, g.ops[0]).reshape(want.shape)
    assert (got_fast != want).any()
    assert len(np.unique(want)) >= 6  # the outputs are not all clamped


# (verify target, ISA): the portable C and the vector host kernels under ASan/UBSan, and every
# MCU variant on its emulated core (Cortex-M0+: the 32-bit halves)
TARGETS = [
    ("host", None),  # the host's ISA: vector
    ("host", "portable"),
    ("host", "armv6m"),  # offset-binary layouts through the portable C
    ("cortex-m0plus", None),
    ("cortex-m4", None),
    ("riscv32", None),
]
# the default run: every layer on the host's vector kernels, Cortex-M0+ (the halves) and
# Cortex-M4 (SMLAL, the 4x2 and 3x3 assembly paths), three on RISC-V (MUL/MULH; the same portable
# C as the host's portable build); the rest is slow
DEFAULT_TARGETS = {("host", None), ("cortex-m0plus", None), ("cortex-m4", None)}
DEFAULT_RISCV = {"conv_im2col", "fc", "sparse_fc"}


def _params():
    for target, isa in TARGETS:
        for case in sorted(LAYERS):
            slow = (target, isa) not in DEFAULT_TARGETS and not (target == "riscv32" and case in DEFAULT_RISCV)
            marks = [pytest.mark.slow] if slow else []
            yield pytest.param(case, target, isa, marks=marks, id=f"{case}-{target}-{isa or 'default'}")


@pytest.mark.parametrize("case,target,isa", list(_params()))
def test_exact_layers_bit_exact(case, target, isa):
    g = LAYERS[case]()
    xs = extreme_inputs(g)
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1, isa=isa)
    assert rep.bit_exact, f"{case} on {target}/{isa}: {rep.mismatches} mismatches; {rep.first_mismatch}"


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(LAYERS))
def test_exact_layers_bit_exact_size_build(case):
    """-Os on Cortex-M4: PM_SPECIALIZE 0, the single-copy helpers."""
    g = LAYERS[case]()
    rep = verify(g, "cortex-m4", xs=extreme_inputs(g), counted_runs=1, opt="-Os")
    assert rep.bit_exact, rep.first_mismatch


def test_forcing_the_fast_path_fails_verification(monkeypatch):
    """The same layer generated with the fast requantization (the generator's choice overridden)
    does not match: the extreme inputs do catch a wrong path."""
    g = LAYERS["conv_im2col"]()
    monkeypatch.setattr(gen, "exact_requant", lambda *a, **k: False)
    assert "_exact(" not in generate_c(g)["model.c"]
    rep = verify(g, "host", xs=extreme_inputs(g), counted_runs=1)
    assert not rep.bit_exact and rep.mismatches > 10


def two_pointwise_layers() -> Graph:
    """A provably fast 1x1 CONV_2D (small bias, ordinary scales) feeding an exact one (KINDS)."""
    rng = np.random.default_rng(5)
    w1 = rng.integers(-127, 128, (16, 1, 1, 16)).astype(np.int8)
    sw1 = np.full(16, 0.01, np.float32)
    x, w1t, b1t, h = _tensors("a_", (1, 5, 5, 16), w1, 16, (1, 5, 5, 16), sw=sw1, bias=np.zeros(16, np.int32))
    h.scale, h.zero_point = np.array([SX], np.float32), np.array([X_ZP])  # the second layer's input
    w2 = _weights(rng, (11, 1, 1, 16), rng.choice([-1, 1], (11, 1, 1, 16)))
    _, w2t, b2t, y = _tensors("b_", (1, 5, 5, 16), w2, 11, (1, 5, 5, 11))
    attrs = {"stride_h": 1, "stride_w": 1, "padding": "SAME", "fused_activation": "NONE", "dilation_h": 1}
    ops = [
        Op("CONV_2D", [x, w1t, b1t], [h], {**attrs, "dilation_w": 1}, name="fast"),
        Op("CONV_2D", [h, w2t, b2t], [y], {**attrs, "dilation_w": 1}, name="exact"),
    ]
    g = Graph([x, w1t, b1t, h, w2t, b2t, y], ops, [x], [y], name="two")
    g.validate()
    return g


def test_fast_and_exact_layers_share_a_library():
    """A fast and an exact layer of the same variant: both functions are built, each pm_config.h
    switch set only for what is called; a fast-only model ships no twin source."""
    g = two_pointwise_layers()
    assert exact_layers(g) == [1]
    files = generate_c(g)
    cfg = files["pm_config.h"]
    assert "#define PM_CONV2D_S8_1X1 1" in cfg and "#define PM_CONV2D_S8_1X1_EXACT 1" in cfg
    assert "#define PM_CONV2D_S8_IM2COL_EXACT 0" in cfg and "#define PM_SPARSE_EXACT 0" in cfg
    assert "pm_conv2d_s8_exact.c" in files and "pm_conv2d_s8_exact.h" not in files["model.c"]
    calls = re.findall(r"\b(pm_conv2d_s8_1x1(?:_exact)?)\(", files["model.c"])
    assert sorted(calls) == ["pm_conv2d_s8_1x1", "pm_conv2d_s8_1x1_exact"]
    xs = np.random.default_rng(0).integers(-128, 128, (6, 1, 5, 5, 16), dtype=np.int8)
    xs[0], xs[1] = -128, 127
    for target in ("host", "cortex-m0plus"):
        rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, rep.first_mismatch
    first = Graph(g.tensors[:4], g.ops[:1], g.inputs, [g.tensors[3]], name="one")
    files = generate_c(first)
    assert "pm_conv2d_s8_exact.c" not in files and "_EXACT 1" not in files["pm_config.h"]


def test_int32_overflow_is_still_refused():
    """An accumulator that could leave int32 while it is summed is refused, with one line."""
    g = fc(600, 1)
    g.ops[0].inputs[2].data = np.array([(1 << 31) - 1000], np.int32)
    with pytest.raises(UnsupportedError) as e:
        generate_c(g)
    assert "reaches 2^31" in str(e.value) and "\n" not in str(e.value) and "FULLY_CONNECTED" in str(e.value)


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4"])
def test_left_shift_30_wraps_like_the_reference(target):
    """A multiplier in [2^29, 2^30) (shift 30; tests/quantize/test_extreme_scales.py's "fc shift 30",
    which the fast path could never take): acc << 30 wraps as the reference's int32 arithmetic does."""
    rng = np.random.default_rng(4)
    x = qtensor("x", (3, 24), 0.05, 3)
    w = qtensor("w", (6, 24), 0.01, 0, data=rng.integers(-127, 128, (6, 24), dtype=np.int8))
    g = single_op_graph("FULLY_CONNECTED", [x, w, None], qtensor("y", (3, 6), 6e-13, 0))
    assert (KERNELS[g.ops[0].type].prepare(g.ops[0]).shift == 30).all() and exact_layers(g) == [0]
    xs = rng.integers(-128, 128, (16, 3, 24), dtype=np.int8)
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch
    assert len(np.unique(interpreter.run(g, xs))) > 2  # wrapped products land inside the int8 range too
