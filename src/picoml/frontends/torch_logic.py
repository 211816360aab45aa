"""PyTorch handlers for comparisons, logical ops, ``torch.where``, ``zeros_like``, ``expand`` /
``broadcast_to``, ``floor_divide`` / ``remainder`` and ``bool.float()``: merged into
``frontends/torch_ops.py``'s tables (``functions``, ``ATEN``, ``METHODS``).

- ``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=`` (operators, ``torch.gt`` ..., methods, ATen) →
  GREATER ... NOT_EQUAL, a bool tensor, with PyTorch's broadcasting as for ADD (a constant operand
  keeps its side and takes the other operand's dtype);
- ``torch.logical_and`` / ``or`` / ``not`` and ``&``, ``|``, ``~`` on bool tensors → LOGICAL_AND /
  OR / NOT (the bitwise forms on other dtypes are refused);
- ``torch.where(cond, x, y)`` (tensors or numbers for x and y) → SELECT_V2;
- ``torch.zeros_like`` → ZEROS_LIKE; ``x.expand(...)`` / ``torch.broadcast_to`` at the same rank →
  BROADCAST_TO; ``x.repeat(...)`` / ``torch.tile`` at the same rank → TILE; ``torch.floor_divide`` / ``//`` → FLOOR_DIV, ``torch.remainder`` / ``%`` → FLOOR_MOD
  (float graphs: tflite-micro has them in float32 only);
- ``mask.float()`` of a bool (or an argmax's int32) tensor → CAST (other ``.float()`` calls stay
  the identity).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from picoml.errors import UnsupportedError
from picoml.frontends.tflite_schema import TENSOR_TYPE_CODES
from picoml.frontends.torch_values import Call, TorchBuilder, Val, _std_gshape
from picoml.graph.ops import DTYPES, OpType

_CMP = {
    "gt": OpType.GREATER,
    "ge": OpType.GREATER_EQUAL,
    "lt": OpType.LESS,
    "le": OpType.LESS_EQUAL,
    "eq": OpType.EQUAL,
    "ne": OpType.NOT_EQUAL,
}
_CMP_ALIASES = {"greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne"}


def _typed_consts(b: TorchBuilder) -> None:
    """Give the constants of the op just emitted the dtype of its computed operands (a comparison of
    an int32 or bool value with a number)."""
    op = b.ops[-1]
    vals = [t for t in op.inputs if t is not None and t.data is None]
    if not vals:
        return
    dt = vals[-1].dtype
    for t in op.inputs:
        if t is not None and t.data is not None and t.dtype != dt and t.dtype == "float32":
            t.data = np.ascontiguousarray(t.data.astype(DTYPES[dt]))
            t.dtype = dt


def _binary(kind: OpType, names=("input", "other")):
    def handler(b: TorchBuilder, c: Call) -> Val:
        a = c.bind(*names)
        x, y = a[names[0]], a[names[1]]
        if not isinstance(x, Val) and not isinstance(y, Val):
            raise UnsupportedError(f"{c.where}: {kind} of two constants is not supported")
        v = b.binary(c, kind, x, y)
        _typed_consts(b)
        return v

    return handler


def _bools(c: Call, *vs: Any) -> None:
    for v in vs:
        if not isinstance(v, Val) or v.t.dtype != "bool":
            raise UnsupportedError(
                f"{c.where}: logical and bitwise ops are supported on computed bool tensors only "
                "(compare first, e.g. x > 0)"
            )


def _logical(kind: OpType):
    def handler(b: TorchBuilder, c: Call) -> Val:
        if kind == OpType.LOGICAL_NOT:
            (x,) = c.bind("input").values()
            _bools(c, x)
            return Val(b.emit(kind, [x.t], c.name), x.shape, x.order, False, x.origin)
        a = c.bind("input", "other")
        _bools(c, a["input"], a["other"])
        return b.binary(c, kind, a["input"], a["other"])

    return handler


def _f_where(b: TorchBuilder, c: Call) -> Val:
    if len(c.args) + len(c.kwargs) == 1:
        raise UnsupportedError(f"{c.where}: torch.where(condition) (indices of nonzeros) is not supported")
    a = c.bind("condition", "input", "other")
    cond = a["condition"]
    if not isinstance(cond, Val) or cond.t.dtype != "bool":
        raise UnsupportedError(f"{c.where}: the condition of torch.where must be a computed bool tensor")
    out_shape = c.out_shape
    vals = [v for v in a.values() if isinstance(v, Val)]
    for v in vals:
        if len(v.shape) != len(out_shape):
            raise UnsupportedError(
                f"{c.where}: operands of rank {len(v.shape)} and {len(out_shape)} (broadcasting across ranks "
                "is not supported)"
            )
        b.plain(c, v, "torch.where")
    same = len({len(v.t.shape) for v in vals}) == 1
    ref = next((v for v in vals if tuple(v.shape) == out_shape), None)
    dtype = next((v.t.dtype for v in vals if v is not cond), "float32")
    ins = []
    for k in ("condition", "input", "other"):
        v = a[k]
        if isinstance(v, Val):
            ins.append(v.t if same else b.std(v))
            continue
        if ref is None:
            raise UnsupportedError(f"{c.where}: a constant operand and no tensor of the output's shape")
        ins.append(b.const(f"{c.name}.{k}", b.layout_const(c, ref if same else Val(b.std(ref), ref.shape), v), dtype))
    y = b.emit(OpType.SELECT_V2, ins, c.name)
    return Val(y, out_shape, None, False, "")


def _f_zeros_like(b: TorchBuilder, c: Call) -> Val:
    x = c.args[0] if c.args else c.kwargs.get("input")
    if not isinstance(x, Val) or len(c.args) > 1:
        raise UnsupportedError(f"{c.where}: zeros_like of a computed tensor is supported")
    if str(c.out.dtype) != "torch.float32" or x.t.dtype != "float32":
        raise UnsupportedError(f"{c.where}: zeros_like to or from another dtype than float32 is not supported")
    return Val(b.emit(OpType.ZEROS_LIKE, [x.t], c.name), x.shape, x.order, True, x.origin)


def _f_expand(b: TorchBuilder, c: Call) -> Val:
    x = c.args[0] if c.args else c.kwargs.get("input")
    if not isinstance(x, Val):
        raise UnsupportedError(f"{c.where}: expects a tensor that depends on the model input")
    out_shape = c.out_shape
    if len(out_shape) != len(x.shape):
        raise UnsupportedError(
            f"{c.where}: expanding {list(x.shape)} to a higher rank {list(out_shape)} is not supported"
        )
    b.plain(c, x, "expand / broadcast_to")
    if tuple(x.shape) == out_shape:
        return x
    gshape = _std_gshape(out_shape)
    shape = b.const(f"{c.name}_shape", np.array(gshape, np.int32), "int32")
    return Val(b.emit(OpType.BROADCAST_TO, [b.std(x), shape], c.name), out_shape, None, x.nonneg, "")


def _f_repeat(b: TorchBuilder, c: Call) -> Val:
    """``x.repeat(...)`` / ``torch.tile`` at the input's rank → TILE (multiples: output / input)."""
    x = c.args[0] if c.args else c.kwargs.get("input")
    if not isinstance(x, Val):
        raise UnsupportedError(f"{c.where}: expects a tensor that depends on the model input")
    out_shape = c.out_shape
    if len(out_shape) != len(x.shape):
        raise UnsupportedError(
            f"{c.where}: repeating {list(x.shape)} to a higher rank {list(out_shape)} is not supported"
        )
    b.plain(c, x, "repeat / tile")
    if tuple(x.shape) == out_shape:
        return x
    mult = _std_gshape(tuple(o // i for o, i in zip(out_shape, x.shape, strict=True)))
    m = b.const(f"{c.name}_multiples", np.array(mult, np.int32), "int32")
    return Val(b.emit(OpType.TILE, [b.std(x), m], c.name), out_shape, None, x.nonneg, "")


def _f_float(b: TorchBuilder, c: Call) -> Val:
    x = c.args[0] if c.args else None
    if isinstance(x, Val) and x.t.dtype in ("bool", "int32"):  # a mask, an argmax
        codes = {"in_data_type": TENSOR_TYPE_CODES[x.t.dtype], "out_data_type": TENSOR_TYPE_CODES["float32"]}
        y = b.emit(OpType.CAST, [x.t], c.name, **codes)
        y.dtype = "float32"
        return Val(y, x.shape, x.order, True, x.origin)
    return x


def _aten_to(b: TorchBuilder, c: Call) -> Val:
    """aten.to.dtype / _to_copy to float32 (``mask.float()`` under torch.export)."""
    dtype = c.args[1] if len(c.args) > 1 else c.kwargs.get("dtype")
    if str(dtype) != "torch.float32":
        raise UnsupportedError(f"{c.where}: conversion to {dtype} is not supported (to float32 only)")
    return _f_float(b, Call(c.where, c.name, c.args[:1], {}, c.out, c.mod))


def functions(torch) -> dict[Any, Any]:
    t: dict[Any, Any] = {getattr(operator, n): _binary(op, ("a", "b")) for n, op in _CMP.items()}
    t.update({getattr(torch, n): _binary(op) for n, op in _CMP.items()})
    t.update({getattr(torch, a): _binary(_CMP[n]) for a, n in _CMP_ALIASES.items()})
    t.update(
        {
            torch.logical_and: _logical(OpType.LOGICAL_AND),
            torch.logical_or: _logical(OpType.LOGICAL_OR),
            torch.logical_not: _logical(OpType.LOGICAL_NOT),
            operator.and_: _logical(OpType.LOGICAL_AND),
            operator.or_: _logical(OpType.LOGICAL_OR),
            operator.invert: _logical(OpType.LOGICAL_NOT),
            torch.where: _f_where,
            torch.zeros_like: _f_zeros_like,
            torch.broadcast_to: _f_expand,
            torch.tile: _f_repeat,
            torch.floor_divide: _binary(OpType.FLOOR_DIV),
            operator.floordiv: _binary(OpType.FLOOR_DIV, ("a", "b")),
            torch.remainder: _binary(OpType.FLOOR_MOD),
            operator.mod: _binary(OpType.FLOOR_MOD, ("a", "b")),
        }
    )
    return t


#: ATen overloads (torch.export)
ATEN: dict[str, Any] = {
    **{f"{n}.{k}": _binary(op) for n, op in _CMP.items() for k in ("Tensor", "Scalar")},
    "logical_and.default": _logical(OpType.LOGICAL_AND),
    "logical_or.default": _logical(OpType.LOGICAL_OR),
    "logical_not.default": _logical(OpType.LOGICAL_NOT),
    "bitwise_and.Tensor": _logical(OpType.LOGICAL_AND),
    "bitwise_or.Tensor": _logical(OpType.LOGICAL_OR),
    "bitwise_not.default": _logical(OpType.LOGICAL_NOT),
    "__and__.Tensor": _logical(OpType.LOGICAL_AND),
    "__or__.Tensor": _logical(OpType.LOGICAL_OR),
    **{f"where.{k}": _f_where for k in ("self", "ScalarOther", "ScalarSelf", "Scalar")},
    "zeros_like.default": _f_zeros_like,
    "to.dtype": _aten_to,
    "_to_copy.default": _aten_to,
    "expand.default": _f_expand,
    "repeat.default": _f_repeat,
    "tile.default": _f_repeat,
    "floor_divide.default": _binary(OpType.FLOOR_DIV),
    "remainder.Tensor": _binary(OpType.FLOOR_MOD),
    "remainder.Scalar": _binary(OpType.FLOOR_MOD),
}

#: Tensor methods
METHODS: dict[str, Any] = {
    **{n: _binary(op) for n, op in _CMP.items()},
    **{a: _binary(_CMP[n]) for a, n in _CMP_ALIASES.items()},
    "logical_and": _logical(OpType.LOGICAL_AND),
    "logical_or": _logical(OpType.LOGICAL_OR),
    "logical_not": _logical(OpType.LOGICAL_NOT),
    "where": lambda b, c: _f_where(b, Call(c.where, c.name, (c.args[1], c.args[0], *c.args[2:]), c.kwargs, c.out)),
    "expand": _f_expand,
    "repeat": _f_repeat,
    "tile": _f_repeat,
    "expand_as": lambda b, c: _f_expand(b, Call(c.where, c.name, c.args[:1], {}, c.out)),
    "floor_divide": _binary(OpType.FLOOR_DIV),
    "remainder": _binary(OpType.FLOOR_MOD),
    "float": _f_float,
}
