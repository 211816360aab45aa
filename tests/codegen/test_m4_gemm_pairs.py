"""The 4x2 GEMM block's channel-pair loop in assembly (PM_GEMM_4X2_PAIRS_ASM: full int8 range) and
the one-row pair kernel for a convolution's last odd pixel (pm_dot_1x2_conv_s8), on the speed
build of cortex-m4: bit-exact against the reference interpreter on raw-lane and plain pairs, one
pair or an odd channel left, pixels left over after the blocks of 4 (1, 2 and 3), a k % 4 tail on
the one-row kernel, the output zero point folded into the rounding term (right shifts up to 22,
extreme zero points) or not, and the narrower activation clamp that keeps the C loop; and their estimated
cycles on a KWS-shaped pointwise layer below what the C pair loop and the 2x2 kernel on a
duplicated row cost (1.40 and 1.97 cycles/MAC on the two layers below before)."""

from __future__ import annotations

import numpy as np
import pytest
from test_m4_gemm import _conv, _raw_flag, run


def _plain(oc: int, k: int, seed: int) -> np.ndarray:
    """Weights [oc, k] that do not fit raw lanes (b = -128 where a < 0): PM_CONV_RAW 0."""
    w = np.random.default_rng(seed).integers(-127, 128, (oc, k), dtype=np.int8)
    w[0, 0], w[1, 0] = -9, -128
    return w


def _zp_fold(y_scale: float, y_zp: int, seed: int):
    """KWS-like pointwise layer with per-tensor weights (multiplier 0.05 * 0.01 / y_scale) and an
    extreme output zero point: y_scale 1483 gives a right shift R = 22, the last that folds the zero
    point into the rounding term (PM_4XP_FOLD), 2966 gives R = 23, which does not."""
    g = _conv((1, 1, 9, 64), 8, 1, 1, seed=seed, per_tensor=True, x_zp=-128, y_scale=y_scale)
    g.ops[0].outputs[0].zero_point = np.array([y_zp])
    g.validate()
    return g


CASES = {
    # pixels % 4 = 1, 2, 3 (one-row kernel, 2-row kernel, both), every pair in the assembly loop
    "pw_k16_oc2_px9": (lambda: _conv((1, 3, 3, 16), 2, 1, 1, seed=31), 1),
    "pw_k24_oc3_px10": (lambda: _conv((1, 2, 5, 24), 3, 1, 1, seed=32), 1),
    "pw_k40_oc9_px11": (lambda: _conv((1, 1, 11, 40), 9, 1, 1, seed=33, per_tensor=True), 1),
    # k % 4 != 0: no 4-row block; the last odd pixel's one-row kernel runs the tail
    "pw_k10_oc5_px7": (lambda: _conv((1, 1, 7, 10), 5, 1, 1, seed=34), 1),
    # plain pairs (no raw lanes) through both new paths
    "pw_k32_oc6_plain": (
        lambda: _conv((1, 1, 9, 32), 6, 1, 1, seed=35, per_tensor=True, w=_plain(6, 32, 35).reshape(6, 1, 1, 32)),
        0,
    ),
    "im2col_k27_oc6_plain": (
        lambda: _conv((1, 5, 5, 3), 6, 3, 3, seed=36, per_tensor=True, w=_plain(6, 27, 36).reshape(6, 3, 3, 3)),
        0,
    ),
    # the zero point folded into the rounding term at its bound, and not past it
    "zp_fold_r22_zp_min": (lambda: _zp_fold(1483.0, -128, 38), 1),
    "zp_fold_r22_zp_max": (lambda: _zp_fold(1483.0, 127, 39), 1),
    "zp_nofold_r23": (lambda: _zp_fold(2966.0, -128, 40), 1),
    # a narrower clamp (RELU, output zero point -5): the C pair loop, with a left-over pixel
    "pw_k20_oc6_relu_px5": (lambda: _conv((1, 1, 5, 20), 6, 1, 1, seed=37, act="RELU"), 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_pairs_bit_exact_cortex_m4(case):
    make, raw = CASES[case]
    g = make()
    assert _raw_flag(g, "CONV") == raw
    run(g, opt="-O2")


@pytest.mark.parametrize(
    ("shape", "bound"),
    [((1, 25, 5, 64), 1.37), ((1, 1, 5, 64), 1.80)],  # KWS's pointwise; one block and a last pixel
)
def test_pointwise_cycles_per_mac(shape, bound):
    rep = run(_conv(shape, 64, 1, 1, seed=3), opt="-O2")
    assert rep.cycles_per_mac is not None and rep.cycles_per_mac <= bound, rep.cycles_per_mac
