"""Armv6-M lanes convolutions (pm_conv2d_s8_lanes): two output channels per 32-bit multiply.

The layout (codegen/lanes.py) and its condition, then layers at the edges of the lane bounds
bit-exact on the emulated Cortex-M0+ (assembly loop and requantization) and on the host (the
portable C twins, under ASan/UBSan): weights of -128 next to 127, inputs at -128 and 127, odd
channel counts (a block of 4 padded), odd k (a chunk padded), padding, stride, dilation, and
the _exact requantization twin. The shapes of test_kernel_variants.py run through it too."""

from __future__ import annotations

import numpy as np
import pytest
from test_exact_requant import LAYERS, extreme_inputs
from test_kernel_variants import conv_graph, run

from picoml.codegen.generate import generate_c
from picoml.codegen.lanes import lanes_fit, pack_lanes
from picoml.flows.verify import verify


def test_pack_lanes_layout():
    w = np.arange(-30, 30, dtype=np.int64).reshape(6, 10)  # 6 channels: a block of 4, one of 2 (+2 zero)
    p = pack_lanes(w.astype(np.int8))
    assert p.dtype == np.int32 and p.size == 8 * 10 // 2  # 8 channels (padded) x 10 inputs / 2 per word
    blocks = p.reshape(2, 5, 2, 2)  # [block, chunk, pair, input of the chunk]
    for blk in range(2):
        for h in range(5):
            for pr in range(2):
                for q in range(2):
                    a, b, j = 4 * blk + 2 * pr, 4 * blk + 2 * pr + 1, 2 * h + q
                    wa = w[a, j] if a < 6 else 0
                    wb = w[b, j] if b < 6 else 0
                    assert blocks[blk, h, pr, q] == wa + 65536 * wb
    odd = pack_lanes(np.ones((4, 3), np.int8))  # k = 3: a zero weight pads the last chunk
    assert odd.size == 4 * 4 // 2 and odd.reshape(1, 2, 2, 2)[0, 1, :, 1].tolist() == [0, 0]


def test_lanes_fit_refuses_only_a_chunk_of_two_minus_128():
    w = np.zeros((3, 6), np.int8)
    w[1, 1] = w[1, 2] = -128  # neighbours in different chunks (0, 1) and (2, 3): fits
    assert lanes_fit(w)
    w[2, 4] = w[2, 5] = -128
    assert not lanes_fit(w)
    w5 = np.zeros((1, 5), np.int8)
    w5[0, 4] = -128  # the pad weight of an odd k is 0
    assert lanes_fit(w5)


def _extreme(g, pattern):
    w = g.ops[0].inputs[1]
    flat = w.data.reshape(w.data.shape[0], -1)
    flat[:] = np.resize(np.array(pattern, np.int8), flat.shape)
    w.data = flat.reshape(w.data.shape)
    return g


CASES = {
    # every chunk at its largest lane sums: -128 * -128 + 127 * -128 ... with inputs at -128 and 127
    "pointwise_minus128_127": lambda: _extreme(conv_graph((1, 3, 4, 10), 6, 1, 1, act="NONE"), [-128, 127, 127]),
    "pointwise_127": lambda: _extreme(conv_graph((1, 2, 3, 9), 7, 1, 1, act="NONE", seed=1), [127, -127]),
    "pointwise_odd_k_oc5": lambda: conv_graph((1, 3, 3, 5), 5, 1, 1, seed=2, big_shift=True),
    "im2col_3x3_stride2_oc3": lambda: conv_graph((1, 7, 6, 3), 3, 3, 3, stride=2, seed=3),
    "im2col_dilated_oc9": lambda: conv_graph((1, 8, 7, 2), 9, 3, 3, dilation=2, seed=4, act="NONE"),
    "conv1d_k7": lambda: conv_graph((1, 1, 16, 3), 4, 1, 7, seed=5),
}


@pytest.mark.parametrize("target", ["cortex-m0plus", "host"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_lanes_bit_exact(case, target):
    g = CASES[case]()
    assert "pm_conv2d_s8_lanes" in generate_c(g, isa="armv6m")["model.c"]
    run(g, target, "armv6m")


@pytest.mark.parametrize("case", ["conv_1x1", "conv_im2col"])
def test_lanes_exact_twin(case):
    """test_exact_requant's layers beyond the fast bound call the lanes _exact twin on Armv6-M
    (its extreme inputs reach accumulators >= 2^30)."""
    g = LAYERS[case]()
    assert "pm_conv2d_s8_lanes_exact(" in generate_c(g, isa="armv6m")["model.c"]
    rep = verify(g, "cortex-m0plus", xs=extreme_inputs(g), counted_runs=1, isa="armv6m")
    assert rep.bit_exact, rep.first_mismatch


def test_lanes_offset_binary_fallback():
    # a chunk of two -128 weights: the layer keeps the offset-binary GEMM variant
    h = _extreme(conv_graph((1, 2, 3, 4), 4, 1, 1, seed=7, act="NONE"), [-128, -128, 5, 9])
    src = generate_c(h, isa="armv6m")["model.c"]
    assert "pm_conv2d_s8_lanes" not in src and "pm_conv2d_s8_1x1(" in src
    run(h, "cortex-m0plus", "armv6m")
