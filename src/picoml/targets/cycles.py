"""Estimated cycles from the executed instruction stream: each core's published instruction
timings applied to the instructions the emulator runs.

An estimate, said plainly wherever it is shown: zero-wait memory, no interrupts, and only the
effects below. The emulator decodes each basic block once; ``block_cost`` gives its cycles when
its last instruction falls through, and ``taken_penalty`` what a taken branch at its end adds
(the emulator sees which: the next block does or does not start where this one ends).

Timings (per instruction; P is the pipeline refill of a taken branch):
- Cortex-M0+ (ARMv6-M, Cortex-M0+ TRM, 2-stage pipeline): data processing 1, MULS 1 (the fast
  multiplier most parts ship), LDR/STR 2, LDM/STM/PUSH/POP 1+N, POP with PC 3+N, B/Bcc taken 2,
  not taken 1, BL 3, BX/BLX 2.
- Cortex-M4 (Cortex-M4 TRM table 3-1, 3-stage pipeline): data processing 1, MUL/SMLAD/SMULL/
  UMLAL and the other 32- and 64-bit multiplies 1, MLA/MLS 2, SDIV/UDIV 2-12 (7 taken),
  LDR/STR 2, or 1 when it follows a single load (a load and the load or store after it pipeline
  their address and data phases; nothing pipelines after a store), LDRD/STRD 3, LDM/STM/PUSH/POP 1+N, +P with PC, branches 1+P
  taken (P = 2, the middle of the manual's 1-3) and 1 not taken, IT folded (0) after a 16-bit
  instruction and 1 otherwise.
- Cortex-M3: the M4's table with 64-bit multiplies 4 (3-5) and no DSP instructions.
- Cortex-M7: the M4's table; the M7 issues two instructions per cycle when it can, which this
  does not model, so its figure is an upper bound.
- RV32 (rv32imc): lowRISC Ibex, 2-stage pipeline with the single-cycle multiplier and no branch
  target ALU (its documentation's stall table): ALU 1, loads and stores 2, MUL 1, MULH* 2,
  DIV/REM 37, JAL/JALR 2, branches taken 3 and not taken 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONDS = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"}


@dataclass(frozen=True)
class CoreTiming:
    name: str
    arch: str  # "arm" or "riscv"
    reference: str  # where the numbers come from
    branch_refill: int  # P: cycles a taken branch adds to the not-taken cost
    load: int
    store: int
    pipelined_memory: bool  # a single load/store right after another costs 1
    mul: int
    mla: int
    long_mul: int
    div: int
    it_folds: bool
    upper_bound: bool = False  # superscalar core modelled as single-issue


TIMINGS: dict[str, CoreTiming] = {
    "cortex-m0plus": CoreTiming("cortex-m0plus", "arm", "Cortex-M0+ TRM", 1, 2, 2, False, 1, 1, 1, 1, False),
    "cortex-m3": CoreTiming("cortex-m3", "arm", "Cortex-M3 TRM", 2, 2, 2, True, 1, 2, 4, 7, True),
    "cortex-m4": CoreTiming("cortex-m4", "arm", "Cortex-M4 TRM table 3-1", 2, 2, 2, True, 1, 2, 1, 7, True),
    "cortex-m7": CoreTiming(
        "cortex-m7", "arm", "Cortex-M4 TRM table (dual issue not modelled)", 2, 2, 2, True, 1, 2, 1, 7, True, True
    ),
    "cortex-m33": CoreTiming(
        "cortex-m33", "arm", "Cortex-M4 TRM table (M33: same 3-stage pipeline)", 2, 2, 2, True, 1, 2, 1, 7, True
    ),
    "riscv32": CoreTiming(
        "riscv32", "riscv", "lowRISC Ibex (single-cycle multiplier)", 2, 2, 2, False, 1, 1, 2, 37, False
    ),
}


def timing_for(target: str) -> CoreTiming | None:
    return TIMINGS.get(target)


def _base(mnemonic: str) -> str:
    return mnemonic.split(".")[0].lower()


def _regs(op_str: str) -> list[str]:
    m = re.search(r"\{([^}]*)\}", op_str)
    if not m:
        return []
    out = []
    for part in m.group(1).split(","):
        part = part.strip()
        if "-" in part:  # r4-r7
            a, b = part.split("-")
            out += [f"r{i}" for i in range(int(a.strip()[1:]), int(b.strip()[1:]) + 1)]
        elif part:
            out.append(part)
    return out


def _is_branch_arm(m: str) -> bool:
    return m in ("b", "bl", "blx", "bx", "cbz", "cbnz") or (m.startswith("b") and m[1:] in _CONDS)


def _arm_cost(t: CoreTiming, m: str, ops: str, size: int, prev: tuple[str, int] | None) -> tuple[int, bool]:
    """(cycles when not taken, whether a taken form pays the refill) of one Arm instruction."""
    writes_pc = ops.startswith("pc,") or ops.startswith("pc ")
    if _is_branch_arm(m):
        if t.name == "cortex-m0plus":
            if m == "bl":
                return 3, False
            if m in ("bx", "blx"):
                return 2, False
        if m in ("bl", "blx", "bx"):
            return 1 + t.branch_refill, False  # always taken
        return 1, True
    if m.startswith("it") and m[2:].replace("t", "").replace("e", "") == "":
        if t.it_folds and prev is not None and prev[1] == 2:
            return 0, False
        return 1, False
    if m.startswith(("push", "pop", "ldm", "stm")):
        regs = _regs(ops)
        n = len(regs)
        if "pc" in regs:
            return (3 + n, False) if t.name == "cortex-m0plus" else (1 + n + t.branch_refill, False)
        return 1 + n, False
    if m.startswith(("ldrd", "strd")):
        return 3, False
    if m.startswith("ldr") or m.startswith("str"):
        # a single load or store pipelines behind a single load; nothing pipelines after a store
        # (Cortex-M4 TRM 3.3.2: "STR can only be pipelined when it follows an LDR, but nothing
        # can be pipelined after the store")
        pipelined = (
            t.pipelined_memory and prev is not None and prev[0].startswith("ldr") and not prev[0].startswith("ldrd")
        )
        c = 1 if pipelined else (t.load if m.startswith("ldr") else t.store)
        if m.startswith("ldr") and writes_pc:
            c += t.branch_refill
        return c, False
    if m in ("sdiv", "udiv"):
        return t.div, False
    if m.startswith(("mla", "mls")):
        return t.mla, False
    if m.startswith(("umull", "smull", "umlal", "smlal", "umaal")) or re.match(r"sml[as]l?d", m) and m.endswith("ld"):
        return t.long_mul, False
    if m.startswith(("mul", "smul", "smla", "smlsd", "smuad", "smusd", "smmul", "smmla", "smmls", "usad")):
        return t.mul, False
    if writes_pc:
        return 1 + t.branch_refill, False
    return 1, False


def _riscv_cost(t: CoreTiming, m: str, ops: str) -> tuple[int, bool]:
    m = m.removeprefix("c.")
    if m in ("j", "jal", "jr", "jalr", "ret", "call", "tail"):
        return 2, False
    if m.startswith("b"):  # beq, bne, blt, bge, bltu, bgeu and the z forms
        return 1, True
    if m in ("lw", "lh", "lhu", "lb", "lbu", "sw", "sh", "sb", "lwsp", "swsp"):
        return t.load if m.startswith("l") else t.store, False
    if m.startswith("mulh"):
        return t.long_mul, False
    if m == "mul":
        return t.mul, False
    if m.startswith(("div", "rem")):
        return t.div, False
    return 1, False


def block_cost(t: CoreTiming, insns: list[tuple[int, int, str, str]]) -> tuple[int, int]:
    """(cycles of the block when its last instruction falls through, what taking it adds)."""
    total, prev, taken = 0, None, 0
    for _, size, mnemonic, ops in insns:
        if t.arch == "arm":
            m = _base(mnemonic)  # ldr.w -> ldr
            cost, can_take = _arm_cost(t, m, ops, size, prev)
        else:
            m = mnemonic.lower()  # c.jr keeps its name: _riscv_cost drops the c. prefix
            cost, can_take = _riscv_cost(t, m, ops)
        total += cost
        prev = (m, size)
        taken = (t.branch_refill if t.name != "riscv32" else 2) if can_take else 0
    return total, taken
