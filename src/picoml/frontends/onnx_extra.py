"""ONNX handlers for Sum, Pad (reflect / a constant value), LogSoftmax, LpNormalization and Gelu, merged
into ``frontends/onnx_ops.py``'s ``HANDLERS`` (``handlers``). Clip(-1, 1) reaches RELU_N1_TO_1 through
``lowering.clamp_activation``.

- Sum of N run-time values of one shape → ADD_N (each brought to the first one's layout).
- Pad ``mode="reflect"`` → MIRROR_PAD REFLECT; ``mode="constant"`` with a value other than 0 → PADV2
  (0: ``onnx_ops.op_pad``'s PAD). ``mode="edge"`` repeats the edge value, which is not MIRROR_PAD
  (SYMMETRIC mirrors the pixels next to the edge too), and ``"wrap"`` has no TFLite op: both refused.
- LogSoftmax (``axis``, opset ≥ 13 semantics) → LOG_SOFTMAX over the picoml axis holding it, moved
  last when it is not (as ``op_softmax``).
- LpNormalization ``p=2`` → L2_NORMALIZATION over the axis (ONNX divides by ‖x‖ with no epsilon,
  TFLite by max(‖x‖, 1e-6): they differ only for rows of norm below 1e-6).
- Gelu (opset 20, ``approximate`` "none" or "tanh") → GELU.
- CumSum (constant axis, ``exclusive``, ``reverse``) → CUMSUM on the picoml axis holding it.
- GatherND (``batch_dims`` 0, constant indices; negative ones counted from the end) → GATHER_ND on
  ONNX's own layout (a TRANSPOSE first if the value is stored channels-last).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from picoml.frontends.lowering import channels_last_perm
from picoml.frontends.onnx_importer import Act, Importer
from picoml.graph.ops import OpType


def op_sum(imp: Importer) -> None:
    vals = [imp.inp(i) for i in range(len(imp.node.input))]
    if not all(isinstance(v, Act) for v in vals):
        raise imp.unsupported("Sum with a constant operand is not supported (use Add)")
    if len(vals) == 1:
        imp.set_out(vals[0])
        return
    first = vals[0]
    if any(v.shape != first.shape for v in vals):
        raise imp.unsupported(f"Sum of shapes {[list(v.shape) for v in vals]}: ADD_N needs one shape (no broadcasting)")
    ts = [first.t] + [imp.need_layout(v, first.perm, i + 1).t if v.perm != first.perm or v.cols is not None
                      else v.t for i, v in enumerate(vals[1:])]  # fmt: skip
    if first.cols is not None:
        raise imp.unsupported("Sum of a flattened channels-last value is not supported")
    imp.set_out(Act(imp.emit(OpType.ADD_N, ts, imp.out_name()), first.shape, first.perm))


def _pads(imp: Importer, x: Act) -> tuple[list[list[int]], float]:
    at = imp.attrs()
    if imp.opset >= 11:
        pads = [int(p) for p in np.asarray(imp.const_input(1, "pads")).reshape(-1)]
        cv = imp.const_input(2, "constant_value", required=False)
        value = 0.0 if cv is None else float(np.asarray(cv).reshape(-1)[0])
        axes_v = imp.const_input(3, "axes", required=False)
        axes = list(range(x.rank)) if axes_v is None else [int(a) % x.rank for a in np.asarray(axes_v).reshape(-1)]
    else:
        pads = [int(p) for p in at.get("pads", at.get("paddings", []))]
        value = float(at.get("value", 0.0))
        axes = list(range(x.rank))
    k = len(axes)
    if len(pads) != 2 * k or any(p < 0 for p in pads):
        raise imp.unsupported(f"pads {pads} must be {2 * k} non-negative values (cropping is not supported)")
    full = [[0, 0] for _ in range(x.rank)]
    for i, a in enumerate(axes):
        full[a] = [pads[i], pads[i + k]]
    return full, value


def op_pad(base: Callable[[Importer], None]) -> Callable[[Importer], None]:
    def h(imp: Importer) -> None:
        mode = imp.attrs().get("mode", "constant") or "constant"
        if isinstance(mode, bytes):
            mode = mode.decode()
        if mode in ("edge", "wrap"):
            what = "repeats the edge value" if mode == "edge" else "wraps around"
            raise imp.unsupported(
                f"Pad mode={mode!r} {what}, which is not MIRROR_PAD (tflite-micro has no such padding); use "
                "mode='reflect' (MIRROR_PAD) or constant padding"
            )
        x = imp.act(0)
        full, value = _pads(imp, x)
        if mode == "constant" and value == 0.0:
            base(imp)
            return
        if mode not in ("constant", "reflect"):
            raise imp.unsupported(f"Pad mode {mode!r} is not supported")
        if x.cols is not None and any(full[1]):
            x = imp.need_layout(x, (0, 1))
        name = imp.out_name()
        pt = imp.const(f"{name}/paddings", np.array([full[a] for a in x.perm], np.int32), "int32")
        if mode == "reflect":
            y = imp.emit(OpType.MIRROR_PAD, [x.t, pt], name, mode=0)
        else:
            y = imp.emit(OpType.PADV2, [x.t, pt, imp.const(f"{name}/value", np.array([value], np.float32))], name)
        shape = tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, full, strict=True))
        imp.set_out(Act(y, shape, x.perm, x.cols))

    return h


def _last_axis_op(imp: Importer, op: OpType, axis: int) -> None:
    """``op`` over ONNX ``axis``: a layout with that axis last (a TRANSPOSE only if nothing cheaper)."""
    x = imp.act(0)
    axis %= x.rank
    moved = tuple(p for p in x.perm if p != axis) + (axis,)
    for perm in (x.perm, channels_last_perm(x.rank), tuple(range(x.rank)), moved):
        if perm[-1] != axis:
            continue
        y = x if x.perm == perm else imp.relayout(x, perm)
        if y is not None:
            imp.set_out(Act(imp.emit(op, [y.t], imp.out_name()), y.shape, y.perm, y.cols))
            return
    raise imp.unsupported(f"{op} over axis {axis} of a flattened channels-last tensor is not supported")


def op_log_softmax(imp: Importer) -> None:
    at = imp.attrs()
    axis = int(at.get("axis", -1 if imp.opset >= 13 else 1))
    x = imp.act(0)
    if imp.opset < 13 and any(d != 1 for d in x.shape[axis % x.rank + 1 :]):
        raise imp.unsupported(f"log-softmax over the flattened axes {axis}.. of {list(x.shape)} is not supported")
    _last_axis_op(imp, OpType.LOG_SOFTMAX, axis)


def op_lp_normalization(imp: Importer) -> None:
    at = imp.attrs()
    if int(at.get("p", 2)) != 2:
        raise imp.unsupported(f"LpNormalization p={at.get('p')} (L2_NORMALIZATION is p=2)")
    if imp.act(0).rank > 4:
        raise imp.unsupported("L2_NORMALIZATION of rank above 4 (tflite-micro's limit)")
    _last_axis_op(imp, OpType.L2_NORMALIZATION, int(at.get("axis", -1)))


def op_gelu(imp: Importer) -> None:
    approx = imp.attrs().get("approximate", "none")
    if isinstance(approx, bytes):
        approx = approx.decode()
    if approx not in ("none", "tanh"):
        raise imp.unsupported(f"Gelu approximate={approx!r} (none or tanh)")
    x = imp.act(0)
    y = imp.emit(OpType.GELU, [x.t], imp.out_name(), approximate=approx == "tanh")
    imp.set_out(Act(y, x.shape, x.perm, x.cols))


def op_cumsum(imp: Importer) -> None:
    x = imp.act(0)
    at = imp.attrs()
    axis = int(np.asarray(imp.const_input(1, "axis")).reshape(-1)[0])
    if not -x.rank <= axis < x.rank:
        raise imp.unsupported(f"axis {axis} out of range for rank {x.rank}")
    if x.cols is not None:
        x = imp.need_layout(x, (0, 1))
    name = imp.out_name()
    ax = imp.const(f"{name}/axis", np.array([x.perm.index(axis % x.rank)], np.int32), "int32")
    y = imp.emit(
        OpType.CUMSUM, [x.t, ax], name, exclusive=bool(at.get("exclusive", 0)), reverse=bool(at.get("reverse", 0))
    )
    imp.set_out(Act(y, x.shape, x.perm, None))


def op_gather_nd(imp: Importer) -> None:
    """GatherND (batch_dims 0) of a run-time value at constant indices → GATHER_ND on ONNX's layout."""
    if int(imp.attrs().get("batch_dims", 0)) != 0:
        raise imp.unsupported("GatherND with batch_dims != 0 is not supported")
    x = imp.act(0)
    idx = np.asarray(imp.const_input(1, "indices"))
    k = idx.shape[-1] if idx.ndim else 0
    if idx.ndim < 1 or not 1 <= k <= x.rank:
        raise imp.unsupported(f"indices of shape {list(idx.shape)} for data of rank {x.rank}")
    idx = np.where(idx < 0, idx + np.array(x.shape[:k]), idx)
    if ((idx < 0) | (idx >= np.array(x.shape[:k]))).any():
        raise imp.unsupported("an index is out of range")
    natural = tuple(range(x.rank))
    if x.perm != natural or x.cols is not None:
        x = imp.need_layout(x, natural)
    name = imp.out_name()
    it = imp.const(f"{name}/indices", idx.astype(np.int32), "int32")
    y = imp.emit(OpType.GATHER_ND, [x.t, it], name)
    out_shape = tuple(idx.shape[:-1]) + tuple(x.shape[k:])
    imp.set_out(Act(y, out_shape, tuple(range(len(out_shape)))))


def handlers(base_pad: Callable[[Importer], None]) -> dict[str, Callable[[Importer], None]]:
    """``base_pad``: onnx_ops' zero-padding handler, which Pad keeps for zeros."""
    return {
        "Sum": op_sum,
        "Pad": op_pad(base_pad),
        "LogSoftmax": op_log_softmax,
        "LpNormalization": op_lp_normalization,
        "Gelu": op_gelu,
        "CumSum": op_cumsum,
        "GatherND": op_gather_nd,
    }
