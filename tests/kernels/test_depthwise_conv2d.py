"""DEPTHWISE_CONV_2D (with depth multiplier) vs tflite-micro (int8, exact) and LiteRT (float32, 1e-5)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.graph.ops import out_size

from oracles import check_against_oracle, random_input, single_op_graph
from strategies import ACTS, DTYPES, PADDINGS, act_quant, act_tensor, bias, output_scale, weights


@settings(max_examples=120, deadline=None)
@given(
    dtype=DTYPES,
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    cin=st.integers(1, 8),
    mult=st.integers(1, 3),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    dh=st.integers(1, 2),
    dw=st.integers(1, 2),
    padding=PADDINGS,
    act=ACTS,
    per_channel=st.booleans(),
    with_bias=st.booleans(),
    qin=act_quant(),
    zp_out=st.integers(-128, 127),
    seed=st.integers(0, 2**31),
)
def test_depthwise_conv2d(
    dtype, h, w, cin, mult, kh, kw, sh, sw, dh, dw, padding, act, per_channel, with_bias, qin, zp_out, seed
):
    oh = out_size(h, kh, sh, dh, padding)
    ow = out_size(w, kw, sw, dw, padding)
    if oh <= 0 or ow <= 0:
        return
    cout = cin * mult
    rng = np.random.default_rng(seed)
    x = act_tensor("x", (1, h, w, cin), dtype, qin)
    wt = weights(rng, "w", (1, kh, kw, cout), dtype, 3, per_channel)
    b = bias(rng, "b", cout, dtype, qin[0], wt) if with_bias else None
    qout = (output_scale(rng, qin[0], wt, kh * kw), zp_out) if dtype == "int8" else None
    y = act_tensor("y", (1, oh, ow, cout), dtype, qout)
    g = single_op_graph(
        "DEPTHWISE_CONV_2D",
        [x, wt, b],
        y,
        padding=padding,
        stride_h=sh,
        stride_w=sw,
        dilation_h=dh,
        dilation_w=dw,
        depth_multiplier=mult,
        fused_activation=act,
    )
    check_against_oracle(g, random_input(x, 3, rng), f"depthwise {dtype}")
