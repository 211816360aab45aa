"""Calibration: stream a float Graph over sample inputs and pick one range per activation tensor.

The float graph runs in picoml's reference interpreter, ``batch_size`` inputs at a time, with
every intermediate tensor captured (``Interpreter.run(all_tensors=True)``). Only running
statistics are kept, never the activations themselves, so memory is bounded by one batch:

- pass 1: the minimum and maximum of every tensor;
- pass 2 (``percentile`` and ``mse`` only): a histogram of ``HIST_BINS`` equal bins over that
  [min, max] per tensor. Two passes instead of a re-binning streaming histogram keep every
  bin edge fixed, so the result does not depend on the batch order.

Methods (each returns (lo, hi); the quantizer then widens it to include 0):

- ``minmax``: the observed extremes (TFLite's calibrator);
- ``percentile``: lo at the ``100 - p``-th and hi at the ``p``-th percentile, interpolated
  linearly inside the histogram bin (error below one bin, (max - min) / HIST_BINS);
- ``mse``: the (lo, hi) on a grid of fractions of (min, max) whose int8 quantization (same
  scale, nudged zero point, rounding and clamping as the int8 graph) has the smallest mean
  squared error over the histogram (values taken at their bin centres).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from picoml.errors import InputError
from picoml.graph.ir import Graph, Tensor
from picoml.qparams import activation_qparams, quantize_array
from picoml.reference.interpreter import Interpreter

METHODS = ("minmax", "percentile", "mse")
HIST_BINS = 2048
MSE_GRID = 64  # candidate fractions of each side's extreme: 1/64, 2/64, ..., 1


@dataclass
class TensorStats:
    """Running statistics of one tensor: extremes, and a histogram over [lo, hi] when asked for."""

    lo: float = np.inf
    hi: float = -np.inf
    hist: np.ndarray | None = None


def calibration_inputs(graph: Graph, data: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Check calibration data against the graph inputs: one float32 array (N,) + input shape per input.

    Accepts one array for a one-input graph, or a sequence with one array per input; each a batch
    [N, ...] of the input's shape (or of its shape without a leading 1, as ``picoml.run`` does), or
    for a one-input graph a sequence of single samples. Rejects non-numeric data, empty batches and
    NaN/infinity (calibration ranges would be meaningless) with a one-line InputError.
    """
    ins = graph.inputs
    if isinstance(data, np.ndarray) or not isinstance(data, Sequence):
        arrays = [data]
    else:
        arrays = list(data)
        if len(ins) == 1 and len(arrays) != 1:
            try:
                arrays = [np.stack([np.asarray(a) for a in arrays])]  # a list of single samples
            except ValueError:
                raise InputError(
                    f"calibration data: got a list of {len(arrays)} arrays of different shapes for the one input "
                    f"{ins[0].name!r}; give one array [N, ...]"
                ) from None
    if len(arrays) != len(ins):
        raise InputError(f"calibration data: the model has {len(ins)} inputs, got {len(arrays)} arrays")
    out = []
    for t, a in zip(ins, arrays, strict=True):
        out.append(_one_input(t, a))
    n = {len(a) for a in out}
    if len(n) != 1:
        raise InputError(f"calibration data: inputs have different numbers of samples {sorted(n)}")
    return out


def _one_input(t: Tensor, a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiu" or a.dtype == np.bool_:
        raise InputError(f"calibration data for input {t.name!r}: dtype {a.dtype} is not a real number type")
    shape = tuple(t.shape)
    if a.ndim == len(shape) + 1 and a.shape[1:] == shape:
        b = a
    elif shape and shape[0] == 1 and a.ndim == len(shape) and a.shape[1:] == shape[1:]:
        b = a.reshape((a.shape[0],) + shape)
    elif a.shape == shape and not (shape and shape[0] == 1 and len(shape) > 1):
        b = a[None]
    else:
        hint = f" or [N, {', '.join(map(str, shape[1:]))}]" if shape and shape[0] == 1 else ""
        raise InputError(
            f"calibration data for input {t.name!r}: shape {list(a.shape)} does not match the model's "
            f"{list(shape)} (give a batch [N, {', '.join(map(str, shape))}]{hint} in the graph's NHWC layout)"
        )
    if b.shape[0] == 0:
        raise InputError(f"calibration data for input {t.name!r} is empty (N = 0)")
    b = b.astype(np.float32, copy=False)
    bad = ~np.isfinite(b)
    if bad.any():
        first = np.unravel_index(int(np.argmax(bad)), b.shape)
        raise InputError(
            f"calibration data for input {t.name!r} has {int(bad.sum())} NaN/infinite values "
            f"(first at index {list(map(int, first))})"
        )
    return b


def _batches(xs: list[np.ndarray], batch_size: int) -> Iterator[list[np.ndarray]]:
    n = len(xs[0])
    for s in range(0, n, batch_size):
        yield [x[s : s + batch_size] for x in xs]


def _run_batches(graph: Graph, xs: list[np.ndarray], batch_size: int, names: set[str]):
    """Yield {name: values} of the requested tensors for each batch (one float interpreter, prepared
    once; batches no larger than the interpreter's memory limit allows with every tensor kept)."""

    ip = Interpreter(graph)
    for b in _batches(xs, min(batch_size, ip.max_batch(all_tensors=True))):
        values = ip.run(b if len(b) > 1 else b[0], all_tensors=True)
        yield {k: v for k, v in values.items() if k in names}


def collect_stats(
    graph: Graph, xs: list[np.ndarray], names: Sequence[str], *, histograms: bool, batch_size: int = 256
) -> dict[str, TensorStats]:
    """Stream the float graph over ``xs`` and return statistics for the tensors ``names``."""
    if batch_size < 1:
        raise InputError(f"calibration batch_size must be >= 1, is {batch_size}")
    want = set(names)
    stats = {n: TensorStats() for n in names}
    for values in _run_batches(graph, xs, batch_size, want):
        for name, v in values.items():
            s = stats[name]
            s.lo = min(s.lo, float(v.min()))
            s.hi = max(s.hi, float(v.max()))
    for name, s in stats.items():
        if not (np.isfinite(s.lo) and np.isfinite(s.hi)):
            raise InputError(
                f"calibration: tensor {name!r} took non-finite values (float overflow in the model?); "
                "check the calibration data's scale"
            )
    if histograms:
        for s in stats.values():
            s.hist = np.zeros(HIST_BINS, np.int64)
        for values in _run_batches(graph, xs, batch_size, want):
            for name, v in values.items():
                s = stats[name]
                s.hist += _histogram(v, s.lo, s.hi)
    return stats


def _histogram(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Counts of ``v`` in HIST_BINS equal bins over [lo, hi] (the top edge belongs to the last bin)."""
    v = np.asarray(v, np.float64).reshape(-1)
    if hi <= lo:
        out = np.zeros(HIST_BINS, np.int64)
        out[0] = v.size
        return out
    idx = np.floor((v - lo) * (HIST_BINS / (hi - lo))).astype(np.int64)
    np.clip(idx, 0, HIST_BINS - 1, out=idx)
    return np.bincount(idx, minlength=HIST_BINS)


def percentile_range(s: TensorStats, percentile: float) -> tuple[float, float]:
    """(lo, hi) at the (100 - p)-th and p-th percentiles of the histogram, linear inside a bin."""
    if s.hist is None or s.hi <= s.lo:
        return s.lo, s.hi
    c = np.cumsum(s.hist)
    n = float(c[-1])
    width = (s.hi - s.lo) / HIST_BINS

    def at(q: float) -> float:
        target = q * n
        i = int(np.searchsorted(c, target, side="left"))
        i = min(i, HIST_BINS - 1)
        before = float(c[i - 1]) if i else 0.0
        frac = (target - before) / float(s.hist[i]) if s.hist[i] else 0.0
        return s.lo + (i + min(max(frac, 0.0), 1.0)) * width

    p = percentile / 100.0
    lo, hi = at(1.0 - p), at(p)
    return min(lo, hi), max(lo, hi)


def mse_range(s: TensorStats) -> tuple[float, float]:
    """The clipping range on a grid of fractions of (min, max) with the least int8 quantization MSE.

    Each candidate (lo, hi) is quantized exactly as the int8 graph will be (``activation_qparams``:
    range widened to 0, float32 scale, nudged zero point) and the histogram's bin centres are
    rounded half away from zero and clamped to [-128, 127]; the error is weighted by bin counts.
    """

    if s.hist is None or s.hi <= s.lo:
        return s.lo, s.hi
    edges = np.linspace(s.lo, s.hi, HIST_BINS + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    keep = s.hist > 0
    x, w = centres[keep], s.hist[keep].astype(np.float64)
    fr = np.arange(1, MSE_GRID + 1) / MSE_GRID
    los = s.lo * fr if s.lo < 0 else np.array([0.0])
    his = s.hi * fr if s.hi > 0 else np.array([0.0])
    best, best_err = (s.lo, s.hi), np.inf
    for lo in los:
        scales, zps = zip(*(activation_qparams(lo, hi) for hi in his), strict=True)
        sc = np.asarray(scales, np.float64)[:, None]
        zp = np.asarray(zps, np.float64)[:, None]
        q = quantize_array(x[None], sc, zp, precision=np.float64)
        err = ((x[None] - (q - zp) * sc) ** 2 * w[None]).sum(axis=1)
        k = int(np.argmin(err))
        if err[k] < best_err:
            best_err, best = float(err[k]), (float(lo), float(his[k]))
    return best


def choose_range(s: TensorStats, method: str, percentile: float) -> tuple[float, float]:
    """The (lo, hi) ``method`` picks from the statistics of one tensor."""
    if method == "minmax":
        return s.lo, s.hi
    if method == "percentile":
        return percentile_range(s, percentile)
    return mse_range(s)


def calibrate(
    graph: Graph,
    xs: list[np.ndarray],
    names: Sequence[str],
    *,
    method: str = "minmax",
    percentile: float = 99.99,
    batch_size: int = 256,
) -> dict[str, tuple[float, float]]:
    """(lo, hi) per tensor in ``names`` of the float ``graph`` over the calibration inputs ``xs``."""
    if method not in METHODS:
        raise InputError(f"calibration method {method!r} is not one of {', '.join(METHODS)}")
    if method == "percentile" and not (50.0 < percentile <= 100.0):
        raise InputError(f"percentile must be in (50, 100], is {percentile}")
    if not names:
        return {}
    stats = collect_stats(graph, xs, names, histograms=method != "minmax", batch_size=batch_size)
    return {n: choose_range(s, method, percentile) for n, s in stats.items()}
