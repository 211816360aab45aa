"""`picoml fit`: the most accurate model of a task's family that fits a board's flash and RAM.

The search space (per bundled task): channel width (multiples of the task's default
``build_model(width=...)``), knowledge distillation from a trained teacher on or off, structured
channel pruning, and unstructured sparsity. Weights are int8 only (picoml generates int8 C).

Cheap first, expensive last:

1. **lower bound** (milliseconds): the untrained model is converted and quantized with random
   calibration data (sizes do not depend on training); arena (``plan_memory``) + input/output
   buffers bound the RAM from below, the int8 constants bound the flash. A candidate over the
   budget on either is not compiled.
2. **measured size** (~1.5 s): the untrained int8 model is compiled for the budget's core and
   run once on the emulator: code, weights and .data bytes from the ELF, peak stack from the
   painted stack. These are the deployed sizes: the trained model has the same layers and
   shapes (sparse layers may only shrink, when quantization rounds more weights to zero).
3. **training** (seconds to minutes): only the candidates that fit, plus the teacher when a
   student needs it; scored on the validation split (selection) and the test split (report),
   int8 through picoml's reference interpreter.
4. **verify** (seconds): the best few are compiled, run on real test inputs on the emulated
   core (bit-exact check) and measured again; the pick is the best one whose measured sizes fit.

Every stage goes through ``runner.map(top_level_function, [picklable config, ...])`` and
nothing else, so a cluster runner (Ray, Dask, ...) is a small adapter: see docs/fit.md.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from picoml.compress.distill import distill
from picoml.compress.prune import prune, prune_channels, strip
from picoml.compress.train import fine_tune
from picoml.errors import InputError, PicomlError
from picoml.flows.verify import elf_sizes, random_inputs, verify
from picoml.frontends.lowering import to_graph_layout
from picoml.frontends.torch import from_torch
from picoml.graph.ops import op_macs
from picoml.plan import plan_memory
from picoml.quantize.ptq import quantize, quantize_input
from picoml.targets.catalog import BOARDS, TARGETS, Board
from picoml.tasks import TASKS, calibration_subset, get_task, int8_outputs
from picoml.tasks.train import count_params, predict, score
from picoml.tasks.train import fit as train_fit

# --------------------------------------------------------------------------------- budgets


@dataclass(frozen=True)
class Budget:
    """What a model may use: RAM and flash in bytes, and the core its sizes are measured on."""

    name: str
    ram_bytes: int
    flash_bytes: int
    core: str = "cortex-m0plus"
    note: str = ""

    @classmethod
    def custom(cls, ram_kb: float, flash_kb: float, core: str = "cortex-m0plus", name: str = "") -> Budget:
        """A budget from ``--ram KB --flash KB`` (1 KB = 1,024 bytes)."""

        for what, v in (("ram", ram_kb), ("flash", flash_kb)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
                raise InputError(f"--{what} must be a positive number of KB, got {v!r}")
        if core not in TARGETS or TARGETS[core].emulator is None:
            cores = [t.name for t in TARGETS.values() if t.emulator]
            raise InputError(f"unknown core {core!r} for a custom budget (one of {', '.join(cores)})")
        return cls(name or f"{ram_kb:g}KB-RAM/{flash_kb:g}KB-flash", int(ram_kb * 1024), int(flash_kb * 1024), core)

    def describe(self) -> str:
        s = f"{self.name}: {self.ram_bytes / 1024:g} KB RAM, {self.flash_bytes / 1024:g} KB flash, measured on {self.core}"
        return s + (f" ({self.note})" if self.note else "")


def board_budget(b: Board) -> Budget:
    """The budget of a catalogue board (picoml.targets.catalog: boards and fit's named budgets)."""
    return Budget(b.name, b.ram_bytes, b.flash_bytes, b.core, b.note)


#: the named budgets (catalogue entries without a clock: small-32k, atmega328p)
BUDGETS: dict[str, Budget] = {b.name: board_budget(b) for b in BOARDS.values() if b.clock_hz is None}


def get_budget(board: str | Budget) -> Budget:
    """A ``Budget`` from a built-in name (``small-32k``, ``atmega328p``) or a catalog board name."""

    if isinstance(board, Budget):
        if board.ram_bytes <= 0 or board.flash_bytes <= 0:
            raise InputError(f"budget {board.name!r}: RAM and flash must be positive")
        return board
    if not isinstance(board, str):
        raise InputError(f"board must be a name or a Budget, got {type(board).__name__}")
    if board in BOARDS:
        return board_budget(BOARDS[board])
    known = sorted(BUDGETS) + sorted(set(BOARDS) - set(BUDGETS))
    raise InputError(f"unknown board {board!r} (known: {', '.join(known)}; or give --ram KB --flash KB)")


# --------------------------------------------------------------------------------- runners


class TrialRunner(Protocol):
    """Runs ``fn(config)`` for every config and returns the results in the same order.

    ``fn`` is a top-level function of this module and every config is picklable (plain data,
    numpy arrays and picoml Graphs), so the calls can run in other processes or machines."""

    def map(self, fn: Callable[[dict], dict], configs: Sequence[dict]) -> list[dict]: ...


class SerialRunner:
    """Every trial in this process, one after another."""

    def map(self, fn: Callable[[dict], dict], configs: Sequence[dict]) -> list[dict]:
        return [fn(c) for c in configs]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # tiny models: one thread per process beats sharing the cores


class LocalRunner:
    """Trials in ``jobs`` worker processes on this machine (spawned; one torch thread each)."""

    def __init__(self, jobs: int = 2) -> None:
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise InputError(f"jobs must be an integer >= 1, got {jobs!r}")
        self.jobs = jobs

    def map(self, fn: Callable[[dict], dict], configs: Sequence[dict]) -> list[dict]:
        configs = list(configs)
        if len(configs) <= 1 or self.jobs == 1:
            return SerialRunner().map(fn, configs)
        ctx = multiprocessing.get_context("spawn")
        n = min(self.jobs, len(configs))
        try:
            with concurrent.futures.ProcessPoolExecutor(n, mp_context=ctx, initializer=_worker_init) as pool:
                return list(pool.map(fn, configs))
        except BrokenProcessPool:
            raise PicomlError(
                "a trial worker process died (out of memory, or a script that calls picoml.flows.fit without "
                "an `if __name__ == '__main__':` guard); retry with jobs=1"
            ) from None


# --------------------------------------------------------------------------------- search space


@dataclass
class Candidate:
    """One point of the search space and what the search learned about it."""

    id: int
    width: int
    distill: bool
    prune: float  # fraction of channels removed (structured)
    sparsity: float  # fraction of weights zeroed (unstructured, per layer)
    params: int = 0
    macs: int = 0
    # sizes: lower bound, then measured on the untrained int8 model
    arena_bytes: int = 0
    io_bytes: int = 0
    const_bytes: int = 0
    measured: bool = False
    stack_bytes: int = 0
    data_bytes: int = 0
    code_bytes: int = 0
    weight_bytes: int = 0
    ram_bytes: int = 0  # .data + .bss (arena, I/O buffers) + peak stack
    flash_bytes: int = 0  # code + weights + .data initializers
    fits: bool | None = None
    status: str = "pending"  # too big | skipped | trained | teacher | failed
    why: str = ""
    val: float | None = None
    test: float | None = None
    float_test: float | None = None
    train_seconds: float = 0.0
    verified: dict | None = None

    def label(self) -> str:
        parts = [f"w{self.width}"]
        parts.append("kd" if self.distill else "-")
        parts.append(f"prune {self.prune:.0%}" if self.prune else "-")
        parts.append(f"sparse {self.sparsity:.0%}" if self.sparsity else "-")
        return " ".join(parts)

    def size_key(self) -> tuple:
        return (self.width, self.prune, self.sparsity)


def default_width(task_name: str) -> int:

    p = inspect.signature(get_task(task_name).build_model).parameters.get("width")
    if p is None or not isinstance(p.default, int):
        raise InputError(f"task {task_name!r}: its build_model has no integer width= to search over")
    return p.default


def search_space(task_name: str, quick: bool = False) -> list[Candidate]:
    """The candidates tried for a task: widths × distillation × channel pruning × sparsity.

    Full: widths W/8 … 2W (W the task's default width), distillation from the width-W model for
    every narrower width, channel pruning 0 / 50 %, sparsity 0 / 50 / 80 %. Quick: six
    candidates around W/4 … W that still exercise every setting."""
    w = default_width(task_name)
    combos: list[tuple[int, bool, float, float]] = []
    if quick:
        h = max(1, w // 2)
        q = max(1, w // 4)
        combos = [(w, False, 0.0, 0.0), (h, False, 0.0, 0.0), (h, True, 0.0, 0.0), (q, True, 0.0, 0.0)]
        combos += [(h, True, 0.5, 0.0), (h, True, 0.0, 0.5)]
    else:
        widths = sorted({max(1, w // 8), max(1, w // 4), max(1, w // 2), w, 2 * w})
        for width in widths:
            for distill in (False, True) if width < w else (False,):
                for prune in (0.0, 0.5):
                    for sparsity in (0.0, 0.5, 0.8):
                        combos.append((width, distill, prune, sparsity))
    return [Candidate(i, *c) for i, c in enumerate(combos)]


# --------------------------------------------------------------------------------- trials

BATCH_SIZES = {"digits": 64, "activity": 8, "vowels": 16, "sine": 32}


def _torch1():
    import torch

    torch.set_num_threads(1)
    return torch


def _build(cfg: dict, task: Any, example: Any) -> Any:
    """The candidate's model before training: width, then channel pruning (sizes only), then masks."""
    torch = _torch1()

    torch.manual_seed(cfg["seed"])
    model = task.build_model(width=cfg["width"])
    model.eval()
    if cfg["prune"]:
        model = prune_channels(model, example, cfg["prune"], criterion="l1")
    if cfg["sparsity"]:
        strip(prune(model, sparsity=cfg["sparsity"], scope="layer"))
    return model


def _example(task: Any) -> Any:
    torch = _torch1()
    return torch.zeros((1,) + tuple(task.INPUT_SHAPE))


def measure(q: Any, core: str, xs: np.ndarray, counted_runs: int = 0) -> dict:
    """Compile ``q`` for ``core``, run ``xs`` on the emulator; sizes from the ELF and the stack.

    RAM = .data + .bss (arena, the harness's input/output buffers) + peak stack, as ``picoml
    verify`` counts it; flash = code + weights + .data initializers."""

    with tempfile.TemporaryDirectory() as d:
        rep = verify(q, core, xs=xs, work_dir=Path(d), counted_runs=counted_runs)
        sizes = elf_sizes(Path(d) / f"model_{core}.elf", "model_")
    return {
        "bit_exact": rep.bit_exact,
        "inputs": rep.inputs,
        "instructions": rep.instructions,
        "arena_bytes": rep.arena_bytes,
        "stack_bytes": rep.stack_bytes,
        "data_bytes": sizes.data_bytes,
        "bss_bytes": sizes.bss_bytes,
        "code_bytes": sizes.flash_code_bytes,
        "weight_bytes": sizes.flash_weights_bytes,
        "ram_bytes": rep.ram_bytes,
        "flash_bytes": sizes.flash_code_bytes + sizes.flash_weights_bytes + sizes.data_bytes,
    }


def size_trial(cfg: dict) -> dict:
    """Stages 1-2 for one architecture: lower bound, then (if it may fit, or ``measure``) measured sizes."""

    task = get_task(cfg["task"])
    example = _example(task)
    model = _build(cfg, task, example)
    g = from_torch(model, example)
    rng = np.random.default_rng(cfg["seed"])
    calib = to_graph_layout(rng.standard_normal((32,) + tuple(task.INPUT_SHAPE)).astype(np.float32))
    q = quantize(g, calib)
    out = {
        "params": count_params(model),
        "macs": int(sum(op_macs(op) for op in q.ops)),
        "arena_bytes": plan_memory(q).arena_bytes,
        "io_bytes": int(q.inputs[0].nbytes + q.outputs[0].nbytes),
        "const_bytes": int(sum(t.nbytes for t in q.constants)),
        "measured": False,
    }
    may_fit = out["arena_bytes"] + out["io_bytes"] <= cfg["ram_bytes"] and out["const_bytes"] <= cfg["flash_bytes"]
    if may_fit or cfg.get("measure"):
        out.update(measure(q, cfg["core"], random_inputs(q, 1, cfg["seed"])))
        out["measured"] = True
    return out


def _train_loop(model: Any, split: Any, teacher: Any, cfg: dict, epochs: int, lr: float, step_callback=None) -> None:

    metric = get_task(cfg["task"]).METRIC
    bs = BATCH_SIZES.get(cfg["task"], 32)
    masked = step_callback is not None  # masks change during training: no best-epoch restore
    if teacher is not None:
        distill(
            teacher,
            model,
            (split.x_train, split.y_train),
            temperature=4.0,
            alpha=0.7,
            loss="kd" if metric == "accuracy" else "mse",
            epochs=epochs,
            lr=lr,
            batch_size=bs,
            seed=cfg["seed"],
            val_data=None if masked else (split.x_val, split.y_val),
            restore_best=not masked,
            step_callback=step_callback,
            threads=1,
        )
    elif masked:
        fine_tune(
            model,
            (split.x_train, split.y_train),
            epochs=epochs,
            lr=lr,
            loss="ce" if metric == "accuracy" else "mse",
            batch_size=bs,
            seed=cfg["seed"],
            step_callback=step_callback,
            threads=1,
        )
    else:
        train_fit(model, split, metric=metric, epochs=epochs, lr=lr, batch_size=bs, seed=cfg["seed"], threads=1)


def train_trial(cfg: dict) -> dict:
    """Stage 3 for one candidate: train (or distill), channel-prune + fine-tune, sparsify + fine-tune,
    convert, int8 (PTQ), and score on validation and test with picoml's interpreter."""
    t0 = time.perf_counter()
    try:
        return _train_trial(cfg, t0)
    except PicomlError as e:
        return {"error": str(e), "seconds": time.perf_counter() - t0}


def _train_trial(cfg: dict, t0: float) -> dict:
    torch = _torch1()

    task = get_task(cfg["task"])
    split = task.load(cfg["seed"])
    example = torch.from_numpy(split.x_train[:1])
    teacher = None
    if cfg.get("teacher") is not None:
        teacher = task.build_model(width=cfg["teacher_width"])
        teacher.load_state_dict({k: torch.from_numpy(v) for k, v in cfg["teacher"].items()})
        teacher.eval()
    torch.manual_seed(cfg["seed"])
    model = task.build_model(width=cfg["width"])
    _train_loop(model, split, teacher, cfg, cfg["epochs"], 3e-3)
    if cfg["prune"]:
        model = prune_channels(model, example, cfg["prune"], criterion="l1")
        _train_loop(model, split, teacher, cfg, cfg["ft_epochs"], 2e-3)
    if cfg["sparsity"]:
        prune(
            model,
            sparsity=cfg["sparsity"],
            scope="layer",
            train=lambda m, cb: _train_loop(m, split, teacher, cfg, cfg["ft_epochs"], 1e-3, step_callback=cb),
        )
        strip(model)
    model.eval()
    g = from_torch(model, example)
    calib = to_graph_layout(calibration_subset(split.x_train, 256, cfg["seed"]))
    q = quantize(g, calib)
    out = {
        "val": score(task.METRIC, int8_outputs(q, to_graph_layout(split.x_val))[1], split.y_val),
        "test": score(task.METRIC, int8_outputs(q, to_graph_layout(split.x_test))[1], split.y_test),
        "float_test": score(task.METRIC, predict(model, split.x_test), split.y_test),
        "q": q,
    }
    if cfg.get("return_state"):
        out["state"] = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    out["seconds"] = time.perf_counter() - t0
    return out


def verify_trial(cfg: dict) -> dict:
    """Stage 4: the trained int8 model on the emulated core with real test inputs (bit-exact + sizes)."""
    try:
        return measure(cfg["q"], cfg["core"], cfg["xs"], counted_runs=min(2, len(cfg["xs"])))
    except PicomlError as e:
        return {"error": str(e)}


# --------------------------------------------------------------------------------- result


def _kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


@dataclass
class FitResult:
    task: str
    metric: str
    budget: Budget
    candidates: list[Candidate]
    pick: Candidate | None
    message: str
    max_drop: float | None = None
    best_trained: Candidate | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    graph: Any = None  # the picked int8 Graph

    def _fmt(self, v: float | None) -> str:
        if v is None:
            return "-"
        return f"{100 * v:.2f}" if self.metric == "accuracy" else f"{v:.4f}"

    def table(self) -> str:
        """Every candidate tried: settings, sizes, fit, accuracy or why it was not trained."""
        m = "%" if self.metric == "accuracy" else "mse"
        lines = [
            f"picoml fit {self.task} on {self.budget.describe()}",
            f"weights: int8 only; RAM = arena + I/O buffers + stack (+ .data), flash = code + weights (+ .data); "
            f"sizes of every candidate measured on {self.budget.core} before training (untrained int8 model); "
            f"'~' = lower bound only (arena + I/O, int8 constants); selection on validation {self.metric}",
        ]
        head = (
            f"{'#':>3} {'width kd prune sparse':<26} {'params':>7} {'RAM B':>8} {'flash B':>8} {'fits':>4} "
            f"{'val ' + m:>7} {'test ' + m:>7}  note"
        )
        lines += [head, "-" * (len(head) + 30)]
        for c in self.candidates:
            ram = f"{c.ram_bytes:,}" if c.measured else f"~{c.arena_bytes + c.io_bytes:,}"
            flash = f"{c.flash_bytes:,}" if c.measured else f"~{c.const_bytes:,}"
            fits = "-" if c.fits is None else ("yes" if c.fits else "no")
            note = c.why
            if self.pick is not None and c.id == self.pick.id:
                note = "PICK" + (f"; {note}" if note else "")
            lines.append(
                f"{c.id:>3} {c.label():<26} {c.params:>7,} {ram:>8} {flash:>8} {fits:>4} "
                f"{self._fmt(c.val):>7} {self._fmt(c.test):>7}  {note}"
            )
        lines.append("")
        for c in self.candidates:
            if c.verified and "error" not in c.verified:
                v = c.verified
                lines.append(
                    f"verified #{c.id} ({c.label()}) on {self.budget.core}, {v['inputs']} test inputs: "
                    f"bit-exact {'yes' if v['bit_exact'] else 'NO'}; RAM {v['ram_bytes']:,} B (arena "
                    f"{v['arena_bytes']:,} + stack {v['stack_bytes']:,} + I/O and .data "
                    f"{v['ram_bytes'] - v['arena_bytes'] - v['stack_bytes']:,}); flash {v['flash_bytes']:,} B "
                    f"(code {v['code_bytes']:,} + weights {v['weight_bytes']:,} + .data {v['data_bytes']:,}); "
                    f"{v['instructions']:,} instructions"
                )
        lines.append(self.message)
        if self.budget.note:
            lines.append(f"note: {self.budget.note}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        def cand(c: Candidate) -> dict:
            d = asdict(c)
            d["label"] = c.label()
            return d

        return {
            "task": self.task,
            "metric": self.metric,
            "budget": asdict(self.budget),
            "weight_bits": 8,
            "max_drop": self.max_drop,
            "pick": None if self.pick is None else cand(self.pick),
            "best_trained": None if self.best_trained is None else self.best_trained.id,
            "message": self.message,
            "candidates": [cand(c) for c in self.candidates],
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------------- the search


def _stderr(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _ram_parts(c: Candidate) -> str:
    parts = f"arena {c.arena_bytes:,} B + stack {c.stack_bytes:,} B + I/O {c.io_bytes:,} B"
    other = c.ram_bytes - c.arena_bytes - c.stack_bytes - c.io_bytes
    return parts + (f" + other {other:,} B" if other else "")


def _shortfall(c: Candidate, b: Budget) -> str:
    """'needs 2.6 KB RAM (arena … + stack … + I/O …) for 2.0 KB' (and/or flash)."""
    out = []
    if c.ram_bytes > b.ram_bytes:
        out.append(
            f"needs {_kb(c.ram_bytes)} RAM ({c.ram_bytes:,} B: {_ram_parts(c)}) for {_kb(b.ram_bytes)} "
            f"({b.ram_bytes:,} B), {c.ram_bytes - b.ram_bytes:,} B over"
        )
    if c.flash_bytes > b.flash_bytes:
        out.append(
            f"needs {_kb(c.flash_bytes)} flash ({c.flash_bytes:,} B: code {c.code_bytes:,} B + weights "
            f"{c.weight_bytes:,} B + .data {c.data_bytes:,} B) for {_kb(b.flash_bytes)} ({b.flash_bytes:,} B), "
            f"{c.flash_bytes - b.flash_bytes:,} B over"
        )
    return " and ".join(out)


def _overshoot(c: Candidate, b: Budget) -> float:
    ram = c.ram_bytes if c.measured else c.arena_bytes + c.io_bytes
    flash = c.flash_bytes if c.measured else c.const_bytes
    return max(ram / b.ram_bytes, flash / b.flash_bytes)


def fit(
    task: str,
    board: str | Budget,
    *,
    max_drop: float | None = None,
    seed: int = 0,
    jobs: int = 2,
    runner: TrialRunner | None = None,
    quick: bool = False,
    progress: Callable[[str], Any] | None = _stderr,
    n_verify: int = 10,
    top_k: int | None = None,
) -> FitResult:
    """Search ``task``'s model family for the most accurate int8 model that fits ``board``.

    ``board``: a ``Budget``, a built-in budget name (``small-32k``, ``atmega328p``) or a catalog
    board. ``max_drop``: accuracy points the pick may lose against the best trained candidate
    (selection is on validation accuracy); when no fitting candidate is that close, there is no
    pick and the message says so. ``runner``: where trials run (default ``LocalRunner(jobs)``).
    ``quick``: six candidates, a few epochs (smoke tests)."""

    if not isinstance(task, str) or task not in TASKS:
        raise InputError(f"fit searches a bundled task's model family: unknown task {task!r} (one of {sorted(TASKS)})")
    budget = get_budget(board)
    mod = get_task(task)
    metric = mod.METRIC
    if max_drop is not None:
        if metric != "accuracy":
            raise InputError(f"--max-drop is in accuracy points; task {task!r} is scored by {metric}")
        if not isinstance(max_drop, (int, float)) or isinstance(max_drop, bool) or not 0 <= max_drop <= 100:
            raise InputError(f"--max-drop must be between 0 and 100 accuracy points, got {max_drop!r}")
    runner = runner if runner is not None else LocalRunner(jobs)
    say = progress or (lambda _m: None)
    sign = -1.0 if metric == "accuracy" else 1.0
    top_k = top_k or (1 if quick else 3)
    epochs = mod.QUICK_EPOCHS if quick else mod.EPOCHS
    ft_epochs = max(2, epochs // 3) if not quick else max(1, epochs // 3)
    W = default_width(task)
    cands = search_space(task, quick)
    seconds: dict[str, float] = {}
    base = {"task": task, "seed": seed, "core": budget.core, "ram_bytes": budget.ram_bytes}
    base["flash_bytes"] = budget.flash_bytes

    # ---- stages 1-2: sizes of every distinct architecture (distillation does not change them)
    t0 = time.perf_counter()
    keys = sorted({c.size_key() for c in cands})
    say(f"fit {task} for {budget.describe()}: {len(cands)} candidates, {len(keys)} architectures to size")
    sizes = dict(
        zip(
            keys,
            runner.map(size_trial, [{**base, "width": w, "prune": p, "sparsity": s} for w, p, s in keys]),
            strict=True,
        )
    )

    def apply_sizes(c: Candidate, s: dict) -> None:
        for k in ("params", "macs", "arena_bytes", "io_bytes", "const_bytes", "measured"):
            setattr(c, k, s[k])
        if s["measured"]:
            for k in ("stack_bytes", "data_bytes", "code_bytes", "weight_bytes", "ram_bytes", "flash_bytes"):
                setattr(c, k, s[k])

    for c in cands:
        apply_sizes(c, sizes[c.size_key()])
        if not c.measured:
            c.fits, c.status = False, "too big"
            lo_ram, lo_flash = c.arena_bytes + c.io_bytes, c.const_bytes
            c.why = (
                "not trained: too big before compiling ("
                + (
                    f"arena + I/O alone {_kb(lo_ram)} > {_kb(budget.ram_bytes)} RAM"
                    if lo_ram > budget.ram_bytes
                    else f"int8 constants alone {_kb(lo_flash)} > {_kb(budget.flash_bytes)} flash"
                )
                + ")"
            )
        else:
            c.fits = c.ram_bytes <= budget.ram_bytes and c.flash_bytes <= budget.flash_bytes
            if not c.fits:
                c.status = "too big"
                c.why = "not trained: too big (" + _shortfall(c, budget) + ")"
    # sparse weights only count when the generated C stores them sparsely: skip a sparsity
    # candidate that saves no flash over the same architecture with fewer zeros
    for c in cands:
        if c.fits and c.sparsity:
            denser = [
                d
                for d in cands
                if d.fits and (d.width, d.prune, d.distill) == (c.width, c.prune, c.distill) and d.sparsity < c.sparsity
            ]
            if denser and min(d.flash_bytes for d in denser) <= c.flash_bytes:
                d = min(denser, key=lambda d: d.flash_bytes)
                c.status = "skipped"
                c.why = (
                    f"not trained: sparsity saves no flash in the generated C ({c.flash_bytes:,} B vs "
                    f"{d.flash_bytes:,} B at {d.sparsity:.0%})"
                )
    seconds["size"] = time.perf_counter() - t0
    plausible = [c for c in cands if c.fits and c.status == "pending"]
    say(f"  sizes: {len(plausible)} of {len(cands)} candidates fit and will be trained ({seconds['size']:.0f} s)")

    if not any(c.fits for c in cands):
        # the closest candidate, measured in full for a precise message
        best = min(cands, key=lambda c: _overshoot(c, budget))
        if not best.measured:
            apply_sizes(
                best,
                runner.map(
                    size_trial,
                    [{**base, "width": best.width, "prune": best.prune, "sparsity": best.sparsity, "measure": True}],
                )[0],
            )
            best.why = "not trained: too big (" + _shortfall(best, budget) + ")"
        msg = f"nothing fits {budget.name}: the smallest candidate ({best.label()}) {_shortfall(best, budget)}"
        return FitResult(task, metric, budget, cands, None, msg, max_drop, None, seconds)

    # ---- stage 3: training; the teacher (width W, plain) first when a student distills
    t0 = time.perf_counter()
    teacher = next(c for c in cands if (c.width, c.distill, c.prune, c.sparsity) == (W, False, 0.0, 0.0))
    need_teacher = any(c.distill for c in plausible)

    def cfg_of(c: Candidate, teacher_state=None) -> dict:
        cfg = {**base, "width": c.width, "prune": c.prune, "sparsity": c.sparsity, "epochs": epochs}
        cfg.update(ft_epochs=ft_epochs, distill=c.distill)
        if c is teacher:
            cfg["return_state"] = True
        if c.distill:
            cfg.update(teacher=teacher_state, teacher_width=W)
        return cfg

    phase_a = [c for c in plausible if not c.distill]
    if need_teacher and teacher not in phase_a:
        phase_a.insert(0, teacher)
    phase_b = [c for c in plausible if c.distill]
    qgraphs: dict[int, Any] = {}

    def record(c: Candidate, r: dict) -> None:
        c.train_seconds = r.get("seconds", 0.0)
        if "error" in r:
            c.status, c.why = "failed", f"training failed: {r['error']}"
            return
        c.val, c.test, c.float_test = r["val"], r["test"], r["float_test"]
        qgraphs[c.id] = r["q"]
        if c.fits:
            c.status = "trained"
        else:
            c.status = "teacher"
            c.why = "teacher only: " + c.why.removeprefix("not trained: ")

    say(f"  training {len(phase_a)} candidate(s)" + (" (teacher first)" if need_teacher else ""))
    res_a = runner.map(train_trial, [cfg_of(c) for c in phase_a])
    teacher_state = None
    for c, r in zip(phase_a, res_a, strict=True):
        record(c, r)
        if c is teacher:
            teacher_state = r.get("state")
    if phase_b:
        if teacher_state is None:
            for c in phase_b:
                c.status, c.why = "failed", "not trained: the teacher failed to train"
        else:
            say(f"  distilling {len(phase_b)} student(s) from the width-{W} teacher")
            for c, r in zip(phase_b, runner.map(train_trial, [cfg_of(c, teacher_state) for c in phase_b]), strict=True):
                record(c, r)
    seconds["train"] = time.perf_counter() - t0
    trained = [c for c in cands if c.val is not None]
    say(f"  trained {len(trained)} ({seconds['train']:.0f} s)")

    # ---- pick: best validation score among fitting candidates (ties: smaller RAM + flash)
    rank = sorted(
        (c for c in trained if c.fits),
        key=lambda c: (sign * c.val, c.ram_bytes + c.flash_bytes, c.id),
    )
    best_trained = min(trained, key=lambda c: (sign * c.val, c.id)) if trained else None
    if best_trained is not None and best_trained.why == "":
        best_trained.why = "best trained"
    if max_drop is not None and best_trained is not None:
        floor = best_trained.val - max_drop / 100
        within = [c for c in rank if c.val >= floor - 1e-12]
        if not within:
            closest = rank[0] if rank else None
            msg = (
                f"no candidate that fits {budget.name} is within {max_drop:g} points of the best trained "
                f"(#{best_trained.id} {best_trained.label()}: validation {100 * best_trained.val:.2f} %)"
            )
            if closest is not None:
                msg += (
                    f"; the most accurate that fits, #{closest.id} {closest.label()}, loses "
                    f"{100 * (best_trained.val - closest.val):.2f} points"
                )
            return FitResult(task, metric, budget, cands, None, msg, max_drop, best_trained, seconds)
        rank = within
    if not rank:
        msg = f"nothing fits {budget.name}: every candidate that fits failed to train"
        return FitResult(task, metric, budget, cands, None, msg, max_drop, best_trained, seconds)

    # ---- stage 4: verify the best few on the emulated core with real test inputs
    t0 = time.perf_counter()
    split = mod.load(seed)

    xg = to_graph_layout(split.x_test[:n_verify])
    top = rank[:top_k]
    say(f"  verifying the best {len(top)} on {budget.core} with {len(xg)} test inputs")
    vcfgs = [{"core": budget.core, "q": qgraphs[c.id], "xs": quantize_input(qgraphs[c.id], xg)} for c in top]
    for c, v in zip(top, runner.map(verify_trial, vcfgs), strict=True):
        c.verified = v
    seconds["verify"] = time.perf_counter() - t0
    pick = None
    for c in top:
        v = c.verified or {}
        if "error" in v:
            c.why = (c.why + "; " if c.why else "") + f"verify failed: {v['error']}"
        elif not v["bit_exact"]:
            c.why = (c.why + "; " if c.why else "") + "verify: C output differs from the reference"
        elif v["ram_bytes"] > budget.ram_bytes or v["flash_bytes"] > budget.flash_bytes:
            c.fits = False
            c.why = (c.why + "; " if c.why else "") + "measured after training: does not fit"
        elif pick is None:
            pick = c
    if pick is None:
        msg = f"no pick: none of the best {len(top)} fitting candidates verified (see the table)"
        return FitResult(task, metric, budget, cands, None, msg, max_drop, best_trained, seconds)
    v = pick.verified
    assert v is not None
    drop = ""
    if best_trained is not None and best_trained is not pick and metric == "accuracy":
        drop = f", {100 * (best_trained.val - pick.val):.2f} points below the best trained (#{best_trained.id})"
    msg = (
        f"pick #{pick.id} ({pick.label()}, int8): validation {_fmt_metric(metric, pick.val)}, test "
        f"{_fmt_metric(metric, pick.test)}{drop}; fits {budget.name}: RAM {v['ram_bytes']:,} / {budget.ram_bytes:,} B, "
        f"flash {v['flash_bytes']:,} / {budget.flash_bytes:,} B (measured on {budget.core})"
    )
    return FitResult(task, metric, budget, cands, pick, msg, max_drop, best_trained, seconds, qgraphs[pick.id])


def _fmt_metric(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.2f} %" if metric == "accuracy" else f"{v:.5f} (mse)"
