"""Per-target kernel variants of the generated C, bit-exact with the reference interpreter.

``generate_c(..., isa=...)`` picks kernels and weight layouts per instruction set: the
Armv6-M offset-binary GEMM blocks (with the assembly loop on Cortex-M0+), the Armv7E-M
SMMULR requantization and 3x3 depthwise block, the 16-bit split multiply of Armv6-M, and
256-entry tables for LOGISTIC/TANH. Every case runs on the host (ASan/UBSan; the Armv6-M
layouts run there through their portable C twins) and on the emulated core that uses it.
Shapes cover odd channel counts, k % 4 tails, blocks of 8 with remainders, border padding,
stride 2, dilation, depth multipliers > 1 and per-channel scales with large and small shifts."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import picoml
from picoml.codegen import generate as gen
from picoml.codegen.generate import generate_c, pack_offset_binary, requant_rows
from picoml.codegen.isa import ISAS, PORTABLE, get_isa
from picoml.flows.verify import verify
from picoml.targets import get_target

from oracles import qtensor, single_op_graph

# (verify target, ISA generated for): the portable C, and each MCU variant on host and its core
VARIANTS = [
    ("host", "portable"),
    ("host", "armv6m"),
    ("host", "vector"),  # the host's ISA: int16 weight rows, auto-vectorized loops and requantization
    ("host", "armv7em"),  # Armv7E-M layouts (word-packed pairs, DW4 groups) through the portable C
    ("cortex-m0plus", "armv6m"),
    ("cortex-m4", "armv7em"),
    ("cortex-m4", "armv7em", "-Os"),  # size build: PM_SPECIALIZE 0 (no 4x2 kernel, single-copy helpers)
]


def run(g, target, isa, n=6, seed=0, opt=None):
    xs = np.random.default_rng(seed).integers(-128, 128, (n,) + g.inputs[0].shape, dtype=np.int8)
    xs[0] = -128  # extremes: the accumulator bound and the offset-binary correction at their largest
    xs[1] = 127
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1, opt=opt, isa=isa)
    assert rep.bit_exact, f"{target}/{isa}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def _weights(rng, shape, axis_n, big_shift=False):
    """Per-channel int8 weights whose scales give multipliers with varied shifts: with big_shift
    some channels rescale by ~2^-20 (right shift 20+) and some by > 1 (a left shift)."""
    if big_shift:
        scale = np.array([[2e-6, 0.02, 3.0, 0.4][i % 4] for i in range(axis_n)], np.float32)
    else:
        scale = rng.uniform(0.002, 0.03, axis_n).astype(np.float32)
    data = rng.integers(-127, 128, shape, dtype=np.int8)
    axis = 3 if len(shape) == 4 and shape[0] == 1 and shape[3] == axis_n and axis_n > 1 else 0
    return qtensor("w", shape, scale, np.zeros(axis_n), data=data, axis=axis)


def _bias(rng, x_scale, w, n):
    return qtensor(
        "b",
        (n,),
        (x_scale * w.scale).astype(np.float32),
        np.zeros(n),
        "int32",
        data=rng.integers(-3000, 3000, n).astype(np.int32),
    )


def conv_graph(x_shape, oc, kh, kw, stride=1, padding="SAME", dilation=1, big_shift=False, seed=0, act="RELU"):
    rng = np.random.default_rng(seed)
    x = qtensor("x", x_shape, 0.05, 3)
    w = _weights(rng, (oc, kh, kw, x_shape[3]), oc, big_shift)
    b = _bias(rng, 0.05, w, oc)
    h = (
        (x_shape[1] + stride - 1) // stride
        if padding == "SAME"
        else (x_shape[1] - (kh - 1) * dilation - 1) // stride + 1
    )
    wd = (
        (x_shape[2] + stride - 1) // stride
        if padding == "SAME"
        else (x_shape[2] - (kw - 1) * dilation - 1) // stride + 1
    )
    y = qtensor("y", (1, h, wd, oc), 0.08, -5)
    return single_op_graph(
        "CONV_2D",
        [x, w, b],
        y,
        stride_h=stride,
        stride_w=stride,
        padding=padding,
        dilation_h=dilation,
        dilation_w=dilation,
        fused_activation=act,
    )


def dw_graph(x_shape, kh, kw, mult=1, stride=1, padding="SAME", dilation=1, big_shift=False, seed=0, act="RELU6"):
    rng = np.random.default_rng(seed)
    c = x_shape[3] * mult
    x = qtensor("x", x_shape, 0.05, -7)
    w = _weights(rng, (1, kh, kw, c), c, big_shift)
    b = _bias(rng, 0.05, w, c)
    h = (
        (x_shape[1] + stride - 1) // stride
        if padding == "SAME"
        else (x_shape[1] - (kh - 1) * dilation - 1) // stride + 1
    )
    wd = (
        (x_shape[2] + stride - 1) // stride
        if padding == "SAME"
        else (x_shape[2] - (kw - 1) * dilation - 1) // stride + 1
    )
    y = qtensor("y", (1, h, wd, c), 0.06, 2)
    return single_op_graph(
        "DEPTHWISE_CONV_2D",
        [x, w, b],
        y,
        stride_h=stride,
        stride_w=stride,
        padding=padding,
        depth_multiplier=mult,
        dilation_h=dilation,
        dilation_w=dilation,
        fused_activation=act,
    )


def fc_graph(depth, units, big_shift=False, seed=0):
    rng = np.random.default_rng(seed)
    x = qtensor("x", (1, depth), 0.05, 3)
    w = _weights(rng, (units, depth), units, big_shift)
    b = _bias(rng, 0.05, w, units)
    return single_op_graph("FULLY_CONNECTED", [x, w, b], qtensor("y", (1, units), 0.1, -4))


CONV_CASES = {
    "pointwise_odd_c_tail": lambda: conv_graph((1, 5, 3, 7), 13, 1, 1),  # k % 4 = 3, 13 = 8 + 5 channels
    "pointwise_blocks_of_8": lambda: conv_graph((1, 3, 3, 16), 24, 1, 1, big_shift=True),
    "im2col_3x3_border": lambda: conv_graph((1, 6, 5, 3), 9, 3, 3, seed=1),
    "im2col_stride2_odd": lambda: conv_graph((1, 9, 7, 5), 17, 3, 3, stride=2, seed=2, big_shift=True),
    "im2col_10x4_first_layer": lambda: conv_graph((1, 12, 6, 1), 8, 10, 4, stride=2, seed=3),
    "valid_dilated": lambda: conv_graph((1, 8, 8, 4), 6, 3, 3, padding="VALID", dilation=2, seed=4),
    # dilation with padded borders: im2col's closed-form valid columns and its tap-by-tap copies
    "same_dilated_3_borders": lambda: conv_graph((1, 7, 9, 3), 5, 3, 3, dilation=3, seed=14),
    "large_window_direct": lambda: conv_graph((1, 4, 4, 300), 3, 3, 3, seed=5, act="NONE"),  # 2k > 4096
    # Armv7E-M 4x2 kernel (k % 4 == 0): blocks of 4 rows plus 1-3 left over, odd channel counts,
    # full-range clamp (act NONE, SSAT path) and narrower clamps (RELU with a non-minimal zero point)
    "pointwise_4x2_odd_oc": lambda: conv_graph((1, 3, 5, 8), 5, 1, 1, seed=6, act="NONE", big_shift=True),
    "pointwise_4x2_relu": lambda: conv_graph((1, 2, 9, 20), 6, 1, 1, seed=7),
    "im2col_4x2_odd_oc": lambda: conv_graph((1, 6, 5, 4), 7, 3, 3, seed=8, act="NONE"),
    "im2col_4x2_k_too_big_for_w16": lambda: conv_graph((1, 3, 3, 36), 4, 3, 3, seed=9),  # 8k > W16_MAX
    # PM_FILTER_K4 on Armv7E-M: k = 9 and 27 padded to 12 and 28 (odd channel count: the plain-row path too)
    "im2col_k9_first_layer_odd_oc": lambda: conv_graph((1, 7, 6, 1), 5, 3, 3, seed=10, act="NONE", big_shift=True),
    "im2col_k27_stride2": lambda: conv_graph((1, 9, 9, 3), 8, 3, 3, stride=2, seed=11),
    # 1-D (kh = 1): interior windows read straight from the input (pm_window), border ones copied;
    # k = 30 is K4-padded on Armv7E-M, so the last windows' 2-byte tails would leave the input
    "conv1d_k5_same_k4_odd_oc": lambda: conv_graph((1, 1, 20, 6), 7, 1, 5, seed=12, act="NONE", big_shift=True),
    "conv1d_k3_valid_stride2_to_the_end": lambda: conv_graph(
        (1, 1, 17, 8), 8, 1, 3, stride=2, padding="VALID", seed=13
    ),
}


def test_small_k_rows_are_padded_to_a_multiple_of_4_on_armv7em():
    """PM_FILTER_K4 (here reordered: PM_FILTER_ROWS, 3-value window rows, codegen/conv_rows.py): only
    Armv7E-M, only the im2col path, only k % 4 != 0; the filter grows by the zero columns."""
    g = CONV_CASES["im2col_k9_first_layer_odd_oc"]()
    src = generate_c(g, isa="armv7em")["model.c"]
    assert ".filter_layout = PM_FILTER_ROWS" in src
    for other in (
        generate_c(g, isa="armv6m")["model.c"],
        generate_c(CONV_CASES["valid_dilated"](), isa="armv7em")["model.c"],  # k = 36
        generate_c(CONV_CASES["pointwise_odd_c_tail"](), isa="armv7em")["model.c"],
    ):
        assert "PM_FILTER_K4" not in other and "PM_FILTER_ROWS" not in other
    # 5 channels x 12 values as 15 int32 words
    assert "model_l0_filter[15]" in src


DW_CASES = {
    "3x3_c64_interior_and_border": lambda: dw_graph((1, 6, 5, 64), 3, 3),
    "3x3_odd_channels": lambda: dw_graph((1, 5, 4, 11), 3, 3, seed=1, big_shift=True),
    "3x3_stride2": lambda: dw_graph((1, 9, 8, 8), 3, 3, stride=2, seed=2),
    "5x5_dilated": lambda: dw_graph((1, 9, 9, 6), 5, 5, dilation=2, seed=3),
    "depth_multiplier_3": lambda: dw_graph((1, 5, 5, 5), 3, 3, mult=3, seed=4),
    "valid_1x1": lambda: dw_graph((1, 4, 4, 12), 1, 1, padding="VALID", seed=5, act="NONE"),
    # DW4 groups: 3x3 row path on interior pixels, full-range clamp, and a 1-pixel-wide image (all border)
    "3x3_c8_full_range": lambda: dw_graph((1, 7, 6, 8), 3, 3, seed=6, act="NONE", big_shift=True),
    "3x3_width_1": lambda: dw_graph((1, 5, 1, 4), 3, 3, seed=7),
    "5x5_c8_grouped_table": lambda: dw_graph((1, 7, 7, 8), 5, 5, seed=8, act="NONE"),
}

FC_CASES = {
    "odd_units_tail": lambda: fc_graph(13, 7),
    "blocks_of_8_plus_3": lambda: fc_graph(64, 19, big_shift=True, seed=1),
    "wide": lambda: fc_graph(257, 16, seed=2),
}


def pool_graph(op_type, x_shape, fh, fw, stride, padding="VALID", act="NONE"):
    """Pools keep the input's quantization; RELU/RELU6 with a zero point of 3 clamp both ends."""
    x = qtensor("x", x_shape, 0.05, 3)
    out = [
        (n + stride - 1) // stride if padding == "SAME" else (n - f) // stride + 1
        for n, f in ((x_shape[1], fh), (x_shape[2], fw))
    ]
    y = qtensor("y", (x_shape[0], *out, x_shape[3]), 0.05, 3)
    return single_op_graph(
        op_type,
        [x],
        y,
        filter_h=fh,
        filter_w=fw,
        stride_h=stride,
        stride_w=stride,
        padding=padding,
        fused_activation=act,
    )


# windows clipped at the border (SAME), channel counts with and without a tail of 1-3 after
# groups of 4 (SIMD max) and over the 32-channel blocks of the average, fused clamps
POOL_CASES = {
    "max_2x2_s2_c16": lambda: pool_graph("MAX_POOL_2D", (1, 8, 8, 16), 2, 2, 2),
    "max_3x3_s2_same_c7": lambda: pool_graph("MAX_POOL_2D", (1, 7, 6, 7), 3, 3, 2, "SAME"),
    "max_3x3_s1_same_relu6_c5": lambda: pool_graph("MAX_POOL_2D", (1, 5, 5, 5), 3, 3, 1, "SAME", "RELU6"),
    "max_2x2_relu_c4_batch2": lambda: pool_graph("MAX_POOL_2D", (2, 4, 6, 4), 2, 2, 2, act="RELU"),
    "avg_3x3_s2_same_c13": lambda: pool_graph("AVERAGE_POOL_2D", (1, 7, 7, 13), 3, 3, 2, "SAME"),
    "avg_global_5x5_c70": lambda: pool_graph("AVERAGE_POOL_2D", (1, 5, 5, 70), 5, 5, 1),
    "avg_2x2_s1_same_relu6_c3": lambda: pool_graph("AVERAGE_POOL_2D", (1, 4, 5, 3), 2, 2, 1, "SAME", "RELU6"),
}


def sparsified(g, density=0.2, seed=0):
    """g with all but ``density`` of its weights set to 0, so generate_c stores them sparsely
    (pm_sparse_s8.h) with the compact requantization (pm_sparse_quant, pm_requant_unpack)."""
    w = g.ops[0].inputs[1]
    keep = np.random.default_rng(seed).random(w.data.shape) < density
    w.data = np.where(keep, w.data, 0).astype(np.int8)
    return g


# sparse encodings: bitmask (k >= 8) and CSR (very sparse, long rows), with left and large right shifts
SPARSE_CASES = {
    "pointwise_bitmask": lambda: sparsified(conv_graph((1, 3, 3, 40), 11, 1, 1, big_shift=True, act="NONE")),
    "im2col_bitmask": lambda: sparsified(conv_graph((1, 9, 7, 5), 17, 3, 3, stride=2, seed=2, big_shift=True)),
    "conv1d_bitmask": lambda: sparsified(conv_graph((1, 1, 20, 16), 9, 1, 5, seed=4, big_shift=True)),
    "fc_bitmask": lambda: sparsified(fc_graph(64, 19, big_shift=True, seed=1)),
    "fc_csr": lambda: sparsified(fc_graph(600, 9, big_shift=True, seed=3), density=0.02),
    "im2col_csr": lambda: sparsified(conv_graph((1, 5, 4, 64), 6, 3, 3, seed=5, big_shift=True), density=0.02),
}

ALL_CASES = {**{f"conv_{k}": v for k, v in CONV_CASES.items()}, **{f"dw_{k}": v for k, v in DW_CASES.items()}}
ALL_CASES.update({f"fc_{k}": v for k, v in FC_CASES.items()})
ALL_CASES.update({f"sparse_{k}": v for k, v in SPARSE_CASES.items()})
ALL_CASES.update({f"pool_{k}": v for k, v in POOL_CASES.items()})


@pytest.mark.parametrize("case", sorted(SPARSE_CASES))
def test_sparse_cases_are_stored_sparse_with_compact_requantization(case):
    from picoml.codegen import layer_encodings

    g = SPARSE_CASES[case]()
    (enc,) = layer_encodings(g, "armv7em")
    assert enc["encoding"] == ("csr" if case.endswith("csr") else "bitmask")
    channels = g.ops[0].inputs[1].shape[0]
    assert (enc["requant_bytes"], enc["dense_requant_bytes"]) == (5 * channels, 12 * channels)
    src = generate_c(g, isa="armv7em")["model.c"]
    assert "const pm_sparse_quant model_l0_rq = {" in src and "pm_requant model_l0_rq" not in src


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0]}-{v[1] or 'portable'}" + "".join(v[2:]))
@pytest.mark.parametrize("case", sorted(ALL_CASES))
def test_layer_variants_bit_exact(case, variant):
    target, isa, *opt = variant
    run(ALL_CASES[case](), target, isa, opt=opt[0] if opt else None)


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4"])
@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
def test_lookup_tables_cover_every_code(op_type, target):
    """LOGISTIC/TANH through pm_lut_s8 on MCU targets: every int8 code, vs the reference."""
    out_q = (1 / 256, -128) if op_type == "LOGISTIC" else (1 / 128, 0)
    g = single_op_graph(op_type, [qtensor("x", (1, 256), 0.0625, -7)], qtensor("y", (1, 256), *out_q))
    codes = np.arange(-128, 128, dtype=np.int8)
    xs = np.stack([codes, codes[::-1]]).reshape(2, 1, 256)
    isa = get_isa("armv6m") if target == "host" else get_target(target).isa
    files = gen.generate_c(g, isa=isa)
    assert "pm_lut_s8.c" in files and "pm_logistic_s8.c" not in files and "pm_tanh_s8.c" not in files
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1, isa=isa)
    assert rep.bit_exact, rep.first_mismatch


def test_kernel_isa_mapping():
    """Each core's (and board's) kernel variant set is its Target.isa record."""
    assert get_isa(None) is PORTABLE and get_isa("armv6m") is ISAS["armv6m"]
    assert get_target("host").isa.name == "vector"
    assert get_target("riscv32").isa.name == "portable"
    assert get_target("cortex-m0plus").isa.name == "armv6m"
    assert get_target("rp2040").isa.name == "armv6m"
    assert get_target("cortex-m4").isa.name == "armv7em"
    assert get_target("cortex-m7").isa.name == "armv7em"


def test_offset_binary_layout():
    w = np.arange(-60, 60, dtype=np.int8).reshape(10, 12)  # one block of 8, a last block of 2
    p = pack_offset_binary(w)
    assert p.dtype == np.uint8 and p.size == w.size
    first = p[: 8 * 12].reshape(12, 8)  # input-major, 8 channels per input
    assert (first.astype(np.int16) - 128 == w[:8].T).all()
    assert (p[8 * 12 :].reshape(12, 2).astype(np.int16) - 128 == w[8:].T).all()


def test_requant_rows_match_the_reference_pipeline():
    """pm_requant_s8's arithmetic (SMMULR form, then the doubled-numerator rounding) in numpy
    against TFLite's MultiplyByQuantizedMultiplier, over the accumulator range the generator allows."""
    from picoml.fixedpoint import multiply_by_quantized_multiplier

    rng = np.random.default_rng(7)
    for mult, shift in [
        (1 << 30, 0),
        ((1 << 31) - 1, -30),
        (1518500250, -7),
        (1073741824, 3),
        (0, -31),
        (1999999999, -31),
    ]:
        (row,) = requant_rows(mult, shift, 1)
        left = max(shift, 0)
        acc = rng.integers(-(1 << 29) >> left, (1 << 29) >> left, 200_000, dtype=np.int64)
        a2 = acc << row["left"]
        v = (a2 * row["multiplier"] + (1 << 31)) >> 32
        got = (2 * v + row["round"] + (v >> 63)) >> row["right"]
        want = multiply_by_quantized_multiplier(acc, mult, shift)
        assert (got == want).all(), (mult, shift)
        # Armv6-M: exact 16-bit split of the same high multiply
        a = a2 >> 1
        al = ((a & 0xFFFF) ^ 0x8000) - 0x8000
        ah = (a - al) >> 16
        ml, mh = row["multiplier"] & 0xFFFF, row["multiplier"] >> 16
        split = 2 * ah * mh + ((ah * ml + al * mh + ((al * ml) >> 16) + (1 << 14)) >> 15)
        assert (split == v).all(), (mult, shift)


def _depthwise_only_generic(multiplier: int) -> picoml.Graph:
    rng = np.random.default_rng(multiplier)
    oc = 3 * multiplier
    x = qtensor("x", (1, 5, 5, 3), 0.1, 0)
    w = qtensor(
        "w", (1, 3, 3, oc), [0.01] * oc, [0] * oc, data=rng.integers(-127, 128, (1, 3, 3, oc), dtype=np.int8), axis=3
    )
    b = qtensor("b", (oc,), [0.001] * oc, [0] * oc, dtype="int32", data=rng.integers(-500, 500, oc, dtype=np.int32))
    y = qtensor("y", (1, 5, 5, oc), 0.1, 0)
    return single_op_graph(
        "DEPTHWISE_CONV_2D", [x, w, b], y, padding="SAME", stride_h=1, stride_w=1, depth_multiplier=multiplier
    )


@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus", "riscv32", None])
def test_depthwise_without_fast_path_layers_is_warning_free(target, tmp_path):
    """A model whose depthwise layers all take the generic loop (depth multiplier 2): the fast path
    is compiled out (PM_DEPTHWISE_CONV2D_S8_MULT1 0). gcc -O2 used to warn that its tap tables may be unset, which
    broke -Werror builds, the CMake export's default included."""
    g = _depthwise_only_generic(2)
    isa = get_target(target).isa if target else None
    files = generate_c(g, "m", isa)
    assert "#define PM_DEPTHWISE_CONV2D_S8_MULT1 0" in files["pm_config.h"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for opt in ("-O1", "-O2", "-O3", "-Os"):
        r = subprocess.run(
            ["gcc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", opt, "-c", "pm_depthwise_conv2d_s8.c"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
    if target in ("host", "cortex-m0plus"):
        assert verify(g, target, n_inputs=4).bit_exact
    fast = generate_c(_depthwise_only_generic(1), "m", isa)["pm_config.h"]
    assert "#define PM_DEPTHWISE_CONV2D_S8_MULT1 1" in fast
