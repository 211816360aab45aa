"""`picoml verify`: compile for a target, run N inputs, compare with the reference interpreter,
and report instructions, flash, RAM and whether the model fits the board."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from picoml.codegen import CompiledModel, compile_c
from picoml.codegen.api import packed_layout
from picoml.codegen.isa import Isa
from picoml.errors import PicomlError
from picoml.graph.ir import Graph
from picoml.graph.ops import OpType, op_macs
from picoml.reference import interpreter
from picoml.reference.stream import is_stateful, run_stream
from picoml.targets import simavr
from picoml.targets.catalog import Board, Target, board_for, get_target
from picoml.targets.cycles import timing_for
from picoml.targets.emulator import Emulator, instruction_cap
from picoml.targets.toolchain import build, configure

COUNTED_RUNS = 2  # inferences run with instruction counting; the rest run at full speed

#: float outputs: |C - reference| <= FLOAT_RTOL · |reference| + FLOAT_RTOL · max|reference of that output|.
#: The C kernels accumulate in float32 in their own loop order, the reference interpreter rounds
#: each sum once (float64 accumulation, LiteRT's float semantics), so the two differ by the
#: rounding of partial sums (~6e-8 relative per addition); an output near zero by cancellation
#: carries the absolute error of its large terms, hence the absolute part scaled by the output's
#: largest magnitude (tests/oracles.py uses the same rule against LiteRT). Integer outputs
#: (int8, int32) are compared exactly, also behind float layers.
FLOAT_RTOL = 1e-5
FLOAT_TOLERANCE = (
    f"float outputs within rtol {FLOAT_RTOL:g} + atol {FLOAT_RTOL:g} × max|reference| per output "
    "(float32 summation order); integer outputs exact"
)


@dataclass
class SizeReport:
    flash_code_bytes: int
    flash_weights_bytes: int
    data_bytes: int
    bss_bytes: int


@dataclass
class VerifyReport:
    target: str
    board: str | None
    bit_exact: bool
    mismatches: int
    inputs: int
    instructions: int | None
    layer_instructions: list[dict] = field(default_factory=list)
    macs: int = 0
    instructions_per_mac: float | None = None
    flash_code_bytes: int = 0
    flash_weights_bytes: int = 0
    ram_bytes: int = 0
    arena_bytes: int = 0
    stack_bytes: int = 0
    fits: bool | None = None
    fit_message: str = ""
    latency_ms_lower_bound: float | None = None
    #: estimated cycles per inference (picoml.targets.cycles: the core's published timings on the
    #: executed instructions, zero-wait memory) and on the board: with its flash wait states
    cycles: int | None = None
    cycles_per_mac: float | None = None
    cycle_model: str = ""
    latency_ms: float | None = None
    redirects: int = 0  # taken branches, calls and returns per inference (what flash wait states delay)
    #: cycles measured by a cycle-accurate simulator (simavr, AVR targets) instead of estimated
    measured_cycles: bool = False
    first_mismatch: str = ""
    #: how the C computes float layers, e.g. "hardware FPU (fpv4-sp-d16, hard-float ABI)" or
    #: "soft-float (compiler-rt)"; "" when the model has no float layer (int8 C is float-free)
    float_mode: str = ""
    tolerance: str = ""  # the comparison rule of float outputs (FLOAT_TOLERANCE); "" when all are integers
    max_abs_error: float | None = None  # largest |C - reference| over the float outputs
    weights_encoding: list[dict] = field(default_factory=list)  # per GEMM layer: density, encoding, bytes
    #: residual blocks run row by row (picoml.plan.fusion): their layers, buffers and extra work
    fused: list[dict] = field(default_factory=list)
    #: how the C was built: toolchain, compiler (its --version line), opt (-O flag), float_abi, cflags
    build: dict = field(default_factory=dict)
    #: the library that was built and run (its arena plan and encodings), for reports; not in to_json
    compiled: CompiledModel | None = field(default=None, repr=False, compare=False)
    #: what the C computed: one row per inference, every output's values back to back (int8; int64 if an
    #: output is int32; float64 if an output is float32); not in to_json
    outputs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        d = asdict(replace(self, compiled=None, outputs=None))
        del d["compiled"], d["outputs"]
        return d


def elf_sizes(elf_path: Path, weight_prefix: str) -> SizeReport:
    """Flash split into code (.text and non-weight read-only data) and weights (model constants:
    in .rodata, or on AVR in .text, where avr-gcc's linker script puts program-memory data)."""
    from elftools.elf.elffile import ELFFile

    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        sec = {s.name: s for s in elf.iter_sections()}

        def size(name: str) -> int:
            return sec[name]["sh_size"] if name in sec else 0

        weights = 0
        symtab = elf.get_section_by_name(".symtab")
        for ro in (sec.get(".rodata"), sec.get(".text")):
            if ro is None or symtab is None:
                continue
            lo, hi = ro["sh_addr"], ro["sh_addr"] + ro["sh_size"]
            weights += sum(
                s["st_size"]
                for s in symtab.iter_symbols()
                if s["st_info"]["type"] == "STT_OBJECT"
                and lo <= s["st_value"] < hi
                and s.name.startswith(weight_prefix)
            )
        return SizeReport(size(".text") + size(".rodata") - weights, weights, size(".data"), size(".bss"))


def soft_float_symbols(elf_path: Path) -> list[str]:
    """Names of soft-float helper functions linked into an ELF (proof the code is float-free when empty)."""
    import fnmatch

    from elftools.elf.elffile import ELFFile

    pats = ["__aeabi_f*", "__aeabi_d*", "__*sf*", "__*df*"]
    with open(elf_path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        names = {s.name for s in symtab.iter_symbols()} if symtab else set()
    return sorted(n.split(".")[-1] for n in names if any(fnmatch.fnmatch(n.split(".")[-1], p) for p in pats))


def fit_check(board: Board | None, flash: int, ram: int) -> tuple[bool | None, str]:
    if board is None:
        return None, ""
    problems = []
    if ram > board.ram_bytes:
        problems.append(f"needs {ram / 1024:.1f} KB RAM, {board.name} has {board.ram_bytes / 1024:.0f} KB")
    if flash > board.flash_bytes:
        problems.append(f"needs {flash / 1024:.1f} KB flash, {board.name} has {board.flash_bytes / 1024:.0f} KB")
    if problems:
        return False, "does not fit: " + "; ".join(problems)
    return (
        True,
        f"fits {board.name}: RAM {ram / 1024:.1f}/{board.ram_bytes / 1024:.0f} KB, flash {flash / 1024:.1f}/{board.flash_bytes / 1024:.0f} KB",
    )


def _float_input(g: Graph, t, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random float32 values for input ``t``: uniform over the int8 range of the QUANTIZE that
    reads it (an int8 model with a float interface), else the input's own quantization if it has
    one, else N(0, 1)."""
    q = next((op.outputs[0] for op in g.ops if op.type == OpType.QUANTIZE and op.inputs[0] is t), None)
    q = q if q is not None and q.quantized else (t if t.quantized else None)
    if q is None:
        return rng.standard_normal((n,) + t.shape).astype(np.float32)
    s, zp = float(q.scale[0]), int(q.zero_point[0])
    return rng.uniform(s * (-128 - zp), s * (127 - zp), (n,) + t.shape).astype(np.float32)


def random_inputs(g: Graph, n: int, seed: int = 0) -> np.ndarray | list[np.ndarray]:
    """n random inputs of each input's own dtype: an array (n, *shape) for a one-input model, else
    one such per input (int8: every code; an int32 input, which holds indices, gets zeros; a bool
    input random 0 / 1; float32: ``_float_input``)."""
    rng = np.random.default_rng(seed)
    xs = [
        np.zeros((n,) + t.shape, np.int32)
        if t.dtype == "int32"
        else rng.integers(0, 2, (n,) + t.shape).astype(np.bool_)  # a mask: 0 or 1
        if t.dtype == "bool"
        else _float_input(g, t, n, rng)
        if t.dtype == "float32"
        else rng.integers(-32768, 32768, (n,) + t.shape, dtype=np.int16)
        if t.dtype == "int16"
        else rng.integers(-128, 128, (n,) + t.shape, dtype=np.int8)
        for t in g.inputs
    ]
    return xs[0] if len(xs) == 1 else xs


def _batches(g: Graph, xs) -> list[np.ndarray]:
    """The inputs as one array (n, *shape) of its dtype per model input."""
    arrs = [xs] if isinstance(xs, np.ndarray) else list(xs)
    if len(arrs) != len(g.inputs):
        raise PicomlError(f"verify: the model has {len(g.inputs)} inputs, got {len(arrs)} arrays")
    out = []
    for t, a in zip(g.inputs, arrs, strict=True):
        a = np.asarray(a)
        if t.shape and t.shape[0] == 1 and tuple(a.shape[1:]) == tuple(t.shape[1:]):
            a = a.reshape((a.shape[0],) + tuple(t.shape))  # samples given without the batch axis of 1
        if t.dtype == "float32":
            if a.dtype.kind not in "fiu" or tuple(a.shape[1:]) != tuple(t.shape) or not np.isfinite(a).all():
                raise PicomlError(
                    f"verify: input {t.name!r} needs finite float32 values of shape (N, {', '.join(map(str, t.shape))}), "
                    f"got {a.dtype} {list(a.shape)}"
                )
            out.append(a.astype(np.float32))
            continue
        ok = a.dtype.kind in "iub" and tuple(a.shape[1:]) == tuple(t.shape)
        # int32: positions (GATHER); bool: masks, given as bool or as 0 / 1
        want = np.dtype({"int32": np.int32, "int16": np.int16, "bool": np.bool_}.get(t.dtype, np.int8))
        lo, hi = (0, 1) if t.dtype == "bool" else (np.iinfo(want).min, np.iinfo(want).max)
        if not ok or (a.size and (a.min() < lo or a.max() > hi)):
            raise PicomlError(
                f"verify: input {t.name!r} needs {want.name} values of shape (N, {', '.join(map(str, t.shape))}), "
                f"got {a.dtype} {list(a.shape)}"
            )
        out.append(a.astype(want))
    if len({a.shape[0] for a in out}) != 1:
        raise PicomlError("verify: the inputs have different numbers of samples")
    return out


def io_layout(ts: list) -> tuple[list[int], int]:
    """Byte offsets of tensors laid back to back in a row of harness bytes, each aligned to its
    element size (int32 indices on 4 bytes), and the row's size (``codegen.api.packed_layout``)."""
    return packed_layout([t.dtype for t in ts], [t.nbytes for t in ts])


def harness_defines(g: Graph, name: str = "model") -> tuple[str, ...]:
    """-D flags that map the host harness's byte buffers (``host_main.c``: every input, then every
    output, back to back, ``io_layout``) to ``<name>_invoke``'s arguments; none for one int8
    input and one int8 output (the harness default). The host harness keeps the copying API;
    the emulated harnesses are zero-copy (``<name>_run()`` on tensors written into the arena)."""
    if len(g.inputs) == 1 and len(g.outputs) == 1 and g.inputs[0].dtype == g.outputs[0].dtype == "int8":
        return ()

    def arg(buf: str, t, off: int) -> str:
        ctype = {"int32": "int32_t", "int16": "int16_t", "bool": "uint8_t", "float32": "float"}.get(t.dtype)
        return f"({buf}) + {off}" if ctype is None else f"({ctype} *)(void *)(({buf}) + {off})"

    (in_offs, n_in), (out_offs, n_out) = io_layout(g.inputs), io_layout(g.outputs)
    args = [arg("in", t, o) for t, o in zip(g.inputs, in_offs, strict=True)]
    args += [arg("out", t, o) for t, o in zip(g.outputs, out_offs, strict=True)]
    return (
        f"-DPM_HARNESS_IN_BYTES={n_in}",
        f"-DPM_HARNESS_OUT_BYTES={n_out}",
        f"-DPM_HARNESS_INVOKE(in,out)={name}_invoke({', '.join(args)})",
    )


def _to_bytes(ts: list, arrs: list[np.ndarray], n: int) -> np.ndarray:
    """Rows of harness bytes (``io_layout``) from one array per tensor with a leading axis of n."""
    offsets, total = io_layout(ts)
    rows = np.zeros((n, total), np.int8)
    for t, a, off in zip(ts, arrs, offsets, strict=True):
        rows[:, off : off + t.nbytes] = (
            np.ascontiguousarray(a.astype(t.np_dtype.newbyteorder("<"))).reshape(n, -1).view(np.int8)
        )
    return rows


def _from_bytes(ts: list, rows: np.ndarray) -> np.ndarray:
    """Harness bytes back to every tensor's values, back to back per row (int8 if all are int8,
    float64 if some output is float32, else int64)."""
    offsets, _ = io_layout(ts)
    n = rows.shape[0]
    parts = [
        np.ascontiguousarray(rows[:, off : off + t.nbytes]).view(t.np_dtype.newbyteorder("<")).reshape(n, -1)
        for t, off in zip(ts, offsets, strict=True)
    ]
    if all(t.dtype == "int8" for t in ts):
        return np.concatenate(parts, axis=1)
    wide = np.float64 if any(t.dtype == "float32" for t in ts) else np.int64
    return np.concatenate([p.astype(wide) for p in parts], axis=1)


def float_mode(g: Graph, target: Target, float_abi: str | None) -> str:
    """How the generated C computes the model's float layers on ``target`` ("" for an all-integer
    model: its C has no float)."""
    if not any(t.dtype == "float32" for op in g.ops for t in op.inputs + op.outputs if t is not None):
        return ""
    if target.zig_target is None:
        return "host FPU"
    fpu = next((f for f in target.features if f.startswith("fpv")), "")
    if target.fpu and float_abi == "hard":
        return (
            f"hardware FPU ({fpu}-d16, hard-float ABI)" if fpu == "fpv4-sp" else f"hardware FPU ({fpu}, hard-float ABI)"
        )
    return "soft-float (compiler helpers: libgcc / compiler-rt)"


def compare(g: Graph, got: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, float | None]:
    """(mismatch mask, largest float error): integer columns exact, float columns within
    FLOAT_TOLERANCE (per output: rtol · |ref| + rtol · max|ref|)."""
    bad = np.zeros(got.shape, bool)
    err = None
    j = 0
    for t in g.outputs:
        a, e = got[:, j : j + t.size].astype(np.float64), expected[:, j : j + t.size].astype(np.float64)
        if t.dtype == "float32":
            with np.errstate(invalid="ignore"):
                diff = np.abs(a - e)
            finite_e = np.abs(e[np.isfinite(e)])
            scale = float(finite_e.max()) if finite_e.size else 0.0
            with np.errstate(invalid="ignore"):
                ok = (a == e) | (np.isnan(a) & np.isnan(e)) | (diff <= FLOAT_RTOL * np.abs(e) + FLOAT_RTOL * scale)
            bad[:, j : j + t.size] = ~ok
            finite = diff[np.isfinite(diff)]
            err = max(err or 0.0, float(finite.max()) if finite.size else 0.0)
        else:
            bad[:, j : j + t.size] = a != e
        j += t.size
    return bad, err


def _where(g: Graph, j: int) -> str:
    """Output ``j`` of the outputs laid back to back, as the model names it."""
    for k, t in enumerate(g.outputs):
        if j < t.size:
            return f"output[{j}]" if len(g.outputs) == 1 else f"output {k} ({t.name!r})[{j}]"
        j -= t.size
    return f"output[{j}]"


def verify(
    g: Graph,
    target_name: str,
    n_inputs: int = 20,
    xs: np.ndarray | list[np.ndarray] | None = None,
    opt: str | None = None,
    sanitize: bool = False,
    work_dir: Path | None = None,
    progress=None,
    counted_runs: int = COUNTED_RUNS,
    sparse: bool = True,
    max_memory: int | None = None,
    isa: Isa | str | None = None,
    toolchain: str | None = None,
    float_abi: str | None = None,
    fuse: bool = True,
) -> VerifyReport:
    """Compile g for the target, run n inputs, compare with picoml.run, measure.

    ``xs``: inputs of each input's dtype (int8, int32 positions, float32), an array (N, *shape) for
    a one-input model, else one per input (the model's order); default ``random_inputs``. Several
    outputs are compared together: integer outputs exactly, float32 outputs within
    ``FLOAT_TOLERANCE`` (``bit_exact`` then means "no value outside it"; ``max_abs_error`` is the
    largest float difference; ``float_mode`` says whether float layers ran on an FPU or in soft
    float).

    ``isa``: the kernel variant set to generate (default the target's ``Target.isa``); another
    one runs only where it is a subset of the core's (portable C anywhere, Armv6-M layouts
    through their portable C twins on the host, ...), which the kernel-variant tests use.

    ``toolchain`` (``zig``, the default, or ``gcc``), ``opt`` (``speed``: -O2, the default;
    ``size``: -Os; or an -O flag) and ``float_abi`` (``hard``, the default on FPU cores, or
    ``soft``) choose the build (``picoml.targets.toolchain.configure``); the report's ``build``
    says what was used.

    The first ``counted_runs`` inferences count instructions (reported as their mean); the
    rest run at full emulator speed and only check outputs."""

    target: Target = get_target(target_name)
    config = configure(target, toolchain, opt, float_abi)  # a choice that cannot build fails here, first
    board = board_for(target_name)
    isa = target.isa if isa is None else isa
    arrs = _batches(g, random_inputs(g, n_inputs) if xs is None else xs)
    n = arrs[0].shape[0]
    ref = interpreter.run(g, arrs if len(arrs) > 1 else arrs[0], max_memory=max_memory)
    ref = ref if isinstance(ref, list) else [ref]
    if is_stateful(g) and len(arrs) == 1:  # the C keeps state across inputs: they are one stream (branch signal)
        st = run_stream(g, arrs[0][None], all_tensors=True)
        ref = [np.asarray(st[t.name][0]) for t in g.outputs]
    wide = np.float64 if any(t.dtype == "float32" for t in g.outputs) else np.int64
    expected = np.concatenate([np.asarray(r).reshape(n, -1).astype(wide) for r in ref], axis=1)
    xs = _to_bytes(g.inputs, arrs, n)  # one row of bytes per inference
    tmp = tempfile.TemporaryDirectory() if work_dir is None else None
    d = Path(tmp.name if tmp else work_dir)
    try:
        src = d / "src"
        compiled = compile_c(g, name="model", isa=isa, sparse=sparse, fuse=fuse)
        compiled.write(src)
        exe = d / ("model_host" if target.zig_target is None else f"model_{target.name}.elf")
        # the host harness copies (model_invoke); the emulated ones are zero-copy (model_run)
        io = harness_defines(g) if target.emulator is None else ()
        build(src, target, exe, sanitize=sanitize, extra=io, config=config)
        macs = sum(op_macs(op) for op in g.ops)
        arena = compiled.arena_bytes
        if target.emulator is None:
            got = _from_bytes(g.outputs, _run_host(exe, xs, d).reshape(len(xs), -1))
            rep = VerifyReport(target.name, None, False, 0, len(xs), None, macs=macs, arena_bytes=arena)
        else:
            if target.emulator == "simavr":
                got, rep = _run_simavr(g, exe, target, xs, compiled, macs, d, board)
            else:
                got, rep = _run_emulated(g, exe, target, xs, compiled, macs, progress, counted_runs)
            got = _from_bytes(g.outputs, got)
            sizes = elf_sizes(exe, "model_")
            rep.flash_code_bytes = sizes.flash_code_bytes
            rep.flash_weights_bytes = sizes.flash_weights_bytes
            rep.ram_bytes = sizes.data_bytes + sizes.bss_bytes + rep.stack_bytes
            rep.fits, rep.fit_message = fit_check(
                board, sizes.flash_code_bytes + sizes.flash_weights_bytes + sizes.data_bytes, rep.ram_bytes
            )
            if board is not None and board.clock_hz and rep.measured_cycles and rep.cycles is not None:
                rep.board = board.name
                rep.latency_ms = rep.cycles / board.clock_hz * 1e3  # measured cycles; AVR flash has no wait states
            elif board is not None and board.clock_hz and rep.instructions:
                rep.board = board.name
                rep.latency_ms_lower_bound = board.latency_ms(rep.instructions)
                if rep.cycles is not None:
                    rep.latency_ms = board.estimated_ms(rep.cycles, rep.redirects)

        rep.weights_encoding = [
            {
                k: e[k]
                for k in (
                    "op",
                    "type",
                    "density",
                    "encoding",
                    "bytes",
                    "dense_bytes",
                    "requant_bytes",
                    "dense_requant_bytes",
                )
            }
            for e in compiled.encodings
        ]
        rep.fused = [f.summary() for f in compiled.plan.fused]
        mask, rep.max_abs_error = compare(g, got, expected)
        bad = np.argwhere(mask)
        rep.float_mode = float_mode(g, target, config.float_abi)
        rep.tolerance = FLOAT_TOLERANCE if any(t.dtype == "float32" for t in g.outputs) else ""
        rep.mismatches = int(len(bad))
        rep.bit_exact = rep.mismatches == 0
        if rep.first_mismatch.startswith("not run"):  # an AVR program too large for its part
            rep.bit_exact, rep.mismatches = False, int(expected.size)
        elif len(bad):
            i, j = bad[0]
            rep.first_mismatch = f"input {i} {_where(g, int(j))}: got {got[i, j]}, reference {expected[i, j]}"
        rep.build = config.describe()
        rep.compiled, rep.outputs = compiled, got
        return rep
    finally:
        if tmp is not None:
            tmp.cleanup()


def _run_host(exe: Path, xs: np.ndarray, d: Path) -> np.ndarray:
    import subprocess

    inp, out = d / "inputs.bin", d / "outputs.bin"
    xs.astype(np.int8).tofile(inp)
    r = subprocess.run([str(exe), str(inp), str(out)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        first = (r.stderr.strip().splitlines() or ["no output"])[0]
        raise PicomlError(f"host model run failed (exit {r.returncode}): {first}")
    return np.fromfile(out, np.int8)


def _not_run(g: Graph, target: Target, xs: np.ndarray, macs: int, arena: int, stack: int, why: str):
    """The report of an AVR program that cannot run on the part (verify's sizes say by how much)."""
    rep = VerifyReport(target.name, None, False, 0, len(xs), None, macs=macs, arena_bytes=arena, stack_bytes=stack)
    rep.measured_cycles = True
    rep.first_mismatch = f"not run on {target.name}: {why} (the model needs more SRAM than the part has)"
    rep.cycle_model = "not measured: the program does not fit the part"
    return np.zeros((len(xs), io_layout(g.outputs)[1]), np.int8), rep


def _run_simavr(
    g: Graph, exe: Path, target: Target, xs: np.ndarray, compiled: CompiledModel, macs: int, d: Path, board
):
    """Every inference in simavr (picoml.targets.simavr): outputs, measured cycles, stack."""
    arena = compiled.arena_bytes
    clock = board.clock_hz if board is not None and board.clock_hz else 16_000_000
    sizes = elf_sizes(exe, "model_")
    static_ram = sizes.data_bytes + sizes.bss_bytes
    if board is not None and static_ram >= board.ram_bytes:  # nothing to run: it cannot start on the part
        return _not_run(
            g, target, xs, macs, arena, 0, f"its static data ({static_ram:,} B) exceeds {board.name}'s SRAM"
        )
    r = simavr.run(exe, target.name, clock, xs, compiled.inputs, compiled.outputs, d)
    if r.overflow:  # the deepest SP seen, and at least one byte more than the part has: it does not fit
        free = board.ram_bytes - static_ram if board is not None else 0
        stack = max(r.stack_bytes, free + 1)
        return _not_run(
            g, target, xs, macs, arena, stack, f"the stack (at least {stack:,} B) overflowed the {free:,} B left free"
        )
    bad = [i for i, s in enumerate(r.status) if s != 0]
    if bad:
        raise PicomlError(f"model_run returned status {r.status[bad[0]]} on {target.name}")
    cyc = int(round(np.mean(r.cycles)))
    layers = r.layer_cycles[0] if r.layer_cycles else []
    per_layer = [
        {
            "op": op.type,
            "name": op.name,
            "instructions": None,
            "macs": op_macs(op),
            "instructions_per_mac": None,
            "cycles": layers[k] if k < len(layers) else None,
        }
        for k, op in enumerate(g.ops)
    ]
    rep = VerifyReport(
        target.name, None, False, 0, len(xs), None, per_layer, macs, None, arena_bytes=arena, stack_bytes=r.stack_bytes
    )
    rep.cycles, rep.cycles_per_mac = cyc, (cyc / macs) if macs else None
    rep.measured_cycles = True
    rep.cycle_model = (
        f"simavr's cycle counter, mean of {len(xs)} inferences "
        f"({min(r.cycles):,}-{max(r.cycles):,}), at {clock / 1e6:g} MHz"
    )
    return r.outputs, rep


def _run_emulated(
    g: Graph,
    exe: Path,
    target: Target,
    xs: np.ndarray,
    compiled: CompiledModel,
    macs: int,
    progress,
    counted_runs: int = COUNTED_RUNS,
):
    arena = compiled.arena_bytes
    cycles: list[int] = []
    redirects: list[int] = []
    layer_cycles: list[int] = []
    soft = not target.fpu and any(t.dtype == "float32" for op in g.ops for t in op.inputs + op.outputs if t)
    cap = instruction_cap(macs, soft)
    em = Emulator(exe, target.emulator, target.name, compiled.inputs, compiled.outputs, max_instructions=cap)
    outs, counts, layers, stack = [], [], None, 0
    for i, x in enumerate(xs):
        counted = i < counted_runs
        r = em.run(x, count=counted)
        if r.status != 0:
            raise PicomlError(f"model_run returned status {r.status} on {target.name}")
        outs.append(r.output)
        stack = max(stack, r.stack_bytes)
        if counted:
            counts.append(r.instructions)
            layers = r.layer_instructions
            if r.cycles is not None:
                cycles.append(r.cycles)
                redirects.append(r.redirects)
                layer_cycles = r.layer_cycles
        if progress:
            progress(i + 1, len(xs))
    instr = int(round(np.mean(counts))) if counts else None
    cyc = int(round(np.mean(cycles))) if cycles else None
    per_layer = []
    for k, (op, n) in enumerate(zip(g.ops, layers or [], strict=False)):
        m = op_macs(op)
        per_layer.append(
            {
                "op": op.type,
                "name": op.name,
                "instructions": n,
                "macs": m,
                "instructions_per_mac": (n / m) if m else None,
                "cycles": layer_cycles[k] if k < len(layer_cycles) else None,
            }
        )
    rep = VerifyReport(
        target.name,
        None,
        False,
        0,
        len(xs),
        instr,
        per_layer,
        macs,
        (instr / macs) if instr and macs else None,
        arena_bytes=arena,
        stack_bytes=stack,
    )
    timing = timing_for(target.name)
    if cyc is not None and timing is not None:
        rep.cycles, rep.cycles_per_mac = cyc, (cyc / macs) if macs else None
        rep.redirects = int(round(np.mean(redirects)))
        rep.cycle_model = f"estimate from {timing.reference} timings, zero-wait memory" + (
            "; dual issue not modelled: an upper bound" if timing.upper_bound else ""
        )
    return np.stack(outs), rep
