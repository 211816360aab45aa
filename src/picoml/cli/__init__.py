"""The ``picoml`` command.

Exit codes: 0 success; 1 a check that ran and failed (``verify`` found a mismatch, or the model
does not fit the chosen board; ``fit`` found nothing that fits); 2 a user error, with exactly
one line on stderr naming the file, op, tensor or option; 3 only a bug in picoml. Library
warnings never reach stderr. Nothing the user gave is overwritten; outputs are written
atomically (``picoml.outputs``). Set PICOML_DEBUG=1 to see tracebacks of internal errors.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

import picoml
from picoml.cli.common import (
    BOARDS_HELP,
    ENVIRONMENT_ERRNOS,
    EXIT_CHECK_FAILED,
    EXIT_CODES,
    EXIT_INTERNAL_ERROR,
    EXIT_OK,
    EXIT_USER_ERROR,
    add_build_options,
    apply_boards,
    load_array,
    memory_limit,
    naming_errors,
)
from picoml.cli.info import cmd_info, cmd_ops, cmd_targets
from picoml.cli.validate import add_parser as add_validate_parser
from picoml.cli.validate import add_report_parser
from picoml.codegen import compile_c
from picoml.codegen.cemit import check_identifier
from picoml.codegen.firmware import write_arduino, write_cmake
from picoml.errors import InputError, PicomlError
from picoml.flows.compress import run_pipeline_config
from picoml.flows.demo import Progress, run_demo
from picoml.flows.demo_keywords import run_keywords_demo
from picoml.flows.evaluate import evaluate
from picoml.flows.fit import Budget, RayRunner, fit
from picoml.flows.verify import verify
from picoml.frontends import load_model, source_layout
from picoml.frontends.lowering import to_graph_layout
from picoml.frontends.tflite_writer import write_tflite
from picoml.graph.limits import DEFAULT_MAX_MEMORY, parse_size
from picoml.outputs import check_output_file, check_writable_dir, write_file, write_tree
from picoml.plan import MemoryPlan
from picoml.quantize.ptq import dequantize_output, quantize_input
from picoml.targets import get_target
from picoml.targets.toolchain import cmake_cross, configure
from picoml.tasks.user import UserTaskSpec
from picoml.untrusted import for_terminal, load_npz, one_line
from picoml.version import __version__


# ----------------------------------------------------------------------------- run
def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:120] or "tensor"


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _quantized_input(g, k: int, v: np.ndarray) -> np.ndarray:
    """Float data for a quantized input k, as the model's integers (TFLite's QUANTIZE)."""
    t = g.inputs[k]
    if not t.quantized:
        return v
    if np.asarray(v).dtype.kind != "f":
        raise InputError(f"--quantize-input: input {k} is {np.asarray(v).dtype}; give float values")
    return quantize_input(g, v, k)


def cmd_run(args: argparse.Namespace) -> int:

    limit = memory_limit(args)
    model = Path(args.model)
    inp = Path(args.input)
    out = Path(args.output)
    check_output_file(out, (model, inp))
    if args.all_tensors:
        d = Path(args.all_tensors)
        if d.exists() and not d.is_dir():
            raise InputError(f"{for_terminal(d)}: exists and is not a directory")
    g = picoml.load(model, max_memory=limit)
    n_in, n_out = len(g.inputs), len(g.outputs)
    if n_in == 1 and inp.suffix.lower() != ".npz":
        x = load_array(inp, limit)
    else:  # several inputs: one .npz with input0, input1, ... in the model's order
        keys = tuple(f"input{i}" for i in range(n_in))
        if inp.suffix.lower() != ".npz":
            raise InputError(
                f"{for_terminal(inp)}: the model has {n_in} inputs; give a .npz with arrays {', '.join(keys)}"
            )
        x = [load_npz(inp, keys, limit)[k] for k in keys]
    if n_out > 1 and out.suffix.lower() != ".npz":
        raise InputError(f"{for_terminal(out)}: the model has {n_out} outputs; write them to a .npz (output0, ...)")
    with naming_errors(model):  # the model's own problems name the model ...
        interpreter = picoml.Interpreter(g, max_memory=limit)
    try:
        if args.quantize_input:
            xs = [x] if n_in == 1 else x
            xs = [_quantized_input(g, k, v) for k, v in enumerate(xs)]
            x = xs[0] if n_in == 1 else xs
        result = interpreter.run(x, all_tensors=bool(args.all_tensors))
    except InputError as e:  # ... and the data's name the data
        raise InputError(f"{for_terminal(inp)}: {e}") from None
    if args.all_tensors:
        files: dict[str, str | bytes] = {}
        index = {}
        for i, t in enumerate(g.tensors):
            if t.name not in result:
                continue
            fname = f"{i:04d}_{_safe_name(t.name)}.npy"
            files[fname] = _npy_bytes(result[t.name])
            index[t.name] = fname
        files["index.json"] = json.dumps(index, indent=1) + "\n"
        write_tree(args.all_tensors, files, force=args.force, protect=(model, inp))
        ys = [result[t.name] for t in g.outputs]
    else:
        ys = [result] if isinstance(result, np.ndarray) else list(result)
    if args.dequantize_output:
        ys = [dequantize_output(g, y, k) if g.outputs[k].quantized else y for k, y in enumerate(ys)]
    if out.suffix.lower() == ".npz":
        buf = io.BytesIO()
        np.savez(buf, **{f"output{i}": y for i, y in enumerate(ys)})
        write_file(out, buf.getvalue())
    else:
        write_file(out, _npy_bytes(ys[0]))
    shapes = "; ".join(f"{list(y.shape)} {y.dtype}" for y in ys)
    print(
        f"wrote {for_terminal(out)}: {shapes}"
        + (f"; all tensors in {for_terminal(args.all_tensors)}" if args.all_tensors else "")
    )
    return EXIT_OK


# ----------------------------------------------------------------------------- convert / evaluate
def _load_source(args: argparse.Namespace, example):

    return load_model(
        args.model,
        example_input=example,
        weights=args.weights,
        random_weights=args.random_weights,
        max_memory=memory_limit(args),
    )


def _to_graph(source: str, x):

    return to_graph_layout(x) if source_layout(source) == "nchw" else x


def _calibration(path: Path, limit: int = DEFAULT_MAX_MEMORY):
    x = load_array(path, limit)
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

    out = Path(args.out)
    if out.suffix.lower() != ".tflite":
        raise InputError(f"{for_terminal(out)}: picoml writes .tflite files; use a .tflite suffix")
    given = [Path(p) for p in (args.model, args.calibration, args.weights) if p]
    check_output_file(out, tuple(given))
    calib = _calibration(Path(args.calibration), memory_limit(args)) if args.calibration else None
    g = _load_source(args, calib)
    is_float = any(t.dtype == "float32" for t in g.inputs + g.outputs)
    if args.float_only:
        write_tflite(g, out)
        print(f"wrote {out}: float model, {len(g.ops)} ops")
        return 0
    if not is_float:
        raise InputError(f"{args.model}: is already an int8 model; nothing to quantize (use --float-only to re-export)")
    if calib is None:
        raise InputError(
            f"{args.activations} conversion needs --calibration DATA.npy (a batch of representative float inputs)"
        )
    q = picoml.quantize(
        g, _to_graph(args.model, calib), method=args.method, percentile=args.percentile, activations=args.activations
    )
    write_tflite(q, out)
    tin, tout = q.inputs[0], q.outputs[0]
    wbytes = sum(t.nbytes for t in q.constants)
    fbytes = sum(t.nbytes for t in g.constants)
    kind = {"int8": "int8", "int16": "16x8 (int16 activations, int8 weights)", "mixed": "mixed int8 / 16x8"}[
        args.activations
    ]
    print(
        f"wrote {out}: {kind}, {len(q.ops)} ops, weights {wbytes:,} B (float {fbytes:,} B, {fbytes / max(wbytes, 1):.2f}x)"
    )
    print(
        f"input  {for_terminal(tin.name)!r} {list(tin.shape)} {tin.dtype} scale {float(tin.scale[0]):.9g} zero_point {int(tin.zero_point[0])}"
    )
    print(
        f"output {for_terminal(tout.name)!r} {list(tout.shape)} {tout.dtype} scale {float(tout.scale[0]):.9g} zero_point {int(tout.zero_point[0])}"
    )
    if args.activations == "mixed" and q.notes:
        print(for_terminal(q.notes[-1]))
    return EXIT_OK


def _load_npz(path: Path, limit: int = DEFAULT_MAX_MEMORY):
    z = load_npz(path, ("x", "y"), limit)
    return z["x"], z["y"]


def cmd_evaluate(args: argparse.Namespace) -> int:

    data = Path(args.data)
    limit = memory_limit(args)
    x, y = _load_npz(data, limit)
    if x.dtype.kind != "f":
        raise InputError(f"{for_terminal(data)}: 'x' must hold float model inputs (got {x.dtype})")
    if not np.isfinite(x).all():
        raise InputError(f"{for_terminal(data)}: 'x' contains NaN or infinity")
    calib = _calibration(Path(args.calibration), limit) if args.calibration else None
    g = _load_source(args, calib if calib is not None else x.astype(np.float32))
    if not all(t.dtype == "float32" for t in g.inputs):
        raise InputError(f"{for_terminal(args.model)}: give the float model; the int8 one goes in --int8")
    if args.int8:
        q = picoml.load(args.int8, max_memory=limit)
    elif calib is not None:
        q = picoml.quantize(g, _to_graph(args.model, calib))
    else:
        raise InputError("give --int8 MODEL.tflite or --calibration DATA.npy to quantize the float model")
    r = evaluate(g, q, _to_graph(args.model, x.astype(np.float32)), y, kind=args.kind)
    if args.json:
        json.dump(r.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"{r.kind} on {r.samples} samples of {for_terminal(data)}")
    print(f"{'':12} {'float':>10} {'int8':>10}")
    print(f"{r.metric:12} {r.float_value:10.4f} {r.int8_value:10.4f}")
    print(f"agreement    {r.agreement:10.4f}  ({r.agreement_kind})")
    return EXIT_OK


# ----------------------------------------------------------------------------- compress / fit
def cmd_compress(args: argparse.Namespace) -> int:

    run_pipeline_config(args.config, out_dir=args.out, progress=(lambda _m: None) if args.quiet else print)
    return EXIT_OK


def _stderr_line(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def cmd_fit(args: argparse.Namespace) -> int:

    apply_boards(args)
    board: object = args.target
    if args.ram is not None or args.flash is not None:
        if args.ram is None or args.flash is None:
            raise InputError("give both --ram KB and --flash KB for a custom budget")
        board = Budget.custom(args.ram, args.flash, core=args.core, name=args.target or "")
    elif not args.target:
        raise InputError("give --target BOARD (see `picoml targets`; also small-32k, atmega328p) or --ram/--flash")
    if (args.data is None) != (args.model is None):
        raise InputError("give both --data DATA.npz and --model MODULE:FACTORY for your own task")
    if args.data is not None and args.task is not None:
        raise InputError(f"give a bundled task ({args.task}) or --data/--model, not both")
    if args.data is None and args.task is None:
        raise InputError(
            "give a bundled task (digits, activity, vowels, sine) or --data DATA.npz --model MODULE:FACTORY"
        )
    task = args.task if args.data is None else UserTaskSpec.of(args.data, args.model)
    runner = None if args.ray is None else RayRunner(args.ray, workers=args.jobs)
    try:
        r = fit(
            task,
            board,
            max_drop=args.max_drop,
            seed=args.seed,
            jobs=args.jobs,
            quick=args.quick,
            runner=runner,
            trials=args.trials,
            epochs=args.epochs,
            progress=None if args.quiet else _stderr_line,
        )
    finally:
        if runner is not None:
            runner.close()
    if args.json:
        json.dump(r.as_dict(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(r.table())
    return EXIT_OK if r.pick is not None else EXIT_CHECK_FAILED


# ----------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace) -> int:

    keywords = args.task == "keywords"
    out = check_writable_dir(args.out or ("build/demo-keywords" if keywords else "build/demo"))
    demo = run_keywords_demo if keywords else run_demo
    demo(
        out,
        seed=args.seed,
        quick=args.quick,
        n_verify=args.inputs or (10 if keywords else 20),
        progress=Progress(quiet=args.quiet),
        force=args.force,
    )
    return EXIT_OK


# ----------------------------------------------------------------------------- compile / verify / targets
def cmd_compile(args: argparse.Namespace) -> int:

    check_identifier(args.name)
    apply_boards(args)
    target = get_target(args.target)
    # the build the user means to make (checked now; the compiler need not be installed here)
    config = (
        None
        if target.zig_target is None
        else configure(target, args.toolchain, args.opt, args.float_abi, installed=False)
    )
    out = Path(args.out)
    model_file = Path(args.model)
    g = picoml.load(model_file, max_memory=memory_limit(args))
    with naming_errors(model_file):
        files, what, plan = _compile(g, out, args)

    print(f"wrote {len(files)} files to {for_terminal(out)}: {what}")
    print(f"arena {plan.arena_bytes:,} B (op-at-a-time bound {plan.lower_bound:,} B; below it where window ops stream)")
    for f in plan.fused:
        print(f"fused         {f.describe()}")
    if config is not None:
        print(f"build with    {' '.join(config.toolchain_command())}")
    return EXIT_OK


def _compile(g, out: Path, args: argparse.Namespace) -> tuple[dict, str, MemoryPlan]:
    """Compile once, write in the chosen format; (files written, what they are, the arena plan)."""
    compiled = compile_c(g, args.name, get_target(args.target).isa, sparse=not args.dense, fuse=args.fuse)
    keep = {"force": args.force, "protect": (args.model,)}
    if args.format == "arduino":
        files = write_arduino(g, out, compiled=compiled, **keep)
        what = f"an Arduino library (library.properties, src/, examples/{args.name}_demo/)"
    elif args.format == "cmake":
        cross = cmake_cross(get_target(args.target))
        files = write_cmake(g, out, compiled=compiled, cross=cross, opt=args.opt, **keep)
        what = (
            f"a CMake project (static library {args.name!r}, {args.name}_demo, "
            f"toolchain files {', '.join('cmake/' + c.file for c in cross)})"
        )
    else:
        files = compiled.write(out, **keep)
        what = f"{args.name}.h, {args.name}.c and {len(files) - 2} runtime files"
    return files, what, compiled.plan


def cmd_verify(args: argparse.Namespace) -> int:

    apply_boards(args)
    get_target(args.target)
    g = picoml.load(args.model, max_memory=memory_limit(args))
    progress = None
    if not args.json and not args.quiet and sys.stderr.isatty():

        def progress(i: int, n: int) -> None:
            sys.stderr.write(f"\r{args.target}: inference {i}/{n}")
            if i == n:
                sys.stderr.write("\n")

    with naming_errors(args.model):
        rep = verify(
            g,
            args.target,
            n_inputs=args.inputs,
            sanitize=args.sanitize,
            progress=progress,
            max_memory=memory_limit(args),
            toolchain=args.toolchain,
            opt=args.opt,
            float_abi=args.float_abi,
            fuse=args.fuse,
        )
    if args.json:
        json.dump(rep.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_verify(rep)
    # a model that computes exactly but does not fit the board has failed the check the user asked for
    return EXIT_OK if rep.bit_exact and rep.fits is not False else EXIT_CHECK_FAILED


def _print_verify(r) -> None:
    if not r.bit_exact:
        status = f"MISMATCH ({r.mismatches} values; {r.first_mismatch})"
    elif r.tolerance:
        status = f"within tolerance (largest float error {r.max_abs_error:.2g})"
    else:
        status = "bit-exact"
    print(f"target        {r.target}" + (f" (board {r.board})" if r.board else ""))
    print(f"result        {status} on {r.inputs} inputs vs the reference interpreter")
    if r.tolerance:
        print(f"tolerance     {r.tolerance}")
    if r.float_mode:
        print(f"float         {r.float_mode}")
    b = r.build
    if b:
        abi = f", {b['float_abi']}-float ABI" if b.get("float_abi") else ""
        print(f"built with    {b['toolchain']} ({b['compiler']}), {b['opt']}{abi}")
    if r.instructions is not None:
        per_mac = (
            f", {r.instructions_per_mac:.2f} per MAC ({r.macs:,} MACs)" if r.instructions_per_mac else " (no MACs)"
        )
        print(f"instructions  {r.instructions:,} per inference{per_mac}")
    if r.cycles is not None:
        cpm = f", {r.cycles_per_mac:.2f} per MAC" if r.cycles_per_mac else ""
        cpm += f" ({r.macs:,} MACs)" if r.instructions is None and r.macs else ""
        kind = "MEASURED" if r.measured_cycles else "ESTIMATE"
        print(f"cycles        {r.cycles:,} per inference{cpm} ({kind}: {r.cycle_model})")
    if r.latency_ms is not None:
        how = "measured cycles" if r.measured_cycles else "estimate from the cycles"
        print(f"latency       {r.latency_ms:.2f} ms on {r.board} ({how} and the board's clock)")
    elif r.latency_ms_lower_bound is not None:
        print(f"latency       >= {r.latency_ms_lower_bound:.2f} ms on {r.board} (1 instruction/cycle lower bound)")
    if r.instructions is not None or r.measured_cycles:
        print(f"flash         {r.flash_code_bytes:,} B code + {r.flash_weights_bytes:,} B weights")
        print(f"RAM           {r.ram_bytes:,} B (arena {r.arena_bytes:,} B, stack {r.stack_bytes:,} B)")
        if r.fit_message:
            print(f"fit           {r.fit_message}")
        if r.layer_instructions:
            cyc_head = "cycles" if r.measured_cycles else "est. cycles"
            print()
            print(f"{'#':>3}  {'op':18s} {'instructions':>13s} {cyc_head:>13s} {'MACs':>10s} {'instr/MAC':>9s}")
            for i, lay in enumerate(r.layer_instructions):
                ipm = f"{lay['instructions_per_mac']:.2f}" if lay["instructions_per_mac"] else ""
                ins = f"{lay['instructions']:,}" if lay["instructions"] is not None else "-"
                cyc = f"{lay['cycles']:,}" if lay.get("cycles") is not None else "-"
                print(f"{i:>3}  {lay['op']:18s} {ins:>13s} {cyc:>13s} {lay['macs']:>10,} {ipm:>9s}")


# ----------------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's own convention too)
        self.exit(EXIT_USER_ERROR, f"picoml: error: {one_line(message)} (see `picoml --help`)\n")


def _fmt_num(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() and abs(v) < 1e18 else f"{v:g}"


def _ranged(kind: type, lo: float, hi: float, open_low: bool = False):
    """An argparse type: an ``int`` or ``float`` from lo (excluded when ``open_low``) to hi."""
    noun = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if not (lo < v if open_low else lo <= v) or not v <= hi:
            low = f"more than {_fmt_num(lo)}" if open_low else _fmt_num(lo)
            raise argparse.ArgumentTypeError(f"{_fmt_num(v)} is out of range: give {low} to {_fmt_num(hi)}")
        return v

    parse.__name__ = kind.__name__
    return parse


def _count(lo: int, hi: int):
    return _ranged(int, lo, hi)


def _number(lo: float, hi: float):
    return _ranged(float, lo, hi, open_low=True)


def _memory(text: str) -> int:
    try:
        return parse_size(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_memory.__name__ = "size"


def build_parser() -> argparse.ArgumentParser:

    p = _Parser(
        prog="picoml",
        description="Take a trained neural network to a microcontroller.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"picoml {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # every command that reads a model holds it against one memory limit (picoml.graph.limits)
    mem = argparse.ArgumentParser(add_help=False)
    mem.add_argument(
        "--max-memory",
        type=_memory,
        metavar="SIZE",
        help=f"largest model file, tensor or working set to accept (default {DEFAULT_MAX_MEMORY >> 20}M; e.g. 1G)",
    )

    def add(name: str, help: str, model: bool = False) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            parents=[mem] if model else [],
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    s = add("info", "op table, parameters, MACs and activation sizes of a model", model=True)
    s.add_argument("model", help="a .tflite model")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_info)

    s = add("run", "run the reference interpreter on inputs from a .npy file", model=True)
    s.add_argument("model", help="a .tflite model")
    s.add_argument(
        "--input",
        required=True,
        help=".npy with one input of the model's shape or a batch [N, ...]; several inputs: "
        "a .npz with arrays input0, input1, ... (the model's order)",
    )
    s.add_argument(
        "--output",
        required=True,
        help=".npy to write the output to, or .npz (output0, output1, ...; needed for several outputs)",
    )
    s.add_argument("--all-tensors", metavar="DIR", help="also write every tensor to DIR (one .npy each + index.json)")
    s.add_argument("--force", action="store_true", help="write --all-tensors into a directory holding other files")
    s.add_argument(
        "--quantize-input",
        action="store_true",
        help="the input is float: quantize it with the model's input parameters",
    )
    s.add_argument(
        "--dequantize-output", action="store_true", help="write the output as float (scale · (q - zero point))"
    )
    s.set_defaults(func=cmd_run)

    s = add("compress", "run a compression pipeline from a TOML config (distill, prune, QAT, ...)")
    s.add_argument("config", help="a TOML file (see examples/compress_digits.toml)")
    s.add_argument("--out", help="output directory (overrides the file's `out`)")
    s.add_argument("--quiet", action="store_true", help="no progress lines (the files are still written)")
    s.set_defaults(func=cmd_compress)

    s = add("fit", "find the most accurate model of a task that fits a board's RAM and flash")
    s.add_argument("task", nargs="?", help="a bundled task: digits, activity, vowels, sine (or --data/--model)")
    s.add_argument("--data", metavar="DATA.npz", help="your data: x_train, y_train, x_test, y_test [, x_val, y_val]")
    s.add_argument(
        "--model", metavar="MODULE:FACTORY", help="your PyTorch factory (module name or file.py); see docs/fit.md"
    )
    s.add_argument("--trials", type=_count(1, 10_000), help="Optuna TPE trials (default: the grid; 16 for --data)")
    s.add_argument("--epochs", type=_count(1, 10_000), help="training epochs per candidate (default: the task's)")
    s.add_argument(
        "--ray",
        metavar="local|ADDRESS",
        help="run trials as Ray tasks: 'local' starts a cluster of --jobs CPUs here, ADDRESS joins one",
    )
    s.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    s.add_argument("--target", help="a board (see `picoml targets`) or a budget: small-32k, atmega328p")
    s.add_argument("--ram", type=_number(0, 1 << 30), help="custom budget: RAM in KB")
    s.add_argument("--flash", type=_number(0, 1 << 30), help="custom budget: flash in KB")
    s.add_argument("--core", default="cortex-m0plus", help="core for a custom budget (default cortex-m0plus)")
    s.add_argument("--boards", metavar="FILE", help=BOARDS_HELP)
    s.add_argument(
        "--max-drop", type=_number(-1, 100), help="accuracy points the pick may lose against the best candidate"
    )
    s.add_argument("--jobs", type=_count(1, 64), default=2, help="parallel trials on this machine (default 2)")
    s.add_argument("--seed", type=_count(0, 2**32 - 1), default=0)
    s.add_argument("--quick", action="store_true", help="few candidates and epochs (a smoke run)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_fit)

    s = add("demo", "the whole pipeline on a bundled task (digits, or keywords from raw audio), with an HTML report")
    s.add_argument(
        "--task",
        choices=("digits", "keywords"),
        default="digits",
        help="digits (scikit-learn's 8x8 digits) or keywords (spotting from raw 16 kHz audio; needs espeak-ng)",
    )
    s.add_argument("--out", default=None, help="report directory (default build/demo, build/demo-keywords)")
    s.add_argument("--seed", type=_count(0, 2**32 - 1), default=0)
    s.add_argument("--quick", action="store_true", help="few epochs (a smoke run; keywords: the small data set)")
    s.add_argument(
        "--inputs",
        type=_count(1, 360),
        default=None,
        help="test inputs to verify on each emulated core (20; keywords 10)",
    )
    s.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    s.add_argument("--force", action="store_true", help="write into a directory holding files picoml did not write")
    s.set_defaults(func=cmd_demo)

    s = add("convert", "float model (.tflite, .onnx, .pt, .pt2, module:factory) -> int8 .tflite", model=True)
    s.add_argument("model", help="a float model file or a Python `pkg.module:factory` spec")
    s.add_argument(
        "--calibration", help=".npy batch of representative float inputs (framework layout: NCHW for PyTorch/ONNX)"
    )
    s.add_argument("--out", required=True, help="the .tflite file to write")
    s.add_argument("--weights", help="state dict (.pt) for a module:factory spec")
    s.add_argument(
        "--random-weights",
        action="store_true",
        help="convert a module:factory spec with its random initial weights (no --weights)",
    )
    s.add_argument(
        "--method", default="minmax", choices=("minmax", "percentile", "mse"), help="activation range estimate"
    )
    s.add_argument("--percentile", type=_number(50, 100), default=99.99, help="for --method percentile (default 99.99)")
    s.add_argument("--float-only", action="store_true", help="write the imported float model, do not quantize")
    s.add_argument(
        "--activations",
        default="int8",
        choices=("int8", "int16", "mixed"),
        help="int8 (default), int16 activations with int8 weights (TFLite's 16x8), or mixed: 16x8 for the "
        "layers whose int8 error hurts the output most",
    )
    s.set_defaults(func=cmd_convert)

    s = add("evaluate", "float vs int8 metric side by side, and their agreement", model=True)
    s.add_argument("model", help="the float model (file or module:factory spec)")
    s.add_argument("--data", required=True, help=".npz with 'x' (float inputs) and 'y' (labels or targets)")
    s.add_argument("--int8", help="the int8 .tflite to compare (else quantize with --calibration)")
    s.add_argument("--calibration", help=".npy of float inputs to quantize the float model with")
    s.add_argument("--weights", help="state dict (.pt) for a module:factory spec")
    s.add_argument("--random-weights", action="store_true", help="evaluate a module:factory spec as initialised")
    s.add_argument("--kind", default="auto", choices=("auto", "classification", "regression", "anomaly"))
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_evaluate)

    s = add("compile", "generate a C99 library (header, model source, kernels)", model=True)
    s.add_argument("model", help="an int8 .tflite model")
    s.add_argument("--out", required=True, help="output directory (created; holds only this output)")
    s.add_argument("--target", default="host", help="core or board (see `picoml targets`)")
    s.add_argument("--boards", metavar="FILE", help=BOARDS_HELP)
    s.add_argument(
        "--name",
        default="model",
        help="C identifier prefixing every symbol and file (default: model; not a C keyword, not pm_...)",
    )
    s.add_argument("--dense", action="store_true", help="store every layer's weights densely (no sparse encodings)")
    s.add_argument(
        "--no-fuse",
        dest="fuse",
        action="store_false",
        help="run every layer whole (no row-by-row residual blocks): to measure what fusion costs and saves",
    )
    s.add_argument(
        "--format",
        default="c",
        choices=("c", "arduino", "cmake"),
        help="plain C files, an Arduino library, or a CMake project",
    )
    s.add_argument(
        "--force",
        action="store_true",
        help="write into a directory that holds files picoml did not write there (they are left in place)",
    )
    add_build_options(s)
    s.set_defaults(func=cmd_compile)

    s = add("verify", "compile, run on an emulated core (or the host), compare, measure", model=True)
    s.add_argument("model", help="an int8 .tflite model")
    s.add_argument("--target", default="host", help="core or board (see `picoml targets`)")
    s.add_argument("--boards", metavar="FILE", help=BOARDS_HELP)
    s.add_argument("--inputs", type=_count(1, 100_000), default=20, help="random inputs to compare (default 20)")
    s.add_argument("--sanitize", action="store_true", help="host only: build with ASan and UBSan")
    s.add_argument(
        "--no-fuse",
        dest="fuse",
        action="store_false",
        help="run every layer whole (no row-by-row residual blocks): to measure what fusion costs and saves",
    )
    add_build_options(s)
    s.add_argument("--json", action="store_true", help="machine-readable report")
    s.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    s.set_defaults(func=cmd_verify)

    add_validate_parser(add, BOARDS_HELP, _count)
    add_report_parser(add, BOARDS_HELP, _count)

    s = add("targets", "list cores and boards with their budgets")
    s.add_argument("--json", action="store_true")
    s.add_argument("--boards", metavar="FILE", help=BOARDS_HELP)
    s.set_defaults(func=cmd_targets)

    s = add("ops", "list the supported ops: interpreter dtypes, generated C; or a front-end's layers")
    s.add_argument("--json", action="store_true", help="machine-readable table")
    s.add_argument(
        "--frontend", choices=("torch", "onnx"), help="list the PyTorch modules/functions or ONNX ops picoml converts"
    )
    s.set_defaults(func=cmd_ops)
    return p


def _error(message: object) -> None:
    print(f"picoml: error: {one_line(message)}", file=sys.stderr)


class _Quiet(logging.NullHandler):
    """Stands in for logging's last-resort handler, which would print library warnings to stderr."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    root = logging.getLogger()
    quiet = None if any(isinstance(h, _Quiet) for h in root.handlers) else _Quiet()
    if quiet is not None:
        root.addHandler(quiet)
    try:
        # Library warnings (numpy, torch, onnx) never add stderr lines: stderr carries picoml's one line.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _dispatch(args)
    finally:
        if quiet is not None:
            root.removeHandler(quiet)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except PicomlError as e:
        _error(e)
        return EXIT_USER_ERROR
    except MemoryError:
        _error(
            "out of memory: the machine cannot hold what this command needs (lower --max-memory so that picoml refuses it early, or give fewer inputs)"
        )
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("picoml: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as e:
        if e.errno not in ENVIRONMENT_ERRNOS or os.environ.get("PICOML_DEBUG"):
            if os.environ.get("PICOML_DEBUG"):
                raise
            _error(f"internal error: {type(e).__name__}: {e} (set PICOML_DEBUG=1 for a traceback)")
            return EXIT_INTERNAL_ERROR
        where = f"{for_terminal(e.filename)}: " if e.filename else ""
        _error(f"{where}{e.strerror or e}")
        return EXIT_USER_ERROR
    except Exception as e:  # an internal bug: still one line, but a distinct exit code
        if os.environ.get("PICOML_DEBUG"):
            raise
        _error(f"internal error: {type(e).__name__}: {e} (set PICOML_DEBUG=1 for a traceback)")
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
