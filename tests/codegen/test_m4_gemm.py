"""GEMM kernels of FULLY_CONNECTED and CONV_2D on edge shapes, bit-exact against the reference
interpreter on the emulated cores: cortex-m4 at -O2 (the assembly paths) and -Os (the C paths), and
cortex-m0plus (the Armv6-M kernels, which must not change).

Raw-lane pairs (codegen/pairs_raw.py, PM_FC_RAW): odd depths, depths that leave a k % 4 tail or a
number of chunks that is not a multiple of the loops' four, unit counts that leave a pair and a
single unit, per-channel and per-tensor weights, extreme multipliers (right shifts of 20+ and a
left shift), channel b's sum at its bound (every b weight -127 against inputs of -128), weights
that keep the plain layout (b = -128 where a < 0; sum|b| at the limit) and a row sliced through
the stack."""

from __future__ import annotations

import numpy as np
import pytest
from test_kernel_variants import conv_graph

from picoml.codegen.generate import generate_c
from picoml.codegen.pairs_raw import SUM_LIMIT, raw_fits, to_raw
from picoml.flows.verify import verify

from oracles import qtensor, single_op_graph

OPTS = ["-O2", "-Os"]


def run(g, target="cortex-m4", opt="-O2", n=4, seed=0):
    xs = np.random.default_rng(seed).integers(-128, 128, (n,) + g.inputs[0].shape, dtype=np.int8)
    xs[0] = -128
    xs[1] = 127
    rep = verify(g, target, xs=xs, counted_runs=1, opt=opt)
    assert rep.bit_exact, f"{target} {opt}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def _fc(depth, units, seed=0, per_tensor=False, big_shift=False, w=None, x_zp=3, batches=1, y_scale=0.1):
    rng = np.random.default_rng(seed)
    if per_tensor:
        scale = np.float32(3e-6 if big_shift else 0.01)
    elif big_shift:  # right shifts of 20+, ordinary ones and a left shift (multiplier > 1)
        scale = np.array([[2e-6, 0.02, 3.0, 0.4][i % 4] for i in range(units)], np.float32)
    else:
        scale = rng.uniform(0.002, 0.03, units).astype(np.float32)
    data = rng.integers(-127, 128, (units, depth), dtype=np.int8) if w is None else np.asarray(w, np.int8)
    wt = qtensor("w", (units, depth), scale, np.zeros(1 if per_tensor else units))
    wt.data = data
    bs = (np.float32(0.05) * np.broadcast_to(scale, (units,))).astype(np.float32)
    b = qtensor("b", (units,), bs, np.zeros(units), "int32", data=rng.integers(-3000, 3000, units).astype(np.int32))
    x = qtensor("x", (batches, depth), 0.05, x_zp)
    return single_op_graph("FULLY_CONNECTED", [x, wt, b], qtensor("y", (batches, units), y_scale, -4))


def _raw_flag(g, which="FC") -> int:
    cfg = generate_c(g, isa="armv7em")["pm_config.h"]
    return int(cfg.split(f"#define PM_{which}_RAW ")[1].split()[0])


def _extreme_b(depth, units):
    """a weights -127 (negative: b is stored as b - 1 = -128) and every b weight -127: against an
    input of -128 everywhere channel b's sum is 128 * 127 * depth, just below 2^23 for depth 512."""
    w = np.full((units, depth), -127, np.int8)
    w[::4] = 5  # some pairs with a >= 0 (b stored as is)
    return w


FC_CASES = {
    "d64_u8": lambda: _fc(64, 8),
    "d7_u5_odd": lambda: _fc(7, 5, seed=1),  # one chunk, a tail of 3, a pair and a single unit
    "d13_u6_big_shift": lambda: _fc(13, 6, seed=2, big_shift=True),  # 3 chunks, tail 1
    "d30_u11_per_tensor": lambda: _fc(30, 11, seed=3, per_tensor=True),  # 7 chunks, tail 2
    "d36_u12_per_tensor_big_shift": lambda: _fc(36, 12, seed=4, per_tensor=True, big_shift=True),
    "d124_u10": lambda: _fc(124, 10, seed=5),  # 31 chunks: entry at each loop point over the groups
    "d129_u3": lambda: _fc(129, 3, seed=6),  # a pair and a unit only (the 2-unit kernel), tail 1
    "d512_u8_b_at_bound": lambda: _fc(512, 8, seed=7, w=_extreme_b(512, 8), x_zp=-128, y_scale=50.0),
    "d640_u9_sliced": lambda: _fc(640, 9, seed=8, big_shift=True),  # AD's depth: sliced rows, 1 unit left
    "d20_u7_batch3": lambda: _fc(20, 7, seed=9, batches=3),
}


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("case", sorted(FC_CASES))
def test_fc_raw_lanes_cortex_m4(case, opt):
    g = FC_CASES[case]()
    assert _raw_flag(g) == 1  # the layout under test
    run(g, opt=opt)


@pytest.mark.parametrize("case", ["d7_u5_odd", "d36_u12_per_tensor_big_shift", "d512_u8_b_at_bound"])
def test_fc_cortex_m0plus_unchanged(case):
    g = FC_CASES[case]()
    cfg = generate_c(g, isa="armv6m")["pm_config.h"]
    assert "#define PM_FC_RAW 0" in cfg  # offset-binary blocks there
    run(g, target="cortex-m0plus")


def test_fc_keeps_plain_pairs_where_raw_lanes_do_not_fit():
    rng = np.random.default_rng(11)
    w = rng.integers(-127, 128, (6, 24), dtype=np.int8)
    w[2, 5], w[3, 5] = -3, -128  # b = -128 where a < 0: b - 1 leaves int8
    assert not raw_fits(w)
    g = _fc(24, 6, w=w)
    assert _raw_flag(g) == 0
    run(g)
    w2 = np.full((4, 520), 127, np.int8)  # sum|b| = 66,040 >= 2^16: 256 * (x . b) could wrap
    assert not raw_fits(w2) and 127 * 520 >= SUM_LIMIT > 127 * 512
    g = _fc(520, 4, w=w2, y_scale=50.0)
    assert _raw_flag(g) == 0
    run(g)


def test_to_raw_lanes_are_256b_plus_a():
    rng = np.random.default_rng(12)
    w = rng.integers(-127, 128, (6, 11), dtype=np.int8)
    w[1, 0] = -127
    w[0, 0] = -1
    r = to_raw(w).astype(np.int32)
    full = 8
    lane = 256 * r[1::2, :full] + (r[0::2, :full] & 255)  # the int16 lane of a raw word
    assert (lane == 256 * w[1::2, :full].astype(np.int32) + w[0::2, :full]).all()
    assert (lane >= -32768).all() and (lane <= 32767).all()
    assert (r[:, full:] == w[:, full:]).all() and (r[0::2] == w[0::2]).all()  # tails and a channels plain


def _conv(x_shape, oc, kh, kw, w=None, stride=1, per_tensor=False, seed=0, act="NONE", x_zp=3, y_scale=0.08):
    """conv_graph with per-tensor weights or given weights (OHWI int8)."""
    g = conv_graph(x_shape, oc, kh, kw, stride=stride, seed=seed, act=act, big_shift=not per_tensor)
    x, wt, b = g.ops[0].inputs
    if per_tensor:
        wt.scale, wt.zero_point, wt.axis = np.array([0.01], np.float32), np.zeros(1), 0
        b.scale = (x.scale * np.float32(0.01) * np.ones(oc)).astype(np.float32)
    if w is not None:
        wt.data = np.asarray(w, np.int8).reshape(wt.shape)
    x.zero_point = np.array([x_zp])
    g.ops[0].outputs[0].scale = np.array([y_scale], np.float32)
    g.validate()
    return g


CONV_CASES = {
    # pointwise: k = 8, 12, 20, 36 (1, 3, 5, 9 chunks: each entry of the 4-chunk loop), odd output
    # channels, rows left over after the blocks of 4 (the 2x2 kernel)
    "pw_k8_oc6": lambda: _conv((1, 3, 3, 8), 6, 1, 1, seed=1),
    "pw_k12_oc7_relu": lambda: _conv((1, 2, 5, 12), 7, 1, 1, seed=2, act="RELU"),
    "pw_k20_oc5_per_tensor": lambda: _conv((1, 3, 3, 20), 5, 1, 1, seed=3, per_tensor=True),
    "pw_k36_oc10": lambda: _conv((1, 1, 7, 36), 10, 1, 1, seed=4),
    "pw_k7_tail_oc4": lambda: _conv((1, 3, 2, 7), 4, 1, 1, seed=5),  # one chunk and a tail of 3 (2x2 path)
    # im2col: k = 27 K4-padded to 28 (VWW's and ResNet-8's first layer shape), k = 72, stride 2
    "im2col_k27_oc8_stride2": lambda: _conv((1, 9, 9, 3), 8, 3, 3, stride=2, seed=6),
    "im2col_k72_oc9_per_tensor": lambda: _conv((1, 6, 5, 8), 9, 3, 3, seed=7, per_tensor=True),
    # channel b's sum at its bound: b = -127 everywhere (stored -128 where a < 0), inputs -128
    "pw_k512_b_at_bound": lambda: _conv(
        (1, 2, 3, 512),
        4,
        1,
        1,
        w=np.where(np.arange(4)[:, None] == 2, 9, -127) * np.ones((4, 512)),
        x_zp=-128,
        y_scale=50.0,
    ),
}


@pytest.mark.parametrize("opt", OPTS)
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_raw_lanes_cortex_m4(case, opt):
    g = CONV_CASES[case]()
    assert _raw_flag(g, "CONV") == 1
    run(g, opt=opt)


@pytest.mark.parametrize("case", ["pw_k7_tail_oc4", "im2col_k27_oc8_stride2", "pw_k512_b_at_bound"])
def test_conv_cortex_m0plus_unchanged(case):
    g = CONV_CASES[case]()
    assert "#define PM_CONV_RAW 0" in generate_c(g, isa="armv6m")["pm_config.h"]
    run(g, target="cortex-m0plus")


def test_conv_keeps_plain_pairs_where_raw_lanes_do_not_fit():
    rng = np.random.default_rng(13)
    w = rng.integers(-127, 128, (6, 3, 3, 3), dtype=np.int8)
    w[4, 2, 2, 2], w[5, 2, 2, 2] = -7, -128  # the 27th value: in a whole chunk only once K4-padded
    g = _conv((1, 6, 6, 3), 6, 3, 3, w=w, per_tensor=True)  # (no constant channel: its weights would be zeroed)
    assert _raw_flag(g, "CONV") == 0
    run(g)


@pytest.mark.parametrize("k4", [1, 2, 3, 4, 5, 6, 7, 8, 9, 15])
def test_eight_chunk_loops_enter_at_every_point(k4):
    """The 4x2 GEMM block and the 4-unit FULLY_CONNECTED loop run eight chunks per test, entered
    at chunk 8 - k4 % 8: every entry, and the second pass, on the speed build."""
    run(_conv((1, 2, 4, 4 * k4), 4, 1, 1, seed=20 + k4), opt="-O2")
    run(_fc(4 * k4, 8, seed=40 + k4, big_shift=True), opt="-O2")
