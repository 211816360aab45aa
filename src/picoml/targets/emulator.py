"""Run a harness ELF in the unicorn emulator and count instructions exactly.

Counting is per basic block: the first time a block runs, capstone decodes its bytes once
and the instruction count is cached; each execution then adds the cached count. IT-block
instructions whose condition fails are decoded and counted like the core issues them.
A write to PM_MMIO_LAYER splits the count per layer; a write to PM_MMIO_DONE ends a run;
bytes written to PM_MMIO_PUTC are collected as the program's text output (``run_program``).
Peak stack is measured by painting the stack before a run and finding the deepest
overwritten word afterwards.

I/O is zero-copy (``harness/mcu_main.c`` calls ``model_run()``): ``run(x)`` writes each input's
bytes straight into the model's arena, at the arena symbol plus the input's planned offset
(``CompiledModel.inputs``), and reads each output there after the run. A row of input (output)
bytes holds every input (output) back to back as ``codegen.api.packed_layout`` lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from picoml.codegen.api import ARENA_SYMBOL, IoRegion, packed_layout
from picoml.errors import PicomlError
from picoml.targets.cycles import block_cost, timing_for

FLASH_BASE, FLASH_SIZE = 0x00000000, 16 << 20
RAM_BASE, RAM_SIZE = 0x20000000, 8 << 20
MMIO_BASE, MMIO_SIZE = 0x4F000000, 0x1000
MMIO_LAYER, MMIO_DONE, MMIO_PUTC = MMIO_BASE, MMIO_BASE + 4, MMIO_BASE + 8
STACK_TOP = RAM_BASE + RAM_SIZE
STACK_PAINT = 256 * 1024  # bytes below STACK_TOP painted to measure peak stack
PAINT = 0xA5
MAX_INSTRUCTIONS = 2_000_000_000  # a runaway program stops here instead of hanging (the least cap)
#: emulated instructions allowed per multiply-accumulate on top of MAX_INSTRUCTIONS: int8 and hardware
#: float need ~10-20 (cortex-m0plus int8 ~8, cortex-m4 float ~17 on mobilenet_v2_035_96); soft float
#: on cortex-m0plus ~200 (a compiler-rt call per multiply and per add): both with a 5x margin
INSTRUCTIONS_PER_MAC = 100
SOFT_FLOAT_INSTRUCTIONS_PER_MAC = 1000


def instruction_cap(macs: int, soft_float: bool) -> int:
    """The emulator's instruction cap for one inference of a model of ``macs`` multiply-accumulates."""
    return MAX_INSTRUCTIONS + macs * (SOFT_FLOAT_INSTRUCTIONS_PER_MAC if soft_float else INSTRUCTIONS_PER_MAC)


@dataclass
class RunResult:
    output: np.ndarray
    status: int
    instructions: int | None
    layer_instructions: list[int] = field(default_factory=list)
    stack_bytes: int = 0
    cycles: int | None = None  # estimated (picoml.targets.cycles); None without a timing model
    layer_cycles: list[int] = field(default_factory=list)
    redirects: int = 0  # taken branches, calls and returns (each refetches from a new address)


class Emulator:
    """One loaded ELF; ``run(x)`` performs one inference. ``inputs`` / ``outputs``: where the
    model's inputs and outputs live in its arena (``CompiledModel.inputs`` / ``.outputs``);
    ``io=False`` for a program that takes no model input (``run_program``)."""

    def __init__(
        self,
        elf_path: Path,
        arch: str,
        cpu: str,
        inputs: Sequence[IoRegion] = (),
        outputs: Sequence[IoRegion] = (),
        io: bool = True,
        max_instructions: int = MAX_INSTRUCTIONS,
    ) -> None:
        import capstone
        import unicorn as uc
        from elftools.elf.elffile import ELFFile

        self.uc_mod = uc
        self.arch = arch
        self.max_instructions = int(max_instructions)
        if arch == "arm-thumb":
            self.mu = uc.Uc(uc.UC_ARCH_ARM, uc.UC_MODE_THUMB | uc.UC_MODE_MCLASS)
            model = {
                "cortex-m0plus": uc.arm_const.UC_CPU_ARM_CORTEX_M0,
                "cortex-m3": uc.arm_const.UC_CPU_ARM_CORTEX_M3,
                "cortex-m4": uc.arm_const.UC_CPU_ARM_CORTEX_M4,
                "cortex-m7": uc.arm_const.UC_CPU_ARM_CORTEX_M7,
                "cortex-m33": uc.arm_const.UC_CPU_ARM_CORTEX_M33,
            }[cpu]
            self.mu.ctl_set_cpu_model(model)
            self.cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
            self.sp_reg = uc.arm_const.UC_ARM_REG_SP
            self.lr_reg = uc.arm_const.UC_ARM_REG_LR
        elif arch == "riscv32":
            self.mu = uc.Uc(uc.UC_ARCH_RISCV, uc.UC_MODE_RISCV32)
            self.cs = capstone.Cs(capstone.CS_ARCH_RISCV, capstone.CS_MODE_RISCV32 | capstone.CS_MODE_RISCVC)
            self.sp_reg = uc.riscv_const.UC_RISCV_REG_SP
            self.lr_reg = uc.riscv_const.UC_RISCV_REG_RA
        else:
            raise PicomlError(f"no emulator for architecture {arch!r}")
        for base, size, perm in (
            (FLASH_BASE, FLASH_SIZE, uc.UC_PROT_READ | uc.UC_PROT_EXEC),
            (RAM_BASE, RAM_SIZE, uc.UC_PROT_ALL),
            (MMIO_BASE, MMIO_SIZE, uc.UC_PROT_ALL),
        ):
            self.mu.mem_map(base, size, perm)
        with open(elf_path, "rb") as f:
            elf = ELFFile(f)
            self.entry = elf.header["e_entry"]
            for seg in elf.iter_segments():
                if seg["p_type"] != "PT_LOAD":
                    continue
                data = seg.data()
                # .data is placed at its run address directly (no startup copy needed)
                self.mu.mem_write(seg["p_vaddr"], data)
            symtab = elf.get_section_by_name(".symtab")
            self.symbols = {s.name: s["st_value"] for s in symtab.iter_symbols()} if symtab else {}
        for sym in (ARENA_SYMBOL, "pm_start") if io else ("pm_start",):
            if sym not in self.symbols:
                raise PicomlError(f"{elf_path}: harness symbol {sym} missing")
        arena = self.symbols.get(ARENA_SYMBOL, 0)
        self.text = bytearray()

        def places(rs: Sequence[IoRegion]) -> tuple[list[tuple[int, int, int]], int]:
            """(row offset, address, bytes) per tensor, and the row's size."""
            offs, total = packed_layout([r.dtype for r in rs], [r.nbytes for r in rs])
            return [(o, arena + r.offset, r.nbytes) for o, r in zip(offs, rs, strict=True)], total

        (self.in_places, self.input_size), (self.out_places, self.output_size) = places(inputs), places(outputs)
        self.block_insns: dict[int, tuple[int, int, int]] = {}  # address -> (instructions, cycles, taken extra)
        self.timing = timing_for(cpu)
        self.count = 0
        self.cycles = 0
        self.redirects = 0  # fetches from a new place: taken branches, calls, returns
        self._next, self._taken = -1, 0  # where the last block falls through to, and what taking it adds
        self.marks: list[int] = []
        self.cycle_marks: list[int] = []
        self.status: int | None = None
        self.mu.hook_add(uc.UC_HOOK_MEM_WRITE, self._on_mmio, begin=MMIO_BASE, end=MMIO_BASE + MMIO_SIZE - 1)
        self._block_hook = None

    # ------------------------------------------------------------------ hooks
    def _on_block(self, mu, address, size, _user) -> None:
        b = self.block_insns.get(address)
        if b is None:
            code = bytes(mu.mem_read(address, size))
            insns = list(self.cs.disasm_lite(code, address))
            cost, taken = block_cost(self.timing, insns) if self.timing else (0, 0)
            b = self.block_insns[address] = (len(insns), cost, taken)
        if address != self._next:
            self.cycles += self._taken  # the previous block ended in a taken branch (or a call, a return)
            self.redirects += 1
        self.count += b[0]
        self.cycles += b[1]
        self._next, self._taken = address + size, b[2]

    def _on_mmio(self, mu, _access, address, _size, value, _user) -> None:
        if address == MMIO_LAYER:
            self.marks.append(self.count)
            self.cycle_marks.append(self.cycles)
        elif address == MMIO_DONE:
            self.status = value
            mu.emu_stop()
        elif address == MMIO_PUTC:
            self.text.append(value & 0xFF)

    # ------------------------------------------------------------------ run
    def run_program(self) -> tuple[int, str]:
        """Run a program that takes no model input (e.g. an exported example): (status, text it printed)."""
        self.text = bytearray()
        self._start()
        return int(self.status), self.text.decode("utf-8", "replace")

    def _start(self) -> None:
        uc = self.uc_mod
        self.mu.mem_write(STACK_TOP - STACK_PAINT, bytes([PAINT]) * STACK_PAINT)
        self.mu.reg_write(self.sp_reg, STACK_TOP)
        self.count, self.marks, self.status = 0, [], None
        self.cycles, self.cycle_marks, self._next, self._taken, self.redirects = 0, [], -1, 0, 0
        start = self.entry | 1 if self.arch == "arm-thumb" else self.entry
        try:
            self.mu.emu_start(start, 0xFFFFFFFF, count=self.max_instructions)
        except uc.UcError as e:
            pc = self.mu.reg_read(
                uc.arm_const.UC_ARM_REG_PC if self.arch == "arm-thumb" else uc.riscv_const.UC_RISCV_REG_PC
            )
            raise PicomlError(f"emulated program crashed at pc=0x{pc:08x}: {e}") from None
        if self.status is None:
            raise PicomlError(
                f"emulated program did not finish within {self.max_instructions:,} instructions (the emulator's "
                "cap: a runaway program, or a model slower than the cap allows; no completion write)"
            )

    def run(self, x: np.ndarray, count: bool = True) -> RunResult:
        uc = self.uc_mod
        if count and self._block_hook is None:
            self._block_hook = self.mu.hook_add(uc.UC_HOOK_BLOCK, self._on_block)
        elif not count and self._block_hook is not None:
            self.mu.hook_del(self._block_hook)
            self._block_hook = None
        row = np.ascontiguousarray(x, np.int8).reshape(-1).tobytes()
        if len(row) != self.input_size:
            raise PicomlError(f"emulator: an input row of {len(row)} bytes for inputs of {self.input_size}")
        for o, addr, n in self.in_places:
            self.mu.mem_write(addr, row[o : o + n])
        self._start()
        out = np.zeros(self.output_size, np.int8)
        for o, addr, n in self.out_places:
            out[o : o + n] = np.frombuffer(bytes(self.mu.mem_read(addr, n)), np.int8)
        stack = bytes(self.mu.mem_read(STACK_TOP - STACK_PAINT, STACK_PAINT))
        used = next((STACK_PAINT - i for i, b in enumerate(stack) if b != PAINT), 0)
        layers, layer_cycles = [], []
        if count:
            layers = list(np.diff([0, *self.marks]))
            layer_cycles = list(np.diff([0, *self.cycle_marks]))
        cycles = self.cycles if count and self.timing else None
        return RunResult(
            out,
            int(self.status),
            self.count if count else None,
            [int(v) for v in layers],
            used,
            cycles,
            [int(v) for v in layer_cycles] if cycles is not None else [],
            self.redirects if count else 0,
        )
