"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR vs tflite-micro (int8, exact) and LiteRT (float32,
exact: the kernels copy values or evaluate the same float32 expressions in the same order).

Shapes up- and down-sample, align_corners and half_pixel_centers in every combination the
kernels accept, LiteRT's 2x bilinear special case, and the refusals.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import GraphError, UnsupportedError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Tensor
from picoml.graph.ops import OpType
from picoml.reference.resize import bilinear_int_tables, nearest_indices

from oracles import assert_int_equal, check_against_oracle, litert_run, random_input, single_op_graph, to_tflite
from strategies import DTYPES, act_quant, act_tensor

RESIZES = st.sampled_from([OpType.RESIZE_NEAREST_NEIGHBOR, OpType.RESIZE_BILINEAR])


def resize_graph(op, dtype, n, ih, iw, oh, ow, c, ac=False, hp=False, qin=(0.05, 3), qout=None):
    x = act_tensor("x", (n, ih, iw, c), dtype, qin)
    y = act_tensor("y", (n, oh, ow, c), dtype, qout or qin)
    size = Tensor("size", (2,), "int32", data=np.array([oh, ow], np.int32))
    return single_op_graph(op, [x, size], y, align_corners=ac, half_pixel_centers=hp)


@settings(max_examples=150, deadline=None)
@given(
    op=RESIZES,
    dtype=DTYPES,
    n=st.integers(1, 2),
    ih=st.integers(1, 9),
    iw=st.integers(1, 9),
    oh=st.integers(1, 24),
    ow=st.integers(1, 24),
    c=st.integers(1, 5),
    ac=st.booleans(),
    hp=st.booleans(),
    qin=act_quant(),
    seed=st.integers(0, 2**31),
)
def test_resize(op, dtype, n, ih, iw, oh, ow, c, ac, hp, qin, seed):
    if op == OpType.RESIZE_BILINEAR and ac and hp:
        return  # refused (test_bilinear_refuses_both_flags)
    g = resize_graph(op, dtype, n, ih, iw, oh, ow, c, ac, hp, qin)
    rng = np.random.default_rng(seed)
    xs = random_input(g.inputs[0], 3, rng)
    got = picoml.run(g, xs)
    model = to_tflite(g)
    if dtype == "int8":
        check_against_oracle(g, xs, f"{op} int8")
    else:  # exact: same float32 operations in the same order as LiteRT's kernels
        np.testing.assert_array_equal(got, litert_run(model, xs))


@settings(max_examples=40, deadline=None)
@given(
    dtype=DTYPES,
    ih=st.integers(1, 8),
    iw=st.integers(1, 8),
    c=st.integers(1, 9),
    seed=st.integers(0, 2**31),
)
def test_bilinear_twice_is_litert_2x2_kernel(dtype, ih, iw, c, seed):
    """Exactly 2x, no flags: LiteRT's float kernel is ResizeBilinear2x2 (halving sums, a
    different rounding from the generic weights); tflite-micro's int8 kernel is the generic one."""
    g = resize_graph(OpType.RESIZE_BILINEAR, dtype, 1, ih, iw, 2 * ih, 2 * iw, c)
    xs = random_input(g.inputs[0], 4, np.random.default_rng(seed))
    if dtype == "int8":
        check_against_oracle(g, xs)
    else:
        np.testing.assert_array_equal(picoml.run(g, xs), litert_run(to_tflite(g), xs))


def test_bilinear_int8_every_code_and_fraction():
    """All 256 codes at every corner weight a 1x2 -> 1x37 upsampling reaches, vs tflite-micro."""
    g = resize_graph(OpType.RESIZE_BILINEAR, "int8", 1, 2, 2, 37, 37, 256, hp=True)
    codes = np.arange(-128, 128, dtype=np.int8)
    rng = np.random.default_rng(0)
    xs = np.stack([rng.permutation(codes).reshape(1, 1, 1, 256).repeat(2, 1).repeat(2, 2) for _ in range(2)])
    xs[:, :, 0, 1] = np.roll(codes, 17)
    xs[:, :, 1, 0] = np.roll(codes, 91)
    check_against_oracle(g, xs, "bilinear all codes")


def test_bilinear_rounds_half_away_from_zero():
    """tflite-micro's default (double-rounding) build rounds the 2^20-scaled sum half away from
    zero: between -1 and -2 at weight 1/2 the result is -2, between 1 and 2 it is 2 (a single-
    rounding build would give -1 and 2)."""
    g = resize_graph(OpType.RESIZE_BILINEAR, "int8", 1, 1, 2, 1, 4, 2)
    x = np.array([[[[[-1, 1], [-2, 2]]]]], np.int8)  # (1, 1, 1, 2, 2)
    got = picoml.run(g, x)
    assert got[0, 0, 0, :, 0].tolist() == [-1, -2, -2, -2]  # x = 0, 0.5, 1 (clamped), 1.5
    assert got[0, 0, 0, 1, 1] == 2
    check_against_oracle(g, x)


def test_nearest_half_pixel_and_align_corners_together():
    """Nearest accepts both flags (only bilinear refuses them): round((i + 0.5) · (in-1)/(out-1))."""
    assert nearest_indices(4, 7, True, True).tolist() == [0, 1, 1, 2, 2, 3, 3]  # 0.25, 0.75, 1.25, ...; 3.25 -> 3
    g = resize_graph(OpType.RESIZE_NEAREST_NEIGHBOR, "int8", 1, 4, 3, 7, 5, 2, ac=True, hp=True)
    check_against_oracle(g, random_input(g.inputs[0], 2, np.random.default_rng(1)))


def test_resize_keeps_raw_codes_when_scales_differ():
    """The int8 kernels move raw codes: an output with other quantization parameters is not
    rescaled (tflite-micro's behaviour; PTQ gives in and out the same parameters)."""
    for op in (OpType.RESIZE_NEAREST_NEIGHBOR, OpType.RESIZE_BILINEAR):
        g = resize_graph(op, "int8", 1, 3, 3, 5, 4, 2, qin=(0.05, 3), qout=(0.2, -7))
        check_against_oracle(g, random_input(g.inputs[0], 2, np.random.default_rng(2)))


def test_bilinear_refuses_both_flags():
    with pytest.raises(UnsupportedError, match="align_corners and half_pixel_centers"):
        resize_graph(OpType.RESIZE_BILINEAR, "int8", 1, 2, 2, 4, 4, 1, ac=True, hp=True)


def test_bilinear_refuses_a_scale_that_reads_past_the_input():
    """1 -> 55 rows: the rounded integer scale ((1024 + 27) / 55 = 19, in 1/1024) reaches row 1 of
    a 1-row input at output row 54 (54 · 19 = 1026 >= 1024): tflite-micro would read past the
    tensor. 1 -> 54 is the largest 1-row upsampling it reads in bounds."""
    assert int(bilinear_int_tables(1, 55, False, False)[0].max()) == 1
    assert int(bilinear_int_tables(1, 54, False, False)[0].max()) == 0
    g = resize_graph(OpType.RESIZE_BILINEAR, "int8", 1, 1, 1, 55, 1, 1)
    with pytest.raises(UnsupportedError, match="read past the input"):
        picoml.run(g, np.zeros((1, 1, 1, 1, 1), np.int8))
    g = resize_graph(OpType.RESIZE_BILINEAR, "float32", 1, 1, 1, 55, 1, 1)  # the float kernel is fine
    picoml.run(g, np.zeros((1, 1, 1, 1, 1), np.float32))


@pytest.mark.parametrize(
    "size, match",
    [
        (np.array([0, 3], np.int32), "outside"),
        (np.array([3, 3, 3], np.int32), "1-D tensor of 2"),
        (np.array([3.0, 3.0], np.float32), "must be int32"),
    ],
)
def test_resize_refuses_bad_sizes(size, match):
    x = act_tensor("x", (1, 2, 2, 1), "float32")
    y = act_tensor("y", (1, 3, 3, 1), "float32")
    s = Tensor("size", size.shape, "int32" if size.dtype == np.int32 else "float32", data=size)
    with pytest.raises((GraphError, UnsupportedError), match=match):
        single_op_graph(OpType.RESIZE_NEAREST_NEIGHBOR, [x, s], y)


def test_resize_refuses_a_computed_size():
    x = act_tensor("x", (1, 2, 2, 1), "float32")
    s = Tensor("size", (2,), "int32")
    with pytest.raises((GraphError, UnsupportedError), match="constant"):
        single_op_graph(OpType.RESIZE_BILINEAR, [x, s], act_tensor("y", (1, 3, 3, 1), "float32"))


def test_round_trip_and_schema_fields():
    from ai_edge_litert import schema_py_generated as s

    for op, opts in (
        (OpType.RESIZE_NEAREST_NEIGHBOR, "ResizeNearestNeighborOptions"),
        (OpType.RESIZE_BILINEAR, "ResizeBilinearOptions"),
    ):
        g = resize_graph(op, "int8", 1, 2, 3, 4, 5, 2, ac=True)
        data = to_tflite(g)
        m = s.Model.GetRootAsModel(data, 0)
        o = m.Subgraphs(0).Operators(0)
        assert m.OperatorCodes(o.OpcodeIndex()).BuiltinCode() == getattr(s.BuiltinOperator, op)
        assert o.BuiltinOptionsType() == getattr(s.BuiltinOptions, opts)
        t = getattr(s, opts)()
        t.Init(o.BuiltinOptions().Bytes, o.BuiltinOptions().Pos)
        assert t.AlignCorners() and not t.HalfPixelCenters()
        g2 = read_tflite_bytes(data)
        assert g.diff(g2) == []
        assert_int_equal(
            picoml.run(g2, np.ones((1, 1, 2, 3, 2), np.int8)), picoml.run(g, np.ones((1, 1, 2, 3, 2), np.int8))
        )
