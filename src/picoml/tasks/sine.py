"""Sine regression: TensorFlow Lite Micro's "hello world" as a picoml task.

Data, generated and seeded (as in the TFLM hello-world notebook): 1,000 values x drawn
uniformly from [0, 2π], targets y = sin(x) + 0.1·N(0, 1), split 60/20/20 into
train/validation/test. The noise is in every split, so the best possible test MSE is the
noise variance, about 0.01. Input normalization: none — x in [0, 2π] is already of order one
and the model keeps hello-world's raw input (no statistics are computed at all, so none can
leak from validation or test).

Model: hello-world's 1 → 16 → 16 → 1 ReLU MLP (321 parameters).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from picoml.tasks.train import History, Split, fit

METRIC = "mse"
INPUT_SHAPE = (1,)
SAMPLES = 1000
NOISE = 0.1
EPOCHS = 120
QUICK_EPOCHS = 60


def load(seed: int = 0) -> Split:
    """The sine split: x float32 (N, 1) in [0, 2π], y float32 (N, 1); sizes 600 / 200 / 200."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 2.0 * np.pi, SAMPLES)
    y = np.sin(x) + NOISE * rng.standard_normal(SAMPLES)
    x = x.astype(np.float32)[:, None]
    y = y.astype(np.float32)[:, None]
    a, b = int(0.6 * SAMPLES), int(0.8 * SAMPLES)  # the draw is already random: contiguous slices
    return Split(
        x[:a],
        y[:a],
        x[a:b],
        y[a:b],
        x[b:],
        y[b:],
        notes=f"x ~ U[0, 2π], y = sin(x) + {NOISE}·N(0,1), seeded; 60/20/20; no input normalization",
    )


def build_model(width: int = 16) -> Any:
    """TFLM hello world's MLP: dense ``width`` → ReLU → dense ``width`` → ReLU → dense 1."""
    import torch.nn as nn

    return nn.Sequential(nn.Linear(1, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))


def train(seed: int = 0, epochs: int = EPOCHS, quick: bool = False, **width: Any) -> tuple[Any, History]:
    """Train the sine MLP (``quick``: QUICK_EPOCHS epochs); returns (model, history)."""
    import torch

    torch.manual_seed(seed)
    split = load(seed)
    model = build_model(**width)
    hist = fit(
        model,
        split,
        metric=METRIC,
        epochs=QUICK_EPOCHS if quick else epochs,
        lr=1e-2,
        batch_size=32,
        weight_decay=0.0,
        seed=seed,
    )
    return model, hist
