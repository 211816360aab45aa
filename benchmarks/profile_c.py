"""Where a model's generated C spends its instructions and estimated cycles, per function.

    .venv/bin/python benchmarks/profile_c.py MODEL.tflite [--target cortex-m4] [--opt speed|size] [--top 15]

Runs ``picoml.flows.verify.verify`` on one input (bit-exact check included) with the emulator's
basic-block hook also tallying each block's instructions and estimated cycles (the same cycle
model, ``picoml.targets.cycles``; a taken branch's extra cycles go to the block that took it), then
maps the blocks to the ELF's function symbols. A profiler for kernel work (issue 17), not a test:
the totals equal verify's ``instructions`` and ``cycles``.
"""

from __future__ import annotations

import argparse
import bisect
from collections import defaultdict

import picoml
from picoml.flows.verify import verify
from picoml.targets import emulator as E


class _Tally:
    def __init__(self) -> None:
        self.blocks: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # address -> [instructions, cycles]
        self.funcs: list[tuple[int, int, str]] = []  # (start, end, name), sorted
        self.prev = -1
        self.code: dict[int, list[str]] = {}  # address -> its instructions, disassembled


TALLY = _Tally()
_init, _on_block = E.Emulator.__init__, E.Emulator._on_block


def _patched_init(self, elf_path, *a, **k) -> None:
    from elftools.elf.elffile import ELFFile

    _init(self, elf_path, *a, **k)
    with open(elf_path, "rb") as f:
        sym = ELFFile(f).get_section_by_name(".symtab")
        funcs = [
            ((s["st_value"] & ~1), (s["st_value"] & ~1) + s["st_size"], s.name)
            for s in sym.iter_symbols()
            if s["st_info"]["type"] == "STT_FUNC" and s["st_size"] > 0
        ]
    TALLY.funcs = sorted(funcs)


def _patched_on_block(self, mu, address, size, user) -> None:
    before = self.cycles
    redirect = address != self._next
    _on_block(self, mu, address, size, user)
    b = self.block_insns[address]
    if redirect and TALLY.prev >= 0:  # the taken-branch extra belongs to the block that branched
        TALLY.blocks[TALLY.prev][1] += self.cycles - before - b[1]
    if address not in TALLY.code:
        TALLY.code[address] = [
            f"{m} {o}" for _, _, m, o in self.cs.disasm_lite(bytes(mu.mem_read(address, size)), address)
        ]
    TALLY.blocks[address][0] += b[0]
    TALLY.blocks[address][1] += b[1]
    TALLY.prev = address


def function_of(address: int) -> str:
    starts = [f[0] for f in TALLY.funcs]
    i = bisect.bisect_right(starts, address) - 1
    if i >= 0 and TALLY.funcs[i][0] <= address < TALLY.funcs[i][1]:
        return TALLY.funcs[i][2]
    return f"?0x{address:08x}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--target", default="cortex-m4")
    ap.add_argument("--opt", choices=("speed", "size"), default="speed")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--no-fuse", action="store_true", help="run every layer whole (no fused blocks or chains)")
    ap.add_argument("--blocks", type=int, default=0, help="also show the N costliest basic blocks, disassembled")
    args = ap.parse_args()
    E.Emulator.__init__, E.Emulator._on_block = _patched_init, _patched_on_block
    g = picoml.load(args.model)
    rep = verify(g, args.target, n_inputs=1, counted_runs=1, opt=args.opt, fuse=not args.no_fuse)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for addr, (n, c) in TALLY.blocks.items():
        f = per[function_of(addr)]
        f[0] += n
        f[1] += c
    total_i = sum(v[0] for v in per.values())
    total_c = sum(v[1] for v in per.values())
    print(f"{args.model} on {args.target} ({args.opt}): bit-exact {rep.bit_exact}; {rep.macs:,} MACs")
    print(
        f"profiled: {total_i:,} instructions, {total_c:,} est. cycles (verify: {rep.instructions:,} / {rep.cycles:,})"
    )
    print(f"{'function':40s} {'instructions':>13s} {'est. cycles':>12s} {'share':>6s} {'cyc/MAC':>8s}")
    for name, (n, c) in sorted(per.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"{name:40s} {n:13,d} {c:12,d} {c / total_c:6.1%} {c / rep.macs:8.3f}")
    for addr, (n, c) in sorted(TALLY.blocks.items(), key=lambda kv: -kv[1][1])[: args.blocks]:
        k = len(TALLY.code[addr]) or 1
        print(f"\n0x{addr:08x} {function_of(addr)}: run {n // k:,} times, {c:,} est. cycles ({c / total_c:.1%})")
        for line in TALLY.code[addr]:
            print("    " + line)


if __name__ == "__main__":
    main()
