"""`picoml compress CONFIG`: a compression pipeline described in one TOML file.

The file names a bundled task (``picoml.tasks``), the starting model and a list of steps::

    task = "digits"
    seed = 0
    out = "build/compress/digits"
    [model]                 # task.build_model(**kwargs), trained with tasks.train.fit
    width = 16
    epochs = 20
    [[steps]]
    kind = "distill"        # student = task.build_model(**student), Hinton KD from the current model
    student = { width = 8 } # optional: lr_schedule = "cosine", shift = 1, noise = 0.1 (augmented transfer set)
    [[steps]]
    kind = "prune"          # unstructured magnitude pruning (masks stay on through later steps)
    sparsity = 0.8
    epochs = 5
    [[steps]]
    kind = "quantize"       # or "qat"
    [[steps]]
    kind = "compile"
    [[steps]]
    kind = "verify"
    targets = ["cortex-m4"]

Steps: ``train`` (more epochs on labels), ``distill``, ``prune``, ``prune_channels`` (float, in
PyTorch); ``quantize`` (PTQ), ``qat`` (quantization-aware training of the exported graph with
the pruning zeros held); ``compile`` (C library), ``verify`` (emulated cores). Float steps
must come before the int8 ones; ``prune_channels`` cannot follow ``prune`` (channel pruning
changes shapes, masks would not survive it).

After every step one row is printed and returned: the test metric measured by picoml's
reference interpreter on the step's Graph (float graph for float steps, int8 after
quantization), parameters (non-zero / total, of the graph's conv/dense weights and biases —
BatchNorm folded), weight flash bytes (float32 constants for float steps; the generated C's
weight arrays for int8), arena bytes (``plan_memory``), MACs, and cortex-m4 instructions
(emulated, a few test inputs) once the model is int8. Every step's model is saved in
``out/NN_kind/`` (``model.pt`` state dict with its pruning masks + ``model.tflite``, float or
int8) and the rows in ``out/steps.json``.

``load_config`` checks the whole file first: an unknown step or key, a value of the wrong
type, a missing task or misplaced step is one ``InputError`` line naming the file, the step
and the key.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import picoml.codegen as cg
from picoml.codegen.cemit import check_identifier
from picoml.codegen.generate import model_hash
from picoml.compress import prune as P
from picoml.compress.distill import augmentation, distill
from picoml.compress.prune import hold_zeros, load_state_dict
from picoml.compress.train import fine_tune, train_loop
from picoml.errors import InputError, PicomlError
from picoml.flows.verify import verify
from picoml.frontends.lowering import to_graph_layout
from picoml.frontends.tflite_writer import write_tflite
from picoml.frontends.torch import from_torch
from picoml.graph.ops import OP_SET
from picoml.outputs import check_writable_dir
from picoml.plan import plan_memory
from picoml.quantize.calibrate import calibration_inputs
from picoml.quantize.ptq import quantize as quantize_graph
from picoml.quantize.ptq import quantize_input
from picoml.reference import interpreter
from picoml.targets.catalog import get_target
from picoml.tasks import TASKS, calibration_subset, get_task, graph_macs, int8_outputs, score
from picoml.tasks.train import fit
from picoml.tasks.user import UserTaskSpec
from picoml.untrusted import for_terminal, read_toml

CONFIG_LIMIT = 1 << 20  # bytes of a TOML config

# ------------------------------------------------------------------------------------- schema
# key -> (allowed types, default). ``None`` default = optional and absent. Types are checked
# strictly (bool is not an int; an int is accepted where a float is expected).
_NUM = (int, float)
_TOP: dict[str, tuple[tuple[type, ...], Any]] = {
    "task": ((str,), None),
    "data": ((str,), None),  # a user's DATA.npz (picoml.tasks.user), relative to the config file
    "model_factory": ((str,), None),  # and its MODULE:FACTORY (a .py path: relative to the config file)
    "seed": ((int,), 0),
    "out": ((str,), None),
    "threads": ((int,), 1),
    "calibration_samples": ((int,), 256),
    "verify_inputs": ((int,), 3),
    "model": ((dict,), {}),
    "steps": ((list,), []),
}
_TRAINING = {"epochs": ((int,), None), "lr": (_NUM, None), "batch_size": ((int,), None)}
_MODEL = {**_TRAINING, "state_dict": ((str,), None)}  # + the task's build_model keywords
_FINETUNE = {
    **_TRAINING,
    "distill": ((bool,), True),  # fine-tune by distillation from the model before the step
    "temperature": (_NUM, 4.0),
    "alpha": (_NUM, 0.7),
}
_STEPS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "train": {**_TRAINING},
    "distill": {
        **_TRAINING,
        "student": ((dict,), None),
        "temperature": (_NUM, 4.0),
        "alpha": (_NUM, 0.7),
        "lr_schedule": ((str,), None),  # "constant" (default) or "cosine"
        "shift": ((int,), None),  # transfer-set augmentation: random shifts of up to this many pixels/frames
        "noise": (_NUM, None),  # ... and Gaussian input noise of this standard deviation
    },
    "prune": {
        **_FINETUNE,
        "sparsity": (_NUM, None),
        "n_m": ((list,), None),
        "schedule": ((str,), None),  # "polynomial" (gradual, default with epochs) or "constant" (one-shot)
        "scope": ((str,), "global"),
        "skip_first_last": ((bool,), True),
        "exclude": ((list,), []),
    },
    "prune_channels": {
        **_FINETUNE,
        "ratio": (_NUM, None),
        "criterion": ((str,), "l1"),
        "min_channels": ((int,), 1),
        "exclude": ((list,), []),
    },
    "quantize": {"method": ((str,), "minmax"), "calibration_samples": ((int,), None)},
    "qat": {**_TRAINING, "calibration_samples": ((int,), None)},
    "compile": {"target": ((str,), "cortex-m4"), "name": ((str,), "model"), "sparse": ((bool,), True)},
    "verify": {"targets": ((list,), ["cortex-m4", "cortex-m0plus"]), "inputs": ((int,), None)},
}
for _s in _STEPS.values():
    _s["kind"] = ((str,), None)
    _s["name"] = _s.get("name", ((str,), None))
FLOAT_STEPS = ("train", "distill", "prune", "prune_channels")
INT8_STEPS = ("quantize", "qat")
BACKEND_STEPS = ("compile", "verify")
_CHOICES = {
    "schedule": ("polynomial", "constant"),
    "scope": ("global", "layer"),
    "criterion": ("l1", "l2", "bn"),
    "method": ("minmax", "percentile", "mse"),
    "lr_schedule": ("constant", "cosine"),
}
# Inclusive ranges of numeric keys, checked with the types before any work starts: a value out
# of range would otherwise run for ever (epochs = 1e9) or allocate without bound (width = 1e8).
# A key listed with a float lower bound excludes it (lr > 0). Checked by _check_keys for every
# table (top level, [model], each step).
_RANGES: dict[str, tuple[float, float]] = {
    "epochs": (1, 10_000),
    "lr": (0.0, 10.0),
    "batch_size": (1, 65_536),
    "temperature": (0.0, 1000.0),
    "calibration_samples": (1, 1_000_000),
    "inputs": (1, 100_000),
    "verify_inputs": (1, 100_000),
    "threads": (1, 256),
    "seed": (0, 2**32 - 1),
    "shift": (0, 64),
    "noise": (0, 100),
    "min_channels": (1, 65_536),
    "alpha": (0, 1),
}
# build_model keywords of the bundled tasks
_MODEL_RANGES: dict[str, tuple[int, int]] = {"width": (1, 1024), "depth": (1, 64)}
MAX_MODEL_PARAMS = 10_000_000  # a bundled task's model, teacher or student; far above any MCU model
# training defaults per task (those of each task's own ``train``)
TRAIN_DEFAULTS = {
    "digits": {"lr": 3e-3, "batch_size": 64, "epochs": 20},
    "activity": {"lr": 3e-3, "batch_size": 8, "epochs": 60},
    "vowels": {"lr": 3e-3, "batch_size": 16, "epochs": 40},
    "sine": {"lr": 1e-2, "batch_size": 32, "epochs": 300},
}


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "a list", dict: "a table"}
    if types == _NUM:
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in types)


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _check_keys(src: str, where: str, table: dict, schema: dict, extra: tuple[str, ...] = ()) -> dict:
    """Unknown keys and wrong types in ``table``; returns the table with defaults filled in."""
    allowed = sorted(set(schema) | set(extra))
    for key, value in table.items():
        if key not in schema and key not in extra:
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; expected one of {', '.join(allowed)}"
            raise InputError(f"{src}: {where}: unknown key {key!r}{hint}")
        if key in schema:
            types, _ = schema[key]
            if not _type_ok(value, types):
                raise InputError(f"{src}: {where}: key {key!r} must be {_type_name(types)}, got {value!r}")
            if key in _CHOICES and value not in _CHOICES[key]:
                raise InputError(
                    f"{src}: {where}: key {key!r} must be one of {', '.join(_CHOICES[key])}, got {value!r}"
                )
            _in_range(src, where, key, value, _RANGES)
    out = {k: d for k, (_, d) in schema.items() if d is not None}
    out.update(table)
    return out


def _in_range(src: str, where: str, key: str, value: Any, ranges: dict) -> None:
    if key not in ranges or isinstance(value, bool) or not isinstance(value, int | float):
        return
    lo, hi = ranges[key]
    ok = (lo < value if isinstance(lo, float) else lo <= value) and value <= hi
    if not ok or value != value:  # NaN
        low = f"more than {lo:g}" if isinstance(lo, float) else f"{lo:,}"
        raise InputError(f"{src}: {where}: key {key!r} must be {low} to {hi:,}, got {value!r}")


def _check_model_size(src: str, where: str, task: Any, kw: dict) -> None:
    """Build the model a config describes (cheap: no training) so that a keyword the task's
    ``build_model`` rejects, or a model far too big, is reported before any work starts."""
    try:
        model = task.build_model(**kw)
        n = sum(p.numel() for p in model.parameters())
    except ImportError:
        return  # torch missing: the pipeline reports that itself
    except (TypeError, ValueError, RuntimeError) as e:
        raise InputError(
            f"{src}: {where}: cannot build the model with {kw}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if n > MAX_MODEL_PARAMS:
        raise InputError(
            f"{src}: {where}: the model {kw} has {n:,} parameters; picoml compress handles up to {MAX_MODEL_PARAMS:,}"
        )


def _model_kwargs(src: str, where: str, task: Any, table: dict, allow: tuple[str, ...] = ()) -> dict:
    """The ``build_model`` keywords in ``table`` (checked against its signature)."""
    params = inspect.signature(getattr(task, "factory", task.build_model)).parameters  # a user task: its factory
    kw = {}
    for key, value in table.items():
        if key in allow:
            continue
        if key not in params:
            allowed = sorted(set(params) | set(allow))
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f"; expected one of {', '.join(allowed)}"
            raise InputError(f"{src}: {where}: unknown key {key!r}{hint}")
        default = params[key].default
        if default is not inspect.Parameter.empty and default is not None and not _type_ok(value, (type(default),)):
            types = _NUM if type(default) is float else (type(default),)
            if not _type_ok(value, types):
                raise InputError(f"{src}: {where}: key {key!r} must be {_type_name(types)}, got {value!r}")
        _in_range(src, where, key, value, _MODEL_RANGES)
        kw[key] = value
    return kw


def validate_config(raw: dict, src: str = "<config>", base_dir: str | Path = ".") -> dict:
    """Check a parsed config (see the module docstring); returns it normalized, defaults filled in."""

    cfg = _check_keys(src, "top level", raw, _TOP)
    user = "data" in raw or "model_factory" in raw
    if user:
        if "task" in raw or "data" not in raw or "model_factory" not in raw:
            raise InputError(f"{src}: top level: give either 'task' or both 'data' and 'model_factory'")
        here = Path(base_dir)
        ref = cfg["model_factory"]
        mod, _, attr = ref.rpartition(":")
        if mod.endswith(".py") and not Path(mod).is_absolute():
            ref = f"{here / mod}:{attr}"
        spec = UserTaskSpec.of(here / cfg["data"], ref)
        cfg["task"] = UserTaskSpec(spec.data, spec.model, str(here.resolve()))  # module names: beside the config
        task = get_task(cfg["task"], cfg["seed"])
        cfg["out"] = cfg.get("out") or f"build/compress/{Path(cfg['data']).stem}"
    else:
        if "task" not in raw:
            raise InputError(
                f"{src}: top level: missing key 'task' (one of {', '.join(sorted(TASKS))}) or 'data' + 'model_factory'"
            )
        if cfg["task"] not in TASKS:
            raise InputError(
                f"{src}: top level: key 'task': unknown task {cfg['task']!r}; one of {', '.join(sorted(TASKS))}"
            )
        task = TASKS[cfg["task"]]
        cfg["out"] = cfg.get("out") or f"build/compress/{cfg['task']}"
    model = dict(cfg["model"])
    _check_keys(src, "[model]", {k: v for k, v in model.items() if k in _MODEL}, _MODEL)
    kw = _model_kwargs(src, "[model]", task, model, allow=tuple(_MODEL))
    _check_model_size(src, "[model]", task, kw)
    cfg["model"] = {"build": kw, **{k: v for k, v in model.items() if k in _MODEL}}
    steps = []
    seen_int8 = seen_masks = False
    for i, st in enumerate(cfg["steps"], 1):
        if not isinstance(st, dict):
            raise InputError(f"{src}: step {i}: must be a table ([[steps]] with kind = ...), got {st!r}")
        kind = st.get("kind")
        if kind is None:
            raise InputError(f"{src}: step {i}: missing key 'kind' (one of {', '.join(_STEPS)})")
        if kind not in _STEPS:
            near = difflib.get_close_matches(str(kind), list(_STEPS), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(f"{src}: step {i}: unknown kind {kind!r}{hint}; one of {', '.join(_STEPS)}")
        where = f"step {i} ({kind})"
        s = _check_keys(src, where, st, _STEPS[kind])
        if kind == "distill":
            if "student" not in st:
                raise InputError(f"{src}: {where}: missing key 'student' (build_model keywords, e.g. {{ width = 8 }})")
            s["student"] = _model_kwargs(src, f"{where} student", task, st["student"])
            _check_model_size(src, f"{where} student", task, s["student"])
            if "epochs" not in st:
                raise InputError(f"{src}: {where}: missing key 'epochs'")
        if kind == "train" and "epochs" not in st:
            raise InputError(f"{src}: {where}: missing key 'epochs'")
        if kind == "prune":
            if ("sparsity" in st) == ("n_m" in st):
                raise InputError(f"{src}: {where}: give exactly one of 'sparsity' or 'n_m'")
            if "sparsity" in st and not 0 <= s["sparsity"] < 1:
                raise InputError(f"{src}: {where}: key 'sparsity' must be in [0, 1), got {s['sparsity']!r}")
            if "n_m" in st and not (
                len(s["n_m"]) == 2 and all(_type_ok(v, (int,)) for v in s["n_m"]) and 0 < s["n_m"][0] < s["n_m"][1]
            ):
                raise InputError(f"{src}: {where}: key 'n_m' must be [N, M] with 0 < N < M, got {s['n_m']!r}")
            if s.get("schedule") == "polynomial" and not s.get("epochs"):
                raise InputError(f"{src}: {where}: key 'schedule': a polynomial schedule needs 'epochs'")
        if kind == "prune_channels":
            if "ratio" not in st:
                raise InputError(f"{src}: {where}: missing key 'ratio'")
            if not 0 < s["ratio"] < 1:
                raise InputError(f"{src}: {where}: key 'ratio' must be in (0, 1), got {s['ratio']!r}")
            if seen_masks:
                raise InputError(
                    f"{src}: {where}: cannot follow an unstructured 'prune' step (put prune_channels first)"
                )
        for key in ("exclude", "targets"):
            if key in s and not all(isinstance(v, str) for v in s[key]):
                raise InputError(f"{src}: {where}: key {key!r} must be a list of strings, got {s[key]!r}")
        if kind == "compile" and "name" in st:
            try:
                check_identifier(st["name"])
            except PicomlError as e:
                raise InputError(f"{src}: {where}: key 'name': {e}") from None
        if kind == "verify":
            for t in s["targets"]:
                try:
                    get_target(t)
                except PicomlError as e:
                    raise InputError(f"{src}: {where}: key 'targets': {e}") from None
        if kind in FLOAT_STEPS and seen_int8:
            raise InputError(f"{src}: {where}: a float step cannot follow quantize/qat (put it before them)")
        if kind in BACKEND_STEPS and not seen_int8:
            raise InputError(f"{src}: {where}: needs an int8 model: put a 'quantize' or 'qat' step before it")
        seen_int8 |= kind in INT8_STEPS
        seen_masks |= kind == "prune"
        steps.append(s)
    cfg["steps"] = steps
    return cfg


def load_config(path: str | Path) -> dict:
    """Read and validate a TOML pipeline config; every mistake is one ``InputError`` line."""
    p = Path(path)
    shown = for_terminal(p)
    raw = read_toml(p, "TOML config", CONFIG_LIMIT)
    cfg = validate_config(raw, shown, base_dir=p.parent)
    cfg["source"] = str(p)
    return cfg


# ------------------------------------------------------------------------------ measurements
def layer_params(g: Any) -> list[tuple[str, int, int, int]]:
    """(op name, weight count, non-zero weights, bias count) of every conv/dense layer of a graph."""
    rows = []
    for op in g.ops:
        d = OP_SET.get(op.type)
        if d is None or d.weights is None:
            continue
        w = op.inputs[d.weights.input]
        b = op.inputs[d.weights.bias] if len(op.inputs) > d.weights.bias else None
        wd = np.asarray(w.data) if w is not None and w.data is not None else np.zeros(0)
        nb = int(b.data.size) if b is not None and b.data is not None else 0
        rows.append((op.name, int(wd.size), int(np.count_nonzero(wd)), nb))
    return rows


def sparse_ideal_bytes(q: Any, dense_c_bytes: int) -> int:
    """Weight flash of a bitmask + non-zero values encoding of every int8 filter (computed, not generated).

    Dense C weight bytes minus the dense int8 filters plus, per filter, ceil(n/8) mask bytes and
    one byte per non-zero weight; biases and requantization rows unchanged."""
    dense = sparse = 0
    for op in q.ops:
        d = OP_SET.get(op.type)
        if d is not None and d.weights is not None:
            w = np.asarray(op.inputs[d.weights.input].data)
            dense += w.size
            sparse += (w.size + 7) // 8 + int(np.count_nonzero(w))
    return dense_c_bytes - dense + sparse


def _codegen_weights(q: Any, target: str | None, name: str = "model", sparse: bool = True) -> dict:
    """The generated C and its weight bytes: ``files``, ``bytes`` (as generated), ``dense_bytes``
    (the same model generated with dense weights) and ``encodings`` (codegen's per-layer report)."""
    isa = get_target(target).isa if target is not None else None
    compiled = cg.compile_c(q, name, isa, sparse=sparse)
    dense = compiled if not sparse else cg.compile_c(q, name, isa, sparse=False)
    keys = ("name", "type", "weights", "nonzeros", "encoding", "bytes", "dense_bytes", "requant_bytes")
    return {
        "files": compiled.files,
        "bytes": compiled.const_bytes,
        "dense_bytes": dense.const_bytes,
        "encodings": [{k: e.get(k) for k in (*keys, "dense_requant_bytes")} for e in compiled.encodings],
    }


# --------------------------------------------------------------------------------- pipeline
def stripped_copy(model: Any) -> Any:
    """A copy of ``model`` with its pruning masks baked in as plain weights; ``model`` keeps its masks."""

    return P.strip(copy.deepcopy(model))


class _State:
    def __init__(self, cfg: dict, task: Any, split: Any, progress: Callable[[str], Any]) -> None:
        self.cfg, self.task, self.split, self.progress = cfg, task, split, progress
        self.metric = task.METRIC
        self.model: Any = None  # torch model (masks attached while pruning)
        self.float_graph: Any = None
        self.q: Any = None  # int8 graph once quantized
        self.verify_cache: dict[tuple[str, str], dict] = {}
        self.example = None
        self.files: dict[str, str] = {}
        self.c_bytes: int | None = None

    # graphs and scores
    def export_float(self) -> Any:

        m = stripped_copy(self.model).eval()
        self.float_graph = from_torch(m, self.example)
        return self.float_graph

    def score(self, g: Any) -> float:

        x = to_graph_layout(self.split.x_test)
        if g.inputs[0].dtype == "int8":
            return score(self.metric, int8_outputs(g, x)[1], self.split.y_test)
        return score(self.metric, interpreter.run(g, x), self.split.y_test)

    def calibration(self, n: int | None) -> np.ndarray:

        n = n or self.cfg["calibration_samples"]
        return to_graph_layout(calibration_subset(self.split.x_train, n, self.cfg["seed"]))

    def verify(self, target: str, n: int) -> dict:

        key = (model_hash(self.q), target, n)
        if key not in self.verify_cache:
            xs = quantize_input(self.q, to_graph_layout(self.split.x_test[:n]))
            rep = verify(self.q, target, xs=xs)
            self.verify_cache[key] = rep.to_json()
        return self.verify_cache[key]

    def training(self, s: dict) -> dict:
        if isinstance(self.cfg["task"], UserTaskSpec):  # the factory's own epochs and batch size
            d = {"lr": 3e-3, "batch_size": self.task.BATCH_SIZE, "epochs": self.task.EPOCHS}
        else:
            d = TRAIN_DEFAULTS.get(self.cfg["task"], TRAIN_DEFAULTS["digits"])
        return {k: s.get(k) if s.get(k) is not None else d[k] for k in ("lr", "batch_size", "epochs")}


def _task_name(cfg: dict) -> str:
    t = cfg["task"]
    return t.name if isinstance(t, UserTaskSpec) else t


def _build(task: Any, kwargs: dict, seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    return task.build_model(**kwargs)


def _row(st: _State, index: int, kind: str, g: Any, seconds: float, note: str, weight_bytes: int, kind_bytes: str):

    lp = layer_params(g)
    row = {
        "step": index,
        "kind": kind,
        "metric": st.metric,
        "value": st.score(g),
        "params_nonzero": int(sum(nz + nb for _, _, nz, nb in lp)),
        "params_total": int(sum(n + nb for _, n, _, nb in lp)),
        "weights": int(sum(n for _, n, _, _ in lp)),
        "weights_nonzero": int(sum(nz for _, _, nz, _ in lp)),
        "weight_bytes": int(weight_bytes),
        "weight_bytes_kind": kind_bytes,
        "arena_bytes": int(plan_memory(g).arena_bytes),
        "macs": graph_macs(g),
        "instructions_cortex_m4": None,
        "dtype": "int8" if g.inputs[0].dtype == "int8" else "float32",
        "note": note,
        "seconds": round(seconds, 2),
    }
    row["sparsity"] = 1.0 - row["weights_nonzero"] / max(1, row["weights"])
    return row


def _fmt_row(r: dict) -> str:
    v = f"{100 * r['value']:.2f} %" if r["metric"] == "accuracy" else f"mse {r['value']:.5f}"
    ins = r.get("instructions_cortex_m4")
    text = (
        f"[{r['step']}] {r['kind']:<14} {r['metric']} {v}  params {r['params_nonzero']:,}/{r['params_total']:,} "
        f"non-zero  weights {r['weight_bytes']:,} B ({r['weight_bytes_kind']})  arena {r['arena_bytes']:,} B  "
        f"MACs {r['macs']:,}"
    )
    if ins is not None:
        text += f"  cortex-m4 {ins:,} instr"
    if r.get("note"):
        text += f"  — {r['note']}"
    return text + f" ({r['seconds']:.1f} s)"


def run_pipeline_config(
    path: str | Path, *, out_dir: str | Path | None = None, progress: Callable[[str], Any] = print
) -> list[dict]:
    """Run the pipeline of a TOML config file; returns (and prints) one row per step.

    ``out_dir`` overrides the file's ``out``. See the module docstring for the rows and files."""
    return run_pipeline(load_config(path), out_dir=out_dir, progress=progress)


def run_pipeline(cfg: dict, *, out_dir: str | Path | None = None, progress: Callable[[str], Any] = print) -> list[dict]:
    """Run a config already checked by ``validate_config`` / ``load_config`` (see ``run_pipeline_config``)."""
    import torch

    out = check_writable_dir(out_dir if out_dir is not None else cfg["out"])  # before any training
    prev = torch.get_num_threads()
    torch.set_num_threads(max(1, min(cfg["threads"], prev)))
    try:
        return _run(cfg, out, progress)
    finally:
        torch.set_num_threads(prev)


def _save_float(st: _State, d: Path, g: Any) -> dict[str, str]:
    import torch

    d.mkdir(parents=True, exist_ok=True)
    torch.save(st.model.state_dict(), d / "model.pt")
    write_tflite(g, d / "model.tflite")
    return {"state_dict": str(d / "model.pt"), "tflite": str(d / "model.tflite")}


def _run(cfg: dict, out: Path, progress: Callable[[str], Any]) -> list[dict]:
    import torch

    t_all = time.perf_counter()
    seed = cfg["seed"]
    task = get_task(cfg["task"], seed)
    split = task.load(seed)
    st = _State(cfg, task, split, progress)
    st.example = torch.from_numpy(split.x_train[:1])
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    n_steps = len(cfg["steps"])
    progress(f"picoml compress: task {_task_name(cfg)} ({split.sizes()} train/val/test), {n_steps} steps -> {out}")

    # step 0: the starting model
    t0 = time.perf_counter()
    m = cfg["model"]
    if not m.get("state_dict"):
        progress(f"[0] model          training {st.training(m)['epochs']} epochs ...")
    st.model = _build(task, m["build"], seed)
    tr = st.training(m)
    if m.get("state_dict"):
        try:
            sd = torch.load(m["state_dict"], map_location="cpu", weights_only=True)
            load_state_dict(st.model, sd)
        except (OSError, RuntimeError) as e:
            raise InputError(f"{cfg.get('source', '<config>')}: [model]: key 'state_dict': {e}") from None
        note = f"loaded {m['state_dict']}"
    else:
        fit(st.model, split, metric=st.metric, epochs=tr["epochs"], lr=tr["lr"], batch_size=tr["batch_size"], seed=seed)
        note = f"trained {tr['epochs']} epochs"
    g = st.export_float()
    r = _row(st, 0, "model", g, time.perf_counter() - t0, note, sum(t.nbytes for t in g.constants), "float32")
    r["files"] = _save_float(st, out / "00_model", g)
    rows.append(r)
    progress(_fmt_row(r))

    for i, s in enumerate(cfg["steps"], 1):
        t0 = time.perf_counter()
        kind = s["kind"]
        d = out / f"{i:02d}_{kind}"
        note = ""
        progress(f"[{i}] {kind:<14} running (step {i} of {n_steps}) ...")  # long steps show where they are
        if kind in FLOAT_STEPS:
            note = _float_step(st, s, seed + i)
            g = st.export_float()
            r = _row(st, i, kind, g, 0.0, note, sum(t.nbytes for t in g.constants), "float32")
            r["files"] = _save_float(st, d, g)
        else:
            if kind == "quantize":
                st.q = quantize_graph(st.float_graph, st.calibration(s.get("calibration_samples")), method=s["method"])
                note = f"PTQ ({s['method']})"
            elif kind == "qat":
                note = _qat(st, s, seed)
            target = s.get("target", "cortex-m4") if kind == "compile" else "cortex-m4"
            cg = _codegen_weights(st.q, target, s.get("name") or "model", s.get("sparse", True))
            r = _row(st, i, kind, st.q, 0.0, note, cg["bytes"], f"int8 C for {target}")
            r["weight_bytes_dense_c"] = cg["dense_bytes"]
            r["sparse_ideal_bytes"] = sparse_ideal_bytes(st.q, cg["dense_bytes"])
            r["layer_encodings"] = cg["encodings"]
            files = cg["files"]
            d.mkdir(parents=True, exist_ok=True)

            write_tflite(st.q, d / "model.tflite")
            r["files"] = {"tflite": str(d / "model.tflite")}
            if kind == "compile":
                for fname, text in files.items():
                    (d / fname).write_text(text)
                r["files"]["c"] = str(d)
            n_ver = s.get("inputs") or cfg["verify_inputs"]
            rep = st.verify("cortex-m4", n_ver)
            r["instructions_cortex_m4"] = rep["instructions"]
            if kind == "verify":
                r["verify"] = {}
                for t in s["targets"]:
                    rep = st.verify(t, n_ver)
                    r["verify"][t] = {
                        k: rep[k]
                        for k in (
                            "bit_exact",
                            "mismatches",
                            "inputs",
                            "instructions",
                            "instructions_per_mac",
                            "flash_code_bytes",
                            "flash_weights_bytes",
                            "ram_bytes",
                            "first_mismatch",
                        )
                    }
                bad = [t for t, v in r["verify"].items() if not v["bit_exact"]]
                r["note"] = (
                    "bit-exact on " + ", ".join(s["targets"]) if not bad else "NOT bit-exact on " + ", ".join(bad)
                )
        r["seconds"] = round(time.perf_counter() - t0, 2)
        rows.append(r)
        progress(_fmt_row(r))
    summary = {
        "task": _task_name(cfg),
        "seed": seed,
        "config": {k: (_task_name(cfg) if k == "task" else v) for k, v in cfg.items() if k != "source"},
        "source": cfg.get("source"),
        "seconds": round(time.perf_counter() - t_all, 1),
        "steps": rows,
    }
    (out / "steps.json").write_text(json.dumps(summary, indent=1, default=str))
    bad = [r for r in rows if "verify" in r and not all(v["bit_exact"] for v in r["verify"].values())]
    if bad:
        raise PicomlError(f"compress: step {bad[0]['step']} (verify): {bad[0]['note']} (see {out / 'steps.json'})")
    return rows


def _float_step(st: _State, s: dict, seed: int) -> str:
    """Run one PyTorch-side step on ``st.model``; returns a note for the row."""

    kind, split = s["kind"], st.split
    tr = st.training(s)
    data = (split.x_train, split.y_train)
    loss = "kd" if st.metric == "accuracy" else "mse"
    common = {"lr": tr["lr"], "batch_size": tr["batch_size"], "seed": seed, "threads": 1}

    def finetune(model: Any, teacher: Any, epochs: int, cb: Any = None, best: bool = False) -> None:
        if s.get("distill", True):
            distill(
                teacher,
                model,
                data,
                temperature=float(s["temperature"]),
                alpha=float(s["alpha"]),
                epochs=epochs,
                loss=loss,
                step_callback=cb,
                val_data=(split.x_val, split.y_val),
                restore_best=best,
                **common,
            )
        else:
            fine_tune(model, data, epochs=epochs, loss="ce" if loss == "kd" else "mse", step_callback=cb, **common)

    if kind == "train":
        if P.get_masks(st.model):
            fine_tune(st.model, data, epochs=tr["epochs"], loss="ce" if loss == "kd" else "mse", **common)
        else:
            fit(
                st.model,
                split,
                metric=st.metric,
                epochs=tr["epochs"],
                lr=tr["lr"],
                batch_size=tr["batch_size"],
                seed=seed,
            )
        return f"{tr['epochs']} more epochs on labels"
    if kind == "distill":
        teacher = st.model
        student = _build(st.task, s["student"], seed)
        schedule = s.get("lr_schedule") or "constant"
        shift, noise = s.get("shift") or 0, float(s.get("noise") or 0.0)
        distill(
            teacher,
            student,
            data,
            temperature=float(s["temperature"]),
            alpha=float(s["alpha"]),
            epochs=tr["epochs"],
            loss=loss,
            val_data=(split.x_val, split.y_val),
            restore_best=True,
            augment=augmentation(shift, noise),
            lr_schedule=schedule,
            **common,
        )
        st.model = student
        extra = (", cosine LR" if schedule == "cosine" else "") + (
            f", transfer set augmented (shift {shift}, noise {noise:g})" if shift or noise else ""
        )
        return (
            f"student {s['student']} distilled {tr['epochs']} epochs (T={s['temperature']}, alpha={s['alpha']}{extra})"
        )
    if kind == "prune_channels":
        teacher = st.model
        st.model = P.prune_channels(
            teacher,
            st.example,
            float(s["ratio"]),
            criterion=s["criterion"],
            min_channels=s["min_channels"],
            exclude=s["exclude"],
        )
        if s.get("epochs"):
            finetune(st.model, teacher, s["epochs"], best=True)
        return f"{100 * s['ratio']:.0f}% of channels removed ({s['criterion']})" + (
            f", fine-tuned {s['epochs']} epochs" + (" by distillation" if s["distill"] else "")
            if s.get("epochs")
            else ""
        )
    # unstructured
    teacher = copy.deepcopy(st.model).eval()
    epochs = s.get("epochs") or 0
    kw = {"scope": s["scope"], "exclude": s["exclude"], "skip_first_last": s["skip_first_last"]}
    if "n_m" in s:
        P.prune(st.model, n_m=tuple(s["n_m"]), **kw)
        if epochs:
            finetune(st.model, teacher, epochs)
        what = f"{s['n_m'][0]}:{s['n_m'][1]} pattern"
    elif epochs and s.get("schedule", "polynomial") == "polynomial":
        steps_per_epoch = -(-len(split.x_train) // tr["batch_size"])
        total = epochs * steps_per_epoch
        end = max(1, int(round(0.7 * total)))
        sched = P.PolynomialDecay(0.0, float(s["sparsity"]), 0, end, max(1, steps_per_epoch // 4))
        P.prune(st.model, schedule=sched, train=lambda m, cb: finetune(m, teacher, epochs, cb), **kw)
        what = f"{100 * s['sparsity']:.0f}% sparsity ({s['scope']}, gradual over {epochs} epochs)"
    else:
        P.prune(st.model, float(s["sparsity"]), **kw)
        if epochs:
            finetune(st.model, teacher, epochs)
        what = f"{100 * s['sparsity']:.0f}% sparsity ({s['scope']}, one-shot" + (
            f", {epochs} fine-tuning epochs)" if epochs else ")"
        )
    return what + (", first/last layers dense" if s["skip_first_last"] else "")


def _qat(st: _State, s: dict, seed: int) -> str:
    """Quantization-aware training of the exported float graph, pruning zeros held; sets ``st.q``."""
    import torch

    from picoml.compress import qat as Q  # imports torch: loaded only when a qat step runs

    tr = st.training(s)
    epochs = s.get("epochs") or 3
    calib = st.calibration(s.get("calibration_samples"))
    loss = "cross_entropy" if st.metric == "accuracy" else "mse"
    torch.manual_seed(seed)
    model = Q.QATModel(st.float_graph, calib)
    held = hold_zeros(model)
    x = torch.from_numpy(calibration_inputs(model.graph, to_graph_layout(st.split.x_train))[0])
    y = Q._targets(model, st.split.y_train, len(x), loss)
    lr = s.get("lr") or 5e-4
    logits = loss == "cross_entropy"
    train_loop(
        model,
        (x, y),
        lambda xb, yb: Q._loss(model, model(xb, logits=logits), yb, loss),
        epochs=epochs,
        lr=lr,
        batch_size=tr["batch_size"],
        seed=seed,
    )
    st.q = model.to_int8()
    return f"QAT {epochs} epochs (lr {lr:g})" + (f", zeros held in {len(held)} weight tensors" if held else "")


__all__ = [
    "FLOAT_STEPS",
    "layer_params",
    "load_config",
    "run_pipeline",
    "run_pipeline_config",
    "sparse_ideal_bytes",
    "validate_config",
]
