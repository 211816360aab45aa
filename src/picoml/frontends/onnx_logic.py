"""ONNX handlers for comparisons, logical ops, Where, Expand, Cast of bools, Mod (fmod=0) and the
constant folds of the ones ``onnx_ops.FOLDERS`` lacks; merged into ``onnx_ops.HANDLERS`` /
``FOLDERS``.

- Equal, Greater, GreaterOrEqual, Less, LessOrEqual → EQUAL ... LESS_EQUAL (a bool value);
  And, Or, Not on bool values → LOGICAL_AND / OR / NOT;
- Where(condition, X, Y) → SELECT_V2 (constants X / Y laid out like the run-time values);
- Expand of a run-time value to a constant shape of the same rank → BROADCAST_TO; Tile with
  constant repeats (one per axis) → TILE;
- Cast of a bool or int32 value (a comparison's, an ArgMax's) to float → CAST; other casts keep
  ``onnx_ops.op_cast``'s rule;
- Mod with fmod=0 (floor modulo, float) → FLOOR_MOD.
"""

from __future__ import annotations

import numpy as np

from picoml.frontends.onnx_importer import Act, Importer
from picoml.frontends.tflite_schema import TENSOR_TYPE_CODES
from picoml.graph.ops import OpType

_CMP = {
    "Equal": OpType.EQUAL,
    "Greater": OpType.GREATER,
    "GreaterOrEqual": OpType.GREATER_EQUAL,
    "Less": OpType.LESS,
    "LessOrEqual": OpType.LESS_EQUAL,
}
_LOGICAL = {"And": OpType.LOGICAL_AND, "Or": OpType.LOGICAL_OR}


def _binary(imp: Importer, kind: OpType) -> None:
    a, b = imp.inp(0), imp.inp(1)
    name = imp.out_name()
    if isinstance(a, Act) and isinstance(b, Act):
        imp.set_out(imp.ordered_acts(kind, a, b, name))
        return
    const_first = not isinstance(a, Act)
    x, c = (b, np.asarray(a)) if const_first else (a, np.asarray(b))
    what = f"constant {imp.node.input[0 if const_first else 1]!r}"
    k = imp.const(f"{name}/const", imp.align_const(c, x, what))
    y = imp.emit(kind, [k, x.t] if const_first else [x.t, k], name)
    imp.set_out(Act(y, x.shape, x.perm, x.cols))


def op_compare(imp: Importer) -> None:
    _binary(imp, _CMP[imp.node.op_type])


def _bool_act(imp: Importer, i: int) -> Act:
    v = imp.inp(i)
    if not isinstance(v, Act) or v.t.dtype != "bool":
        raise imp.unsupported(f"input {i} must be a bool value computed at run time (a comparison's result)")
    return v


def op_logical(imp: Importer) -> None:
    name = imp.out_name()
    if imp.node.op_type == "Not":
        x = _bool_act(imp, 0)
        imp.set_out(imp.apply(OpType.LOGICAL_NOT, x, name))
        return
    a, b = _bool_act(imp, 0), _bool_act(imp, 1)
    imp.set_out(imp.ordered_acts(_LOGICAL[imp.node.op_type], a, b, name))


def op_where(imp: Importer) -> None:
    cond = _bool_act(imp, 0)
    vals = [cond, imp.inp(1), imp.inp(2)]
    acts = [v for v in vals if isinstance(v, Act)]
    lead = acts[0]
    for k, v in enumerate(acts[1:], 1):  # one layout for all: each relaid like the first
        lead2, v2 = imp.match_layouts(lead, v)
        if lead2 is not lead:
            raise imp.unsupported("condition and values are in different transposed layouts")
        acts[k] = v2
    it = iter(acts)
    out_shape = tuple(np.broadcast_shapes(*[np.shape(v) if not isinstance(v, Act) else v.shape for v in vals]))
    ref = next((a for a in acts if tuple(a.shape) == out_shape), None)
    name = imp.out_name()
    ins = []
    for k, v in enumerate(vals):
        if isinstance(v, Act):
            ins.append(next(it).t)
        elif ref is None:
            raise imp.unsupported("a constant operand and no run-time value of the output's shape")
        else:
            c = np.asarray(v)
            ins.append(imp.const(f"{name}/const{k}", imp.align_const(c.astype(np.float32), ref, f"input {k}")))
    y = imp.emit(OpType.SELECT_V2, ins, name)
    base = ref if ref is not None else lead
    imp.set_out(Act(y, out_shape, base.perm, base.cols))


def op_expand(imp: Importer) -> None:
    x = imp.act(0)
    shape = imp.inp(1)
    if isinstance(shape, Act):
        raise imp.unsupported("the shape must be a constant")
    out_shape = tuple(np.broadcast_shapes(x.shape, tuple(int(d) for d in np.asarray(shape).reshape(-1))))
    if len(out_shape) != x.rank or x.cols is not None:
        raise imp.unsupported(f"expanding {list(x.shape)} to {list(out_shape)} (a higher rank) is not supported")
    if out_shape == tuple(x.shape):
        imp.set_out(x)
        return
    gshape = np.array([out_shape[p] for p in x.perm], np.int32)
    name = imp.out_name()
    k = imp.const(f"{name}/shape", gshape, "int32")
    imp.set_out(Act(imp.emit(OpType.BROADCAST_TO, [x.t, k], name), out_shape, x.perm, None))


def op_tile(imp: Importer) -> None:
    """Tile with constant repeats (one per axis) → TILE, the repeats in the value's graph layout."""
    x = imp.act(0)
    reps = imp.inp(1)
    if isinstance(reps, Act):
        raise imp.unsupported("the repeats must be a constant")
    reps = tuple(int(r) for r in np.asarray(reps).reshape(-1))
    if len(reps) != x.rank or x.cols is not None or min(reps, default=0) < 1:
        raise imp.unsupported(f"repeats {list(reps)} of a {list(x.shape)} value: one positive repeat per axis")
    if all(r == 1 for r in reps):
        imp.set_out(x)
        return
    name = imp.out_name()
    k = imp.const(f"{name}/multiples", np.array([reps[p] for p in x.perm], np.int32), "int32")
    out_shape = tuple(d * r for d, r in zip(x.shape, reps, strict=True))
    imp.set_out(Act(imp.emit(OpType.TILE, [x.t, k], name), out_shape, x.perm, None))


def cast_handler(fallback):
    """Cast: a bool or int32 value to float → CAST; everything else as ``fallback`` (onnx_ops.op_cast)."""

    def op_cast(imp: Importer) -> None:
        x = imp.inp(0)
        if isinstance(x, Act) and x.t.dtype in ("bool", "int32"):
            to = int(imp.attrs().get("to", 0))
            same = {"bool": imp.onnx.TensorProto.BOOL, "int32": imp.onnx.TensorProto.INT32}[x.t.dtype]
            if to in (same, imp.onnx.TensorProto.INT64) and x.t.dtype == "int32" or to == same:
                imp.set_out(x)  # int64 indices stay int32 in the graph (as ArgMax's)
                return
            if to != imp.onnx.TensorProto.FLOAT:
                raise imp.unsupported(f"a run-time {x.t.dtype} value casts to float32 only")
            codes = {"in_data_type": TENSOR_TYPE_CODES[x.t.dtype], "out_data_type": TENSOR_TYPE_CODES["float32"]}
            y = imp.emit(OpType.CAST, [x.t], imp.out_name(), **codes)
            y.dtype = "float32"
            imp.set_out(Act(y, x.shape, x.perm, x.cols))
            return
        fallback(imp)

    return op_cast


def op_mod(imp: Importer) -> None:
    if int(imp.attrs().get("fmod", 0)) != 0:
        raise imp.unsupported("fmod=1 (truncated remainder) is not supported; fmod=0 (floor) is FLOOR_MOD")
    _binary(imp, OpType.FLOOR_MOD)


def handlers(op_cast) -> dict:
    return {
        **dict.fromkeys(_CMP, op_compare),
        "And": op_logical,
        "Or": op_logical,
        "Not": op_logical,
        "Where": op_where,
        "Expand": op_expand,
        "Tile": op_tile,
        "Cast": cast_handler(op_cast),
        "Mod": op_mod,
    }


def _fold(fn):
    def fold(imp: Importer, ins: list) -> list[np.ndarray]:
        return [np.asarray(fn(*[np.asarray(v) for v in ins]))]

    return fold


FOLDERS = {
    "Greater": _fold(np.greater),
    "GreaterOrEqual": _fold(np.greater_equal),
    "Less": _fold(np.less),
    "LessOrEqual": _fold(np.less_equal),
    "And": _fold(np.logical_and),
    "Or": _fold(np.logical_or),
    "Not": _fold(np.logical_not),
}
