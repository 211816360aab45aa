"""`picoml fit`: the most accurate model of a family that fits a board's flash and RAM.

The family is a bundled task's ``build_model`` or the user's own PyTorch factory on the user's
data (``--data DATA.npz --model MODULE:FACTORY``, ``picoml.tasks.user``); both go through this
one search. The space: the factory's keyword arguments (a bundled task: its channel width; a
user factory: its ``search_space``) × picoml's knobs — knowledge distillation from a trained
teacher, structured channel pruning, unstructured sparsity. Weights are int8 (picoml generates
int8 C).

Two ways to walk it: the whole grid (the bundled tasks' default), or ``trials=N`` candidates
proposed by Optuna's TPE sampler (seeded; the default for user tasks), with hopeless trials
pruned half-way through training by Optuna's median rule.

Cheap first, expensive last:

1. **lower bound** (milliseconds): the untrained model is converted and quantized with random
   calibration data (sizes do not depend on training); arena (``plan_memory``) + input/output
   buffers bound the RAM from below, the int8 constants bound the flash. A candidate over the
   budget on either is not compiled.
2. **measured size** (~1.5 s): the untrained int8 model is compiled for the budget's core and
   run once on the emulator: code, weights and .data bytes from the ELF, peak stack from the
   painted stack. These are the deployed sizes: the trained model has the same layers and
   shapes (sparse layers may only shrink, when quantization rounds more weights to zero).
   A candidate that does not fit is never trained.
3. **training** (seconds to minutes): only the candidates that fit, plus the teacher when a
   student needs it; scored on the validation split (selection) and the test split (report),
   int8 through picoml's reference interpreter.
4. **verify** (seconds): the best few are compiled, run on real test inputs on the emulated
   core (bit-exact check) and measured again; the pick is the best one whose measured sizes fit.

Every stage goes through ``runner.map(top_level_function, [picklable config, ...])``
(``picoml.flows.trials``): in this process, local worker processes or Ray tasks, with the same
result for the same seed.
"""

from __future__ import annotations

import inspect
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from picoml.errors import InputError
from picoml.flows.trials import (
    BATCH_SIZES,
    LocalRunner,
    RayRunner,
    SerialRunner,
    TrialRunner,
    measure,
    size_trial,
    train_trial,
    verify_trial,
)
from picoml.frontends.lowering import to_graph_layout
from picoml.quantize.ptq import quantize_input
from picoml.targets.catalog import BOARDS, TARGETS, Board
from picoml.tasks import TASKS, get_task
from picoml.tasks.user import UserTaskSpec

__all__ = [
    "BATCH_SIZES",
    "BUDGETS",
    "Budget",
    "Candidate",
    "FitResult",
    "LocalRunner",
    "RayRunner",
    "SerialRunner",
    "TrialRunner",
    "fit",
    "get_budget",
    "measure",
    "search_space",
    "size_trial",
    "train_trial",
    "verify_trial",
]

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


#: the named budgets: catalogue entries without a clock (small-32k) and the AVR Uno part, a real
#: target since issue 16 (sized with avr-gcc and simavr, no longer on a Cortex-M0+ stand-in)
BUDGETS: dict[str, Budget] = {
    b.name: board_budget(b) for b in BOARDS.values() if b.clock_hz is None or b.name == "atmega328p"
}


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


# --------------------------------------------------------------------------------- search space

KNOB_PRUNE = (0.0, 0.5)
KNOB_SPARSITY = (0.0, 0.5, 0.8)


@dataclass
class Candidate:
    """One point of the search space and what the search learned about it."""

    id: int
    arch: dict  # the factory's keyword arguments (bundled tasks: {"width": w})
    distill: bool
    prune: float  # fraction of channels removed (structured)
    sparsity: float  # fraction of weights zeroed (unstructured, per layer)
    params: int = 0
    macs: int = 0
    # sizes: lower bound, then measured on the untrained int8 model
    arena_bytes: int = 0
    const_bytes: int = 0
    measured: bool = False
    stack_bytes: int = 0
    data_bytes: int = 0
    code_bytes: int = 0
    weight_bytes: int = 0
    ram_bytes: int = 0  # .data + .bss (the arena: the model's input and output live in it) + peak stack
    flash_bytes: int = 0  # code + weights + .data initializers
    fits: bool | None = None
    status: str = "pending"  # too big | skipped | trained | teacher | pruned | failed
    why: str = ""
    val: float | None = None
    test: float | None = None
    float_test: float | None = None
    train_seconds: float = 0.0
    verified: dict | None = None

    @property
    def width(self) -> Any:
        return self.arch.get("width")

    def label(self) -> str:
        parts = [" ".join(_arch_label(k, v) for k, v in self.arch.items()) or "default"]
        parts.append("kd" if self.distill else "-")
        parts.append(f"prune {self.prune:.0%}" if self.prune else "-")
        parts.append(f"sparse {self.sparsity:.0%}" if self.sparsity else "-")
        return " ".join(parts)

    def size_key(self) -> tuple:
        return (tuple(sorted(self.arch.items())), self.prune, self.sparsity)

    def settings(self) -> dict:
        """The factory arguments and picoml's knobs of this candidate."""
        return {**self.arch, "distill": self.distill, "prune": self.prune, "sparsity": self.sparsity}


def _arch_label(k: str, v: Any) -> str:
    return f"w{v}" if k == "width" and isinstance(v, int) else f"{k}={v}"


def default_width(task_name: str) -> int:

    p = inspect.signature(get_task(task_name).build_model).parameters.get("width")
    if p is None or not isinstance(p.default, int):
        raise InputError(f"task {task_name!r}: its build_model has no integer width= to search over")
    return p.default


def arch_space(task: str | UserTaskSpec, quick: bool = False) -> tuple[dict[str, list], dict]:
    """The searched factory arguments (keyword → values) and the teacher's arguments.

    A bundled task: widths W/8 … 2W (quick: W/4 … W), teacher width W. A user factory: its
    ``search_space``; the teacher takes the factory's default for each searched keyword, or the
    list's last value when it has none (order each list from small to large)."""
    if isinstance(task, UserTaskSpec):
        mod = get_task(task)
        space = dict(mod.SEARCH_SPACE)
        params = inspect.signature(mod.factory).parameters
        teacher = {}
        for k, vals in space.items():
            p = params.get(k)
            teacher[k] = p.default if p is not None and p.default is not inspect.Parameter.empty else vals[-1]
        return space, teacher
    w = default_width(task)
    widths = (
        [max(1, w // 4), max(1, w // 2), w] if quick else [max(1, w // 8), max(1, w // 4), max(1, w // 2), w, 2 * w]
    )
    return {"width": sorted(set(widths))}, {"width": w}


def search_space(task: str | UserTaskSpec, quick: bool = False) -> list[Candidate]:
    """The grid of candidates: factory arguments × distillation × channel pruning × sparsity.

    Distillation (from the teacher, trained first) for every architecture smaller than the
    teacher's; channel pruning 0 / 50 %, sparsity 0 / 50 / 80 %. A bundled task's quick grid:
    six candidates around W/4 … W that still exercise every setting."""
    space, teacher = arch_space(task, quick)
    combos: list[tuple[dict, bool, float, float]] = []
    if quick and not isinstance(task, UserTaskSpec):
        w = teacher["width"]
        h, q = max(1, w // 2), max(1, w // 4)
        combos = [({"width": w}, False, 0.0, 0.0), ({"width": h}, False, 0.0, 0.0), ({"width": h}, True, 0.0, 0.0)]
        combos += [({"width": q}, True, 0.0, 0.0), ({"width": h}, True, 0.5, 0.0), ({"width": h}, True, 0.0, 0.5)]
    else:
        keys = list(space)
        for vals in itertools.product(*(space[k] for k in keys)):
            arch = dict(zip(keys, vals, strict=True))
            for kd in (False, True) if _smaller(arch, teacher) else (False,):
                for p in KNOB_PRUNE:
                    for s in KNOB_SPARSITY:
                        combos.append((arch, kd, p, s))
    return [Candidate(i, *c) for i, c in enumerate(combos)]


def _smaller(arch: dict, teacher: dict) -> bool:
    """Whether a student of this architecture may learn from the teacher (any other architecture;
    for widths, only narrower ones)."""
    if set(arch) == {"width"} and set(teacher) == {"width"}:
        return arch["width"] < teacher["width"]
    return arch != teacher


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
    strategy: str = "grid"  # or "optuna-tpe (N trials)"

    def _fmt(self, v: float | None) -> str:
        if v is None:
            return "-"
        return f"{100 * v:.2f}" if self.metric == "accuracy" else f"{v:.4f}"

    def table(self) -> str:
        """Every candidate tried: settings, sizes, fit, accuracy or why it was not trained."""
        m = "%" if self.metric == "accuracy" else "mse"
        lines = [
            f"picoml fit {self.task} on {self.budget.describe()}; search: {self.strategy}",
            f"weights: int8 only; RAM = arena (input and output in it) + stack (+ .data), flash = code + weights (+ .data); "
            f"sizes of every candidate measured on {self.budget.core} before training (untrained int8 model); "
            f"'~' = lower bound only (arena, int8 constants); selection on validation {self.metric}",
        ]
        head = (
            f"{'#':>3} {'width kd prune sparse':<26} {'params':>7} {'RAM B':>8} {'flash B':>8} {'fits':>4} "
            f"{'val ' + m:>7} {'test ' + m:>7}  note"
        )
        lines += [head, "-" * (len(head) + 30)]
        for c in self.candidates:
            ram = f"{c.ram_bytes:,}" if c.measured else f"~{c.arena_bytes:,}"
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
                    + (
                        f"{v['instructions']:,} instructions"
                        if v.get("instructions") is not None
                        else f"{v['cycles']:,} cycles (measured)"
                        if v.get("cycles") is not None
                        else "not run"
                    )
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

        chosen = None
        if self.pick is not None and self.pick.verified is not None:
            p, v = self.pick, self.pick.verified
            chosen = {
                "accuracy": p.test if self.metric == "accuracy" else None,
                "mse": p.test if self.metric == "mse" else None,
                "val": p.val,
                "fits": bool(p.fits),
                "bit_exact": bool(v.get("bit_exact")),
                "ram_bytes": v.get("ram_bytes"),
                "flash_bytes": v.get("flash_bytes"),
                "params": p.settings(),
                "n_params": p.params,
                "id": p.id,
            }
        return {
            "chosen": chosen,
            "trials": [cand(c) for c in self.candidates],
            "search": self.strategy,
            "task": self.task,
            "metric": self.metric,
            "budget": asdict(self.budget),
            "weight_bits": 8,
            "max_drop": self.max_drop,
            "pick": None if self.pick is None else cand(self.pick),
            "best_trained": None if self.best_trained is None else self.best_trained.id,
            "message": self.message,
            "seconds": self.seconds,
        }


# --------------------------------------------------------------------------------- the search

DEFAULT_TRIALS = 16  # a user task's Optuna trials when --trials is not given
MAX_TRIALS = 10_000


def _stderr(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _ram_parts(c: Candidate) -> str:
    parts = f"arena {c.arena_bytes:,} B + stack {c.stack_bytes:,} B"
    other = c.ram_bytes - c.arena_bytes - c.stack_bytes
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
    ram = c.ram_bytes if c.measured else c.arena_bytes
    flash = c.flash_bytes if c.measured else c.const_bytes
    return max(ram / b.ram_bytes, flash / b.flash_bytes)


class _Search:
    """The state one search shares between its stages: sizes by architecture, trained graphs, the teacher."""

    def __init__(self, task, mod, budget, runner, say, seed, epochs, ft_epochs, teacher_arch) -> None:
        self.task, self.mod, self.budget, self.runner, self.say = task, mod, budget, runner, say
        self.epochs, self.ft_epochs, self.teacher_arch = epochs, ft_epochs, teacher_arch
        self.base = {"task": task, "seed": seed, "core": budget.core, "ram_bytes": budget.ram_bytes}
        self.base["flash_bytes"] = budget.flash_bytes
        self.sizes: dict[tuple, dict] = {}
        self.qgraphs: dict[int, Any] = {}
        self.teacher_state: dict | None = None
        self.cands: list[Candidate] = []

    # ---- stages 1-2
    def size(self, cands: list[Candidate], measure_all: bool = False) -> None:
        keys = sorted({c.size_key() for c in cands if c.size_key() not in self.sizes}, key=repr)
        cfgs = [{**self.base, "arch": dict(k[0]), "prune": k[1], "sparsity": k[2]} for k in keys]
        if measure_all:
            for cfg in cfgs:
                cfg["measure"] = True
        self.sizes.update(zip(keys, self.runner.map(size_trial, cfgs), strict=True))
        for c in cands:
            self._apply(c, self.sizes[c.size_key()])
        # sparse weights only count when the generated C stores them sparsely: skip a sparsity
        # candidate that saves no flash over the same architecture with fewer zeros
        for c in cands:
            if c.fits and c.sparsity:
                denser = [
                    d
                    for d in self.cands
                    if d.fits
                    and (d.arch, d.prune, d.distill) == (c.arch, c.prune, c.distill)
                    and d.sparsity < c.sparsity
                ]
                if denser and min(d.flash_bytes for d in denser) <= c.flash_bytes:
                    d = min(denser, key=lambda d: d.flash_bytes)
                    c.status = "skipped"
                    c.why = (
                        f"not trained: sparsity saves no flash in the generated C ({c.flash_bytes:,} B vs "
                        f"{d.flash_bytes:,} B at {d.sparsity:.0%})"
                    )

    def _apply(self, c: Candidate, s: dict) -> None:
        b = self.budget
        if "error" in s:
            c.fits, c.status, c.why = False, "failed", f"not trained: {s['error']}"
            return
        for k in ("params", "macs", "arena_bytes", "const_bytes", "measured"):
            setattr(c, k, s[k])
        if s["measured"]:
            for k in ("stack_bytes", "data_bytes", "code_bytes", "weight_bytes", "ram_bytes", "flash_bytes"):
                setattr(c, k, s[k])
            c.fits = c.ram_bytes <= b.ram_bytes and c.flash_bytes <= b.flash_bytes
            if not c.fits:
                c.status, c.why = "too big", "not trained: too big (" + _shortfall(c, b) + ")"
            return
        c.fits, c.status = False, "too big"
        lo_ram, lo_flash = c.arena_bytes, c.const_bytes
        c.why = (
            "not trained: too big before compiling ("
            + (
                f"arena alone {_kb(lo_ram)} > {_kb(b.ram_bytes)} RAM"
                if lo_ram > b.ram_bytes
                else f"int8 constants alone {_kb(lo_flash)} > {_kb(b.flash_bytes)} flash"
            )
            + ")"
        )

    # ---- stage 3
    def cfg_of(self, c: Candidate, **extra: Any) -> dict:
        cfg = {**self.base, "arch": c.arch, "prune": c.prune, "sparsity": c.sparsity, "epochs": self.epochs}
        cfg.update(ft_epochs=self.ft_epochs, distill=c.distill, **extra)
        if c.distill:
            cfg.update(teacher=self.teacher_state, teacher_arch=self.teacher_arch)
        return cfg

    def record(self, c: Candidate, r: dict) -> None:
        c.train_seconds += r.get("seconds", 0.0)
        if "error" in r:
            c.status, c.why = "failed", f"training failed: {r['error']}"
            return
        c.val, c.test, c.float_test = r["val"], r["test"], r["float_test"]
        self.qgraphs[c.id] = r["q"]
        if c.fits:
            c.status = "trained"
        else:
            c.status = "teacher"
            c.why = "teacher only: " + c.why.removeprefix("not trained: ")

    def train_teacher(self, teacher: Candidate) -> None:
        r = self.runner.map(train_trial, [self.cfg_of(teacher, return_state=True)])[0]
        self.record(teacher, r)
        self.teacher_state = r.get("state")

    def fail_students(self, cands: list[Candidate]) -> None:
        for c in cands:
            c.status, c.why = "failed", "not trained: the teacher failed to train"

    # ---- the grid: every candidate
    def run_grid(self, cands: list[Candidate]) -> None:
        self.cands = cands
        t = time.perf_counter()
        n_arch = len({c.size_key() for c in cands})
        self.say(
            f"fit {_name(self.task)} for {self.budget.describe()}: {len(cands)} candidates, {n_arch} architectures to size"
        )
        self.size(cands)
        plausible = [c for c in cands if c.fits and c.status == "pending"]
        self.say(
            f"  sizes: {len(plausible)} of {len(cands)} candidates fit and will be trained ({time.perf_counter() - t:.0f} s)"
        )
        if not plausible:
            return
        teacher = next(
            c for c in cands if (c.arch, c.distill, c.prune, c.sparsity) == (self.teacher_arch, False, 0.0, 0.0)
        )
        students = [c for c in plausible if c.distill]
        phase_a = [c for c in plausible if not c.distill and c is not teacher]
        if students or teacher in plausible:
            self.say("  training the teacher" if students else "  training the default architecture")
            self.train_teacher(teacher)
        self.say(f"  training {len(phase_a)} candidate(s)")
        for c, r in zip(phase_a, self.runner.map(train_trial, [self.cfg_of(c) for c in phase_a]), strict=True):
            self.record(c, r)
        if students:
            if self.teacher_state is None:
                self.fail_students(students)
            else:
                self.say(f"  distilling {len(students)} student(s) from the teacher ({teacher.label()})")
                rs = self.runner.map(train_trial, [self.cfg_of(c) for c in students])
                for c, r in zip(students, rs, strict=True):
                    self.record(c, r)

    # ---- Optuna: ``trials`` candidates proposed by TPE, hopeless ones pruned half-way
    def run_tpe(self, space: dict[str, list], trials: int, seed: int, parallel: int) -> None:
        try:
            import optuna
        except ImportError:
            raise InputError("--trials needs Optuna: pip install 'picoml[fit]' (or pip install optuna)") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        maximize = self.mod.METRIC == "accuracy"
        study = optuna.create_study(
            direction="maximize" if maximize else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(8, trials // 3))),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
        )
        pruned_state = optuna.trial.TrialState.PRUNED
        rung = self.epochs // 2 if self.epochs >= 2 else 0
        seen: dict[tuple, Candidate] = {}
        self.say(
            f"fit {_name(self.task)} for {self.budget.describe()}: {trials} Optuna TPE trials over "
            f"{', '.join(space) or 'the factory defaults'} and picoml's knobs (seed {seed})"
        )
        # the teacher first (the factory's defaults, no knobs): trained in full whether or not it fits
        teacher = Candidate(0, dict(self.teacher_arch), False, 0.0, 0.0)
        self.cands.append(teacher)
        seen[self._key(teacher)] = teacher
        self.size([teacher])
        if teacher.status == "failed":
            raise InputError(
                f"--model {self.task.model if isinstance(self.task, UserTaskSpec) else self.task}: {teacher.why}"
            )
        self.say(f"  trial 0: the teacher ({teacher.label()}), {'fits' if teacher.fits else 'too big: teacher only'}")
        self.train_teacher(teacher)
        study.add_trial(self._frozen(optuna, teacher, space))
        done, asks = 1, 1
        while done < trials and asks < 10 * trials:
            batch = []
            for _ in range(min(parallel, trials - done)):
                t = study.ask()
                asks += 1
                arch = {k: t.suggest_categorical(k, vals) for k, vals in space.items()}
                kd = bool(t.suggest_categorical("distill", [False, True])) and _smaller(arch, self.teacher_arch)
                p = float(t.suggest_categorical("prune", list(KNOB_PRUNE)))
                s = float(t.suggest_categorical("sparsity", list(KNOB_SPARSITY)))
                c = Candidate(len(self.cands), arch, kd, p, s)
                if self._key(c) in seen:  # TPE proposed a point already tried: the same answer
                    old = seen[self._key(c)]
                    if old.val is not None and old.fits:
                        study.tell(t, old.val)
                    else:
                        study.tell(t, state=pruned_state)
                    continue
                seen[self._key(c)] = c
                self.cands.append(c)
                batch.append((t, c))
            if not batch:
                continue
            done += len(batch)
            self.size([c for _, c in batch])
            fitting = []
            for t, c in batch:
                if c.fits and c.status == "pending":
                    if c.distill and self.teacher_state is None:
                        self.fail_students([c])
                        study.tell(t, state=optuna.trial.TrialState.FAIL)
                    else:
                        fitting.append((t, c))
                else:
                    study.tell(t, state=pruned_state)  # never trained: TPE learns it is a bad region
            if not fitting:
                continue
            ids = f"{batch[0][1].id}" + (f"-{batch[-1][1].id}" if len(batch) > 1 else "")
            self.say(f"  trial(s) {ids}: training {len(fitting)} of {len(batch)} that fit")
            states: dict[int, dict] = {}
            if rung:
                rs = self.runner.map(train_trial, [self.cfg_of(c, epochs=rung, partial=True) for _, c in fitting])
                survivors = []
                for (t, c), r in zip(fitting, rs, strict=True):
                    c.train_seconds += r.get("seconds", 0.0)
                    if "error" in r:
                        c.status, c.why = "failed", f"training failed: {r['error']}"
                        study.tell(t, state=optuna.trial.TrialState.FAIL)
                        continue
                    t.report(r["val_float"], step=rung)
                    if t.should_prune():
                        c.status = "pruned"
                        c.why = (
                            f"pruned after {rung} of {self.epochs} epochs: float validation "
                            f"{_fmt_metric(self.mod.METRIC, r['val_float'])} below the median of earlier trials"
                        )
                        study.tell(t, state=pruned_state)
                        continue
                    states[c.id] = r["state"]
                    survivors.append((t, c))
                fitting = survivors
            cfgs = [self.cfg_of(c, epochs=self.epochs - rung, init_state=states.get(c.id)) for _, c in fitting]
            for (t, c), r in zip(fitting, self.runner.map(train_trial, cfgs), strict=True):
                self.record(c, r)
                if c.val is None:
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(t, c.val)

    @staticmethod
    def _key(c: Candidate) -> tuple:
        return (tuple(sorted(c.arch.items())), c.distill, c.prune, c.sparsity)

    def _frozen(self, optuna: Any, c: Candidate, space: dict[str, list]) -> Any:
        """The teacher as a finished trial Optuna learns from."""
        dist = {k: optuna.distributions.CategoricalDistribution(list(v)) for k, v in space.items()}
        dist["distill"] = optuna.distributions.CategoricalDistribution([False, True])
        dist["prune"] = optuna.distributions.CategoricalDistribution(list(KNOB_PRUNE))
        dist["sparsity"] = optuna.distributions.CategoricalDistribution(list(KNOB_SPARSITY))
        params = {**c.arch, "distill": False, "prune": 0.0, "sparsity": 0.0}
        if c.val is not None and c.fits:
            return optuna.trial.create_trial(params=params, distributions=dist, value=c.val)
        return optuna.trial.create_trial(params=params, distributions=dist, state=optuna.trial.TrialState.PRUNED)


def _name(task: str | UserTaskSpec) -> str:
    return task.name if isinstance(task, UserTaskSpec) else task


def fit(
    task: str | UserTaskSpec,
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
    trials: int | None = None,
    epochs: int | None = None,
) -> FitResult:
    """Search a model family for the most accurate int8 model that fits ``board``.

    ``task``: a bundled task's name, or ``UserTaskSpec(data, "MODULE:FACTORY")`` for the user's
    own data and PyTorch factory (``picoml.tasks.user``). ``board``: a ``Budget``, a built-in
    budget name (``small-32k``, ``atmega328p``) or a catalog board. ``max_drop``: accuracy points
    the pick may lose against the best trained candidate (selection is on validation accuracy);
    when no fitting candidate is that close, there is no pick and the message says so.
    ``runner``: where trials run (default ``LocalRunner(jobs)``; ``RayRunner`` for a Ray cluster).
    ``trials``: that many candidates proposed by Optuna's TPE sampler (default for a user task:
    16) instead of the whole grid (a bundled task's default). ``epochs``: training epochs per
    candidate (default: the task's). ``quick``: fewer candidates and epochs (smoke tests)."""

    user = isinstance(task, UserTaskSpec)
    if not user and (not isinstance(task, str) or task not in TASKS):
        raise InputError(
            f"fit searches a bundled task or --data/--model: unknown task {task!r} (one of {sorted(TASKS)})"
        )
    budget = get_budget(board)
    mod = get_task(task, seed)
    metric = mod.METRIC
    if max_drop is not None:
        if metric != "accuracy":
            raise InputError(f"--max-drop is in accuracy points; task {_name(task)!r} is scored by {metric}")
        if not isinstance(max_drop, (int, float)) or isinstance(max_drop, bool) or not 0 <= max_drop <= 100:
            raise InputError(f"--max-drop must be between 0 and 100 accuracy points, got {max_drop!r}")
    if user and trials is None:
        trials = DEFAULT_TRIALS
    for what, v in (("trials", trials), ("epochs", epochs)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_TRIALS):
            raise InputError(f"--{what} must be an integer 1 … {MAX_TRIALS}, got {v!r}")
    own = runner is None
    runner = runner if runner is not None else LocalRunner(jobs)
    try:
        return _fit(task, mod, budget, runner, progress, max_drop, seed, jobs, quick, n_verify, top_k, trials, epochs)
    finally:
        if own:
            runner.close()


def _fit(task, mod, budget, runner, progress, max_drop, seed, jobs, quick, n_verify, top_k, trials, epochs):
    metric = mod.METRIC
    say = progress or (lambda _m: None)
    sign = -1.0 if metric == "accuracy" else 1.0
    top_k = top_k or (1 if quick else 3)
    epochs = epochs or (mod.QUICK_EPOCHS if quick else mod.EPOCHS)
    ft_epochs = max(1, epochs // 3) if quick else max(2, epochs // 3)
    space, teacher_arch = arch_space(task, quick)
    search = _Search(task, mod, budget, runner, say, seed, epochs, ft_epochs, teacher_arch)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if trials is None:
        search.run_grid(search_space(task, quick))
    else:
        parallel = getattr(runner, "jobs", None) or getattr(runner, "workers", None) or jobs
        search.run_tpe(space, trials, seed, parallel)
    cands = search.cands
    seconds["search"] = time.perf_counter() - t0
    name = _name(task)
    args = (name, metric, budget, cands)

    if not any(c.fits for c in cands):
        # the closest candidate, measured in full for a precise message
        best = min((c for c in cands if c.status != "failed"), key=lambda c: _overshoot(c, budget), default=None)
        if best is None:
            return FitResult(*args, None, "no candidate could be built or converted (see the table)", max_drop)
        if not best.measured:
            search.sizes.pop(best.size_key(), None)
            search.size([best], measure_all=True)
            best.why = "not trained: too big (" + _shortfall(best, budget) + ")"
        msg = f"nothing fits {budget.name}: the smallest candidate ({best.label()}) {_shortfall(best, budget)}"
        return FitResult(*args, None, msg, max_drop, None, seconds, strategy=_strategy(trials))
    trained = [c for c in cands if c.val is not None]
    say(f"  trained {len(trained)} ({seconds['search']:.0f} s with sizing)")

    # ---- pick: best validation score among fitting candidates (ties: smaller RAM + flash)
    rank = sorted((c for c in trained if c.fits), key=lambda c: (sign * c.val, c.ram_bytes + c.flash_bytes, c.id))
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
            return FitResult(*args, None, msg, max_drop, best_trained, seconds, strategy=_strategy(trials))
        rank = within
    if not rank:
        msg = f"nothing fits {budget.name}: every candidate that fits failed to train"
        return FitResult(*args, None, msg, max_drop, best_trained, seconds, strategy=_strategy(trials))

    # ---- stage 4: verify the best few on the emulated core with real test inputs
    t0 = time.perf_counter()
    split = mod.load(seed)
    xg = to_graph_layout(split.x_test[:n_verify])
    top = rank[:top_k]
    say(f"  verifying the best {len(top)} on {budget.core} with {len(xg)} test inputs")
    q_of = search.qgraphs
    vcfgs = [{"core": budget.core, "q": q_of[c.id], "xs": quantize_input(q_of[c.id], xg)} for c in top]
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
        return FitResult(*args, None, msg, max_drop, best_trained, seconds, strategy=_strategy(trials))
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
    return FitResult(*args, pick, msg, max_drop, best_trained, seconds, q_of[pick.id], strategy=_strategy(trials))


def _strategy(trials: int | None) -> str:
    return "grid" if trials is None else f"optuna-tpe ({trials} trials)"


def _fmt_metric(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.2f} %" if metric == "accuracy" else f"{v:.5f} (mse)"
