"""int8 ADD / MUL by a per-channel constant (an unfused BatchNorm) compiles to one table per
channel: bit-exact with the reference on every code of every channel (host with sanitizers,
Cortex-M0+, Cortex-M4, RISC-V), a few instructions per element instead of ~100, and the
general kernel where the tables would be too large or the constant is not per-channel."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import generate_c
from picoml.codegen.emit_affine import TABLE_LIMIT, channel_tables, uses_channel_tables
from picoml.flows.verify import verify
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType, default_attrs
from picoml.reference import interpreter

from oracles import qtensor

CASES = [  # (op, channels, const first, x (scale, zp), const (scale, zp), y (scale, zp), activation)
    (OpType.MUL, 8, False, (0.05, -128), (0.01, 3), (0.02, -5), "NONE"),
    (OpType.ADD, 8, False, (0.02, -5), (0.03, -20), (0.04, 7), "NONE"),
    (OpType.ADD, 3, True, (0.5, 100), (0.001, 0), (0.3, -128), "RELU"),
    (OpType.MUL, 16, True, (1e-3, 0), (2.0, -1), (0.7, 12), "RELU6"),
]


def channel_graph(op_type, channels, const_first, qx, qc, qy, act, pixels=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    x = qtensor("x", (1, *pixels, channels), *qx)
    c = qtensor("bn", (channels,), *qc, data=rng.integers(-128, 128, channels, dtype=np.int8))
    y = qtensor("y", (1, *pixels, channels), *qy)
    attrs = {**default_attrs(op_type), "fused_activation": act}
    op = Op(op_type, [c, x] if const_first else [x, c], [y], attrs, name="bn")
    g = Graph([x, c, y], [op], [x], [y], name="bn")
    g.validate()
    return g


def every_code(g, extra=2):
    """Inputs that put each of the 256 codes into every channel, plus random ones."""
    shape = g.inputs[0].shape
    n_px = int(np.prod(shape[:-1]))
    codes = np.arange(-128, 128, dtype=np.int16)
    rows = []
    for start in range(0, 256, n_px):
        v = np.resize(codes[start : start + n_px], n_px)
        rows.append(np.repeat(v[:, None], shape[-1], axis=1).astype(np.int8).reshape(shape))
    rng = np.random.default_rng(1)
    rows += [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(extra)]
    return np.stack(rows)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}_{c[1]}ch")
def test_tables_are_the_reference_on_every_code(case):
    g = channel_graph(*case)
    op = g.ops[0]
    assert uses_channel_tables(op)
    t = channel_tables(op)
    codes = np.arange(-128, 128, dtype=np.int8)
    for ch in range(case[1]):
        x = np.zeros((256, *g.inputs[0].shape), np.int8)
        x[..., ch] = codes[:, None, None, None]
        want = interpreter.run(g, x)[:, 0, 0, 0, ch]
        np.testing.assert_array_equal(t[ch], want)


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4", "riscv32"])
@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: f"{c[0]}_{c[1]}ch")
def test_compiled_tables_bit_exact(case, target):
    g = channel_graph(*case, pixels=(8, 8))  # enough elements that the loop, not the call, is measured
    src = generate_c(g)["model.c"]
    assert "pm_lut_channels_s8(" in src and "pm_add_s8(" not in src and "pm_mul_s8(" not in src
    rep = verify(g, target, xs=every_code(g), sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch
    if rep.layer_instructions:
        per_element = rep.layer_instructions[0]["instructions"] / g.outputs[0].size
        assert per_element < 10, per_element  # the general kernels: 136 (MUL) and 170 (ADD) on Cortex-M0+


def test_general_kernel_where_tables_do_not_pay():
    wide = channel_graph(OpType.ADD, TABLE_LIMIT // 256 + 1, False, (0.02, 0), (0.02, 0), (0.02, 0), "NONE", (1, 1))
    assert not uses_channel_tables(wide.ops[0])
    assert "pm_add_s8(" in generate_c(wide)["model.c"]
    g = channel_graph(OpType.MUL, 4, False, (0.05, 0), (0.01, 0), (0.02, 0), "NONE")
    x, y = g.inputs[0], g.outputs[0]
    g.ops[0].inputs[1] = qtensor("full", x.shape, 0.01, 0, data=np.ones(x.shape, np.int8))  # varies per pixel
    assert not uses_channel_tables(g.ops[0])
    assert y.shape == x.shape
