"""Quantization-aware training (picoml.compress.qat): the torch executor of a float Graph, its fake
quantization against the int8 graph ``to_int8()`` makes, the straight-through gradients, and
fine-tuning that recovers what post-training quantization loses."""

from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_ptq import Builder, conv, fc  # noqa: E402

import picoml  # noqa: E402
from picoml.compress import QATModel, qat_finetune  # noqa: E402
from picoml.errors import InputError, PicomlError  # noqa: E402
from picoml.quantize.ptq import dequantize_output, quantize_input  # noqa: E402

from oracles import assert_float_close, assert_int_equal, tflm_run, to_tflite  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models: torch's thread pool only adds spin-wait on a shared 2-core machine (10x slower)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ------------------------------------------------------------------ graphs
def cnn_graph(seed: int = 0) -> picoml.Graph:
    rng = np.random.default_rng(seed)
    b = Builder(x=(1, 8, 8, 2))
    y = conv(b, b.inputs[0], 4, 3, "c1", rng, act="RELU")
    y = conv(b, y, 4, 3, "d1", rng, act="RELU6", depthwise=True)
    y = b.op("AVERAGE_POOL_2D", [y], "pool", filter_h=2, filter_w=2, stride_h=2, stride_w=2, padding="SAME")
    y = b.op("RESHAPE", [y, b.const("shape", [1, 64], "int32")], "flat")
    return b.graph(b.op("SOFTMAX", [fc(b, y, 5, "logits", rng)], "probs", beta=1.0))


def mlp_graph(seed: int = 1) -> picoml.Graph:
    rng = np.random.default_rng(seed)
    b = Builder(x=(1, 6))
    h = fc(b, b.inputs[0], 16, "h1", rng, act="RELU")
    h = fc(b, h, 8, "h2", rng)
    h = b.op("RELU", [h], "h2_relu")  # standalone: fused by the preparation
    return b.graph(b.op("LOGISTIC", [fc(b, h, 3, "out", rng)], "p"))


def zoo_graph(seed: int = 2) -> picoml.Graph:
    """Every op the executor implements, with strides, dilation, depth multiplier, odd SAME padding."""
    rng = np.random.default_rng(seed)
    b = Builder(x=(1, 7, 9, 3))
    x = b.inputs[0]
    c = b.op(
        "CONV_2D",
        [x, b.const("cw", rng.standard_normal((4, 3, 2, 3)) * 0.4), b.const("cb", rng.standard_normal(4) * 0.1)],
        "conv_s2",
        stride_h=2,
        stride_w=2,
        padding="SAME",
        fused_activation="RELU",
    )
    d = b.op(
        "DEPTHWISE_CONV_2D",
        [c, b.const("dw", rng.standard_normal((1, 3, 3, 8)) * 0.4), None],
        "dw_dm2",
        depth_multiplier=2,
        stride_h=1,
        stride_w=1,
        dilation_h=2,
        dilation_w=1,
        padding="SAME",
    )
    m = b.op("MAX_POOL_2D", [d], "maxp", filter_h=3, filter_w=2, stride_h=2, stride_w=2, padding="SAME")
    a = b.op("AVERAGE_POOL_2D", [d], "avgp", filter_h=2, filter_w=3, stride_h=2, stride_w=2, padding="SAME")
    s = b.op("ADD", [m, a], "sum", fused_activation="RELU6")
    k = b.op("MUL", [s, b.const("k", rng.uniform(-1.5, 1.5, 8))], "scaled")  # negative: CONCAT requantizes
    t = b.op("TANH", [k], "tanh")
    p = b.op("PAD", [t, b.const("pads", [[0, 0], [1, 0], [0, 1], [0, 0]], "int32")], "padded")
    mean = b.op("MEAN", [p, b.const("axes", [1, 2], "int32")], "gap", keep_dims=False)
    v = b.op("CONCATENATION", [mean, b.op("LOGISTIC", [mean], "gate")], "cat", axis=1)
    h = fc(b, v, 6, "fc", rng, act="RELU")
    return b.graph(b.op("SOFTMAX", [fc(b, h, 4, "logits", rng)], "probs", beta=0.5))


def leaky_graph(seed: int = 3) -> picoml.Graph:
    """LEAKY_RELU with PyTorch's slope, a negative one (negative int8 multiplier) and one above 1."""
    rng = np.random.default_rng(seed)
    b = Builder(x=(1, 6, 6, 2))
    y = b.op("LEAKY_RELU", [conv(b, b.inputs[0], 4, 3, "c1", rng)], "leaky1", alpha=float(np.float32(0.01)))
    y = b.op("RESHAPE", [y, b.const("shape", [1, 144], "int32")], "flat")
    h = b.op("LEAKY_RELU", [fc(b, y, 8, "h1", rng)], "leaky2", alpha=-0.5)
    return b.graph(b.op("LEAKY_RELU", [fc(b, h, 3, "out", rng)], "leaky3", alpha=1.5))


def movement_graph(seed: int = 4) -> picoml.Graph:
    """Data movement with several outputs inside: SPLIT (chunk), UNPACK (unbind), STRIDED_SLICE,
    PACK (stack), TRANSPOSE, between a convolution and a dense layer."""

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(seed)
            self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
            self.fc = torch.nn.Linear(2 * 3 * 4, 3)

        def forward(self, x):
            a, b = torch.chunk(self.conv(x), 2, dim=1)  # (N, 2, 4, 4) each
            rows = torch.unbind(a[:, :, 1:], dim=2)  # 3 × (N, 2, 4)
            s = torch.stack([rows[2], rows[0], rows[1]], dim=2)  # (N, 2, 3, 4)
            return self.fc((s + b[:, :, ::2][:, :, :1]).transpose(2, 3).flatten(1))

    return picoml.from_torch(Net().eval(), torch.zeros(1, 2, 4, 4))


def upsample_graph(seed: int = 4) -> picoml.Graph:
    """TRANSPOSE_CONV (fused RELU), both resizes, DEPTH_TO_SPACE and SPACE_TO_DEPTH."""
    rng = np.random.default_rng(seed)
    b = Builder(x=(1, 3, 3, 2))
    y = conv(b, b.inputs[0], 4, 3, "c1", rng)
    w, tb = b.const("tw", rng.standard_normal((4, 3, 3, 4)) * 0.4), b.const("tb", rng.standard_normal(4) * 0.1)
    shape = b.const("tshape", [1, 6, 6, 4], "int32")
    t = b.op("TRANSPOSE_CONV", [y, w, shape, tb], "up", padding="SAME", stride_h=2, stride_w=2, fused_activation="RELU")
    r = b.op("RESIZE_BILINEAR", [t, b.const("s1", [8, 8], "int32")], "bil", half_pixel_centers=True)
    d = b.op("SPACE_TO_DEPTH", [r], "s2d", block_size=2)
    d = b.op("DEPTH_TO_SPACE", [d], "d2s", block_size=2)
    n = b.op("RESIZE_NEAREST_NEIGHBOR", [d, b.const("s2", [5, 5], "int32")], "near", align_corners=True)
    f = b.op("RESHAPE", [n, b.const("shape", [1, 100], "int32")], "flat")
    return b.graph(fc(b, f, 3, "out", rng))


GRAPHS = {
    "cnn": cnn_graph,
    "mlp": mlp_graph,
    "zoo": zoo_graph,
    "leaky": leaky_graph,
    "movement": movement_graph,
    "upsample": upsample_graph,
}


def data(g: picoml.Graph, n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((n,) + g.inputs[0].shape) * scale).astype(np.float32)


def train_steps(model: QATModel, x: np.ndarray, steps: int, seed: int = 0, lr: float = 1e-2) -> None:
    """A few Adam steps on a seeded random regression of the outputs (enough to move weights and ranges)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    xt = torch.from_numpy(x)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (32,), generator=gen)
        out = model(xt[idx])
        target = torch.rand(out.shape, generator=gen)
        loss = ((out - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


# ------------------------------------------------------------------ the executor
@pytest.mark.parametrize("name", GRAPHS)
def test_executor_without_fake_quant_equals_reference(name):
    """Fake quantization off, the torch executor computes the float graph. Tolerance: oracles' 1e-5
    of the largest output (float32 rounding: picoml rounds each op's float64 sum once, torch sums in
    float32 in its own order); the float64 executor must be closer still (1e-6: only picoml's
    per-op float32 rounding remains)."""
    g = GRAPHS[name]()
    x = data(g, 64, 3)
    want = picoml.run(g, x)
    model = QATModel(g, x)
    model.fake_quant = False
    with torch.no_grad():
        got32 = model(torch.from_numpy(x)).numpy()
        got64 = model.double()(torch.from_numpy(x.astype(np.float64))).numpy()
    assert_float_close(got32, want, f"{name} float32 executor")
    np.testing.assert_allclose(got64, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())


def test_executor_accepts_squeezed_batches_and_rejects_wrong_shapes():
    g = mlp_graph()
    x = data(g, 8, 4)
    model = QATModel(g, x)
    with torch.no_grad():
        full = model(torch.from_numpy(x))
        squeezed = model(torch.from_numpy(x[:, 0]))
    assert full.shape == (8, 1, 3) and squeezed.shape == (8, 3)
    np.testing.assert_array_equal(full.numpy()[:, 0], squeezed.numpy())
    with pytest.raises(InputError, match="shape"):
        model(torch.zeros(8, 5))


# ------------------------------------------------------------------ fake quantization vs the int8 graph
@pytest.mark.parametrize("learn", [False, True], ids=["ema", "learned"])
@pytest.mark.parametrize("name", GRAPHS)
def test_to_int8_matches_fake_quant_forward(name, learn):
    """After training steps (weights and EMA ranges moved), to_int8() run by picoml gives outputs within
    one output step of the QAT forward. The forward reproduces the int8 arithmetic (TFLite's double
    rounding, the kernels' integer SOFTMAX/LOGISTIC/TANH/MEAN/ADD), so in float64 it is measured
    exactly equal; in float32 the recovered accumulators may round differently, hence the one step.
    With learned ranges (moved by gradient steps instead of the EMA) the same holds."""
    g = GRAPHS[name]()
    x = data(g, 256, 5)
    model = QATModel(g, x[:64], ema_decay=0.9, learn_ranges=learn)
    before = model.ranges()
    train_steps(model, x, steps=12)
    assert model.ranges() != before, "ranges must follow the training batches (EMA) or the gradient (learned)"
    if learn:
        assert np.array_equal(model.lo, QATModel(g, x[:64]).lo), "learned ranges: no EMA update"
    q = model.to_int8()
    xt = x[128:]
    got_int8 = picoml.run(q, quantize_input(q, xt))
    deq = dequantize_output(q, got_int8)
    step = float(q.outputs[0].scale[0])
    with torch.no_grad():
        fq32 = model(torch.from_numpy(xt)).numpy()
        fq64 = model.double()(torch.from_numpy(xt.astype(np.float64))).numpy()
    assert np.abs(fq32 - deq).max() <= step * 1.0001
    np.testing.assert_array_equal(fq64.astype(np.float32), deq)  # measured: identical
    assert_int_equal(got_int8[:24], tflm_run(to_tflite(q), quantize_input(q, xt[:24])), f"{name} QAT int8 vs tflm")


def test_weights_change_and_ranges_freeze():
    g = cnn_graph()
    x = data(g, 128, 6)
    model = QATModel(g, x[:64], freeze_ranges_after=5)
    w0 = g.tensor("c1/w").data.copy()
    train_steps(model, x, steps=5)
    frozen = model.ranges()
    assert not np.array_equal(model.to_graph().tensor("c1/w").data, w0)
    assert np.array_equal(g.tensor("c1/w").data, w0), "the input graph is untouched"
    train_steps(model, x, steps=3, seed=1)
    assert model.ranges() == frozen and model.steps == 8
    restored = QATModel(g, x[:8])
    restored.load_state_dict(model.state_dict())  # ranges travel in the state dict
    assert restored.ranges() == frozen and restored.to_int8().equals(model.to_int8())


def test_picoml_compress_imports_torch_lazily():
    import subprocess
    import sys

    code = "import sys, picoml, picoml.compress; assert 'torch' not in sys.modules; picoml.compress.QATModel"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_straight_through_gradients():
    """d(sum of outputs)/d(input) through fake quantization = the float gradient inside the input's
    int8 range (rounding is skipped) and exactly 0 for values the int8 range clamps."""
    b = Builder(x=(1, 4))
    w = np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)
    g = b.graph(b.op("FULLY_CONNECTED", [b.inputs[0], b.const("w", w), b.const("b", [0.1])], "y"))
    x = data(g, 64, 7)
    model = QATModel(g, x)
    lo, hi = model.ranges()["x"]
    xt = torch.from_numpy(np.array([[[0.3, -0.2, 0.1, 0.05]], [[hi + 5.0, 0.0, lo - 5.0, 0.0]]], np.float32))
    xt.requires_grad_(True)
    model(xt).sum().backward()
    wq = model.to_int8().ops[0].inputs[1]
    w_fq = (wq.data.astype(np.float64) * wq.scale[0]).reshape(-1)
    np.testing.assert_allclose(xt.grad[0, 0].numpy(), w_fq, rtol=1e-6)  # gradient of the fake-quant weights
    assert xt.grad[1, 0, 0] == 0 and xt.grad[1, 0, 2] == 0  # clamped by the input range
    assert xt.grad[1, 0, 1] != 0
    wgrad = model.weights[0].grad
    assert wgrad is not None and torch.count_nonzero(wgrad) == 4  # reaches the float weights


def test_softmax_output_trains_on_logits():
    g = cnn_graph()
    x = data(g, 16, 8)
    model = QATModel(g, x)
    with torch.no_grad():
        logits = model(torch.from_numpy(x), logits=True)
        probs = model(torch.from_numpy(x))
    q = model.to_int8()
    every = picoml.run(q, quantize_input(q, x), all_tensors=True)
    t = q.tensor("logits")
    np.testing.assert_allclose(
        logits.numpy(),
        (every["logits"].astype(np.float64) - t.zero_point[0]) * t.scale[0],
        rtol=0,
        atol=float(t.scale[0]) * 1.0001,
    )
    assert probs.shape == logits.shape and float(probs.min()) >= 0.0
    assert model.softmax_beta == 1.0


# ------------------------------------------------------------------ learned ranges
def test_learned_range_gradient_is_lsq():
    """d(sum of outputs)/d(log range factor) of the input's range, against the LSQ formula written out:
    a value clamped above hi contributes w·hi, one inside contributes w·(round(u) - u)/255·hi (and
    -w·(round(u) - u)/255·lo to the lo factor); no gradient reaches a RELU output's lo (it stays 0)."""
    b = Builder(x=(1, 4))
    w = np.array([[1.0, -2.0, 0.5, 3.0]], np.float32)
    h = b.op("FULLY_CONNECTED", [b.inputs[0], b.const("w", w), b.const("b", [0.1])], "h", fused_activation="RELU")
    g = b.graph(b.op("FULLY_CONNECTED", [h, b.const("w2", [[1.5]]), b.const("b2", [0.0])], "y"))
    x = data(g, 64, 7)
    model = QATModel(g, x, learn_ranges=True).double()
    lo, hi = model.ranges()["x"]
    xin = np.array([[[0.3, -0.2, hi + 5.0, 0.05]]], np.float64)
    model(torch.from_numpy(xin)).sum().backward()
    plan = model.plan()
    s, z = plan.params["x"]
    u = xin[0, 0] / float(s) + z
    d = (np.copysign(np.floor(np.abs(u) + 0.5), u) - u) / 255.0
    wq = model.to_int8().ops[0].inputs[1]
    w_fq = (wq.data.astype(np.float64) * wq.scale[0]).reshape(-1)  # d output / d x, through the fake-quant weights
    up = w_fq * 1.5  # d y / d h (h > 0 here: the RELU passes)
    want_hi = up[2] * hi + sum(up[j] * d[j] * hi for j in (0, 1, 3))
    want_lo = sum(-up[j] * d[j] * lo for j in (0, 1, 3))
    k = int(model._group[model._slot["x"]])
    got = model.range_scales.grad[k].numpy()
    np.testing.assert_allclose(got, [want_lo, want_hi], rtol=1e-6)
    assert model.range_scales.grad[int(model._group[model._slot["h"]]), 0] == 0  # RELU output: lo is 0


def test_learned_ranges_shrink_a_too_wide_range():
    """A range made 20× too wide (coarse int8 steps; here the logits before LOGISTIC) narrows on both sides
    when trained to reproduce the float output, and the int8 error falls; weights frozen, so only the
    ranges can do it."""
    g = mlp_graph()
    x = data(g, 512, 11)
    model = QATModel(g, x[:128], learn_ranges=True)
    i = model._slot["out"]
    model.lo[i] *= 20.0
    model.hi[i] *= 20.0
    for p in model.weights.parameters():
        p.requires_grad_(False)
    want = torch.from_numpy(picoml.run(g, x))
    q0 = model.to_int8()

    def err(q):
        return float(np.abs(dequantize_output(q, picoml.run(q, quantize_input(q, x))) - want.numpy()).mean())

    opt = torch.optim.Adam([model.range_scales], lr=0.05)
    model.train()
    for _ in range(60):
        loss = ((model(torch.from_numpy(x)) - want) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    lo, hi = model.ranges()["out"]
    assert lo / model.lo[i] < 0.5 and hi / model.hi[i] < 0.5, (lo / model.lo[i], hi / model.hi[i])
    assert err(model.to_int8()) < 0.7 * err(q0), (err(model.to_int8()), err(q0))
    restored = QATModel(g, x[:128], learn_ranges=True)
    restored.lo[i] *= 20.0
    restored.hi[i] *= 20.0
    restored.load_state_dict(model.state_dict())  # learned factors travel in the state dict
    assert restored.ranges() == model.ranges()


def test_argmax_output_range_covers_the_top_two_scores():
    """argmax_output: the output's lo starts at the lowest runner-up score of the calibration data, so
    the int8 step is finer and no calibration sample's arg-max changes by the clipping; after training
    (EMA following the runner-up too), to_int8() still computes exactly what the forward does."""
    from picoml.compress.qat import runner_up_floor

    assert runner_up_floor(np.array([[3.0, 1.0, -50.0], [0.5, 2.0, -9.0]])) == 0.0  # runner-ups 1, 0.5: 0 is lower
    assert runner_up_floor(np.array([[3.0, -1.0, -50.0], [0.5, 2.0, -9.0]])) == -1.0
    rng = np.random.default_rng(3)
    b = Builder(x=(1, 6))
    h = fc(b, b.inputs[0], 16, "h1", rng, act="RELU")
    g = b.graph(fc(b, h, 5, "scores", rng))
    x = data(g, 256, 12)
    f = picoml.run(g, x).reshape(len(x), -1)
    plain, top2 = QATModel(g, x), QATModel(g, x, argmax_output=True)
    assert plain.ranges()["scores"] == (float(f.min()), float(f.max()))
    assert top2.ranges()["scores"] == (runner_up_floor(f), float(f.max())) and runner_up_floor(f) > f.min()
    q = top2.to_int8()
    assert q.outputs[0].scale[0] < plain.to_int8().outputs[0].scale[0]
    ours = dequantize_output(q, picoml.run(q, quantize_input(q, x))).reshape(len(x), -1)
    assert (ours.argmax(1) == f.argmax(1)).mean() >= 0.98
    train_steps(top2, x, steps=6)
    q = top2.to_int8()
    with torch.no_grad():
        fq64 = top2.double()(torch.from_numpy(x.astype(np.float64))).numpy()
    np.testing.assert_array_equal(fq64.astype(np.float32), dequantize_output(q, picoml.run(q, quantize_input(q, x))))
    with pytest.raises(InputError, match="argmax_output"):
        QATModel(cnn_graph(), data(cnn_graph(), 8, 1), argmax_output=True)  # SOFTMAX output: fixed parameters


def test_distill_ignores_labels_and_tracks_the_float_model():
    """distill=1: the labels do not matter (two label sets, one graph), and the int8 model agrees with the
    float model's classes at least as often as PTQ's, here strictly more often."""
    g, x, y, xt, yt = classification_case()
    kw = dict(calibration_data=x[:256], epochs=1, lr=1e-2, seed=0, distill=1.0, schedule="cosine")
    q = qat_finetune(g, x[:2048], y[:2048], learn_ranges=True, range_lr=3e-2, **kw)
    shuffled = np.random.default_rng(0).permutation(y[:2048])
    assert qat_finetune(g, x[:2048], shuffled, learn_ranges=True, range_lr=3e-2, **kw).equals(q)
    ref = picoml.run(g, xt).reshape(len(xt), -1).argmax(1)

    def agree(qq):
        return float((picoml.run(qq, quantize_input(qq, xt)).reshape(len(xt), -1).argmax(1) == ref).mean())

    ptq = picoml.quantize(g, x[:256])
    # measured: PTQ 0.837, distilled QAT 0.921 (the case's first layer stays coarse, see classification_case)
    assert agree(q) > agree(ptq) + 0.04, (agree(q), agree(ptq))


def test_cosine_schedule_changes_the_run():
    g, x, y, xt, yt = regression_case()
    kw = dict(calibration_data=x[:256], epochs=1, lr=1e-2, loss="mse", seed=0)
    assert not qat_finetune(g, x, y, schedule="cosine", **kw).equals(qat_finetune(g, x, y, **kw))


# ------------------------------------------------------------------ fine-tuning
def regression_case(seed: int = 0):
    """A float MLP built so post-training quantization loses: an input that is always 0 carries a
    weight of 100 in every hidden unit. The float output ignores it, but each hidden unit's
    per-channel weight scale becomes 100/127, which rounds its real weights (|w| ~ 0.5) to 0 or ±1
    steps. QAT keeps the scale but retrains around it (the second layer refits to the quantized
    features; the first layer moves its weights between grid points)."""
    rng = np.random.default_rng(seed)
    n_in, hidden, n_out = 4, 32, 3
    a = rng.standard_normal((n_out, n_in))

    def split(n):
        x = np.zeros((n, 1, n_in + 1), np.float32)
        x[:, 0, :n_in] = rng.standard_normal((n, n_in))
        return x, np.tanh(x[:, 0, :n_in] @ a.T).astype(np.float32)

    x, y = split(2048)
    xt, yt = split(1024)
    w1 = np.concatenate([rng.standard_normal((hidden, n_in)) * 0.5, np.full((hidden, 1), 100.0)], axis=1)
    b1 = rng.standard_normal(hidden) * 0.1
    h = np.maximum(x[:, 0] @ w1.T + b1, 0)
    w2, *_ = np.linalg.lstsq(np.c_[h, np.ones(len(h))], y, rcond=None)  # the float model's best last layer
    b = Builder(x=(1, n_in + 1))
    h1 = b.op("FULLY_CONNECTED", [b.inputs[0], b.const("w1", w1), b.const("b1", b1)], "h", fused_activation="RELU")
    g = b.graph(b.op("FULLY_CONNECTED", [h1, b.const("w2", w2[:-1].T), b.const("b2", w2[-1])], "y"))
    return g, x, y, xt, yt


def int8_mse(q, x, y) -> float:
    out = dequantize_output(q, picoml.run(q, quantize_input(q, x))).reshape(len(x), -1)
    return float(np.mean((out - y) ** 2))


def test_qat_recovers_what_ptq_loses():
    g, x, y, xt, yt = regression_case()
    float_mse = float(np.mean((picoml.run(g, xt).reshape(len(xt), -1) - yt) ** 2))
    ptq = int8_mse(picoml.quantize(g, x[:256]), xt, yt)
    q = qat_finetune(g, x, y, calibration_data=x[:256], epochs=2, lr=1e-2, loss="mse", seed=0)
    qat = int8_mse(q, xt, yt)
    # measured: float 0.052, PTQ 0.48, QAT 0.068
    assert ptq > 4 * float_mse, "the case must make PTQ lose"
    assert qat < ptq / 4, f"QAT int8 MSE {qat:.4f} vs PTQ {ptq:.4f}"
    assert_int_equal(
        picoml.run(q, quantize_input(q, xt[:24])), tflm_run(to_tflite(q), quantize_input(q, xt[:24])), "QAT int8"
    )
    again = qat_finetune(g, x, y, calibration_data=x[:256], epochs=2, lr=1e-2, loss="mse", seed=0)
    assert again.equals(q), "seeded fine-tuning is deterministic"


@functools.lru_cache(maxsize=1)
def classification_case():
    """A softmax MLP trained in float (through the executor, fake quantization off) to classify
    argmax(A x) over 4 classes, then given an always-0 input with weight 100 in every first-layer
    unit: float accuracy is unchanged, the int8 first layer's per-channel scales become coarse."""
    rng = np.random.default_rng(0)
    n_in, classes = 6, 4
    a = rng.standard_normal((classes, n_in))

    def split(n):
        x = np.zeros((n, 1, n_in + 1), np.float32)
        x[:, 0, :n_in] = rng.standard_normal((n, n_in))
        return x, (x[:, 0, :n_in] @ a.T).argmax(1)

    x, y = split(4096)
    xt, yt = split(1024)
    b = Builder(x=(1, n_in + 1))
    h = fc(b, fc(b, b.inputs[0], 32, "h1", rng, act="RELU"), 16, "h2", rng, act="RELU")
    g = b.graph(b.op("SOFTMAX", [fc(b, h, classes, "logits", rng)], "p", beta=1.0))
    model = QATModel(g, x[:256])
    model.fake_quant = False
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(10):
        order = torch.randperm(len(x), generator=gen).numpy()
        for s0 in range(0, len(x), 64):
            i = order[s0 : s0 + 64]
            logits = model(torch.from_numpy(x[i]), logits=True).reshape(len(i), -1)
            loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y[i]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    trained = model.to_graph()
    trained.tensor("h1/w").data[:, -1] = 100.0
    return trained, x, y, xt, yt


def accuracy(g, xt, yt, int8: bool) -> float:
    out = picoml.run(g, quantize_input(g, xt) if int8 else xt)
    return float((out.reshape(len(xt), -1).argmax(1) == yt).mean())


def test_qat_classification_cross_entropy_quick():
    g, x, y, xt, yt = classification_case()
    ptq = accuracy(picoml.quantize(g, x[:256]), xt, yt, True)
    qat = accuracy(qat_finetune(g, x, y, calibration_data=x[:256], epochs=1, lr=1e-2, seed=0), xt, yt, True)
    # measured: float 0.979, PTQ 0.833, QAT after one epoch 0.909
    assert accuracy(g, xt, yt, False) > ptq + 0.08
    assert qat > ptq + 0.04, f"QAT {qat} vs PTQ {ptq}"


@pytest.mark.slow
def test_qat_classification_cross_entropy_longer():
    g, x, y, xt, yt = classification_case()
    acc_float = accuracy(g, xt, yt, False)
    ptq = accuracy(picoml.quantize(g, x[:256]), xt, yt, True)
    qat = accuracy(qat_finetune(g, x, y, calibration_data=x[:256], epochs=8, lr=1e-2, seed=0), xt, yt, True)
    # measured: float 0.979, PTQ 0.833, QAT after 4 and 8 epochs 0.927 (it plateaus there: the first
    # layer's weights stay on a grid of 100/127)
    assert qat > ptq + 0.06 and qat > acc_float - 0.08, f"QAT {qat} vs PTQ {ptq} (float {acc_float})"


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "kwargs, y, match",
    [
        ({"loss": "hinge"}, None, "loss"),
        ({}, np.zeros(3, np.int64), "targets"),
        ({}, np.full(32, 7), "labels"),
        ({"loss": "mse"}, np.zeros((32, 2), np.float32), "mse targets"),
        ({"epochs": -1}, None, "epochs"),
        ({"schedule": "step"}, None, "schedule"),
        ({"distill": 1.5}, None, "distill"),
        ({"range_lr": 0.0, "learn_ranges": True}, None, "range_lr"),
        ({"loss": "mse", "argmax_output": True}, np.zeros((32, 3), np.float32), "argmax_output"),
    ],
)
def test_qat_finetune_errors_are_one_line(kwargs, y, match):
    g = mlp_graph()
    x = data(g, 32, 9)
    y = np.zeros(32, np.int64) if y is None else y
    with pytest.raises(PicomlError, match=match) as e:
        qat_finetune(g, x, y, calibration_data=x, **kwargs)
    assert "\n" not in str(e.value)
