"""``picoml info``, ``picoml ops`` and ``picoml targets``: what a model, picoml and the target
catalogue hold."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import picoml
from picoml.cli.common import EXIT_OK, apply_boards, memory_limit, naming_errors
from picoml.codegen import layer_encodings
from picoml.codegen.emit_float import BYTE_OPS, FLOAT_EMITTERS
from picoml.codegen.emit_float_extra import FLOAT_EXTRA_EMITTERS
from picoml.codegen.generate import EMITTERS
from picoml.frontends.onnx import supported_onnx_ops
from picoml.frontends.torch import supported_torch
from picoml.graph.ops import OP_SET, op_macs
from picoml.passes.fold_pad import foldable_pads
from picoml.plan import plan_memory
from picoml.targets import BOARDS, TARGETS
from picoml.targets.cycles import timing_for
from picoml.untrusted import for_terminal


def model_summary(g) -> dict:
    """Per-op table and totals of a graph (what ``picoml info --json`` prints)."""

    counted: set[int] = set()
    ops = []
    for i, op in enumerate(g.ops):
        params = 0
        wbytes = 0
        shape_args = OP_SET[op.type].shape_inputs  # integer shape/axis arguments are not parameters
        for k, t in enumerate(op.inputs):
            if t is None or t.data is None or k in shape_args:
                continue
            if id(t) not in counted:
                counted.add(id(t))
                params += t.size
                wbytes += t.nbytes
        y = op.outputs[0]
        ops.append(
            {
                "index": i,
                "type": op.type,
                "name": op.name,
                "inputs": [list(t.shape) if t is not None else None for t in op.inputs if t is None or t.data is None],
                "output": list(y.shape),
                "dtype": y.dtype,
                "params": params,
                "weight_bytes": wbytes,
                "macs": op_macs(op),
                "attrs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in op.attrs.items()},
            }
        )
    acts = [
        {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "bytes": t.nbytes}
        for t in g.tensors
        if t.data is None
    ]

    plan = plan_memory(g)
    for o, live in zip(ops, plan.live_bytes, strict=False):
        o["live_bytes"] = live
    encodings = []
    if all(t.dtype == "int8" for t in g.inputs + g.outputs):
        encodings = [
            {
                k: e[k]
                for k in (
                    *("op", "type", "weights", "nonzeros", "density", "encoding", "bytes", "dense_bytes"),
                    *("requant_bytes", "dense_requant_bytes"),
                )
            }
            for e in layer_encodings(g)
        ]
    folds = foldable_pads(g)
    return {
        "load_notes": list(getattr(g, "notes", [])),
        "compile_folds": [
            {"pad": f.pad, "conv": f.conv, "pads": list(f.pads), "saved_bytes": f.saved_bytes, "text": f.describe()}
            for f in folds
        ],
        "weights_encoding": encodings,
        "arena_bytes": plan.arena_bytes,
        "arena_lower_bound_bytes": plan.lower_bound,
        "arena_streamed": plan.summary()["streamed"],
        "scratch_bytes": plan.scratch_bytes,
        "ops": ops,
        "op_count": len(ops),
        "params": sum(o["params"] for o in ops),
        "weight_bytes": sum(o["weight_bytes"] for o in ops),
        "macs": sum(o["macs"] for o in ops),
        "inputs": [_io(t) for t in g.inputs],
        "outputs": [_io(t) for t in g.outputs],
        "activations": acts,
        "activation_bytes": sum(a["bytes"] for a in acts),
        "largest_activation_bytes": max((a["bytes"] for a in acts), default=0),
    }


def _io(t) -> dict:
    d = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}
    if t.quantized:
        d["scale"] = float(t.scale[0])
        d["zero_point"] = int(t.zero_point[0])
    return d


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def _print_info(path: Path, s: dict) -> None:
    print(f"model   {for_terminal(path)}")
    for kind in ("inputs", "outputs"):
        for t in s[kind]:
            q = f"  scale={t['scale']:.6g} zero_point={t['zero_point']}" if "scale" in t else ""
            print(f"{kind[:-1]:7s} {for_terminal(t['name'])}  {t['shape']} {t['dtype']}{q}")
    print()
    rows = [("#", "op", "output", "params", "MACs", "options")]
    for o in s["ops"]:
        a = o["attrs"]
        opts = []
        if "filter_h" in a:
            opts.append(f"{a['filter_h']}x{a['filter_w']}")
        if "stride_h" in a:
            opts.append(f"s{a['stride_h']}x{a['stride_w']}")
        if a.get("dilation_h", 1) != 1 or a.get("dilation_w", 1) != 1:
            opts.append(f"d{a['dilation_h']}x{a['dilation_w']}")
        if "padding" in a:
            opts.append(a["padding"])
        if a.get("depth_multiplier", 1) not in (0, 1):
            opts.append(f"dm{a['depth_multiplier']}")
        if a.get("fused_activation", "NONE") != "NONE":
            opts.append(a["fused_activation"])
        rows.append(
            (
                str(o["index"]),
                o["type"],
                "x".join(map(str, o["output"])) + " " + o["dtype"],
                _fmt_int(o["params"]),
                _fmt_int(o["macs"]),
                " ".join(opts),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print(
            "  ".join(
                c.rjust(w) if i in (0, 3, 4) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    print()
    print(f"ops               {s['op_count']}")
    print(f"params            {_fmt_int(s['params'])}")
    print(f"weight bytes      {_fmt_int(s['weight_bytes'])}")
    print(f"MACs              {_fmt_int(s['macs'])}")
    print(
        f"activation bytes  {_fmt_int(s['activation_bytes'])} in {len(s['activations'])} tensors "
        f"(largest {_fmt_int(s['largest_activation_bytes'])})"
    )
    print(
        f"arena             {_fmt_int(s['arena_bytes'])} B planned, op-at-a-time bound "
        f"{_fmt_int(s['arena_lower_bound_bytes'])} B"
        + (
            f" ({len(s['arena_streamed'])} window ops write their output over their dying input)"
            if s["arena_streamed"]
            else ""
        )
    )
    if s["load_notes"]:
        print()
        print("read from the file")
        for n in s["load_notes"]:
            print(f"  {for_terminal(n, 200)}")
    if s["compile_folds"]:
        print()
        print("folded when C is generated (bit-exact; the arena above still counts these buffers)")
        for f in s["compile_folds"]:
            print(f"  {for_terminal(f['text'], 200)}")
    if s["weights_encoding"]:
        print()
        print("weights in the generated C (portable kernels; sparse when it saves at least a quarter)")
        for e in s["weights_encoding"]:
            print(
                f"{e['op']:>3} {e['type']:18s} density {100 * e['density']:5.1f} %  {e['encoding']:8s}"
                f" {e['bytes']:>9,} B (dense {e['dense_bytes']:,} B); requantization {e['requant_bytes']:,} B"
                f" (dense {e['dense_requant_bytes']:,} B)"
            )
    print()
    print("live memory per op (bytes that must coexist while the op runs)")
    peak = max((o["live_bytes"] for o in s["ops"]), default=0) or 1
    for o in s["ops"]:
        bar = "#" * max(1, round(40 * o["live_bytes"] / peak)) if o["live_bytes"] else ""
        print(f"{o['index']:>3} {o['type']:18s} {o['live_bytes']:>9,} {bar}")


def cmd_info(args: argparse.Namespace) -> int:

    g = picoml.load(args.model, max_memory=memory_limit(args))
    with naming_errors(args.model):
        s = model_summary(g)
    if args.json:
        json.dump(s, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_info(Path(args.model), s)
    return EXIT_OK


def ops_table() -> list[dict]:
    """One row per registered op: what picoml runs it on (interpreter dtypes, generated C)."""
    rows = []
    for op, d in sorted(OP_SET.items()):
        rows.append(
            {
                "op": str(op),
                "builtin_code": d.builtin_code,
                "float32": True,
                "int8": d.int8_kernel,
                "c_int8": op in EMITTERS,
                "c_float32": op in FLOAT_EMITTERS or op in BYTE_OPS or op in FLOAT_EXTRA_EMITTERS,
                "description": d.doc,
            }
        )
    return rows


def _frontend_ops(kind: str) -> dict:
    """What a front-end converts: PyTorch modules/functions/methods, or ONNX ops (run time or folded)."""
    if kind == "torch":
        return supported_torch()  # needs the torch extra; its error says how to install it
    return {"onnx": supported_onnx_ops()}


def cmd_ops(args: argparse.Namespace) -> int:
    if args.frontend:
        table = _frontend_ops(args.frontend)
        if args.json:
            json.dump(table, sys.stdout, indent=1)
            print()
            return EXIT_OK
        for group, names in table.items():
            print(f"{group}:")
            items = names.items() if isinstance(names, dict) else ((n, "") for n in names)
            for n, how in items:
                print(f"  {n}" + (f"  ({how})" if how else ""))
        return EXIT_OK
    rows = ops_table()
    if args.json:
        json.dump({"ops": rows}, sys.stdout, indent=1)
        print()
        return EXIT_OK

    def mark(v: bool) -> str:
        return "yes" if v else "-"

    print(f"{'op':<24} {'code':>4}  {'float32':<7} {'int8':<4}  {'C int8':<6}  {'C float32':<9}  description")
    for r in rows:
        print(
            f"{r['op']:<24} {r['builtin_code']:>4}  {mark(r['float32']):<7} {mark(r['int8']):<4}  "
            f"{mark(r['c_int8']):<6}  {mark(r['c_float32']):<9}  {r['description']}"
        )
    n_c, n_f = sum(r["c_int8"] for r in rows), sum(r["c_float32"] for r in rows)
    print(f"{len(rows)} ops: all run in the reference interpreter; {n_c} compile to int8 C, {n_f} to float32 C")
    return EXIT_OK


def cmd_targets(args: argparse.Namespace) -> int:

    apply_boards(args)
    if args.json:
        json.dump(
            {
                "targets": [
                    {
                        "name": t.name,
                        "description": t.description,
                        "features": list(t.features),
                        "dsp": t.dsp,
                        "fpu": t.fpu,
                        "isa": t.isa.name,
                        "float_abis": list(t.float_abis),
                    }
                    for t in TARGETS.values()
                ],
                "boards": [
                    {
                        "name": b.name,
                        "core": b.core,
                        "ram_bytes": b.ram_bytes,
                        "flash_bytes": b.flash_bytes,
                        "clock_hz": b.clock_hz,
                        "flash_wait_states": b.flash_wait_states,
                        "flash_cache": b.flash_cache,
                        "note": b.note,
                    }
                    for b in BOARDS.values()
                ],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0
    print(
        "cores (C built with --toolchain zig, the default, or gcc: docs/targets.md; estimated cycles: "
        "each core's published instruction timings, zero-wait memory; AVR: avr-gcc only, cycles measured in simavr)"
    )
    for t in TARGETS.values():
        timing = timing_for(t.name)
        how = f"; cycles: {timing.reference}" if timing else ""
        how = "; cycles: measured (simavr)" if t.measured_cycles else how
        print(f"  {t.name:14s} {t.description}; features: {', '.join(t.features)}{how}")
    print()
    print("boards (latency: estimated cycles / clock; flash wait states (WS) count only where no cache hides them)")
    print(f"  {'board':10s} {'core':14s} {'RAM':>8s} {'flash':>8s} {'clock':>8s} {'flash':>14s}")
    for b in BOARDS.values():
        clock = f"{b.clock_hz / 1e6:>5.0f} MHz" if b.clock_hz else f"{'budget':>9s}"
        ws = f"{b.flash_wait_states} WS" + (" (cached)" if b.flash_cache and b.flash_wait_states else "")
        print(
            f"  {b.name:10s} {b.core:14s} {b.ram_bytes // 1024:>5d} KB {b.flash_bytes // 1024:>5d} KB {clock} "
            f"{ws if b.clock_hz else '':>14s}  {b.note}"
        )
    return 0
