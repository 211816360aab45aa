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
    # |x / scale| >= 2^31 is an undefined float -> int32 cast in TFLite's AffineQuantize (x86 gives
    # INT32_MIN, Arm saturates); picoml saturates like Arm, so those inputs are left out here
    xs = np.clip(xs, -(2.0**30) * np.float32(y.scale[0]), 2.0**30 * np.float32(y.scale[0])).astype(np.float32)
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


# ---------------------------------------------------------------------------- LOGISTIC, TANH int16
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16).reshape(16, 4096)


@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("s_in", [2.0**-12, 2.0**-11, 2.0**-13, 1.0 / 3000, 0.001, 7e-5, 0.0123, 2.0**-15 * 3])
def test_logistic_tanh_every_int16_input(op_type, s_in):
    """All 65,536 inputs at once: power-of-two scales (the 3 << shift path, TANH also at shift 1)
    and general ones (the doubled multiplier)."""
    x = qtensor("x", (16, 4096), s_in, 0, "int16")
    g = single_op_graph(op_type, [x], qtensor("y", (16, 4096), 2.0**-15, 0, "int16"))
    assert_int_equal(picoml.run(g, ALL_INT16), tflm_run(to_tflite(g), ALL_INT16[None])[0], f"{op_type} {s_in}")


def test_logistic_needs_output_scale_2_pow_minus_15():
    x = qtensor("x", (4,), 0.001, 0, "int16")
    with pytest.raises(UnsupportedError, match="2\\^-15"):
        picoml.run(single_op_graph("LOGISTIC", [x], qtensor("y", (4,), 1 / 20000, 0, "int16")), np.zeros(4, np.int16))
