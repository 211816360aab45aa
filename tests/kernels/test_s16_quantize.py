"""QUANTIZE and DEQUANTIZE with int16 (and int32 → int16 / int8) vs tflite-micro, exact.

tflite-micro's quantize_common.cc pairs: float32 → int16 (AffineQuantize, the division in
float32), int16 → int8 / int16, int8 → int16, int32 → int8 / int16 (Requantize: input minus its
zero point, the int32 MultiplyByQuantizedMultiplier, plus the output zero point, clamped).
DEQUANTIZE int16 → float32 is float32(double(scale) · (q - zp)): compared bit for bit.
Zero points are free here (QUANTIZE is how 16x8 graphs meet asymmetric tensors).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import UnsupportedError

from oracles import assert_int_equal, qtensor, random_input, single_op_graph, tflm_run, to_tflite

RANGE = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(1 << 20), 1 << 20)}
PAIRS = [("int16", "int8"), ("int8", "int16"), ("int16", "int16"), ("int32", "int16"), ("int32", "int8")]
SCALES = st.floats(1e-5, 4.0).map(lambda v: float(np.float32(v)))


def _zp(rng, dtype):
    if dtype == "int16":
        return int(rng.integers(-300, 301)) if rng.random() < 0.5 else 0
    lo, hi = RANGE[dtype]
    return int(rng.integers(lo, hi + 1)) if dtype == "int8" else int(rng.integers(-1000, 1001))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(PAIRS),
    SCALES,
    SCALES,
    st.lists(st.integers(1, 6), min_size=1, max_size=3),
)
def test_requantize(seed, pair, s_in, s_out, shape):
    rng = np.random.default_rng(seed)
    src, dst = pair
    x = qtensor("x", shape, s_in, _zp(rng, src), src)
    y = qtensor("y", shape, s_out, _zp(rng, dst), dst)
    g = single_op_graph("QUANTIZE", [x], y)
    lo, hi = RANGE[src]
    xs = rng.integers(lo, hi + 1, (4, *shape)).astype(src)
    try:
        got = picoml.run(g, xs)
    except UnsupportedError as e:  # a multiplier of 2^30 and more: refused (quantize_multiplier_checked)
        assert "2^30 or more" in str(e)
        return
    assert_int_equal(got, tflm_run(to_tflite(g), xs), f"QUANTIZE {src}->{dst}")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), SCALES, st.integers(-200, 200), st.floats(0.01, 1e4))
def test_float_to_int16(seed, scale, zp, spread):
    rng = np.random.default_rng(seed)
    x = qtensor("x", (3, 7), [], [], "float32")
    y = qtensor("y", (3, 7), scale * 1e-3, zp, "int16")
    g = single_op_graph("QUANTIZE", [x], y)
    xs = (rng.standard_normal((5, 3, 7)) * spread).astype(np.float32)
    assert_int_equal(picoml.run(g, xs), tflm_run(to_tflite(g), xs), "QUANTIZE float32->int16")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), SCALES, st.integers(-300, 300))
def test_dequantize_int16(seed, scale, zp):
    rng = np.random.default_rng(seed)
    x = qtensor("x", (4, 9), scale, zp, "int16")
    g = single_op_graph("DEQUANTIZE", [x], qtensor("y", (4, 9), [], [], "float32"))
    xs = random_input(x, 5, rng)
    np.testing.assert_array_equal(picoml.run(g, xs), tflm_run(to_tflite(g), xs))


@pytest.mark.parametrize("pair", [("int16", "uint8"), ("uint8", "int16"), ("int32", "uint8")])
def test_pairs_tflm_lacks_are_refused(pair):
    src, dst = pair
    with pytest.raises(UnsupportedError, match=f"QUANTIZE {src}→{dst}"):
        single_op_graph("QUANTIZE", [qtensor("x", (4,), 0.1, 0, src)], qtensor("y", (4,), 0.1, 0, dst))
