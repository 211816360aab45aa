"""Pair streams (codegen/pair_records.py): a GEMM convolution's packed pairs with each pair's biases
and precomputed requantization records beside its weights, read by PM_GEMM_4X2_STREAM_ASM through
the one weight pointer, and stepped over by the pair-by-pair C paths (PM_PAIR_BYTES).

The layout against the plain records it is computed from, which layers get one, and bit-exact runs
against the reference interpreter: cortex-m4 at -O2 (the stream's pair loop in modes P and M, the
first chunk alone and every loop entry, 1-3 pixels past the blocks of 4 through the 2-row C path
with its stride, a 3x3 convolution's K4-padded rows), at -Os (every pixel through the C path),
GCC at -O1 (a halfword-aligned function would break the loop's ADR entries) and cortex-m0plus
(whose ISA has no stream: the plain layout)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
from test_fused_blocks import _Builder
from test_m4_gemm import run
from test_m4_pointwise_smallk import _pw

from picoml.codegen.generate import generate_c
from picoml.codegen.isa import ARMV7EM
from picoml.codegen.pair_records import RECORD_BYTES, RUN_HEAD, RUN_SLACK, pair_stream, run_chunks, stream_fits
from picoml.codegen.requant import RQ_FOLD, RQ_M, RQ_P, RQ_ZERO, fold_mode, requant_rows
from picoml.flows.verify import verify

from oracles import qtensor, single_op_graph


def _rows(multipliers, shifts):
    return requant_rows(np.array(multipliers), np.array(shifts), len(multipliers))


def test_stream_layout_against_the_plain_records():
    k, zp = 8, -128
    rows = _rows([1 << 30, (1 << 31) - 1, 1610612736, 1 << 30], [-7, -1, -22, 0])
    words = np.arange(2 * k // 2, dtype=np.int32) + 100  # 2 pairs of k / 2 words
    bias = np.array([11, -12, 13, -14], np.int32)
    s = pair_stream(words, k, bias, rows, zp)
    per = k // 2 + RECORD_BYTES // 4
    assert s.size == 2 * per
    for p in range(2):
        seg = s[p * per : (p + 1) * per]
        assert seg[0] == bias[2 * p] and seg[1 + k // 2] == bias[2 * p + 1]
        np.testing.assert_array_equal(seg[1 : 1 + k // 2], words[p * k // 2 : (p + 1) * k // 2])
        for j, r in enumerate(rows[2 * p : 2 * p + 2]):
            m2, rz, e = seg[2 + k // 2 + 3 * j : 5 + k // 2 + 3 * j]
            assert e == r["right"]
            assert int(m2) % (1 << 32) == (2 * r["multiplier"]) % (1 << 32) and m2 < 0  # 2M >= 2^31 wraps
            assert rz == r["round"] + zp * (1 << r["right"])


def test_which_layers_fit():
    ok = _rows([1 << 30] * 4, [-3] * 4)
    assert stream_fits(ok, 4, 8, (-128, 127))
    assert not stream_fits(ok[:3], 3, 8, (-128, 127))  # an odd channel
    assert not stream_fits(ok, 4, 6, (-128, 127))  # pairs of k % 4 != 0: no 4-row kernel
    assert not stream_fits(ok, 4, 8, (-128, 100))  # a narrower clamp: the C pair loop
    assert not stream_fits(_rows([1 << 30] * 4, [-3, -3, 1, -3]), 4, 8, (-128, 127))  # a left shift
    assert not stream_fits(_rows([1 << 30] * 4, [-3, -22, -3, -3]), 4, 8, (-128, 127))  # right 23: no fold


def test_fold_mode():
    """The pair loops' requantization mode the generator writes into pm_conv_params.fold (the
    kernels no longer scan the records for it): M or P where every channel has left == 1 and a
    multiplier >= 2^30 (P for output zero point -128), FOLD where only the right shifts are <= 22,
    else the general mode; one channel decides for the layer."""
    ok = _rows([1 << 30, (1 << 31) - 1], [-3, -21])
    assert fold_mode(ok, -128) == RQ_P and fold_mode(ok, 5) == RQ_M
    assert fold_mode(_rows([1 << 30, (1 << 30) - 1], [-3, -3]), -128) == RQ_FOLD  # a multiplier below 2^30
    assert fold_mode(_rows([1 << 30, 1 << 30], [-3, 2]), 0) == RQ_FOLD  # a left shift
    assert fold_mode(_rows([1 << 30, 1 << 30], [1, -22]), 0) == RQ_ZERO  # right 23: not even the fold
    model, _ = _config(_pw(8, 16, 10, 2))
    assert ".fold = 3" in model  # _pw's layer: P


def _config(g, isa="armv7em"):
    files = generate_c(g, isa=isa)
    return files["model.c"], files["pm_config.h"]


def test_the_generator_streams_only_fitting_layers():
    model, _ = _config(_pw(8, 16, 10, 2))
    assert ".pair_records = 32" in model and "_filter + 4" in model
    for g in (_pw(20, 5, 6, 9, scales="big"), _pw(8, 10, 7, 12, act="RELU6", y_scale=0.03), _pw(8, 5, 6, 2)):
        assert ".pair_records = 32" not in _config(g)[0]  # fold-only records, a clamp, an odd channel
    assert ".pair_records = 32" not in _config(_pw(8, 16, 10, 2), isa="armv6m")[0]


def _conv3x3(c_in, oc, hw, seed):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.002, 0.02, oc).astype(np.float32)
    w = qtensor(
        "w", (oc, 3, 3, c_in), scale, np.zeros(oc), data=rng.integers(-127, 128, (oc, 3, 3, c_in), dtype=np.int8)
    )
    b = qtensor("b", (oc,), (np.float32(0.05) * scale).astype(np.float32), np.zeros(oc), "int32",
                data=rng.integers(-3000, 3000, oc).astype(np.int32))  # fmt: skip
    x = qtensor("x", (1, hw, hw, c_in), 0.05, -128)
    y = qtensor("y", (1, hw, hw, oc), 0.08, -128)
    return single_op_graph("CONV_2D", [x, w, b], y, stride_h=1, stride_w=1, padding="SAME", fused_activation="NONE")


CASES = {
    "k4_oc2_px5_p": lambda: _pw(4, 2, 5, 1),  # the first chunk only, a pixel past the block
    "k8_oc16_px10_p": lambda: _pw(8, 16, 10, 2),  # pw1's depth, two pixels past
    "k16_oc32_px9_m": lambda: _pw(16, 32, 9, 7, y_zp=5),  # mode M
    "k36_oc8_px11_p": lambda: _pw(36, 8, 11, 4, x_zp=100),  # 9 chunks: a full group and one, three past
    "k128_oc12_px8_m": lambda: _pw(128, 12, 8, 3, y_zp=127),  # 32 chunks: the loop four times
    "k60_oc6_px4_p": lambda: _pw(60, 6, 4, 5),  # 15 chunks: entered at the second
    "conv3x3_c3_oc8": lambda: _conv3x3(3, 8, 7, 6),  # PM_FILTER_ROWS layout, K 28 streamed
    "conv3x3_c8_oc6": lambda: _conv3x3(8, 6, 5, 8),  # PM_FILTER_K4 (k 72)
}


@pytest.mark.parametrize(("target", "opt"), [("cortex-m4", "-O2"), ("cortex-m4", "-Os"), ("cortex-m0plus", None)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_stream_bit_exact(case, target, opt):
    g = CASES[case]()
    if target == "cortex-m4":
        assert ".pair_records = 32" in _config(g)[0]
    run(g, target=target, opt=opt)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("case", ["k4_oc2_px5_p", "k36_oc8_px11_p"])
def test_stream_gcc_o1(case):
    g = CASES[case]()
    xs = np.random.default_rng(1).integers(-128, 128, (3,) + g.inputs[0].shape, dtype=np.int8)
    rep = verify(g, "cortex-m4", xs=xs, toolchain="gcc", opt="-O1", counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch


def test_stream_saves_cycles_per_pair():
    """The stream's pair loop (pm_conv_pairs4s; the pointwise run switched off) against the plain one
    (pm_conv_pairs4: the ISA without "pair_stream") on VWW's pointwise 7 shape over 8 pixels: 2 blocks
    of 64 pairs, at least 15 cycles saved per pair."""
    g = _pw(128, 128, 8, 11)
    xs = np.random.default_rng(2).integers(-128, 128, (2,) + g.inputs[0].shape, dtype=np.int8)
    stream_isa = replace(ARMV7EM, variants=ARMV7EM.variants - {"pw_run"})
    plain_isa = replace(ARMV7EM, variants=ARMV7EM.variants - {"pw_run", "pair_stream"})
    assert ".pair_records = 32" in generate_c(g, isa=stream_isa)["model.c"]
    assert ".pair_records = 32" not in generate_c(g, isa=plain_isa)["model.c"]
    fast = verify(g, "cortex-m4", xs=xs, counted_runs=1, isa=stream_isa)
    plain = verify(g, "cortex-m4", xs=xs, counted_runs=1, isa=plain_isa)
    assert fast.bit_exact and plain.bit_exact
    saved = (plain.cycles - fast.cycles) / (2 * 64)
    assert saved >= 15, saved


def _pointwise_chain(depths, px, seed, zps=(-128, -128, -128)):
    """1 x px pixels through pointwise layers depths[0] -> depths[1] -> ...: the model's run
    (PM_PW_SP_CHUNKS) is the deepest layer's, so the shallower ones enter it part-way."""
    b = _Builder(seed)
    x = b.act("x", (1, 1, px, depths[0]), 0.05, -128)
    y = x
    for j, oc in enumerate(depths[1:]):
        y = b.conv(y, oc, 1, 1, padding="VALID", name=f"pw{j}", zp=zps[j % len(zps)])
    return b.graph([x], [y])


CHAIN_CASES = {
    "k8_k40_k4_px9": lambda: _pointwise_chain((8, 40, 4, 6), 9, 1),  # run of 10: entered at 9, 8 and 0... 1
    "k4_k144_px7": lambda: _pointwise_chain((4, 144, 12), 7, 2, zps=(-128, 5)),  # the longest run (36), mode M
    "k16_k64_k32_px13": lambda: _pointwise_chain((16, 64, 32, 16), 13, 3),  # KWS-like depths, 1 pixel past
}


@pytest.mark.parametrize("case", sorted(CHAIN_CASES))
def test_pointwise_run_entered_part_way(case):
    g = CHAIN_CASES[case]()
    model, config = _config(g)
    deepest = max(op.inputs[0].shape[-1] for op in g.ops)
    assert f"#define PM_PW_SP_CHUNKS {deepest // 4}" in config
    assert model.count(".pair_records = 32") == len(g.ops)
    run(g, opt="-O2")
    run(g, opt="-Os")


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_pointwise_run_gcc_o1():
    g = CHAIN_CASES["k8_k40_k4_px9"]()
    xs = np.random.default_rng(3).integers(-128, 128, (3,) + g.inputs[0].shape, dtype=np.int8)
    rep = verify(g, "cortex-m4", xs=xs, toolchain="gcc", opt="-O1", counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch


def test_pointwise_run_not_past_the_stack_rows():
    """A layer deeper than 144 values keeps its rows in the arena and the plain pair loop."""
    g = _pointwise_chain((8, 160, 8), 8, 4)
    assert "#define PM_PW_SP_CHUNKS 2" in _config(g)[1]
    run(g, opt="-O2")


def test_run_saves_cycles_per_pair():
    """pm_conv_pw4s (widened rows addressed from SP, 15 cycles per 16 MACs) against the stream's pair
    loop with an activation pointer (the ISA without "pw_run"), VWW's pointwise 7 shape over 8 pixels:
    2 blocks of 64 pairs of 64 half chunks: 0.92 cycles saved per half chunk when measured (1 in the
    loop, less the run's entry and first half)."""
    g = _pw(128, 128, 8, 11)
    xs = np.random.default_rng(2).integers(-128, 128, (2,) + g.inputs[0].shape, dtype=np.int8)
    no_run = replace(ARMV7EM, variants=ARMV7EM.variants - {"pw_run"})
    assert "#define PM_PW_SP_CHUNKS 32" in _config(g)[1]
    assert "#define PM_PW_SP_CHUNKS 0" in generate_c(g, isa=no_run)["pm_config.h"]
    fast = verify(g, "cortex-m4", xs=xs, counted_runs=1)
    plain = verify(g, "cortex-m4", xs=xs, counted_runs=1, isa=no_run)
    assert fast.bit_exact and plain.bit_exact
    saved = (plain.cycles - fast.cycles) / (2 * 64 * 64)
    assert saved >= 0.85, saved


def test_run_length_keeps_the_stack():
    """Layers whose rows the planner moved to the arena join the run only where its rows fit the
    model's largest other stack buffer (plus RUN_SLACK); the others set it by their depth."""
    assert run_chunks([(16, True)], 448) == 16  # KWS: 544 bytes of rows against 448 of planes
    assert run_chunks([(16, True)], 300) == 0
    assert run_chunks([(8, False), (36, True)], 0) == 8
    assert run_chunks([(8, False), (36, False)], 0) == 36
    assert run_chunks([], 4096) == 0
    assert RUN_HEAD + 32 * 16 <= 448 + RUN_SLACK < RUN_HEAD + 32 * 18


def test_deep_layer_joins_the_run_beside_large_planes():
    """A pointwise layer deeper than 144 values keeps its rows out of the widened-row buffer (in the
    arena), yet joins the run when its rows (48 + 8k bytes with the frame) fit beside the model's depthwise planes:
    VWW's pointwise 13 (k = 256) beside 2,048 bytes of planes. The 16-value layer before it enters
    the same run part-way; both bit-exact at -O2 and -Os. (The input is the arena's peak, so the
    deep layer's rows get arena scratch.)"""
    b = _Builder(5)
    x = b.act("x", (1, 64, 64, 16), 0.05, -128)
    y = b.dw(x, 3, 3, stride=2, name="d0")  # 32 x 32 outputs from 65 plane rows of 68 bytes: capped planes
    y = b.dw(y, 3, 3, stride=2, name="d1")
    y = b.dw(y, 3, 3, stride=2, name="d2")
    y = b.conv(y, 256, 1, 1, padding="VALID", name="p0")
    y = b.conv(y, 8, 1, 1, padding="VALID", name="p1")
    g = b.graph([x], [y])
    model, config = _config(g)
    assert "#define PM_DW_PLANE_MAX 2048" in config
    assert 8 * 256 > 1152  # past W16_MAX: its rows are in the arena, not the stack buffer
    assert "#define PM_PW_SP_CHUNKS 64" in config
    assert model.count(".pair_records = 32") == 2
    run(g, opt="-O2")
    run(g, opt="-Os")
