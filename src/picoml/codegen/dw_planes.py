"""Stack bytes of the Armv7E-M depthwise planes (runtime/pm_depthwise_conv2d_s8.c: pm_dw_planes).

A 3x3 depthwise layer (dilation 1, strides 1 or 2) runs one channel at a time from a plane: the
input rows (or, for outputs taller than wide, columns) a strip of output rows reads, gathered
into bytes. The kernel sizes its strips from PM_DW_PLANE_MAX, which the generator sets to the
largest plane any layer of the model needs, at most ``PLANE_CAP`` (larger layers take strips):
the stack holds what the model uses, no more.
"""

from __future__ import annotations

PLANE_CAP = 1024  # most stack bytes a plane takes (a layer needing more is split into strips)


def _need(na: int, nb: int, sa: int, sb: int) -> tuple[int, int]:
    """(bytes of a plane row, bytes of a whole plane) for na outputs a plane row at stride sa and
    nb plane rows of outputs at stride sb: the kernel's wp and (rows - 1) * sb + 3 rows."""
    wp = ((na - 1) & ~3) * sa + (8 if sa == 1 else 12)
    return wp, wp * ((nb - 1) * sb + 3)


def plane_bytes(
    out_hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int], dilations: tuple[int, int]
) -> int:
    """PM_DW_PLANE_MAX a depthwise layer wants (0: it does not run on planes)."""
    (oh, ow), (sh, sw) = out_hw, strides
    if tuple(kernel) != (3, 3) or tuple(dilations) != (1, 1) or not (1 <= sh <= 2 and 1 <= sw <= 2):
        return 0
    best = 0
    # the kernel's orientations: input columns first when the output is taller than wide, else rows
    for na, nb, sa, sb in [(oh, ow, sh, sw)] * (oh > ow) + [(ow, oh, sw, sh)]:
        wp, need = _need(na, nb, sa, sb)
        size = min(need, PLANE_CAP)
        if size >= 3 * wp:
            best = max(best, size)
    return best
