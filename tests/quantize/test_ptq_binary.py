"""PTQ of SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE and DIV: each int8 graph runs exactly as in
tflite-micro and its dequantized output tracks the float model; MAXIMUM/MINIMUM get one quantization
for inputs and output (tflite-micro compares raw codes); SUB's output is widened like ADD's."""

from __future__ import annotations

import numpy as np
import pytest
from test_ptq import N_ORACLE, Builder, check_tflm, fc, samples

import picoml
from picoml.graph.ops import OpType
from picoml.quantize.ptq import dequantize_output


def _graph(op_type, const_second, seed):
    rng = np.random.default_rng(seed)
    b = Builder(x=(1, 6))
    a = fc(b, b.inputs[0], 4, "a", rng)
    if const_second:
        k = rng.uniform(0.5, 2.0, (4,)) if op_type == OpType.DIV else rng.standard_normal((4,))
        other = b.const("k", k)
    else:
        other = fc(b, b.inputs[0], 4, "b", rng)
        if op_type == OpType.DIV:  # a divisor away from zero: relu(b) + 1
            other = b.op(OpType.ADD, [b.op(OpType.RELU, [other], "rb"), b.const("one", [1.0])], "b1")
    return b.graph(b.op(op_type, [a, other], "y"))


@pytest.mark.parametrize("const_second", [False, True])
@pytest.mark.parametrize("op_type", [OpType.SUB, OpType.MAXIMUM, OpType.MINIMUM, OpType.SQUARED_DIFFERENCE, OpType.DIV])
def test_quantized_binary_op(op_type, const_second):
    g = _graph(op_type, const_second, 3)
    x = samples(g, 64, 4)
    q = picoml.quantize(g, x)
    op = next(o for o in q.ops if o.type == op_type)
    if op_type in (OpType.MAXIMUM, OpType.MINIMUM):
        params = {(float(t.scale[0]), int(t.zero_point[0])) for t in (*op.inputs, *op.outputs)}
        assert len(params) == 1
    xt = samples(g, N_ORACLE, 5)
    got = dequantize_output(q, check_tflm(q, xt))
    want = picoml.run(g, xt)
    span = float(want.max() - want.min())
    assert np.abs(got.reshape(want.shape) - want).max() <= 0.08 * span


def test_sub_output_widened_for_tflm_rescale():
    """SUB(x, x + tiny) cancels: like ADD, the output scale is widened until TFLM's rescale is below 1."""
    b = Builder(x=(1, 4))
    xx = b.op(OpType.FULLY_CONNECTED, [b.inputs[0], b.const("w", np.eye(4)), b.const("b", np.full(4, 1e-9))], "xx")
    g = b.graph(b.op(OpType.SUB, [b.inputs[0], xx], "d"))
    q = picoml.quantize(g, samples(g, 32, 21))
    s1, s2, so = (float(t.scale[0]) for t in (*q.ops[-1].inputs, q.ops[-1].outputs[0]))
    assert 2 * max(s1, s2) < (1 << 20) * so
    check_tflm(q, samples(g, N_ORACLE, 22))
