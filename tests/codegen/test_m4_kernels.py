"""Armv7E-M (Cortex-M4) speed kernels, bit-exact against the reference interpreter on the emulated
core at -O2 (the assembly paths) and -Os (the C paths they replace):

- the 4x2 GEMM block (pm_dot_s8.h: PM_GEMM_4X2_RQ_ASM) on interleaved pairs (PM_PAIRS_ILV): k / 4
  chunks entering the 4-chunk loop at each of its four points (k4 % 4 = 0..3), odd output
  channels, requantization fused into the block (full int8 range) and a narrower activation clamp
  applied after it, left and large right shifts; im2col windows widened straight from the input
  (pm_window_w16) next to copied border windows, batches;
- the 4-unit FULLY_CONNECTED kernel (pm_fully_connected_s8.c: pm_fc_units4): odd and even chunk
  counts, k % 4 tails, unit counts that leave a pair and a single unit, depth beyond its stack row
  (the 2-unit path), batches;
- the depthwise block's fused requantization (pm_dw_store4_full) next to the clamped C path, and
  depth multipliers > 1 over a tap table (pm_depthwise_conv2d_s8_generic's speed path);
- ADD's tabulated operands (pm_add_s8.c: pm_add_lut): every code pair, in place and not;
- AVERAGE_POOL_2D's 16-bit lane sums (pm_pool_s8.c): channels % 8 == 0, windows clipped at the
  border (varying counts), a fused clamp, windows of up to 256 taps and one beyond (the int32 path)."""

from __future__ import annotations

import numpy as np
import pytest
from test_binary_c import _chain
from test_kernel_variants import conv_graph, dw_graph, fc_graph, pool_graph

from picoml.codegen.generate import generate_c
from picoml.flows.verify import verify
from picoml.graph.ops import OpType

from oracles import qtensor, single_op_graph

OPTS = ["-O2", "-Os"]


def run(g, opt, n=4, seed=0):
    xs = np.random.default_rng(seed).integers(-128, 128, (n,) + g.inputs[0].shape, dtype=np.int8)
    xs[0] = -128
    xs[1] = 127
    rep = verify(g, "cortex-m4", xs=xs, counted_runs=1, opt=opt)
    assert rep.bit_exact, f"{opt}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def _batched(g, n):
    """g (one op) over a batch of n images."""
    for t in (g.ops[0].inputs[0], g.ops[0].outputs[0]):
        t.shape = (n, *t.shape[1:])
    g.validate()
    return g


GEMM_CASES = {
    # pointwise, k = 16 / 20 / 24 / 28: 4, 5, 6, 7 chunks (entry at each of the loop's 4 points)
    **{
        f"pw_k{k}": (lambda k=k: conv_graph((1, 3, 3, k), 6, 1, 1, seed=k, act="NONE", big_shift=True))
        for k in (16, 20, 24, 28)
    },
    "pw_k36_odd_oc_relu": lambda: conv_graph((1, 2, 5, 36), 9, 1, 1, seed=3),  # narrower clamp after the block
    "im2col_3x3_k72_stride2": lambda: conv_graph((1, 9, 7, 8), 10, 3, 3, stride=2, seed=4, big_shift=True),
    # windows widened straight from the input (whole-word rows, interior) next to copied border ones,
    # over two images (the window's batch index), and a row of 3 words per tap row (c = 4, kw = 3)
    "im2col_batch2_c4_interior": lambda: _batched(conv_graph((1, 6, 7, 4), 6, 3, 3, seed=5), 2),
    "im2col_valid_c8_all_interior": lambda: conv_graph((1, 6, 6, 8), 4, 3, 3, padding="VALID", seed=6),
}


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("case", sorted(GEMM_CASES))
def test_gemm_4x2_block(case, opt):
    run(GEMM_CASES[case](), opt)


def _fc(depth, units, batches=1, seed=0, big_shift=False):
    g = fc_graph(depth, units, big_shift=big_shift, seed=seed)
    if batches > 1:
        x, w, b = g.ops[0].inputs
        x2 = qtensor("x", (batches, depth), x.scale, x.zero_point)
        y = g.ops[0].outputs[0]
        g = single_op_graph(OpType.FULLY_CONNECTED, [x2, w, b], qtensor("y", (batches, units), y.scale, y.zero_point))
    return g


FC_CASES = {
    "d64_u8": lambda: _fc(64, 8),  # 16 chunks
    "d36_u13_big_shift": lambda: _fc(36, 13, seed=1, big_shift=True),  # 9 chunks; 3 groups of 4 + 1 unit
    "d30_u6_tail": lambda: _fc(30, 6, seed=2),  # k % 4 = 2; a group of 4 and a pair
    "d7_u5": lambda: _fc(7, 5, seed=3),  # one chunk and a tail of 3
    "d3_u4": lambda: _fc(3, 4, seed=4),  # no whole chunk: the 2-unit path
    # rows deeper than the widened buffer: widened a slice at a time, partial sums on the stack
    "d1030_u4_sliced_tail": lambda: _fc(1030, 4, seed=5),  # 16 slices of 64 values and a tail of 6
    "d640_u128_sliced": lambda: _fc(640, 128, seed=7, big_shift=True),  # AD's first layer: 5 slices, fused rq
    "d642_u13_sliced_tail": lambda: _fc(642, 13, seed=8),  # a tail of 2 after the slices, 1 unit left over
    "d20_u9_batch3": lambda: _fc(20, 9, batches=3, seed=6),
}


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("case", sorted(FC_CASES))
def test_fully_connected_4_units(case, opt):
    run(FC_CASES[case](), opt)


def test_fc_row_buffer_is_sized_by_the_generator():
    cfg = generate_c(_fc(36, 13), isa="armv7em")["pm_config.h"]
    assert "#define PM_FC_W16_MAX 72" in cfg  # 36 values widened to 16 bits
    assert "#define PM_FC_SLICE_UNITS 0" in cfg  # the whole row fits: no slices
    # a 640 x 128 layer: a slice of 64 values (128 B) and 128 partial sums (512 B) on the stack
    # instead of the 1,280 B row (in AD, whose 128 x 640 layer must not be sliced, 128 values)
    cfg = generate_c(_fc(640, 128), isa="armv7em")["pm_config.h"]
    assert "#define PM_FC_W16_MAX 128" in cfg and "#define PM_FC_SLICE_UNITS 128" in cfg
    cfg = generate_c(_fc(1030, 4), isa="armv7em")["pm_config.h"]
    assert "#define PM_FC_W16_MAX 128" in cfg and "#define PM_FC_SLICE_UNITS 4" in cfg
    assert "#define PM_FC_W16_MAX 0" in generate_c(_fc(36, 13), isa="armv6m")["pm_config.h"]


DW_CASES = {
    "3x3_c16_full_range": lambda: dw_graph((1, 6, 5, 16), 3, 3, seed=1, act="NONE", big_shift=True),
    "3x3_c12_relu6": lambda: dw_graph((1, 5, 6, 12), 3, 3, seed=2),
    "5x5_c8_full_range_table": lambda: dw_graph((1, 6, 6, 8), 5, 5, seed=3, act="NONE"),
    # depth multiplier > 1 (the generic variant's tap-table path): 3x3 straight-line and other windows
    "mult8_3x3_stride2": lambda: dw_graph((1, 9, 8, 3), 3, 3, mult=8, stride=2, seed=4, big_shift=True),
    "mult2_5x5_dilated": lambda: dw_graph((1, 9, 9, 5), 5, 5, mult=2, dilation=2, seed=5),
    "mult4_1x1_valid": lambda: dw_graph((1, 4, 4, 6), 1, 1, mult=4, padding="VALID", seed=6, act="NONE"),
}


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("case", sorted(DW_CASES))
def test_depthwise_fused_requant(case, opt):
    run(DW_CASES[case](), opt)


def _add(n, qs, act="NONE", shape=None):
    shape = shape or (n,)
    a, b = (qtensor(k, shape, *q) for k, q in zip("ab", qs[:2], strict=True))
    return single_op_graph(OpType.ADD, [a, b], qtensor("y", shape, *qs[2]), fused_activation=act)


ADD_QS = [
    (((0.03, 1), (0.02, -2), (0.05, 0)), "NONE"),
    (((0.0625, -79), (0.007812507450580597, -93), (0.015625, -14)), "RELU"),
    (((1.0, 10), (0.2500002384185791, -123), (0.4999985694885254, -104)), "RELU6"),
]


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("k", range(len(ADD_QS)))
def test_add_tables_every_code_pair(k, opt):
    qs, act = ADD_QS[k]
    codes = np.arange(-128, 128, dtype=np.int8)
    a, b = np.repeat(codes, 256), np.tile(codes, 256)
    g = _add(65536, qs, act)
    rep = verify(g, "cortex-m4", xs=[a[None], b[None]], counted_runs=1, opt=opt)
    assert rep.bit_exact, rep.first_mismatch


def test_add_tables_in_place_and_below_the_threshold():
    """An ADD whose output takes its dying input's place (ResNet's residual adds), and one too short
    for the tables (1023 elements: the per-element path)."""
    g = _chain(OpType.ADD)  # x -> MUL -> ADD(m, z) -> MUL: m dies at the ADD
    for t in g.tensors:
        t.shape = (1, 16, 16, 8)
    g.validate()
    xs = [np.random.default_rng(s).integers(-128, 128, (2, 1, 16, 16, 8), dtype=np.int8) for s in (1, 2)]
    assert verify(g, "cortex-m4", xs=xs, counted_runs=1).bit_exact
    g = _add(1023, ADD_QS[1][0], ADD_QS[1][1])
    xs = [np.random.default_rng(s).integers(-128, 128, (3, 1023), dtype=np.int8) for s in (3, 4)]
    assert verify(g, "cortex-m4", xs=xs, counted_runs=1).bit_exact


POOL_CASES = {
    "avg_global_5x5_c64": lambda: pool_graph("AVERAGE_POOL_2D", (1, 5, 5, 64), 5, 5, 1),
    "avg_3x3_s2_same_c16_relu6": lambda: pool_graph("AVERAGE_POOL_2D", (1, 7, 6, 16), 3, 3, 2, "SAME", "RELU6"),
    "avg_2x2_batch2_c8": lambda: pool_graph("AVERAGE_POOL_2D", (2, 4, 6, 8), 2, 2, 2),
    "avg_global_16x16_c8_256_taps": lambda: pool_graph("AVERAGE_POOL_2D", (1, 16, 16, 8), 16, 16, 1),
    "avg_global_17x17_c8_beyond": lambda: pool_graph("AVERAGE_POOL_2D", (1, 17, 17, 8), 17, 17, 1),
}


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_average_pool_lane_sums(case, opt):
    run(POOL_CASES[case](), opt)
