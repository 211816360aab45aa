"""Model compression tools that train in PyTorch: QAT (qat.py), pruning (prune.py), distillation (distill.py).

Pruning is in ``sparsity.py`` (unstructured), ``channels.py`` (structured) and ``cost.py``;
``prune.py`` gathers their names. ``train.py`` is the one training loop every trainer runs.

PyTorch is optional for picoml (the core installs with numpy only), so nothing here imports it
until a tool is used: ``picoml.compress.QATModel`` loads ``picoml.compress.qat`` on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module (inside picoml.compress) that defines it; loaded on first access
# (the functions ``prune`` and ``distill`` are not re-exported: they share their submodules' names)
_LAZY = {
    "QATModel": "qat",
    "qat_finetune": "qat",
    **{
        n: "sparsity"
        for n in ("PolynomialDecay", "ConstantSparsity", "Pruner", "strip", "hold_zeros", "sparsity_report")
    },
    "prune_channels": "channels",
    "channel_groups": "channels",
    "model_cost": "cost",
    "fine_tune": "train",
    "train_loop": "train",
    "kd_loss": "distill",
    "mse_distill_loss": "distill",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"picoml.compress.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'picoml.compress' has no attribute {name!r}")


__all__ = sorted(_LAZY)
