"""Fused residual blocks (picoml.plan.fusion, codegen/emit_fused.py): CONV_2D → CONV_2D
[→ CONV_2D shortcut] → ADD run row by row over a line buffer.

Small residual graphs (odd sizes, stride 1 and 2, SAME and VALID, non-square and dilated
windows, identity / convolution / separate-activation shortcuts, a block input that is also a
graph output, fused activations) are generated fused and checked bit-exact with the reference
interpreter on the host (ASan/UBSan) and on emulated Cortex-M4 and Cortex-M0+ (RISC-V 32 under
``-m slow``); the plans are checked for illegal overlaps, and the fused arena is smaller than the
plain one."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import emit_fused
from picoml.codegen.emit_fused import add_tables
from picoml.codegen.generate import compile_c
from picoml.fixedpoint import rounding_divide_by_pot, saturating_rounding_doubling_high_mul
from picoml.flows.verify import verify
from picoml.graph import Graph, Op
from picoml.graph.ops import default_attrs
from picoml.plan import plan_memory, residual_blocks
from picoml.plan.fusion import Window, schedule
from picoml.reference import KERNELS

from oracles import qtensor


def _out_hw(n, k, stride, padding, dilation=1):
    return (n + stride - 1) // stride if padding == "SAME" else (n - (k - 1) * dilation - 1) // stride + 1


class _Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors, self.ops = [], []

    def act(self, name, shape, scale, zp):
        t = qtensor(name, shape, scale, zp)
        self.tensors.append(t)
        return t

    def conv(
        self, x, oc, kh, kw, stride=1, padding="SAME", dilation=1, act="NONE", name="y", scale=0.07, zp=-3, density=1.0
    ):
        ic = x.shape[3]
        ws = self.rng.uniform(0.004, 0.03, oc).astype(np.float32)
        data = self.rng.integers(-127, 128, (oc, kh, kw, ic), dtype=np.int8)
        data[self.rng.random(data.shape) >= density] = 0  # sparse filters: a sparse encoding
        w = qtensor(
            f"{name}_w",
            (oc, kh, kw, ic),
            ws,
            np.zeros(oc),
            data=data,
        )
        bias = self.rng.integers(-2000, 2000, oc).astype(np.int32)
        b = qtensor(f"{name}_b", (oc,), (x.scale[0] * ws).astype(np.float32), np.zeros(oc), "int32", data=bias)
        h = _out_hw(x.shape[1], kh, stride, padding, dilation)
        wd = _out_hw(x.shape[2], kw, stride, padding, dilation)
        y = self.act(name, (1, h, wd, oc), scale, zp)
        a = default_attrs("CONV_2D")
        a.update(stride_h=stride, stride_w=stride, padding=padding, dilation_h=dilation, dilation_w=dilation)
        a["fused_activation"] = act
        self.tensors += [w, b]
        self.ops.append(Op("CONV_2D", [x, w, b], [y], a, name=name))
        return y

    def dw(self, x, kh, kw, stride=1, padding="SAME", act="RELU6", name="d", mult=1):
        c = x.shape[3] * mult
        ws = self.rng.uniform(0.004, 0.03, c).astype(np.float32)
        data = self.rng.integers(-127, 128, (1, kh, kw, c), dtype=np.int8)
        w = qtensor(f"{name}_w", (1, kh, kw, c), ws, np.zeros(c), data=data, axis=3)
        bias = self.rng.integers(-2000, 2000, c).astype(np.int32)
        b = qtensor(f"{name}_b", (c,), (x.scale[0] * ws).astype(np.float32), np.zeros(c), "int32", data=bias)
        y = self.act(
            name, (1, _out_hw(x.shape[1], kh, stride, padding), _out_hw(x.shape[2], kw, stride, padding), c), 0.05, -10
        )
        a = default_attrs("DEPTHWISE_CONV_2D")
        a.update(stride_h=stride, stride_w=stride, padding=padding, depth_multiplier=mult, fused_activation=act)
        self.tensors += [w, b]
        self.ops.append(Op("DEPTHWISE_CONV_2D", [x, w, b], [y], a, name=name))
        return y

    def add(self, a, b, act="NONE", name="out"):
        y = self.act(name, a.shape, 0.09, 4)
        attrs = default_attrs("ADD")
        attrs["fused_activation"] = act
        self.ops.append(Op("ADD", [a, b], [y], attrs, name=name))
        return y

    def graph(self, inputs, outputs):
        g = Graph(self.tensors, self.ops, inputs, outputs, name="fused")
        g.validate()
        return g


def block(
    h=9,
    w=7,
    c=5,
    mid=6,
    k=(3, 3),
    kb=(3, 3),
    stride=1,
    pad_a="SAME",
    pad_b="SAME",
    dilation=1,
    shortcut="x",
    x_out=False,
    act="RELU",
    swap=False,
    seed=0,
    density=1.0,
    y2_scale=0.07,
):
    """stem → [conv_a → conv_b (→ conv_s) → ADD] (→ a tail conv): ``shortcut`` "x" (identity),
    "conv" (a strided conv of x with conv_a's geometry, after conv_b), "conv_first" (the same
    before conv_a), "other" (a separate activation made before the block); ``x_out``: the block input is a graph output too; ``swap``: ADD(r, y2)."""
    bld = _Builder(seed)
    x0 = bld.act("x0", (1, h, w, 3), 0.05, 3)
    x = bld.conv(x0, c, 1, 1, act="RELU", name="x", scale=0.06, zp=-128)
    r = None
    if shortcut == "other":
        r = bld.conv(x0, c, 1, 1, name="r", scale=0.05, zp=2)  # of the model input: not a shortcut conv of x
    elif shortcut == "conv_first":  # the shortcut convolution runs before conv_a
        r = bld.conv(x, mid, *k, stride=stride, padding=pad_a, dilation=dilation, name="s", scale=0.04, zp=1)
    if shortcut == "dw":  # a depthwise + pointwise residual block
        y1 = bld.dw(x, *k, stride=stride, mult=mid // c)
        y2 = bld.conv(y1, c, 1, 1, name="y2", scale=y2_scale)
        out = bld.add(x, y2, act) if swap else bld.add(y2, x, act)
        return bld.graph([x0], [bld.conv(out, 4, 1, 1, name="tail")])
    y1 = bld.conv(
        x, mid, *k, stride=stride, padding=pad_a, dilation=dilation, act="RELU", name="y1", zp=-128, density=density
    )
    y2 = bld.conv(
        y1, mid if shortcut.startswith("conv") else c, *kb, padding=pad_b, name="y2", density=density, scale=y2_scale
    )
    if shortcut == "conv":
        r = bld.conv(x, mid, *k, stride=stride, padding=pad_a, dilation=dilation, name="s", scale=0.04, zp=1)
    elif shortcut == "x":
        r = x
    out = bld.add(r, y2, act) if swap else bld.add(y2, r, act)
    tail = bld.conv(out, 4, 1, 1, name="tail")
    return bld.graph([x0], [tail, x] if x_out else [tail])


CASES = {
    "identity_3x3": dict(),
    "identity_5x3_relu6": dict(h=11, w=5, k=(5, 3), kb=(3, 5), act="RELU6", swap=True),
    "identity_dilated": dict(h=10, w=9, c=4, dilation=2, act="NONE"),
    "identity_1x1_then_3x3": dict(k=(1, 1), kb=(3, 3), c=3, mid=8),
    "input_is_output": dict(h=11, mid=16, x_out=True),
    "conv_shortcut_stride2_same": dict(h=13, w=9, c=4, mid=7, stride=2, shortcut="conv"),
    "conv_shortcut_stride2_valid": dict(h=12, w=11, c=6, mid=5, stride=2, pad_a="VALID", shortcut="conv"),
    "conv_shortcut_stride1": dict(h=9, w=9, c=3, mid=4, shortcut="conv", act="NONE"),
    "conv_shortcut_first": dict(h=10, w=6, c=5, mid=8, stride=2, shortcut="conv_first", swap=True),
    "other_shortcut": dict(shortcut="other", swap=True),
    "depthwise_pointwise": dict(h=12, w=7, c=8, mid=8, shortcut="dw"),
    "depthwise_mult2_5x5": dict(h=11, w=9, c=4, mid=8, k=(5, 5), shortcut="dw", act="NONE", swap=True),
    "sparse_filters": dict(h=8, w=9, c=8, mid=12, density=0.2),  # pm_conv2d_sparse_s8 on bands
    "exact_requant": dict(h=7, w=6, y2_scale=1e-6),  # conv_b's _exact twin (|acc << shift| >= 2^29)
    "generic_window": dict(h=6, w=5, c=96, mid=8, k=(5, 5)),  # k = 2,400: the direct loop nest
}
# what each of those exercises, in the generated C (armv7em and armv6m)
KERNEL_IN_LOOP = {"sparse_filters": "pm_conv2d_sparse_s8(", "exact_requant": "_exact(", "generic_window": "_generic("}
QUICK = {"identity_3x3", "conv_shortcut_stride2_same", "input_is_output", "depthwise_pointwise"}


def run(g, target, isa=None, n=5):
    xs = np.random.default_rng(1).integers(-128, 128, (n,) + g.inputs[0].shape, dtype=np.int8)
    xs[0], xs[1] = -128, 127
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1, isa=isa)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def assert_valid(plan):
    """No two buffers live at one op share bytes, except a stream pair (the output at least the
    lag below the input), and a fused block's intermediates hold their line buffer and rows."""
    lags = {(id(x), id(y)): lag for x, y, lag in plan.streams}
    bufs = plan.buffers
    for i, a in enumerate(bufs):
        assert a.offset >= 0 and a.offset % 16 == 0 and a.offset + a.size <= plan.arena_bytes
        for b in bufs[i + 1 :]:
            if a.overlaps(b) and not (a.offset + a.size <= b.offset or b.offset + b.size <= a.offset):
                key = (id(a), id(b)) if (id(a), id(b)) in lags else (id(b), id(a))
                assert key in lags, (a.name, b.name)
                x, y = (a, b) if key == (id(a), id(b)) else (b, a)
                assert y.offset <= x.offset - lags[key], (x.name, y.name)


def _fused_ops(g):
    return [list(f.ops) for f in compile_c(g, isa="armv7em").plan.fused]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_plan_is_valid_and_smaller(name):
    g = block(**CASES[name])
    first = 2 if name == "other_shortcut" else 1  # after the stem (and the separate shortcut's op)
    assert [f.ops for f in residual_blocks(g)] == [tuple(range(first, len(g.ops) - 1))]
    fused = compile_c(g).plan
    assert fused.fused, name  # the generator chose it: it lowers the arena
    assert_valid(fused)
    assert fused.arena_bytes < plan_memory(g).arena_bytes
    f = fused.fused[0]
    x, out = g.ops[f.a].inputs[0], g.ops[f.add].outputs[0]
    xb = next(b for b in fused.buffers if any(t is x for t in b.tensors))
    if f.shortcut_is_x and f.inplace_safe and not CASES[name].get("x_out"):
        assert fused.offset_of(out) == fused.offset_of(x)  # the sum overwrites x row by row
    if f.ws is not None:  # the output overwrites x's rows as they die (a stream pair)
        assert any(a is xb for a, _, _ in fused.streams)


@pytest.mark.parametrize("name", sorted(KERNEL_IN_LOOP))
def test_fused_loop_calls_every_kernel_family(name):
    g = block(**CASES[name])
    for isa in ("armv7em", "armv6m"):
        src = compile_c(g, isa=isa).files["model.c"]
        loop = src[src.index("fused row by row") :]
        assert KERNEL_IN_LOOP[name] in loop[: loop.index("PM_LAYER_DONE")], (name, isa)


def test_conv_shortcut_output_overlaps_its_input():
    g = block(**CASES["conv_shortcut_stride2_same"])
    plan = compile_c(g).plan
    f = plan.fused[0]
    x, out = g.ops[f.a].inputs[0], g.ops[f.add].outputs[0]
    xo, oo = plan.offset_of(x), plan.offset_of(out)
    assert oo < xo + x.nbytes and xo < oo + out.nbytes  # really overlapping: the C test exercises the lag


def test_schedule_line_buffer_and_in_place_rule():
    same = Window(in_h=8, out_h=8, stride=1, pad=1, extent=3)
    lines, moved, safe, lag = schedule(same, same, None, 16, 16)
    assert (lines, moved, safe, lag) == (3, 12, True, 0)  # rows 2..7 each move two rows down
    # a 5-row conv_a before a 3-row conv_b: its next row still reads x's row r after row r's sum
    big = Window(in_h=8, out_h=8, stride=1, pad=2, extent=5)
    assert schedule(big, same, None, 16, 16)[2] is False
    assert schedule(same, big, None, 16, 16)[:3] == (5, 4 + 4 + 4 + 4 + 3, True)  # 5 rows kept, rows 3..7 move
    # a window that reads no row at all cannot be computed from a band
    assert schedule(same, Window(in_h=8, out_h=8, stride=1, pad=9, extent=3), None, 16, 16) is None


def test_add_tables_are_the_reference_rescale():
    g = block()
    add = g.ops[-2]
    p = KERNELS[add.type].prepare(add)
    t = add_tables(add).astype(np.int64)
    assert t.shape == (512,)
    codes = np.arange(-128, 128)
    # the table sum requantized equals the reference ADD on every code pair
    a, b = np.repeat(codes, 256), np.tile(codes, 256)
    s = t[a + 128] + t[b + 384]
    got = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(s, p.output_multiplier), -p.output_shift)
    got = np.clip(got + p.output_zp, p.act_min, p.act_max)
    want = KERNELS[add.type].evaluate(p, [a.astype(np.int8)[None], b.astype(np.int8)[None]])[0]
    np.testing.assert_array_equal(got, want.astype(np.int64))


def _cases(targets):
    return [pytest.param(n, t, marks=() if n in QUICK else pytest.mark.slow) for t in targets for n in sorted(CASES)]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in QUICK else pytest.mark.slow) for n in sorted(CASES)])
def test_fused_block_host(name):
    g = block(**CASES[name])
    assert _fused_ops(g)
    run(g, "host")


@pytest.mark.parametrize("name,target", _cases(["cortex-m4", "cortex-m0plus"]))
def test_fused_block_mcu(name, target):
    g = block(**CASES[name])
    rep = run(g, target)
    assert rep.fused, "the block ran fused"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_block_riscv32(name):
    run(block(**CASES[name]), "riscv32")


def test_no_fuse_keeps_every_layer_whole():
    g = block()
    plain = compile_c(g, fuse=False)
    assert plain.plan.fused == () and plain.plan.arena_bytes == plan_memory(g).arena_bytes
    assert "fused row by row" not in plain.files["model.c"] and "pm_add_s8_tables(" not in plain.files["model.c"]
    assert "fused row by row" in compile_c(g).files["model.c"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["identity_3x3", "conv_shortcut_stride2_same"])
def test_fused_block_avr(name):
    """AVR: the ADD tables are read from program memory (PM_CONST, PM_LD_I32)."""
    g = block(**CASES[name])
    xs = np.random.default_rng(1).integers(-128, 128, (3,) + g.inputs[0].shape, dtype=np.int8)
    rep = verify(g, "atmega2560", xs=xs)
    assert rep.bit_exact and rep.fused, rep.first_mismatch


def test_a_changed_layer_call_is_refused_not_looped_whole():
    """emit_fused rewrites the layers' own calls; if an emitter stopped naming its records the
    way emit_fused expects, the generator must stop, not call a whole-tensor kernel per row."""
    with pytest.raises(RuntimeError, match="emitter changed"):
        emit_fused._swap(["status |= pm_conv2d_s8_im2col(&model_l1_layer);"], {"&model_l1_params,": "pm_pa,"})
