"""Which kernel variant set a target gets, and which convolution path a layer takes."""

from __future__ import annotations

from picoml.targets.catalog import get_target

# Kernel variants per instruction set. The portable C runs everywhere (and picks the Armv7E-M
# DSP instructions by itself where the compiler reports them); the others also change weight
# layouts, so their output is for that build only: "armv6m" offset-binary GEMM blocks,
# "armv7em" word-aligned packed pairs and depthwise channel groups, "vector" (hosts with SIMD
# units, the ``host`` target) plain weight rows and loops written for auto-vectorization.
ISAS = ("portable", "armv6m", "armv7em", "vector")


def kernel_isa(target: str | None) -> str:
    """The kernel variant set for a target name (a core or board of ``picoml targets``), or for
    an ISA name from ISAS; None means portable C."""
    if target is None or target in ISAS:
        return target or "portable"

    t = get_target(target)
    if t.name == "cortex-m0plus":
        return "armv6m"
    if t.name == "host":
        return "vector"
    return "armv7em" if t.dsp else "portable"


IM2COL_MAX = 4096  # largest PM_CONV_IM2COL_MAX (stack bytes) the generator configures


def conv_uses_gemm(x_shape: tuple[int, ...], filter_shape: tuple[int, ...]) -> bool:
    """Mirror of the dispatch in pm_conv2d_s8(): ungrouped and a window that fits im2col
    (PM_CONV_IM2COL_MAX is then configured to cover it)."""
    oc, kh, kw, ic = filter_shape
    return ic == x_shape[3] and 2 * kh * kw * ic <= IM2COL_MAX
