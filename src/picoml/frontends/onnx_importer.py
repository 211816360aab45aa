"""The ONNX importer: walks an ONNX graph node by node, folding what is known before run time
and lowering the rest onto picoml ops (handlers in ``frontends/onnx_ops.py``).

ONNX is channels-first (NCHW) and picoml, like TFLite, is channels-last (NHWC). Every ONNX value
that lives at run time is therefore tracked as an ``Act``: the picoml tensor that holds it plus
the permutation relating the two orders (``perm``: picoml axis ``k`` holds ONNX axis ``perm[k]``).
An ONNX ``Transpose`` only changes ``perm`` and emits nothing; an op that needs another order gets
a RESHAPE when the permutation only moves size-1 axes, and a TRANSPOSE otherwise. Flattening a channels-first tensor into a dense layer is absorbed
by permuting the dense layer's weight columns (``Act.cols``) instead of moving data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from picoml.errors import GraphError, ModelFormatError, PicomlError, UnsupportedError
from picoml.frontends.lowering import NONNEGATIVE_OPS, GraphBuilder, Padding, channels_last_perm, plan_padding
from picoml.graph.ir import Tensor
from picoml.graph.limits import DEFAULT_MAX_MEMORY
from picoml.graph.ops import OpType
from picoml.untrusted import for_terminal, size_text

if TYPE_CHECKING:
    import onnx

F32 = np.float32


def _nonunit(shape: tuple[int, ...], perm: tuple[int, ...]) -> list[int]:
    return [p for p in perm if shape[p] != 1]


@dataclass
class Act:
    """An ONNX value computed at run time: picoml tensor ``t`` = ONNX value transposed by ``perm``.

    ``cols`` (rank 2 only, ``perm`` the identity) says the feature axis is permuted:
    ``t[:, j] = onnx[:, cols[j]]`` — what flattening a channels-last tensor in picoml's order
    gives; only dense layers (which permute their weights) and elementwise ops accept it.
    """

    t: Tensor
    shape: tuple[int, ...]
    perm: tuple[int, ...]
    cols: np.ndarray | None = None

    @property
    def rank(self) -> int:
        return len(self.shape)

    def pshape(self, perm: tuple[int, ...] | None = None) -> tuple[int, ...]:
        p = self.perm if perm is None else perm
        return tuple(self.shape[i] for i in p)


Value = np.ndarray | Act


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


@dataclass
class Pads:
    """An ONNX node's padding: the plan (SAME, VALID or PAD + VALID, in 2-D form) and, per ONNX
    spatial axis, the leading pad, the trailing pad the windows really read and the declared one."""

    plan: Padding
    begin: list[int]
    used_end: list[int]
    declared_end: list[int]


#: a handler lowers the importer's current node; a folder evaluates it on constants
Handler = Callable[["Importer"], None]
Folder = Callable[["Importer", list], list[np.ndarray]]


# ----------------------------------------------------------------------------- the importer
class Importer(GraphBuilder):
    """Walks an ONNX graph in order: folds what is known before run time (``folders``), lowers
    the rest through ``handlers`` (both keyed by ONNX op type, ``frontends/onnx_ops.py``) onto the
    shared ``GraphBuilder``, tracking each run-time value's layout as an ``Act``."""

    def __init__(
        self,
        onnx_mod,
        model: onnx.ModelProto,
        label: str,
        handlers: dict[str, Handler],
        folders: dict[str, Folder],
        max_memory: int = DEFAULT_MAX_MEMORY,
    ) -> None:
        super().__init__()
        self.handlers, self.folders = handlers, folders
        self.onnx = onnx_mod
        self.model = model
        self.label = label
        self.max_memory = max_memory
        self.opset = 1
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = int(imp.version)
        self.values: dict[str, Value] = {}
        self.node: onnx.NodeProto | None = None
        self.node_index = 0
        self.consumers: dict[str, int] = {}
        g = model.graph
        for n in g.node:
            for name in n.input:
                if name:
                    self.consumers[name] = self.consumers.get(name, 0) + 1
        for o in g.output:
            self.consumers[o.name] = self.consumers.get(o.name, 0) + 1
        self.inferred: dict[str, tuple[int, ...]] = {}
        for vi in list(g.value_info) + list(g.output):
            s = self._static_shape(vi)
            if s is not None:
                self.inferred[vi.name] = s

    # ------------------------------------------------------------------ messages
    def where(self) -> str:
        n = self.node
        if n is None:
            return self.label
        who = n.name or f"#{self.node_index} → {n.output[0] if n.output else '?'}"
        return f"{self.label}: node {who!r} ({n.op_type})"

    def unsupported(self, what: str) -> UnsupportedError:
        return UnsupportedError(f"{self.where()}: {what}")

    # ------------------------------------------------------------------ ONNX protobuf helpers
    @staticmethod
    def _static_shape(vi) -> tuple[int, ...] | None:
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            return None
        dims = []
        for d in tt.shape.dim:
            if not d.HasField("dim_value"):
                return None
            dims.append(int(d.dim_value))
        return tuple(dims)

    def attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in self.node.attribute:
            v = self.onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            elif isinstance(v, self.onnx.TensorProto):
                v = self.to_array(v)
            out[a.name] = v
        return out

    def to_array(self, tp) -> np.ndarray:
        if tp.data_location == self.onnx.TensorProto.EXTERNAL:  # a path in an untrusted file: never followed
            raise UnsupportedError(
                f"{self.label}: tensor {for_terminal(tp.name)!r} keeps its data in an external file; "
                "picoml reads self-contained .onnx files (save with onnx.save(model, path, save_as_external_data=False))"
            )
        try:
            return np.asarray(self.onnx.numpy_helper.to_array(tp))
        except Exception as e:  # external data missing, bad raw_data length, ...
            raise ModelFormatError(f"{self.label}: tensor {tp.name!r} cannot be read: {_first_line(e)}") from None

    # ------------------------------------------------------------------ value access
    def inp(self, i: int) -> Value | None:
        ins = self.node.input
        if i >= len(ins) or not ins[i]:
            return None
        return self.values[ins[i]]

    def act(self, i: int) -> Act:
        v = self.inp(i)
        if not isinstance(v, Act):
            name = self.node.input[i] if i < len(self.node.input) else ""
            raise self.unsupported(
                f"input {i} {name!r} must be computed at run time (a constant is not supported here)"
            )
        return v

    def const_input(self, i: int, what: str, required: bool = True) -> np.ndarray | None:
        v = self.inp(i)
        if v is None:
            if required:
                raise self.unsupported(f"{what} (input {i}) is missing")
            return None
        if isinstance(v, Act):
            raise self.unsupported(
                f"{what} {self.node.input[i]!r} must be constant (an initializer or Constant node) but is computed "
                "at run time"
            )
        return v

    def set_out(self, v: Value, i: int = 0) -> None:
        name = self.node.output[i]
        if isinstance(v, Act):
            want = self.inferred.get(name)
            if want is not None and tuple(want) != tuple(v.shape):
                raise GraphError(
                    f"{self.where()}: output {name!r} has shape {list(v.shape)} in picoml, "
                    f"{list(want)} by ONNX shape inference"
                )
        self.values[name] = v

    def unused_outputs(self, first: int) -> None:
        """Extra outputs (MaxPool indices, BatchNormalization statistics, Dropout mask) must be unread."""
        for name in self.node.output[first:]:
            if name and self.consumers.get(name):
                raise self.unsupported(f"output {name!r} is used; picoml computes only the first output")

    # ------------------------------------------------------------------ picoml graph building
    def op_name(self, out: Tensor) -> str:
        """Ops are named after their ONNX node."""
        return self.node.name if self.node is not None and self.node.name else ""

    def shape_error(self, e: PicomlError) -> PicomlError:
        return GraphError(f"{self.where()}: {e}")

    def reshape(self, t: Tensor, shape: tuple[int, ...], name: str) -> Tensor:
        return self.emit_reshape(t, shape, name, f"{name}/shape")

    def out_name(self, i: int = 0) -> str:
        return self.node.output[i]

    # ------------------------------------------------------------------ layouts
    def relayout(self, a: Act, perm: tuple[int, ...]) -> Act | None:
        """``a`` in layout ``perm``: a RESHAPE when only size-1 axes move, else a TRANSPOSE (a flattened
        value with permuted features, ``cols``, is brought to ONNX's order first); None when that
        order is no transpose."""
        if a.cols is not None:
            if not np.array_equal(a.cols, np.arange(a.cols.size)):
                t = self.emit_gather_order(a.t, np.argsort(a.cols), f"{a.t.name}/onnx_order")
                if t is None:
                    return None
                a = Act(t, a.shape, a.perm)
            a = Act(a.t, a.shape, a.perm)
        if tuple(a.perm) == tuple(perm):
            return a
        if _nonunit(a.shape, a.perm) != _nonunit(a.shape, perm):
            inv = {p: j for j, p in enumerate(a.perm)}  # a.t axis j holds ONNX axis a.perm[j]
            t = self.emit_transpose(a.t, [inv[p] for p in perm], f"{a.t.name}/transpose")
            return Act(t, a.shape, tuple(perm))
        t = self.reshape(a.t, a.pshape(perm), f"{a.t.name}/relayout")
        return Act(t, a.shape, tuple(perm))

    def need_layout(self, a: Act, perm: tuple[int, ...], i: int = 0) -> Act:
        r = self.relayout(a, perm)
        if r is None:
            name = self.node.input[i] if self.node is not None else a.t.name
            raise self.unsupported(
                f"input {name!r} reaches this node as a flattened channels-last tensor (its features in picoml's "
                "order, which only a dense layer absorbs): flatten after the layers that need the ONNX order"
            )
        return r

    def to_channels_last(self, a: Act, i: int = 0) -> Tensor:
        """A rank-3 (N,C,L) or rank-4 (N,C,H,W) input as a picoml NHWC tensor ((N,1,L,C) for 1-D)."""
        if a.rank not in (3, 4):
            raise self.unsupported(f"input {self.node.input[i]!r} has rank {a.rank}; 1-D and 2-D (rank 3, 4) only")
        a = self.need_layout(a, channels_last_perm(a.rank), i)
        if a.rank == 4:
            return a.t
        n, c, length = a.shape
        return self.reshape(a.t, (n, 1, length, c), f"{self.out_name()}/in2d")

    def from_channels_last(self, t: Tensor, rank: int) -> Act:
        """Wrap an NHWC result as the ONNX (N,C,H,W) value, or (N,C,L) for a 1-D op."""
        n, h, w, c = t.shape
        if rank == 4:
            return Act(t, (n, c, h, w), (0, 2, 3, 1))
        t = self.reshape(t, (n, w, c), self.out_name())
        return Act(t, (n, c, w), (0, 2, 1))

    def align_const(self, c: np.ndarray, a: Act, what: str) -> np.ndarray:
        """An ONNX constant operand broadcast against ``a``, laid out like ``a``'s picoml tensor."""
        r = a.rank
        c = np.asarray(c)
        if not np.issubdtype(c.dtype, np.floating):
            raise self.unsupported(f"{what} has dtype {c.dtype}; picoml graphs are float32")
        if c.ndim > r:
            if any(d != 1 for d in c.shape[: c.ndim - r]):
                raise self.unsupported(f"{what} of shape {list(c.shape)} has more dimensions than {list(a.shape)}")
            c = c.reshape(c.shape[c.ndim - r :])
        c = c.reshape((1,) * (r - c.ndim) + c.shape)
        try:
            b = np.broadcast_shapes(c.shape, a.shape)
        except ValueError:
            raise self.unsupported(f"{what} of shape {list(c.shape)} does not broadcast to {list(a.shape)}") from None
        if tuple(b) != tuple(a.shape):
            raise self.unsupported(
                f"{what} of shape {list(c.shape)} would broadcast the run-time input {list(a.shape)} to {list(b)}"
            )
        if a.cols is not None:
            return c[:, a.cols] if c.shape[1] != 1 else c
        return c.transpose(a.perm)

    # ------------------------------------------------------------------ the walk
    def run(self, input_shapes: dict[str, tuple[int, ...]]) -> tuple[list[Tensor], list[Tensor]]:
        g = self.model.graph
        for init in g.initializer:
            self.values[init.name] = self.to_array(init)
        for init in g.sparse_initializer:
            raise UnsupportedError(f"{self.label}: sparse initializer {init.values.name!r} is not supported")
        inputs = []
        for vi in g.input:
            if vi.name in self.values:
                continue  # IR < 4 lists initializers as inputs too
            shape = input_shapes[vi.name]
            perm = channels_last_perm(len(shape))
            t = Tensor(self.unique(vi.name), tuple(shape[p] for p in perm))
            self.tensors.append(t)
            inputs.append(t)
            self.values[vi.name] = Act(t, tuple(shape), perm)
        for i, node in enumerate(g.node):
            self.node, self.node_index = node, i
            try:
                self.convert_node(node)
            except PicomlError:
                raise
            except (ValueError, IndexError, KeyError, TypeError, ArithmeticError) as e:
                # checker-valid but outside what this front-end understands (e.g. an out-of-range
                # Gather index in a shape chain): one line naming the node, never a traceback
                raise UnsupportedError(
                    f"{self.where()}: cannot be converted ({type(e).__name__}: {_first_line(e)})"
                ) from None
        self.node = None
        outputs = []
        for vo in g.output:
            v = self.values.get(vo.name)
            if not isinstance(v, Act):
                raise UnsupportedError(f"{self.label}: output {vo.name!r} is a constant; picoml needs computed outputs")
            r = self.relayout(v, channels_last_perm(v.rank))
            if r is None:
                raise UnsupportedError(
                    f"{self.label}: output {vo.name!r} of shape {list(v.shape)} is a flattened channels-last tensor "
                    "whose features picoml holds in another order than ONNX"
                )
            if r.t in inputs:
                raise UnsupportedError(f"{self.label}: output {vo.name!r} is a graph input; nothing to compute")
            self.rename(r.t, vo.name)
            outputs.append(r.t)
        return inputs, outputs

    def rename(self, t: Tensor, name: str) -> None:
        """Give graph outputs their ONNX names (swapping with the tensor that held the name)."""
        if t.name == name:
            return
        for other in self.tensors:
            if other.name == name:
                other.name = self.unique(name + "/pre")
        self.names.discard(t.name)
        self.names.add(name)
        t.name = name

    def convert_node(self, node) -> None:
        if node.domain not in ("", "ai.onnx"):
            raise self.unsupported(f"ops of domain {node.domain!r} are not supported")
        vals = [self.values.get(n) if n else None for n in node.input]
        for n in node.input:
            if n and n not in self.values:
                raise ModelFormatError(f"{self.where()}: input {n!r} is not produced before it is used")
        op = node.op_type
        all_const = all(not isinstance(v, Act) for v in vals)
        if all_const and op in self.folders:
            self.check_fold(op, vals)
            outs = self.folders[op](self, [v for v in vals])
            for i, v in enumerate(outs):
                if i < len(node.output) and node.output[i]:
                    self.values[node.output[i]] = v
            return
        if op in self.handlers:
            self.handlers[op](self)
            return
        if op in self.folders:
            raise self.unsupported("is supported only on constants (shape computations), not on run-time values")
        raise self.unsupported("is not supported (see picoml.frontends.onnx.supported_onnx_ops())")

    def check_fold(self, op: str, vals: list) -> None:
        """Refuse a constant fold whose result would exceed the memory limit, before numpy builds it:
        a few bytes of ConstantOfShape, Range, Expand or a broadcast can declare gigabytes."""
        arrays = [np.asarray(v) for v in vals if v is not None]
        try:
            if op == "ConstantOfShape":
                n = math.prod(int(d) for d in arrays[0].reshape(-1)) if arrays else 1
            elif op == "Range":
                start, end, step = (float(np.asarray(v).reshape(-1)[0]) for v in arrays[:3])
                n = max(math.ceil((end - start) / step), 0) if step else 0
            elif op == "Expand":
                n = math.prod(np.broadcast_shapes(arrays[0].shape, tuple(int(d) for d in arrays[1].reshape(-1))))
            elif op in ("Concat",):
                n = sum(a.size for a in arrays)
            elif op == "Gather":
                n = arrays[1].size * (arrays[0].size // max(arrays[0].shape[int(self.attrs().get("axis", 0))], 1))
            elif len(arrays) >= 2:  # elementwise folds broadcast their inputs
                n = math.prod(np.broadcast_shapes(*(a.shape for a in arrays)))
            else:
                n = max((a.size for a in arrays), default=0)
        except (ValueError, IndexError, OverflowError, TypeError, ZeroDivisionError):
            return  # malformed: the fold itself reports it
        if n * 8 > self.max_memory:
            raise UnsupportedError(
                f"{self.where()}: folding this {op} would build a constant of {n:,} elements, more than the "
                f"{size_text(self.max_memory)} memory limit (raise it with --max-memory or max_memory=)"
            )

    # ------------------------------------------------------------------ padding
    def padding(
        self,
        sizes: list[int],
        kernels: list[int],
        strides: list[int],
        dilations: list[int],
        at: dict[str, Any],
        ceil_mode: bool = False,
        pooling: bool = False,
    ) -> Pads:
        r = len(sizes)
        auto = at.get("auto_pad", "NOTSET") or "NOTSET"
        effs = [(k - 1) * d + 1 for k, d in zip(kernels, dilations, strict=True)]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            out = [(i + s - 1) // s for i, s in zip(sizes, strides, strict=True)]
            total = [max((o - 1) * s + e - i, 0) for o, s, e, i in zip(out, strides, effs, sizes, strict=True)]
            begin = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in total]
            end = [t - b for t, b in zip(total, begin, strict=True)]
        elif auto in ("VALID", "NOTSET"):
            pads = [int(p) for p in at.get("pads", [0] * (2 * r))] if auto == "NOTSET" else [0] * (2 * r)
            if len(pads) != 2 * r or any(p < 0 for p in pads):
                raise self.unsupported(f"pads {pads} must be {2 * r} non-negative values")
            begin, end = pads[:r], pads[r:]
            out = []
            for i, s, e, b, en in zip(sizes, strides, effs, begin, end, strict=True):
                span = i + b + en - e
                if span < 0:
                    raise self.unsupported(f"window of {e} does not fit the padded input of {i + b + en}")
                o = (-(-span // s) if ceil_mode else span // s) + 1
                if ceil_mode and (o - 1) * s >= i + b:
                    o -= 1  # ONNX (opset 19 text) and PyTorch: no window may start in the trailing padding
                out.append(o)
        else:
            raise self.unsupported(f"auto_pad {auto!r} is not supported")
        used = [
            max(0, (o - 1) * s + e - (i + b)) for o, s, e, i, b in zip(out, strides, effs, sizes, begin, strict=True)
        ]
        if pooling:  # a window of padding only has no ONNX value to match (a convolution gives its bias)
            for b, u, e in zip(begin, used, effs, strict=True):
                if b >= e or u >= e:
                    raise self.unsupported(f"padding {b}/{u} is as large as the window {e}: windows of pure padding")
        if r == 1:  # run as 2-D over (N, 1, L, C)
            sizes, kernels, strides, dilations = [1] + sizes, [1] + kernels, [1] + strides, [1] + dilations
        plan = plan_padding(sizes, kernels, strides, dilations, [0] * (2 - r) + begin, [1] * (2 - r) + out)
        return Pads(plan, begin, used, end)

    def spatial_attrs(self, at: dict[str, Any], r: int, kernels: list[int]) -> tuple[list[int], list[int]]:
        strides = [int(s) for s in at.get("strides", [1] * r)]
        dil = [int(d) for d in at.get("dilations", [1] * r)]
        if len(strides) != r or len(dil) != r or len(kernels) != r:
            raise self.unsupported(f"kernel {kernels}, strides {strides}, dilations {dil} must have {r} values")
        if any(s <= 0 for s in strides) or any(d <= 0 for d in dil):
            raise self.unsupported(f"strides {strides} and dilations {dil} must be positive")
        return strides, dil

    def nonnegative(self, t: Tensor) -> bool:
        """Whether ``t`` is ≥ 0 by construction (a ReLU-like producer, through data movement)."""
        prod = {id(o): op for op in self.ops for o in op.outputs}
        seen = 0
        while seen < 64:
            seen += 1
            op = prod.get(id(t))
            if op is None:
                return t.data is not None and bool((t.data >= 0).all())
            if op.type in NONNEGATIVE_OPS or op.attrs.get("fused_activation") in (OpType.RELU, OpType.RELU6):
                return True
            if op.type in (OpType.MAX_POOL_2D, OpType.AVERAGE_POOL_2D, OpType.RESHAPE, OpType.PAD, OpType.MEAN):
                t = op.inputs[0]
                continue
            return False
        return False

    def mean(self, x: Act, axes: list[int], keep: bool) -> Act:
        r = x.rank
        axes = sorted({a % r for a in axes})
        # with a permuted feature axis (cols) the mean over it does not depend on the order
        if x.cols is not None and 1 not in axes:
            x = self.need_layout(x, tuple(range(r)))
        paxes = [x.perm.index(a) for a in axes]
        y = self.emit_mean(x.t, paxes, keep, self.out_name())
        if keep:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
            return Act(y, shape, x.perm, x.cols if 1 not in axes else None)
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        kept = [p for p in x.perm if p not in axes]
        renum = {p: i for i, p in enumerate(sorted(kept))}
        return Act(y, shape, tuple(renum[p] for p in kept))

    def dense(self, a: Act, w: np.ndarray, bias: np.ndarray | None, keep_num_dims: bool) -> Act:
        """FULLY_CONNECTED over ONNX's last axis; ``w`` is [out, in] in ONNX feature order."""
        if w.shape[1] != a.shape[-1]:
            raise self.unsupported(f"weights {list(w.shape)} do not match input {list(a.shape)}")
        if a.rank == 2 and a.cols is not None:
            w = w[:, a.cols]  # picoml feature j is ONNX feature cols[j]
        elif a.perm[-1] != a.rank - 1:
            a = self.need_layout(a, tuple(range(a.rank)))
        name = self.out_name()
        y = self.emit_dense(a.t, w, bias, name, keep_num_dims=keep_num_dims)
        shape = tuple(a.shape[:-1]) + (w.shape[0],)
        if not keep_num_dims:
            return Act(y, shape, (0, 1))
        return Act(y, shape, a.perm)

    def unary(self, op_type: OpType) -> None:
        x = self.act(0)
        self.set_out(self.apply(op_type, x, self.out_name()))

    def apply(self, op_type: OpType, x: Act, name: str, *extra: Tensor) -> Act:
        y = self.emit(op_type, [x.t, *extra], name)
        return Act(y, x.shape, x.perm, x.cols)

    def match_layouts(self, a: Act, b: Act) -> tuple[Act, Act]:
        if a.rank != b.rank:
            raise self.unsupported(f"operands of rank {a.rank} and {b.rank}; picoml needs equal ranks here")
        same_cols = (a.cols is None and b.cols is None) or (
            a.cols is not None and b.cols is not None and np.array_equal(a.cols, b.cols)
        )
        if a.perm == b.perm and same_cols:
            return a, b
        for x, y in ((a, b), (b, a)):
            if x.cols is None:
                z = self.relayout(y, x.perm)
                if z is not None:
                    return (x, z) if x is a else (z, x)
        ident = tuple(range(a.rank))
        ra, rb = self.relayout(a, ident), self.relayout(b, ident)
        if ra is None or rb is None:
            raise self.unsupported("operands are in different transposed layouts; picoml cannot reconcile them")
        return ra, rb

    def add_acts(self, a: Act, b: Act, name: str) -> Act:
        return self._binary_acts(OpType.ADD, a, b, name)

    def mul_acts(self, a: Act, b: Act, name: str) -> Act:
        return self._binary_acts(OpType.MUL, a, b, name)

    def ordered_acts(self, op_type: OpType, a: Act, b: Act, name: str) -> Act:
        """op(a, b) of two run-time values in this order (SUB, DIV, MAXIMUM, MINIMUM)."""
        a, b = self.match_layouts(a, b)
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        lead = b if b.cols is not None and a.cols is None else a
        return Act(self.emit(op_type, [a.t, b.t], name), shape, lead.perm, lead.cols)

    def _binary_acts(self, op_type: OpType, a: Act, b: Act, name: str) -> Act:
        a, b = self.match_layouts(a, b)
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        if b.cols is not None and a.cols is None:
            a, b = b, a
        y = self.emit(op_type, [a.t, b.t], name)
        return Act(y, shape, a.perm, a.cols)

    def transposed(self, a: Act, tperm: tuple[int, ...]) -> Act:
        """ONNX Transpose as a relabelling: onnx_out axis i = onnx_in axis tperm[i]; no data moves."""
        if a.cols is not None:
            a = self.need_layout(a, tuple(range(a.rank)))
        inv = [0] * len(tperm)
        for i, p in enumerate(tperm):
            inv[p] = i
        shape = tuple(a.shape[p] for p in tperm)
        return Act(a.t, shape, tuple(inv[p] for p in a.perm))

    def reshape_act(self, x: Act, shape: tuple[int, ...]) -> Act:
        """ONNX row-major reshape of a run-time value into picoml's layout for the new rank."""
        shape = tuple(int(d) for d in shape)
        if math.prod(shape) != math.prod(x.shape):
            raise self.unsupported(f"cannot reshape {list(x.shape)} to {list(shape)}")
        name = self.out_name()
        if shape == x.shape:
            return x
        natural = x.cols is None and _nonunit(x.shape, x.perm) == sorted(_nonunit(x.shape, x.perm))
        if x.cols is not None and np.array_equal(x.cols, np.arange(x.cols.size)):
            natural = True
        if natural:
            # picoml holds the data in ONNX's row-major order (up to size-1 axes): any reshape is a RESHAPE
            for q in (channels_last_perm(len(shape)), tuple(range(len(shape)))):
                if _nonunit(shape, q) == sorted(_nonunit(shape, q)):
                    t = self.reshape(x.t, tuple(shape[p] for p in q), name)
                    return Act(t, shape, q)
        if len(shape) == 2 and x.perm[0] == 0 and x.cols is None and shape[0] == x.shape[0]:
            # flatten to (N, features): RESHAPE picoml's order and remember the feature permutation,
            # which the consuming dense layer absorbs into its weight columns
            inner = np.arange(math.prod(x.shape[1:]), dtype=np.int64).reshape(x.shape[1:])
            cols = inner.transpose([p - 1 for p in x.perm[1:]]).reshape(-1)
            t = self.reshape(x.t, shape, name)
            return Act(t, shape, (0, 1), cols)
        if x.cols is None:  # bring the data to ONNX's row-major order (a TRANSPOSE), then reshape
            return self.reshape_act(self.need_layout(x, tuple(range(x.rank))), shape)
        raise self.unsupported(
            f"reshaping {list(x.shape)} to {list(shape)} would need a gather of a flattened channels-last tensor"
        )

    def _axes(self, at: dict[str, Any]) -> list[int] | None:
        if self.opset >= 13:
            v = self.const_input(1, "axes", required=False)
            return None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]
        ax = at.get("axes")
        return None if ax is None else [int(a) for a in ax]
