"""`picoml demo --task keywords`: keyword spotting from raw 16 kHz audio, end to end, offline.

speech synthesized with eSpeak NG (``tasks/keywords_data``: 12 classes, test voices never heard
in training) → the device's own audio front end (``picoml.audio.clip_frontend``: 49 × 40 log-mel
features per 1 s clip, run by picoml's interpreter, so training features equal device features
bit for bit) → a small CNN trained in PyTorch → post-training quantization, int8 and 16x8, the
better one kept (16x8 only when it gains more than half a point and 3 test clips: it costs about
twice the RAM and five times the instructions)
→ the front end and the network spliced into one graph whose input is 16-bit PCM → C, verified
bit-exact on emulated Cortex-M0+ and Cortex-M4 with held-out clips → one table and an HTML
report in ``build/demo-keywords/`` with the JSON behind it (``flows/demo.py``'s layout).

Every figure is measured in this run: accuracies by picoml's interpreter on the held-out voices
(the device graph, from raw PCM), sizes from the graphs and the linked ELF files, instructions
by the emulator. One inference covers one second of audio, so instructions per inference are
instructions per second of audio, and a board keeps up in real time when instructions ÷ clock
stay under a second.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from picoml.errors import PicomlError
from picoml.flows.demo import DEMO_TARGETS, Progress, _need, print_steps
from picoml.flows.report import write_report
from picoml.flows.verify import fit_check, verify
from picoml.frontends.lowering import to_graph_layout
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph import Graph
from picoml.graph.ops import op_macs
from picoml.quantize.ptq import quantize
from picoml.reference.interpreter import run
from picoml.targets.catalog import BOARDS
from picoml.tasks import keywords as T
from picoml.tasks import keywords_data as K
from picoml.tasks.train import count_params

QUICK_EPOCHS = 12  # quick: 144 training clips, 12 epochs in a few seconds (full: keywords.EPOCHS)
#: 16x8 is kept only when it beats int8 by more than this (it costs RAM and instructions)
INT16_MARGIN = 0.005
MARGIN_CLIPS = 3  # ... and by more than this many test clips (the quick set has 72: one clip is noise)
AUDIO_MS = 1000.0  # one inference = one 1 s clip
_FRAME_OP = re.compile(r"^f(\d+)_")


def run_keywords_demo(out_dir: str | Path = "build/demo-keywords", **kwargs: Any) -> dict:
    """Run the keyword-spotting demo; returns the report data (also written to out_dir).

    Keyword arguments: ``seed`` (0), ``quick`` (False: the small data set and a few epochs),
    ``n_verify`` (10 held-out clips per emulated core), ``progress`` (a ``Progress``), ``force``
    (write into a directory holding files picoml did not write), ``cache_dir`` (the synthesized
    speech, build/cache/keywords). Raises ``keywords_data.EspeakMissingError`` (one line: how to
    install eSpeak NG) when espeak-ng is not installed."""
    torch = _need("torch")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)  # a small CNN: one thread (CI shares 2 cores)
    try:
        return _run(out_dir, **kwargs)
    finally:
        torch.set_num_threads(prev)


def _frame_of(op_name: str) -> int | None:
    m = _FRAME_OP.match(op_name)
    return int(m.group(1)) if m else None


def group_layers(layers: list[dict]) -> list[dict]:
    """A verify report's per-layer instructions with the front end's frames summed per op type
    ("49x SIGNAL_RFFT"), the network's layers as they are."""
    out: list[dict] = []
    index: dict[str, dict] = {}
    for lay in layers:
        if _frame_of(lay["name"]) is None:
            out.append(dict(lay))
            continue
        row = index.get(lay["op"])
        if row is None:
            row = index[lay["op"]] = {"op": lay["op"], "name": "front end", "instructions": 0, "frames": 0}
            row["macs"], row["instructions_per_mac"], row["cycles"] = 0, None, 0
            out.append(row)
        row["frames"] += 1
        for k in ("instructions", "cycles", "macs"):
            row[k] = None if row[k] is None or lay.get(k) is None else row[k] + lay[k]
    for row in index.values():
        row["op"] = f"{row['frames']}x {row['op']}"
    return out


def group_memory(g: Graph, summary: dict) -> dict:
    """The arena timeline with the front end's frames after the first collapsed into one step
    (they repeat frame 0's ops on the same buffers): the report plots a few dozen steps, not
    hundreds. A buffer's first/last op and the live bytes map onto the collapsed steps."""
    labels: list[str] = []
    step_of: list[int] = []
    live: list[int] = []
    collapsed = -1
    frames = sorted({f for op in g.ops if (f := _frame_of(op.name)) is not None})
    for i, op in enumerate(g.ops):
        f = _frame_of(op.name)
        if f is not None and f > 0:
            if collapsed < 0:
                collapsed = len(labels)
                labels.append(f"frames 1-{frames[-1]}: the ops of frame 0 again")
                live.append(0)
            step_of.append(collapsed)
        else:
            step_of.append(len(labels))
            labels.append(f"{i} {op.type}")
            live.append(0)
        if i < len(summary["live_bytes_per_op"]):
            live[step_of[-1]] = max(live[step_of[-1]], summary["live_bytes_per_op"][i])

    def at(i: int) -> int:
        return step_of[min(max(i, 0), len(step_of) - 1)]

    return {
        "ops": labels,
        "live_bytes": live,
        "arena_bytes": summary["arena_bytes"],
        "lower_bound": summary["arena_lower_bound_bytes"],
        "buffers": [
            {
                "name": b["name"],
                "offset": b["offset"],
                "size": b["size"],
                "first": at(b["first_op"]),
                "last": at(b["last_op"]),
            }
            for b in summary["buffers"]
        ],  # fmt: skip
    }


def _acc(g: Graph, x: np.ndarray, y: np.ndarray) -> float:
    out = run(g, x)
    return float((np.asarray(out).reshape(len(out), -1).argmax(1) == y).mean())


def _run(
    out_dir: str | Path = "build/demo-keywords",
    *,
    seed: int = 0,
    quick: bool = False,
    n_verify: int = 10,
    progress: Progress | None = None,
    force: bool = False,
    cache_dir: str | Path = "build/cache/keywords",
) -> dict:
    _need("torch")
    p = progress or Progress()
    out = Path(out_dir)
    t_start = time.perf_counter()
    cfg = K.KeywordsConfig.quick(seed) if quick else K.KeywordsConfig(seed=seed)

    # 1. speech
    t0 = time.perf_counter()
    p.step("picoml demo: keyword spotting from raw 16 kHz audio (speech synthesized with eSpeak NG)")
    data = K.load(cfg, cache_dir)
    x_test, y_test = data.part("test")
    sizes = [int((data.split == i).sum()) for i in range(len(K.SPLITS))]
    p.step(
        f"[1/6] speech: {sizes[0]:,}/{sizes[1]:,}/{sizes[2]:,} train/val/test clips of 1 s, 12 classes, "
        f"{len(data.voices['test'])} voice families held out for test "
        f"({'cached' if data.from_cache else 'synthesized'}; {time.perf_counter() - t0:.0f} s)"
    )

    # 2. the device's front end, run by the interpreter on every clip
    t0 = time.perf_counter()
    fe = T.frontend_graph()
    split = T.load(
        seed, data=data, features=lambda x: T.frontend_features(x, fe).astype(np.float32) * np.float32(T.LOG_SCALE)
    )
    p.step(
        f"[2/6] front end: {T.FRAMES}x{T.CHANNELS} log-mel features per clip by the device's own front-end graph "
        f"({len(fe.ops)} ops) in picoml's interpreter ({time.perf_counter() - t0:.0f} s)"
    )

    # 3. float CNN
    t0 = time.perf_counter()
    epochs = QUICK_EPOCHS if quick else T.EPOCHS
    model, g_float, hist = T.train_cnn(split, seed, epochs)
    acc_float = _acc(g_float, to_graph_layout(split.x_test), split.y_test)
    steps = [
        {
            "step": "float",
            "value": acc_float,
            "params": count_params(model),
            "macs": int(sum(op_macs(op) for op in g_float.ops)),
            "weight_bytes": int(sum(t.nbytes for t in g_float.constants)),
            "arena_bytes": None,
            "instructions": None,
            "note": f"float CNN on the front end's features ({epochs} epochs, best validation "
            f"{100 * hist.best_val_metric:.2f} %)",
        }
    ]
    p.step(
        f"[3/6] float CNN: {steps[0]['params']:,} parameters, {steps[0]['macs']:,} MACs, held-out accuracy "
        f"{100 * acc_float:.2f} % ({time.perf_counter() - t0:.0f} s)"
    )

    # 4. PTQ int8 and 16x8, each spliced after the front end; accuracy of the whole device graph on raw PCM
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    calib = to_graph_layout(split.x_train[rng.permutation(len(split.x_train))[:256]])
    graphs: dict[str, Graph] = {}
    for step, act in (("int8", "int8"), ("16x8", "int16")):
        q = quantize(g_float, calib, activations=act)
        g = graphs[step] = T.device_graph(q, fe, name=f"keywords_{step}")
        steps.append(
            {
                "step": step,
                "value": _acc(g, x_test, y_test),
                "params": steps[0]["params"],
                "macs": int(sum(op_macs(op) for op in g.ops)),
                "weight_bytes": int(sum(t.nbytes for t in g.constants)),
                "arena_bytes": None,
                "instructions": None,
                "note": f"PTQ {step}; front end + network from raw 16-bit PCM",
            }
        )
    acc8, acc16 = steps[1]["value"], steps[2]["value"]
    chosen = "16x8" if acc16 - acc8 > max(INT16_MARGIN, MARGIN_CLIPS / len(y_test)) else "int8"
    dev = graphs[chosen]
    row = steps[1] if chosen == "int8" else steps[2]
    row["note"] += " (chosen: verified on the emulated cores)"
    p.step(
        f"[4/6] quantized: int8 {100 * acc8:.2f} %, 16x8 {100 * acc16:.2f} % on held-out voices (the whole "
        f"device graph from raw PCM); {chosen} kept ({time.perf_counter() - t0:.0f} s)"
    )

    # 5. one C library from PCM to logits, verified on emulated cores with held-out clips
    t0 = time.perf_counter()
    reports: dict[str, dict] = {}
    rep = None
    for target in DEMO_TARGETS:
        rep = verify(dev, target, xs=x_test[:n_verify], progress=lambda i, n, t=target: p.bar(f"verify on {t}", i, n))
        if not rep.bit_exact:
            raise PicomlError(f"demo: {target} output differs from the reference ({rep.first_mismatch})")
        r = rep.to_json()
        r["layer_instructions"] = group_layers(r["layer_instructions"])
        reports[target] = r
    assert rep is not None
    plan = rep.compiled.plan
    row["instructions"] = {t: r["instructions"] for t, r in reports.items()}
    row["arena_bytes"] = plan.arena_bytes
    p.step(f"[5/6] compiled and verified bit-exact on {', '.join(DEMO_TARGETS)} ({time.perf_counter() - t0:.0f} s)")

    boards = []
    for b in BOARDS.values():
        r = reports.get(b.core)
        if r is None or b.clock_hz is None:
            continue
        flash = r["flash_code_bytes"] + r["flash_weights_bytes"]
        fits, msg = fit_check(b, flash, r["ram_bytes"])
        ms = b.latency_ms(r["instructions"])
        est = b.estimated_ms(r["cycles"], r.get("redirects") or 0) if r.get("cycles") else None
        boards.append(
            {
                "board": b.name,
                "core": b.core,
                "clock_mhz": b.clock_hz / 1e6,
                "ram_kb": b.ram_bytes / 1024,
                "flash_kb": b.flash_bytes / 1024,
                "fits": bool(fits),
                "message": msg,
                "latency_ms": ms,
                "estimated_ms": est,
                "real_time": bool(ms is not None and ms < AUDIO_MS),
                "load_percent": None if ms is None else 100 * ms / AUDIO_MS,
            }
        )
    realtime = {
        t: {
            "instructions_per_second_of_audio": r["instructions"],
            "cycles_per_second_of_audio": r.get("cycles"),
            "ms_per_second_at_64_mhz": r["instructions"] / 64e6 * 1e3,
            "real_time_at_64_mhz": r["instructions"] < 64e6,
        }
        for t, r in reports.items()
    }
    data_json = {
        "title": "picoml demo: keyword spotting from raw 16 kHz audio on a microcontroller",
        "summary": (
            f"Speech synthesized with eSpeak NG ({sizes[0]:,}/{sizes[1]:,}/{sizes[2]:,} clips), features by the "
            f"device's own front end, CNN, {chosen}; one C library from 16-bit PCM to 12 logits, verified "
            f"bit-exact on {' and '.join(DEMO_TARGETS)} with {n_verify} held-out clips. Accuracy on "
            f"{sizes[2]:,} clips of voices never heard in training. One inference = one second of audio: "
            + "; ".join(
                f"{t} at 64 MHz {v['ms_per_second_at_64_mhz']:.0f} ms per second of audio by instructions "
                f"({'real time' if v['real_time_at_64_mhz'] else 'NOT real time'})"
                for t, v in realtime.items()
            )
            + f". Total time {time.perf_counter() - t_start:.0f} s."
        ),
        "task": "keywords",
        "metric": "accuracy",
        "classes": list(T.CLASSES),
        "chosen": chosen,
        "steps": steps,
        "targets": reports,
        "boards": boards,
        "realtime": realtime,
        "data": {
            "clips": dict(zip(K.SPLITS, sizes, strict=True)),
            "voices": data.voices,
            "espeak": data.espeak_version,
            "cached": data.from_cache,
            "quick": quick,
        },
        "frontend": fe.description,
        "memory": group_memory(dev, plan.summary()),
        "seconds": time.perf_counter() - t_start,
    }
    page = write_report(out, data_json, force=force, extra={f"keywords_{chosen}.tflite": write_tflite_bytes(dev)})
    data_json["seconds"] = time.perf_counter() - t_start
    p.step(f"[6/6] report: {page} (+ report.json, 3 plots)\n")
    print_table(data_json)
    return data_json


def print_table(data: dict, stream=None) -> None:
    stream = stream or sys.stdout
    print_steps(data, stream, step_width=6, macs_width=11)
    for t, r in data["targets"].items():
        rt = data["realtime"][t]
        stream.write(
            f"{t:<14} bit-exact {'yes' if r['bit_exact'] else 'NO'} on {r['inputs']} held-out clips; "
            f"{r['instructions']:,} instructions per second of audio ({rt['ms_per_second_at_64_mhz']:.0f} ms at 64 MHz); "
            f"flash {r['flash_code_bytes']:,} B code + {r['flash_weights_bytes']:,} B weights; RAM {r['ram_bytes']:,} B\n"
        )
    stream.write("\n")
    for b in data["boards"]:
        est = f", est. {b['estimated_ms']:.0f} ms" if b.get("estimated_ms") else ""
        stream.write(
            f"{b['board']:<10} ({b['core']} at {b['clock_mhz']:g} MHz, {b['ram_kb']:g} KB RAM, {b['flash_kb']:g} KB "
            f"flash): {'fits' if b['fits'] else 'DOES NOT FIT'}; >= {b['latency_ms']:.0f} ms per second of audio{est} "
            f"({'real time' if b['real_time'] else 'NOT real time'}, {b['load_percent']:.0f} % of the core)\n"
        )
