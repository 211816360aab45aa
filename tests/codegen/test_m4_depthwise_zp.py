"""DEPTHWISE_CONV_2D with output zero point -128 (ReLU nets such as the MobileNets and KWS): the
model's PM_DW_ZP_MIN (codegen/dw_planes.zp_min) drops the fast requantization's [t < 0] rounding
term in every depthwise kernel (PM_DW_NEG in pm_depthwise_conv2d_s8.c). Bit-exact against the
reference interpreter on emulated cortex-m4 at -O2 over the plane paths (6-output rows and
four-channel gathers, stride 2, channel pairs, columns first, 3x3 outputs on the pixel kernel,
depth multiplier 2, channels whose requantization does not fuse) with inputs that drive many
accumulators negative, and at -Os and on cortex-m0plus (the C paths, which the flag leaves alone)."""

from __future__ import annotations

import numpy as np
import pytest
from test_kernel_variants import dw_graph
from test_m4_gemm import run

from picoml.codegen import generate
from picoml.codegen.dw_planes import zp_min
from picoml.codegen.generate import generate_c
from picoml.flows.verify import verify


def _zp128(g):
    g.ops[0].outputs[0].zero_point = np.array([-128], np.int64)
    g.validate()
    return g


CASES = {
    "fours_6x6_s1": lambda: dw_graph((1, 6, 6, 8), 3, 3, seed=1, act="NONE"),
    "fours_12x12_s2_relu6": lambda: dw_graph((1, 12, 12, 8), 3, 3, stride=2, seed=2),
    "pairs_24x24_s1": lambda: dw_graph((1, 24, 24, 2), 3, 3, seed=3, act="NONE"),
    "cols_25x5_s1": lambda: dw_graph((1, 25, 5, 8), 3, 3, seed=4, act="RELU"),
    "out3x3_s1": lambda: dw_graph((1, 3, 3, 12), 3, 3, seed=5, act="NONE"),
    "out3x3_s2": lambda: dw_graph((1, 6, 6, 8), 3, 3, stride=2, seed=6, act="NONE"),
    "mult2_9x9": lambda: dw_graph((1, 9, 9, 4), 3, 3, mult=2, seed=7, act="NONE"),
    "big_shift_8x8": lambda: dw_graph((1, 8, 8, 8), 3, 3, seed=8, big_shift=True, act="NONE"),
}


def test_flag_follows_the_zero_points():
    g = CASES["fours_6x6_s1"]()
    assert zp_min(g) == 0 and "#define PM_DW_ZP_MIN 0" in generate_c(g, isa="armv7em")["pm_config.h"]
    g = _zp128(g)
    assert zp_min(g) == 1 and "#define PM_DW_ZP_MIN 1" in generate_c(g, isa="armv7em")["pm_config.h"]


RUNS = [(c, "cortex-m4", "-O2") for c in sorted(CASES)] + [
    ("fours_6x6_s1", "cortex-m4", "-Os"),
    ("out3x3_s1", "cortex-m4", "-Os"),
    ("mult2_9x9", "cortex-m0plus", None),
]


@pytest.mark.parametrize(("case", "target", "opt"), RUNS)
def test_zero_point_min_bit_exact(case, target, opt):
    run(_zp128(CASES[case]()), target=target, opt=opt, n=4)


def test_the_term_matters_elsewhere(monkeypatch):
    """The same layer with output zero point 2 goes wrong with the term dropped (the flag forced):
    the cases above do reach negative high products."""
    monkeypatch.setattr(generate, "zp_min", lambda g: 1)
    g = CASES["fours_6x6_s1"]()
    xs = np.random.default_rng(0).integers(-128, 128, (4,) + g.inputs[0].shape, dtype=np.int8)
    assert not verify(g, "cortex-m4", xs=xs, counted_runs=0).bit_exact
