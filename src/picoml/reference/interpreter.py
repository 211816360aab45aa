"""Run a Graph on numpy arrays, batched: N independent inferences in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from picoml.errors import InputError
from picoml.graph.ir import Graph, Tensor

# Inferences per chunk: bounds peak memory of im2col windows on big batches.
CHUNK = 256


class Interpreter:
    """Validates and prepares a graph once; ``run`` evaluates batches of inputs."""

    def __init__(self, graph: Graph) -> None:
        from picoml.reference import KERNELS

        graph.validate()
        self.graph = graph
        self.steps = [(op, KERNELS[op.type].evaluate, KERNELS[op.type].prepare(op)) for op in graph.ops]

    # --------------------------------------------------------------- input checks
    @staticmethod
    def _batch(t: Tensor, x: np.ndarray) -> tuple[np.ndarray, str]:
        """Return x as (N,)+t.shape and how the caller laid it out ('single', 'full', 'squeezed')."""
        if not isinstance(x, np.ndarray):
            raise InputError(f"input {t.name!r}: expected a numpy array, got {type(x).__name__}")
        if x.dtype != t.np_dtype:
            raise InputError(f"input {t.name!r}: dtype is {x.dtype}, the model expects {t.dtype}")
        if x.shape == t.shape:
            return x[None], "single"
        if x.ndim == len(t.shape) + 1 and x.shape[1:] == t.shape:
            return x, "full"
        if t.shape and t.shape[0] == 1 and x.ndim == len(t.shape) and x.shape[1:] == t.shape[1:]:
            return x.reshape((x.shape[0],) + t.shape), "squeezed"
        raise InputError(
            f"input {t.name!r}: shape {list(x.shape)} does not match the model's {list(t.shape)} "
            f"(give one input of that shape or a batch [N, ...])"
        )

    def _inputs(self, x) -> tuple[list[np.ndarray], str]:
        g = self.graph
        if isinstance(x, Mapping):
            missing = [t.name for t in g.inputs if t.name not in x]
            if missing:
                raise InputError(f"missing inputs: {', '.join(missing)}")
            xs = [x[t.name] for t in g.inputs]
        elif isinstance(x, np.ndarray):
            xs = [x]
        elif isinstance(x, Sequence):
            xs = list(x)
        else:
            raise InputError(f"expected a numpy array, got {type(x).__name__}")
        if len(xs) != len(g.inputs):
            raise InputError(f"the model has {len(g.inputs)} inputs, got {len(xs)}")
        batched = [
            self._batch(t, np.asarray(v) if not isinstance(v, np.ndarray) else v)
            for t, v in zip(g.inputs, xs, strict=True)
        ]
        ns = {b.shape[0] for b, _ in batched}
        if len(ns) != 1:
            raise InputError(f"inputs have different batch sizes {sorted(ns)}")
        return [b for b, _ in batched], batched[0][1]

    # --------------------------------------------------------------- evaluation
    def _eval(self, xs: list[np.ndarray], keep: bool) -> dict[int, np.ndarray]:
        g = self.graph
        values: dict[int, np.ndarray] = {id(t): v for t, v in zip(g.inputs, xs, strict=True)}
        last_use: dict[int, int] = {}
        for i, (op, _, _) in enumerate(self.steps):
            for t in op.inputs:
                if t is not None:
                    last_use[id(t)] = i
        outs = {id(t) for t in g.outputs}
        for i, (op, evaluate, params) in enumerate(self.steps):
            args = []
            for t in op.inputs:
                if t is None:
                    continue
                args.append(t.data[None] if t.data is not None else values[id(t)])
            values[id(op.outputs[0])] = evaluate(params, args)
            if not keep:  # free activations nobody reads any more
                for t in op.inputs:
                    if t is not None and t.data is None and last_use.get(id(t)) == i and id(t) not in outs:
                        values.pop(id(t), None)
        return values

    def run(self, x, all_tensors: bool = False):
        xs, layout = self._inputs(x)
        n = xs[0].shape[0]
        g = self.graph
        chunks = []
        for s in range(0, max(n, 1), CHUNK):
            chunks.append(self._eval([v[s : s + CHUNK] for v in xs], all_tensors))

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


def run(graph: Graph, x, all_tensors: bool = False):
    """Run ``graph`` on ``x``: one input of the model's shape, or a batch with a leading N.

    Returns the output array (a list for several outputs), or with ``all_tensors`` a dict
    of every tensor by name. Batched results keep the leading N.
    """
    return Interpreter(graph).run(x, all_tensors=all_tensors)
