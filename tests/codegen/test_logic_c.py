"""Generated C for the comparisons, logical ops, SELECT_V2, CAST, ZEROS_LIKE, FILL and BROADCAST_TO on
int8, int32 and bool: bit-exact with the reference interpreter (itself exact with tflite-micro,
tests/kernels/test_compare.py, test_cast.py) on the host under ASan/UBSan and on emulated
Cortex-M0+, Cortex-M4 and RISC-V 32; warning-free (-Werror, zig clang), no soft-float or division
helper; bool inputs and outputs are uint8_t in the C API."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.codegen import generate as gen
from picoml.codegen.emit_logic import LOGIC_FILES, rank_tables
from picoml.flows.verify import random_inputs, verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType, default_attrs
from picoml.plan import plan_memory
from picoml.reference.compare import COMPARE

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers
from oracles import qtensor, single_op_graph

RUNTIME_FILES = sorted({f"{s}.{e}" for stems in LOGIC_FILES.values() for s in stems for e in "hc"})


def check(g, xs=None, target="host", n=10, what=""):
    rep = verify(g, target, xs=xs, n_inputs=n, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{what} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def _op(g_tensors, ops, op_type, ins, out, **attrs):
    g_tensors.append(out)
    ops.append(Op(op_type, ins, [out], {**default_attrs(op_type), **attrs}, name=out.name))
    return out


def _comparisons_graph(qa, qb, shape_b=(65536,)):
    """All six comparisons of the same two int8 inputs, one output each."""
    a, b = qtensor("a", (65536,), *qa), qtensor("b", shape_b, *qb)
    ts, ops = [a, b], []
    outs = [_op(ts, ops, op, [a, b], Tensor(f"y_{op.lower()}", (65536,), "bool")) for op in COMPARE]
    g = Graph(ts, ops, [a, b], outs, name="cmp")
    g.validate()
    return g


@pytest.mark.parametrize("qa, qb", [((0.05, 3), (0.07, -2)), ((0.001, 0), (0.001, 0)), ((0.5, -128), (0.0039, 127))])
def test_int8_comparisons_every_code_pair_host(qa, qb):
    codes = np.arange(-128, 128, dtype=np.int8)
    xs = [np.repeat(codes, 256)[None], np.tile(codes, 256)[None]]
    check(_comparisons_graph(qa, qb), xs, n=1, what=f"comparisons {qa} {qb}")


def test_rank_tables_order_like_the_rescaled_values():
    g = _comparisons_graph((0.05, 3), (0.07, -2))
    ra, rb = rank_tables(g.ops[2])
    assert ra.dtype == np.int16 and ra.shape == rb.shape == (256,)
    assert (np.diff(ra) >= 0).all() and (np.diff(rb) >= 0).all()


def _everything_graph():
    """Every op of the family in one int8 / int32 / bool graph with broadcasting, several inputs
    (int8, int32, bool, a rank-0 int8 value) and outputs of each dtype."""
    a = qtensor("a", (2, 3, 4), 0.05, 3)
    b = qtensor("b", (4,), 0.07, -2)
    i = Tensor("i", (2, 3, 1), "int32")
    m = Tensor("m", (3, 4), "bool")
    v = qtensor("v", (), 0.05, 3)
    lim = Tensor("lim", (4,), "int32", data=np.array([-5, 0, 3, 100], np.int32))
    shape = Tensor("shape", (3,), "int32", data=np.array([2, 3, 4], np.int32))
    dims = Tensor("dims", (2,), "int32", data=np.array([3, 4], np.int32))
    ts, ops = [a, b, i, m, v, lim, shape, dims], []
    c1 = _op(ts, ops, OpType.GREATER, [a, b], Tensor("c1", (2, 3, 4), "bool"))
    c2 = _op(ts, ops, OpType.LESS_EQUAL, [i, lim], Tensor("c2", (2, 3, 4), "bool"))
    c3 = _op(ts, ops, OpType.LOGICAL_AND, [c1, m], Tensor("c3", (2, 3, 4), "bool"))
    c4 = _op(ts, ops, OpType.LOGICAL_OR, [c3, c2], Tensor("c4", (2, 3, 4), "bool"))
    c5 = _op(ts, ops, OpType.LOGICAL_NOT, [c4], Tensor("c5", (2, 3, 4), "bool"))
    c6 = _op(ts, ops, OpType.NOT_EQUAL, [c5, m], Tensor("c6", (2, 3, 4), "bool"))
    bt = _op(ts, ops, OpType.BROADCAST_TO, [b, shape], qtensor("bt", (2, 3, 4), 0.07, -2))
    f = _op(ts, ops, OpType.FILL, [v, dims], qtensor("f", (3, 4), 0.05, 3))
    s = _op(ts, ops, OpType.SELECT_V2, [c6, f, bt], qtensor("s", (2, 3, 4), 0.05, 3))
    z = _op(ts, ops, OpType.CAST, [c6], Tensor("z", (2, 3, 4), "int32"))
    zl = _op(ts, ops, OpType.ZEROS_LIKE, [z], Tensor("zl", (2, 3, 4), "int32"))
    e = _op(ts, ops, OpType.EQUAL, [zl, i], Tensor("e", (2, 3, 4), "bool"))
    k8 = _op(ts, ops, OpType.CAST, [i], Tensor("k8", (2, 3, 1), "int8"))
    g = Graph(ts, ops, [a, b, i, m, v], [s, z, e, k8, c6], name="logic")
    g.validate()
    return g


def _everything_inputs(g, n, seed=0):
    xs = random_inputs(g, n, seed)
    xs[2] = np.random.default_rng(seed).integers(-300, 300, (n, 2, 3, 1)).astype(np.int32)
    return xs


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4", "riscv32"])
def test_every_op_bit_exact(target):
    g = _everything_graph()
    xs = _everything_inputs(g, 12)
    assert xs[3].dtype == np.bool_ and set(np.unique(xs[3])) <= {False, True}  # verify feeds 0 / 1
    check(g, xs, target, what="logic graph")


@st.composite
def _broadcast_case(draw, max_rank=5, max_dim=3):
    """Shapes of a, b (rank <= 4 broadcast, as the comparisons) and of SELECT_V2's condition, x, y
    (rank <= 5), each keeping or collapsing output dimensions and dropping leading ones."""
    rank = draw(st.integers(1, max_rank))
    out = [draw(st.integers(1, max_dim)) for _ in range(rank)]

    def part():
        s = [d if draw(st.booleans()) else 1 for d in out]
        return tuple(s[draw(st.integers(0, rank)) :]) or (1,)

    return tuple(out), [part() for _ in range(3)], draw(st.sampled_from(list(COMPARE))), draw(st.integers(0, 2**31))


def _broadcast_graph(out, shapes, cmp):
    """cmp(a, b) → SELECT_V2(cond, x, y) with three independently broadcast operands (a, b in the
    comparisons' rank-4 limit unless their shapes are equal)."""
    a = qtensor("a", shapes[0], 0.05, 3)
    b = qtensor("b", shapes[1] if len(out) <= 4 else shapes[0], 0.03, -7)
    cs = tuple(np.broadcast_shapes(a.shape, b.shape))
    x, y = qtensor("x", shapes[2], 0.1, 0), qtensor("y", out, 0.2, 5)
    ts, ops = [a, b, x, y], []
    c = _op(ts, ops, cmp, [a, b], Tensor("c", cs, "bool"))
    s = _op(ts, ops, OpType.SELECT_V2, [c, x, y], qtensor("s", tuple(np.broadcast_shapes(cs, x.shape, out)), 0.1, 0))
    g = Graph(ts, ops, [a, b, x, y], [s], name="bc")
    g.validate()
    return g


@settings(max_examples=2, deadline=None)
@given(case=_broadcast_case())
def test_broadcast_shapes_host(case):
    out, shapes, cmp, seed = case
    g = _broadcast_graph(out, shapes, cmp)
    check(g, random_inputs(g, 6, seed), what=f"{cmp} {shapes} -> {out}")


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(case=_broadcast_case())
def test_broadcast_shapes_host_long(case):
    out, shapes, cmp, seed = case
    g = _broadcast_graph(out, shapes, cmp)
    check(g, random_inputs(g, 6, seed), what=f"{cmp} {shapes} -> {out}")


def test_c_api_types_bool_and_int32():
    files = gen.generate_c(_everything_graph())
    h = files["model.h"]
    assert "const uint8_t *input3" in h and "uint8_t *output4" in h
    assert "const int32_t *input2" in h and "int32_t *output1" in h
    assert files == gen.generate_c(_everything_graph())  # deterministic
    for fn in ("pm_compare_s8(", "pm_compare_i32(", "pm_compare_b(", "pm_logical_b(", "pm_logical_not_b(",
               "pm_select_s8(", "pm_cast(", "pm_fill(", "pm_broadcast_to("):  # fmt: skip
        assert fn in files["model.c"], fn


def test_comparison_output_overwrites_its_dying_input():
    a, b = qtensor("a", (4, 4), 0.05, 3), qtensor("b", (4, 4), 0.05, 3)
    m = qtensor("m", (4, 4), 0.05, 3)
    y = Tensor("y", (4, 4), "bool")
    ops = [
        Op(OpType.MAXIMUM, [a, b], [m], {}, name="m"),
        Op(OpType.GREATER_EQUAL, [m, b], [y], {}, name="y"),
    ]
    g = Graph([a, b, m, y], ops, [a, b], [y], name="chain")
    g.validate()
    plan = plan_memory(g)
    assert plan.offset_of(y) == plan.offset_of(m)
    check(g, what="in place")


def test_plan_sizes_bool_one_byte_int32_four_aligned():
    """The planner sizes a bool buffer at one byte a value, an int32 one at four, every buffer on a
    16-byte boundary (the int32 kernels cast the arena pointer)."""
    g = _everything_graph()
    plan = plan_memory(g)
    sizes = {t.name: b.size for b in plan.buffers for t in b.tensors}
    assert sizes["c1"] == 24 and sizes["z"] == 96 and sizes["s"] == 24
    assert all(off % 16 == 0 for off in plan.offsets.values())
    # live bytes never exceed the arena
    assert max(plan.live_bytes) <= plan.arena_bytes


def test_float_comparisons_use_the_float_kernel():
    """float32 operands go to codegen/emit_float_extra.py (verified in tests/codegen/test_float_extra_c.py)."""
    g = single_op_graph(OpType.LESS, [Tensor("a", (4,)), Tensor("b", (4,))], Tensor("y", (4,), "bool"))
    src = gen.generate_c(g)["model.c"]
    assert "pm_compare_f32(" in src and "pm_compare_s8(" not in src


def _mcu_graphs():
    g = _everything_graph()
    return {"logic": g, "cmp": _comparisons_graph((0.05, 3), (0.07, -2), (1,))}


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    """zig clang, -Werror, -O2 and -Os; on Cortex-M0+ no soft-float or division helper."""
    objs = build_objects(_mcu_graphs(), target, tmp_path)
    if target == "cortex-m0plus":
        ks = kernels(objs)
        assert any(o.stem == "pm_logic" for o in ks)
        helpers = slow_helpers(ks)
        assert helpers == [], f"kernels call soft-float or division helpers {helpers}"


def test_runtime_files_are_float_free_and_use_allowed_headers():
    assert_runtime_float_free(RUNTIME_FILES)
