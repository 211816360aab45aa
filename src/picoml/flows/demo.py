"""`picoml demo`: the whole pipeline on a bundled task, from data to a verified, device-sized model.

teacher (float CNN) → distilled student (¼ of the parameters) → channel-pruned student
(fine-tuned by distillation) → int8 (post-training quantization; QAT when PTQ loses more than
half a point) → C → verified bit-exact on emulated Cortex-M0+ and Cortex-M4 → one table and
an HTML report in ``build/demo/`` (plots: quality vs flash per step, the arena timeline,
instructions per layer) with the JSON behind it.

Every figure in the table is measured in this run: accuracies by picoml's reference
interpreter on the held-out test split, sizes from the graphs and the linked ELF files,
instructions by the emulator.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from picoml.compress.distill import distill
from picoml.compress.prune import prune_channels
from picoml.errors import PicomlError
from picoml.flows.report import write_report
from picoml.flows.verify import fit_check, verify
from picoml.frontends.lowering import to_graph_layout
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.frontends.torch import from_torch
from picoml.graph.ops import op_macs
from picoml.quantize.ptq import dequantize_output, quantize, quantize_input
from picoml.reference.interpreter import run
from picoml.targets.catalog import BOARDS
from picoml.tasks import digits
from picoml.tasks.train import count_params, fit

DEMO_TARGETS = ("cortex-m0plus", "cortex-m4")


class Progress:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet  # --quiet: nothing at all

    def bar(self, label: str, i: int, n: int) -> None:
        if self.quiet:
            return
        if not self.tty:
            if i == n:
                self.stream.write(f"  {label}: {n}/{n}\n")
            return
        width = 28
        done = int(width * i / max(n, 1))
        self.stream.write(f"\r  {label:<34} [{'#' * done}{'.' * (width - done)}] {i}/{n}")
        if i == n:
            self.stream.write("\n")
        self.stream.flush()

    def step(self, text: str) -> None:
        if self.quiet:
            return
        self.stream.write(text + "\n")
        self.stream.flush()


def _need(modname: str, extra: str = "demo"):
    import importlib

    try:
        return importlib.import_module(modname)
    except ImportError:
        raise PicomlError(f"`picoml demo` needs {modname}: pip install 'picoml[{extra}]'") from None


def _epochs_bar(progress: Progress, label: str, epochs: int):
    state = {"i": 0}

    def tick(*_a: Any, **_k: Any) -> None:
        state["i"] += 1
        progress.bar(label, min(state["i"], epochs), epochs)

    return tick


def _float_row(step: str, model: Any, g: Any, value: float, note: str = "") -> dict:

    wbytes = sum(t.nbytes for t in g.constants)
    return {
        "step": step,
        "value": value,
        "params": count_params(model),
        "macs": int(sum(op_macs(op) for op in g.ops)),
        "weight_bytes": int(wbytes),
        "arena_bytes": None,
        "instructions": None,
        "note": note,
    }


def run_demo(out_dir: str | Path = "build/demo", **kwargs: Any) -> dict:
    """Run the demo pipeline on the digits task; returns the report data (also written to out_dir).

    Keyword arguments: ``seed`` (0), ``quick`` (False: a few epochs only), ``n_verify`` (20 test
    digits per emulated core), ``progress`` (a ``Progress``), ``force`` (write into a directory
    holding files picoml did not write there; ``picoml.outputs.write_tree``)."""
    torch = _need("torch")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread beats two (no synchronization; CI shares 2 cores)
    try:
        return _run_demo(out_dir, **kwargs)
    finally:
        torch.set_num_threads(prev)


def _run_demo(
    out_dir: str | Path = "build/demo",
    *,
    seed: int = 0,
    quick: bool = False,
    n_verify: int = 20,
    progress: Progress | None = None,
    force: bool = False,
) -> dict:
    torch = _need("torch")
    _need("sklearn", "examples")

    p = progress or Progress()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    torch.manual_seed(seed)
    split = digits.load(seed)
    xg_test = to_graph_layout(split.x_test)
    example = torch.from_numpy(split.x_train[:1])
    ep_teacher, ep_student, ep_prune = (4, 4, 2) if quick else (20, 25, 10)

    def float_acc(g: Any) -> float:
        y = run(g, xg_test)
        return float((y.reshape(len(y), -1).argmax(1) == split.y_test).mean())

    def int8_acc(q: Any) -> float:
        y = dequantize_output(q, run(q, quantize_input(q, xg_test)))
        return float((y.reshape(len(y), -1).argmax(1) == split.y_test).mean())

    steps: list[dict] = []
    p.step(f"picoml demo: digits (scikit-learn's 8x8 handwritten digits: {split.sizes()} train/val/test)")

    # 1. teacher
    t0 = time.perf_counter()
    teacher = digits.build_model(width=16)
    fit(teacher, split, metric="accuracy", epochs=ep_teacher, lr=3e-3, batch_size=64, seed=seed, threads=1)
    g_teacher = from_torch(teacher, example, name="teacher")
    steps.append(_float_row("teacher", teacher, g_teacher, float_acc(g_teacher), "float CNN"))
    p.step(
        f"[1/6] teacher: {steps[-1]['params']:,} parameters, accuracy {100 * steps[-1]['value']:.2f} %"
        f" ({time.perf_counter() - t0:.0f} s)"
    )

    # 2. distilled student, about a quarter of the teacher's parameters
    t0 = time.perf_counter()
    torch.manual_seed(seed + 1)
    student = digits.build_model(width=8)
    distill(
        teacher,
        student,
        (split.x_train, split.y_train),
        temperature=4.0,
        alpha=0.7,
        epochs=ep_student,
        lr=3e-3,
        batch_size=64,
        seed=seed,
        val_data=(split.x_val, split.y_val),
        restore_best=True,
        threads=1,
    )
    g_student = from_torch(student, example, name="student")
    steps.append(
        _float_row(
            "distilled",
            student,
            g_student,
            float_acc(g_student),
            f"student, {count_params(student) / count_params(teacher):.2f}x the teacher's parameters",
        )
    )
    p.step(
        f"[2/6] distilled student: {steps[-1]['params']:,} parameters, accuracy {100 * steps[-1]['value']:.2f} %"
        f" ({time.perf_counter() - t0:.0f} s)"
    )

    # 3. structured pruning: a quarter of every layer's channels removed, then distillation again
    t0 = time.perf_counter()
    pruned = prune_channels(student, example, ratio=0.25, criterion="l1")
    distill(
        teacher,
        pruned,
        (split.x_train, split.y_train),
        temperature=4.0,
        alpha=0.7,
        epochs=ep_prune,
        lr=2e-3,
        batch_size=64,
        seed=seed,
        val_data=(split.x_val, split.y_val),
        restore_best=True,
        threads=1,
    )
    g_pruned = from_torch(pruned, example, name="pruned")
    steps.append(_float_row("pruned", pruned, g_pruned, float_acc(g_pruned), "25% of channels removed, fine-tuned"))
    p.step(
        f"[3/6] channel-pruned: {steps[-1]['params']:,} parameters, {steps[-1]['macs']:,} MACs, "
        f"accuracy {100 * steps[-1]['value']:.2f} % ({time.perf_counter() - t0:.0f} s)"
    )

    # 4. int8
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    calib = to_graph_layout(split.x_train[rng.permutation(len(split.x_train))[:256]])
    q = quantize(g_pruned, calib)
    acc_q = int8_acc(q)
    note = "post-training quantization"
    if steps[-1]["value"] - acc_q > 0.005:
        from picoml.compress.qat import qat_finetune

        q_qat = qat_finetune(
            g_pruned,
            to_graph_layout(split.x_train),
            split.y_train,
            calibration_data=calib,
            epochs=3 if quick else 8,
            lr=5e-4,
            loss="cross_entropy",
            batch_size=64,
            seed=seed,
        )
        acc_qat = int8_acc(q_qat)
        if acc_qat > acc_q:
            q, acc_q, note = q_qat, acc_qat, "quantization-aware training (PTQ lost more than 0.5 points)"
    steps.append(
        {
            "step": "int8",
            "value": acc_q,
            "params": steps[-1]["params"],
            "macs": int(sum(op_macs(op) for op in q.ops)),
            "weight_bytes": int(sum(t.nbytes for t in q.constants)),
            "arena_bytes": None,  # from the compiled library, after verify
            "instructions": None,
            "note": note,
        }
    )
    p.step(
        f"[4/6] int8: weights {steps[-1]['weight_bytes']:,} B, accuracy {100 * acc_q:.2f} % ({note}; "
        f"{time.perf_counter() - t0:.0f} s)"
    )

    model_file = write_tflite_bytes(q)  # written with the report: one output directory, one manifest

    # 5 + 6. compile and verify on emulated cores, with real test digits as inputs
    t0 = time.perf_counter()
    xs = quantize_input(q, xg_test[:n_verify])
    reports: dict[str, dict] = {}
    for target in DEMO_TARGETS:
        rep = verify(q, target, xs=xs, progress=lambda i, n, t=target: p.bar(f"verify on {t}", i, n))
        if not rep.bit_exact:
            raise PicomlError(f"demo: {target} output differs from the reference ({rep.first_mismatch})")
        reports[target] = rep.to_json()
    steps[-1]["instructions"] = {t: r["instructions"] for t, r in reports.items()}
    plan = rep.compiled.plan  # the arena of the library just verified (the same size on every target)
    steps[-1]["arena_bytes"] = plan.arena_bytes
    p.step(f"[5/6] compiled and verified bit-exact on {', '.join(DEMO_TARGETS)} ({time.perf_counter() - t0:.0f} s)")

    boards = []
    for b in BOARDS.values():
        r = reports.get(b.core)
        if r is None or b.clock_hz is None:  # budgets (no clock) are fit's, not boards to deploy on
            continue
        flash = r["flash_code_bytes"] + r["flash_weights_bytes"]
        fits, msg = fit_check(b, flash, r["ram_bytes"])
        boards.append(
            {
                "board": b.name,
                "core": b.core,
                "ram_kb": b.ram_bytes / 1024,
                "flash_kb": b.flash_bytes / 1024,
                "fits": bool(fits),
                "message": msg,
                "latency_ms": b.latency_ms(r["instructions"]),
            }
        )
    s = plan.summary()
    data = {
        "title": "picoml demo: handwritten digits on a microcontroller",
        "summary": (
            f"Teacher → distilled student → channel-pruned → int8, verified bit-exact on "
            f"{' and '.join(DEMO_TARGETS)} with {n_verify} real test digits. "
            f"Total time {time.perf_counter() - t_start:.0f} s."
        ),
        "task": "digits",
        "metric": "accuracy",
        "steps": steps,
        "targets": reports,
        "boards": boards,
        "memory": {
            "ops": [f"{i} {op.type}" for i, op in enumerate(q.ops)],
            "live_bytes": s["live_bytes_per_op"],
            "arena_bytes": s["arena_bytes"],
            "lower_bound": s["arena_lower_bound_bytes"],
            "buffers": [
                {
                    "name": b["name"],
                    "offset": b["offset"],
                    "size": b["size"],
                    "first": b["first_op"],
                    "last": b["last_op"],
                }
                for b in s["buffers"]
            ],
        },
    }
    page = write_report(out, data, force=force, extra={"digits_int8.tflite": model_file})
    p.step(f"[6/6] report: {page} (+ report.json, 3 plots)\n")
    print_table(data)
    return data


def print_steps(data: dict, stream, step_width: int = 10, macs_width: int = 9) -> None:
    """The steps table of a demo report (digits and keywords): metric, size and instructions per target."""
    targets = list(data["targets"])
    head = (
        f"{'step':<{step_width}} {'accuracy':>9} {'params':>8} {'MACs':>{macs_width}} {'weights B':>10} {'arena B':>8}"
    )
    head += "".join(f" {t + ' instr':>20}" for t in targets)
    stream.write(head + "\n" + "-" * len(head) + "\n")
    for s in data["steps"]:
        ins = s.get("instructions") or {}
        line = (
            f"{s['step']:<{step_width}} {100 * s['value']:>8.2f}% {s['params']:>8,} {s['macs']:>{macs_width},} "
            f"{s['weight_bytes']:>10,} {(format(s['arena_bytes'], ',') if s['arena_bytes'] else '-'):>8}"
        )
        line += "".join(f" {(format(ins[t], ',') if t in ins else '-'):>20}" for t in targets)
        stream.write(line + "\n")
    stream.write("\n")


def print_table(data: dict, stream=None) -> None:
    stream = stream or sys.stdout
    print_steps(data, stream)
    for t, r in data["targets"].items():
        stream.write(
            f"{t:<14} bit-exact {'yes' if r['bit_exact'] else 'NO'} on {r['inputs']} test digits; "
            f"{r['instructions_per_mac']:.2f} instr/MAC; flash {r['flash_code_bytes']:,} B code + "
            f"{r['flash_weights_bytes']:,} B weights; RAM {r['ram_bytes']:,} B\n"
        )
    stream.write("\n")
    for b in data["boards"]:
        stream.write(
            f"{b['board']:<10} ({b['core']}, {b['ram_kb']:g} KB RAM, {b['flash_kb']:g} KB flash): "
            f"{'fits' if b['fits'] else 'DOES NOT FIT'}; latency >= {b['latency_ms']:.2f} ms\n"
        )
