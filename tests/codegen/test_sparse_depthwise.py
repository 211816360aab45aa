"""Sparse DEPTHWISE_CONV_2D in the generated C (pm_depthwise_conv2d_sparse_s8 and its _exact twin,
runtime/pm_sparse_depthwise_s8.h; the tap-mask encoding of codegen/sparse.py).

The tap-mask stream decodes to the filter and has the size the chooser uses; single-layer graphs
over borders (SAME/VALID padding, strides, dilation, windows up to 5x5), depth multipliers,
extreme zero points and densities 0.05-0.9 run bit-exact against the reference interpreter on
the host under ASan/UBSan (hypothesis) and on emulated Cortex-M0+, Cortex-M4 and RV32 (fixed
cases, the sparse kernel forced where the chooser would keep a dense filter); dense filters stay
dense; windows over 25 taps are not candidates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import picoml.codegen.sparse as sparse_mod
from picoml.codegen import generate_c, layer_encodings
from picoml.codegen.requant import constant_channels, exact_layers, folded_bias
from picoml.codegen.sparse import decode_tapmask, encode_tapmask, encoding_sizes, sparse_candidate
from picoml.flows.verify import verify
from picoml.graph.ops import OpType
from picoml.reference import KERNELS
from picoml.reference.common import window_geometry

from oracles import qtensor, single_op_graph


def _filter(rng, kh, kw, oc, density):
    w = rng.integers(-128, 128, (1, kh, kw, oc), dtype=np.int16)
    w[w == 0] = 1
    w[rng.random(w.shape) >= density] = 0
    return w.astype(np.int8)


def dw_graph(
    seed=0,
    hw=(6, 7),
    c=8,
    mult=1,
    k=(3, 3),
    stride=(1, 1),
    dilation=(1, 1),
    padding="SAME",
    density=0.2,
    x_zp=-3,
    y_zp=5,
    act="NONE",
    bias_scale=2000,
    batch=1,
    bias_base=0,
    sy=0.08,
):
    """One DEPTHWISE_CONV_2D layer with a random filter of the given density (per-channel scales)."""
    rng = np.random.default_rng(seed)
    oc = c * mult
    w = _filter(rng, k[0], k[1], oc, density)
    oh, ow = window_geometry(hw[0], hw[1], k[0], k[1], *stride, *dilation, padding)[:2]
    sx = 0.05
    sw = (rng.uniform(0.2, 2.0, oc) * 0.01).astype(np.float32)
    x = qtensor("x", (batch, *hw, c), sx, x_zp)
    wt = qtensor("w", w.shape, sw, np.zeros(oc), data=w, axis=3)
    bias = (bias_base + rng.integers(-bias_scale, bias_scale + 1, oc)).astype(np.int32)
    bt = qtensor("b", (oc,), (np.float32(sx) * sw).astype(np.float32), np.zeros(oc), "int32", data=bias)
    y = qtensor("y", (batch, oh, ow, oc), sy, y_zp)
    attrs = dict(stride_h=stride[0], stride_w=stride[1], dilation_h=dilation[0], dilation_w=dilation[1])
    return single_op_graph(
        "DEPTHWISE_CONV_2D", [x, wt, bt], y, padding=padding, depth_multiplier=mult, fused_activation=act, **attrs
    )


def _inputs(g, n=3, seed=1):
    xs = np.random.default_rng(seed).integers(-128, 128, (n,) + g.inputs[0].shape, dtype=np.int8)
    xs[0] = -128  # extremes: the accumulator bound, and every padded tap against the same value
    xs[1] = 127
    return xs


def _force_tapmask(monkeypatch):
    """The generator takes the sparse kernel for every depthwise candidate, whatever it saves."""
    monkeypatch.setattr(
        sparse_mod, "choose_encoding", lambda w, max_ratio=1.0, depthwise=False: "tapmask" if depthwise else "dense"
    )


def _check(g, target, monkeypatch=None, sparse_expected=True, exact=False):
    if monkeypatch is not None:
        _force_tapmask(monkeypatch)
    src = generate_c(g, isa=None)["model.c"]
    called = "pm_depthwise_conv2d_sparse_s8" + ("_exact(" if exact else "(")
    assert (called in src) == sparse_expected, src[-600:]
    rep = verify(g, target, xs=_inputs(g), sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


@given(
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    oc=st.integers(1, 70),
    density=st.sampled_from([0.0, 0.05, 0.3, 0.9, 1.0]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_tapmask_round_trip_and_size(kh, kw, oc, density, seed):
    w = _filter(np.random.default_rng(seed), kh, kw, oc, density)
    stream = encode_tapmask(w)
    assert stream.dtype == np.int8
    assert len(stream) == encoding_sizes(w, depthwise=True)["tapmask"] == -(-kh * kw * oc // 8) + np.count_nonzero(w)
    np.testing.assert_array_equal(decode_tapmask(stream, kh, kw, oc), w)


def test_tapmask_layout():
    """Channel-major bits with no padding between channels, then values in (channel, tap) order."""
    w = np.zeros((1, 3, 3, 2), np.int8)
    w[0, 0, 0, 0], w[0, 2, 2, 0], w[0, 0, 1, 1], w[0, 2, 2, 1] = 5, -6, 7, -128
    stream = encode_tapmask(w)
    bits = (1 << 0) | (1 << 8) | (1 << (9 + 1)) | (1 << (9 + 8))
    assert stream.view(np.uint8)[:3].tolist() == [bits & 0xFF, bits >> 8 & 0xFF, bits >> 16 & 0xFF]
    assert stream[3:].tolist() == [5, -6, 7, -128]
    with pytest.raises(ValueError):
        decode_tapmask(stream[:-1], 3, 3, 2)


def test_candidates_and_choice():
    assert sparse_candidate(dw_graph(k=(5, 5)).ops[0])
    assert not sparse_candidate(dw_graph(k=(3, 9), density=0.05).ops[0])  # 27 taps: over the mask reader's 25
    assert layer_encodings(dw_graph(k=(3, 9), density=0.05))[0]["encoding"] == "dense"
    # a dense (stock) filter stays dense and calls the dense kernel
    g = dw_graph(density=1.0)
    assert layer_encodings(g)[0]["encoding"] == "dense"
    assert "pm_depthwise_conv2d_sparse_s8" not in generate_c(g)["model.c"]
    g = dw_graph(density=0.2, c=64)
    row = layer_encodings(g, "armv7em")[0]
    assert row["encoding"] == "tapmask" and row["bytes"] == 72 + row["nonzeros"]
    assert row["requant_bytes"] == 5 * 64 and row["bias_bytes"] == 3 * 64
    assert "pm_depthwise_conv2d_s8_mult1" not in generate_c(g, isa="armv7em")["model.c"]
    assert "dense" == layer_encodings(g, "armv7em", sparse=False)[0]["encoding"]


HOST_CASES = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**16),
        "hw": st.tuples(st.integers(1, 7), st.integers(1, 7)),
        "c": st.integers(1, 12),
        "mult": st.sampled_from([1, 1, 2, 3]),
        "k": st.tuples(st.integers(1, 5), st.integers(1, 5)),
        "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)),
        "dilation": st.tuples(st.integers(1, 2), st.integers(1, 2)),
        "padding": st.sampled_from(["SAME", "VALID"]),
        "density": st.sampled_from([0.05, 0.2, 0.5, 0.9]),
        "x_zp": st.sampled_from([-128, -3, 0, 127]),
        "y_zp": st.sampled_from([-128, 0, 9, 127]),
        "act": st.sampled_from(["NONE", "RELU", "RELU6"]),
        "batch": st.sampled_from([1, 1, 2]),
    }
)


def _valid(case) -> bool:
    (kh, kw), (dh, dw), (h, w) = case["k"], case["dilation"], case["hw"]
    return case["padding"] == "SAME" or ((kh - 1) * dh < h and (kw - 1) * dw < w)


@given(case=HOST_CASES.filter(_valid))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sparse_depthwise_bit_exact_on_host_with_sanitizers(case, monkeypatch):
    _check(dw_graph(**case), "host", monkeypatch)


@pytest.mark.slow
@given(case=HOST_CASES.filter(_valid))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sparse_depthwise_fuzz_on_host(case, monkeypatch):
    _check(dw_graph(**case), "host", monkeypatch)


# fixed cases for the emulated cores: borders of every side, strides, dilation, multipliers,
# the extreme zero points (padded taps read the input zero point), 1..5 taps per side
MCU_CASES = {
    "3x3-same-odd": dict(hw=(5, 5), c=16, density=0.2),  # 25 pixels: the last one alone
    "3x3-stride2-zp-128": dict(hw=(7, 6), c=8, stride=(2, 2), x_zp=-128, y_zp=127, density=0.05),
    "5x5-dilated-mult2-zp127": dict(hw=(6, 6), c=3, mult=2, k=(5, 5), dilation=(2, 1), x_zp=127, density=0.5),
    "1x3-valid-mult3-relu6": dict(hw=(4, 7), c=5, mult=3, k=(1, 3), padding="VALID", act="RELU6", density=0.9),
    "2x4-stride3-batch2": dict(
        hw=(7, 7), c=6, k=(2, 4), stride=(3, 3), batch=2, y_zp=-128, density=0.3
    ),  # 9 pixels per image: a pair spans the two
}


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
def test_sparse_depthwise_bit_exact_on_mcu(target, monkeypatch):
    _force_tapmask(monkeypatch)
    for name, case in MCU_CASES.items():
        g = dw_graph(seed=len(name), **case)
        rep = verify(g, target, xs=_inputs(g), counted_runs=1)
        assert rep.bit_exact, f"{target} {name}: {rep.mismatches} mismatches; {rep.first_mismatch}"
        assert [r["encoding"] for r in rep.weights_encoding if r["type"] == OpType.DEPTHWISE_CONV_2D] == ["tapmask"]


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4"])
def test_sparse_depthwise_int32_biases(target, monkeypatch):
    """Folded biases outside 24 bits: the layer keeps int32 biases (pm_sparse_quant.bias3 NULL).
    (The _exact twin: tests/codegen/test_exact_requant.py, case sparse_dw.)"""
    # biases near 2^23.5 that still move the output: with y_zp -128 and the output scale below,
    # bias * scale is ~100 codes and the 5x5 taps' reach spans several (not constant channels,
    # which the generator would rewrite to small biases: codegen/requant.py)
    g = dw_graph(
        seed=3, c=8, k=(5, 5), density=0.6, bias_scale=1 << 20, bias_base=3 << 22, x_zp=-128, y_zp=-128, sy=60.0
    )
    op = g.ops[0]
    p = KERNELS[op.type].prepare(op)
    big = np.abs(folded_bias(op, p.bias, p.filter, True)) >= 1 << 23
    assert (big & ~np.isin(np.arange(8), list(constant_channels(op, p)))).any()
    assert layer_encodings(g)[0]["bias_bytes"] == 4 * 8
    _check(g, target, monkeypatch, exact=bool(exact_layers(g)))
    assert "model_l0_bias3" not in generate_c(g)["model.c"]
