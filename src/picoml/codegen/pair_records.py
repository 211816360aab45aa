"""Pair streams (Armv7E-M speed builds with raw-lane pairs): a GEMM convolution's packed channel
pairs with each pair's biases and requantization records beside its weights.

The 4x2 pair loop (PM_GEMM_4X2_PAIRS_ASM in pm_dot_s8.h) spends a third of its per-pair work on
what never changes from one run to the next: it loads the pair's two biases and records through
pointers kept on the stack, folds the output zero point into each record's rounding term and
doubles each multiplier. A stream does that here, once, and puts the results where the loop's one
weight pointer already is (PM_GEMM_4X2_STREAM_ASM). Per pair of channels (a, b), 2k + 32 bytes:

    bias_a | the pair's 2k packed weight bytes | bias_b, M'_a, R_a, e_a, M'_b, R_b, e_b

with, from the fast-path record (requant.requant_rows: multiplier M, round, left, right = e):
M' = 2M read as int32 (M >= 2^30, so negative: SMMLAR(acc, M', acc) is SMMULR(2 acc, M)) and
R = round + (output_zp << e) (the zero point joined to the rounding term, exact while e <= 22).
These are the modes M and P of requant.fold_mode, which the generator writes into the layer's
pm_conv_params.fold; a stream is written only for layers in one of them. The C is given the
first pair's weights; the pair-by-pair paths (pixels past the last block of 4) step over the
records (PM_PAIR_BYTES). The layer keeps its plain bias and pm_requant arrays for those paths:
a stream costs 16 bytes of flash per output channel.
"""

from __future__ import annotations

import numpy as np

from picoml.codegen.requant import RQ_M, fold_mode
from picoml.codegen.variants import STREAM_KERNEL

RECORD_BYTES = 32  # per pair beyond its weights: PM_PAIR_BYTES in pm_conv2d_s8.c
RUN_SLACK = 128  # stack bytes a kernel takes beside its largest buffer (frame, saved registers): run_chunks
RUN_HEAD = 48  # pm_conv_pw4s's frame below its rows (pointers, counts: PM_PW_SP_ASM)


def stream_fits(rows: list[dict[str, int]], out_c: int, k: int, act: tuple[int, int]) -> bool:
    """Whether a layer's pair loop can read a stream: pairs of k (a multiple of 4) values, the
    records in mode M or P (requant.fold_mode: left == 1, multiplier >= 2^30, right <= 22) and the
    full int8 output range (pm_conv_direct)."""
    if out_c < 2 or out_c % 2 or k % 4 or k == 0 or tuple(act) != (-128, 127):
        return False
    return fold_mode(rows, 0) == RQ_M  # M or P: the output zero point tells them apart


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def pair_stream(words: np.ndarray, k: int, bias: np.ndarray, rows: list[dict[str, int]], zp: int) -> np.ndarray:
    """The stream (int32 words) from the packed pairs as words (``words``: out_c / 2 pairs of k / 2
    words each), the layer's folded int32 biases and fast-path records. Needs stream_fits."""
    out_c = len(rows)
    per = k // 2  # words per pair: 2k bytes
    w = np.asarray(words, np.int32).reshape(-1)[: out_c // 2 * per].reshape(out_c // 2, per)
    out = []
    for p in range(out_c // 2):
        recs = []
        for r in rows[2 * p : 2 * p + 2]:
            e = int(r["right"])
            recs += [_wrap32(2 * int(r["multiplier"])), _wrap32(int(r["round"]) + int(zp) * (1 << e)), e]
        out.append([int(bias[2 * p])])
        out.append(w[p].tolist())
        out.append([int(bias[2 * p + 1])] + recs)
    return np.array([v for part in out for v in part], np.int32)


def maybe_stream(
    words: np.ndarray, k: int, bias: np.ndarray, rows: list[dict[str, int]], p, variants: set[str]
) -> tuple[np.ndarray, bool]:
    """(the stream, True) for a layer that fits one (``p``: its prepared parameters: output zero
    point and activation range), noting its kernel (STREAM_KERNEL, PM_CONV_PAIRS4S) in ``variants``;
    else (``words``, False)."""
    if not stream_fits(rows, len(rows), k, (int(p.act_min), int(p.act_max))):
        return words, False
    variants.add(STREAM_KERNEL)
    return pair_stream(words, k, bias, rows, int(p.output_zp)), True


def run_chunks(layers: list[tuple[int, bool]], stack_floor: int) -> int:
    """PM_PW_SP_CHUNKS: the run's length (pm_conv_pw4s: 48 + 32 * chunks stack bytes for the rows),
    the deepest pointwise stream layer's k / 4 among ``layers`` (k / 4, rows in the arena). A layer
    whose rows the planner put in the arena to lower the peak stack counts only where its run stays
    within ``stack_floor``, the largest stack buffer another kernel of the model takes, plus
    RUN_SLACK for that kernel's own frame; a layer the run is shorter than keeps the plain pair loop
    (the C compares k / 4 with the run). KWS: 560 bytes of rows against 448 of depthwise planes,
    the peak stack unchanged (1,100 B, benchmarks/bench_codegen.py)."""
    fits = [k4 for k4, arena in layers if not arena or RUN_HEAD + 32 * k4 <= stack_floor + RUN_SLACK]
    return max(fits, default=0)
