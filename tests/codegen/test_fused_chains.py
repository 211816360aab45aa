"""Fused chains (picoml.plan.fusion.chains, codegen/emit_fused.py ``_emit_chain``): two window
layers in a row (conv_a → conv_b, no ADD) run row by row over a line buffer, conv_b writing its
whole output, where that lowers the arena (a MobileNet's pointwise → stride-2 depthwise).

Small chains (pointwise → depthwise stride 1 and 2, depthwise → pointwise, 3x3 → 3x3 VALID and
SAME, stride-2 first convolutions, 5x5 windows, a chain output that is a graph output) are
generated fused and checked bit-exact against the reference interpreter on the host
(ASan/UBSan) and on emulated Cortex-M4 and Cortex-M0+ (RISC-V 32 under ``-m slow``); the
plans are checked for illegal overlaps and the fused arena is smaller than the plain one. A
chain whose GEMM rows would break the kernel's 4-pixel blocks is listed by the planner but not
chosen by the generator."""

from __future__ import annotations

import pytest
from test_fused_blocks import _Builder, assert_valid, run

from picoml.codegen import emit_fused
from picoml.codegen.emit_fused import GEMM_ROWS, fused_blocks
from picoml.codegen.generate import compile_c
from picoml.flows.verify import verify
from picoml.plan import chains, choose_fusions, plan_memory, residual_blocks
from picoml.plan.fusion import walk, with_strip

from mobilenet_int8 import mobilenet_v1_int8


def chain(kind, h=16, w=8, c=4, mid=16, seed=0, out_is_output=False):
    """stem (1x1) → conv_a → conv_b → tail (1x1); ``kind`` names conv_a → conv_b."""
    bld = _Builder(seed)
    x0 = bld.act("x0", (1, h, w, 3), 0.05, 3)
    x = bld.conv(x0, c, 1, 1, act="RELU", name="x", scale=0.06, zp=-128)
    if kind == "pw_dw_s2":  # MobileNet: pointwise widening, then a stride-2 depthwise
        y1 = bld.conv(x, mid, 1, 1, act="RELU6", name="y1", zp=-128)
        y2 = bld.dw(y1, 3, 3, stride=2, name="y2")
    elif kind == "pw_dw_s1":
        y1 = bld.conv(x, mid, 1, 1, act="RELU6", name="y1", zp=-128)
        y2 = bld.dw(y1, 3, 3, name="y2")
    elif kind == "pw_dw5_s2_valid":
        y1 = bld.conv(x, mid, 1, 1, name="y1", zp=-5)
        y2 = bld.dw(y1, 5, 5, stride=2, padding="VALID", name="y2")
    elif kind == "conv_s2_dw":  # VWW's first layers: a stride-2 3x3 convolution, then a depthwise
        y1 = bld.conv(x, mid, 3, 3, stride=2, act="RELU", name="y1", zp=-128)
        y2 = bld.dw(y1, 3, 3, name="y2")
    elif kind == "conv_conv_valid":
        y1 = bld.conv(x, mid, 3, 3, padding="VALID", act="RELU", name="y1", zp=-128)
        y2 = bld.conv(y1, c, 3, 3, padding="VALID", name="y2")
    elif kind == "conv_conv_s2":
        y1 = bld.conv(x, mid, 3, 3, act="RELU", name="y1", zp=-128)
        y2 = bld.conv(y1, c, 3, 3, stride=2, name="y2")
    else:
        raise ValueError(kind)
    tail = bld.conv(y2, 4, 1, 1, name="tail")
    return bld.graph([x0], [tail, y2] if out_is_output else [tail])


CASES = {
    "pw_dw_s2": dict(),
    "pw_dw_s2_odd_height": dict(h=15, w=12, c=5, mid=12),
    "pw_dw_s1": dict(h=12, w=8, c=3, mid=24),
    "pw_dw5_s2_valid": dict(h=17, w=12, c=4, mid=20),
    "conv_s2_dw": dict(h=18, w=16, c=3, mid=8),
    "conv_conv_valid": dict(h=13, w=12, c=4, mid=24),
    "conv_conv_s2": dict(h=14, w=8, c=2, mid=24),
    "chain_output_is_graph_output": dict(out_is_output=True),
}
KIND = {"pw_dw_s2_odd_height": "pw_dw_s2", "chain_output_is_graph_output": "pw_dw_s2"}
QUICK = {"pw_dw_s2", "conv_s2_dw", "conv_conv_valid"}


def make(name):
    return chain(KIND.get(name, name), **CASES[name])


@pytest.mark.parametrize("name", sorted(CASES))
def test_chain_is_chosen_and_its_plan_valid_and_smaller(name):
    g = make(name)
    assert residual_blocks(g) == []
    assert (1, 2) in [f.ops for f in chains(g)]
    plan = compile_c(g, isa="armv7em").plan
    assert plan.fused and all(not f.residual for f in plan.fused), name  # chains only (no ADD here)
    assert_valid(plan)
    assert plan.arena_bytes < plan_memory(g).arena_bytes
    taken = [i for f in plan.fused for i in f.ops]
    assert len(taken) == len(set(taken))  # chosen chains share no op
    by = {t.name: b for b in plan.buffers for t in b.tensors}
    for f in plan.fused:
        y1, y2 = g.ops[f.a].outputs[0], g.ops[f.a + 1].outputs[0]
        assert by[y1.name].size == f.line_bytes < y1.nbytes  # y1 never exists whole
        assert by[y2.name].size == y2.nbytes  # conv_b writes its whole output
        s = f.summary()
        assert s["kind"] == "chain" and s["row_buffer_bytes"] == 0 and s["strip_rows"] == f.strip
        assert s["kernel_calls"] <= f.wa.out_h + f.wb.out_h
    # each chain walks as many rows a step as the arena allows for free (the planner alone)
    chosen = choose_fusions(g)
    arena = plan_memory(g, fused=chosen).arena_bytes
    for f in chosen:
        taller = with_strip(f, f.strip + 1) if f.strip < f.wb.out_h else None
        if taller is not None:
            trial = tuple(taller if o is f else o for o in chosen)
            assert plan_memory(g, fused=trial).arena_bytes > arena


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in QUICK else pytest.mark.slow) for n in CASES])
def test_chain_host(name):
    g = make(name)
    rep = run(g, "host")
    assert rep.fused and rep.fused[0]["kind"] == "chain"


@pytest.mark.parametrize(
    "name,target",
    [
        pytest.param(n, t, marks=() if n in QUICK else pytest.mark.slow)
        for t in ("cortex-m4", "cortex-m0plus")
        for n in sorted(CASES)
    ],
)
def test_chain_mcu(name, target):
    g = make(name)
    rep = run(g, target)
    assert rep.fused and rep.fused[0]["kind"] == "chain"
    plain = verify_plain(g, target)
    assert rep.arena_bytes < plain.arena_bytes


def verify_plain(g, target):
    return verify(g, target, n_inputs=1, counted_runs=1, fuse=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_chain_riscv32(name):
    run(make(name), "riscv32")


def test_chain_with_gemm_rows_that_break_the_blocks_is_not_chosen():
    """Run row by row, a pointwise layer on 5-pixel rows makes a leftover pixel alone per row
    (KWS: +25 % cycles for 12 % of the arena): listed by the planner, refused by the generator."""
    g = chain("pw_dw_s2", h=16, w=5 * 2, c=4, mid=16)  # pointwise rows of 10 pixels
    assert 10 % GEMM_ROWS
    assert (1, 2) in [f.ops for f in chains(g)]
    assert fused_blocks(g) == ()
    assert compile_c(g).plan.fused == ()


def test_no_fuse_runs_the_chain_whole():
    g = make("pw_dw_s2")
    plain = compile_c(g, fuse=False)
    assert plain.plan.fused == () and "fused row by row" not in plain.files["model.c"]
    fused = compile_c(g).files["model.c"]
    assert "a chain" in fused and "memmove(pm_lines" in fused


def test_a_line_buffer_read_twice_or_an_output_is_no_chain():
    """y1 must be read by conv_b alone and not be a graph output."""
    g = make("pw_dw_s2")
    y1 = g.ops[1].outputs[0]
    g.outputs.append(y1)
    assert (1, 2) not in [f.ops for f in chains(g)]


def test_vww_shaped_mobilenet_fuses_its_peak():
    """The MobileNetV1 0.25 96x96 model's peak is pointwise 1's 36 KB output: the chain with the
    stride-2 depthwise after it runs row by row and the arena drops below 30 KB."""
    g = mobilenet_v1_int8()
    plan = compile_c(g, isa="armv7em").plan
    assert plan.arena_bytes < 30_000 < plan_memory(g).arena_bytes
    assert any(not f.residual and g.ops[f.a].outputs[0].nbytes == 48 * 48 * 16 for f in plan.fused)


@pytest.mark.parametrize("name", sorted(CASES))
def test_walk_computes_every_row_once_and_reads_only_rows_it_holds(name):
    """For every strip height: each y1 row is computed exactly once (no MAC repeated), the
    rows each conv_b step reads are in the line buffer, and every output row is made once."""
    g = make(name)
    f = next(c for c in chains(g) if c.ops == (1, 2))
    for strip in range(1, f.wb.out_h + 1):
        steps = walk(f.wa, f.wb, None, strip)
        buf: list[int] = []  # y1 rows in the line buffer, in order
        made, out = [], []
        for st in steps:
            if st.drop:
                assert st.keep == len(buf) - st.drop > 0
                buf = buf[st.drop :]
            elif st.b_row and buf and buf[0] < f.wb.rows(st.b_row)[0]:
                buf = []  # every held row is above this step's window: the buffer restarts
            assert st.a_slot == len(buf)
            rows = list(range(st.a_row, st.a_row + st.a_rows))
            buf += rows
            made += rows
            lo, hi = f.wb.rows(st.b_row)[0], f.wb.rows(st.b_row + st.b_rows - 1)[1]
            assert buf[: hi - lo] == list(range(lo, hi))  # conv_b's band starts the buffer
            out += range(st.b_row, st.b_row + st.b_rows)
        assert sorted(made) == sorted(set(made)) and out == list(range(f.wb.out_h))
        lines = with_strip(f, strip).lines
        assert lines == max(st.a_slot + st.a_rows for st in steps)


@pytest.mark.parametrize("name", ["pw_dw_s2", "conv_conv_valid", "pw_dw5_s2_valid", "conv_s2_dw"])
def test_chain_every_strip_height_host(name, monkeypatch):
    """The C of a chain walked 1, 2, 3 ... rows a step (forced), bit-exact on the host with
    ASan/UBSan: the per-step band records (top padding, input and output rows) are right."""
    g = make(name)
    f = next(c for c in chains(g) if c.ops == (1, 2))
    for strip in sorted({1, 2, 3, f.wb.out_h // 2, f.wb.out_h} - {0}):
        forced = (with_strip(f, strip),)
        monkeypatch.setattr(emit_fused, "choose_fusions", lambda g, scratch=None, allowed=None, fs=forced: fs)
        rep = run(g, "host", n=3)
        assert rep.fused and rep.fused[0]["strip_rows"] == strip
