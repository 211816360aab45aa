"""C for a fused residual block (``plan.fusion``): CONV_2D → CONV_2D → ADD row by row; and for
a fused chain (CONV_2D → CONV_2D, conv_b writing its whole output row by row: ``_emit_chain``).

The three layers' parameters, filters and requantization records are emitted by their usual
emitters (``generate.py`` passes its ``EMITTERS`` in: this module does not import it); their
kernel calls are then placed in a loop over the second convolution's output rows, with the
arena pointers replaced by band pointers (``_Ctx.ptr_override``) and the geometry records by
local copies whose height and top padding each band sets (``Window.band``):

    for each output row r of conv_b:
        drop the line buffer's rows above row r's window (memmove the rest down)
        conv_a on one x band per missing y1 row, appended to the line buffer
        conv_b on the line buffer (one output row) into the row buffer
        ADD(row buffer, shortcut row r) into output row r

The loop's bounds are constants from the plan, so it computes exactly what ``plan.fusion.schedule``
simulated (the line buffer's size and whether the output may overwrite x).
"""

from __future__ import annotations

import re

import numpy as np

from picoml.codegen import cemit
from picoml.codegen.emit_affine import uses_channel_tables
from picoml.codegen.emit_float import uses_float
from picoml.codegen.variants import uses_gemm
from picoml.fixedpoint import rounding_divide_by_pot, saturating_rounding_doubling_high_mul
from picoml.plan import FusedBlock, choose_fusions
from picoml.plan.fusion import walk
from picoml.reference import KERNELS
from picoml.reference.add import LEFT_SHIFT


def _call(c, emit, i: int) -> list[str]:
    """The lines layer i's emitter adds to the body (its declarations go where they always do)."""
    start = len(c.body)
    c.direct_calls = True  # the kernel's own call (not through a pm_conv_layer record): its records are swapped
    try:
        emit(c, c.graph.ops[i], i)
    finally:
        c.direct_calls = False
    lines = c.body[start:]
    del c.body[start:]
    return lines


def _swap(lines: list[str], names: dict[str, str]) -> list[str]:
    """Replace the layer's records in its call; every one must be there (a changed emitter must
    not leave a whole-tensor call inside the row loop)."""
    missing = [old for old in names if not any(old in line for line in lines)]
    if missing:
        raise RuntimeError(f"emit_fused: {missing} not in the layer's call {lines!r}: the layer emitter changed")
    out = []
    for line in lines:
        for old, new in names.items():
            line = line.replace(old, new)
        out.append(line)
    return out


def _take_decl(c, name: str) -> str:
    """Remove and return the declaration of ``name`` from ``c.decls``."""
    for k, d in enumerate(c.decls):
        if re.match(rf"static const \w+ {name} = ", d):
            return c.decls.pop(k)
    raise KeyError(name)


def _set(decl: str, name: str, new_name: str, values: dict[str, int]) -> str:
    """A copy of a ``struct_init`` declaration under ``new_name`` with some fields changed."""
    decl = decl.replace(f" {name} = ", f" {new_name} = ", 1)
    for k, v in values.items():
        decl = re.sub(rf"^  \.{k} = -?\d+,$", f"  .{k} = {v},", decl, count=1, flags=re.M)
    return decl


def _bands(c, i: int, w, rows: int) -> tuple[str, str, str]:
    """Layer i's geometry per output row (``_strip_records`` with one-row calls and one shared
    out-dims record of one row): (band index of each output row, params table, in-dims table)."""
    index, prm, din, _ = _strip_records(c, i, w, [(j, 1) for j in range(rows)], out_rows=False)
    return c.const_array(f"l{i}_band", np.array(index, np.uint8)), prm, din


def add_tables(op) -> np.ndarray:
    """The 512 int32 of ``pm_add_s8_tables``: each operand's rescaled value per int8 code, from
    the reference kernel's own parameters (``reference/add.py``)."""
    p = KERNELS[op.type].prepare(op)
    v = np.arange(-128, 128, dtype=np.int64)
    rows = []
    for zp, mult, shift in (
        (p.input1_zp, p.input1_multiplier, p.input1_shift),
        (p.input2_zp, p.input2_multiplier, p.input2_shift),
    ):
        scaled = saturating_rounding_doubling_high_mul((v - zp) * (1 << LEFT_SHIFT), mult)
        rows.append(rounding_divide_by_pot(scaled, -shift))
    return np.concatenate(rows).astype(np.int32)


def _line_walk(f: FusedBlock, arena_x: str, pa: str, da: str, sel_a: str, call_a: list[str]) -> list[str]:
    """The row loop's head, shared by blocks and chains: for output row ``pm_r`` of conv_b, drop
    the line buffer's rows above its window and compute the missing ones with conv_a."""
    wa, wb = f.wa, f.wb
    return [
        "  int32_t pm_r, pm_base = 0, pm_have = 0; /* pm_lines holds rows [pm_base, pm_base + pm_have) */",
        f"  for (pm_r = 0; pm_r < {wb.out_h}; ++pm_r) {{",
        f"    const int32_t pm_t = pm_r * {wb.stride} - {wb.pad};",
        f"    const int32_t pm_lo = pm_t < 0 ? 0 : pm_t, pm_hi = pm_t + {wb.extent} < {wb.in_h} ? "
        f"pm_t + {wb.extent} : {wb.in_h};",
        "    if (pm_lo > pm_base) {",
        "      const int32_t pm_drop = pm_lo - pm_base;",
        "      if (pm_drop < pm_have) {",
        f"        memmove(pm_lines, pm_lines + pm_drop * {f.row_y1}, (size_t)((pm_have - pm_drop) * {f.row_y1}));",
        "        pm_have -= pm_drop;",
        "      } else {",
        "        pm_have = 0;",
        "      }",
        "      pm_base = pm_lo;",
        "    }",
        "    if (pm_have == 0) pm_base = pm_lo;",
        "    while (pm_base + pm_have < pm_hi) {",
        "      const int32_t pm_j = pm_base + pm_have;",
        f"      const int32_t pm_u = pm_j * {wa.stride} - {wa.pad};",
        f"      pm_pa = {pa}[{sel_a}[pm_j]];",
        f"      pm_ia = {da}[{sel_a}[pm_j]];",
        f"      pm_xa = {arena_x} + (pm_u < 0 ? 0 : pm_u) * {f.row_x};",
        f"      pm_ya = pm_lines + pm_have * {f.row_y1};",
        *("      " + line for line in call_a),
        "      ++pm_have;",
        "    }",
    ]


def _strip_records(
    c, i: int, w, calls: list[tuple[int, int]], out_rows: bool = True
) -> tuple[list[int], str, str, str]:
    """Layer i's geometry per call of ``calls`` ((first output row, rows)): the record index of
    each call and the params / in-dims / out-dims tables, one flash record per distinct (top
    padding, input rows, output rows). ``out_rows`` False (every call one row): the layer keeps
    one out-dims record of one row, under its own name, and no out-dims table."""
    n = c.name
    prm, din, dout = (f"{n}_l{i}_{s}" for s in ("params", "in_dims", "out_dims"))
    p_decl, i_decl, o_decl = _take_decl(c, prm), _take_decl(c, din), _take_decl(c, dout)
    kinds: list[tuple[int, int, int]] = []
    index = []
    for j, rows in calls:
        lo, hi = w.rows(j)[0], w.rows(j + rows - 1)[1]
        kind = (lo - (j * w.stride - w.pad), hi - lo, rows)
        if kind not in kinds:
            kinds.append(kind)
        index.append(kinds.index(kind))
    tables = [(prm, "pm_conv_params"), (din, "pm_dims")]
    for k, (pad, h, rows) in enumerate(kinds):
        c.decls.append(_set(p_decl, prm, f"{prm}_{k}", {"pad_h": pad}))
        c.decls.append(_set(i_decl, din, f"{din}_{k}", {"h": h}))
        if out_rows:
            c.decls.append(_set(o_decl, dout, f"{dout}_{k}", {"h": rows}))
    if out_rows:
        tables.append((dout, "pm_dims"))
    else:
        c.decls.append(_set(o_decl, dout, dout, {"h": 1}))
    for name, ctype in tables:
        c.decls.append(
            f"static const {ctype} *const {name}_band[{len(kinds)}] = "
            "{" + ", ".join(f"&{name}_{k}" for k in range(len(kinds))) + "};\n"
        )
    return index, f"{prm}_band", f"{din}_band", f"{dout}_band"


def _emit_chain(c, f: FusedBlock, emitters: dict, arena) -> None:
    """A chain's C: the static walk (``plan.fusion.walk``, ``f.strip`` output rows a step) as a
    table, one entry per step: drop rows from the line buffer's front, conv_a on the band of x
    rows the missing y1 rows read, conv_b from the line buffer straight into y2's rows."""
    g, n = c.graph, c.name
    ia, ib = f.a, f.a + 1
    a, b = g.ops[ia], g.ops[ib]
    x, y1, y2 = a.inputs[0], a.outputs[0], b.outputs[0]
    steps = walk(f.wa, f.wb, None, f.strip)
    if steps is None:
        raise RuntimeError(f"emit_fused: layers {ia}-{ib}: the chain's walk does not run")
    c.ptr_override = {id(x): "pm_xa", id(y1): "pm_ya"}
    swap_a = {f"&{n}_l{ia}_{k},": f"pm_{k[0]}a," for k in ("params", "in_dims", "out_dims")}
    call_a = _swap(_call(c, emitters[a.type], ia), swap_a)
    c.ptr_override = {id(y1): "pm_lines", id(y2): "pm_row"}
    swap_b = {f"&{n}_l{ib}_{k},": f"pm_{k[0]}b," for k in ("params", "in_dims", "out_dims")}
    call_b = _swap(_call(c, emitters[b.type], ib), swap_b)
    c.ptr_override = {}
    _swap(call_a, {"pm_xa": "pm_xa", "pm_ya": "pm_ya"})  # the band pointers are in the calls
    _swap(call_b, {"pm_lines": "pm_lines", "pm_row": "pm_row"})
    rec_a, pa, ia_t, oa = _strip_records(c, ia, f.wa, [(s.a_row, s.a_rows) for s in steps if s.a_rows])
    rec_b, pb, ib_t, ob = _strip_records(c, ib, f.wb, [(s.b_row, s.b_rows) for s in steps])
    it = iter(rec_a)
    table = [
        [
            s.drop * f.row_y1,
            s.keep * f.row_y1,
            max(f.wa.rows(s.a_row)[0], 0) * f.row_x if s.a_rows else 0,
            s.a_slot * f.row_y1,
            next(it) if s.a_rows else -1,
            rec_b[k],
            s.b_row * f.row_y2,
        ]
        for k, s in enumerate(steps)
    ]
    sym = c.const_array(f"l{ia}_walk", np.array(table, np.int32))
    body = [
        f"{{ /* fused: the two layers above, {f.strip} output row(s) a step (picoml.plan.fusion, a chain) */",
        f"  int8_t *const pm_lines = {arena(y1)}; /* {f.lines} rows of layer {ia}'s output */",
        "  const pm_conv_params *pm_pa, *pm_pb;",
        "  const pm_dims *pm_ia, *pm_ib, *pm_oa, *pm_ob;",
        "  const int8_t *pm_xa;",
        "  int8_t *pm_ya, *pm_row;",
        "  int32_t pm_s;",
        f"  for (pm_s = 0; pm_s < {len(steps)}; ++pm_s) {{",
        f"    const int32_t *const pm_w = {sym} + 7 * pm_s; /* drop, keep, x, slot (bytes), a, b records, y2 */",
        "    if (pm_w[0] > 0) memmove(pm_lines, pm_lines + pm_w[0], (size_t)pm_w[1]);",
        "    if (pm_w[4] >= 0) {",
        f"      pm_pa = {pa}[pm_w[4]];",
        f"      pm_ia = {ia_t}[pm_w[4]];",
        f"      pm_oa = {oa}[pm_w[4]];",
        f"      pm_xa = {arena(x)} + pm_w[2];",
        "      pm_ya = pm_lines + pm_w[3];",
        *("      " + line for line in call_a),
        "    }",
        f"    pm_pb = {pb}[pm_w[5]];",
        f"    pm_ib = {ib_t}[pm_w[5]];",
        f"    pm_ob = {ob}[pm_w[5]];",
        f"    pm_row = {arena(y2)} + pm_w[6];",
        *("    " + line for line in call_b),
        "  }",
        "}",
    ]
    c.body.append(cemit.comment(f"{ia}..{ib}: {a.type}, {b.type}, fused row by row"))
    c.body.extend(body)


def emit_fused(c, f: FusedBlock, emitters: dict) -> None:
    """The fused run's C into ``c.body`` (layers ``f.ops``)."""

    def arena(t) -> str:
        return f"(int8_t *)(pm_arena.bytes + {c.plan.offset_of(t)})"

    if not f.residual:
        _emit_chain(c, f, emitters, arena)
        return
    g = c.graph
    ia, ib, ic = f.a, f.a + 1, f.add
    first = f.start
    a, b, add = g.ops[ia], g.ops[ib], g.ops[ic]
    x, y1, y2, out = a.inputs[0], a.outputs[0], b.outputs[0], add.outputs[0]
    r = add.inputs[1] if add.inputs[0] is y2 else add.inputs[0]
    row_x = f.row_x
    n = c.name
    wa, wb, ws = f.wa, f.wb, f.ws

    c.ptr_override = {id(x): "pm_xa", id(y1): "pm_ya"}
    call_a = _swap(_call(c, emitters[a.type], ia), {f"&{n}_l{ia}_params,": "pm_pa,", f"&{n}_l{ia}_in_dims,": "pm_ia,"})
    c.ptr_override = {id(y1): "pm_lines", id(y2): "pm_row"}
    call_b = _swap(_call(c, emitters[b.type], ib), {f"&{n}_l{ib}_params,": "pm_pb,", f"&{n}_l{ib}_in_dims,": "pm_ib,"})
    call_s: list[str] = []
    if ws is not None:  # the shortcut convolution: one row per output row, into its row buffer
        c.ptr_override = {id(x): "pm_xs", id(r): "pm_rr"}
        i_s = f.s
        call_s = _swap(
            _call(c, emitters[g.ops[i_s].type], i_s),
            {f"&{n}_l{i_s}_params,": "pm_ps,", f"&{n}_l{i_s}_in_dims,": "pm_is,"},
        )
        sel_s, ps, ds = _bands(c, i_s, ws, ws.out_h)
        call_s = [
            f"pm_ps = {ps}[{sel_s}[pm_r]];",
            f"pm_is = {ds}[{sel_s}[pm_r]];",
            f"pm_xs = {arena(x)} + {ws.rows_expr('pm_r')} * {row_x};",
            *call_s,
        ]
    c.ptr_override = {id(y2): "pm_row", id(r): "pm_rr", id(out): "pm_out"}
    call_add = _call(c, emitters[add.type], ic)
    c.ptr_override = {}
    for lines, ptrs in (
        (call_a, ("pm_xa", "pm_ya")),
        (call_b, ("pm_lines", "pm_row")),
        (call_add, ("pm_row", "pm_out")),
    ):
        _swap(lines, {p: p for p in ptrs})  # the band pointers are in the calls (c.ptr_override)
    sel_a, pa, da = _bands(c, ia, wa, wa.out_h)
    sel_b, pb, db = _bands(c, ib, wb, wb.out_h)
    _take_decl(c, f"{n}_l{ic}_bcast")  # the ADD runs on one row at a time, over precomputed tables
    tables = c.const_array(f"l{ic}_tables", add_tables(add), flash=True)
    call_add = _swap(call_add, {"pm_add_s8(": "pm_add_s8_tables(", f"&{n}_l{ic}_bcast,": f"{tables},"})
    call_add = [ln.replace(");", f", {f.row_y2});") if "pm_add_s8_tables(" in ln else ln for ln in call_add]

    body = [
        "{ /* fused: the layers above run row by row (picoml.plan.fusion) */",
        f"  int8_t *const pm_lines = {arena(y1)}; /* {f.lines} rows of layer {ia}'s output */",
        f"  int8_t *const pm_row = {arena(y2)}; /* one row of layer {ib}'s output */",
        "  const pm_conv_params *pm_pa, *pm_pb;",
        "  const pm_dims *pm_ia, *pm_ib;",
        "  const int8_t *pm_xa;",
        "  int8_t *pm_ya, *pm_out;",
        *(
            ["  const pm_conv_params *pm_ps;", "  const pm_dims *pm_is;", "  const int8_t *pm_xs;", "  int8_t *pm_rr;"]
            if ws
            else ["  const int8_t *pm_rr;"]
        ),
        *_line_walk(f, arena(x), pa, da, sel_a, call_a),
        f"    pm_pb = {pb}[{sel_b}[pm_r]];",
        f"    pm_ib = {db}[{sel_b}[pm_r]];",
        *("    " + line for line in call_b),
        *(
            [f"    pm_rr = {arena(r)}; /* one row of layer {f.s}'s output */", *("    " + ln for ln in call_s)]
            if ws
            else [f"    pm_rr = {arena(r)} + pm_r * {f.row_y2};"]
        ),
        f"    pm_out = {arena(out)} + pm_r * {f.row_y2};",
        *("    " + line for line in call_add),
        "  }",
        "}",
    ]
    kinds = ", ".join(str(g.ops[i].type) for i in f.ops)
    c.body.append(cemit.comment(f"{first}..{ic}: {kinds}, fused row by row"))
    c.body.extend(body)


#: pixels the GEMM kernels compute together (the 4-row block of pm_conv2d_s8's 1x1 / im2col)
GEMM_ROWS = 4


def fused_blocks(g, scratch: dict[int, int] | None = None) -> tuple[FusedBlock, ...]:
    """The residual blocks and chains of ``g`` the generator runs fused: those that lower the
    arena (``plan.choose_fusions``) and whose layers have their plain int8 emitters. A chain
    must also keep its GEMM layers' blocks whole: run a row at a time, a layer whose row is not
    a multiple of ``GEMM_ROWS`` pixels makes its leftover pixels one by one on every row (KWS's
    5-pixel rows: +25 % cycles for 12 % of the arena), so such a chain is not worth its RAM."""

    def plain(f: FusedBlock) -> bool:
        if any(uses_float(g.ops[i]) or uses_channel_tables(g.ops[i]) for i in f.ops):
            return False
        return f.residual or all(
            not uses_gemm(g.ops[i]) or g.ops[i].outputs[0].shape[2] % GEMM_ROWS == 0 for i in f.ops
        )

    return choose_fusions(g, scratch, allowed=plain)
