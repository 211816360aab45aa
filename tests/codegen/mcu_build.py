"""Shared by the op families' C tests: build every generated library for an MCU with zig clang
at -O2 and -Os under -Werror, scan objects for soft-float and division helpers, and check the
runtime sources are float-free. One copy instead of one per test file."""

from __future__ import annotations

import re
import subprocess
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from picoml.codegen import write_c
from picoml.targets import get_target
from picoml.targets.toolchain import WARNINGS, harness_dir, zig_cc

#: soft-float (__aeabi_f*, __aeabi_d*, __*sf*, __*df*) and division (__aeabi_*div*, __*divsi3,
#: __*divdi3, ...) helpers of the Arm EABI run-time
SLOW_HELPER = re.compile(r"__aeabi_[fd]|__aeabi_.*div|__.*(sf|df)\d|__.*div.i3|__.*mod.i3")
FLOAT_OR_HEAP = re.compile(r"\b(float|double|malloc|free)\b|(?<![\w.])\d+\.\d*(e\d+)?f?\b(?![.\w])")


class Obj(NamedTuple):
    model: str  # the library (one directory per model: an object never mixes models)
    stem: str  # the source file
    opt: str
    path: Path


def build_objects(graphs: dict, target: str, tmp_path: Path) -> list[Obj]:
    """Generate each graph's library and compile every source for ``target`` at -O2 and -Os with
    -Werror (in parallel); a warning or error fails the calling test, naming the object."""
    for name, g in graphs.items():
        write_c(g, tmp_path / name, name=f"m_{name}")
    t = get_target(target)
    base = zig_cc() + ["-target", t.zig_target, *t.cflags, *WARNINGS, "-ffreestanding"]
    base += ["-I", str(harness_dir() / "include")]
    out = tmp_path / "obj"
    out.mkdir()
    jobs = []
    for opt in ("-O2", "-Os"):
        for src in sorted(tmp_path.glob("*/*.c")):
            o = Obj(src.parent.name, src.stem, opt, out / f"{src.parent.name}_{src.stem}{opt}.o")
            cmd = base + ["-I", str(src.parent), opt, "-c", str(src), "-o", str(o.path)]
            jobs.append((o, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for o, proc in jobs:
        _, err = proc.communicate()
        assert proc.returncode == 0, f"{o.path.name}: {err}"
    return [o for o, _ in jobs]


def kernels(objs: list[Obj]) -> list[Obj]:
    """The runtime's objects (pm_*), not the generated model sources."""
    return [o for o in objs if o.stem.startswith("pm_")]


def undefined_symbols(path: Path) -> set[str]:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return {s.name for s in symtab.iter_symbols() if s.name and s["st_shndx"] == "SHN_UNDEF"}


def slow_helpers(objs: list[Obj]) -> list[str]:
    """Soft-float and division helpers the objects call (none may on Cortex-M0+)."""
    return sorted({n for o in objs for n in undefined_symbols(o.path) if SLOW_HELPER.match(n)})


def assert_runtime_float_free(files) -> None:
    """No float, double, float literal or heap in the runtime sources; only freestanding headers."""
    runtime = resources.files("picoml.codegen.runtime")
    for fname in files:
        code = re.sub(r"/\*.*?\*/", "", runtime.joinpath(fname).read_text(), flags=re.S)
        assert not FLOAT_OR_HEAP.search(code), fname
        for inc in re.findall(r"#include <([^>]+)>", code):
            assert inc in ("stdint.h", "stddef.h", "string.h"), (fname, inc)
