"""picoml report on any int8 model: the three shipped MLPerf Tiny models and a user's PyTorch
net with BatchNorm after ReLU. report.json carries measured figures (bit-exact runs, the
flash split of the compiled library, the arena with tensor names, advice ranked by gain) and
the page renders in headless Chromium with its plots and tables visible on a phone-sized
window."""

from __future__ import annotations

import json

import numpy as np
import pytest

import picoml
from picoml.cli import main
from picoml.flows.verify import verify

from browser import chromium, render
from oracles import MODEL_NAMES, model_path


def _seen(page):
    if chromium() is None:
        pytest.skip("chromium not installed (apt-get install chromium): the page was written, not rendered")
    view = render(page)
    assert view["imgs"] and all(i["ok"] and i["w"] > 200 and i["h"] > 150 for i in view["imgs"]), view["imgs"]
    assert view["tables"] and all(t["rows"] >= 2 and t["h"] > 0 for t in view["tables"]), view["tables"]
    assert view["page_width"] <= view["viewport"] + 1, view  # nothing runs off a narrow screen
    return view


@pytest.mark.models
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_report_on_the_shipped_models(name, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(model_path(name, "int8")), "--out", str(out), "--target", "cortex-m4"]) == 0
    data = json.loads((out / "report.json").read_text())
    r = data["targets"]["cortex-m4"]
    assert r["bit_exact"] and r["instructions"] > 0
    f = data["flash"]["cortex-m4"]
    assert f["weights"] + f["requantization"] + f["biases_and_tables"] == r["flash_weights_bytes"]
    assert f["code"] == r["flash_code_bytes"]
    g = picoml.load(model_path(name, "int8"))
    named = {n for b in data["memory"]["buffers"] for n in b["tensors"]}
    assert named <= {t.name for t in g.tensors}
    assert {b["board"] for b in data["boards"]} and all("ram_headroom_bytes" in b for b in data["boards"])
    _seen(out / "index.html")


def test_report_on_a_user_model_names_the_fold(tmp_path):
    """BatchNorm after ReLU cannot fold into the convolution before it: picoml runs it as MUL and
    ADD, and the report ranks that first, with its measured share; accuracy on the user's data."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.BatchNorm2d(8),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 4),
    )
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 2)
    net.eval()
    x = np.random.default_rng(0).standard_normal((40, 1, 8, 8)).astype(np.float32)
    g = picoml.from_torch(net, x[:1])
    q = picoml.quantize(g, x.transpose(0, 2, 3, 1))
    picoml.save(q, tmp_path / "user<b>&int8.tflite")
    picoml.save(g, tmp_path / "user_float.tflite")
    y = np.random.default_rng(1).integers(0, 4, 40)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    out = tmp_path / "rep"
    args = ["report", str(tmp_path / "user<b>&int8.tflite"), "--out", str(out), "--data", str(tmp_path / "data.npz")]
    assert main(args + ["--nchw", "--float", str(tmp_path / "user_float.tflite")]) == 0
    data = json.loads((out / "report.json").read_text())
    fold = [a for a in data["advice"] if a["kind"] == "fold"]
    assert len(fold) == 1 and 0.01 < fold[0]["gain"] < 0.2  # per-channel tables: a few % of the time
    gains = [a["gain"] for a in data["advice"]]
    assert gains == sorted(gains, reverse=True)
    # within 1.3x the instructions of the same net with BatchNorm before ReLU (folded away; the same
    # convolution MACs, so this is the instructions/MAC ratio without counting the BN ops as MACs)
    folded = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 4),
    ).eval()
    gf = picoml.from_torch(folded, x[:1])
    assert not any(op.type in ("MUL", "ADD") for op in gf.ops)
    qf = picoml.quantize(gf, x.transpose(0, 2, 3, 1))
    for target in ("cortex-m0plus", "cortex-m4"):
        mine = data["targets"][target]["instructions"]
        ref = verify(qf, target, n_inputs=2).instructions
        assert mine <= 1.3 * ref, (target, mine, ref)
    q_ = data["quality"]
    assert q_["task"] == "classification" and q_["samples"] == 40 and set(q_["accuracy"]) == {"c", "float"}
    page = (out / "index.html").read_text()
    assert "user&lt;b&gt;&amp;int8" in page and "user<b>" not in page  # the file name, escaped
    assert "What to change" in page
    _seen(out / "index.html")
