"""Adversarial inputs shared by the untrusted-input tests (tests/test_untrusted.py).

- ``HOSTILE_NAMES``: op/tensor names that try to leave a C comment (``*/``, a line splice
  ``*\\`` + newline + ``/``, the trigraph ``??/``), open one (``/*``), inject a preprocessor
  line, carry bidi controls, NUL, ANSI escapes, quotes, HTML, CMake and shell syntax, or are
  100,000 characters long. Several carry a *trigger-gated* statement: code that changes one
  output only for one particular input, which a random-input check alone would miss.
- ``tiny_int8_model``: a small int8 model (CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D,
  RESHAPE, FULLY_CONNECTED, SOFTMAX) built and quantized by picoml, so these tests need no
  model files.
- ``rename``: the same graph with every tensor (and so every op) named from a list.
- ``bomb_*``: tiny .tflite files that declare enormous tensors.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np

import picoml
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs

from oracles import qtensor, single_op_graph, to_tflite


def run_cli(*args, limit_as: int | None = None, timeout: float = 120, cwd=None) -> subprocess.CompletedProcess:
    """`picoml ARGS` in a fresh process, optionally under an address-space limit (RLIMIT_AS), with
    PICOML_DEBUG unset (the exit-code contract is tested, not the debug mode)."""

    def limit():
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    return subprocess.run(
        [sys.executable, "-m", "picoml.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        env={k: v for k, v in os.environ.items() if k != "PICOML_DEBUG"},
        cwd=cwd,
    )


# The statement every injection tries to run: flip output[0] only when input[0] is 42.
_GATED = "if (input[0] == 42) { output[0] ^= 1; }"

HOSTILE_NAMES: dict[str, str] = {
    "close comment": f"a*/ {_GATED} /*",
    "line splice": f"x*\\\n/ {_GATED} /\\\n*",
    "splice with CRLF": f"x*\\\r\n/ {_GATED} /*",
    "trigraph splice": f"x*??/\n/ {_GATED} /??/\n*",
    "trigraph others": "??= ??( ??) ??' ??< ??> ??! ??-",
    "open comment": "nested /* comment",
    "preprocessor line": '\n#include "/etc/passwd"\n#define model_invoke evil\n',
    "pragma": '\n_Pragma("GCC error \\"x\\"")\n',
    "bidi controls": "safe\u202e\u2066 */ evil(); \u2069\u202c",
    "line separators": "a\u2028b\u2029c\x85d\x0be\x0cf",
    "nul": "nul\x00byte */ x",
    "ansi escape": "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "quotes": "a\"b'c`d",
    "html": "<script>alert(1)</script>&amp;",
    "cmake": "${CMAKE_COMMAND} -E rm -rf / ) message(FATAL_ERROR x)",
    "shell": "$(rm -rf ~); `id`; | & > out",
    "json": '{"name": "x"}\\u0000',
    "backslash end": "ends with a backslash \\",
    "c identifiers": "model_invoke",
    "unicode": "卷积层/Conv2D:0 ✓",
    "empty": "",
    "spaces": "   ",
    "long": "L" * 100_000,
    "long injection": "y" * 5000 + f"*/ {_GATED} /*",
}


def _float_graph() -> Graph:
    rng = np.random.default_rng(7)

    def const(name, shape, scale=0.3):
        return Tensor(name, shape, "float32", data=(rng.standard_normal(shape) * scale).astype(np.float32))

    x = Tensor("input", (1, 8, 8, 2))
    c1 = Tensor("c1", (1, 8, 8, 4))
    d1 = Tensor("d1", (1, 8, 8, 4))
    p1 = Tensor("p1", (1, 4, 4, 4))
    r1 = Tensor("r1", (1, 64))
    f1 = Tensor("f1", (1, 5))
    y = Tensor("y", (1, 5))
    w1, b1 = const("w1", (4, 3, 3, 2)), const("b1", (4,), 0.1)
    w2, b2 = const("w2", (1, 3, 3, 4)), const("b2", (4,), 0.1)
    shape = Tensor("shape", (2,), "int32", data=np.array([1, 64], np.int32))
    w3, b3 = const("w3", (5, 64), 0.1), const("b3", (5,), 0.1)

    def op(t, ins, out, **attrs):
        a = default_attrs(t)
        a.update(attrs)
        return Op(t, ins, [out], a, name=out.name)

    ops = [
        op("CONV_2D", [x, w1, b1], c1, padding="SAME", stride_h=1, stride_w=1, fused_activation="RELU"),
        op("DEPTHWISE_CONV_2D", [c1, w2, b2], d1, padding="SAME", stride_h=1, stride_w=1, depth_multiplier=1),
        op("AVERAGE_POOL_2D", [d1], p1, filter_h=2, filter_w=2, stride_h=2, stride_w=2, padding="VALID"),
        op("RESHAPE", [p1, shape], r1),
        op("FULLY_CONNECTED", [r1, w3, b3], f1),
        op("SOFTMAX", [f1], y, beta=1.0),
    ]
    tensors = [x, w1, b1, c1, w2, b2, d1, p1, shape, r1, w3, b3, f1, y]
    g = Graph(tensors, ops, [x], [y], name="tiny")
    g.validate()
    return g


def tiny_int8_model() -> Graph:
    g = _float_graph()
    calib = np.random.default_rng(1).standard_normal((64, 8, 8, 2)).astype(np.float32)
    return picoml.quantize(g, calib)


def rename(g: Graph, names: list[str], graph_name: str = "", description: str = "") -> Graph:
    """A copy of ``g`` whose op outputs take ``names`` in turn (ops are named after their output
    tensor, as the .tflite reader does, and op names are what generated C shows); the other
    tensors get plain names."""
    h = g.copy()
    outs = [op.outputs[0] for op in h.ops]
    for i, t in enumerate(outs):
        t.name = names[i % len(names)]
    for i, t in enumerate(t for t in h.tensors if all(t is not o for o in outs)):
        t.name = f"c{i}"  # plain: a repeated name would make the reader rename an op output
    for op in h.ops:
        op.name = op.outputs[0].name
    h.name, h.description = graph_name, description
    return h


def bomb_pad(out_hw: int = 40_004) -> bytes:
    """~600 bytes: one PAD whose int8 output declares out_hw² elements (1.6e9 by default)."""
    from picoml.graph import Tensor as T

    x = qtensor("x", (1, 4, 4, 1), 0.1, 0)
    pad = out_hw - 4
    pads = T("pads", (4, 2), "int32", data=np.array([[0, 0], [0, pad], [0, pad], [0, 0]], np.int32))
    y = qtensor("y", (1, out_hw, out_hw, 1), 0.1, 0)
    return to_tflite(single_op_graph("PAD", [x, pads], y))


def bomb_input(n: int = 30_000) -> bytes:
    """An int8 model whose input alone declares n × n elements."""
    x = qtensor("x", (1, n, n, 1), 0.1, 0)
    y = qtensor("y", (1, n, n, 1), 0.1, 0)
    return to_tflite(single_op_graph("RELU", [x], y))


def bomb_conv_windows() -> bytes:
    """Small tensors (2 MiB) but a 64×64 window over a 200×200 image: the interpreter's unfolded
    windows would need 200·200·64·64·8 bytes (1.2 GiB) for one inference."""
    rng = np.random.default_rng(0)
    x = qtensor("x", (1, 200, 200, 1), 0.1, 0)
    w = qtensor("w", (1, 64, 64, 1), 0.01, 0, data=rng.integers(-127, 128, (1, 64, 64, 1), dtype=np.int8))
    b = qtensor("b", (1,), 0.001, 0, dtype="int32", data=np.zeros(1, np.int32))
    y = qtensor("y", (1, 200, 200, 1), 0.1, 0)
    return to_tflite(single_op_graph("CONV_2D", [x, w, b], y, padding="SAME", stride_h=1, stride_w=1))


def memory_bombs(seed: int = 0, n: int = 24) -> list[tuple[str, bytes, str]]:
    """``n`` small, valid .tflite files that declare far more memory than the 256 MiB default,
    generated across op types with seeded random sizes: (description, file, where picoml must
    refuse it: "load" for a tensor or live set over the limit, "run" for the interpreter's
    working memory of one inference)."""
    rng = np.random.default_rng(seed)
    ops = ["RELU", "PAD", "CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"]
    ops += ["CONCATENATION", "MEAN", "SOFTMAX", "ADD"]
    out = []
    for i in range(n):
        kind = ops[i % len(ops)]
        big = int(rng.integers(17_000, 46_000))  # big² int8 elements: 276 MiB .. 1.97 GiB
        desc, data, stage = _bomb(kind, big, rng)
        out.append((f"{i}: {desc}", data, stage))
    return out


def _bomb(kind: str, big: int, rng: np.random.Generator) -> tuple[str, bytes, str]:
    q = qtensor
    if kind == "RELU":
        return (
            f"RELU on [1, {big}, {big}, 1]",
            to_tflite(single_op_graph("RELU", [q("x", (1, big, big, 1), 0.1, 0)], q("y", (1, big, big, 1), 0.1, 0))),
            "load",
        )
    if kind == "PAD":
        return f"PAD 4x4 -> {big}x{big}", bomb_pad(big), "load"
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        hw, k = int(rng.integers(150, 260)), int(rng.integers(48, 72))  # tensors < 70 KB, windows > 400 MiB
        w = q("w", (1, k, k, 1), 0.01, 0, data=rng.integers(-127, 128, (1, k, k, 1), dtype=np.int8))
        b = q("b", (1,), 0.001, 0, dtype="int32", data=np.zeros(1, np.int32))
        attrs = {"padding": "SAME", "stride_h": 1, "stride_w": 1}
        if kind == "DEPTHWISE_CONV_2D":
            attrs["depth_multiplier"] = 1
        g = single_op_graph(kind, [q("x", (1, hw, hw, 1), 0.1, 0), w, b], q("y", (1, hw, hw, 1), 0.1, 0), **attrs)
        return f"{kind} {k}x{k} window over {hw}x{hw}", to_tflite(g), "run"
    if kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        hw, k = int(rng.integers(150, 260)), int(rng.integers(48, 72))
        g = single_op_graph(
            kind,
            [q("x", (1, hw, hw, 4), 0.1, 0)],
            q("y", (1, hw, hw, 4), 0.1, 0),
            padding="SAME",
            stride_h=1,
            stride_w=1,
            filter_h=k,
            filter_w=k,
        )
        return f"{kind} {k}x{k} window over {hw}x{hw}x4", to_tflite(g), "run"
    if kind == "FULLY_CONNECTED":
        n = big * big // 16
        w = q("w", (4, 16), 0.01, 0, data=rng.integers(-127, 128, (4, 16), dtype=np.int8))
        g = single_op_graph("FULLY_CONNECTED", [q("x", (n, 16), 0.1, 0), w], q("y", (n, 4), 0.1, 0))
        return f"FULLY_CONNECTED on a batch of {n}", to_tflite(g), "load"
    if kind == "CONCATENATION":
        parts = int(rng.integers(300, 900))
        xs = [q(f"x{j}", (1, 1024, 1024), 0.1, 0) for j in range(parts)]
        g = single_op_graph("CONCATENATION", xs, q("y", (1, 1024 * parts, 1024), 0.1, 0), axis=1)
        return f"CONCATENATION of {parts} MiB inputs", to_tflite(g), "load"
    if kind == "MEAN":
        axes = Tensor("axes", (2,), "int32", data=np.array([1, 2], np.int32))
        g = single_op_graph(
            "MEAN", [q("x", (1, big, big, 1), 0.1, 0), axes], q("y", (1, 1, 1, 1), 0.1, 0), keep_dims=True
        )
        return f"MEAN over [1, {big}, {big}, 1]", to_tflite(g), "load"
    if kind == "SOFTMAX":
        g = single_op_graph("SOFTMAX", [q("x", (big, big), 0.1, 0)], q("y", (big, big), 1 / 256, -128), beta=1.0)
        return f"SOFTMAX on [{big}, {big}]", to_tflite(g), "load"
    if kind == "ADD":  # each input under the limit, the live set of inputs and output over it
        n = int(rng.integers(100, 250)) << 20
        g = single_op_graph("ADD", [q("a", (1, n), 0.1, 0), q("b", (1, n), 0.1, 0)], q("y", (1, n), 0.1, 0))
        return f"ADD of two {n >> 20} MiB inputs", to_tflite(g), "load"
    raise AssertionError(kind)
