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

Transfer-set augmentation (``augment=``): the teacher labels randomly shifted / noisy copies
of the training inputs, every epoch new ones, so the student is matched to the teacher on
inputs around the training set rather than on the 1,078 (say) training images alone — the
original setting of distillation, where the transfer set need not be the labeled set.
``augmentation(shift=1, noise=0.1)`` builds such a function; with ``alpha=0`` the same
augmented batches train the student on labels alone, which makes a fair "no teacher" control.

torch is imported inside the functions, so importing this module needs numpy only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from picoml.compress.train import (
    LR_SCHEDULES,
    History,
    _as_tensor,
    _eval_mode,
    _is_arrays,
    batched_outputs,
    check_pairs,
    torch_threads,
    train_loop,
)
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


def augmentation(shift: int = 0, noise: float = 0.0) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """An ``augment=`` function for ``distill``: random integer shifts and Gaussian noise; ``None`` if both are 0.

    ``shift``: every sample is moved by its own offset, uniform in ``[-shift, shift]``, along each
    axis after the channel axis (H and W of ``(N, C, H, W)`` images, L of ``(N, C, L)``
    sequences), the border value repeated into the uncovered edge (on standardized images the
    background, not 0 = the mean pixel). ``noise``: add ``noise · N(0, 1)`` to every input value
    (inputs are standardized, so ``noise`` is in standard deviations). Randomness comes from
    the generator ``distill`` passes in, so a run is repeatable. ``(N, F)`` inputs have no
    axis to shift along: ``shift`` needs at least 3-D batches.
    """
    if not isinstance(shift, int) or isinstance(shift, bool) or shift < 0:
        raise InputError(f"augmentation: shift must be an integer >= 0, got {shift!r}")
    if not noise >= 0:
        raise InputError(f"augmentation: noise must be >= 0, got {noise!r}")
    if shift == 0 and noise == 0:
        return None

    def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        import torch
        import torch.nn.functional as F

        if shift:
            dims = x.dim() - 2
            if dims not in (1, 2):
                raise InputError(f"augmentation: shift needs (N, C, L) or (N, C, H, W) inputs, got {tuple(x.shape)}")
            offsets = torch.randint(0, 2 * shift + 1, (len(x), dims), generator=gen)
            padded = F.pad(x, (shift, shift) * dims, mode="replicate")
            out = torch.empty_like(x)
            size = x.shape[2:]
            for combo in torch.unique(offsets, dim=0):
                rows = (offsets == combo).all(dim=1)
                window = padded[rows]
                for axis, o in enumerate(combo.tolist()):
                    window = window.narrow(2 + axis, o, size[axis])
                out[rows] = window
            x = out
        if noise:
            x = x + float(noise) * torch.randn(x.shape, generator=gen, dtype=x.dtype)
        return x

    augment.shift, augment.noise = shift, float(noise)  # type: ignore[attr-defined]
    return augment


#: ``distill``'s history is the training loop's (kept under this name for existing callers)
DistillHistory = History


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
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    lr_schedule: str = "constant",
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

    ``augment(x_batch, generator) -> x_batch`` (e.g. ``augmentation(shift=1, noise=0.1)``)
    transforms the inputs of every training batch before the student — and the teacher, which
    then runs on every batch instead of once — sees them; the labels are kept. Its randomness
    should come from the generator (seeded with ``seed``): the teacher draws nothing from it, so
    a run with ``alpha=0`` sees exactly the same batches, which is the fair labels-only control.
    Validation inputs are never augmented. With ``alpha=0`` the teacher is not run at all.

    ``lr_schedule``: ``"constant"`` (Adam at ``lr``) or ``"cosine"`` (annealed from ``lr`` to 0
    over all the steps, per step; an iterable ``data`` must then have a ``len()``).
    """
    if loss not in LOSSES:
        raise InputError(f"loss must be one of {LOSSES}, got {loss!r}")
    if epochs < 1:
        raise InputError(f"epochs must be >= 1, got {epochs}")
    if restore_best and val_data is None:
        raise InputError("restore_best=True needs val_data")
    if lr_schedule not in LR_SCHEDULES:
        raise InputError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    if augment is not None and not callable(augment):
        raise InputError(f"augment must be a callable (x_batch, generator) -> x_batch, got {augment!r}")
    metric = "accuracy" if loss == "kd" else "mse"
    use_teacher = alpha > 0  # alpha=0: labels only, the teacher's outputs would be multiplied by 0

    def objective(s_out: torch.Tensor, t_out: torch.Tensor | None, y: torch.Tensor | None) -> torch.Tensor:
        import torch.nn.functional as F

        if t_out is None:  # alpha == 0: exactly the (1 - alpha) term of kd_loss / mse_distill_loss
            if y is None:
                raise InputError("alpha=0 (labels only) needs labels")
            return F.cross_entropy(s_out, y) if loss == "kd" else F.mse_loss(s_out, y)
        if loss == "kd":
            return kd_loss(s_out, t_out, y, temperature, alpha)
        return mse_distill_loss(s_out, t_out, y, alpha)

    def teacher_out(x: torch.Tensor, bs: int) -> torch.Tensor | None:
        return batched_outputs(teacher, x, bs) if use_teacher else None

    t0 = time.perf_counter()
    check_pairs(data)
    with torch_threads(threads), _eval_mode(teacher):
        train_data = data
        if _is_arrays(data):
            x_all, y_all = (_as_tensor(a) for a in data)
            if len(x_all) != len(y_all):
                raise InputError(f"data: {len(x_all)} inputs but {len(y_all)} targets")
            # without augmentation the teacher's outputs on the training inputs never change
            t_all = teacher_out(x_all, max(256, batch_size)) if augment is None else None
            train_data = (x_all, y_all) if t_all is None else (x_all, y_all, t_all)
        evaluate = None
        if val_data is not None:
            if not _is_arrays(val_data):
                raise InputError("val_data must be an (x, y) pair of arrays or tensors")
            xv, yv = (_as_tensor(a) for a in val_data)
            tv = teacher_out(xv, max(256, batch_size))

            def evaluate() -> tuple[float, float]:
                sv = batched_outputs(student, xv, max(256, batch_size))
                vloss = float(objective(sv, tv, yv))
                if metric == "accuracy":
                    return vloss, float((sv.argmax(dim=1) == yv).float().mean())
                return vloss, float(((sv - yv) ** 2).mean())

        def batch_loss(xb: torch.Tensor, yb: torch.Tensor, tb: torch.Tensor | None = None) -> torch.Tensor:
            if tb is None:  # augmented or streamed batches: the teacher sees every one
                tb = teacher_out(xb, len(xb))
            return objective(student(xb), tb, yb)

        def report(hist: History) -> None:
            extra = (
                f"  val loss {hist.val_loss[-1]:.4f}  val {metric} {hist.val_metric[-1]:.4f}"
                if val_data is not None
                else ""
            )
            print(f"distill epoch {len(hist.train_loss):3d}  train loss {hist.train_loss[-1]:.4f}{extra}")

        hist = train_loop(
            student,
            train_data,
            batch_loss,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            weight_decay=weight_decay,
            lr_schedule=lr_schedule,
            seed=seed,
            augment=augment,
            step_callback=step_callback,
            evaluate=evaluate,
            metric=metric,
            restore_best=restore_best,
            on_epoch=report if verbose else None,
        )
    hist.seconds = time.perf_counter() - t0
    return hist


__all__ = ["DistillHistory", "augmentation", "distill", "kd_loss", "mse_distill_loss"]
