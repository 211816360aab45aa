"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR reference kernels.

Both resize H and W of an NHWC tensor to the constant ``size`` input. ``prepare`` turns the
options into per-row and per-column tables; ``evaluate`` only gathers (and, for bilinear,
weighs) with them. The C kernels read the same tables, so Python and C cannot disagree.

Nearest (tflite-micro ``micro/kernels/internal/reference/resize_nearest_neighbor.h``,
``GetNearestNeighbor``; LiteRT's float kernel computes the same indices): per output index
``i``, in float32: ``scale = in / out`` (``(in - 1) / (out - 1)`` with align_corners and
out > 1), ``v = (i + offset) · scale`` with offset 0.5 under half_pixel_centers, then
``round(v)`` (half away from zero) with align_corners or ``floor(v)`` without, clamped to
``in - 1`` and, under half_pixel_centers, to 0 from below. The values are copied unchanged
(int8 codes included: in and out share the quantization, ``Int8Output.SHARED``).

Bilinear int8 (tflite-micro ``reference/resize_bilinear.h``, ``ResizeBilinearInteger``): no
float at all. ``scale = (1024 · in + out / 2) / out`` (align_corners: ``(1024 · (in - 1) +
(out - 1) / 2) / (out - 1)``), integer divisions; ``p = i · scale`` (half_pixel_centers:
``+ scale / 2 - 512``); ``lo = max(p / 1024, 0)`` (C division, toward zero), ``hi =
min((p + 1023) / 1024, in - 1)``, ``d = p - 1024 · lo``; the four taps weigh
``(1024 - dy)(1024 - dx)``, ``dy (1024 - dx)``, ``(1024 - dy) dx``, ``dy dx`` on the raw int8
codes, and the sum is rounded half away from zero by 2^20 (tflite-micro's default
double-rounding build; ``TFLITE_SINGLE_ROUNDING`` would round half up). Every term is below
2^29 in magnitude, so the sum is exact in int32 (the C kernel uses int32, tflite-micro int64).

Bilinear float (LiteRT builtin kernel): ``scale`` in float32, ``v = i · scale`` (half_pixel:
``(i + 0.5) · scale - 0.5``), ``lo = max(floor(v), 0)``, ``hi = min(ceil(v), in - 1)`` and the
four products ``x · (1 - (vy - lo_y)) · (1 - (vx - lo_x))`` ... summed in float32.

Refused (UnsupportedError): bilinear align_corners with half_pixel_centers (tflite-micro's
Prepare fails), and an integer scale rounded so far up that a row index passes the input's
last row (tflite-micro would read past the input: upsampling by ~sqrt(2048 · in) or more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import round_half_away
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.graph.resize_ops import resize_size
from picoml.reference.common import to_nhwc

F32 = np.float32
ONE = 1 << 10  # tflite-micro's fixed-point 1.0 of the interpolation weights


@dataclass(frozen=True)
class ResizeParams:
    bilinear: bool
    quantized: bool
    # nearest: source row / column of each output row / column
    rows: np.ndarray  # (out_h,) int32 (bilinear: lower row)
    cols: np.ndarray  # (out_w,) int32 (bilinear: lower column)
    # bilinear only: upper row / column and the fraction toward it
    rows_hi: np.ndarray | None = None
    cols_hi: np.ndarray | None = None
    frac_y: np.ndarray | None = None  # int8: int32 in 1/1024 units; float: float32 (v - lo)
    frac_x: np.ndarray | None = None
    twice: bool = False  # float, no flags, exactly 2x in H and W: LiteRT's ResizeBilinear2x2


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """Source index of each output index (GetNearestNeighbor, float32 arithmetic)."""
    if align_corners and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    else:
        scale = F32(in_size) / F32(out_size)
    offset = F32(0.5) if half_pixel_centers else F32(0.0)
    v = (np.arange(out_size, dtype=F32) + offset) * scale  # float32, as the C
    idx = round_half_away(v) if align_corners else np.floor(v)  # TfLiteRound (std::round) / std::floor
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    if half_pixel_centers:
        idx = np.maximum(idx, 0)
    return idx.astype(np.int32)


def _trunc_div(a: np.ndarray, b: int) -> np.ndarray:
    """C's integer division (toward zero) of int64 ``a`` by a positive ``b``."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def bilinear_int_tables(
    in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower index, upper index, dy in 1/1024) per output index (ComputeInterpolationValuesInteger)."""
    if align_corners and out_size > 1:
        scale = (ONE * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = (ONE * in_size + out_size // 2) // out_size
    i = np.arange(out_size, dtype=np.int64)
    p = i * scale + (scale // 2 - ONE // 2 if half_pixel_centers else 0)
    lo = np.maximum(_trunc_div(p, ONE), 0)
    hi = np.minimum(_trunc_div(p + ONE - 1, ONE), in_size - 1)
    return lo, hi, p - ONE * lo


def bilinear_float_tables(
    in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower index, upper index, v - lower as float32) per output index (ComputeInterpolationValues)."""
    scale = F32(in_size) / F32(out_size)
    if align_corners and out_size > 1:
        scale = F32(in_size - 1) / F32(out_size - 1)
    i = np.arange(out_size, dtype=F32)
    v = (i + F32(0.5)) * scale - F32(0.5) if half_pixel_centers else i * scale
    v = v.astype(F32)
    lo = np.maximum(np.floor(v).astype(np.int64), 0)
    hi = np.minimum(np.ceil(v).astype(np.int64), in_size - 1)
    return lo, hi, (v - lo.astype(F32)).astype(F32)


def prepare(op: Op) -> ResizeParams:
    x = op.inputs[0]
    _, ih, iw, _ = x.shape
    oh, ow = resize_size(op)
    ac, hp = bool(op.attrs["align_corners"]), bool(op.attrs["half_pixel_centers"])
    quantized = x.dtype == "int8"
    if op.type == OpType.RESIZE_NEAREST_NEIGHBOR:
        return ResizeParams(False, quantized, nearest_indices(ih, oh, ac, hp), nearest_indices(iw, ow, ac, hp))
    if ac and hp:
        raise UnsupportedError(f"{op.label}: align_corners and half_pixel_centers together (tflite-micro refuses)")
    tables = bilinear_int_tables if quantized else bilinear_float_tables
    ylo, yhi, dy = tables(ih, oh, ac, hp)
    xlo, xhi, dx = tables(iw, ow, ac, hp)
    for what, lo, size in (("row", ylo, ih), ("column", xlo, iw)):
        if lo.size and int(lo.max()) > size - 1:
            raise UnsupportedError(
                f"{op.label}: the integer scale of tflite-micro's int8 kernel reaches {what} {int(lo.max())} of an "
                f"input with {size}: it would read past the input (upsampling too far)"
            )
    i32 = np.int32
    frac = (lambda a: a.astype(i32)) if quantized else (lambda a: a.astype(F32))
    twice = not quantized and not ac and not hp and (oh, ow) == (2 * ih, 2 * iw)
    return ResizeParams(
        True, quantized, ylo.astype(i32), xlo.astype(i32), yhi.astype(i32), xhi.astype(i32), frac(dy), frac(dx), twice
    )


def evaluate(p: ResizeParams, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    if not p.bilinear:
        y = x[:, p.rows][:, :, p.cols]
        return y.reshape(lead + y.shape[1:])
    top, bottom = x[:, p.rows], x[:, p.rows_hi]
    a, b = top[:, :, p.cols], top[:, :, p.cols_hi]  # (y0, x0), (y0, x1)
    c, d = bottom[:, :, p.cols], bottom[:, :, p.cols_hi]  # (y1, x0), (y1, x1)
    if p.quantized:
        fy = p.frac_y.astype(np.int64)[None, :, None, None]
        fx = p.frac_x.astype(np.int64)[None, None, :, None]
        a, b, c, d = (v.astype(np.int64) for v in (a, b, c, d))
        s = a * (ONE - fy) * (ONE - fx) + c * fy * (ONE - fx) + b * (ONE - fy) * fx + d * fy * fx
        half = 1 << 19
        q = np.where(s > 0, (s + half) >> 20, -((half - s) >> 20))  # (s ± 2^19) / 2^20 toward zero
        y = q.astype(np.int8)
    elif p.twice:
        y = _twice(x)
    else:
        fy, fx = p.frac_y[:, None], p.frac_x[None, :]
        one = F32(1)
        weights = ((one - fy) * (one - fx), (one - fy) * fx, fy * (one - fx), fy * fx)  # float32 (oh, ow)
        y = np.zeros(a.shape, F32)
        for v, wt in zip((a, b, c, d), weights, strict=True):  # output += input · scale, corner by corner
            y += v * wt[None, :, :, None]
    return y.reshape(lead + y.shape[1:])


def _twice(x: np.ndarray) -> np.ndarray:
    """LiteRT's float 2x upsampling (ResizeBilinear2x2): each input pixel and its right, lower and
    diagonal neighbours (clamped at the edges) give 4 outputs by halving sums."""
    m, h, w, c = x.shape
    right = x[:, :, np.minimum(np.arange(w) + 1, w - 1)]
    below = x[:, np.minimum(np.arange(h) + 1, h - 1)]
    diag = below[:, :, np.minimum(np.arange(w) + 1, w - 1)]
    half = F32(0.5)
    y = np.empty((m, h, 2, w, 2, c), F32)
    y[:, :, 0, :, 0] = x
    y[:, :, 0, :, 1] = (x + right) * half
    bl = (x + below) * half
    y[:, :, 1, :, 0] = bl
    y[:, :, 1, :, 1] = (bl + (right + diag) * half) * half
    return y.reshape(m, 2 * h, 2 * w, c)
