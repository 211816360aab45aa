"""Registry entries and shape inference of ADD_N, MIRROR_PAD, PADV2, REVERSE_V2, L2_NORMALIZATION,
LOG_SOFTMAX, GELU, RELU_N1_TO_1, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, CUMSUM, GATHER_ND,
EMBEDDING_LOOKUP and L2_POOL_2D (issue 14).

``graph/ops.py`` appends ``op_defs(...)`` to its table. The rules are tflite-micro's Prepare
functions (``micro/kernels/add_n.cc``, ``mirror_pad.cc``, ``pad_common.cc``, ``reverse.cc``,
``l2norm.cc``, ``log_softmax.cc``, ``space_to_batch_nd.cc``, ``batch_to_space_nd.cc``, ``cumsum.cc``,
``gather_nd.cc``, ``embedding_lookup.cc``, ``l2_pool_2d.cc``: float32 only); GELU and RELU_N1_TO_1 have no tflite-micro kernel (its
op resolver registers neither), so their rules are LiteRT's (``kernels/gelu.cc``,
``kernels/activations.cc``). Every argument is checked before it is used, with a one-line error
naming the op and the tensor.
"""

from __future__ import annotations

import math

import numpy as np

from picoml.errors import GraphError, UnsupportedError

#: MirrorPadMode (schema.fbs): REFLECT = 0 (the edge is not repeated), SYMMETRIC = 1 (it is)
MIRROR_MODES = {0: "REFLECT", 1: "SYMMETRIC"}
#: ranks REVERSE_V2 takes (tflite-micro's reverse.cc: kMaxDims 8)
REVERSE_MAX_RANK = 8
#: ranks L2_NORMALIZATION takes (tflite-micro's l2norm.cc: NumDimensions(input) <= 4)
L2NORM_MAX_RANK = 4
#: the fixed int8 output parameters: L2_NORMALIZATION (1/128, 0) and LOG_SOFTMAX (16/256, 127)
L2NORM_QPARAMS = (1.0 / 128, 0)
LOG_SOFTMAX_QPARAMS = (16.0 / 256, 127)


def _shape(t) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def _const_ints(op, idx: int, what: str) -> np.ndarray:
    t = op.inputs[idx] if idx < len(op.inputs) else None
    if t is None or t.data is None:
        raise UnsupportedError(f"{op.label}: {what} (input {idx}) must be a constant tensor")
    if t.dtype not in ("int32", "int64"):
        raise GraphError(f"{op.label}: {what} {t.name!r} must be int32 or int64, is {t.dtype}")
    return np.asarray(t.data).astype(np.int64)


# ----------------------------------------------------------------- ADD_N
def infer_add_n(op) -> list[tuple[int, ...]]:
    """Every input has input 0's shape and dtype; int8 inputs share one scale and zero point
    (tflite-micro's add_n.cc Prepare)."""
    x0 = op.inputs[0]
    if len(op.inputs) < 2:
        raise GraphError(f"{op.label}: ADD_N takes at least 2 inputs, has {len(op.inputs)}")
    for t in op.inputs[1:]:
        if _shape(t) != _shape(x0):
            raise GraphError(f"{op.label}: input {t.name!r} has shape {list(t.shape)}, input 0 {list(x0.shape)}")
        if x0.dtype == "int8" and t.quantized and x0.quantized:
            same = np.float32(t.scale[0]) == np.float32(x0.scale[0]) and int(t.zero_point[0]) == int(x0.zero_point[0])
            if not same:
                raise UnsupportedError(
                    f"{op.label}: input {t.name!r} is quantized ({float(t.scale[0]):g}, {int(t.zero_point[0])}), "
                    f"input 0 ({float(x0.scale[0]):g}, {int(x0.zero_point[0])}); int8 ADD_N needs one scale and "
                    "zero point for every input (tflite-micro's rule)"
                )
    return [_shape(x0)]


# ----------------------------------------------------------------- MIRROR_PAD, PADV2
def paddings(op) -> np.ndarray:
    """The constant [rank, 2] paddings of MIRROR_PAD / PADV2 (int32 or int64), non-negative."""
    x = op.inputs[0]
    p = _const_ints(op, 1, "paddings")
    if p.shape != (len(x.shape), 2) or (p < 0).any():
        raise GraphError(f"{op.label}: paddings must be a non-negative [{len(x.shape)}, 2] tensor, got {p.tolist()}")
    return p


def infer_mirror_pad(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    mode = op.attrs["mode"]
    if mode not in MIRROR_MODES:
        raise GraphError(f"{op.label}: mode {mode} is not REFLECT (0) or SYMMETRIC (1)")
    p = paddings(op)
    edge = 1 if mode == 0 else 0  # REFLECT does not repeat the edge: at most dim - 1 values
    for d, (n, (lo, hi)) in enumerate(zip(x.shape, p, strict=True)):
        if max(lo, hi) > n - edge:
            raise UnsupportedError(
                f"{op.label}: padding ({lo}, {hi}) of dimension {d} (size {n}) of {x.name!r} exceeds "
                f"{n - edge}, the most {MIRROR_MODES[mode]} padding can mirror (tflite-micro reads outside the input)"
            )
    return [tuple(int(n + lo + hi) for n, (lo, hi) in zip(x.shape, p, strict=True))]


def infer_padv2(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    p = paddings(op)
    if len(x.shape) > 5:  # pad_common.cc: PadKernelMaxDimensionCount() = 5
        raise UnsupportedError(f"{op.label}: PADV2 of rank {len(x.shape)} (tflite-micro pads up to 5 dimensions)")
    v = op.inputs[2] if len(op.inputs) > 2 else None
    if v is not None:
        if v.data is None:
            raise UnsupportedError(f"{op.label}: constant_values {v.name!r} must be a constant tensor in picoml")
        if v.size != 1:
            raise GraphError(f"{op.label}: constant_values {v.name!r} must hold one value, holds {v.size}")
        y = op.outputs[0] if op.outputs else None
        if x.dtype == "int8" and v.quantized and y is not None and y.quantized:
            if np.float32(v.scale[0]) != np.float32(y.scale[0]) or int(v.zero_point[0]) != int(y.zero_point[0]):
                raise UnsupportedError(
                    f"{op.label}: constant_values {v.name!r} must be quantized as the output {y.name!r} "
                    "(tflite-micro's rule)"
                )
    return [tuple(int(n + lo + hi) for n, (lo, hi) in zip(x.shape, p, strict=True))]


# ----------------------------------------------------------------- REVERSE_V2
def reverse_axes(op) -> tuple[int, ...]:
    """The normalized axes REVERSE_V2 flips: a constant int32 vector, negative counted from the end,
    naming a non-empty run of adjacent dimensions in any order (tflite-micro's reverse.cc sorts them
    and fails the inference on a gap, as LiteRT: "Non-contiguous `axes` not supported")."""
    x = op.inputs[0]
    t = op.inputs[1]
    if t.data is None:
        raise UnsupportedError(f"{op.label}: axis {t.name!r} must be a constant tensor in picoml")
    if t.dtype != "int32":
        raise UnsupportedError(f"{op.label}: axis {t.name!r} is {t.dtype}; tflite-micro takes int32 only")
    a = np.asarray(t.data).astype(np.int64).reshape(-1)
    r = len(x.shape)
    if r > REVERSE_MAX_RANK:
        raise UnsupportedError(f"{op.label}: REVERSE_V2 of rank {r} (tflite-micro reverses up to {REVERSE_MAX_RANK})")
    if a.size > r:
        raise GraphError(f"{op.label}: {a.size} axes for an input of rank {r}")
    if ((a < -r) | (a >= r)).any():
        raise GraphError(f"{op.label}: axis {a.tolist()} out of range for an input of rank {r}")
    norm = sorted(int(v) % r for v in a)
    if not norm:
        raise UnsupportedError(f"{op.label}: axis {t.name!r} is empty (tflite-micro and LiteRT crash on it)")
    if len(set(norm)) != len(norm):
        raise GraphError(f"{op.label}: axis {a.tolist()} names a dimension twice")
    if norm[-1] - norm[0] + 1 != len(norm):
        raise UnsupportedError(
            f"{op.label}: axis {a.tolist()} of {t.name!r} are not adjacent dimensions; tflite-micro and LiteRT "
            "reverse only a contiguous run of axes (their Eval fails otherwise)"
        )
    return tuple(norm)


def infer_reverse(op) -> list[tuple[int, ...]]:
    reverse_axes(op)
    return [_shape(op.inputs[0])]


# ----------------------------------------------------------------- L2_NORMALIZATION, LOG_SOFTMAX
def _fixed_int8_output(op, qparams: tuple[float, int]) -> None:
    y = op.outputs[0] if op.outputs else None
    if y is None or y.dtype != "int8" or not y.quantized:
        return
    s, z = qparams
    if np.float32(y.scale[0]) != np.float32(s) or int(y.zero_point[0]) != z:
        raise UnsupportedError(
            f"{op.label}: int8 output {y.name!r} is quantized ({float(y.scale[0]):g}, {int(y.zero_point[0])}); "
            f"{op.type} writes scale {s:g} and zero point {z}"
        )


def infer_l2norm(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    if len(x.shape) > L2NORM_MAX_RANK or len(x.shape) == 0:
        raise UnsupportedError(f"{op.label}: input {x.name!r} of rank {len(x.shape)} (tflite-micro: 1 to 4)")
    if op.attrs["fused_activation"] != "NONE":
        raise UnsupportedError(f"{op.label}: fused activation {op.attrs['fused_activation']} (tflite-micro: NONE only)")
    _fixed_int8_output(op, L2NORM_QPARAMS)
    return [_shape(x)]


def infer_log_softmax(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    if len(x.shape) == 0:
        raise GraphError(f"{op.label}: input {x.name!r} is a scalar")
    _fixed_int8_output(op, LOG_SOFTMAX_QPARAMS)
    return [_shape(x)]


def log_softmax_rows(op) -> tuple[int, int]:
    x = op.inputs[0]
    depth = int(x.shape[-1])
    return math.prod(x.shape[:-1]), depth


# ----------------------------------------------------------------- SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND
def block_geometry(op, what: str) -> tuple[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]]:
    """(block (bh, bw), pads-or-crops ((top, bottom), (left, right))) of SPACE_TO_BATCH_ND /
    BATCH_TO_SPACE_ND on a rank-3 (NHC: W = 1) or rank-4 NHWC input (tflite-micro's limits)."""
    x = op.inputs[0]
    r = len(x.shape)
    if r not in (3, 4):
        raise UnsupportedError(f"{op.label}: input {x.name!r} of rank {r} (tflite-micro: 3 or 4)")
    m = r - 2
    b = _const_ints(op, 1, "block_shape").reshape(-1)
    p = _const_ints(op, 2, what)
    if b.shape != (m,) or (b < 1).any():
        raise GraphError(f"{op.label}: block_shape must hold {m} positive values, got {b.tolist()}")
    if p.shape != (m, 2) or (p < 0).any():
        raise GraphError(f"{op.label}: {what} must be a non-negative [{m}, 2] tensor, got {p.tolist()}")
    if (b > 1 << 12).any() or (p > 1 << 16).any():
        raise UnsupportedError(f"{op.label}: block_shape {b.tolist()} or {what} {p.tolist()} too large")
    block = (int(b[0]), int(b[1]) if m == 2 else 1)
    pads = ((int(p[0, 0]), int(p[0, 1])), (int(p[1, 0]), int(p[1, 1])) if m == 2 else (0, 0))
    return block, pads


def infer_space_to_batch(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    (bh, bw), ((t, bo), (le, ri)) = block_geometry(op, "paddings")
    h = x.shape[1] + t + bo
    w = (x.shape[2] if len(x.shape) == 4 else 1) + le + ri
    if h % bh or w % bw:
        raise GraphError(f"{op.label}: padded size {h}x{w} of {x.name!r} is not a multiple of the block {bh}x{bw}")
    out = (x.shape[0] * bh * bw, h // bh)
    return [out + ((w // bw, x.shape[3]) if len(x.shape) == 4 else (x.shape[2],))]


def infer_batch_to_space(op) -> list[tuple[int, ...]]:
    x = op.inputs[0]
    (bh, bw), ((t, bo), (le, ri)) = block_geometry(op, "crops")
    if x.shape[0] % (bh * bw):
        raise GraphError(f"{op.label}: batch {x.shape[0]} of {x.name!r} is not a multiple of the block {bh}x{bw}")
    h = x.shape[1] * bh - t - bo
    w = (x.shape[2] if len(x.shape) == 4 else 1) * bw - le - ri
    if h <= 0 or w <= 0:
        raise GraphError(f"{op.label}: crops leave an empty output ({h}x{w})")
    out = (x.shape[0] // (bh * bw), h)
    return [out + ((w, x.shape[3]) if len(x.shape) == 4 else (x.shape[2],))]


# ----------------------------------------------------------------- CUMSUM, GATHER_ND, EMBEDDING_LOOKUP
def cumsum_axis(op) -> int:
    x = op.inputs[0]
    a = op.inputs[1]
    if a.data is None:
        raise UnsupportedError(f"{op.label}: axis {a.name!r} must be a constant tensor in picoml")
    if a.dtype != "int32" or a.size != 1:
        raise GraphError(f"{op.label}: axis {a.name!r} must be one int32 value (tflite-micro's rule)")
    r = len(x.shape)
    v = int(np.asarray(a.data).reshape(-1)[0])
    if r == 0 or not -r <= v < r:
        raise GraphError(f"{op.label}: axis {v} out of range for an input of rank {r}")
    return v % r


def infer_cumsum(op) -> list[tuple[int, ...]]:
    cumsum_axis(op)
    return [_shape(op.inputs[0])]


#: tflite-micro's gather_nd.cc: MAX_INDICES_ND
MAX_INDICES_ND = 5


def infer_gather_nd(op) -> list[tuple[int, ...]]:
    x, idx = op.inputs[0], op.inputs[1]
    if idx.dtype != "int32":
        raise UnsupportedError(f"{op.label}: indices {idx.name!r} are {idx.dtype}; picoml takes int32")
    if len(x.shape) < 1 or len(idx.shape) < 1:
        raise GraphError(f"{op.label}: params and indices must be at least vectors")
    k = int(idx.shape[-1])
    if k > len(x.shape) or k > MAX_INDICES_ND or k < 1:
        raise UnsupportedError(
            f"{op.label}: index depth {k} of {idx.name!r} must be 1..min(params rank {len(x.shape)}, "
            f"{MAX_INDICES_ND}) (tflite-micro's limits)"
        )
    return [tuple(idx.shape[:-1]) + tuple(x.shape[k:])]


def infer_embedding_lookup(op) -> list[tuple[int, ...]]:
    value, ids = op.inputs[0], op.inputs[1]
    if ids.dtype != "int32" or len(ids.shape) != 1:
        raise GraphError(f"{op.label}: ids {ids.name!r} must be a 1-D int32 tensor (tflite-micro's rule)")
    if len(value.shape) < 2:
        raise GraphError(f"{op.label}: value {value.name!r} must have rank >= 2, has {len(value.shape)}")
    if ids.data is not None:
        v = np.asarray(ids.data)
        bad = (v < 0) | (v >= value.shape[0])
        if bad.any():
            raise GraphError(f"{op.label}: id {int(v[bad][0])} in {ids.name!r} is out of range [0, {value.shape[0]})")
    return [(ids.shape[0],) + tuple(value.shape[1:])]


# ----------------------------------------------------------------- the registry entries
def op_defs(OpDef, OpType, Attr, Int8Output, Activation, infer_same, many: int, infer_pool, pool_attrs) -> list:  # noqa: N803
    """The ``OpDef``s of this module's ops, which ``graph/ops.py`` appends to its table."""
    return [
        OpDef(OpType.ADD_N, 106, 82, (), 2, many, infer_add_n, "elementwise sum of N same-shape tensors",
              int8_version=1, in_place=True),
        OpDef(OpType.MIRROR_PAD, 100, 77, (Attr("mode", "i8", 0, 0),), 2, 2, infer_mirror_pad,
              "padding that mirrors the input (REFLECT without, SYMMETRIC with the edge)",
              shape_inputs=frozenset({1}), int8_output=Int8Output.SHARED),
        OpDef(OpType.PADV2, 60, 43, (), 2, 3, infer_padv2, "constant padding with a given value (input 2)",
              shape_inputs=frozenset({1}), optional_inputs=frozenset({2}), int8_output=Int8Output.SHARED),
        OpDef(OpType.REVERSE_V2, 105, 81, (), 2, 2, infer_reverse, "reverse the order along constant axes",
              shape_inputs=frozenset({1}), int8_output=Int8Output.SHARED, any_dtype=True),
        OpDef(OpType.L2_NORMALIZATION, 11, 12, (Attr("fused_activation", "act", "NONE", 0),), 1, 1, infer_l2norm,
              "x / sqrt(sum(x^2)) over the last axis", int8_output=Int8Output.FIXED, fixed_qparams=L2NORM_QPARAMS),
        OpDef(OpType.LOG_SOFTMAX, 50, 36, (), 1, 1, infer_log_softmax, "log(softmax(x)) over the last axis",
              int8_output=Int8Output.FIXED, fixed_qparams=LOG_SOFTMAX_QPARAMS),
        OpDef(OpType.GELU, 150, 116, (Attr("approximate", "bool", False, 0),), 1, 1, infer_same,
              "x·Φ(x) (erf form, or the tanh approximation); no tflite-micro kernel: LiteRT's rules",
              int8_version=1, in_place=True),
        OpDef(OpType.RELU_N1_TO_1, 20, 0, (), 1, 1, infer_same,
              "min(max(x, -1), 1); no tflite-micro kernel: LiteRT's rules", int8_version=1, in_place=True,
              as_activation=Activation.RELU_N1_TO_1),
    ] + [
        OpDef(OpType.SPACE_TO_BATCH_ND, 38, 25, (), 3, 3, infer_space_to_batch,
              "zero-pad H, W and move block_shape blocks into the batch (NHWC or NHC)",
              shape_inputs=frozenset({1, 2}), int8_output=Int8Output.SHARED),
        OpDef(OpType.BATCH_TO_SPACE_ND, 37, 24, (), 3, 3, infer_batch_to_space,
              "move batch blocks back into H, W and crop (inverse of SPACE_TO_BATCH_ND)",
              shape_inputs=frozenset({1, 2}), int8_output=Int8Output.SHARED),
        OpDef(OpType.CUMSUM, 128, 102, (Attr("exclusive", "bool", False, 0), Attr("reverse", "bool", False, 1)),
              2, 2, infer_cumsum, "cumulative sum along a constant axis (exclusive, reverse)",
              int8_version=1, shape_inputs=frozenset({1})),
        OpDef(OpType.GATHER_ND, 107, 83, (), 2, 2, infer_gather_nd,
              "slices at int32 index tuples (input 1, constant or computed; the last axis indexes params)",
              int8_output=Int8Output.SHARED, index_inputs=frozenset({1})),
        OpDef(OpType.EMBEDDING_LOOKUP, 7, 0, (), 2, 2, infer_embedding_lookup,
              "rows of a table at int32 ids; IR inputs (value, ids), the .tflite order is (ids, value)",
              int8_version=1, int8_output=Int8Output.SHARED, index_inputs=frozenset({1}), tflite_inputs=(1, 0)),
        OpDef(OpType.L2_POOL_2D, 12, 5, pool_attrs, 1, 1, infer_pool, "sqrt of the mean of squares over windows",
              int8_kernel=False),
        # a custom op: builtin CUSTOM (32) with custom_code, its options a flexbuffer map (slot -1)
        OpDef(OpType.DETECTION_POSTPROCESS, 32, 0,
              (Attr("max_detections", "flex_i", 10, -1), Attr("max_classes_per_detection", "flex_i", 1, -1),
               Attr("detections_per_class", "flex_i", 100, -1), Attr("use_regular_nms", "flex_b", False, -1),
               Attr("nms_score_threshold", "flex_f", 0.0, -1), Attr("nms_iou_threshold", "flex_f", 0.5, -1),
               Attr("num_classes", "flex_i", 1, -1), Attr("y_scale", "flex_f", 10.0, -1),
               Attr("x_scale", "flex_f", 10.0, -1), Attr("h_scale", "flex_f", 5.0, -1), Attr("w_scale", "flex_f", 5.0, -1)),
              3, 3, infer_detection_postprocess,
              "SSD box decoding and non-max suppression (custom op TFLite_Detection_PostProcess); float32",
              int8_kernel=False, max_outputs=4, custom_code=DETECTION_POSTPROCESS_CODE),
    ]  # fmt: skip


# ----------------------------------------------------------------- DETECTION_POSTPROCESS
#: the custom op's name in a .tflite file (OperatorCode.custom_code) and its flexbuffer options
DETECTION_POSTPROCESS_CODE = "TFLite_Detection_PostProcess"
#: the most anchors and detections picoml's reference loops over (an SSD head has a few thousand)
MAX_ANCHORS = 1 << 16


def detection_count(op) -> int:
    """Detections per output: max_detections · max_classes_per_detection (LiteRT's Prepare)."""
    a = op.attrs
    return int(a["max_detections"]) * int(a["max_classes_per_detection"])


def infer_detection_postprocess(op) -> list[tuple[int, ...]]:
    """(boxes [1, D, 4], classes [1, D], scores [1, D], count [1]); tflite-micro's Prepare and Eval checks."""
    boxes, scores, anchors = op.inputs[0], op.inputs[1], op.inputs[2]
    a = op.attrs
    if len(op.outputs) != 4:
        raise GraphError(f"{op.label}: has {len(op.outputs)} outputs; DETECTION_POSTPROCESS writes 4")
    if any(t is not None and len(t.shape) == 0 for t in op.outputs):
        raise UnsupportedError(
            f"{op.label}: output {next(t.name for t in op.outputs if len(t.shape) == 0)!r} has no static shape (the "
            "TF converter leaves detection outputs dynamic); tflite-micro needs static output dimensions and "
            "writes the detections past such a 4-byte buffer"
        )
    if len(boxes.shape) != 3 or len(scores.shape) != 3 or len(anchors.shape) != 2:
        raise GraphError(f"{op.label}: box encodings and class predictions must have rank 3, anchors rank 2")
    n = boxes.shape[1]
    if boxes.shape[0] != 1 or scores.shape[0] != 1:
        raise UnsupportedError(f"{op.label}: batch {boxes.shape[0]} (tflite-micro takes batch 1)")
    if boxes.shape[2] < 4 or anchors.shape != (n, 4) or scores.shape[1] != n or n > MAX_ANCHORS:
        raise GraphError(
            f"{op.label}: box encodings {list(boxes.shape)}, class predictions {list(scores.shape)} and anchors "
            f"{list(anchors.shape)} do not describe the same anchors (at most {MAX_ANCHORS})"
        )
    nc = int(a["num_classes"])
    if nc < 1 or scores.shape[2] - nc not in (0, 1):
        raise GraphError(f"{op.label}: num_classes {nc} for class predictions of {scores.shape[2]} columns")
    for k in ("max_detections", "max_classes_per_detection", "detections_per_class"):
        if not 0 < int(a[k]) <= MAX_ANCHORS:
            raise GraphError(f"{op.label}: {k} must be positive, is {a[k]}")
    iou = float(np.float32(a["nms_iou_threshold"]))
    if not 0.0 < iou <= 1.0:
        raise GraphError(f"{op.label}: nms_iou_threshold {iou} must be in (0, 1] (tflite-micro fails otherwise)")
    if not all(np.isfinite(float(a[k])) and float(a[k]) != 0 for k in ("y_scale", "x_scale", "h_scale", "w_scale")):
        raise GraphError(f"{op.label}: box scales must be finite and non-zero")
    if not a["use_regular_nms"] and min(int(a["max_classes_per_detection"]), nc) > 1:
        raise UnsupportedError(
            f"{op.label}: fast NMS with {min(int(a['max_classes_per_detection']), nc)} classes per detection: "
            "tflite-micro writes those rows at a stride that runs past its outputs (use 1 or use_regular_nms)"
        )
    d = detection_count(op)
    return [(1, d, 4), (1, d), (1, d), (1,)]
