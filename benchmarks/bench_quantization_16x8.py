"""int8 vs 16x8 (int16 activations, int8 weights) vs mixed post-training quantization, per task.

    .venv/bin/python benchmarks/bench_quantization_16x8.py [--tasks vowels activity keywords] [--seed 0]

For every task: train the float model (``picoml.tasks.run_pipeline``, fixed seed, no QAT), then
quantize the same float graph three ways with the same 256 seeded calibration inputs —
``activations="int8"``, ``"int16"`` (TFLite's 16x8 scheme) and ``"mixed"`` (int16 only for the
layers whose int8 error hurts the output most; ``quantize/mixed.py``) — and score each in picoml's
interpreter on the task's test split, with the outputs' error against the float graph. Each graph's C is verified bit-exact on emulated cortex-m4
(-O2) over 8 test inputs, which gives RAM (.data + .bss + measured stack), flash and instructions
per inference. Prints a table and writes benchmarks/results/quantization_16x8.md.
(``bench_16x8.py`` compares the schemes on the MLPerf Tiny float models by output error instead.)
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

import numpy as np

import bench_codegen as BC
import picoml
from picoml.flows.verify import verify
from picoml.frontends.torch import to_graph_layout
from picoml.graph.ops import op_macs
from picoml.quantize.ptq import dequantize_output, quantize_input
from picoml.tasks import calibration_subset, get_task, run_pipeline, score

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "quantization_16x8.md"
SCHEMES = ("int8", "int16", "mixed")
C_INPUTS = 8


def _scheme_row(q, dg, value: float, rel_error: float, xs: np.ndarray) -> dict:
    rep = verify(dg, "cortex-m4", xs=xs, counted_runs=1)
    layers16 = sum(
        1 for op in q.ops if any(t is not None and t.dtype == "int16" and t.data is None for t in op.outputs)
    )
    return {
        "value": value,
        "rel_error": rel_error,
        "bit_exact": rep.bit_exact,
        "ram_bytes": rep.ram_bytes,
        "flash_bytes": rep.flash_code_bytes + rep.flash_weights_bytes,
        "instructions": rep.instructions,
        "int16_layers": layers16,
        "layers": len(q.ops),
        "notes": [n for n in getattr(q, "notes", ()) if "mixed" in n or "int16" in n][:2],
    }


def measure_keywords(seed: int) -> dict:
    """The keywords task as ``picoml demo --task keywords`` builds it (eSpeak NG speech, the device
    front end's features, the 16/32/64/64 CNN): each scheme's network spliced after the front end
    (``keywords.device_graph``), scored from raw PCM on the held-out voices, and verified as the
    whole library (front end + network: RAM, flash and instructions include the front end's
    4.0 M instructions, the same in every scheme). Not in ``picoml.tasks.TASKS``: needs espeak-ng."""
    from picoml.tasks import keywords as T
    from picoml.tasks import keywords_data as K

    t0 = time.perf_counter()
    data = K.load(K.KeywordsConfig(seed=seed), ROOT / "build" / "cache" / "keywords")
    fe = T.frontend_graph()
    split = T.load(seed, data=data, features=lambda x: T.frontend_features(x, fe).astype(np.float32) * T.LOG_SCALE)
    model, g, _ = T.train_cnn(split, seed)
    calib = to_graph_layout(calibration_subset(split.x_train, 256, seed))
    x_test = to_graph_layout(split.x_test)
    ref = picoml.run(g, x_test)
    pcm, labels = data.part("test")
    out = {"task": "keywords", "metric": "accuracy", "float": score("accuracy", ref, split.y_test), "schemes": {}}
    out["macs"] = int(sum(op_macs(op) for op in g.ops))
    for scheme in SCHEMES:
        q = picoml.quantize(g, calib, activations=scheme)
        dg = T.device_graph(q, fe, name=f"keywords_{scheme}")
        y = dequantize_output(q, picoml.run(dg, pcm))
        err = float(np.abs(y - ref.reshape(y.shape)).mean() / max(float(np.abs(ref).mean()), 1e-12))
        out["schemes"][scheme] = _scheme_row(q, dg, score("accuracy", y, labels), err, pcm[:C_INPUTS])
    out["seconds"] = time.perf_counter() - t0
    return out


def measure(task: str, seed: int) -> dict:
    if task == "keywords":
        return measure_keywords(seed)
    t0 = time.perf_counter()
    r = run_pipeline(task, seed=seed, qat=False)
    mod = get_task(task)
    data = mod.load(seed)
    g = r.graphs["float"]
    calib = to_graph_layout(calibration_subset(data.x_train, 256, seed))
    x_test = to_graph_layout(data.x_test)
    ref = picoml.run(g, x_test)
    out = {"task": task, "metric": r.metric, "float": r.float_graph, "macs": r.macs, "schemes": {}}
    for scheme in SCHEMES:
        q = r.graphs["ptq"] if scheme == "int8" else picoml.quantize(g, calib, activations=scheme)
        xq = quantize_input(q, x_test)
        y = dequantize_output(q, picoml.run(q, xq))
        value = score(r.metric, y, data.y_test)
        err = float(np.abs(y - ref.reshape(y.shape)).mean() / max(float(np.abs(ref).mean()), 1e-12))
        out["schemes"][scheme] = _scheme_row(q, q, value, err, xq[:C_INPUTS])
    out["seconds"] = time.perf_counter() - t0
    return out


def fmt(metric: str, v: float) -> str:
    return f"{100 * v:.1f} %" if metric == "accuracy" else f"{v:.4g}"


def table(results: list[dict]) -> list[str]:
    L = [
        "| task | metric | float | scheme | int8 / 16x8 layers | metric | output error vs float | RAM B | flash B | instructions "
        "| vs int8 (RAM, instr.) | C bit-exact |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for res in results:
        base = res["schemes"]["int8"]
        for scheme, s in res["schemes"].items():
            ratio = f"{s['ram_bytes'] / base['ram_bytes']:.2f}×, {s['instructions'] / base['instructions']:.2f}×"
            L.append(
                f"| {res['task']} | {res['metric']} | {fmt(res['metric'], res['float'])} | {scheme} | "
                f"{s['layers'] - s['int16_layers']} / {s['int16_layers']} | {fmt(res['metric'], s['value'])} | "
                f"{s['rel_error']:.2%} | {s['ram_bytes']:,} | {s['flash_bytes']:,} | {s['instructions']:,} | {ratio} | "
                f"{'yes' if s['bit_exact'] else 'NO'} |"
            )
    return L


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="*", default=["vowels", "activity", "keywords"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = []
    for task in args.tasks:
        res = measure(task, args.seed)
        results.append(res)
        print(f"[{time.perf_counter() - t0:5.0f} s] {task}: " + ", ".join(
            f"{k} {fmt(res['metric'], v['value'])}" for k, v in res["schemes"].items()), flush=True)  # fmt: skip
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    cmd = (
        ".venv/bin/python benchmarks/bench_quantization_16x8.py --tasks "
        + " ".join(args.tasks)
        + f" --seed {args.seed}"
    )
    m = BC.machine()
    L = [
        "# int8 vs 16x8 vs mixed PTQ",
        "",
        f"{when}; `{cmd}`; {time.perf_counter() - t0:.0f} s; {m.get('cpu', '')}.",
        "",
        "Same float model and calibration inputs for the three schemes; metric on the test split in picoml's "
        "interpreter; RAM (.data + .bss + measured stack), flash and instructions per inference from the "
        f"generated C on emulated cortex-m4 (-O2), verified bit-exact on {C_INPUTS} test inputs. Output error: mean |dequantized output - float "
        "graph's output| over the test split, relative to the float outputs' mean magnitude.",
        "",
        *table(results),
    ]
    for res in results:
        for scheme, s in res["schemes"].items():
            for n in s["notes"]:
                L.append(f"- {res['task']} {scheme}: {n}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(L) + "\n")
    print("\n".join(L))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
