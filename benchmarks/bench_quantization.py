"""Float vs post-training int8 (PTQ) vs quantization-aware int8 (QAT), per example task.

    .venv/bin/python benchmarks/bench_quantization.py [--cases digits activity ...] [--seed 0]

For every case: train the float model in PyTorch (fixed seed, best validation epoch),
convert with ``picoml.from_torch``, score float in picoml's interpreter, quantize with
``picoml.quantize`` (256 seeded training inputs for calibration), fine-tune with
``qat_finetune``, and score both int8 graphs in picoml's interpreter — all on the task's
test split. Prints a table and writes benchmarks/results/quantization.md.

The last two cases are constructed on purpose: models whose PTQ loses at least one point, to
show what QAT recovers (see their notes in the output). For every case where PTQ loses a point
or more, QAT is also run with the previous recipe (labels, constant learning rate, EMA ranges)
as an ablation (``--no-ablation`` skips it).
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from picoml.tasks import QAT_RECIPE, TASKS, PipelineResult, calibration_subset, int8_outputs, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "quantization.md"

# the QAT recipe before learned ranges and distillation: cross entropy on the labels, constant
# learning rate, EMA ranges (the ablation run for the cases where PTQ loses a point or more)
PREVIOUS_QAT = {"schedule": "constant", "distill": 0.0, "learn_ranges": False, "argmax_output": False}


@dataclass(frozen=True)
class Case:
    label: str
    task: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    note: str = ""


CASES = [
    Case("digits", "digits"),
    Case("activity", "activity"),
    Case("vowels", "vowels"),
    Case("sine", "sine"),
    Case(
        "digits-deep-nobn",
        "digits",
        {"width": 8, "depth": 7, "batchnorm": False},
        100,
        "constructed to make PTQ lose accuracy: the digits CNN with 7 conv layers (8, 16, then five of "
        "16 channels) and no BatchNorm, trained 100 epochs (best validation epoch kept; training accuracy "
        "100 %). Without BatchNorm the activation ranges grow layer by layer (per-tensor int8 steps get "
        "coarse) and rounding errors compound through the 7 layers. Chosen, before any QAT run on it, "
        "from a screen of no-BatchNorm digits variants (width 4–16, depth 6–10, 20–100 epochs) by its "
        "float and PTQ accuracy alone, as the one with a useful float model (test 95.8 %, 4 points below "
        "the default model) and a PTQ loss of at least one point on test (on validation too: "
        "94.4 % → 91.4 %). The QAT recipe was developed on the validation split of this and the "
        "vowels cases. History, to read the result: its first version (no `argmax_output`) was measured "
        "here and missed the target (ablation line below); on validation, 7 of the 10 samples it "
        "classed differently from float were ties of the int8 output, which led to `argmax_output` "
        "(validation agreement with float 97.2 % → 98.9 %, validation accuracy 94.15 % → 94.43 %). The "
        "test figure of the first version was known when that change was made; settings and candidate "
        "epochs were not changed",
    ),
    Case(
        "vowels-deep-nobn",
        "vowels",
        {"width": 16, "depth": 8, "batchnorm": False},
        100,
        "constructed to make PTQ lose accuracy (the default models lose none): the vowels CNN made "
        "deeper (8 conv layers) and narrower (16 channels) and stripped of BatchNorm, trained 100 "
        "epochs (best validation epoch kept). Without BatchNorm nothing keeps each layer's activation "
        "range in check, and rounding errors compound through the 8 layers. Its float accuracy is far "
        "below the default model's: it exists only to show what QAT repairs",
    ),
]


def fmt(metric: str, v: float | None) -> str:
    if v is None:
        return "—"
    return f"{100 * v:.2f} %" if metric == "accuracy" else f"{v:.5f}"


def delta(metric: str, v: float | None, ref: float) -> str:
    if v is None:
        return "—"
    return f"{100 * (v - ref):+.2f} pt" if metric == "accuracy" else f"{v - ref:+.5f}"


def table(rows: list[tuple[Case, PipelineResult]]) -> list[str]:
    head = (
        "| case | metric | params | MACs | int8 weight bytes | float | int8 PTQ | PTQ − float | int8 QAT | "
        "QAT − float | QAT epochs | CPU s |"
    )
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case, r in rows:
        m = r.metric
        lines.append(
            f"| {case.label} | {m} | {r.params:,} | {r.macs:,} | {r.weight_bytes_int8:,} | {fmt(m, r.float_graph)} | "
            f"{fmt(m, r.ptq)} | {delta(m, r.ptq, r.float_graph)} | {fmt(m, r.qat)} | "
            f"{delta(m, r.qat, r.float_graph)} | {r.qat_epochs} | {r.seconds['cpu']:.0f} |"
        )
    return lines


def agreement(r: PipelineResult, x_test: np.ndarray) -> dict[str, int]:
    """Test samples on which each int8 graph predicts the float graph's class."""
    import picoml
    from picoml.frontends.lowering import to_graph_layout

    xg = to_graph_layout(x_test)
    ref = picoml.run(r.graphs["float"], xg).reshape(len(xg), -1).argmax(1)
    return {
        k: int((int8_outputs(r.graphs[k], xg)[1].reshape(len(xg), -1).argmax(1) == ref).sum())
        for k in ("ptq", "qat")
        if k in r.graphs
    }


def ptq_runner_up(r: PipelineResult, case: Case, seed: int) -> tuple[float, int]:
    """PTQ with QAT's ``argmax_output`` output range (lo at the lowest runner-up score over the
    calibration data): (test accuracy, test samples agreeing with float). Separates what the
    output range alone recovers from what QAT's training does."""
    import picoml
    from picoml.compress.qat import runner_up_floor
    from picoml.frontends.lowering import to_graph_layout

    split = TASKS[case.task].load(seed)
    g = r.graphs["float"]
    calib = to_graph_layout(calibration_subset(split.x_train, 256, seed))
    f = picoml.run(g, calib)
    q = picoml.quantize(g, calib, ranges={g.outputs[0].name: (runner_up_floor(f), float(f.max()))})
    xg = to_graph_layout(split.x_test)
    out = int8_outputs(q, xg)[1].reshape(len(xg), -1)
    ref = picoml.run(g, xg).reshape(len(xg), -1).argmax(1)
    return float((out.argmax(1) == split.y_test).mean()), int((out.argmax(1) == ref).sum())


def near_ties(r: PipelineResult, x_test: np.ndarray) -> str:
    """Why the QAT int8 graph's class differs from the float graph's on the test samples where it does."""
    import picoml
    from picoml.frontends.lowering import to_graph_layout
    from picoml.quantize.ptq import quantize_input

    xg = to_graph_layout(x_test)
    f = picoml.run(r.graphs["float"], xg).reshape(len(xg), -1)
    q = r.graphs["qat"]
    yq = picoml.run(q, quantize_input(q, xg))
    yq = yq.reshape(len(xg), -1)
    diff = np.flatnonzero(yq.argmax(1) != f.argmax(1))
    if not len(diff):
        return ""
    top = np.sort(yq[diff], axis=1)
    ties = int((top[:, -1] == top[:, -2]).sum())
    fs = np.sort(f, axis=1)
    margin = fs[:, -1] - fs[:, -2]
    step = float(q.outputs[0].scale[0])
    med = float(np.median(margin[diff]))
    return (
        f" Of the {len(diff)} test samples where QAT's class differs from float's, {ties} are ties of the int8 "
        f"outputs (the lower class index wins); the float model's own margin between its top two logits is "
        f"{med:.2f} there (median; {np.median(margin):.2f} over all test samples), "
        + (
            f"below the int8 output step of {step:.2f}: near-ties of the float model that an int8 output of "
            "that resolution cannot order."
            if med < step
            else f"the int8 output step is {step:.2f}."
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="*", default=[c.label for c in CASES])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave results/quantization.md alone")
    ap.add_argument("--no-ablation", dest="ablation", action="store_false", help="skip the previous-recipe QAT runs")
    args = ap.parse_args()
    ablations: dict[str, PipelineResult] = {}
    no_argmax: dict[str, PipelineResult] = {}
    cases = [c for c in CASES if c.label in args.cases]
    t0, cpu0 = time.perf_counter(), time.process_time()
    rows = []
    for case in cases:
        c0 = time.process_time()
        r = run_pipeline(case.task, seed=args.seed, epochs=case.epochs, model_kwargs=case.model_kwargs)
        r.seconds["cpu"] = time.process_time() - c0
        if args.ablation and r.metric == "accuracy" and r.float_graph - r.ptq >= 0.01:
            a = run_pipeline(
                case.task, seed=args.seed, epochs=case.epochs, model_kwargs=case.model_kwargs, qat_options=PREVIOUS_QAT
            )
            assert a.float_graph == r.float_graph and a.ptq == r.ptq, "seeded: the same float and PTQ models"
            ablations[case.label] = a
            b = run_pipeline(
                case.task,
                seed=args.seed,
                epochs=case.epochs,
                model_kwargs=case.model_kwargs,
                qat_options={"argmax_output": False},
            )
            no_argmax[case.label] = b
        rows.append((case, r))
        print(
            f"{case.label:20s} float {fmt(r.metric, r.float_graph)}  PTQ {fmt(r.metric, r.ptq)}  "
            f"QAT {fmt(r.metric, r.qat)}  ({r.seconds['cpu']:.1f} s CPU)",
            flush=True,
        )
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    lines = table(rows)
    print("\n".join(lines))
    print(f"runtime {total:.0f} s wall, {cpu:.0f} s CPU")
    if args.no_write:
        return
    notes = [f"- **{c.label}**: {c.note}" for c, _ in rows if c.note]
    verdicts = []
    for c, r in rows:
        if r.metric != "accuracy":
            continue
        drop, gap = 100 * (r.float_graph - r.ptq), 100 * (r.float_graph - (r.qat if r.qat is not None else r.ptq))
        if drop >= 1:
            met = "met" if gap <= 0.5 else "NOT met"
            split = TASKS[c.task].load(args.seed)
            agree = agreement(r, split.x_test)
            text = (
                f"- **{c.label}**: PTQ loses {drop:.2f} points; QAT is {gap:.2f} points below float, "
                f"recovering {drop - gap:.2f} of them — the issue's QAT target (within 0.5 point) is {met}. "
                f"Test samples whose int8 class equals the float model's: PTQ {agree['ptq']}, QAT {agree['qat']} "
                f"of {len(split.y_test)}. QAT validation accuracy per candidate epoch count: "
                + ", ".join(f"{k}: {100 * v:.2f} %" for k, v in r.qat_validation.items())
                + f" (validation split: {len(split.y_val)} samples; float {100 * r.history.best_val_metric:.2f} %)."
                + (near_ties(r, split.x_test) if gap > 0.5 else "")
            )
            acc_ru, agree_ru = ptq_runner_up(r, c, args.seed)
            text += (
                f" Ablation, PTQ with QAT's output range (`argmax_output`: lo at the lowest runner-up class "
                f"score over the calibration data, no training): {fmt('accuracy', acc_ru)} "
                f"({delta('accuracy', acc_ru, r.float_graph)}), {agree_ru} test samples agreeing with float."
            )
            b = no_argmax.get(c.label)
            if b is not None and b.qat is not None:
                text += (
                    f" Ablation, this recipe without `argmax_output` (its first version, measured before "
                    f"`argmax_output` was added): QAT {fmt('accuracy', b.qat)} ({delta('accuracy', b.qat, b.float_graph)}), "
                    f"{agreement(b, split.x_test)['qat']} test samples agreeing with float, validation "
                    + ", ".join(f"{k}: {100 * v:.2f} %" for k, v in b.qat_validation.items())
                    + "."
                )
            a = ablations.get(c.label)
            if a is not None and a.qat is not None:
                text += (
                    f" Ablation, the previous QAT recipe (cross entropy on the labels, constant learning rate, "
                    f"EMA min/max ranges; same epochs and learning rate): QAT {fmt('accuracy', a.qat)} "
                    f"({delta('accuracy', a.qat, a.float_graph)}), {agreement(a, split.x_test)['qat']} test "
                    f"samples agreeing with float, validation "
                    + ", ".join(f"{k}: {100 * v:.2f} %" for k, v in a.qat_validation.items())
                    + "."
                )
            verdicts.append(text)
    data = [
        f"- **{name}**: {TASKS[name].__doc__.strip().splitlines()[0]}" for name in dict.fromkeys(c.task for c in cases)
    ]
    recipe = ", ".join(f"`{k}={v}`" for k, v in QAT_RECIPE.items())
    md = [
        "# Float vs PTQ vs QAT on the example tasks",
        "",
        f"`.venv/bin/python benchmarks/bench_quantization.py --seed {args.seed}` — {date.today().isoformat()}, "
        f"{platform.machine()}, one torch thread; runtime {total:.0f} s wall, {cpu:.0f} s CPU "
        "(the machine was shared: CPU time is the steadier figure).",
        "",
        "All metrics on each task's test split, computed by picoml's reference interpreter (float graph and "
        "int8 graphs); accuracy in percent (higher is better), MSE for sine (lower is better). Int8 weight bytes: "
        "every constant of the int8 graph (int8 weights, int32 biases). MACs per inference. PTQ: "
        "`picoml.quantize` with 256 seeded training inputs as calibration data. QAT: "
        "`picoml.compress.qat.qat_finetune` from the float graph with one recipe for every task "
        f"(`picoml.tasks.QAT_RECIPE`: {recipe}; and `argmax_output=True` for the classifiers): the int8 "
        "model is trained to reproduce the float model (distillation; labels unused), its activation "
        "ranges learned from their calibrated values, the learning rate decaying along a cosine, and a "
        "classifier's output range covering each sample's top two class scores only; weight learning rate and candidate epoch counts per task in "
        "`picoml.tasks.QAT_SETTINGS`, the candidate with the best int8 validation metric kept "
        "(QAT epochs column; ties: fewer epochs). Float training: seed fixed, best validation epoch kept.",
        "",
        *lines,
        "",
        "Test-set sizes, to read the differences: digits 360 (one sample = 0.28 pt), activity 40 (2.5 pt), "
        "vowels 370 (0.27 pt), sine 200.",
        "",
        *data,
        *notes,
        "",
        "## Where PTQ loses a point or more",
        "",
        *(verdicts or ["- no case: PTQ stays within one point of float everywhere."]),
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(md))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
