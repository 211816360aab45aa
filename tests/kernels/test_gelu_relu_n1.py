"""GELU (erf and tanh forms) and RELU_N1_TO_1 vs LiteRT: int8 exact (every input code), float32
within oracles.FLOAT_RTOL for GELU (LiteRT's float GELU differs from the float32 formula by an
ulp now and then) and exact for RELU_N1_TO_1 (a clamp).

tflite-micro registers neither op (``test_tflite_micro_has_no_kernel`` pins it): a model with them
does not run on tflite-micro, so LiteRT's kernels are the spec, int8 included.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph import Tensor

from oracles import assert_float_close, assert_int_equal, litert_run, qtensor, single_op_graph, tflm_run, to_tflite
from strategies import act_quant

CODES = np.arange(-128, 128, dtype=np.int8)


@settings(max_examples=120, deadline=None)
@given(op=st.sampled_from(["GELU", "RELU_N1_TO_1"]), approximate=st.booleans(), q_in=act_quant(-3, 0.7),
       q_out=act_quant(-3, 0.3))  # fmt: skip
def test_int8_every_code(op, approximate, q_in, q_out):
    attrs = {"approximate": approximate} if op == "GELU" else {}
    g = single_op_graph(op, [qtensor("x", (256,), *q_in)], qtensor("y", (256,), *q_out), **attrs)
    got = picoml.run(g, CODES[None])
    assert_int_equal(got, litert_run(to_tflite(g), CODES[None]), f"{op} {attrs} {q_in} -> {q_out}")


@pytest.mark.parametrize("op,approximate", [("GELU", False), ("GELU", True), ("RELU_N1_TO_1", False)])
@pytest.mark.parametrize("spread", [0.01, 1.0, 4.0, 100.0])
def test_float32(op, approximate, spread):
    attrs = {"approximate": approximate} if op == "GELU" else {}
    g = single_op_graph(op, [Tensor("x", (4, 64))], Tensor("y", (4, 64)), **attrs)
    x = (np.random.default_rng(3).standard_normal((5, 4, 64)) * spread).astype(np.float32)
    got = picoml.run(g, x)
    want = litert_run(to_tflite(g), x)
    if op == "RELU_N1_TO_1":
        np.testing.assert_array_equal(got, want)
    else:
        assert_float_close(got, want, f"{op} approximate={approximate} spread={spread}")


@pytest.mark.parametrize("op", ["GELU", "RELU_N1_TO_1"])
def test_tflite_micro_has_no_kernel(op):
    g = single_op_graph(op, [qtensor("x", (4,), 0.1, 0)], qtensor("y", (4,), 0.1, 0))
    with pytest.raises(RuntimeError):
        tflm_run(to_tflite(g), np.zeros((1, 4), np.int8))
