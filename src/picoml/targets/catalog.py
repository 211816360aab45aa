"""Cores picoml compiles for and boards with their budgets.

A board's latency estimate is instructions per inference ÷ clock: a lower bound, since
loads, branches and multiplies can take more than one cycle and flash has wait states.
"""

from __future__ import annotations

from dataclasses import dataclass

from picoml.errors import PicomlError


@dataclass(frozen=True)
class Board:
    name: str
    core: str  # a Target name
    ram_bytes: int
    flash_bytes: int
    clock_hz: int
    note: str = ""

    def latency_ms(self, instructions: int) -> float:
        """Lower bound on latency: one instruction per cycle."""
        return instructions / self.clock_hz * 1e3


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    zig_target: str | None  # None: the host C compiler
    cflags: tuple[str, ...]
    features: tuple[str, ...]
    emulator: str | None  # 'arm-thumb' | 'riscv32' | None
    dsp: bool = False  # ARMv7E-M DSP extension: __smlad, __sxtb16 fast paths
    fpu: bool = False
    default_board: str = ""


TARGETS: dict[str, Target] = {
    t.name: t
    for t in [
        Target("host", "this machine, system C compiler", None, ("-O2",), ("native",), None),
        Target(
            "cortex-m0plus",
            "Arm Cortex-M0+ (ARMv6-M, Thumb-1, no FPU, no DSP)",
            "thumb-freestanding-eabi",
            ("-mcpu=cortex_m0plus", "-mfloat-abi=soft"),
            ("thumb", "mul32"),
            "arm-thumb",
            default_board="rp2040",
        ),
        Target(
            "cortex-m4",
            "Arm Cortex-M4F (ARMv7E-M, DSP SIMD, single-precision FPU)",
            "thumb-freestanding-eabihf",
            ("-mcpu=cortex_m4",),
            ("thumb2", "dsp", "fpv4-sp"),
            "arm-thumb",
            dsp=True,
            fpu=True,
            default_board="nrf52840",
        ),
        Target(
            "cortex-m7",
            "Arm Cortex-M7 (ARMv7E-M, DSP SIMD, FPU, dual issue)",
            "thumb-freestanding-eabihf",
            ("-mcpu=cortex_m7",),
            ("thumb2", "dsp", "fpv5"),
            "arm-thumb",
            dsp=True,
            fpu=True,
            default_board="stm32f746",
        ),
        Target(
            "riscv32",
            "RISC-V RV32IMC (no FPU)",
            "riscv32-freestanding-none",
            ("-mcpu=generic_rv32+m+c",),
            ("rv32i", "m", "c"),
            "riscv32",
            default_board="esp32c3",
        ),
    ]
}

BOARDS: dict[str, Board] = {
    b.name: b
    for b in [
        Board("rp2040", "cortex-m0plus", 264 * 1024, 2 * 1024 * 1024, 133_000_000, "Raspberry Pi Pico"),
        Board("stm32g071", "cortex-m0plus", 36 * 1024, 128 * 1024, 64_000_000, "ST STM32G0"),
        Board("nrf52840", "cortex-m4", 256 * 1024, 1024 * 1024, 64_000_000, "Nordic nRF52840"),
        Board("stm32l476", "cortex-m4", 128 * 1024, 1024 * 1024, 80_000_000, "ST STM32L4"),
        Board("stm32f746", "cortex-m7", 320 * 1024, 1024 * 1024, 216_000_000, "ST STM32F7 Discovery"),
        Board("esp32c3", "riscv32", 400 * 1024, 4 * 1024 * 1024, 160_000_000, "Espressif ESP32-C3"),
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
