"""Memory planner: plans are valid (no two live buffers overlap), reach the op-at-a-time lower
bound on chains, residual graphs and the shipped models, and alias RESHAPE/in-place ops."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Graph, Op
from picoml.graph.ops import default_attrs
from picoml.plan import plan_memory
from picoml.plan.planner import stream_lag

from oracles import MODEL_NAMES, model_path, qtensor


def assert_valid(plan):
    """No two buffers live at the same op share bytes, except a streamed window op's output and
    its dying input, and then the output starts at least the lag below the input."""
    bufs = plan.buffers
    lags = {(id(x), id(y)): lag for x, y, lag in plan.streams}
    for i, a in enumerate(bufs):
        assert a.offset >= 0 and a.offset % 16 == 0
        assert a.offset + a.size <= plan.arena_bytes
        for b in bufs[i + 1 :]:
            if a.overlaps(b) and not (a.offset + a.size <= b.offset or b.offset + b.size <= a.offset):
                lag = lags.get((id(a), id(b)), lags.get((id(b), id(a))))
                assert lag is not None, (a.name, b.name)
                x, y = (a, b) if (id(a), id(b)) in lags else (b, a)
                assert y.offset <= x.offset - lag, (x.name, y.name, lag)


def _act(name, n):
    return qtensor(name, (1, n), 0.1, 0)


def _relu(x, y):
    return Op("RELU", [x], [y], default_attrs("RELU"))


def _add(a, b, y):
    return Op("ADD", [a, b], [y], default_attrs("ADD"))


def _fc(x, y, rng):
    w = qtensor(
        f"{y.name}_w",
        (y.shape[1], x.shape[1]),
        0.01,
        0,
        data=rng.integers(-127, 128, (y.shape[1], x.shape[1]), dtype=np.int8),
    )
    return Op("FULLY_CONNECTED", [x, w], [y], default_attrs("FULLY_CONNECTED")), w


@st.composite
def random_graph(draw):
    """A random DAG of FC layers (size-changing), ReLUs and residual ADDs."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x = _act("in", 16 * draw(st.integers(1, 8)))
    tensors, ops, avail = [x], [], [x]
    for i in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["fc", "relu", "add"]))
        src = avail[draw(st.integers(0, len(avail) - 1))]
        if kind == "add":
            same = [t for t in avail if t.shape == src.shape]
            other = same[draw(st.integers(0, len(same) - 1))]
            y = _act(f"t{i}", src.shape[1])
            ops.append(_add(src, other, y))
        elif kind == "relu":
            y = _act(f"t{i}", src.shape[1])
            ops.append(_relu(src, y))
        else:
            y = _act(f"t{i}", 16 * draw(st.integers(1, 8)))
            op, w = _fc(src, y, rng)
            ops.append(op)
            tensors.append(w)
        tensors.append(y)
        avail.append(y)
    g = Graph(tensors, ops, [x], [avail[-1]])
    g.validate()
    return g


@settings(max_examples=200, deadline=None)
@given(g=random_graph(), inplace=st.booleans())
def test_random_graphs_plan_is_valid(g, inplace):
    plan = plan_memory(g, inplace=inplace)
    assert_valid(plan)
    assert plan.arena_bytes >= plan.lower_bound  # no placement beats the bound
    HITS.append(plan.optimal)


HITS: list[bool] = []


def test_greedy_reaches_bound_on_most_random_graphs():
    HITS.clear()
    test_random_graphs_plan_is_valid()
    assert len(HITS) >= 100 and sum(HITS) / len(HITS) >= 0.99, f"{sum(HITS)} of {len(HITS)}"


def test_chain_reaches_bound():
    rng = np.random.default_rng(0)
    sizes = [64, 256, 128, 512, 32, 256, 16]
    ts = [_act(f"t{i}", s) for i, s in enumerate(sizes)]
    ops, ws = [], []
    for a, b in zip(ts, ts[1:], strict=False):
        op, w = _fc(a, b, rng)
        ops.append(op)
        ws.append(w)
    g = Graph(ts + ws, ops, [ts[0]], [ts[-1]])
    plan = plan_memory(g)
    assert_valid(plan)
    assert plan.lower_bound == max(a + b for a, b in zip(sizes, sizes[1:], strict=False))
    assert plan.arena_bytes == plan.lower_bound


def test_residual_block_reaches_bound_and_add_runs_in_place():
    rng = np.random.default_rng(1)
    x, h1, h2, s = _act("x", 256), _act("h1", 256), _act("h2", 256), _act("sum", 256)
    op1, w1 = _fc(x, h1, rng)
    op2, w2 = _fc(h1, h2, rng)
    g = Graph([x, h1, h2, s, w1, w2], [op1, op2, _add(h2, x, s)], [x], [s])
    plan = plan_memory(g)
    assert_valid(plan)
    # x stays alive across both FCs: 3 × 256 at op 1; the ADD writes over h2
    assert plan.lower_bound == 768 and plan.arena_bytes == 768
    assert plan.offset_of(s) == plan.offset_of(h2)


@pytest.mark.models
def test_reshape_aliases_input():
    g = picoml.load(model_path("kws", "int8"))
    plan = plan_memory(g)
    reshape = next(op for op in g.ops if op.type == "RESHAPE")
    assert plan.offset_of(reshape.outputs[0]) == plan.offset_of(reshape.inputs[0])


@pytest.mark.models
def test_scratch_is_planned():
    g = picoml.load(model_path("ad", "int8"))
    plan = plan_memory(g, scratch={3: 100})
    assert_valid(plan)
    assert plan.scratch_bytes == 100
    assert any(b.scratch_of for b in plan.buffers)


EXPECTED_BOUNDS = {"kws": 16000, "resnet8": 49152, "ad": 768}
# with streaming overlap (window ops write over their dying input): KWS's 9 conv layers stack
# up as a staircase of lags (depthwise 448 B each: one pixel at a time; pointwise 256 B: GEMM
# blocks of 4 pixels), ResNet-8's convolutions need their input plus ~1 row
EXPECTED_STREAMED = {"kws": 10880, "resnet8": 33360, "ad": 768}


@pytest.mark.models
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shipped_models_plan_equals_bound(name):
    g = picoml.load(model_path(name, "int8"))
    plan = plan_memory(g, stream=False)
    assert_valid(plan)
    assert plan.lower_bound == EXPECTED_BOUNDS[name]
    assert plan.arena_bytes == plan.lower_bound
    streamed = plan_memory(g)
    assert_valid(streamed)
    assert streamed.lower_bound == EXPECTED_BOUNDS[name]
    assert streamed.arena_bytes == EXPECTED_STREAMED[name]


def test_stream_lag_hand_computed():
    """3x3 SAME conv, 32x32x16 -> 32x32x16: a block of 4 output pixels at (oy, ox) ends at
    (32*oy + ox + 4) * 16 bytes, its first read is ((oy - 1) * 32 + ox - 1) * 16: lag (32 + 5) * 16."""
    x = qtensor("x", (1, 32, 32, 16), 0.1, 0)
    w = qtensor("w", (16, 3, 3, 16), 0.01, 0, data=np.ones((16, 3, 3, 16), np.int8))
    b = qtensor("b", (16,), 0.001, 0, "int32", data=np.zeros(16, np.int32))
    y = qtensor("y", (1, 32, 32, 16), 0.1, 0)
    attrs = {**default_attrs("CONV_2D"), "stride_h": 1, "stride_w": 1, "padding": "SAME"}
    assert stream_lag(Op("CONV_2D", [x, w, b], [y], attrs)) == 37 * 16
    # the same window as a depthwise layer: its kernels write one pixel at a time (OpDef.streams
    # = 1), so a pixel's writes end at (32*oy + ox + 1) * 16: lag (32 + 2) * 16
    wd = qtensor("wd", (1, 3, 3, 16), 0.01, 0, data=np.ones((1, 3, 3, 16), np.int8))
    dattrs = {**default_attrs("DEPTHWISE_CONV_2D"), "stride_h": 1, "stride_w": 1, "padding": "SAME"}
    assert stream_lag(Op("DEPTHWISE_CONV_2D", [x, wd, b], [y], dattrs)) == 34 * 16
    # FULLY_CONNECTED reads all of its input for every output: never streamed
    fc, _ = _fc(_act("a", 8), _act("b", 4), np.random.default_rng(0))
    assert stream_lag(fc) is None


@pytest.mark.models
def test_codegen_scratch_plan_is_valid_and_keeps_the_arena():
    """The Armv7E-M code generator's arena scratch for wide 4x2 layers (generate._w16_scratch):
    a valid plan, each scratch buffer at its op's offset, the arena as without scratch."""
    from picoml.codegen import compile_c
    from picoml.codegen.generate import _w16_scratch

    g = picoml.load(model_path("resnet8", "int8"))
    base = plan_memory(g)
    scratch = _w16_scratch(g, "armv7em", {}, base.arena_bytes)  # {}: every layer dense
    assert scratch and all(size == 8 * int(np.prod(g.ops[i].inputs[1].shape[1:])) for i, size in scratch.items())
    plan = plan_memory(g, scratch)
    assert_valid(plan)
    assert plan.arena_bytes == base.arena_bytes
    for i in scratch:
        assert plan.scratch_offset(i) % 16 == 0
    assert _w16_scratch(g, "armv6m", {}, base.arena_bytes) == {}
    compiled = compile_c(g, isa="armv7em").plan  # the plan the generator wrote: these layers' scratch and more
    assert compiled.fused  # ResNet-8's residual blocks run row by row (plan/fusion.py) ...
    fused_plan = plan_memory(g, scratch, fused=compiled.fused)
    assert_valid(compiled)
    assert fused_plan.arena_bytes < plan.arena_bytes  # ... because that lowers the arena
    assert all(compiled.scratch_offset(i) % 16 == 0 for i in scratch)  # the fused arena keeps them all
    with pytest.raises(KeyError):
        base.scratch_offset(next(iter(scratch)))
