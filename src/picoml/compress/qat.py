"""Quantization-aware training on the float Graph itself.

``QATModel`` executes a float ``Graph`` with PyTorch ops (NHWC data, TFLite padding), its weights
and biases as trainable parameters, and fake quantization exactly where ``picoml.quantize`` puts
int8 tensors, with the same parameters: so training sees the int8 model's rounding, and
``to_int8()`` is ``picoml.quantize`` of the trained float graph with the trained ranges.

What is fake-quantized, and how (``picoml.quantize.ptq`` computes every parameter, with the same
functions ``to_int8`` uses; this module only applies them):

- weights per channel, symmetric in [-127, 127] (``weight_scales``); biases to int32 with scale
  ``s_in · s_w[c]``; the graph input as ``quantize_input`` converts it;
- every op output per tensor, with (s, zp) from ``plan_activations`` on the current ranges (same
  nudging, shared groups, fixed SOFTMAX/LOGISTIC/TANH outputs, fused-activation clamps). Its
  fake-quantized value is the int8 kernel's own output on the int8 values of the op's
  (fake-quantized) inputs: layers with weights recover their exact integer accumulator from the
  float sum and requantize it with the reference's ``requantize_output`` (TFLite's double
  rounding), every other op runs its reference kernel on the integers. A plain
  ``round(x / s)`` differs from TFLite's two-step requantization on about one value in
  2^(1 - shift) and from the fixed-point SOFTMAX/LOGISTIC/TANH, and those differences compound
  layer by layer; this way the QAT forward is the int8 model's arithmetic (in float64 exactly);
- rounding is half away from zero, as the int8 kernels round.

Gradients use the straight-through estimator: the rounding is skipped in the backward pass, and
values clamped by the int8 range get zero gradient (the clipped STE of Bengio et al. 2013 and of
``torch.fake_quantize_per_tensor_affine``). Scales carry no gradient.

Activation ranges start from calibration (``picoml.quantize.calibrate``; any method) and follow an
exponential moving average of each training batch's min/max (``ema_decay``), frozen after
``freeze_ranges_after`` steps if given; or, with ``learn_ranges``, they are trained by gradient
descent with the weights (LSQ's gradient, Esser et al. 2020, written for a (lo, hi) range: each
side is the calibrated value times exp of a learned log-factor shared by the tensors that share
int8 parameters), so the loss, not the extremes, decides how much of a range to clip. The range
used in a step is the one from before it.

``qat_finetune`` adds the training loop: Adam, a constant or cosine learning rate, and a loss on
the labels, on the float model's own outputs (distillation: the int8 model is trained to
reproduce the float model), or a mix of the two.

PyTorch is imported by this module only; ``picoml.compress`` loads it on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from picoml.compress.qat_extra import EXTRA_FLOAT_OPS
from picoml.compress.qat_movement import MOVEMENT_FLOAT_OPS
from picoml.compress.qat_reduce import REDUCE_FLOAT_OPS
from picoml.compress.qat_resize import RESIZE_FLOAT_OPS
from picoml.compress.train import train_loop
from picoml.errors import InputError, UnsupportedError
from picoml.fixedpoint import round_half_away
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OP_SET, Activation, Int8Output, OpType, concat_axis, out_size, reduce_axes, same_padding
from picoml.qparams import INT32_MAX, WEIGHT_QMAX, quantize_array, weight_scales
from picoml.quantize.calibrate import calibrate, calibration_inputs
from picoml.quantize.ptq import (
    ActivationPlan,
    activation_names,
    plan_activations,
    prepare_float_graph,
    quantize,
)
from picoml.reference import KERNELS
from picoml.reference.common import activation_range_int8, channel_multipliers, requantize_output
from picoml.reference.interpreter import run

LOSSES = ("cross_entropy", "mse")


@dataclass(frozen=True)
class _Requant:
    """The fields ``requantize_output`` reads (those of a prepared CONV_2D / FULLY_CONNECTED)."""

    multiplier: np.ndarray
    shift: np.ndarray
    output_zp: int
    act_min: int
    act_max: int


# ======================================================================= fake quantization
def _ste(x: torch.Tensor, y: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """Forward ``y``; backward identity where ``inside``, zero elsewhere (clipped straight-through)."""
    return torch.where(inside, x - x.detach() + y, y)


def fake_quant(x: torch.Tensor, scale: float, zero_point: int, qmin: int = -128, qmax: int = 127) -> torch.Tensor:
    """Per-tensor affine fake quantization ``s · (clamp(round(x / s) + zp) - zp)`` with a clipped STE."""
    with torch.no_grad():
        r = round_half_away(x / scale) + zero_point
        inside = (r >= qmin) & (r <= qmax)
        y = (r.clamp(qmin, qmax) - zero_point) * scale
    return _ste(x, y, inside)


def fake_quant_weights(w: torch.Tensor, scales: np.ndarray, axis: int | None) -> torch.Tensor:
    """Symmetric per-channel fake quantization to [-127, 127] along ``axis`` (per tensor if None)."""
    s = torch.as_tensor(np.asarray(scales, np.float64), dtype=w.dtype, device=w.device)
    if axis is not None and s.numel() > 1:
        shape = [1] * w.dim()
        shape[axis] = s.numel()
        s = s.reshape(shape)
    else:
        s = s.reshape(())
    with torch.no_grad():
        r = round_half_away(w / s)
        inside = r.abs() <= WEIGHT_QMAX
        y = r.clamp(-WEIGHT_QMAX, WEIGHT_QMAX) * s
    return _ste(w, y, inside)


def fake_quant_bias(b: torch.Tensor, input_scale: float, w_scales: np.ndarray) -> torch.Tensor:
    """int32 fake quantization with scale ``input_scale · weight_scale[c]`` (products exact in float64)."""
    prod = float(np.float32(input_scale)) * np.broadcast_to(np.asarray(w_scales, np.float64), (b.numel(),))
    s = torch.as_tensor(prod, dtype=b.dtype, device=b.device).reshape(b.shape)
    with torch.no_grad():
        r = round_half_away(b / s)
        inside = r.abs() <= INT32_MAX
        y = r.clamp(-INT32_MAX, INT32_MAX) * s
    return _ste(b, y, inside)


def runner_up_floor(outputs) -> float:
    """The lowest second-largest value over a batch of class scores [N, ...] (0 if that is higher).

    Clipping class scores below it never changes a sample's arg-max, so an int8 output read by
    arg-max needs no range below it: e.g. a deep float model whose logits span -1000..200 puts
    its int8 step at 4.8, coarser than many samples' top-two margin (ties, which the lower class
    index wins), while its runner-up logits may all lie above 0.
    """
    v = outputs.detach().cpu().numpy() if isinstance(outputs, torch.Tensor) else np.asarray(outputs)
    v = v.reshape(len(v), -1).astype(np.float64)
    if v.shape[1] < 2:
        return float(min(v.min(), 0.0))
    return float(min(np.sort(v, axis=1)[:, -2].min(), 0.0))


def picoml_run(g: Graph, inputs: list[np.ndarray]) -> np.ndarray:
    """The float graph's first output on the calibration inputs (picoml's reference interpreter)."""

    out = run(g, inputs[0] if len(inputs) == 1 else inputs)
    return out[0] if isinstance(out, list) else out


# ======================================================================= the executor
def _same_pads(size: int, k: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """(before, after) padding of one spatial axis; TFLite SAME puts the odd pixel at the end."""
    if padding != "SAME":
        return 0, 0
    out = out_size(size, k, stride, dilation, padding)
    eff = (k - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    before = same_padding(size, k, stride, dilation, out)
    return before, total - before


def _nchw(x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """(N,)+(B,H,W,C) values -> (N·B, C, H, W), and the leading dims to restore."""
    lead = tuple(x.shape[:2])
    return x.reshape((-1,) + tuple(x.shape[2:])).permute(0, 3, 1, 2), lead


def _nhwc(y: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
    y = y.permute(0, 2, 3, 1)
    return y.reshape(lead + tuple(y.shape[1:]))


def _clamp_act(y: torch.Tensor, act: str) -> torch.Tensor:
    if act == Activation.RELU:
        return torch.relu(y)
    if act == Activation.RELU6:
        return y.clamp(0.0, 6.0)
    if act == Activation.RELU_N1_TO_1:
        return y.clamp(-1.0, 1.0)
    return y


def _align(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Equal ranks by unit axes after the batch axis: TFLite's trailing-aligned broadcasting."""
    r = max(a.dim(), b.dim())
    a = a.reshape(tuple(a.shape[:1]) + (1,) * (r - a.dim()) + tuple(a.shape[1:]))
    b = b.reshape(tuple(b.shape[:1]) + (1,) * (r - b.dim()) + tuple(b.shape[1:]))
    return a, b


def _pool_windows(x: torch.Tensor, op: Op, fill: float) -> tuple[torch.Tensor, dict]:
    a = op.attrs
    h, w = x.shape[2], x.shape[3]
    ph = _same_pads(h, a["filter_h"], a["stride_h"], 1, a["padding"])
    pw = _same_pads(w, a["filter_w"], a["stride_w"], 1, a["padding"])
    xp = F.pad(x, (pw[0], pw[1], ph[0], ph[1]), value=fill)
    return xp, dict(kernel_size=(a["filter_h"], a["filter_w"]), stride=(a["stride_h"], a["stride_w"]))


# ======================================================================= float ops
# Each takes (model, op, input 0's value, values, plan) and returns the op's float output from
# (fake-quantized) inputs; the layers with weights get theirs from model._layer_params.
def _float_conv(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    a = op.attrs
    w, b = m._layer_params(op, plan)
    xc, lead = _nchw(x)
    kh, kw_ = (w.shape[1], w.shape[2])
    ph = _same_pads(xc.shape[2], kh, a["stride_h"], a["dilation_h"], a["padding"])
    pw = _same_pads(xc.shape[3], kw_, a["stride_w"], a["dilation_w"], a["padding"])
    xc = F.pad(xc, (pw[0], pw[1], ph[0], ph[1]))
    if op.type == OpType.CONV_2D:
        wk, groups = w.permute(0, 3, 1, 2), xc.shape[1] // w.shape[3]
    else:  # 1HWO -> (O, 1, H, W); output channel o reads input channel o // depth_multiplier
        wk, groups = w[0].permute(2, 0, 1)[:, None], xc.shape[1]
    y = F.conv2d(
        xc,
        wk,
        b,
        stride=(a["stride_h"], a["stride_w"]),
        dilation=(a["dilation_h"], a["dilation_w"]),
        groups=groups,
    )
    return _nhwc(y, lead)  # the fused activation is applied by _run_op


def _float_fc(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    w, b = m._layer_params(op, plan)
    y = x.reshape(-1, w.shape[1]) @ w.T
    if b is not None:
        y = y + b
    return y.reshape((x.shape[0],) + tuple(op.outputs[0].shape))


def _float_pool(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    xc, lead = _nchw(x)
    if op.type == OpType.MAX_POOL_2D:
        xp, kw = _pool_windows(xc, op, float("-inf"))
        y = F.max_pool2d(xp, **kw)
    else:
        xp, kw = _pool_windows(xc, op, 0.0)
        ones, _ = _pool_windows(torch.ones_like(xc[:1, :1]), op, 0.0)
        y = F.avg_pool2d(xp, divisor_override=1, **kw) / F.avg_pool2d(ones, divisor_override=1, **kw)
    return _clamp_act(_nhwc(y, lead), op.attrs.get("fused_activation", Activation.NONE))


def _float_add_mul(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    b = m._value(op.inputs[1], values, plan, like=x)
    x, b = _align(x, b)
    return _clamp_act(x + b if op.type == OpType.ADD else x * b, op.attrs.get("fused_activation", Activation.NONE))


_BINARY_FLOAT = {
    OpType.SUB: torch.sub,
    OpType.DIV: torch.div,
    OpType.MAXIMUM: torch.maximum,
    OpType.MINIMUM: torch.minimum,
    OpType.SQUARED_DIFFERENCE: lambda a, b: (a - b) * (a - b),
}


def _float_binary(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    b = m._value(op.inputs[1], values, plan, like=x)
    x, b = _align(x, b)
    return _clamp_act(_BINARY_FLOAT[op.type](x, b), op.attrs.get("fused_activation", Activation.NONE))


def _float_prelu(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    a = m._value(op.inputs[1], values, plan, like=x)
    x, a = _align(x, a)
    return torch.where(x >= 0, x, x * a)


def _float_reshape(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    return x.reshape((x.shape[0],) + tuple(op.outputs[0].shape))


def _float_softmax(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    return torch.softmax(x * float(np.float32(op.attrs["beta"])), dim=-1)


def _float_pad(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    pads = np.asarray(op.inputs[1].data).reshape(-1, 2)
    flat = [int(v) for lo_hi in pads[::-1] for v in lo_hi]
    return F.pad(x, tuple(flat))


def _float_mean(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    axes = [ax + 1 for ax in reduce_axes(op)]
    y = x.mean(dim=axes, keepdim=bool(op.attrs["keep_dims"])) if axes else x
    return y.reshape((x.shape[0],) + tuple(op.outputs[0].shape))


def _float_concat(m: QATModel, op: Op, x: torch.Tensor, values, plan) -> torch.Tensor:
    parts = [m._value(i, values, plan, like=x) for i in op.inputs]
    n = max(p.shape[0] for p in parts)
    parts = [p.expand((n,) + tuple(p.shape[1:])) for p in parts]
    return _clamp_act(torch.cat(parts, dim=concat_axis(op) + 1), op.attrs.get("fused_activation", Activation.NONE))


#: op -> its float computation in QAT (QUANTIZE / DEQUANTIZE: QAT trains float graphs, see QATModel)
FLOAT_OPS: dict[OpType, Callable[..., torch.Tensor]] = {
    OpType.CONV_2D: _float_conv,
    OpType.DEPTHWISE_CONV_2D: _float_conv,
    OpType.FULLY_CONNECTED: _float_fc,
    OpType.AVERAGE_POOL_2D: _float_pool,
    OpType.MAX_POOL_2D: _float_pool,
    OpType.ADD: _float_add_mul,
    OpType.MUL: _float_add_mul,
    OpType.RESHAPE: _float_reshape,
    OpType.SOFTMAX: _float_softmax,
    OpType.LOGISTIC: lambda m, op, x, values, plan: torch.sigmoid(x),
    OpType.TANH: lambda m, op, x, values, plan: torch.tanh(x),
    OpType.RELU: lambda m, op, x, values, plan: torch.relu(x),
    OpType.RELU6: lambda m, op, x, values, plan: x.clamp(0.0, 6.0),
    OpType.LEAKY_RELU: lambda m, op, x, values, plan: F.leaky_relu(x, float(np.float32(op.attrs["alpha"]))),
    OpType.PAD: _float_pad,
    OpType.MEAN: _float_mean,
    OpType.CONCATENATION: _float_concat,
    OpType.HARD_SWISH: lambda m, op, x, values, plan: F.hardswish(x),
    OpType.PRELU: _float_prelu,
    OpType.ELU: lambda m, op, x, values, plan: F.elu(x),
    OpType.ABS: lambda m, op, x, values, plan: torch.abs(x),
    OpType.RSQRT: lambda m, op, x, values, plan: torch.rsqrt(x),
    OpType.EXP: lambda m, op, x, values, plan: torch.exp(x),
    OpType.SQRT: lambda m, op, x, values, plan: torch.sqrt(x),
    **MOVEMENT_FLOAT_OPS,
    **{op: _float_binary for op in _BINARY_FLOAT},
}
FLOAT_OPS.update(RESIZE_FLOAT_OPS)
FLOAT_OPS.update(REDUCE_FLOAT_OPS)
FLOAT_OPS.update(EXTRA_FLOAT_OPS)


class QATModel(torch.nn.Module):
    """A float Graph as a trainable PyTorch module with int8 fake quantization (see the module doc).

    ``graph``: a float Graph (BatchNorm folded, as the front-ends emit it); it is prepared as
    ``picoml.quantize`` prepares it (RELU fusion, hybrid weights to float) and not modified.
    ``calibration_data``: sample inputs in graph layout for the initial ranges (``method``,
    ``percentile``) and for ``to_int8``. ``ema_decay``: weight of the old range in each update.
    ``freeze_ranges_after``: training steps after which ranges stop moving (None: never).
    ``learn_ranges``: ranges are trained by gradient descent instead of following the EMA (see
    ``range_scales``). ``argmax_output``: the output is read by arg-max (class scores), so its
    range only has to cover each sample's top two values: its lo starts at (and the EMA follows)
    the lowest runner-up value instead of the lowest value (see ``runner_up_floor``).
    ``per_channel_fc``: as in ``picoml.quantize``.
    """

    def __init__(
        self,
        graph: Graph,
        calibration_data: np.ndarray | Sequence[np.ndarray],
        *,
        method: str = "minmax",
        ema_decay: float = 0.99,
        percentile: float = 99.99,
        freeze_ranges_after: int | None = None,
        per_channel_fc: bool = True,
        batch_size: int = 256,
        learn_ranges: bool = False,
        argmax_output: bool = False,
    ) -> None:
        super().__init__()
        if not 0.0 <= ema_decay < 1.0:
            raise InputError(f"ema_decay must be in [0, 1), is {ema_decay}")
        g = prepare_float_graph(graph)
        for op in g.ops:
            if op.type in (OpType.QUANTIZE, OpType.DEQUANTIZE):
                raise UnsupportedError(f"QAT: {op.label} is not supported in a float graph")
        self.graph = g
        self.calibration = calibration_inputs(g, calibration_data)
        self.names = activation_names(g)
        init = calibrate(g, self.calibration, self.names, method=method, percentile=percentile, batch_size=batch_size)
        self._slot = {n: i for i, n in enumerate(self.names)}
        self.argmax_output = bool(argmax_output)
        if self.argmax_output:
            prod = g.producers().get(id(g.outputs[0]))
            if len(g.outputs) != 1 or (prod is not None and OP_SET[prod.type].fixed_qparams is not None):
                raise InputError("QAT argmax_output: needs one output whose int8 parameters are not fixed")
            out = g.outputs[0].name
            init[out] = (runner_up_floor(picoml_run(g, self.calibration)), init[out][1])
        self.lo = np.array([init[n][0] for n in self.names], np.float64)
        self.hi = np.array([init[n][1] for n in self.names], np.float64)
        self.ema_decay = float(ema_decay)
        self.freeze_ranges_after = freeze_ranges_after
        self.per_channel_fc = per_channel_fc
        self.learn_ranges = bool(learn_ranges)
        self.fake_quant = True
        self.steps = 0
        # learned ranges: one (log lo-factor, log hi-factor) per group of tensors that share int8
        # parameters (Int8Output.SHARED ops), so a group's range moves as one
        self._group = self._range_groups(g)
        self._fixed = {
            op.outputs[0].name
            for op in g.ops
            if OP_SET[op.type].fixed_qparams is not None and op.outputs[0].name in self._slot
        }
        self.range_scales = (
            torch.nn.Parameter(
                torch.zeros(int(self._group.max()) + 1 if len(self.names) else 0, 2, dtype=torch.float64)
            )
            if self.learn_ranges
            else None
        )
        self._plan_cache: tuple[bytes, ActivationPlan] | None = None
        self._step_scales: dict[int, np.ndarray] = {}  # weight scales of the current forward, by id(op)
        self.register_buffer("_probe", torch.zeros(()), persistent=False)  # follows .double() / .to()
        # trainable weights and biases; other float constants (e.g. an ADD operand) stay fixed
        self.weights = torch.nn.ParameterList()
        self.constants = torch.nn.ParameterList()
        self._param: dict[str, tuple[str, int]] = {}
        for op in g.ops:
            trainable = set()
            wts = OP_SET[op.type].weights
            if wts is not None:
                trainable = {wts.input, wts.bias}
            for i, t in enumerate(op.inputs):
                if t is None or not t.is_const or t.dtype != "float32" or t.name in self._param:
                    continue
                p = torch.nn.Parameter(torch.from_numpy(np.array(t.data, np.float32)), requires_grad=i in trainable)
                kind = "weights" if i in trainable else "constants"
                getattr(self, kind).append(p)
                self._param[t.name] = (kind, len(getattr(self, kind)) - 1)

    # ------------------------------------------------------------------ ranges and parameters
    @property
    def softmax_beta(self) -> float:
        """beta of the SOFTMAX producing the (first) output, 1.0 if there is none."""
        prod = self.graph.producers().get(id(self.graph.outputs[0]))
        return float(np.float32(prod.attrs["beta"])) if prod is not None and prod.type == OpType.SOFTMAX else 1.0

    def _range_groups(self, g: Graph) -> np.ndarray:
        """Group index of every activation: tensors joined by an Int8Output.SHARED op share one group."""
        parent = list(range(len(self.names)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for op in g.ops:
            for out in op.outputs:
                if (
                    OP_SET[op.type].int8_output == Int8Output.SHARED
                    and op.inputs[0].name in self._slot
                    and out.name in self._slot
                ):
                    a, b = find(self._slot[op.inputs[0].name]), find(self._slot[out.name])
                    parent[max(a, b)] = min(a, b)
        roots = [find(i) for i in range(len(self.names))]
        index = {r: k for k, r in enumerate(dict.fromkeys(roots))}
        return np.array([index[r] for r in roots], np.int64)

    def _factors(self) -> np.ndarray:
        """(groups, 2) multipliers of each group's (lo, hi): exp of the learned log-factors, else 1."""
        if self.range_scales is None:
            return np.ones((int(self._group.max()) + 1 if len(self.names) else 0, 2))
        return np.exp(self.range_scales.detach().cpu().numpy().astype(np.float64))

    def _effective(self) -> tuple[np.ndarray, np.ndarray]:
        f = self._factors()
        return self.lo * f[self._group, 0], self.hi * f[self._group, 1]

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Current (lo, hi) of every activation, by tensor name (what ``to_int8`` quantizes with).

        With ``learn_ranges``, each is the calibrated (or EMA) range with lo and hi multiplied by
        the exponential of their group's learned log-factors."""
        lo, hi = self._effective()
        return {n: (float(lo[i]), float(hi[i])) for i, n in enumerate(self.names)}

    def plan(self) -> ActivationPlan:
        """int8 parameters of every activation for the current ranges (cached while they are unchanged)."""
        lo, hi = self._effective()
        key = lo.tobytes() + hi.tobytes()
        if self._plan_cache is None or self._plan_cache[0] != key:
            self._plan_cache = (key, plan_activations(self.graph, self.ranges()))
        return self._plan_cache[1]

    def get_extra_state(self) -> dict:
        return {"lo": self.lo.copy(), "hi": self.hi.copy(), "steps": self.steps}

    def set_extra_state(self, state: dict) -> None:
        self.lo, self.hi, self.steps = np.array(state["lo"]), np.array(state["hi"]), int(state["steps"])

    def _const(self, t: Tensor, like: torch.Tensor) -> torch.Tensor:
        if t.name in self._param:
            kind, i = self._param[t.name]
            return getattr(self, kind)[i][None]
        return torch.as_tensor(np.asarray(t.data), device=like.device)[None]

    # ------------------------------------------------------------------ forward
    def _inputs(self, x) -> tuple[list[torch.Tensor], bool]:
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        if len(xs) != len(self.graph.inputs):
            raise InputError(f"QAT: the model has {len(self.graph.inputs)} inputs, got {len(xs)}")
        dtype = self._probe.dtype
        out, squeezed = [], False
        for t, v in zip(self.graph.inputs, xs, strict=True):
            v = torch.as_tensor(v)
            v = v.to(dtype=dtype, device=self._probe.device)
            s = tuple(t.shape)
            if tuple(v.shape[1:]) == s:
                out.append(v)
            elif s and s[0] == 1 and tuple(v.shape[1:]) == s[1:]:
                out.append(v.reshape((v.shape[0],) + s))
                squeezed = True
            else:
                raise InputError(f"QAT input {t.name!r}: shape {list(v.shape)} is not a batch of the model's {list(s)}")
        return out, squeezed

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor], *, logits: bool = False):
        """Run the graph on a batch ``x`` (graph layout: [N, ...] of the input shape, or without its
        leading 1). Returns the fake-quantized output(s) (float with ``fake_quant = False``); with
        ``logits``, the (fake-quantized) input of a SOFTMAX that produces an output, instead."""
        g = self.graph
        xs, squeezed = self._inputs(x)
        plan = self.plan() if self.fake_quant else None
        observe = (
            self.training
            and self.fake_quant
            and not self.learn_ranges
            and (self.freeze_ranges_after is None or self.steps < self.freeze_ranges_after)
        )
        seen: dict[str, tuple[float, float]] = {}
        values: dict[int, torch.Tensor] = {}
        for t, v in zip(g.inputs, xs, strict=True):
            if observe:
                seen[t.name] = (float(v.detach().min()), float(v.detach().max()))
            values[id(t)] = v if plan is None else self._quantize_input(t, v, plan) + self._range_term(t.name, v, plan)
        out_ids = {id(t) for t in g.outputs}
        stop: dict[int, torch.Tensor] = {}
        self._step_scales: dict[int, np.ndarray] = {}
        for k, op in enumerate(g.ops):
            if logits and op.type == OpType.SOFTMAX and id(op.outputs[0]) in out_ids:
                stop[id(op.outputs[0])] = values[id(op.inputs[0])]
            y, pre = self._run_op(op, values, plan)
            several = len(op.outputs) > 1  # SPLIT, SPLIT_V, UNPACK: a list of values, one per output
            qs = None if plan is None else self._int8_output(k, op, values, pre, plan)
            for j, out in enumerate(op.outputs):
                yj = y[j] if several else y
                if observe:
                    big = yj.detach()
                    lo = runner_up_floor(big) if self.argmax_output and id(out) in out_ids else big.min()
                    seen[out.name] = (float(lo), float(big.max()))
                if plan is not None:
                    q = qs[j] if several else qs
                    s, z = plan.params[out.name]
                    yq = (torch.from_numpy(q.astype(np.float64)).to(yj.dtype) - int(z)) * float(s)
                    with torch.no_grad():
                        r = yj / float(s) + int(z)
                        inside = (r >= -128.5) & (r <= 127.5)
                    yj = _ste(yj, yq.reshape(yj.shape), inside) + self._range_term(out.name, yj, plan)
                values[id(out)] = yj
        if observe:
            self._update_ranges(seen)
        if self.training:
            self.steps += 1
        outs = []
        for t in g.outputs:
            v = stop.get(id(t), values[id(t)])
            if squeezed and t.shape and t.shape[0] == 1:
                v = v.reshape((v.shape[0],) + tuple(v.shape[2:]))
            outs.append(v)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _quantize_input(self, t: Tensor, v: torch.Tensor, plan: ActivationPlan) -> torch.Tensor:
        """A graph input as ``quantize_input`` converts it (TFLite QUANTIZE: float32 division)."""
        s, z = plan.params[t.name]
        with torch.no_grad():
            r = round_half_away(v.to(torch.float32) / torch.tensor(s, dtype=torch.float32)).to(v.dtype) + int(z)
            inside = (r >= -128) & (r <= 127)
            y = (r.clamp(-128, 127) - int(z)) * float(s)
        return _ste(v, y, inside)

    def _range_term(self, name: str, x: torch.Tensor, plan: ActivationPlan) -> torch.Tensor | float:
        """Zero in value; in the backward pass, the gradient of the fake-quantized ``x`` with respect
        to its group's learned range factors (LSQ, Esser et al. 2020, in (lo, hi) form).

        With s = (hi - lo) / 255 and u = x / s + zp: inside the int8 range the fake-quantized value
        lo + s·round(u - qmin) has d/dhi = (round(u) - u) / 255 and d/dlo = -(round(u) - u) / 255
        (rounding passed straight through); clamped above it is hi (d/dhi = 1), below it lo
        (d/dlo = 1). A side gets no gradient when the int8 parameters do not follow it: a range
        side at 0, a fixed output (SOFTMAX, ...), or one set by a fused-activation clamp, a wider
        CONCATENATION partner or the ADD scale constraint.
        """
        if self.range_scales is None or not torch.is_grad_enabled() or name in self._fixed:
            return 0.0
        i = self._slot[name]
        k = int(self._group[i])
        members = self._group == k
        f = self._factors()[k]
        raw = (float(self.lo[members].min()) * f[0], float(self.hi[members].max()) * f[1])
        plo, phi = plan.ranges[name]
        free = [raw[j] != 0.0 and abs(p - raw[j]) <= 1e-6 * abs(raw[j]) for j, p in enumerate((plo, phi))]
        if not any(free):
            return 0.0
        s, z = plan.params[name]
        with torch.no_grad():
            u = x.detach() / float(s) + int(z)
            d = (round_half_away(u) - u) / 255.0
            above, below = u > 127.5, u < -128.5
            inside = ~(above | below)
            zero = torch.zeros_like(u)
            a_lo = torch.where(below, torch.ones_like(u), torch.where(inside, -d, zero))
            a_hi = torch.where(above, torch.ones_like(u), torch.where(inside, d, zero))
        side = torch.exp(self.range_scales[k]).to(x.dtype) * torch.tensor(
            [raw[0] / f[0], raw[1] / f[1]], dtype=x.dtype, device=x.device
        )  # (group lo, group hi) as functions of the log-factors
        term = (a_lo * side[0] if free[0] else 0.0) + (a_hi * side[1] if free[1] else 0.0)
        return term - term.detach()  # elementwise: d loss / d side = sum of d loss / d x_q · a

    def _update_ranges(self, seen: dict[str, tuple[float, float]]) -> None:
        d = self.ema_decay
        for name, (lo, hi) in seen.items():
            i = self._slot[name]
            self.lo[i] = d * self.lo[i] + (1.0 - d) * lo
            self.hi[i] = d * self.hi[i] + (1.0 - d) * hi

    # ------------------------------------------------------------------ int8 arithmetic of the forward
    @staticmethod
    def _ints(v: torch.Tensor, s: float, z: int) -> np.ndarray:
        """The int8 values of a fake-quantized tensor (exact: v is s · (q - zp) up to float rounding)."""
        return quantize_array(v.detach().cpu().numpy(), float(s), int(z), precision=np.float64)

    def _int8_output(self, k: int, op: Op, values, pre: torch.Tensor | None, plan: ActivationPlan) -> np.ndarray:
        """The int8 output of op ``k`` on the int8 values of its (fake-quantized) inputs.

        Layers with weights: the exact integer accumulator is recovered from the float sum of
        fake-quantized terms (every term is a multiple of ``s_in · s_w[c]``) and requantized with
        picoml's reference ``requantize_output`` (TFLite's double rounding: a single rounding of
        ``acc · s_in · s_w / s_out`` differs on about one value in 2^(1 - shift)). Other ops: the
        reference kernel itself, on the integers. Both are elementwise or cheap next to the float
        convolutions, and make the forward the int8 graph's own arithmetic.
        """
        out = op.outputs[0]
        so, zo = plan.params[out.name]
        oshell = Tensor(out.name, out.shape, "int8", np.array([so]), np.array([zo]))
        oshells = [oshell] + [
            Tensor(t.name, t.shape, "int8", np.array([plan.params[t.name][0]]), np.array([plan.params[t.name][1]]))
            for t in op.outputs[1:]
        ]
        if OP_SET[op.type].weights is not None:
            s_in = float(plan.params[op.inputs[0].name][0])
            ws = self._step_scales[id(op)]
            c = out.shape[-1]
            acc_scale = s_in * np.broadcast_to(np.asarray(ws, np.float64), (c,))
            a = pre.detach().cpu().numpy().astype(np.float64) / acc_scale
            acc = round_half_away(a)
            wshell = Tensor("w", (np.size(ws),), "int8", np.asarray(ws), np.zeros(np.size(ws), np.int64))
            mult, shift = channel_multipliers(s_in, wshell, float(so), c)
            lo, hi = activation_range_int8(op.attrs["fused_activation"], oshell)
            return requantize_output(acc, _Requant(mult, shift, int(zo), lo, hi))
        requant = {i for kk, i in plan.requantize if kk == k}
        shells, ins = [], []
        for i, t in enumerate(op.inputs):
            if t is None:
                continue
            if i in OP_SET[op.type].shape_inputs or i in OP_SET[op.type].index_inputs:
                shells.append(t)
                ins.append(t.data[None])
                continue
            s, z = plan.params[t.name]
            q = self._ints(self._value(t, values, plan), float(s), int(z))
            shell = Tensor(t.name, t.shape, "int8", np.array([s]), np.array([z]))
            if i in requant:  # the int8 graph's QUANTIZE into the output's parameters
                rq = KERNELS[OpType.QUANTIZE]
                q = rq.evaluate(rq.prepare(Op(OpType.QUANTIZE, [shell], [oshell], {})), [q])
                shell = oshell
            shells.append(shell)
            ins.append(q)
        kern = KERNELS[op.type]
        return kern.evaluate(kern.prepare(Op(op.type, shells, oshells, dict(op.attrs), name=op.name)), ins)

    def _layer_params(self, op: Op, plan: ActivationPlan | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        wts = OP_SET[op.type].weights
        wi, axis, bi = wts.input, wts.axis, wts.bias
        wt = op.inputs[wi]
        bt = op.inputs[bi] if len(op.inputs) > bi else None
        w = self._const(wt, torch.zeros(0))[0]
        b = self._const(bt, w)[0] if bt is not None else None
        if plan is None:
            return w, b
        s_in = plan.params[op.inputs[0].name][0]
        ax = None if (op.type == OpType.FULLY_CONNECTED and not self.per_channel_fc) else axis
        bias_np = None if b is None else b.detach().cpu().numpy().astype(np.float32)
        ws = weight_scales(w.detach().cpu().numpy().astype(np.float32), ax, bias_np, s_in)
        self._step_scales[id(op)] = ws
        w = fake_quant_weights(w, ws, ax)
        if b is not None:
            b = fake_quant_bias(b, s_in, ws)
        return w, b

    def _value(self, t: Tensor, values: dict[int, torch.Tensor], plan: ActivationPlan | None, like=None):
        if t.is_const:
            c = self._const(t, like if like is not None else torch.zeros(0))
            if plan is not None and c.is_floating_point():
                s, z = plan.params[t.name]
                c = fake_quant(c, float(s), int(z))
            return c
        return values[id(t)]

    def _run_op(self, op: Op, values: dict[int, torch.Tensor], plan: ActivationPlan | None):
        """(output, pre-activation output of a layer with weights or None), in float from fake-quantized inputs."""
        y = self._float_op(op, values, plan)
        if OP_SET[op.type].weights is not None:
            return _clamp_act(y, op.attrs["fused_activation"]), y
        return y, None

    def _float_op(self, op: Op, values: dict[int, torch.Tensor], plan: ActivationPlan | None) -> torch.Tensor:
        x = self._value(op.inputs[0], values, plan)
        fn = FLOAT_OPS.get(op.type)
        if fn is None:
            raise UnsupportedError(f"QAT: {op.label} is not supported")
        return fn(self, op, x, values, plan)

    # ------------------------------------------------------------------ export
    def to_graph(self) -> Graph:
        """The float graph with the trained weights (float32)."""
        g = self.graph.copy()
        for name, (kind, i) in self._param.items():
            t = g.tensor(name)
            t.data = getattr(self, kind)[i].detach().cpu().numpy().astype(np.float32).reshape(t.shape)
        return g

    def to_int8(self) -> Graph:
        """``picoml.quantize`` of ``to_graph()`` with the trained ranges (no recalibration)."""
        return quantize(self.to_graph(), self.calibration, ranges=self.ranges(), per_channel_fc=self.per_channel_fc)


# ======================================================================= fine-tuning
SCHEDULES = ("constant", "cosine")


def _loss(model: QATModel, out: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    n = out.shape[0]
    if loss == "mse":
        return F.mse_loss(out.reshape(n, -1), y.reshape(n, -1))
    return F.cross_entropy(out.reshape(n, -1) * model.softmax_beta, y)


def _distill_loss(model: QATModel, out: torch.Tensor, teacher: torch.Tensor, loss: str) -> torch.Tensor:
    """How far the fake-quantized output is from the float graph's: KL(float ‖ int8) of the softmax
    distributions for cross entropy (Hinton et al. 2015 at temperature 1), MSE for "mse"."""
    n = out.shape[0]
    if loss == "mse":
        return F.mse_loss(out.reshape(n, -1), teacher.reshape(n, -1))
    b = model.softmax_beta
    return F.kl_div(
        F.log_softmax(out.reshape(n, -1) * b, dim=-1),
        F.log_softmax(teacher.reshape(n, -1) * b, dim=-1),
        log_target=True,
        reduction="batchmean",
    )


def qat_finetune(
    graph: Graph,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    calibration_data: np.ndarray,
    epochs: int = 10,
    lr: float = 1e-3,
    loss: str = "cross_entropy",
    batch_size: int = 64,
    seed: int = 0,
    method: str = "minmax",
    ema_decay: float = 0.99,
    freeze_ranges_after: int | None = None,
    schedule: str = "constant",
    distill: float = 0.0,
    learn_ranges: bool = False,
    range_lr: float | None = None,
    argmax_output: bool = False,
) -> Graph:
    """Fine-tune a float graph with int8 fake quantization (Adam) and return its int8 Graph.

    ``x_train``: inputs in graph layout [N, ...]. ``y_train``: class indices [N] (or class
    probabilities [N, C]) for ``loss="cross_entropy"``, targets of the output's shape for "mse".
    With cross entropy and an output produced by SOFTMAX, the loss is computed on that SOFTMAX's
    fake-quantized input times its beta (``log_softmax`` inside ``F.cross_entropy``): the same
    function in float, without the vanishing gradients of the 1/256-step int8 probabilities.

    ``schedule``: the learning rate stays ``lr`` ("constant") or decays to 0 over the run along a
    half cosine ("cosine"). ``distill`` in [0, 1]: the loss is ``(1 - distill) · loss(labels) +
    distill · loss(float graph)``, the second term comparing the fake-quantized output with the
    float graph's own output on the same batch (computed once, before training): KL divergence of
    the softmax distributions for cross entropy, MSE for "mse". With ``distill=1`` the labels are
    not used: QAT then trains the int8 model to reproduce the float model, not to fit the data
    further. ``learn_ranges``: activation ranges start from calibration and are trained with the
    weights (``QATModel(learn_ranges=True)``; learning rate ``range_lr``, default ``lr``) instead
    of following the EMA. ``argmax_output`` (cross entropy on an output not produced by SOFTMAX,
    i.e. class scores read by arg-max): the output range need only cover each sample's top two
    scores (``QATModel(argmax_output=True)``). Seeded: the same arguments give the same graph.
    """
    if loss not in LOSSES:
        raise InputError(f"qat_finetune: loss {loss!r} is not one of {', '.join(LOSSES)}")
    if schedule not in SCHEDULES:
        raise InputError(f"qat_finetune: schedule {schedule!r} is not one of {', '.join(SCHEDULES)}")
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise InputError(f"qat_finetune: need epochs >= 0, batch_size >= 1, lr > 0 (got {epochs}, {batch_size}, {lr})")
    if not 0.0 <= distill <= 1.0:
        raise InputError(f"qat_finetune: distill must be in [0, 1], is {distill}")
    if range_lr is not None and not range_lr > 0:
        raise InputError(f"qat_finetune: range_lr must be > 0, is {range_lr}")
    if argmax_output and loss != "cross_entropy":
        raise InputError("qat_finetune: argmax_output is for classifiers (loss='cross_entropy')")
    torch.manual_seed(seed)
    model = QATModel(
        graph,
        calibration_data,
        method=method,
        ema_decay=ema_decay,
        freeze_ranges_after=freeze_ranges_after,
        learn_ranges=learn_ranges,
        argmax_output=argmax_output,
    )
    if len(model.graph.inputs) != 1:
        raise UnsupportedError("qat_finetune trains one-input graphs; use QATModel for several inputs")
    x = calibration_inputs(model.graph, x_train)[0]
    y = _targets(model, y_train, len(x), loss)
    xt = torch.from_numpy(x)
    logits = loss == "cross_entropy"
    teacher = _float_outputs(model, xt, logits) if distill > 0 else None
    groups = [{"params": [p for p in model.weights.parameters() if p.requires_grad], "lr": lr}]
    if model.range_scales is not None:
        groups.append({"params": [model.range_scales], "lr": range_lr if range_lr is not None else lr})

    def batch_loss(xb: torch.Tensor, yb: torch.Tensor, *tb: torch.Tensor) -> torch.Tensor:
        out = model(xb, logits=logits)
        value = _loss(model, out, yb, loss) if distill < 1 else out.new_zeros(())
        if tb:
            value = (1.0 - distill) * value + distill * _distill_loss(model, out, tb[0], loss)
        return value

    data = (xt, y) if teacher is None else (xt, y, teacher)
    kw = {"params": groups, "lr_schedule": schedule, "seed": seed}
    train_loop(model, data, batch_loss, epochs=epochs, lr=lr, batch_size=batch_size, **kw)
    return model.to_int8()


def _float_outputs(model: QATModel, x: torch.Tensor, logits: bool, batch_size: int = 512) -> torch.Tensor:
    """The float graph's outputs (``logits``: a final SOFTMAX's input) on ``x``, by the same executor."""
    fake_quant, training = model.fake_quant, model.training
    model.fake_quant = False
    model.eval()  # no step counted
    try:
        with torch.no_grad():
            return torch.cat([model(x[i : i + batch_size], logits=logits) for i in range(0, len(x), batch_size)])
    finally:
        model.fake_quant = fake_quant
        model.train(training)


def _targets(model: QATModel, y_train, n: int, loss: str) -> torch.Tensor:
    y = np.asarray(y_train)
    if len(y) != n:
        raise InputError(f"qat_finetune: {len(y)} targets for {n} inputs")
    if len(model.graph.outputs) != 1:
        raise UnsupportedError("qat_finetune trains one-output graphs; use QATModel for several outputs")
    out = model.graph.outputs[0]
    width = out.size // (out.shape[0] if out.shape and len(out.shape) > 1 else 1)
    if loss == "mse":
        if y.size != n * out.size:
            raise InputError(
                f"qat_finetune: mse targets have {y.size // max(n, 1)} values per input, output has {out.size}"
            )
        return torch.from_numpy(y.astype(np.float32).reshape(n, -1))
    if y.ndim == 1:
        if y.dtype.kind not in "iu" or (y < 0).any() or (y >= width).any():
            raise InputError(
                f"qat_finetune: class labels must be integers in [0, {width}), got {y.dtype} {y.min()}..{y.max()}"
            )
        return torch.from_numpy(y.astype(np.int64))
    if y.reshape(n, -1).shape[1] != width:
        raise InputError(
            f"qat_finetune: target probabilities have {y.reshape(n, -1).shape[1]} classes, output has {width}"
        )
    return torch.from_numpy(y.astype(np.float32).reshape(n, -1))
