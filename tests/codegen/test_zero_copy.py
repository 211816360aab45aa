"""The zero-copy C API (codegen/api.py): ``<name>_input()`` / ``<name>_output()`` point into the
arena, ``<name>_run()`` runs the layers on the tensors already there, ``<name>_invoke()`` is the
copying wrapper around it. Bit-exact against the reference interpreter on the host (sanitizers)
and on emulated cores, where the harness is zero-copy and so has no I/O buffer in .bss; one and
several inputs/outputs, float, and the planner rule that keeps a graph output intact."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_float_c import float_cnn
from test_multi_io import two_by_two
from test_toolchains import _bias, _conv_weights, small_model

import picoml
from picoml.codegen import compile_c
from picoml.codegen.api import IO_CTYPES, packed_layout
from picoml.flows.verify import compare, elf_sizes, random_inputs, verify
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType, default_attrs
from picoml.plan import plan_memory
from picoml.targets import get_target
from picoml.targets.toolchain import WARNINGS, host_cc

from oracles import model_path, qtensor

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def conv_then_pool_outputs() -> Graph:
    """x → conv 3x3 (SAME) → a, a graph output that the LAST op (a max pool, a streaming window op)
    reads: the pool's output may not be written over a, which the caller reads after run()."""
    rng = np.random.default_rng(5)
    x = qtensor("x", (1, 8, 8, 4), 0.05, 2)
    w = _conv_weights(rng, (4, 3, 3, 4), 0)
    b = _bias(rng, 0.05, w)
    a = qtensor("a", (1, 8, 8, 4), 0.1, -3)
    p = qtensor("p", (1, 8, 8, 4), 0.1, -3)
    ca = default_attrs(OpType.CONV_2D)
    ca.update(stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, padding="SAME")
    pa = default_attrs(OpType.MAX_POOL_2D)
    pa.update(padding="SAME", filter_h=3, filter_w=3, stride_h=1, stride_w=1)
    ops = [Op(OpType.CONV_2D, [x, w, b], [a], ca, name="conv"), Op(OpType.MAX_POOL_2D, [a], [p], pa, name="pool")]
    g = Graph([x, w, b, a, p], ops, [x], [p, a], name="conv_pool")
    g.validate()
    return g


def _driver(g: Graph, name: str = "model") -> str:
    """A host program: for every row of INPUTS it writes each input at <name>_inputK(), then
    mode 0 calls <name>_run(), mode 1 calls <name>_invoke() with the arena pointers themselves
    (the wrapper must not copy a buffer onto itself); it reads each output at <name>_outputK()."""
    single = len(g.inputs) == 1 and len(g.outputs) == 1
    ins = ["input"] if single else [f"input{k}" for k in range(len(g.inputs))]
    outs = ["output"] if single else [f"output{k}" for k in range(len(g.outputs))]
    in_offs, n_in = packed_layout([t.dtype for t in g.inputs], [t.nbytes for t in g.inputs])
    out_offs, n_out = packed_layout([t.dtype for t in g.outputs], [t.nbytes for t in g.outputs])
    write = "".join(
        f"    memcpy((void *){name}_{n}(), row_in + {o}, {t.nbytes});\n"
        for n, t, o in zip(ins, g.inputs, in_offs, strict=True)
    )
    read = "".join(
        f"    memcpy(row_out + {o}, (const void *){name}_{n}(), {t.nbytes});\n"
        for n, t, o in zip(outs, g.outputs, out_offs, strict=True)
    )
    args = [f"{name}_{n}()" for n in ins] + [
        f"({IO_CTYPES[t.dtype]} *){name}_{n}()" for n, t in zip(outs, g.outputs, strict=True)
    ]
    return (
        "#include <stdio.h>\n#include <string.h>\n\n"
        f'#include "{name}.h"\n\n'
        f"static unsigned char row_in[{n_in}], row_out[{n_out}];\n\n"
        "int main(int argc, char **argv) {\n"
        "  FILE *fi, *fo;\n"
        "  if (argc != 4) return 2;\n"
        '  fi = fopen(argv[1], "rb");\n'
        '  fo = fopen(argv[2], "wb");\n'
        "  if (!fi || !fo) return 2;\n"
        f"  while (fread(row_in, 1, {n_in}, fi) == {n_in}) {{\n"
        f"{write}"
        f"    if ((argv[3][0] == '0' ? {name}_run() : {name}_invoke({', '.join(args)})) != 0) return 1;\n"
        f"    memset(row_out, 0, {n_out});\n"
        f"{read}"
        f"    if (fwrite(row_out, 1, {n_out}, fo) != {n_out}) return 2;\n"
        "  }\n"
        "  fclose(fi);\n"
        "  return fclose(fo) == 0 ? 0 : 2;\n"
        "}\n"
    )


def _rows(ts, arrs: list[np.ndarray]) -> np.ndarray:
    offs, total = packed_layout([t.dtype for t in ts], [t.nbytes for t in ts])
    n = arrs[0].shape[0]
    rows = np.zeros((n, total), np.uint8)
    for t, a, o in zip(ts, arrs, offs, strict=True):
        rows[:, o : o + t.nbytes] = np.ascontiguousarray(a.astype(t.np_dtype)).reshape(n, -1).view(np.uint8)
    return rows


def _values(ts, rows: np.ndarray) -> np.ndarray:
    offs, _ = packed_layout([t.dtype for t in ts], [t.nbytes for t in ts])
    parts = [
        np.ascontiguousarray(rows[:, o : o + t.nbytes]).view(t.np_dtype).reshape(len(rows), -1).astype(np.float64)
        for t, o in zip(ts, offs, strict=True)
    ]
    return np.concatenate(parts, axis=1)


def _host_zero_copy(g: Graph, tmp_path: Path, n: int = 6) -> None:
    src = tmp_path / "src"
    compile_c(g).write(src)
    (src / "main.c").write_text(_driver(g))
    exe = tmp_path / "zc"
    cmd = host_cc() + [*WARNINGS, "-O1", "-g", *SANITIZE, "-I", str(src), *map(str, sorted(src.glob("*.c")))]
    r = subprocess.run(cmd + ["-o", str(exe), "-lm"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    arrs = random_inputs(g, n, seed=3)
    arrs = arrs if isinstance(arrs, list) else [arrs]
    ref = picoml.run(g, arrs if len(arrs) > 1 else arrs[0])
    ref = ref if isinstance(ref, list) else [ref]
    want = np.concatenate([np.asarray(v).reshape(n, -1).astype(np.float64) for v in ref], axis=1)
    _rows(g.inputs, arrs).tofile(tmp_path / "in.bin")
    for mode in "01":
        r = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin"), mode], timeout=300)
        assert r.returncode == 0, f"mode {mode}: exit {r.returncode}"
        got = _values(g.outputs, np.fromfile(tmp_path / "out.bin", np.uint8).reshape(n, -1))
        bad, _ = compare(g, got, want)  # integer outputs exactly; float ones within verify's tolerance
        assert not bad.any(), f"mode {mode}: {int(bad.sum())} values differ"


# ------------------------------------------------------------------------------------ the header


def test_header_declares_the_pointers_run_and_invoke():
    c = compile_c(small_model(), "net")
    h, src = c.files["net.h"], c.files["net.c"]
    for decl in (
        "int8_t *net_input(void);",
        "const int8_t *net_output(void);",
        "int net_run(void);",
        "int net_invoke(const int8_t *input, int8_t *output);",
    ):
        assert decl in h, decl
    (i,), (o,) = c.inputs, c.outputs
    assert f"int8_t *net_input(void) {{ return (int8_t *)(void *)(pm_arena.bytes + {i.offset}); }}" in src
    assert f"return (const int8_t *)(void *)(pm_arena.bytes + {o.offset}); }}" in src
    assert "status = net_run();" in src  # invoke wraps the same code
    assert src.count("PM_LAYER_DONE(0);") == 1  # the layers are emitted once, in run()
    assert (i.nbytes, o.nbytes) == (small_model().inputs[0].nbytes, small_model().outputs[0].nbytes)


def test_multi_io_and_typed_pointers():
    h = compile_c(two_by_two(), "net").files["net.h"]
    for decl in ("int8_t *net_input0(void);", "int8_t *net_input1(void);", "const int8_t *net_output1(void);"):
        assert decl in h, decl
    assert "float *net_input(void);" in compile_c(float_cnn(), "net").files["net.h"]
    assert "const float *net_output(void);" in compile_c(float_cnn(), "net").files["net.h"]


def test_regions_are_the_plan():
    g = two_by_two()
    c = compile_c(g)
    plan = plan_memory(g)
    assert [r.offset for r in c.inputs] == [plan.offset_of(t) for t in g.inputs]
    assert [r.name for r in c.outputs] == ["relu", "sum"]
    # two inputs both live at op 0: they never share bytes; nor do two outputs at the last op
    (a, b), (p, s) = c.inputs, c.outputs
    assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset
    assert p.offset + p.nbytes <= s.offset or s.offset + s.nbytes <= p.offset


def test_an_output_the_last_streaming_op_reads_is_not_streamed_over():
    g = conv_then_pool_outputs()
    plan = plan_memory(g)
    a, p = g.outputs[1], g.outputs[0]
    assert not any(a in x.tensors for x, _, _ in plan.streams)
    oa, op_ = plan.offset_of(a), plan.offset_of(p)
    assert oa + a.nbytes <= op_ or op_ + p.nbytes <= oa


# ------------------------------------------------------------------------- host, with sanitizers


@pytest.mark.parametrize(
    "make", [small_model, two_by_two, float_cnn, conv_then_pool_outputs], ids=["int8", "multi_io", "float", "out_read"]
)
def test_host_zero_copy_bit_exact(make, tmp_path):
    _host_zero_copy(make(), tmp_path)


# ------------------------------------------------------------------------------- emulated cores


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus"])
@pytest.mark.parametrize("make", [small_model, two_by_two, float_cnn], ids=["int8", "multi_io", "float"])
def test_emulated_harness_is_zero_copy(make, target, tmp_path):
    """verify writes the inputs into the arena and reads the outputs there: bit-exact (float within
    its tolerance), and the program's .bss is the arena alone (no harness I/O buffers)."""
    g = make()
    rep = verify(g, target, n_inputs=4, work_dir=tmp_path, counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch
    sizes = elf_sizes(tmp_path / f"model_{target}.elf", "model_")
    assert rep.arena_bytes <= sizes.bss_bytes < rep.arena_bytes + 16
    assert rep.ram_bytes == sizes.data_bytes + sizes.bss_bytes + rep.stack_bytes


# ------------------------------------------------------------------------------ RAM: the stack


@pytest.mark.models
def test_widened_rows_leave_the_stack_where_the_arena_has_room():
    """KWS on Armv7E-M: every 4x2 layer widens its rows into arena bytes the plan has free at
    that op (the arena keeps its size), so the stack block shrinks to the 32-byte minimum and the
    peak stack falls (1,036 B when the pointwise rows sat on the stack); still bit-exact. The
    depthwise layers' byte planes (pm_dw_planes, PM_DW_PLANE_MAX bytes) do sit on the stack."""
    g = picoml.load(model_path("kws", "int8"))
    c = compile_c(g, isa=get_target("cortex-m4").isa)
    assert re.search(r"#define PM_CONV_W16_MAX 32\b", c.files["pm_config.h"])
    assert c.arena_bytes == plan_memory(g).arena_bytes
    assert sum(1 for b in c.plan.buffers if b.scratch_of) == 5  # the first conv and the four pointwise
    rep = verify(g, "cortex-m4", n_inputs=2, counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch
    plane = int(re.search(r"#define PM_DW_PLANE_MAX (\d+)\n", c.files["pm_config.h"]).group(1))
    assert 0 < plane <= 1024
    assert rep.stack_bytes < 700 + plane and rep.ram_bytes == rep.arena_bytes + rep.stack_bytes
