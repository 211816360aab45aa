"""Generated C for int8 ADD_N, MIRROR_PAD, PADV2, REVERSE_V2, L2_NORMALIZATION, LOG_SOFTMAX, GELU and
RELU_N1_TO_1: bit-exact with the reference interpreter (itself exact with tflite-micro, or LiteRT for
GELU and RELU_N1_TO_1) on the host under ASan/UBSan and on emulated Cortex-M0+, Cortex-M4 and
RISC-V 32; warning-free for every MCU target; free of float and division helpers on Cortex-M0+."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen.emit_extra import EXTRA_FILES
from picoml.flows.verify import verify
from picoml.graph import Graph, Tensor

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers
from oracles import qtensor, single_op_graph

MCUS = ["cortex-m0plus", "cortex-m4", "riscv32"]


def f32(v):
    return float(np.float32(v))


def combine(graphs: dict) -> Graph:
    tensors, ops, ins, outs = [], [], [], []
    for key, g in graphs.items():
        for t in g.tensors:
            t.name = f"{key}/{t.name}"
        for op in g.ops:
            op.name = f"{key}/{op.name}"
        tensors += g.tensors
        ops += g.ops
        ins += g.inputs
        outs += g.outputs
    g = Graph(tensors, ops, ins, outs, name="combined")
    g.validate()
    return g


def _i32(name, v):
    v = np.asarray(v, np.int32)
    return Tensor(name, v.shape, "int32", data=v)


def graphs() -> dict:
    g = {}
    q = (0.05, 7)
    for k, (n, qo) in enumerate([(2, (0.1, -3)), (5, (f32(0.3), 120)), (3, (f32(0.011), -128))]):
        xs = [qtensor(f"x{j}", (3, 7), *q) for j in range(n)]
        g[f"add_n{k}"] = single_op_graph("ADD_N", xs, qtensor("y", (3, 7), *qo))
    x = qtensor("x", (2, 4, 3), 0.1, -5)
    for mode in (0, 1):
        pads = [[1, 1], [3, 2], [0, 2]] if mode == 0 else [[2, 0], [4, 4], [3, 1]]
        out = tuple(d + a + b for d, (a, b) in zip(x.shape, pads, strict=True))
        g[f"mirror{mode}"] = single_op_graph(
            "MIRROR_PAD", [qtensor("x", x.shape, 0.1, -5), _i32("p", pads)], qtensor("y", out, 0.1, -5), mode=mode
        )
    v = qtensor("v", (1,), 0.1, -5, data=np.array([100], np.int8))
    g["padv2"] = single_op_graph(
        "PADV2",
        [qtensor("x", (2, 4, 3), 0.1, -5), _i32("p", [[0, 1], [2, 0], [1, 1]]), v],
        qtensor("y", (3, 6, 5), 0.1, -5),
    )
    for k, axes in enumerate([[0], [-1, 1], [0, 1, 2]]):
        g[f"reverse{k}"] = single_op_graph(
            "REVERSE_V2", [qtensor("x", (2, 4, 3), 0.1, 3), _i32("a", axes)], qtensor("y", (2, 4, 3), 0.1, 3)
        )
    for k, (shape, qi) in enumerate([((3, 8), (0.02, 0)), ((2, 2, 33), (f32(1.7), -100)), ((1, 5), (0.5, 127))]):
        g[f"l2norm{k}"] = single_op_graph(
            "L2_NORMALIZATION", [qtensor("x", shape, *qi)], qtensor("y", shape, 1 / 128, 0)
        )
        g[f"logsm{k}"] = single_op_graph("LOG_SOFTMAX", [qtensor("x", shape, *qi)], qtensor("y", shape, 16 / 256, 127))
    for k, approx in enumerate((False, True)):
        g[f"gelu{k}"] = single_op_graph(
            "GELU", [qtensor("x", (256,), f32(0.03), 10)], qtensor("y", (256,), f32(0.02), -100), approximate=approx
        )
    g["relu1"] = single_op_graph("RELU_N1_TO_1", [qtensor("x", (256,), 0.02, 4)], qtensor("y", (256,), f32(1 / 127), 0))
    q = (0.1, 5)
    g["s2b4"] = single_op_graph(
        "SPACE_TO_BATCH_ND",
        [qtensor("x", (2, 3, 4, 3), *q), _i32("b", [2, 3]), _i32("p", [[1, 0], [1, 1]])],
        qtensor("y", (12, 2, 2, 3), *q),
    )
    g["s2b3"] = single_op_graph(
        "SPACE_TO_BATCH_ND",
        [qtensor("x", (1, 5, 2), *q), _i32("b", [3]), _i32("p", [[0, 1]])],
        qtensor("y", (3, 2, 2), *q),
    )
    g["b2s4"] = single_op_graph(
        "BATCH_TO_SPACE_ND",
        [qtensor("x", (12, 2, 2, 3), *q), _i32("b", [2, 3]), _i32("c", [[1, 0], [2, 1]])],
        qtensor("y", (2, 3, 3, 3), *q),
    )
    for k, (axis, ex, rev, qo) in enumerate(
        [(1, False, False, (0.3, -4)), (-1, True, True, (0.2, 0)), (0, False, True, (1.0, 9))]
    ):
        g[f"cumsum{k}"] = single_op_graph(
            "CUMSUM",
            [qtensor("x", (3, 4, 5), 0.05, 7), _i32("a", [axis])],
            qtensor("y", (3, 4, 5), *qo),
            exclusive=ex,
            reverse=rev,
        )
    g["gnd_const"] = single_op_graph(
        "GATHER_ND", [qtensor("x", (3, 4, 2), *q), _i32("i", [[2, 1], [0, 3], [1, 0]])], qtensor("y", (3, 2), *q)
    )
    table = qtensor("table", (6, 4), *q, data=np.arange(-60, 60, 5, dtype=np.int8).reshape(6, 4))
    g["emb"] = single_op_graph("EMBEDDING_LOOKUP", [table, Tensor("ids", (4,), "int32")], qtensor("y", (4, 4), *q))
    g["gnd"] = single_op_graph(
        "GATHER_ND", [qtensor("x", (3, 4, 2), *q), Tensor("idx", (3, 2), "int32")], qtensor("y", (3, 2), *q)
    )
    return g


def inputs(g: Graph, rng, n=6):
    xs = []
    for t in g.inputs:
        if t.dtype == "int32":  # EMBEDDING_LOOKUP ids in [0, 6), GATHER_ND (row < 3, column < 4)
            hi = np.array([3, 4]) if t.name.startswith("gnd") else 6
            xs.append((rng.integers(0, 1 << 20, (n,) + tuple(t.shape)) % hi).astype(np.int32))
            continue
        v = rng.integers(-128, 128, (n,) + tuple(t.shape)).astype(np.int8)
        v[0], v[1], v[2] = -128, 127, int(t.zero_point[0])
        if t.size == 256:
            v[3] = np.arange(-128, 128, dtype=np.int8).reshape(t.shape)
        xs.append(v)
    return xs


def check(target):
    g = combine(graphs())
    rep = verify(g, target, xs=inputs(g, np.random.default_rng(5)), sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"


def test_host():
    check("host")


@pytest.mark.parametrize("target", MCUS)
def test_emulated(target):
    check(target)


@pytest.mark.parametrize("target", MCUS)
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    objs = build_objects({"all": combine(graphs())}, target, tmp_path)
    if target == "cortex-m0plus":
        ks = kernels(objs)
        assert {"pm_add_n_s8", "pm_axis_gather", "pm_l2norm_s8", "pm_log_softmax_s8", "pm_lut_s8"} <= {
            o.stem for o in ks
        }
        assert slow_helpers(ks) == []


def test_runtime_files_are_float_free_and_use_allowed_headers():
    assert_runtime_float_free(sorted({f"{s}.{e}" for stems in EXTRA_FILES.values() for s in stems for e in "hc"}))
