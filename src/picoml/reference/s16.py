"""16x8 reference kernels: int16 activations, int8 weights (reference_integer_ops' int16
FullyConnected, ConvPerChannel and DepthwiseConvPerChannel as tflite-micro runs them).

acc = Σ x · w over the window (no zero points: 16x8 activations are symmetric), + bias, then:

- int64 bias (or none, FULLY_CONNECTED / DEPTHWISE_CONV_2D): an int64 accumulator and the int64
  MultiplyByQuantizedMultiplier (Q31 multiplier rounded to Q15, one rounding shift:
  ``fixedpoint.multiply_by_quantized_multiplier_int64``);
- int32 bias (CONV_2D, FULLY_CONNECTED), or CONV_2D without bias: an int32 accumulator (wrapping
  as the C does) and the int32 MultiplyByQuantizedMultiplier of the int8 kernels (SRDHM, then a rounding
  shift);

then the fused activation's clamp within int16. No output zero point is added.

Every product is at most 2^15 · 2^7 = 2^22, so float64 dot products are exact for windows under
2^31 taps; the sums are converted to int64 before any rounding.

``wrap(kernels)`` returns the KERNELS entries of the ops with an int16 kernel: each dispatches on
the input's dtype, so the int8 / float kernels stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    wrap_int32,
)
from picoml.graph.int16_ops import INT16_OPS, is_int16_op
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import s16_nonlinear, s16_ops, s16_softmax
from picoml.reference.common import (
    channel_multipliers,
    patches,
    to_nhwc,
)
from picoml.reference.fully_connected import check_bias_scale
from picoml.reference.s16_ops import activation_range_int16

#: largest shift the int64 rescale applies with defined behaviour (common.h: shift < 8 asserted;
#: from 15 on ``1 << (15 - shift - 1)`` is undefined)
MAX_INT64_SHIFT = 14


@dataclass(frozen=True)
class S16Params:
    """A 16x8 layer: geometry, weights, int64 / int32 bias and the per-channel rescale."""

    op_type: str
    weights: np.ndarray  # FC [out, in], CONV OHWI, DW 1HWO (int8)
    bias: np.ndarray  # [out] int64 (int32 widened when acc32)
    multiplier: np.ndarray  # [out] int64 Q31
    shift: np.ndarray  # [out] int64
    act_min: int
    act_max: int
    acc32: bool = False  # int32 accumulator and rescale (an int32 bias; CONV_2D without bias)
    out_shape: tuple[int, ...] = ()
    stride_h: int = 1
    stride_w: int = 1
    dilation_h: int = 1
    dilation_w: int = 1
    padding: str = "VALID"
    groups: int = 1


def prepare(op: Op) -> S16Params:
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
    b = op.inputs[2] if len(op.inputs) > 2 else None
    dw = op.type == OpType.DEPTHWISE_CONV_2D
    oc = w.shape[3] if dw else w.shape[0]
    if op.type == OpType.FULLY_CONNECTED and b is not None and w.scale.size == 1:
        check_bias_scale(op, x, w, b, y)
    mult, shift = channel_multipliers(x.scale[0], w, y.scale[0], oc, op.label, y.name)
    # tflite-micro: CONV_2D without bias runs its int32 path, FULLY_CONNECTED its int64 one
    acc32 = b.dtype == "int32" if b is not None else op.type == OpType.CONV_2D
    if not acc32 and int(np.max(shift)) > MAX_INT64_SHIFT:
        raise UnsupportedError(
            f"{op.label}: output {y.name!r}: rescale shift {int(np.max(shift))} > {MAX_INT64_SHIFT}; TFLite's int64 "
            "MultiplyByQuantizedMultiplier cannot apply it"
        )
    bias = np.zeros(oc, np.int64) if b is None else b.data.reshape(-1).astype(np.int64)
    lo, hi = activation_range_int16(op.attrs["fused_activation"], y, op.label)
    a = op.attrs
    geo: dict[str, Any] = {}
    if op.type != OpType.FULLY_CONNECTED:
        geo = dict(
            stride_h=a["stride_h"],
            stride_w=a["stride_w"],
            dilation_h=a["dilation_h"],
            dilation_w=a["dilation_w"],
            padding=a["padding"],
            groups=1 if dw else x.shape[3] // w.shape[3],
        )
    return S16Params(
        str(op.type),
        w.data,
        bias,
        np.asarray(mult, np.int64),
        np.asarray(shift, np.int64),
        lo,
        hi,
        acc32,
        tuple(y.shape),
        **geo,
    )


def requantize_s16(acc: np.ndarray, p: S16Params) -> np.ndarray:
    """Exact integer accumulators (channels last) + bias -> int16 outputs."""
    a = np.asarray(acc, np.int64) + p.bias
    if p.acc32:
        v = multiply_by_quantized_multiplier(wrap_int32(a), p.multiplier, p.shift)
    else:
        v = multiply_by_quantized_multiplier_int64(a, p.multiplier, p.shift)
    return np.clip(v, p.act_min, p.act_max).astype(np.int16)


def _exact(acc: np.ndarray) -> np.ndarray:
    return np.rint(acc).astype(np.int64)  # float64 sums of integers below 2^53: exact


def evaluate(p: S16Params, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    n = x.shape[0]
    if p.op_type == OpType.FULLY_CONNECTED:
        depth = p.weights.shape[1]
        acc = x.reshape(-1, depth).astype(np.float64) @ p.weights.astype(np.float64).T
        return requantize_s16(_exact(acc), p).reshape((n,) + p.out_shape)
    xs, lead = to_nhwc(inputs[0])
    geometry = (p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.padding)
    if p.op_type == OpType.DEPTHWISE_CONV_2D:
        _, kh, kw, oc = p.weights.shape
        c = xs.shape[3]
        mult = oc // c
        win = patches(xs.astype(np.float64), kh, kw, *geometry, 0.0)
        f = p.weights.astype(np.float64).reshape(kh, kw, c, mult)
        m, oh, ow = win.shape[:3]
        acc = np.zeros((m, oh, ow, c, mult))
        for i in range(kh):
            for j in range(kw):
                acc += win[:, :, :, i, j, :, None] * f[i, j]
        y = requantize_s16(_exact(acc.reshape(m, oh, ow, oc)), p)
        return y.reshape(lead + y.shape[1:])
    oc, kh, kw, ic = p.weights.shape
    win = patches(xs.astype(np.float64), kh, kw, *geometry, 0.0)
    m, oh, ow = win.shape[:3]
    w = p.weights.astype(np.float64)
    per_group = oc // p.groups
    outs = []
    for g in range(p.groups):
        xg = win[..., g * ic : (g + 1) * ic].reshape(m * oh * ow, kh * kw * ic)
        outs.append(xg @ w[g * per_group : (g + 1) * per_group].reshape(per_group, -1).T)
    acc = np.concatenate(outs, axis=1) if p.groups > 1 else outs[0]
    y = requantize_s16(_exact(acc), p).reshape(m, oh, ow, oc)
    return y.reshape(lead + y.shape[1:])


class _Dispatch(NamedTuple):
    prepare: Any
    evaluate: Any


def _dispatch(kernel: Any, prep: Any, ev: Any, params_type: type) -> Any:
    """A kernel running ``prep``/``ev`` for ops with int16 activations and ``kernel`` otherwise."""

    def prepare_any(op: Op) -> Any:
        return prep(op) if is_int16_op(op) else kernel.prepare(op)

    def evaluate_any(p: Any, inputs: list[np.ndarray]) -> Any:
        return ev(p, inputs) if isinstance(p, params_type) else kernel.evaluate(p, inputs)

    return kernel._replace(prepare=prepare_any, evaluate=evaluate_any)


#: op -> (prepare, evaluate, params type) of its int16 kernel
S16_KERNELS: dict[OpType, tuple[Any, Any, type]] = {
    OpType.FULLY_CONNECTED: (prepare, evaluate, S16Params),
    OpType.CONV_2D: (prepare, evaluate, S16Params),
    OpType.DEPTHWISE_CONV_2D: (prepare, evaluate, S16Params),
    OpType.LOGISTIC: (s16_nonlinear.prepare, s16_nonlinear.evaluate, s16_nonlinear.LutParams),
    OpType.TANH: (s16_nonlinear.prepare, s16_nonlinear.evaluate, s16_nonlinear.LutParams),
    OpType.ADD: (s16_ops.prepare_binary, s16_ops.evaluate_binary, s16_ops.Binary16Params),
    OpType.SUB: (s16_ops.prepare_binary, s16_ops.evaluate_binary, s16_ops.Binary16Params),
    OpType.MUL: (s16_ops.prepare_binary, s16_ops.evaluate_binary, s16_ops.Binary16Params),
    OpType.AVERAGE_POOL_2D: (s16_ops.prepare_pool, s16_ops.evaluate_pool, s16_ops.Pool16Params),
    OpType.MAX_POOL_2D: (s16_ops.prepare_pool, s16_ops.evaluate_pool, s16_ops.Pool16Params),
    OpType.MEAN: (s16_ops.prepare_mean, s16_ops.evaluate_mean, s16_ops.Mean16Params),
    OpType.SOFTMAX: (s16_softmax.prepare, s16_softmax.evaluate, s16_softmax.Softmax16Params),
    OpType.TRANSPOSE_CONV: (
        s16_ops.prepare_transpose_conv,
        s16_ops.evaluate_transpose_conv,
        s16_ops.TransposeConv16Params,
    ),
    OpType.SUM: (s16_ops.prepare_sum, s16_ops.evaluate_mean, s16_ops.Mean16Params),
    OpType.RELU: (s16_ops.prepare_activation, s16_ops.evaluate_activation, s16_ops.Act16Params),
    OpType.RELU6: (s16_ops.prepare_activation, s16_ops.evaluate_activation, s16_ops.Act16Params),
    OpType.BATCH_MATMUL: (s16_ops.prepare_batch_matmul, s16_ops.evaluate_batch_matmul, s16_ops.BatchMatmul16Params),
    OpType.ABS: (s16_ops.prepare_activation, s16_ops.evaluate_activation, s16_ops.Act16Params),
    OpType.LEAKY_RELU: (s16_ops.prepare_activation, s16_ops.evaluate_activation, s16_ops.Act16Params),
}
assert set(S16_KERNELS) <= INT16_OPS


def wrap(kernels: dict) -> dict:
    """The entries of ``kernels`` to replace: each op with an int16 kernel dispatches on dtype."""
    return {t: _dispatch(kernels[t], *S16_KERNELS[t]) for t in S16_KERNELS}
