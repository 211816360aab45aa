"""Handwritten digits: scikit-learn's bundled 8×8 images (1,797 samples, 10 classes), a small CNN.

The default task: small enough to train in seconds on two cores, real enough that int8 has
to get it right. Data: ``sklearn.datasets.load_digits`` (UCI optical digits, shipped inside
scikit-learn, nothing downloaded). Split: stratified 60/20/20 (train/val/test) with a seeded
permutation per class. Normalization: pixels (0..16) standardized with the mean and standard
deviation of all training pixels (one scalar each — the images have one channel).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from picoml.errors import PicomlError
from picoml.tasks.train import History, Split, channel_stats, fit, stratified_split

METRIC = "accuracy"
INPUT_SHAPE = (1, 8, 8)  # PyTorch layout (C, H, W)
CLASSES = tuple(str(d) for d in range(10))
EPOCHS = 20
QUICK_EPOCHS = 5


def load(seed: int = 0) -> Split:
    """The digits split: x float32 (N, 1, 8, 8), y int64 in 0..9; sizes 1078 / 359 / 360 for seed 0."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise PicomlError("the digits task needs scikit-learn: pip install 'picoml[examples]'") from None

    d = load_digits()
    x = d.images.astype(np.float32)[:, None]  # (1797, 1, 8, 8), values 0..16
    y = d.target.astype(np.int64)
    tr, va, te = stratified_split(y, (0.6, 0.2, 0.2), seed)
    mean, std = channel_stats(x[tr], axes=(0, 1, 2, 3))
    x = (x - mean) / std
    return Split(
        x[tr],
        y[tr],
        x[va],
        y[va],
        x[te],
        y[te],
        classes=CLASSES,
        notes="sklearn load_digits, stratified 60/20/20, pixels standardized with training mean/std",
    )


def build_model(width: int = 16, batchnorm: bool = True, depth: int = 3) -> Any:
    """A CNN: 8×8 → conv3x3 ×2 → max-pool → conv3x3 ×(depth - 2) → global average → dense 10.

    ``width`` channels in the first conv, 2·width after; 14.5K parameters at width 16, depth 3
    (the default model). ``batchnorm=False`` drops the BatchNorm layers (their folding is what
    keeps activation ranges tame; without it int8 post-training quantization has more to lose),
    and a larger ``depth`` adds 3×3 convs after the pooling, each a place for rounding errors to
    compound: the quantization benchmark's constructed PTQ-sensitive digits case uses both.
    """
    import torch.nn as nn

    if depth < 3:
        raise PicomlError(f"digits.build_model: depth must be >= 3, is {depth}")

    def block(cin: int, cout: int) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batchnorm)]
        if batchnorm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU())
        return layers

    w2 = 2 * width
    deeper = [layer for _ in range(depth - 3) for layer in block(w2, w2)]
    return nn.Sequential(
        *block(1, width),
        *block(width, w2),
        nn.MaxPool2d(2),
        *block(w2, w2),
        *deeper,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(w2, 10),
    )


def train(seed: int = 0, epochs: int = EPOCHS, quick: bool = False, **width: Any) -> tuple[Any, History]:
    """Train the digits CNN (``quick``: QUICK_EPOCHS epochs for smoke tests); returns (model, history)."""
    import torch

    torch.manual_seed(seed)
    split = load(seed)
    model = build_model(**width)
    hist = fit(model, split, metric=METRIC, epochs=QUICK_EPOCHS if quick else epochs, lr=3e-3, batch_size=64, seed=seed)
    return model, hist
