"""Speaker identification: aeon's bundled JapaneseVowels, a small 1-D CNN.

JapaneseVowels (UEA archive, shipped inside aeon): nine male speakers each uttering the vowel
pair /ae/; every case is 12 LPC cepstrum coefficients per frame over 7–29 frames; 9 classes
(the speaker), 270 TRAIN + 370 TEST cases. The archive's TEST cases are the test set; its
TRAIN cases are split per class, seeded, into 216 train / 54 validation.

Fixed length: an MCU model has one input shape, so every case is **zero-padded at the end to
``LENGTH`` = 29 frames** (the longest case in the archive, so nothing is truncated; a longer
case would be truncated to its first 29 frames). Padding is applied after standardization,
so a padded frame equals the training mean. Standardization is per coefficient, with the
mean and standard deviation over the *real* (unpadded) frames of the training cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from picoml.tasks.train import History, Split, fit, load_aeon, stratified_split

METRIC = "accuracy"
LENGTH = 29
INPUT_SHAPE = (12, LENGTH)  # PyTorch layout (C, L)
CLASSES = tuple(str(i) for i in range(1, 10))
EPOCHS = 40
QUICK_EPOCHS = 8


def _encode(y: np.ndarray) -> np.ndarray:
    index = {c: i for i, c in enumerate(CLASSES)}
    return np.array([index[str(v)] for v in y], np.int64)


def pad_or_truncate(cases: list[np.ndarray], length: int = LENGTH) -> np.ndarray:
    """(channels, frames) cases of any length → one float32 (N, channels, length) array, zero-padded at the end."""
    out = np.zeros((len(cases), cases[0].shape[0], length), np.float32)
    for i, c in enumerate(cases):
        n = min(c.shape[1], length)
        out[i, :, :n] = c[:, :n]
    return out


def load(seed: int = 0) -> Split:
    """The JapaneseVowels split: x float32 (N, 12, 29), y int64 in 0..8; sizes 216 / 54 / 370."""
    x_tr, y_tr = load_aeon("JapaneseVowels", "train")
    x_te, y_te = load_aeon("JapaneseVowels", "test")
    y_tr, y_te = _encode(y_tr), _encode(y_te)
    tr, va = stratified_split(y_tr, (0.8, 0.2), seed)
    frames = np.concatenate([np.asarray(x_tr[i], np.float64) for i in tr], axis=1)  # (12, total real frames)
    mean = frames.mean(axis=1, keepdims=True)
    std = np.maximum(frames.std(axis=1, keepdims=True), 1e-6)

    def prep(cases: list[np.ndarray], idx: np.ndarray | None = None) -> np.ndarray:
        sel = cases if idx is None else [cases[i] for i in idx]
        return pad_or_truncate([((np.asarray(c, np.float64) - mean) / std) for c in sel])

    return Split(
        prep(x_tr, tr),
        y_tr[tr],
        prep(x_tr, va),
        y_tr[va],
        prep(x_te),
        y_te,
        classes=CLASSES,
        notes=f"aeon JapaneseVowels: archive TRAIN split 216/54 train/val per class, archive TEST as test; "
        f"per-coefficient standardization from real training frames, zero-padded at the end to {LENGTH} frames",
    )


def build_model(width: int = 32, depth: int = 3, batchnorm: bool = True) -> Any:
    """``depth`` 3-tap conv layers over frames (max-pool after the second), global average, dense 9.

    ~8K parameters at the default width 32, depth 3. ``batchnorm=False`` with a larger
    ``depth`` is the benchmark's constructed PTQ-sensitive case: without BatchNorm nothing
    keeps each layer's activation range in check, and rounding errors compound over the layers.
    """
    import torch.nn as nn

    layers: list[nn.Module] = []
    cin = 12
    for i in range(depth):
        layers.append(nn.Conv1d(cin, width, 3, padding=1, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if i == 1:
            layers.append(nn.MaxPool1d(2))
        cin = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, len(CLASSES)))


def train(seed: int = 0, epochs: int = EPOCHS, quick: bool = False, **width: Any) -> tuple[Any, History]:
    """Train the speaker CNN (``quick``: QUICK_EPOCHS epochs); returns (model, history)."""
    import torch

    torch.manual_seed(seed)
    split = load(seed)
    model = build_model(**width)
    hist = fit(model, split, metric=METRIC, epochs=QUICK_EPOCHS if quick else epochs, lr=3e-3, batch_size=16, seed=seed)
    return model, hist
