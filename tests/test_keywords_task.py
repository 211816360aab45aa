"""The keywords task (picoml.tasks.keywords): the DS-CNN and the split it trains on, with another
feature function (a crude log-mel, standardized) than the device front end of the demo
(tests/test_keywords_device.py). Needs espeak-ng like tests/test_keywords_data.py (skip / fail
the same way)."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.errors import PicomlError
from picoml.tasks import keywords as T
from picoml.tasks import keywords_data as K
from test_keywords_data import _espeak_or_skip, _log_mel

torch = pytest.importorskip("torch")


def test_dscnn_shape_and_size():
    m = T.build_model().eval()
    assert m(torch.zeros(2, *T.INPUT_SHAPE)).shape == (2, len(T.CLASSES))
    assert sum(p.numel() for p in m.parameters()) == 23180
    assert sum(p.numel() for p in T.build_model(width=32).parameters()) == 7500


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    _espeak_or_skip()
    d = tmp_path_factory.mktemp("kws_task")
    K.load(K.KeywordsConfig.quick(), cache_dir=d, jobs=2)
    return d


def test_split_and_quick_training(cache):
    split = T.load(0, features=_log_mel, quick=True, cache_dir=cache, standardize=True)
    cfg = K.KeywordsConfig.quick()
    assert split.sizes() == tuple(12 * n for n in cfg.per_class)
    assert split.x_train.shape[1:] == T.INPUT_SHAPE and split.x_train.dtype == np.float32
    assert abs(float(split.x_train.mean())) < 1e-3 and float(split.x_train.std()) == pytest.approx(1.0, abs=1e-3)
    model, hist = T.train(0, epochs=1, features=_log_mel, split=split, width=8, blocks=1)
    assert len(hist.val_metric) == 1 and 0.0 <= hist.best_val_metric <= 1.0


def test_feature_function_shape_is_checked(cache):
    with pytest.raises(PicomlError, match=r"not \(N, 49, 40\)"):
        T.load(0, features=lambda x: np.zeros((len(x), 10, 40)), quick=True, cache_dir=cache)
