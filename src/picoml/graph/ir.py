"""Tensor, Op and Graph: the one model representation every picoml stage shares.

Conventions (stated once, kept everywhere):
- activations are NHWC; CONV_2D weights OHWI; DEPTHWISE_CONV_2D weights 1HWO;
  FULLY_CONNECTED weights [out, in];
- quantization stores *zero points* (never offsets): real = scale * (q - zero_point);
  per-axis quantization gives one scale/zero point per slice of ``quantized_dimension``;
- ``graph.ops`` is kept in execution order (``Graph.toposort`` restores it after edits);
- state (issue 15): a ``variable`` tensor keeps its value from one call to the next (TFLite's
  ``is_variable``, and resource variables after ``frontends/tflite_state.py`` lowers them). Its value
  at the first call and after a reset is ``initial`` (None: zeros, int8 the zero point, as
  tflite-micro's ResetVariableTensors). Ops with ``OpDef.state_inputs`` (SVDF) rewrite such an input
  in place while they run; ``Graph.state_updates`` lists (variable, value) pairs assigned after the
  last op, all at once (every value is read before any variable changes).
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from picoml.errors import GraphError
from picoml.graph.ops import DTYPES, OP_SET, OpType, infer_output_shapes
from picoml.graph.validate import validate_graph


@dataclass(eq=False)
class Tensor:
    """A value in the graph: an activation (``data is None``) or a constant.

    ``scale`` and ``zero_point`` are 1-D numpy arrays, empty when the tensor is not
    quantized, of length 1 for per-tensor and of length ``shape[quantized_dimension]``
    for per-axis quantization.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0
    data: np.ndarray | None = None
    #: state carried across calls (never constant, never reused by the memory planner)
    variable: bool = False
    #: the variable's value after a reset (None: zeros; int8: its zero point)
    initial: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.shape = tuple(int(d) for d in self.shape)
        self.scale = np.asarray(self.scale, np.float32).reshape(-1)
        self.zero_point = np.asarray(self.zero_point, np.int64).reshape(-1)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def quantized(self) -> bool:
        return self.scale.size > 0

    @property
    def per_axis(self) -> bool:
        return self.scale.size > 1

    @property
    def np_dtype(self) -> np.dtype:
        return DTYPES[self.dtype]

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # exact: numpy's int64 product wraps for corrupted shapes

    @property
    def nbytes(self) -> int:
        return self.size * self.np_dtype.itemsize

    def __repr__(self) -> str:
        q = ""
        if self.quantized:
            q = f" q(scale={self.scale[:3].tolist()}{'…' if self.per_axis else ''}, zp={self.zero_point[:3].tolist()})"
        kind = " const" if self.is_const else " variable" if self.variable else ""
        return f"Tensor({self.name!r}, {list(self.shape)}, {self.dtype}{kind}{q})"


@dataclass(eq=False)
class Op:
    """One operation. ``type`` is an ``OpType`` member (e.g. ``OpType.CONV_2D``, equal to the TFLite
    builtin name ``"CONV_2D"``); a known op's name given as a string becomes its member, an unknown
    name stays a string for ``Graph.validate`` to report.

    ``inputs`` may hold ``None`` for an omitted optional input (e.g. a missing bias).
    ``attrs`` holds the op's options with the names and defaults of ``picoml.graph.ops``.
    """

    type: OpType | str
    inputs: list[Tensor | None]
    outputs: list[Tensor]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.type, str) and not isinstance(self.type, OpType) and self.type in OP_SET:
            self.type = OP_SET[self.type].type
        # A trailing omitted input is the same as no input (TFLite kernels count inputs).
        self.inputs = list(self.inputs)
        while self.inputs and self.inputs[-1] is None:
            self.inputs.pop()

    @property
    def label(self) -> str:
        """How messages name this op: ``CONV_2D 'conv1'`` (name falls back to the first output)."""
        who = self.name or (self.outputs[0].name if self.outputs else "?")
        return f"{self.type} {who!r}"

    def __repr__(self) -> str:
        ins = [t.name if t is not None else None for t in self.inputs]
        return f"Op({self.type}, in={ins}, out={[t.name for t in self.outputs]}, attrs={self.attrs})"


def _same_initial(a: Tensor, b: Tensor) -> bool:
    if a.initial is None or b.initial is None:
        return a.initial is b.initial
    return np.array_equal(a.initial, b.initial)


class Graph:
    """A dataflow graph with one batch of inputs and outputs.

    ``tensors`` lists every tensor once (order is the serialization order); ``ops`` is in
    execution order.
    """

    def __init__(
        self,
        tensors: Iterable[Tensor] = (),
        ops: Iterable[Op] = (),
        inputs: Iterable[Tensor] = (),
        outputs: Iterable[Tensor] = (),
        name: str = "",
        description: str = "",
    ) -> None:
        self.tensors: list[Tensor] = list(tensors)
        self.ops: list[Op] = list(ops)
        self.inputs: list[Tensor] = list(inputs)
        self.outputs: list[Tensor] = list(outputs)
        self.name = name
        self.description = description
        #: (variable, value): after the last op each variable takes its value (all read first)
        self.state_updates: list[tuple[Tensor, Tensor]] = []
        #: what a reader changed to run the file (a SELECT read as SELECT_V2, a dynamic shape made
        #: static, ...): one line each, shown by ``picoml info``
        self.notes: list[str] = []

    # ---------------------------------------------------------------- lookups
    def tensor(self, name: str) -> Tensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise GraphError(f"no tensor named {name!r} in the graph")

    @property
    def stateful(self) -> bool:
        """True when a call's outputs may depend on earlier calls (variable tensors)."""
        return any(t.variable for t in self.tensors)

    def producers(self) -> dict[int, Op]:
        """id(tensor) -> the op that writes it."""
        return {id(t): op for op in self.ops for t in op.outputs}

    def consumers(self) -> dict[int, list[Op]]:
        """id(tensor) -> ops that read it, in execution order."""
        out: dict[int, list[Op]] = {}
        for op in self.ops:
            for t in op.inputs:
                if t is not None:
                    out.setdefault(id(t), []).append(op)
        return out

    @property
    def constants(self) -> list[Tensor]:
        return [t for t in self.tensors if t.is_const]

    def add_tensor(self, t: Tensor) -> Tensor:
        self.tensors.append(t)
        return t

    # ---------------------------------------------------------------- edits
    def toposort(self) -> None:
        """Reorder ``ops`` so every op runs after the producers of its inputs (stable)."""
        producer = self.producers()
        done: set[int] = set()
        order: list[Op] = []
        state: dict[int, int] = {}  # id(op) -> 1 visiting, 2 done

        for root in self.ops:
            if state.get(id(root)) == 2:
                continue
            stack: list[tuple[Op, int]] = [(root, 0)]
            while stack:
                op, i = stack.pop()
                if i == 0:
                    if state.get(id(op)) == 2:
                        continue
                    state[id(op)] = 1
                deps = [producer[id(t)] for t in op.inputs if t is not None and id(t) in producer]
                if i < len(deps):
                    stack.append((op, i + 1))
                    dep = deps[i]
                    if state.get(id(dep)) == 1:
                        raise GraphError(f"the graph has a cycle through {dep.label}")
                    if state.get(id(dep)) != 2:
                        stack.append((dep, 0))
                    continue
                state[id(op)] = 2
                if id(op) not in done:
                    done.add(id(op))
                    order.append(op)
        self.ops = order

    def prune_unused(self) -> None:
        """Drop tensors that no op, input or output refers to."""
        used = {id(t) for t in self.inputs + self.outputs}
        used.update(id(t) for pair in self.state_updates for t in pair)
        for op in self.ops:
            used.update(id(t) for t in op.inputs + op.outputs if t is not None)
        self.tensors = [t for t in self.tensors if id(t) in used]

    def digest(self) -> str:
        """16 hex digits of SHA-256 over everything that defines the model: every tensor (name,
        shape, dtype, quantization, constant bytes), every op (type, name, attributes, operands
        by position) and the inputs and outputs. Equal graphs give equal digests; it streams the
        arrays into the hash instead of serializing the model first."""
        h = hashlib.sha256()
        index = {id(t): i for i, t in enumerate(self.tensors)}

        def put(*parts: object) -> None:
            h.update(repr(parts).encode())

        def arr(a: np.ndarray | None) -> None:
            if a is None:
                put(None)
                return
            a = np.ascontiguousarray(a)
            put(a.dtype.str, a.shape)
            h.update(a.tobytes())

        def plain(v: Any) -> Any:
            if isinstance(v, np.generic):
                return v.item()
            if isinstance(v, np.ndarray):
                return ("array", v.dtype.str, v.shape, v.tobytes())
            if isinstance(v, (tuple, list)):
                return tuple(plain(x) for x in v)
            return v

        put("picoml-graph", 1, len(self.tensors), len(self.ops))
        for t in self.tensors:
            put("T", t.name, tuple(t.shape), t.dtype, int(t.quantized_dimension))
            arr(np.asarray(t.scale, np.float64))
            arr(np.asarray(t.zero_point, np.int64))
            arr(t.data)
            if t.variable:
                put("V")
                arr(t.initial)
        for op in self.ops:
            put("O", str(op.type), op.name, sorted((k, plain(v)) for k, v in op.attrs.items()))
            put([None if t is None else index.get(id(t), -1) for t in op.inputs])
            put([index.get(id(t), -1) for t in op.outputs])
        put("IO", [index.get(id(t), -1) for t in self.inputs], [index.get(id(t), -1) for t in self.outputs])
        if self.state_updates:
            put("S", [(index.get(id(v), -1), index.get(id(x), -1)) for v, x in self.state_updates])
        return h.hexdigest()[:16]

    def copy(self) -> Graph:
        """A deep copy (tensor data included) that shares nothing with this graph."""
        return copy.deepcopy(self)

    # ---------------------------------------------------------------- checks
    def infer_shapes(self) -> None:
        """Recompute every op output's shape from its inputs (in execution order)."""

        for op in self.ops:
            shapes = infer_output_shapes(op)
            for t, s in zip(op.outputs, shapes, strict=True):
                t.shape = tuple(s)

    def validate(self) -> None:
        """Raise GraphError/UnsupportedError naming the first offending op and tensor."""

        validate_graph(self)

    def equals(self, other: Graph) -> bool:
        """Structural equality: same ops, attributes, tensors, quantization and data."""
        return not self.diff(other)

    def diff(self, other: Graph) -> list[str]:
        """Human-readable differences between two graphs (empty when equal)."""
        out: list[str] = []

        def tdiff(a: Tensor | None, b: Tensor | None, where: str) -> None:
            if a is None or b is None:
                if a is not b:
                    out.append(f"{where}: one tensor is missing")
                return
            for attr in ("name", "shape", "dtype"):
                if getattr(a, attr) != getattr(b, attr):
                    out.append(f"{where} {a.name!r}: {attr} {getattr(a, attr)} != {getattr(b, attr)}")
            if not np.array_equal(a.scale, b.scale) or not np.array_equal(a.zero_point, b.zero_point):
                out.append(f"{where} {a.name!r}: quantization differs")
            if a.per_axis and a.quantized_dimension != b.quantized_dimension:
                out.append(f"{where} {a.name!r}: quantized_dimension differs")
            if (a.data is None) != (b.data is None) or (a.data is not None and not np.array_equal(a.data, b.data)):
                out.append(f"{where} {a.name!r}: data differs")
            if a.variable != b.variable or not _same_initial(a, b):
                out.append(f"{where} {a.name!r}: variable state differs")

        if len(self.ops) != len(other.ops):
            out.append(f"op count {len(self.ops)} != {len(other.ops)}")
            return out
        for i, (a, b) in enumerate(zip(self.ops, other.ops, strict=True)):
            if a.type != b.type or a.attrs != b.attrs:
                out.append(f"op {i}: {a} != {b}")
            if len(a.inputs) != len(b.inputs) or len(a.outputs) != len(b.outputs):
                out.append(f"op {i}: arity differs")
                continue
            for j, (x, y) in enumerate(zip(a.inputs + a.outputs, b.inputs + b.outputs, strict=True)):
                tdiff(x, y, f"op {i} tensor {j}")
        for kind in ("inputs", "outputs"):
            xs, ys = getattr(self, kind), getattr(other, kind)
            if [t.name for t in xs] != [t.name for t in ys]:
                out.append(f"graph {kind} differ")
            else:
                for x, y in zip(xs, ys, strict=True):
                    tdiff(x, y, f"graph {kind[:-1]}")
        ours = [(v.name, x.name) for v, x in self.state_updates]
        if ours != [(v.name, x.name) for v, x in other.state_updates]:
            out.append("state updates differ")
        return out

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self.ops)} ops, {len(self.tensors)} tensors)"
