"""`picoml compress CONFIG`: config validation (one line per mistake, naming file, step and key)
and a quick distill → prune → train → quantize → compile pipeline on digits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from picoml.errors import InputError
from picoml.flows.compress import load_config, run_pipeline_config, sparse_ideal_bytes

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
task = "digits"
seed = 0
[model]
width = 8
epochs = 3
[[steps]]
kind = "distill"
student = { width = 4 }
epochs = 3
lr_schedule = "cosine"
noise = 0.1
shift = 1
[[steps]]
kind = "prune"
sparsity = 0.6
epochs = 2
[[steps]]
kind = "quantize"
[[steps]]
kind = "compile"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipe.toml"
    p.write_text(text)
    return p


def test_good_config_and_example_validate(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert [s["kind"] for s in cfg["steps"]] == ["distill", "prune", "quantize", "compile"]
    assert cfg["model"]["build"] == {"width": 8} and cfg["model"]["epochs"] == 3
    assert cfg["steps"][0]["student"] == {"width": 4}
    assert (cfg["steps"][0]["lr_schedule"], cfg["steps"][0]["noise"], cfg["steps"][0]["shift"]) == ("cosine", 0.1, 1)
    assert cfg["steps"][1]["scope"] == "global"  # defaults filled in
    assert cfg["out"] == "build/compress/digits"
    ex = load_config(ROOT / "examples" / "compress_digits.toml")
    assert ex["task"] == "digits" and ex["steps"][-1]["targets"] == ["cortex-m4", "cortex-m0plus"]


# (edit of GOOD, words the one-line message must contain)
MISTAKES = {
    "unknown step": (
        lambda t: t.replace('kind = "quantize"', 'kind = "quantise"'),
        ["step 3", "unknown kind 'quantise'", "did you mean 'quantize'"],
    ),
    "unknown key in a step": (
        lambda t: t.replace("sparsity = 0.6", "sparsty = 0.6"),
        ["step 2 (prune)", "unknown key 'sparsty'", "'sparsity'"],
    ),
    "unknown key at top level": (lambda t: "sed = 1\n" + t, ["top level", "unknown key 'sed'"]),
    "unknown model keyword": (lambda t: t.replace("width = 8", "widht = 8"), ["[model]", "unknown key 'widht'"]),
    "unknown student keyword": (
        lambda t: t.replace("{ width = 4 }", "{ dpth = 4 }"),
        ["step 1 (distill) student", "unknown key 'dpth'"],
    ),
    "wrong type": (
        lambda t: t.replace("sparsity = 0.6", 'sparsity = "high"'),
        ["step 2 (prune)", "key 'sparsity' must be a number", "'high'"],
    ),
    "wrong type (bool for int)": (
        lambda t: t.replace("epochs = 2", "epochs = true"),
        ["step 2 (prune)", "key 'epochs' must be an integer"],
    ),
    "wrong model type": (lambda t: t.replace("width = 8", 'width = "8"'), ["[model]", "key 'width'"]),
    "missing task": (lambda t: t.replace('task = "digits"', ""), ["top level", "missing key 'task'", "digits"]),
    "unknown task": (lambda t: t.replace('"digits"', '"mnist"'), ["key 'task'", "'mnist'"]),
    "missing kind": (lambda t: t.replace('kind = "prune"\n', ""), ["step 2", "missing key 'kind'"]),
    "missing student": (lambda t: t.replace("student = { width = 4 }\n", ""), ["step 1 (distill)", "'student'"]),
    "out of range": (lambda t: t.replace("sparsity = 0.6", "sparsity = 1.5"), ["step 2 (prune)", "'sparsity'"]),
    "float step after int8": (
        lambda t: t + '[[steps]]\nkind = "distill"\nstudent = { width = 2 }\nepochs = 1\n',
        ["step 5 (distill)", "cannot follow quantize"],
    ),
    "unknown LR schedule": (
        lambda t: t.replace('lr_schedule = "cosine"', 'lr_schedule = "cosin"'),
        ["step 1 (distill)", "key 'lr_schedule' must be one of constant, cosine", "'cosin'"],
    ),
    "negative noise": (lambda t: t.replace("noise = 0.1", "noise = -0.1"), ["step 1 (distill)", "'noise'", "0 to 100"]),
    "fractional shift": (
        lambda t: t.replace("shift = 1", "shift = 1.5"),
        ["step 1 (distill)", "key 'shift' must be an integer"],
    ),
    "compile before quantize": (
        lambda t: t.replace('kind = "quantize"', 'kind = "compile"'),
        ["step 3 (compile)", "needs an int8 model"],
    ),
    "channel pruning after masks": (
        lambda t: t.replace(
            '[[steps]]\nkind = "quantize"',
            '[[steps]]\nkind = "prune_channels"\nratio = 0.5\n[[steps]]\nkind = "quantize"',
        ),
        ["step 3 (prune_channels)", "cannot follow"],
    ),
    "unknown target": (
        lambda t: t + '[[steps]]\nkind = "verify"\ntargets = ["cortex-m99"]\n',
        ["step 5 (verify)", "key 'targets'", "cortex-m99"],
    ),
    "bad TOML": (lambda t: t.replace("epochs = 3\n[[steps]]", "epochs = = 3\n[[steps]]", 1), ["not valid TOML"]),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_each_mistake_is_one_line_naming_file_step_and_key(tmp_path, case):
    edit, words = MISTAKES[case]
    text = edit(GOOD)
    assert text != GOOD
    p = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(p) + ":")
    for w in words:
        assert w in msg, (w, msg)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope.toml: no such file"):
        load_config(tmp_path / "nope.toml")


def test_quick_pipeline_on_digits(tmp_path):
    """width-8 teacher → width-4 student → 60% sparsity (masks kept through one more training
    epoch) → int8 → C: parameters shrink, sparsity is reached and survives, int8 < float bytes,
    every step's model saved and re-scorable."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import picoml
    from picoml.compress import prune as P
    from picoml.frontends.lowering import to_graph_layout
    from picoml.tasks import digits, int8_outputs, score

    text = GOOD.replace("epochs = 2\n", "epochs = 2\nskip_first_last = false\n")
    text = text.replace(
        '[[steps]]\nkind = "quantize"', '[[steps]]\nkind = "train"\nepochs = 1\n[[steps]]\nkind = "quantize"'
    )
    out = tmp_path / "out"
    lines: list[str] = []
    rows = run_pipeline_config(write(tmp_path, text), out_dir=out, progress=lines.append)

    assert [r["kind"] for r in rows] == ["model", "distill", "prune", "train", "quantize", "compile"]
    # a start line before every step that trains or runs (long runs show progress), then its row
    starts = [line for line in lines[1:] if line.endswith("...")]
    done = [line for line in lines[1:] if not line.endswith("...")]
    assert len(starts) == len(rows) and len(lines) == 1 + 2 * len(rows)
    assert all(line.startswith(f"[{r['step']}]") for r, line in zip(rows, done, strict=True))
    model, student, pruned, trained, q, comp = rows
    assert "cosine LR, transfer set augmented (shift 1, noise 0.1)" in student["note"]
    # distillation: a width-4 student has about a quarter of the width-8 model's parameters
    assert student["params_total"] < 0.4 * model["params_total"]
    assert student["macs"] < 0.4 * model["macs"]
    # pruning: 60% of all conv/dense weights exactly zero (global magnitude, first/last included)
    assert pruned["params_total"] == student["params_total"]
    assert pruned["sparsity"] >= 0.6 - 1e-3
    assert pruned["params_nonzero"] < 0.5 * pruned["params_total"]
    # masks held through the extra training epoch and through quantization
    assert trained["weights_nonzero"] <= pruned["weights_nonzero"]
    assert q["weights_nonzero"] <= trained["weights_nonzero"]
    # int8 bytes from the generated C, smaller than float32; the sparse estimate smaller still
    assert q["dtype"] == "int8" and model["dtype"] == "float32"
    assert q["weight_bytes"] < trained["weight_bytes"] / 2
    assert q["weight_bytes_kind"].startswith("int8 C")
    assert q["weight_bytes"] <= q["weight_bytes_dense_c"]
    assert q["sparse_ideal_bytes"] < q["weight_bytes_dense_c"]
    if "layer_encodings" in q:  # codegen's sparse storage: the generated bytes follow its per-layer choice
        saved_by_encoding = sum(e["dense_bytes"] - e["bytes"] for e in q["layer_encodings"])
        assert saved_by_encoding >= 0 and (saved_by_encoding > 0) == (q["weight_bytes"] < q["weight_bytes_dense_c"])
    assert model["instructions_cortex_m4"] is None and isinstance(q["instructions_cortex_m4"], int)
    assert q["instructions_cortex_m4"] > q["macs"] / 2
    assert q["arena_bytes"] < trained["arena_bytes"]  # int8 activations
    for r in rows:
        assert 0.0 <= r["value"] <= 1.0 and r["macs"] > 0 and r["arena_bytes"] > 0

    # files: every step's model, the C library, steps.json with the same rows
    for r in rows:
        assert Path(r["files"]["tflite"]).is_file()
    assert (out / "05_compile" / "model.c").is_file() and (out / "05_compile" / "model.h").is_file()
    saved = json.loads((out / "steps.json").read_text())
    assert [s["value"] for s in saved["steps"]] == [r["value"] for r in rows]

    # the saved files give back the rows' figures
    split = digits.load(0)
    xg = to_graph_layout(split.x_test)
    g8 = picoml.load(q["files"]["tflite"])
    assert score("accuracy", int8_outputs(g8, xg)[1], split.y_test) == q["value"]
    fresh = digits.build_model(width=4)
    P.load_state_dict(fresh, torch.load(pruned["files"]["state_dict"], weights_only=True))
    masks = P.get_masks(fresh)
    assert masks and sum(int((~m).sum()) for m in masks.values()) == pruned["weights"] - pruned["weights_nonzero"]
    gp = picoml.load(pruned["files"]["tflite"])
    assert score("accuracy", picoml.run(gp, xg), split.y_test) == pruned["value"]
    ideal = sparse_ideal_bytes(g8, q["weight_bytes_dense_c"])
    w = sum(np.asarray(op.inputs[1].data).size for op in g8.ops if op.type in ("CONV_2D", "FULLY_CONNECTED"))
    assert (
        ideal
        == q["sparse_ideal_bytes"]
        == q["weight_bytes_dense_c"]
        - w
        + sum(
            (np.asarray(op.inputs[1].data).size + 7) // 8 + np.count_nonzero(op.inputs[1].data)
            for op in g8.ops
            if op.type in ("CONV_2D", "FULLY_CONNECTED")
        )
    )
