"""The example tasks: loaders, models, training, and digits end to end through int8.

Bars for the quick training runs are stated per task and sit far above chance and far below
what the full run reaches, so they catch a broken loader/model/loop without being flaky.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from picoml.tasks import TASKS, get_task
from picoml.tasks.train import Split, score, stratified_split

torch = pytest.importorskip("torch")

# (input shape per sample in PyTorch layout, label dtype, (train, val, test) sizes, output shape)
SHAPES = {
    "digits": ((1, 8, 8), np.int64, (1078, 359, 360), (10,)),
    "activity": ((6, 100), np.int64, (32, 8, 40), (4,)),
    "vowels": ((12, 29), np.int64, (216, 54, 370), (9,)),
    "sine": ((1,), np.float32, (600, 200, 200), (1,)),
}

# Quick-run bars on the test split. Chance: digits 10 %, activity 25 %, vowels 1/9 ≈ 11 %
# (the largest test class is 88/370 = 24 %); sine: always predicting the mean gives
# MSE ≈ var(sin) + noise² ≈ 0.51.
QUICK_BARS = {"digits": 0.85, "activity": 0.70, "vowels": 0.80, "sine": 0.05}


@pytest.fixture(scope="module")
def splits() -> dict[str, Split]:
    return {name: mod.load(0) for name, mod in TASKS.items()}


_QUICK: dict[str, tuple] = {}


def quick_model(name: str):
    """The quick (few-epoch) model of a task, trained once per test process."""
    if name not in _QUICK:
        _QUICK[name] = TASKS[name].train(seed=0, quick=True)
    return _QUICK[name]


def test_registry_and_default():
    from picoml.errors import InputError
    from picoml.tasks import DEFAULT_TASK

    assert DEFAULT_TASK == "digits"
    assert set(TASKS) == set(SHAPES)
    for name, mod in TASKS.items():
        assert mod.METRIC == ("mse" if name == "sine" else "accuracy")
        for fn in ("load", "build_model", "train"):
            assert callable(getattr(mod, fn)), f"{name}.{fn}"
    with pytest.raises(InputError, match="unknown task"):
        get_task("mnist")


def test_import_needs_no_torch():
    """The core install has numpy only: importing the tasks package must not pull torch in."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import picoml.tasks, picoml.tasks.train\n"
        "assert sys.modules['torch'] is None\n"
        "print(sorted(picoml.tasks.TASKS))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "digits" in r.stdout


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_loader_shapes_and_dtypes(splits, name):
    sample, ydtype, sizes, _ = SHAPES[name]
    s = splits[name]
    assert s.sizes() == sizes
    for x, y in ((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)):
        assert x.dtype == np.float32 and x.shape[1:] == sample
        assert y.dtype == ydtype and len(y) == len(x)
        assert np.isfinite(x).all()
    if ydtype == np.int64:
        k = len(s.classes)
        for y in (s.y_train, s.y_val, s.y_test):
            assert y.min() >= 0 and y.max() < k
        assert set(np.unique(s.y_train)) == set(range(k)) == set(np.unique(s.y_val))


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_splits_do_not_overlap(splits, name):
    """No sample appears in two splits (compared by content: every sample of these sets is unique)."""
    s = splits[name]
    rows = [{r.tobytes() for r in x.reshape(len(x), -1)} for x in (s.x_train, s.x_val, s.x_test)]
    assert sum(len(r) for r in rows) == sum(s.sizes()), "duplicate samples inside a split"
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_loader_is_seeded(splits, name):
    a, b = splits[name], TASKS[name].load(0)
    for f in ("x_train", "y_train", "x_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    if name != "activity" and name != "vowels":  # the archives fix the test split; seeds move train/val only
        assert not np.array_equal(TASKS[name].load(1).x_test, a.x_test)
    else:
        assert not np.array_equal(TASKS[name].load(1).x_train, a.x_train)


def test_normalization_from_training_split_only(splits):
    """Standardized with training statistics: the training split has mean 0 / std 1, the others only roughly."""
    d = splits["digits"].x_train
    assert abs(float(d.mean())) < 1e-5 and abs(float(d.std()) - 1) < 1e-5
    a = splits["activity"].x_train
    np.testing.assert_allclose(a.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(a.std(axis=(0, 2)), 1, atol=1e-5)
    # vowels: statistics over real frames only; the padded tail is exactly zero
    from aeon.datasets import load_classification

    raw, _ = load_classification("JapaneseVowels", split="test")
    v = splits["vowels"].x_test
    for i in (0, 100, 369):
        n = raw[i].shape[1]
        assert np.all(v[i, :, n:] == 0) and np.any(v[i, :, :n] != 0)


def test_aeon_sets_are_read_offline(monkeypatch):
    """aeon downloads a set it does not find locally; ours must come from its bundled files."""
    import aeon.datasets._data_loaders as dl

    def no_download(*args, **kwargs):
        raise AssertionError(f"aeon tried to download: {args}")

    monkeypatch.setattr(dl, "_download_and_extract", no_download)
    assert TASKS["activity"].load(0).sizes() == SHAPES["activity"][2]
    assert TASKS["vowels"].load(0).sizes() == SHAPES["vowels"][2]


def test_vowels_pad_or_truncate():
    from picoml.tasks.vowels import pad_or_truncate

    cases = [np.ones((12, 5)), np.arange(12 * 40, dtype=np.float64).reshape(12, 40)]
    out = pad_or_truncate(cases, 29)
    assert out.shape == (2, 12, 29) and out.dtype == np.float32
    assert np.all(out[0, :, :5] == 1) and np.all(out[0, :, 5:] == 0)
    np.testing.assert_array_equal(out[1], cases[1][:, :29])


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_models_are_mcu_sized(name):
    sample, _, _, out = SHAPES[name]
    torch.manual_seed(0)
    model = TASKS[name].build_model().eval()
    n = sum(p.numel() for p in model.parameters())
    assert 100 < n <= 50_000, f"{name}: {n} parameters"
    with torch.no_grad():
        y = model(torch.zeros((3,) + sample))
    assert tuple(y.shape) == (3,) + out


def test_digits_depth_adds_convs_and_keeps_the_default_model():
    """``depth`` adds 3×3 convs after the pooling; depth 3 is the default model, parameter for parameter."""
    from picoml.errors import PicomlError

    digits = TASKS["digits"]
    torch.manual_seed(0)
    default = digits.build_model()
    torch.manual_seed(0)
    explicit = digits.build_model(depth=3)
    sa, sb = default.state_dict(), explicit.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    deep = digits.build_model(width=8, depth=7, batchnorm=False)
    convs = [m for m in deep.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 7 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in deep.modules())
    assert sum(p.numel() for p in deep.parameters()) == 13_018
    assert tuple(deep(torch.zeros(2, 1, 8, 8)).shape) == (2, 10)
    with pytest.raises(PicomlError, match="depth"):
        digits.build_model(depth=2)


def test_qat_settings_are_qat_finetune_arguments():
    """Every QAT_SETTINGS key other than the candidate epochs and the learning rate is passed to
    qat_finetune by run_pipeline, so it must be one of its parameters (and the recipe is shared;
    argmax_output for the classifiers only: qat_finetune rejects it with an MSE loss)."""
    import inspect

    from picoml.compress.qat import qat_finetune
    from picoml.tasks import QAT_CLASSIFIER, QAT_RECIPE, QAT_SETTINGS

    params = inspect.signature(qat_finetune).parameters
    assert set(QAT_SETTINGS) == set(TASKS)
    for name, settings in QAT_SETTINGS.items():
        extra = {k: v for k, v in settings.items() if k not in ("epochs", "lr")}
        assert extra == (QAT_CLASSIFIER if TASKS[name].METRIC == "accuracy" else QAT_RECIPE), name
        assert set(extra) <= set(params), f"{name}: {set(extra) - set(params)}"
        assert all(int(e) > 0 for e in settings["epochs"]) and settings["lr"] > 0


def test_stratified_split_and_score():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    a, b, c = stratified_split(y, (0.6, 0.2, 0.2), seed=3)
    assert len(np.intersect1d(a, b)) == len(np.intersect1d(a, c)) == len(np.intersect1d(b, c)) == 0
    assert len(a) + len(b) + len(c) == len(y)
    np.testing.assert_array_equal(np.bincount(y[a]), [6, 12, 18, 24])
    assert all(np.array_equal(p, q) for p, q in zip((a, b, c), stratified_split(y, (0.6, 0.2, 0.2), 3), strict=True))
    logits = np.array([[0.1, 0.9], [2.0, -1.0], [0.0, 1.0]])
    assert score("accuracy", logits, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert score("mse", np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])) == pytest.approx(2.5)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_quick_training_beats_chance(splits, name):
    """A few epochs (≤ ~10 s each) must clear the task's stated bar."""
    from picoml.tasks.train import predict

    mod = TASKS[name]
    model, hist = quick_model(name)
    assert len(hist.val_metric) == mod.QUICK_EPOCHS and 0 <= hist.best_epoch < mod.QUICK_EPOCHS
    # the kept weights are the best validation epoch's
    s = splits[name]
    assert score(mod.METRIC, predict(model, s.x_val), s.y_val) == pytest.approx(hist.best_val_metric, abs=1e-6)
    value = score(mod.METRIC, predict(model, s.x_test), s.y_test)
    bar = QUICK_BARS[name]
    if mod.METRIC == "accuracy":
        assert value >= bar, f"{name}: quick test accuracy {value:.3f} < {bar}"
    else:
        assert value <= bar, f"{name}: quick test MSE {value:.4f} > {bar}"


# ---------------------------------------------------------------------------- digits end to end
# Quick (5-epoch) model: int8 PTQ within 1.0 point of float on the 360 test images (3.6 images).
# The bar is looser than the 0.5 points because a barely trained model has smaller
# decision margins for rounding to cross; the full-length run below checks 0.5.
QUICK_PTQ_POINTS = 1.0
# picoml's float interpreter vs PyTorch: both float32 data, different summation order (picoml
# accumulates in float64), so logits agree to ~1e-6 relative; 1e-4 of the largest logit leaves room.
FLOAT_GRAPH_RTOL = 1e-4


def test_digits_end_to_end_quick(splits, tmp_path):
    """PyTorch → float Graph → PTQ int8 → .tflite, and tflite-micro's int8 outputs equal picoml's on every test sample."""
    import picoml
    from picoml.frontends.lowering import to_graph_layout
    from picoml.frontends.tflite_writer import write_tflite_bytes
    from picoml.tasks import calibration_subset, int8_outputs
    from picoml.tasks.train import predict

    from oracles import assert_int_equal, tflm_run

    s = splits["digits"]
    model, _ = quick_model("digits")
    g = picoml.from_torch(model, torch.from_numpy(s.x_train[:1]))
    x_test = to_graph_layout(s.x_test)
    ref = predict(model, s.x_test)
    got = picoml.run(g, x_test).reshape(ref.shape)
    np.testing.assert_allclose(got, ref, rtol=0, atol=FLOAT_GRAPH_RTOL * float(np.abs(ref).max()))
    acc_float = score("accuracy", got, s.y_test)
    assert acc_float >= QUICK_BARS["digits"]

    q = picoml.quantize(g, to_graph_layout(calibration_subset(s.x_train, 256, 0)))
    assert q.inputs[0].dtype == "int8" and q.outputs[0].dtype == "int8"
    yq, y_deq = int8_outputs(q, x_test)
    acc_ptq = score("accuracy", y_deq, s.y_test)
    assert abs(acc_ptq - acc_float) * 100 <= QUICK_PTQ_POINTS, f"float {acc_float:.4f}, PTQ {acc_ptq:.4f}"

    from picoml.quantize.ptq import quantize_input

    xq = quantize_input(q, x_test).reshape((len(x_test),) + q.inputs[0].shape)
    model_bytes = write_tflite_bytes(q)
    assert_int_equal(tflm_run(model_bytes, xq), yq, "digits int8: tflite-micro vs picoml")
    picoml.save(q, tmp_path / "digits_int8.tflite")  # the writer's file path too
    assert picoml.load(tmp_path / "digits_int8.tflite").equals(q)


@pytest.mark.slow
def test_digits_full_pipeline_targets():
    """The issue's targets at full length: float ≥ 97 %, PTQ and QAT within 0.5 points of float."""
    from picoml.tasks import run_pipeline

    r = run_pipeline("digits", seed=0)
    assert r.float_graph >= 0.97
    assert abs(r.ptq - r.float_graph) * 100 <= 0.5
    assert r.qat is not None and r.float_graph - r.qat <= 0.005


@pytest.mark.slow
def test_qat_recovers_constructed_case():
    """The benchmark's constructed vowels case: PTQ loses ≥ 1 point and QAT wins part of it back.

    (QAT does not get within the issue's 0.5 point here; see benchmarks/results/quantization.md.)
    """
    from picoml.tasks import run_pipeline

    r = run_pipeline("vowels", seed=0, epochs=100, model_kwargs={"width": 16, "depth": 8, "batchnorm": False})
    assert r.float_graph - r.ptq >= 0.01, f"float {r.float_graph:.4f}, PTQ {r.ptq:.4f}"
    assert r.qat is not None and r.qat - r.ptq >= 0.01, f"PTQ {r.ptq:.4f}, QAT {r.qat:.4f}"


@pytest.mark.slow
def test_qat_meets_the_target_on_the_constructed_digits_case():
    """The benchmark's constructed digits case (7 convs, no BatchNorm): PTQ loses ≥ 1 point on test and
    QAT ends within 0.5 point of float (measured: 95.83 % / 94.72 % / 95.56 %, about 1 min)."""
    from picoml.tasks import run_pipeline

    r = run_pipeline("digits", seed=0, epochs=100, model_kwargs={"width": 8, "depth": 7, "batchnorm": False})
    assert r.float_graph - r.ptq >= 0.01, f"float {r.float_graph:.4f}, PTQ {r.ptq:.4f}"
    assert r.qat is not None and r.float_graph - r.qat <= 0.005, f"float {r.float_graph:.4f}, QAT {r.qat:.4f}"
