"""Fused residual blocks: CONV_2D → CONV_2D → ADD run row by row, so neither convolution's
output ever exists whole (either convolution may be a DEPTHWISE_CONV_2D: a depthwise +
pointwise residual block).

The pattern is the body of a residual block: ``y1 = conv_a(x)``, ``y2 = conv_b(y1)``,
``out = ADD(y2, r)`` (operands in either order) with ``r`` the shortcut (``x`` itself, or any
activation shaped like ``y2``), the three ops consecutive, ``y1`` read only by ``conv_b`` and
``y2`` only by the ADD, batch 1. Run one op at a time, ``x`` (or ``r``), ``y1`` and ``y2`` all
coexist at ``conv_b``: on ResNet-8's first stage that is three 16 KB tensors.

Fused, the generated C walks ``conv_b``'s output rows. For output row ``r`` it makes sure the
*line buffer* holds the rows of ``y1`` that row's window reads (rows no later window reads are
dropped from its front; missing ones are computed by ``conv_a`` on the band of ``x`` rows they
need, one row per call), runs ``conv_b`` on that band into a one-row buffer, and adds the row
to the shortcut's row ``r`` into the output's row ``r``. The existing kernels run on bands: a
band is a pointer to its first row, a height, and the top padding left above it
(``band_rows``).

Memory. ``y1`` shrinks to the line buffer (``lines`` rows), ``y2`` to one row; both live for
the whole fused run, as do any kernel scratch of the three ops. The output may take the
shortcut's place when the shortcut dies at the ADD (the ADD's usual in-place rule), and when
the shortcut is ``x`` itself only if ``conv_a`` never reads ``x``'s row ``r`` again after
output row ``r`` is written (``inplace_safe``; true for stride-1 SAME blocks). The planner
(``plan_memory(fused=...)``) applies that; the code generator keeps a block only where it
lowers the arena.

Cost. ``conv_a`` and ``conv_b`` are called once per output row instead of once, the ADD once per
row, and the line buffer's kept rows move down by ``memmove`` as the window slides
(``moved_bytes``): no MAC is repeated (every ``y1`` row is computed exactly once).

Chains. Two window layers in a row with no ADD (``y1 = conv_a(x)``, ``y2 = conv_b(y1)``, ``y1``
read only by ``conv_b``: a MobileNet's pointwise → stride-2 depthwise) run the same walk with
``conv_b`` writing straight into ``y2``'s row ``r``: ``y1`` shrinks to the line buffer, ``y2``
stays whole, and ``x``'s rows may be overwritten by ``y2``'s as they die (the planner's
``lag``). That lowers the arena where ``y1`` is the peak's largest tensor (MCUNetV2's point:
the early, large activations).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType
from picoml.passes.fold_pad import window_pads
from picoml.reference.common import window_geometry

# the layers a block's convolutions may be: both take pm_conv_params and run on bands
WINDOW_OPS = (OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D)


@dataclass(frozen=True)
class Window:
    """Rows of one convolution: output row j reads input rows j*stride - pad + tap*dilation."""

    in_h: int
    out_h: int
    stride: int
    pad: int
    extent: int  # (kh - 1) * dilation + 1: input rows one output row spans

    def rows(self, j: int) -> tuple[int, int]:
        """[lo, hi): the input rows output row j reads, clipped to the input."""
        t = j * self.stride - self.pad
        return max(t, 0), min(t + self.extent, self.in_h)

    def rows_expr(self, j: str) -> str:
        """C expression of ``rows(j)[0]`` for a C int32 ``j``."""
        return f"({j} * {self.stride} - {self.pad} < 0 ? 0 : {j} * {self.stride} - {self.pad})"

    def band(self, j: int) -> tuple[int, int, int]:
        """(first input row, rows, top padding) of the band that computes output row j alone."""
        lo, hi = self.rows(j)
        return lo, hi - lo, lo - (j * self.stride - self.pad)


def window(op: Op) -> Window:
    x, y, w = op.inputs[0], op.outputs[0], op.inputs[1]
    a = op.attrs
    kh, kw = w.shape[1], w.shape[2]
    sh, sw = a.get("stride_h", 1), a.get("stride_w", 1)
    dh, dw = a.get("dilation_h", 1), a.get("dilation_w", 1)
    geo = window_geometry(x.shape[1], x.shape[2], kh, kw, sh, sw, dh, dw, a.get("padding", "VALID"))
    pad_h, _ = window_pads(op, geo[2:])
    return Window(int(x.shape[1]), int(y.shape[1]), int(sh), int(pad_h), int((kh - 1) * dh + 1))


@dataclass(frozen=True)
class FusedBlock:
    """One fused run of consecutive ops: conv_a (op a), conv_b (a + 1), the shortcut conv_s
    when there is one (op s: a - 1 or a + 2; -1: none), the ADD (last) — or, for a chain
    (``residual`` False), conv_a and conv_b alone."""

    a: int
    s: int  # the shortcut convolution's op index, -1 when the shortcut is an activation
    wa: Window  # conv_a: x rows → y1 rows
    wb: Window  # conv_b: y1 rows → y2 rows
    ws: Window | None  # conv_s: x rows → shortcut rows (None: the shortcut is an activation)
    row_x: int  # bytes of one x row
    row_y1: int  # bytes of one y1 row
    row_y2: int  # bytes of one y2 row (= one output row, one shortcut row)
    lines: int  # y1 rows the line buffer holds
    shortcut_is_x: bool
    inplace_safe: bool  # the output may overwrite x's rows as it goes (shortcut_is_x only)
    lag: int  # bytes the output must start below x to overwrite x's rows as they die
    moved_bytes: int  # bytes the line buffer's memmoves copy per inference
    residual: bool = True  # False: a chain (conv_a → conv_b, no ADD; conv_b writes y2 whole)
    strip: int = 1  # conv_b's output rows per step (chains: ``with_strip``)

    @property
    def start(self) -> int:
        return min(self.a, self.s) if self.s >= 0 else self.a

    @property
    def ops(self) -> tuple[int, ...]:
        return tuple(range(self.start, self.start + (2 if not self.residual else 4 if self.ws else 3)))

    @property
    def last(self) -> int:
        """The run's last op: the ADD of a residual block, conv_b of a chain."""
        return self.ops[-1]

    @property
    def add(self) -> int:
        """The ADD's op index (-1 for a chain)."""
        return self.ops[-1] if self.residual else -1

    @property
    def line_bytes(self) -> int:
        return self.lines * self.row_y1

    @property
    def kernel_calls(self) -> int:
        """Kernel calls the fused run makes (unfused: one per op)."""
        if self.residual:
            return self.wa.out_h + 2 * self.wb.out_h + (self.ws.out_h if self.ws else 0)
        steps = walk(self.wa, self.wb, None, self.strip) or []
        return sum(1 + (st.a_rows > 0) for st in steps)

    def describe(self) -> str:
        s = self.summary()
        how = "row by row" if self.strip == 1 else f"{self.strip} rows at a time"
        return (
            f"layers {self.start}-{self.last} {how}: line buffer {s['line_buffer_bytes']:,} B, "
            f"{s['kernel_calls']} kernel calls instead of {s['unfused_kernel_calls']}, "
            f"{s['memmove_bytes']:,} B moved per inference"
        )

    def summary(self) -> dict:
        return {
            "kind": "residual" if self.residual else "chain",
            "ops": list(self.ops),
            "line_buffer_bytes": self.line_bytes,
            "row_buffer_bytes": self.row_y2 * (2 if self.ws else 1) if self.residual else 0,
            "output_over_shortcut": self.residual and (self.inplace_safe or not (self.shortcut_is_x or self.ws)),
            "output_lag_below_x": self.lag,
            "strip_rows": self.strip,
            "kernel_calls": self.kernel_calls,
            "unfused_kernel_calls": len(self.ops),
            "memmove_bytes": self.moved_bytes,
        }


@dataclass(frozen=True)
class Step:
    """One step of the walk: drop ``drop`` rows from the line buffer's front (``keep`` rows move
    down), conv_a computes y1 rows [a_row, a_row + a_rows) into slots from ``a_slot`` (none when
    ``a_rows`` is 0), then conv_b makes output rows [b_row, b_row + b_rows) from the buffer."""

    drop: int
    keep: int
    a_row: int
    a_rows: int
    a_slot: int
    b_row: int
    b_rows: int


def walk(wa: Window, wb: Window, ws: Window | None, strip: int = 1) -> list[Step] | None:
    """The row walk, ``strip`` output rows of conv_b per step, or None when some window reads
    no row at all (it cannot run from a band)."""
    base = have = 0  # the line buffer holds y1 rows [base, base + have)
    steps: list[Step] = []
    for r in range(0, wb.out_h, strip):
        n = min(strip, wb.out_h - r)
        if any(wb.rows(j)[0] >= wb.rows(j)[1] for j in range(r, r + n)):
            return None
        if ws is not None and any(ws.rows(j)[0] >= ws.rows(j)[1] for j in range(r, r + n)):
            return None
        lo, hi = wb.rows(r)[0], wb.rows(r + n - 1)[1]
        drop = keep = 0
        if lo > base:
            drop = lo - base
            keep = max(have - drop, 0)
            have, base = keep, lo
        if have == 0:
            base = lo
        first = base + have
        if any(wa.rows(j)[0] >= wa.rows(j)[1] for j in range(first, hi)):
            return None
        steps.append(Step(drop if keep else 0, keep, first, max(hi - first, 0), have, r, n))
        have = max(have, hi - base)
    return steps


def schedule(
    wa: Window, wb: Window, ws: Window | None, row_x: int, row_out: int, strip: int = 1
) -> tuple[int, int, bool, int] | None:
    """Simulate the row walk (``walk``): (line-buffer rows, rows moved, x rows safe to overwrite
    in order, lag: bytes the output must start below x so that writing output rows never
    clobbers an x byte a later step reads), or None when some window reads no row at all."""
    steps = walk(wa, wb, ws, strip)
    if steps is None:
        return None
    lines = moved = lag = 0
    safe = True
    for st in steps:
        moved += st.keep if st.drop else 0
        lines = max(lines, st.a_slot + st.a_rows)
        end = st.b_row + st.b_rows  # output rows written so far
        nxt = st.a_row + st.a_rows  # the next y1 row conv_a computes reads x rows from wa.rows(nxt)[0]
        later = [wa.rows(nxt)[0]] if nxt < wa.out_h else []
        if ws is not None and end < ws.out_h:
            later.append(ws.rows(end)[0])
        if later:
            first = min(later)
            safe = safe and first >= end
            lag = max(lag, end * row_out - first * row_x)
    return lines, moved, safe, lag


def _match(a: Op, b: Op, s: Op | None, c: Op, readers: dict[int, int], outs: set[int]):
    """(x, y1, y2, shortcut, output) when conv_a → conv_b (conv_s) → ADD c form a block, else None."""
    convs = (a, b) if s is None else (a, b, s)
    if any(op.type not in WINDOW_OPS or len(op.outputs) != 1 for op in convs) or c.type != OpType.ADD:
        return None
    if len(c.outputs) != 1 or len(c.inputs) != 2:
        return None
    x, y1, y2, out = a.inputs[0], a.outputs[0], b.outputs[0], c.outputs[0]
    if x is None or x.data is not None or b.inputs[0] is not y1 or y2 not in c.inputs:
        return None
    r = c.inputs[1] if c.inputs[0] is y2 else c.inputs[0]
    if r is None or r.data is not None or r is y2:
        return None
    if s is not None and (s.inputs[0] is not x or s.outputs[0] is not r):
        return None
    ts = (x, y1, y2, r, out)
    if any(len(t.shape) != 4 or t.shape[0] != 1 or t.np_dtype.itemsize != 1 for t in ts):
        return None
    if not (r.shape == y2.shape == out.shape) or any(id(t) in outs for t in (y1, y2, r if s else y1)):
        return None
    if readers.get(id(y1)) != 1 or readers.get(id(y2)) != 1 or (s is not None and readers.get(id(r)) != 1):
        return None
    if any(op.inputs[1].data is None or len(op.inputs[1].shape) != 4 for op in convs):
        return None
    return x, y1, y2, r


def residual_blocks(g: Graph) -> list[FusedBlock]:
    """Every CONV_2D → CONV_2D [+ CONV_2D shortcut] → ADD run of ``g`` that can run fused
    (module docstring): conv_a, conv_b, ADD consecutive, a shortcut convolution of x right
    before conv_a or right after conv_b."""
    readers: dict[int, int] = {}
    for op in g.ops:
        for t in op.inputs:
            if t is not None:
                readers[id(t)] = readers.get(id(t), 0) + 1
    outs = {id(t) for t in g.outputs}
    ops = g.ops
    found: list[FusedBlock] = []
    i = 0
    while i + 2 < len(ops):
        # (a, s, add) at i: conv_s after conv_b, conv_s before conv_a, no shortcut convolution
        tries = [(i, i + 2, i + 3), (i + 1, i, i + 3)] if i + 3 < len(ops) else []
        block = None
        for ia, i_s, ic in [*tries, (i, -1, i + 2)]:
            s = ops[i_s] if i_s >= 0 else None
            m = _match(ops[ia], ops[ia + 1], s, ops[ic], readers, outs)
            block = _block(ia, i_s, ops[ia], ops[ia + 1], s, m) if m is not None else None
            if block is not None:
                break
        if block is None:
            i += 1
        else:  # blocks never share an op
            found.append(block)
            i = block.add + 1
    return found


def _block(ia: int, i_s: int, a: Op, b: Op, s: Op | None, m) -> FusedBlock | None:
    x, y1, y2, r = m
    wa, wb = window(a), window(b)
    ws = window(s) if s is not None else None
    row_x = int(x.shape[2] * x.shape[3])
    row_y1 = int(y1.shape[2] * y1.shape[3])
    row_y2 = int(y2.shape[2] * y2.shape[3])
    sched = schedule(wa, wb, ws, row_x, row_y2)
    if sched is None:
        return None
    lines, moved, safe, lag = sched
    is_x = r is x
    return FusedBlock(ia, i_s, wa, wb, ws, row_x, row_y1, row_y2, lines, is_x, safe and is_x, lag, moved * row_y1)


def chains(g: Graph) -> list[FusedBlock]:
    """Every two consecutive window layers conv_a → conv_b that can run fused as a chain
    (module docstring): y1 read only by conv_b and not a graph output, int8 batch-1 NHWC
    activations, constant 4-D filters. Candidates overlap (op i+1 ends one and starts the
    next); ``plan.choose_fusions`` keeps a set that shares no op."""
    readers: dict[int, int] = {}
    for op in g.ops:
        for t in op.inputs:
            if t is not None:
                readers[id(t)] = readers.get(id(t), 0) + 1
    outs = {id(t) for t in g.outputs}
    found: list[FusedBlock] = []
    for i in range(len(g.ops) - 1):
        a, b = g.ops[i], g.ops[i + 1]
        if any(op.type not in WINDOW_OPS or len(op.outputs) != 1 or len(op.inputs) < 2 for op in (a, b)):
            continue
        x, y1, y2 = a.inputs[0], a.outputs[0], b.outputs[0]
        if x is None or x.data is not None or b.inputs[0] is not y1 or id(y1) in outs or readers.get(id(y1)) != 1:
            continue
        if any(len(t.shape) != 4 or t.shape[0] != 1 or t.np_dtype.itemsize != 1 for t in (x, y1, y2)):
            continue
        if any(op.inputs[1] is None or op.inputs[1].data is None or len(op.inputs[1].shape) != 4 for op in (a, b)):
            continue
        wa, wb = window(a), window(b)
        row_x = int(x.shape[2] * x.shape[3])
        row_y1 = int(y1.shape[2] * y1.shape[3])
        row_y2 = int(y2.shape[2] * y2.shape[3])
        sched = schedule(wa, wb, None, row_x, row_y2)
        if sched is None:
            continue
        lines, moved, _, lag = sched
        found.append(
            FusedBlock(i, -1, wa, wb, None, row_x, row_y1, row_y2, lines, False, False, lag, moved * row_y1, False)
        )
    return found


def with_strip(f: FusedBlock, strip: int) -> FusedBlock | None:
    """Chain ``f`` walked ``strip`` output rows per step (fewer, larger kernel calls for a larger
    line buffer), or None when that walk cannot run."""
    sched = schedule(f.wa, f.wb, None, f.row_x, f.row_y2, strip)
    if f.residual or sched is None:
        return None
    lines, moved, _, lag = sched
    return replace(f, lines=lines, lag=lag, moved_bytes=moved * f.row_y1, strip=strip)
