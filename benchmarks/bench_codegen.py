"""Generated C vs tflite-micro (and LiteRT): RAM, flash, speed and host latency, side by side, in one run.

    .venv/bin/python benchmarks/bench_codegen.py [--models DIR] [--quick] [--out DIR]

For every ``*_int8.tflite`` in --models (default $PICOML_MODELS, else ../shared/models: KWS, ResNet-8, AD),
and (unless --quick or --no-vww) a fourth model picoml builds itself: the MLPerf Tiny visual wake
words shape, MobileNetV1-0.25 on 96x96x3 with trained-scale int8 weights
(tests/codegen/mobilenet_int8.py), written as a .tflite into the run's temporary directory so that
tflite-micro and LiteRT run the same file side by side (nothing is downloaded):

RAM     picoml on emulated cortex-m4 at -O2 (``picoml.flows.verify``): .data + .bss (the
        planned arena, which holds the input and the output: the harness is zero-copy, it
        writes the input into the arena and reads the output there) + peak stack measured in
        the emulator, vs the arena bytes tflite-micro reports with ``print_allocations()`` after
        one invoke (captured at the file-descriptor level: the C++ side prints, not Python).
Flash   code bytes on cortex-m4 at -Os and -O2, weights apart. Two figures: verify's
        ``flash_code_bytes`` (.text + .rodata minus the model_* constants, so it includes the
        harness's startup, libc helpers, compiler runtime and padding) and the sum of the
        symbols DWARF attributes to the generated model.c and pm_*.c alone (pyelftools).
Speed   instructions of one inference counted in the emulator on cortex-m4, cortex-m0plus and
        riscv32 at -O2 (exact and deterministic), per MAC and per layer.
Host    the generated C built by the host cc at -O3 -march=native into a shared library and called through
        ctypes, tflite-micro ``invoke`` and LiteRT (XNNPACK, one thread) in this process on the
        same int8 input: median µs per inference over interleaved batches.

Nothing is reported unless it is bit-exact first: every emulated run against the reference
interpreter (verify), and the host library against tflite-micro and the reference on several
inputs. LiteRT's int8 kernels may round differently; its agreement is reported, not enforced.
Prints the tables and writes codegen.md and codegen.json to --out (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from picoml.targets import BOARDS

ROOT = Path(__file__).resolve().parents[1]
# $PICOML_MODELS (relative: from the repository root, as in the Makefile and tests/oracles.py), default ../shared/models
MODELS = (ROOT / Path(os.environ.get("PICOML_MODELS") or Path("..", "shared", "models")).expanduser()).resolve()
OUT = ROOT / "benchmarks" / "results"

LABELS = {"kws": "KWS", "resnet8": "ResNet-8", "ad": "AD"}  # shipped models, in this order
VWW = "vww"  # built here (tests/codegen/mobilenet_int8.py), not shipped
LABELS[VWW] = "VWW (MobileNetV1 0.25, 96x96, picoml-built)"
SPEED_TARGETS = ("cortex-m4", "cortex-m0plus", "riscv32")
MAIN_TARGET = "cortex-m4"  # RAM and flash
SPEED_OPT = "-O2"
FLASH_OPTS = ("-Os", "-O2")
# a host build is for this machine: let the compiler vectorize for it (what a user of
# `picoml compile --target host` would do for a desktop/server deployment)
HOST_FLAGS = ("-O3", "-march=native")
HOST_OPT = " ".join(HOST_FLAGS)
TFLM_ARENA_GIVEN = 1 << 20  # arena handed to tflite-micro; print_allocations reports what it used
WEIGHT_PREFIX = "model_"  # generated constants (weights, biases, requant records, layer params)

AIMS = {
    "ram_ratio_max": 0.5,  # picoml RAM / tflite-micro arena, every model (issue 17)
    "cycles_ratio_max": 0.9,  # cortex-m4 est. cycles / best published MLPerf Tiny cycles, every model (issue 17)
    "kws_code_os_max": 6 * 1024,  # KWS code bytes at -Os on cortex-m4 (issue 17)
    "kws_ipm_max": {"cortex-m4": 2.0, "cortex-m0plus": 4.5},  # KWS instructions per MAC (m0plus: issue 17)
    "host_speedup_min": 10.0,  # tflite-micro µs / picoml µs, every model
}

QUOTED_NOTE = "quoted from issue 3, not measured here"
QUOTED = {
    "note": QUOTED_NOTE,
    "cmsis_nn_kws": {
        "source": "CMSIS-NN commit 99f736a6, zig clang -O2, instructions counted in unicorn",
        "cortex-m4": {"instructions": 8_740_000, "instructions_per_mac": 3.29},
        "cortex-m0plus": {"instructions": 23_850_000, "instructions_per_mac": 8.98},
    },
    "x_cube_ai_kws": {
        "source": "ST X-CUBE-AI on a real Cortex-M4",
        "cycles_per_mac": 1.95,
        "unit": "cycles (not instructions) per MAC, approximate",
    },
    # best published MLPerf Tiny v1.x latencies on the reference board (STM32L4R5, Cortex-M4F at
    # 120 MHz), as quoted in issue 17: milliseconds per inference, measured on the board
    "mlperf_tiny_stm32l4r5_ms": {
        "kws": ("X-CUBE-AI", 43.2),
        "resnet8": ("X-CUBE-AI", 165.1),
        "ad": ("Plumerai", 4.05),
        VWW: ("X-CUBE-AI", 88.9),  # = 10.7 M cycles at 120 MHz
    },
}
REFERENCE_BOARD = "stm32l4r5"
CYCLE_TARGETS = ("cortex-m4", "cortex-m0plus")  # per-layer estimated cycles (issue 17)


# ---------------------------------------------------------------- capture C/C++ output
def run_captured(fn: Callable[[], object]) -> tuple[object, str]:
    """Call fn with file descriptors 1 and 2 redirected into a temporary file; return (result,
    text). C and C++ code writes to the descriptors directly, past Python's sys.stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    libc = ctypes.CDLL(None)
    with tempfile.TemporaryFile() as f:
        saved = (os.dup(1), os.dup(2))
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            result = fn()
        finally:
            libc.fflush(None)  # stdio buffers of the C side, before the descriptors go back
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        f.seek(0)
        return result, f.read().decode("utf-8", "replace")


# ---------------------------------------------------------------- tflite-micro arena
ARENA_RE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
SECTION_RE = re.compile(r"'([^']+)' used (\d+) bytes")


def parse_allocations(text: str) -> dict:
    """tflite-micro's RecordingMicroAllocator report → bytes; fails on anything unexpected."""
    found = dict(ARENA_RE.findall(text))
    if set(found) != {"total", "head", "tail"}:
        raise SystemExit(f"could not parse tflite-micro's print_allocations() output:\n{text}")
    total, head, tail = (int(found[k]) for k in ("total", "head", "tail"))
    if total != head + tail:
        raise SystemExit(f"tflite-micro arena total {total} != head {head} + tail {tail}:\n{text}")
    return {
        "arena_bytes": total,
        "head_bytes": head,  # non-persistent: activations, planned
        "tail_bytes": tail,  # persistent: tensor structs, node/registration, op data
        "sections": {name: int(n) for name, n in SECTION_RE.findall(text)},
    }


def tflm_interpreter(path: Path):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_file(str(path), arena_size=TFLM_ARENA_GIVEN)


def tflm_arena(path: Path, x: np.ndarray) -> dict:
    """Arena bytes tflite-micro uses for the model, after one invoke."""
    ip = tflm_interpreter(path)
    ip.set_input(x, 0)
    ip.invoke()
    _, text = run_captured(ip.print_allocations)
    return parse_allocations(text)


# ---------------------------------------------------------------- ELF attribution
def _dwarf_units(elf) -> dict[int, str]:
    """Address → compile unit (source file) of every function and static variable with DWARF."""
    units: dict[int, str] = {}
    if not elf.has_dwarf_info():
        return units
    for cu in elf.get_dwarf_info().iter_CUs():
        top = cu.get_top_DIE()
        name = top.attributes["DW_AT_name"].value.decode() if "DW_AT_name" in top.attributes else "?"
        for die in cu.iter_DIEs():
            at = die.attributes
            if die.tag == "DW_TAG_subprogram" and "DW_AT_low_pc" in at and at["DW_AT_low_pc"].form == "DW_FORM_addr":
                units.setdefault(at["DW_AT_low_pc"].value, name)
            elif die.tag == "DW_TAG_variable" and "DW_AT_location" in at:
                loc = at["DW_AT_location"]
                # DW_OP_addr <4-byte address>: a variable with a fixed address (32-bit targets)
                if loc.form == "DW_FORM_exprloc" and len(loc.value) == 5 and loc.value[0] == 0x03:
                    units.setdefault(int.from_bytes(bytes(loc.value[1:]), "little"), name)
    return units


def _category(unit: str | None, src_dir: Path, harness: Path) -> str:
    if unit is None:
        return "unattributed"
    p = Path(unit)
    if p.parent.resolve() == src_dir.resolve():
        return "model" if p.name == "model.c" else "kernels"
    if p.parent.resolve() == harness.resolve():
        return "harness_libc" if p.name == "pm_libc.c" else "harness_startup"
    return "compiler_runtime"


def elf_breakdown(elf_path: Path, src_dir: Path) -> dict:
    """Flash and RAM of a verify ELF by origin: model.c, pm_* kernels, harness, compiler runtime.

    Symbols are attributed to their compile unit through DWARF (the build keeps -g). Flash counts
    functions and read-only objects except the model_* constants (weights); RAM counts .data and
    .bss objects. Aliases (one address, several names) count once."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    from picoml.targets.toolchain import harness_dir

    harness = harness_dir()
    with open(elf_path, "rb") as f:
        elf = ELFFile(f)
        sections = list(elf.iter_sections())
        units = _dwarf_units(elf)
        symtab = elf.get_section_by_name(".symtab")
        if symtab is None:
            raise SystemExit(f"{elf_path}: no symbol table")
        seen: dict[tuple[int, int], dict] = {}
        for s in symtab.iter_symbols():
            kind = s["st_info"]["type"]
            if kind not in ("STT_FUNC", "STT_OBJECT") or s["st_size"] == 0 or not isinstance(s["st_shndx"], int):
                continue
            sec = sections[s["st_shndx"]]
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC:
                continue
            addr = s["st_value"] & ~1 if kind == "STT_FUNC" else s["st_value"]  # Thumb bit
            key = (addr, s["st_size"])
            name = s.name.rsplit(".", 1)[-1] if s.name.startswith("compiler_rt.") else s.name
            if key in seen:
                continue
            writable = bool(sec["sh_flags"] & SH_FLAGS.SHF_WRITE)
            weight = not writable and kind == "STT_OBJECT" and name.startswith(WEIGHT_PREFIX)
            seen[key] = {
                "name": name,
                "kind": "function" if kind == "STT_FUNC" else "object",
                "section": sec.name,
                "bytes": int(s["st_size"]),
                "memory": "ram" if writable else "flash",
                "origin": "weights" if weight else _category(units.get(addr), src_dir, harness),
            }
    symbols = sorted(seen.values(), key=lambda r: (r["memory"], r["origin"], -r["bytes"], r["name"]))
    flash: dict[str, int] = {}
    ram: dict[str, int] = {}
    for r in symbols:
        bucket = ram if r["memory"] == "ram" else flash
        bucket[r["origin"]] = bucket.get(r["origin"], 0) + r["bytes"]
    if flash.get("model", 0) == 0:
        raise SystemExit(f"{elf_path}: no code attributed to model.c; DWARF attribution failed")
    return {"flash_by_origin": flash, "ram_by_origin": ram, "symbols": symbols}


# ---------------------------------------------------------------- emulated targets
def emulate(g, x: np.ndarray, target: str, opt: str, work: Path) -> dict:
    """One inference of x on an emulated core via verify (instructions counted), checked
    bit-exact with the reference interpreter, with the ELF's size breakdown."""
    from picoml.flows.verify import verify

    wd = work / f"{target}{opt}"
    wd.mkdir(parents=True)
    t0 = time.perf_counter()
    rep = verify(g, target, xs=x[None], opt=opt, work_dir=wd, counted_runs=1)
    if not rep.bit_exact:
        raise SystemExit(f"{target} {opt}: generated C differs from the reference: {rep.first_mismatch}")
    elfs = sorted(wd.glob("*.elf"))
    if len(elfs) != 1:
        raise SystemExit(f"{wd}: expected one ELF from verify, found {[p.name for p in elfs]}")
    bd = elf_breakdown(elfs[0], wd / "src")
    config = wd / "src" / "pm_config.h"
    found = re.search(r"generated for ([\w-]+)", config.read_text()) if config.exists() else None
    own = bd["flash_by_origin"].get("model", 0) + bd["flash_by_origin"].get("kernels", 0)
    listed = sum(v for k, v in bd["flash_by_origin"].items() if k != "weights")
    return {
        "target": target,
        "opt": opt,
        "bit_exact": rep.bit_exact,
        "kernel_variant": found.group(1) if found else "unknown",  # what verify's write_c generated
        "instructions": rep.instructions,
        "macs": rep.macs,
        "instructions_per_mac": rep.instructions_per_mac,
        "cycles": rep.cycles,  # estimated: picoml.targets.cycles (the core's published timings)
        "cycles_per_mac": rep.cycles_per_mac,
        "layers": rep.layer_instructions,
        "flash_code_bytes": rep.flash_code_bytes,  # verify: .text + .rodata - model_* constants
        "flash_code_model_kernels_bytes": own,  # symbols of model.c and pm_*.c only
        "flash_code_unlisted_bytes": rep.flash_code_bytes - listed,  # padding, unnamed rodata
        "flash_weights_bytes": rep.flash_weights_bytes,
        "ram_bytes": rep.ram_bytes,  # .data + .bss + peak stack
        "arena_bytes": rep.arena_bytes,  # planned (plan_memory)
        "stack_bytes": rep.stack_bytes,
        "flash_by_origin": bd["flash_by_origin"],
        "ram_by_origin": bd["ram_by_origin"],
        "symbols": [r for r in bd["symbols"] if r["origin"] != "weights"],  # weights: summed in by_origin
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------- host library
WRAPPER = """\
/* ctypes entry points written by benchmarks/bench_codegen.py: one inference per call, or n in C. */
#include <stdint.h>

#include "model.h"

int bench_invoke(const int8_t *input, int8_t *output) { return model_invoke(input, output); }

int bench_loop(const int8_t *input, int8_t *output, int n) {
  int status = 0;
  int i;
  for (i = 0; i < n; i++) status |= model_invoke(input, output);
  return status;
}
"""


def build_host_library(g, d: Path) -> tuple[Path, list[str]]:
    """Generate the C (host target: the "vector" kernels), add the wrapper, build a shared library with the host cc."""
    from picoml.codegen import write_c
    from picoml.targets import get_target
    from picoml.targets.toolchain import WARNINGS, host_cc

    src = d / "src"
    write_c(g, src, name="model", isa=get_target("host").isa)
    (src / "bench_wrapper.c").write_text(WRAPPER)
    lib = d / "libpicoml_model.so"
    sources = sorted(str(p) for p in src.glob("*.c"))
    # -Bsymbolic: calls inside the library bind to its own symbols (several models load in one process)
    cmd = host_cc() + list(WARNINGS) + [*HOST_FLAGS, "-fPIC", "-shared", "-Wl,-Bsymbolic", "-I", str(src)]
    cmd += sources + ["-o", str(lib)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"host build failed:\n{r.stderr or r.stdout}")
    return lib, cmd


class HostModel:
    """The generated model in a shared library: fixed int8 input/output buffers, ctypes calls."""

    def __init__(self, lib: Path, in_size: int, out_size: int) -> None:
        self.lib = ctypes.CDLL(str(lib))
        self.invoke_fn = self.lib.bench_invoke
        self.invoke_fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.invoke_fn.restype = ctypes.c_int
        self.loop_fn = self.lib.bench_loop
        self.loop_fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        self.loop_fn.restype = ctypes.c_int
        self.inp = np.zeros(in_size, np.int8)
        self.out = np.zeros(out_size, np.int8)
        self.pin, self.pout = self.inp.ctypes.data, self.out.ctypes.data

    def set_input(self, x: np.ndarray) -> None:
        self.inp[:] = np.asarray(x, np.int8).reshape(-1)

    def run(self, x: np.ndarray) -> np.ndarray:
        self.set_input(x)
        status = self.invoke_fn(self.pin, self.pout)
        if status != 0:
            raise SystemExit(f"model_invoke returned {status} on the host")
        return self.out.copy()

    def calls(self, x: np.ndarray, n: int) -> None:
        """n inferences of x, each: copy x into the input buffer, one ctypes call (as the other
        runtimes get set_input + invoke)."""
        fn, a, b, inp, flat = self.invoke_fn, self.pin, self.pout, self.inp, np.ascontiguousarray(x).reshape(-1)
        for _ in range(n):
            inp[:] = flat
            fn(a, b)

    def loop(self, n: int) -> None:
        """n inferences in one call: the C loop, no Python per inference."""
        if self.loop_fn(self.pin, self.pout, n) != 0:
            raise SystemExit("model_invoke returned an error in bench_loop")


def timed(fns: dict[str, Callable[[int], None]], batches: int, batch_s: float) -> dict[str, dict]:
    """Per-inference seconds of each runtime. ``fn(n)`` runs n inferences. Warm-up and calibration
    first (repetitions per batch so a batch lasts about batch_s), then the batches run round-robin
    across the runtimes so a change in machine load hits all of them alike; median of batches."""
    reps: dict[str, int] = {}
    for key, fn in fns.items():
        fn(3)  # warm-up: caches, lazy initialisation, XNNPACK packing
        n = 1
        while True:
            t0 = time.perf_counter()
            fn(n)
            dt = time.perf_counter() - t0
            if dt >= batch_s / 8 or n >= 1 << 22:
                break
            n *= 4
        reps[key] = max(1, round(n * batch_s / max(dt, 1e-9)))
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(batches):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn(reps[key])
            samples[key].append((time.perf_counter() - t0) / reps[key])
    return {
        k: {
            "median_us": statistics.median(v) * 1e6,
            "min_us": min(v) * 1e6,
            "max_us": max(v) * 1e6,
            "batches": batches,
            "inferences_per_batch": reps[k],
        }
        for k, v in samples.items()
    }


def litert_interpreter(path: Path):
    """LiteRT on the int8 model with its default resolver (XNNPACK delegate), one thread; also
    returns whether its log says XNNPACK was created."""
    from ai_edge_litert.interpreter import Interpreter

    def make():
        ip = Interpreter(model_path=str(path), num_threads=1)
        ip.allocate_tensors()
        return ip

    ip, log = run_captured(make)
    return ip, "XNNPACK" in log


def host_latency(g, path: Path, xs: np.ndarray, work: Path, batches: int, batch_s: float) -> dict:
    """picoml's host library vs tflite-micro invoke vs LiteRT invoke, same inputs, one process."""
    import picoml

    lib, cmd = build_host_library(g, work / "host")
    host = HostModel(lib, g.inputs[0].size, g.outputs[0].size)
    tflm = tflm_interpreter(path)
    lite, xnnpack = litert_interpreter(path)
    lin, lout = lite.get_input_details()[0]["index"], lite.get_output_details()[0]["index"]

    reference = picoml.run(g, xs).reshape(len(xs), -1)
    lite_equal = lite_total = lite_maxdiff = 0
    for i, x in enumerate(xs):
        ours = host.run(x)
        tflm.set_input(x, 0)
        tflm.invoke()
        theirs = np.asarray(tflm.get_output(0)).reshape(-1)
        if not (np.array_equal(ours, theirs) and np.array_equal(ours, reference[i])):
            j = int(np.flatnonzero((ours != theirs) | (ours != reference[i]))[0])
            raise SystemExit(
                f"{path.name} input {i} output[{j}]: host picoml {ours[j]}, tflite-micro {theirs[j]}, "
                f"reference {reference[i][j]}; not benchmarking a wrong result"
            )
        lite.set_tensor(lin, x.reshape(lite_shape(lite)))
        lite.invoke()
        lo = lite.get_tensor(lout).reshape(-1).copy()
        if i == 0:
            lite_first = lo
        lite_equal += int((lo == ours).sum())
        lite_total += lo.size
        lite_maxdiff = max(lite_maxdiff, int(np.abs(lo.astype(np.int16) - ours.astype(np.int16)).max()))

    # The timed input, identical for the three runtimes. Each inference copies it in first:
    # tflite-micro's planner reuses the input tensor's bytes for later activations, so invoke()
    # alone would compute on a clobbered input from the second call on.
    x0 = xs[0]
    x0_lite = np.ascontiguousarray(x0.reshape(lite_shape(lite)))

    def picoml_n(n: int) -> None:
        host.calls(x0, n)

    def c_loop_n(n: int) -> None:
        host.set_input(x0)
        host.loop(n)

    def tflm_n(n: int, set_input=tflm.set_input, invoke=tflm.invoke) -> None:
        for _ in range(n):
            set_input(x0, 0)
            invoke()

    def lite_n(n: int, set_tensor=lite.set_tensor, invoke=lite.invoke) -> None:
        for _ in range(n):
            set_tensor(lin, x0_lite)
            invoke()

    times = timed({"picoml": picoml_n, "picoml_c_loop": c_loop_n, "tflm": tflm_n, "litert": lite_n}, batches, batch_s)
    # the timed runs computed the right thing too
    expected = reference[0]
    if not (
        np.array_equal(host.out, expected) and np.array_equal(np.asarray(tflm.get_output(0)).reshape(-1), expected)
    ):
        raise SystemExit(f"{path.name}: picoml or tflite-micro output after the timed runs differs from the reference")
    if not np.array_equal(lite.get_tensor(lout).reshape(-1), lite_first):
        raise SystemExit(f"{path.name}: LiteRT output after the timed runs differs from its own first output")
    p = times["picoml"]["median_us"]
    return {
        "compile_flags": cmd[1 : cmd.index("-I")],
        "checked_inputs": len(xs),
        "picoml_equals_tflm": True,
        "litert_xnnpack_delegate": xnnpack,
        "litert_equal_elements": lite_equal,
        "litert_total_elements": lite_total,
        "litert_max_abs_diff": lite_maxdiff,
        "us": {k: v["median_us"] for k, v in times.items()},
        "timing": times,
        "tflm_over_picoml": times["tflm"]["median_us"] / p,
        "litert_over_picoml": times["litert"]["median_us"] / p,
    }


def lite_shape(lite) -> tuple[int, ...]:
    return tuple(int(v) for v in lite.get_input_details()[0]["shape"])


# ---------------------------------------------------------------- one model
def bench_inputs(g, quick: bool) -> np.ndarray:
    """The random int8 inputs of a model (seed 0): [0] is the counted and timed one, all are
    checked on the host."""
    from picoml.flows.verify import random_inputs

    return random_inputs(g, 4 if quick else 16, seed=0)


def bench_model(name: str, path: Path, work: Path, quick: bool, log: Callable[[str], None]) -> dict:
    import picoml
    from picoml.graph.ops import op_macs
    from picoml.plan import plan_memory

    g = picoml.load(path)
    xs = bench_inputs(g, quick)
    macs = sum(op_macs(op) for op in g.ops)
    t0 = time.perf_counter()
    tflm = tflm_arena(path, xs[0])
    log(f"{name}: tflite-micro arena {tflm['arena_bytes']:,} B")

    runs = []
    for target, opt in [(MAIN_TARGET, o) for o in FLASH_OPTS] + [(t, SPEED_OPT) for t in SPEED_TARGETS[1:]]:
        r = emulate(g, xs[0], target, opt, work / name)
        runs.append(r)
        log(f"{name}: {target} {opt}: {r['instructions']:,} instructions, bit-exact, {r['seconds']:.1f} s")

    def run(target: str, opt: str) -> dict:
        return next(r for r in runs if r["target"] == target and r["opt"] == opt)

    m4 = run(MAIN_TARGET, SPEED_OPT)
    ram = {
        "target": MAIN_TARGET,
        "opt": SPEED_OPT,
        "picoml_bytes": m4["ram_bytes"],
        "arena_bytes": m4["arena_bytes"],
        "arena_op_at_a_time_bytes": plan_memory(g, stream=False).arena_bytes,
        "arena_op_at_a_time_bound": plan_memory(g).lower_bound,
        "data_bss_bytes": m4["ram_bytes"] - m4["stack_bytes"],
        # .data + .bss beside the arena (the harness is zero-copy: no I/O buffers)
        "other_static_bytes": m4["ram_bytes"] - m4["stack_bytes"] - m4["arena_bytes"],
        "harness_ram_bytes": m4["ram_by_origin"].get("harness_startup", 0) + m4["ram_by_origin"].get("harness_libc", 0),
        "stack_bytes": m4["stack_bytes"],
        "tflm_arena_bytes": tflm["arena_bytes"],
        "ratio": m4["ram_bytes"] / tflm["arena_bytes"],
        "picoml_bytes_at_Os": run(MAIN_TARGET, "-Os")["ram_bytes"],
    }
    flash = {
        opt: {
            "code_bytes": run(MAIN_TARGET, opt)["flash_code_bytes"],
            "model_kernels_bytes": run(MAIN_TARGET, opt)["flash_code_model_kernels_bytes"],
            "by_origin": run(MAIN_TARGET, opt)["flash_by_origin"],
            "unlisted_bytes": run(MAIN_TARGET, opt)["flash_code_unlisted_bytes"],
            "weights_bytes": run(MAIN_TARGET, opt)["flash_weights_bytes"],
        }
        for opt in FLASH_OPTS
    }
    speed = {
        t: {
            "instructions": run(t, SPEED_OPT)["instructions"],
            "instructions_per_mac": run(t, SPEED_OPT)["instructions_per_mac"],
            "cycles": run(t, SPEED_OPT)["cycles"],
            "cycles_per_mac": run(t, SPEED_OPT)["cycles_per_mac"],
            "kernel_variant": run(t, SPEED_OPT)["kernel_variant"],
            "code_bytes": run(t, SPEED_OPT)["flash_code_bytes"],
            "ram_bytes": run(t, SPEED_OPT)["ram_bytes"],
            "layers": run(t, SPEED_OPT)["layers"],
        }
        for t in SPEED_TARGETS
    }
    host = host_latency(g, path, xs, work / name, batches=5 if quick else 7, batch_s=0.02 if quick else 0.25)
    log(
        f"{name}: host picoml {host['us']['picoml']:.1f} µs, tflite-micro {host['us']['tflm']:.1f} µs, "
        f"LiteRT {host['us']['litert']:.1f} µs"
    )
    for r in runs:
        r.pop("layers")
    return {
        "model": name,
        "label": LABELS.get(name, name),
        "file": str(path),
        "macs": macs,
        "tflm": tflm,
        "ram": ram,
        "flash": flash,
        "speed": speed,
        "host": host,
        "emulated_runs": runs,
        "seconds": time.perf_counter() - t0,
    }


# ---------------------------------------------------------------- report
def aims(results: list[dict]) -> list[dict]:
    out = []
    for r in results:
        out.append(
            {
                "aim": f"{r['label']}: RAM ≤ {AIMS['ram_ratio_max']:.2f}× tflite-micro arena",
                "measured": f"{r['ram']['ratio']:.3f}×",
                "met": r["ram"]["ratio"] <= AIMS["ram_ratio_max"],
            }
        )
    board = BOARDS[REFERENCE_BOARD]
    for r in results:
        pub = QUOTED["mlperf_tiny_stm32l4r5_ms"].get(r["model"])
        m4 = r["speed"].get("cortex-m4", {}).get("cycles")
        if pub and m4:
            pub_cycles = pub[1] * 1e-3 * board.clock_hz
            lim = AIMS["cycles_ratio_max"]
            out.append(
                {
                    "aim": f"{r['label']}: cortex-m4 est. cycles ≤ {lim:.1f}× {pub[0]}'s published "
                    f"{pub_cycles / 1e6:.2f} M (≤ {lim * pub_cycles / 1e6:.2f} M)",
                    "measured": f"{m4 / 1e6:.2f} M ({m4 / pub_cycles:.2f}×)",
                    "met": m4 <= lim * pub_cycles,
                }
            )
    for r in (r for r in results if r["model"] != VWW):  # the host aim is issue 3's, for the MLPerf files
        out.append(
            {
                "aim": f"{r['label']}: host ≥ {AIMS['host_speedup_min']:.0f}× faster than tflite-micro",
                "measured": f"{r['host']['tflm_over_picoml']:.1f}×",
                "met": r["host"]["tflm_over_picoml"] >= AIMS["host_speedup_min"],
            }
        )
    kws = next((r for r in results if r["model"] == "kws"), None)
    if kws is not None:
        f = kws["flash"]["-Os"]
        lim = AIMS["kws_code_os_max"]
        out.append(
            {
                "aim": f"KWS code ≤ {lim:,} B at -Os on cortex-m4 (verify's figure)",
                "measured": f"{f['code_bytes']:,} B",
                "met": f["code_bytes"] <= lim,
            }
        )
        out.append(
            {
                "aim": f"KWS code ≤ {lim:,} B at -Os on cortex-m4 (model + pm_* symbols)",
                "measured": f"{f['model_kernels_bytes']:,} B",
                "met": f["model_kernels_bytes"] <= lim,
            }
        )
        for t, lim_ipm in AIMS["kws_ipm_max"].items():
            v = kws["speed"][t]["instructions_per_mac"]
            out.append(
                {"aim": f"KWS ≤ {lim_ipm:.1f} instructions/MAC on {t}", "measured": f"{v:.2f}", "met": v <= lim_ipm}
            )
    return out


def _n(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def _layer_cycles(r: dict) -> list[str]:
    """One model's per-layer table of estimated cycles on CYCLE_TARGETS. A fused run (a chain or a
    residual block run row by row) has all its cycles in its first layer; that row says which layers
    and divides by all their MACs."""
    per = {t: r["speed"][t]["layers"] for t in CYCLE_TARGETS}
    layers = per[CYCLE_TARGETS[0]]

    def fused(j: int, t: str) -> bool:  # run inside a fused chain or block (a RESHAPE has no code)
        return per[t][j].get("cycles") == 0 and layers[j]["op"] != "RESHAPE"

    out = [
        f"## Per layer: {r['label']}, estimated cycles at {SPEED_OPT}",
        "",
        "| # | op | MACs | " + " | ".join(f"{t} est. cycles | /MAC" for t in CYCLE_TARGETS) + " |",
        "|---:|---|---:|" + "---:|---:|" * len(CYCLE_TARGETS),
    ]
    for i, layer in enumerate(layers):
        cells = []
        for t in CYCLE_TARGETS:
            c = per[t][i].get("cycles")
            end = i + 1
            while c and end < len(layers) and fused(end, t):
                end += 1
            macs = sum(x["macs"] for x in layers[i:end])
            if fused(i, t):
                cells += ["in a fused run", "—"]
            else:
                run = f" (layers {i}–{end - 1})" if end > i + 1 else ""
                cells += [_n(c) + run, f"{c / macs:.2f}" if c is not None and macs else "—"]
        out.append(f"| {i} | {layer['op']} | {layer['macs']:,} | " + " | ".join(cells) + " |")
    return out + [""]


def markdown(results: list[dict], meta: dict) -> str:
    L: list[str] = []
    add = L.append
    add("# Generated C vs tflite-micro: RAM, flash, speed, host latency")
    add("")
    add(
        f"Measured {meta['date']} by `{meta['command']}` in {meta['runtime_s']:.0f} s; machine: "
        f"{meta['platform']}, {meta['cpu']}, {meta['cpu_count']} CPUs (1-min load average "
        f"{meta['load_average_1min']['start']:.1f} at the start, {meta['load_average_1min']['end']:.1f} at the end: "
        f"host timings vary with it); Python {meta['python']}, "
        f"host cc: {meta['host_cc']}; tflite-micro {meta['versions']['tflite-micro']}, "
        f"ai-edge-litert {meta['versions']['ai-edge-litert']}, ziglang {meta['versions']['ziglang']}, "
        f"unicorn {meta['versions']['unicorn']}. Every emulated run and the host library were checked "
        "bit-exact before timing; raw numbers in codegen.json."
    )
    add("")
    add(f"## RAM ({MAIN_TARGET}, {SPEED_OPT})")
    add("")
    add(
        "| model | op-at-a-time bound (= plan without streaming) | picoml arena (planned, streaming) | "
        ".data + .bss | of which beside the arena | peak stack | "
        "**picoml RAM** | tflite-micro arena | **picoml / TFLM** |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        m = r["ram"]
        add(
            f"| {r['label']} | {m['arena_op_at_a_time_bound']:,} | {m['arena_bytes']:,} | {m['data_bss_bytes']:,} | "
            f"{m['other_static_bytes']:,} | "
            f"{m['stack_bytes']:,} | **{m['picoml_bytes']:,}** | {m['tflm_arena_bytes']:,} | "
            f"**{m['ratio']:.2f}×** |"
        )
    add("")
    add(
        "picoml RAM is verify's figure: .data + .bss of the emulated ELF plus the peak stack painted and "
        "scanned in the emulator. The harness is zero-copy (`model_run()`): the emulator writes the input "
        "into the arena where `model_input()` points and reads the output where `model_output()` points, "
        "so .data + .bss is the arena and nothing else of note. "
        "tflite-micro's is the arena its `print_allocations()` reports after one invoke (head: "
        "activations; tail: tensor structs, node data) — without its stack and its own .data/.bss, "
        "so the comparison leans towards tflite-micro. The planner reaches the op-at-a-time bound (tensors "
        "as indivisible buffers) on every model, and goes below it by streaming: a convolution, depthwise "
        "convolution or pooling op writes its output over its dying input, starting far enough below it "
        "that no block of output pixels overwrites input a later block reads (`picoml.plan.stream_lag`)."
    )
    add("")
    add(f"## Flash: code bytes on {MAIN_TARGET}, weights apart")
    add("")
    add(
        "| model | -Os code (verify) | -Os model + pm_* only | -O2 code (verify) | -O2 model + pm_* only | "
        "weights and layer constants |"
    )
    add("|---|---:|---:|---:|---:|---:|")
    for r in results:
        f = r["flash"]
        add(
            f"| {r['label']} | {f['-Os']['code_bytes']:,} | {f['-Os']['model_kernels_bytes']:,} | "
            f"{f['-O2']['code_bytes']:,} | {f['-O2']['model_kernels_bytes']:,} | {f['-O2']['weights_bytes']:,} |"
        )
    add("")

    def rest(r: dict, opt: str) -> str:
        b = r["flash"][opt]["by_origin"]
        parts = [
            f"startup {b.get('harness_startup', 0)}",
            f"libc {b.get('harness_libc', 0)}",
            f"compiler runtime {b.get('compiler_runtime', 0)}",
            f"unattributed {b.get('unattributed', 0)}",
            f"padding/unnamed {r['flash'][opt]['unlisted_bytes']}",
        ]
        return f"{r['label']} {opt}: " + ", ".join(parts)

    add(
        "verify's figure is .text + .rodata minus the `model_*` constants: it **includes** the "
        "harness's startup (`pm_start`), its libc helpers (memcpy/memmove/memset), compiler-runtime "
        'helpers and alignment padding. "model + pm_* only" sums the functions and read-only data '
        "that DWARF attributes to the generated model.c and pm_*.c (pyelftools). The difference, in "
        "bytes: " + "; ".join(rest(r, o) for r in results for o in FLASH_OPTS) + "."
    )
    add("")
    add(f"## Speed: instructions per inference, emulated, {SPEED_OPT}")
    add("")
    head = "| model | MACs | " + " | ".join(f"{t} instructions | {t} instr/MAC" for t in SPEED_TARGETS) + " |"
    add(head)
    add("|---|---:|" + "---:|---:|" * len(SPEED_TARGETS))
    for r in results:
        cells = []
        for t in SPEED_TARGETS:
            s = r["speed"][t]
            cells += [_n(s["instructions"]), f"{s['instructions_per_mac']:.2f}"]
        add(f"| {r['label']} | {r['macs']:,} | " + " | ".join(cells) + " |")
    c = QUOTED["cmsis_nn_kws"]
    kws = next((r for r in results if r["model"] == "kws"), None)
    kws_macs = f"{kws['macs']:,}" if kws else "—"
    add(
        f"| CMSIS-NN, KWS ({QUOTED_NOTE}) | {kws_macs} | "
        f"{c['cortex-m4']['instructions'] / 1e6:.2f} M | {c['cortex-m4']['instructions_per_mac']:.2f} | "
        f"{c['cortex-m0plus']['instructions'] / 1e6:.2f} M | {c['cortex-m0plus']['instructions_per_mac']:.2f} | — | — |"
    )
    add(
        f"| ST X-CUBE-AI, KWS ({QUOTED_NOTE}) | {kws_macs} | — | ≈ {QUOTED['x_cube_ai_kws']['cycles_per_mac']:.2f} "
        "cycles/MAC on a real M4 | — | — | — | — |"
    )
    add("")
    add(f"## Estimated cycles, emulated, {SPEED_OPT}, vs the best published MLPerf Tiny results")
    add("")
    board = BOARDS[REFERENCE_BOARD]
    add(
        "| model | "
        + " | ".join(f"{t} est. cycles | {t} cycles/MAC" for t in SPEED_TARGETS)
        + f" | est. ms on {REFERENCE_BOARD} | best published ms on {REFERENCE_BOARD} | ratio |"
    )
    add("|---|" + "---:|---:|" * len(SPEED_TARGETS) + "---:|---|---:|")
    for r in results:
        cells = []
        for t in SPEED_TARGETS:
            sp = r["speed"][t]
            cells += [_n(sp["cycles"]), f"{sp['cycles_per_mac']:.2f}" if sp["cycles_per_mac"] else "—"]
        m4 = r["speed"].get("cortex-m4", {}).get("cycles")
        ms = board.estimated_ms(m4) if m4 else None
        pub = QUOTED["mlperf_tiny_stm32l4r5_ms"].get(r["model"])
        pub_s = f"{pub[0]} {pub[1]:.2f}" if pub else "—"
        ratio = f"{ms / pub[1]:.2f}×" if pub and ms else "—"
        add(f"| {r['label']} | " + " | ".join(cells) + f" | {ms:.2f} | {pub_s} | {ratio} |")
    add("")
    add(
        "Cycles are an ESTIMATE (`picoml.targets.cycles`): each core's published instruction timings applied to "
        "the executed instructions (Cortex-M0+ and Cortex-M4 TRMs; RV32: lowRISC Ibex with the single-cycle "
        "multiplier), zero-wait memory. Milliseconds on the board: those cycles at its 120 MHz clock; its flash "
        "wait states are taken as hidden by the ART accelerator. The published figures were measured on the "
        "board (they include every memory effect); ratio > 1 means picoml is estimated slower."
    )
    add("")
    variants = ", ".join(
        f"{t}: {'/'.join(sorted({r['speed'][t]['kernel_variant'] for r in results}))}" for t in SPEED_TARGETS
    )
    add(
        "Counted by unicorn + capstone per basic block, one inference per model and target (exact and "
        f"deterministic), as `picoml.flows.verify` builds it; kernel variants it generated ({variants}). "
        f"CMSIS-NN: {c['source']}. Cycles on silicon (X-CUBE-AI) are not instructions: "
        "loads, multiplies and taken branches may take more than one cycle, and flash adds wait states."
    )
    add("")
    add("## Host latency: generated C vs tflite-micro vs LiteRT, one process")
    add("")
    add(
        "| model | picoml µs | tflite-micro µs | LiteRT µs | **TFLM / picoml** | LiteRT / picoml | "
        "picoml µs, C loop | LiteRT = picoml |"
    )
    add("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        h = r["host"]
        agree = (
            "all equal"
            if h["litert_equal_elements"] == h["litert_total_elements"]
            else f"{h['litert_equal_elements']}/{h['litert_total_elements']} equal, max diff {h['litert_max_abs_diff']}"
        )
        add(
            f"| {r['label']} | {h['us']['picoml']:.1f} | {h['us']['tflm']:.1f} | {h['us']['litert']:.1f} | "
            f"**{h['tflm_over_picoml']:.1f}×** | {h['litert_over_picoml']:.2f}× | {h['us']['picoml_c_loop']:.1f} | "
            f"{agree} |"
        )
    add("")
    some = results[0]["host"] if results else None
    if some:
        t = some["timing"]["picoml"]
        add(
            "picoml: the generated C for the host target (its `vector` kernels: int16 weight rows and loops "
            f"the compiler vectorizes) built by the host cc at {HOST_OPT} as a shared "
            "library and called through ctypes, one call per inference; tflite-micro: `invoke()` of the "
            "`tflite_micro` Python runtime; LiteRT: `ai_edge_litert` Interpreter, XNNPACK delegate "
            f"({'confirmed in its log' if some['litert_xnnpack_delegate'] else 'NOT seen in its log'}), "
            "num_threads=1. Each timed inference copies the same int8 input in (picoml: into its input "
            "buffer; the others: set_input/set_tensor) and invokes; time.perf_counter, warm-up, "
            f'{t["batches"]} batches per runtime run round-robin, median per inference. "C loop" calls '
            "`model_invoke` n times inside C (no Python per inference). Outputs: picoml = tflite-micro = "
            f"reference on {some['checked_inputs']} random inputs per model; LiteRT's int8 kernels may round "
            "differently."
        )
        add("")
    add("## Aims")
    add("")
    add("| aim | measured | met |")
    add("|---|---:|---|")
    for a in meta["aims"]:
        add(f"| {a['aim']} | {a['measured']} | {'yes' if a['met'] else '**no**'} |")
    add("")
    if kws is not None:
        add(f"## Per layer: KWS, instructions at {SPEED_OPT}")
        add("")
        add("| # | op | MACs | " + " | ".join(f"{t} | /MAC" for t in SPEED_TARGETS) + " |")
        add("|---:|---|---:|" + "---:|---:|" * len(SPEED_TARGETS))
        per = {t: kws["speed"][t]["layers"] for t in SPEED_TARGETS}
        for i, layer in enumerate(per[SPEED_TARGETS[0]]):
            cells = []
            for t in SPEED_TARGETS:
                lt = per[t][i]
                ipm = lt["instructions_per_mac"]
                cells += [f"{lt['instructions']:,}", "—" if ipm is None else f"{ipm:.2f}"]
            add(f"| {i} | {layer['op']} | {layer['macs']:,} | " + " | ".join(cells) + " |")
        add("")
    for r in results:  # the per-layer estimated cycles, every model (op types only: no model strings)
        L += _layer_cycles(r)
    add(
        "A layer that runs inside a fused chain or residual block (the planner's row-by-row execution) has "
        "its cycles counted in the fused run's first layer, whose cycles/MAC is over the whole run's MACs; a "
        "RESHAPE is a view of its input (no code)."
    )
    add("")
    return "\n".join(L)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from picoml.targets.toolchain import host_cc

    try:
        cc = subprocess.run(host_cc() + ["--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        cc = "unknown"
    versions = {}
    for pkg in ("tflite-micro", "ai-edge-litert", "ziglang", "unicorn", "capstone", "pyelftools", "numpy"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "missing"
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "host_cc": cc,
        "versions": versions,
    }


def vww_model(d: Path) -> Path:
    """The VWW-shaped MobileNetV1-0.25 96x96 int8 model with trained-scale weights that
    tests/codegen/mobilenet_int8.py builds (seeded: the same model every run), written to d."""
    import picoml

    sys.path.insert(0, str(ROOT / "tests" / "codegen"))
    try:
        from mobilenet_int8 import mobilenet_v1_int8
    finally:
        sys.path.remove(str(ROOT / "tests" / "codegen"))
    path = d / f"{VWW}_int8.tflite"
    picoml.save(mobilenet_v1_int8(), path)
    return path


def find_models(d: Path, quick: bool) -> list[tuple[str, Path]]:
    """The int8 models in d: the shipped ones first in their usual order, then any others."""
    if not d.is_dir():
        raise SystemExit(f"{d}: models directory not found")
    found = {p.name[: -len("_int8.tflite")]: p for p in sorted(d.glob("*_int8.tflite"))}
    if quick:
        if "ad" not in found:
            raise SystemExit(f"{d}: --quick needs ad_int8.tflite")
        return [("ad", found["ad"])]
    order = [n for n in LABELS if n in found] + sorted(n for n in found if n not in LABELS)
    if not order:
        raise SystemExit(f"{d}: no *_int8.tflite models")
    return [(n, found[n]) for n in order]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=MODELS, help="directory of *_int8.tflite models")
    ap.add_argument("--quick", action="store_true", help="AD only, fewer timing repetitions")
    ap.add_argument("--no-vww", action="store_true", help="leave out the picoml-built VWW MobileNetV1")
    ap.add_argument("--out", type=Path, default=OUT, help="where codegen.md and codegen.json go")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    load_start = os.getloadavg()
    models = find_models(args.models, args.quick)

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_codegen_") as tmp:
        if not (args.quick or args.no_vww or any(n == VWW for n, _ in models)):
            models.append((VWW, vww_model(Path(tmp))))
        results = [bench_model(name, path, Path(tmp), args.quick, log) for name, path in models]
    shown = ["benchmarks/bench_codegen.py"] + (sys.argv[1:] if argv is None else list(argv))
    meta = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": ".venv/bin/python " + " ".join(shown),
        **machine(),
        "runtime_s": time.perf_counter() - t0,
        "load_average_1min": {"start": load_start[0], "end": os.getloadavg()[0]},  # other jobs on the machine
        "quick": args.quick,
    }
    meta["aims"] = aims(results)
    md = markdown(results, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "codegen.md").write_text(md)
    data = {**meta, "aims_spec": AIMS, "quoted": QUOTED, "results": results}
    (args.out / "codegen.json").write_text(json.dumps(data, indent=2) + "\n")
    print(md)
    print(f"wrote {args.out / 'codegen.md'} and codegen.json ({meta['runtime_s']:.0f} s)")
    return data


if __name__ == "__main__":
    main()
