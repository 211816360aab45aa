"""Generated C for int8 and float32 TILE (``pm_tile`` in pm_tile_s8): bit-exact with the reference interpreter
(itself exact with LiteRT, tests/kernels/test_tile.py) on the host under ASan/UBSan and on emulated
Cortex-M0+, Cortex-M4 and RISC-V 32; warning-free (-Werror, zig clang -O2 / -Os), no soft-float
or division helper on Cortex-M0+, float-free runtime source."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import generate as gen
from picoml.codegen.emit_float import BYTE_OPS
from picoml.codegen.emit_tile import TILE_FILES
from picoml.flows.verify import verify
from picoml.graph import Tensor
from picoml.graph.ops import OpType

from mcu_build import assert_runtime_float_free, build_objects, kernels, slow_helpers
from oracles import qtensor, single_op_graph

RUNTIME_FILES = sorted({f"{s}.{e}" for stems in TILE_FILES.values() for s in stems for e in "hc"})

# (input shape, multiples): rank 1..6, repeats on the first, last and middle axes, all-ones
CASES = [
    ((5,), (3,)),
    ((1, 4, 4, 3), (1, 2, 2, 1)),  # the UNet's nearest-neighbour upsampling idiom
    ((2, 3, 1, 2, 2), (2, 1, 3, 2, 1)),
    ((2, 3), (1, 1)),
    ((1, 2, 1, 2, 1, 3), (2, 1, 2, 1, 3, 1)),
    ((3, 1, 7), (1, 5, 2)),
]


def _graph(shape, mult, name="tile"):
    m = Tensor("multiples", (len(mult),), "int32", data=np.array(mult, np.int32))
    out = tuple(d * k for d, k in zip(shape, mult, strict=True))
    g = single_op_graph(OpType.TILE, [qtensor("x", shape, 0.05, -3), m], qtensor("y", out, 0.05, -3))
    g.name = name
    return g


def check(g, target, n=6):
    rep = verify(g, target, n_inputs=n, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{g.name} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_tile_host(case):
    check(_graph(*case), "host")


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_tile_mcu(target):
    for case in CASES[1:3]:
        check(_graph(*case), target, n=3)


def _float_graph(shape, mult, name="tile_f32"):
    m = Tensor("multiples", (len(mult),), "int32", data=np.array(mult, np.int32))
    out = tuple(d * k for d, k in zip(shape, mult, strict=True))
    g = single_op_graph(OpType.TILE, [Tensor("x", shape), m], Tensor("y", out))
    g.name = name
    return g


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4"])
def test_float_tile(target):
    """float32 TILE is the same byte copy (emit_float.BYTE_OPS), 4-byte elements: exact."""
    for case in CASES[1:3] if target != "host" else CASES:
        check(_float_graph(*case), target, n=3)


def test_tile_is_a_byte_op():
    assert OpType.TILE in BYTE_OPS
    code = gen.generate_c(_float_graph((2, 3), (2, 1)))["model.c"]
    assert "pm_tile(2, " in code and ", 4, " in code


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    objs = build_objects({"tile": _graph(*CASES[2])}, target, tmp_path)
    if target == "cortex-m0plus":
        ks = kernels(objs)
        assert any(o.stem == "pm_tile_s8" for o in ks)
        assert slow_helpers(ks) == []


def test_runtime_files_are_float_free_and_use_allowed_headers():
    assert_runtime_float_free(RUNTIME_FILES)
