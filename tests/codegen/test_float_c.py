"""Float32 in the generated C (codegen/emit_float.py, runtime/pm_*_f32.[ch]).

- a float CNN (conv, depthwise conv, pools, fully connected, add, softmax) and an int8 model with a
  float interface (the TF converter's QUANTIZE in, DEQUANTIZE out) verify on the host under
  ASan/UBSan, on cortex-m0plus (soft float), cortex-m4 (hardware FPU, hard-float ABI) and riscv32;
- every float kernel against the reference interpreter, one single-op graph each, on the host
  under the sanitizers;
- the int8 interior of a float-interface model is bit-exact: its outputs (DEQUANTIZE of int8) equal
  the interpreter's exactly, and QUANTIZE / DEQUANTIZE are exact on every int8 code and on
  rounding ties;
- float code is linked only where the model has float layers.

Tolerance (``verify.FLOAT_TOLERANCE``): |C - reference| <= 1e-5 |reference| + 1e-5 max|reference|
per output. The C kernels sum in float32 in their own loop order, the reference rounds each sum
once; their own math functions (expf, logf, sinf, ...) are within a few ulp."""

from __future__ import annotations

import glob
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.codegen import compile_c, write_c
from picoml.errors import UnsupportedError
from picoml.flows.verify import FLOAT_TOLERANCE, harness_defines, soft_float_symbols, verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType, default_attrs
from picoml.targets.catalog import get_target
from picoml.targets.toolchain import build

from oracles import qtensor, single_op_graph

CORPUS = picoml.__file__.rsplit("/src/", 1)[0] + "/tests/data/conformance"
RNG = np.random.default_rng(7)


def f(name, shape, data=None) -> Tensor:
    return Tensor(name, tuple(shape), "float32", data=None if data is None else np.asarray(data, np.float32))


def w(*shape, scale=0.3) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def geo(kind, **attrs) -> dict:
    """Attributes with strides, dilations and the depth multiplier 1 unless given (the schema's
    defaults are 0)."""
    a = default_attrs(kind)
    a.update({k: 1 for k in ("stride_h", "stride_w", "dilation_h", "dilation_w", "depth_multiplier") if k in a})
    a.update(attrs)
    return a


def op(kind, inputs, out, **attrs) -> Op:
    return Op(kind, inputs, [out], geo(kind, **attrs), name=out.name)


def float_cnn() -> Graph:
    """conv 3x3 (same, relu) -> depthwise 3x3 (stride 2, relu6) -> max pool -> add (residual of a 1x1
    conv) -> average pool -> fully connected -> softmax."""
    x = f("x", (1, 12, 12, 3))
    c1 = f("c1", (1, 12, 12, 8))
    d1 = f("d1", (1, 6, 6, 8))
    m1 = f("m1", (1, 6, 6, 8))
    p1 = f("p1", (1, 6, 6, 8))
    a1 = f("a1", (1, 6, 6, 8))
    g1 = f("g1", (1, 1, 1, 8))
    r1 = f("r1", (1, 8))
    fc = f("fc", (1, 5))
    y = f("y", (1, 5))
    cw, cb = f("cw", (8, 3, 3, 3), w(8, 3, 3, 3)), f("cb", (8,), w(8))
    dw, db = f("dw", (1, 3, 3, 8), w(1, 3, 3, 8)), f("db", (8,), w(8))
    pw, pb = f("pw", (8, 1, 1, 8), w(8, 1, 1, 8)), f("pb", (8,), w(8))
    fw, fb = f("fw", (5, 8), w(5, 8)), f("fb", (5,), w(5))
    shape = Tensor("shape", (2,), "int32", data=np.array([1, 8], np.int32))
    ops = [
        op(OpType.CONV_2D, [x, cw, cb], c1, padding="SAME", fused_activation="RELU"),
        op(
            OpType.DEPTHWISE_CONV_2D, [c1, dw, db], d1, padding="SAME", stride_h=2, stride_w=2, fused_activation="RELU6"
        ),
        op(OpType.MAX_POOL_2D, [d1], m1, padding="SAME", filter_h=3, filter_w=3),
        op(OpType.CONV_2D, [d1, pw, pb], p1, padding="VALID"),
        op(OpType.ADD, [m1, p1], a1),
        op(OpType.AVERAGE_POOL_2D, [a1], g1, padding="VALID", filter_h=6, filter_w=6, stride_h=6, stride_w=6),
        op(OpType.RESHAPE, [g1, shape], r1),
        op(OpType.FULLY_CONNECTED, [r1, fw, fb], fc),
        op(OpType.SOFTMAX, [fc], y, beta=1.0),
    ]
    tensors = [x, c1, d1, m1, p1, a1, g1, r1, fc, y, cw, cb, dw, db, pw, pb, fw, fb, shape]
    g = Graph(tensors, ops, [x], [y], name="float_cnn")
    g.validate()
    return g


def fio_model() -> Graph:
    """The converter's DS-CNN keyword spotter, int8 with a float interface."""
    return picoml.load(f"{CORPUS}/ds_cnn_kws.int8_fio.tflite")


@pytest.fixture(scope="module")
def cnn() -> Graph:
    return float_cnn()


TARGETS = ["host", "cortex-m0plus", "cortex-m4", pytest.param("riscv32", marks=pytest.mark.slow)]


@pytest.mark.parametrize("target", TARGETS)
def test_float_cnn_verifies(cnn, target):
    rep = verify(cnn, target, n_inputs=4, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch
    assert rep.tolerance == FLOAT_TOLERANCE and rep.max_abs_error is not None
    want = {
        "host": "host FPU",
        "cortex-m0plus": "soft-float",
        "cortex-m4": "hardware FPU (fpv4-sp-d16",
        "riscv32": "soft-float",
    }
    assert rep.float_mode.startswith(want[target])


@pytest.mark.parametrize(
    "target", ["host", pytest.param("cortex-m0plus", marks=pytest.mark.slow), "cortex-m4", TARGETS[-1]]
)
def test_float_interface_model_exact(target):
    """QUANTIZE in, int8 layers, DEQUANTIZE out: the float outputs equal the interpreter's exactly."""
    g = fio_model()
    assert g.inputs[0].dtype == g.outputs[0].dtype == "float32"
    assert g.ops[0].type == OpType.QUANTIZE and g.ops[-1].type == OpType.DEQUANTIZE
    rep = verify(g, target, n_inputs=3 if target != "host" else 8, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact and rep.max_abs_error == 0.0, rep.first_mismatch


def test_cortex_m4_float_uses_the_fpu_and_m0plus_soft_float(cnn, tmp_path):
    """zig's cortex_m4 CPU model leaves the FPU out unless named: the hard-float build must not call
    soft-float helpers; the M0+ build must (it has no FPU)."""
    write_c(cnn, tmp_path / "src")
    io = harness_defines(cnn)
    m4 = build(tmp_path / "src", get_target("cortex-m4"), tmp_path / "m4.elf", extra=io)
    m0 = build(tmp_path / "src", get_target("cortex-m0plus"), tmp_path / "m0.elf", extra=io)
    assert soft_float_symbols(m4) == []
    assert any(s.startswith("__aeabi_f") for s in soft_float_symbols(m0))


def test_int8_model_links_no_float(tmp_path):
    """An all-int8 graph generates no float file: the float kernels are only copied for float layers."""
    g = picoml.load(f"{CORPUS}/ds_cnn_kws.int8.tflite")
    files = compile_c(g).files
    assert not [n for n in files if "_f32" in n]
    assert "float" not in files["model.c"]
    write_c(g, tmp_path / "src")
    assert soft_float_symbols(build(tmp_path / "src", get_target("cortex-m0plus"), tmp_path / "m0.elf")) == []


def test_float_io_in_the_header(cnn):
    h = compile_c(cnn).files["model.h"]
    assert "int model_invoke(const float *input, float *output);" in h
    assert "float values, not quantized" in h


# --------------------------------------------------------------------------- QUANTIZE, DEQUANTIZE


def test_quantize_dequantize_exact_on_ties_and_every_code():
    """float -> int8 -> float: ties (k + 0.5) · scale round half away from zero as TFLite does,
    beyond-range values clamp; DEQUANTIZE is exact on all 256 codes."""
    scale, zp = 0.0625, -3  # a power of two: k.5 ties are exact float32 values
    x = f("x", (1, 64))
    q = qtensor("q", (1, 64), scale, zp)
    y = f("y", (1, 64))
    g = Graph([x, q, y], [op(OpType.QUANTIZE, [x], q), op(OpType.DEQUANTIZE, [q], y)], [x], [y], name="qdq")
    g.validate()
    ties = (np.arange(-40, 40, dtype=np.float32) + 0.5) * np.float32(scale)
    wide = np.linspace(-12, 12, 64, dtype=np.float32)
    xs = np.stack([ties[:64], ties[16:80], wide, -wide]).reshape(4, 1, 64)
    rep = verify(g, "host", xs=xs, sanitize=True, counted_runs=0)
    assert rep.bit_exact and rep.max_abs_error == 0.0, rep.first_mismatch
    codes = qtensor("c", (1, 256), 0.0371, 5)
    out = f("o", (1, 256))
    g2 = single_op_graph(OpType.DEQUANTIZE, [codes], out)
    rep = verify(g2, "host", xs=np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 256), sanitize=True)
    assert rep.bit_exact and rep.max_abs_error == 0.0, rep.first_mismatch


# --------------------------------------------------------------------------- per op, host (sanitizers)

S = (2, 5, 6, 3)
UNARY = [
    OpType.RELU_N1_TO_1,
    OpType.RELU,
    OpType.RELU6,
    OpType.LEAKY_RELU,
    OpType.HARD_SWISH,
    OpType.ELU,
    OpType.LOGISTIC,
    OpType.TANH,
    OpType.ABS,
    OpType.NEG,
    OpType.EXP,
    OpType.LOG,
    OpType.SQRT,
    OpType.RSQRT,
    OpType.SQUARE,
    OpType.SIN,
    OpType.COS,
    OpType.FLOOR,
    OpType.CEIL,
    OpType.ROUND,
]
POSITIVE = {OpType.LOG, OpType.SQRT, OpType.RSQRT}
BINARY = [OpType.ADD, OpType.SUB, OpType.MUL, OpType.DIV, OpType.MAXIMUM, OpType.MINIMUM, OpType.SQUARED_DIFFERENCE]


def _inputs(g: Graph, n: int = 3, scale: float = 3.0, positive: bool = False) -> list[np.ndarray]:
    xs = []
    for t in g.inputs:
        v = RNG.standard_normal((n,) + t.shape).astype(np.float32) * np.float32(scale)
        xs.append(np.abs(v) + np.float32(1e-3) if positive else v)
    return xs


def check(g: Graph, xs=None, what=""):
    xs = _inputs(g) if xs is None else xs
    rep = verify(g, "host", xs=xs if len(xs) > 1 else xs[0], sanitize=True, counted_runs=0)
    assert rep.bit_exact, f"{what}: {rep.mismatches} outside {FLOAT_TOLERANCE}; {rep.first_mismatch}"
    return rep


def multi_output_graph(kinds, n_in: int, shapes, **attrs) -> Graph:
    """One graph computing every op of ``kinds`` from the same inputs: one C build for all."""
    xs = [f(f"x{k}", s) for k, s in zip(range(n_in), shapes, strict=True)]
    outs, ops = [], []
    for kind in kinds:
        y = f(f"y_{kind.lower()}", shapes[0])
        a = {"alpha": 0.2} if kind == OpType.LEAKY_RELU else {}
        a.update(attrs.get(kind, {}))
        ops.append(op(kind, list(xs), y, **a))
        outs.append(y)
    g = Graph(xs + outs, ops, xs, outs, name="many")
    g.validate()
    return g


def test_unary_ops_together():
    """Every unary float kernel in one build (inputs N(0, 9); LOG, SQRT, RSQRT on positive ones)."""
    general = [k for k in UNARY if k not in POSITIVE]
    g = multi_output_graph(general, 1, [S])
    xs = _inputs(g)
    xs[0].reshape(-1)[:24] = np.arange(-12, 12, dtype=np.float32) * np.float32(0.5)  # ties, integers
    check(g, xs, "unary")
    g = multi_output_graph(sorted(POSITIVE), 1, [S])
    check(g, _inputs(g, positive=True), "unary, positive inputs")


def test_binary_ops_together():
    g = multi_output_graph(BINARY, 2, [S, (1, 1, 6, 1)], **{OpType.ADD: {"fused_activation": "RELU6"}})
    check(g, what="binary, broadcast")


@pytest.mark.slow
@pytest.mark.parametrize("kind", UNARY)
def test_unary(kind):
    attrs = {"alpha": 0.2} if kind == OpType.LEAKY_RELU else {}
    g = single_op_graph(kind, [f("x", S)], f("y", S), **attrs)
    xs = _inputs(g, positive=kind in POSITIVE)
    if kind in (OpType.ROUND, OpType.FLOOR, OpType.CEIL):  # ties and integers too
        xs[0].reshape(-1)[:24] = np.arange(-12, 12, dtype=np.float32) * np.float32(0.5)
    check(g, xs, kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", BINARY)
@pytest.mark.parametrize("b_shape", [S, (1, 1, 6, 1)])
def test_binary(kind, b_shape):
    attrs = {"fused_activation": "RELU6"} if kind in (OpType.ADD, OpType.MUL) else {}
    g = single_op_graph(kind, [f("a", S), f("b", b_shape)], f("y", S), **attrs)
    check(g, what=kind)


def test_prelu():
    g = single_op_graph(OpType.PRELU, [f("x", S), f("alpha", (1, 1, 3), w(1, 1, 3))], f("y", S))
    check(g, what="PRELU")


def _window_graph(kind, x_shape, w_shape, out_shape, **attrs) -> Graph:
    oc = w_shape[3] if kind == OpType.DEPTHWISE_CONV_2D else w_shape[0]
    ins = [f("x", x_shape), f("w", w_shape, w(*w_shape)), f("b", (oc,), w(oc))]
    return single_op_graph(kind, ins, f("y", out_shape), **geo(kind, **attrs))


WINDOWS = {
    "conv_same_stride2": (
        OpType.CONV_2D,
        (1, 9, 7, 4),
        (6, 3, 3, 4),
        (1, 5, 4, 6),
        dict(padding="SAME", stride_h=2, stride_w=2),
    ),
    "conv_dilated_relu": (
        OpType.CONV_2D,
        (2, 8, 8, 3),
        (5, 3, 3, 3),
        (2, 4, 4, 5),
        dict(padding="VALID", dilation_h=2, dilation_w=2, fused_activation="RELU"),
    ),
    "conv_grouped": (OpType.CONV_2D, (1, 6, 6, 4), (6, 3, 3, 2), (1, 4, 4, 6), dict(padding="VALID")),
    "dw_mult2": (
        OpType.DEPTHWISE_CONV_2D,
        (1, 7, 7, 3),
        (1, 3, 3, 6),
        (1, 7, 7, 6),
        dict(padding="SAME", depth_multiplier=2),
    ),
}


@pytest.mark.parametrize("case", sorted(WINDOWS))
def test_window(case):
    kind, xs, ws, ys, attrs = WINDOWS[case]
    check(_window_graph(kind, xs, ws, ys, **attrs), what=case)


@pytest.mark.parametrize("kind", [OpType.AVERAGE_POOL_2D, OpType.MAX_POOL_2D])
def test_pool(kind):
    g = single_op_graph(
        kind,
        [f("x", (2, 7, 6, 3))],
        f("y", (2, 4, 3, 3)),
        padding="SAME",
        filter_h=3,
        filter_w=3,
        stride_h=2,
        stride_w=2,
    )
    check(g, what=kind)


def test_fully_connected_and_softmax():
    g = single_op_graph(
        OpType.FULLY_CONNECTED, [f("x", (3, 20)), f("w", (7, 20), w(7, 20)), f("b", (7,), w(7))], f("y", (3, 7))
    )
    check(g, what="FULLY_CONNECTED")
    check(single_op_graph(OpType.SOFTMAX, [f("x", (3, 10))], f("y", (3, 10)), beta=0.7), what="SOFTMAX")


def test_reductions_together():
    """MEAN, SUM, REDUCE_MAX, REDUCE_MIN over axes 1 and 2, one build."""
    x = f("x", S)
    axes = Tensor("axes", (2,), "int32", data=np.array([1, 2], np.int32))
    kinds = [OpType.MEAN, OpType.SUM, OpType.REDUCE_MAX, OpType.REDUCE_MIN]
    outs = [f(f"y_{k.lower()}", (2, 3)) for k in kinds]
    ops = [op(k, [x, axes], y) for k, y in zip(kinds, outs, strict=True)]
    g = Graph([x, axes, *outs], ops, [x], outs, name="reduce")
    g.validate()
    check(g, what="reductions")


def test_data_movement():
    """dtype-agnostic ops move float32 bytes: transpose, strided slice, concatenation, pad."""
    perm = Tensor("perm", (4,), "int32", data=np.array([0, 3, 1, 2], np.int32))
    check(single_op_graph(OpType.TRANSPOSE, [f("x", S), perm], f("y", (2, 3, 5, 6))), what="TRANSPOSE")
    check(
        single_op_graph(OpType.CONCATENATION, [f("a", S), f("b", (2, 5, 6, 2))], f("y", (2, 5, 6, 5)), axis=3),
        what="CONCATENATION",
    )
    pads = Tensor("pads", (4, 2), "int32", data=np.array([[0, 0], [1, 2], [0, 1], [2, 0]], np.int32))
    check(single_op_graph(OpType.PAD, [f("x", S), pads], f("y", (2, 8, 7, 5))), what="PAD")


@pytest.mark.slow
def test_conformance_op_files():
    """The converter's float files of the ops without a single-op graph here."""
    for name in ("op_resize_bilinear", "op_batch_matmul", "op_transpose_conv", "op_arg_max", "op_strided_slice"):
        for path in sorted(glob.glob(f"{CORPUS}/{name}*.float32.tflite")):
            g = picoml.load(path)
            rep = verify(g, "host", n_inputs=3, sanitize=True, counted_runs=0)
            assert rep.bit_exact, f"{path}: {rep.first_mismatch}"


def test_refused_float_op_names_it(monkeypatch):
    """A float op without a C kernel is refused in one line naming it (never a wrong result)."""
    from picoml.codegen import emit_float, generate

    monkeypatch.setattr(
        generate, "FLOAT_EMITTERS", {k: v for k, v in emit_float.FLOAT_EMITTERS.items() if k != OpType.ELU}
    )
    with pytest.raises(UnsupportedError, match=r"^no C kernel yet for: ELU \(float32\)$"):
        compile_c(single_op_graph(OpType.ELU, [f("x", S)], f("y", S)))


@pytest.mark.parametrize(
    "k", [pytest.param(4, marks=pytest.mark.slow), 9]
)  # a row of 4 · 5 · k values: vector part and tail of the quantizer
def test_hybrid_conv_is_exact(k):
    """CONV_2D with int8 weights of one scale on a float input (the MLPerf KWS float model's first
    layer): the C runs the reference's float32 operations, so it equals it exactly."""
    wq = RNG.integers(-127, 128, (6, 3, 3, k)).astype(np.int8)
    wt = qtensor("w", wq.shape, 0.02, 0, data=wq)
    g = single_op_graph(
        OpType.CONV_2D, [f("x", (2, 4, 5, k)), wt, f("b", (6,), w(6))], f("y", (2, 4, 5, 6)), **geo(OpType.CONV_2D)
    )
    rep = check(g, what="hybrid CONV_2D")
    assert rep.max_abs_error == 0.0


def test_cli_verify_states_float_mode_and_tolerance(capsys):
    from picoml.cli import main

    assert main(["verify", f"{CORPUS}/fc_autoencoder.float32.tflite", "--target", "cortex-m4", "--inputs", "2"]) == 0
    out = capsys.readouterr().out
    assert "float         hardware FPU (fpv4-sp-d16, hard-float ABI)" in out
    assert f"tolerance     {FLOAT_TOLERANCE}" in out
    assert main(["ops", "--json"]) == 0
    rows = {r["op"]: r for r in json.loads(capsys.readouterr().out)["ops"]}
    assert rows["CONV_2D"]["c_float32"] and rows["SIN"]["c_float32"] and not rows["SIN"]["c_int8"]


def test_float_math_accuracy(tmp_path):
    """pm_math_f32 against float64 numpy: sqrt, floor, ceil and both roundings exact; exp, expm1,
    log, tanh within 3 ulp and sin, cos within 5 ulp (|x| < 4096) of the exact result; the host
    build takes the portable (integer) sqrt."""
    from importlib import resources

    from picoml.targets.toolchain import WARNINGS, host_cc

    rt = resources.files("picoml.codegen.runtime")
    for name in ("pm_math_f32.h", "pm_math_f32.c"):
        (tmp_path / name).write_text(rt.joinpath(name).read_text())
    drv = Path(__file__).with_name("float_math_driver.c")
    exe = tmp_path / "drv"
    subprocess.run(
        [*host_cc(), *WARNINGS, "-O2", "-I", str(tmp_path), str(drv), str(tmp_path / "pm_math_f32.c"), "-o", str(exe)],
        check=True,
    )
    rng = np.random.default_rng(1)
    xs = np.concatenate(
        [
            rng.standard_normal(50000) * 3,
            rng.uniform(-90, 90, 20000),
            rng.uniform(-4096, 4096, 20000),
            np.exp(rng.uniform(-87, 88, 20000)),
            rng.uniform(-1e-3, 1e-3, 10000),
            np.arange(-200, 200) * 0.5,
            [0.0, -0.0, 1e-40, -1e-40, 3e38],
        ]
    ).astype(np.float32)
    xs.tofile(tmp_path / "in.bin")
    subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True)
    y = np.fromfile(tmp_path / "out.bin", np.float32).reshape(-1, 11)
    x = xs.astype(np.float64)
    with np.errstate(all="ignore"):
        refs = {0: np.exp(x), 1: np.expm1(x), 2: np.log(x), 3: np.sin(x), 4: np.cos(x), 5: np.tanh(x)}
    for k, ref in refs.items():
        m = np.abs(x) < 4096 if k in (3, 4) else np.ones(len(x), bool)
        r32 = ref[m].astype(np.float32)
        fin = np.isfinite(r32)
        assert np.array_equal(fin, np.isfinite(y[m, k])), k
        ulps = np.abs(y[m, k][fin].astype(np.float64) - ref[m][fin]) / np.spacing(np.abs(r32[fin]))
        assert ulps.max() <= (5 if k in (3, 4) else 3), (k, ulps.max())
    pos = xs >= 0
    assert np.array_equal(y[pos, 6], np.sqrt(xs[pos]))
    assert np.array_equal(y[:, 7], np.floor(xs)) and np.array_equal(y[:, 8], np.ceil(xs))
    assert np.array_equal(y[:, 9], np.rint(xs))
    away = np.where(np.abs(x) < 2**23, np.sign(x) * np.floor(np.abs(x) + 0.5), x)
    assert np.array_equal(y[:, 10].astype(np.float64), away)


@pytest.mark.slow
def test_conformance_c_checks_float_files(tmp_path):
    """benchmarks/conformance_run.c_checks verifies a float32 and a float-interface corpus file in C on
    cortex-m4 and cortex-m0plus (the full corpus: `benchmarks/conformance.py run`, slow)."""
    import sys

    sys.path.insert(0, str(Path(CORPUS).parents[2] / "benchmarks"))
    import conformance_run as CR

    for name in ("fc_autoencoder.float32", "op_leaky_relu.int8_fio"):
        path = Path(CORPUS) / f"{name}.tflite"
        g = picoml.load(path)
        xs = [np.asarray(x) for x in (RNG.standard_normal((4,) + g.inputs[0].shape).astype(np.float32),)]
        out = CR.c_checks(g, path.read_bytes(), xs, tmp_path / name)
        for target in CR.TARGETS:
            res = out[target]["result"]
            assert res == "bit-exact" or res.startswith("within tolerance"), (name, target, res)
        assert out["cortex-m4"]["float"].startswith("hardware FPU")
        assert out["cortex-m0plus"]["float"].startswith("soft-float")
