"""SVDF reference kernel (tflite-micro ``kernels/svdf_common.cc``: EvalFloatSvdfReference and
EvalIntegerSvdfReference<int16_t / int8_t>), batched over the interpreter's leading axis.

Every call: the state [batch, num_filters, memory_size] moves one frame left (the oldest drops
out); the feature matmul of the input fills the newest frame; each filter's time weights dot its
memory; the rank filters of each unit are summed with the bias. The op returns its output and the
new state (``OpDef.state_inputs``: the interpreter stores it as the variable's value).

int8: newest = clamp(MBQM(Σ wf · (x - x_zp), m1) + state_zp) in the state's type; acc = bias +
Σ_rank Σ_t wt · (state - state_zp) as int32 (wrapping like C), out = clamp(MBQM(acc, m2) + y_zp)
to int8; m1 = x_scale · wf_scale / state_scale, m2 = state_scale · wt_scale / y_scale, each
computed in float32 before the double conversion, as Prepare does. No fused activation on this
path (tflite-micro ignores it). Float: sums in float64 rounded to float32 once per stored value
(tflite-micro and LiteRT add in float32: the tests allow the oracles' 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier_checked, wrap_int32
from picoml.graph.ir import Op
from picoml.graph.svdf_ops import svdf_dims
from picoml.reference.common import activation_range_float


@dataclass(frozen=True)
class Params:
    n_filter: int
    n_unit: int
    memory: int
    rank: int
    wf: np.ndarray  # [filters, input]
    wt: np.ndarray  # [filters, memory]
    bias: np.ndarray  # [units] (zeros when absent)
    has_bias: bool
    integer: bool
    state_dtype: np.dtype
    lo: float = 0.0
    hi: float = 0.0
    x_zp: int = 0
    state_zp: int = 0
    y_zp: int = 0
    m1: tuple[int, int] = (0, 0)
    m2: tuple[int, int] = (0, 0)


def prepare(op: Op) -> Params:
    _, _, n_filter, n_unit, memory, rank = svdf_dims(op)
    x, wf, wt, y = op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]
    bias = op.inputs[3] if len(op.inputs) > 3 else None
    state = op.inputs[4]
    has_bias = bias is not None
    if x.dtype == "float32":
        lo, hi = activation_range_float(op.attrs["fused_activation"])
        b = bias.data.astype(np.float64) if has_bias else np.zeros(n_unit)
        return Params(n_filter, n_unit, memory, rank, wf.data.astype(np.float64), wt.data.astype(np.float64), b,
                      has_bias, False, np.dtype(np.float32), lo, hi)  # fmt: skip
    f32 = np.float32
    s1 = float(f32(x.scale[0]) * f32(wf.scale[0]) / f32(state.scale[0]))
    s2 = float(f32(state.scale[0]) * f32(wt.scale[0]) / f32(y.scale[0]))
    m1 = quantize_multiplier_checked(s1, op.label, "input × weights_feature / activation_state scales")
    m2 = quantize_multiplier_checked(s2, op.label, "activation_state × weights_time / output scales")
    return Params(n_filter, n_unit, memory, rank, wf.data.astype(np.int64), wt.data.astype(np.int64),
                  bias.data.astype(np.int64), True, True, state.np_dtype, x_zp=int(x.zero_point[0]),
                  state_zp=int(state.zero_point[0]), y_zp=int(y.zero_point[0]), m1=m1, m2=m2)  # fmt: skip


def evaluate(p: Params, inputs: list) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    x, state = inputs[0], inputs[-1]
    n, batch = x.shape[0], x.shape[1]
    s = state.reshape(n, batch, p.n_filter, p.memory)
    new = np.empty_like(s)
    new[..., :-1] = s[..., 1:]
    if p.integer:
        feat = np.einsum("nbi,fi->nbf", x.astype(np.int64) - p.x_zp, p.wf)
        info = np.iinfo(p.state_dtype)
        feat = np.clip(multiply_by_quantized_multiplier(feat, *p.m1), info.min, info.max) + p.state_zp
        new[..., -1] = feat.astype(p.state_dtype)  # clamped before the zero point: wraps, as tflite-micro
        per_filter = wrap_int32(np.einsum("nbfm,fm->nbf", new.astype(np.int64) - p.state_zp, p.wt))
        acc = wrap_int32(per_filter.reshape(n, batch, p.n_unit, p.rank).sum(-1) + p.bias)
        out = multiply_by_quantized_multiplier(acc, *p.m2) + p.y_zp
        y = np.clip(out, -128, 127).astype(np.int8)
    else:
        new[..., -1] = np.einsum("nbi,fi->nbf", x.astype(np.float64), p.wf).astype(np.float32)
        per_filter = np.einsum("nbfm,fm->nbf", new.astype(np.float64), p.wt)
        acc = per_filter.reshape(n, batch, p.n_unit, p.rank).sum(-1) + p.bias
        y = np.clip(acc, p.lo, p.hi).astype(np.float32)
    return y, {4: new.reshape(state.shape)}
