"""AVERAGE_POOL_2D and MAX_POOL_2D vs tflite-micro (int8, exact) and LiteRT (float32, 1e-5)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from picoml.graph.ops import out_size

from oracles import check_against_oracle, random_input, single_op_graph
from strategies import ACTS, DTYPES, PADDINGS, act_quant, act_tensor


@pytest.mark.parametrize("op_type", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@settings(max_examples=80, deadline=None)
@given(
    dtype=DTYPES,
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    c=st.integers(1, 6),
    fh=st.integers(1, 5),
    fw=st.integers(1, 5),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    padding=PADDINGS,
    act=ACTS,
    q=act_quant(),
    seed=st.integers(0, 2**31),
)
def test_pool(op_type, dtype, h, w, c, fh, fw, sh, sw, padding, act, q, seed):
    oh, ow = out_size(h, fh, sh, 1, padding), out_size(w, fw, sw, 1, padding)
    if oh <= 0 or ow <= 0:
        return
    rng = np.random.default_rng(seed)
    x = act_tensor("x", (1, h, w, c), dtype, q)
    y = act_tensor("y", (1, oh, ow, c), dtype, q)  # TFLite pools keep the input's quantization
    g = single_op_graph(
        op_type, [x], y, padding=padding, stride_h=sh, stride_w=sw, filter_h=fh, filter_w=fw, fused_activation=act
    )
    check_against_oracle(g, random_input(x, 3, rng), op_type)
