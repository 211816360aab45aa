"""Phase ``run`` of benchmarks/conformance.py: every corpus model through picoml, against tflite-micro.

Runs in picoml's venv; imports picoml and tflite-micro, never TensorFlow. For each model file of
the manifest (one row each; nothing here raises past ``check_model``):

1. ``picoml.load``; a refusal is the row's result, with picoml's message;
2. inputs: a pool of generated samples (``conformance.generate``, a stream the converter never
   saw), of which ``n`` are kept so that the outputs differ (first one per distinct argmax for
   classifier-like outputs, then one per distinct output); the row states how many differ;
3. the reference interpreter against tflite-micro (kPreserveAllTensors) on EVERY tensor that
   the file computes (matched by the file's tensor index), per input: integer tensors exactly,
   float tensors within ``FLOAT_RTOL`` of the tensor's largest magnitude;
4. ``picoml.flows.verify.verify`` on cortex-m4 and cortex-m0plus (the generated C, emulated,
   bit-exact against the interpreter) for int8-interface models; the C generator's refusal
   otherwise;
5. RAM: verify's ``ram_bytes`` (cortex-m4) over tflite-micro's arena (``print_allocations``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

import bench_codegen as BC
import conformance as C
import conformance_litert as CL
import picoml
from picoml.errors import PicomlError
from picoml.flows.verify import verify
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph.ops import OpType

# Float tensors (float32 models, and the float edges of float-interface int8 models): tflite-micro
# accumulates CONV/FC/DEPTHWISE sums in float32 in its loop order, picoml in float64 rounded once
# (or in LiteRT's float32 order where that is the spec); the difference is float32 rounding of
# partial sums, ~1e-7 relative per addition, compounding through the layers. So each float tensor
# must agree to 1e-4 of its own largest magnitude (per input); the row records the largest
# difference actually seen, and "bit-identical" when there is none.
FLOAT_RTOL = 1e-4
TARGETS = ("cortex-m4", "cortex-m0plus")
POOL_FACTOR = 4  # candidates drawn per kept input
TFLM_ARENA = 16 << 20


def one_line(text: str, limit: int = 240) -> str:
    line = (str(text).strip().splitlines() or [""])[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def failure(e: BaseException) -> str:
    """``refused: <picoml's first line>`` for a PicomlError, ``error: <Type>: <first line>`` for
    anything else (a traceback where picoml owes a one-line refusal: a bug to fix)."""
    if isinstance(e, PicomlError):
        return "refused: " + one_line(str(e))
    tb = traceback.extract_tb(e.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"error: {type(e).__name__}{where}: {one_line(str(e))}"


# ---------------------------------------------------------------- inputs
def quantize_input(x: np.ndarray, t) -> np.ndarray:
    if t.dtype == "float32":
        return x.astype(np.float32)
    scale, zp = float(t.scale[0]), int(t.zero_point[0])
    info = np.iinfo(t.np_dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(t.np_dtype)


def pick_inputs(g, entry: dict, n: int) -> tuple[list[np.ndarray], dict]:
    """``n`` inputs (one array (n, *shape) per model input) whose outputs differ, and how much."""
    pool = n * POOL_FACTOR
    shapes = [t.shape[1:] if t.shape and t.shape[0] == 1 else t.shape for t in g.inputs]
    floats, _ = C.generate(entry["model"], entry["data"], shapes, pool, salt=3)
    xs = [quantize_input(x.reshape((pool,) + t.shape), t) for x, t in zip(floats, g.inputs, strict=True)]
    outs = picoml.run(g, xs if len(xs) > 1 else xs[0])
    outs = outs if isinstance(outs, list) else [outs]
    rows = np.concatenate([np.asarray(o).reshape(pool, -1).astype(np.float64) for o in outs], axis=1)
    first = np.asarray(outs[0]).reshape(pool, -1)
    classifier = entry["data"].get("dist") == "classes" and first.shape[1] > 1  # trained on class patterns
    chosen: list[int] = []
    if classifier:
        seen = set()
        for i in range(pool):
            a = int(np.argmax(first[i]))
            if a not in seen:
                seen.add(a)
                chosen.append(i)
    seen_rows = {rows[i].tobytes() for i in chosen}
    for i in range(pool):
        if len(chosen) >= n:
            break
        if i not in chosen and rows[i].tobytes() not in seen_rows:
            seen_rows.add(rows[i].tobytes())
            chosen.append(i)
    for i in range(pool):  # too few distinct outputs: fill up (the row says so)
        if len(chosen) >= n:
            break
        if i not in chosen:
            chosen.append(i)
    chosen = sorted(chosen[:n])
    kept = rows[chosen]
    info = {
        "inputs": len(chosen),
        "distinct_outputs": len({r.tobytes() for r in kept}),
    }
    if classifier:
        info["distinct_argmax"] = len({int(np.argmax(first[i])) for i in chosen})
    return [x[chosen] for x in xs], info


# ---------------------------------------------------------------- tflite-micro
def tflm(model: bytes, preserve_all: bool):
    from tflite_micro.python.tflite_micro import runtime

    cfg = (
        runtime.InterpreterConfig.kPreserveAllTensors
        if preserve_all
        else runtime.InterpreterConfig.kAllocationRecording
    )
    return captured(lambda: runtime.Interpreter.from_bytes(model, arena_size=TFLM_ARENA, intrepreter_config=cfg))


def captured(fn):
    """(fn(), what C code printed); if fn raises, a RuntimeError with the first lines tflite-micro
    printed (its reason goes to the C descriptors; the Python exception only says it failed)."""

    def call():
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - re-raised below with what was printed
            return e

    result, text = BC.run_captured(call)
    if isinstance(result, Exception):
        said = [ln.strip() for ln in text.splitlines() if ln.strip()]
        raise RuntimeError(" / ".join(said[:2]) or one_line(str(result)))
    return result, text


class LiteRTAll:
    """LiteRT (its reference kernels, every tensor kept) behind the two calls
    ``compare_all_tensors`` makes on tflite-micro: the oracle where tflite-micro refuses the model
    (SELECT v1, int8 EXP / SQRT: TFLite kernels tflite-micro lacks) or must not run it (dynamic
    DETECTION_POSTPROCESS outputs: tflite-micro writes the detections past their 4-byte buffers).
    BUILTIN_REF, not the default kernels: LiteRT's optimized int8 CONV_2D rounds some values one code
    away from tflite-micro's (and picoml's) reference arithmetic (seen on ssd_tiny.int8)."""

    def __init__(self, model: bytes) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.ip = Interpreter(
            model_content=model,
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True,
        )
        self.ip.allocate_tensors()
        self.inputs = [d["index"] for d in self.ip.get_input_details()]

    def set_input(self, x: np.ndarray, k: int) -> None:
        self.ip.set_tensor(self.inputs[k], x)

    def invoke(self) -> None:
        self.ip.invoke()

    def GetTensor(self, index: int, subgraph: int) -> dict:  # noqa: N802 - tflite-micro's name
        return {"tensor_data": self.ip.get_tensor(index, subgraph)}


def oracle(g, model: bytes, xs: list[np.ndarray]) -> tuple[object, str]:
    """(interpreter, its name): tflite-micro, or LiteRT where tflite-micro refuses the model (at load
    or at its first invoke: int8 SQRT passes Prepare, then Eval fails) or would overrun its buffers;
    raises with both refusals when neither runs it."""
    if any("dynamic" in n and OpType.DETECTION_POSTPROCESS in n for n in getattr(g, "notes", ())):
        why = "tflite-micro not run: it writes dynamic DETECTION_POSTPROCESS outputs past their 4-byte buffers"
    else:
        try:
            ip = tflm(model, preserve_all=True)[0]
            for k, x in enumerate(xs):
                ip.set_input(x[0], k)
            captured(ip.invoke)
            # a fresh interpreter: the probe call changed the state (variable tensors, stateful ops),
            # and tflite-micro's reset() zeroes variables without re-running their CALL_ONCE init
            return tflm(model, preserve_all=True)[0], "tflite-micro"
        except Exception as e:  # noqa: BLE001 - tflite-micro refuses the model: try LiteRT
            why = "tflite-micro refuses: " + one_line(str(e))
    try:
        return LiteRTAll(model), f"LiteRT ({why})"
    except Exception as e:  # noqa: BLE001 - re-raised with both reasons
        raise RuntimeError(f"{why}; LiteRT refuses: {one_line(str(e))}") from None


def tflm_arena_bytes(model: bytes, xs: list[np.ndarray]) -> int:
    ip, _ = tflm(model, preserve_all=False)
    for k, x in enumerate(xs):
        ip.set_input(x[0], k)
    ip.invoke()
    _, text = BC.run_captured(ip.print_allocations)
    return BC.parse_allocations(text)["arena_bytes"]


def tflm_probe(model: bytes, entry: dict) -> str:
    """Whether tflite-micro runs a model picoml refused: "runs", or its refusal (first line)."""
    try:
        ip, _ = tflm(model, preserve_all=False)
        for k, t in enumerate(entry.get("inputs", [])):
            ip.set_input(np.zeros(t["shape"], np.dtype(t["dtype"])), k)
        captured(ip.invoke)
        return "runs"
    except Exception as e:  # noqa: BLE001 - its refusal is the answer
        return "refuses: " + one_line(str(e) or type(e).__name__)


def compare_all_tensors(g, model: bytes, xs: list[np.ndarray], ours: dict | None = None) -> dict:
    """picoml's every tensor vs tflite-micro's, for each input (in order, on one interpreter: state
    carries from one to the next as on a device). ``ours``: picoml's tensors when the caller computed
    them (a stream, conformance_seq.py). Returns counts and the first mismatch."""
    raw = read_tflite_bytes(model)  # the file's own tensor list: names (deduplicated as picoml does) -> index
    sg = schema.Model.GetRootAsModel(model, 0).Subgraphs(0)
    n_file = sg.TensorsLength()  # not the reader's additions
    names_in_file = [(sg.Tensors(i).Name() or b"").decode("utf-8", "replace") for i in range(n_file)]
    if len(set(names_in_file)) == n_file:  # by the file's own names, so a reader that lowers ops (resource
        # variables) cannot shift the indices; resource / variant handles hold no values to compare
        index = {nm: i for i, nm in enumerate(names_in_file) if sg.Tensors(i).Type() not in (13, 14)}
    else:
        index = {t.name: i for i, t in enumerate(raw.tensors) if i < n_file}
    computed = {t.name for t in raw.tensors if t.data is None}
    if ours is None:
        ours = picoml.run(g, xs if len(xs) > 1 else xs[0], all_tensors=True)
    names = [name for name in ours if name in computed and name in index]
    folded = {t.name for t in g.tensors if t.data is not None}  # computed in the file, constant in picoml
    try:
        ip, oracle_name = oracle(g, model, xs)
    except Exception as e:  # noqa: BLE001 - both oracles refuse the model: the oracle's refusal, recorded
        return {"status": "oracle refused", "detail": one_line(str(e))}
    # SIGNAL_ENERGY writes only [start_index, end_index) of its output (energy.cc): the rest is undefined
    written = {op.outputs[0].name: slice(int(op.attrs["start_index"]), int(op.attrs["end_index"]))
               for op in g.ops if op.type == OpType.SIGNAL_ENERGY}  # fmt: skip
    n = xs[0].shape[0]
    worst, identical, first_bad, bad_values, int_count, float_count = 0.0, True, "", 0, 0, 0
    for s in range(n):
        for k, x in enumerate(xs):
            ip.set_input(x[s], k)
        ip.invoke()
        for name in names:
            mine = np.asarray(ours[name] if name in folded else ours[name][s])
            theirs = np.asarray(ip.GetTensor(index[name], 0)["tensor_data"])
            if theirs.size != mine.size:
                bad_values += mine.size
                first_bad = first_bad or f"input {s} tensor {name!r}: {mine.size} values, {oracle_name} {theirs.size}"
                continue
            theirs = theirs.reshape(mine.shape)
            if name in written:  # tflite-micro leaves the rest of the tensor as the arena held it
                mine, theirs = mine[..., written[name]], theirs[..., written[name]]
            if mine.dtype.kind in "iub":
                int_count += s == 0
                diff = np.argwhere(mine != theirs.astype(mine.dtype))
                if diff.size:
                    bad_values += len(diff)
                    j = tuple(diff[0])
                    first_bad = first_bad or (
                        f"input {s} tensor {name!r}{list(j)}: picoml {mine[j]}, {oracle_name.split()[0]} {theirs[j]} "
                        f"({len(diff)} of {mine.size} differ)"
                    )
            else:
                float_count += s == 0
                a, b = mine.astype(np.float64), theirs.astype(np.float64)
                scale = float(np.max(np.abs(b))) if b.size else 0.0
                err = float(np.max(np.abs(a - b))) if a.size else 0.0
                identical = identical and err == 0.0
                rel = err / scale if scale > 0 else (0.0 if err == 0 else np.inf)
                worst = max(worst, rel)
                if rel > FLOAT_RTOL:
                    bad_values += int(np.sum(np.abs(a - b) > FLOAT_RTOL * scale))
                    j = tuple(np.unravel_index(int(np.argmax(np.abs(a - b))), a.shape))
                    first_bad = first_bad or (
                        f"input {s} tensor {name!r}{list(j)}: picoml {a[j]:.7g}, {oracle_name.split()[0]} {b[j]:.7g} "
                        f"({rel:.2g} of the tensor's max)"
                    )
    res = {
        "tensors_compared": len(names),
        "integer_tensors": int_count,
        "float_tensors": float_count,
        "float_max_rel_diff": worst,
        "float_bit_identical": identical if float_count else None,
        "oracle": oracle_name,
    }
    if bad_values and oracle_name.startswith("LiteRT"):  # LiteRT's int8 kernels are not picoml's spec
        obo = CL.op_by_op(g, ip, {n: index[n] for n in names}, ours, xs, tflm, FLOAT_RTOL)
        res["op_by_op"] = obo
        if not obo["first_bad"]:
            res["oracle"] = oracle_name + "; op by op, tflite-micro alone where LiteRT differs"
            res["float_max_rel_diff"] = obo["float_max_rel_diff"]
            res["float_bit_identical"] = obo["float_max_rel_diff"] == 0.0 if float_count else None
            res.update(status="exact" if not float_count or not obo["float_max_rel_diff"] else "within tolerance")
            res["detail"] = (
                "whole graph: " + first_bad + "; " + "; ".join(f"{k}: {v}" for k, v in obo["litert_differs"].items())
            )
            return res
        first_bad = obo["first_bad"]
    if bad_values:
        res.update(status="mismatch", detail=first_bad, bad_values=bad_values)
    else:
        res["status"] = "exact" if identical or not float_count else "within tolerance"
    return res


def degenerate(info: dict) -> str:
    """Why the chosen inputs do not make equality meaningful ("" when they do): fewer distinct
    outputs than half the inputs, or one argmax class for a classifier."""
    if info["distinct_outputs"] < max(2, info["inputs"] // 2):
        return f"only {info['distinct_outputs']} distinct outputs over {info['inputs']} inputs"
    if info.get("distinct_argmax", 2) < 2:
        return f"one argmax class over {info['inputs']} inputs"
    return ""


# ---------------------------------------------------------------- one model
def check_model(entry: dict, corpus: Path, n: int, do_c: bool, work: Path) -> dict:
    row = {k: entry.get(k) for k in ("model", "file", "group", "kind", "interface", "variable_batch")}
    row["ops"] = sorted(set(entry.get("ops", [])))
    row["c"] = {}
    t0 = time.perf_counter()
    if "conversion_error" in entry:
        row.update(status="not converted", detail="TensorFlow's converter: " + entry["conversion_error"])
        return row
    path = corpus / entry["file"]
    try:
        g = picoml.load(path)
    except Exception as e:  # noqa: BLE001 - a refusal (or a crash) is the row's result
        row.update(status="refused", detail=failure(e).removeprefix("refused: ").replace(str(path) + ": ", ""))
        row["stage"] = "load"
        row["tflite_micro"] = tflm_probe(path.read_bytes(), entry)
        return row
    model = path.read_bytes()
    try:
        xs, info = pick_inputs(g, entry, n)
        row.update(info)
        row.update(compare_all_tensors(g, model, xs))
        why = degenerate(info)
        if why and row["status"] in ("exact", "within tolerance"):
            row.update(status="degenerate inputs", detail=f"{row['status']}, but {why}")
    except Exception as e:  # noqa: BLE001
        row.update(status="refused" if isinstance(e, PicomlError) else "error", detail=failure(e))
        row["stage"] = "run"
        return row
    if do_c:
        row["c"] = c_checks(g, model, xs, work, tflm_arena=row.get("oracle") == "tflite-micro")
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


# A float32 model on cortex-m0plus runs soft float (~160 emulated instructions per MAC): its C is
# verified on the first SOFT_FLOAT_INPUTS inputs at full emulator speed, without counting
# instructions (cortex-m4, with its FPU, takes all of them and counts the first).
SOFT_FLOAT_INPUTS = 3


def c_checks(g, model: bytes, xs: list[np.ndarray], work: Path, tflm_arena: bool = True) -> dict:
    """verify on each target; the RAM ratio against tflite-micro's arena where tflite-micro runs the model."""
    out: dict = {}
    edges = (OpType.QUANTIZE, OpType.DEQUANTIZE)  # a float interface: int8 inside, no soft-float cost
    float_model = any(t.dtype == "float32" for op in g.ops if op.type not in edges for t in op.inputs + op.outputs if t)
    for target in TARGETS:
        try:
            soft = float_model and target == "cortex-m0plus"
            cx = [x[:SOFT_FLOAT_INPUTS] for x in xs] if soft else xs
            counted = 0 if soft else 1
            rep = verify(g, target, xs=cx if len(cx) > 1 else cx[0], counted_runs=counted, work_dir=work / target)
            if not rep.bit_exact:
                result = f"mismatch: {rep.mismatches} values; {rep.first_mismatch}"
            elif rep.max_abs_error:  # float outputs: within verify's stated tolerance (FLOAT_TOLERANCE)
                result = f"within tolerance (max |err| {rep.max_abs_error:.1e})"
            else:
                result = "bit-exact"
            out[target] = {
                "result": result,
                "float": rep.float_mode,
                "max_abs_error": rep.max_abs_error,
                "inputs": rep.inputs,
                "ram_bytes": rep.ram_bytes,
                "instructions": rep.instructions,
                "flash_bytes": rep.flash_code_bytes + rep.flash_weights_bytes,
            }
        except Exception as e:  # noqa: BLE001
            out[target] = {"result": failure(e)}
    ram = out.get("cortex-m4", {}).get("ram_bytes")
    if ram and tflm_arena:
        try:
            arena = tflm_arena_bytes(model, xs)
            out["tflm_arena_bytes"] = arena
            out["ram_ratio"] = ram / arena  # the harness's input and output live in the arena (zero-copy)
        except (Exception, SystemExit) as e:  # noqa: BLE001 - parse_allocations exits on odd output
            out["tflm_arena_bytes"] = None
            out["ram_ratio_error"] = one_line(str(e))
    return out


# ---------------------------------------------------------------- reporting
KIND_LABEL = {("int8", "int8"): "int8", ("int8", "float32"): "int8, float I/O", ("float32", "float32"): "float32"}
UNSUPPORTED_RE = re.compile(r"unsupported ops: (.+)$")


def interp_cell(r: dict) -> str:
    vs = " vs LiteRT" if str(r.get("oracle", "")).startswith("LiteRT") else ""
    return _interp_cell(r) + vs if vs and r["status"] in ("exact", "within tolerance") else _interp_cell(r)


def _interp_cell(r: dict) -> str:
    s = r["status"]
    if s == "exact":
        extra = f"{r['inputs']} inputs, {r['distinct_outputs']} distinct outputs"
        if "distinct_argmax" in r:
            extra += f", {r['distinct_argmax']} classes"
        return f"**exact** ({extra})"
    if s == "within tolerance":
        return (
            f"within tol. (max {r['float_max_rel_diff']:.1e}; {r['inputs']} inputs, {r['distinct_outputs']} distinct)"
        )
    return f"{s}: {r.get('detail', '')}"


def c_cell(r: dict, target: str) -> str:
    c = r.get("c", {}).get(target)
    if c is None:
        return "—"
    if c["result"].startswith("within tolerance"):
        return "**" + c["result"].replace("within tolerance", "within tol.") + "**"
    return "**bit-exact**" if c["result"] == "bit-exact" else c["result"]


def ratio_cell(r: dict, bytes_too: bool = True) -> str:
    c = r.get("c", {})
    if not c.get("ram_ratio"):
        return "—"
    text = f"{c['ram_ratio']:.2f}"
    if bytes_too:
        text += f" ({c['cortex-m4']['ram_bytes']:,} / {c['tflm_arena_bytes']:,})"
    return text


def short(cell: str) -> str:
    """A table cell's gist: the status word(s) and, for a refusal, its reason."""
    cell = cell.replace("**", "")
    if cell.startswith("exact") or cell.startswith("bit-exact") or cell.startswith("within tol. (max |err|"):
        return cell.split(" (")[0]
    if cell.startswith("within tol."):
        return "within tol. " + cell.split("(")[1].split(";")[0]
    return cell.replace("refused: unsupported ops: ", "refused, missing: ")


def model_table(rows: list[dict]) -> list[str]:
    """One line per model: its three files side by side, the C of the int8 file."""
    by_model: dict[str, dict] = defaultdict(dict)
    for r in rows:
        by_model[r["model"]][KIND_LABEL[(r["kind"], r["interface"])]] = r
    L = [
        "| model | group | int8 | int8, float I/O | float32 | C int8: cortex-m4 / cortex-m0plus "
        "| C int8, float I/O | C float32 | RAM / tflite-micro arena |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model, v in by_model.items():
        cells = [esc(short(interp_cell(v[k]))) if k in v else "—" for k in KIND_LABEL.values()]
        cells = [cells[0]] + ["same" if c == cells[0] and c.startswith("refused") else c for c in cells[1:]]
        i8 = v.get("int8", {})

        def both(r: dict) -> str:
            c4, c0 = short(c_cell(r, TARGETS[0])), short(c_cell(r, TARGETS[1]))
            return esc(c4 if c4 == c0 else f"{c4} / {c0}")

        cc = " | ".join(both(v.get(k, {})) for k in KIND_LABEL.values())
        group = next(iter(v.values())).get("group", "")
        L.append(f"| {model} | {group} | " + " | ".join(cells) + f" | {cc} | {ratio_cell(i8, False)} |")
    return L


def esc(text: str) -> str:
    return str(text).replace("|", "\\|")


def op_label(op: str, manifest_ops: list[str]) -> str:
    """picoml names a builtin it does not know BUILTIN_<code>; add the converter's name for it when the
    manifest's op list leaves exactly one candidate (an op name picoml does not have)."""
    if not op.startswith("BUILTIN_"):
        return op
    known = {str(o) for o in picoml.supported_ops()}
    cands = [o for o in manifest_ops if o not in known and not o.startswith("TFLite_")]
    return f"{op} ({cands[0]})" if len(cands) == 1 else op


def missing_ops(rows: list[dict]) -> tuple[dict, Counter]:
    """From the load refusals: per missing op, the files and models it blocks, the files it alone
    blocks and the files tflite-micro runs; and the other refusal reasons, grouped."""
    per: dict[str, dict] = {}
    other: Counter = Counter()
    for r in rows:
        if r["status"] != "refused" or r.get("stage") != "load":
            continue
        m = UNSUPPORTED_RE.search(r.get("detail", ""))
        if not m:
            other[re.sub(r"'[^']*'", "'…'", r.get("detail", ""))[:160]] += 1
            continue
        ops = [op_label(o.strip(), r["ops"]) for o in m.group(1).split(",")]
        for op in ops:
            d = per.setdefault(op, {"files": 0, "models": set(), "alone": 0, "tflm_runs": 0})
            d["files"] += 1
            d["models"].add(r["model"])
            d["alone"] += len(ops) == 1
            d["tflm_runs"] += r.get("tflite_micro") == "runs"
    out = {
        op: {**d, "models": sorted(d["models"])}
        for op, d in sorted(per.items(), key=lambda kv: (-kv[1]["files"], -len(kv[1]["models"]), kv[0]))
    }
    return out, other


def summary(rows: list[dict]) -> dict:
    by_variant: dict[str, Counter] = defaultdict(Counter)
    c_counts: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        label = KIND_LABEL[(r["kind"], r["interface"])]
        by_variant[label][r["status"]] += 1
        by_variant["all"][r["status"]] += 1
        for t in TARGETS:
            res = r.get("c", {}).get(t, {}).get("result")
            if res is not None:
                c_counts[t][res.split(":")[0].split(" (")[0]] += 1
    ratios = [r["c"]["ram_ratio"] for r in rows if r.get("c", {}).get("ram_ratio")]
    blocks, other = missing_ops(rows)
    return {
        "files": len(rows),
        "models": len({r["model"] for r in rows}),
        "interpreter": {k: dict(v) for k, v in by_variant.items()},
        "c": {k: dict(v) for k, v in c_counts.items()},
        "ram_ratio": {"n": len(ratios), "min": min(ratios), "max": max(ratios), "median": float(np.median(ratios))}
        if ratios
        else None,
        "missing_ops": blocks,
        "other_refusals": dict(other.most_common()),
    }


def markdown(rows: list[dict], meta: dict, summ: dict) -> str:
    L = [
        "# Conformance: TensorFlow-converted models through picoml",
        "",
        f"{meta['date']}; `{meta['command']}`; corpus made with TensorFlow {meta['tensorflow']} "
        f"({meta['corpus']}); tflite-micro {meta['versions'].get('tflite-micro')}; {meta['runtime_s']:.0f} s.",
        "",
        "Interpreter: picoml's reference interpreter vs tflite-micro on **every** tensor the file computes "
        '(kPreserveAllTensors; "vs LiteRT": LiteRT\'s reference kernels with every tensor kept, where '
        "tflite-micro refuses the file or would write past its buffers), per input, over inputs chosen so their outputs differ (the cell says how many "
        "distinct outputs and, for classifiers, distinct argmax classes); integer tensors exactly, float tensors "
        f"within {FLOAT_RTOL:g} of the tensor's largest magnitude (float32 vs float64 accumulation order). "
        "C: `picoml.flows.verify` on the emulated core against the interpreter: integer outputs bit-exact, "
        "float outputs within verify's stated tolerance (`FLOAT_TOLERANCE`: float32 summation order; "
        "cortex-m4 hardware FPU, cortex-m0plus soft float). "
        "RAM ratio: verify's RAM on cortex-m4 (.data + .bss + measured stack) / tflite-micro's arena "
        "(`print_allocations`); the harness writes the input into and reads the output from the arena.",
        "",
        "## Summary",
        "",
        "| variant | files | " + " | ".join(STATUSES) + " |",
        "|---|---:|" + "---:|" * len(STATUSES),
    ]
    for label in list(KIND_LABEL.values()) + ["all"]:
        c = summ["interpreter"].get(label, {})
        L.append(f"| {label} | {sum(c.values())} | " + " | ".join(str(c.get(s, 0)) for s in STATUSES) + " |")
    L.append("")
    for t in TARGETS:
        c = summ["c"].get(t, {})
        L.append(f"- C on {t}: " + ", ".join(f"{v} {k}" for k, v in sorted(c.items())) if c else f"- C on {t}: not run")
    if summ["ram_ratio"]:
        rr = summ["ram_ratio"]
        L.append(
            f"- RAM picoml / tflite-micro arena over {rr['n']} models: median {rr['median']:.2f}, "
            f"min {rr['min']:.2f}, max {rr['max']:.2f}"
        )
    L += [
        "",
        "## Refusals at load, by missing op",
        "",
        "Files: corpus files picoml refuses for want of the op (alone: the only op missing); tflite-micro "
        "runs: how many of those files tflite-micro loads and invokes.",
        "",
        "| op | files | alone | tflite-micro runs | models |",
        "|---|---:|---:|---:|---|",
    ]
    for op, d in summ["missing_ops"].items():
        L.append(f"| {esc(op)} | {d['files']} | {d['alone']} | {d['tflm_runs']} | {esc(', '.join(d['models']))} |")
    if summ["other_refusals"]:
        L += ["", "Other refusals:", ""]
        L += [f"- {k}× {esc(msg)}" for msg, k in summ["other_refusals"].items()]
    L += ["", "## Per model", ""] + model_table(rows)
    L += [
        "",
        "## Every file",
        "",
        "| model | kind | ops | interpreter vs tflite-micro | C cortex-m4 | C cortex-m0plus | RAM ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        L.append(
            f"| {r['model']} | {KIND_LABEL[(r['kind'], r['interface'])]} | {esc(', '.join(r['ops']))} | "
            f"{esc(interp_cell(r))} | {esc(c_cell(r, TARGETS[0]))} | {esc(c_cell(r, TARGETS[1]))} | {ratio_cell(r)} |"
        )
    return "\n".join(L) + "\n"


STATUSES = [
    "exact",
    "within tolerance",
    "degenerate inputs",
    "mismatch",
    "refused",
    "oracle refused",
    "not converted",
    "error",
]


def run_all(corpus: Path, out: Path, only: list[str] | None, n: int, do_c: bool) -> dict:
    t0 = time.perf_counter()
    manifest = json.loads((corpus / "manifest.json").read_text())
    entries = [
        e
        for e in manifest["models"]
        if not only or e["model"] in only or e.get("file", "").removesuffix(".tflite") in only
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="conformance_") as tmp:
        for i, e in enumerate(entries):
            work = Path(tmp) / str(i)
            work.mkdir()
            try:
                r = check_model(e, corpus, n, do_c, work)
            except Exception as ex:  # noqa: BLE001 - never stop the run: one line per model
                r = {k: e.get(k) for k in ("model", "file", "group", "kind", "interface")}
                r.update(ops=sorted(set(e.get("ops", []))), c={}, status="error", detail=failure(ex))
            rows.append(r)
            label = e.get("file") or f"{e['model']} ({e['kind']}, {e['interface']} I/O)"
            c = "; ".join(f"{t}: {v['result'][:60]}" for t, v in r.get("c", {}).items() if isinstance(v, dict))
            print(
                f"[{time.perf_counter() - t0:6.0f} s] {label}: {interp_cell(r)[:150]}" + (f" | {c}" if c else ""),
                flush=True,
            )
    shown = ["benchmarks/conformance.py", "run"] + (["--only", *only] if only else []) + ([] if do_c else ["--no-c"])
    meta = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": ".venv/bin/python " + " ".join(shown),
        "corpus": os.path.relpath(corpus, C.ROOT) if corpus.is_relative_to(C.ROOT) else str(corpus),
        "tensorflow": manifest.get("tensorflow"),
        "inputs_per_model": n,
        "float_rtol": FLOAT_RTOL,
        "c_checked": do_c,
        **BC.machine(),
        "runtime_s": time.perf_counter() - t0,
    }
    summ = summary(rows)
    md = markdown(rows, meta, summ)
    out.mkdir(parents=True, exist_ok=True)
    (out / "conformance.md").write_text(md)
    (out / "conformance.json").write_text(json.dumps({**meta, "summary": summ, "rows": rows}, indent=1) + "\n")
    print(md)
    print(f"wrote {out / 'conformance.md'} and conformance.json ({meta['runtime_s']:.0f} s)")
    return {"meta": meta, "summary": summ, "rows": rows}
