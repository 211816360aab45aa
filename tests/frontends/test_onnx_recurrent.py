"""ONNX LSTM / GRU unrolled onto existing ops: float graph vs onnxruntime (atol 1e-5: float32
summation order of the gate matmuls differs; gates are bounded by sigmoid/tanh)."""

import numpy as np
import pytest
from test_onnx import export, make_model, node, rnd

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.onnx import from_onnx
from picoml.frontends.torch import from_graph_layout, to_graph_layout

ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")


def _model(kind, direction, layout, bias, lbr, n=2, t=5, i=3, h=4):
    g = 4 if kind == "LSTM" else 3
    d = 2 if direction == "bidirectional" else 1
    inits = {"W": rnd((d, g * h, i), 1, 0.6), "R": rnd((d, g * h, h), 2, 0.6)}
    ins = ["x", "W", "R"]
    if bias:
        inits["B"] = rnd((d, 2 * g * h), 3, 0.5)
        ins.append("B")
    outs = ["y", "y_h"] + (["y_c"] if kind == "LSTM" else [])
    attrs = dict(hidden_size=h, direction=direction, layout=layout)
    if kind == "GRU":
        attrs["linear_before_reset"] = lbr
    xshape = (n, t, i) if layout else (t, n, i)
    return make_model([node(kind, ins, outs, **attrs)], {"x": xshape}, outs, inits, opset=14), xshape


@pytest.mark.parametrize("kind,lbr", [("LSTM", 0), ("GRU", 0), ("GRU", 1)])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("bias", [True, False])
def test_onnx_recurrent_matches_onnxruntime(kind, lbr, direction, layout, bias):
    m, xshape = _model(kind, direction, layout, bias, lbr)
    x = rnd(xshape, 7)
    g = from_onnx(m)
    got = picoml.run(g, to_graph_layout(x))
    got = got if isinstance(got, list) else [got]
    # onnxruntime refuses layout=1 (batch-major): its reference is the layout-0 model, transposed
    m0, _ = _model(kind, direction, 0, bias, lbr)
    s = ort.InferenceSession(m0.SerializeToString(), providers=["CPUExecutionProvider"])
    want = s.run(None, {"x": x.transpose(1, 0, 2) if layout else x})
    if layout:
        want = [want[0].transpose(2, 0, 1, 3)] + [w.transpose(1, 0, 2) for w in want[1:]]
    assert len(got) == len(want)
    for a, e in zip(got, want, strict=True):
        np.testing.assert_allclose(from_graph_layout(a), e, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("layout", [0, 1])
def test_onnx_initial_state_inputs(kind, layout):
    g, h, d, n, t, i = (4 if kind == "LSTM" else 3), 4, 2, 2, 5, 3
    ins = ["x", "W", "R", "B", "", "h0"] + (["c0"] if kind == "LSTM" else [])
    sshape = (n, d, h) if layout else (d, n, h)
    xshape = (n, t, i) if layout else (t, n, i)
    inputs = {"x": xshape, "h0": sshape} | ({"c0": sshape} if kind == "LSTM" else {})
    inits = {"W": rnd((d, g * h, i), 1, 0.6), "R": rnd((d, g * h, h), 2, 0.6), "B": rnd((d, 2 * g * h), 3, 0.5)}
    outs = ["y", "y_h"]
    attrs = dict(hidden_size=h, direction="bidirectional", layout=layout)
    m = make_model([node(kind, ins, outs, **attrs)], inputs, outs, inits, opset=14)
    vals = {k: rnd(s, 9 + j) for j, (k, s) in enumerate(inputs.items())}
    got = picoml.run(from_onnx(m), [to_graph_layout(v) for v in vals.values()])
    attrs["layout"] = 0  # onnxruntime refuses layout 1: the layout-0 model on transposed values
    inputs0 = {k: (s[1], s[0], s[2]) for k, s in inputs.items()} if layout else inputs
    m0 = make_model([node(kind, ins, outs, **attrs)], inputs0, outs, inits, opset=14)
    s = ort.InferenceSession(m0.SerializeToString(), providers=["CPUExecutionProvider"])
    want = s.run(None, {k: (v.transpose(1, 0, 2) if layout else v) for k, v in vals.items()})
    if layout:
        want = [want[0].transpose(2, 0, 1, 3), want[1].transpose(1, 0, 2)]
    for a, e in zip(got, want, strict=True):
        np.testing.assert_allclose(from_graph_layout(a), e, atol=1e-5, rtol=0)


def test_onnx_constant_initial_state_refused():
    m = make_model(
        [node("GRU", ["x", "W", "R", "", "", "h0"], ["y"], hidden_size=2)],
        {"x": (3, 1, 2)},
        ["y"],
        {"W": rnd((1, 6, 2)), "R": rnd((1, 6, 2)), "h0": np.ones((1, 1, 2), np.float32)},
        opset=14,
    )
    with pytest.raises(UnsupportedError, match="constant non-zero initial state"):
        from_onnx(m)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_torch_exported_onnx_recurrent(kind):
    """torch.onnx.export of a stacked bidirectional batch_first layer (dynamic batch, zero states)."""

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = getattr(torch.nn, kind)(3, 4, num_layers=2, batch_first=True, bidirectional=True)

        def forward(self, x):
            return self.m(x)[0]

    torch.manual_seed(0)
    m = M().eval()
    x = torch.randn(1, 5, 3)
    g = from_onnx(export(m, x))
    got = from_graph_layout(picoml.run(g, to_graph_layout(x.numpy())))
    with torch.no_grad():
        np.testing.assert_allclose(got, m(x).numpy(), atol=1e-5, rtol=0)
