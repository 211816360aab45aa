"""Graph.validate(): every check names the op and tensor at fault.

Quantization rules follow the TFLite int8 spec
(https://www.tensorflow.org/lite/performance/quantization_spec): activations per-tensor
asymmetric int8; CONV_2D/FULLY_CONNECTED weights symmetric (zero point 0) per-tensor or
per-output-channel (axis 0), DEPTHWISE_CONV_2D weights per-channel along axis 3; int32 bias
with zero point 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from picoml.errors import GraphError, UnsupportedError
from picoml.fixedpoint import quantize_multiplier
from picoml.graph.int16_ops import INT16_OPS, check_int16_types
from picoml.graph.ops import DTYPES, OP_SET, PADDINGS, Activation, OpType, infer_output_shapes, supported_ops

if TYPE_CHECKING:  # annotations only: ir imports this module to run Graph.validate()
    from picoml.graph.ir import Graph, Op, Tensor

MAX_ELEMENTS = 2**31 - 1  # per tensor
_FUSED_ACTIVATIONS = (Activation.NONE, Activation.RELU, Activation.RELU6, Activation.RELU_N1_TO_1)


def _check_tensor(t: Tensor) -> None:
    if t.dtype not in DTYPES:
        raise UnsupportedError(f"tensor {t.name!r}: dtype {t.dtype} is not supported")
    if any(d < 0 for d in t.shape):
        raise GraphError(f"tensor {t.name!r}: negative dimension in shape {list(t.shape)}")
    # Exact count: Tensor.size is a numpy int64 product that silently wraps for corrupted shapes
    # (e.g. [11806113, 409891, 7623851] has "1" element), which would make every size check and
    # byte count downstream meaningless. TFLite Micro counts elements in an int. (tests/test_fuzz.py)
    n = math.prod(t.shape)
    if n > MAX_ELEMENTS:
        raise UnsupportedError(
            f"tensor {t.name!r}: shape {list(t.shape)} has {n} elements, more than picoml supports ({MAX_ELEMENTS})"
        )
    if t.quantized:
        if t.scale.size != t.zero_point.size:
            raise GraphError(f"tensor {t.name!r}: {t.scale.size} scales but {t.zero_point.size} zero points")
        if not np.all(np.isfinite(t.scale)) or not np.all(t.scale > 0):
            raise GraphError(f"tensor {t.name!r}: quantization scales must be finite and positive")
        if t.per_axis:
            qd = t.quantized_dimension
            if not 0 <= qd < len(t.shape) or t.shape[qd] != t.scale.size:
                raise GraphError(
                    f"tensor {t.name!r}: {t.scale.size} per-axis scales do not match dimension {qd} of shape {list(t.shape)}"
                )
        info = np.iinfo(t.np_dtype) if t.dtype != "float32" else None
        if info is not None and t.dtype != "int32":
            if (t.zero_point < info.min).any() or (t.zero_point > info.max).any():
                raise GraphError(f"tensor {t.name!r}: zero point out of {t.dtype} range")
    if t.data is not None:
        if t.data.dtype != t.np_dtype:
            raise GraphError(f"tensor {t.name!r}: data is {t.data.dtype}, tensor says {t.dtype}")
        if tuple(t.data.shape) != t.shape:
            raise GraphError(f"tensor {t.name!r}: data shape {list(t.data.shape)} != tensor shape {list(t.shape)}")


def is_hybrid_weights(op: Op, i: int) -> bool:
    """True for the int8 weights of a float (\"hybrid\", dynamic-range quantized) layer."""
    d = OP_SET.get(op.type)
    w = op.inputs[i] if i < len(op.inputs) else None
    return (
        d is not None
        and d.weights is not None
        and i == d.weights.input
        and op.inputs[0] is not None
        and op.inputs[0].dtype == "float32"
        and w is not None
        and w.dtype == "int8"
        and w.quantized
        and w.is_const
    )


def _check_op_types(op: Op) -> None:
    """dtype and quantization rules for one op."""
    x = op.inputs[0]
    y = op.outputs[0]
    t = op.type
    d = OP_SET[t]
    wts = d.weights
    if d.check_types is not None:  # bool / int32 / mixed-dtype ops (graph/logic_ops.py)
        d.check_types(op)
        return
    if t == OpType.QUANTIZE:
        # int16 / int32 pairs: only those of TFLM's quantize_common.cc (never with uint8)
        pair_ok = "uint8" not in (x.dtype, y.dtype) or "int16" not in (x.dtype, y.dtype)
        pair_ok &= x.dtype != "int32" or y.dtype in ("int8", "int16")
        ins, outs = ("float32", "int8", "int16", "uint8", "int32"), ("int8", "int16", "uint8")
        if x.dtype not in ins or y.dtype not in outs or not pair_ok:
            raise UnsupportedError(f"{op.label}: QUANTIZE {x.dtype}→{y.dtype} is not supported")
        if not y.quantized or y.per_axis:
            raise GraphError(f"{op.label}: output {y.name!r} needs per-tensor quantization")
        if x.dtype != "float32" and not x.quantized:
            raise GraphError(f"{op.label}: input {x.name!r} needs quantization parameters")
        return
    if t == OpType.DEQUANTIZE:
        if x.dtype not in ("int8", "int16", "uint8") or y.dtype != "float32" or not x.quantized:
            raise UnsupportedError(f"{op.label}: DEQUANTIZE {x.dtype}→{y.dtype} is not supported")
        return
    if wts is not None:
        # the kernels read weights and bias at prepare time, for every dtype (a non-constant float
        # bias was an AttributeError; found by tests/test_fuzz.py)
        for i, what in ((wts.input, "weights"), (wts.bias, "bias")):
            w = op.inputs[i] if i < len(op.inputs) else None
            if w is not None and w.data is None:
                raise UnsupportedError(f"{op.label}: {what} {w.name!r} must be constant")
    act = x.dtype
    if act == "int16" and (not d.any_dtype or t in INT16_OPS):  # TFLite's 16x8 kernels (graph/int16_ops.py)
        check_int16_types(op, wts)
        return
    if not d.any_dtype and act not in ("float32", "int8"):
        raise UnsupportedError(f"{op.label}: input {x.name!r} has dtype {act}; only float32 and int8 are supported")
    for i, inp in enumerate(op.inputs):
        if inp is None:
            continue
        is_shape_arg = i in d.shape_inputs
        is_bias = wts is not None and i == wts.bias
        if is_shape_arg:
            continue
        if i in d.index_inputs:  # int32 positions (GATHER), computed or constant
            if inp.dtype != "int32":
                raise GraphError(f"{op.label}: input {i} {inp.name!r} is {inp.dtype}, expected int32 positions")
            continue
        want = ("int32" if act == "int8" else "float32") if is_bias else act
        if is_hybrid_weights(op, i):
            continue  # float activations with int8 weights: TFLite's hybrid kernels
        if inp.dtype != want:
            raise GraphError(f"{op.label}: input {i} {inp.name!r} is {inp.dtype}, expected {want}")
    out_dtype = act if d.output_dtype is None else d.output_dtype(op)
    for o in op.outputs:
        if o.dtype != out_dtype:
            raise GraphError(f"{op.label}: output {o.name!r} is {o.dtype}, expected {out_dtype}")
    if t == OpType.PRELU and op.inputs[1].data is None:
        # TFLM accepts a computed alpha; picoml's C kernel and PTQ take alpha as a constant
        raise UnsupportedError(f"{op.label}: alpha {op.inputs[1].name!r} must be a constant tensor")
    if act != "int8" or d.output_dtype is not None:
        return
    if not d.int8_kernel:
        raise UnsupportedError(f"{op.label}: int8 {t} is not supported (TFLite Micro has no int8 kernel for it)")
    # int8 quantization rules
    for i, inp in enumerate(op.inputs):
        if inp is None or i in d.shape_inputs or i in d.index_inputs:
            continue
        if not inp.quantized:
            raise GraphError(f"{op.label}: int8 tensor {inp.name!r} has no quantization parameters")
    for o in op.outputs:
        if not o.quantized or o.per_axis:
            raise GraphError(f"{op.label}: int8 output {o.name!r} needs per-tensor quantization")
    for i, inp in enumerate(op.inputs):
        if inp is None or not inp.quantized:
            continue
        if wts is not None and i == wts.input:
            if (inp.zero_point != 0).any():
                raise GraphError(f"{op.label}: weights {inp.name!r} must be symmetric (zero point 0)")
            axis = wts.axis
            if inp.per_axis and inp.quantized_dimension != axis:
                raise GraphError(f"{op.label}: weights {inp.name!r} must be quantized along axis {axis}")
        elif wts is not None and i == wts.bias:
            if (inp.zero_point != 0).any():
                raise GraphError(f"{op.label}: bias {inp.name!r} must have zero point 0")
        elif inp.per_axis:
            raise GraphError(f"{op.label}: activation {inp.name!r} must be per-tensor quantized")
    if t in (OpType.ADD, OpType.SUB):
        # TFLite's int8 ADD (and SUB, the same Prepare) rescales the sum by 2·max(input scales) / (2^20 · output scale) with
        # QuantizeMultiplierSmallerThanOneExp, which needs that below 1 (TFLite aborts; picoml's
        # kernel raised ValueError; found by tests/test_fuzz.py)
        s1, s2, so = (float(np.float32(v.scale[0])) for v in (op.inputs[0], op.inputs[1], y))
        _, shift = quantize_multiplier(2.0 * max(s1, s2) / ((1 << 20) * so))
        if shift > 0:
            raise UnsupportedError(
                f"{op.label}: output scale {so:g} of {y.name!r} is too small for input scales {s1:g} and {s2:g} "
                f"(int8 {t} needs 2·max input scale < 2^20 · output scale)"
            )


def _check_state(g: Graph, known: set[int]) -> None:
    """Variable tensors (state carried across calls) and the graph's state updates."""
    writers: dict[int, str] = {}
    for op in g.ops:
        d = OP_SET[op.type]
        for i in sorted(d.state_inputs):
            t = op.inputs[i] if i < len(op.inputs) else None
            if t is None:
                continue
            if id(t) in writers:
                raise GraphError(f"{op.label}: variable {t.name!r} is also updated by {writers[id(t)]}")
            writers[id(t)] = op.label
    for t in g.tensors:
        if not t.variable:
            if t.initial is not None:
                raise GraphError(f"tensor {t.name!r}: has an initial value but is not a variable")
            continue
        if t.data is not None:
            raise GraphError(f"tensor {t.name!r}: a variable tensor cannot be constant")
        if t.dtype not in ("float32", "int8", "int16", "int32"):
            raise UnsupportedError(f"variable tensor {t.name!r}: dtype {t.dtype} is not supported as state")
        if t.per_axis:
            raise GraphError(f"variable tensor {t.name!r}: state needs per-tensor quantization")
        if t.initial is not None and (t.initial.dtype != t.np_dtype or tuple(t.initial.shape) != t.shape):
            raise GraphError(
                f"variable tensor {t.name!r}: initial value {t.initial.dtype} {list(t.initial.shape)} "
                f"does not match {t.dtype} {list(t.shape)}"
            )
        if any(t is x for x in g.inputs):
            raise GraphError(f"graph input {t.name!r} is a variable tensor")
    for op in g.ops:
        for t in op.outputs:
            if t.variable:
                raise GraphError(f"{op.label}: output {t.name!r} is a variable tensor (ops update state in place)")
    for v, x in g.state_updates:
        if id(v) not in known or id(x) not in known:
            raise GraphError(f"state update {v.name!r} <- {x.name!r}: tensor not in graph.tensors")
        if not v.variable:
            raise GraphError(f"state update of {v.name!r}: not a variable tensor")
        if id(v) in writers:
            raise GraphError(f"variable {v.name!r} is updated by {writers[id(v)]} and by a state update")
        writers[id(v)] = "a state update"
        if x.shape != v.shape or x.dtype != v.dtype:
            raise GraphError(
                f"state update {v.name!r} <- {x.name!r}: {x.dtype} {list(x.shape)} does not match "
                f"{v.dtype} {list(v.shape)}"
            )
        if v.dtype != "float32" and (
            not np.array_equal(v.scale, x.scale) or not np.array_equal(v.zero_point, x.zero_point)
        ):
            raise GraphError(f"state update {v.name!r} <- {x.name!r}: quantization differs")


def validate_graph(g: Graph) -> None:
    unknown = sorted({op.type for op in g.ops if op.type not in OP_SET})
    if unknown:
        raise UnsupportedError(f"unsupported ops: {', '.join(unknown)} (supported: {', '.join(supported_ops())})")
    names: dict[str, Tensor] = {}
    for t in g.tensors:
        _check_tensor(t)
        if t.name in names and names[t.name] is not t:
            raise GraphError(f"two tensors are named {t.name!r}")
        names[t.name] = t
    for t in g.tensors:
        # Empty activations crash the kernels' reshapes and reductions, and are never meant on an
        # MCU: a zero dimension comes from a corrupted file (found by tests/test_fuzz.py).
        if t.data is None and 0 in t.shape:
            raise UnsupportedError(f"tensor {t.name!r}: shape {list(t.shape)} is empty; picoml needs non-empty tensors")
    known = {id(t) for t in g.tensors}
    _check_state(g, known)
    ready = {id(t) for t in g.inputs} | {id(t) for t in g.tensors if t.is_const or t.variable}
    for t in g.inputs:
        if t.is_const:
            raise GraphError(f"graph input {t.name!r} is a constant")
    produced: set[int] = set()
    for op in g.ops:
        d = OP_SET[op.type]
        if not d.min_inputs <= len(op.inputs) <= d.max_inputs:
            raise GraphError(f"{op.label}: takes {d.min_inputs}..{d.max_inputs} inputs, has {len(op.inputs)}")
        if not 1 <= len(op.outputs) <= d.max_outputs:
            want = "exactly one output" if d.max_outputs == 1 else f"1..{d.max_outputs} outputs"
            raise GraphError(f"{op.label}: must have {want}, has {len(op.outputs)}")
        for i, t in enumerate(op.inputs):
            if i in d.state_inputs and (t is None or not t.variable):
                raise GraphError(f"{op.label}: input {i} must be a variable tensor (the op's state)")
            if t is None:
                if i not in d.optional_inputs:
                    raise GraphError(f"{op.label}: input {i} is missing")
                continue
            if id(t) not in known:
                raise GraphError(f"{op.label}: input {t.name!r} is not in graph.tensors")
            if id(t) not in ready:
                raise GraphError(f"{op.label}: input {t.name!r} is used before any op produces it")
        for k, v in op.attrs.items():
            if k == "padding" and v not in PADDINGS:
                raise GraphError(f"{op.label}: padding {v!r} is not one of {PADDINGS}")
            if k == "fused_activation" and v not in _FUSED_ACTIVATIONS:
                raise UnsupportedError(f"{op.label}: fused activation {v} is not supported")
        want = {a.name for a in d.attrs}
        if set(op.attrs) != want:
            raise GraphError(f"{op.label}: attributes {sorted(op.attrs)} != expected {sorted(want)}")
        if op.type == OpType.FULLY_CONNECTED and op.attrs["weights_format"] != 0:
            raise UnsupportedError(f"{op.label}: shuffled weights format is not supported")
        if op.type == OpType.SOFTMAX and not (np.isfinite(op.attrs["beta"]) and op.attrs["beta"] > 0):
            raise GraphError(f"{op.label}: softmax beta must be positive, is {op.attrs['beta']}")
        _check_op_types(op)
        shapes = infer_output_shapes(op)
        for t, s in zip(op.outputs, shapes, strict=True):
            if id(t) not in known:
                raise GraphError(f"{op.label}: output {t.name!r} is not in graph.tensors")
            if t.is_const:
                raise GraphError(f"{op.label}: output {t.name!r} is a constant")
            if id(t) in ready:
                raise GraphError(f"{op.label}: output {t.name!r} is written twice")
            if tuple(t.shape) != tuple(s):
                raise GraphError(f"{op.label}: output {t.name!r} has shape {list(t.shape)}, inferred {list(s)}")
            produced.add(id(t))
            ready.add(id(t))
        if d.weights is not None and len(op.inputs) > d.weights.bias and op.inputs[d.weights.bias] is not None:
            b = op.inputs[d.weights.bias]
            n_out = op.outputs[0].shape[-1]
            if b.size != n_out:
                raise GraphError(f"{op.label}: bias {b.name!r} has {b.size} values, output has {n_out} channels")
    for t in g.outputs:
        if id(t) not in ready:
            raise GraphError(f"graph output {t.name!r} is never produced")
    if not g.inputs:
        raise GraphError("the graph has no inputs")
    if not g.outputs:
        raise GraphError("the graph has no outputs")
