"""`picoml fit --data DATA.npz --model MODULE:FACTORY`: the user's own data and model family.

Two tasks picoml does not bundle — scikit-learn's wine (tabular) and aeon's ItalyPowerDemand
(a time series) — with the factories of examples/fit_own_data, searched by Optuna's TPE sampler
to a bit-exact int8 model that fits atmega328p's budget (32 KB flash, 2 KB RAM); in local worker
processes and on a local Ray cluster of 2 workers started here, which must choose the same
model for the same seed. Short budgets (few trials, few epochs): this checks the machinery, not
the accuracy a long search reaches. Also: a data file or factory that is wrong gets one line
naming it (exit 2), never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
optuna = pytest.importorskip("optuna")

from picoml.errors import InputError  # noqa: E402
from picoml.flows.fit import LocalRunner, RayRunner, fit  # noqa: E402
from picoml.targets import simavr  # noqa: E402
from picoml.tasks.user import UserTaskSpec, load_data, load_factory  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "fit_own_data"
sys.path.insert(0, str(EXAMPLE))
import make_data  # noqa: E402

MODELS = str(EXAMPLE / "models.py")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    pytest.importorskip("sklearn")
    pytest.importorskip("aeon")
    out = tmp_path_factory.mktemp("data")
    return {"wine": make_data.wine(out), "italy": make_data.italy_power(out)}


def _chosen(r):
    d = r.as_dict()["chosen"]
    assert d is not None, r.message
    return d


def _avr_or_skip():
    """atmega328p is sized on the AVR itself (avr-gcc, simavr): skip with one line where those are
    missing, fail where CI requires them (PICOML_REQUIRE_TOOLCHAINS)."""
    problem = simavr.missing()
    if problem and os.environ.get("PICOML_REQUIRE_TOOLCHAINS"):
        pytest.fail(f"PICOML_REQUIRE_TOOLCHAINS is set: {problem}")
    if problem:
        pytest.skip(problem)


def _run(spec, runner, trials, epochs):
    _avr_or_skip()
    return fit(spec, "atmega328p", seed=0, runner=runner, trials=trials, epochs=epochs, progress=None, top_k=2)


@pytest.fixture(scope="module")
def local_results(data):
    wine = UserTaskSpec.of(data["wine"], f"{MODELS}:mlp")
    italy = UserTaskSpec.of(data["italy"], f"{MODELS}:cnn1d")
    runner = LocalRunner(2)
    return {"wine": _run(wine, runner, 5, 6), "italy": _run(italy, runner, 3, 4)}


@pytest.mark.parametrize("name", ["wine", "italy"])
def test_user_task_fits_atmega328p_bit_exact(local_results, name):
    r = local_results[name]
    c = _chosen(r)
    assert c["fits"] and c["bit_exact"]
    assert c["ram_bytes"] <= 2048 and c["flash_bytes"] <= 32 * 1024
    # the chosen settings are a point of the factory's search space and picoml's knobs
    space = {"wine": {"hidden": [4, 8, 16, 32], "layers": [1, 2]}, "italy": {"channels": [4, 8, 16], "kernel": [3, 5]}}
    for k, vals in space[name].items():
        assert c["params"][k] in vals
    assert set(c["params"]) == set(space[name]) | {"distill", "prune", "sparsity"}
    # better than chance on the held-out test set (wine: 3 classes, italy: 2)
    assert c["accuracy"] > {"wine": 0.5, "italy": 0.6}[name]
    d = r.as_dict()
    assert d["search"].startswith("optuna-tpe") and len(d["trials"]) >= 3
    assert d["trials"][0]["status"] in ("trained", "teacher")  # the teacher is trial 0
    # every trial that was not trained says why
    for t in d["trials"]:
        assert t["status"] in ("trained", "teacher", "too big", "skipped", "pruned", "failed")
        if t["status"] not in ("trained", "teacher"):
            assert t["why"], t


@pytest.mark.timeout(900)
def test_ray_local_cluster_chooses_the_same_model(data, local_results):
    pytest.importorskip("ray")
    wine = UserTaskSpec.of(data["wine"], f"{MODELS}:mlp")
    italy = UserTaskSpec.of(data["italy"], f"{MODELS}:cnn1d")
    runner = RayRunner("local", workers=2)
    try:
        ray_results = {"wine": _run(wine, runner, 5, 6), "italy": _run(italy, runner, 3, 4)}
    finally:
        runner.close()
    for name, r in ray_results.items():
        a, b = _chosen(local_results[name]), _chosen(r)
        assert a == b, name
        # every trial: the same settings, sizes and scores
        ta = [(t["label"], t["status"], t["ram_bytes"], t["val"]) for t in local_results[name].as_dict()["trials"]]
        tb = [(t["label"], t["status"], t["ram_bytes"], t["val"]) for t in r.as_dict()["trials"]]
        assert ta == tb, name


def test_cli_fit_user_data_json(data, tmp_path):
    _avr_or_skip()
    cmd = [sys.executable, "-m", "picoml.cli", "fit", "--data", str(data["wine"]), "--model", f"{MODELS}:mlp"]
    cmd += ["--target", "atmega328p", "--trials", "2", "--epochs", "3", "--jobs", "1", "--json", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert p.returncode in (0, 1), p.stderr
    d = json.loads(p.stdout)
    assert set(d["chosen"]) >= {"accuracy", "fits", "bit_exact", "ram_bytes", "flash_bytes", "params"}
    assert d["chosen"]["bit_exact"] is True and len(d["trials"]) == 2
    # --quiet: none of fit's progress lines ("fit ...", indented stage lines) reach stderr
    assert not any(line.startswith(("fit ", "  ")) for line in p.stderr.splitlines()), p.stderr
    assert "trial" not in p.stderr


# --------------------------------------------------------------------------------- bad input


def _npz(tmp_path, **arrays):
    p = tmp_path / "d.npz"
    np.savez(p, **arrays)
    return p


def _ok(n=20, f=3):
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.standard_normal((n, f)).astype(np.float32),
        "y_train": rng.integers(0, 2, n),
        "x_test": rng.standard_normal((5, f)).astype(np.float32),
        "y_test": rng.integers(0, 2, 5),
    }


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda a: a.pop("y_test"), "missing array(s) y_test"),
        (lambda a: a.update(y_train=a["y_train"][:-1]), "x_train has 20 samples, y_train 19"),
        (lambda a: a.update(x_test=np.zeros((5, 4), np.float32)), "x_test samples are (4,)"),
        (lambda a: a.update(x_train=np.full((20, 3), np.nan, np.float32)), "NaN"),
        (lambda a: a.update(y_train=-a["y_train"] - 1), "class indices"),
        (lambda a: a.update(x_val=a["x_test"]), "give both x_val and y_val"),
        (lambda a: a.update(x_train=np.array(["a"] * 20)), "numeric array"),
    ],
)
def test_bad_data_file_is_one_line(tmp_path, change, words):
    a = _ok()
    change(a)
    p = _npz(tmp_path, **a)
    with pytest.raises(InputError) as e:
        load_data(p)
    assert words in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)


def test_object_arrays_are_refused_without_unpickling(tmp_path):
    a = _ok()
    a["y_test"] = np.array([{"x": 1}] * 5, dtype=object)
    p = _npz(tmp_path, **a)
    with pytest.raises(InputError, match="without pickle"):
        load_data(p)


def test_declared_sizes_checked_before_reading(tmp_path, monkeypatch):
    import picoml.tasks.user as user

    p = _npz(tmp_path, **_ok())
    monkeypatch.setattr(user, "MAX_ELEMENTS", 10)
    with pytest.raises(InputError, match="declare"):
        load_data(p)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable .npz"):
        load_data(tmp_path / "junk.npz")


def test_validation_split_made_when_absent(tmp_path):
    split, metric = load_data(_npz(tmp_path, **_ok()), seed=0)
    assert metric == "accuracy" and len(split.x_val) + len(split.x_train) == 20 and len(split.x_val) >= 2
    reg = _ok()
    reg["y_train"], reg["y_test"] = reg["y_train"].astype(np.float32), reg["y_test"].astype(np.float32)
    split, metric = load_data(_npz(tmp_path, **reg))
    assert metric == "mse" and split.y_train.shape == (16, 1)


def test_bad_factories_are_one_line(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "import torch.nn as nn\n"
        "def good(h=4):\n    return nn.Linear(3, h)\n"
        "good.search_space = {'h': [2, 4]}\n"
        "def bad_key(h=4):\n    return nn.Linear(3, h)\n"
        "bad_key.search_space = {'width': [2]}\n"
        "def bad_vals(h=4):\n    return nn.Linear(3, h)\n"
        "bad_vals.search_space = {'h': []}\n"
        "def not_module():\n    return 3\n"
    )
    assert load_factory(f"{f}:good")(h=2).out_features == 2
    for ref, words in [
        ("nocolon", "expected MODULE:FACTORY"),
        (f"{f}:missing", "has no callable 'missing'"),
        (f"{tmp_path}/nofile.py:good", "no such file"),
        ("picoml_no_such_module_x:f", "importing picoml_no_such_module_x failed"),
    ]:
        with pytest.raises(InputError) as e:
            load_factory(ref)
        assert words in str(e.value) and "\n" not in str(e.value)
    data = _npz(tmp_path, **_ok())
    from picoml.tasks.user import UserTask

    for name, words in [("bad_key", "not a keyword argument"), ("bad_vals", "must be a list")]:
        with pytest.raises(InputError, match=words):
            UserTask(UserTaskSpec.of(data, f"{f}:{name}"))
    t = UserTask(UserTaskSpec.of(data, f"{f}:not_module"))
    with pytest.raises(InputError, match="not a module"):
        t.build_model()


def test_cli_user_errors_exit_2(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "picoml.cli", "fit", *args], capture_output=True, text=True)

    p = run("--data", str(tmp_path / "none.npz"), "--model", f"{MODELS}:mlp", "--target", "atmega328p")
    assert p.returncode == 2 and "no such data file" in p.stderr and "Traceback" not in p.stderr
    p = run("--data", "x.npz", "--target", "atmega328p")
    assert p.returncode == 2 and "give both --data" in p.stderr
    p = run("digits", "--data", "x.npz", "--model", "m:f", "--target", "atmega328p")
    assert p.returncode == 2 and "not both" in p.stderr


def test_compress_config_takes_user_data_and_factory(data, tmp_path):
    from picoml.flows.compress import run_pipeline_config

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'data = "{data["wine"]}"\nmodel_factory = "{MODELS}:mlp"\nout = "{tmp_path / "out"}"\n'
        "[model]\nhidden = 8\nepochs = 3\n"
        '[[steps]]\nkind = "quantize"\n[[steps]]\nkind = "verify"\ntargets = ["cortex-m0plus"]\n'
    )
    rows = run_pipeline_config(cfg, progress=lambda _m: None)
    assert rows[-1]["note"] == "bit-exact on cortex-m0plus"
    assert (tmp_path / "out" / "steps.json").is_file()
    bad = tmp_path / "bad.toml"
    bad.write_text(f'data = "{data["wine"]}"\n')
    with pytest.raises(InputError, match="both 'data' and 'model_factory'"):
        run_pipeline_config(bad)
    bad.write_text(f'data = "{data["wine"]}"\nmodel_factory = "{MODELS}:mlp"\n[model]\nwidth = 3\n')
    with pytest.raises(InputError, match="unknown key 'width'"):
        run_pipeline_config(bad)
