"""picoml's one training loop: seeded mini-batch Adam, what every trainer in picoml runs.

Every model picoml trains goes through ``train_loop``: the example tasks' float models
(``picoml.tasks.train.fit``), pruning fine-tuning (``fine_tune`` here, which ``prune`` drives),
distillation (``picoml.compress.distill.distill``), quantization-aware training
(``picoml.compress.qat.qat_finetune`` and the ``qat`` step of ``picoml compress``). What they
differ in is a parameter or a hook, never a second loop:

* ``batch_loss(x_batch, y_batch, *extras)``: the forward pass and the loss (a teacher's term,
  QAT's logits, ... live there);
* ``params`` (tensors or Adam parameter groups), ``lr``, ``weight_decay``, ``lr_schedule``
  (``"constant"`` or ``"cosine"``: annealed to 0 over all the steps, stepped per batch);
* ``augment(x_batch, generator)``: transforms each training batch's inputs, drawing its
  randomness from the loop's generator right after the epoch's shuffle;
* ``step_callback()`` after every optimizer step (``Pruner.step`` makes masks follow a
  schedule);
* ``evaluate()`` after every epoch, in eval mode: ``(val_loss, val_metric)``; the best epoch
  (metric first, ties broken by the lower loss) is recorded, and with ``restore_best`` its
  weights are reloaded at the end;
* ``seed`` (the batch order and ``augment``'s draws come from one ``torch.Generator``),
  ``threads`` (at most that many torch threads, the previous setting restored).

A step is always: ``zero_grad(set_to_none=True)``, loss, ``backward``, ``optimizer.step``,
``scheduler.step``, ``step_callback``. Data is ``(x, y, *extras)`` arrays/tensors of one length,
shuffled every epoch with ``torch.randperm`` and cut into consecutive ``batch_size`` slices of
that order, or an iterable of ``(x, y)`` batches (a DataLoader), taken as it comes.

torch is imported inside the functions, so importing this module needs numpy only.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from picoml.errors import InputError

if TYPE_CHECKING:
    import torch

LR_SCHEDULES = ("constant", "cosine")


@dataclass
class History:
    """What one training run did, epoch by epoch (``best_epoch`` is 0-based; -1 without validation)."""

    metric: str
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    best_epoch: int = -1
    seconds: float = 0.0

    @property
    def best_val_metric(self) -> float:
        return self.val_metric[self.best_epoch]


def is_better(metric: str, a: float, b: float) -> bool:
    """True when metric value ``a`` is strictly better than ``b`` (accuracy: higher; otherwise lower)."""
    return a > b if metric == "accuracy" else a < b


def improved(hist: History) -> bool:
    """Is the last epoch the best so far (validation metric first, then the lower validation loss)?"""
    b, m, v = hist.best_epoch, hist.val_metric, hist.val_loss
    if b < 0:
        return True
    return is_better(hist.metric, m[-1], m[b]) or (m[-1] == m[b] and v[-1] < v[b])


def _as_tensor(a: Any) -> torch.Tensor:
    import torch

    return a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))


def _is_arrays(data: Any, n: int = 2) -> bool:
    """Is ``data`` a tuple/list of ``n`` (or, with ``n=0``, at least two) arrays or tensors?"""
    ok_len = len(data) >= 2 if n == 0 else len(data) == n
    return isinstance(data, (tuple, list)) and ok_len and all(hasattr(a, "shape") for a in data)


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    """Eval mode inside the block; every module's own training flag is restored after."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, t in flags:
            m.training = t


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use at most ``threads`` torch threads inside the block (the previous setting is restored; None: unchanged)."""
    if threads is None:
        yield
        return
    import torch

    prev = torch.get_num_threads()
    torch.set_num_threads(max(1, min(threads, prev)))
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def iter_batches(
    data: Any, batch_size: int, generator: Any, augment: Callable[..., Any] | None = None
) -> Iterator[tuple[Any, ...]]:
    """One epoch of batches ``(x, y, *extras)``.

    ``data``: ``(x, y, *extras)`` arrays/tensors of one length, shuffled with ``generator``
    (``torch.randperm``) and cut into consecutive slices, or an iterable of ``(x, y)`` batches.
    ``augment(x_batch, generator)``, if given, replaces each batch's inputs.
    """
    import torch

    if _is_arrays(data, 0):
        x, *rest = (_as_tensor(a) for a in data)
        for r in rest:
            if len(r) != len(x):
                raise InputError(f"data: {len(x)} inputs but {len(r)} targets")
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), batch_size):
            b = order[i : i + batch_size]
            xb = x[b] if augment is None else augment(x[b], generator)
            yield (xb, *(r[b] for r in rest))
    else:
        for batch in data:
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise InputError("data: an iterable must yield (inputs, targets) batches")
            xb, yb = _as_tensor(batch[0]), _as_tensor(batch[1])
            yield (xb if augment is None else augment(xb, generator)), yb


def check_pairs(data: Any) -> None:
    """A user's ``data`` is an ``(x, y)`` pair of arrays or an iterable of pairs, never ``(x, y, z)`` arrays.

    (``train_loop`` itself takes extra arrays — cached teacher outputs — after ``y``; a caller's
    ``data`` must not reach it as such.)
    """
    if isinstance(data, (tuple, list)) and not _is_arrays(data) and all(hasattr(a, "shape") for a in data):
        raise InputError("data: an iterable must yield (inputs, targets) batches")


def _steps_per_epoch(data: Any, batch_size: int) -> int:
    if _is_arrays(data, 0):
        return -(-len(data[0]) // batch_size)
    if hasattr(data, "__len__"):
        return len(data)
    raise InputError("lr_schedule='cosine' needs (x, y) arrays or batches with a len()")


def train_loop(
    model: Any,
    data: Any,
    batch_loss: Callable[..., torch.Tensor],
    *,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    params: Iterable[Any] | None = None,
    weight_decay: float = 0.0,
    lr_schedule: str = "constant",
    seed: int = 0,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    step_callback: Callable[[], Any] | None = None,
    evaluate: Callable[[], tuple[float, float]] | None = None,
    metric: str = "",
    restore_best: bool = False,
    threads: int | None = None,
    on_epoch: Callable[[History], Any] | None = None,
) -> History:
    """Train ``model`` in place with Adam; returns its ``History`` (see the module docstring for the hooks).

    ``batch_loss(x_batch, y_batch, *extras)`` returns the scalar loss of one batch (it runs the
    forward pass). ``params``: what Adam updates — tensors or parameter groups (default: the
    model's parameters that require gradients; build it after installing pruning masks).
    ``evaluate()`` runs after every epoch with the model in eval mode (its flags restored after)
    and returns ``(val_loss, val_metric)``; ``metric`` ("accuracy": higher is better, otherwise
    lower) ranks epochs. ``restore_best`` (needs ``evaluate``) reloads the best epoch's weights
    at the end. ``on_epoch(history)`` is called after every epoch (progress printing). The
    model is left in eval mode.
    """
    import torch

    if epochs < 0:
        raise InputError(f"epochs must be >= 0, got {epochs}")
    if lr_schedule not in LR_SCHEDULES:
        raise InputError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    if restore_best and evaluate is None:
        raise InputError("restore_best=True needs a validation step (evaluate=)")
    hist = History(metric=metric)
    t0 = time.perf_counter()
    best_state = None
    with torch_threads(threads):
        if params is None:
            params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        sched = None
        if lr_schedule == "cosine":
            total_steps = epochs * _steps_per_epoch(data, batch_size)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total_steps))
        gen = torch.Generator().manual_seed(seed)
        for epoch in range(epochs):
            model.train()
            total, count = 0.0, 0
            for xb, yb, *extras in iter_batches(data, batch_size, gen, augment):
                opt.zero_grad(set_to_none=True)
                value = batch_loss(xb, yb, *extras)
                value.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                if step_callback is not None:
                    step_callback()
                total += float(value.detach()) * len(xb)
                count += len(xb)
            hist.train_loss.append(total / max(1, count))
            if evaluate is not None:
                with _eval_mode(model):
                    vloss, vmetric = evaluate()
                hist.val_loss.append(vloss)
                hist.val_metric.append(vmetric)
                if improved(hist):
                    hist.best_epoch = epoch
                    if restore_best:
                        best_state = copy.deepcopy(model.state_dict())
            if on_epoch is not None:
                on_epoch(hist)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.seconds = time.perf_counter() - t0
    return hist


def loss_function(loss: str | Callable[..., Any]) -> Callable[..., Any]:
    """``"ce"`` (cross-entropy on logits), ``"mse"``, or a callable ``(output, target) -> scalar``."""
    import torch.nn.functional as F

    if callable(loss):
        return loss
    if loss == "ce":
        return F.cross_entropy
    if loss == "mse":
        return F.mse_loss
    raise InputError(f"loss must be 'ce', 'mse' or a callable, got {loss!r}")


def fine_tune(
    model: Any,
    data: Any,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    loss: str | Callable[..., Any] = "ce",
    batch_size: int = 32,
    weight_decay: float = 0.0,
    seed: int = 0,
    step_callback: Callable[..., None] | None = None,
    threads: int = 2,
) -> list[float]:
    """Train ``model`` in place with Adam; returns the mean training loss of every epoch.

    Deliberately plain (constant learning rate, no validation) — the loop ``prune`` needs for
    fine-tuning: ``step_callback()`` runs after every ``optimizer.step()``. The optimizer is
    built here, after any masks were installed; it updates the raw weights and the masks keep
    pruned ones at 0. ``data``: ``(x, y)`` arrays/tensors (shuffled per epoch with ``seed``) or
    an iterable of ``(x, y)`` batches such as a DataLoader.
    """
    if epochs < 1:
        raise InputError(f"epochs must be >= 1, got {epochs}")
    check_pairs(data)
    loss_fn = loss_function(loss)
    hist = train_loop(
        model,
        data,
        lambda xb, yb: loss_fn(model(xb), yb),
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        weight_decay=weight_decay,
        seed=seed,
        step_callback=step_callback,
        threads=threads,
    )
    return hist.train_loss


def batched_outputs(model: Any, x: torch.Tensor, batch_size: int, **kwargs: Any) -> torch.Tensor:
    """``model``'s outputs on ``x`` in slices of ``batch_size``, without gradients (the mode is the caller's)."""
    import torch

    with torch.no_grad():
        return torch.cat([model(x[i : i + batch_size], **kwargs) for i in range(0, len(x), batch_size)])


__all__ = [
    "History",
    "LR_SCHEDULES",
    "batched_outputs",
    "check_pairs",
    "fine_tune",
    "improved",
    "is_better",
    "iter_batches",
    "loss_function",
    "torch_threads",
    "train_loop",
]
