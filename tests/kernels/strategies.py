"""Hypothesis strategies for single-op kernel tests: quantization parameters and tensors."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from picoml.graph import Tensor

from oracles import qtensor

ACTS = st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
PADDINGS = st.sampled_from(["SAME", "VALID"])
DTYPES = st.sampled_from(["int8", "float32"])


@st.composite
def act_quant(draw, lo=-3.0, hi=0.0):
    """(scale, zero_point) of an int8 activation."""
    scale = float(np.float32(10 ** draw(st.floats(lo, hi))))
    zp = draw(st.integers(-128, 127))
    return scale, zp


def act_tensor(name: str, shape, dtype: str, q=None) -> Tensor:
    if dtype == "float32":
        return Tensor(name, tuple(shape), "float32")
    scale, zp = q
    return qtensor(name, shape, scale, zp)


def weights(rng: np.random.Generator, name: str, shape, dtype: str, axis: int, per_channel: bool):
    """Constant weights: int8 symmetric per-channel (or per-tensor) along `axis`, or float32."""
    if dtype == "float32":
        return Tensor(name, tuple(shape), "float32", data=rng.standard_normal(shape).astype(np.float32) * 0.3)
    n = shape[axis] if per_channel else 1
    scales = (10 ** rng.uniform(-3, -1, n)).astype(np.float32)
    data = rng.integers(-127, 128, shape, dtype=np.int8)
    return qtensor(name, shape, scales, np.zeros(n, np.int64), data=data, axis=axis if per_channel else 0)


def bias(rng: np.random.Generator, name: str, n: int, dtype: str, in_scale: float, w: Tensor):
    """int32 bias with scale in_scale * w_scale (zero point 0), or float32."""
    if dtype == "float32":
        return Tensor(name, (n,), "float32", data=rng.standard_normal(n).astype(np.float32))
    ws = np.broadcast_to(w.scale, (n,)) if w.scale.size == 1 else w.scale
    scale = (np.float64(in_scale) * ws.astype(np.float64)).astype(np.float32)
    return qtensor(
        name, (n,), scale, np.zeros(n, np.int64), "int32", data=rng.integers(-5000, 5000, n).astype(np.int32), axis=0
    )


def output_scale(rng: np.random.Generator, in_scale: float, w: Tensor, fan_in: int) -> float:
    """An output scale that keeps typical accumulators inside int8 (random factor of 10 either way)."""
    typical = in_scale * float(np.mean(w.scale)) * 128 * 40 * np.sqrt(fan_in)
    return float(np.float32(typical / 128 * 10 ** rng.uniform(-1, 1)))


@st.composite
def broadcast_pair(draw, max_rank: int = 4, max_dim: int = 5):
    """Two shapes that broadcast (TFLite's trailing-aligned rules): b keeps or collapses each of a's
    dimensions to 1, may drop leading ones (lower rank); the two may be swapped."""
    rank = draw(st.integers(1, max_rank))
    a = [draw(st.integers(1, max_dim)) for _ in range(rank)]
    b = [d if draw(st.booleans()) else 1 for d in a]
    if draw(st.booleans()):
        b = b[draw(st.integers(0, rank - 1)) :]  # lower rank
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


def all_code_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) pair of int8 codes as two (1, 65536) arrays: one sample of a (65536,) tensor each."""
    codes = np.arange(-128, 128, dtype=np.int8)
    return np.repeat(codes, 256)[None], np.tile(codes, 256)[None]
