"""picoml.flows.evaluate: metrics against scikit-learn/scipy, task inference, float vs int8 on real models."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.errors import InputError
from picoml.flows.evaluate import evaluate, infer_kind, roc_auc, spearman

from oracles import model_path


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_sklearn_with_ties(seed):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 200)
    labels[:2] = [0, 1]
    scores = np.round(rng.normal(size=200) + labels, 1)  # rounding makes ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_spearman_matches_scipy(seed):
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(size=100), 1)
    b = a + rng.normal(size=100)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_roc_auc_needs_both_classes():
    with pytest.raises(InputError, match="both normal"):
        roc_auc(np.zeros(5), np.arange(5))


def test_infer_kind():
    assert infer_kind(np.array([0, 3, 1]), (1, 10), (1, 49, 10, 1)) == "classification"
    assert infer_kind(np.array([0.5, 1.0]), (1, 1), (1, 1)) == "regression"
    assert infer_kind(np.array([0, 1, 1]), (1, 640), (1, 640)) == "anomaly"


@pytest.mark.models
def test_evaluate_kws_float_vs_int8_classification():
    g, q = picoml.load(model_path("kws", "float")), picoml.load(model_path("kws", "int8"))
    rng = np.random.default_rng(0)
    # KWS's int8 input scale is ~0.6 with zero point ~-100: draw inputs from its representable range
    t = q.inputs[0]
    lo, hi = (-128 - t.zero_point[0]) * t.scale[0], (127 - t.zero_point[0]) * t.scale[0]
    x = rng.uniform(lo, hi, (16, *g.inputs[0].shape[1:])).astype(np.float32)
    yf = picoml.run(g, x)
    labels = yf.reshape(16, -1).argmax(1)  # the float model's own decisions as labels
    r = evaluate(g, q, x, labels)
    assert r.kind == "classification" and r.metric == "accuracy"
    assert r.float_value == 1.0
    assert r.int8_value == r.agreement  # labels are the float decisions, so agreement = int8 accuracy
    # recompute the int8 decisions by hand: quantize with the input's scale/zero point, argmax of int8 outputs
    xq = np.clip(np.round(x / t.scale[0]) + t.zero_point[0], -128, 127).astype(np.int8)
    pq = picoml.run(q, xq).reshape(16, -1).argmax(1)
    assert r.agreement == float((pq == labels).mean())


@pytest.mark.models
def test_evaluate_ad_anomaly_and_regression():
    g, q = picoml.load(model_path("ad", "float")), picoml.load(model_path("ad", "int8"))
    rng = np.random.default_rng(1)
    n = 40
    x = rng.normal(0, 1, (n, *g.inputs[0].shape[1:])).astype(np.float32)
    x[n // 2 :] *= 4.0  # "anomalous" half: far larger inputs reconstruct worse
    labels = np.r_[np.zeros(n // 2, np.int64), np.ones(n // 2, np.int64)]
    r = evaluate(g, q, x, labels)
    assert r.kind == "anomaly" and r.metric == "roc_auc"
    assert r.float_value > 0.9 and r.int8_value > 0.9
    assert r.agreement > 0.8
    r2 = evaluate(g, q, x, x.copy(), kind="regression")
    assert r2.metric == "mse" and r2.float_value > 0 and 0 <= r2.agreement <= 1


@pytest.mark.models
def test_evaluate_rejects_bad_data():
    g = picoml.load(model_path("ad", "float"))
    with pytest.raises(InputError, match="per-sample shape"):
        evaluate(g, g, np.zeros((2, 3), np.float32), np.zeros(2))
    with pytest.raises(InputError, match="labels"):
        evaluate(g, g, np.zeros((2, *g.inputs[0].shape[1:]), np.float32), np.zeros(3))
