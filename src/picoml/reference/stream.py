"""Running a graph over streams with the state of its stateful ops carried (branch signal).

tflite-micro, picoml's C and the reference interpreter (``picoml.run``: a batch of a stateful graph
is one sequence) keep the state of the signal library's stateful ops (spectral subtraction's noise
estimate; the FIFOs of Delay, Framer, Stacker, OverlapAdd) from one invocation to the next.
``run_stream`` runs many such sequences at once — (streams, steps, ...) inputs, every stream from
the reset state, vectorized across streams (``picoml.audio.features`` over a training set) — and
gives what ``picoml.run`` gives on each stream alone (tests/test_audio.py).
"""

from __future__ import annotations

import numpy as np

from picoml.errors import UnsupportedError
from picoml.graph.ir import Graph
from picoml.reference import KERNELS
from picoml.reference.signal_stream import STREAM


def is_stateful(g: Graph) -> bool:
    return any(op.type in STREAM for op in g.ops)


def run_stream(g: Graph, x: np.ndarray, all_tensors: bool = False) -> np.ndarray | dict[str, np.ndarray]:
    """Run ``g`` on (streams, steps, *input shape): steps of one stream in order with the state of the
    stateful ops (spectral subtraction's noise estimate) carried, each stream from the reset state.
    ``all_tensors``: every computed tensor by name, (streams, steps, *shape) each."""
    if len(g.inputs) != 1 or (len(g.outputs) != 1 and not all_tensors):
        raise UnsupportedError("run_stream runs one-input graphs, with one output unless all_tensors")
    s, n = x.shape[0], x.shape[1]
    values: dict[int, np.ndarray] = {id(g.inputs[0]): x.reshape(s * n, *x.shape[2:])}
    for op in g.ops:
        k = KERNELS[op.type]
        p = k.prepare(op)
        args = [t.data[None] if t.data is not None else values[id(t)] for t in op.inputs]
        if op.type in STREAM:  # stateful: the steps of each stream in order, state carried
            init, step = STREAM[op.type]
            state = init(p, s, tuple(op.inputs[0].shape))
            per = [a.reshape(s, n, *a.shape[1:]) if a.shape[0] == s * n else None for a in args]
            steps = []
            for i in range(n):
                o, state = step(p, [a[:, i] if a is not None else c for a, c in zip(per, args, strict=True)], state)
                steps.append(o)
            out: object = [np.stack([o[j] for o in steps], axis=1).reshape(s * n, *steps[0][j].shape[1:])
                           for j in range(len(op.outputs))]  # fmt: skip
        else:
            out = k.evaluate(p, args)
        outs = out if isinstance(out, list) else [out]
        for t, v in zip(op.outputs, outs, strict=True):
            values[id(t)] = v
    if all_tensors:
        return {t.name: values[id(t)].reshape(s, n, *t.shape) for t in g.tensors if id(t) in values}
    y = values[id(g.outputs[0])]
    return y.reshape(s, n, *y.shape[1:])
