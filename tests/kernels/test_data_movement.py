"""RESHAPE, PAD, CONCATENATION vs tflite-micro (int8, exact) and LiteRT (float32)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.graph import Tensor

from oracles import check_against_oracle, qtensor, random_input, single_op_graph
from strategies import DTYPES, act_quant, act_tensor


@settings(max_examples=40, deadline=None)
@given(
    dtype=DTYPES,
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    q=act_quant(),
    minus_one=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_reshape(dtype, shape, q, minus_one, seed):
    rng = np.random.default_rng(seed)
    x = act_tensor("x", shape, dtype, q)
    n = int(np.prod(shape))
    new = [1, n]
    y = act_tensor("y", new, dtype, q)
    shp = Tensor("shape", (2,), "int32", data=np.array([1, -1 if minus_one else n], np.int32))
    g = single_op_graph("RESHAPE", [x, shp], y, new_shape=(1, n))
    check_against_oracle(g, random_input(x, 3, rng), "reshape")


@settings(max_examples=40, deadline=None)
@given(
    dtype=DTYPES,
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    q=act_quant(),
    seed=st.integers(0, 2**31),
    data=st.data(),
)
def test_pad(dtype, shape, q, seed, data):
    rng = np.random.default_rng(seed)
    pads = np.array([[data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))] for _ in shape], np.int32)
    x = act_tensor("x", shape, dtype, q)
    y = act_tensor("y", [d + lo + hi for d, (lo, hi) in zip(shape, pads, strict=True)], dtype, q)
    p = Tensor("paddings", (len(shape), 2), "int32", data=pads)
    g = single_op_graph("PAD", [x, p], y)
    check_against_oracle(g, random_input(x, 3, rng), "pad")


@settings(max_examples=40, deadline=None)
@given(
    dtype=DTYPES,
    base=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    k=st.integers(1, 4),
    q=act_quant(),
    seed=st.integers(0, 2**31),
    data=st.data(),
)
def test_concatenation(dtype, base, k, q, seed, data):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    ax = axis % len(base)
    shapes = []
    for _ in range(k):
        s = list(base)
        s[ax] = data.draw(st.integers(1, 4))
        shapes.append(s)
    xs = [act_tensor(f"x{i}", s, dtype, q) for i, s in enumerate(shapes)]
    out = list(base)
    out[ax] = sum(s[ax] for s in shapes)
    y = act_tensor("y", out, dtype, q)
    g = single_op_graph("CONCATENATION", xs, y, axis=axis)
    check_against_oracle(g, [random_input(x, 3, rng) for x in xs], "concat")


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    q=act_quant(-3, 0),
    scale_in=st.floats(-1, 2),
    seed=st.integers(0, 2**31),
)
def test_quantize_float_to_int8(shape, q, scale_in, seed):
    rng = np.random.default_rng(seed)
    x = Tensor("x", tuple(shape), "float32")
    y = qtensor("y", shape, q[0], q[1])
    g = single_op_graph("QUANTIZE", [x], y)
    xs = (rng.standard_normal((3,) + tuple(shape)) * 10**scale_in).astype(np.float32)
    # exact halfway cases must round away from zero, as TfLiteRound does
    xs.reshape(-1)[: min(4, xs.size)] = (np.array([0.5, -0.5, 1.5, -2.5])[: min(4, xs.size)] * q[0]).astype(np.float32)
    check_against_oracle(g, xs, "quantize")


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    qi=act_quant(-3, 0),
    qo=act_quant(-3, 0),
    seed=st.integers(0, 2**31),
)
def test_requantize_int8(shape, qi, qo, seed):
    rng = np.random.default_rng(seed)
    x = qtensor("x", shape, qi[0], qi[1])
    y = qtensor("y", shape, qo[0], qo[1])
    g = single_op_graph("QUANTIZE", [x], y)
    check_against_oracle(g, random_input(x, 3, rng), "requantize")


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), q=act_quant(-3, 1), seed=st.integers(0, 2**31))
def test_dequantize(shape, q, seed):
    """Exact: TFLM computes float(double(scale) * (q - zp)), one rounding, as picoml does."""
    import picoml

    from oracles import tflm_run, to_tflite

    rng = np.random.default_rng(seed)
    x = qtensor("x", shape, q[0], q[1])
    y = Tensor("y", tuple(shape), "float32")
    g = single_op_graph("DEQUANTIZE", [x], y)
    xs = random_input(x, 3, rng)
    np.testing.assert_array_equal(picoml.run(g, xs), tflm_run(to_tflite(g), xs))
