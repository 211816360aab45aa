"""Run an AVR harness ELF in simavr and measure cycles, outputs and stack.

simavr (Debian ``simavr``) simulates the ATmega cores cycle by cycle. Its library
(``libsimavr``) is driven by a small C program, ``harness/simavr_run.c``, built once with the
host C compiler against the library's headers (Debian ``libsimavr-dev``): the library's
``avr_t`` is a C struct whose layout follows its build options, and compiling against the
installed headers gets it right where a ctypes mirror of it could silently read the wrong field.
Python writes the inputs to a file, the driver feeds them to the harness one inference at a
time (``harness/avr_main.c`` asks for each by writing GPIOR1), writing each input straight into
the model's arena where ``model_input()`` points (zero-copy: the harness has no I/O buffer; the
outputs are read in the arena too) and reports, per inference, the
status, the cycles between the harness's "ready" and "done" writes (simavr's own cycle counter:
measured, not estimated), the cycles of each layer (PM_LAYER_DONE writes GPIOR0) and the peak
stack (the free stack is painted before each inference).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from picoml.codegen.api import ARENA_SYMBOL, IoRegion, packed_layout
from picoml.errors import PicomlError
from picoml.targets.toolchain import BuildError, harness_dir, host_cc

DEBIAN_PACKAGES = "gcc-avr avr-libc simavr libsimavr-dev"
HEADER = Path("/usr/include/simavr/sim_avr.h")
MAX_CYCLES = 4_000_000_000  # per run of all inputs: a runaway program stops here (~4 min at 16 MHz)


@dataclass
class AvrRun:
    outputs: np.ndarray  # (n, output bytes) int8
    status: list[int]
    cycles: list[int]  # per inference, simavr's cycle counter
    layer_cycles: list[list[int]]
    stack_bytes: int  # the deepest of all inferences
    #: the stack overflowed into the static data (the program needs more SRAM than the part has);
    #: then nothing else is set and stack_bytes is the deepest SP of the run, at least the free
    #: space it overflowed plus one
    overflow: bool = False


def missing() -> str | None:
    """One line saying what to install when AVR models cannot run here, else None."""
    if shutil.which("avr-gcc") is None or not _include_dir():
        return f"AVR targets need avr-gcc, avr-libc, simavr and its headers (Debian/Ubuntu: apt-get install {DEBIAN_PACKAGES})"
    try:
        host_cc()
    except BuildError as e:
        return f"running AVR models in simavr needs a host C compiler: {e}"
    return None


def _include_dir() -> Path | None:
    for base in (Path("/usr/include"), Path("/usr/local/include")):
        if (base / "simavr" / "sim_avr.h").exists():
            return base
    return None


@functools.cache
def driver() -> Path:
    """The simavr driver program, built once per source version (cached in the temp directory)."""
    problem = missing()
    if problem:
        raise BuildError(problem)
    src = harness_dir() / "simavr_run.c"
    text = src.read_bytes()
    tag = hashlib.sha256(text + str(_include_dir()).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"picoml-simavr-{os.getuid() if hasattr(os, 'getuid') else 0}"
    exe = cache / f"simavr_run-{tag}"
    if exe.exists():
        return exe
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".build-{os.getpid()}"
    cmd = host_cc() + ["-O2", "-std=gnu99", "-Wall", "-I", str(_include_dir()), str(src), "-o", str(tmp), "-lsimavr"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        first = next((ln for ln in r.stderr.splitlines() if "error" in ln), r.stderr.strip()[:200])
        raise BuildError(f"building the simavr driver failed: {first}")
    os.replace(tmp, exe)
    return exe


def _symbols(elf_path: Path) -> dict[str, int]:
    from elftools.elf.elffile import ELFFile

    with open(elf_path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: s["st_value"] for s in symtab.iter_symbols()} if symtab else {}


def run(
    elf_path: Path,
    mcu: str,
    clock_hz: int,
    xs: np.ndarray,
    inputs: Sequence[IoRegion],
    outputs: Sequence[IoRegion],
    work_dir: Path,
) -> AvrRun:
    """Run one inference per row of ``xs`` (every input's bytes, ``packed_layout``) in simavr;
    ``inputs`` / ``outputs``: where they live in the arena (``CompiledModel.inputs``)."""
    syms = _symbols(elf_path)
    for s in (ARENA_SYMBOL, "__bss_end"):
        if s not in syms:
            raise PicomlError(f"{elf_path}: harness symbol {s} missing")
    data = 0x800000  # avr-gcc's ELF addresses of SRAM are offset by 0x800000
    arena = syms[ARENA_SYMBOL] - data

    def regions(rs: Sequence[IoRegion]) -> tuple[int, str]:
        offs, total = packed_layout([r.dtype for r in rs], [r.nbytes for r in rs])
        return total, ",".join(f"{o}:{hex(arena + r.offset)}:{r.nbytes}" for o, r in zip(offs, rs, strict=True))

    (in_bytes, in_spec), (output_bytes, out_spec) = regions(inputs), regions(outputs)
    if xs.shape[1] != in_bytes:
        raise PicomlError(f"simavr: input rows of {xs.shape[1]} bytes for inputs of {in_bytes}")
    inp, out = work_dir / "avr_inputs.bin", work_dir / "avr_outputs.bin"
    np.ascontiguousarray(xs, np.int8).tofile(inp)
    cmd = [str(driver()), mcu, str(clock_hz), str(elf_path)]
    cmd += [str(in_bytes), in_spec, str(output_bytes), out_spec]
    cmd += [hex(syms["__bss_end"] - data), str(MAX_CYCLES), str(inp), str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if r.returncode == 4 and r.stdout.startswith("overflow "):
        free, deepest = (int(v) for v in r.stdout.split()[1:3])
        return AvrRun(np.zeros((len(xs), output_bytes), np.int8), [], [], [], max(free + 1, deepest), overflow=True)
    if r.returncode != 0:
        first = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[0]
        raise PicomlError(f"simavr run of {elf_path.name} on {mcu} failed: {first}")
    lines = [ln.split() for ln in r.stdout.splitlines() if ln.strip()]
    if len(lines) != len(xs):
        raise PicomlError(f"simavr run on {mcu}: {len(lines)} results for {len(xs)} inputs")
    outputs = np.fromfile(out, np.int8).reshape(len(xs), output_bytes)
    return AvrRun(
        outputs,
        [int(ln[0]) for ln in lines],
        [int(ln[1]) for ln in lines],
        [[int(v) for v in ln[3:]] for ln in lines],
        max(int(ln[2]) for ln in lines),
    )
