"""The ``picoml`` command.

Every user error ends in one line on stderr and exit code 2; nothing the user gave is
overwritten. Set PICOML_DEBUG=1 to see tracebacks of internal errors.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from picoml.errors import InputError, PicomlError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3


# ----------------------------------------------------------------------------- info
def model_summary(g) -> dict:
    """Per-op table and totals of a graph (what ``picoml info --json`` prints)."""
    from picoml.graph.ops import op_macs

    shape_args = {("RESHAPE", 1), ("PAD", 1), ("MEAN", 1)}
    counted: set[int] = set()
    ops = []
    for i, op in enumerate(g.ops):
        params = 0
        wbytes = 0
        for k, t in enumerate(op.inputs):
            if t is None or t.data is None or (op.type, k) in shape_args:
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
    from picoml.plan import plan_memory

    plan = plan_memory(g)
    for o, live in zip(ops, plan.live_bytes, strict=False):
        o["live_bytes"] = live
    encodings = []
    if all(t.dtype == "int8" for t in g.inputs + g.outputs):
        from picoml.codegen import layer_encodings

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
    return {
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
    print(f"model   {path}")
    for kind in ("inputs", "outputs"):
        for t in s[kind]:
            q = f"  scale={t['scale']:.6g} zero_point={t['zero_point']}" if "scale" in t else ""
            print(f"{kind[:-1]:7s} {t['name']}  {t['shape']} {t['dtype']}{q}")
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
    import picoml

    g = picoml.load(args.model)
    s = model_summary(g)
    if args.json:
        json.dump(s, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_info(Path(args.model), s)
    return 0


# ----------------------------------------------------------------------------- run
def _load_npy(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError):
        raise InputError(f"{path}: not a readable .npy array file (save one with numpy.save)") from None


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:120] or "tensor"


def _check_output_path(out: Path, inputs: list[Path]) -> None:
    for p in inputs:
        if p.exists() and out.exists() and os.path.samefile(out, p):
            raise InputError(f"{out}: output would overwrite an input file; choose another path")


def cmd_run(args: argparse.Namespace) -> int:
    import picoml

    model = Path(args.model)
    inp = Path(args.input)
    out = Path(args.output)
    _check_output_path(out, [model, inp])
    g = picoml.load(model)
    x = _load_npy(inp)
    if len(g.inputs) != 1:
        raise InputError(f"{model}: the model has {len(g.inputs)} inputs; `picoml run` feeds one")
    try:
        result = picoml.run(g, x, all_tensors=bool(args.all_tensors))
    except InputError as e:
        raise InputError(f"{inp}: {e}") from None
    if args.all_tensors:
        d = Path(args.all_tensors)
        if d.exists() and not d.is_dir():
            raise InputError(f"{d}: exists and is not a directory")
        d.mkdir(parents=True, exist_ok=True)
        index = {}
        for i, t in enumerate(g.tensors):
            if t.name not in result:
                continue
            fname = f"{i:04d}_{_safe_name(t.name)}.npy"
            np.save(d / fname, result[t.name])
            index[t.name] = fname
        (d / "index.json").write_text(json.dumps(index, indent=1) + "\n")
        y = result[g.outputs[0].name]
    else:
        y = result if isinstance(result, np.ndarray) else result[0]
    tmp = out.with_name(out.name + ".tmp.npy")
    np.save(tmp, y)
    tmp.replace(out)
    print(
        f"wrote {out}: {list(y.shape)} {y.dtype}" + (f"; all tensors in {args.all_tensors}" if args.all_tensors else "")
    )
    return 0


# ----------------------------------------------------------------------------- convert / evaluate
def _load_source(source: str, example, weights):
    from picoml.frontends import load_model

    return load_model(source, example_input=example, weights=weights)


def _to_graph(source: str, x):
    from picoml.frontends import source_layout, to_graph_layout

    return to_graph_layout(x) if source_layout(source) == "nchw" else x


def _calibration(path: Path):
    x = _load_npy(path)
    if x.dtype.kind != "f":
        raise InputError(f"{path}: calibration data must be float (got {x.dtype}); save float32 model inputs")
    if x.ndim < 2 or len(x) == 0:
        raise InputError(
            f"{path}: calibration data must be a batch [N, ...] of model inputs, has shape {list(x.shape)}"
        )
    if not np.isfinite(x).all():
        raise InputError(f"{path}: calibration data contains NaN or infinity")
    return x.astype(np.float32)


def cmd_convert(args: argparse.Namespace) -> int:
    import picoml
    from picoml.export.tflite import write_tflite

    out = Path(args.out)
    if out.suffix.lower() != ".tflite":
        raise InputError(f"{out}: picoml writes .tflite files; use a .tflite suffix")
    given = [Path(p) for p in (args.model, args.calibration, args.weights) if p]
    _check_output_path(out, given)
    calib = _calibration(Path(args.calibration)) if args.calibration else None
    g = _load_source(args.model, calib, args.weights)
    is_float = any(t.dtype == "float32" for t in g.inputs + g.outputs)
    if args.float_only:
        write_tflite(g, out)
        print(f"wrote {out}: float model, {len(g.ops)} ops")
        return 0
    if not is_float:
        raise InputError(f"{args.model}: is already an int8 model; nothing to quantize (use --float-only to re-export)")
    if calib is None:
        raise InputError("int8 conversion needs --calibration DATA.npy (a batch of representative float inputs)")
    q = picoml.quantize(g, _to_graph(args.model, calib), method=args.method, percentile=args.percentile)
    write_tflite(q, out)
    tin, tout = q.inputs[0], q.outputs[0]
    wbytes = sum(t.nbytes for t in q.constants)
    fbytes = sum(t.nbytes for t in g.constants)
    print(
        f"wrote {out}: int8, {len(q.ops)} ops, weights {wbytes:,} B (float {fbytes:,} B, {fbytes / max(wbytes, 1):.2f}x)"
    )
    print(
        f"input  {tin.name!r} {list(tin.shape)} {tin.dtype} scale {float(tin.scale[0]):.9g} zero_point {int(tin.zero_point[0])}"
    )
    print(
        f"output {tout.name!r} {list(tout.shape)} {tout.dtype} scale {float(tout.scale[0]):.9g} zero_point {int(tout.zero_point[0])}"
    )
    return 0


def _load_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if not {"x", "y"} <= keys:
                raise InputError(f"{path}: needs arrays 'x' (inputs) and 'y' (labels/targets); has {sorted(keys)}")
            return z["x"], z["y"]
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError):
        raise InputError(f"{path}: not a readable .npz file (save one with numpy.savez(path, x=..., y=...))") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    import picoml
    from picoml.evaluate import evaluate

    data = Path(args.data)
    x, y = _load_npz(data)
    if x.dtype.kind != "f":
        raise InputError(f"{data}: 'x' must hold float model inputs (got {x.dtype})")
    calib = _calibration(Path(args.calibration)) if args.calibration else None
    g = _load_source(args.model, calib if calib is not None else x.astype(np.float32), args.weights)
    if not all(t.dtype == "float32" for t in g.inputs):
        raise InputError(f"{args.model}: give the float model; the int8 one goes in --int8")
    if args.int8:
        q = picoml.load(args.int8)
    elif calib is not None:
        q = picoml.quantize(g, _to_graph(args.model, calib))
    else:
        raise InputError("give --int8 MODEL.tflite or --calibration DATA.npy to quantize the float model")
    r = evaluate(g, q, _to_graph(args.model, x.astype(np.float32)), y, kind=args.kind)
    if args.json:
        json.dump(r.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{r.kind} on {r.samples} samples of {data}")
    print(f"{'':12} {'float':>10} {'int8':>10}")
    print(f"{r.metric:12} {r.float_value:10.4f} {r.int8_value:10.4f}")
    print(f"agreement    {r.agreement:10.4f}  ({r.agreement_kind})")
    return 0


# ----------------------------------------------------------------------------- compress / fit
def cmd_compress(args: argparse.Namespace) -> int:
    from picoml.compress.pipeline import run_pipeline_config

    run_pipeline_config(args.config, out_dir=args.out)
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from picoml.fit import Budget, fit

    board: object = args.target
    if args.ram is not None or args.flash is not None:
        if args.ram is None or args.flash is None:
            raise InputError("give both --ram KB and --flash KB for a custom budget")
        board = Budget.custom(args.ram, args.flash, core=args.core, name=args.target or "")
    elif not args.target:
        raise InputError("give --target BOARD (see `picoml targets`; also small-32k, atmega328p) or --ram/--flash")
    r = fit(args.task, board, max_drop=args.max_drop, seed=args.seed, jobs=args.jobs, quick=args.quick)
    if args.json:
        json.dump(r.as_dict(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(r.table())
    return 0 if r.pick is not None else 1


# ----------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:
    from picoml.demo import run_demo

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    run_demo(out, seed=args.seed, quick=args.quick, n_verify=args.inputs)
    return 0


# ----------------------------------------------------------------------------- compile / verify / targets
def cmd_compile(args: argparse.Namespace) -> int:
    import picoml
    from picoml.codegen import write_c
    from picoml.targets import get_target

    get_target(args.target)
    g = picoml.load(args.model)
    out = Path(args.out)
    model_file = Path(args.model).resolve()
    if out.exists() and any(p.resolve() == model_file for p in out.glob("*")):
        raise InputError(f"{out}: holds the input model; choose another output directory")
    if args.format == "arduino":
        from picoml.export.firmware import write_arduino

        files = write_arduino(g, out, name=args.name, target=args.target)
        what = f"an Arduino library (library.properties, src/, examples/{args.name}_demo/)"
    elif args.format == "cmake":
        from picoml.export.firmware import write_cmake

        files = write_cmake(g, out, name=args.name, target=args.target)
        what = f"a CMake project (static library {args.name!r}, {args.name}_demo, cmake/ toolchain file)"
    else:
        files = write_c(g, out, name=args.name, target=args.target, sparse=not args.dense)
        what = f"{args.name}.h, {args.name}.c and {len(files) - 2} runtime files"
    from picoml.plan import plan_memory

    plan = plan_memory(g)
    print(f"wrote {len(files)} files to {out}: {what}")
    print(f"arena {plan.arena_bytes:,} B (op-at-a-time bound {plan.lower_bound:,} B; below it where window ops stream)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    import picoml
    from picoml.targets.verify import verify

    g = picoml.load(args.model)
    progress = None
    if not args.json and sys.stderr.isatty():

        def progress(i: int, n: int) -> None:
            sys.stderr.write(f"\r{args.target}: inference {i}/{n}")
            if i == n:
                sys.stderr.write("\n")

    rep = verify(g, args.target, n_inputs=args.inputs, sanitize=args.sanitize, progress=progress)
    if args.json:
        json.dump(rep.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_verify(rep)
    return 0 if rep.bit_exact else 1


def _print_verify(r) -> None:
    status = "bit-exact" if r.bit_exact else f"MISMATCH ({r.mismatches} values; {r.first_mismatch})"
    print(f"target        {r.target}" + (f" (board {r.board})" if r.board else ""))
    print(f"result        {status} on {r.inputs} inputs vs the reference interpreter")
    if r.instructions is not None:
        print(f"instructions  {r.instructions:,} per inference, {r.instructions_per_mac:.2f} per MAC ({r.macs:,} MACs)")
        if r.latency_ms_lower_bound is not None:
            print(f"latency       >= {r.latency_ms_lower_bound:.2f} ms on {r.board} (1 instruction/cycle lower bound)")
        print(f"flash         {r.flash_code_bytes:,} B code + {r.flash_weights_bytes:,} B weights")
        print(f"RAM           {r.ram_bytes:,} B (arena {r.arena_bytes:,} B, stack {r.stack_bytes:,} B)")
        if r.fit_message:
            print(f"fit           {r.fit_message}")
        if r.layer_instructions:
            print()
            print(f"{'#':>3}  {'op':18s} {'instructions':>13s} {'MACs':>10s} {'instr/MAC':>9s}")
            for i, lay in enumerate(r.layer_instructions):
                ipm = f"{lay['instructions_per_mac']:.2f}" if lay["instructions_per_mac"] else ""
                print(f"{i:>3}  {lay['op']:18s} {lay['instructions']:>13,} {lay['macs']:>10,} {ipm:>9s}")


def cmd_targets(args: argparse.Namespace) -> int:
    from picoml.targets import BOARDS, TARGETS

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
    print("cores")
    for t in TARGETS.values():
        print(f"  {t.name:14s} {t.description}; features: {', '.join(t.features)}")
    print()
    print(f"boards {'(latency estimate = instructions / clock: a lower bound)'}")
    print(f"  {'board':10s} {'core':14s} {'RAM':>8s} {'flash':>8s} {'clock':>8s}")
    for b in BOARDS.values():
        print(
            f"  {b.name:10s} {b.core:14s} {b.ram_bytes // 1024:>5d} KB {b.flash_bytes // 1024:>5d} KB "
            f"{b.clock_hz / 1e6:>5.0f} MHz  {b.note}"
        )
    return 0


# ----------------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's own convention too)
        self.exit(EXIT_USER_ERROR, f"picoml: error: {message} (see `picoml --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from picoml import __version__

    p = _Parser(prog="picoml", description="Take a trained neural network to a microcontroller.")
    p.add_argument("--version", action="version", version=f"picoml {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("info", help="op table, parameters, MACs and activation sizes of a model")
    s.add_argument("model", help="a .tflite model")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("run", help="run the reference interpreter on inputs from a .npy file")
    s.add_argument("model", help="a .tflite model")
    s.add_argument("--input", required=True, help=".npy with one input of the model's shape or a batch [N, ...]")
    s.add_argument("--output", required=True, help=".npy to write the output to")
    s.add_argument("--all-tensors", metavar="DIR", help="also write every tensor to DIR (one .npy each + index.json)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("compress", help="run a compression pipeline from a TOML config (distill, prune, QAT, ...)")
    s.add_argument("config", help="a TOML file (see examples/compress_digits.toml)")
    s.add_argument("--out", help="output directory (overrides the file's `out`)")
    s.set_defaults(func=cmd_compress)

    s = sub.add_parser("fit", help="find the most accurate model of a task that fits a board's RAM and flash")
    s.add_argument("task", help="a bundled task: digits, activity, vowels, sine")
    s.add_argument("--target", help="a board (see `picoml targets`) or a budget: small-32k, atmega328p")
    s.add_argument("--ram", type=float, help="custom budget: RAM in KB")
    s.add_argument("--flash", type=float, help="custom budget: flash in KB")
    s.add_argument("--core", default="cortex-m0plus", help="core for a custom budget (default cortex-m0plus)")
    s.add_argument("--max-drop", type=float, help="accuracy points the pick may lose against the best candidate")
    s.add_argument("--jobs", type=int, default=2, help="parallel trials on this machine (default 2)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quick", action="store_true", help="few candidates and epochs (a smoke run)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_fit)

    s = sub.add_parser("demo", help="the whole pipeline on the bundled digits task, with an HTML report")
    s.add_argument("--out", default="build/demo", help="report directory (default build/demo)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quick", action="store_true", help="few epochs (a smoke run)")
    s.add_argument("--inputs", type=int, default=20, help="test digits to verify on each emulated core")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("convert", help="float model (.tflite, .onnx, .pt, .pt2, module:factory) -> int8 .tflite")
    s.add_argument("model", help="a float model file or a Python `pkg.module:factory` spec")
    s.add_argument(
        "--calibration", help=".npy batch of representative float inputs (framework layout: NCHW for PyTorch/ONNX)"
    )
    s.add_argument("--out", required=True, help="the .tflite file to write")
    s.add_argument("--weights", help="state dict (.pt) for a module:factory spec")
    s.add_argument(
        "--method", default="minmax", choices=("minmax", "percentile", "mse"), help="activation range estimate"
    )
    s.add_argument("--percentile", type=float, default=99.99, help="for --method percentile (default 99.99)")
    s.add_argument("--float-only", action="store_true", help="write the imported float model, do not quantize")
    s.set_defaults(func=cmd_convert)

    s = sub.add_parser("evaluate", help="float vs int8 metric side by side, and their agreement")
    s.add_argument("model", help="the float model (file or module:factory spec)")
    s.add_argument("--data", required=True, help=".npz with 'x' (float inputs) and 'y' (labels or targets)")
    s.add_argument("--int8", help="the int8 .tflite to compare (else quantize with --calibration)")
    s.add_argument("--calibration", help=".npy of float inputs to quantize the float model with")
    s.add_argument("--weights", help="state dict (.pt) for a module:factory spec")
    s.add_argument("--kind", default="auto", choices=("auto", "classification", "regression", "anomaly"))
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("compile", help="generate a C99 library (header, model source, kernels)")
    s.add_argument("model", help="an int8 .tflite model")
    s.add_argument("--out", required=True, help="output directory (created)")
    s.add_argument("--target", default="host", help="core or board (see `picoml targets`)")
    s.add_argument("--name", default="model", help="C identifier prefixing every symbol (default: model)")
    s.add_argument("--dense", action="store_true", help="store every layer's weights densely (no sparse encodings)")
    s.add_argument(
        "--format",
        default="c",
        choices=("c", "arduino", "cmake"),
        help="plain C files, an Arduino library, or a CMake project",
    )
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("verify", help="compile, run on an emulated core (or the host), compare, measure")
    s.add_argument("model", help="an int8 .tflite model")
    s.add_argument("--target", default="host", help="core or board (see `picoml targets`)")
    s.add_argument("--inputs", type=int, default=20, help="random inputs to compare (default 20)")
    s.add_argument("--sanitize", action="store_true", help="host only: build with ASan and UBSan")
    s.add_argument("--json", action="store_true", help="machine-readable report")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("targets", help="list cores and boards with their budgets")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_targets)

    s = sub.add_parser("ops", help="list the supported ops")
    s.set_defaults(func=lambda a: (print("\n".join(__import__("picoml").supported_ops())), 0)[1])
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PicomlError as e:
        msg = " ".join(str(e).split("\n"))
        print(f"picoml: error: {msg}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("picoml: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an internal bug: still one line, but a distinct exit code
        if os.environ.get("PICOML_DEBUG"):
            raise
        print(f"picoml: internal error: {type(e).__name__}: {e} (set PICOML_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
