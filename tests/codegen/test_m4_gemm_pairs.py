"""The 4x2 GEMM block's channel-pair loop in assembly (PM_GEMM_4X2_PAIRS_ASM: full int8 range) and
the one-row kernels for a convolution's last odd pixel (pm_dot_1x4_conv_s8 on two pairs at once,
pm_dot_1x2_conv_s8 on a pair left), on the speed
build of cortex-m4: bit-exact against the reference interpreter on raw-lane and plain pairs, one
pair or an odd channel left, pixels left over after the blocks of 4 (1, 2 and 3), a k % 4 tail on
the one-row kernel, the output zero point folded into the rounding term (right shifts up to 22,
extreme zero points) or not, and the narrower activation clamp that keeps the C loop; and their estimated
cycles on a KWS-shaped pointwise layer below what the C pair loop and the 2x2 kernel on a
duplicated row cost (1.40 and 1.97 cycles/MAC on the two layers below before; the last pixel's
1x4 kernel took the second from 1.63 with the 1x2 alone to 1.55)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_m4_gemm import _conv, _raw_flag, run

from picoml.flows.verify import verify


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


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("case", ["im2col_k27_oc6_plain", "pw_k20_oc6_relu_px5"])
def test_one_row_kernels_gcc_o1(case):
    """GCC at -O1 (13-register assembly, frame pointer omitted) builds warning-free with -Werror: the
    3x3 convolution's window rows (PM_FILTER_ROWS) once failed it on a 'may be used uninitialized'
    its -O1 flow analysis could not rule out; both one-row kernels, a k % 4 tail and a 4-value
    chunk past the 8-value passes."""
    g = CASES[case][0]()
    xs = np.random.default_rng(4).integers(-128, 128, (2,) + g.inputs[0].shape, dtype=np.int8)
    rep = verify(g, "cortex-m4", xs=xs, toolchain="gcc", opt="-O1", counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch


@pytest.mark.parametrize(
    ("shape", "bound"),
    [((1, 25, 5, 64), 1.37), ((1, 1, 5, 64), 1.60)],  # KWS's pointwise; one block and a last pixel
)
def test_pointwise_cycles_per_mac(shape, bound):
    rep = run(_conv(shape, 64, 1, 1, seed=3), opt="-O2")
    assert rep.cycles_per_mac is not None and rep.cycles_per_mac <= bound, rep.cycles_per_mac
