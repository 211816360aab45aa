"""Keyword spotting from raw 16 kHz audio: the task of ``picoml demo --task keywords``.

Data: ``keywords_data`` (eSpeak NG speech, 12 classes, test split = voices never heard in
training). Features: the audio front end of the device itself. ``frontend_graph()`` is
``picoml.audio.clip_frontend`` with 30 ms windows every 20 ms and 40 mel channels (as
tflite-micro's micro_speech), noise reduction and PCAN off: a stateless graph from one 1 s clip
(16,000 int16 samples) to its 49 × 40 log-mel map. ``frontend_features`` runs that same graph
through picoml's reference interpreter, so the features a network is trained on are bit for bit
the ones the compiled library computes on the microcontroller. The network sees them in
natural-log units (the int16 codes × 2^-6), not standardized: zero stays zero (a silent frame,
and the padding of the first convolution), so the int8 input's zero point stays in range.

Models: ``build_cnn`` (the demo's: four 3×3 convolutions of 16/32/64/64 channels with BatchNorm
and ReLU, max-pooling after the first three, global average, dense 12) and ``build_model``, a
DS-CNN after Zhang et al., "Hello Edge" (2017): one 10×4 convolution with stride 2, then
``blocks`` depthwise-separable 3×3 blocks, global average, dense 12 (23,180 parameters and 10.6M
MACs at width 64, 4 blocks; width 32: 7,500 parameters, 3.3M MACs).

``device_graph(q)`` splices the front end, a QUANTIZE of its int16 features to the network's
input (int8, or int16 for a 16x8 network) and the quantized network ``q`` into one graph whose
input is the clip's raw 16-bit PCM and whose output is the 12 logits: one C library on the device.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from picoml import audio
from picoml.errors import PicomlError, UnsupportedError
from picoml.frontends.torch import from_torch
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType
from picoml.reference.interpreter import run
from picoml.tasks import keywords_data
from picoml.tasks.train import History, Split, channel_stats, fit

METRIC = "accuracy"
FRAMES, CHANNELS = 49, 40
#: the front end of the task (``picoml.audio.clip_frontend``; noise reduction and PCAN off)
FRONTEND: dict[str, Any] = {"sample_rate": 16000, "window_ms": 30.0, "stride_ms": 20.0, "channels": 40}
LOG_SCALE = 2.0**-6  # natural-log units of one FilterBankLog code (log_scale_shift 6)
INPUT_SHAPE = (1, FRAMES, CHANNELS)  # PyTorch layout (C, H, W): time × frequency
CLASSES = keywords_data.CLASSES
EPOCHS = 15  # the CNN's best validation epoch comes within them (93 % held out at seed 0)
QUICK_EPOCHS = 3
#: training recipe: ``fit``'s Adam + cosine schedule, best validation epoch kept
TRAIN_SETTINGS: dict[str, Any] = {"lr": 3e-3, "batch_size": 64, "weight_decay": 1e-4}
CNN_WIDTHS = (16, 32, 64, 64)

#: (N, 16000) int16 PCM -> (N, 49, 40) features
Features = Callable[[np.ndarray], np.ndarray]


def frontend_graph() -> Graph:
    """The task's front end: one 1 s int16 clip → (49, 40) int16 log-mel codes (scale 2^-6)."""
    return audio.clip_frontend(**FRONTEND)


def frontend_features(x: np.ndarray, graph: Graph | None = None, chunk: int = 256) -> np.ndarray:
    """(N, 16000) int16 clips → (N, 49, 40) int16: ``graph`` (default ``frontend_graph()``) run by
    picoml's reference interpreter, ``chunk`` clips at a time."""
    g = graph or frontend_graph()
    x = np.asarray(x)
    out = np.zeros((len(x), *g.outputs[0].shape), np.int16)
    for i in range(0, len(x), chunk):
        out[i : i + chunk] = run(g, x[i : i + chunk])
    return out


def log_features(x: np.ndarray) -> np.ndarray:
    """The network's input: the front end's features in natural-log units, float32 (N, 49, 40)."""
    return frontend_features(x).astype(np.float32) * np.float32(LOG_SCALE)


def load(
    seed: int = 0,
    *,
    features: Features = log_features,
    config: keywords_data.KeywordsConfig | None = None,
    quick: bool = False,
    cache_dir: str | Path = "build/cache/keywords",
    standardize: bool = False,
    data: keywords_data.KeywordsData | None = None,
) -> Split:
    """The keyword split in PyTorch layout: x float32 (N, 1, 49, 40), y int64 in 0..11; train /
    val / test as ``keywords_data`` makes them (test: held-out voices). ``features``: default the
    device's front end (``log_features``). ``standardize``: scale by the training mean and
    deviation (for another feature function; the device path does not). ``quick``: the small
    set. ``data``: the synthesized set, when the caller has it already."""
    cfg = config or (keywords_data.KeywordsConfig.quick(seed) if quick else keywords_data.KeywordsConfig(seed=seed))
    data = data or keywords_data.load(cfg, cache_dir)
    parts = []
    for name in keywords_data.SPLITS:
        x, y = data.part(name)
        f = np.asarray(features(x), np.float32)
        if f.shape != (len(x), FRAMES, CHANNELS):
            raise PicomlError(f"keywords: the feature function gave shape {f.shape}, not (N, {FRAMES}, {CHANNELS})")
        parts.append((f[:, None], y))
    note = "features in natural-log units"
    if standardize:
        mean, std = channel_stats(parts[0][0], axes=(0, 1, 2, 3))
        parts = [(((x - mean) / std).astype(np.float32), y) for x, y in parts]
        note = "features standardized with the training mean/std"
    (xtr, ytr), (xva, yva), (xte, yte) = parts
    return Split(
        xtr,
        ytr,
        xva,
        yva,
        xte,
        yte,
        classes=CLASSES,
        notes=f"eSpeak NG keywords {data.config.per_class} clips a class (train/val/test), test voices held out; {note}",
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


def build_cnn(widths: tuple[int, ...] = CNN_WIDTHS) -> Any:
    """Plain CNN: per width a 3×3 convolution (padding 1) + BatchNorm + ReLU, 2×2 max-pooling
    after every one but the last → global average → dense 12."""
    import torch.nn as nn

    layers: list[nn.Module] = []
    c_in = 1
    for i, w in enumerate(widths):
        layers += [nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        c_in = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, len(CLASSES)))


def train(
    seed: int = 0,
    epochs: int = EPOCHS,
    quick: bool = False,
    *,
    features: Features = log_features,
    split: Split | None = None,
    threads: int = 1,
    model: Any = None,
    **width: Any,
) -> tuple[Any, History]:
    """Train ``model`` (default the DS-CNN ``build_model(**width)``) on ``split`` (default
    ``load(seed, features=features, quick=quick)``); returns (model, history)."""
    import torch

    torch.manual_seed(seed)
    split = split or load(seed, features=features, quick=quick)
    model = model if model is not None else build_model(**width)
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


def train_cnn(split: Split, seed: int = 0, epochs: int = EPOCHS, widths: tuple[int, ...] = CNN_WIDTHS):
    """The demo's network: ``build_cnn(widths)`` trained on ``split`` (one thread, seeded), in eval
    mode, and its float picoml graph (NHWC input (1, 49, 40, 1)); returns (model, graph, history)."""
    import torch

    torch.manual_seed(seed)
    model = build_cnn(widths)
    hist = fit(model, split, metric=METRIC, epochs=epochs, seed=seed, threads=1, **TRAIN_SETTINGS)
    model.eval()
    return model, from_torch(model, torch.from_numpy(split.x_train[:1]), name="keywords_cnn"), hist


def device_graph(q: Graph, frontend: Graph | None = None, name: str = "keywords") -> Graph:
    """One graph from raw PCM to logits: ``frontend`` (default ``frontend_graph()``: int16 clip →
    (49, 40) int16 codes) → QUANTIZE to the dtype and parameters of ``q``'s input → RESHAPE to it
    → ``q`` (a quantized network over (1, 49, 40, 1) features in natural-log units; int8 or 16x8).
    ``q`` is copied, not changed."""
    fe = frontend or frontend_graph()
    q = copy.deepcopy(q)
    if len(q.inputs) != 1 or len(fe.outputs) != 1:
        raise UnsupportedError("device_graph: a one-input network after a one-output front end")
    src, dst = fe.outputs[0], q.inputs[0]
    if src.dtype != "int16" or not src.quantized:
        raise UnsupportedError(f"device_graph: the front end's output is {src.dtype}; needs quantized int16 codes")
    if dst.dtype not in ("int8", "int16") or not dst.quantized or dst.size != src.size:
        raise UnsupportedError(
            f"device_graph: the network's input {dst.name!r} ({dst.dtype} {list(dst.shape)}) is not a quantized "
            f"int8/int16 tensor of the front end's {src.size} features"
        )
    taken = {t.name for t in fe.tensors}
    for t in q.tensors:
        if t.name in taken:
            t.name = f"net/{t.name}"
    coded = Tensor("features_q", src.shape, dst.dtype, scale=dst.scale.copy(), zero_point=dst.zero_point.copy())
    shape = Tensor("features_q_shape", (len(dst.shape),), "int32", data=np.array(dst.shape, np.int32))
    glue = [
        Op(OpType.QUANTIZE, [src], [coded], {}, name=coded.name),
        Op(OpType.RESHAPE, [coded, shape], [dst], {"new_shape": list(dst.shape)}, name=f"{dst.name}_reshape"),
    ]
    g = Graph(
        [*fe.tensors, coded, shape, *q.tensors],
        [*fe.ops, *glue, *q.ops],
        list(fe.inputs),
        list(q.outputs),
        name=name,
        description=f"{fe.description}; then {q.name or 'the network'}",
    )
    g.validate()
    return g


def accuracy(g: Graph, x: np.ndarray, y: np.ndarray, chunk: int = 256) -> float:
    """Top-1 accuracy of ``g`` (raw int16 clips in, logits out) in picoml's interpreter."""
    hits = 0
    for i in range(0, len(x), chunk):
        out = np.asarray(run(g, x[i : i + chunk]))
        hits += int((out.reshape(len(out), -1).argmax(1) == y[i : i + chunk]).sum())
    return hits / max(len(x), 1)
