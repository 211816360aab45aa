"""FULLY_CONNECTED vs tflite-micro (int8, exact) and LiteRT (float32, 1e-5), incl. keep_num_dims."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oracles import check_against_oracle, random_input, single_op_graph
from strategies import ACTS, DTYPES, act_quant, act_tensor, bias, output_scale, weights


@settings(max_examples=120, deadline=None)
@given(
    dtype=DTYPES,
    batch=st.integers(1, 3),
    depth=st.integers(1, 64),
    units=st.integers(1, 32),
    act=ACTS,
    with_bias=st.booleans(),
    keep_num_dims=st.booleans(),
    rank3=st.booleans(),
    qin=act_quant(),
    zp_out=st.integers(-128, 127),
    per_channel=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_fully_connected(
    dtype, batch, depth, units, act, with_bias, keep_num_dims, rank3, qin, zp_out, per_channel, seed
):
    rng = np.random.default_rng(seed)
    in_shape = (1, batch, depth) if rank3 else (batch, depth)
    x = act_tensor("x", in_shape, dtype, qin)
    wt = weights(rng, "w", (units, depth), dtype, 0, per_channel)
    b = bias(rng, "b", units, dtype, qin[0], wt) if with_bias else None
    out_shape = in_shape[:-1] + (units,) if keep_num_dims else (batch, units)
    qout = (output_scale(rng, qin[0], wt, depth), zp_out) if dtype == "int8" else None
    y = act_tensor("y", out_shape, dtype, qout)
    g = single_op_graph("FULLY_CONNECTED", [x, wt, b], y, fused_activation=act, keep_num_dims=keep_num_dims)
    check_against_oracle(g, random_input(x, 3, rng), f"fc {dtype}")
