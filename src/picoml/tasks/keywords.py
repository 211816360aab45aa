"""Keyword spotting from raw 16 kHz audio: the skeleton of ``--task keywords`` (NOT wired yet).

Not in ``picoml.tasks.TASKS`` and not reachable from the CLI: the features a model sees must be
the audio front end's (``picoml.audio.frontend``: the same fixed-point arithmetic on the
device as in training), which is being built on another branch. Until it lands, ``load`` and
``train`` take the feature function as an argument; the demo wires them to the front end.

Data: ``keywords_data`` (eSpeak NG speech, 12 classes, test split = voices never heard in
training). Features: 49 frames × 40 channels per 1 s clip (30 ms windows every 20 ms, as
tflite-micro's micro_speech), standardized with one mean and one deviation from the training
features. Model: a DS-CNN after Zhang et al., "Hello Edge" (2017) — one 10×4 convolution with
stride 2, then ``blocks`` depthwise-separable 3×3 blocks, global average, dense 12: 23,180
parameters and 10.6M MACs at width 64, 4 blocks (measured with ``picoml.tasks.graph_macs``; the
"DS-CNN S" of the paper and of MLPerf Tiny's KWS model, whose ops picoml already compiles, has
2.7M over 49×10 MFCCs: 40 channels cost 4×); width 32: 7,500 parameters, 3.3M MACs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from picoml.errors import PicomlError
from picoml.tasks import keywords_data
from picoml.tasks.train import History, Split, channel_stats, fit

METRIC = "accuracy"
FRAMES, CHANNELS = 49, 40
INPUT_SHAPE = (1, FRAMES, CHANNELS)  # PyTorch layout (C, H, W): time × frequency
CLASSES = keywords_data.CLASSES
EPOCHS = 30
QUICK_EPOCHS = 3
#: training recipe of the sketch: ``fit``'s Adam + cosine schedule, best validation epoch kept
TRAIN_SETTINGS: dict[str, Any] = {"lr": 3e-3, "batch_size": 64, "weight_decay": 1e-4}

#: (N, 16000) int16 PCM -> (N, 49, 40) features
Features = Callable[[np.ndarray], np.ndarray]


def load(
    seed: int = 0,
    *,
    features: Features,
    config: keywords_data.KeywordsConfig | None = None,
    quick: bool = False,
    cache_dir: str | Path = "build/cache/keywords",
) -> Split:
    """The keyword split in PyTorch layout: x float32 (N, 1, 49, 40), y int64 in 0..11; train /
    val / test as ``keywords_data`` makes them (test: held-out voices). ``quick``: the small set."""
    cfg = config or (keywords_data.KeywordsConfig.quick(seed) if quick else keywords_data.KeywordsConfig(seed=seed))
    data = keywords_data.load(cfg, cache_dir)
    parts = []
    for name in keywords_data.SPLITS:
        x, y = data.part(name)
        f = np.asarray(features(x), np.float32)
        if f.shape != (len(x), FRAMES, CHANNELS):
            raise PicomlError(f"keywords: the feature function gave shape {f.shape}, not (N, {FRAMES}, {CHANNELS})")
        parts.append((f[:, None], y))
    mean, std = channel_stats(parts[0][0], axes=(0, 1, 2, 3))
    (xtr, ytr), (xva, yva), (xte, yte) = ((((x - mean) / std).astype(np.float32), y) for x, y in parts)
    return Split(
        xtr,
        ytr,
        xva,
        yva,
        xte,
        yte,
        classes=CLASSES,
        notes=f"eSpeak NG keywords {cfg.per_class} clips a class (train/val/test), test voices held out; "
        "features standardized with the training mean/std",
    )


def build_model(width: int = 64, blocks: int = 4) -> Any:
    """DS-CNN: conv 10×4 stride 2 (``width`` channels) → ``blocks`` × [depthwise 3×3, pointwise
    1×1, each with BatchNorm + ReLU] → global average → dense 12."""
    import torch.nn as nn

    layers: list[nn.Module] = [
        nn.Conv2d(1, width, (10, 4), stride=2, padding=(5, 1), bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
    ]
    for _ in range(blocks):
        layers += [
            nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, len(CLASSES)))


def train(
    seed: int = 0,
    epochs: int = EPOCHS,
    quick: bool = False,
    *,
    features: Features,
    split: Split | None = None,
    threads: int = 1,
    **width: Any,
) -> tuple[Any, History]:
    """Train the DS-CNN on ``split`` (default ``load(seed, features=features, quick=quick)``);
    returns (model, history)."""
    import torch

    torch.manual_seed(seed)
    split = split or load(seed, features=features, quick=quick)
    model = build_model(**width)
    hist = fit(
        model,
        split,
        metric=METRIC,
        epochs=QUICK_EPOCHS if quick else epochs,
        seed=seed,
        threads=threads,
        **TRAIN_SETTINGS,
    )
    return model, hist
