"""Arena planner: which activation lives where, and the least memory any plan can use.

Model. Every non-constant tensor (graph inputs and outputs included: the generated
``invoke`` copies its input into the arena and its output out) needs bytes from its first
write to its last read, in op order. Kernel scratch is a buffer live during its one op.

Aliasing. Tensors that may share storage are merged into one *buffer* before placement:
- RESHAPE's output *is* its input (same bytes, new shape);
- an elementwise op (same shape in and out, no broadcast) may write over an input that
  dies at that op — the kernels read element i before writing element i.

Lower bound. At op i the bytes that must coexist are the buffers live at i; no placement
can use less than the largest such sum over i (``lower_bound``). Placement is a 2-D
packing (offset × time); greedy best-fit by decreasing size (TFLite Micro's
GreedyMemoryPlanner order) reaches the bound on chains and the residual graphs we ship, and
when it does not, a few other orders are tried and the best kept. ``arena_bytes`` is the
plan's size; ``MemoryPlan.optimal`` says whether it equals the bound.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from picoml.graph.ir import Graph, Op, Tensor

ALIGN = 16  # every buffer starts on a 16-byte boundary (int32/SIMD loads, DMA)

RANDOM_ORDERS = 64  # extra placement orders tried when the classic ones miss the bound
INPLACE_OPS = {"ADD", "MUL", "RELU", "RELU6", "LOGISTIC", "TANH", "QUANTIZE", "DEQUANTIZE"}


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    """One region of the arena: tensors that share it, its size and live op range [first, last]."""

    tensors: list[Tensor]
    size: int
    first: int
    last: int
    offset: int = -1
    scratch_of: str = ""  # op label when this is kernel scratch

    @property
    def name(self) -> str:
        return self.scratch_of + " scratch" if self.scratch_of else self.tensors[0].name

    def overlaps(self, other: Buffer) -> bool:
        return not (self.last < other.first or other.last < self.first)


@dataclass
class MemoryPlan:
    buffers: list[Buffer]
    arena_bytes: int
    lower_bound: int
    live_bytes: list[int]  # per op: bytes live during that op
    scratch_bytes: int
    offsets: dict[int, int] = field(default_factory=dict)  # id(tensor) -> arena offset

    @property
    def optimal(self) -> bool:
        return self.arena_bytes <= self.lower_bound

    def offset_of(self, t: Tensor) -> int:
        return self.offsets[id(t)]

    def summary(self) -> dict:
        return {
            "arena_bytes": self.arena_bytes,
            "arena_lower_bound_bytes": self.lower_bound,
            "scratch_bytes": self.scratch_bytes,
            "live_bytes_per_op": self.live_bytes,
            "buffers": [
                {
                    "name": b.name,
                    "offset": b.offset,
                    "size": b.size,
                    "first_op": b.first,
                    "last_op": b.last,
                    "tensors": [t.name for t in b.tensors],
                }
                for b in sorted(self.buffers, key=lambda b: (b.offset, b.first))
            ],
        }


def _elementwise_same_shape(op: Op) -> bool:
    y = op.outputs[0]
    return all(
        t is None or t.is_const or (t.shape == y.shape and t.np_dtype.itemsize == y.np_dtype.itemsize)
        for t in op.inputs
    )


def _build_buffers(g: Graph, scratch: dict[int, int], inplace: bool) -> list[Buffer]:
    n = len(g.ops)
    acts = [t for t in g.tensors if t.data is None]
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in g.inputs:
        first[id(t)] = 0
        last[id(t)] = 0
    for i, op in enumerate(g.ops):
        for t in op.outputs:
            first.setdefault(id(t), i)
            last[id(t)] = max(last.get(id(t), i), i)
        for t in op.inputs:
            if t is not None and t.data is None:
                first.setdefault(id(t), i)
                last[id(t)] = i
    for t in g.outputs:
        last[id(t)] = n - 1 if n else 0

    # union-find over tensors that share storage
    parent: dict[int, int] = {id(t): id(t) for t in acts}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    graph_io = {id(t) for t in g.inputs} | {id(t) for t in g.outputs}
    for i, op in enumerate(g.ops):
        y = op.outputs[0]
        if op.type == "RESHAPE" and op.inputs[0].data is None:
            parent[find(id(y))] = find(id(op.inputs[0]))
        elif inplace and op.type in INPLACE_OPS and _elementwise_same_shape(op):
            for t in op.inputs:
                if t is None or t.data is not None or id(t) in graph_io:
                    continue
                root = find(id(t))
                # the whole alias group of t must end here for y to take its place
                group_last = max(last[k] for k in parent if find(k) == root)
                if group_last == i:
                    parent[find(id(y))] = root
                    break

    groups: dict[int, list[Tensor]] = {}
    for t in acts:
        if id(t) in first:  # tensors no op touches need no memory
            groups.setdefault(find(id(t)), []).append(t)
    bufs = [
        Buffer(ts, max(t.nbytes for t in ts), min(first[id(t)] for t in ts), max(last[id(t)] for t in ts))
        for ts in groups.values()
    ]
    for i, size in scratch.items():
        if size > 0:
            bufs.append(Buffer([], size, i, i, scratch_of=g.ops[i].label))
    return bufs


def _place(bufs: list[Buffer], order: list[Buffer]) -> int:
    placed: list[Buffer] = []
    for b in order:
        # lowest offset where b fits between buffers whose lifetimes overlap its own
        busy = sorted((p.offset, p.offset + _align(p.size)) for p in placed if p.overlaps(b))
        off = 0
        for start, end in busy:
            if off + _align(b.size) <= start:
                break
            off = max(off, end)
        b.offset = off
        placed.append(b)
    return max((b.offset + b.size for b in bufs), default=0)


def plan_memory(g: Graph, scratch: dict[int, int] | None = None, inplace: bool = True) -> MemoryPlan:
    """Plan the arena of ``g``. ``scratch`` maps op index → scratch bytes that op's kernel needs."""
    scratch = scratch or {}
    bufs = _build_buffers(g, scratch, inplace)
    n = max(len(g.ops), 1)
    live = [sum(b.size for b in bufs if b.first <= i <= b.last) for i in range(n)]
    bound = max(live, default=0)
    orders = [
        sorted(bufs, key=lambda b: (-b.size, b.first)),  # TFLM greedy order
        sorted(bufs, key=lambda b: (b.first, -b.size)),  # by birth
        sorted(bufs, key=lambda b: (-(b.last - b.first + 1) * b.size, b.first)),  # by area
        sorted(bufs, key=lambda b: (-(b.last - b.first), -b.size)),  # longest lived first
    ]
    # When the classic orders miss the bound, a few seeded shuffles often close the gap.
    rng = random.Random(0)
    for _ in range(RANDOM_ORDERS):
        shuffled = bufs[:]
        rng.shuffle(shuffled)
        orders.append(shuffled)
    best: tuple[int, list[int]] | None = None
    for order in orders:
        size = _place(bufs, order)
        if best is None or size < best[0]:
            best = (size, [b.offset for b in bufs])
        if size <= bound:
            break
    assert best is not None or not bufs
    if best is not None:
        for b, off in zip(bufs, best[1], strict=True):
            b.offset = off
    arena = _align(max((b.offset + b.size for b in bufs), default=0))
    offsets = {id(t): b.offset for b in bufs for t in b.tensors}
    return MemoryPlan(bufs, arena, _align(bound), live, sum(scratch.values()), offsets)
