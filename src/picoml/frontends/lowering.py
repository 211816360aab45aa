"""Lowering shared by the framework front-ends (PyTorch, ONNX): channels-first data and layers
→ the graph's channels-last ops."""

from __future__ import annotations

import numpy as np


def to_graph_layout(x: np.ndarray) -> np.ndarray:
    """Channels-first framework data → the graph's channels-last layout.

    (N,C,H,W) → (N,H,W,C); (N,C,L) → (N,L,C); other ranks unchanged.
    """
    x = np.asarray(x)
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    if x.ndim == 3:
        return np.ascontiguousarray(x.transpose(0, 2, 1))
    return x


def from_graph_layout(y: np.ndarray) -> np.ndarray:
    """Inverse of ``to_graph_layout``."""
    y = np.asarray(y)
    if y.ndim == 4:
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    if y.ndim == 3:
        return np.ascontiguousarray(y.transpose(0, 2, 1))
    return y
