"""Generated C for STRIDED_SLICE, SLICE, TRANSPOSE, SPLIT, SPLIT_V, UNPACK, PACK, SQUEEZE, EXPAND_DIMS:
bit-exact with the reference interpreter (itself exact with tflite-micro, tests/kernels/
test_slicing.py and test_split_pack.py) on the host under ASan/UBSan and on emulated Cortex-M0+,
Cortex-M4 and RISC-V 32; warning-free for every MCU target; float- and division-free.

Each C build runs a chain of the ops (several outputs, ops with several outputs feeding others),
so one build checks many descriptors; the copy loops themselves are checked against the
reference's indices by the emitter (``emit_movement.check_loops``) and below on random cases."""

from __future__ import annotations

import re
import subprocess
from importlib import resources

import numpy as np
import pytest

from picoml.codegen import compile_c, write_c
from picoml.codegen.emit_movement import MOVEMENT_FILES, check_loops, copy_loops, gather_loops, loop_bytes
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OP_SET, OpType, default_attrs
from picoml.plan import plan_memory
from picoml.reference import KERNELS
from picoml.targets import get_target
from picoml.targets.toolchain import WARNINGS, harness_dir, zig_cc

from oracles import qtensor

RUNTIME_FILES = sorted({f"{s}.{e}" for stems in MOVEMENT_FILES.values() for s in stems for e in "hc"})


def ints(name, values):
    v = np.asarray(values, np.int32)
    return Tensor(name, v.shape, "int32", data=v)


class Chain:
    """Builds an int8 graph op by op; output shapes come from the registry's inference."""

    def __init__(self, shape, q=(0.05, 3)):
        self.q = q
        self.x = qtensor("x", shape, *q)
        self.tensors, self.ops, self.outputs = [self.x], [], []

    def add(self, op_type, inputs, n_out=1, **attrs):
        k = len(self.ops)
        probe = [Tensor(f"t{k}_{j}", (1,)) for j in range(n_out)]
        a = {**default_attrs(op_type), **attrs}
        shapes = OP_SET[op_type].infer(Op(op_type, inputs, probe, a, name=f"op{k}"))
        outs = [qtensor(f"t{k}_{j}", s, *self.q) for j, s in enumerate(shapes)]
        self.tensors += [t for t in inputs if t.data is not None] + outs
        self.ops.append(Op(op_type, inputs, outs, a, name=f"op{k}"))
        return outs if n_out > 1 else outs[0]

    def graph(self, *outputs) -> Graph:
        g = Graph(self.tensors, self.ops, [self.x], list(outputs), name="chain")
        g.validate()
        return g


def slices_graph() -> Graph:
    """x → STRIDED_SLICE (negative strides, masks) → TRANSPOSE → SLICE; a second STRIDED_SLICE
    (shrink, reversed, every other element); three outputs."""
    c = Chain((2, 5, 4, 3))
    a = c.add(
        OpType.STRIDED_SLICE,
        [c.x, ints("b0", [0, -1, 0, 2]), ints("e0", [2, 0, 4, -4]), ints("s0", [1, -2, 1, -1])],
        begin_mask=0b0100,
        shrink_axis_mask=0,
    )
    t = c.add(OpType.TRANSPOSE, [a, ints("p0", [3, 1, 0, 2])])
    s = c.add(OpType.SLICE, [t, ints("b1", [0, 1, 0, 1]), ints("z1", [-1, 1, 2, 3])])
    e = c.add(
        OpType.STRIDED_SLICE,
        [c.x, ints("b2", [1, 0, 2, 0]), ints("e2", [2, 4, 0, 3]), ints("s2", [1, 1, -1, 2])],
        shrink_axis_mask=0b001,
        end_mask=0b100,
    )
    return c.graph(s, e, t)


def splits_graph() -> Graph:
    """x → SPLIT (3 parts) → part 0: UNPACK (4 outputs) → PACK; part 1: SPLIT_V (2 outputs);
    part 2: EXPAND_DIMS → TRANSPOSE → SQUEEZE. Five outputs, a multi-output op feeding others."""
    c = Chain((3, 6, 4))
    p0, p1, p2 = c.add(OpType.SPLIT, [c.x, ints("axis", -2)], 3, num_splits=3)
    us = c.add(OpType.UNPACK, [p0], 4, num=4, axis=-1)
    pk = c.add(OpType.PACK, us[::-1], values_count=4, axis=1)
    v0, v1 = c.add(OpType.SPLIT_V, [p1, ints("sz", [1, -1]), ints("ax", [0])], 2, num_splits=2)
    ex = c.add(OpType.EXPAND_DIMS, [p2, ints("ax2", [1])])
    tr = c.add(OpType.TRANSPOSE, [ex, ints("perm", [3, 1, 0, 2])])
    sq = c.add(OpType.SQUEEZE, [tr], squeeze_dims=(1,))
    return c.graph(pk, v0, v1, sq, us[2])


def random_graph(seed: int) -> Graph:
    """A random STRIDED_SLICE → TRANSPOSE → SPLIT chain (rank 1-4, any masks TFLM takes)."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 5, rng.integers(1, 5)))
    r = len(shape)
    c = Chain(shape, (0.1, int(rng.integers(-128, 128))))
    while True:
        b, e = rng.integers(-5, 6, r), rng.integers(-5, 6, r)
        s = rng.choice([-2, -1, 1, 1, 2], r)
        masks = {k: int(rng.integers(0, 1 << r)) for k in ("begin_mask", "end_mask")}
        masks["shrink_axis_mask"] = int(rng.integers(0, 1 << r)) & ~(1 << (r - 1)) if r > 1 else 0
        try:
            out = c.add(OpType.STRIDED_SLICE, [c.x, ints("b", b), ints("e", e), ints("s", s)], **masks)
        except Exception:
            c.ops, c.tensors = [], [c.x]
            continue
        if 0 not in out.shape:
            break
        c.ops, c.tensors = [], [c.x]
    perm = rng.permutation(len(out.shape))
    t = c.add(OpType.TRANSPOSE, [out, ints("p", perm)])
    ax = int(np.argmax(t.shape))
    parts = c.add(OpType.SPLIT, [t, ints("a", [ax])], t.shape[ax], num_splits=t.shape[ax]) if t.shape[ax] > 1 else [t]
    return c.graph(*parts) if t.shape[ax] > 1 else c.graph(t)


def check(g, target="host", n=4, what=""):
    rep = verify(g, target, n_inputs=n, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{what} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def test_slices_host():
    check(slices_graph(), what="slices")


def test_splits_host():
    check(splits_graph(), what="splits")


@pytest.mark.parametrize("seed", range(4))
def test_random_chains_host(seed):
    check(random_graph(seed), what=f"random chain {seed}")


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_emulated(target):
    check(slices_graph(), target, 3, "slices")
    check(splits_graph(), target, 3, "splits")


# ---------------------------------------------------------------------------- the copy loops
def test_copy_loops_merge_and_run():
    # a contiguous block is one run; a row slice is one loop of runs; a transpose reads elements
    assert copy_loops([(2, 12), (3, 4), (4, 1)], 0, 1, "t") == copy_loops([(24, 1)], 0, 1, "t")
    lp = copy_loops([(2, 12), (2, 4), (4, 1)], 4, 2, "t")
    assert (lp.extent, lp.stride, lp.offset, lp.run) == ((2,), (24,), 8, 16)  # rows of 8 2-byte values
    lp = copy_loops([(4, 1), (3, 4)], 0, 1, "t")
    assert (lp.extent, lp.stride, lp.run) == ((4, 3), (1, 4), 1)
    assert copy_loops([(1, 5), (1, 7)], 3, 1, "t").extent == ()


@pytest.mark.parametrize("seed", range(40))
def test_copy_loops_read_the_reference_elements(seed):
    """Every op of random graphs: the descriptor reads exactly the reference's source indices, for
    element sizes 1, 2 and 4 (check_loops raises otherwise)."""
    g = random_graph(seed)
    for op in g.ops:
        if op.type in (OpType.STRIDED_SLICE, OpType.TRANSPOSE):
            p = KERNELS[op.type].prepare(op)
            for size in (1, 2, 4):
                check_loops(gather_loops(p, size, op.label), p, size, op.label)
    bad = gather_loops(KERNELS[OpType.TRANSPOSE].prepare(g.ops[1]), 1, "t")
    if len(loop_bytes(bad)) > 1:
        shifted = type(bad)(bad.extent, bad.stride, bad.offset + 1, bad.run)
        with pytest.raises(AssertionError, match="do not read"):
            check_loops(shifted, KERNELS[OpType.TRANSPOSE].prepare(g.ops[1]), 1, "t")


# ---------------------------------------------------------------------------- memory plan
def test_squeeze_and_expand_dims_cost_no_ram_and_no_code():
    c = Chain((1, 8, 1, 16))
    s = c.add(OpType.SQUEEZE, [c.x])
    e = c.add(OpType.EXPAND_DIMS, [s, ints("ax", [0])])
    t = c.add(OpType.TRANSPOSE, [e, ints("p", [0, 2, 1])])
    g = c.graph(t)
    plan = plan_memory(g)
    assert plan.offset_of(c.x) == plan.offset_of(s) == plan.offset_of(e)
    assert plan.arena_bytes == 2 * 128  # the input (aliased twice) and the transpose's output
    src = compile_c(g).files["model.c"]
    assert src.count("pm_strided_copy(") == 1 and "memmove" not in src


def test_outputs_of_a_split_live_until_their_last_reader():
    """Each output of a multi-output op is its own buffer, born at the op, dead after its own
    last reader (an output of the graph lives to the end)."""
    g = splits_graph()
    plan = plan_memory(g)
    split = g.ops[0]
    bufs = {t.name: b for b in plan.buffers for t in b.tensors}
    for y in split.outputs:
        assert bufs[y.name].first == 0
    assert bufs[split.outputs[0].name].last == 1  # read by UNPACK only
    for b1 in plan.buffers:
        for b2 in plan.buffers:
            if b1 is not b2 and b1.overlaps(b2):  # live together: disjoint bytes
                assert b1.offset + b1.size <= b2.offset or b2.offset + b2.size <= b1.offset


# ---------------------------------------------------------------------------- builds
def _all_op_graphs():
    return {"slices": slices_graph(), "splits": splits_graph()}


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
        assert any("pm_strided_copy" in o.name for o in kernels) and any("pm_data_s8" in o.name for o in kernels)
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


# ---------------------------------------------------------------------------- end to end
class _Net:
    """A PyTorch model whose data movement becomes every new op: chunk (SPLIT), unbind (UNPACK),
    stack (PACK), slicing (STRIDED_SLICE), transpose (TRANSPOSE), unsqueeze / squeeze."""

    @staticmethod
    def build():
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                torch.manual_seed(0)
                self.conv = nn.Conv2d(3, 8, 3, padding=1)
                self.head = nn.Linear(4 * 4 * 3, 5)

            def forward(self, x):
                y = torch.relu(self.conv(x))  # (N, 8, 6, 6)
                a, b = torch.chunk(y, 2, dim=1)  # SPLIT on the channel axis
                rows = torch.unbind(a[:, :, 1:5], dim=2)  # STRIDED_SLICE, UNPACK: 4 × (N, 4, 6)
                s = torch.stack([rows[0], rows[3], rows[1], rows[2]], dim=3)  # PACK: (N, 4, 6, 4)
                t = b[:, :, ::2, 1:5].transpose(2, 3) + s.transpose(2, 3)[:, :, :, :3]
                return self.head(t.flatten(1)), s[:, :2]

        return Net().eval()


def test_quantized_pytorch_model_end_to_end():
    """from_torch → PTQ → tflite-micro (int8, every output) == picoml == generated C (host,
    sanitizers): the several-output ops get their input's parameters, PACK's inputs the output's."""
    import torch

    import picoml
    from picoml.frontends.onnx import to_graph_layout

    from oracles import tflm_interpreter, to_tflite

    net = _Net.build()
    x = torch.randn(16, 3, 6, 6, generator=torch.Generator().manual_seed(1))
    g = picoml.from_torch(net, x[:1])
    kinds = {op.type for op in g.ops}
    assert {OpType.SPLIT, OpType.UNPACK, OpType.PACK, OpType.STRIDED_SLICE, OpType.TRANSPOSE} <= kinds
    q = picoml.quantize(g, to_graph_layout(x.numpy()))
    for op in q.ops:
        if op.type in (OpType.SPLIT, OpType.UNPACK, OpType.STRIDED_SLICE, OpType.TRANSPOSE):
            for y in op.outputs:
                assert (y.scale[0], y.zero_point[0]) == (op.inputs[0].scale[0], op.inputs[0].zero_point[0])
        if op.type == OpType.PACK:
            for t in op.inputs:
                assert (t.scale[0], t.zero_point[0]) == (op.outputs[0].scale[0], op.outputs[0].zero_point[0])
    xq = np.random.default_rng(2).integers(-128, 128, (6, *q.inputs[0].shape)).astype(np.int8)
    got = picoml.run(q, xq)
    ip = tflm_interpreter(to_tflite(q))
    for i in range(len(xq)):
        ip.set_input(xq[i], 0)
        ip.invoke()
        for k in range(len(q.outputs)):
            np.testing.assert_array_equal(ip.get_output(k), got[k][i], err_msg=f"sample {i} output {k}")
    rep = verify(q, "host", xs=xq, sanitize=True, counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch
