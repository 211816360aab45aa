"""Run a Graph on numpy arrays, batched: N independent inferences in one call.

Memory is bounded before anything runs: the graph is held against the memory limit
(``picoml.graph.limits``), the working memory of one inference is estimated per op
(``working_bytes``), and a batch runs in chunks small enough that a chunk's working memory
stays within the limit.

State (issue 15). A graph with state — variable tensors (``Graph.stateful``) or the signal
library's stateful ops (``reference.signal_stream.STREAM``: spectral subtraction's noise estimate,
the Delay / Framer / Stacker / OverlapAdd buffers) — keeps it in the ``Interpreter`` between calls,
as tflite-micro and the generated C do: a batch [N, ...] is then a *sequence* of N calls, run in
order with the state carried from each to the next (and on to the next ``run``), and ``reset()``
restores the initial state. ``picoml.run(graph, xs)`` makes a fresh interpreter, so it runs the
sequence xs from the initial state (``reference.stream.run_stream`` runs many such streams at once).
Stateless graphs run batches as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from picoml.errors import InputError, UnsupportedError
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.limits import DEFAULT_MAX_MEMORY, check_memory, live_bytes, tensor_bytes
from picoml.graph.ops import OP_SET
from picoml.reference import KERNELS
from picoml.reference.signal_stream import STREAM
from picoml.untrusted import for_terminal, size_text

# Inferences per chunk at most: bounds peak memory of im2col windows on big batches.
CHUNK = 256


def _op_temporaries(op: Op) -> int:
    """Bytes of temporaries one inference of ``op`` may need in the reference kernels: float64 or
    int64 copies of its inputs and output, and the unfolded windows its kernel declares."""
    elems = sum(math.prod(t.shape) for t in op.inputs if t is not None and t.data is None)
    elems += 2 * sum(math.prod(t.shape) for t in op.outputs) + KERNELS[op.type].windows(op)
    return 8 * elems


def working_bytes(graph: Graph, keep_all: bool = False) -> tuple[int, int]:
    """(bytes, op index): the reference interpreter's estimated peak memory for one inference
    and the op where it peaks. ``keep_all`` keeps every activation (``all_tensors=True``)."""
    live = live_bytes(graph)
    if keep_all:
        kept = sum(tensor_bytes(t) for t in graph.tensors if t.data is None)
        live = [kept] * len(live)
    best, at = 0, 0
    for i, op in enumerate(graph.ops):
        b = live[i] + _op_temporaries(op)
        if b > best:
            best, at = b, i
    return best, at


class Interpreter:
    """Validates and prepares a graph once; ``run`` evaluates batches of inputs.

    ``max_memory`` (bytes, default 256 MiB) bounds what one inference may need; larger
    batches run in chunks that stay within it."""

    def __init__(self, graph: Graph, max_memory: int | None = None) -> None:
        graph.validate()
        self.max_memory = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
        check_memory(graph, self.max_memory)
        self.graph = graph
        self._kept = sum(tensor_bytes(t) for t in graph.tensors if t.data is None)  # all activations, once
        self._chunk: dict[bool, int] = {}
        self._check_working(False)
        self.steps = [(op, KERNELS[op.type].evaluate, KERNELS[op.type].prepare(op)) for op in graph.ops]
        self._variables = [t for t in graph.tensors if t.variable]
        self._streams = [i for i, op in enumerate(graph.ops) if op.type in STREAM]  # ops with internal state
        self.state: dict[int, np.ndarray] = {}
        self.op_state: dict[int, list[np.ndarray]] = {}
        self.reset()

    @property
    def stateful(self) -> bool:
        return bool(self._variables or self._streams)

    def reset(self) -> None:
        """Give every variable tensor its initial value (zeros, int8 its zero point, when none is set)
        and every stateful signal op its reset state."""
        self.state = {id(t): initial_value(t)[None] for t in self._variables}
        self.op_state = {}
        for i in self._streams:
            op, _, params = self.steps[i]
            self.op_state[i] = STREAM[op.type][0](params, 1, tuple(op.inputs[0].shape))

    def variables(self) -> dict[str, np.ndarray]:
        """The current value of every variable tensor, by name (copies)."""
        return {t.name: self.state[id(t)][0].copy() for t in self._variables}

    def max_batch(self, all_tensors: bool = False) -> int:
        """Most inputs one ``run`` call takes: unbounded (chunked) for outputs only; with
        ``all_tensors`` every activation of every input is returned, so as many as fit the limit."""
        if not all_tensors:
            return 1 << 62
        return max(1, self.max_memory // max(self._kept, 1))

    def _check_working(self, keep_all: bool) -> int:
        """Inferences per chunk that keep the working memory within the limit (refuses one that cannot);
        computed once per mode."""
        if keep_all in self._chunk:
            return self._chunk[keep_all]
        need, at = working_bytes(self.graph, keep_all)
        if need > self.max_memory:
            op = self.graph.ops[at]
            raise UnsupportedError(
                f"op {at} ({op.type} {for_terminal(op.name)!r}): one inference needs about {size_text(need)} in the "
                f"reference interpreter, more than the {size_text(self.max_memory)} memory limit "
                "(raise it with --max-memory or max_memory=)"
            )
        self._chunk[keep_all] = max(1, min(CHUNK, self.max_memory // max(need, 1)))
        return self._chunk[keep_all]

    # --------------------------------------------------------------- input checks
    @staticmethod
    def _batch(t: Tensor, x: np.ndarray) -> tuple[np.ndarray, str]:
        """Return x as (N,)+t.shape and how the caller laid it out ('single', 'full', 'squeezed')."""
        name = for_terminal(t.name)
        if isinstance(x, np.ma.MaskedArray):
            raise InputError(f"input {name!r}: a masked array; pass plain values (x.filled(value))")
        if not isinstance(x, np.ndarray):
            raise InputError(f"input {name!r}: expected a numpy array, got {type(x).__name__}")
        if x.dtype != t.np_dtype:
            raise InputError(f"input {name!r}: dtype is {x.dtype}, the model expects {t.dtype}")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
            raise InputError(f"input {name!r}: holds NaN or infinity (first at index {list(bad)}); give finite values")
        if x.shape == t.shape:
            return x[None], "single"
        if x.ndim == len(t.shape) + 1 and x.shape[1:] == t.shape:
            return x, "full"
        if t.shape and t.shape[0] == 1 and x.ndim == len(t.shape) and x.shape[1:] == t.shape[1:]:
            return x.reshape((x.shape[0],) + t.shape), "squeezed"
        raise InputError(
            f"input {name!r}: shape {list(x.shape)} does not match the model's {list(t.shape)} "
            f"(give one input of that shape or a batch [N, ...])"
        )

    def _inputs(self, x) -> tuple[list[np.ndarray], str]:
        g = self.graph
        if isinstance(x, Mapping):
            missing = [for_terminal(t.name) for t in g.inputs if t.name not in x]
            if missing:
                raise InputError(f"missing inputs: {', '.join(missing)}")
            xs = [x[t.name] for t in g.inputs]
        elif isinstance(x, np.ndarray):
            xs = [x]
        elif isinstance(x, Sequence) and not isinstance(x, str | bytes):
            xs = list(x)
        else:
            raise InputError(f"expected a numpy array, got {type(x).__name__}")
        if len(xs) != len(g.inputs):
            raise InputError(f"the model has {len(g.inputs)} inputs, got {len(xs)}")
        arrays = []
        for t, v in zip(g.inputs, xs, strict=True):
            if not isinstance(v, np.ndarray):
                try:
                    v = np.asarray(v)
                except (ValueError, TypeError) as e:
                    raise InputError(f"input {for_terminal(t.name)!r}: not an array ({for_terminal(e, 120)})") from None
            arrays.append(v)
        batched = [self._batch(t, v) for t, v in zip(g.inputs, arrays, strict=True)]
        ns = {b.shape[0] for b, _ in batched}
        if len(ns) != 1:
            raise InputError(f"inputs have different batch sizes {sorted(ns)}")
        return [b for b, _ in batched], batched[0][1]

    # --------------------------------------------------------------- evaluation
    def _eval(self, xs: list[np.ndarray], keep: bool) -> dict[int, np.ndarray]:
        g = self.graph
        values: dict[int, np.ndarray] = {id(t): v for t, v in zip(g.inputs, xs, strict=True)}
        values.update(self.state)
        last_use: dict[int, int] = {}
        for i, (op, _, _) in enumerate(self.steps):
            for t in op.inputs:
                if t is not None:
                    last_use[id(t)] = i
        outs = {id(t) for t in g.outputs} | {id(x) for _, x in g.state_updates}
        for i, (op, evaluate, params) in enumerate(self.steps):
            args = []
            for t in op.inputs:
                if t is None:
                    continue
                args.append(t.data[None] if t.data is not None else values[id(t)])
            if i in self.op_state:  # a stateful signal op: one step of its stream
                ys, self.op_state[i] = STREAM[op.type][1](params, args, self.op_state[i])
                y = ys if len(ys) > 1 else ys[0]
            else:
                y = evaluate(params, args)
            if OP_SET[op.type].state_inputs:  # (outputs, {input index: the state's new value})
                y, new_state = y
                values.update((id(op.inputs[k]), v) for k, v in new_state.items())
            if len(op.outputs) == 1:
                values[id(op.outputs[0])] = y
            else:  # SPLIT, SPLIT_V, UNPACK: one array per output
                values.update((id(t), v) for t, v in zip(op.outputs, y, strict=True))
            if not keep:  # free activations nobody reads any more
                for t in op.inputs:
                    if (
                        t is not None
                        and t.data is None
                        and last_use.get(id(t)) == i
                        and id(t) not in outs
                        and not t.variable
                    ):
                        values.pop(id(t), None)
        if self._variables:  # the call's end: in-place updates, then the graph's updates (all read first)
            new = {id(v): values[id(x)] for v, x in g.state_updates}
            self.state = {id(t): np.array(new.get(id(t), values[id(t)]), copy=True) for t in self._variables}
        return values

    def run(self, x, all_tensors: bool = False):
        xs, layout = self._inputs(x)
        n = xs[0].shape[0]
        g = self.graph
        chunk = self._check_working(all_tensors)
        if all_tensors and n > self.max_batch(all_tensors=True):  # every tensor of every inference is returned
            raise InputError(
                f"all_tensors on {n:,} inputs keeps {size_text(n * self._kept)} of tensors, more than the "
                f"{size_text(self.max_memory)} memory limit; give fewer inputs (or raise --max-memory)"
            )
        if self.stateful:
            chunk = 1  # a sequence: one call after another, state carried
        chunks = []
        for s in range(0, max(n, 1), chunk):
            chunks.append(self._eval([v[s : s + chunk] for v in xs], all_tensors))

        def gather(t: Tensor) -> np.ndarray:
            if t.data is not None:
                return t.data.copy()
            v = np.concatenate([c[id(t)] for c in chunks], axis=0) if len(chunks) > 1 else chunks[0][id(t)]
            if layout == "single":
                return v[0]
            if layout == "squeezed" and t.shape and t.shape[0] == 1:
                return v.reshape((n,) + t.shape[1:])
            return v

        if all_tensors:
            return {t.name: gather(t) for t in g.tensors if t.data is not None or id(t) in chunks[0]}
        outs = [gather(t) for t in g.outputs]
        return outs[0] if len(outs) == 1 else outs


def initial_value(t: Tensor) -> np.ndarray:
    """A variable tensor's value after a reset: ``t.initial``, else zeros (int8: its zero point, as
    tflite-micro's MicroInterpreter::ResetVariableTensors fills them)."""
    if t.initial is not None:
        return np.array(t.initial, t.np_dtype, copy=True)
    fill = int(t.zero_point[0]) if t.dtype == "int8" and t.quantized else 0
    return np.full(t.shape, fill, t.np_dtype)


def run(
    graph: Graph,
    x: np.ndarray | Sequence[np.ndarray] | dict[str, np.ndarray],
    all_tensors: bool = False,
    max_memory: int | None = None,
) -> np.ndarray | list[np.ndarray] | dict[str, np.ndarray]:
    """Run ``graph`` on ``x``: one input of the model's shape, or a batch with a leading N.
    For a graph with state (variable tensors, stateful signal ops) the batch is a sequence of N calls
    from the initial state, each call seeing the state the one before left (``Interpreter`` keeps
    state across runs).

    Returns the output array (a list for several outputs), or with ``all_tensors`` a dict
    of every tensor by name. Batched results keep the leading N. ``max_memory`` bounds the
    memory one inference may need (default 256 MiB; ``Interpreter``).
    """
    return Interpreter(graph, max_memory=max_memory).run(x, all_tensors=all_tensors)
