"""The one catalogue of cores and boards: what picoml compiles for and the budgets it checks.

A core (``Target``) carries its instruction set as a description (``Target.isa``, a
``picoml.codegen.isa.Isa``): the generator reads that record, never the core's name. A board
is a core with RAM, flash, a clock and flash wait states; fit's named budgets (``small-32k``,
``atmega328p``) are boards without a clock. Users add boards from a TOML data file
(``load_boards``; ``picoml ... --boards FILE``, docs/targets.md).

A board's latency estimate is instructions per inference ÷ clock: a lower bound, since
loads, branches and multiplies can take more than one cycle and flash has wait states.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from picoml.codegen.isa import ARMV6M, ARMV7EM, ARMV7M, AVR8, PORTABLE, VECTOR, Isa
from picoml.errors import InputError, PicomlError
from picoml.untrusted import for_terminal, printable, read_toml


@dataclass(frozen=True)
class Board:
    name: str
    core: str  # a Target name
    ram_bytes: int
    flash_bytes: int
    clock_hz: int | None  # None: a budget (RAM and flash only), no latency estimate
    note: str = ""
    flash_wait_states: int = 0
    #: a prefetch buffer or cache (ST's ART accelerator, ...) hides the wait states of code fetches
    flash_cache: bool = True

    def latency_ms(self, instructions: int) -> float | None:
        """Lower bound on latency: one instruction per cycle (None without a clock)."""
        return None if not self.clock_hz else instructions / self.clock_hz * 1e3

    def estimated_ms(self, cycles: int, redirects: int = 0) -> float | None:
        """Estimated latency from estimated core cycles: without a cache or prefetch buffer every
        fetch from a new address (a taken branch, a call, a return) waits ``flash_wait_states``."""
        if not self.clock_hz:
            return None
        stalls = 0 if self.flash_cache else self.flash_wait_states * redirects
        return (cycles + stalls) / self.clock_hz * 1e3


@dataclass(frozen=True)
class Target:
    """A core. Its C compilers are described in ``picoml.targets.toolchain`` (zig's clang, GCC),
    which read the flags here: ``zig_target`` and ``cflags`` for zig, ``arch`` and ``gcc_cflags``
    for the GNU cross compiler of that architecture."""

    name: str
    description: str
    zig_target: str | None  # None: the host C compiler
    cflags: tuple[str, ...]  # zig cc's target flags (with zig_target: the core's default float ABI)
    features: tuple[str, ...]
    emulator: str | None  # 'arm-thumb' | 'riscv32' (unicorn) | 'simavr' | None
    isa: Isa = PORTABLE  # the kernel variant set and core facts the generator uses
    fpu: bool = False
    default_board: str = ""
    arch: str = ""  # 'arm' | 'riscv' | 'avr': which GNU cross compiler builds for it ('': the host)
    gcc_cflags: tuple[str, ...] = ()  # its target flags, without the float ABI
    default_toolchain: str = "zig"  # what builds for it when no --toolchain is given
    #: cycles come from the simulator itself (simavr), not from the instruction-timing estimate
    measured_cycles: bool = False

    @property
    def dsp(self) -> bool:
        """ARMv7E-M DSP extension (SIMD32: SXTB16, SMLAD)."""
        return self.isa.simd == "dsp32"

    @property
    def float_abis(self) -> tuple[str, ...]:
        """Float ABIs a build may use: hard (FPU registers) or soft; the first is the default."""
        return ("hard", "soft") if self.fpu else ("soft",)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("host", "this machine, system C compiler", None, ("-O2",), ("native",), None, isa=VECTOR),
        Target(
            "cortex-m0plus",
            "Arm Cortex-M0+ (ARMv6-M, Thumb-1, no FPU, no DSP)",
            "thumb-freestanding-eabi",
            ("-mcpu=cortex_m0plus", "-mfloat-abi=soft"),
            ("thumb", "mul32"),
            "arm-thumb",
            isa=ARMV6M,
            default_board="rp2040",
            arch="arm",
            gcc_cflags=("-mcpu=cortex-m0plus", "-mthumb"),
        ),
        Target(
            "cortex-m3",
            "Arm Cortex-M3 (ARMv7-M, Thumb-2, no DSP, no FPU)",
            "thumb-freestanding-eabi",
            ("-mcpu=cortex_m3", "-mfloat-abi=soft"),
            ("thumb2", "mul64"),
            "arm-thumb",
            isa=ARMV7M,
            default_board="stm32f207",
            arch="arm",
            gcc_cflags=("-mcpu=cortex-m3", "-mthumb"),
        ),
        Target(
            "cortex-m4",
            "Arm Cortex-M4F (ARMv7E-M, DSP SIMD, single-precision FPU)",
            "thumb-freestanding-eabihf",
            ("-mcpu=cortex_m4",),
            ("thumb2", "dsp", "fpv4-sp"),
            "arm-thumb",
            isa=ARMV7EM,
            fpu=True,
            default_board="nrf52840",
            arch="arm",
            gcc_cflags=("-mcpu=cortex-m4", "-mthumb"),
        ),
        Target(
            "cortex-m7",
            "Arm Cortex-M7 (ARMv7E-M, DSP SIMD, FPU, dual issue)",
            "thumb-freestanding-eabihf",
            ("-mcpu=cortex_m7",),
            ("thumb2", "dsp", "fpv5"),
            "arm-thumb",
            isa=ARMV7EM,
            fpu=True,
            default_board="stm32f746",
            arch="arm",
            gcc_cflags=("-mcpu=cortex-m7", "-mthumb"),
        ),
        Target(
            "cortex-m33",
            "Arm Cortex-M33 (ARMv8-M Mainline, DSP SIMD, single-precision FPU)",
            "thumb-freestanding-eabihf",
            ("-mcpu=cortex_m33+dsp",),  # zig's cortex_m33 leaves the DSP extension out
            ("thumb2", "dsp", "fpv5-sp"),
            "arm-thumb",
            isa=ARMV7EM,  # the DSP extension's SIMD32 instructions, as on Armv7E-M
            fpu=True,
            default_board="nrf5340",
            arch="arm",
            gcc_cflags=("-mcpu=cortex-m33", "-mthumb"),
        ),
        Target(
            "riscv32",
            "RISC-V RV32IMC (no FPU)",
            "riscv32-freestanding-none",
            ("-mcpu=generic_rv32+m+c",),
            ("rv32i", "m", "c"),
            "riscv32",
            default_board="esp32c3",
            arch="riscv",
            gcc_cflags=("-march=rv32imc", "-mabi=ilp32"),
        ),
        *(
            Target(
                mcu,
                f"Microchip {part} (8-bit AVR, 16-bit int, hardware 8x8 multiply, no FPU; "
                f"{ram} KB SRAM, {flash} KB flash; run in simavr, cycles measured)",
                "avr-freestanding-none",
                (f"-mcpu={mcu}",),
                ("avr8", "mul8"),
                "simavr",
                isa=AVR8,
                default_board=mcu,
                arch="avr",
                gcc_cflags=(f"-mmcu={mcu}", "-DF_CPU=16000000UL"),
                default_toolchain="gcc",
                measured_cycles=True,
            )
            for mcu, part, ram, flash in (("atmega328p", "ATmega328P", 2, 32), ("atmega2560", "ATmega2560", 8, 256))
        ),
    ]
}


BOARDS: dict[str, Board] = {
    b.name: b
    for b in [
        # flash wait states at the listed clock (datasheets); each part's cache or prefetch buffer
        # (XIP cache, ART accelerator, nRF cache) hides them from sequential code
        Board("rp2040", "cortex-m0plus", 264 * 1024, 2 * 1024 * 1024, 133_000_000, "Raspberry Pi Pico", 0),
        Board("stm32g071", "cortex-m0plus", 36 * 1024, 128 * 1024, 64_000_000, "ST STM32G0", 2),
        Board("stm32f207", "cortex-m3", 128 * 1024, 1024 * 1024, 120_000_000, "ST STM32F2", 3),
        Board("nrf52840", "cortex-m4", 256 * 1024, 1024 * 1024, 64_000_000, "Nordic nRF52840", 0),
        Board("stm32l476", "cortex-m4", 128 * 1024, 1024 * 1024, 80_000_000, "ST STM32L4", 4),
        Board(
            "stm32l4r5",
            "cortex-m4",
            640 * 1024,
            2 * 1024 * 1024,
            120_000_000,
            "ST STM32L4R5, the MLPerf Tiny reference board (Cortex-M4F)",
            5,
        ),
        Board("stm32f746", "cortex-m7", 320 * 1024, 1024 * 1024, 216_000_000, "ST STM32F7 Discovery", 7),
        # wait states not listed: its instruction cache hides them
        Board("nrf5340", "cortex-m33", 512 * 1024, 1024 * 1024, 128_000_000, "Nordic nRF5340 (application core)"),
        Board("esp32c3", "riscv32", 400 * 1024, 4 * 1024 * 1024, 160_000_000, "Espressif ESP32-C3"),
        # budgets of `picoml fit` (RAM and flash only)
        Board("small-32k", "cortex-m4", 32 * 1024, 128 * 1024, None, "a small Cortex-M4 part"),
        # 8-bit AVR parts at their Arduino clock (Uno, Mega 2560); flash has no wait states
        Board("atmega328p", "atmega328p", 2 * 1024, 32 * 1024, 16_000_000, "ATmega328P (Arduino Uno)", 0),
        Board("atmega2560", "atmega2560", 8 * 1024, 256 * 1024, 16_000_000, "ATmega2560 (Arduino Mega 2560)", 0),
    ]
}


def get_target(name: str) -> Target:
    if name in TARGETS:
        return TARGETS[name]
    if name in BOARDS:
        return TARGETS[BOARDS[name].core]
    raise PicomlError(f"unknown target {name!r} (known: {', '.join(list(TARGETS) + list(BOARDS))})")


def board_for(name: str) -> Board | None:
    """The board a target name refers to: itself if it is a board, else the core's default board."""
    if name in BOARDS:
        return BOARDS[name]
    t = TARGETS.get(name)
    return BOARDS.get(t.default_board) if t and t.default_board else None


# ----------------------------------------------------------------------------- user boards
BOARDS_FILE_LIMIT = 1 << 20  # bytes of a board data file
BOARD_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}")
#: key -> (unit factor, low, high); a board data file gives these and nothing else
_NUMBERS = {
    "ram_kb": (1024, 1, 1 << 22),  # up to 4 GiB
    "flash_kb": (1024, 1, 1 << 22),
    "clock_mhz": (1_000_000, 0.001, 10_000),
}
_KEYS = ("core", *_NUMBERS, "flash_wait_states", "flash_cache", "note")


def _board(name: object, entry: object, where: str) -> Board:
    if not isinstance(name, str) or not BOARD_NAME.fullmatch(name):
        raise InputError(
            f"{where}: board name {printable(name)} must be 1-40 of a-z 0-9 . _ - (starting with a letter or digit)"
        )
    at = f"{where}: board {name!r}"
    if name in TARGETS or name in BOARDS:
        raise InputError(f"{at}: already in the catalogue (see `picoml targets`); choose another name")
    if not isinstance(entry, dict):
        raise InputError(f"{at}: must be a table of {', '.join(_KEYS)}")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise InputError(f"{at}: unknown key {printable(unknown[0])} (known: {', '.join(_KEYS)})")
    missing = [k for k in ("core", "ram_kb", "flash_kb", "clock_mhz") if k not in entry]
    if missing:
        raise InputError(f"{at}: missing key {missing[0]!r}")
    core = entry["core"]
    if not isinstance(core, str) or core not in TARGETS:
        raise InputError(f"{at}: core {printable(core)} is not a picoml core (one of {', '.join(TARGETS)})")
    vals: dict[str, int] = {}
    for key, (unit, lo, hi) in _NUMBERS.items():
        v = entry[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            raise InputError(f"{at}: {key} must be a number from {lo:g} to {hi:g}, got {printable(v)}")
        vals[key] = round(v * unit)
    ws = entry.get("flash_wait_states", 0)
    if isinstance(ws, bool) or not isinstance(ws, int) or not 0 <= ws <= 15:
        raise InputError(f"{at}: flash_wait_states must be an integer from 0 to 15, got {printable(ws)}")
    cache = entry.get("flash_cache", True)
    if not isinstance(cache, bool):
        raise InputError(f"{at}: flash_cache must be true or false, got {printable(cache)}")
    note = entry.get("note", "")
    if not isinstance(note, str) or len(note) > 200 or not note.isprintable():
        raise InputError(f"{at}: note must be printable text of at most 200 characters")
    return Board(name, core, vals["ram_kb"], vals["flash_kb"], vals["clock_mhz"], note, ws, cache)


def load_boards(path: str | Path) -> dict[str, Board]:
    """Boards from a TOML data file (untrusted: every field is checked; a mistake is one
    ``InputError`` line)::

        [boards.my-board]
        core = "cortex-m4"      # a core of `picoml targets`
        ram_kb = 128
        flash_kb = 512
        clock_mhz = 80
        flash_wait_states = 4   # optional, default 0
        flash_cache = false     # optional, default true: a cache/prefetch buffer hides the wait states
        note = "my product"     # optional
    """
    p = Path(path)
    shown = for_terminal(p)
    raw = read_toml(p, "board data", BOARDS_FILE_LIMIT)
    extra = sorted(set(raw) - {"boards"})
    if extra:
        raise InputError(f"{shown}: unknown table {printable(extra[0])} (a board data file has only [boards.NAME])")
    boards = raw.get("boards")
    if not isinstance(boards, dict) or not boards:
        raise InputError(f"{shown}: no boards (give [boards.NAME] tables)")
    if len(boards) > 1000:
        raise InputError(f"{shown}: {len(boards)} boards; at most 1000")
    return {name: _board(name, entry, shown) for name, entry in boards.items()}


def add_boards(path: str | Path) -> dict[str, Board]:
    """Load a board data file into the catalogue (for this process) and return its boards."""
    boards = load_boards(path)
    BOARDS.update(boards)
    return boards
