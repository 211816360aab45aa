"""PTQ of TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR, DEPTH_TO_SPACE and SPACE_TO_DEPTH.

TensorFlow (the converter) is not importable here, so the rules are checked against what the
converter's quantizer specifies for these ops (TRANSPOSE_CONV: weights input 1 symmetric int8 per
channel along axis 0 of OHWI, bias input 3 int32 with scale input_scale · weight_scale[c]; the
resizes and depth/space moves: output parameters equal to the input's) and the int8 graphs picoml
makes are run on tflite-micro, exactly."""

import numpy as np
import pytest
from test_ptq import N_ORACLE, Builder, check_tflm, conv, samples

import picoml
from picoml.codegen import compile_c
from picoml.flows.verify import verify
from picoml.graph.ops import OpType
from picoml.quantize.ptq import dequantize_output, quantize_input


def transpose_conv(b: Builder, x, oc: int, k: int, stride: int, name: str, rng, act="NONE", bias=True):
    n, h, w, ic = x.shape
    wt = b.const(f"{name}/w", rng.standard_normal((oc, k, k, ic)) * 0.5)
    bb = b.const(f"{name}/b", rng.standard_normal(oc) * 0.1) if bias else None
    shape = b.const(f"{name}/shape", [n, h * stride, w * stride, oc], "int32")
    return b.op(
        OpType.TRANSPOSE_CONV,
        [x, wt, shape, bb],
        name,
        padding="SAME",
        stride_h=stride,
        stride_w=stride,
        fused_activation=act,
    )


def test_transpose_conv_weights_per_output_channel_and_bias_int32():
    rng = np.random.default_rng(0)
    b = Builder(x=(1, 4, 4, 3))
    y = conv(b, b.inputs[0], 4, 3, "c", rng, act="RELU")
    t = transpose_conv(b, y, 5, 3, 2, "t", rng, act="RELU")
    b.ops[-1].inputs[1].data *= np.array([1, 10, 100, 0.1, 3], np.float32)[:, None, None, None]
    g = b.graph(t)
    q = picoml.quantize(g, samples(g, 64, 1))
    op = q.ops[1]
    assert op.type == OpType.TRANSPOSE_CONV
    x, w, shape, bias = op.inputs
    fw = g.tensor(w.name).data
    assert w.dtype == "int8" and w.quantized_dimension == 0 and (w.zero_point == 0).all()
    maxabs = np.abs(fw).reshape(5, -1).max(axis=1)
    np.testing.assert_array_equal(w.scale, (maxabs.astype(np.float64) / 127).astype(np.float32))
    np.testing.assert_array_equal(np.abs(w.data.astype(np.int64)).reshape(5, -1).max(axis=1), 127)
    assert shape.dtype == "int32" and shape.data.tolist() == [1, 8, 8, 5]  # the shape argument is left alone
    assert bias.dtype == "int32" and (bias.zero_point == 0).all() and bias.scale.size == 5
    prod = np.float64(x.scale[0]) * w.scale.astype(np.float64)
    np.testing.assert_array_equal(bias.scale, prod.astype(np.float32))
    fb = g.tensor(bias.name).data.astype(np.float64)
    np.testing.assert_array_equal(bias.data, np.copysign(np.floor(np.abs(fb / prod) + 0.5), fb))
    assert int(q.outputs[0].zero_point[0]) == -128  # the fused RELU clamps the output range at 0
    check_tflm(q, samples(g, N_ORACLE, 2))


def test_upsampling_chain_shares_parameters_and_runs_exactly():
    """conv -> TRANSPOSE_CONV -> RESIZE_BILINEAR -> DEPTH_TO_SPACE -> SPACE_TO_DEPTH ->
    RESIZE_NEAREST_NEIGHBOR: the data movement keeps its input's (scale, zero point); the int8
    graph is exact on tflite-micro and in the generated C, and tracks the float graph."""
    rng = np.random.default_rng(3)
    b = Builder(x=(1, 3, 3, 2))
    y = conv(b, b.inputs[0], 4, 3, "c", rng)
    t = transpose_conv(b, y, 8, 4, 2, "t", rng, bias=False)
    r = b.op(OpType.RESIZE_BILINEAR, [t, b.const("s1", [9, 7], "int32")], "r", half_pixel_centers=True)
    d = b.op(OpType.DEPTH_TO_SPACE, [r], "d", block_size=2)
    s = b.op(OpType.SPACE_TO_DEPTH, [d], "s", block_size=2)
    n = b.op(OpType.RESIZE_NEAREST_NEIGHBOR, [s, b.const("s2", [4, 5], "int32")], "n", align_corners=True)
    g = b.graph(n)
    q = picoml.quantize(g, samples(g, 64, 4))
    params = {name: (float(q.tensor(name).scale[0]), int(q.tensor(name).zero_point[0])) for name in "trdsn"}
    assert len(set(params.values())) == 1, params
    xs = samples(g, N_ORACLE, 5)
    got = check_tflm(q, xs)
    ref = picoml.run(g, xs)
    deq = dequantize_output(q, got)
    scale = float(q.outputs[0].scale[0])
    assert np.abs(deq - ref).max() < 12 * scale  # a few steps: PTQ noise of two layers
    assert compile_c(q).plan.scratch_bytes == 0
    rep = verify(q, "host", xs=quantize_input(q, xs[:4]), sanitize=True, counted_runs=1)
    assert rep.bit_exact


def test_pytorch_decoder_end_to_end():
    """A PyTorch decoder (Conv, ConvTranspose k3 s2 p1 op1 + BatchNorm + ReLU — a 4x4 SAME filter
    with zero taps in TFLite —, bilinear Upsample, Conv, PixelShuffle) through from_torch, PTQ,
    tflite-micro (exact) and the generated C on the host and an emulated Cortex-M4 (exact)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.PixelShuffle(2),
    ).eval()
    with torch.no_grad():
        m[3].running_mean.uniform_(-0.5, 0.5)
        m[3].running_var.uniform_(0.5, 2)
    x = torch.randn(64, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    g = picoml.from_torch(m, x[:1])
    kinds = [op.type for op in g.ops]
    assert kinds == [
        OpType.CONV_2D,
        OpType.TRANSPOSE_CONV,
        OpType.RESIZE_BILINEAR,
        OpType.CONV_2D,
        OpType.DEPTH_TO_SPACE,
    ]
    assert g.ops[1].inputs[1].shape[1:3] == (4, 4) and g.ops[1].attrs["padding"] == "SAME"
    xs = np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))[:, None]  # samples of the (1, H, W, C) input
    q = picoml.quantize(g, xs)
    check_tflm(q, xs[:N_ORACLE])
    xq = quantize_input(q, xs[:4])
    for target in ("host", "cortex-m4"):
        rep = verify(q, target, xs=xq, sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, (target, rep.first_mismatch)
