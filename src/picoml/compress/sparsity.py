"""Unstructured (synapse) pruning of PyTorch models: sparsity schedules, masks, ``Pruner``, ``prune``.

Masks are a ``torch.nn.utils.parametrize`` parametrization: ``module.weight`` is computed as
``where(mask, original, 0)`` on every access. Why this and not re-applying the mask after each
optimizer step (``torch.nn.utils.prune`` uses a forward pre-hook; TF-MOT assigns
``weight * mask`` after each step): the pruned weights are zero *by construction* in every
forward pass, whatever optimizer, weight decay or momentum the training loop uses, and
whether or not anyone remembered to call a hook; the gradient of a pruned weight is zero, so
it cannot grow back. The mask is a buffer, so it follows ``state_dict``, ``deepcopy`` and
``.to(device)``; a QAT wrapper that fake-quantizes ``module.weight`` sees the zeros (an
int8 weight scale with zero point 0 maps 0.0 to 0 exactly). ``strip`` bakes the masks into
plain weights with exact zeros for export.

Sources: magnitude pruning and the polynomial schedule follow TF-MOT's
``prune_low_magnitude`` / ``PolynomialDecay`` (Zhu & Gupta 2017, "To prune, or not to
prune", arXiv:1710.01878); global magnitude ranking follows PyTorch's
``torch.nn.utils.prune.global_unstructured``; N:M sparsity follows NVIDIA's 2:4 scheme
(Mishra et al. 2021, arXiv:2104.08378) and TF-MOT's ``sparsity_m_by_n``.

``picoml.compress.prune`` gathers this module, ``channels`` (structured pruning), ``cost`` and
the fine-tuning loop under one name. torch is imported inside the functions, so importing this
module needs numpy only.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from picoml.errors import InputError

if TYPE_CHECKING:
    import torch

SCOPES = ("global", "layer")

# ---------------------------------------------------------------------------------------------
# Sparsity schedules (TF-MOT semantics)
# ---------------------------------------------------------------------------------------------


def _check_fraction(value: float, what: str, *, allow_one: bool = False) -> float:
    v = float(value)
    if not (0.0 <= v < 1.0 or (allow_one and v == 1.0)):
        raise InputError(f"{what} must be in [0, 1{']' if allow_one else ')'}, got {value!r}")
    return v


@dataclass(frozen=True)
class PolynomialDecay:
    """Gradual sparsity: ``s_t = s_f + (s_i - s_f) (1 - (t - t0)/(t1 - t0))^power``, pruning every ``frequency`` steps.

    Same function and step rule as TF-MOT's ``PolynomialDecay`` (Zhu & Gupta 2017): masks are
    updated at steps ``t0 <= t <= t1`` with ``(t - t0) % frequency == 0``; ``p`` is clamped to
    [0, 1]. Fast at first, while there are many small weights to drop, then slowly, so
    fine-tuning can recover. One deliberate difference: step ``t1`` is always a pruning step,
    so the final sparsity is reached exactly even when ``t1 - t0`` is not a multiple of
    ``frequency`` (in TF-MOT it is then never applied). The argument order follows picoml's
    ``prune`` docs (``frequency`` fifth); ``power`` is keyword-only.
    """

    initial_sparsity: float
    final_sparsity: float
    begin_step: int
    end_step: int
    frequency: int = 100
    _: KW_ONLY
    power: float = 3.0

    def __post_init__(self) -> None:
        _check_fraction(self.initial_sparsity, "initial_sparsity")
        _check_fraction(self.final_sparsity, "final_sparsity")
        if self.begin_step < 0 or self.end_step <= self.begin_step:
            raise InputError(f"need 0 <= begin_step < end_step, got {self.begin_step}, {self.end_step}")
        if self.frequency < 1:
            raise InputError(f"frequency must be >= 1, got {self.frequency}")

    def sparsity(self, step: int) -> float:
        """Target sparsity at ``step`` (defined at every step, applied only at pruning steps)."""
        p = min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power

    def should_prune(self, step: int) -> bool:
        """True at the steps where masks are recomputed."""
        if not self.begin_step <= step <= self.end_step:
            return False
        return (step - self.begin_step) % self.frequency == 0 or step == self.end_step

    def __call__(self, step: int) -> tuple[bool, float]:
        return self.should_prune(step), self.sparsity(step)


@dataclass(frozen=True)
class ConstantSparsity:
    """One sparsity from ``begin_step`` on, re-applied every ``frequency`` steps until ``end_step`` (-1: forever).

    TF-MOT's ``ConstantSparsity``. With picoml's monotone masks (a pruned weight never comes
    back) re-applying only matters if the weights changed while unmasked, i.e. it is one-shot
    pruning at ``begin_step`` followed by fine-tuning with the mask held fixed.
    """

    target_sparsity: float
    begin_step: int = 0
    end_step: int = -1
    frequency: int = 100

    def __post_init__(self) -> None:
        _check_fraction(self.target_sparsity, "target_sparsity")
        if self.begin_step < 0 or (self.end_step != -1 and self.end_step < self.begin_step):
            raise InputError(
                f"need 0 <= begin_step <= end_step (or end_step=-1), got {self.begin_step}, {self.end_step}"
            )
        if self.frequency < 1:
            raise InputError(f"frequency must be >= 1, got {self.frequency}")

    @property
    def final_sparsity(self) -> float:
        return self.target_sparsity

    def sparsity(self, step: int) -> float:
        return self.target_sparsity

    def should_prune(self, step: int) -> bool:
        if step < self.begin_step or (self.end_step >= 0 and step > self.end_step):
            return False
        return (step - self.begin_step) % self.frequency == 0

    def __call__(self, step: int) -> tuple[bool, float]:
        return self.should_prune(step), self.target_sparsity


Schedule = PolynomialDecay | ConstantSparsity

# ---------------------------------------------------------------------------------------------
# Masks as a parametrization
# ---------------------------------------------------------------------------------------------


@functools.cache
def _weight_mask_type() -> type:
    """The parametrization class, created on first use so that importing this module needs no torch."""
    import torch

    class WeightMask(torch.nn.Module):
        """``weight = where(mask, original, 0)``: a fixed binary mask held as a bool buffer.

        ``torch.where`` rather than ``original * mask``: it yields +0.0 (never -0.0 or NaN from
        ``inf * 0``) and passes a zero gradient to the pruned entries.
        """

        def __init__(self, mask: torch.Tensor) -> None:
            super().__init__()
            self.register_buffer("mask", mask.to(torch.bool).clone())

        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return torch.where(self.mask, weight, weight.new_zeros(()))

        def extra_repr(self) -> str:
            return f"density={float(self.mask.float().mean()):.3f}"

    WeightMask.__module__ = __name__
    WeightMask.__qualname__ = "WeightMask"
    return WeightMask


def __getattr__(name: str) -> Any:
    # PEP 562: ``picoml.compress.prune.WeightMask`` resolves lazily (for isinstance checks and pickling).
    if name == "WeightMask":
        return _weight_mask_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_prunable(module: Any) -> bool:
    from torch import nn

    return isinstance(module, (nn.Linear, nn.modules.conv._ConvNd))


def _mask_module(module: Any) -> Any | None:
    """Our WeightMask on ``module.weight``, if any."""
    from torch.nn.utils import parametrize

    if not parametrize.is_parametrized(module, "weight"):
        return None
    cls = _weight_mask_type()
    for p in module.parametrizations.weight:
        if isinstance(p, cls):
            return p
    return None


def _matches(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def _check_paths(model: Any, paths: Iterable[str], what: str) -> list[str]:
    paths = list(paths)
    known = {name for name, _ in model.named_modules()}
    for p in paths:
        if p not in known:
            raise InputError(f"{what}: {p!r} is not a module path of {type(model).__name__}")
    return paths


def prunable_layers(model: Any, *, exclude: Iterable[str] = (), skip_first_last: bool = False) -> dict[str, Any]:
    """Conv/Linear modules whose weights unstructured pruning acts on, by module path, in registration order.

    ``skip_first_last`` leaves the first and last of them dense: the first layer sees few
    inputs (every weight matters) and the last produces the logits — TF-MOT's guides and most
    papers keep both. "First" and "last" are by registration order (``named_modules``), which
    is the execution order of ``nn.Sequential`` and of most models; use ``exclude`` otherwise.
    ``exclude`` takes module paths; a container path excludes everything inside it.
    """
    excl = _check_paths(model, exclude, "exclude")
    layers = {name: m for name, m in model.named_modules() if _is_prunable(m)}
    names = list(layers)
    if skip_first_last and names:
        names = names[1:-1]
    return {n: layers[n] for n in names if not _matches(n, excl)}


def _keep_count(sparsity: float, n: int) -> int:
    """Weights pruned for a sparsity: round half up of ``sparsity * n`` (exact, reproducible counts)."""
    return min(n, math.floor(sparsity * n + 0.5))


def _scores(module: Any) -> torch.Tensor:
    """|w| flattened, with already-masked weights at -1 so they are always the first to go (monotone masks)."""
    import torch

    s = module.weight.detach().abs().flatten().to(torch.float64)
    mm = _mask_module(module)
    if mm is not None:
        s = torch.where(mm.mask.flatten(), s, torch.full_like(s, -1.0))
    return s


def _lowest_pruned(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Keep-mask with exactly the ``k`` lowest scores pruned (stable order breaks ties by index)."""
    import torch

    keep = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    if k > 0:
        keep[torch.argsort(scores, stable=True)[:k]] = False
    return keep


def magnitude_masks(
    model: Any,
    sparsity: float,
    scope: str = "global",
    *,
    exclude: Iterable[str] = (),
    skip_first_last: bool = False,
) -> dict[str, torch.Tensor]:
    """Keep-masks (True = keep) that prune the smallest-magnitude Conv/Linear weights, by module path.

    ``scope="layer"`` prunes ``round(sparsity * n_l)`` weights in every layer; ``"global"``
    prunes ``round(sparsity * sum n_l)`` weights ranked across all layers by raw |w| (PyTorch's
    ``global_unstructured``), so layers with many small weights — typically the big ones —
    give up more, which usually costs less accuracy at the same total sparsity. Biases are never
    pruned (few, and each shifts a whole channel). Weights already masked are ranked first, so
    raising the sparsity never revives a pruned weight.
    """
    import torch

    sparsity = _check_fraction(sparsity, "sparsity")
    if scope not in SCOPES:
        raise InputError(f"scope must be one of {SCOPES}, got {scope!r}")
    layers = prunable_layers(model, exclude=exclude, skip_first_last=skip_first_last)
    if not layers:
        raise InputError(f"{type(model).__name__} has no Conv/Linear weights left to prune")
    scores = {name: _scores(m) for name, m in layers.items()}
    if scope == "layer":
        flat = {name: _lowest_pruned(s, _keep_count(sparsity, s.numel())) for name, s in scores.items()}
    else:
        allsc = torch.cat(list(scores.values()))
        keep = _lowest_pruned(allsc, _keep_count(sparsity, allsc.numel()))
        flat = dict(zip(scores, torch.split(keep, [s.numel() for s in scores.values()]), strict=True))
    return {name: flat[name].view(layers[name].weight.shape).clone() for name in layers}


def nm_masks(
    model: Any,
    n: int = 2,
    m: int = 4,
    *,
    exclude: Iterable[str] = (),
    skip_first_last: bool = False,
) -> dict[str, torch.Tensor]:
    """N:M keep-masks: in every run of ``m`` consecutive input-channel weights keep the ``n`` largest.

    Groups run along the input dimension with every other index fixed, i.e. consecutive in
    TFLite's OHWI weight layout (and in ``[out, in]`` for Linear), as NVIDIA's 2:4 sparse tensor
    cores and TF-MOT's ``sparsity_m_by_n`` define it. A layer whose input dimension (per group)
    is not a multiple of ``m`` is an error naming it — exclude it or use ``skip_first_last``.
    """
    import torch
    from torch import nn

    if not (isinstance(n, int) and isinstance(m, int) and 0 < n < m):
        raise InputError(f"N:M needs integers 0 < n < m, got {n}:{m}")
    layers = prunable_layers(model, exclude=exclude, skip_first_last=skip_first_last)
    masks = {}
    for name, mod in layers.items():
        w = mod.weight.detach()
        in_axis = 0 if isinstance(mod, nn.modules.conv._ConvTransposeNd) else 1
        perm = (1 - in_axis, *range(2, w.dim()), in_axis)  # -> [out, spatial..., in]
        n_in = w.shape[in_axis]
        if n_in % m:
            raise InputError(
                f"N:M {n}:{m} sparsity needs the input dimension of {name!r} ({n_in}) to be a multiple of {m}; "
                f"leave it dense with exclude=[{name!r}] (or skip_first_last=True)"
            )
        scores = _scores(mod).view(w.shape).permute(perm).reshape(-1, m)
        top = torch.argsort(scores, dim=1, descending=True, stable=True)[:, :n]
        keep = torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True)
        inv = tuple(int(i) for i in np.argsort(perm))
        masks[name] = keep.reshape(w.permute(perm).shape).permute(inv).contiguous()
    return masks


def apply_masks(model: Any, masks: Mapping[str, torch.Tensor]) -> Any:
    """Install (or replace) keep-masks on the named modules' weights; returns ``model``.

    The first call on a module registers the WeightMask parametrization; later calls only
    overwrite its buffer, so optimizers built earlier keep working (the raw weight stays the
    same Parameter object, now ``module.parametrizations.weight.original``). The raw weights
    under a mask are zeroed too, so ``strip`` and any later unmasking start from zero.
    """
    import torch
    from torch.nn.utils import parametrize

    for name, mask in masks.items():
        try:
            mod = model.get_submodule(name)
        except AttributeError:
            raise InputError(f"apply_masks: {name!r} is not a module path of {type(model).__name__}") from None
        if not _is_prunable(mod):
            raise InputError(f"apply_masks: {name!r} is a {type(mod).__name__}, not a Conv/Linear layer")
        if tuple(mask.shape) != tuple(mod.weight.shape):
            raise InputError(
                f"apply_masks: mask for {name!r} has shape {tuple(mask.shape)}, weight has {tuple(mod.weight.shape)}"
            )
        mask = mask.to(device=mod.weight.device, dtype=torch.bool)
        existing = _mask_module(mod)
        if existing is None:
            parametrize.register_parametrization(mod, "weight", _weight_mask_type()(mask))
        else:
            existing.mask.copy_(mask)
        plist = mod.parametrizations.weight
        if isinstance(plist[0], _weight_mask_type()):  # original is the raw weight only if we are first
            with torch.no_grad():
                plist.original.masked_fill_(~mask, 0.0)
    return model


def get_masks(model: Any) -> dict[str, torch.Tensor]:
    """Copies of the current keep-masks by module path (e.g. to re-apply them after swapping modules for QAT)."""
    out = {}
    for name, mod in model.named_modules():
        mm = _mask_module(mod) if _is_prunable(mod) else None
        if mm is not None:
            out[name] = mm.mask.clone()
    return out


def strip(model: Any) -> Any:
    """Bake the masks in: every masked weight becomes a plain Parameter with exact zeros; returns ``model``.

    Call it once, before export (``picoml.from_torch``) or ``torch.save(model)`` (PyTorch
    refuses to pickle parametrized modules). Any other parametrization on the same weight is
    baked in too (``remove_parametrizations(..., leave_parametrized=True)``), as TF-MOT's
    ``strip_pruning`` does. The Parameter object is kept, so an optimizer still updates it —
    but without the mask, training after ``strip`` can make pruned weights non-zero again.

    ``strip(copy.deepcopy(model))`` leaves ``model`` pruned and working: a deep copy shares
    PyTorch's generated ``Parametrized<Module>`` class with the original, and
    ``remove_parametrizations`` deletes the weight property from that class, so each module is
    first given a private copy of its class.
    """
    from torch.nn.utils import parametrize

    for _name, mod in list(model.named_modules()):
        if _is_prunable(mod) and _mask_module(mod) is not None:
            cls = type(mod)
            own = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
            mod.__class__ = type(cls.__name__, cls.__bases__, own)
            parametrize.remove_parametrizations(mod, "weight", leave_parametrized=True)
    return model


def hold_zeros(module: Any, *, min_dim: int = 2) -> list[str]:
    """Hold the exact zeros of every weight tensor in ``module`` at zero through further training.

    For training that does not go through the original Conv/Linear modules: QAT on the
    exported Graph (``picoml.compress.QATModel`` keeps the graph's weights in a
    ``ParameterList``), or a model rebuilt from stripped weights. Every Parameter with at least
    ``min_dim`` dimensions (weights, not biases) that has exact zeros gets the same WeightMask
    parametrization, with ``mask = weight != 0``; reading the parameter by its attribute (or
    ``ParameterList[i]``) then yields the masked value. Call it before building the optimizer's
    first step. Returns the dotted names of the parameters now held.
    """
    from torch.nn.utils import parametrize

    held = []
    cls = _weight_mask_type()
    for mod_name, mod in list(module.named_modules()):
        if isinstance(mod, parametrize.ParametrizationList):
            continue  # the raw tensors of existing parametrizations are not weights to mask again
        for name, p in list(mod.named_parameters(recurse=False)):
            if p.dim() < min_dim or not bool((p.detach() == 0).any()):
                continue
            if parametrize.is_parametrized(mod, name) and any(isinstance(q, cls) for q in mod.parametrizations[name]):
                continue
            parametrize.register_parametrization(mod, name, cls(p.detach() != 0))
            held.append(f"{mod_name}.{name}" if mod_name else name)
    return held


_MASK_KEY = re.compile(r"^(?P<path>.*?)\.?parametrizations\.weight\.(?P<idx>\d+)\.mask$")


def load_state_dict(model: Any, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
    """Load a state_dict saved from a masked model into ``model``, installing the masks it holds first.

    A masked model's state_dict stores ``<path>.parametrizations.weight.original`` and
    ``<path>.parametrizations.weight.0.mask`` instead of ``<path>.weight``; a fresh
    (unmasked) instance of the same architecture cannot load it with ``nn.Module.load_state_dict``.
    This installs masks wherever the state_dict has one, then loads normally. Returns the
    ``load_state_dict`` result (missing/unexpected keys).
    """
    import torch

    masks = {}
    for key, value in state_dict.items():
        mt = _MASK_KEY.match(key)
        if mt and mt.group("idx") == "0":
            masks[mt.group("path")] = torch.as_tensor(value, dtype=torch.bool)
    for path, mask in masks.items():
        mod = model.get_submodule(path)
        if _mask_module(mod) is None:
            apply_masks(model, {path: torch.ones_like(mask)})
    return model.load_state_dict(state_dict, strict=strict)


class LayerSparsity(NamedTuple):
    """One row of ``sparsity_report``: weights and exact zeros of a Conv/Linear weight (bias not counted)."""

    layer: str
    weights: int
    zeros: int
    density: float


def sparsity_report(model: Any) -> list[LayerSparsity]:
    """Weights, exact zeros and density of every Conv/Linear weight (masked or not), in registration order."""
    rows = []
    for name, mod in model.named_modules():
        if _is_prunable(mod):
            w = mod.weight.detach()
            zeros = int((w == 0).sum())
            rows.append(LayerSparsity(name, int(w.numel()), zeros, 1.0 - zeros / max(1, w.numel())))
    return rows


def overall_sparsity(model: Any) -> float:
    """Fraction of exact zeros over all Conv/Linear weights."""
    rows = sparsity_report(model)
    total = sum(r.weights for r in rows)
    return sum(r.zeros for r in rows) / total if total else 0.0


# ---------------------------------------------------------------------------------------------
# Pruning during training
# ---------------------------------------------------------------------------------------------


class Pruner:
    """Drives masks through training: call ``step()`` once after every optimizer step.

    ``step_count`` counts optimizer steps taken; the masks in force during step ``t``'s
    forward pass are those of the schedule at ``t`` (so with ``begin_step=0`` the initial
    sparsity applies from the very first batch). Masks only ever lose entries: a pruned weight
    stays pruned. Use it directly in your own loop, or let ``prune(..., train=...)`` drive it.
    """

    def __init__(
        self,
        model: Any,
        schedule: Schedule | None = None,
        *,
        scope: str = "global",
        n_m: tuple[int, int] | None = None,
        exclude: Iterable[str] = (),
        skip_first_last: bool = False,
    ) -> None:
        import torch

        if (schedule is None) == (n_m is None):
            raise InputError("Pruner needs exactly one of a sparsity schedule or an N:M pattern")
        if scope not in SCOPES:
            raise InputError(f"scope must be one of {SCOPES}, got {scope!r}")
        self.model = model
        self.schedule = schedule
        self.scope = scope
        self.n_m = n_m
        self.exclude = tuple(exclude)
        self.skip_first_last = skip_first_last
        self.step_count = 0
        self.last_sparsity: float | None = None  # target of the latest mask update
        self.layers = prunable_layers(model, exclude=self.exclude, skip_first_last=skip_first_last)
        if not self.layers:
            raise InputError(f"{type(model).__name__} has no Conv/Linear weights left to prune")
        fresh = {
            n: torch.ones_like(m.weight, dtype=torch.bool) for n, m in self.layers.items() if _mask_module(m) is None
        }
        apply_masks(model, fresh)
        if n_m is not None:
            self._apply(nm_masks(model, *n_m, exclude=self.exclude, skip_first_last=skip_first_last))
            self.last_sparsity = 1.0 - n_m[0] / n_m[1]
        else:
            self._update(0)

    def _apply(self, masks: Mapping[str, torch.Tensor]) -> None:
        current = get_masks(self.model)
        apply_masks(self.model, {n: mk & current[n] for n, mk in masks.items()})

    def _update(self, step: int) -> None:
        if self.schedule is None:
            return
        should, target = self.schedule(step)
        if not should:
            return
        self._apply(
            magnitude_masks(self.model, target, self.scope, exclude=self.exclude, skip_first_last=self.skip_first_last)
        )
        self.last_sparsity = float(target)

    def step(self, *_: Any) -> None:
        """Record one optimizer step; recompute masks when the schedule says so (extra arguments are ignored)."""
        self.step_count += 1
        self._update(self.step_count)

    def finish(self) -> None:
        """Make sure the schedule's final sparsity is in force (warns if training stopped before ``end_step``)."""
        if self.schedule is None:
            return
        final = float(self.schedule.final_sparsity)
        end = self.schedule.end_step
        if end >= 0 and self.step_count < end and self.last_sparsity != final:
            warnings.warn(
                f"training took {self.step_count} steps but the pruning schedule ends at step {end}; "
                f"the final sparsity {final:g} was applied after training, without fine-tuning",
                stacklevel=3,
            )
            self._apply(
                magnitude_masks(
                    self.model, final, self.scope, exclude=self.exclude, skip_first_last=self.skip_first_last
                )
            )
            self.last_sparsity = final


def prune(
    model: Any,
    sparsity: float | None = None,
    *,
    schedule: Schedule | None = None,
    scope: str = "global",
    n_m: tuple[int, int] | None = None,
    train: Callable[[Any, Callable[..., None]], Any] | None = None,
    exclude: Iterable[str] = (),
    skip_first_last: bool = False,
) -> Any:
    """Magnitude-prune the Conv/Linear weights of ``model`` in place; returns it with the masks attached.

    Give exactly one of:

    * ``sparsity`` — one-shot: prune to it now, then (if ``train``) fine-tune with the masks fixed;
    * ``schedule`` — gradual (``PolynomialDecay``): needs ``train``; masks follow the schedule;
    * ``n_m=(2, 4)`` — N:M pattern along the input dimension, fixed from the start.

    ``train(model, step_callback)`` is your training loop; it must call ``step_callback()``
    after every optimizer step (``fine_tune(model, data, ..., step_callback=cb)`` and
    ``picoml.compress.distill.distill(..., step_callback=cb)`` do). The masks stay on the
    model so that later training keeps the zeros; call ``strip(model)`` before export, and
    ``hold_zeros(qat_model)`` when QAT trains the exported Graph (``picoml.compress.QATModel``).
    """
    given = sum(x is not None for x in (sparsity, schedule, n_m))
    if given != 1:
        raise InputError("prune needs exactly one of sparsity=, schedule= or n_m=")
    if schedule is not None and train is None:
        raise InputError("a pruning schedule needs a training loop: pass train=callable(model, step_callback)")
    if sparsity is not None:
        schedule = ConstantSparsity(_check_fraction(sparsity, "sparsity"), begin_step=0, end_step=0)
    pruner = Pruner(model, schedule, scope=scope, n_m=n_m, exclude=exclude, skip_first_last=skip_first_last)
    if train is not None:
        train(model, pruner.step)
        pruner.finish()
    return model


__all__ = [
    "SCOPES",
    "ConstantSparsity",
    "LayerSparsity",
    "PolynomialDecay",
    "Pruner",
    "Schedule",
    "apply_masks",
    "get_masks",
    "hold_zeros",
    "load_state_dict",
    "magnitude_masks",
    "nm_masks",
    "overall_sparsity",
    "prunable_layers",
    "prune",
    "sparsity_report",
    "strip",
]
