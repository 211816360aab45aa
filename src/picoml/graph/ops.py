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

from picoml.errors import GraphError
from picoml.graph import extra_ops as xo
from picoml.graph import logic_ops as lo
from picoml.graph import lstm_ops as ls
from picoml.graph import reduce_ops as rd
from picoml.graph import resize_ops as ro
from picoml.graph import shape_ops as so
from picoml.graph import signal_ops as sg
from picoml.graph import svdf_ops as sv
from picoml.graph import tile_ops as ti
from picoml.graph.optypes import ACTIVATIONS, DTYPES, PADDINGS, Activation, OpType  # noqa: F401  (re-exported)
from picoml.graph.shape_infer import (  # noqa: F401  (out_size, ... are also read from here)
    SHAPE_OUT_TYPES,
    _broadcast_limited,
    _check_window_extent,
    _const_ints,
    _conv_macs,
    _depthwise_macs,
    _elementwise_macs,
    _fc_macs,
    _infer_binary,
    _infer_concat,
    _infer_fc,
    _infer_mean,
    _infer_pad,
    _infer_pool,
    _infer_prelu,
    _infer_reshape,
    _infer_same,
    _infer_shape,
    _need_rank,
    _no_macs,
    _shape,
    _shape_out_dtype,
    _transpose_conv_macs,
    broadcast_shape,
    concat_axis,
    out_size,
    reduce_axes,
    same_padding,
)


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
    #: memory plan: a window op whose kernels read its input in row-major order and write a block of
    #: this many output pixels only after reading the block's windows (0: not streamed). The output may
    #: then overlap its dying input (plan/planner.py stream_lag). Depthwise and pooling kernels
    #: compute one pixel at a time (runtime/pm_depthwise_conv2d_s8.c, pm_pool_s8.c); CONV_2D's
    #: GEMM blocks take 4 (pm_conv2d_s8.c's 4x2 block)
    streams: int = 0
    #: tflite-micro has an int8 kernel (False: float32 only; validate and PTQ refuse int8)
    int8_kernel: bool = True
    #: the outputs' dtype when it is not the input's (SHAPE: its out_type); None: the input's
    output_dtype: Callable[[Any], str] | None = None
    #: most outputs (SPLIT, SPLIT_V, UNPACK: one per part; ``infer`` checks the exact count)
    max_outputs: int = 1
    #: the .tflite operator's input order as IR input indices, when it differs: file input k is IR
    #: input ``tflite_inputs[k]`` (TRANSPOSE_CONV lists output_shape first; picoml keeps the data
    #: input first for every op, the reader and writer swap them; a shorter list permutes its prefix)
    tflite_inputs: tuple[int, ...] | None = None
    #: inputs holding int32 indices (GATHER's positions): constant or computed, never quantized
    index_inputs: frozenset[int] = frozenset()
    #: the op's own dtype and quantization rules, replacing validate's generic ones (graph/logic_ops.py)
    check_types: Callable[[Any], None] | None = None
    version: int = 1  # the lowest TFLite op version of every dtype (BROADCAST_TO: 2)
    #: a custom op (builtin_code 32): its OperatorCode.custom_code; options are a flexbuffer map
    custom_code: str | None = None
    #: inputs that must be variable tensors, which the op reads and rewrites in place (SVDF's state)
    state_inputs: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if (self.int8_output == Int8Output.FIXED) != (self.fixed_qparams is not None):
            raise AssertionError(f"{self.type}: fixed_qparams goes with int8_output=FIXED, and only with it")


def _pad(slot: int) -> Attr:
    return Attr("padding", "pad", "SAME", slot)


def _act(slot: int) -> Attr:
    return Attr("fused_activation", "act", "NONE", slot)


# ----------------------------------------------------------------- shape helpers (shape_infer.py)
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


# weights at input 1, bias at input 2 (optional); the axis is the one of output channels
_OHWI = Weights(input=1, axis=0, bias=2)
_1HWO = Weights(input=1, axis=3, bias=2)
_OUT_IN = Weights(input=1, axis=0, bias=2)
_BIAS_OPTIONAL = frozenset({2})
_SHAPE_ARG_1 = frozenset({1})
_SHAPE_ARGS_12 = frozenset({1, 2})
_MANY = 1 << 16  # inputs of PACK / outputs of SPLIT, SPLIT_V, UNPACK at most (as CONCATENATION's inputs)
# data movement with constant int32 arguments: any dtype, int8 copies bytes in the input's units
_MOVE = {"any_dtype": True, "int8_output": Int8Output.SHARED, "int8_version": 2}

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
        streams=4,
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
        streams=1,
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
        streams=1,
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
        streams=1,
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
    OpDef(OpType.EXP, 47, 33, (), 1, 1, _infer_same, "exp(x)", in_place=True),
    OpDef(OpType.LOG, 73, 0, (), 1, 1, _infer_same, "log(x)", int8_kernel=False, in_place=True),
    OpDef(OpType.SQRT, 75, 0, (), 1, 1, _infer_same, "sqrt(x)", in_place=True),
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
        OpType.STRIDED_SLICE,
        45,
        32,
        (
            Attr("begin_mask", "i32", 0, 0),
            Attr("end_mask", "i32", 0, 1),
            Attr("ellipsis_mask", "i32", 0, 2),
            Attr("new_axis_mask", "i32", 0, 3),
            Attr("shrink_axis_mask", "i32", 0, 4),
            Attr("offset", "bool", False, 5),
        ),
        4,
        4,
        so.infer_strided_slice,
        "numpy-style strided slice (constant begin/end/strides, every mask)",
        shape_inputs=frozenset({1, 2, 3}),
        **_MOVE,
    ),
    OpDef(
        OpType.SLICE,
        65,
        48,
        (),
        3,
        3,
        so.infer_slice,
        "slice (constant begin/size)",
        shape_inputs=_SHAPE_ARGS_12,
        **_MOVE,
    ),
    OpDef(
        OpType.SPLIT,
        49,
        35,
        (Attr("num_splits", "i32", 0, 0),),
        2,
        2,
        so.infer_split,
        "split into equal parts along an axis; IR inputs (input, axis)",
        shape_inputs=_SHAPE_ARG_1,
        max_outputs=_MANY,
        tflite_inputs=(1, 0),
        **_MOVE,
    ),
    OpDef(
        OpType.SPLIT_V,
        102,
        79,
        (Attr("num_splits", "i32", 0, 0),),
        3,
        3,
        so.infer_split,
        "split into given sizes along an axis",
        shape_inputs=_SHAPE_ARGS_12,
        max_outputs=_MANY,
        **_MOVE,
    ),
    OpDef(
        OpType.UNPACK,
        88,
        64,
        (Attr("num", "i32", 0, 0), Attr("axis", "i32", 0, 1)),
        1,
        1,
        so.infer_unpack,
        "one output per index along an axis",
        max_outputs=_MANY,
        **_MOVE,
    ),
    OpDef(
        OpType.PACK,
        83,
        59,
        (Attr("values_count", "i32", 0, 0), Attr("axis", "i32", 0, 1)),
        1,
        _MANY,
        so.infer_pack,
        "stack same-shape inputs along a new axis",
        any_dtype=True,
        int8_output=Int8Output.JOINED,
    ),
    OpDef(
        OpType.TRANSPOSE, 39, 26, (), 2, 2, so.infer_transpose, "permute dimensions", shape_inputs=_SHAPE_ARG_1, **_MOVE
    ),
    OpDef(
        OpType.SQUEEZE,
        43,
        30,
        (Attr("squeeze_dims", "i32[]", None, 0),),
        1,
        1,
        so.infer_squeeze,
        "drop dimensions of size 1",
        int8_version=1,
        int8_output=Int8Output.SHARED,
        any_dtype=True,
        aliases_input=True,
    ),
    OpDef(
        OpType.EXPAND_DIMS,
        70,
        52,
        (),
        2,
        2,
        so.infer_expand_dims,
        "insert a dimension of size 1",
        int8_version=1,
        shape_inputs=_SHAPE_ARG_1,
        int8_output=Int8Output.SHARED,
        any_dtype=True,
        aliases_input=True,
    ),
]

_RESIZE = {"int8_output": Int8Output.SHARED, "shape_inputs": _SHAPE_ARG_1}  # int8 kernels move raw values
_DEFS += [
    OpDef(
        OpType.RESIZE_NEAREST_NEIGHBOR,
        97,
        74,
        (Attr("align_corners", "bool", False, 0), Attr("half_pixel_centers", "bool", False, 1)),
        2,
        2,
        ro.infer_resize_nearest,
        "nearest-neighbour resize of H and W to a constant size",
        **_RESIZE,
    ),
    OpDef(
        OpType.RESIZE_BILINEAR,
        23,
        15,
        (Attr("align_corners", "bool", False, 2), Attr("half_pixel_centers", "bool", False, 3)),
        2,
        2,
        ro.infer_resize_bilinear,
        "bilinear resize of H and W to a constant size",
        **_RESIZE,
    ),
    OpDef(
        OpType.TRANSPOSE_CONV,
        67,
        49,
        (
            _pad(0),
            Attr("stride_w", "i32", 0, 1),
            Attr("stride_h", "i32", 0, 2),
            _act(3),
            Attr("quantized_bias_type", "i8", 0, 4),
        ),
        3,
        4,
        ro.infer_transpose_conv,
        "transposed convolution, OHWI filter; IR inputs (input, weights, output_shape, bias)",
        int8_version=3,  # op_version.cc: 2 for int8, 3 with a bias (what the converter writes)
        macs=_transpose_conv_macs,
        weights=Weights(input=ro.TC_WEIGHTS, axis=0, bias=ro.TC_BIAS),
        optional_inputs=frozenset({ro.TC_BIAS}),
        shape_inputs=frozenset({ro.TC_SHAPE}),
        fuses_activation=True,
        tflite_inputs=(ro.TC_SHAPE, ro.TC_WEIGHTS, ro.TC_INPUT, ro.TC_BIAS),
    ),
    OpDef(
        OpType.DEPTH_TO_SPACE,
        5,
        94,
        (Attr("block_size", "i32", 0, 0),),
        1,
        1,
        ro.infer_depth_to_space,
        "move channel blocks into block_size x block_size spatial blocks (TensorFlow's DCR order)",
        int8_output=Int8Output.SHARED,
    ),
    OpDef(
        OpType.SPACE_TO_DEPTH,
        26,
        19,
        (Attr("block_size", "i32", 0, 0),),
        1,
        1,
        ro.infer_space_to_depth,
        "move block_size x block_size spatial blocks into channels (inverse of DEPTH_TO_SPACE)",
        int8_output=Int8Output.SHARED,
    ),
]

_DEFS += [
    # binary elementwise ops with broadcasting (issue 14); options from schema.fbs
    OpDef(
        OpType.SUB,
        41,
        28,
        (_act(0), Attr("pot_scale_int16", "bool", True, 1)),
        2,
        2,
        _broadcast_limited(6),  # sub.h BroadcastSubCommon: kMaxBroadcastDim = 6
        "elementwise subtract (broadcast)",
        fuses_activation=True,
        in_place=True,
    ),
    OpDef(
        OpType.MAXIMUM,
        55,
        39,
        (),
        2,
        2,
        _broadcast_limited(5),  # maximum_minimum.h: NdArrayDesc<5>
        "elementwise maximum (broadcast), int8 codes compared as they are",
        int8_output=Int8Output.JOINED,
        in_place=True,
    ),
    OpDef(
        OpType.MINIMUM,
        57,
        39,
        (),
        2,
        2,
        _broadcast_limited(5),
        "elementwise minimum (broadcast), int8 codes compared as they are",
        int8_output=Int8Output.JOINED,
        in_place=True,
    ),
    OpDef(
        OpType.SQUARED_DIFFERENCE,
        99,
        76,
        (),
        2,
        2,
        _broadcast_limited(4),  # squared_difference.cc: BroadcastBinaryFunction4DSlow
        "(a - b)^2 elementwise (broadcast)",
        macs=_elementwise_macs,
        in_place=True,
    ),
    OpDef(
        OpType.DIV,
        42,
        29,
        (_act(0),),
        2,
        2,
        _broadcast_limited(5),  # div.h: BroadcastDivSlow<N = 5>
        "elementwise divide (broadcast)",
        macs=_elementwise_macs,
        fuses_activation=True,
        in_place=True,
    ),
]

# REDUCE_MAX, REDUCE_MIN, SUM, ARG_MAX, ARG_MIN, BATCH_MATMUL, GATHER: graph/reduce_ops.py; logic: logic_ops.py
_DEFS += rd.op_defs(OpDef, OpType, Attr, Int8Output, _infer_mean, _SHAPE_ARG_1)
_DEFS += lo.op_defs(OpDef, OpType, Attr, Int8Output)
# ADD_N, MIRROR_PAD, ... L2_POOL_2D: graph/extra_ops.py; TILE: graph/tile_ops.py
_DEFS += xo.op_defs(OpDef, OpType, Attr, Int8Output, Activation, _infer_same, _MANY, _infer_pool, _POOL_ATTRS)
_DEFS += ti.op_defs(OpDef, OpType, Int8Output)
_DEFS += sg.op_defs(OpDef, Attr)
_DEFS += sv.op_defs(OpDef, OpType, Attr)  # branch state: SVDF (graph/svdf_ops.py)
_DEFS += ls.op_defs(OpDef, OpType, Attr)  # UNIDIRECTIONAL_SEQUENCE_LSTM (graph/lstm_ops.py)

OP_SET: dict[OpType, OpDef] = {d.type: d for d in _DEFS}
BY_CODE: dict[int, OpDef] = {d.builtin_code: d for d in _DEFS if d.custom_code is None}


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
