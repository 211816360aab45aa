"""ONNX front-end (picoml.from_onnx) vs onnxruntime, PyTorch and LiteRT.

Every imported graph is run by picoml's reference interpreter on channels-last data and compared,
after ``from_graph_layout``, with onnxruntime on the ONNX model (and with PyTorch for exported
modules). Float tolerance: ``oracles.assert_float_close``, 1e-5 relative to the output's largest
magnitude — picoml sums in float64 and rounds once, onnxruntime and PyTorch sum in float32 in their
own order, and folded BatchNorm/bias/1/c constants are rounded once more to float32; all of that is
float32 rounding noise (~1e-7 per operation). The same graphs are written with picoml.save, read back
and run in LiteRT (float oracle), again within 1e-5.

Models are built with onnx.helper (exact control over attributes and opsets) or exported from
PyTorch with the legacy TorchScript exporter (``dynamo=False``); one residual CNN goes through the
default dynamo exporter (it costs ~20 s of warm-up; more dynamo exports are marked slow).
"""

from __future__ import annotations

import io
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import picoml
from picoml.errors import InputError, ModelFormatError, PicomlError, UnsupportedError
from picoml.frontends.onnx import from_graph_layout, from_onnx, supported_onnx_ops, to_graph_layout

from oracles import assert_float_close, litert_run

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- helpers
def make_model(nodes, inputs: dict, outputs: list[str], inits: dict | None = None, opset: int = 17, out_shape=None):
    """An ONNX model from nodes; ``inputs``: name -> shape (None entries are dynamic).

    Output types come from ONNX shape inference, or ``out_shape`` where inference cannot know them.
    """
    vi_in = [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, [d if d is not None else "N" for d in s])
        for n, s in inputs.items()
    ]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    g = helper.make_graph(nodes, "test_graph", vi_in, [], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="picoml-tests")
    m.ir_version = 8
    # the checker wants typed graph outputs: take them from ONNX shape inference
    known = {vi.name: vi for vi in onnx.shape_inference.infer_shapes(m, data_prop=True).graph.value_info}
    for n in outputs:
        vi = onnx.ValueInfoProto()
        if out_shape is not None:
            vi.CopyFrom(helper.make_tensor_value_info(n, TensorProto.FLOAT, out_shape))
        else:
            vi.CopyFrom(known[n])
        m.graph.output.append(vi)
    return m


def ort_run(model: onnx.ModelProto, xs: list[np.ndarray]) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the ONNX ops as written
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    return s.run(None, dict(zip(names, xs, strict=True)))[0]


def export(module: torch.nn.Module, x: torch.Tensor, **kw) -> onnx.ModelProto:
    """Legacy (TorchScript) export with a dynamic batch axis, as most tutorials do it."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (x,),
            buf,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            **kw,
        )
    return onnx.load_from_string(buf.getvalue())


def check(model: onnx.ModelProto, xs, *, litert: bool = True, torch_module=None, **kw) -> picoml.Graph:
    """Import, compare with onnxruntime (and PyTorch), round-trip through .tflite and compare LiteRT."""
    xs = [xs] if isinstance(xs, np.ndarray) else list(xs)
    g = from_onnx(model, **kw)
    ins = [to_graph_layout(x) for x in xs]
    got = from_graph_layout(picoml.run(g, ins[0] if len(ins) == 1 else ins))
    want = ort_run(model, xs)
    assert got.shape == want.shape
    assert_float_close(got, want, "picoml vs onnxruntime")
    if torch_module is not None:
        with torch.no_grad():
            ref = torch_module(*[torch.from_numpy(x) for x in xs]).numpy()
        assert_float_close(got, ref, "picoml vs PyTorch")
    if litert:
        _check_litert(g, ins, want)
    return g


def _check_litert(g: picoml.Graph, ins: list[np.ndarray], want: np.ndarray) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "m.tflite"
        picoml.save(g, p)
        g2 = picoml.load(p)
        assert g2.equals(g), g2.diff(g)
        lite = litert_run(p.read_bytes(), [x[None] for x in ins])[0]
    assert_float_close(from_graph_layout(lite), want, "LiteRT (saved .tflite) vs onnxruntime")


def types(g: picoml.Graph) -> list[str]:
    return [op.type for op in g.ops]


def rnd(shape, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, name=f"{op.lower()}_{outs[0]}", **attrs)


# ----------------------------------------------------------------------------- layout helpers
def test_layout_helpers_are_the_channels_last_permutations():
    x4, x3, x2 = rnd((2, 3, 4, 5)), rnd((2, 3, 4)), rnd((2, 3))
    assert np.array_equal(to_graph_layout(x4), x4.transpose(0, 2, 3, 1))
    assert np.array_equal(to_graph_layout(x3), x3.transpose(0, 2, 1))
    assert np.array_equal(to_graph_layout(x2), x2)
    for x in (x4, x3, x2):
        assert np.array_equal(from_graph_layout(to_graph_layout(x)), x)


def test_supported_ops_table_lists_run_time_and_folded_ops():
    t = supported_onnx_ops()
    assert t["Conv"] == "run time" and t["Range"] == "constants only" and "Erf" not in t
    assert t["Gather"] == t["ReduceMax"] == t["ArgMax"] == "run time"
    assert t["LeakyRelu"] == "run time"


# ----------------------------------------------------------------------------- Conv
CONV_CASES = {
    # name: (input HxW, attrs, weight shape (M, C/group, kh, kw), expect PAD op, expect padding)
    "pytorch_pad1_stride2_even": ((8, 8), dict(pads=[1, 1, 1, 1], strides=[2, 2]), (6, 3, 3, 3), True, "VALID"),
    "pads_equal_same": ((7, 9), dict(pads=[1, 1, 1, 1]), (6, 3, 3, 3), False, "SAME"),
    "stride2_odd_same": ((9, 9), dict(pads=[1, 1, 1, 1], strides=[2, 2]), (6, 3, 3, 3), False, "SAME"),
    "asymmetric": ((8, 7), dict(pads=[0, 2, 1, 0]), (5, 3, 3, 2), True, "VALID"),
    "same_upper": ((8, 8), dict(auto_pad="SAME_UPPER", strides=[2, 2]), (4, 3, 3, 3), False, "SAME"),
    "same_lower_odd": ((8, 8), dict(auto_pad="SAME_LOWER", strides=[2, 2]), (4, 3, 3, 3), True, "VALID"),
    "valid_auto": ((8, 8), dict(auto_pad="VALID", strides=[1, 2]), (4, 3, 2, 3), False, "VALID"),
    "dilated": ((10, 10), dict(pads=[2, 2, 2, 2], dilations=[2, 2]), (4, 3, 3, 3), False, "SAME"),
    "dilated_stride": ((11, 9), dict(pads=[1, 0, 2, 1], dilations=[2, 1], strides=[2, 2]), (4, 3, 3, 2), True, "VALID"),
    "pointwise": ((5, 5), {}, (7, 3, 1, 1), False, "VALID"),
    "unused_end_pad": ((8, 8), dict(pads=[0, 0, 1, 1], strides=[2, 2]), (4, 3, 2, 2), False, "VALID"),
}


@pytest.mark.parametrize("case", list(CONV_CASES), ids=list(CONV_CASES))
def test_conv2d_padding(case):
    (h, w), attrs, wshape, want_pad, want_padding = CONV_CASES[case]
    c = wshape[1]
    model = make_model(
        [node("Conv", ["x", "W", "B"], ["y"], **attrs)],
        {"x": (None, c, h, w)},
        ["y"],
        {"W": rnd(wshape, 1), "B": rnd(wshape[0], 2)},
    )
    g = check(model, rnd((1, c, h, w), 3))
    assert ("PAD" in types(g)) == want_pad
    conv = next(op for op in g.ops if op.type == "CONV_2D")
    assert conv.attrs["padding"] == want_padding


@pytest.mark.parametrize(
    "c,m,group,kind",
    [(4, 4, 4, "DEPTHWISE_CONV_2D"), (4, 12, 4, "DEPTHWISE_CONV_2D"), (6, 4, 2, "CONV_2D"), (1, 3, 1, "CONV_2D")],
    ids=["depthwise", "depthwise_multiplier3", "grouped2", "single_channel"],
)
def test_conv2d_groups(c, m, group, kind):
    model = make_model(
        [node("Conv", ["x", "W"], ["y"], group=group, pads=[1, 1, 1, 1], strides=[2, 1])],
        {"x": (1, c, 7, 6)},
        ["y"],
        {"W": rnd((m, c // group, 3, 3), 4)},
    )
    g = check(model, rnd((1, c, 7, 6), 5))
    assert types(g) == [kind]


@pytest.mark.parametrize(
    "attrs,groups",
    [
        (dict(pads=[2, 2]), 1),
        (dict(pads=[1, 1], strides=[2]), 1),
        (dict(pads=[0, 3], dilations=[2]), 1),
        (dict(auto_pad="SAME_UPPER"), 4),
    ],
    ids=["pad2", "stride2_pytorch_pad", "dilated_asym", "depthwise_same"],
)
def test_conv1d(attrs, groups):
    model = make_model(
        [node("Conv", ["x", "W", "B"], ["y"], group=groups, **attrs)],
        {"x": (None, 4, 15)},
        ["y"],
        {"W": rnd((8, 4 // groups, 5), 6), "B": rnd(8, 7)},
    )
    g = check(model, rnd((1, 4, 15), 8))
    assert g.inputs[0].shape == (1, 15, 4) and len(g.outputs[0].shape) == 3


# ----------------------------------------------------------------------------- dense layers
@pytest.mark.parametrize(
    "trans_a,trans_b,alpha,beta,c_shape",
    [
        (0, 1, 1.0, 1.0, (5,)),
        (0, 0, 0.5, 2.0, (1, 5)),
        (1, 1, 1.0, 1.0, ()),
        (0, 1, 1.0, 0.0, (5,)),
        (0, 1, 1.0, 1.0, None),
    ],
    ids=["pytorch_linear", "alpha_beta_rowbias", "transA_batch1_scalar_c", "beta0", "no_c"],
)
def test_gemm(trans_a, trans_b, alpha, beta, c_shape):
    a_shape = (6, 1) if trans_a else (1, 6)
    w = rnd((5, 6) if trans_b else (6, 5), 9)
    inits = {"W": w}
    ins = ["a", "W"]
    if c_shape is not None:
        inits["C"] = rnd(c_shape, 10)
        ins.append("C")
    model = make_model(
        [node("Gemm", ins, ["y"], transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)], {"a": a_shape}, ["y"], inits
    )
    g = check(model, rnd(a_shape, 11))
    assert types(g) == ["RESHAPE"] * trans_a + ["FULLY_CONNECTED"]  # A^T of a (6, 1) input is a RESHAPE


def test_gemm_with_run_time_c_adds():
    model = make_model(
        [node("Gemm", ["a", "W", "c"], ["y"], transB=1, beta=0.5)],
        {"a": (1, 6), "c": (1, 4)},
        ["y"],
        {"W": rnd((4, 6))},
    )
    g = check(model, [rnd((1, 6), 1), rnd((1, 4), 2)])
    assert types(g) == ["FULLY_CONNECTED", "MUL", "ADD"]


def test_matmul_add_becomes_fully_connected_with_bias():
    model = make_model(
        [node("MatMul", ["a", "W"], ["h"]), node("Add", ["h", "b"], ["z"]), node("Relu", ["z"], ["y"])],
        {"a": (None, 6)},
        ["y"],
        {"W": rnd((6, 4), 1), "b": rnd(4, 2)},
    )
    g = check(model, rnd((1, 6), 3))
    assert types(g) == ["FULLY_CONNECTED"]
    assert g.ops[0].attrs["fused_activation"] == "RELU" and g.ops[0].inputs[2] is not None


def test_matmul_rank3_keeps_dims():
    # (1,12) -> (1,3,4) @ (4,5) -> (1,3,5) -> (1,15): FULLY_CONNECTED with keep_num_dims
    model = make_model(
        [
            node("Reshape", ["a", "s1"], ["r"]),
            node("MatMul", ["r", "W"], ["m"]),
            node("Reshape", ["m", "s2"], ["y"]),
        ],
        {"a": (1, 12)},
        ["y"],
        {"s1": np.array([1, 3, 4], np.int64), "W": rnd((4, 5)), "s2": np.array([1, 15], np.int64)},
    )
    g = check(model, rnd((1, 12), 1))
    fc = next(op for op in g.ops if op.type == "FULLY_CONNECTED")
    assert fc.attrs["keep_num_dims"]


# ----------------------------------------------------------------------------- BatchNormalization
def _bn_inits(c: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "g": rng.uniform(0.5, 1.5, c).astype(np.float32),
        "be": rng.standard_normal(c).astype(np.float32),
        "mu": rng.standard_normal(c).astype(np.float32),
        "var": rng.uniform(0.5, 2.0, c).astype(np.float32),
    }


def test_batchnorm_folds_into_conv_and_gemm():
    inits = {"W": rnd((6, 3, 3, 3), 1), "F": rnd((4, 6), 2), "Fb": rnd(4, 3), **_bn_inits(6, 4)}
    inits.update({f"{k}2": v for k, v in _bn_inits(4, 5).items()})
    model = make_model(
        [
            node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
            node("BatchNormalization", ["c", "g", "be", "mu", "var"], ["b"], epsilon=1e-3),
            node("Relu", ["b"], ["r"]),
            node("GlobalAveragePool", ["r"], ["p"]),
            node("Flatten", ["p"], ["f"]),
            node("Gemm", ["f", "F", "Fb"], ["d"], transB=1),
            node("BatchNormalization", ["d", "g2", "be2", "mu2", "var2"], ["y"]),
        ],
        {"x": (None, 3, 6, 6)},
        ["y"],
        inits,
    )
    g = check(model, rnd((1, 3, 6, 6), 6))
    assert types(g) == ["CONV_2D", "MEAN", "RESHAPE", "FULLY_CONNECTED"]
    assert g.ops[0].attrs["fused_activation"] == "RELU"


@pytest.mark.parametrize("rank", [2, 3, 4])
def test_batchnorm_standalone_is_mul_add(rank):
    shape = (1, 4, 5, 3)[:rank]
    model = make_model(
        [node("BatchNormalization", ["x", "g", "be", "mu", "var"], ["y"])], {"x": shape}, ["y"], _bn_inits(4, 7)
    )
    g = check(model, rnd(shape, 8))
    assert types(g) == ["MUL", "ADD"]


def test_batchnorm_after_relu_is_not_folded():
    model = make_model(
        [
            node("Conv", ["x", "W"], ["c"]),
            node("Relu", ["c"], ["r"]),
            node("BatchNormalization", ["r", "g", "be", "mu", "var"], ["y"]),
        ],
        {"x": (1, 2, 5, 5)},
        ["y"],
        {"W": rnd((4, 2, 1, 1)), **_bn_inits(4, 9)},
    )
    g = check(model, rnd((1, 2, 5, 5), 10))
    assert types(g) == ["CONV_2D", "MUL", "ADD"] and g.ops[0].attrs["fused_activation"] == "RELU"


# ----------------------------------------------------------------------------- activations and fusion
def _conv_then(act_nodes, inits=None, opset=17):
    return make_model(
        [node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]), *act_nodes],
        {"x": (1, 3, 6, 6)},
        ["y"],
        {"W": rnd((4, 3, 3, 3), 1), "B": rnd(4, 2), **(inits or {})},
        opset,
    )


@pytest.mark.parametrize(
    "nodes,inits,opset,fused",
    [
        ([node("Relu", ["c"], ["y"])], {}, 17, "RELU"),
        ([node("Clip", ["c", "lo", "hi"], ["y"])], {"lo": np.float32(0), "hi": np.float32(6)}, 13, "RELU6"),
        ([node("Clip", ["c"], ["y"], min=0.0, max=6.0)], {}, 6, "RELU6"),
        ([node("Clip", ["c", "lo"], ["y"])], {"lo": np.float32(0)}, 13, "RELU"),
    ],
    ids=["relu", "clip06_inputs", "clip06_attrs_opset6", "clip0_inf"],
)
def test_activation_fused_into_conv(nodes, inits, opset, fused):
    g = check(_conv_then(nodes, inits, opset), rnd((1, 3, 6, 6), 3, 3.0))
    assert types(g) == ["CONV_2D"] and g.ops[0].attrs["fused_activation"] == fused


def test_activation_not_fused_when_preactivation_is_read_twice():
    model = _conv_then([node("Relu", ["c"], ["r"]), node("Add", ["r", "c"], ["y"])])
    g = check(model, rnd((1, 3, 6, 6), 3))
    assert types(g) == ["CONV_2D", "RELU", "ADD"] and g.ops[0].attrs["fused_activation"] == "NONE"


def test_relu_fused_into_residual_add():
    model = _conv_then([node("Add", ["c", "c"], ["s"]), node("Relu", ["s"], ["y"])])
    g = check(model, rnd((1, 3, 6, 6), 4))
    assert types(g) == ["CONV_2D", "ADD"] and g.ops[1].attrs["fused_activation"] == "RELU"


@pytest.mark.parametrize(
    "op,attrs,want",
    [
        ("Relu", {}, ["RELU"]),
        ("Sigmoid", {}, ["LOGISTIC"]),
        ("Tanh", {}, ["TANH"]),
        ("HardSwish", {}, ["HARD_SWISH"]),  # what the TFLite converter emits
        ("HardSigmoid", dict(alpha=1 / 6, beta=0.5), ["ADD", "MUL"]),
        ("HardSigmoid", {}, ["MUL", "ADD", "MUL"]),  # ONNX defaults alpha 0.2, beta 0.5
        ("LeakyRelu", {}, ["LEAKY_RELU"]),  # ONNX default alpha 0.01
        ("LeakyRelu", dict(alpha=0.2), ["LEAKY_RELU"]),
        ("LeakyRelu", dict(alpha=-0.5), ["LEAKY_RELU"]),
        ("LeakyRelu", dict(alpha=2.5), ["LEAKY_RELU"]),
        ("LeakyRelu", dict(alpha=0.0), ["LEAKY_RELU"]),
    ],
    ids=[
        "relu",
        "sigmoid",
        "tanh",
        "hardswish",
        "hardsigmoid_pytorch",
        "hardsigmoid_default",
        "leakyrelu_default",
        "leakyrelu_0.2",
        "leakyrelu_negative",
        "leakyrelu_above_1",
        "leakyrelu_0",
    ],
)
def test_unary(op, attrs, want):
    model = make_model([node(op, ["x"], ["y"], **attrs)], {"x": (1, 3, 4, 5)}, ["y"])
    g = check(model, rnd((1, 3, 4, 5), 5, 4.0))
    assert types(g) == want
    if op == "LeakyRelu":  # one float32 multiply in picoml and onnxruntime: exact, not just 1e-5
        x = rnd((1, 3, 4, 5), 5, 4.0)
        got = from_graph_layout(picoml.run(g, to_graph_layout(x)))
        np.testing.assert_array_equal(got, ort_run(model, [x]))
        assert g.ops[0].attrs["alpha"] == float(np.float32(attrs.get("alpha", 0.01)))


def test_leaky_relu_from_pytorch():
    """nn.LeakyReLU / F.leaky_relu exported by PyTorch (legacy exporter) → LEAKY_RELU, vs
    onnxruntime and PyTorch within 1e-5 (the convolution's float32 sums), LiteRT too."""

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(3, 4, 3)
            self.a = torch.nn.LeakyReLU(-0.25)

        def forward(self, x):
            y = self.c(x)
            return torch.cat([self.a(y), torch.nn.functional.leaky_relu(y)], 1)

    torch.manual_seed(0)
    m = M().eval()
    x = rnd((1, 3, 6, 6), 8)
    g = check(export(m, torch.from_numpy(x)), x, torch_module=m)
    assert [op.attrs["alpha"] for op in g.ops if op.type == "LEAKY_RELU"] == [np.float32(-0.25), np.float32(0.01)]


def test_unsupported_clip_range():
    model = _conv_then([node("Clip", ["c", "lo", "hi"], ["y"])], {"lo": np.float32(-2), "hi": np.float32(2)}, 13)
    with pytest.raises(UnsupportedError, match=r"clip_y.*\(Clip\).*Clip\(-2, 2\)"):  # (-1, 1): RELU_N1_TO_1
        from_onnx(model)


# ----------------------------------------------------------------------------- pooling
POOL_CASES = {
    # name: (op, input (C,H,W), attrs, relu before, expected op types)
    "max_valid": ("MaxPool", (3, 8, 8), dict(kernel_shape=[2, 2], strides=[2, 2]), False, ["MAX_POOL_2D"]),
    "max_same_pads": ("MaxPool", (3, 7, 7), dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]), False, ["MAX_POOL_2D"]),
    "max_pytorch_pad_after_relu": (
        "MaxPool",
        (3, 8, 8),
        dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        True,
        ["RELU", "PAD", "MAX_POOL_2D"],
    ),
    "max_ceil_mode": (
        "MaxPool",
        (3, 7, 7),
        dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        False,
        ["MAX_POOL_2D"],
    ),
    "avg_valid": ("AveragePool", (3, 8, 6), dict(kernel_shape=[2, 3], strides=[2, 3]), False, ["AVERAGE_POOL_2D"]),
    "avg_exclude_pad_same": (
        "AveragePool",
        (3, 7, 7),
        dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        False,
        ["AVERAGE_POOL_2D"],
    ),
    "avg_include_pad": (
        "AveragePool",
        (3, 8, 8),
        dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
        False,
        ["PAD", "AVERAGE_POOL_2D"],
    ),
    "avg_same_upper_exclude": (
        "AveragePool",
        (3, 8, 8),
        dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
        False,
        ["AVERAGE_POOL_2D"],
    ),
    "avg_1d": ("AveragePool", (3, 9), dict(kernel_shape=[3], strides=[2]), False, ["AVERAGE_POOL_2D"]),
    "max_1d_pad_after_relu": (
        "MaxPool",
        (3, 10),
        dict(kernel_shape=[3], strides=[2], pads=[1, 1]),
        True,
        ["RELU", "PAD", "MAX_POOL_2D"],
    ),
}


@pytest.mark.parametrize("case", list(POOL_CASES), ids=list(POOL_CASES))
def test_pooling(case):
    op, chw, attrs, relu, want = POOL_CASES[case]
    nodes = [node("Relu", ["x"], ["r"])] if relu else []
    nodes.append(node(op, ["r" if relu else "x"], ["y"], **attrs))
    model = make_model(nodes, {"x": (1, *chw)}, ["y"])
    g = check(model, rnd((1, *chw), 6))
    got = [t for t in types(g) if t != "RESHAPE"]  # 1-D pooling runs as 2-D between RESHAPEs
    assert got == want


def test_pooling_without_exact_lowering_is_refused():
    mp = make_model(
        [node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
        {"x": (1, 2, 8, 8)},
        ["y"],
    )
    with pytest.raises(UnsupportedError, match=r"maxpool_y.*\(MaxPool\).*may be negative"):
        from_onnx(mp)
    ap = make_model(
        [node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
        {"x": (1, 2, 8, 8)},
        ["y"],
    )
    with pytest.raises(UnsupportedError, match=r"averagepool_y.*count_include_pad=0 differ from TFLite SAME"):
        from_onnx(ap)


@pytest.mark.parametrize(
    "op,shape,attrs,opset,want",
    [
        ("GlobalAveragePool", (1, 5, 4, 3), {}, 17, ["MEAN"]),
        ("GlobalAveragePool", (1, 5, 7), {}, 17, ["MEAN"]),
        ("GlobalMaxPool", (1, 5, 4, 3), {}, 17, ["MAX_POOL_2D"]),
        ("ReduceMean", (1, 5, 4, 3), dict(axes=[2, 3], keepdims=0), 13, ["MEAN"]),
        ("ReduceMean", (1, 5, 4, 3), dict(axes=[-1], keepdims=1), 13, ["MEAN"]),
    ],
    ids=["gap2d", "gap1d", "globalmax", "reducemean_hw", "reducemean_w_keep"],
)
def test_global_pooling_and_mean(op, shape, attrs, opset, want):
    model = make_model([node(op, ["x"], ["y"], **attrs)], {"x": shape}, ["y"], opset=opset)
    g = check(model, rnd(shape, 7))
    assert types(g) == want


def test_reducemean_axes_input_opset18():
    model = make_model(
        [node("ReduceMean", ["x", "ax"], ["m"], keepdims=0), node("Softmax", ["m"], ["y"])],
        {"x": (1, 6, 3, 4)},
        ["y"],
        {"ax": np.array([2, 3], np.int64)},
        opset=18,
    )
    assert types(check(model, rnd((1, 6, 3, 4), 8))) == ["MEAN", "SOFTMAX"]


# ----------------------------------------------------------------------------- reshapes, transposes, concat
def test_flatten_nchw_into_gemm_permutes_weights():
    """(N,C,H,W) flattened in ONNX order feeds a dense layer: picoml flattens NHWC and permutes W's columns."""
    model = make_model(
        [node("Flatten", ["x"], ["f"]), node("Gemm", ["f", "W", "b"], ["y"], transB=1)],
        {"x": (None, 3, 4, 5)},
        ["y"],
        {"W": rnd((7, 60), 1), "b": rnd(7, 2)},
    )
    g = check(model, rnd((1, 3, 4, 5), 3))
    assert types(g) == ["RESHAPE", "FULLY_CONNECTED"]
    assert not np.array_equal(g.ops[1].inputs[1].data, rnd((7, 60), 1))  # columns really moved


def test_pytorch_view_chain_is_folded():
    """x.view(x.size(0), -1) exports Shape→Gather→Unsqueeze→Concat→Reshape; all folded to one RESHAPE."""

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Conv2d(2, 3, 3)
            self.fc = torch.nn.Linear(3 * 4 * 4, 5)

        def forward(self, x):
            y = self.c(x)
            return self.fc(y.view(y.size(0), -1))

    torch.manual_seed(0)
    m = M().eval()
    x = torch.randn(1, 2, 6, 6)
    model = export(m, x)
    assert {"Shape", "Gather", "Concat"} <= {n.op_type for n in model.graph.node}
    g = check(model, x.numpy(), torch_module=m)
    assert types(g) == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]


def test_reshape_squeeze_unsqueeze_cast_chain():
    model = make_model(
        [
            node("GlobalAveragePool", ["x"], ["p"]),  # (1,6,1,1)
            node("Squeeze", ["p", "ax23"], ["s"]),  # (1,6)
            node("Shape", ["s"], ["sh"]),
            node("Cast", ["sh"], ["shf"], to=TensorProto.FLOAT),
            node("Cast", ["shf"], ["shi"], to=TensorProto.INT64),
            node("Reshape", ["s", "shi"], ["r"]),
            node("Unsqueeze", ["r", "ax2"], ["u"]),  # (1,6,1)
            node("Identity", ["u"], ["i"]),
            node("Dropout", ["i"], ["y"]),
        ],
        {"x": (1, 6, 3, 3)},
        ["y"],
        {"ax23": np.array([2, 3], np.int64), "ax2": np.array([2], np.int64)},
        opset=13,
        out_shape=[1, 6, 1],  # ONNX shape inference does not propagate values through Cast to float
    )
    g = check(model, rnd((1, 6, 3, 3), 4))
    assert types(g) == ["MEAN", "RESHAPE"]  # Squeeze, Reshape, Unsqueeze: one RESHAPE


def test_transposes_that_cancel_are_folded():
    """NCHW→NHWC, elementwise work in NHWC, back to NCHW, conv: no op for any Transpose."""
    model = make_model(
        [
            node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            node("Mul", ["t", "k"], ["m"]),  # per-channel scale along the last (NHWC) axis
            node("Transpose", ["m"], ["u"], perm=[0, 3, 1, 2]),
            node("Conv", ["u", "W"], ["y"]),
        ],
        {"x": (1, 3, 5, 5)},
        ["y"],
        {"k": rnd(3, 1), "W": rnd((4, 3, 1, 1), 2)},
    )
    g = check(model, rnd((1, 3, 5, 5), 3))
    assert types(g) == ["MUL", "CONV_2D"]


def test_transpose_of_unit_axes_is_a_reshape():
    model = make_model(
        [node("GlobalAveragePool", ["x"], ["p"]), node("Transpose", ["p"], ["y"], perm=[0, 2, 1, 3])],
        {"x": (1, 4, 3, 3)},
        ["y"],
    )
    assert types(check(model, rnd((1, 4, 3, 3), 5))) == ["MEAN", "RESHAPE"]


def test_concat_channels_and_residual_add_sub_mul():
    model = make_model(
        [
            node("Conv", ["x", "W1"], ["a"], pads=[1, 1, 1, 1]),
            node("Conv", ["x", "W2"], ["b"]),
            node("Concat", ["a", "b"], ["c"], axis=1),  # channel axis → picoml's last axis
            node("Add", ["c", "bias"], ["d"]),  # (1,C,1,1) bias add, not after a conv: stays ADD
            node("Sub", ["d", "x6"], ["e"]),
            node("Mul", ["e", "k"], ["f"]),
            node("Sub", ["f", "d"], ["g"]),
            node("Sub", ["one", "g"], ["h"]),
            node("Div", ["h", "four"], ["i"]),
            node("Mul", ["i", "d"], ["y"]),
        ],
        {"x": (1, 6, 5, 5), "x6": (1, 6, 5, 5)},
        ["y"],
        {
            "W1": rnd((2, 6, 3, 3), 1),
            "W2": rnd((4, 6, 1, 1), 2),
            "bias": rnd((1, 6, 1, 1), 3),
            "k": np.float32(1.5),
            "one": np.float32(1.0),
            "four": np.float32(4.0),
        },
    )
    g = check(model, [rnd((1, 6, 5, 5), 4), rnd((1, 6, 5, 5), 5)])
    cat = next(op for op in g.ops if op.type == "CONCATENATION")
    assert cat.attrs["axis"] == 3


def test_squeeze_excite_block():
    """Mul of two run-time values with broadcasting over (N,C,1,1), sigmoid gate."""
    model = make_model(
        [
            node("GlobalAveragePool", ["x"], ["p"]),
            node("Conv", ["p", "W1", "b1"], ["q"]),
            node("Relu", ["q"], ["r"]),
            node("Conv", ["r", "W2", "b2"], ["s"]),
            node("Sigmoid", ["s"], ["t"]),
            node("Mul", ["x", "t"], ["y"]),
        ],
        {"x": (1, 8, 4, 4)},
        ["y"],
        {"W1": rnd((2, 8, 1, 1), 1), "b1": rnd(2, 2), "W2": rnd((8, 2, 1, 1), 3), "b2": rnd(8, 4)},
    )
    assert types(check(model, rnd((1, 8, 4, 4), 5))) == ["MEAN", "CONV_2D", "CONV_2D", "LOGISTIC", "MUL"]


@pytest.mark.parametrize(
    "shape,axis,opset", [((1, 7), -1, 13), ((1, 7), 1, 11), ((1, 5, 3, 4), 1, 13), ((1, 1, 3, 4), 3, 13)]
)
def test_softmax(shape, axis, opset):
    model = make_model([node("Softmax", ["x"], ["y"], axis=axis)], {"x": shape}, ["y"], opset=opset)
    t = types(check(model, rnd(shape, 6, 3.0)))
    # softmax over ONNX axis 3 of (1,1,3,4): RESHAPEs move the unit channel axis, no TRANSPOSE needed
    assert t == (["RESHAPE", "SOFTMAX", "RESHAPE"] if axis == 3 else ["SOFTMAX"])


def test_softmax_over_height_is_a_transpose():
    model = make_model([node("Softmax", ["x"], ["y"], axis=2)], {"x": (1, 5, 3, 4)}, ["y"])
    assert types(check(model, rnd((1, 5, 3, 4), 7, 3.0))) == ["TRANSPOSE", "SOFTMAX", "TRANSPOSE"]


def test_pad_op_and_constant_nodes():
    model = make_model(
        [
            helper.make_node(
                "Constant",
                [],
                ["pads"],
                value=numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 3, 0])),
                name="const_pads",
            ),
            helper.make_node("Constant", [], ["k"], value_float=0.5, name="const_k"),
            node("Pad", ["x", "pads"], ["p"]),
            node("Mul", ["p", "k"], ["y"]),
        ],
        {"x": (1, 2, 4, 4)},
        ["y"],
    )
    assert types(check(model, rnd((1, 2, 4, 4), 7))) == ["PAD", "MUL"]


def test_input_shape_fixes_dynamic_dims():
    model = make_model([node("Relu", ["x"], ["y"])], {"x": (None, 3, None)}, ["y"])
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "L"
    with pytest.raises(InputError, match=r"dimension 2 \(L\) is dynamic; pass input_shape"):
        from_onnx(model)
    g = check(model, rnd((2, 3, 10), 1), input_shape=(2, 3, 10))
    assert g.inputs[0].shape == (2, 10, 3)
    with pytest.raises(InputError, match="input_shape"):
        from_onnx(model, input_shape=(1, 3))


# ----------------------------------------------------------------------------- PyTorch models
class ResidualCNN(torch.nn.Module):
    """A small ResNet block stack: BN, ReLU, residual adds, ReLU6, depthwise, max/avg pooling, dense head."""

    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.b1 = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1)
        )
        self.down = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16))
        self.short = nn.Conv2d(8, 16, 1, stride=2)
        self.dw = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1, groups=16), nn.ReLU6(), nn.Hardswish())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, 10))

    def forward(self, x):
        y = self.pool(self.stem(x))
        y = torch.relu(y + self.b1(y))
        y = torch.relu(self.down(y) + self.short(y))
        y = self.dw(y)
        y = torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)
        return torch.softmax(self.head(y), dim=1)


def _randomize_bn(m: torch.nn.Module) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics, so folding them is actually tested."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.5)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
                mod.weight.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(mod.num_features, generator=g) * 0.2)
    return m.eval()


def _torch_input(shape, seed: int, n: int = 1) -> torch.Tensor:
    return torch.from_numpy(rnd((n, *shape[1:]), seed))


@pytest.mark.parametrize("fold", [True, False], ids=["exporter_folds_bn", "bn_in_onnx"])
def test_residual_cnn_legacy_export(fold):
    torch.manual_seed(1)
    m = _randomize_bn(ResidualCNN())
    x = _torch_input((1, 3, 32, 32), 2)
    model = export(m, x, do_constant_folding=fold)
    if not fold:
        assert "BatchNormalization" in {n.op_type for n in model.graph.node}
    g = check(model, x.numpy(), torch_module=m)
    t = types(g)
    assert "BATCH_NORM" not in t and t.count("CONV_2D") == 5 and t.count("DEPTHWISE_CONV_2D") == 1
    assert "RELU" not in t and "RELU6" not in t  # every ReLU fused
    assert t.count("HARD_SWISH") == 1 and "MUL" not in t and t.count("ADD") == 2  # the two residual adds
    fused = {op.attrs.get("fused_activation") for op in g.ops}
    assert {"RELU", "RELU6"} <= fused


def test_residual_cnn_dynamo_export():
    """The default exporter (torch.export + onnxscript), which is what users get from torch.onnx.export."""
    torch.manual_seed(3)
    m = _randomize_bn(ResidualCNN())
    x = _torch_input((1, 3, 32, 32), 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(m, (x,), dynamo=True, verbose=False)
    check(prog.model_proto, x.numpy(), torch_module=m)


class TimeSeriesCNN(torch.nn.Module):
    """Conv1d classifier for (N, channels, length) signals (the aeon/UCR kind of model)."""

    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.f = nn.Sequential(
            nn.Conv1d(2, 8, 7, padding=3),
            nn.BatchNorm1d(8),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(8, 16, 5, stride=2, padding=2, dilation=1),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Conv1d(16, 16, 3, padding=2, dilation=2, groups=16),
            nn.Tanh(),
            nn.AvgPool1d(3, stride=1, padding=1),
        )
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.f(x).mean(dim=2))


def test_conv1d_time_series_model():
    torch.manual_seed(5)
    m = _randomize_bn(TimeSeriesCNN())
    x = _torch_input((1, 2, 64), 6)
    g = check(export(m, x), x.numpy(), torch_module=m)
    assert g.inputs[0].shape == (1, 64, 2)
    assert sum(t == "RESHAPE" for t in types(g)) <= 8  # back-to-back RESHAPEs collapsed


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(3 * 4 * 4, 32),
            nn.BatchNorm1d(32),
            nn.ReLU(),
            nn.Linear(32, 16),
            nn.Sigmoid(),
            nn.Linear(16, 8, bias=False),
            nn.Tanh(),
            nn.Linear(8, 4),
        )

    def forward(self, x):
        return self.net(x)


def test_mlp_on_nchw_input():
    """Flatten of a 3-channel image: dense weights are permuted to read picoml's NHWC flattening."""
    torch.manual_seed(7)
    m = _randomize_bn(MLP())
    x = _torch_input((1, 3, 4, 4), 8)
    g = check(export(m, x, do_constant_folding=False), x.numpy(), torch_module=m)
    assert types(g) == [
        "RESHAPE",
        "FULLY_CONNECTED",
        "FULLY_CONNECTED",
        "LOGISTIC",
        "FULLY_CONNECTED",
        "TANH",
        "FULLY_CONNECTED",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["mlp", "conv1d"])
def test_dynamo_export_more_models(which):
    torch.manual_seed(9)
    m = _randomize_bn(MLP() if which == "mlp" else TimeSeriesCNN())
    x = _torch_input((1, 3, 4, 4) if which == "mlp" else (1, 2, 64), 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(m, (x,), dynamo=True, verbose=False)
    check(prog.model_proto, x.numpy(), torch_module=m)


def test_batch_of_inputs_and_file_path(tmp_path):
    """From a file, via picoml.load too; a dynamic batch becomes 1 and picoml.run takes a batch of N."""
    torch.manual_seed(11)
    m = _randomize_bn(TimeSeriesCNN())
    x = _torch_input((1, 2, 64), 12, n=5)
    p = tmp_path / "ts.onnx"
    onnx.save(export(m, x[:1]), p)
    g = from_onnx(p)
    assert g.name == "ts" and g.inputs[0].shape == (1, 64, 2)
    assert picoml.load(p).equals(g)
    xs = to_graph_layout(x.numpy())[:, None]  # (N, 1, L, C): N samples of the (1, L, C) input
    got = picoml.run(g, xs)[:, 0]
    with torch.no_grad():
        assert_float_close(got, m(x).numpy(), "batch of 5 vs PyTorch")


# ----------------------------------------------------------------------------- errors
def test_unsupported_op_names_node_op_and_file(tmp_path):
    model = make_model(
        [node("Relu", ["x"], ["r"]), helper.make_node("Elu", ["r"], ["y"], name="elu1", alpha=0.1)],
        {"x": (1, 4)},
        ["y"],
    )
    p = tmp_path / "elu.onnx"
    onnx.save(model, p)
    with pytest.raises(UnsupportedError) as e:
        from_onnx(p)
    msg = str(e.value)
    assert "elu1" in msg and "Elu" in msg and str(p) in msg and "\n" not in msg


def test_unsupported_op_from_pytorch():
    m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Softplus()).eval()  # GELU converts: test_onnx_extra.py
    with pytest.raises(UnsupportedError, match=r"\(Softplus\) is not supported"):
        from_onnx(export(m, torch.randn(1, 4)))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_malformed_file(tmp_path, damage):
    good = export(MLP().eval(), torch.randn(1, 3, 4, 4)).SerializeToString()
    data = {"garbage": b"\x08\xff" + bytes(range(256)) * 3, "truncated": good[: len(good) // 2], "empty": b""}[damage]
    p = tmp_path / f"{damage}.onnx"
    p.write_bytes(data)
    with pytest.raises(ModelFormatError) as e:
        from_onnx(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_invalid_graph_fails_the_checker(tmp_path):
    model = make_model([node("Relu", ["nowhere"], ["y"])], {"x": (1, 4)}, ["y"], out_shape=[1, 4])
    p = tmp_path / "dangling.onnx"
    onnx.save(model, p)
    with pytest.raises(ModelFormatError, match=str(p).replace("\\", "\\\\")):
        from_onnx(p)


def test_non_constant_weights_are_refused():
    conv = make_model([node("Conv", ["x", "w"], ["y"])], {"x": (1, 3, 5, 5), "w": (4, 3, 3, 3)}, ["y"])
    with pytest.raises(UnsupportedError, match=r"conv_y.*\(Conv\).*weights 'w' must be constant"):
        from_onnx(conv)
    # MatMul of two computed values is BATCH_MATMUL (tests/frontends/test_onnx_reduce.py)


def test_non_float_input_and_missing_file(tmp_path):
    model = make_model([node("Relu", ["x"], ["y"])], {"x": (1, 4)}, ["y"])
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
    with pytest.raises(UnsupportedError, match="not a float32 tensor"):
        from_onnx(model)
    with pytest.raises(InputError, match="no such file"):
        from_onnx(tmp_path / "missing.onnx")


def test_missing_onnx_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(PicomlError, match=r"pip install 'picoml\[onnx\]'"):
        from_onnx("model.onnx")


def test_caller_model_is_not_modified():
    model = make_model([node("Relu", ["x"], ["y"])], {"x": (None, 4)}, ["y"])
    before = model.SerializeToString()
    from_onnx(model)
    assert model.SerializeToString() == before


def _mutation_base() -> onnx.ModelProto:
    return make_model(
        [
            node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1], group=1),
            node("Relu", ["c"], ["r"]),
            node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
            node("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1]),
            node("Transpose", ["a"], ["t"], perm=[0, 1, 2, 3]),
            node("Concat", ["t", "t"], ["k"], axis=1),
            node("Flatten", ["k"], ["f"], axis=1),
            node("Gemm", ["f", "F"], ["g"], transB=1),
            node("Softmax", ["g"], ["y"], axis=1),
        ],
        {"x": (1, 4, 8, 8)},
        ["y"],
        {"W": rnd((4, 4, 3, 3), 1), "B": rnd(4, 2), "F": rnd((5, 128), 3)},
    )


def test_mutated_attributes_give_picoml_errors_or_exact_imports():
    """Seeded attribute mutations: from_onnx either refuses with a one-line PicomlError or imports a graph
    that agrees with onnxruntime (never a traceback, never a silently different model)."""
    rng = np.random.default_rng(2024)
    base = _mutation_base()
    x = rnd((1, 4, 8, 8), 4)
    outcomes = {"refused": 0, "imported": 0}
    for _ in range(60):
        m = onnx.ModelProto()
        m.CopyFrom(base)
        n = m.graph.node[int(rng.integers(len(m.graph.node)))]
        ints = [a for a in n.attribute if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS)]
        if not ints:
            continue
        a = ints[int(rng.integers(len(ints)))]
        if a.type == onnx.AttributeProto.INT:
            a.i = int(rng.integers(-2, 5))
        elif a.ints:
            a.ints[int(rng.integers(len(a.ints)))] = int(rng.integers(-1, 5))
        try:
            g = from_onnx(m)
        except PicomlError as e:
            assert "\n" not in str(e)
            outcomes["refused"] += 1
            continue
        try:
            want = ort_run(m, [x])
        except Exception:  # noqa: BLE001 — onnxruntime may reject what picoml imports; nothing to compare
            continue
        assert_float_close(from_graph_layout(picoml.run(g, to_graph_layout(x))), want, f"{n.op_type} {a.name}")
        outcomes["imported"] += 1
    assert outcomes["refused"] > 5 and outcomes["imported"] > 5, outcomes
