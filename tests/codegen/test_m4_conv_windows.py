"""Im2col convolutions whose window rows are not whole words (PM_FILTER_ROWS, codegen/conv_rows.py):
windows widened straight from the input rows on the Armv7E-M speed build, the reordered byte
window on the size build and for the odd last channel, bit-exact against the reference interpreter
on cortex-m4 at -O2 and -Os and on cortex-m0plus (its own lanes layout, which must not change).

Shapes: 1 to 5 input channels, 3x3, 5x5, 1x3 and 3x1 windows, strides 1 and 2 (and 2x1), SAME and
VALID padding, odd image sizes (4-pixel blocks that straddle output rows, a last block of fewer
than 4), row dilation (ROWS) and column dilation (K4 kept), 1 to 17 output channels, batches of 2,
full-range and clamped activations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kernel_variants import _bias, _weights
from test_m4_gemm import run

from picoml.codegen.conv_rows import ROWS, padded_rows, rows_positions
from picoml.codegen.generate import generate_c
from picoml.flows.verify import verify

from oracles import qtensor, single_op_graph


def _out(n, k, s, d, padding):
    return (n + s - 1) // s if padding == "SAME" else (n - (k - 1) * d - 1) // s + 1


def conv(x_shape, oc, kh, kw, stride=(1, 1), padding="SAME", dilation=(1, 1), act="NONE", seed=0, x_zp=3):
    rng = np.random.default_rng(seed)
    x = qtensor("x", x_shape, 0.05, x_zp)
    w = _weights(rng, (oc, kh, kw, x_shape[3]), oc, big_shift=seed % 2 == 1)
    b = _bias(rng, 0.05, w, oc)
    h = _out(x_shape[1], kh, stride[0], dilation[0], padding)
    wd = _out(x_shape[2], kw, stride[1], dilation[1], padding)
    y = qtensor("y", (x_shape[0], h, wd, oc), 0.08, -5)
    return single_op_graph(
        "CONV_2D",
        [x, w, b],
        y,
        stride_h=stride[0],
        stride_w=stride[1],
        padding=padding,
        dilation_h=dilation[0],
        dilation_w=dilation[1],
        fused_activation=act,
    )


CASES = {
    # VWW's first layer in small: 3x3, 3 channels, stride 2, SAME (pads right and bottom only)
    "ic3_3x3_s2_same_oc8": lambda: conv((1, 13, 14, 3), 8, 3, 3, stride=(2, 2), seed=1, act="RELU6"),
    # ResNet-8's: stride 1, SAME, 16 channels (windows at every byte offset), odd width
    "ic3_3x3_s1_same_oc16": lambda: conv((1, 7, 9, 3), 16, 3, 3, seed=2, act="RELU"),
    "ic1_3x3_s1_valid_oc5": lambda: conv((1, 8, 7, 1), 5, 3, 3, padding="VALID", seed=3),
    "ic1_5x5_s2_same_oc17": lambda: conv((1, 11, 9, 1), 17, 5, 5, stride=(2, 2), seed=4, x_zp=-128),
    "ic2_3x3_s2_valid_oc4": lambda: conv((1, 9, 11, 2), 4, 3, 3, stride=(2, 2), padding="VALID", seed=5),
    "ic2_1x3_s1_same_oc7": lambda: conv((1, 5, 13, 2), 7, 1, 3, seed=6),
    "ic3_5x5_s1_same_oc3": lambda: conv((1, 7, 6, 3), 3, 5, 5, seed=7, act="RELU"),
    "ic5_3x3_s2_same_oc9": lambda: conv((1, 9, 7, 5), 9, 3, 3, stride=(2, 2), seed=8),
    "ic5_1x3_s1_valid_oc6": lambda: conv((1, 4, 9, 5), 6, 1, 3, padding="VALID", seed=9),
    "ic3_3x1_s1_same_oc1": lambda: conv((1, 6, 5, 3), 1, 3, 1, seed=10),  # one channel: the odd one only
    "ic1_3x3_s2x1_same_oc6": lambda: conv((1, 10, 7, 1), 6, 3, 3, stride=(2, 1), seed=11),
    "ic3_3x3_row_dilated_oc10": lambda: conv((1, 11, 8, 3), 10, 3, 3, dilation=(2, 1), seed=12, act="RELU"),
    "ic3_3x3_col_dilated_k4_oc6": lambda: conv((1, 8, 11, 3), 6, 3, 3, dilation=(1, 2), seed=13),
    "ic4_3x3_whole_words_oc5": lambda: conv((1, 6, 7, 4), 5, 3, 3, stride=(2, 2), seed=14),  # plain rows
    "ic3_3x3_s2_batch2_oc11": lambda: conv((2, 7, 9, 3), 11, 3, 3, stride=(2, 2), seed=15),
    "ic1_3x3_s1_same_oc13_wide": lambda: conv((1, 3, 21, 1), 13, 3, 3, seed=16, act="RELU"),
}

LAYOUT = {
    "ic3_3x3_col_dilated_k4_oc6": "PM_FILTER_K4",
    "ic4_3x3_whole_words_oc5": "PM_FILTER_PLAIN",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layout_chosen(case):
    src = generate_c(CASES[case](), isa="armv7em")["model.c"]
    assert f".filter_layout = {LAYOUT.get(case, ROWS)}" in src
    assert ROWS not in generate_c(CASES[case](), isa="armv6m")["model.c"]


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_windows_cortex_m4(case, opt):
    run(CASES[case](), opt=opt)


@pytest.mark.parametrize("case", ["ic3_3x3_s2_same_oc8", "ic1_5x5_s2_same_oc17", "ic5_3x3_s2_same_oc9"])
def test_windows_cortex_m0plus(case):
    run(CASES[case](), target="cortex-m0plus")


@pytest.mark.parametrize("kh,kw,ic", [(3, 3, 3), (3, 3, 1), (5, 5, 1), (1, 3, 1), (3, 3, 2), (3, 3, 5), (4, 1, 3)])
def test_rows_order_is_the_k4_row_permuted(kh, kw, ic):
    """Each window value lands in its own slot of the K4-length row; the slots left are the padding,
    and each row's whole words keep their bytes in order, chunk-aligned."""
    pos = rows_positions(kh, kw, ic)
    k = kh * kw * ic
    kp = (k + 3) & ~3
    assert len(set(pos.tolist())) == k and pos.min() == 0 and pos.max() < kp
    q4 = (kw * ic) & ~3
    for ky in range(kh):
        assert (pos[ky * kw * ic : ky * kw * ic + q4] == np.arange(ky * q4, (ky + 1) * q4)).all()
    w = np.arange(1, 2 * k + 1).reshape(2, kh, kw, ic).astype(np.int8)
    rows, layout = padded_rows(w, 1)
    assert layout == ROWS and rows.shape == (2, kp)
    assert sorted(rows[0][rows[0] != 0].tolist()) == list(range(1, k + 1))


@pytest.mark.parametrize("case", ["ic3_3x3_s2_same_oc8", "ic2_1x3_s1_same_oc7", "ic3_3x3_row_dilated_oc10"])
def test_windows_host_armv7em_layout(case):
    """The Armv7E-M layout through the portable C on the host (ASan/UBSan): the reordered byte window."""
    g = CASES[case]()
    xs = np.random.default_rng(1).integers(-128, 128, (3,) + g.inputs[0].shape, dtype=np.int8)
    rep = verify(g, "host", xs=xs, sanitize=True, counted_runs=1, isa="armv7em")
    assert rep.bit_exact, f"host/armv7em: {rep.mismatches} mismatches; {rep.first_mismatch}"


@settings(max_examples=10, deadline=None)
@given(
    ic=st.integers(1, 5),
    k=st.sampled_from([(3, 3), (5, 5), (1, 3), (3, 1), (2, 3)]),
    stride=st.sampled_from([(1, 1), (2, 2), (1, 2), (2, 1)]),
    padding=st.sampled_from(["SAME", "VALID"]),
    h=st.integers(5, 11),
    w=st.integers(5, 11),
    oc=st.integers(1, 17),
    seed=st.integers(0, 1000),
)
def test_random_windows_cortex_m4(ic, k, stride, padding, h, w, oc, seed):
    """Random shapes on the speed build (the widened windows; ROWS or, for whole-word rows, plain)."""
    run(conv((1, h, w, ic), oc, k[0], k[1], stride=stride, padding=padding, seed=seed, act="NONE"), seed=seed)
