"""Generated C for int8 RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, TRANSPOSE_CONV, DEPTH_TO_SPACE and
SPACE_TO_DEPTH: bit-exact with the reference interpreter (itself bit-exact with tflite-micro) on the
host under ASan/UBSan and on emulated Cortex-M0+, Cortex-M4 and RISC-V 32; warning-free (-Werror,
zig clang, -O2 and -Os) and free of soft-float and division helpers; TRANSPOSE_CONV plans no
scratch (a gather, where tflite-micro scatters into an int32 buffer of the output's size) and
proves its accumulator bound like the convolutions."""

from __future__ import annotations

import numpy as np
import pytest

from picoml.codegen import compile_c
from picoml.codegen.emit_resize import RESIZE_FILES, transpose_conv_bound
from picoml.errors import UnsupportedError
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType, default_attrs
from picoml.reference import KERNELS

from mcu_build import assert_runtime_float_free, build_objects, slow_helpers
from oracles import qtensor, single_op_graph

RUNTIME_FILES = sorted(
    {f"{s}.{e}" for stems in RESIZE_FILES.values() for s in stems for e in "hc"} | {"pm_transpose_conv_s8_exact.c"}
)
TARGETS = ["cortex-m0plus", "cortex-m4", "riscv32"]


def check(g, xs, target="host", what=""):
    rep = verify(g, target, xs=np.asarray(xs, np.int8), sanitize=target == "host", counted_runs=1)
    assert rep.inputs == len(xs)
    assert rep.bit_exact, f"{what} on {target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    return rep


def inputs(g, n, seed):
    return np.random.default_rng(seed).integers(-128, 128, (n,) + tuple(g.inputs[0].shape)).astype(np.int8)


def resize_graph(op, n, ih, iw, oh, ow, c, ac=False, hp=False, q=(0.05, 3)):
    size = Tensor("size", (2,), "int32", data=np.array([oh, ow], np.int32))
    x, y = qtensor("x", (n, ih, iw, c), *q), qtensor("y", (n, oh, ow, c), *q)
    return single_op_graph(op, [x, size], y, align_corners=ac, half_pixel_centers=hp)


def tc_graph(
    rng,
    n,
    ih,
    iw,
    ic,
    oc,
    kh,
    kw,
    sh,
    sw,
    padding,
    act="NONE",
    extra=(0, 0),
    bias=True,
    zp_in=3,
    zp_out=-5,
    per_channel=True,
):
    if padding == "SAME":
        oh, ow = ih * sh, iw * sw
    else:
        oh, ow = (ih - 1) * sh + kh + extra[0], (iw - 1) * sw + kw + extra[1]
    s_in = 0.05
    n_s = oc if per_channel else 1
    ws = (10 ** rng.uniform(-3, -1, n_s)).astype(np.float32)
    w = qtensor(
        "w",
        (oc, kh, kw, ic),
        ws,
        np.zeros(n_s, np.int64),
        data=rng.integers(-127, 128, (oc, kh, kw, ic), dtype=np.int8),
    )
    bs = (np.float64(s_in) * np.broadcast_to(ws, (oc,))).astype(np.float32)
    b = qtensor("b", (oc,), bs, np.zeros(oc, np.int64), "int32", data=rng.integers(-5000, 5000, oc).astype(np.int32))
    s_out = float(np.float32(s_in * float(ws.mean()) * 128 * 10 * np.sqrt(kh * kw * ic / (sh * sw)) / 128))
    shape = Tensor("output_shape", (4,), "int32", data=np.array([n, oh, ow, oc], np.int32))
    x, y = qtensor("x", (n, ih, iw, ic), s_in, zp_in), qtensor("y", (n, oh, ow, oc), s_out, zp_out)
    return single_op_graph(
        OpType.TRANSPOSE_CONV,
        [x, w, shape, b if bias else None],
        y,
        padding=padding,
        stride_h=sh,
        stride_w=sw,
        fused_activation=act,
    )


def ds_graph(op, n, h, w, c, k):
    xs, ys = (
        ((n, h, w, c * k * k), (n, h * k, w * k, c))
        if op == OpType.DEPTH_TO_SPACE
        else ((n, h * k, w * k, c), (n, h, w, c * k * k))
    )
    return single_op_graph(op, [qtensor("x", xs, 0.05, 3)], qtensor("y", ys, 0.05, 3), block_size=k)


# ------------------------------------------------------------------------------------ host
RESIZE_CASES = [  # (oh, ow, align_corners, half_pixel_centers) of a 5x4 input
    (11, 9, False, False),
    (10, 8, False, False),  # exactly 2x
    (3, 2, False, True),  # down
    (9, 7, True, False),
    (13, 3, False, True),
    (1, 11, True, False),
    (5, 4, False, False),  # same size
    (7, 5, True, True),  # nearest only: both flags
]


def fan_out(op, n, ih, iw, c, cases):
    """One input, one resize per case, each an output: every case in one C build."""
    x = qtensor("x", (n, ih, iw, c), 0.05, 3)
    tensors, ops, outs = [x], [], []
    for k, (oh, ow, ac, hp) in enumerate(cases):
        if op == OpType.RESIZE_BILINEAR and ac and hp:
            continue
        size = Tensor(f"size{k}", (2,), "int32", data=np.array([oh, ow], np.int32))
        y = qtensor(f"y{k}", (n, oh, ow, c), 0.05, 3)
        attrs = {**default_attrs(op), "align_corners": ac, "half_pixel_centers": hp}
        ops.append(Op(op, [x, size], [y], attrs, name=y.name))
        tensors += [size, y]
        outs.append(y)
    g = Graph(tensors, ops, [x], outs)
    g.validate()
    return g


@pytest.mark.parametrize("op", [OpType.RESIZE_NEAREST_NEIGHBOR, OpType.RESIZE_BILINEAR])
def test_resize_host(op):
    g = fan_out(op, 2, 5, 4, 3, RESIZE_CASES)
    check(g, inputs(g, 4, 0), what=f"{op} 5x4")
    g = fan_out(op, 1, 1, 1, 5, [(5, 4, False, True), (3, 1, True, False), (2, 2, False, False)])
    check(g, inputs(g, 3, 1), what=f"{op} 1x1")


def test_bilinear_every_code_host():
    """Every int8 code at the corner weights of a 2x2 -> 37x37 half-pixel upsampling."""
    g = resize_graph(OpType.RESIZE_BILINEAR, 1, 2, 2, 37, 37, 256, hp=True)
    codes = np.arange(-128, 128)
    rng = np.random.default_rng(0)
    xs = np.stack([np.stack([rng.permutation(codes) for _ in range(4)]).reshape(1, 2, 2, 256) for _ in range(3)])
    check(g, xs, what="bilinear every code")


@pytest.mark.parametrize("seed", range(6))
def test_transpose_conv_host(seed):
    """Random layers: strides 1-3, filters 1-5, SAME and VALID (with the extra rows VALID may have),
    fused activations, zero points at the extremes, per-tensor weights, no bias."""
    rng = np.random.default_rng(seed)
    sh, sw = (int(v) for v in rng.integers(1, 4, 2))
    kh, kw = (int(v) for v in rng.integers(1, 6, 2))
    padding = ["SAME", "VALID"][seed % 2]
    extra = (int(rng.integers(0, sh)), int(rng.integers(0, sw)))
    act = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"][seed % 4]
    zp_in = [3, -128, 127, 0][seed % 4]
    g = tc_graph(
        rng,
        1 + seed % 2,
        int(rng.integers(1, 6)),
        int(rng.integers(1, 6)),
        int(rng.integers(1, 7)),
        int(rng.integers(1, 7)),
        kh,
        kw,
        sh,
        sw,
        padding,
        act,
        extra,
        bias=seed != 3,
        zp_in=zp_in,
        per_channel=seed != 5,
    )
    check(g, inputs(g, 3, seed), what=f"transpose conv seed {seed}")


def test_depth_space_host():
    for k, (op, shape) in enumerate(
        [(OpType.DEPTH_TO_SPACE, (2, 3, 2, 3, 2)), (OpType.SPACE_TO_DEPTH, (2, 2, 3, 3, 3))]
    ):
        g = ds_graph(op, *shape)
        check(g, inputs(g, 3, k), what=f"{op} {shape}")


# ------------------------------------------------------------------------ emulated cores
def chain_graph():
    """x -> TRANSPOSE_CONV (2x, SAME, RELU) -> RESIZE_BILINEAR (half pixel) -> RESIZE_NEAREST
    (align corners) -> SPACE_TO_DEPTH -> DEPTH_TO_SPACE: every kernel in one library."""
    rng = np.random.default_rng(7)
    tc = tc_graph(rng, 1, 3, 3, 4, 4, 3, 3, 2, 2, "SAME", "RELU")
    t_op = tc.ops[0]
    y0 = t_op.outputs[0]
    q = (float(y0.scale[0]), int(y0.zero_point[0]))
    tensors = list(tc.tensors)
    ops = [t_op]

    def add(op_type, x, shape, consts=(), **attrs):
        y = qtensor(f"t{len(ops)}", shape, *q)
        tensors.extend([*consts, y])
        ops.append(Op(op_type, [x, *consts], [y], {**default_attrs(op_type), **attrs}, name=y.name))
        return y

    size = Tensor("size1", (2,), "int32", data=np.array([9, 10], np.int32))
    y1 = add(OpType.RESIZE_BILINEAR, y0, (1, 9, 10, 4), [size], half_pixel_centers=True)
    size2 = Tensor("size2", (2,), "int32", data=np.array([8, 12], np.int32))
    y2 = add(OpType.RESIZE_NEAREST_NEIGHBOR, y1, (1, 8, 12, 4), [size2], align_corners=True)
    y3 = add(OpType.SPACE_TO_DEPTH, y2, (1, 4, 6, 16), block_size=2)
    y4 = add(OpType.DEPTH_TO_SPACE, y3, (1, 8, 12, 4), block_size=2)
    g = Graph(tensors, ops, [tc.inputs[0]], [y4])
    g.validate()
    return g


@pytest.mark.parametrize("target", TARGETS)
def test_every_kernel_emulated(target):
    g = chain_graph()
    rep = check(g, inputs(g, 3, 1), target, "resize chain")
    assert len(rep.layer_instructions) == 5


# ----------------------------------------------------------------------- memory, bounds
def test_transpose_conv_plans_no_scratch():
    g = tc_graph(np.random.default_rng(0), 1, 8, 8, 16, 16, 3, 3, 2, 2, "SAME")
    plan = compile_c(g).plan
    assert plan.scratch_bytes == 0
    x, y = g.inputs[0], g.outputs[0]
    assert plan.arena_bytes == x.nbytes + y.nbytes  # tflite-micro adds 4 · 16·16·16 = 16 KB of int32 scratch


def test_transpose_conv_bound_is_per_stride_phase():
    """Stride 2, 4x4 filter: an output pixel gathers one tap of each 2x2 phase block; the bound
    takes the heaviest phase, not the whole filter."""
    rng = np.random.default_rng(0)
    g = tc_graph(rng, 1, 2, 2, 1, 1, 4, 4, 2, 2, "SAME", bias=False, zp_in=-128)
    p = KERNELS[OpType.TRANSPOSE_CONV].prepare(g.ops[0])
    w = np.abs(p.filter.astype(np.int64))[0, :, :, 0]
    phases = [w[r::2, s::2].sum() for r in range(2) for s in range(2)]
    final, partial = transpose_conv_bound(p)
    assert final[0] == (255 * max(phases)) << max(int(p.shift[0]), 0)
    assert partial[0] == 256 * max(phases)


def _big_bias_graph(bias: int):
    rng = np.random.default_rng(0)
    g = tc_graph(rng, 1, 2, 2, 64, 2, 5, 5, 1, 1, "SAME", zp_in=-128)
    g.ops[0].inputs[1].data[...] = 127
    g.ops[0].inputs[3].data[...] = [bias, -bias]
    return g


@pytest.mark.parametrize("target", ["host", "cortex-m0plus"])
def test_transpose_conv_exact_twin_beyond_2_29(target):
    """|bias| + 255 · 127 · 25 · 64 taps passes 2^29: the layer calls pm_transpose_conv_s8_exact
    (pm_requant_exact_s8: 32-bit halves on Armv6-M) and stays bit-exact."""
    g = _big_bias_graph(2**29 - 2**20)
    files = compile_c(g).files
    assert "pm_transpose_conv_s8_exact.c" in files and "pm_transpose_conv_s8_exact(" in files["model.c"]
    xs = inputs(g, 4, 0)
    xs[0] = -128  # the extreme accumulators
    xs[1] = 127
    check(g, xs, target, "exact twin")
    plain = compile_c(_big_bias_graph(1000)).files
    assert "pm_transpose_conv_s8_exact.c" not in plain and "pm_transpose_conv_s8(" in plain["model.c"]


def test_transpose_conv_refuses_sums_that_could_overflow_int32():
    with pytest.raises(UnsupportedError, match="reaches 2\\^31"):
        compile_c(_big_bias_graph(2**31 - 2**21))


# ------------------------------------------------------------------------- portability
@pytest.mark.parametrize("target", TARGETS)
def test_kernels_compile_warning_free_for_mcus(target, tmp_path):
    """zig clang, -Werror, -O2 and -Os; on Cortex-M0+ no soft-float or division helper."""
    graphs = {"chain": chain_graph(), "exact": _big_bias_graph(2**29)}  # "exact": the _exact twin
    objs = build_objects(graphs, target, tmp_path)
    if target == "cortex-m0plus":
        ks = [o for o in objs if o.stem.startswith(("pm_resize", "pm_transpose"))]
        assert len(ks) == 8 and any(o.stem.endswith("_exact") for o in ks)
        helpers = slow_helpers(ks)
        assert helpers == [], f"kernels call soft-float or division helpers {helpers}"


def test_runtime_files_are_float_free_and_use_allowed_headers():
    assert_runtime_float_free(RUNTIME_FILES)
