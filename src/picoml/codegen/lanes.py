"""The Armv6-M lanes layout of CONV_2D weights (pm_conv2d_s8_lanes, runtime/pm_dot_s8.h).

Cortex-M0/M0+ multiply 32 x 32 -> 32 bits in one cycle but have no SIMD: two output channels
a, b share one multiply through the int32 word w_a + 65536 * w_b, and the kernel separates the
two 16-bit lane sums after every chunk of two inputs. A chunk's lane sum stays within int16 for
any int8 inputs unless both of its weights are -128 (128 * 128 * 2 = 32768), so a layer with
such a chunk keeps the offset-binary GEMM variant. The layout takes twice the bytes of int8
weights (two bytes per weight), the price of one multiply per two MACs.
"""

from __future__ import annotations

import numpy as np

BLOCK = 4  # output channels per pm_lanes_block_s8 call: two pairs


def _rows(w: np.ndarray) -> np.ndarray:
    """[out, k] int64, k padded with a zero column to even, out with zero rows to a multiple of 4."""
    r = np.asarray(w).reshape(w.shape[0], -1).astype(np.int64)
    return np.pad(r, ((0, -r.shape[0] % BLOCK), (0, r.shape[1] % 2)))


def lanes_fit(w: np.ndarray) -> bool:
    """True when no output channel has a chunk (inputs 2h, 2h + 1) whose weights are both -128."""
    r = _rows(w)
    return not bool(((r[:, 0::2] == -128) & (r[:, 1::2] == -128)).any())


def pack_lanes(w: np.ndarray) -> np.ndarray:
    """Weights [out, ...] (OHWI) as the int32 words of pm_conv2d_s8_lanes: per block of 4
    channels and per chunk h of two inputs, W(0,1)[2h], W(0,1)[2h+1], W(2,3)[2h], W(2,3)[2h+1],
    where W(a,b)[j] = w_a[j] + 65536 * w_b[j]."""
    r = _rows(w)
    out, kp = r.shape
    words = r[0::2] + 65536 * r[1::2]  # [pair, kp]
    # [block, pair-in-block, chunk, 2] -> [block, chunk, pair-in-block, 2]
    blocks = words.reshape(out // BLOCK, 2, kp // 2, 2).transpose(0, 2, 1, 3)
    return blocks.reshape(-1).astype(np.int32)
