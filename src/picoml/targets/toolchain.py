"""Build generated C for a target: the host C compiler, or a cross toolchain for MCUs.

Cross toolchains are descriptions (``Toolchain``, one per entry of ``TOOLCHAINS``): the compiler
command for a core, its target and float-ABI flags, the flags of a bare-metal build of the
verification harness and the libraries it links. A build is one ``BuildConfig``: a core, a
toolchain, an optimization level and a float ABI; ``configure`` checks the choice and
``BuildConfig.describe`` says what was used (verify's report carries it).

- ``zig``: zig's clang from the ``ziglang`` PyPI package (the default: no system toolchain
  needed). Freestanding targets imply ``-ffreestanding``; small copies become real ``memcpy``
  calls, so kernels use their own inline loads and the harness brings a small libc; frame
  pointers are kept unless ``-fomit-frame-pointer`` is given (~3% instructions, and the widest
  inline-assembly loops need the register: ``PM_ASM_ALL_REGS``, pm_dot_s8.h); symbols are
  stripped unless ``-g`` is given (we need them for size reports).
- ``gcc``: the GNU cross compilers Debian ships, ``arm-none-eabi-gcc`` for Arm cores and
  ``riscv64-unknown-elf-gcc`` (``-march=rv32imc -mabi=ilp32``) for RISC-V, linked with
  ``-nostdlib`` and libgcc (its division and shift helpers); ``avr-gcc`` (``-mmcu=...``) for the
  8-bit AVR parts, the only toolchain that builds for them, linked with avr-libc's start-up code
  and its default linker script (``build_avr``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from picoml.codegen.firmware import DEFAULT_CROSS, CrossFile
from picoml.errors import PicomlError
from picoml.targets.catalog import Target

WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror")
HARNESS = "picoml.targets.harness"
LAYER_HOOK = "PM_LAYER_DONE(i)=(*(volatile unsigned int *)0x4F000000u = (unsigned int)(i))"
#: ``--opt``: what the build optimizes for, and the flag it passes
OPT_LEVELS = {"speed": "-O2", "size": "-Os"}
#: plain -O flags a build also takes (tests and benchmarks: the warning-free matrix)
O_FLAGS = ("-O0", "-O1", "-O2", "-O3", "-Os")


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


@functools.cache
def _version(cmd: tuple[str, ...]) -> str:
    """First line of ``cmd --version`` (what the report names as the compiler)."""
    try:
        r = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60)
    except OSError:
        return cmd[-1]
    return next((ln.strip() for ln in r.stdout.splitlines() if ln.strip()), cmd[-1])


@dataclass(frozen=True)
class Toolchain:
    """A cross toolchain: how it compiles for a core and links a bare-metal harness image."""

    name: str
    description: str
    bare_cflags: tuple[str, ...]  # every bare-metal build (harness and model)
    link_flags: tuple[str, ...] = ()  # before the objects
    libs: tuple[str, ...] = ()  # after the objects
    speed_flags: tuple[str, ...] = ()  # recommended for the library too (part of bare_cflags)

    def compiler(self, target: Target) -> list[str]:
        raise NotImplementedError

    def shown_compiler(self, target: Target) -> list[str]:
        """The compiler as a user types it."""
        return self.compiler(target)

    def target_flags(self, target: Target, float_abi: str) -> list[str]:
        raise NotImplementedError

    def missing(self, target: Target) -> str | None:
        """One line saying what to install when this toolchain cannot build for ``target``."""
        return None

    def unsupported(self, target: Target) -> str | None:
        """One line when this toolchain never builds for ``target`` (installed or not)."""
        return None


#: zig's LLVM CPU models of the FPU cores leave the FPU out (``-mcpu=cortex_m4`` alone compiles
#: float arithmetic to soft-float calls, even with the hard-float triple): the hard-float build
#: names it as a CPU feature (Target.features' FPU -> LLVM feature)
ZIG_FPU_FEATURES = {"fpv4-sp": "vfp4d16sp", "fpv5": "fp_armv8d16", "fpv5-sp": "fp_armv8d16sp"}


def _zig_hard_float(cflags: tuple[str, ...], target: Target) -> list[str]:
    fpu = next((ZIG_FPU_FEATURES[f] for f in target.features if f in ZIG_FPU_FEATURES), None)
    if fpu is None:
        return list(cflags)
    return [f"{f}+{fpu}" if f.startswith("-mcpu=") else f for f in cflags]


@dataclass(frozen=True)
class ZigToolchain(Toolchain):
    #: the triple of an FPU core built with the soft-float ABI
    soft_float_triple: str = "thumb-freestanding-eabi"

    def compiler(self, target: Target) -> list[str]:
        return zig_cc()

    def shown_compiler(self, target: Target) -> list[str]:
        return ["python", "-m", "ziglang", "cc"]

    def target_flags(self, target: Target, float_abi: str) -> list[str]:
        if target.fpu and float_abi == "soft":
            return ["-target", self.soft_float_triple, *target.cflags, "-mfloat-abi=soft"]
        if target.fpu:
            return ["-target", str(target.zig_target), *_zig_hard_float(target.cflags, target)]
        return ["-target", str(target.zig_target), *target.cflags]

    def unsupported(self, target: Target) -> str | None:
        if target.arch == "avr":
            return f"--toolchain zig does not build for {target.name} (no AVR C library): use --toolchain gcc (avr-gcc)"
        return None

    def missing(self, target: Target) -> str | None:
        try:
            import ziglang  # noqa: F401
        except ImportError:
            return "--toolchain zig needs the ziglang package: pip install 'picoml[mcu]'"
        return None


@dataclass(frozen=True)
class GccToolchain(Toolchain):
    drivers: dict[str, str] = field(default_factory=dict)  # Target.arch -> cross compiler
    packages: dict[str, str] = field(default_factory=dict)  # Target.arch -> Debian packages
    float_abi_flag: dict[str, str] = field(default_factory=dict)  # Target.arch -> flag template
    processors: dict[str, str] = field(default_factory=dict)  # Target.arch -> CMAKE_SYSTEM_PROCESSOR
    notes: dict[str, str] = field(default_factory=dict)  # Target.arch -> what a user's build needs besides

    def compiler(self, target: Target) -> list[str]:
        return [self.drivers[target.arch]]

    def target_flags(self, target: Target, float_abi: str) -> list[str]:
        fmt = self.float_abi_flag.get(target.arch)
        return [*target.gcc_cflags, *([fmt.format(float_abi)] if fmt else [])]

    def unsupported(self, target: Target) -> str | None:
        return None if target.arch in self.drivers else f"--toolchain {self.name} has no compiler for {target.name}"

    def missing(self, target: Target) -> str | None:
        driver = self.drivers.get(target.arch)
        if driver is None:
            return f"--toolchain {self.name} has no compiler for {target.name}"
        if shutil.which(driver) is None:
            return (
                f"--toolchain {self.name} needs {driver} on PATH "
                f"(Debian/Ubuntu: apt-get install {self.packages[target.arch]})"
            )
        return None


BARE = ("-ffreestanding", "-g", "-fno-unwind-tables", "-fno-asynchronous-unwind-tables")
BARE += ("-ffunction-sections", "-fdata-sections")

#: clang keeps the frame pointer unless told: omitted, the widest assembly loops take every register
ZIG_SPEED = ("-fomit-frame-pointer", "-DPM_ASM_ALL_REGS=1")
ZIG = ZigToolchain(
    "zig",
    "zig cc (clang) from the ziglang PyPI package",
    bare_cflags=(*BARE, *ZIG_SPEED),
    speed_flags=ZIG_SPEED,
)
GCC = GccToolchain(
    "gcc",
    "GNU cross compilers: arm-none-eabi-gcc (Arm), riscv64-unknown-elf-gcc (RISC-V rv32imc/ilp32), avr-gcc (AVR)",
    bare_cflags=BARE,
    link_flags=("-nostdlib",),
    libs=("-lgcc",),
    drivers={"arm": "arm-none-eabi-gcc", "riscv": "riscv64-unknown-elf-gcc", "avr": "avr-gcc"},
    packages={
        "arm": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
        "riscv": "gcc-riscv64-unknown-elf",
        "avr": "gcc-avr avr-libc",
    },
    float_abi_flag={"arm": "-mfloat-abi={}"},
    processors={"arm": "arm", "riscv": "riscv", "avr": "avr"},
    notes={"riscv": "a C library for <string.h> (Debian: picolibc-riscv64-unknown-elf)"},
)
TOOLCHAINS: dict[str, Toolchain] = {t.name: t for t in (ZIG, GCC)}
DEFAULT_TOOLCHAIN = "zig"


def opt_flag(opt: str | None) -> str:
    """The -O flag of ``opt``: ``speed`` (default, -O2), ``size`` (-Os), or one of ``O_FLAGS``."""
    if opt is None:
        return OPT_LEVELS["speed"]
    if opt in OPT_LEVELS:
        return OPT_LEVELS[opt]
    if opt in O_FLAGS:
        return opt
    raise BuildError(f"unknown optimization {opt!r} (give {' or '.join(OPT_LEVELS)}, or one of {', '.join(O_FLAGS)})")


@dataclass(frozen=True)
class BuildConfig:
    """One build: a core, a toolchain (None: the host C compiler), an -O flag and a float ABI."""

    target: Target
    toolchain: Toolchain | None
    opt: str  # an -O flag
    float_abi: str | None  # None on the host

    def compiler(self) -> list[str]:
        return host_cc() if self.toolchain is None else self.toolchain.compiler(self.target)

    def cflags(self) -> list[str]:
        """Target, optimization and warning flags (the ones a user's build of the library needs)."""
        if self.toolchain is None:
            return [self.opt, *WARNINGS]
        return [*self.toolchain.target_flags(self.target, str(self.float_abi)), self.opt, *WARNINGS]

    def toolchain_command(self) -> list[str]:
        """The compiler and flags to build the generated library with (what ``compile`` prints)."""
        if self.toolchain is None:
            return ["cc", *self.cflags()]
        tc = self.toolchain
        return [*tc.shown_compiler(self.target), *self.cflags(), *tc.speed_flags]

    def describe(self) -> dict:
        """What was used, for reports: toolchain, compiler (its --version line), flags."""
        return {
            "toolchain": "host" if self.toolchain is None else self.toolchain.name,
            "compiler": _version(tuple(self.compiler())),
            "opt": self.opt,
            "float_abi": self.float_abi,
            "cflags": self.cflags(),
        }


def configure(
    target: Target,
    toolchain: str | None = None,
    opt: str | None = None,
    float_abi: str | None = None,
    installed: bool = True,
) -> BuildConfig:
    """Check a build choice and describe it: one ``BuildError`` line for a choice that cannot work
    (an unknown toolchain or -O level, hard float on a core without an FPU, and with
    ``installed`` a compiler that is missing)."""
    flag = opt_flag(opt)
    if target.zig_target is None:
        if toolchain is not None or float_abi is not None:
            raise BuildError(
                "--toolchain and --float-abi choose cross builds; the host target uses the host C compiler (CC)"
            )
        return BuildConfig(target, None, flag, None)
    name = target.default_toolchain if toolchain is None else toolchain
    if name not in TOOLCHAINS:
        raise BuildError(f"unknown toolchain {name!r} (known: {', '.join(TOOLCHAINS)})")
    abi = target.float_abis[0] if float_abi is None else float_abi
    if abi not in target.float_abis:
        has = "has no FPU" if not target.fpu else f"takes {' or '.join(target.float_abis)}"
        raise BuildError(f"--float-abi {abi}: {target.name} {has} (float ABIs: {', '.join(target.float_abis)})")
    tc = TOOLCHAINS[name]
    problem = tc.unsupported(target) or (tc.missing(target) if installed else None)
    if problem:
        raise BuildError(problem)
    return BuildConfig(target, tc, flag, abi)


def _run(cmd: list[str], what: str, part: str = "") -> None:
    """Run a compiler; one ``BuildError`` line on failure (``part``: a program too large for its
    memory, as the linker reports for a part's real memory map, says so)."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr or r.stdout).splitlines() if ln.strip()]
        full = next((ln for ln in lines if "not within region" in ln or "overflowed by" in ln), None)
        if part and full:
            raise BuildError(f"{what}: the program does not fit {part}: {full.split(': ', 1)[-1].strip()}")
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
    toolchain: str | None = None,
    float_abi: str | None = None,
    config: BuildConfig | None = None,
) -> Path:
    """Compile the model library in src_dir with the verification harness into ``out``.

    ``config`` (from ``configure``) or ``toolchain``/``opt``/``float_abi`` choose the build;
    ``compiler`` replaces the host C compiler."""
    cfg = config or configure(target, toolchain, opt, float_abi)
    sources = sorted(str(p) for p in Path(src_dir).glob("*.c"))
    h = harness_dir()
    if cfg.toolchain is None:
        cmd = (compiler or host_cc()) + list(WARNINGS) + [cfg.opt, "-I", str(src_dir)]
        if sanitize:
            cmd += ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
        cmd += list(extra) + sources + [str(h / "host_main.c"), "-o", str(out)]
        _run(cmd, f"host build of {src_dir}")
        return out
    tc = cfg.toolchain
    if target.arch == "avr":
        return build_avr(cfg, sources, out, extra)
    cmd = cfg.compiler() + cfg.cflags() + list(tc.bare_cflags)
    cmd += [f"-D{LAYER_HOOK}", "-I", str(h / "include"), "-I", str(src_dir)]
    cmd += list(extra) + list(tc.link_flags) + sources + [str(h / "mcu_main.c"), str(h / "pm_libc.c")]
    cmd += [f"-Wl,-T,{h / 'link.ld'}", "-Wl,-e,pm_start", "-Wl,--gc-sections", *tc.libs, "-o", str(out)]
    _run(cmd, f"{target.name} build of {src_dir} ({tc.name}, {cfg.opt})")
    return out


#: PM_LAYER_DONE on AVR: a write to GPIOR0 (data address 0x3E on the ATmega328P and 2560), which
#: the simulator driver (harness/simavr_run.c) times
AVR_LAYER_HOOK = "PM_LAYER_DONE(i)=(*(volatile unsigned char *)0x3E = (unsigned char)(i))"
AVR_BARE = ("-g", "-ffunction-sections", "-fdata-sections")
#: link a program larger than the part (up to 64 KB of data, 256 KB of flash) so that it can be
#: sized: verify then reports that it does not fit instead of a linker error, and runs only
#: programs whose static data fits the part's SRAM
AVR_SIZING = ("-Wl,--defsym=__DATA_REGION_LENGTH__=0xfe00", "-Wl,--defsym=__TEXT_REGION_LENGTH__=0x40000")


def build_avr(cfg: BuildConfig, sources: list[str], out: Path, extra: tuple[str, ...] = ()) -> Path:
    """The model library with the AVR harness (harness/avr_main.c): avr-libc's start-up code and
    linker script, so .progmem constants sit at the start of flash, after the vectors."""
    h = harness_dir()
    cmd = cfg.compiler() + cfg.cflags() + list(AVR_BARE) + [f"-D{AVR_LAYER_HOOK}", "-I", str(Path(sources[0]).parent)]
    cmd += list(extra) + sources + [str(h / "avr_main.c"), "-Wl,--gc-sections", *AVR_SIZING, "-o", str(out)]
    _run(
        cmd, f"{cfg.target.name} build ({cfg.toolchain.name if cfg.toolchain else 'host'}, {cfg.opt})", cfg.target.name
    )
    return out


def cmake_cross(target: Target) -> tuple[CrossFile, ...]:
    """The GCC toolchain files of a CMake export for ``target``: one per float ABI of the core
    (hard and soft on FPU cores); the Cortex-M4F pair for a core GCC does not build (the host)."""
    if target.arch not in GCC.drivers:
        return DEFAULT_CROSS
    driver = GCC.drivers[target.arch]
    triple = driver.removesuffix("-gcc")
    files = []
    for abi in target.float_abis:
        if not target.fpu:
            name, title = f"{triple}-{target.name}.cmake", target.name
        elif abi == "hard":
            name = f"{triple}-{target.name}-hard.cmake"
            title = f"{target.name}, hard-float ABI (float arguments in FPU registers: -mfloat-abi=hard applications)"
        else:
            name = f"{triple}-{target.name}-soft.cmake"
            title = f"{target.name}, soft-float ABI (-mfloat-abi=soft applications)"
        note = GCC.notes.get(target.arch)
        title += f"; needs {note}" if note else ""
        files.append(CrossFile(name, title, GCC.processors[target.arch], driver, tuple(GCC.target_flags(target, abi))))
    return tuple(files)
