"""Post-training full-int8 quantization: float Graph + calibration data -> int8 Graph.

The scheme is the TFLite int8 quantization spec
(https://ai.google.dev/edge/litert/models/quantization_spec), real = scale · (q - zero_point):

- weights: int8 symmetric (zero point 0) in [-127, 127], one scale per output channel:
  axis 0 of CONV_2D's and TRANSPOSE_CONV's OHWI and FULLY_CONNECTED's [out, in], axis 3 of DEPTHWISE_CONV_2D's
  1HWO (picoml's reference and tflite-micro both run per-channel FULLY_CONNECTED; checked by
  tests/quantize/test_ptq.py). ``scale[c] = max|w[c]| / 127``; ``q = round(w / scale)``
  (tools/optimize/quantization_utils.cc SymmetricPerChannelQuantization);
- bias: int32, zero point 0, ``scale[c] = input_scale · weight_scale[c]`` (the kernels'
  accumulator scale), ``q = round(b / scale)``;
- activations: int8 asymmetric per tensor. The range is widened to include 0, ``scale =
  (max - min) / 255`` and the zero point ``-128 - min / scale`` is rounded to an integer, so
  0.0 is exactly ``zero_point`` (GetAsymmetricQuantizationParams, float32 arithmetic);
- fixed outputs: SOFTMAX and LOGISTIC 1/256 and -128, TANH 1/128 and 0 (the int8 kernels
  compute in those units);
- shared parameters: ops whose int8 kernels move values without rescaling (MAX_POOL_2D,
  AVERAGE_POOL_2D, RESHAPE, PAD, CONCATENATION; RELU6, which TFLM clamps in the input's
  units) get one (scale, zero point) for their inputs and output, from the union of their
  ranges;
- a fused activation clamps its layer's output range (RELU: [0, ·], RELU6: [0, 6]).

Rounding is half away from zero throughout (TfLiteRound / std::round); rounding divides in
float64 where TFLite multiplies by a float32 reciprocal, which differs only on exact ties.

Rounding-safety choices beyond the spec (each keeps a case TFLite leaves undefined working):
an all-zero weight channel takes the largest scale of its layer (TFLite writes scale 0, which
the int8 kernels cannot use); a weight scale is raised so the quantized bias stays within
``BIAS_LIMIT`` (TFLite's AdjustWeightsForBiasScale keeps it within int32; picoml's C
kernels prove their accumulators below 2^29, so picoml keeps bias + taps well inside); an
activation that is exactly 0 on every calibration input gets scale 1 and zero point -128
(MLIR's FakeQuantSupport degenerate case); an ADD whose output scale is too small for its
inputs' (TFLM needs 2 · max input scale < 2^20 · output scale) gets its output range widened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from picoml.errors import InputError, PicomlError, UnsupportedError
from picoml.fixedpoint import quantize_multiplier
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OP_SET, Activation, Int8Output, OpType
from picoml.passes import fuse_activations
from picoml.qparams import (
    activation_qparams,
    dequantize_array,
    quantize_array,
    quantize_bias,
    quantize_weights,
    representable_range,
    weight_scales,
)
from picoml.quantize import mixed, ptq16
from picoml.quantize.calibrate import calibrate, calibration_inputs
from picoml.reference.common import activation_range_float
from picoml.reference.interpreter import Interpreter

# Per-op rules come from the op registry (picoml.graph.ops.OpDef): ``weights`` (weight input,
# its per-channel axis, bias input), ``shape_inputs`` (integer shape/axis arguments, never
# quantized), ``int8_output`` and ``fixed_qparams`` (fixed, shared with input 0, joined, free).
ADD_MAX_RATIO = 0.99  # 2·max(in scales) / (2^20 · out scale) must round below 1 in quantize_multiplier


def _strip_qdq(g: Graph) -> None:
    """Remove QUANTIZE/DEQUANTIZE that only convert at the float graph's boundary or round-trip.

    - DEQUANTIZE of a constant -> a float constant;
    - DEQUANTIZE of a graph input -> the float tensor becomes the input (keeping the input's name);
    - QUANTIZE (float -> int) producing a graph output -> its float input becomes the output;
    - QUANTIZE followed only by DEQUANTIZE -> the float value itself.
    """
    changed = True
    while changed:
        changed = False
        consumers = g.consumers()
        ins, outs = {id(t) for t in g.inputs}, {id(t) for t in g.outputs}
        for op in list(g.ops):
            x, y = op.inputs[0], op.outputs[0]
            if op.type == OpType.DEQUANTIZE and x.is_const:
                y.data = dequantize_constant(x)  # the op's output becomes the float constant
                g.ops.remove(op)
            elif op.type == OpType.DEQUANTIZE and id(x) in ins and len(consumers.get(id(x), [])) == 1:
                g.inputs[[id(t) for t in g.inputs].index(id(x))] = y
                g.ops.remove(op)
                g.tensors = [t for t in g.tensors if t is not x]
                y.name = x.name  # the model keeps its input's name
            elif op.type == OpType.QUANTIZE and x.dtype == "float32" and id(y) in outs and not consumers.get(id(y)):
                g.outputs[[id(t) for t in g.outputs].index(id(y))] = x
                g.ops.remove(op)
                g.tensors = [t for t in g.tensors if t is not y]
                if id(x) not in outs and not any(t.name == y.name for t in g.tensors):
                    x.name = y.name  # ... and its output's
            elif op.type == OpType.QUANTIZE and x.dtype == "float32":
                users = consumers.get(id(y), [])
                if id(y) in outs or not users or any(u.type != OpType.DEQUANTIZE for u in users):
                    continue
                for u in users:
                    _bypass(g, u.outputs[0], x)
                    g.ops.remove(u)
                g.ops.remove(op)
            else:
                continue
            g.prune_unused()
            changed = True
            break


def _bypass(g: Graph, old: Tensor, new: Tensor) -> None:
    """Make every reader of ``old`` (ops and graph outputs) read ``new``."""
    for op in g.ops:
        op.inputs = [new if t is old else t for t in op.inputs]
    g.outputs = [new if t is old else t for t in g.outputs]


def dequantize_constant(t: Tensor) -> np.ndarray:
    """float32 values of a quantized constant: scale · (q - zero_point), per axis if per-axis."""
    q = np.asarray(t.data, np.float64)
    s = t.scale.astype(np.float64)
    z = t.zero_point.astype(np.float64)
    if t.per_axis:
        shape = [1] * q.ndim
        shape[t.quantized_dimension] = s.size
        s, z = s.reshape(shape), z.reshape(shape)
    else:
        s, z = s.reshape(()), z.reshape(())
    return (s * (q - z)).astype(np.float32)


def _dequantize_hybrid_weights(g: Graph) -> None:
    """int8 weights of float layers (TFLite dynamic-range "hybrid" models) -> float32 constants."""
    for t in g.tensors:
        if t.is_const and t.dtype != "float32" and t.quantized and t.dtype in ("int8", "uint8", "int16"):
            t.data = dequantize_constant(t)
            t.dtype = "float32"
            t.scale = np.zeros(0, np.float32)
            t.zero_point = np.zeros(0, np.int64)
            t.quantized_dimension = 0


def _unshare_constants(g: Graph) -> None:
    """Give every use of a constant its own tensor: each use may need its own quantization."""
    seen: set[int] = set()
    names = {t.name for t in g.tensors}
    for op in g.ops:
        for i, t in enumerate(op.inputs):
            if t is None or not t.is_const:
                continue
            if id(t) in seen:
                k = 1
                while f"{t.name}_{k}" in names:
                    k += 1
                c = Tensor(
                    f"{t.name}_{k}",
                    t.shape,
                    t.dtype,
                    t.scale.copy(),
                    t.zero_point.copy(),
                    t.quantized_dimension,
                    t.data.copy(),
                )
                names.add(c.name)
                g.tensors.append(c)
                op.inputs[i] = c
            else:
                seen.add(id(t))


def prepare_float_graph(graph: Graph) -> Graph:
    """A validated copy of ``graph`` ready for quantization (``graph`` is untouched).

    Strips boundary QUANTIZE/DEQUANTIZE, turns hybrid int8 weights into float32, fuses
    standalone RELU/RELU6 into the layer before them (``picoml.passes.fuse_activations``) and gives
    every use of a constant its own tensor. Raises UnsupportedError if an activation is not
    float32 (the graph is already quantized, or mixes types).
    """

    if not isinstance(graph, Graph):
        raise InputError(f"quantize: expected a picoml Graph, got {type(graph).__name__}")
    graph.validate()
    g = graph.copy()
    _strip_qdq(g)
    _dequantize_hybrid_weights(g)
    for t in g.inputs:
        if t.dtype not in ("float32", "bool"):  # bool: masks, never quantized
            raise UnsupportedError(
                f"quantize needs a float graph: input {t.name!r} is {t.dtype} (is the model already quantized?)"
            )
    for op in g.ops:
        if op.type in (OpType.QUANTIZE, OpType.DEQUANTIZE):
            raise UnsupportedError(f"quantize needs a float graph: {op.label} converts inside the model")
        shape_args = [op.inputs[i] for i in OP_SET[op.type].shape_inputs | OP_SET[op.type].index_inputs]
        typed = op.outputs if OP_SET[op.type].output_dtype is not None else []  # ARG_MAX: int32 indices
        src = op.inputs[0].dtype
        if op.type == OpType.CAST and src != "bool" and (src == "float32") != (op.outputs[0].dtype == "float32"):
            raise UnsupportedError(
                f"quantize: {op.label} converts {op.inputs[0].dtype} to {op.outputs[0].dtype}; an int8 CAST "
                "converts codes, not real values"
            )
        for t in op.inputs + op.outputs:
            if t is None or t.dtype == "bool" or any(t is a for a in shape_args + typed):
                continue
            if t.dtype != "float32":
                raise UnsupportedError(f"quantize needs a float graph: {op.label} tensor {t.name!r} is {t.dtype}")
    fuse_activations(g)
    _unshare_constants(g)
    g.validate()
    return g


# ======================================================================= activation plan
def value_inputs(op: Op) -> list[int]:
    """Indices of the inputs of ``op`` that are quantized as activations (not weights, bias, shapes,
    nor bool or integer values such as SELECT_V2's condition)."""
    d = OP_SET[op.type]
    skip = set(d.shape_inputs) | set(d.index_inputs)
    if d.weights is not None:
        skip |= {d.weights.input, d.weights.bias}
    return [i for i, t in enumerate(op.inputs) if t is not None and i not in skip and t.dtype == "float32"]


def activation_names(g: Graph) -> list[str]:
    """Names of the float activations (non-constant tensors) of a prepared graph, in tensor order
    (integer results such as ARG_MAX's indices are not quantized)."""
    used = {id(t) for t in g.inputs}
    for op in g.ops:
        used.update(id(t) for t in op.outputs)
    return [t.name for t in g.tensors if id(t) in used and not t.is_const and t.dtype == "float32"]


@dataclass
class ActivationPlan:
    """int8 parameters of every activation-like tensor of a prepared float graph.

    ``params``: tensor name -> (float32 scale, zero point), for activations and the float
    constants quantized like them (e.g. an ADD operand). ``requantize``: (op index, input
    index) of CONCATENATION inputs that keep their own parameters; the int8 graph reads them
    through an int8 -> int8 QUANTIZE into the output's parameters. ``ranges``: the float range
    each group was quantized from (after clamps and unions).
    """

    params: dict[str, tuple[np.float32, int]] = field(default_factory=dict)
    requantize: list[tuple[int, int]] = field(default_factory=list)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


class _Groups:
    """Union-find over tensor names; each root carries the group's range and fixed parameters."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.range: dict[str, tuple[float, float]] = {}
        self.fixed: dict[str, tuple[float, int] | None] = {}

    def add(self, name: str, lo: float, hi: float, fixed: tuple[float, int] | None) -> None:
        self.parent[name] = name
        self.range[name] = (lo, hi)
        self.fixed[name] = fixed

    def find(self, n: str) -> str:
        while self.parent[n] != n:
            self.parent[n] = self.parent[self.parent[n]]
            n = self.parent[n]
        return n

    def compatible(self, a: str, b: str) -> bool:
        """Whether merging a's and b's groups loses nothing: at most one fixed parameter set, and
        the other group's range inside what it represents."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        fa, fb = self.fixed[ra], self.fixed[rb]
        if fa is not None and fb is not None:
            return fa == fb
        if fa is None and fb is None:
            return True
        f, other = (fa, rb) if fa is not None else (fb, ra)
        lo, hi = representable_range(*f)
        olo, ohi = self.range[other]
        return lo <= olo and ohi <= hi

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        (la, ha), (lb, hb) = self.range[ra], self.range[rb]
        self.parent[rb] = ra
        self.range[ra] = (min(la, lb), max(ha, hb))
        self.fixed[ra] = self.fixed[ra] or self.fixed[rb]


def _join_extra_inputs(op: Op, groups: _Groups) -> None:
    """tflite-micro's rules on inputs: PADV2's pad value is quantized as its output; ADD_N's inputs
    share one scale and zero point."""
    if op.type == OpType.PADV2 and len(op.inputs) > 2 and op.inputs[2] is not None:
        groups.union(op.outputs[0].name, op.inputs[2].name)
    if op.type == OpType.ADD_N:
        for t in op.inputs[1:]:
            if not groups.compatible(op.inputs[0].name, t.name):
                raise UnsupportedError(f"{op.label}: inputs have different fixed int8 parameters; ADD_N needs one set")
            groups.union(op.inputs[0].name, t.name)


def _center_add_n_inputs(g: Graph, groups: _Groups) -> None:
    """ADD_N's and CUMSUM's inputs get zero point 0: tflite-micro's int8 sums carry an extra -zero
    point term (reference/add_n.h and cumsum.h start the accumulator at the scaled input offset),
    which zero point 0 cancels. The range (-m, m·127/128) gives scale m/128 and zero point 0."""
    for op in g.ops:
        if op.type not in (OpType.ADD_N, OpType.CUMSUM):
            continue
        r = groups.find(op.inputs[0].name)
        if groups.fixed[r] is None:
            lo, hi = groups.range[r]
            m = max(-lo, hi * 128 / 127, 0.0)
            groups.range[r] = (-m, m * 127 / 128)


def plan_activations(g: Graph, ranges: dict[str, tuple[float, float]], activations: str = "int8") -> ActivationPlan:
    """Assign int8 (``activations="int16"``: 16x8, quantize/ptq16.py) parameters to every activation
    of the prepared float graph ``g``.

    ``ranges`` must hold a float (lo, hi) for every name of ``activation_names(g)``; float
    constants in activation positions use their own min/max. Applies, in order: fused-activation
    clamps, fixed outputs, shared groups (Int8Output.SHARED, then JOINED), the TFLite parameter
    formula per group, and the ADD output-scale constraint.
    """
    groups = _Groups()
    producers = g.producers()
    for name in activation_names(g):
        lo, hi = (float(v) for v in ranges[name])
        t = g.tensor(name)
        prod = producers.get(id(t))
        fixed = None
        if prod is not None:
            d = OP_SET[prod.type]
            clo, chi = activation_range_float(prod.attrs.get("fused_activation", Activation.NONE))
            if d.as_activation is not None:  # standalone activations clamp like fused ones
                clo, chi = activation_range_float(d.as_activation)
            lo, hi = min(max(lo, clo), chi), max(min(hi, chi), clo)
            if d.fixed_qparams is not None:
                s, z = d.fixed_qparams if activations == "int8" else ptq16.FIXED_16
                fixed = (float(np.float32(s)), z)
            elif prod.type == OpType.CAST:  # a bool made float: the int8 CAST writes codes 0 / 1
                fixed = (1.0, 0)
        groups.add(name, lo, hi, fixed)
    for op in g.ops:
        for i in value_inputs(op):
            t = op.inputs[i]
            if t.is_const and t.name not in groups.parent:
                v = np.asarray(t.data, np.float64)
                groups.add(t.name, float(v.min()) if v.size else 0.0, float(v.max()) if v.size else 0.0, None)
    plan = ActivationPlan()
    for op in g.ops:
        if OP_SET[op.type].int8_output == Int8Output.SHARED:
            for out in op.outputs:  # every part of SPLIT, SPLIT_V, UNPACK
                if op.inputs[0].name in groups.parent:  # not a bool (CAST of a mask)
                    groups.union(out.name, op.inputs[0].name)
        _join_extra_inputs(op, groups)
    for k, op in enumerate(g.ops):
        if OP_SET[op.type].int8_output != Int8Output.JOINED:
            continue
        out = op.outputs[0].name
        order = sorted(value_inputs(op), key=lambda i: groups.fixed[groups.find(op.inputs[i].name)] is not None)
        bool_out = out not in groups.parent  # a comparison: its inputs join each other where they can
        if bool_out and order:
            out = op.inputs[order[0]].name
        for i in order:  # free-range inputs first, then fixed ones only if they fit
            name = op.inputs[i].name
            if groups.compatible(out, name):
                groups.union(out, name)
            elif bool_out:
                continue  # the int8 comparison rescales each input by its own scale
            else:
                plan.requantize.append((k, i))
                r = groups.find(out)
                if groups.fixed[r] is None:  # the requantized values must still fit the output
                    lo, hi = groups.range[r]
                    olo, ohi = groups.range[groups.find(name)]
                    groups.range[r] = (min(lo, olo), max(hi, ohi))
    plan.requantize.sort()
    _center_add_n_inputs(g, groups)

    free = activation_qparams if activations == "int8" else ptq16.activation_qparams_int16
    shift = 20 if activations == "int8" else ptq16.ADD_LEFT_SHIFT_16  # ADD / SUB Prepare: the inputs' left shift

    def assign() -> None:
        for name in groups.parent:
            r = groups.find(name)
            f = groups.fixed[r]
            plan.params[name] = (np.float32(f[0]), int(f[1])) if f is not None else free(*groups.range[r])
            plan.ranges[name] = groups.range[r]

    assign()
    for _ in range(len(g.ops) + 1):  # widen ADD/SUB outputs until every one's rescale is below 1
        widened = False
        for op in g.ops:
            if op.type not in (OpType.ADD, OpType.SUB):  # SUB: ADD's Prepare
                continue
            s1, s2 = (float(plan.params[t.name][0]) for t in op.inputs)
            so = float(plan.params[op.outputs[0].name][0])
            need = 2.0 * max(s1, s2) / ((1 << shift) * ADD_MAX_RATIO)
            if so >= need and quantize_multiplier(2.0 * max(s1, s2) / ((1 << shift) * so))[1] <= 0:
                continue
            r = groups.find(op.outputs[0].name)
            if groups.fixed[r] is not None:
                raise UnsupportedError(f"{op.label}: output scale too small for its inputs and fixed by a later op")
            lo, hi = groups.range[r]
            f = need / so * 1.01
            groups.range[r] = (lo * f, hi * f) if (lo, hi) != (0.0, 0.0) else (0.0, need * 255)
            widened = True
        if not widened:
            break
        assign()
    return plan


# ======================================================================= the int8 graph
def _to_int8(g: Graph, plan: ActivationPlan, per_channel_fc: bool, activations: str = "int8") -> Graph:
    """Rewrite the prepared float graph ``g`` in place into the int8 (or 16x8) graph ``plan`` describes."""
    wide = activations == "int16"
    act_ids = {id(g.tensor(n)) for n in plan.params}
    for op in g.ops:
        wts = OP_SET[op.type].weights
        if wts is not None:
            wi, axis, bi = wts.input, wts.axis, wts.bias
            x = op.inputs[0]
            s_in = plan.params[x.name][0]
            w = op.inputs[wi]
            b = op.inputs[bi] if len(op.inputs) > bi else None
            ax = None if (op.type == OpType.FULLY_CONNECTED and not per_channel_fc) else axis
            ws = weight_scales(w.data, ax, None if b is None or wide else b.data, s_in)  # int64 bias: no limit
            w.data = quantize_weights(w.data, ws, ax)
            w.dtype, w.scale, w.zero_point = "int8", ws, np.zeros(ws.size, np.int64)
            w.quantized_dimension = axis if ws.size > 1 else 0
            if b is not None:
                bq, bs = (ptq16.quantize_bias_int64 if wide else quantize_bias)(b.data, s_in, ws)
                b.data, b.dtype, b.scale, b.zero_point = bq, str(bq.dtype), bs, np.zeros(bs.size, np.int64)
                b.quantized_dimension = 0
        for i in value_inputs(op):
            t = op.inputs[i]
            if t.is_const and t.dtype == "float32":
                s, z = plan.params[t.name]
                if wide:
                    t.data = ptq16.quantize_activation_constant(t.data, s)
                else:
                    t.data = quantize_array(t.data, s, z, precision=np.float64)
                t.dtype, t.scale, t.zero_point = activations, np.array([s], np.float32), np.array([z], np.int64)
    for t in g.tensors:
        if id(t) in act_ids and not t.is_const:
            s, z = plan.params[t.name]
            t.dtype, t.scale, t.zero_point = activations, np.array([s], np.float32), np.array([z], np.int64)
            t.quantized_dimension = 0
    names = {t.name for t in g.tensors}
    for k, i in reversed(plan.requantize):
        op = g.ops[k]
        x, y = op.inputs[i], op.outputs[0]
        name = f"{x.name}/requantized"
        while name in names:
            name += "_"
        names.add(name)
        r = Tensor(name, x.shape, activations, y.scale.copy(), y.zero_point.copy())
        g.tensors.append(r)
        g.ops.insert(k, Op(OpType.QUANTIZE, [x], [r], {}, name=name))
        op.inputs[i] = r
    return g


def quantize(
    graph: Graph,
    calibration_data: np.ndarray | Sequence[np.ndarray],
    *,
    method: str = "minmax",
    percentile: float = 99.99,
    ranges: dict[str, tuple[float, float]] | None = None,
    batch_size: int = 256,
    per_channel_fc: bool = True,
    activations: str = "int8",
    mixed_budget: float = mixed.DEFAULT_BUDGET,
) -> Graph:
    """Post-training full-int8 quantization of a float Graph; returns a new int8 Graph.

    ``calibration_data``: sample inputs in the graph's layout (NHWC), one array [N, ...] (or a
    sequence with one per graph input). ``method``: how each activation range is picked from
    the calibration statistics ("minmax", "percentile" at ``percentile`` per side, or "mse"; see
    ``picoml.quantize.calibrate``). ``ranges``: tensor name -> (lo, hi) overriding calibration
    (QAT passes its trained ranges); when it covers every activation, the float graph is not
    run at all. ``batch_size``: calibration samples the float graph runs per call (bounds the
    memory calibration needs). ``per_channel_fc``: per-output-unit weight scales for FULLY_CONNECTED (both
    picoml and tflite-micro run them; False gives TFLite's converter's per-tensor layout).
    ``activations``: "int8" (the int8 scheme) or "int16" (TFLite's 16x8 scheme: int16 symmetric
    activations, int8 weights, int64 bias; quantize/ptq16.py) or "mixed" (int8, with int16 activations
    for the layers whose int8 error hurts the output most, at most ``mixed_budget`` of them;
    quantize/mixed.py: the choice and its cost are in the result's ``notes``).

    The result has int8 inputs and outputs (no QUANTIZE/DEQUANTIZE at its boundary); use
    ``quantize_input`` / ``dequantize_output`` to convert with their parameters.
    """
    if graph.stateful:  # issue 15 (branch state): int8 state needs its own ranges and rules
        raise UnsupportedError("quantize: models with state (variable tensors) are not quantized yet")
    ptq16.check_activations(activations)
    if activations == "mixed":  # both, then int16 where it pays (quantize/mixed.py)
        kw = dict(method=method, percentile=percentile, ranges=ranges, batch_size=batch_size)
        q8 = quantize(graph, calibration_data, **kw, per_channel_fc=per_channel_fc)
        q16 = quantize(graph, calibration_data, **kw, per_channel_fc=per_channel_fc, activations="int16")
        g = prepare_float_graph(graph)
        try:
            return mixed.mix(g, q8, q16, _calibration(g, calibration_data), mixed_budget)
        except PicomlError as e:
            raise type(e)(f"quantize: {e}") from None
    g = prepare_float_graph(graph)
    xs = _calibration(g, calibration_data)
    names = activation_names(g)
    given = _check_ranges(g, names, ranges)

    todo = [n for n in names if n not in given]
    found = calibrate(g, xs, todo, method=method, percentile=percentile, batch_size=batch_size)
    plan = plan_activations(g, {**found, **given}, activations)
    q = _to_int8(g, plan, per_channel_fc, activations)
    kind = "int8" if activations == "int8" else "16x8"
    q.description = (graph.description + " " if graph.description else "") + f"[picoml {kind} PTQ, {method}]"
    try:
        q.validate()

        Interpreter(q)  # every int8 kernel's prepare() accepts its parameters
    except PicomlError as e:
        raise type(e)(f"quantize: {e}") from None
    return q


def _calibration(g: Graph, data) -> list[np.ndarray]:

    if data is None:
        raise InputError("quantize: calibration_data is required (sample inputs in the graph's layout)")
    return calibration_inputs(g, data)


def _check_ranges(g: Graph, names: list[str], ranges) -> dict[str, tuple[float, float]]:
    if not ranges:
        return {}
    known = set(names)
    out = {}
    for name, r in ranges.items():
        if name not in known:
            raise InputError(f"quantize: ranges names {name!r}, which is not an activation tensor of the graph")
        try:
            lo, hi = (float(v) for v in r)
        except (TypeError, ValueError):
            raise InputError(f"quantize: range of {name!r} must be a pair (lo, hi), got {r!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise InputError(f"quantize: range of {name!r} must be finite with lo <= hi, got ({lo}, {hi})")
        out[name] = (lo, hi)
    return out


# ======================================================================= boundary conversion
def _io_tensor(graph: Graph, index: int, kind: str) -> Tensor:
    ts = graph.inputs if kind == "input" else graph.outputs
    if not -len(ts) <= index < len(ts):
        raise InputError(f"the graph has {len(ts)} {kind}s, no {kind} {index}")
    t = ts[index]
    if t.dtype not in ("int8", "int16") or not t.quantized:
        raise InputError(f"graph {kind} {t.name!r} is {t.dtype}, not quantized int8 or int16")
    return t


def quantize_input(graph: Graph, x: np.ndarray, index: int = 0) -> np.ndarray:
    """float -> int8 with graph input ``index``'s parameters: ``clamp(round(x / scale) + zp)``.

    Exactly TFLite's QUANTIZE (AffineQuantize): the division in float32, rounding half away.
    """
    t = _io_tensor(graph, index, "input")
    xf = np.asarray(x, np.float32)
    if np.isnan(xf).any():
        raise InputError(f"input {t.name!r}: NaN cannot be quantized")
    info = np.iinfo(t.np_dtype)
    return quantize_array(xf, t.scale[0], int(t.zero_point[0]), int(info.min), int(info.max), dtype=t.np_dtype)


def dequantize_output(graph: Graph, y: np.ndarray, index: int = 0) -> np.ndarray:
    """int8 -> float32 with graph output ``index``'s parameters: ``scale · (y - zp)`` (TFLite's DEQUANTIZE)."""
    t = _io_tensor(graph, index, "output")
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise InputError(f"output {t.name!r}: expected int8 values, got {y.dtype}")
    return dequantize_array(y, t.scale[0], int(t.zero_point[0]))


__all__ = [
    "ActivationPlan",
    "activation_names",
    "activation_qparams",
    "dequantize_output",
    "plan_activations",
    "prepare_float_graph",
    "quantize",
    "quantize_bias",
    "quantize_input",
    "quantize_weights",
    "weight_scales",
]
