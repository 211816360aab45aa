"""The closed op set: one ``OpDef`` per op holds every declarative fact about it.

Options, arity, shape inference and MAC count; which inputs are weights, bias and integer
shape arguments; the int8 output rule; how the memory planner may alias its output; its
.tflite builtin code and version. Layers above read these fields instead of keeping their
own per-op tables; tables of higher-layer code (reference ``KERNELS``, codegen ``EMITTERS``)
are keyed by ``OpType``, and tests/test_registry.py checks that every table covers the same ops.

Option names and defaults follow the TFLite schema (``schema.fbs``), so a missing option
table in a ``.tflite`` file means the schema defaults. ``slot`` is the field id in the
flatbuffer options table; the reader and writer are generic over these specs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from picoml.errors import GraphError, UnsupportedError
from picoml.graph import reduce_ops as ro

#: dtype name -> numpy dtype. These are the element types the IR knows.
DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
}


class Activation(StrEnum):
    """Values of the ``fused_activation`` option (TFLite's ActivationFunctionType, in code order)."""

    NONE = "NONE"
    RELU = "RELU"
    RELU_N1_TO_1 = "RELU_N1_TO_1"
    RELU6 = "RELU6"
    TANH = "TANH"
    SIGN_BIT = "SIGN_BIT"


#: fused_activation values by TFLite code (plain strings: what the reader stores in ``Op.attrs``)
ACTIVATIONS: tuple[str, ...] = tuple(a.value for a in Activation)
PADDINGS = ("SAME", "VALID")


class OpType(StrEnum):
    """The closed op set. Every table keyed by op (reference kernels, quantization rules, C
    emitters, front-end mappings) uses these members, and tests/test_registry.py checks that
    they all cover the same ops. A member equals its TFLite builtin name as a string."""

    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    ADD = "ADD"
    MUL = "MUL"
    RESHAPE = "RESHAPE"
    SOFTMAX = "SOFTMAX"
    LOGISTIC = "LOGISTIC"
    TANH = "TANH"
    RELU = "RELU"
    RELU6 = "RELU6"
    LEAKY_RELU = "LEAKY_RELU"
    HARD_SWISH = "HARD_SWISH"
    PRELU = "PRELU"
    ELU = "ELU"
    ABS = "ABS"
    NEG = "NEG"
    EXP = "EXP"
    LOG = "LOG"
    SQRT = "SQRT"
    RSQRT = "RSQRT"
    SQUARE = "SQUARE"
    SIN = "SIN"
    COS = "COS"
    FLOOR = "FLOOR"
    CEIL = "CEIL"
    ROUND = "ROUND"
    SHAPE = "SHAPE"
    PAD = "PAD"
    MEAN = "MEAN"
    CONCATENATION = "CONCATENATION"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"
    REDUCE_MAX = "REDUCE_MAX"
    REDUCE_MIN = "REDUCE_MIN"
    SUM = "SUM"
    ARG_MAX = "ARG_MAX"
    ARG_MIN = "ARG_MIN"
    BATCH_MATMUL = "BATCH_MATMUL"
    GATHER = "GATHER"


@dataclass(frozen=True)
class Attr:
    """One op option: name, flatbuffer kind ('i32', 'bool', 'f32', 'pad', 'act', 'i32[]'), default, slot."""

    name: str
    kind: str
    default: object
    slot: int


@dataclass(frozen=True)
class Weights:
    """A layer's constant weights: their input index, the axis of output channels in them (the
    per-channel quantization axis: 0 of OHWI and [out, in], 3 of 1HWO) and the bias input."""

    input: int
    axis: int
    bias: int


class Int8Output(StrEnum):
    """How an op's int8 output gets its (scale, zero point)."""

    FREE = "free"  # from the output's own calibrated range
    SHARED = "shared"  # input 0's: the int8 kernel copies, compares or clamps in the input's units
    FIXED = "fixed"  # OpDef.fixed_qparams (the spec; TFLM's int8 kernels check or assume them)
    JOINED = "joined"  # inputs join the output's parameters where that loses nothing, others are requantized


def _no_macs(op) -> int:
    return 0


@dataclass(frozen=True)
class OpDef:
    """Static facts about one op type."""

    type: OpType
    builtin_code: int
    options_type: int  # BuiltinOptions union tag; 0 = no options table
    attrs: tuple[Attr, ...]
    min_inputs: int
    max_inputs: int
    infer: Callable[..., list[tuple[int, ...]]]
    doc: str
    #: lowest TFLite op version with int8 kernels (what the writer records for int8 ops; float ops are version 1)
    int8_version: int = 2
    #: multiply-accumulates of one inference (0 for data movement)
    macs: Callable[[Any], int] = _no_macs
    #: constant weights and bias of a layer (None: the op has no weights)
    weights: Weights | None = None
    #: inputs that may be omitted (``None``)
    optional_inputs: frozenset[int] = frozenset()
    #: inputs that are integer shape or axis arguments: constant, never quantized
    shape_inputs: frozenset[int] = frozenset()
    #: the int8 output's parameters, and the fixed (scale, zero point) for Int8Output.FIXED
    int8_output: Int8Output = Int8Output.FREE
    fixed_qparams: tuple[float, int] | None = None
    #: moves values without arithmetic, so it accepts any numeric dtype
    any_dtype: bool = False
    #: its fused_activation may absorb a following standalone RELU / RELU6 (passes.fuse_activations)
    fuses_activation: bool = False
    #: a standalone activation op: the fused_activation value that computes the same clamp
    as_activation: Activation | None = None
    #: memory plan: the output is input 0's bytes with a new shape
    aliases_input: bool = False
    #: memory plan: elementwise, may write over a same-shape input that dies at this op
    in_place: bool = False
    #: memory plan: window op reading its input in row-major order (output may overlap it, stream_lag)
    streams: bool = False
    #: tflite-micro has an int8 kernel (False: float32 only; validate and PTQ refuse int8)
    int8_kernel: bool = True
    #: the outputs' dtype when it is not the input's (SHAPE: its out_type); None: the input's
    output_dtype: Callable[[Any], str] | None = None
    #: inputs holding int32 indices (GATHER's positions): constant or computed, never quantized
    index_inputs: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if (self.int8_output == Int8Output.FIXED) != (self.fixed_qparams is not None):
            raise AssertionError(f"{self.type}: fixed_qparams goes with int8_output=FIXED, and only with it")


def _pad(slot: int) -> Attr:
    return Attr("padding", "pad", "SAME", slot)


def _act(slot: int) -> Attr:
    return Attr("fused_activation", "act", "NONE", slot)


# ----------------------------------------------------------------- shape helpers
def out_size(size: int, filt: int, stride: int, dilation: int, padding: str) -> int:
    """TFLite's ComputeOutSize."""
    eff = (filt - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - eff + stride) // stride


def same_padding(size: int, filt: int, stride: int, dilation: int, out: int) -> int:
    """Leading padding for SAME (TFLite ComputePaddingWithOffset; the extra row goes at the end)."""
    eff = (filt - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2


def _check_window_extent(op, what: str, size: int, filt: int, dilation: int) -> None:
    """Reject a (dilated) window far larger than its input.

    With SAME padding the output size does not depend on the window, so a corrupted filter size or
    dilation (e.g. 50331639) passes shape inference; the reference kernels would then pad the
    input out to the window (gigabytes). TFLite accepts such windows, but they read almost only
    padding; real models (e.g. DeepLab's atrous rates) stay well below this bound. (Found by
    tests/test_fuzz.py.)
    """
    eff = (filt - 1) * dilation + 1
    if eff > 2 * size + 64:
        raise UnsupportedError(
            f"{op.label}: window of {filt} taps with dilation {dilation} spans {eff} along {what}, "
            f"more than picoml supports for an input of {size} (at most {2 * size + 64})"
        )


def _shape(t) -> tuple[int, ...]:
    return tuple(t.shape)


def _need_rank(op, t, rank: int, what: str) -> None:
    if len(t.shape) != rank:
        raise GraphError(f"{op.label}: {what} {t.name!r} must have rank {rank}, has shape {list(t.shape)}")


def _infer_conv(op) -> list[tuple[int, ...]]:
    x, w = op.inputs[0], op.inputs[1]
    _need_rank(op, x, 4, "input")
    _need_rank(op, w, 4, "filter")
    a = op.attrs
    n, h, wd, c = x.shape
    if op.type == OpType.CONV_2D:
        oc, kh, kw, ic = w.shape
        if ic <= 0 or c % ic != 0:
            raise GraphError(f"{op.label}: input has {c} channels, filter {w.name!r} expects {ic}")
        # grouped convolution: the filters split evenly over the c / ic groups (TFLite's conv.cc
        # checks this too; the reference kernel failed in a reshape; found by tests/test_fuzz.py)
        if c and oc % (c // ic):
            raise GraphError(
                f"{op.label}: {oc} filters in {w.name!r} do not split into {c // ic} groups "
                f"(input {c} channels / filter {ic} channels)"
            )
    else:
        _, kh, kw, oc = w.shape
        dm = a["depth_multiplier"]
        if dm <= 0 or c * dm != oc:
            raise GraphError(
                f"{op.label}: input channels {c} × depth_multiplier {dm} != filter {w.name!r} channels {oc}"
            )
    for k in ("stride_h", "stride_w", "dilation_h", "dilation_w"):
        if a[k] <= 0:
            raise GraphError(f"{op.label}: {k} must be positive, is {a[k]}")
    oh = out_size(h, kh, a["stride_h"], a["dilation_h"], a["padding"])
    ow = out_size(wd, kw, a["stride_w"], a["dilation_w"], a["padding"])
    if oh <= 0 or ow <= 0 or kh <= 0 or kw <= 0:
        raise GraphError(f"{op.label}: filter {kh}x{kw} does not fit input {h}x{wd}")
    _check_window_extent(op, "the height", h, kh, a["dilation_h"])
    _check_window_extent(op, "the width", wd, kw, a["dilation_w"])
    return [(n, oh, ow, oc)]


def _infer_pool(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    _need_rank(op, x, 4, "input")
    a = op.attrs
    n, h, w, c = x.shape
    for k in ("stride_h", "stride_w", "filter_h", "filter_w"):
        if a[k] <= 0:
            raise GraphError(f"{op.label}: {k} must be positive, is {a[k]}")
    oh = out_size(h, a["filter_h"], a["stride_h"], 1, a["padding"])
    ow = out_size(w, a["filter_w"], a["stride_w"], 1, a["padding"])
    if oh <= 0 or ow <= 0:
        raise GraphError(f"{op.label}: pool {a['filter_h']}x{a['filter_w']} does not fit input {h}x{w}")
    _check_window_extent(op, "the height", h, a["filter_h"], 1)
    _check_window_extent(op, "the width", w, a["filter_w"], 1)
    return [(n, oh, ow, c)]


def _infer_fc(op) -> list[tuple[int, ...]]:
    x, w = op.inputs[0], op.inputs[1]
    _need_rank(op, w, 2, "weights")
    units, depth = w.shape
    if depth <= 0 or x.size % depth != 0:
        raise GraphError(f"{op.label}: input {x.name!r} of {x.size} values is not a multiple of weights depth {depth}")
    if op.attrs["keep_num_dims"]:
        if not x.shape:  # a rank-0 input has no last dim (was an IndexError; found by tests/test_fuzz.py)
            raise GraphError(f"{op.label}: keep_num_dims needs an input of rank >= 1, {x.name!r} is a scalar")
        if x.shape[-1] != depth:
            raise GraphError(f"{op.label}: keep_num_dims needs input last dim {depth}, has {x.shape[-1]}")
        return [tuple(x.shape[:-1]) + (units,)]
    return [(x.size // depth, units)]


def broadcast_shape(op, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        raise GraphError(f"{op.label}: input shapes {list(a)} and {list(b)} do not broadcast") from None


def _infer_binary(op) -> list[tuple[int, ...]]:
    return [broadcast_shape(op, _shape(op.inputs[0]), _shape(op.inputs[1]))]


def _infer_same(op) -> list[tuple[int, ...]]:
    return [_shape(op.inputs[0])]


def _infer_prelu(op) -> list[tuple[int, ...]]:
    """The input's shape: alpha broadcasts into it (LiteRT's Prepare requires output shape =
    input shape), rank at most 4 (TFLM's BroadcastPrelu4DSlow)."""
    x = _shape(op.inputs[0])
    if broadcast_shape(op, x, _shape(op.inputs[1])) != x:
        raise GraphError(f"{op.label}: alpha of shape {list(op.inputs[1].shape)} does not broadcast to input {list(x)}")
    if len(x) > 4:
        raise UnsupportedError(f"{op.label}: PRELU of rank {len(x)} (TFLite Micro supports up to 4)")
    return [x]


def _const_ints(op, idx: int, what: str) -> np.ndarray:
    t = op.inputs[idx]
    if t is None or t.data is None:
        raise GraphError(f"{op.label}: {what} (input {idx}) must be a constant tensor")
    if t.dtype not in ("int32", "int64"):
        raise GraphError(f"{op.label}: {what} {t.name!r} must be int32, is {t.dtype}")
    return np.asarray(t.data).astype(np.int64)


#: TensorType codes of the dtypes SHAPE may return: INT32 (2) only, as in tflite-micro (its
#: shape.cc fails Eval on INT64 = 4)
SHAPE_OUT_TYPES = {2: "int32"}


def _shape_out_dtype(op) -> str:
    code = op.attrs.get("out_type", 2)
    if code not in SHAPE_OUT_TYPES:
        raise GraphError(f"{op.label}: out_type {code} is not supported (INT32 = 2 only, as in tflite-micro)")
    return SHAPE_OUT_TYPES[code]


def _infer_shape(op) -> list[tuple[int, ...]]:
    return [(len(op.inputs[0].shape),)]


def _infer_reshape(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    if len(op.inputs) > 1 and op.inputs[1] is not None and op.inputs[1].data is not None:
        new = [int(v) for v in _const_ints(op, 1, "shape").reshape(-1)]
    elif op.attrs.get("new_shape"):
        new = [int(v) for v in op.attrs["new_shape"]]
    else:
        # Shape unknown from constants: trust the output tensor (TFLite does the same).
        new = list(op.outputs[0].shape)
    if new.count(-1) > 1:
        raise GraphError(f"{op.label}: new shape {new} has more than one -1")
    known = int(np.prod([d for d in new if d != -1], dtype=np.int64))
    if -1 in new:
        if known <= 0 or x.size % known:
            raise GraphError(f"{op.label}: cannot reshape {list(x.shape)} to {new}")
        new[new.index(-1)] = x.size // known
    if any(d < 0 for d in new) or int(np.prod(new, dtype=np.int64)) != x.size:
        raise GraphError(f"{op.label}: cannot reshape {list(x.shape)} ({x.size} values) to {new}")
    return [tuple(new)]


def _infer_pad(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    p = _const_ints(op, 1, "paddings")
    if p.shape != (len(x.shape), 2) or (p < 0).any():
        raise GraphError(f"{op.label}: paddings must be a non-negative [{len(x.shape)}, 2] tensor, got {p.tolist()}")
    return [tuple(int(d + lo + hi) for d, (lo, hi) in zip(x.shape, p, strict=True))]


def reduce_axes(op) -> list[int]:
    """Normalized, sorted, unique axes of MEAN, SUM, REDUCE_MAX and REDUCE_MIN."""
    x = op.inputs[0]
    axes = _const_ints(op, 1, "axes").reshape(-1)
    r = len(x.shape)
    if ((axes < -r) | (axes >= r)).any():
        raise GraphError(f"{op.label}: axes {axes.tolist()} out of range for rank {r}")
    return sorted({int(a) % r for a in axes})


def _infer_mean(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    axes = reduce_axes(op)
    if op.attrs["keep_dims"]:
        return [tuple(1 if i in axes else d for i, d in enumerate(x.shape))]
    return [tuple(d for i, d in enumerate(x.shape) if i not in axes)]


def concat_axis(op) -> int:
    r = len(op.inputs[0].shape)
    ax = op.attrs["axis"]
    if not -r <= ax < r:
        raise GraphError(f"{op.label}: axis {ax} out of range for rank {r}")
    return ax % r


def _infer_concat(op) -> list[tuple[int, ...]]:
    ax = concat_axis(op)
    first = op.inputs[0].shape
    total = 0
    for t in op.inputs:
        if len(t.shape) != len(first) or any(
            d != e for i, (d, e) in enumerate(zip(t.shape, first, strict=True)) if i != ax
        ):
            raise GraphError(f"{op.label}: input {t.name!r} shape {list(t.shape)} does not match {list(first)}")
        total += t.shape[ax]
    return [tuple(total if i == ax else d for i, d in enumerate(first))]


_CONV_ATTRS = (
    _pad(0),
    Attr("stride_w", "i32", 0, 1),
    Attr("stride_h", "i32", 0, 2),
    _act(3),
    Attr("dilation_w", "i32", 1, 4),
    Attr("dilation_h", "i32", 1, 5),
)
_DW_ATTRS = (
    _pad(0),
    Attr("stride_w", "i32", 0, 1),
    Attr("stride_h", "i32", 0, 2),
    Attr("depth_multiplier", "i32", 0, 3),
    _act(4),
    Attr("dilation_w", "i32", 1, 5),
    Attr("dilation_h", "i32", 1, 6),
)
_POOL_ATTRS = (
    _pad(0),
    Attr("stride_w", "i32", 0, 1),
    Attr("stride_h", "i32", 0, 2),
    Attr("filter_w", "i32", 0, 3),
    Attr("filter_h", "i32", 0, 4),
    _act(5),
)


# ----------------------------------------------------------------- MAC counts
def _conv_macs(op) -> int:  # OHWI filter: H·W·I taps per output value
    w = op.inputs[1].shape
    return int(op.outputs[0].size * (w[1] * w[2] * w[3]))


def _depthwise_macs(op) -> int:  # 1HWO filter: H·W taps per output value
    w = op.inputs[1].shape
    return int(op.outputs[0].size * (w[1] * w[2] * 1))


def _fc_macs(op) -> int:  # [out, in] weights: in taps per output value
    return int(op.outputs[0].size * op.inputs[1].shape[1])


def _elementwise_macs(op) -> int:
    return int(op.outputs[0].size)


# weights at input 1, bias at input 2 (optional); the axis is the one of output channels
_OHWI = Weights(input=1, axis=0, bias=2)
_1HWO = Weights(input=1, axis=3, bias=2)
_OUT_IN = Weights(input=1, axis=0, bias=2)
_BIAS_OPTIONAL = frozenset({2})
_SHAPE_ARG_1 = frozenset({1})

_DEFS = [
    OpDef(
        OpType.CONV_2D,
        3,
        1,
        _CONV_ATTRS,
        2,
        3,
        _infer_conv,
        "2-D convolution, OHWI filter, optional bias",
        int8_version=3,
        macs=_conv_macs,
        weights=_OHWI,
        optional_inputs=_BIAS_OPTIONAL,
        fuses_activation=True,
        streams=True,
    ),
    OpDef(
        OpType.DEPTHWISE_CONV_2D,
        4,
        2,
        _DW_ATTRS,
        2,
        3,
        _infer_conv,
        "depthwise convolution, 1HWO filter",
        int8_version=3,
        macs=_depthwise_macs,
        weights=_1HWO,
        optional_inputs=_BIAS_OPTIONAL,
        fuses_activation=True,
        streams=True,
    ),
    OpDef(
        OpType.FULLY_CONNECTED,
        9,
        8,
        (
            _act(0),
            Attr("weights_format", "i8", 0, 1),
            Attr("keep_num_dims", "bool", False, 2),
            Attr("asymmetric_quantize_inputs", "bool", False, 3),
        ),
        2,
        3,
        _infer_fc,
        "dense layer, [out, in] weights",
        int8_version=4,
        macs=_fc_macs,
        weights=_OUT_IN,
        optional_inputs=_BIAS_OPTIONAL,
        fuses_activation=True,
    ),
    OpDef(
        OpType.AVERAGE_POOL_2D,
        1,
        5,
        _POOL_ATTRS,
        1,
        1,
        _infer_pool,
        "average pooling",
        int8_output=Int8Output.SHARED,
        streams=True,
    ),
    OpDef(
        OpType.MAX_POOL_2D,
        17,
        5,
        _POOL_ATTRS,
        1,
        1,
        _infer_pool,
        "max pooling",
        int8_output=Int8Output.SHARED,
        any_dtype=True,
        streams=True,
    ),
    OpDef(
        OpType.ADD,
        0,
        11,
        (_act(0), Attr("pot_scale_int16", "bool", True, 1)),
        2,
        2,
        _infer_binary,
        "elementwise add (broadcast)",
        fuses_activation=True,
        in_place=True,
    ),
    OpDef(
        OpType.MUL,
        18,
        21,
        (_act(0),),
        2,
        2,
        _infer_binary,
        "elementwise multiply (broadcast)",
        macs=_elementwise_macs,
        in_place=True,
    ),
    OpDef(
        OpType.RESHAPE,
        22,
        17,
        (Attr("new_shape", "i32[]", None, 0),),
        1,
        2,
        _infer_reshape,
        "reshape",
        int8_version=1,
        shape_inputs=_SHAPE_ARG_1,
        int8_output=Int8Output.SHARED,
        any_dtype=True,
        aliases_input=True,
    ),
    OpDef(
        OpType.SOFTMAX,
        25,
        9,
        (Attr("beta", "f32", 0.0, 0),),
        1,
        1,
        _infer_same,
        "softmax over the last axis",
        int8_output=Int8Output.FIXED,
        fixed_qparams=(1.0 / 256, -128),
    ),
    OpDef(
        OpType.LOGISTIC,
        14,
        0,
        (),
        1,
        1,
        _infer_same,
        "sigmoid",
        int8_output=Int8Output.FIXED,
        fixed_qparams=(1.0 / 256, -128),
        in_place=True,
    ),
    OpDef(
        OpType.TANH,
        28,
        0,
        (),
        1,
        1,
        _infer_same,
        "tanh",
        int8_output=Int8Output.FIXED,
        fixed_qparams=(1.0 / 128, 0),
        in_place=True,
    ),
    OpDef(OpType.RELU, 19, 0, (), 1, 1, _infer_same, "max(x, 0)", as_activation=Activation.RELU, in_place=True),
    OpDef(
        OpType.RELU6,
        21,
        0,
        (),
        1,
        1,
        _infer_same,
        "min(max(x, 0), 6)",
        int8_output=Int8Output.SHARED,  # TFLM clamps in the input's units
        as_activation=Activation.RELU6,
        in_place=True,
    ),
    OpDef(
        OpType.PAD,
        34,
        22,
        (),
        2,
        2,
        _infer_pad,
        "constant padding with the zero point",
        shape_inputs=_SHAPE_ARG_1,
        int8_output=Int8Output.SHARED,
        any_dtype=True,
    ),
    OpDef(
        OpType.MEAN,
        40,
        27,
        (Attr("keep_dims", "bool", False, 0),),
        2,
        2,
        _infer_mean,
        "mean over axes",
        shape_inputs=_SHAPE_ARG_1,
    ),
    OpDef(
        OpType.CONCATENATION,
        2,
        10,
        (Attr("axis", "i32", 0, 0), _act(1)),
        1,
        1 << 16,
        _infer_concat,
        "concatenate along an axis",
        int8_output=Int8Output.JOINED,
        any_dtype=True,
    ),
    OpDef(OpType.QUANTIZE, 114, 89, (), 1, 1, _infer_same, "float→int8 or int8 requantization", in_place=True),
    OpDef(OpType.DEQUANTIZE, 6, 38, (), 1, 1, _infer_same, "int8→float", in_place=True),
    OpDef(
        OpType.LEAKY_RELU,
        98,
        75,
        (Attr("alpha", "f32", 0.0, 0),),
        1,
        1,
        _infer_same,
        "x > 0 ? x : alpha·x",
        int8_version=1,  # op_version.cc: 2 only for int16
        in_place=True,
    ),
    OpDef(OpType.HARD_SWISH, 117, 91, (), 1, 1, _infer_same, "x·relu6(x + 3)/6", int8_version=1, in_place=True),
    OpDef(
        OpType.PRELU,
        54,
        0,
        (),
        2,
        2,
        _infer_prelu,
        "x ≥ 0 ? x : alpha·x, alpha a constant broadcast into x's shape",
        int8_version=1,
        macs=_elementwise_macs,
        in_place=True,
    ),
    OpDef(OpType.ELU, 111, 0, (), 1, 1, _infer_same, "x < 0 ? exp(x) - 1 : x", int8_version=1, in_place=True),
    OpDef(OpType.ABS, 101, 78, (), 1, 1, _infer_same, "|x|", in_place=True),
    OpDef(OpType.NEG, 59, 42, (), 1, 1, _infer_same, "-x", int8_kernel=False, in_place=True),
    OpDef(OpType.EXP, 47, 33, (), 1, 1, _infer_same, "exp(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.LOG, 73, 0, (), 1, 1, _infer_same, "log(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.SQRT, 75, 0, (), 1, 1, _infer_same, "sqrt(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.RSQRT, 76, 0, (), 1, 1, _infer_same, "1 / sqrt(x)", in_place=True),
    OpDef(OpType.SQUARE, 92, 66, (), 1, 1, _infer_same, "x·x", int8_kernel=False, in_place=True),
    OpDef(OpType.SIN, 66, 0, (), 1, 1, _infer_same, "sin(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.COS, 108, 84, (), 1, 1, _infer_same, "cos(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.FLOOR, 8, 0, (), 1, 1, _infer_same, "floor(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.CEIL, 104, 0, (), 1, 1, _infer_same, "ceil(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.ROUND, 116, 0, (), 1, 1, _infer_same, "round half to even", int8_kernel=False, in_place=True),
    OpDef(
        OpType.SHAPE,
        77,
        55,
        (Attr("out_type", "i8", 2, 0),),
        1,
        1,
        _infer_shape,
        "the input's shape as an int32 vector; folded to a constant at load",
        int8_version=1,
        any_dtype=True,
        output_dtype=_shape_out_dtype,
    ),
    OpDef(
        OpType.REDUCE_MAX,
        82,
        27,
        (Attr("keep_dims", "bool", False, 0),),
        2,
        2,
        _infer_mean,
        "max over axes",
        shape_inputs=_SHAPE_ARG_1,
        int8_output=Int8Output.SHARED,  # tflite-micro's int8 kernel requires the input's scale and zero point
    ),
    OpDef(
        OpType.REDUCE_MIN,
        89,
        27,
        (Attr("keep_dims", "bool", False, 0),),
        2,
        2,
        _infer_mean,
        "min over axes",
        shape_inputs=_SHAPE_ARG_1,
        int8_output=Int8Output.SHARED,
    ),
    OpDef(
        OpType.SUM,
        74,
        27,
        (Attr("keep_dims", "bool", False, 0),),
        2,
        2,
        _infer_mean,
        "sum over axes",
        shape_inputs=_SHAPE_ARG_1,
    ),
    OpDef(
        OpType.ARG_MAX,
        56,
        40,
        (Attr("output_type", "i8", 2, 0),),
        2,
        2,
        ro.infer_arg,
        "index of the largest value along an axis (int32; the first on ties)",
        shape_inputs=_SHAPE_ARG_1,
        output_dtype=ro.arg_out_dtype,
    ),
    OpDef(
        OpType.ARG_MIN,
        79,
        57,
        (Attr("output_type", "i8", 2, 0),),
        2,
        2,
        ro.infer_arg,
        "index of the smallest value along an axis (int32; the first on ties)",
        shape_inputs=_SHAPE_ARG_1,
        output_dtype=ro.arg_out_dtype,
    ),
    OpDef(
        OpType.BATCH_MATMUL,
        126,
        101,
        (
            Attr("adj_x", "bool", False, 0),
            Attr("adj_y", "bool", False, 1),
            Attr("asymmetric_quantize_inputs", "bool", False, 2),
        ),
        2,
        2,
        ro.infer_batch_matmul,
        "matrix product of two tensors (either may be an activation), batch dimensions broadcast",
        macs=ro.batch_matmul_macs,
    ),
    OpDef(
        OpType.GATHER,
        36,
        23,
        (Attr("axis", "i32", 0, 0), Attr("batch_dims", "i32", 0, 1)),
        2,
        2,
        ro.infer_gather,
        "slices of input 0 at int32 positions (input 1, constant or computed) along an axis",
        int8_output=Int8Output.SHARED,  # tflite-micro copies the bytes
        index_inputs=frozenset({1}),
    ),
]

OP_SET: dict[OpType, OpDef] = {d.type: d for d in _DEFS}
BY_CODE: dict[int, OpDef] = {d.builtin_code: d for d in _DEFS}


def supported_ops() -> list[str]:
    """Names of every op picoml reads, runs and writes."""
    return sorted(OP_SET)


def default_attrs(op_type: str) -> dict[str, object]:
    return {a.name: a.default for a in OP_SET[op_type].attrs}


def infer_output_shapes(op) -> list[tuple[int, ...]]:
    d = OP_SET[op.type]
    return d.infer(op)


def op_macs(op) -> int:
    """Multiply-accumulates of one inference of ``op`` (0 for data movement and unknown ops)."""
    d = OP_SET.get(op.type)
    return d.macs(op) if d is not None else 0
