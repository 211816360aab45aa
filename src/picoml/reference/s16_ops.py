"""int16 ADD, SUB, MUL, AVERAGE_POOL_2D, MAX_POOL_2D and MEAN as tflite-micro runs them: the int8
arithmetic with int16 ranges (16x8 tensors have zero point 0, graph/int16_ops.py).

- ADD / SUB (add_common.cc, sub_common.cc): the int8 "general rescaling" path with a left shift
  of 15 instead of 20: each input shifted left by 15, scaled by its scale / (2·max input scale)
  (QuantizeMultiplierSmallerThanOneExp), summed or subtracted, scaled by 2·max / (2^15 · output
  scale); clamped to int16. tflite-micro ignores ``pot_scale_int16`` (tests pin both values).
- MUL: x1 · x2 (an int32 product) · in1·in2/out (MultiplyByQuantizedMultiplier), clamped.
- AVERAGE_POOL_2D: the window sum (int32) divided by the count of taps inside the input, rounding
  half away from zero; MAX_POOL_2D: the window maximum; both clamped to the fused activation's
  int16 range; the input's quantization must be the output's (pooling_common.cc).
- MEAN: reference_ops::QuantizedMeanOrSum as for int8 (reference/mean.py: 1/n folded into the
  multiplier), clamped to int16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import (
    INT16_MAX,
    INT16_MIN,
    check_multiplier_shift,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multiplier,
    quantize_multiplier_checked,
    quantize_multiplier_smaller_than_one_exp,
    wrap_int32,
)
from picoml.fixedpoint import (
    multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm_lt1,
)
from picoml.graph.ir import Op, Tensor
from picoml.graph.ops import Activation, OpType, reduce_axes
from picoml.reference import batch_matmul, transpose_conv
from picoml.reference.common import align_ranks, channel_multipliers, patches, quantize_value_checked, to_nhwc
from picoml.reference.pooling import POOL_SCALE_TOLERANCE

LEFT_SHIFT_16 = 15  # add_common.cc: 15 for int16 outputs, 20 for int8


def activation_range_int16(act: str, out: Tensor, label: str) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int16 output (as activation_range_int8)."""
    where = f"{label}: fused {act}"
    lo, hi = INT16_MIN, INT16_MAX
    if act in (Activation.RELU, Activation.RELU6):
        lo = max(lo, quantize_value_checked(0.0, out, where))
    if act == Activation.RELU6:
        hi = min(hi, quantize_value_checked(6.0, out, where))
    if act == Activation.RELU_N1_TO_1:
        lo = max(lo, quantize_value_checked(-1.0, out, where))
        hi = min(hi, quantize_value_checked(1.0, out, where))
    return lo, hi


@dataclass(frozen=True)
class Binary16Params:
    op_type: str
    act_min: int
    act_max: int
    m1: int = 0
    s1: int = 0
    m2: int = 0
    s2: int = 0
    mo: int = 0
    so: int = 0


def prepare_binary(op: Op) -> Binary16Params:
    a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
    lo, hi = activation_range_int16(op.attrs["fused_activation"], y, op.label)
    s1, s2, so = (float(np.float32(t.scale[0])) for t in (a, b, y))
    if op.type == OpType.MUL:
        m, s = quantize_multiplier_checked(
            s1 * s2 / so, f"{op.label}: output {y.name!r}", "input scale × input scale / output scale"
        )
        return Binary16Params(str(op.type), lo, hi, mo=m, so=s)
    twice_max = 2.0 * max(s1, s2)
    real_out = twice_max / ((1 << LEFT_SHIFT_16) * so)
    _, shift = quantize_multiplier(real_out)
    if shift > 0:
        raise UnsupportedError(
            f"{op.label}: output scale {so:g} of {y.name!r} is too small for input scales {s1:g} and {s2:g} "
            f"(int16 {op.type} needs 2·max input scale < 2^15 · output scale)"
        )
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(s1 / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(s2 / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one_exp(real_out)
    return Binary16Params(str(op.type), lo, hi, m1, sh1, m2, sh2, mo, sho)


def evaluate_binary(p: Binary16Params, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = align_ranks(*inputs)
    a, b = a.astype(np.int64), b.astype(np.int64)
    if p.op_type == OpType.MUL:
        out = multiply_by_quantized_multiplier(a * b, p.mo, p.so)
    else:
        x1 = mbqm_lt1(a << LEFT_SHIFT_16, p.m1, p.s1)
        x2 = mbqm_lt1(b << LEFT_SHIFT_16, p.m2, p.s2)
        out = mbqm_lt1(x1 - x2 if p.op_type == OpType.SUB else x1 + x2, p.mo, p.so)
    return np.clip(out, p.act_min, p.act_max).astype(np.int16)


@dataclass(frozen=True)
class Pool16Params:
    average: bool
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    padding: str
    act_min: int
    act_max: int


def prepare_pool(op: Op) -> Pool16Params:
    a = op.attrs
    x, y = op.inputs[0], op.outputs[0]
    sx, sy = float(np.float32(x.scale[0])), float(np.float32(y.scale[0]))
    if not abs(sx - sy) <= POOL_SCALE_TOLERANCE:
        raise UnsupportedError(
            f"{op.label}: int16 {op.type} needs the input's scale {sx:.6g} on its output {y.name!r} (has {sy:.6g}), "
            "as TFLite Micro requires"
        )
    lo, hi = activation_range_int16(a["fused_activation"], y, op.label)
    avg = op.type == OpType.AVERAGE_POOL_2D
    return Pool16Params(avg, a["filter_h"], a["filter_w"], a["stride_h"], a["stride_w"], a["padding"], lo, hi)


def evaluate_pool(p: Pool16Params, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    geo = (p.filter_h, p.filter_w, p.stride_h, p.stride_w, 1, 1, p.padding)
    if p.average:
        ones = np.ones((1,) + x.shape[1:3] + (1,), np.int64)
        count = patches(ones, *geo, 0).sum(axis=(3, 4))
        s = patches(x.astype(np.int64), *geo, 0).sum(axis=(3, 4))
        half = count // 2
        num = np.where(s > 0, s + half, s - half)
        v = np.where(num >= 0, num // count, -((-num) // count))  # C division truncates
    else:
        v = patches(x.astype(np.int32), *geo, np.iinfo(np.int32).min).max(axis=(3, 4))
    y = np.clip(v, p.act_min, p.act_max).astype(np.int16)
    return y.reshape(lead + y.shape[1:])


@dataclass(frozen=True)
class Mean16Params:
    axes: tuple[int, ...]
    out_shape: tuple[int, ...]
    count: int
    multiplier: int
    shift: int


def prepare_mean(op: Op) -> Mean16Params:
    x, y = op.inputs[0], op.outputs[0]
    axes = tuple(reduce_axes(op))
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    real = float(np.float32(x.scale[0])) / float(np.float32(y.scale[0]))
    m, shift = quantize_multiplier(real)
    if count > 0:
        s = min(count.bit_length() - 1, 32, 31 + shift)
        m = (m << s) // count
        shift -= s
    check_multiplier_shift(
        real / max(count, 1), shift, f"{op.label}: output {y.name!r}", "input scale / output scale / element count"
    )
    return Mean16Params(axes, tuple(y.shape), count, int(m), int(shift))


def prepare_sum(op: Op) -> Mean16Params:
    """int16 SUM: QuantizedMeanOrSum with compute_sum (no 1/n folded into the multiplier)."""
    x, y = op.inputs[0], op.outputs[0]
    axes = tuple(reduce_axes(op))
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    real = float(np.float32(x.scale[0])) / float(np.float32(y.scale[0]))
    m, shift = quantize_multiplier(real)
    check_multiplier_shift(real, shift, f"{op.label}: output {y.name!r}", "input scale / output scale")
    return Mean16Params(axes, tuple(y.shape), count, int(m), int(shift))


def evaluate_mean(p: Mean16Params, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    out_shape = (x.shape[0],) + p.out_shape
    if p.count == 0:
        return np.zeros(out_shape, np.int16)
    total = wrap_int32(x.astype(np.int64).sum(axis=tuple(a + 1 for a in p.axes)))
    out = np.clip(multiply_by_quantized_multiplier(total, p.multiplier, p.shift), -32768, 32767)
    return out.astype(np.int16).reshape(out_shape)


@dataclass(frozen=True)
class Act16Params:
    """int16 RELU (requantizing), RELU6 (a clamp in the input's units), LEAKY_RELU and ABS
    (activations.cc, leaky_relu.cc, elementwise.cc: the int8 arithmetic, int16 ranges)."""

    op_type: str
    act_min: int = INT16_MIN
    act_max: int = INT16_MAX
    multiplier: int = 0  # RELU: in / out; LEAKY_RELU: identity in / out
    shift: int = 0
    alpha_multiplier: int = 0  # LEAKY_RELU: in · alpha / out (negative for a negative alpha)
    alpha_shift: int = 0


def prepare_activation(op: Op) -> Act16Params:
    x, y = op.inputs[0], op.outputs[0]
    t = str(op.type)
    s_in, s_out = float(np.float32(x.scale[0])), float(np.float32(y.scale[0]))
    where = f"{op.label}: output {y.name!r}"
    if op.type == OpType.RELU6:
        hi = min(INT16_MAX, max(INT16_MIN, quantize_value_checked(6.0, x, f"{op.label}: RELU6 bound")))
        return Act16Params(t, 0, hi)
    m, s = quantize_multiplier_checked(s_in / s_out, where, "input scale / output scale")
    if op.type == OpType.RELU:
        return Act16Params(t, 0, INT16_MAX, m, s)
    if op.type == OpType.ABS:
        return Act16Params(t, INT16_MIN, INT16_MAX, m, s)
    alpha = float(np.float32(op.attrs["alpha"]))
    if not np.isfinite(s_in * alpha / s_out):
        raise UnsupportedError(f"{where}: LEAKY_RELU multiplier is not finite (alpha {alpha})")
    ma, sa = quantize_multiplier_checked(s_in * alpha / s_out, where, "input scale * alpha / output scale")
    return Act16Params(t, INT16_MIN, INT16_MAX, m, s, ma, sa)


def evaluate_activation(p: Act16Params, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0].astype(np.int64)
    if p.op_type == OpType.RELU6:
        v = x
    elif p.op_type == OpType.RELU:
        v = multiply_by_quantized_multiplier(x, p.multiplier, p.shift)
    elif p.op_type == OpType.ABS:  # elementwise.cc: |x| rescaled (|-32768| = 32768 before the clamp)
        v = multiply_by_quantized_multiplier(np.abs(x), p.multiplier, p.shift)
    else:  # LEAKY_RELU: a negative alpha multiplier scales by its magnitude, then negates (leaky_relu.py)
        pos = x >= 0
        sign = np.where(pos, 1, -1 if p.alpha_multiplier < 0 else 1)
        m = np.where(pos, p.multiplier, abs(p.alpha_multiplier))
        s = np.where(pos, p.shift, p.alpha_shift)
        v = sign * multiply_by_quantized_multiplier(x, m, s)
    return np.clip(v, p.act_min, p.act_max).astype(np.int16)


@dataclass(frozen=True)
class TransposeConv16Params:
    """16x8 TRANSPOSE_CONV (reference_integer_ops::TransposeConv, int16): the int8 geometry of
    reference/transpose_conv.py, products scattered into int64 accumulators, + int64 bias (an
    int16 bias widened), TFLite's int64 MultiplyByQuantizedMultiplier, clamp."""

    geometry: transpose_conv.TransposeConvParams
    bias: np.ndarray  # int64
    multiplier: np.ndarray
    shift: np.ndarray
    act_min: int
    act_max: int


def prepare_transpose_conv(op: Op) -> TransposeConv16Params:
    geo = transpose_conv.prepare(op)  # an int16 input gives the geometry and the raw bias
    x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]  # IR order: input, weights, output_shape, bias
    oc = geo.filter.shape[0]
    mult, shift = channel_multipliers(x.scale[0], w, y.scale[0], oc, op.label, y.name)
    if int(np.max(shift)) > 14:
        raise UnsupportedError(f"{op.label}: output {y.name!r}: rescale shift {int(np.max(shift))} > 14")
    lo, hi = activation_range_int16(op.attrs["fused_activation"], y, op.label)
    bias = np.asarray(geo.bias).astype(np.int64).reshape(-1)
    return TransposeConv16Params(geo, bias, np.asarray(mult, np.int64), np.asarray(shift, np.int64), lo, hi)


def evaluate_transpose_conv(p: TransposeConv16Params, inputs: list[np.ndarray]) -> np.ndarray:
    x, lead = to_nhwc(inputs[0])
    acc = np.rint(transpose_conv.accumulate(p.geometry, x.astype(np.float64))).astype(np.int64)  # < 2^53: exact
    v = multiply_by_quantized_multiplier_int64(acc + p.bias, p.multiplier, p.shift)
    y = np.clip(v, p.act_min, p.act_max).astype(np.int16)
    return y.reshape(lead + y.shape[1:])


@dataclass(frozen=True)
class BatchMatmul16Params:
    """int16 BATCH_MATMUL (batch_matmul.cc EvalInt16: reference BatchMatMul<int16_t, int64_t>): both
    operands int16 with zero point 0, acc = Σ lhs · rhs in int64, TFLite's int64 rescale, clamp."""

    base: batch_matmul.BatchMatmulParams  # geometry (quantized False: the int8 fields unused)
    multiplier: int
    shift: int


def prepare_batch_matmul(op: Op) -> BatchMatmul16Params:
    lhs, rhs, y = op.inputs[0], op.inputs[1], op.outputs[0]
    base = batch_matmul.prepare(op)
    real = batch_matmul.multiplier_real(lhs.scale[0], rhs.scale[0], y.scale[0])
    m, shift = quantize_multiplier(real)
    if shift > 14:
        raise UnsupportedError(f"{op.label}: output {y.name!r}: rescale shift {shift} > 14 (lhs × rhs / output scale)")
    return BatchMatmul16Params(base, int(m), int(shift))


def evaluate_batch_matmul(p: BatchMatmul16Params, inputs: list[np.ndarray]) -> np.ndarray:
    lhs, rhs = inputs
    b = p.base
    n = max(lhs.shape[0], rhs.shape[0])
    x = batch_matmul._matrices(lhs, b.lhs_shape, b.adj_x).astype(np.float64)
    w = batch_matmul._matrices(rhs, b.rhs_shape, b.adj_y).astype(np.float64)
    acc = np.rint(np.matmul(x, w)).astype(np.int64)  # products <= 2^30: exact below 2^23 terms
    out = np.clip(multiply_by_quantized_multiplier_int64(acc, p.multiplier, p.shift), INT16_MIN, INT16_MAX)
    return out.astype(np.int16).reshape((n,) + b.out_shape)
