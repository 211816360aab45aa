"""ONNX front-end: an ``.onnx`` file or ``onnx.ModelProto`` → a validated float32 ``Graph``, channels-last.

Why a converter and not a one-to-one op mapping: ONNX is channels-first (NCHW) and picoml, like
TFLite, is channels-last (NHWC) with no TRANSPOSE op. Every ONNX value that lives at run time is
therefore tracked as an ``_Act``: the picoml tensor that holds it plus the permutation relating
the two orders (``perm``: picoml axis ``k`` holds ONNX axis ``perm[k]``). Graph inputs and outputs
are channels-last ((N,C,H,W)→(N,H,W,C), (N,C,L)→(N,L,C), other ranks as is, see
``to_graph_layout``). An ONNX ``Transpose`` only changes ``perm`` and emits nothing; an op that
needs another order gets a RESHAPE when the permutation only moves size-1 axes, and an
``UnsupportedError`` otherwise. Flattening a channels-first tensor into a dense layer is the one
real reorder models need; it is absorbed by permuting the dense layer's weight columns
(``_Act.cols``) instead of moving data.

Everything that is known before run time is folded to numpy here: initializers, ``Constant``
nodes, and the Shape/Gather/Unsqueeze/Concat/Cast chains PyTorch's exporters emit for
``x.view(x.size(0), -1)`` (dynamic batch dimensions are fixed to 1 or ``input_shape`` first).

Three rewrites run on the picoml graph afterwards, each exact in intent and what TFLite's
converter does (the int8 quantizer relies on the fused activations):

- ``_fold_affine``: a per-channel MUL/ADD by a constant after CONV_2D, DEPTHWISE_CONV_2D or
  FULLY_CONNECTED goes into its weights and bias (BatchNormalization, MatMul+Add bias);
- ``_fuse_activations``: a RELU/RELU6 after CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or ADD
  becomes its ``fused_activation`` when nothing else reads the pre-activation value;
- ``_collapse_reshapes``: back-to-back RESHAPEs (1-D convolutions run as (N,1,L,C) 2-D ones)
  merge, and a RESHAPE that changes nothing disappears.

Operator semantics follow the ONNX operator specification (https://onnx.ai/onnx/operators/);
padding follows TFLite's ``ComputePaddingWithOffset`` (``picoml.graph.ops.same_padding``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from picoml.errors import GraphError, InputError, ModelFormatError, PicomlError, UnsupportedError
from picoml.frontends.lowering import from_graph_layout, to_graph_layout
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.limits import DEFAULT_MAX_MEMORY, check_memory
from picoml.graph.ops import default_attrs, infer_output_shapes
from picoml.untrusted import for_terminal, read_file, size_text

if TYPE_CHECKING:
    import onnx

__all__ = ["from_graph_layout", "from_onnx", "supported_onnx_ops", "to_graph_layout"]

F32 = np.float32


def _default_perm(rank: int) -> tuple[int, ...]:
    """The graph's layout for an ONNX rank: channels (ONNX axis 1) last for ranks 3 and 4."""
    if rank == 4:
        return (0, 2, 3, 1)
    if rank == 3:
        return (0, 2, 1)
    return tuple(range(rank))


def _nonunit(shape: tuple[int, ...], perm: tuple[int, ...]) -> list[int]:
    return [p for p in perm if shape[p] != 1]


@dataclass
class _Act:
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


_Value = np.ndarray | _Act


# ----------------------------------------------------------------------------- small helpers
def _need_onnx():
    try:
        import onnx
    except ImportError:
        raise PicomlError("reading ONNX models needs the onnx package: pip install 'picoml[onnx]'") from None
    return onnx


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


class _Padding:
    """Per spatial dim: ONNX output size, leading pad and the trailing pad the windows really read."""

    def __init__(self, out: list[int], begin: list[int], used_end: list[int], declared_end: list[int]) -> None:
        self.out, self.begin, self.used_end, self.declared_end = out, begin, used_end, declared_end

    def is_zero(self) -> bool:
        return not any(self.begin) and not any(self.used_end)

    def is_tflite_same(self, sizes: list[int], kernels: list[int], strides: list[int], dilations: list[int]) -> bool:
        """True when TFLite SAME reads exactly these pads (SAME puts an odd pad at the end)."""
        for i, k, s, d, o, b, e in zip(
            sizes, kernels, strides, dilations, self.out, self.begin, self.used_end, strict=True
        ):
            eff = (k - 1) * d + 1
            out_same = (i + s - 1) // s
            total = max((out_same - 1) * s + eff - i, 0)
            if o != out_same or b != total // 2 or e != total - total // 2:
                return False
        return True


# ----------------------------------------------------------------------------- the importer
class _Importer:
    def __init__(self, onnx_mod, model: onnx.ModelProto, label: str, max_memory: int = DEFAULT_MAX_MEMORY) -> None:
        self.onnx = onnx_mod
        self.model = model
        self.label = label
        self.max_memory = max_memory
        self.opset = 1
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = int(imp.version)
        self.values: dict[str, _Value] = {}
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.names: set[str] = set()
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
    def inp(self, i: int) -> _Value | None:
        ins = self.node.input
        if i >= len(ins) or not ins[i]:
            return None
        return self.values[ins[i]]

    def act(self, i: int) -> _Act:
        v = self.inp(i)
        if not isinstance(v, _Act):
            name = self.node.input[i] if i < len(self.node.input) else ""
            raise self.unsupported(
                f"input {i} {name!r} must be computed at run time (a constant is not supported here)"
            )
        return v

    def const(self, i: int, what: str, required: bool = True) -> np.ndarray | None:
        v = self.inp(i)
        if v is None:
            if required:
                raise self.unsupported(f"{what} (input {i}) is missing")
            return None
        if isinstance(v, _Act):
            raise self.unsupported(
                f"{what} {self.node.input[i]!r} must be constant (an initializer or Constant node) but is computed "
                "at run time"
            )
        return v

    def set_out(self, v: _Value, i: int = 0) -> None:
        name = self.node.output[i]
        if isinstance(v, _Act):
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
    def unique(self, name: str) -> str:
        base = name or "t"
        n, k = base, 1
        while n in self.names:
            n = f"{base}_{k}"
            k += 1
        self.names.add(n)
        return n

    def const_tensor(self, name: str, data: np.ndarray, dtype: str = "float32") -> Tensor:
        arr = np.ascontiguousarray(np.asarray(data).astype(dtype))
        t = Tensor(self.unique(name), arr.shape, dtype, data=arr)
        self.tensors.append(t)
        return t

    def emit(self, op_type: str, inputs: list[Tensor | None], name: str, **attrs: Any) -> Tensor:
        a = default_attrs(op_type)
        a.update(attrs)
        out = Tensor(self.unique(name), ())
        op = Op(op_type, inputs, [out], a, name=self.node.name if self.node is not None and self.node.name else "")
        try:
            out.shape = tuple(infer_output_shapes(op)[0])
        except PicomlError as e:
            raise GraphError(f"{self.where()}: {e}") from None
        self.tensors.append(out)
        self.ops.append(op)
        return out

    def reshape(self, t: Tensor, shape: tuple[int, ...], name: str) -> Tensor:
        if tuple(t.shape) == tuple(shape):
            return t
        s = self.const_tensor(f"{name}/shape", np.array(shape, np.int32), "int32")
        return self.emit("RESHAPE", [t, s], name, new_shape=tuple(int(d) for d in shape))

    def out_name(self, i: int = 0) -> str:
        return self.node.output[i]

    # ------------------------------------------------------------------ layouts
    def relayout(self, a: _Act, perm: tuple[int, ...]) -> _Act | None:
        """``a`` in layout ``perm`` via a RESHAPE when only size-1 axes move; None when a TRANSPOSE is needed."""
        if a.cols is not None:
            if not np.array_equal(a.cols, np.arange(a.cols.size)):
                return None
            a = _Act(a.t, a.shape, a.perm)
        if tuple(a.perm) == tuple(perm):
            return a
        if _nonunit(a.shape, a.perm) != _nonunit(a.shape, perm):
            return None
        t = self.reshape(a.t, a.pshape(perm), f"{a.t.name}/relayout")
        return _Act(t, a.shape, tuple(perm))

    def need_layout(self, a: _Act, perm: tuple[int, ...], i: int = 0) -> _Act:
        r = self.relayout(a, perm)
        if r is None:
            name = self.node.input[i] if self.node is not None else a.t.name
            raise self.unsupported(
                f"input {name!r} reaches this node in a transposed layout picoml cannot undo "
                "(it has no TRANSPOSE op): only Transposes that cancel out or move size-1 axes are supported"
            )
        return r

    def to_channels_last(self, a: _Act, i: int = 0) -> Tensor:
        """A rank-3 (N,C,L) or rank-4 (N,C,H,W) input as a picoml NHWC tensor ((N,1,L,C) for 1-D)."""
        if a.rank not in (3, 4):
            raise self.unsupported(f"input {self.node.input[i]!r} has rank {a.rank}; 1-D and 2-D (rank 3, 4) only")
        a = self.need_layout(a, _default_perm(a.rank), i)
        if a.rank == 4:
            return a.t
        n, c, length = a.shape
        return self.reshape(a.t, (n, 1, length, c), f"{self.out_name()}/in2d")

    def from_channels_last(self, t: Tensor, rank: int) -> _Act:
        """Wrap an NHWC result as the ONNX (N,C,H,W) value, or (N,C,L) for a 1-D op."""
        n, h, w, c = t.shape
        if rank == 4:
            return _Act(t, (n, c, h, w), (0, 2, 3, 1))
        t = self.reshape(t, (n, w, c), self.out_name())
        return _Act(t, (n, c, w), (0, 2, 1))

    def align_const(self, c: np.ndarray, a: _Act, what: str) -> np.ndarray:
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
            perm = _default_perm(len(shape))
            t = Tensor(self.unique(vi.name), tuple(shape[p] for p in perm))
            self.tensors.append(t)
            inputs.append(t)
            self.values[vi.name] = _Act(t, tuple(shape), perm)
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
            if not isinstance(v, _Act):
                raise UnsupportedError(f"{self.label}: output {vo.name!r} is a constant; picoml needs computed outputs")
            r = self.relayout(v, _default_perm(v.rank))
            if r is None:
                raise UnsupportedError(
                    f"{self.label}: output {vo.name!r} of shape {list(v.shape)} is in a transposed layout that "
                    "picoml cannot bring to channels-last without a TRANSPOSE op"
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
        all_const = all(not isinstance(v, _Act) for v in vals)
        if all_const and op in _FOLDERS:
            self.check_fold(op, vals)
            outs = _FOLDERS[op](self, [v for v in vals])
            for i, v in enumerate(outs):
                if i < len(node.output) and node.output[i]:
                    self.values[node.output[i]] = v
            return
        if op in _HANDLERS:
            _HANDLERS[op](self)
            return
        if op in _FOLDERS:
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
    ) -> _Padding:
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
        return _Padding(out, begin, used, end)

    def emit_pad(self, t: Tensor, p: _Padding) -> Tensor:
        """PAD with zeros so that a VALID window reads exactly the ONNX windows."""
        begin, end = list(p.begin), list(p.used_end)
        if len(begin) == 1:  # 1-D run as (N, 1, L, C)
            begin, end = [0] + begin, [0] + end
        pads = np.array([[0, 0], [begin[0], end[0]], [begin[1], end[1]], [0, 0]], np.int32)
        pt = self.const_tensor(f"{self.out_name()}/paddings", pads, "int32")
        return self.emit("PAD", [t, pt], f"{self.out_name()}/pad")

    def spatial_attrs(self, at: dict[str, Any], r: int, kernels: list[int]) -> tuple[list[int], list[int]]:
        strides = [int(s) for s in at.get("strides", [1] * r)]
        dil = [int(d) for d in at.get("dilations", [1] * r)]
        if len(strides) != r or len(dil) != r or len(kernels) != r:
            raise self.unsupported(f"kernel {kernels}, strides {strides}, dilations {dil} must have {r} values")
        if any(s <= 0 for s in strides) or any(d <= 0 for d in dil):
            raise self.unsupported(f"strides {strides} and dilations {dil} must be positive")
        return strides, dil

    # ================================================================== op handlers
    def op_conv(self) -> None:
        x = self.act(0)
        w = self.const(1, "weights")
        b = self.const(2, "bias", required=False)
        at = self.attrs()
        r = x.rank - 2
        if r not in (1, 2) or w.ndim != r + 2:
            raise self.unsupported(f"only 1-D and 2-D convolutions are supported (input {list(x.shape)})")
        w = np.asarray(w, F32)
        c = x.shape[1]
        m = w.shape[0]
        kernels = [int(k) for k in at.get("kernel_shape", w.shape[2:])]
        if tuple(kernels) != tuple(w.shape[2:]):
            raise self.unsupported(f"kernel_shape {kernels} differs from the weights' {list(w.shape[2:])}")
        group = int(at.get("group", 1))
        if group <= 0 or c % group or m % group or w.shape[1] * group != c:
            raise self.unsupported(f"group {group} does not fit {c} input channels and weights {list(w.shape)}")
        strides, dil = self.spatial_attrs(at, r, kernels)
        t = self.to_channels_last(x)
        pad = self.padding(list(x.shape[2:]), kernels, strides, dil, at)
        padding = "VALID"
        if not pad.is_zero():
            if pad.is_tflite_same(list(x.shape[2:]), kernels, strides, dil):
                padding = "SAME"
            else:  # PyTorch-style symmetric or asymmetric pads: explicit zeros, then VALID windows
                t = self.emit_pad(t, pad)
        if r == 1:  # run as a 2-D convolution over (N, 1, L, C)
            w = w[:, :, None, :]
            strides, dil = [1] + strides, [1] + dil
        bias = np.zeros(m, F32) if b is None else np.asarray(b, F32).reshape(-1)
        if bias.size != m:
            raise self.unsupported(f"bias has {bias.size} values for {m} output channels")
        name = self.out_name()
        common = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], dilation_h=dil[0], dilation_w=dil[1])
        if group > 1 and group == c:
            # depthwise (with multiplier): ONNX output channel g·mult + k is TFLite's ic·depth_multiplier + k
            wt = self.const_tensor(f"{name}/weights", w.transpose(1, 2, 3, 0))  # (M,1,kh,kw) → 1HWO
            bt = self.const_tensor(f"{name}/bias", bias)
            y = self.emit(
                "DEPTHWISE_CONV_2D", [t, wt, bt], name if r == 2 else f"{name}/2d", **common, depth_multiplier=m // c
            )
        else:
            # grouped convolution: TFLite splits filters evenly over input-channel groups, as ONNX does
            wt = self.const_tensor(f"{name}/weights", w.transpose(0, 2, 3, 1))  # OIHW → OHWI
            bt = self.const_tensor(f"{name}/bias", bias)
            y = self.emit("CONV_2D", [t, wt, bt], name if r == 2 else f"{name}/2d", **common)
        self.set_out(self.from_channels_last(y, x.rank))

    def op_pool(self) -> None:
        x = self.act(0)
        at = self.attrs()
        kind = self.node.op_type
        self.unused_outputs(1)
        r = x.rank - 2
        if r not in (1, 2):
            raise self.unsupported(f"only 1-D and 2-D pooling is supported (input {list(x.shape)})")
        kernels = [int(k) for k in at.get("kernel_shape", [])]
        strides, dil = self.spatial_attrs(at, r, kernels)
        if any(d != 1 for d in dil):
            raise self.unsupported(f"dilations {dil} are not supported in pooling")
        if int(at.get("storage_order", 0)) != 0:
            raise self.unsupported("storage_order=1 is not supported")
        ceil_mode = bool(int(at.get("ceil_mode", 0)))
        sizes = list(x.shape[2:])
        pad = self.padding(sizes, kernels, strides, dil, at, ceil_mode, pooling=True)
        t = self.to_channels_last(x)
        padding = "VALID"
        if not pad.is_zero():
            same = pad.is_tflite_same(sizes, kernels, strides, dil)
            if kind == "MaxPool":
                # TFLite's max pool ignores SAME padding (like -inf); a zero PAD is exact only when
                # the input cannot be negative (it follows a ReLU), since every window holds a real value.
                if same:
                    padding = "SAME"
                elif self.nonnegative(t):
                    t = self.emit_pad(t, pad)
                else:
                    raise self.unsupported(
                        f"pads (begin {pad.begin}, end {pad.used_end}) differ from TFLite SAME and the input may be "
                        "negative; TFLite max pooling cannot pad with -inf"
                    )
            elif int(at.get("count_include_pad", 0)):
                # padded zeros count in the average: a zero PAD and VALID windows compute exactly that,
                # as long as no window runs past the declared padding (ceil_mode overhang is not counted)
                if any(u > e for u, e in zip(pad.used_end, pad.declared_end, strict=True)):
                    raise self.unsupported("count_include_pad=1 with ceil_mode windows past the padding")
                t = self.emit_pad(t, pad)
            elif same:
                padding = "SAME"  # TFLite averages over the valid taps only: count_include_pad=0
            else:
                raise self.unsupported(
                    f"pads (begin {pad.begin}, end {pad.used_end}) with count_include_pad=0 differ from TFLite SAME "
                    "padding; TFLite averages only the valid taps with SAME padding, so no exact lowering exists"
                )
        if r == 1:
            kernels, strides = [1] + kernels, [1] + strides
        op_type = "MAX_POOL_2D" if kind == "MaxPool" else "AVERAGE_POOL_2D"
        y = self.emit(
            op_type,
            [t],
            self.out_name() if r == 2 else f"{self.out_name()}/2d",
            padding=padding,
            filter_h=kernels[0],
            filter_w=kernels[1],
            stride_h=strides[0],
            stride_w=strides[1],
        )
        self.set_out(self.from_channels_last(y, x.rank))

    def nonnegative(self, t: Tensor) -> bool:
        """Whether ``t`` is ≥ 0 by construction (a ReLU-like producer, through data movement)."""
        prod = {id(o): op for op in self.ops for o in op.outputs}
        seen = 0
        while seen < 64:
            seen += 1
            op = prod.get(id(t))
            if op is None:
                return t.data is not None and bool((t.data >= 0).all())
            if op.type in ("RELU", "RELU6", "LOGISTIC") or op.attrs.get("fused_activation") in ("RELU", "RELU6"):
                return True
            if op.type in ("MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "PAD", "MEAN"):
                t = op.inputs[0]
                continue
            return False
        return False

    def op_global_pool(self) -> None:
        x = self.act(0)
        if x.rank < 3:
            raise self.unsupported(f"input {list(x.shape)} has no spatial axes")
        if self.node.op_type == "GlobalAveragePool":
            self.set_out(self.mean(x, list(range(2, x.rank)), True))
            return
        t = self.to_channels_last(x)
        h, w = t.shape[1], t.shape[2]
        y = self.emit(
            "MAX_POOL_2D",
            [t],
            self.out_name() if x.rank == 4 else f"{self.out_name()}/2d",
            padding="VALID",
            filter_h=h,
            filter_w=w,
            stride_h=1,
            stride_w=1,
        )
        self.set_out(self.from_channels_last(y, x.rank))

    def mean(self, x: _Act, axes: list[int], keep: bool) -> _Act:
        r = x.rank
        axes = sorted({a % r for a in axes})
        # with a permuted feature axis (cols) the mean over it does not depend on the order
        if x.cols is not None and 1 not in axes:
            x = self.need_layout(x, tuple(range(r)))
        paxes = [x.perm.index(a) for a in axes]
        at = self.const_tensor(f"{self.out_name()}/axes", np.array(sorted(paxes), np.int32), "int32")
        y = self.emit("MEAN", [x.t, at], self.out_name(), keep_dims=keep)
        if keep:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
            return _Act(y, shape, x.perm, x.cols if 1 not in axes else None)
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        kept = [p for p in x.perm if p not in axes]
        renum = {p: i for i, p in enumerate(sorted(kept))}
        return _Act(y, shape, tuple(renum[p] for p in kept))

    def op_reduce_mean(self) -> None:
        x = self.act(0)
        at = self.attrs()
        if self.opset >= 18:
            axes_v = self.const(1, "axes", required=False)
            axes = None if axes_v is None else [int(a) for a in np.asarray(axes_v).reshape(-1)]
        else:
            axes = at.get("axes")
        keep = bool(int(at.get("keepdims", 1)))
        if not axes:
            if int(at.get("noop_with_empty_axes", 0)):
                self.set_out(x)
                return
            axes = list(range(x.rank))
        self.set_out(self.mean(x, [int(a) for a in axes], keep))

    def op_gemm(self) -> None:
        at = self.attrs()
        a = self.act(0)
        w = self.const(1, "weights")
        if a.rank != 2 or np.ndim(w) != 2:
            raise self.unsupported(f"Gemm needs 2-D operands, has {list(a.shape)} and {list(np.shape(w))}")
        if int(at.get("transA", 0)):
            a = self.need_layout(self.transposed(a, (1, 0)), (0, 1))
        w = np.asarray(w, np.float64)
        w = w if int(at.get("transB", 0)) else w.T  # → [out, in]
        alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
        if alpha != 1.0:
            w = w * alpha
        cv = self.inp(2)
        bias = None
        if cv is not None and not isinstance(cv, _Act) and beta != 0.0:
            c = np.asarray(cv, np.float64)
            rows = np.broadcast_to(c, (a.shape[0], w.shape[0])) if c.ndim <= 2 else None
            if rows is None or not (rows == rows[:1]).all():
                raise self.unsupported(f"C of shape {list(c.shape)} is not a per-output bias")
            bias = rows[0] * beta
        y = self.dense(a, w, bias, keep_num_dims=False)
        if isinstance(cv, _Act) and beta != 0.0:
            if beta != 1.0:
                s = self.const_tensor(f"{self.out_name()}/beta", np.full((1,) * cv.rank, beta))
                cv = _Act(self.emit("MUL", [cv.t, s], f"{self.out_name()}/beta_c"), cv.shape, cv.perm, cv.cols)
            y = self.add_acts(y, cv, self.out_name())
        self.set_out(y)

    def op_matmul(self) -> None:
        a = self.inp(0)
        w = self.inp(1)
        if not isinstance(a, _Act) or isinstance(w, _Act):
            raise self.unsupported(
                "only MatMul of a run-time input by constant weights is supported "
                f"({self.node.input[0]!r} × {self.node.input[1]!r}); non-constant weights need a MATMUL op picoml lacks"
            )
        if np.ndim(w) != 2 or a.rank < 2:
            raise self.unsupported(f"MatMul of {list(a.shape)} by weights {list(np.shape(w))} is not supported")
        self.set_out(self.dense(a, np.asarray(w, np.float64).T, None, keep_num_dims=a.rank > 2))

    def dense(self, a: _Act, w: np.ndarray, bias: np.ndarray | None, keep_num_dims: bool) -> _Act:
        """FULLY_CONNECTED over ONNX's last axis; ``w`` is [out, in] in ONNX feature order."""
        if w.shape[1] != a.shape[-1]:
            raise self.unsupported(f"weights {list(w.shape)} do not match input {list(a.shape)}")
        if a.rank == 2 and a.cols is not None:
            w = w[:, a.cols]  # picoml feature j is ONNX feature cols[j]
        elif a.perm[-1] != a.rank - 1:
            a = self.need_layout(a, tuple(range(a.rank)))
        name = self.out_name()
        wt = self.const_tensor(f"{name}/weights", w)
        bt = self.const_tensor(f"{name}/bias", bias) if bias is not None else None
        y = self.emit("FULLY_CONNECTED", [a.t, wt, bt], name, keep_num_dims=keep_num_dims)
        shape = tuple(a.shape[:-1]) + (w.shape[0],)
        if not keep_num_dims:
            return _Act(y, shape, (0, 1))
        return _Act(y, shape, a.perm)

    # ------------------------------------------------------------------ elementwise
    def unary(self, op_type: str) -> None:
        x = self.act(0)
        self.set_out(self.apply(op_type, x, self.out_name()))

    def apply(self, op_type: str, x: _Act, name: str, *extra: Tensor) -> _Act:
        y = self.emit(op_type, [x.t, *extra], name)
        return _Act(y, x.shape, x.perm, x.cols)

    def scalar(self, x: _Act, v: float, name: str) -> Tensor:
        return self.const_tensor(name, np.full((1,) * len(x.t.shape), v, F32))

    def op_clip(self) -> None:
        x = self.act(0)
        at = self.attrs()
        if self.opset < 11:
            lo, hi = at.get("min", -np.inf), at.get("max", np.inf)
        else:
            lo_v = self.const(1, "min", required=False)
            hi_v = self.const(2, "max", required=False)
            lo = -np.inf if lo_v is None else float(np.asarray(lo_v).reshape(-1)[0])
            hi = np.inf if hi_v is None else float(np.asarray(hi_v).reshape(-1)[0])
        lo, hi = float(lo), float(hi)
        if lo == 0.0 and hi == 6.0:
            self.unary("RELU6")
        elif lo == 0.0 and hi == np.inf:
            self.unary("RELU")
        elif lo == -np.inf and hi == np.inf:
            self.set_out(x)
        else:
            raise self.unsupported(f"Clip({lo:g}, {hi:g}) is not supported; only Clip(0, 6) and Clip(0, +inf)")

    def op_leaky_relu(self) -> None:
        """LeakyRelu (x ≥ 0 ? x : αx, α default 0.01) → LEAKY_RELU; α is a float32 in both formats."""
        x = self.act(0)
        alpha = float(np.float32(self.attrs().get("alpha", 0.01)))
        y = self.emit("LEAKY_RELU", [x.t], self.out_name(), alpha=alpha)
        self.set_out(_Act(y, x.shape, x.perm, x.cols))

    def op_hard_sigmoid(self) -> None:
        """max(0, min(1, αx + β)) = RELU6(6αx + 6β) / 6; PyTorch's α = 1/6, β = 1/2 needs no MUL by 6α."""
        x = self.act(0)
        at = self.attrs()
        alpha, beta = float(at.get("alpha", 0.2)), float(at.get("beta", 0.5))
        self.set_out(self.hard_sigmoid(x, alpha, beta, self.out_name()))

    def hard_sigmoid(self, x: _Act, alpha: float, beta: float, name: str) -> _Act:
        y = x
        if not math.isclose(6.0 * alpha, 1.0, rel_tol=1e-6):
            y = self.apply("MUL", y, f"{name}/scaled", self.scalar(x, 6.0 * alpha, f"{name}/6alpha"))
        y = self.apply("ADD", y, f"{name}/shifted", self.scalar(x, 6.0 * beta, f"{name}/6beta"))
        y = self.apply("RELU6", y, f"{name}/relu6")
        return self.apply("MUL", y, name, self.scalar(x, 1.0 / 6.0, f"{name}/sixth"))

    def op_hard_swish(self) -> None:
        """HardSwish(x) = x · HardSigmoid(x) with α = 1/6, β = 1/2 (ONNX spec)."""
        x = self.act(0)
        name = self.out_name()
        h = self.hard_sigmoid(x, 1.0 / 6.0, 0.5, f"{name}/hsig")
        self.set_out(_Act(self.emit("MUL", [x.t, h.t], name), x.shape, x.perm, x.cols))

    def op_softmax(self) -> None:
        x = self.act(0)
        at = self.attrs()
        axis = int(at.get("axis", -1 if self.opset >= 13 else 1)) % x.rank
        if self.opset < 13 and any(d != 1 for d in x.shape[axis + 1 :]):
            # opset < 13 normalizes over all axes from `axis` on (flattened); equal to one axis only here
            raise self.unsupported(f"softmax over the flattened axes {axis}.. of {list(x.shape)} is not supported")
        cands = [x.perm, _default_perm(x.rank), tuple(range(x.rank))]
        for perm in cands:
            if perm[-1] != axis:
                continue
            y = x if x.perm == perm else self.relayout(x, perm)
            if y is not None:
                self.set_out(self.apply_softmax(y))
                return
        raise self.unsupported(f"softmax over axis {axis} needs a TRANSPOSE in picoml's layout")

    def apply_softmax(self, x: _Act) -> _Act:
        y = self.emit("SOFTMAX", [x.t], self.out_name(), beta=1.0)
        return _Act(y, x.shape, x.perm, x.cols)

    def op_binary(self) -> None:
        kind = self.node.op_type
        a, b = self.inp(0), self.inp(1)
        name = self.out_name()
        if isinstance(a, _Act) and isinstance(b, _Act):
            if kind == "Add":
                self.set_out(self.add_acts(a, b, name))
            elif kind == "Mul":
                self.set_out(self.mul_acts(a, b, name))
            elif kind == "Sub":  # a - b = a + (-1)·b exactly: negation is exact in IEEE arithmetic
                nb = self.apply("MUL", b, f"{name}/neg", self.scalar(b, -1.0, f"{name}/minus1"))
                self.set_out(self.add_acts(a, nb, name))
            else:
                raise self.unsupported("division of two run-time values is not supported (no DIV op)")
            return
        if isinstance(a, _Act):
            x, c, const_first = a, np.asarray(b), False
        else:
            x, c, const_first = b, np.asarray(a), True
        what = f"constant {self.node.input[0 if const_first else 1]!r}"
        ca = self.align_const(c, x, what)
        if kind == "Add":
            self.set_out(self.apply("ADD", x, name, self.const_tensor(f"{name}/const", ca)))
        elif kind == "Mul":
            self.set_out(self.apply("MUL", x, name, self.const_tensor(f"{name}/const", ca)))
        elif kind == "Sub" and not const_first:
            self.set_out(self.apply("ADD", x, name, self.const_tensor(f"{name}/const", -ca.astype(np.float64))))
        elif kind == "Sub":  # c - x = (-1)·x + c
            nx = self.apply("MUL", x, f"{name}/neg", self.scalar(x, -1.0, f"{name}/minus1"))
            self.set_out(self.apply("ADD", nx, name, self.const_tensor(f"{name}/const", ca)))
        elif kind == "Div" and not const_first:
            # x / c as x · (1/c): not bit-identical to a division (one extra float32 rounding of 1/c)
            self.set_out(self.apply("MUL", x, name, self.const_tensor(f"{name}/const", 1.0 / ca.astype(np.float64))))
        else:
            raise self.unsupported("dividing a constant by a run-time value is not supported (no DIV op)")

    def match_layouts(self, a: _Act, b: _Act) -> tuple[_Act, _Act]:
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

    def add_acts(self, a: _Act, b: _Act, name: str) -> _Act:
        return self._binary_acts("ADD", a, b, name)

    def mul_acts(self, a: _Act, b: _Act, name: str) -> _Act:
        return self._binary_acts("MUL", a, b, name)

    def _binary_acts(self, op_type: str, a: _Act, b: _Act, name: str) -> _Act:
        a, b = self.match_layouts(a, b)
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        if b.cols is not None and a.cols is None:
            a, b = b, a
        y = self.emit(op_type, [a.t, b.t], name)
        return _Act(y, shape, a.perm, a.cols)

    def op_batchnorm(self) -> None:
        x = self.act(0)
        at = self.attrs()
        self.unused_outputs(1)
        if int(at.get("training_mode", 0)):
            raise self.unsupported("training_mode=1 is not supported; export the model in eval mode")
        if self.opset < 9 and not int(at.get("spatial", 1)):
            raise self.unsupported("spatial=0 is not supported")
        scale, bias, mean, var = (
            np.asarray(self.const(i, w), np.float64) for i, w in ((1, "scale"), (2, "B"), (3, "mean"), (4, "var"))
        )
        if x.rank < 2:
            raise self.unsupported(f"input {list(x.shape)} has no channel axis")
        c = x.shape[1]
        if any(v.size != c for v in (scale, bias, mean, var)):
            raise self.unsupported(f"statistics do not have {c} values")
        eps = float(at.get("epsilon", 1e-5))
        # y = (x - mean) / sqrt(var + eps) · scale + B = x · s + t (ONNX spec), folded later into a
        # preceding convolution or dense layer when there is one
        s = scale / np.sqrt(var + np.float32(eps).astype(np.float64))
        t = bias - mean * s
        shp = (1, c) + (1,) * (x.rank - 2)
        name = self.out_name()
        y = self.apply(
            "MUL", x, f"{name}/scale", self.const_tensor(f"{name}/s", self.align_const(s.reshape(shp), x, "s"))
        )
        self.set_out(
            self.apply("ADD", y, name, self.const_tensor(f"{name}/t", self.align_const(t.reshape(shp), x, "t")))
        )

    def op_concat(self) -> None:
        at = self.attrs()
        vals = [self.inp(i) for i in range(len(self.node.input))]
        acts = [v for v in vals if isinstance(v, _Act)]
        first = acts[0]
        r = first.rank
        axis = int(at["axis"]) % r
        name = self.out_name()
        use_cols = r == 2 and axis == 1 and any(a.cols is not None for a in acts)
        perm = first.perm if first.cols is None else (0, 1)
        tensors: list[Tensor] = []
        cols: list[np.ndarray] = []
        offset = 0
        for i, v in enumerate(vals):
            if isinstance(v, _Act):
                if use_cols:
                    a = v
                    if a.perm != (0, 1):
                        a = self.need_layout(a, (0, 1), i)
                    cols.append((a.cols if a.cols is not None else np.arange(a.shape[1])) + offset)
                else:
                    a = self.need_layout(v, perm, i)
                tensors.append(a.t)
                offset += v.shape[axis]
            else:
                if np.ndim(v) != r:
                    raise self.unsupported(f"constant input {i} has rank {np.ndim(v)}, expected {r}")
                c = np.asarray(v, F32)
                if use_cols:
                    cols.append(np.arange(c.shape[1]) + offset)
                    tensors.append(self.const_tensor(f"{name}/const{i}", c))
                else:
                    tensors.append(self.const_tensor(f"{name}/const{i}", c.transpose(perm)))
                offset += c.shape[axis]
        shape = list(first.shape)
        shape[axis] = offset
        if use_cols:
            y = self.emit("CONCATENATION", tensors, name, axis=1)
            self.set_out(_Act(y, tuple(shape), (0, 1), np.concatenate(cols)))
            return
        y = self.emit("CONCATENATION", tensors, name, axis=perm.index(axis))
        self.set_out(_Act(y, tuple(shape), perm))

    # ------------------------------------------------------------------ shapes and layouts
    def transposed(self, a: _Act, tperm: tuple[int, ...]) -> _Act:
        """ONNX Transpose as a relabelling: onnx_out axis i = onnx_in axis tperm[i]; no data moves."""
        if a.cols is not None:
            a = self.need_layout(a, tuple(range(a.rank)))
        inv = [0] * len(tperm)
        for i, p in enumerate(tperm):
            inv[p] = i
        shape = tuple(a.shape[p] for p in tperm)
        return _Act(a.t, shape, tuple(inv[p] for p in a.perm))

    def op_transpose(self) -> None:
        x = self.act(0)
        at = self.attrs()
        tperm = tuple(int(p) for p in at.get("perm", range(x.rank - 1, -1, -1)))
        if sorted(tperm) != list(range(x.rank)):
            raise self.unsupported(f"perm {list(tperm)} is not a permutation of {x.rank} axes")
        self.set_out(self.transposed(x, tperm))

    def reshape_act(self, x: _Act, shape: tuple[int, ...]) -> _Act:
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
            for q in (_default_perm(len(shape)), tuple(range(len(shape)))):
                if _nonunit(shape, q) == sorted(_nonunit(shape, q)):
                    t = self.reshape(x.t, tuple(shape[p] for p in q), name)
                    return _Act(t, shape, q)
        if len(shape) == 2 and x.perm[0] == 0 and x.cols is None and shape[0] == x.shape[0]:
            # flatten to (N, features): RESHAPE picoml's order and remember the feature permutation,
            # which the consuming dense layer absorbs into its weight columns
            inner = np.arange(math.prod(x.shape[1:]), dtype=np.int64).reshape(x.shape[1:])
            cols = inner.transpose([p - 1 for p in x.perm[1:]]).reshape(-1)
            t = self.reshape(x.t, shape, name)
            return _Act(t, shape, (0, 1), cols)
        raise self.unsupported(
            f"reshaping {list(x.shape)} to {list(shape)} would need a TRANSPOSE of picoml's channels-last data"
        )

    def op_reshape(self) -> None:
        x = self.act(0)
        at = self.attrs()
        op = self.node.op_type
        if op == "Flatten":
            ax = int(at.get("axis", 1)) % (x.rank + 1) if x.rank else 0
            shape = (math.prod(x.shape[:ax]), math.prod(x.shape[ax:]))
        elif op == "Reshape":
            s = self.const(1, "shape")
            shape = _reshape_target(x.shape, s, bool(int(at.get("allowzero", 0))), self)
        elif op == "Unsqueeze":
            shape = _unsqueeze_shape(x.shape, self._axes(at), self)
        else:  # Squeeze
            shape = _squeeze_shape(x.shape, self._axes(at), self)
        self.set_out(self.reshape_act(x, shape))

    def _axes(self, at: dict[str, Any]) -> list[int] | None:
        if self.opset >= 13:
            v = self.const(1, "axes", required=False)
            return None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]
        ax = at.get("axes")
        return None if ax is None else [int(a) for a in ax]

    def op_pad(self) -> None:
        x = self.act(0)
        at = self.attrs()
        if (at.get("mode", "constant") or "constant") != "constant":
            raise self.unsupported(f"mode {at.get('mode')!r} is not supported; only constant padding")
        if self.opset >= 11:
            pads = [int(p) for p in np.asarray(self.const(1, "pads")).reshape(-1)]
            cv = self.const(2, "constant_value", required=False)
            value = 0.0 if cv is None else float(np.asarray(cv).reshape(-1)[0])
            axes_v = self.const(3, "axes", required=False)
            axes = list(range(x.rank)) if axes_v is None else [int(a) % x.rank for a in np.asarray(axes_v).reshape(-1)]
        else:
            pads = [int(p) for p in at.get("pads", at.get("paddings", []))]
            value = float(at.get("value", 0.0))
            axes = list(range(x.rank))
        if value != 0.0:
            raise self.unsupported(f"padding with {value:g} is not supported; PAD pads with zeros")
        k = len(axes)
        if len(pads) != 2 * k or any(p < 0 for p in pads):
            raise self.unsupported(f"pads {pads} must be {2 * k} non-negative values (cropping is not supported)")
        full = [[0, 0] for _ in range(x.rank)]
        for i, a in enumerate(axes):
            full[a] = [pads[i], pads[i + k]]
        if x.cols is not None and any(full[1]):
            x = self.need_layout(x, (0, 1))
        p = np.array([full[a] for a in x.perm], np.int32)
        pt = self.const_tensor(f"{self.out_name()}/paddings", p, "int32")
        y = self.emit("PAD", [x.t, pt], self.out_name())
        shape = tuple(d + lo + hi for d, (lo, hi) in zip(x.shape, full, strict=True))
        self.set_out(_Act(y, shape, x.perm, x.cols))

    def op_identity(self) -> None:
        if self.node.op_type == "Dropout":
            self.unused_outputs(1)
            tm = self.inp(2)
            if tm is not None and (isinstance(tm, _Act) or bool(np.asarray(tm).reshape(-1)[0])):
                raise self.unsupported("training_mode must be a constant false")
        self.set_out(self.inp(0))

    def op_cast(self) -> None:
        to = int(self.attrs().get("to", 0))
        if to != self.onnx.TensorProto.FLOAT:
            raise self.unsupported("casting a run-time value to a type other than float32 is not supported")
        self.set_out(self.inp(0))

    def op_shape(self) -> None:
        x = self.inp(0)
        shape = x.shape if isinstance(x, _Act) else np.shape(x)
        at = self.attrs()
        if self.node.op_type == "Size":
            self.values[self.out_name()] = np.array(math.prod(shape), np.int64)
            return
        start, end = int(at.get("start", 0)), at.get("end")
        self.values[self.out_name()] = np.array(shape[slice(start, None if end is None else int(end))], np.int64)


# ----------------------------------------------------------------------------- shape arithmetic
def _reshape_target(shape: tuple[int, ...], s: np.ndarray, allowzero: bool, imp: _Importer) -> tuple[int, ...]:
    new = [int(d) for d in np.asarray(s).reshape(-1)]
    if not allowzero:
        new = [shape[i] if d == 0 and i < len(shape) else d for i, d in enumerate(new)]
    if new.count(-1) > 1 or any(d < -1 for d in new):
        raise imp.unsupported(f"shape {new} is not a valid reshape target")
    total = math.prod(shape)
    if -1 in new:
        known = math.prod(d for d in new if d != -1)
        if known == 0 or total % known:
            raise imp.unsupported(f"cannot reshape {list(shape)} to {new}")
        new[new.index(-1)] = total // known
    return tuple(new)


def _unsqueeze_shape(shape: tuple[int, ...], axes: list[int] | None, imp: _Importer) -> tuple[int, ...]:
    if not axes:
        raise imp.unsupported("Unsqueeze needs axes")
    r = len(shape) + len(axes)
    norm = sorted(a % r for a in axes)
    out = list(shape)
    for a in norm:
        out.insert(a, 1)
    return tuple(out)


def _squeeze_shape(shape: tuple[int, ...], axes: list[int] | None, imp: _Importer) -> tuple[int, ...]:
    r = len(shape)
    if axes is None:
        return tuple(d for d in shape if d != 1)
    norm = {a % r for a in axes}
    if any(shape[a] != 1 for a in norm):
        raise imp.unsupported(f"cannot squeeze axes {sorted(norm)} of {list(shape)}")
    return tuple(d for i, d in enumerate(shape) if i not in norm)


# ----------------------------------------------------------------------------- constant folding
def _np_dtype(imp: _Importer, to: int) -> np.dtype:
    try:
        return np.dtype(imp.onnx.helper.tensor_dtype_to_np_dtype(to))
    except Exception:
        raise imp.unsupported(f"cast to ONNX type {to} is not supported") from None


def _fold_constant(imp: _Importer, ins: list) -> list[np.ndarray]:
    at = imp.attrs()
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in at:
            v = at[key]
            if key == "value":
                return [np.asarray(v)]
            return [np.asarray(v, np.float32 if "float" in key else np.int64)]
    raise imp.unsupported(f"Constant with attributes {sorted(at)} is not supported (numeric tensors only)")


def _binary_fold(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    def fold(imp: _Importer, ins: list) -> list[np.ndarray]:
        a, b = np.asarray(ins[0]), np.asarray(ins[1])
        out = fn(a, b)
        return [np.asarray(out).astype(np.result_type(a, b)) if out.dtype != np.bool_ else np.asarray(out)]

    return fold


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer):
        return np.trunc(a / b).astype(a.dtype)  # ONNX integer Div truncates
    return a / b


def _fold_gather(imp: _Importer, ins: list) -> list[np.ndarray]:
    axis = int(imp.attrs().get("axis", 0))
    return [np.take(np.asarray(ins[0]), np.asarray(ins[1]).astype(np.int64), axis=axis)]


def _fold_concat(imp: _Importer, ins: list) -> list[np.ndarray]:
    return [np.concatenate([np.asarray(v) for v in ins], axis=int(imp.attrs()["axis"]))]


def _fold_unsqueeze(imp: _Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    axes = imp._axes(imp.attrs())
    return [x.reshape(_unsqueeze_shape(x.shape, axes, imp))]


def _fold_squeeze(imp: _Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    return [x.reshape(_squeeze_shape(x.shape, imp._axes(imp.attrs()), imp))]


def _fold_reshape(imp: _Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    at = imp.attrs()
    if imp.node.op_type == "Flatten":
        ax = int(at.get("axis", 1)) % (x.ndim + 1) if x.ndim else 0
        return [x.reshape(math.prod(x.shape[:ax]), -1)]
    return [x.reshape(_reshape_target(x.shape, ins[1], bool(int(at.get("allowzero", 0))), imp))]


def _fold_transpose(imp: _Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    perm = imp.attrs().get("perm")
    return [x.transpose(perm) if perm is not None else x.T]


def _fold_cast(imp: _Importer, ins: list) -> list[np.ndarray]:
    return [np.asarray(ins[0]).astype(_np_dtype(imp, int(imp.attrs()["to"])))]


def _fold_slice(imp: _Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    at = imp.attrs()
    if imp.opset >= 10:
        starts, ends = np.asarray(ins[1]).reshape(-1), np.asarray(ins[2]).reshape(-1)
        axes = np.asarray(ins[3]).reshape(-1) if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
        steps = np.asarray(ins[4]).reshape(-1) if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), int)
    else:
        starts, ends = at["starts"], at["ends"]
        axes = at.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        idx[int(a) % x.ndim] = slice(int(s), int(e), int(st))
    return [x[tuple(idx)]]


def _fold_constant_of_shape(imp: _Importer, ins: list) -> list[np.ndarray]:
    v = imp.attrs().get("value")
    v = np.zeros(1, np.float32) if v is None else np.asarray(v).reshape(-1)
    return [np.full([int(d) for d in np.asarray(ins[0]).reshape(-1)], v[0], v.dtype)]


def _fold_range(imp: _Importer, ins: list) -> list[np.ndarray]:
    s, e, d = (np.asarray(v).reshape(()) for v in ins)
    return [np.arange(s, e, d).astype(s.dtype)]


def _fold_reduce(fn: Callable[..., np.ndarray]):
    def fold(imp: _Importer, ins: list) -> list[np.ndarray]:
        x = np.asarray(ins[0])
        at = imp.attrs()
        axes = at.get("axes")
        if len(ins) > 1 and ins[1] is not None:
            axes = [int(a) for a in np.asarray(ins[1]).reshape(-1)]
        keep = bool(int(at.get("keepdims", 1)))
        ax = None if not axes else tuple(int(a) for a in axes)
        return [np.asarray(fn(x, axis=ax, keepdims=keep)).astype(x.dtype)]

    return fold


def _unary_fold(fn: Callable[[np.ndarray], np.ndarray]):
    def fold(imp: _Importer, ins: list) -> list[np.ndarray]:
        x = np.asarray(ins[0])
        return [np.asarray(fn(x)).astype(x.dtype)]

    return fold


def _fold_where(imp: _Importer, ins: list) -> list[np.ndarray]:
    return [np.where(np.asarray(ins[0]), np.asarray(ins[1]), np.asarray(ins[2]))]


def _fold_expand(imp: _Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    shape = tuple(int(d) for d in np.asarray(ins[1]).reshape(-1))
    return [np.broadcast_to(x, np.broadcast_shapes(x.shape, shape)).copy()]


def _fold_passthrough(imp: _Importer, ins: list) -> list[np.ndarray]:
    return [np.asarray(ins[0])]


def _fold_clip(imp: _Importer, ins: list) -> list[np.ndarray]:
    x = np.asarray(ins[0])
    at = imp.attrs()
    if imp.opset < 11:
        lo, hi = at.get("min", -np.inf), at.get("max", np.inf)
    else:
        lo = -np.inf if len(ins) < 2 or ins[1] is None else np.asarray(ins[1])
        hi = np.inf if len(ins) < 3 or ins[2] is None else np.asarray(ins[2])
    return [np.clip(x, lo, hi).astype(x.dtype)]


def _fold_shape(imp: _Importer, ins: list) -> list[np.ndarray]:
    imp.op_shape()
    return [imp.values[imp.out_name()]]


#: ONNX op → numpy evaluation when every input is known before run time.
_FOLDERS: dict[str, Callable[[_Importer, list], list[np.ndarray]]] = {
    "Constant": _fold_constant,
    "Identity": _fold_passthrough,
    "Dropout": _fold_passthrough,
    "Cast": _fold_cast,
    "Shape": _fold_shape,
    "Size": _fold_shape,
    "Gather": _fold_gather,
    "Concat": _fold_concat,
    "Unsqueeze": _fold_unsqueeze,
    "Squeeze": _fold_squeeze,
    "Reshape": _fold_reshape,
    "Flatten": _fold_reshape,
    "Transpose": _fold_transpose,
    "Slice": _fold_slice,
    "ConstantOfShape": _fold_constant_of_shape,
    "Range": _fold_range,
    "Expand": _fold_expand,
    "Where": _fold_where,
    "Add": _binary_fold(np.add),
    "Sub": _binary_fold(np.subtract),
    "Mul": _binary_fold(np.multiply),
    "Div": _binary_fold(_div),
    "Pow": _binary_fold(np.power),
    "Equal": _binary_fold(np.equal),
    "Min": _binary_fold(np.minimum),
    "Max": _binary_fold(np.maximum),
    "Neg": _unary_fold(np.negative),
    "Sqrt": _unary_fold(np.sqrt),
    "Reciprocal": _unary_fold(np.reciprocal),
    "Floor": _unary_fold(np.floor),
    "Ceil": _unary_fold(np.ceil),
    "Abs": _unary_fold(np.abs),
    "Relu": _unary_fold(lambda x: np.maximum(x, 0)),
    "Sigmoid": _unary_fold(lambda x: 1.0 / (1.0 + np.exp(-x))),
    "Tanh": _unary_fold(np.tanh),
    "Clip": _fold_clip,
    "ReduceProd": _fold_reduce(np.prod),
    "ReduceSum": _fold_reduce(np.sum),
    "ReduceMean": _fold_reduce(np.mean),
}

#: ONNX op → handler for run-time values (each emits picoml ops and sets the node's output).
_HANDLERS: dict[str, Callable[[_Importer], None]] = {
    "Conv": _Importer.op_conv,
    "Gemm": _Importer.op_gemm,
    "MatMul": _Importer.op_matmul,
    "BatchNormalization": _Importer.op_batchnorm,
    "Relu": lambda imp: imp.unary("RELU"),
    "Clip": _Importer.op_clip,
    "Sigmoid": lambda imp: imp.unary("LOGISTIC"),
    "Tanh": lambda imp: imp.unary("TANH"),
    "HardSwish": _Importer.op_hard_swish,
    "HardSigmoid": _Importer.op_hard_sigmoid,
    "LeakyRelu": _Importer.op_leaky_relu,
    "MaxPool": _Importer.op_pool,
    "AveragePool": _Importer.op_pool,
    "GlobalAveragePool": _Importer.op_global_pool,
    "GlobalMaxPool": _Importer.op_global_pool,
    "ReduceMean": _Importer.op_reduce_mean,
    "Flatten": _Importer.op_reshape,
    "Reshape": _Importer.op_reshape,
    "Squeeze": _Importer.op_reshape,
    "Unsqueeze": _Importer.op_reshape,
    "Transpose": _Importer.op_transpose,
    "Add": _Importer.op_binary,
    "Sub": _Importer.op_binary,
    "Mul": _Importer.op_binary,
    "Div": _Importer.op_binary,
    "Concat": _Importer.op_concat,
    "Softmax": _Importer.op_softmax,
    "Pad": _Importer.op_pad,
    "Dropout": _Importer.op_identity,
    "Identity": _Importer.op_identity,
    "Cast": _Importer.op_cast,
    "Shape": _Importer.op_shape,
    "Size": _Importer.op_shape,
}


def supported_onnx_ops() -> dict[str, str]:
    """ONNX op type → what picoml does with it ("run time" ops emit picoml ops; the rest fold to constants)."""
    out = {op: "constants only" for op in _FOLDERS}
    out.update({op: "run time" for op in _HANDLERS if op not in ("Shape", "Size")})
    return dict(sorted(out.items()))


# ----------------------------------------------------------------------------- graph rewrites
def _rewire(g: Graph, old: Tensor, new: Tensor) -> None:
    """Every reader of ``old`` reads ``new`` instead."""
    for op in g.ops:
        op.inputs = [new if t is old else t for t in op.inputs]
    g.outputs = [new if t is old else t for t in g.outputs]


def _sole_reader(g: Graph, t: Tensor, reader: Op) -> bool:
    """``t`` is read only by ``reader`` and is not a graph output."""
    if any(o is t for o in g.outputs):
        return False
    return [op for op in g.ops if any(i is t for i in op.inputs)] == [reader]


_WEIGHTED = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}  # op → output-channel axis of weights


def _layer_before(g: Graph, t: Tensor, reader: Op) -> tuple[Op, Op | None] | None:
    """The weighted layer computing ``t`` (directly or through one channel-keeping RESHAPE), if ``reader`` is
    its only reader, and the RESHAPE in between."""
    producers = g.producers()
    p = producers.get(id(t))
    if p is None or not _sole_reader(g, t, reader):
        return None
    through = None
    if p.type == "RESHAPE" and p.inputs[0].shape and t.shape and p.inputs[0].shape[-1] == t.shape[-1]:
        through = p
        p = producers.get(id(p.inputs[0]))
        if p is None or not _sole_reader(g, through.inputs[0], through):
            return None
    if p.type not in _WEIGHTED or p.attrs["fused_activation"] != "NONE":
        return None
    return p, through


def _fold_affine(g: Graph) -> None:
    """MUL/ADD by a per-output-channel constant after CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED → weights/bias.

    Folding is what TFLite's converter does for BatchNormalization and bias adds; the new weights are
    computed in float64 and rounded once to float32.
    """
    changed = True
    while changed:
        changed = False
        for op in list(g.ops):
            if op.type not in ("MUL", "ADD") or op.attrs["fused_activation"] != "NONE":
                continue
            a, b = op.inputs
            x, c = (
                (a, b) if b.is_const and not a.is_const else (b, a) if a.is_const and not b.is_const else (None, None)
            )
            if x is None or len(x.shape) == 0 or c.shape and any(d != 1 for d in c.shape[:-1]):
                continue
            if tuple(np.broadcast_shapes(x.shape, c.shape)) != tuple(x.shape):
                continue
            found = _layer_before(g, x, op)
            if found is None:
                continue
            layer, through = found
            n_out = layer.outputs[0].shape[-1]
            v = np.broadcast_to(c.data.astype(np.float64).reshape(-1), (n_out,))
            w, bias = layer.inputs[1], layer.inputs[2] if len(layer.inputs) > 2 else None
            bdata = np.zeros(n_out, np.float64) if bias is None else bias.data.astype(np.float64)
            if op.type == "MUL":
                axis = _WEIGHTED[layer.type]
                shp = [1] * w.data.ndim
                shp[axis] = n_out
                wdata = (w.data.astype(np.float64) * v.reshape(shp)).astype(F32)
                new_w = Tensor(w.name, w.shape, "float32", data=wdata)
                g.tensors[g.tensors.index(w)] = new_w
                layer.inputs[1] = new_w
                bdata = bdata * v
            else:
                bdata = bdata + v
            new_b = Tensor(
                bias.name if bias is not None else f"{layer.outputs[0].name}/bias",
                (n_out,),
                "float32",
                data=bdata.astype(F32),
            )
            if bias is not None:
                g.tensors[g.tensors.index(bias)] = new_b
                layer.inputs[2] = new_b
            else:
                g.tensors.append(new_b)
                layer.inputs = [layer.inputs[0], layer.inputs[1], new_b]
            (through or layer).outputs[0] = op.outputs[0]
            g.ops.remove(op)
            changed = True
            break


def _fuse_activations(g: Graph) -> None:
    """RELU/RELU6 after CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED/ADD → ``fused_activation`` (TFLite does this).

    Only when nothing else reads the value before the activation; a RESHAPE in between is fine since
    an elementwise clamp commutes with it.
    """
    changed = True
    while changed:
        changed = False
        producers = g.producers()
        for op in list(g.ops):
            if op.type not in ("RELU", "RELU6"):
                continue
            x = op.inputs[0]
            p = producers.get(id(x))
            if p is None or not _sole_reader(g, x, op):
                continue
            through = None
            if p.type == "RESHAPE":
                through, p = p, producers.get(id(p.inputs[0]))
                if p is None or not _sole_reader(g, through.inputs[0], through):
                    continue
            if p.type not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD"):
                continue
            if p.attrs["fused_activation"] != "NONE":
                continue
            p.attrs["fused_activation"] = op.type
            (through or p).outputs[0] = op.outputs[0]
            g.ops.remove(op)
            changed = True
            break


def _collapse_reshapes(g: Graph) -> None:
    """RESHAPE of a RESHAPE reads the first one's input; a RESHAPE to the same shape disappears."""
    changed = True
    while changed:
        changed = False
        producers = g.producers()
        for op in list(g.ops):
            if op.type != "RESHAPE":
                continue
            p = producers.get(id(op.inputs[0]))
            if p is not None and p.type == "RESHAPE":
                op.inputs[0] = p.inputs[0]
                if not any(p.outputs[0] is t for o in g.ops for t in o.inputs) and p.outputs[0] not in g.outputs:
                    g.ops.remove(p)
                changed = True
                break
            x, y = op.inputs[0], op.outputs[0]
            if tuple(x.shape) != tuple(y.shape) or x.is_const:
                continue
            if y not in g.outputs:
                _rewire(g, y, x)
                g.ops.remove(op)
                changed = True
                break
            q = producers.get(id(x))
            if q is not None and _sole_reader(g, x, op):
                q.outputs[0] = y
                g.ops.remove(op)
                changed = True
                break


# ----------------------------------------------------------------------------- entry point
def _load(onnx_mod, path_or_model, max_memory: int) -> tuple[onnx.ModelProto, str, str]:
    if isinstance(path_or_model, onnx_mod.ModelProto):
        m = onnx_mod.ModelProto()
        m.CopyFrom(path_or_model)  # the caller's model is never modified
        label = f"ONNX model {m.graph.name!r}" if m.graph.name else "ONNX model"
        return m, label, m.graph.name
    if not isinstance(path_or_model, str | Path):
        raise InputError(f"from_onnx: expected a path or onnx.ModelProto, got {type(path_or_model).__name__}")
    p = Path(path_or_model)
    where = for_terminal(p)
    # From bytes, never from the path: onnx.load would follow external-data references to other files.
    data = read_file(p, "ONNX model", max_memory)
    try:
        m = onnx_mod.load_from_string(data)
    except Exception as e:  # protobuf DecodeError, ...
        raise ModelFormatError(f"{where}: not a readable ONNX model ({type(e).__name__}: {_first_line(e)})") from None
    return m, where, p.stem


def _input_shapes(model, label: str, input_shape: tuple[int, ...] | None) -> dict[str, tuple[int, ...]]:
    """Fix every graph input's shape: dynamic dims → ``input_shape`` or 1 (batch); writes them into ``model``."""
    init = {i.name for i in model.graph.initializer}
    real = [vi for vi in model.graph.input if vi.name not in init]
    if input_shape is not None and len(real) != 1:
        raise InputError(f"{label}: input_shape applies to single-input models; this one has {len(real)} inputs")
    out = {}
    for vi in real:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or tt.elem_type != 1:  # TensorProto.FLOAT
            raise UnsupportedError(f"{label}: input {vi.name!r} is not a float32 tensor; picoml imports float models")
        if not tt.HasField("shape"):
            raise InputError(f"{label}: input {vi.name!r} has no shape; pass input_shape")
        dims = list(tt.shape.dim)
        if input_shape is not None and len(input_shape) != len(dims):
            raise InputError(
                f"{label}: input_shape {list(input_shape)} has rank {len(input_shape)}, "
                f"input {vi.name!r} has rank {len(dims)}"
            )
        shape = []
        for i, d in enumerate(dims):
            static = d.HasField("dim_value") and d.dim_value > 0
            if input_shape is not None:
                v = int(input_shape[i])
                if static and d.dim_value != v or v <= 0:
                    raise InputError(
                        f"{label}: input_shape {list(input_shape)} does not fit input {vi.name!r} "
                        f"(dimension {i} is {d.dim_value if static else d.dim_param})"
                    )
            elif static:
                v = int(d.dim_value)
            elif i == 0:
                v = 1  # dynamic batch: one inference per invoke, as on a microcontroller
            else:
                raise InputError(
                    f"{label}: input {vi.name!r} dimension {i} ({d.dim_param or '?'}) is dynamic; pass input_shape"
                )
            d.Clear()
            d.dim_value = v
            shape.append(v)
        out[vi.name] = tuple(shape)
    return out


def from_onnx(
    path_or_model: str | Path | onnx.ModelProto,
    *,
    name: str = "",
    input_shape: tuple[int, ...] | None = None,
    max_memory: int | None = None,
) -> Graph:
    """Import an ONNX model as a validated float32 Graph in picoml's channels-last layout.

    ``input_shape`` (ONNX layout, e.g. (1, 3, 32, 32)) fixes the input's dynamic dimensions; without
    it a dynamic batch dimension becomes 1. Inputs and outputs are permuted channels-last: feed
    ``to_graph_layout(x)`` and read ``from_graph_layout(y)`` to compare with the ONNX model.

    Raises ModelFormatError for a file that is not a valid ONNX model, UnsupportedError for ops or
    options picoml cannot express exactly (naming node, op type and file).
    """
    onnx = _need_onnx()
    limit = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    model, label, stem = _load(onnx, path_or_model, limit)
    shapes = _input_shapes(model, label, input_shape)
    unknown = [
        (i, n) for i, n in enumerate(model.graph.node) if n.op_type not in _HANDLERS and n.op_type not in _FOLDERS
    ]
    if unknown:
        i, n = unknown[0]
        who = n.name or f"#{i} → {n.output[0] if n.output else '?'}"
        others = sorted({m.op_type for _, m in unknown} - {n.op_type})
        more = f" (also unsupported: {', '.join(others)})" if others else ""
        raise UnsupportedError(
            f"{label}: node {who!r} ({n.op_type}) is not supported by picoml's ONNX front-end{more}; "
            "see picoml.frontends.onnx.supported_onnx_ops()"
        )
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise ModelFormatError(f"{label}: invalid ONNX model: {_first_line(e)}") from None
    try:
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:
        raise ModelFormatError(f"{label}: ONNX shape inference failed: {_first_line(e)}") from None
    imp = _Importer(onnx, model, label, limit)
    inputs, outputs = imp.run(shapes)
    g = Graph(
        imp.tensors,
        imp.ops,
        inputs,
        outputs,
        name=name or stem or "onnx_model",
        description=f"imported from ONNX (opset {imp.opset}, producer {model.producer_name or '?'})",
    )
    _fold_affine(g)
    _fuse_activations(g)
    _collapse_reshapes(g)
    g.toposort()
    g.prune_unused()
    try:
        g.validate()
    except PicomlError as e:
        raise type(e)(f"{label}: {e}") from None
    check_memory(g, limit, label)
    return g
