"""Shared pieces of the example tasks: the data split, metrics, and the tasks' training recipe.

``fit`` runs picoml's one training loop (``picoml.compress.train.train_loop``) with one recipe.
Why one recipe for every task: the benchmark compares float, PTQ and QAT models of four tasks,
and that comparison only means something if every float model was trained the same way —
same optimizer, same schedule, same rule for picking the epoch that is kept. The rule is
*best validation epoch*: after every epoch the model is scored on the validation split, and
the weights of the best epoch (ties broken by the lower validation loss) are restored at the
end. The test split is never looked at during training.

torch is imported inside the functions that need it, so ``import picoml.tasks`` works on a
numpy-only install (the loaders need scikit-learn or aeon, not torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from picoml.compress.train import History, train_loop
from picoml.compress.train import is_better as is_better  # re-exported: picoml.tasks uses it
from picoml.errors import InputError, PicomlError

METRICS = ("accuracy", "mse")


@dataclass(frozen=True)
class Split:
    """A task's data, already split and normalized, in PyTorch layout.

    Inputs are float32 ``(N, C, H, W)``, ``(N, C, L)`` or ``(N, F)``; classification labels are
    int64 class indices, regression targets float32 of the model's output shape. Splits are
    fixed for a given seed and normalization statistics come from ``x_train`` only.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...] = ()
    notes: str = ""

    def sizes(self) -> tuple[int, int, int]:
        return len(self.x_train), len(self.x_val), len(self.x_test)


def score(metric: str, outputs: np.ndarray, targets: np.ndarray) -> float:
    """The task metric of model outputs: accuracy of the arg-max class, or mean squared error."""
    outputs = np.asarray(outputs)
    targets = np.asarray(targets)
    if metric == "accuracy":
        pred = outputs.reshape(len(outputs), -1).argmax(axis=1)
        return float(np.mean(pred == targets.reshape(-1)))
    if metric == "mse":
        o = outputs.astype(np.float64).reshape(len(outputs), -1)
        t = targets.astype(np.float64).reshape(len(targets), -1)
        return float(np.mean((o - t) ** 2))
    raise InputError(f"unknown metric {metric!r}; one of {METRICS}")


def stratified_split(labels: np.ndarray, fractions: tuple[float, ...], seed: int) -> tuple[np.ndarray, ...]:
    """Index arrays that split ``labels`` into parts of the given fractions, per class.

    Splitting per class keeps every class in every part in proportion (small sets such as
    BasicMotions' 40 training cases would otherwise lose a class from the validation part).
    The last part takes what rounding leaves. Each part is sorted, so the split depends only
    on ``seed``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        start = 0
        for k, f in enumerate(fractions):
            stop = len(idx) if k == len(fractions) - 1 else start + int(round(f * len(idx)))
            parts[k].append(idx[start:stop])
            start = stop
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def load_aeon(name: str, split: str) -> tuple[Any, np.ndarray]:
    """One split ("train" or "test") of a classification set bundled inside the aeon package.

    ``aeon.datasets.load_classification`` downloads a set it does not find locally; the example
    tasks must never touch the network, so the bundled files are checked for first and a
    missing one is an error instead of a download.
    """
    from pathlib import Path

    try:
        import aeon.datasets
    except ImportError:
        raise PicomlError(f"the {name} task needs aeon: pip install 'picoml[examples]'") from None
    bundled = Path(aeon.datasets.__file__).parent / "data" / name / f"{name}_{split.upper()}.ts"
    if not bundled.is_file():
        raise PicomlError(f"{bundled}: aeon's bundled {name} data is missing (picoml never downloads data sets)")
    return aeon.datasets.load_classification(name, split=split)


def channel_stats(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``axes`` (kept as size-1 dims), std floored at 1e-6."""
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = x.std(axis=axes, keepdims=True, dtype=np.float64)
    return mean.astype(np.float32), np.maximum(std, 1e-6).astype(np.float32)


def predict(model: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Float outputs of a torch model on numpy inputs (eval mode, no gradients)."""
    import torch

    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size]))).numpy())
    return np.concatenate(outs).astype(np.float32)


def count_params(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def fit(
    model: Any,
    split: Split,
    *,
    metric: str,
    epochs: int,
    lr: float = 3e-3,
    batch_size: int = 32,
    weight_decay: float = 1e-4,
    seed: int = 0,
    threads: int = 1,
    verbose: bool = False,
) -> History:
    """Train ``model`` in place with Adam and a cosine learning-rate schedule; keep the best epoch.

    Everything random (initialization is the caller's, batch order here) is seeded, and torch
    uses at most ``threads`` threads (the previous setting is restored), so a run is repeatable
    on one machine. One thread is the default: these models are so small that a second thread
    only adds synchronization, and on a shared 2-core machine spinning threads made training
    4–5× slower in wall time (measured on 5 digits and 30 sine epochs). Loss: cross-entropy on logits for ``accuracy`` tasks, MSE for ``mse`` tasks.
    The loop is picoml's one training loop, ``picoml.compress.train.train_loop``.
    """
    import torch
    import torch.nn.functional as F

    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; one of {METRICS}")
    if epochs < 1:
        raise InputError(f"epochs must be >= 1, got {epochs}")
    x = torch.from_numpy(np.ascontiguousarray(split.x_train))
    y = torch.from_numpy(np.ascontiguousarray(split.y_train))
    xv = torch.from_numpy(np.ascontiguousarray(split.x_val))
    yv = torch.from_numpy(np.ascontiguousarray(split.y_val))

    def loss_fn(out, target):
        return F.cross_entropy(out, target) if metric == "accuracy" else F.mse_loss(out, target)

    def evaluate() -> tuple[float, float]:
        with torch.no_grad():
            out_v = model(xv)
            vloss = float(loss_fn(out_v, yv))
        return vloss, score(metric, out_v.numpy(), split.y_val)

    def report(hist: History) -> None:
        print(
            f"epoch {len(hist.val_metric):3d}  train loss {hist.train_loss[-1]:.4f}  "
            f"val loss {hist.val_loss[-1]:.4f}  val {metric} {hist.val_metric[-1]:.4f}"
        )

    return train_loop(
        model,
        (x, y),
        lambda xb, yb: loss_fn(model(xb), yb),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        weight_decay=weight_decay,
        lr_schedule="cosine",
        seed=seed,
        evaluate=evaluate,
        metric=metric,
        restore_best=True,
        threads=threads,
        on_epoch=report if verbose else None,
    )
