"""Constant int64 shape arguments (TILE multiples, BROADCAST_TO shape, MIRROR_PAD paddings, reduction
axes) compile to C as int32 copies (passes/int32_args.py): bit-exact with the reference interpreter
on the host (ASan/UBSan) and cortex-m0plus; an int64 tensor the C cannot take is refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.errors import UnsupportedError
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType
from picoml.passes.int32_args import int32_arguments

from oracles import qtensor, single_op_graph


def i64(name, v) -> Tensor:
    v = np.asarray(v, np.int64)
    return Tensor(name, v.shape, "int64", data=v)


def graphs() -> dict[str, Graph]:
    q = (0.1, 3)
    return {
        "tile": single_op_graph(OpType.TILE, [qtensor("x", (2, 3), *q), i64("m", [2, 1])], qtensor("y", (4, 3), *q)),
        "broadcast_to": single_op_graph(
            OpType.BROADCAST_TO, [qtensor("x", (1, 3), *q), i64("s", [4, 3])], qtensor("y", (4, 3), *q)
        ),
        "mirror_pad": single_op_graph(
            OpType.MIRROR_PAD, [qtensor("x", (2, 3), *q), i64("p", [[1, 1], [0, 1]])], qtensor("y", (4, 4), *q)
        ),
        "sum": single_op_graph(OpType.SUM, [qtensor("x", (2, 3), *q), i64("a", [1])], qtensor("y", (2,), 0.2, 0)),
    }


@pytest.mark.parametrize("target", ["host", "cortex-m0plus"])
def test_int64_constant_arguments_compile_bit_exact(target):
    rng = np.random.default_rng(4)
    for name, g in graphs().items():
        xs = rng.integers(-128, 128, (3, *g.inputs[0].shape)).astype(np.int8)
        rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=0)
        assert rep.bit_exact, f"{name} on {target}: {rep.first_mismatch}"
        assert g.ops[0].inputs[1].dtype == "int64"  # the caller's graph is unchanged


def test_int32_copies_and_refusals():
    g = graphs()["tile"]
    g2 = int32_arguments(g)
    m = g2.ops[0].inputs[1]
    assert m.dtype == "int32" and m.data.tolist() == [2, 1] and m in g2.tensors
    x, y = Tensor("x", (2,)), Tensor("y", (2,))
    big = Graph([x, i64("m", [2**31]), y], [Op(OpType.TILE, [x, i64("m", [2**31])], [y], {}, "t")], [x], [y])
    with pytest.raises(UnsupportedError, match=r"TILE 't': int64 constant 'm' holds 2147483648, beyond"):
        int32_arguments(big)
    c = Tensor("m", (1,), "int64")
    computed = Graph([x, c, y], [Op(OpType.TILE, [x, c], [y], {}, "t")], [x, c], [y])
    with pytest.raises(UnsupportedError, match=r"TILE 't': 'm' is a computed int64 tensor"):
        int32_arguments(computed)
