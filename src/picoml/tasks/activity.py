"""Human activity from a wrist sensor: aeon's bundled BasicMotions, a small 1-D CNN.

BasicMotions (UEA archive, shipped inside aeon): 3-axis accelerometer + 3-axis gyroscope of
a smartwatch, 6 channels × 100 steps (10 s at 10 Hz), 4 classes (standing, running, walking,
badminton), 80 cases. The archive's own split is kept: its 40 TEST cases are the test set;
its 40 TRAIN cases are split per class, seeded, into 32 train / 8 validation. Each channel
is standardized with the mean and standard deviation of the 32 training cases.

The test set has 40 cases, so one case is 2.5 accuracy points: read differences here with
that granularity in mind.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from picoml.tasks.train import History, Split, channel_stats, fit, load_aeon, stratified_split

METRIC = "accuracy"
INPUT_SHAPE = (6, 100)  # PyTorch layout (C, L)
CLASSES = ("badminton", "running", "standing", "walking")
EPOCHS = 60
QUICK_EPOCHS = 15


def _encode(y: np.ndarray) -> np.ndarray:
    index = {c: i for i, c in enumerate(CLASSES)}
    return np.array([index[str(v)] for v in y], np.int64)


def load(seed: int = 0) -> Split:
    """The BasicMotions split: x float32 (N, 6, 100), y int64 in 0..3; sizes 32 / 8 / 40."""
    x_tr, y_tr = load_aeon("BasicMotions", "train")
    x_te, y_te = load_aeon("BasicMotions", "test")
    x_tr, x_te = np.asarray(x_tr, np.float32), np.asarray(x_te, np.float32)
    y_tr, y_te = _encode(y_tr), _encode(y_te)
    tr, va = stratified_split(y_tr, (0.8, 0.2), seed)
    mean, std = channel_stats(x_tr[tr], axes=(0, 2))
    norm = lambda a: ((a - mean) / std).astype(np.float32)  # noqa: E731
    return Split(
        norm(x_tr[tr]),
        y_tr[tr],
        norm(x_tr[va]),
        y_tr[va],
        norm(x_te),
        y_te,
        classes=CLASSES,
        notes="aeon BasicMotions: archive TRAIN split 32/8 train/val per class, archive TEST as test; "
        "per-channel standardization from the training cases",
    )


def build_model(width: int = 16, batchnorm: bool = True) -> Any:
    """Three conv + max-pool blocks over time, global average, dense 4 (2.7K parameters at width 16)."""
    import torch.nn as nn

    def block(cin: int, cout: int, k: int) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv1d(cin, cout, k, padding=k // 2, bias=not batchnorm)]
        if batchnorm:
            layers.append(nn.BatchNorm1d(cout))
        layers += [nn.ReLU(), nn.MaxPool1d(2)]
        return layers

    return nn.Sequential(
        *block(6, width, 5),
        *block(width, width, 5),
        *block(width, width, 3),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(width, len(CLASSES)),
    )


def train(seed: int = 0, epochs: int = EPOCHS, quick: bool = False, **width: Any) -> tuple[Any, History]:
    """Train the activity CNN (``quick``: QUICK_EPOCHS epochs); returns (model, history)."""
    import torch

    torch.manual_seed(seed)
    split = load(seed)
    model = build_model(**width)
    hist = fit(model, split, metric=METRIC, epochs=QUICK_EPOCHS if quick else epochs, lr=3e-3, batch_size=8, seed=seed)
    return model, hist
