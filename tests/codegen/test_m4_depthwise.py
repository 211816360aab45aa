"""DEPTHWISE_CONV_2D on Armv7E-M planes (pm_depthwise_conv2d_s8.c: pm_dw_planes), bit-exact against
the reference interpreter on emulated cortex-m4 (-O2: the plane path; -Os: the C paths it
replaces) and cortex-m0plus (its own kernels, unaffected):

- 3x3 windows at stride 1 and 2, SAME and VALID, odd channel counts (plain weights) and
  multiples of 4 (channel groups), stride-1 rows split into 5- and 4-output blocks (every row
  in one call when 5 divides it), even channel counts gathered in pairs, outputs per plane row
  that leave 0-3 for the tail, images
  taller than wide (the plane holds input columns), planes split into strips; one-pixel images
  and short rows (under 8 outputs, 12 at stride 2, with depth multiplier 1), which keep the output-pixel order;
- other windows (micro_speech's 8x10 at multiplier 8, stride 2; 5x3, 1x7) with multipliers > 1;
- depth multipliers 2 and 8, per-channel multipliers from 2^-20 to > 1 (right shifts past the
  folded zero point's limit, left shifts folded into the weights), a narrower activation clamp
  (the C requantization), batches, dilation 2 and 5x5 windows (outside the plane path);
- the streaming overlap: the output written over its dying input a whole number of pixels
  below it (the plane path's overlap condition) in a chain;
- layers whose accumulators need the exact requantization (the _exact twin), on extreme inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_exact_requant import _graph, _weights, extreme_inputs
from test_fused_blocks import _Builder
from test_kernel_variants import conv_graph, dw_graph

from picoml.codegen.generate import generate_c
from picoml.flows.verify import verify
from picoml.graph import Graph
from picoml.plan.planner import plan_memory

from oracles import qtensor, single_op_graph

CORES = [("cortex-m4", "-O2"), ("cortex-m4", "-Os"), ("cortex-m0plus", None)]


def run(g, target, opt, n=3, seed=0, xs=None):
    if xs is None:
        xs = np.random.default_rng(seed).integers(-128, 128, (n,) + g.inputs[0].shape, dtype=np.int8)
        xs[0] = -128
        xs[1] = 127
    rep = verify(g, target, xs=xs, counted_runs=1, opt=opt)
    assert rep.bit_exact, f"{target} {opt}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def _batched(g, n):
    for t in (g.ops[0].inputs[0], g.ops[0].outputs[0]):
        t.shape = (n, *t.shape[1:])
    g.validate()
    return g


CASES = {
    # stride 1: 6 outputs per row (a block and a 2-output tail), odd channels (plain weights)
    "c3_s1_same": lambda: dw_graph((1, 7, 10, 3), 3, 3, seed=1, act="NONE"),
    "c5_s2_same": lambda: dw_graph((1, 9, 65, 5), 3, 3, stride=2, seed=2, act="NONE"),
    "c8_s2_valid": lambda: dw_graph((1, 8, 69, 8), 3, 3, stride=2, padding="VALID", seed=3, act="NONE"),
    "c16_s1_valid_shifts": lambda: dw_graph((1, 6, 11, 16), 3, 3, padding="VALID", seed=4, act="NONE", big_shift=True),
    "c12_s2_shifts": lambda: dw_graph((1, 11, 72, 12), 3, 3, stride=2, seed=5, act="NONE", big_shift=True),
    "c12_relu6_clamp": lambda: dw_graph((1, 5, 9, 12), 3, 3, seed=6),
    "c7_s1_wide_3_tail": lambda: dw_graph((1, 4, 11, 7), 3, 3, seed=7, act="NONE"),
    "mult2_s1": lambda: dw_graph((1, 6, 9, 3), 3, 3, mult=2, seed=8, act="NONE", big_shift=True),
    "mult8_s1": lambda: dw_graph((1, 10, 7, 2), 3, 3, mult=8, seed=9, act="NONE"),
    "mult8_s2_valid": lambda: dw_graph((1, 9, 36, 1), 3, 3, mult=8, stride=2, padding="VALID", seed=10),
    "one_pixel_s1": lambda: dw_graph((1, 1, 1, 8), 3, 3, seed=11, act="NONE"),
    "one_pixel_s2_c5": lambda: dw_graph((1, 1, 1, 5), 3, 3, stride=2, seed=12, act="NONE"),
    "tall_c8_columns_first": lambda: dw_graph((1, 25, 5, 8), 3, 3, seed=13, act="NONE", big_shift=True),
    "tall_s2_columns_first": lambda: dw_graph((1, 68, 6, 4), 3, 3, stride=2, seed=14, act="NONE"),
    "wide_strips": lambda: dw_graph((1, 30, 70, 4), 3, 3, seed=15, act="NONE"),  # 64-byte plane rows: strips
    "tall_strips_columns": lambda: dw_graph((1, 160, 5, 3), 3, 3, seed=16, act="NONE"),  # 160 + 8 bytes a row
    "batch2": lambda: _batched(dw_graph((1, 5, 10, 4), 3, 3, seed=17, act="NONE"), 2),
    "dilation2_fallback": lambda: dw_graph((1, 8, 8, 4), 3, 3, dilation=2, seed=18, act="NONE"),
    "5x5_fallback": lambda: dw_graph((1, 6, 6, 8), 5, 5, seed=19, act="NONE"),
    # other windows with a depth multiplier > 1 (micro_speech's 8x10, multiplier 8, stride 2): planes in C
    "micro_speech_8x10_m8_s2": lambda: dw_graph((1, 25, 20, 1), 8, 10, mult=8, stride=2, seed=26, act="NONE"),
    "5x3_m2_s1_shifts": lambda: dw_graph((1, 9, 12, 3), 5, 3, mult=2, seed=27, act="NONE", big_shift=True),
    "1x7_m4_s2_valid_relu6": lambda: dw_graph((1, 5, 30, 2), 1, 7, mult=4, stride=2, padding="VALID", seed=28),
    "rounding_ties": lambda: _ties(exact=False),  # the fused SMMULR requantization's ties
    # stride 1 rows in blocks of 5 and 4: 13 = 5 + 4 + 4, 12 = 4 + 4 + 4, 7 = 5 + a 2-output tail (multiplier 2),
    # 6 = 5 + 1, 15 = 3 x 5 and 20 = 4 x 5 with every row in one call
    "s1_blocks_5_4_4": lambda: dw_graph((1, 3, 13, 3), 3, 3, seed=29, act="NONE", big_shift=True),
    "s1_blocks_4_4_4": lambda: dw_graph((1, 3, 12, 4), 3, 3, seed=30, act="NONE"),
    "s1_mult2_5_tail2": lambda: dw_graph((1, 4, 7, 3), 3, 3, mult=2, seed=31, act="NONE"),
    "s1_mult2_5_tail1": lambda: dw_graph((1, 3, 6, 2), 3, 3, mult=2, seed=32, act="NONE"),
    "s1_rows_one_call": lambda: dw_graph((1, 7, 15, 4), 3, 3, seed=33, act="NONE", big_shift=True),
    "s1_mult2_rows_one_call": lambda: dw_graph((1, 6, 20, 3), 3, 3, mult=2, seed=33, act="NONE"),
    # stride 2 rows of 12 and 13 outputs (planes since 4-output blocks got cheaper): 3 blocks, + 1
    "s2_rows_12": lambda: dw_graph((1, 24, 24, 4), 3, 3, stride=2, seed=36, act="NONE"),
    "s2_rows_13_c6": lambda: dw_graph((1, 10, 26, 6), 3, 3, stride=2, seed=37, act="NONE", big_shift=True),
    "short_rows_pixel_order": lambda: dw_graph((1, 6, 6, 8), 3, 3, seed=24, act="NONE"),  # 6 outputs a row
    "s2_short_rows_pixel_order": lambda: dw_graph((1, 12, 12, 8), 3, 3, stride=2, seed=25, act="NONE"),
}


@pytest.mark.parametrize("core", CORES, ids=lambda c: f"{c[0]}{c[1] or ''}")
@pytest.mark.parametrize("case", sorted(CASES))
def test_depthwise_planes(case, core):
    run(CASES[case](), *core)


def _chain(shape, mult=1):
    """x (2 channels) -> CONV_2D 1x1 = m -> DEPTHWISE 3x3 (m) = y -> CONV_2D 1x1 = z (2 channels): the
    depthwise layer holds the peak, so the planner writes y over m, which dies there."""
    n, h, w, c = shape
    up = conv_graph((n, h, w, 2), c, 1, 1, seed=22, act="NONE").ops[0]
    dw = dw_graph(shape, 3, 3, mult=mult, seed=20, act="NONE").ops[0]
    down = conv_graph((n, h, w, c * mult), 2, 1, 1, seed=23, act="NONE").ops[0]
    for i, op in enumerate((up, dw, down)):
        for t in (*op.inputs, *op.outputs):
            t.name = f"{t.name}{i}"
    dw.inputs[0] = up.outputs[0]
    down.inputs[0] = dw.outputs[0]
    dw.inputs[0].scale, dw.inputs[0].zero_point = np.atleast_1d(np.float32(0.05)), np.atleast_1d(-7)
    tensors = [*up.inputs, up.outputs[0], *dw.inputs[1:], dw.outputs[0], *down.inputs[1:], down.outputs[0]]
    g = Graph(tensors, [up, dw, down], [up.inputs[0]], [down.outputs[0]])
    g.validate()
    return g


@pytest.mark.parametrize("shape", [(1, 9, 6, 8), (1, 6, 9, 12), (1, 25, 5, 16)])
def test_output_streams_over_the_dying_input(shape):
    g = _chain(shape)
    plan = plan_memory(g)
    ym, yy = plan.offset_of(g.tensor(g.ops[1].inputs[0].name)), plan.offset_of(g.tensor(g.ops[1].outputs[0].name))
    size = int(np.prod(shape))
    assert yy < ym < yy + size, "the planner no longer streams the depthwise output over its input"
    for core in CORES:
        run(g, *core, n=3)


@pytest.mark.parametrize("mult", [2, 8])
def test_multiplier_streams_in_strip_order(mult):
    """Depth multiplier > 1 with the output over the dying input: every channel's plane of a strip
    is gathered before the strip's outputs are written."""
    g = _chain((1, 12, 10, 3), mult)
    for core in CORES:
        run(g, *core, n=3)


def _exact_dw(c, mult, h, w, stride=1, seed=0):
    """A 3x3 SAME depthwise layer whose channels need the exact requantization (test_exact_requant's
    KINDS: accumulators past 2^29, multipliers > 1 (e = 0) and tiny ones (e up to 31))."""
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1, 1], (1, 1, 1, c * mult))
    wt = _weights(rng, (1, 3, 3, c * mult), signs)
    wt[0, 0, 0] = signs[0, 0, 0] * 100  # extreme_inputs reads each channel's sign at tap 0
    y = (1, -(-h // stride), -(-w // stride), c * mult)
    attrs = {"stride_h": stride, "stride_w": stride, "padding": "SAME", "depth_multiplier": mult}
    return _graph("DEPTHWISE_CONV_2D", (1, h, w, c), wt, c * mult, y, **attrs)


def _ties(shape=(1, 6, 13, 8), exact=True):
    """Requantization at the real multiplier 0.25 (Q31 2^30, right shift 1): half the values sit
    on a rounding tie, negative ones included, where RoundingDivideByPOT rounds away from zero.
    exact: channel 0 has full-scale weights and the multiplier 2^12 (left shift 13), so its
    accumulator bound passes 2^29 after the shift while its output still moves (not a constant
    channel), and the layer takes the exact twin."""
    rng = np.random.default_rng(7)
    c = shape[3]
    x = qtensor("x", shape, 0.5, -3)
    data = rng.integers(-1, 2, (1, 3, 3, c)).astype(np.int8)
    scale = np.full(c, 0.5, np.float32)
    if exact:
        data[..., 0] = rng.choice(np.array([-127, 127], np.int8), (1, 3, 3))
        scale[0] = 0.5 * (1 << 14)
    w = qtensor("w", (1, 3, 3, c), scale, np.zeros(c), data=data, axis=3)
    bias = rng.integers(-200, 200, c).astype(np.int32)
    b = qtensor("b", (c,), (np.float32(0.5) * scale).astype(np.float32), np.zeros(c), "int32", data=bias)
    y = qtensor("y", shape, 1.0, 5)
    attrs = {"stride_h": 1, "stride_w": 1, "padding": "SAME", "depth_multiplier": 1}
    return single_op_graph("DEPTHWISE_CONV_2D", [x, w, b], y, **attrs)


EXACT = {
    "ties": _ties,
    "mult1_rows": lambda: _exact_dw(8, 1, 6, 13),
    "mult1_columns": lambda: _exact_dw(8, 1, 25, 5),
    "mult1_s2": lambda: _exact_dw(4, 1, 7, 66, stride=2),
    "mult2_rows": lambda: _exact_dw(3, 2, 5, 11),
}


@pytest.mark.parametrize("layer", sorted(EXACT))
@pytest.mark.parametrize("core", CORES, ids=lambda c: f"{c[0]}{c[1] or ''}")
def test_exact_requantization_on_planes(layer, core):
    g = EXACT[layer]()
    src = generate_c(g, isa="armv7em")["model.c"]
    assert "_exact(" in src  # the layer needs the exact twin
    run(g, *core, xs=extreme_inputs(g))


def test_kws_shaped_layer_cycles():
    """A KWS depthwise layer (25 x 5 x 64, 3x3 SAME) at under 5.5 estimated cycles per MAC (6.05 in
    the pixel-order kernel this path replaces)."""
    g = dw_graph((1, 25, 5, 64), 3, 3, seed=21, act="NONE")
    rep = run(g, "cortex-m4", "-O2", n=2)
    macs = 25 * 5 * 64 * 9
    assert rep.cycles / macs < 5.5, rep.cycles / macs


def test_channel_pairs_with_multiplier_apart():
    """Depth multiplier 2 with the output apart from its input (the input stays alive for a 1x1
    CONV_2D after it, then both meet in an ADD): channel order, an even channel count, channels
    gathered in pairs, each plane feeding its 2 output channels."""
    b = _Builder(41)
    x = b.act("x", (1, 7, 12, 4), 0.05, -7)
    y = b.dw(x, 3, 3, act="NONE", name="d", mult=2)
    z = b.conv(x, 8, 1, 1, name="c")
    g = b.graph([x], [b.add(y, z)])
    plan = plan_memory(g)
    xo, yo = plan.offset_of(g.tensor("x")), plan.offset_of(g.tensor("d"))
    assert xo + 7 * 12 * 4 <= yo or yo + 7 * 12 * 8 <= xo, "the depthwise output overlaps its live input"
    for core in CORES:
        run(g, *core, n=3)
