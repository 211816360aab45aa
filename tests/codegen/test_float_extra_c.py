"""Float32 C of the newer ops (codegen/emit_float_extra.py, runtime/pm_extra_f32.[ch]): each op a
single-op float32 graph verified against the reference interpreter on the host under ASan/UBSan
and on cortex-m4 (hardware FPU); cortex-m0plus and riscv32 in the slow tests.

Copies (MIRROR_PAD, PADV2, REVERSE_V2, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, GATHER_ND,
EMBEDDING_LOOKUP, FILL, ZEROS_LIKE, BROADCAST_TO, SELECT_V2), the comparisons and CAST must be
exact (integer outputs always are in verify; float outputs of ``EXACT`` graphs must have
``max_abs_error == 0``). FLOOR_DIV, FLOOR_MOD (exact fmodf), CUMSUM, L2_NORMALIZATION and
L2_POOL_2D (same float32 order, correctly rounded sqrt) are exact too; ADD_N, GELU (own erff,
tanhf) and LOG_SOFTMAX (expf, logf) are held to ``verify.FLOAT_TOLERANCE``."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.flows.verify import FLOAT_TOLERANCE, verify
from picoml.graph import Graph, Tensor
from picoml.graph.ops import OpType

from oracles import single_op_graph

RNG = np.random.default_rng(11)


def f(name, shape, data=None) -> Tensor:
    return Tensor(
        name, tuple(shape), "float32", data=None if data is None else np.asarray(data, np.float32).reshape(shape)
    )


def i32(name, v) -> Tensor:
    v = np.asarray(v, np.int32)
    return Tensor(name, v.shape, "int32", data=v)


def b(name, shape) -> Tensor:
    return Tensor(name, tuple(shape), "bool")


def graphs() -> dict[str, Graph]:
    g = {}
    x = f("x", (2, 4, 3))
    for mode in (0, 1):
        pads = [[1, 1], [3, 2], [0, 2]] if mode == 0 else [[2, 0], [4, 4], [3, 1]]
        out = tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, pads, strict=True))
        g[f"mirror{mode}"] = single_op_graph(
            OpType.MIRROR_PAD, [f("x", x.shape), i32("p", pads)], f("y", out), mode=mode
        )
    g["padv2"] = single_op_graph(
        OpType.PADV2, [f("x", (2, 4, 3)), i32("p", [[0, 1], [2, 0], [1, 1]]), f("v", (1,), [-2.5])], f("y", (3, 6, 5))
    )
    for k, axes in enumerate([[0], [-1, 1], [0, 1, 2]]):
        g[f"reverse{k}"] = single_op_graph(OpType.REVERSE_V2, [f("x", (2, 4, 3)), i32("a", axes)], f("y", (2, 4, 3)))
    g["s2b4"] = single_op_graph(
        OpType.SPACE_TO_BATCH_ND,
        [f("x", (2, 3, 4, 3)), i32("b", [2, 3]), i32("p", [[1, 0], [1, 1]])],
        f("y", (12, 2, 2, 3)),
    )
    g["s2b3"] = single_op_graph(
        OpType.SPACE_TO_BATCH_ND, [f("x", (1, 5, 2)), i32("b", [3]), i32("p", [[0, 1]])], f("y", (3, 2, 2))
    )
    g["b2s4"] = single_op_graph(
        OpType.BATCH_TO_SPACE_ND,
        [f("x", (12, 2, 2, 3)), i32("b", [2, 3]), i32("c", [[1, 0], [2, 1]])],
        f("y", (2, 3, 3, 3)),
    )
    g["gnd_const"] = single_op_graph(
        OpType.GATHER_ND, [f("x", (3, 4, 2)), i32("i", [[2, 1], [0, 3], [1, 0]])], f("y", (3, 2))
    )
    table = f("table", (6, 4), RNG.standard_normal((6, 4)))
    g["emb"] = single_op_graph(OpType.EMBEDDING_LOOKUP, [table, Tensor("ids", (4,), "int32")], f("y", (4, 4)))
    g["gnd"] = single_op_graph(
        OpType.GATHER_ND, [f("x", (3, 4, 2)), Tensor("gnd_idx", (3, 2), "int32")], f("y", (3, 2))
    )
    g["fill"] = single_op_graph(OpType.FILL, [f("v", ()), i32("d", [3, 4])], f("y", (3, 4)))
    g["zeros_like"] = single_op_graph(OpType.ZEROS_LIKE, [f("x", (3, 5))], f("y", (3, 5)))
    g["bcast_to"] = single_op_graph(OpType.BROADCAST_TO, [f("x", (3, 1)), i32("s", [2, 3, 4])], f("y", (2, 3, 4)))
    g["select"] = single_op_graph(
        OpType.SELECT_V2, [b("c", (2, 1, 4)), f("x", (3, 1)), f("y0", (2, 3, 4))], f("y", (2, 3, 4))
    )
    g["select_same"] = single_op_graph(
        OpType.SELECT_V2, [b("c", (5, 3)), f("x", (5, 3)), f("y0", (5, 3))], f("y", (5, 3))
    )
    for k in (OpType.EQUAL, OpType.NOT_EQUAL, OpType.GREATER, OpType.GREATER_EQUAL, OpType.LESS, OpType.LESS_EQUAL):
        g[f"cmp_{k}"] = single_op_graph(k, [f("a", (2, 3, 4)), f("b0", (3, 1))], b("y", (2, 3, 4)))
    g["cmp_same"] = single_op_graph(OpType.LESS, [f("a", (7,)), f("b0", (7,))], b("y", (7,)))
    g["add_n"] = single_op_graph(
        OpType.ADD_N, [f("a", (3, 7)), f("b0", (3, 7)), f("c", (3, 7), RNG.standard_normal((3, 7)))], f("y", (3, 7))
    )
    for k, approx in enumerate((False, True)):
        g[f"gelu{k}"] = single_op_graph(OpType.GELU, [f("x", (256,))], f("y", (256,)), approximate=approx)
    g["floor_div"] = single_op_graph(OpType.FLOOR_DIV, [f("a", (2, 3, 4)), f("nz_b", (3, 1))], f("y", (2, 3, 4)))
    g["floor_mod"] = single_op_graph(OpType.FLOOR_MOD, [f("a", (2, 3, 4)), f("nz_b", (3, 1))], f("y", (2, 3, 4)))
    g["floor_mod_big"] = single_op_graph(OpType.FLOOR_MOD, [f("big_x", (3, 9)), f("nz_b", (3, 1))], f("y", (3, 9)))
    g["floor_div_big"] = single_op_graph(OpType.FLOOR_DIV, [f("big_x", (3, 9)), f("nz_b", (3, 1))], f("y", (3, 9)))
    g["cast_i8_f"] = single_op_graph(OpType.CAST, [Tensor("x", (9,), "int8")], f("y", (9,)))
    g["cast_f_i32"] = single_op_graph(OpType.CAST, [f("x", (9,))], Tensor("y", (9,), "int32"))
    g["cast_f_i8"] = single_op_graph(OpType.CAST, [f("big_x", (9,))], Tensor("y", (9,), "int8"))
    g["cast_i32_f"] = single_op_graph(OpType.CAST, [Tensor("x", (9,), "int32")], f("y", (9,)))
    g["cast_b_f"] = single_op_graph(OpType.CAST, [b("x", (9,))], f("y", (9,)))
    for k, shape in enumerate([(3, 8), (2, 2, 33), (1, 5)]):
        g[f"l2norm{k}"] = single_op_graph(OpType.L2_NORMALIZATION, [f("x", shape)], f("y", shape))
        g[f"logsm{k}"] = single_op_graph(OpType.LOG_SOFTMAX, [f("x", shape)], f("y", shape))
    for k, (axis, ex, rev) in enumerate([(1, False, False), (-1, True, True), (0, False, True), (2, True, False)]):
        g[f"cumsum{k}"] = single_op_graph(
            OpType.CUMSUM, [f("x", (3, 4, 5)), i32("a", [axis])], f("y", (3, 4, 5)), exclusive=ex, reverse=rev
        )
    for k, (pad, st, kern, out, act) in enumerate(
        [
            ("VALID", 2, 2, (1, 3, 4, 3), "NONE"),
            ("SAME", 2, 3, (1, 4, 4, 3), "RELU_N1_TO_1"),
            ("SAME", 1, 3, (1, 7, 8, 3), "RELU6"),
        ]
    ):
        g[f"l2pool{k}"] = single_op_graph(
            OpType.L2_POOL_2D,
            [f("x", (1, 7, 8, 3))],
            f("y", out),
            padding=pad,
            stride_h=st,
            stride_w=st,
            filter_h=kern,
            filter_w=kern,
            fused_activation=act,
        )
    return g


INEXACT = {"add_n", "gelu0", "gelu1"} | {
    f"{k}{n}" for k in ("l2norm", "logsm", "cumsum", "l2pool") for n in range(4)
}  # within verify.FLOAT_TOLERANCE; every other output bit for bit
EXACT = {k for k in graphs() if k not in INEXACT}


def inputs(g: Graph, n: int = 4) -> list[np.ndarray]:
    xs = []
    for t in g.inputs:
        if t.dtype == "int32" and not t.name.startswith(("gnd", "ids")):  # CAST's input: any int32
            xs.append(RNG.integers(-(2**31), 2**31, (n,) + tuple(t.shape), dtype=np.int64).astype(np.int32))
        elif t.dtype == "int32":  # EMBEDDING_LOOKUP ids in [0, 6), GATHER_ND (row < 3, column < 4)
            hi = np.array([3, 4]) if t.name.startswith("gnd") else 6
            xs.append((RNG.integers(0, 1 << 20, (n,) + tuple(t.shape)) % hi).astype(np.int32))
        elif t.dtype == "int8":
            xs.append(RNG.integers(-128, 128, (n,) + tuple(t.shape)).astype(np.int8))
        elif t.dtype == "bool":
            xs.append(RNG.integers(0, 2, (n,) + tuple(t.shape)).astype(np.bool_))
        elif t.name == "big_x":  # CAST: fractions, past int8 and int32's range, both signs
            v = RNG.standard_normal((n,) + tuple(t.shape)) * 10.0 ** RNG.integers(0, 11, (n,) + tuple(t.shape))
            xs.append(v.astype(np.float32))
        elif t.size == 256:  # GELU: [-8, 8) and beyond
            xs.append(
                np.concatenate(
                    [np.linspace(-8, 8, 256, endpoint=False)[None], RNG.standard_normal((n - 1, 256)) * 3]
                ).astype(np.float32)
            )
        else:  # small integers and halves: the comparisons meet ties; no zero divisor (nz_)
            v = (RNG.integers(-4, 5, (n,) + tuple(t.shape)) / 2).astype(np.float32)
            if t.name.startswith("nz_"):
                v[v == 0] = np.float32(-1.5)
            xs.append(v)
    return xs


def check(name: str, g: Graph, target: str) -> None:
    xs = inputs(g)
    rep = verify(g, target, xs=xs if len(xs) > 1 else xs[0], sanitize=target == "host", counted_runs=0)
    assert rep.bit_exact, f"{name} on {target}: {rep.mismatches} outside {FLOAT_TOLERANCE}; {rep.first_mismatch}"
    if name in EXACT and rep.max_abs_error is not None:  # float copies: bit for bit
        assert rep.max_abs_error == 0, f"{name} on {target}: a copy off by {rep.max_abs_error}"


# variants run on the host only (every op still has a graph on cortex-m4): keeps the default run short
HOST_ONLY = {
    "mirror1", "reverse0", "reverse1", "s2b3", "gnd_const", "select_same", "cmp_same", "cmp_EQUAL",
    "cmp_NOT_EQUAL", "cmp_GREATER_EQUAL", "cmp_LESS", "floor_div", "floor_mod", "cast_i8_f", "cast_b_f",
    "l2norm0", "l2norm2", "logsm0", "logsm2", "cumsum0", "cumsum2", "l2pool0", "l2pool2",
}  # fmt: skip


@pytest.mark.parametrize(
    "name, target",
    [(n, t) for n in sorted(graphs()) for t in ("host", "cortex-m4") if t == "host" or n not in HOST_ONLY],
)
def test_float_extra_op(name, target):
    check(name, graphs()[name], target)


SLOW = ["mirror0", "padv2", "s2b4", "emb", "select", "cmp_LESS_EQUAL", "gelu0", "gelu1", "floor_mod_big", "cast_f_i8"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m0plus", "riscv32"])
@pytest.mark.parametrize("name", SLOW + ["logsm1", "l2pool1", "cumsum1", "add_n"])
def test_float_extra_op_soft_float_and_riscv(name, target):
    check(name, graphs()[name], target)
