"""GEMM rows of im2col convolutions padded for the Armv7E-M 4-row kernel (runtime/pm_conv2d_s8.h).

PM_FILTER_K4 pads a row of k = kh*kw*ic weights with zeros to a multiple of 4. PM_FILTER_ROWS is
the same row with its values reordered for windows whose rows (L = kw*ic values) are not whole
words, such as a first layer's 3x3 windows of 3 channels: each window row's L // 4 whole words
first (row after row), then the rows' L % 4 last values, two per 16-bit word pair. The kernel then
widens a window straight from the input rows, each whole word into one chunk of the widened block,
and packs the few last values; no im2col copy. Same length as K4 (its row is a permutation).
"""

from __future__ import annotations

import numpy as np

K4, ROWS = "PM_FILTER_K4", "PM_FILTER_ROWS"


def rows_positions(kh: int, kw: int, ic: int) -> np.ndarray:
    """Position in the PM_FILTER_ROWS row of each value of a plain window (ky, kx, c order)."""
    row = kw * ic
    q4 = row & ~3
    pos = np.empty(kh * row, np.int64)
    n = 0
    for ky in range(kh):
        for m in range(row):
            if m < q4:
                pos[ky * row + m] = ky * q4 + m
            else:  # tail value n: word n // 2 (chunk n // 4, E or O), low or high half
                pos[ky * row + m] = kh * q4 + 4 * (n >> 2) + ((n >> 1) & 1) + 2 * (n & 1)
                n += 1
    return pos


def padded_rows(filt: np.ndarray, dilation_w: int) -> tuple[np.ndarray, str] | None:
    """The GEMM rows [out, kp] of an OHWI filter for the 4-row kernel and their layout, or None when
    the plain rows already suit it (k % 4 == 0 and whole-word window rows)."""
    o, kh, kw, ic = filt.shape
    k = kh * kw * ic
    kp = (k + 3) & ~3
    rows = np.asarray(filt).reshape(o, k)
    if (kw * ic) % 4 and dilation_w == 1:
        out = np.zeros((o, kp), rows.dtype)
        out[:, rows_positions(kh, kw, ic)] = rows
        return out, ROWS
    if k % 4:
        return np.pad(rows, ((0, 0), (0, kp - k))), K4
    return None
