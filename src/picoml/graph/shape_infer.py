"""Shape inference of the ops in ``graph/ops.py``'s first set (convolutions' window geometry,
pooling, dense, element-wise and broadcasting, reshape, pad, mean, concatenation, SHAPE), and the
window helpers the reference kernels and the generator share. ``ops.py`` registers them as
``OpDef.infer``; the data-movement ops' rules are in ``shape_ops.py``, the upsampling ops' in
``resize_ops.py``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from picoml.errors import GraphError, UnsupportedError


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
    """Normalized, sorted, unique axes of MEAN."""
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


def _broadcast_limited(max_rank: int) -> Callable[..., list[tuple[int, ...]]]:
    """Shape inference of a binary op whose tflite-micro kernel broadcasts over at most ``max_rank``
    dimensions (its NdArrayDesc<N>; beyond it the kernel reads out of bounds): a larger broadcast is
    refused. Operands of equal shape run elementwise at any rank."""

    def infer(op) -> list[tuple[int, ...]]:
        a, b = _shape(op.inputs[0]), _shape(op.inputs[1])
        out = broadcast_shape(op, a, b)
        if a != b and len(out) > max_rank:
            raise UnsupportedError(
                f"{op.label}: broadcasting {list(a)} with {list(b)} over {len(out)} dimensions "
                f"(TFLite Micro's {op.type} broadcasts over at most {max_rank})"
            )
        return [out]

    return infer


# ----------------------------------------------------------------- MAC counts (OpDef.macs; graph/ops.py)
def _no_macs(op) -> int:
    return 0


def _conv_macs(op) -> int:  # OHWI filter: H·W·I taps per output value
    w = op.inputs[1].shape
    return int(op.outputs[0].size * (w[1] * w[2] * w[3]))


def _depthwise_macs(op) -> int:  # 1HWO filter: H·W taps per output value
    w = op.inputs[1].shape
    return int(op.outputs[0].size * (w[1] * w[2] * 1))


def _fc_macs(op) -> int:  # [out, in] weights: in taps per output value
    return int(op.outputs[0].size * op.inputs[1].shape[1])


def _transpose_conv_macs(op) -> int:  # every input value meets every tap of every output channel
    oc, kh, kw, _ = op.inputs[1].shape
    return int(op.inputs[0].size * kh * kw * oc)


def _elementwise_macs(op) -> int:
    return int(op.outputs[0].size)
