"""Build generated C for a target: the host C compiler, or zig cc (clang) for MCUs.

zig's clang is taken from the ``ziglang`` PyPI package, so no system cross toolchain is
needed. Facts about it that matter here:
- freestanding targets imply ``-ffreestanding``; small copies become real ``memcpy``
  calls, so kernels use their own inline loads and the harness brings a small libc;
- frame pointers are kept unless ``-fomit-frame-pointer`` is given (~3% instructions);
- symbols are stripped unless ``-g`` is given (we need them for size reports).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from picoml.errors import PicomlError
from picoml.targets.catalog import Target

WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror")
HARNESS = "picoml.targets.harness"
LAYER_HOOK = "PM_LAYER_DONE(i)=(*(volatile unsigned int *)0x4F000000u = (unsigned int)(i))"


class BuildError(PicomlError):
    """The C compiler rejected generated code (a picoml bug) or is missing."""


def harness_dir() -> Path:
    return Path(str(resources.files(HARNESS)))


def zig_cc() -> list[str]:
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise BuildError("cross compiling needs the ziglang package: pip install 'picoml[mcu]'") from None
    return [sys.executable, "-m", "ziglang", "cc"]


def host_cc() -> list[str]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise BuildError("no C compiler found for the host target (set CC)")
    return [cc]


def _run(cmd: list[str], what: str) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr or r.stdout).splitlines() if ln.strip()]
        first = next((ln for ln in lines if "error" in ln), lines[0] if lines else "no output")
        raise BuildError(f"{what} failed: {first.strip()}")


def build(
    src_dir: Path,
    target: Target,
    out: Path,
    opt: str = "-O2",
    sanitize: bool = False,
    extra: tuple[str, ...] = (),
    compiler: list[str] | None = None,
) -> Path:
    """Compile the model library in src_dir with the verification harness into ``out``."""
    sources = sorted(str(p) for p in Path(src_dir).glob("*.c"))
    h = harness_dir()
    if target.zig_target is None:
        cmd = (compiler or host_cc()) + list(WARNINGS) + [opt, "-I", str(src_dir)]
        if sanitize:
            cmd += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
        cmd += list(extra) + sources + [str(h / "host_main.c"), "-o", str(out)]
        _run(cmd, f"host build of {src_dir}")
        return out
    cmd = zig_cc() + ["-target", target.zig_target, *target.cflags, opt, *WARNINGS]
    cmd += [
        "-ffreestanding",
        "-g",
        "-fomit-frame-pointer",
        "-fno-unwind-tables",
        "-fno-asynchronous-unwind-tables",
        "-ffunction-sections",
        "-fdata-sections",
        f"-D{LAYER_HOOK}",
        "-I",
        str(h / "include"),
        "-I",
        str(src_dir),
    ]
    cmd += list(extra) + sources + [str(h / "mcu_main.c"), str(h / "pm_libc.c")]
    cmd += [f"-Wl,-T,{h / 'link.ld'}", "-Wl,-e,pm_start", "-Wl,--gc-sections", "-o", str(out)]
    _run(cmd, f"{target.name} build of {src_dir}")
    return out
