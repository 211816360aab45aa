"""DEPTHWISE_CONV_2D (depth multiplier 1, 3x3) on small and stride-2 shapes, the ones the
Armv7E-M planes' 6-output blocks (pm_dwp_loop6: stride-1 rows of 6, 12, 24, 48 outputs), the
6-wide planes, the four-channel gather (pm_dwp_gather4) and the strips' partial re-padding (only the plane rows outside the input
are re-written between strips) cover: bit-exact against the reference interpreter on emulated
cortex-m4 at -O2 (the plane paths) and -Os (the C paths) and on cortex-m0plus (its own kernels).

Cases: stride 1 and 2, SAME and VALID, sizes 2..13, odd and even channel counts from 1 to 40
(plain weights and channel groups), per-channel requantization with large right shifts and left
shifts folded into the weights (big_shift), a narrower activation clamp (ReLU6 with an output
zero point: the C requantization), nonzero input and output zero points (dw_graph: -7 and 2),
strips (planes wider than the stack buffer) at both strides, a batch of 2 over strips, and the
VWW-shaped 6x6 and 3x3 layers.
"""

from __future__ import annotations

import pytest
from test_kernel_variants import dw_graph
from test_m4_depthwise import CORES, _batched, run

CASES = {
    # 6-output blocks: rows of 6 (one block, the VWW 6x6 layers), 12, 24 and 48
    "6x6_c24_s1": lambda: dw_graph((1, 6, 6, 24), 3, 3, seed=1, act="NONE"),
    "6x6_c7_s1_shifts": lambda: dw_graph((1, 6, 6, 7), 3, 3, seed=2, act="NONE", big_shift=True),
    "6x6_c40_s1_relu6": lambda: dw_graph((1, 6, 6, 40), 3, 3, seed=3),
    "5x6_c3_s1": lambda: dw_graph((1, 5, 6, 3), 3, 3, seed=4, act="NONE"),
    "12x12_c9_s1": lambda: dw_graph((1, 12, 12, 9), 3, 3, seed=5, act="NONE", big_shift=True),
    "4x24_c6_s1": lambda: dw_graph((1, 4, 24, 6), 3, 3, seed=6, act="NONE"),
    "3x48_c2_s1": lambda: dw_graph((1, 3, 48, 2), 3, 3, seed=7, act="NONE"),
    "8x8_c4_s1_valid": lambda: dw_graph((1, 8, 8, 4), 3, 3, padding="VALID", seed=8, act="NONE"),  # 6 wide
    "14x14_c5_s1_valid_shifts": lambda: dw_graph(
        (1, 14, 14, 5), 3, 3, padding="VALID", seed=9, act="NONE", big_shift=True
    ),
    "9x6_c8_s1_taller": lambda: dw_graph((1, 9, 6, 8), 3, 3, seed=10, act="NONE"),  # columns first (9 a column)
    # channels gathered in fours (pm_dwp_gather4: multiples of 4, rows of 16 outputs or fewer),
    # 0-3 positions past the last 4 of a plane row, rows and (taller than wide) columns
    "9x9_c8_s1_quads": lambda: dw_graph((1, 9, 9, 8), 3, 3, seed=22, act="NONE"),
    "11x11_c12_s1_quads_shifts": lambda: dw_graph((1, 11, 11, 12), 3, 3, seed=23, act="NONE", big_shift=True),
    "13x13_c16_s1_valid_quads": lambda: dw_graph((1, 13, 13, 16), 3, 3, padding="VALID", seed=24, act="NONE"),
    "14x6_c4_s1_quads_columns": lambda: dw_graph((1, 14, 6, 4), 3, 3, seed=25, act="NONE"),
    "10x10_c20_s2_quads": lambda: dw_graph((1, 10, 10, 20), 3, 3, stride=2, seed=26, act="NONE"),
    # strips: the plane rows outside the input re-padded per strip
    "strips_s1_50x48_c3": lambda: dw_graph((1, 50, 48, 3), 3, 3, seed=11, act="NONE"),
    "strips_s2_50x48_c2": lambda: dw_graph((1, 50, 48, 2), 3, 3, stride=2, seed=12, act="NONE", big_shift=True),
    "strips_s2_valid_41x60_c1": lambda: dw_graph((1, 41, 60, 1), 3, 3, stride=2, padding="VALID", seed=13, act="NONE"),
    # channels in pairs (or fours) over strips too, when one channel's plane needs strips
    "strips_pairs_s2_48x48_c8": lambda: dw_graph((1, 48, 48, 8), 3, 3, stride=2, seed=27, act="NONE"),
    "strips_pairs_s1_52x50_c4_shifts": lambda: dw_graph((1, 52, 50, 4), 3, 3, seed=28, act="NONE", big_shift=True),
    "strips_batch2_s1": lambda: _batched(dw_graph((1, 40, 66, 2), 3, 3, seed=14, act="NONE"), 2),
    # small and stride-2 shapes
    "12x12_c8_s2": lambda: dw_graph((1, 12, 12, 8), 3, 3, stride=2, seed=15, act="NONE"),
    # 6 outputs a row at stride 2: 16-byte plane rows (one 6-output block; the C path's 4-block and
    # 2-output tail for clamped or unfused channels read no further)
    "12x12_c12_s2_relu6": lambda: dw_graph((1, 12, 12, 12), 3, 3, stride=2, seed=29),
    "13x13_c4_s2_valid_shifts": lambda: dw_graph(
        (1, 13, 13, 4), 3, 3, stride=2, padding="VALID", seed=30, act="NONE", big_shift=True
    ),
    "6x6_c16_s2": lambda: dw_graph((1, 6, 6, 16), 3, 3, stride=2, seed=16, act="NONE"),
    "3x3_c12_s1": lambda: dw_graph((1, 3, 3, 12), 3, 3, seed=17, act="NONE"),
    "13x13_c11_s2_shifts": lambda: dw_graph((1, 13, 13, 11), 3, 3, stride=2, seed=18, act="NONE", big_shift=True),
    "7x7_c1_s2_valid": lambda: dw_graph((1, 7, 7, 1), 3, 3, stride=2, padding="VALID", seed=19, act="NONE"),
    "2x2_c5_s1": lambda: dw_graph((1, 2, 2, 5), 3, 3, seed=20, act="NONE"),
    "2x2_c4_s2": lambda: dw_graph((1, 2, 2, 4), 3, 3, stride=2, seed=21, act="NONE"),
}


@pytest.mark.parametrize("core", CORES, ids=lambda c: f"{c[0]}{c[1] or ''}")
@pytest.mark.parametrize("case", sorted(CASES))
def test_depthwise_small_and_strided(case, core):
    run(CASES[case](), *core)


@pytest.mark.parametrize("size", range(2, 14))
@pytest.mark.parametrize("stride", [1, 2])
def test_sizes_on_m4(size, stride):
    """Every side from 2 to 13 at both strides (SAME; odd channel count), -O2 on cortex-m4: the
    block kinds (6, 5, 4 and tails) and the pixel-order fallbacks each size takes."""
    run(dw_graph((1, size, size, 5 + size % 4), 3, 3, stride=stride, seed=30 + size, act="NONE"), "cortex-m4", "-O2")
