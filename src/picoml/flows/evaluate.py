"""Float vs int8 evaluation: the metric a task is judged by, side by side, plus agreement.

Task kinds and their metric (``kind="auto"`` infers it from the labels and the output):

* ``classification`` — integer labels, one score per class: accuracy; agreement = the share
  of samples where float and int8 pick the same class.
* ``regression`` — float targets of the output's shape: mean squared error; agreement = the
  share of outputs whose float and int8 values differ by at most one int8 output step.
* ``anomaly`` — binary labels (1 = anomalous) and an autoencoder (output shape = input
  shape): the anomaly score is the per-sample reconstruction MSE, the metric ROC-AUC;
  agreement = Spearman rank correlation of the float and int8 scores (a detector only uses
  the ranking through its threshold).

Numpy only, so the core install can evaluate .tflite models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from picoml.errors import InputError
from picoml.graph import Graph
from picoml.qparams import dequantize_array, quantize_array
from picoml.reference.interpreter import run

KINDS = ("classification", "regression", "anomaly")


@dataclass(frozen=True)
class Evaluation:
    kind: str
    metric: str
    samples: int
    float_value: float
    int8_value: float
    agreement: float
    agreement_kind: str

    def as_dict(self) -> dict:
        return asdict(self)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (ties count one half)."""
    labels = np.asarray(labels).astype(bool).reshape(-1)
    scores = np.asarray(scores, np.float64).reshape(-1)
    npos, nneg = int(labels.sum()), int((~labels).sum())
    if npos == 0 or nneg == 0:
        raise InputError("ROC-AUC needs both normal (0) and anomalous (1) samples in the labels")
    ranks = _average_ranks(scores)
    u = ranks[labels].sum() - npos * (npos + 1) / 2.0
    return float(u / (npos * nneg))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), np.float64)
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _average_ranks(np.asarray(a, np.float64)), _average_ranks(np.asarray(b, np.float64))
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else 1.0


def infer_kind(y: np.ndarray, out_shape: tuple[int, ...], in_shape: tuple[int, ...]) -> str:
    y = np.asarray(y)
    per_sample_out = tuple(out_shape[1:])
    if np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_):
        if per_sample_out == tuple(in_shape[1:]) and set(np.unique(y).tolist()) <= {0, 1}:
            return "anomaly"
        return "classification"
    return "regression"


def _io_dequant(graph: Graph, y: np.ndarray) -> np.ndarray:
    t = graph.outputs[0]
    if not t.quantized:
        return np.asarray(y, np.float32)
    return dequantize_array(y, t.scale[0], int(t.zero_point[0]))


def _io_quant(graph: Graph, x: np.ndarray) -> np.ndarray:
    t = graph.inputs[0]
    if not t.quantized or t.dtype == "float32":
        return np.asarray(x, np.float32)
    info = np.iinfo(t.np_dtype)
    return quantize_array(x, t.scale[0], int(t.zero_point[0]), info.min, info.max, dtype=t.np_dtype)


def evaluate(float_graph: Graph, int8_graph: Graph, x: np.ndarray, y: np.ndarray, *, kind: str = "auto") -> Evaluation:
    """Run both graphs on ``x`` (graph layout, float) and score them against ``y``."""

    x = np.asarray(x, np.float32)
    y = np.asarray(y)
    if len(x) != len(y):
        raise InputError(f"data: {len(x)} inputs but {len(y)} labels")
    if len(x) == 0:
        raise InputError("data: no samples")
    if not np.isfinite(x).all():
        raise InputError("data: inputs contain NaN or infinity")
    want = tuple(float_graph.inputs[0].shape[1:])
    if tuple(x.shape[1:]) != want:
        raise InputError(f"data: inputs have per-sample shape {list(x.shape[1:])}, the model expects {list(want)}")
    yf = np.asarray(run(float_graph, x), np.float32)
    yq_raw = run(int8_graph, _io_quant(int8_graph, x))
    yq = _io_dequant(int8_graph, yq_raw)
    if kind == "auto":
        kind = infer_kind(y, float_graph.outputs[0].shape, float_graph.inputs[0].shape)
    if kind not in KINDS:
        raise InputError(f"unknown task kind {kind!r}; use one of {', '.join(KINDS)}")
    n = len(x)
    if kind == "classification":
        pf, pq = yf.reshape(n, -1).argmax(1), yq.reshape(n, -1).argmax(1)
        labels = y.reshape(n)
        return Evaluation(
            kind,
            "accuracy",
            n,
            float((pf == labels).mean()),
            float((pq == labels).mean()),
            float((pf == pq).mean()),
            "same class",
        )
    if kind == "regression":
        target = y.astype(np.float32).reshape(yf.shape)
        step = float(int8_graph.outputs[0].scale[0]) if int8_graph.outputs[0].quantized else 0.0
        agree = np.abs(yf - yq) <= step * (1 + 1e-6)  # one int8 output step (float rounding of the step itself)
        return Evaluation(
            kind,
            "mse",
            n,
            float(((yf - target) ** 2).mean()),
            float(((yq - target) ** 2).mean()),
            float(agree.mean()),
            "within one int8 step",
        )
    xf = x.reshape(n, -1)
    sf = ((yf.reshape(n, -1) - xf) ** 2).mean(1)
    sq = ((yq.reshape(n, -1) - xf) ** 2).mean(1)
    labels = y.reshape(n)
    return Evaluation(
        kind,
        "roc_auc",
        n,
        roc_auc(labels, sf),
        roc_auc(labels, sq),
        spearman(sf, sq),
        "Spearman rank correlation of scores",
    )
