"""Generated C for int8 SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE and DIV: bit-exact with the
reference interpreter (itself bit-exact with tflite-micro, tests/kernels) on the host under
ASan/UBSan and on emulated Cortex-M0+, Cortex-M4 and RISC-V 32; warning-free (-Werror, zig clang)
and free of soft-float and division helpers; outputs written in place over a dying input."""

from __future__ import annotations

import re
import subprocess
from importlib import resources

import numpy as np
import pytest

from picoml.codegen import generate as gen
from picoml.codegen import write_c
from picoml.codegen.emit_binary import BINARY_FILES
from picoml.flows.verify import verify
from picoml.graph import Graph, Op
from picoml.graph.ops import OpType, default_attrs
from picoml.plan import plan_memory
from picoml.targets import get_target
from picoml.targets.toolchain import WARNINGS, harness_dir, zig_cc

from oracles import qtensor, single_op_graph

RUNTIME_FILES = sorted({f"{s}.{e}" for stems in BINARY_FILES.values() for s in stems for e in "hc"})
OPS = list(BINARY_FILES)


def check(g, xs, target="host", what=""):
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{what} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def _graph(op_type, shapes, qs, const=None, seed=0, act="NONE"):
    """A one-op graph; ``const``: index of the operand that is a constant (None: both are inputs)."""
    rng = np.random.default_rng(seed)
    ts = []
    for k, (shape, q) in enumerate(zip(shapes, qs[:2], strict=True)):
        data = rng.integers(-128, 128, shape).astype(np.int8) if k == const else None
        ts.append(qtensor("ab"[k], shape, *q, data=data))
    y = qtensor("y", tuple(np.broadcast_shapes(*shapes)), *qs[2])
    attrs = {"fused_activation": act} if "fused_activation" in default_attrs(op_type) else {}
    return single_op_graph(op_type, ts, y, **attrs)


def _pairs(n=65536):
    codes = np.arange(-128, 128, dtype=np.int8)
    a, b = np.repeat(codes, 256), np.tile(codes, 256)
    if n < 65536:
        pick = np.random.default_rng(n).choice(65536, n, replace=False)
        a, b = a[pick], b[pick]
    return a, b


# (op, scales and zero points of a, b, y, fused activation): typical, tie-prone powers of two,
# differing quantizations (MAXIMUM/MINIMUM compare codes), SQUARED_DIFFERENCE with a left shift,
# DIV with exponents of 32 and more (multiplier 0.9) and with a large multiplier
PAIR_CASES = [
    (OpType.SUB, ((0.03, 1), (0.02, -2), (0.05, 0)), "NONE"),
    (OpType.SUB, ((0.0625, -79), (0.007812507450580597, -93), (0.015625, -14)), "RELU"),
    (OpType.SUB, ((1.0, 10), (0.2500002384185791, -123), (0.4999985694885254, -104)), "RELU6"),
    (OpType.MAXIMUM, ((0.1, 20), (0.003, -50), (1.7, 3)), "NONE"),
    (OpType.MINIMUM, ((0.05, -3), (0.05, -3), (0.05, -3)), "NONE"),
    (OpType.SQUARED_DIFFERENCE, ((0.02, 7), (0.03, -4), (0.01, -128)), "NONE"),
    (OpType.SQUARED_DIFFERENCE, ((1.0, 0), (1.0, 0), (2.0**-25, 0)), "NONE"),
    (OpType.SQUARED_DIFFERENCE, ((2.0**-3, 5), (2.0**-4, -9), (2.0**-6, -100)), "NONE"),
    (OpType.DIV, ((0.9, 0), (1.0, 0), (1.0, 0)), "NONE"),
    (OpType.DIV, ((0.05, -10), (0.02, 5), (0.3, 3)), "RELU"),
    (OpType.DIV, ((0.4696151912212372, -92), (0.015318844467401505, -53), (0.44875288009643555, 11)), "RELU_N1_TO_1"),
    (OpType.DIV, ((0.001, 3), (0.5, -1), (0.0001, 0)), "NONE"),
]


# one case per op by default; the rest under `-m slow`
_FIRST = {op: next(i for i, c in enumerate(PAIR_CASES) if c[0] == op) for op in dict.fromkeys(c[0] for c in PAIR_CASES)}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=() if i in _FIRST.values() else pytest.mark.slow) for i, c in enumerate(PAIR_CASES)],
    ids=lambda c: f"{c[0]}_{c[2]}_{c[1][2][0]:.3g}",
)
def test_every_code_pair_host(case):
    op, qs, act = case
    a, b = _pairs()
    g = _graph(op, ((65536,), (65536,)), qs, act=act)
    check(g, [a[None], b[None]], what=f"{op} {qs}")


# (op, shapes of a and b, constant operand index or None)
BROADCAST_CASES = [
    (OpType.SUB, ((2, 1, 3, 1, 2, 3), (1, 2, 1, 2, 1, 1)), None),
    (OpType.SUB, ((1, 4, 4, 3), (3,)), 1),
    (OpType.SUB, ((3,), (1, 4, 4, 3)), 0),
    (OpType.MAXIMUM, ((2, 1, 3, 1, 2), (1, 2, 1, 2, 1)), None),
    (OpType.MINIMUM, ((1, 3, 3, 4), (4,)), 1),
    (OpType.SQUARED_DIFFERENCE, ((2, 1, 3, 4), (1, 3, 1, 4)), None),
    (OpType.SQUARED_DIFFERENCE, ((1, 2, 3, 4), (1, 1, 1, 4)), 1),
    (OpType.DIV, ((2, 1, 3, 1, 2), (1, 2, 1, 2, 1)), None),
    (OpType.DIV, ((1, 3, 3, 4), (4,)), 1),
    (OpType.DIV, ((4,), (1, 3, 3, 4)), 0),
]
QS = ((0.05, -10), (0.02, 5), (0.07, 3))


def _inputs(g, n, rng):
    return [rng.integers(-128, 128, (n, *t.shape)).astype(np.int8) for t in g.inputs]


@pytest.mark.parametrize("case", BROADCAST_CASES, ids=lambda c: f"{c[0]}_{len(c[1][0])}d_c{c[2]}")
def test_broadcast_host(case):
    op, shapes, const = case
    qs = QS if op not in (OpType.MAXIMUM, OpType.MINIMUM) else (QS[0],) * 3
    g = _graph(op, shapes, qs, const)
    check(g, _inputs(g, 4, np.random.default_rng(len(shapes[0]))), what=f"{op} {shapes}")


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_emulated(target):
    a, b = _pairs(4096)
    rng = np.random.default_rng(9)
    for op, qs, act in (PAIR_CASES[1], PAIR_CASES[3], PAIR_CASES[4], PAIR_CASES[6], PAIR_CASES[8], PAIR_CASES[10]):
        check(_graph(op, ((4096,), (4096,)), qs, act=act), [a[None], b[None]], target, f"{op} {qs}")
    for op, shapes, const in (BROADCAST_CASES[0], BROADCAST_CASES[5], BROADCAST_CASES[9]):
        g = _graph(op, shapes, QS, const)
        check(g, _inputs(g, 2, rng), target, f"{op} {shapes}")


def _chain(op_type):
    """x -> MUL(x, x) = m -> op(m, z) = y -> MUL(y, y): m dies at the op, same shape as its output."""
    q = (0.05, 3)
    x, z = qtensor("x", (1, 4, 4, 3), *q), qtensor("z", (1, 4, 4, 3), *q)
    m, y, w = (qtensor(n, (1, 4, 4, 3), *q) for n in ("m", "y", "w"))
    attrs = {k: v for k, v in default_attrs(op_type).items()}
    ops = [
        Op(OpType.MUL, [x, x], [m], default_attrs(OpType.MUL), name="m"),
        Op(op_type, [m, z], [y], attrs, name="y"),
        Op(OpType.MUL, [y, y], [w], default_attrs(OpType.MUL), name="w"),
    ]
    g = Graph([x, z, m, y, w], ops, [x, z], [w])
    g.validate()
    return g


@pytest.mark.parametrize("op_type", OPS)
def test_output_overwrites_the_dying_input(op_type):
    g = _chain(op_type)
    plan = plan_memory(g)
    assert plan.offset_of(g.tensor("y")) == plan.offset_of(g.tensor("m"))
    check(g, _inputs(g, 3, np.random.default_rng(0)), what=f"{op_type} in place")


def _all_op_graphs():
    return {
        "sub": _graph(OpType.SUB, ((1, 4, 4, 3), (3,)), QS, 1),
        "max": _graph(OpType.MAXIMUM, ((2, 3), (2, 3)), (QS[0],) * 3),
        "min": _graph(OpType.MINIMUM, ((2, 1, 3), (1, 2, 3)), (QS[0],) * 3),
        "sqdiff": _graph(OpType.SQUARED_DIFFERENCE, ((2, 3), (3,)), QS),
        "div": _graph(OpType.DIV, ((2, 3), (2, 3)), QS),
    }


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    """zig clang, -Werror, -O2 and -Os; on Cortex-M0+ no soft-float or division helper."""
    for name, g in _all_op_graphs().items():
        write_c(g, tmp_path / name, name=f"m_{name}")
    t = get_target(target)
    base = zig_cc() + ["-target", t.zig_target, *t.cflags, *WARNINGS, "-ffreestanding"]
    base += ["-I", str(harness_dir() / "include")]
    objs = tmp_path / "obj"
    objs.mkdir()
    jobs = []
    for opt in ("-O2", "-Os"):
        for src in sorted(tmp_path.glob("*/*.c")):
            obj = objs / f"{src.parent.name}_{src.stem}{opt}.o"
            cmd = base + ["-I", str(src.parent), opt, "-c", str(src), "-o", str(obj)]
            jobs.append((obj, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for obj, proc in jobs:
        _, err = proc.communicate()
        assert proc.returncode == 0, f"{obj.name}: {err}"
    if target == "cortex-m0plus":
        from elftools.elf.elffile import ELFFile

        def undefined(o):
            with open(o, "rb") as f:
                symtab = ELFFile(f).get_section_by_name(".symtab")
                return {s.name for s in symtab.iter_symbols() if s.name and s["st_shndx"] == "SHN_UNDEF"}

        kernels = [o for o, _ in jobs if "_pm_" in o.name]
        for stem in ("pm_add_s8", "pm_binary_s8", "pm_div_s8"):
            assert any(stem in o.name for o in kernels), stem
        slow = re.compile(r"__aeabi_[fd]|__aeabi_.*div|__.*(sf|df)\d|__.*div.i3|__.*mod.i3")
        helpers = sorted({n for o in kernels for n in undefined(o) if slow.match(n)})
        assert helpers == [], f"kernels call soft-float or division helpers {helpers}"


def test_runtime_files_are_float_free_and_use_allowed_headers():
    runtime = resources.files("picoml.codegen.runtime")
    for fname in RUNTIME_FILES:
        code = re.sub(r"/\*.*?\*/", "", runtime.joinpath(fname).read_text(), flags=re.S)
        assert not re.search(r"\b(float|double|malloc|free)\b|(?<![\w.])\d+\.\d*(e\d+)?f?\b(?![.\w])", code), fname
        for inc in re.findall(r"#include <([^>]+)>", code):
            assert inc in ("stdint.h", "stddef.h", "string.h"), (fname, inc)


def test_generated_c_is_deterministic_and_names_its_kernels():
    for name, g in _all_op_graphs().items():
        files = gen.generate_c(g)
        assert files == gen.generate_c(g), name
        fn = {
            "sub": "pm_sub_s8(",
            "max": "pm_maximum_s8(",
            "min": "pm_minimum_s8(",
            "sqdiff": "pm_squared_difference_s8(",
        }
        assert fn.get(name, "pm_div_s8(") in files["model.c"], name
