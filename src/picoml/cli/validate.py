"""``picoml validate`` (the generated C on the user's test set, ``picoml.flows.validate``; exit 1
when the C and the reference differ) and ``picoml report`` (``picoml.flows.model_report``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import picoml
from picoml.cli.common import EXIT_CHECK_FAILED, EXIT_OK, apply_boards, memory_limit, naming_errors
from picoml.errors import InputError
from picoml.flows.model_report import DEFAULT_TARGETS, build_model_report
from picoml.flows.report import write_report
from picoml.flows.validate import ValidateReport, validate
from picoml.frontends.lowering import to_graph_layout
from picoml.outputs import check_writable_dir
from picoml.targets import get_target
from picoml.untrusted import for_terminal, load_npz

#: array names a test-set archive may use, in the order they are tried
DATA_KEYS = (("x", "y"), ("x_test", "y_test"), ("x",), ("x_test",))


def load_test_set(path: Path, limit: int) -> tuple[np.ndarray, np.ndarray | None]:
    """x (and y, when the archive has labels) of a .npz: ``x``/``y`` or ``x_test``/``y_test``."""
    last: InputError | None = None
    for keys in DATA_KEYS:
        try:
            z = load_npz(path, keys, limit)
        except InputError as e:
            if "needs arrays" not in str(e):
                raise  # a damaged archive or a size bomb: not a question of names
            last = e
            continue
        return z[keys[0]], (z[keys[1]] if len(keys) > 1 else None)
    raise InputError(f"{for_terminal(path)}: needs an array x (and labels y), or x_test (and y_test)") from last


def _progress(target: str):
    if not sys.stderr.isatty():
        return None

    def show(i: int, n: int) -> None:
        sys.stderr.write(f"\r{target}: sample {i}/{n}")
        if i == n:
            sys.stderr.write("\n")

    return show


def _print(path: str, r: ValidateReport) -> None:
    status = (
        "C = reference on every sample (bit-exact)"
        if r.bit_exact
        else f"C DIFFERS from the reference on {r.mismatched_samples} samples ({r.first_mismatch})"
    )
    print(f"validate {for_terminal(path)} on {r.target}: {r.samples:,} samples, {status}")
    if r.instructions is not None:
        print(f"instructions  {r.instructions:,} per inference")
    names = {"c": "C", "reference": "reference", "float": "float model"}
    if r.task == "classification":
        print("accuracy      " + "   ".join(f"{names[k]} {100 * v:.2f} %" for k, v in r.accuracy.items()))
        print("confusion matrix of the C (rows: true class, columns: predicted)")
        w = max(4, len(str(max((max(row) for row in r.confusion), default=0))) + 1)
        print("      " + "".join(f"{j:>{w}}" for j in range(len(r.confusion))))
        for i, row in enumerate(r.confusion):
            print(f"  {i:>3} " + "".join(f"{v:>{w}}" for v in row))
    elif r.task == "regression":
        print("RMSE          " + "   ".join(f"{names[k]} {v:.6g}" for k, v in r.rmse.items()))


def cmd_validate(args: argparse.Namespace) -> int:
    apply_boards(args)
    get_target(args.target)
    limit = memory_limit(args)
    g = picoml.load(args.model, max_memory=limit)
    fg = picoml.load(args.float, max_memory=limit) if args.float else None
    x, y = load_test_set(Path(args.data), limit)
    if args.limit:
        x, y = x[: args.limit], (None if y is None else y[: args.limit])
    if args.nchw:
        x = to_graph_layout(np.asarray(x))
    with naming_errors(args.model):
        rep = validate(
            g, args.target, x, y, float_graph=fg, progress=None if args.json or args.quiet else _progress(args.target)
        )
    if args.json:
        json.dump(rep.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(args.model, rep)
    return EXIT_OK if rep.bit_exact else EXIT_CHECK_FAILED


def add_parser(add, boards_help: str, count) -> None:
    s = add("validate", "run the generated C on a test set on an emulated core: metrics, C vs reference", model=True)
    s.add_argument("model", help="an int8 .tflite model")
    s.add_argument(
        "--data",
        required=True,
        help=".npz with x (float, quantized with the model's input parameters, or int8) and labels y "
        "(or x_test, y_test): class indices give accuracy and a confusion matrix, other targets RMSE",
    )
    s.add_argument("--target", default="cortex-m4", help="core or board (see `picoml targets`; default cortex-m4)")
    s.add_argument("--boards", metavar="FILE", help=boards_help)
    s.add_argument("--float", metavar="MODEL", help="the float model, to compare its accuracy/RMSE on the same data")
    s.add_argument("--nchw", action="store_true", help="x is channels-first (PyTorch): transpose to the model's layout")
    s.add_argument("--limit", type=count(1, 10_000_000), help="only the first N samples")
    s.add_argument("--json", action="store_true", help="machine-readable report")
    s.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    s.set_defaults(func=cmd_validate)


def cmd_report(args: argparse.Namespace) -> int:
    apply_boards(args)
    targets = args.target or list(DEFAULT_TARGETS)
    for t in targets:
        get_target(t)
    out = Path(args.out)
    check_writable_dir(out)
    limit = memory_limit(args)
    g = picoml.load(args.model, max_memory=limit)
    fg = picoml.load(args.float, max_memory=limit) if args.float else None
    x = y = None
    if args.data:
        x, y = load_test_set(Path(args.data), limit)
        if args.nchw:
            x = to_graph_layout(np.asarray(x))
    with naming_errors(args.model):
        data = build_model_report(g, Path(args.model).stem, targets, x, y, fg, n_inputs=args.inputs)
    protect = tuple(str(p) for p in (args.model, args.float, args.data) if p)  # never overwrite an input
    page = write_report(out, data, force=args.force, protect=protect)
    print(f"wrote {for_terminal(page)} (+ report.json and plots)")
    for a in data["advice"][:3]:
        print(f"  {100 * a['gain']:5.1f} %  {a['text']}")
    return EXIT_OK if all(r["bit_exact"] for r in data["targets"].values()) else EXIT_CHECK_FAILED


def add_report_parser(add, boards_help: str, count) -> None:
    s = add("report", "an HTML report for any int8 model: boards, flash/RAM/time per layer, advice", model=True)
    s.add_argument("model", help="an int8 .tflite model")
    s.add_argument("--out", required=True, help="directory for index.html, report.json and the plots")
    s.add_argument("--target", action="append", help="core or board, repeatable (default cortex-m0plus, cortex-m4)")
    s.add_argument("--data", help=".npz with x and labels y (or x_test, y_test): accuracy or RMSE on your data")
    s.add_argument("--float", metavar="MODEL", help="the float model, for its accuracy on the same data")
    s.add_argument("--nchw", action="store_true", help="x is channels-first (PyTorch): transpose to the model's layout")
    s.add_argument("--inputs", type=count(1, 1000), default=8, help="inputs run on each core (default 8)")
    s.add_argument("--boards", metavar="FILE", help=boards_help)
    s.add_argument("--force", action="store_true", help="write into a directory holding files picoml did not write")
    s.set_defaults(func=cmd_report)
