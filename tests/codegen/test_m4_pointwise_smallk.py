"""Pointwise (1x1 CONV_2D, pm_conv2d_s8_1x1) layers with few input channels, bit-exact against the
reference interpreter on cortex-m4 at -O2 (the 4x2 pair loop in assembly: its first chunk started from
the biases, the loop skipped when k4 == 1, four rows widened in one loop, and its requantization
modes) and -Os (the C paths), and on cortex-m0plus (the Armv6-M lanes kernel).

Requantization modes of the pair loop (pm_conv_params.fold, chosen per layer by codegen/requant.py fold_mode from its
records): P (every channel left == 1 with a multiplier >= 2^30, output zero point -128: SMMLAR and no
[v < 0] rounding term), M (the same with another output zero point: the term kept), the zero point
folded only (a channel with a left shift or a right shift of 20+), and the C pair loop (a narrower activation clamp). Depths 1..40 (odd ones take the 2-row kernel only),
1..40 output channels, pixel counts that leave 1, 2 or 3 pixels after the blocks of 4, raw-lane and
plain pairs, per-channel scales, input zero points -128, 3 and 100."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_m4_gemm import _raw_flag, run

from picoml.flows.verify import verify

from oracles import qtensor, single_op_graph


def _pw(k, oc, px, seed, scales="small", y_zp=-128, act="NONE", x_zp=-128, y_scale=0.08, plain=False):
    """A 1 x px x k input through a 1x1 convolution to oc channels, per-channel weight scales:
    "small" (multipliers < 1: every left shift 1) or "big" (right shifts of 20+ and a left shift). ``plain``: weights that miss the raw lanes."""
    rng = np.random.default_rng(seed)
    if scales == "big":
        scale = np.array([[2e-6, 0.02, 3.0, 0.4][i % 4] for i in range(oc)], np.float32)
    else:
        scale = rng.uniform(0.002, 0.03, oc).astype(np.float32)
    data = rng.integers(-127, 128, (oc, 1, 1, k), dtype=np.int8)
    if plain and oc >= 2 and k >= 4:
        data[0, 0, 0, 0], data[1, 0, 0, 0] = -9, -128  # b = -128 where a < 0: no raw lanes
    w = qtensor("w", (oc, 1, 1, k), scale, np.zeros(oc), data=data)
    x = qtensor("x", (1, 1, px, k), 0.05, x_zp)
    b = qtensor(
        "b", (oc,), (np.float32(0.05) * scale).astype(np.float32), np.zeros(oc), "int32",
        data=rng.integers(-3000, 3000, oc).astype(np.int32),
    )  # fmt: skip
    y = qtensor("y", (1, 1, px, oc), y_scale, y_zp)
    return single_op_graph("CONV_2D", [x, w, b], y, stride_h=1, stride_w=1, padding="VALID", fused_activation=act)


CASES = {
    # mode P: k4 == 1 (the first chunk only), pw1's shape, odd channel counts, entries at each chunk
    "k4_oc2_px5_p": lambda: _pw(4, 2, 5, 1),
    "k8_oc16_px10_p": lambda: _pw(8, 16, 10, 2),
    "k12_oc3_px7_p": lambda: _pw(12, 3, 7, 3, x_zp=3),
    "k36_oc9_px11_p": lambda: _pw(36, 9, 11, 4),
    "k40_oc40_px13_p": lambda: _pw(40, 40, 13, 5, x_zp=100),
    "k32_oc6_px7_p_plain": lambda: _pw(32, 6, 7, 6, plain=True),
    "k8_oc1_px6": lambda: _pw(8, 1, 6, 20),  # one channel: no pair, the odd channel only
    # mode M (output zero points 5 and 127), the fold only (big shifts; right shifts past 22, no
    # fold, leave a small depth's channels constant: test_m4_gemm_pairs covers them on K = 64)
    "k16_oc32_px9_m": lambda: _pw(16, 32, 9, 7, y_zp=5),
    "k28_oc5_px6_m_zp127": lambda: _pw(28, 5, 6, 8, y_zp=127, x_zp=3),
    "k20_oc5_px6_fold": lambda: _pw(20, 5, 6, 9, scales="big"),
    "k4_oc7_px6_fold": lambda: _pw(4, 7, 6, 10, scales="big", x_zp=3),
    # narrower clamps: the C pair loop
    "k28_oc4_px6_relu": lambda: _pw(28, 4, 6, 11, y_zp=-5, act="RELU"),
    "k8_oc10_px7_relu6": lambda: _pw(8, 10, 7, 12, y_zp=-128, act="RELU6", y_scale=0.03),
    # odd depths (no 4-row block) and tiny ones
    "k1_oc1_px3": lambda: _pw(1, 1, 3, 13),
    "k2_oc40_px5": lambda: _pw(2, 40, 5, 14),
    "k3_oc5_px7": lambda: _pw(3, 5, 7, 15, x_zp=3),
    "k7_oc8_px5": lambda: _pw(7, 8, 5, 16, y_zp=5),
    "k13_oc6_px9_big": lambda: _pw(13, 6, 9, 17, scales="big"),
    "k39_oc3_px10": lambda: _pw(39, 3, 10, 18),
}

TARGETS = [("cortex-m4", "-O2"), ("cortex-m4", "-Os"), ("cortex-m0plus", None)]


@pytest.mark.parametrize(("target", "opt"), TARGETS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_pointwise_smallk_bit_exact(case, target, opt):
    run(CASES[case](), target=target, opt=opt)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("opt", ["-O1", "-O3"])
@pytest.mark.parametrize("case", ["k4_oc2_px5_p", "k12_oc3_px7_p", "k36_oc9_px11_p", "k4_oc7_px6_fold"])
def test_pointwise_smallk_gcc(case, opt):
    """GCC below -O2 leaves functions halfword-aligned: the pair loop's ADR-computed entries need
    pm_conv_pairs4 word-aligned (it crashed or went wrong at -O1 without)."""
    g = CASES[case]()
    xs = np.random.default_rng(0).integers(-128, 128, (4,) + g.inputs[0].shape, dtype=np.int8)
    xs[0], xs[1] = -128, 127
    rep = verify(g, "cortex-m4", xs=xs, toolchain="gcc", opt=opt, counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch


def test_cases_cover_both_pair_layouts():
    assert _raw_flag(CASES["k8_oc16_px10_p"](), "CONV") == 1
    assert _raw_flag(CASES["k32_oc6_px7_p_plain"](), "CONV") == 0


@pytest.mark.parametrize(
    ("shape", "bound"),
    # VWW's first pointwise layers (K = 8 -> 16, 16 -> 32) on fewer pixels: 3.61 and 2.19 cycles/MAC
    # before the SMMLAR requantization, the first chunk from the biases and the 4-row widening (3.18,
    # 2.03), then 2.72 and 1.82 with pair streams (codegen/pair_records.py)
    [((8, 16, 64), 2.85), ((16, 32, 32), 1.92)],
)
def test_smallk_cycles_per_mac(shape, bound):
    k, oc, px = shape
    rep = run(_pw(k, oc, px, 19), opt="-O2")
    assert rep.cycles_per_mac is not None and rep.cycles_per_mac <= bound, rep.cycles_per_mac
