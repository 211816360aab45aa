"""Model compression tools that train in PyTorch: QAT (qat.py), pruning (prune.py), distillation (distill.py).

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
        n: "prune"
        for n in (
            "PolynomialDecay",
            "ConstantSparsity",
            "Pruner",
            "prune_channels",
            "channel_groups",
            "model_cost",
            "strip",
            "hold_zeros",
            "sparsity_report",
            "fine_tune",
        )
    },
    "kd_loss": "distill",
    "mse_distill_loss": "distill",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"picoml.compress.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'picoml.compress' has no attribute {name!r}")


__all__ = sorted(_LAZY)
