"""Example tasks on real bundled data, and the pipeline that takes each to int8.

Four tasks, each a module with the same face — ``load(seed) -> Split``, ``build_model(**width)``,
``METRIC``, ``train(seed, epochs, quick) -> (model, history)``:

=========  ==========================================  ==========  =========================
task       data (bundled in a package, never fetched)   metric      model
=========  ==========================================  ==========  =========================
digits     scikit-learn ``load_digits``, 8×8 images      accuracy    3-conv CNN (default task)
activity   aeon BasicMotions, 6 ch × 100 steps           accuracy    3-conv 1-D CNN
vowels     aeon JapaneseVowels, 12 ch, padded to 29      accuracy    3-conv 1-D CNN
sine       generated sin(x) + noise (TFLM hello world)   mse         1-16-16-1 MLP
=========  ==========================================  ==========  =========================

``run_pipeline`` is what the example scripts and the quantization benchmark share: train the
float model → ``picoml.from_torch`` → float metric in picoml's interpreter → post-training
int8 quantization → int8 metric → quantization-aware fine-tuning → int8 metric, and the three
graphs written as .tflite files. Importing this package needs numpy only; torch, scikit-learn
and aeon are imported by the functions that use them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from picoml.errors import InputError
from picoml.frontends.lowering import to_graph_layout
from picoml.frontends.tflite_writer import write_tflite
from picoml.frontends.torch import from_torch
from picoml.graph.ops import op_macs
from picoml.quantize.ptq import dequantize_output, quantize_input
from picoml.quantize.ptq import quantize as quantize_graph
from picoml.reference import interpreter
from picoml.tasks import activity, digits, sine, vowels
from picoml.tasks.train import History, Split, count_params, is_better, predict, score
from picoml.tasks.user import UserTaskSpec
from picoml.tasks.user import resolve as resolve_user_task

TASKS: dict[str, ModuleType] = {"digits": digits, "activity": activity, "vowels": vowels, "sine": sine}
DEFAULT_TASK = "digits"

# QAT fine-tuning settings per task: ``epochs`` (the candidate run lengths) and ``lr`` (the
# weights' learning rate), the other keys passed on to ``qat_finetune``. One recipe for every
# task: start from the trained float weights and train the int8 model to reproduce the float
# model (``distill=1``: KL divergence to the float graph's own outputs, or MSE for regression;
# the labels are not used, so QAT repairs rounding damage instead of becoming a second training
# run), activation ranges learned from their calibrated values (``learn_ranges``, their own
# ``range_lr``), the learning rate decaying along a cosine; for the classifiers, whose class
# scores are read by arg-max, the output range covers each sample's top two scores only
# (``argmax_output``). Each candidate epoch count is one fine-tuning run from the float graph;
# the int8 result with the best validation metric is kept (ties: the fewer epochs), so the test
# split chooses nothing here either.
QAT_RECIPE: dict[str, Any] = {"schedule": "cosine", "distill": 1.0, "learn_ranges": True, "range_lr": 3e-2}
QAT_CLASSIFIER: dict[str, Any] = {**QAT_RECIPE, "argmax_output": True}
QAT_SETTINGS: dict[str, dict[str, Any]] = {
    "digits": {"epochs": (3, 10), "lr": 5e-4, **QAT_CLASSIFIER},
    "activity": {"epochs": (5, 10, 20), "lr": 1e-3, **QAT_CLASSIFIER},
    "vowels": {"epochs": (10, 20, 40), "lr": 1e-3, **QAT_CLASSIFIER},
    "sine": {"epochs": (5, 10, 20), "lr": 2e-4, **QAT_RECIPE},
}


def get_task(name: str | UserTaskSpec, seed: int = 0) -> Any:
    """The task module registered under ``name``, or a user's task (``UserTaskSpec``: data file and
    model factory, loaded once per process)."""
    if isinstance(name, UserTaskSpec):
        return resolve_user_task(name, seed)
    try:
        return TASKS[name]
    except KeyError:
        raise InputError(f"unknown task {name!r}; one of {sorted(TASKS)}") from None


@dataclass
class PipelineResult:
    """One task taken from PyTorch to int8: metrics, sizes, timings and the files written.

    Metrics are on the test split; ``float_torch`` is PyTorch's own float output and
    ``float_graph`` picoml's interpreter on the converted float graph (they agree to float32
    rounding). ``weight_bytes_int8`` counts every constant of the int8 graph (int8 weights and
    int32 biases), ``weight_bytes_float`` the float graph's.
    """

    task: str
    metric: str
    params: int
    macs: int
    weight_bytes_float: int
    weight_bytes_int8: int
    float_torch: float
    float_graph: float
    ptq: float
    qat: float | None
    history: History
    qat_validation: dict[int, float] = field(default_factory=dict)
    qat_epochs: int | None = None
    graphs: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """A short human-readable report (what the example scripts print)."""
        m = self.metric
        fmt = (lambda v: f"{100 * v:6.2f} %") if m == "accuracy" else (lambda v: f"{v:.5f}")
        lines = [
            f"task {self.task}: {self.params:,} parameters, {self.macs:,} MACs, "
            f"weights {self.weight_bytes_float:,} B float -> {self.weight_bytes_int8:,} B int8",
            f"best epoch {self.history.best_epoch + 1} of {len(self.history.val_metric)} "
            f"(validation {m} {fmt(self.history.best_val_metric)})",
            f"test {m}: float (PyTorch) {fmt(self.float_torch)}   float (picoml) {fmt(self.float_graph)}",
            f"test {m}: int8 PTQ {fmt(self.ptq)}" + (f"   int8 QAT {fmt(self.qat)}" if self.qat is not None else ""),
        ]
        if self.qat_validation:
            lines.append(
                "QAT epochs tried (validation "
                + m
                + "): "
                + ", ".join(f"{k}: {fmt(v).strip()}" for k, v in self.qat_validation.items())
                + f"; kept {self.qat_epochs}"
            )
        lines += [f"wrote {p}" for p in self.files.values()]
        lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return "\n".join(lines)


def graph_macs(graph: Any) -> int:
    """Multiply-accumulates of one inference (the counts ``picoml info`` reports)."""

    return int(sum(op_macs(op) for op in graph.ops))


def graph_weight_bytes(graph: Any) -> int:
    """Bytes of every constant tensor (weights, biases; shape operands of RESHAPE etc. too)."""
    return int(sum(t.nbytes for t in graph.tensors if t.is_const))


def int8_outputs(q: Any, x_graph: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 outputs, dequantized float outputs) of an int8 graph on float inputs in graph layout."""

    yq = interpreter.run(q, quantize_input(q, x_graph))
    return yq, dequantize_output(q, yq)


def calibration_subset(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` training inputs drawn without replacement (all of them if there are fewer)."""
    if len(x) <= n:
        return x
    idx = np.sort(np.random.default_rng(seed).choice(len(x), n, replace=False))
    return x[idx]


def run_pipeline(
    name: str,
    *,
    seed: int = 0,
    epochs: int | None = None,
    quick: bool = False,
    qat: bool = True,
    qat_epochs: int | tuple[int, ...] | None = None,
    qat_lr: float | None = None,
    calibration_samples: int = 256,
    out_dir: str | Path | None = None,
    model_kwargs: dict[str, Any] | None = None,
    threads: int = 1,
    qat_options: dict[str, Any] | None = None,
) -> PipelineResult:
    """Train task ``name`` in float, convert, quantize (PTQ, then QAT) and score each stage on test.

    ``out_dir``: where ``float.tflite``, ``ptq.tflite`` and ``qat.tflite`` go (not written when
    None). ``model_kwargs`` go to the task's ``build_model`` (e.g. ``{"width": 8}``).
    Calibration uses ``calibration_samples`` training inputs, seeded; QAT fine-tunes on the whole
    training split, once per candidate in ``qat_epochs`` (default ``QAT_SETTINGS``), and keeps
    the int8 graph with the best validation metric; ``qat_options`` override the other
    ``qat_finetune`` arguments of ``QAT_SETTINGS`` (e.g. ``{"distill": 0.0}``). torch uses at
    most ``threads`` threads throughout.
    """
    import torch

    task = get_task(name)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(threads, prev_threads)))  # QAT runs torch too; the CPU is shared
    try:
        return _pipeline(
            task,
            name,
            seed,
            epochs,
            quick,
            qat,
            qat_epochs,
            qat_lr,
            calibration_samples,
            out_dir,
            model_kwargs,
            qat_options,
        )
    finally:
        torch.set_num_threads(prev_threads)


def _pipeline(
    task, name, seed, epochs, quick, qat, qat_epochs, qat_lr, calibration_samples, out_dir, model_kwargs, qat_options
):
    import torch

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = task.load(seed)
    kw: dict[str, Any] = {"seed": seed, "quick": quick, **(model_kwargs or {})}
    if epochs is not None:
        kw["epochs"] = epochs
    model, hist = task.train(**kw)
    timings["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    x_test_g = to_graph_layout(data.x_test)
    float_torch = score(task.METRIC, predict(model, data.x_test), data.y_test)
    g = from_torch(model, torch.from_numpy(data.x_train[:1]))
    float_graph = score(task.METRIC, interpreter.run(g, x_test_g), data.y_test)
    calib = to_graph_layout(calibration_subset(data.x_train, calibration_samples, seed))
    q = quantize_graph(g, calib)
    ptq = score(task.METRIC, int8_outputs(q, x_test_g)[1], data.y_test)
    timings["convert+ptq"] = time.perf_counter() - t0
    graphs = {"float": g, "ptq": q}

    qat_value = None
    qat_choice: dict[int, float] = {}
    best = None
    if qat:
        from picoml.compress.qat import qat_finetune

        t0 = time.perf_counter()
        settings = QAT_SETTINGS[name]
        candidates = qat_epochs if qat_epochs is not None else settings["epochs"]
        candidates = (candidates,) if isinstance(candidates, int) else tuple(candidates)
        options = {k: v for k, v in settings.items() if k not in ("epochs", "lr")} | dict(qat_options or {})
        x_val_g = to_graph_layout(data.x_val)
        for n_epochs in candidates:  # each run starts again from the float graph
            qg = qat_finetune(
                g,
                to_graph_layout(data.x_train),
                data.y_train,
                calibration_data=calib,
                epochs=int(n_epochs),
                lr=float(qat_lr if qat_lr is not None else settings["lr"]),
                loss="cross_entropy" if task.METRIC == "accuracy" else "mse",
                seed=seed,
                **options,
            )
            qat_choice[int(n_epochs)] = score(task.METRIC, int8_outputs(qg, x_val_g)[1], data.y_val)
            if best is None or is_better(task.METRIC, qat_choice[int(n_epochs)], qat_choice[best[0]]):
                best = (int(n_epochs), qg)
        graphs["qat"] = best[1]
        qat_value = score(task.METRIC, int8_outputs(best[1], x_test_g)[1], data.y_test)
        timings["qat"] = time.perf_counter() - t0

    files: dict[str, Path] = {}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for kind, graph in graphs.items():
            files[kind] = out / f"{kind}.tflite"
            write_tflite(graph, files[kind])

    return PipelineResult(
        task=name,
        metric=task.METRIC,
        params=count_params(model),
        macs=graph_macs(g),
        weight_bytes_float=graph_weight_bytes(g),
        weight_bytes_int8=graph_weight_bytes(q),
        float_torch=float_torch,
        float_graph=float_graph,
        ptq=ptq,
        qat=qat_value,
        history=hist,
        qat_validation=qat_choice,
        qat_epochs=best[0] if best is not None else None,
        graphs=graphs,
        files=files,
        seconds=timings,
    )


__all__ = [
    "DEFAULT_TASK",
    "QAT_CLASSIFIER",
    "QAT_RECIPE",
    "QAT_SETTINGS",
    "TASKS",
    "History",
    "PipelineResult",
    "Split",
    "get_task",
    "graph_macs",
    "graph_weight_bytes",
    "int8_outputs",
    "run_pipeline",
    "score",
]
