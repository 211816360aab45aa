"""Cost of a PyTorch model for a microcontroller: parameters and multiply-accumulates per inference.

torch is imported inside the functions, so importing this module needs numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from picoml.compress.sparsity import _is_prunable
from picoml.compress.train import _eval_mode

if TYPE_CHECKING:
    pass

# ---------------------------------------------------------------------------------------------
# Cost: parameters and MACs
# ---------------------------------------------------------------------------------------------


def _as_inputs(example_input: Any) -> tuple[Any, ...]:
    return tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)


@dataclass(frozen=True)
class ModelCost:
    """Parameters and per-inference multiply-accumulates of Conv/Linear layers (what dominates MCU time)."""

    params: int
    macs: int


def count_macs(model: Any, example_input: Any) -> int:
    """MACs of one inference: Conv ``out·(cin/groups)·k``, ConvTranspose ``in·(cout/groups)·k``, Linear ``out·in``.

    Counted from the shapes seen in a forward pass on ``example_input`` (batch N; the count is
    divided by N), with the same formula as ``picoml.graph.ops.op_macs`` for CONV_2D,
    DEPTHWISE_CONV_2D and FULLY_CONNECTED. Biases, BatchNorm (folded on export), activations,
    pooling and additions are not MACs. A module called twice counts twice.
    """
    import torch
    from torch import nn

    inputs = _as_inputs(example_input)
    batch = int(inputs[0].shape[0]) if inputs and inputs[0].dim() > 0 else 1
    total = [0]

    def hook(mod: Any, inp: Any, out: Any) -> None:
        if isinstance(mod, nn.modules.conv._ConvTransposeNd):
            total[0] += inp[0].numel() * (mod.out_channels // mod.groups) * math.prod(mod.kernel_size)
        elif isinstance(mod, nn.modules.conv._ConvNd):
            total[0] += out.numel() * (mod.in_channels // mod.groups) * math.prod(mod.kernel_size)
        elif isinstance(mod, nn.Linear):
            total[0] += out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if _is_prunable(m)]
    try:
        with torch.no_grad(), _eval_mode(model):
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total[0] // max(1, batch)


def count_params(model: Any) -> int:
    """Number of parameters (masked weights still count: unstructured pruning does not change shapes)."""
    return int(sum(p.numel() for p in model.parameters()))


def model_cost(model: Any, example_input: Any) -> ModelCost:
    """``ModelCost(params, macs)`` of ``model`` on ``example_input`` (see ``count_macs``)."""
    return ModelCost(count_params(model), count_macs(model, example_input))


__all__ = ["ModelCost", "count_macs", "count_params", "model_cost"]
