"""Resource limits: what a graph may ask picoml to allocate, checked before anything is.

A 300-byte .tflite file can declare a PAD whose output holds 1.6e9 elements; running it would
allocate gigabytes. So after parsing and before running, every graph is held against a
memory limit (``DEFAULT_MAX_MEMORY``, sized for microcontroller models with generous room;
``--max-memory`` / ``max_memory=`` raise it):

- every tensor, activation or constant, must fit in the limit (the message names it);
- the memory that must coexist while any one op runs (the op-at-a-time live bytes of its
  activations, the bound the arena planner starts from) must fit too (the message names the op);
- a graph has at most ``MAX_OPS`` ops and ``MAX_TENSORS`` tensors: the planner and validator
  are polynomial in them, so a file of a million ops is refused rather than left to spin.

Counts are exact Python integers: numpy's int64 products wrap for corrupted shapes.
"""

from __future__ import annotations

import math
import re

from picoml.errors import InputError, UnsupportedError
from picoml.graph.ir import Graph, Tensor
from picoml.untrusted import for_terminal, size_text

DEFAULT_MAX_MEMORY = 256 << 20  # bytes
MAX_OPS = 10_000
MAX_TENSORS = 40_000

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}
_UNITS.update({"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40})


def parse_size(text: str) -> int:
    """``"256M"``, ``"1.5GiB"``, ``"300000"`` -> bytes (binary units). Raises InputError."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise InputError(f"memory size {text!r}: give a number of bytes with an optional unit K, M, G (e.g. 512M)")
    n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if n <= 0:
        raise InputError(f"memory size {text!r} must be positive")
    return n


def tensor_bytes(t: Tensor) -> int:
    """Exact bytes of ``t`` (never wraps)."""
    return math.prod(t.shape) * t.np_dtype.itemsize


def lifetimes(g: Graph) -> tuple[dict[int, int], dict[int, int]]:
    """(first, last): id(activation) -> index of the first and last op that needs it. Graph
    inputs live from op 0, graph outputs and variables (state) to the last op. The one definition the memory limit
    and the arena planner (``picoml.plan``) share."""
    n = len(g.ops)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for t in g.inputs:
        first[id(t)], last[id(t)] = 0, 0
    for i, op in enumerate(g.ops):
        for t in op.outputs:
            first.setdefault(id(t), i)
            last[id(t)] = max(last.get(id(t), i), i)
        for t in op.inputs:
            if t is not None and t.data is None:
                first.setdefault(id(t), i)
                last[id(t)] = i
    for t in g.outputs:
        last[id(t)] = max(n - 1, 0)
    # state (issue 15): a variable lives through every op (its bytes persist between calls); a
    # value assigned to one is read after the last op
    for t in g.tensors:
        if t.variable:
            first[id(t)], last[id(t)] = 0, max(n - 1, 0)
    for _, x in g.state_updates:
        if x.data is None:
            first.setdefault(id(x), 0)
            last[id(x)] = max(n - 1, 0)
    return first, last


def live_bytes(g: Graph) -> list[int]:
    """Per op, the bytes of activations that must exist while it runs (tensors as whole buffers,
    no aliasing): the op-at-a-time bound of ``picoml.plan``."""
    n = len(g.ops)
    first, last = lifetimes(g)
    size: dict[int, int] = {}
    for t in g.tensors:
        if t.data is None and id(t) in first:
            size[id(t)] = tensor_bytes(t)
    # sweep: +size at first, -size after last
    delta = [0] * (max(n, 1) + 1)
    for k, b in size.items():
        delta[first[k]] += b
        delta[last[k] + 1] -= b
    out, run = [], 0
    for i in range(max(n, 1)):
        run += delta[i]
        out.append(run)
    return out


def check_graph_size(g: Graph, where: str = "") -> None:
    """Refuse graphs with more ops or tensors than picoml's passes are sized for."""
    pre = f"{where}: " if where else ""
    if len(g.ops) > MAX_OPS:
        raise UnsupportedError(f"{pre}the model has {len(g.ops):,} ops; picoml handles up to {MAX_OPS:,}")
    if len(g.tensors) > MAX_TENSORS:
        raise UnsupportedError(f"{pre}the model has {len(g.tensors):,} tensors; picoml handles up to {MAX_TENSORS:,}")


def check_memory(g: Graph, max_memory: int | None = None, where: str = "") -> None:
    """Raise UnsupportedError, naming the tensor or op, when ``g`` needs more than ``max_memory``
    bytes (default ``DEFAULT_MAX_MEMORY``) for one tensor or for one op's live activations."""
    limit = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    pre = f"{where}: " if where else ""
    hint = f"more than the {size_text(limit)} memory limit (raise it with --max-memory or max_memory=)"
    check_graph_size(g, where)
    for t in g.tensors:
        b = tensor_bytes(t)
        if b > limit:
            kind = "constant" if t.data is not None else "tensor"
            raise UnsupportedError(
                f"{pre}{kind} {for_terminal(t.name)!r} {list(t.shape)} {t.dtype} needs {size_text(b)}, {hint}"
            )
    live = live_bytes(g)
    if live and max(live) > limit:
        i = max(range(len(live)), key=live.__getitem__)
        label = g.ops[i].type + " " + repr(for_terminal(g.ops[i].name)) if g.ops else "the graph inputs"
        raise UnsupportedError(f"{pre}op {i} ({label}) needs {size_text(live[i])} of live activations, {hint}")
