"""Which named kernel variant a layer calls (runtime/pm_conv2d_s8.h, pm_depthwise_conv2d_s8.h).

The C runtime has no dispatcher: each variant states its constraint in its header comment, the
generator picks one per layer here and emits a direct call to it, and pm_config.h compiles
only the variants some layer calls. A variant is named ``pm_<op>_s8_<variant>``.
"""

from __future__ import annotations

from picoml.graph.int16_ops import is_int16_op
from picoml.graph.ir import Op
from picoml.graph.ops import OpType

IM2COL_MAX = 4096  # largest PM_CONV_IM2COL_MAX (stack bytes) the generator configures
DW_MAX_C, DW_MAX_TAPS = 512, 64  # pm_depthwise_conv2d_s8_mult1: channels and window taps

CONV_1X1 = "pm_conv2d_s8_1x1"
CONV_IM2COL = "pm_conv2d_s8_im2col"
CONV_GENERIC = "pm_conv2d_s8_generic"
CONV_LANES = "pm_conv2d_s8_lanes"  # Armv6-M twin of the GEMM variants (codegen/lanes.py)
DW_MULT1 = "pm_depthwise_conv2d_s8_mult1"
DW_GENERIC = "pm_depthwise_conv2d_s8_generic"
DW_SPARSE = "pm_depthwise_conv2d_sparse_s8"  # tap-mask filters (codegen/sparse.py, emit_sparse.py)
DW_SPARSE_FILE = "pm_sparse_depthwise_s8"

EXACT = "_exact"  # suffix of a kernel function's exact-requantization twin (codegen/requant.py)

#: the runtime source of each op's _exact kernel twins: its kernel file compiled again (a .c with
#: no header of its own; the kernel file's header declares the twins)
EXACT_SOURCES: dict[OpType, str] = {
    OpType.CONV_2D: "pm_conv2d_s8_exact",
    OpType.DEPTHWISE_CONV_2D: "pm_depthwise_conv2d_s8_exact",
    OpType.FULLY_CONNECTED: "pm_fully_connected_s8_exact",
    OpType.TRANSPOSE_CONV: "pm_transpose_conv_s8_exact",
}

#: the pair-stream loops (pm_conv_pairs4s, pm_conv_pw4s: codegen/pair_records.py), built where a layer streams
STREAM_KERNEL = "pm_conv_pairs4s"

#: every variant function per runtime file, in pm_config.h order (its macro: the name upper-cased)
VARIANT_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "pm_conv2d_s8": (CONV_1X1, CONV_IM2COL, CONV_GENERIC, CONV_LANES, STREAM_KERNEL),
    "pm_depthwise_conv2d_s8": (DW_MULT1, DW_GENERIC),
    "pm_conv2d_s8_exact": tuple(v + EXACT for v in (CONV_1X1, CONV_IM2COL, CONV_GENERIC, CONV_LANES)),
    "pm_depthwise_conv2d_s8_exact": tuple(v + EXACT for v in (DW_MULT1, DW_GENERIC)),
    DW_SPARSE_FILE: (DW_SPARSE, DW_SPARSE + EXACT),
}

#: the GEMM variants: packed weights, and a sparse twin (pm_conv2d_sparse_s8)
GEMM_VARIANTS = frozenset({CONV_1X1, CONV_IM2COL})


def _pointwise(op: Op) -> bool:
    """1x1, stride 1, no padding, output the input's size (so VALID and SAME agree)."""
    f, x, y = op.inputs[1], op.inputs[0], op.outputs[0]
    a = op.attrs
    return (
        f.shape[1] == f.shape[2] == 1
        and a.get("stride_h", 1) == a.get("stride_w", 1) == 1
        and tuple(y.shape[1:3]) == tuple(x.shape[1:3])
    )


def conv_variant(op: Op) -> str:
    """The pm_conv2d_s8_* variant of a CONV_2D layer: ungrouped windows that fit the im2col buffer
    take a GEMM variant (1x1 or im2col), others the direct loop nest."""
    x_shape, (_, kh, kw, ic) = op.inputs[0].shape, op.inputs[1].shape
    if ic != x_shape[3] or 2 * kh * kw * ic > IM2COL_MAX:
        return CONV_GENERIC
    return CONV_1X1 if _pointwise(op) else CONV_IM2COL


def depthwise_variant(op: Op) -> str:
    """The pm_depthwise_conv2d_s8_* variant of a DEPTHWISE_CONV_2D layer."""
    _, kh, kw, ch = op.inputs[1].shape
    if op.attrs.get("depth_multiplier", 1) == 1 and ch <= DW_MAX_C and kh * kw <= DW_MAX_TAPS:
        return DW_MULT1
    return DW_GENERIC


def kernel_variant(op: Op) -> str | None:
    """The named variant a layer calls, or None for ops with a single kernel."""
    if op.type == OpType.CONV_2D:
        return conv_variant(op)
    if op.type == OpType.DEPTHWISE_CONV_2D:
        return depthwise_variant(op)
    return None


def uses_gemm(op: Op) -> bool:
    """CONV_2D on a GEMM variant (packed weights, a sparse twin)."""
    # (16x8 layers have their own kernels: codegen/emit_s16.py)
    return op.type == OpType.CONV_2D and not is_int16_op(op) and conv_variant(op) in GEMM_VARIANTS
