"""Stack bytes of the Armv7E-M depthwise planes (runtime/pm_depthwise_conv2d_s8.c: pm_dw_planes).

A depthwise layer (dilation 1, strides 1 or 2) runs from planes: the input rows (or, for 3x3
outputs taller than wide, columns) a strip of output rows reads, gathered into bytes, one
input channel at a time (two at a time when an even number of channels' whole planes fit, four
when a multiple of 4 do and the plane rows are short: 16 outputs or fewer), or,
when the output streams over the input with a depth multiplier above 1, every channel of a
strip at once. The kernel sizes its strips from PM_DW_PLANE_MAX,
which the generator sets to the largest buffer any layer of the model wants, at most
``PLANE_CAP`` (larger layers take strips): the stack holds what the model uses, no more.
"""

from __future__ import annotations

from picoml.graph.ir import Graph
from picoml.graph.ops import OpType

PLANE_CAP = 2048  # most stack bytes the planes take (a layer needing more is split into strips)
# (1024 → 2048: the VWW-shaped MobileNet -83 k est. cycles on cortex-m4 for +1 KB of stack; KWS's
# planes are smaller and keep their size)
ANY_WORDS = 64  # PM_DWP_ANY_WORDS: weight words of a window other than 3x3, kh * ceil(kw / 4) * 2


def _row_bytes(na: int, sa: int, kw: int) -> int:
    """Bytes of a plane row for na outputs at stride sa (the kernel's wp)."""
    if kw == 3:
        if sa == 2 and na == 6:  # one 6-output block: 15 bytes
            return 16
        return ((na - 1) & ~3) * sa + (8 if sa == 1 else 12)
    return ((na - 1) * sa + 4 * ((kw + 3) // 4) + 3) & ~3


def _fit(wp: int, rows: int, kh: int, planes: int) -> int:
    """Bytes of `planes` planes of `rows` rows, capped; 0 if not even one output row fits."""
    if planes * kh * wp > PLANE_CAP:
        return 0
    return min(planes * wp * rows, PLANE_CAP)


def plane_bytes(
    out_hw: tuple[int, int],
    kernel: tuple[int, int],
    strides: tuple[int, int],
    dilations: tuple[int, int],
    channels: int = 1,
    multiplier: int = 1,
) -> int:
    """PM_DW_PLANE_MAX a depthwise layer wants (0: it does not run on planes)."""
    (oh, ow), (kh, kw), (sh, sw) = out_hw, kernel, strides
    if tuple(dilations) != (1, 1) or not (1 <= sh <= 2 and 1 <= sw <= 2) or kh < 1 or kw < 1:
        return 0
    if (kh, kw) != (3, 3) and (multiplier == 1 or kh * ((kw + 3) // 4) * 2 > ANY_WORDS):
        return 0  # other windows run on planes with a depth multiplier above 1 only
    wp = _row_bytes(ow, sw, kw)
    rows = (oh - 1) * sh + kh
    na = ow  # outputs along a plane row
    best = _fit(wp, rows, kh, 1)
    if multiplier > 1:  # strip order: every channel's plane of a strip
        best = max(best, _fit(wp, rows, kh, channels))
    if (kh, kw) == (3, 3) and oh > ow:  # columns first
        wpt = _row_bytes(oh, sh, 3)
        cols = _fit(wpt, (ow - 1) * sw + 3, 3, 1)
        best = max(best, cols)
        if cols:
            wp, rows, na = wpt, (ow - 1) * sw + 3, oh
    if channels % 2 == 0 and 2 * wp * rows <= PLANE_CAP:  # channels in pairs: two whole planes
        best = max(best, 2 * wp * rows)
        if channels % 4 == 0 and na <= 16 and 4 * wp * rows <= PLANE_CAP:  # short rows: in fours
            best = max(best, 4 * wp * rows)
    return best


def zp_min(g: Graph) -> int:
    """PM_DW_ZP_MIN: 1 when every int8 DEPTHWISE_CONV_2D of ``g`` has output zero point -128 (ReLU
    nets). The fast requantization then drops its rounding's [t < 0] term: where the high product
    t < 0, (round + 2t - [t < 0]) >> e is at most 0 with the term or without (round = 2^(e-1)), so
    the output is -128 or below either way before the clamp; elsewhere the term is 0."""
    dws = [op for op in g.ops if op.type == OpType.DEPTHWISE_CONV_2D and op.outputs[0].dtype == "int8"]
    return int(bool(dws) and all(int(op.outputs[0].zero_point[0]) == -128 for op in dws))
