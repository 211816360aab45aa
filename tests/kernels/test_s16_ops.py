"""int16 ADD, SUB, MUL, AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (reference/s16_ops.py) and the int16
data movement ops vs tflite-micro, exact."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.graph.ops import out_size

from oracles import assert_int_equal, qtensor, random_input, single_op_graph, tflm_run, to_tflite

ACTS = st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
SCALE = st.floats(1e-4, 0.05).map(lambda v: float(np.float32(v)))
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((1, 3, 1), (2, 1, 5)), ((5,), (1,))]


def _check(g, n, rng, what):
    xs = [random_input(t, n, rng) for t in g.inputs]
    got = picoml.run(g, xs if len(xs) > 1 else xs[0])
    assert_int_equal(got, tflm_run(to_tflite(g), xs), what)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM"]),
    st.sampled_from(SHAPES),
    SCALE,
    SCALE,
    SCALE,
    ACTS,
    st.booleans(),
)
def test_binary(seed, op_type, shapes, s1, s2, so, act, pot):
    """Broadcasting, random scales, every fused activation; ``pot_scale_int16`` both ways
    (tflite-micro's ADD and SUB ignore it)."""
    rng = np.random.default_rng(seed)
    a = qtensor("a", shapes[0], s1, 0, "int16")
    b = qtensor("b", shapes[1], s2, 0, "int16")
    shape = np.broadcast_shapes(shapes[0], shapes[1])
    y = qtensor("y", shape, so * (4 if op_type != "MUL" else 300 * max(s1, s2)), 0, "int16")
    attrs = {"fused_activation": act} if op_type in ("ADD", "SUB", "MUL") else {}
    if op_type in ("ADD", "SUB"):
        attrs["pot_scale_int16"] = pot
    g = single_op_graph(op_type, [a, b], y, **attrs)
    _check(g, 3, rng, f"{op_type} {shapes} {act} pot={pot}")


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["AVERAGE_POOL_2D", "MAX_POOL_2D"]),
    st.integers(2, 7),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 2),
    st.sampled_from(["SAME", "VALID"]),
    ACTS,
)
def test_pool(seed, op_type, hw, c, k, stride, padding, act):
    rng = np.random.default_rng(seed)
    s = float(np.float32(rng.random() * 0.01 + 1e-4))
    x = qtensor("x", (1, hw, hw, c), s, 0, "int16")
    o = out_size(hw, k, stride, 1, padding)
    if o <= 0:
        return
    y = qtensor("y", (1, o, o, c), s, 0, "int16")
    g = single_op_graph(
        op_type, [x], y, filter_h=k, filter_w=k, stride_h=stride, stride_w=stride, padding=padding, fused_activation=act
    )
    _check(g, 3, rng, f"{op_type} {hw} k{k} s{stride} {padding} {act}")


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([((2, 5, 3), [1]), ((1, 4, 4, 3), [1, 2]), ((3, 6), [0, 1]), ((2, 3, 4), [2]), ((40, 3), [0])]),
    st.booleans(),
    SCALE,
    SCALE,
    st.sampled_from(["MEAN", "SUM"]),
)
def test_mean(seed, case, keep, s_in, s_out, op_type):
    """MEAN and SUM (the same kernel; SUM's multiplier has no 1/n)."""
    rng = np.random.default_rng(seed)
    shape, axes = case
    x = qtensor("x", shape, s_in, 0, "int16")
    ax = qtensor("axes", (len(axes),), [], [], "int32", np.array(axes, np.int32))
    out = (
        [1 if i in axes else d for i, d in enumerate(shape)]
        if keep
        else [d for i, d in enumerate(shape) if i not in axes]
    )
    s_y = s_out if op_type == "MEAN" else s_out * 30
    g = single_op_graph(op_type, [x, ax], qtensor("y", out, s_y, 0, "int16"), keep_dims=keep)
    _check(g, 3, rng, f"{op_type} {shape} {axes} keep={keep}")


def test_data_movement_int16():
    """RESHAPE, PAD, CONCATENATION, STRIDED_SLICE, TRANSPOSE on int16: codes moved as they are."""
    rng = np.random.default_rng(0)
    x = qtensor("x", (1, 3, 4, 2), 0.01, 0, "int16")
    i32 = lambda n, v: qtensor(n, (len(v),), [], [], "int32", np.array(v, np.int32))  # noqa: E731
    graphs = [
        single_op_graph("RESHAPE", [x, i32("s", [1, 24])], qtensor("y", (1, 24), 0.01, 0, "int16"), new_shape=[1, 24]),
        single_op_graph(
            "PAD",
            [x, qtensor("p", (4, 2), [], [], "int32", np.array([[0, 0], [1, 2], [0, 1], [1, 0]], np.int32))],
            qtensor("y", (1, 6, 5, 3), 0.01, 0, "int16"),
        ),
        single_op_graph("TRANSPOSE", [x, i32("perm", [0, 2, 1, 3])], qtensor("y", (1, 4, 3, 2), 0.01, 0, "int16")),
        single_op_graph(
            "STRIDED_SLICE",
            [x, i32("b", [0, 1, 0, 0]), i32("e", [1, 3, 4, 2]), i32("st", [1, 1, 2, 1])],
            qtensor("y", (1, 2, 2, 2), 0.01, 0, "int16"),
        ),
    ]
    x2 = qtensor("x2", (1, 3, 4, 3), 0.01, 0, "int16")
    graphs.append(single_op_graph("CONCATENATION", [x, x2], qtensor("y", (1, 3, 4, 5), 0.01, 0, "int16"), axis=3))
    for g in graphs:
        _check(g, 3, rng, str(g.ops[0].type))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([(1, 10), (3, 4), (2, 2, 7), (1, 1000), (5, 1)]),
    st.floats(1e-5, 0.01).map(lambda v: float(np.float32(v))),
    st.sampled_from([1.0, 0.5, 2.0, 0.1]),
    st.integers(1, 32768),
)
def test_softmax(seed, shape, s_in, beta, spread):
    """Random scales, betas and input spreads (small spreads: rows of near-equal values; large:
    one value dominating), long rows (the 1 / sum table over its whole range)."""
    rng = np.random.default_rng(seed)
    x = qtensor("x", shape, s_in, 0, "int16")
    g = single_op_graph("SOFTMAX", [x], qtensor("y", shape, 2.0**-15, 0, "int16"), beta=beta)
    xs = rng.integers(-spread, spread, (3, *shape)).astype(np.int16)
    assert_int_equal(picoml.run(g, xs), tflm_run(to_tflite(g), xs), f"SOFTMAX {shape} {s_in} {beta} {spread}")


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["RELU", "RELU6", "LEAKY_RELU", "ABS", "ABS_SAME_SCALE"]),
    SCALE,
    SCALE,
    st.sampled_from([0.01, 0.2, 0.5, 1.0, 1.5, -0.3, 0.0]),
)
def test_relu_family(seed, op_type, s_in, s_out, alpha):
    """RELU requantizes, RELU6 clamps in the input's units (its output shares them), LEAKY_RELU
    with alphas of either sign, ABS (also with equal scales)."""
    rng = np.random.default_rng(seed)
    same = op_type in ("RELU6", "ABS_SAME_SCALE")  # ABS with equal scales: |-32768| clamps to 32767
    op_type = op_type.replace("_SAME_SCALE", "")
    x = qtensor("x", (5, 9), s_in, 0, "int16")
    y = qtensor("y", (5, 9), s_in if same else s_out, 0, "int16")
    attrs = {"alpha": alpha} if op_type == "LEAKY_RELU" else {}
    _check(single_op_graph(op_type, [x], y, **attrs), 3, rng, f"{op_type} {s_in} {s_out} {alpha}")


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(1, 11),
    st.integers(1, 11),
    st.booleans(),
    st.booleans(),
)
def test_resize_nearest(seed, ih, iw, oh, ow, align_corners, half_pixel):
    rng = np.random.default_rng(seed)
    x = qtensor("x", (1, ih, iw, 3), 0.01, 0, "int16")
    size = qtensor("size", (2,), [], [], "int32", np.array([oh, ow], np.int32))
    y = qtensor("y", (1, oh, ow, 3), 0.01, 0, "int16")
    g = single_op_graph(
        "RESIZE_NEAREST_NEIGHBOR", [x, size], y, align_corners=align_corners, half_pixel_centers=half_pixel
    )
    _check(g, 2, rng, f"RESIZE_NEAREST {ih}x{iw}->{oh}x{ow} {align_corners} {half_pixel}")


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 6)), ((2, 1, 3, 4), (3, 4, 2)), ((5, 8), (8, 1))]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    SCALE,
    SCALE,
)
def test_batch_matmul(seed, shapes, adj_x, adj_y, const_rhs, s1, s2):
    """int64 accumulators (BatchMatMul<int16_t, int64_t>), adjoints, broadcast batches, a constant rhs."""
    rng = np.random.default_rng(seed)
    ls, rs = shapes
    ls = ls[:-2] + ls[-2:][::-1] if adj_x else ls
    rs = rs[:-2] + rs[-2:][::-1] if adj_y else rs
    lhs = qtensor("lhs", ls, s1, 0, "int16")
    data = rng.integers(-32768, 32768, rs).astype(np.int16) if const_rhs else None
    rhs = qtensor("rhs", rs, s2, 0, "int16", data)
    out = np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2]) + (shapes[0][-2], shapes[1][-1])
    y = qtensor("y", out, s1 * s2 * 3000, 0, "int16")
    g = single_op_graph("BATCH_MATMUL", [lhs, rhs], y, adj_x=adj_x, adj_y=adj_y)
    _check(g, 3, rng, f"BATCH_MATMUL {ls} {rs} {adj_x} {adj_y} const={const_rhs}")
