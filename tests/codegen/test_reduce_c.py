"""Generated C for int8 REDUCE_MAX, REDUCE_MIN, SUM, ARG_MAX, ARG_MIN and BATCH_MATMUL: bit-exact
with the reference interpreter (itself bit-exact with tflite-micro) on the host under ASan/UBSan
and on emulated Cortex-M0+, Cortex-M4 and RISC-V 32; warning-free for every MCU target; free of
float and division helpers on Cortex-M0+."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import resources

import numpy as np
import pytest

from picoml.codegen import generate as gen
from picoml.codegen import write_c
from picoml.codegen.emit_reduce import REDUCE_FILES
from picoml.codegen.firmware import sample, write_cmake
from picoml.errors import InputError, PicomlError
from picoml.flows.verify import harness_defines, verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.reduce_ops import infer_batch_matmul
from picoml.targets import get_target
from picoml.targets.toolchain import WARNINGS, harness_dir, zig_cc

from oracles import qtensor, single_op_graph

MCUS = ["cortex-m0plus", "cortex-m4", "riscv32"]


def check(g, xs, target="host", what=""):
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{what} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def ints(rng, shape, n=6, levels=256):
    """n int8 samples; the first three all -128, all 127 and all 0; with few levels: many ties."""
    xs = rng.integers(0, levels, (n,) + tuple(shape)) * (256 // levels) - 128
    xs = np.clip(xs, -128, 127).astype(np.int8)
    xs[0], xs[1], xs[2] = -128, 127, 0
    return xs


def f32(v):
    return float(np.float32(v))


def combine(graphs: dict) -> Graph:
    """One graph of several single-op graphs side by side (tensors prefixed by their key): one C
    build runs them all, int8 and int32 outputs interleaved."""
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


# ------------------------------------------------------------------------ REDUCE_MAX/MIN, SUM
def reduce_graph(op_type, shape, axes, keep, qi, qo):
    r = len(shape)
    norm = sorted({a % r for a in axes})
    out = (
        tuple(1 if i in norm else d for i, d in enumerate(shape))
        if keep
        else tuple(d for i, d in enumerate(shape) if i not in norm)
    )
    a = Tensor("axes", (len(axes),), "int32", data=np.array(axes, np.int32))
    return single_op_graph(op_type, [qtensor("x", shape, *qi), a], qtensor("y", out, *qo), keep_dims=keep)


QI = (0.0625, -7)
# (shape, axes, keep_dims, SUM's output quantization)
REDUCE_CASES = [
    ((1, 5, 5, 16), [1, 2], True, (1.0, 3)),  # global pooling shape
    ((2, 3, 4), [-1], False, (0.2, -20)),
    ((2, 3, 4, 5), [1, 3, 1, -1], False, (0.5, 0)),  # repeated and negative axes
    ((3, 1, 4, 1, 2), [0, 4], True, (f32(1 / 7), 127)),  # rank 5, extent-1 dimensions
    ((6, 7), [0, 1], False, (2.0, 0)),  # one output
    ((4, 6), [], False, (f32(0.05), 2)),  # nothing reduced
    ((2, 50), [1], False, (f32(2.0**-20), 0)),  # SUM: left shift 20 (wraps before the high multiply)
    ((1, 32, 32, 2), [1, 2], False, (f32(1e-4), -128)),  # 1024 terms, saturating
]


def _reduce_inputs(rng, g):
    """Per input: samples with few levels (ties) for MAX / MIN, every code for SUM."""
    return [ints(rng, t.shape, levels=256 if t.name.startswith("SUM") else 4) for t in g.inputs]


def test_reduce_host():
    """Every case of REDUCE_CASES for the three ops, one build."""
    rng = np.random.default_rng(1)
    graphs = {}
    for k, (shape, axes, keep, qo) in enumerate(REDUCE_CASES):
        qi = (1.0, 0) if qo[0] < 1e-5 else QI
        for op_type in ("REDUCE_MAX", "REDUCE_MIN", "SUM"):
            graphs[f"{op_type}{k}"] = reduce_graph(op_type, shape, axes, keep, qi, qo if op_type == "SUM" else qi)
    g = combine(graphs)
    check(g, _reduce_inputs(rng, g), what="REDUCE_CASES")


@pytest.mark.parametrize("seed", range(1))
def test_reduce_random_host(seed):
    rng = np.random.default_rng(200 + seed)
    graphs = {}
    for k in range(4):
        r = int(rng.integers(1, 6))
        shape = tuple(int(v) for v in rng.integers(1, 6, r))
        axes = [int(v) for v in rng.integers(-r, r, int(rng.integers(0, r + 2)))]
        qi = (f32(10 ** rng.uniform(-3, 0)), int(rng.integers(-128, 128)))
        qo = (f32(10 ** rng.uniform(-3, 1)), int(rng.integers(-128, 128)))
        for op_type in ("REDUCE_MAX", "REDUCE_MIN", "SUM"):
            qy = qo if op_type == "SUM" else qi
            graphs[f"{op_type}{k}"] = reduce_graph(op_type, shape, axes, bool(k % 2), qi, qy)
    g = combine(graphs)
    check(g, _reduce_inputs(rng, g), what=f"random reductions, seed {seed}")


# ---------------------------------------------------------------------------- ARG_MAX/ARG_MIN
def arg_graph(op_type, shape, axis):
    a = Tensor("axis", (1,), "int32", data=np.array([axis], np.int32))
    out = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    return single_op_graph(op_type, [qtensor("x", shape, 0.1, 3), a], Tensor("y", out, "int32"))


ARG_CASES = [((10,), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((5, 1, 7), 0), ((1, 4, 4, 3), 3), ((300, 2), 0)]


def test_arg_header():
    files = gen.generate_c(arg_graph("ARG_MAX", (2, 3), 1))
    assert "int model_invoke(const int8_t *input, int32_t *output);" in files["model.h"]
    assert "MODEL_OUTPUT_SCALE" not in files["model.h"]  # indices have no quantization


@pytest.mark.parametrize("op_type", ["ARG_MAX", "ARG_MIN"])
def test_arg_single_output_host(op_type):
    """One int32 output: the harness's default call does not fit, its defines map the buffers."""
    g = arg_graph(op_type, (2, 3, 4), 1)
    xs = np.concatenate(
        [ints(np.random.default_rng(2), (2, 3, 4), 4, levels=3), ints(np.random.default_rng(3), (2, 3, 4), 4)]
    )
    check(g, xs, what=op_type)


def test_arg_host():
    """Every case of ARG_CASES for both ops, one build: few levels (ties) and every code."""
    graphs = {f"{op}{k}": arg_graph(op, *case) for k, case in enumerate(ARG_CASES) for op in ("ARG_MAX", "ARG_MIN")}
    g = combine(graphs)
    rng = np.random.default_rng(5)
    xs = [np.concatenate([ints(rng, t.shape, 4, levels=3), ints(rng, t.shape, 4)]) for t in g.inputs]
    check(g, xs, what="ARG_CASES")


def test_int8_and_int32_outputs_together_host():
    """Two outputs, an int8 one of odd size first: the harness aligns the int32 one to 4 bytes."""
    x = qtensor("x", (3, 5), 0.1, 3)
    mx, am = qtensor("mx", (3,), 0.1, 3), Tensor("am", (3,), "int32")
    ax = Tensor("ax", (1,), "int32", data=np.array([1], np.int32))
    ops = [
        Op("REDUCE_MAX", [x, ax], [mx], {"keep_dims": False}, name="max"),
        Op("ARG_MAX", [x, ax], [am], {"output_type": 2}, name="argmax"),
    ]
    g = Graph([x, ax, mx, am], ops, [x], [mx, am])
    g.validate()
    defines = harness_defines(g)
    assert "-DPM_HARNESS_OUT_BYTES=16" in defines  # 3 bytes, 1 of padding, 12
    assert "(int32_t *)(void *)((out) + 4)" in defines[-1]
    xs = ints(np.random.default_rng(1), (3, 5), levels=3)
    check(g, xs, what="REDUCE_MAX + ARG_MAX")


# ------------------------------------------------------------------------------ BATCH_MATMUL
def matmul_graph(ls, rs, adj_x, adj_y, ql, qr, qo, rhs_data=None, lhs_data=None):
    lhs = qtensor("lhs", ls, *ql, data=lhs_data)
    rhs = qtensor("rhs", rs, *qr, data=rhs_data)
    probe = Op("BATCH_MATMUL", [lhs, rhs], [], {"adj_x": adj_x, "adj_y": adj_y, "asymmetric_quantize_inputs": False})
    out = infer_batch_matmul(probe)[0]
    return single_op_graph("BATCH_MATMUL", [lhs, rhs], qtensor("y", out, *qo), adj_x=adj_x, adj_y=adj_y)


# (lhs shape, rhs shape, adj_x, adj_y, lhs q, rhs q, output q)
MATMUL_CASES = [
    ((1, 2, 16, 8), (1, 2, 16, 8), False, True, (0.05, -3), (0.04, 7), (0.2, 0)),  # Q · K^T
    ((1, 2, 16, 16), (1, 2, 16, 8), False, False, (f32(1 / 256), -128), (0.04, 7), (0.05, -1)),  # P · V
    ((2, 1, 3, 5), (4, 5, 2), False, False, (0.1, 0), (0.02, -128), (0.3, 5)),  # broadcast batches
    ((5, 3), (2, 4, 5), True, True, (0.1, 127), (0.1, -128), (f32(0.5), 0)),  # adj_x, adj_y, rank 2 x 3
    ((2, 2, 1, 6, 3), (2, 1, 6, 2), True, False, (0.03, 10), (0.07, -9), (0.1, 100)),  # rank 5
    ((1, 300), (300, 3), False, False, (1.0, 127), (1.0, -128), (f32(2.0**-8), 0)),  # unbounded: general rescale
]


def test_batch_matmul_host():
    """Every case of MATMUL_CASES, a constant rhs for both adj_y and a constant lhs, one build."""
    rng = np.random.default_rng(3)
    graphs = {f"mm{k}": matmul_graph(*case) for k, case in enumerate(MATMUL_CASES)}
    for adj_y in (False, True):  # a constant rhs (flash, each column's depth contiguous), its own zero point
        rs = (2, 4, 6) if adj_y else (2, 6, 4)
        data = rng.integers(-128, 128, rs).astype(np.int8)
        q = ((0.1, -20), (0.03, 11), (0.5, 9))
        graphs[f"rhs{int(adj_y)}"] = matmul_graph((3, 1, 5, 6), rs, False, adj_y, *q, rhs_data=data)
    data = rng.integers(-128, 128, (4, 6)).astype(np.int8)
    graphs["lhs"] = matmul_graph((4, 6), (2, 6, 3), False, False, (0.1, -20), (0.03, 11), (0.5, 9), lhs_data=data)
    g = combine(graphs)
    source = gen.generate_c(g)["model.c"]
    assert source.count("static PM_CONST pm_requant") == len(graphs) - 1  # every layer bounded but mm5
    check(g, [ints(rng, t.shape) for t in g.inputs], what="MATMUL_CASES")


def test_batch_matmul_accumulator_wraps_host():
    """Depth 40,000 of 255·255: the int32 accumulator wraps, in C as in tflite-micro (uint32, no UB)."""
    g = matmul_graph((1, 40000), (40000, 2), False, False, (1.0, 127), (1.0, 127), (1e6, 0))
    assert "NULL" in gen.generate_c(g)["model.c"]  # unbounded: no pm_requant record
    xs = [np.full((2, 1, 40000), -128, np.int8), np.stack([np.full((40000, 2), v, np.int8) for v in (-128, 127)])]
    check(g, xs, what="wrapping accumulator")


# ------------------------------------------------------------------------------------ GATHER
def gather_graph(shape, pos_shape, axis, batch_dims=0, positions=None, table=None):
    x = qtensor("x", shape, 0.1, 3, data=table)
    pos = Tensor("pos", pos_shape, "int32", data=positions)
    out = tuple(shape[:axis]) + tuple(pos_shape[batch_dims:]) + tuple(shape[axis + 1 :])
    return single_op_graph("GATHER", [x, pos], qtensor("y", out, 0.1, 3), axis=axis, batch_dims=batch_dims)


def test_gather_host():
    """Constant positions, positions as an int32 model input, a constant table (an embedding)
    gathered at model-input token ids, batch_dims, and positions computed by ARG_MAX."""
    rng = np.random.default_rng(8)
    table = rng.integers(-128, 128, (10, 6)).astype(np.int8)
    graphs = {
        "const": gather_graph((2, 5, 3), (4,), 1, positions=np.array([4, 0, 0, 2], np.int32)),
        "input": gather_graph((2, 5, 3), (2, 3), 1, 1),
        "embedding": gather_graph((10, 6), (1, 7), 0, table=table),
    }
    x = qtensor("x", (3, 5), 0.1, 3)
    ax = Tensor("ax", (1,), "int32", data=np.array([1], np.int32))
    k, y = Tensor("k", (3,), "int32"), qtensor("y", (3, 3), 0.1, 3)
    ops = [
        Op("ARG_MAX", [x, ax], [k], {"output_type": 2}, name="k"),
        Op("GATHER", [x, k], [y], {"axis": 1, "batch_dims": 0}, name="y"),
    ]
    argmax = Graph([x, ax, k, y], ops, [x], [y])
    argmax.validate()
    graphs["argmax"] = argmax
    g = combine(graphs)
    xs = []
    for t in g.inputs:
        if t.dtype == "int32":
            limit = 10 if t.name.startswith("embedding") else 5
            xs.append(rng.integers(0, limit, (4,) + t.shape).astype(np.int32))
        else:
            xs.append(ints(rng, t.shape, 4))
    assert "const int32_t *input" in gen.generate_c(g)["model.h"]
    check(g, xs, what="GATHER")
    check(g, xs, "cortex-m0plus", "GATHER")


def test_gather_position_out_of_range_fails_invoke():
    """tflite-micro fails the inference; so do picoml.run (InputError) and the C (status != 0)."""
    g = gather_graph((4, 3), (2,), 0)
    xs = [np.zeros((1, 4, 3), np.int8), np.array([[1, 4]], np.int32)]
    with pytest.raises(InputError, match="position 4 is out of range"):
        verify(g, "host", xs=xs)
    ok = verify(g, "host", xs=[xs[0], np.array([[1, 3]], np.int32)])
    assert ok.bit_exact
    with pytest.raises(PicomlError, match="host model run failed"):
        _run_host_only(g, xs)


def _run_host_only(g, xs):
    """The host build on inputs the reference refuses (the C must report failure, not write out of bounds)."""
    import tempfile
    from pathlib import Path

    from picoml.flows.verify import _run_host, _to_bytes
    from picoml.targets.toolchain import build

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_c(g, d / "src", name="model")
        exe = d / "model_host"
        build(d / "src", get_target("host"), exe, opt="-O1", sanitize=True, extra=harness_defines(g))
        return _run_host(exe, _to_bytes(g.inputs, xs, 1), d)


# --------------------------------------------------------------------------- emulated cores
def _emulated_graphs():
    rng = np.random.default_rng(7)
    rhs = rng.integers(-128, 128, (8, 12)).astype(np.int8)
    return {
        "sum": (reduce_graph("SUM", (1, 4, 4, 6), [1, 2], True, QI, (0.5, 3)), (1, 4, 4, 6)),
        "max": (reduce_graph("REDUCE_MAX", (2, 3, 5), [0, -1], False, QI, QI), (2, 3, 5)),
        "min": (reduce_graph("REDUCE_MIN", (2, 3, 5), [1], True, QI, QI), (2, 3, 5)),
        "argmax": (arg_graph("ARG_MAX", (2, 10), 1), (2, 10)),
        "argmin": (arg_graph("ARG_MIN", (4, 3, 2), 0), (4, 3, 2)),
        "matmul": (matmul_graph((1, 2, 6, 8), (1, 2, 6, 8), False, True, (0.05, -3), (0.04, 7), (0.2, 0)), None),
        "matmul_const": (
            matmul_graph((2, 5, 8), (8, 12), False, False, (0.05, -3), (0.04, 7), (0.2, 0), rhs_data=rhs),
            (2, 5, 8),
        ),
        "matmul_wide": (matmul_graph((1, 300), (300, 3), False, False, (1.0, 127), (1.0, -128), (256.0, 0)), None),
        "gather": (gather_graph((2, 5, 3), (4,), 1, positions=np.array([4, 0, 0, 2], np.int32)), (2, 5, 3)),
    }


@pytest.mark.parametrize("target", MCUS)
def test_emulated(target):
    """Every op in one library per core (int8 and int32 outputs interleaved)."""
    rng = np.random.default_rng(11)
    g = combine({k: g for k, (g, _) in _emulated_graphs().items()})
    xs = [ints(rng, t.shape, 3, levels=3 if t.name.startswith("arg") else 256) for t in g.inputs]
    check(g, xs, target, "every op")


# --------------------------------------------------------------------------- portability, hygiene
@pytest.mark.parametrize("target", MCUS)
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    """zig clang, -Werror, -O2 and -Os; on Cortex-M0+ the kernels call no soft-float or division helper."""
    write_c(combine({k: g for k, (g, _) in _emulated_graphs().items()}), tmp_path / "lib", name="m_all")
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
        mine = {s for stems in REDUCE_FILES.values() for s in stems}
        kernels = [obj for obj, _ in jobs if any(f"_{s}-" in obj.name for s in mine)]
        assert {s for s in mine if any(f"_{s}-" in o.name for o in kernels)} == mine
        helpers = sorted({n for o in kernels for n in _undefined_symbols(o) if _is_slow_helper(n)})
        assert helpers == [], f"kernels call soft-float or division helpers {helpers}"


def _undefined_symbols(obj):
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name for s in symtab.iter_symbols() if s.name and s["st_shndx"] == "SHN_UNDEF"}


def _is_slow_helper(name):
    return bool(re.match(r"__aeabi_[fd]|__aeabi_.*div|__.*(sf|df)\d|__.*div.i3|__.*mod.i3", name))


def test_runtime_files_are_float_free_and_use_allowed_headers():
    runtime = resources.files("picoml.codegen.runtime")
    for fname in sorted({f"{s}.{e}" for stems in REDUCE_FILES.values() for s in stems for e in "hc"}):
        code = re.sub(r"/\*.*?\*/", "", runtime.joinpath(fname).read_text(), flags=re.S)
        assert not re.search(r"\b(float|double|malloc|free)\b|(?<![\w.])\d+\.\d*(e\d+)?f?\b(?![.\w])", code), fname
        for inc in re.findall(r"#include <([^>]+)>", code):
            assert inc in ("stdint.h", "stddef.h", "string.h"), (fname, inc)


def test_float_reductions_take_the_float_kernels():
    """A float32 ARG_MAX compiles to the float kernels (codegen/emit_float.py; tests/codegen/test_float_c.py)."""
    x = Tensor("x", (2, 3))
    g = single_op_graph(
        "ARG_MAX", [x, Tensor("a", (1,), "int32", data=np.array([1], np.int32))], Tensor("y", (2,), "int32")
    )
    files = gen.generate_c(g)
    assert "pm_nn_f32.c" in files and "pm_arg_min_max_s8.c" not in files


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_demo_of_an_argmax_model(tmp_path):
    """The CMake export's demo prints int32 indices and checks them against the reference."""
    g = arg_graph("ARG_MAX", (2, 10), 1)
    proj, build = tmp_path / "proj", tmp_path / "build"
    write_cmake(g, proj, name="net")
    for cmd in (["cmake", "-S", str(proj), "-B", str(build)], ["cmake", "--build", str(build), "-j", "2"]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(build / "net_demo")], capture_output=True, text=True, timeout=60)
    _, y = sample(g)
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "output " + " ".join(map(str, y)), r.stdout
