"""Pruning for PyTorch models: synapses (unstructured, N:M) and neurons/channels (structured).

Two kinds of pruning serve a microcontroller differently:

* **Unstructured (synapse) pruning** zeroes individual weights. The tensors keep their shape,
  so RAM and MACs do not shrink by themselves; what shrinks is the *compressed* flash image
  and, with a sparse kernel or N:M pattern, the work. It is also the gentlest on accuracy.
  ``prune`` / ``magnitude_masks`` / ``nm_masks`` / ``apply_masks`` / ``strip``.
* **Structured (channel) pruning** removes whole output channels or neurons and rebuilds the
  layers smaller, so parameters, MACs and activation memory all drop on any dense kernel —
  which is what picoml's C kernels are. ``prune_channels`` / ``channel_groups`` / ``model_cost``.

Why masks are a parametrization, and the sources of the schedules and N:M patterns: see
``picoml.compress.sparsity``. Channel ranking:
L1 norm of filters (Li et al. 2017, "Pruning Filters for Efficient ConvNets"), |BatchNorm γ|
(Liu et al. 2017, "Network Slimming"); dependency groups as in Fang et al. 2023,
"DepGraph" (Torch-Pruning), here derived from a torch.fx trace.

Where each part lives: ``picoml.compress.sparsity`` (schedules, masks, ``Pruner``, ``prune``),
``picoml.compress.channels`` (``prune_channels``, ``channel_groups``), ``picoml.compress.cost``
(``model_cost``) and ``picoml.compress.train`` (``fine_tune``, the training loop every trainer
runs). This module gathers their public names under one, ``picoml.compress.prune``.

torch is imported inside the functions, so importing this module needs numpy only.
"""

from __future__ import annotations

from typing import Any

from picoml.compress.channels import CRITERIA, ChannelGroup, channel_groups, prune_channels
from picoml.compress.cost import ModelCost, count_macs, count_params, model_cost
from picoml.compress.sparsity import (
    SCOPES,
    ConstantSparsity,
    LayerSparsity,
    PolynomialDecay,
    Pruner,
    Schedule,
    _weight_mask_type,
    apply_masks,
    get_masks,
    hold_zeros,
    load_state_dict,
    magnitude_masks,
    nm_masks,
    overall_sparsity,
    prunable_layers,
    prune,
    sparsity_report,
    strip,
)
from picoml.compress.train import fine_tune, iter_batches, loss_function, torch_threads


def __getattr__(name: str) -> Any:
    # ``picoml.compress.prune.WeightMask`` (isinstance checks) resolves lazily, as in ``sparsity``.
    if name == "WeightMask":
        return _weight_mask_type()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CRITERIA",
    "SCOPES",
    "ChannelGroup",
    "ConstantSparsity",
    "LayerSparsity",
    "ModelCost",
    "PolynomialDecay",
    "Pruner",
    "Schedule",
    "apply_masks",
    "channel_groups",
    "count_macs",
    "count_params",
    "fine_tune",
    "get_masks",
    "hold_zeros",
    "iter_batches",
    "load_state_dict",
    "loss_function",
    "magnitude_masks",
    "model_cost",
    "nm_masks",
    "overall_sparsity",
    "prunable_layers",
    "prune",
    "prune_channels",
    "sparsity_report",
    "strip",
    "torch_threads",
]
