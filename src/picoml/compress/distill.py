"""Knowledge distillation: train a small student to match a large teacher's outputs.

A microcontroller model is usually too small to learn as well from labels alone as a bigger
model does; the teacher's full output distribution ("dark knowledge": which wrong classes
look alike) is a richer target than a one-hot label (Hinton, Vinyals & Dean 2015,
"Distilling the Knowledge in a Neural Network", arXiv:1503.02531).

Classification (``loss="kd"``), per batch::

    alpha · T² · KL(softmax(t/T) ‖ softmax(s/T))  +  (1 − alpha) · CE(s, labels)

We use the KL divergence rather than the soft cross-entropy ``−Σ softmax(t/T)·log softmax(s/T)``.
They differ by the teacher's entropy ``H(softmax(t/T))``, which does not depend on the student,
so the gradients with respect to the student are identical; KL has the advantage of being 0
when the student matches the teacher, so the logged loss means something. The T² factor
(Hinton et al., section 2) keeps the soft term's gradient magnitude independent of T: its
gradient w.r.t. a logit is ``(softmax(s/T) − softmax(t/T)) / T``, which shrinks like 1/T² for
large T. Both terms are means over the batch (``reduction="batchmean"`` for the KL — the
mathematically correct KL per sample; PyTorch's ``"mean"`` would also divide by the number
of classes).

Regression and autoencoders (``loss="mse"``): ``alpha · MSE(s, t) + (1 − alpha) · MSE(s, y)``.

torch is imported inside the functions, so importing this module needs numpy only.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from picoml.errors import InputError

if TYPE_CHECKING:
    import torch

LOSSES = ("kd", "mse")


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None = None,
    temperature: float = 4.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """Hinton's distillation loss ``alpha·T²·KL(p_t ‖ p_s) + (1 − alpha)·CE(s, labels)`` (batch means).

    ``p = softmax(logits / T)`` over dim 1. ``labels=None`` (an unlabeled transfer set) is
    allowed only with ``alpha=1``, i.e. the soft term alone. The teacher logits are detached.
    """
    import torch.nn.functional as F

    if temperature <= 0:
        raise InputError(f"temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    if student_logits.shape != teacher_logits.shape:
        raise InputError(
            f"student output {tuple(student_logits.shape)} and teacher output {tuple(teacher_logits.shape)} differ"
        )
    t = float(temperature)
    log_ps = F.log_softmax(student_logits / t, dim=1)
    log_pt = F.log_softmax(teacher_logits.detach() / t, dim=1)
    soft = F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True) * (t * t)
    if labels is None:
        if alpha != 1.0:
            raise InputError("kd_loss without labels needs alpha=1 (soft targets only)")
        return soft
    if alpha == 1.0:
        return soft
    return alpha * soft + (1.0 - alpha) * F.cross_entropy(student_logits, labels)


def mse_distill_loss(
    student_out: torch.Tensor,
    teacher_out: torch.Tensor,
    targets: torch.Tensor | None = None,
    alpha: float = 0.5,
) -> torch.Tensor:
    """``alpha·MSE(student, teacher) + (1 − alpha)·MSE(student, targets)`` for regression/autoencoders."""
    import torch.nn.functional as F

    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    if student_out.shape != teacher_out.shape:
        raise InputError(
            f"student output {tuple(student_out.shape)} and teacher output {tuple(teacher_out.shape)} differ"
        )
    soft = F.mse_loss(student_out, teacher_out.detach())
    if targets is None:
        if alpha != 1.0:
            raise InputError("mse_distill_loss without targets needs alpha=1 (teacher outputs only)")
        return soft
    if alpha == 1.0:
        return soft
    return alpha * soft + (1.0 - alpha) * F.mse_loss(student_out, targets)


@dataclass
class DistillHistory:
    """Per-epoch record of a ``distill`` run (``best_epoch`` is 0-based; -1 without ``val_data``).

    ``val_metric`` is the student's accuracy on the labels (``kd``) or its MSE to the targets
    (``mse``) on ``val_data``; ``val_loss`` is the distillation loss there.
    """

    metric: str
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    best_epoch: int = -1
    seconds: float = 0.0


def _improved(hist: DistillHistory) -> bool:
    """Is the last epoch the best so far (metric first, then the lower validation loss)?"""
    b, m, v = hist.best_epoch, hist.val_metric, hist.val_loss
    if b < 0:
        return True
    better = m[-1] > m[b] if hist.metric == "accuracy" else m[-1] < m[b]
    return better or (m[-1] == m[b] and v[-1] < v[b])


def _outputs(model: Any, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Model outputs in eval mode without gradients (the caller restores the mode)."""
    import torch

    with torch.no_grad():
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def distill(
    teacher: Any,
    student: Any,
    data: Any,
    *,
    temperature: float = 4.0,
    alpha: float = 0.5,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    loss: str = "kd",
    val_data: Any = None,
    weight_decay: float = 0.0,
    restore_best: bool = False,
    step_callback: Callable[..., None] | None = None,
    threads: int = 2,
    verbose: bool = False,
) -> DistillHistory:
    """Train ``student`` in place (Adam) against ``teacher``'s outputs and the labels; returns the history.

    ``data``: ``(x, y)`` arrays/tensors, shuffled each epoch with ``seed`` — the teacher's
    outputs are then computed once up front (the teacher is deterministic in eval mode) — or an
    iterable of ``(x, y)`` batches (e.g. a DataLoader with augmentation), where the teacher
    runs on every batch. The teacher always runs in eval mode under ``torch.no_grad()``; its
    parameters are never touched and its train/eval flags are restored afterwards.

    ``step_callback()`` is called after every optimizer step — pass ``Pruner.step`` to prune
    while distilling. ``restore_best`` (needs ``val_data``) reloads the weights of the epoch
    with the best validation metric at the end; leave it off while a pruning schedule is
    running, since an earlier epoch's state carries earlier, less sparse masks.
    """
    import torch

    from picoml.compress.prune import _as_tensor, _eval_mode, _is_arrays, iter_batches, torch_threads

    if loss not in LOSSES:
        raise InputError(f"loss must be one of {LOSSES}, got {loss!r}")
    if epochs < 1:
        raise InputError(f"epochs must be >= 1, got {epochs}")
    if restore_best and val_data is None:
        raise InputError("restore_best=True needs val_data")
    metric = "accuracy" if loss == "kd" else "mse"

    def objective(s_out: torch.Tensor, t_out: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if loss == "kd":
            return kd_loss(s_out, t_out, y, temperature, alpha)
        return mse_distill_loss(s_out, t_out, y, alpha)

    hist = DistillHistory(metric=metric)
    t0 = time.perf_counter()
    best_state = None
    with torch_threads(threads), _eval_mode(teacher):
        gen = torch.Generator().manual_seed(seed)
        cached = None
        if _is_arrays(data):
            x_all, y_all = (_as_tensor(a) for a in data)
            if len(x_all) != len(y_all):
                raise InputError(f"data: {len(x_all)} inputs but {len(y_all)} targets")
            cached = (x_all, y_all, _outputs(teacher, x_all, max(256, batch_size)))
        if val_data is not None:
            if not _is_arrays(val_data):
                raise InputError("val_data must be an (x, y) pair of arrays or tensors")
            xv, yv = (_as_tensor(a) for a in val_data)
            tv = _outputs(teacher, xv, max(256, batch_size))
        params = [p for p in student.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        for epoch in range(epochs):
            student.train()
            total, count = 0.0, 0
            if cached is not None:
                x_all, y_all, t_all = cached
                order = torch.randperm(len(x_all), generator=gen)
                batches = ((x_all[b], y_all[b], t_all[b]) for b in torch.split(order, batch_size))
            else:
                batches = ((xb, yb, _outputs(teacher, xb, len(xb))) for xb, yb in iter_batches(data, batch_size, gen))
            for xb, yb, tb in batches:
                opt.zero_grad(set_to_none=True)
                value = objective(student(xb), tb, yb)
                value.backward()
                opt.step()
                if step_callback is not None:
                    step_callback()
                total += float(value.detach()) * len(xb)
                count += len(xb)
            hist.train_loss.append(total / max(1, count))
            if val_data is not None:
                with _eval_mode(student):
                    sv = _outputs(student, xv, max(256, batch_size))
                hist.val_loss.append(float(objective(sv, tv, yv)))
                if metric == "accuracy":
                    hist.val_metric.append(float((sv.argmax(dim=1) == yv).float().mean()))
                else:
                    hist.val_metric.append(float(((sv - yv) ** 2).mean()))
                if _improved(hist):
                    hist.best_epoch = epoch
                    if restore_best:
                        best_state = copy.deepcopy(student.state_dict())
            if verbose:
                extra = (
                    f"  val loss {hist.val_loss[-1]:.4f}  val {metric} {hist.val_metric[-1]:.4f}"
                    if val_data is not None
                    else ""
                )
                print(f"distill epoch {epoch + 1:3d}  train loss {hist.train_loss[-1]:.4f}{extra}")
    if best_state is not None:
        student.load_state_dict(best_state)
    student.eval()
    hist.seconds = time.perf_counter() - t0
    return hist


__all__ = ["DistillHistory", "distill", "kd_loss", "mse_distill_loss"]
