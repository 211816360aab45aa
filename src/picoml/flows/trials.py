"""The trials of ``picoml fit`` and the runners that execute them.

Every stage of the search goes through ``runner.map(trial_function, [config, ...])`` and
nothing else. The trial functions are top-level functions of this module and every config is
plain picklable data (numbers, strings, dicts, numpy arrays, picoml Graphs, and a task: a
bundled task's name or a ``UserTaskSpec``), so a trial runs the same in this process, in a
local worker process (``LocalRunner``) or as a Ray task on a cluster (``RayRunner``): the same
config gives the same result (training is seeded and single-threaded).

Configs: ``task``, ``seed``, ``core``, ``ram_bytes``, ``flash_bytes``, ``arch`` (the model
factory's keyword arguments), ``prune`` (fraction of channels removed), ``sparsity`` (fraction
of weights zeroed); for training also ``epochs``, ``ft_epochs``, ``distill`` with ``teacher``
(a state dict) and ``teacher_arch``, ``init_state`` (continue from these weights) and
``partial`` (stop after the main training and return the float validation score and the
weights: the first rung of trial pruning).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
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
from picoml.quantize.ptq import quantize
from picoml.tasks import calibration_subset, get_task, int8_outputs
from picoml.tasks.train import count_params, predict, score
from picoml.tasks.train import fit as train_fit

# --------------------------------------------------------------------------------- runners


class TrialRunner(Protocol):
    """Runs ``fn(config)`` for every config and returns the results in the same order."""

    def map(self, fn: Callable[[dict], dict], configs: Sequence[dict]) -> list[dict]: ...


class SerialRunner:
    """Every trial in this process, one after another."""

    def map(self, fn: Callable[[dict], dict], configs: Sequence[dict]) -> list[dict]:
        return [fn(c) for c in configs]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # tiny models: one thread per process beats sharing the cores


class LocalRunner:
    """Trials in ``jobs`` worker processes on this machine (spawned; one torch thread each). The
    workers live from the first parallel ``map`` to ``close`` (Optuna's small batches would
    otherwise pay a process start and a torch import each)."""

    def __init__(self, jobs: int = 2) -> None:
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise InputError(f"jobs must be an integer >= 1, got {jobs!r}")
        self.jobs = jobs
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[dict], dict], configs: Sequence[dict]) -> list[dict]:
        configs = list(configs)
        if len(configs) <= 1 or self.jobs == 1:
            return SerialRunner().map(fn, configs)
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_worker_init)
        try:
            return list(self._pool.map(fn, configs))
        except BrokenProcessPool:
            self._pool = None
            raise PicomlError(
                "a trial worker process died (out of memory, or a script that calls picoml.flows.fit without "
                "an `if __name__ == '__main__':` guard); retry with jobs=1"
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self) -> None:  # a runner dropped without close(): do not wait for the workers
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class RayRunner:
    """Trials as Ray tasks (one CPU each). ``address="local"`` starts a Ray cluster on this machine
    with ``workers`` CPUs (and shuts it down on ``close``); any other address joins that cluster
    (``ray.init(address=...)``): its workers need picoml installed and the user's data and model
    files at the same paths. Ray is an optional extra (``pip install picoml[fit]``)."""

    def __init__(self, address: str = "local", workers: int = 2) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise InputError(f"workers must be an integer >= 1, got {workers!r}")
        try:
            import ray
        except ImportError:
            raise InputError("--ray needs Ray: pip install 'picoml[fit]' (or pip install ray)") from None
        self._ray = ray
        env = {k: os.environ[k] for k in ("PYTHONPATH", "PICOML_MODELS") if k in os.environ}
        env["OMP_NUM_THREADS"] = "1"
        self._owned = address == "local"
        try:
            if self._owned:
                ray.init(
                    num_cpus=workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    runtime_env={"env_vars": env},
                )
            else:
                ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False)
        except Exception as e:  # Ray's own errors: a bad address, a cluster already running here
            raise InputError(
                f"--ray {address}: could not start or join a Ray cluster: {type(e).__name__}: {e}"
            ) from None

    def map(self, fn: Callable[[dict], dict], configs: Sequence[dict]) -> list[dict]:
        remote = self._ray.remote(num_cpus=1, max_retries=0)(fn)
        return list(self._ray.get([remote.remote(c) for c in configs]))

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()


# --------------------------------------------------------------------------------- trials

BATCH_SIZES = {"digits": 64, "activity": 8, "vowels": 16, "sine": 32}


def _torch1():
    import torch

    torch.set_num_threads(1)
    return torch


def batch_size(task: Any, cfg: dict) -> int:
    """A user task's own batch size, a bundled task's from the table, else 32."""
    return getattr(task, "BATCH_SIZE", None) or BATCH_SIZES.get(cfg["task"], 32)


def _example(task: Any) -> Any:
    torch = _torch1()
    return torch.zeros((1,) + tuple(task.INPUT_SHAPE))


def _build(cfg: dict, task: Any, example: Any) -> Any:
    """The candidate's model before training: the architecture, then channel pruning (sizes only), then masks."""
    torch = _torch1()

    torch.manual_seed(cfg["seed"])
    model = task.build_model(**cfg["arch"])
    model.eval()
    if cfg["prune"]:
        model = prune_channels(model, example, cfg["prune"], criterion="l1")
    if cfg["sparsity"]:
        strip(prune(model, sparsity=cfg["sparsity"], scope="layer"))
    return model


def measure(q: Any, core: str, xs: np.ndarray, counted_runs: int = 0) -> dict:
    """Compile ``q`` for ``core``, run ``xs`` on the emulator; sizes from the ELF and the stack.

    RAM = .data + .bss (the arena, which holds the input and output: the harness is zero-copy) + peak stack, as ``picoml
    verify`` counts it; flash = code + weights + .data initializers."""

    with tempfile.TemporaryDirectory() as d:
        rep = verify(q, core, xs=xs, work_dir=Path(d), counted_runs=counted_runs)
        sizes = elf_sizes(Path(d) / f"model_{core}.elf", "model_")
    return {
        "bit_exact": rep.bit_exact,
        "inputs": rep.inputs,
        "instructions": rep.instructions,
        "cycles": rep.cycles if rep.measured_cycles else None,  # AVR: simavr's count (no instructions)
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
    """Stages 1-2 for one architecture: lower bound, then (if it may fit, or ``measure``) measured sizes.
    A factory that fails for these arguments, or a model picoml cannot convert, gives ``error``."""
    try:
        return _size_trial(cfg)
    except PicomlError as e:
        return {"error": str(e)}


def _size_trial(cfg: dict) -> dict:
    task = get_task(cfg["task"], cfg["seed"])
    example = _example(task)
    model = _build(cfg, task, example)
    g = from_torch(model, example)
    rng = np.random.default_rng(cfg["seed"])
    calib = to_graph_layout(rng.standard_normal((32,) + tuple(task.INPUT_SHAPE)).astype(np.float32))
    q = quantize(g, calib)
    out = {
        "params": count_params(model),
        "macs": int(sum(op_macs(op) for op in q.ops)),
        # the model's input and output live in the arena (the harness is zero-copy: codegen/api.py)
        "arena_bytes": plan_memory(q).arena_bytes,
        "const_bytes": int(sum(t.nbytes for t in q.constants)),
        "measured": False,
    }
    may_fit = out["arena_bytes"] <= cfg["ram_bytes"] and out["const_bytes"] <= cfg["flash_bytes"]
    if may_fit or cfg.get("measure"):
        out.update(measure(q, cfg["core"], random_inputs(q, 1, cfg["seed"])))
        out["measured"] = True
    return out


def _train_loop(model: Any, split: Any, teacher: Any, cfg: dict, epochs: int, lr: float, step_callback=None) -> None:

    task = get_task(cfg["task"], cfg["seed"])
    metric = task.METRIC
    bs = batch_size(task, cfg)
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


def _state(model: Any) -> dict:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _train_trial(cfg: dict, t0: float) -> dict:
    torch = _torch1()

    task = get_task(cfg["task"], cfg["seed"])
    split = task.load(cfg["seed"])
    example = torch.from_numpy(split.x_train[:1])
    teacher = None
    if cfg.get("teacher") is not None:
        teacher = task.build_model(**cfg["teacher_arch"])
        teacher.load_state_dict({k: torch.from_numpy(v) for k, v in cfg["teacher"].items()})
        teacher.eval()
    torch.manual_seed(cfg["seed"])
    model = task.build_model(**cfg["arch"])
    if cfg.get("init_state") is not None:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in cfg["init_state"].items()})
    _train_loop(model, split, teacher, cfg, cfg["epochs"], 3e-3)
    if cfg.get("partial"):
        model.eval()
        val = score(task.METRIC, predict(model, split.x_val), split.y_val)
        return {"val_float": val, "state": _state(model), "seconds": time.perf_counter() - t0}
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
        out["state"] = _state(model)
    out["seconds"] = time.perf_counter() - t0
    return out


def verify_trial(cfg: dict) -> dict:
    """Stage 4: the trained int8 model on the emulated core with real test inputs (bit-exact + sizes)."""
    try:
        return measure(cfg["q"], cfg["core"], cfg["xs"], counted_runs=min(2, len(cfg["xs"])))
    except PicomlError as e:
        return {"error": str(e)}
