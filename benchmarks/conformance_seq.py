"""Sequences and sound in the conformance suite (issue 15): ``benchmarks/conformance.py seq``.

The models, none written by hand here:
- 16x8 (int16 activations, int8 weights) models of four shapes made by TensorFlow 2.21's converter
  (tests/data/s16, ``benchmarks/corpus_16x8.py``), int16 and float interfaces;
- Keras LSTM and GRU (``unroll=True``) made by the converter, float32 and int8 (tests/data/recurrent);
- Keras 2 LSTM layers the converter fuses into UNIDIRECTIONAL_SEQUENCE_LSTM (hidden and cell state
  variable tensors carried across calls), float32 and int8 (tests/data/lstm,
  ``benchmarks/lstm_models.py``);
- resource-variable models made by the converter (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE /
  CALL_ONCE: a running sum, a moving average, a delay line; tests/data/state), whose state lives
  across calls;
- tflite-micro signal-library audio front ends (int16 PCM in, 16 kHz and 8 kHz, with and without
  PCAN, int16 or float32 features out; tests/data/signal), whose spectral-subtraction noise
  estimate lives across calls;
- made here at run time, deterministically: PyTorch ``nn.LSTM`` / ``nn.GRU`` (stacked,
  bidirectional) through ``picoml.from_torch``, float32 and int8 (picoml's PTQ), and SVDF layers
  (int8 with int16 and int8 state; float32) written by picoml's .tflite writer.

Every file runs as tflite-micro runs it on a device: ``CALLS`` consecutive invocations with the
state carried (no reset in between; tflite-micro's interpreter is reset once after its probe call),
and on **every** tensor the file computes, picoml's reference interpreter (a batch of a stateful graph is one
sequence of calls) is compared with tflite-micro's (kPreserveAllTensors): integer tensors exactly, float
tensors within ``conformance_run.FLOAT_RTOL`` of the tensor's largest magnitude. Then
``flows.verify`` runs the same consecutive inputs through the generated C on emulated cortex-m4
and cortex-m0plus, in one program (state carried as on the device).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

import bench_codegen as BC
import conformance as C
import conformance_run as CR
import picoml
from picoml.frontends.torch import to_graph_layout
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType, default_attrs

DATA = C.ROOT / "tests" / "data"
RESULTS = C.ROOT / "benchmarks" / "results"
CALLS = 12  # consecutive invocations per model (the issue asks for at least 10)


# ---------------------------------------------------------------- the corpus
def entries() -> list[dict]:
    """One entry per file: model, file (under tests/data, or None when made at run time), source."""
    rows: list[dict] = []
    s16 = json.loads((DATA / "s16" / "manifest.json").read_text())
    for m in s16["models"]:
        kind = "int16, float I/O" if m["interface"] == "float32" else "int16"
        rows.append({"model": m["model"], "file": f"s16/{m['file']}", "source": "TF converter (16x8)", "kind": kind})
    for f in sorted((DATA / "recurrent").glob("*.tflite")):
        kind = "int8" if "int8" in f.stem else "float32"
        rows.append({"model": f.stem.rsplit("_", 1)[0], "file": f"recurrent/{f.name}", "source": "TF converter (Keras)",
                     "kind": kind})  # fmt: skip
    state = json.loads((DATA / "state" / "manifest.json").read_text())
    for name in sorted(state["models"]):
        rows.append({"model": name.split(".")[0], "file": f"state/{name}", "source": "TF converter (resource variables)",
                     "kind": "float32", "stream": True})  # fmt: skip
    lstm = json.loads((DATA / "lstm" / "manifest.json").read_text())
    for name, m in sorted(lstm["models"].items()):
        rows.append({"model": m["model"], "file": f"lstm/{name}", "source": "TF converter (Keras 2 LSTM, fused)",
                     "kind": m["kind"], "stream": True})  # fmt: skip
    signal = json.loads((DATA / "signal" / "manifest.json").read_text())
    for name, m in sorted(signal["models"].items()):
        kind = "int16" if m["output"][0] == "int16" else "int16 in, float32 out"
        rows.append({"model": name, "file": f"signal/{name}.tflite", "source": "picoml.audio.frontend (signal ops)",
                     "kind": kind, "stream": True, "stride": int(m["frame_stride"])})  # fmt: skip
    for kind in ("float32", "int8"):
        for rnn in ("lstm", "gru"):
            rows.append({"model": f"torch_{rnn}", "file": None, "source": "PyTorch nn." + rnn.upper(), "kind": kind})
    for state_dtype in ("int16", "int8"):
        rows.append({"model": f"svdf_{state_dtype}_state", "file": None, "source": "picoml writer (SVDF)",
                     "kind": "int8", "stream": True, "state_dtype": state_dtype})  # fmt: skip
    rows.append({"model": "svdf", "file": None, "source": "picoml writer (SVDF)", "kind": "float32", "stream": True})
    return rows


def _torch_model(rnn: str, kind: str) -> Graph:
    import torch  # the optional extra: only this builder needs it (the rows say so when it is missing)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            cls = torch.nn.LSTM if rnn == "lstm" else torch.nn.GRU
            self.rnn = cls(4, 6, num_layers=2, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(12, 3)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])  # the last step's features

    torch.manual_seed(11)
    net = Net().eval()
    x = torch.randn(64, 1, 8, 4, generator=torch.Generator().manual_seed(12))
    g = picoml.from_torch(net, x[0])
    if kind == "int8":
        g = picoml.quantize(g, np.stack([to_graph_layout(v.numpy()) for v in x]))
    return g


def _q(name, shape, scale, zp, dtype="int8", data=None) -> Tensor:
    return Tensor(name, tuple(shape), dtype, np.atleast_1d(scale), np.atleast_1d(zp), 0, data)


def _svdf_model(kind: str, state_dtype: str = "int16") -> Graph:
    """One SVDF layer (16 inputs, 8 filters of rank 2, memory 5) as a keyword model's layer."""
    rng = np.random.default_rng(21)
    n_in, n_filter, memory, rank = 16, 8, 5, 2
    units = n_filter // rank
    if kind == "float32":
        x = Tensor("x", (1, n_in))
        wf = Tensor("wf", (n_filter, n_in), data=rng.normal(0, 0.4, (n_filter, n_in)).astype(np.float32))
        wt = Tensor("wt", (n_filter, memory), data=rng.normal(0, 0.4, (n_filter, memory)).astype(np.float32))
        b = Tensor("b", (units,), data=rng.normal(0, 0.3, units).astype(np.float32))
        s = Tensor("state", (1, memory * n_filter), variable=True)
        y = Tensor("y", (1, units))
    else:
        sdt = np.dtype(state_dtype)
        info = np.iinfo(sdt)
        s_scale, wt_scale = (0.02, 0.001) if state_dtype == "int16" else (0.05, 0.01)
        x = _q("x", (1, n_in), 0.03, 3)
        wf = _q("wf", (n_filter, n_in), 0.01, 0, data=rng.integers(-127, 128, (n_filter, n_in), dtype=np.int8))
        wt = _q("wt", (n_filter, memory), wt_scale, 0, state_dtype,
                rng.integers(info.min // 4, info.max // 4, (n_filter, memory), dtype=sdt))  # fmt: skip
        b = _q("b", (units,), s_scale * wt_scale, 0, "int32", rng.integers(-5000, 5000, units, dtype=np.int32))
        s = _q("state", (1, memory * n_filter), s_scale, 0 if state_dtype == "int16" else 3, state_dtype)
        s.variable = True
        y = _q("y", (1, units), 0.08 if state_dtype == "int16" else 0.05, -4)
    attrs = {**default_attrs(OpType.SVDF), "rank": rank, "fused_activation": "RELU"}
    g = Graph([x, wf, wt, b, s, y], [Op(OpType.SVDF, [x, wf, wt, b, s], [y], attrs, name="svdf")], [x], [y],
              name=f"svdf_{kind}")  # fmt: skip
    g.validate()
    return g


def model_file(e: dict, work: Path) -> Path:
    """The entry's .tflite: the committed file, or the one made now (picoml's writer)."""
    if e["file"]:
        return DATA / e["file"]
    rnn = e["model"].removeprefix("torch_")
    g = (
        _torch_model(rnn, e["kind"])
        if e["model"].startswith("torch_")
        else _svdf_model(e["kind"], e.get("state_dtype", "int16"))
    )
    path = work / f"{e['model']}.{e['kind']}.tflite"
    picoml.save(g, path)
    return path


# ---------------------------------------------------------------- inputs
def audio(n: int, seed: int = 0) -> np.ndarray:
    """``n`` int16 samples of 16 kHz 'speech-like' audio: a gliding two-formant tone in bursts, in noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000.0
    f0 = 180 + 60 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000.0
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    x = env * (0.4 * np.sin(phase) + 0.25 * np.sin(5.3 * phase)) + 0.02 * rng.standard_normal(n)
    return np.clip(np.round(x * 12000), -32768, 32767).astype(np.int16)


def stream_inputs(g: Graph, e: dict, n: int) -> np.ndarray:
    """``n`` consecutive inputs: audio frames at the front end's stride, or random frames."""
    t = g.inputs[0]
    if "stride" in e:
        size = int(np.prod(t.shape))
        pcm = audio(e["stride"] * (n - 1) + size)
        return np.stack([pcm[k * e["stride"] : k * e["stride"] + size].reshape(t.shape) for k in range(n)])
    x = np.random.default_rng(31).standard_normal((n,) + t.shape) * 1.5
    return CR.quantize_input(x, t)


def reference_all(g: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """picoml's every tensor over the consecutive inputs ``x``: a graph with state runs a batch as
    one sequence of calls, state carried (variable tensors and the stateful signal ops alike)."""
    return picoml.run(g, x, all_tensors=True)


# ---------------------------------------------------------------- one model
def check(e: dict, n: int, do_c: bool, work: Path) -> dict:
    row = {k: e[k] for k in ("model", "file", "source", "kind")}
    row.update(c={}, stream=bool(e.get("stream")))
    t0 = time.perf_counter()
    try:
        path = model_file(e, work)
        row["bytes"] = path.stat().st_size
        g = picoml.load(path)
        row["ops"] = sorted({str(op.type) for op in g.ops})
        model = path.read_bytes()
        if e.get("stream"):
            xs = [stream_inputs(g, e, n)]
            info = {
                "inputs": n,
                "distinct_outputs": len({r.tobytes() for r in reference_all(g, xs[0])[g.outputs[0].name]}),
            }
        else:
            xs, info = CR.pick_inputs(g, {"model": e["model"], "data": {"dist": "normal"}}, n)
        row.update(info)
        ours = reference_all(g, xs[0]) if e.get("stream") else None
        row.update(CR.compare_all_tensors(g, model, xs, ours=ours))
    except Exception as ex:  # noqa: BLE001 - a refusal or a crash is the row's result
        row.update(status="refused" if isinstance(ex, picoml.PicomlError) else "error",
                   detail=CR.failure(ex).removeprefix("refused: "))  # fmt: skip
        return row
    if do_c:
        row["c"] = CR.c_checks(g, model, xs, work, tflm_arena=row.get("oracle") == "tflite-micro")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    ok = sum(r["status"] in ("exact", "within tolerance") for r in rows)
    c_ok = {t: sum(CR.short(CR.c_cell(r, t)) in ("bit-exact", "within tol.") for r in rows) for t in CR.TARGETS}
    L = [
        "# Conformance: sequences and sound",
        "",
        f"{meta['date']}; `{meta['command']}`; tflite-micro {meta['versions'].get('tflite-micro')}; "
        f"{meta['runtime_s']:.0f} s. {len(rows)} files; interpreter exact or within tolerance on {ok}; C "
        + ", ".join(f"{t} {c_ok[t]}" for t in CR.TARGETS)
        + f". Stateful files ran {meta['calls']} consecutive calls with state carried.",
        "",
        "| model | source | kind | state across calls | interpreter vs tflite-micro (every tensor) "
        "| C cortex-m4 | C cortex-m0plus | RAM / tflite-micro arena |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        L.append(
            f"| {r['model']} | {r['source']} | {r['kind']} | {'yes' if r['stream'] else '—'} | "
            f"{CR.esc(CR.short(CR.interp_cell(r)) if r['status'] != 'exact' else CR.interp_cell(r))} | "
            f"{CR.esc(CR.c_cell(r, CR.TARGETS[0]))} | {CR.esc(CR.c_cell(r, CR.TARGETS[1]))} | {CR.ratio_cell(r)} |"
        )
    return "\n".join(L) + "\n"


def run(out: Path, only: list[str] | None, n: int, do_c: bool) -> dict:
    t0 = time.perf_counter()
    todo = [e for e in entries() if not only or e["model"] in only or (e["file"] or "").split("/")[-1] in only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="conformance_seq_") as tmp:
        for i, e in enumerate(todo):
            work = Path(tmp) / str(i)
            work.mkdir()
            r = check(e, n, do_c, work)
            rows.append(r)
            c = "; ".join(f"{t}: {v['result'][:60]}" for t, v in r["c"].items() if isinstance(v, dict))
            print(f"[{time.perf_counter() - t0:6.0f} s] {e['model']} ({e['kind']}): {CR.interp_cell(r)[:140]}"
                  + (f" | {c}" if c else ""), flush=True)  # fmt: skip
    shown = ["benchmarks/conformance.py", "seq"] + (["--only", *only] if only else []) + ([] if do_c else ["--no-c"])
    meta = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": ".venv/bin/python " + " ".join(shown),
        "calls": n,
        **BC.machine(),
        "runtime_s": time.perf_counter() - t0,
    }
    md = markdown(rows, meta)
    out.mkdir(parents=True, exist_ok=True)
    (out / "conformance_seq.md").write_text(md)
    (out / "conformance_seq.json").write_text(json.dumps({**meta, "rows": rows}, indent=1, default=str) + "\n")
    print(md)
    return {"meta": meta, "rows": rows}
