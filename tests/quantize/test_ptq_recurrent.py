"""PTQ of the unrolled nn.LSTM / nn.GRU graphs: int8 exact with tflite-micro, bit-exact in C.

The gate structure quantizes sensibly: LOGISTIC/TANH outputs get TFLite's fixed ranges, the cell
state of the LSTM its calibrated range; the int8 outputs stay within a few output steps of float
(asserted below on random sequences of the calibration distribution).
"""

import numpy as np
import pytest
from test_ptq import N_ORACLE, check_tflm

import picoml
from picoml.flows.verify import verify
from picoml.frontends.torch import to_graph_layout
from picoml.quantize.ptq import dequantize_output, quantize_input

torch = pytest.importorskip("torch")


class _Last(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)[0]


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_int8(kind):
    torch.manual_seed(2)
    m = _Last(getattr(torch.nn, kind)(3, 4, batch_first=True, bidirectional=True)).eval()
    x = torch.randn(64, 1, 5, 3, generator=torch.Generator().manual_seed(3))
    g = picoml.from_torch(m, x[0])
    xs = np.stack([to_graph_layout(v.numpy()) for v in x])
    q = picoml.quantize(g, xs)
    check_tflm(q, xs[:N_ORACLE])
    xq = quantize_input(q, xs[:8])
    got = dequantize_output(q, picoml.run(q, xq))
    want = np.stack([picoml.run(g, v) for v in xs[:8]])
    scale = float(np.asarray(q.outputs[0].scale).reshape(-1)[0])
    err = np.abs(got - want.reshape(got.shape)).max()
    print(f"{kind}: int8 max |error| {err:.4f} = {err / scale:.2f} output steps")
    assert err <= 4 * scale
    for target in ("host", "cortex-m4", "cortex-m0plus"):
        rep = verify(q, target, xs=xq[:3], sanitize=target == "host", counted_runs=1)
        assert rep.bit_exact, (target, rep.first_mismatch)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_int8_accuracy_synthetic(kind):
    """A small sequence task (is the running sum of a 12-step noisy sequence ever above 2?): the
    int8 graph keeps the float graph's accuracy within 2 points on 400 held-out sequences."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1400, 12, 2, generator=gen) * 0.7
    y = (x[..., 0].cumsum(1).max(1).values > 2).long()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(2, 12, batch_first=True)
            self.fc = torch.nn.Linear(12, 2)

        def forward(self, v):
            return self.fc(self.rnn(v)[1][-1] if kind == "GRU" else self.rnn(v)[1][0][-1])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), 0.02)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[:1000]), y[:1000]).backward()
        opt.step()
    net.eval()
    g = picoml.from_torch(net, x[:1])
    xs = np.stack([to_graph_layout(v[None].numpy()) for v in x])
    q = picoml.quantize(g, xs[:200])
    test, yt = xs[1000:], y[1000:].numpy()
    acc_f = np.mean([np.argmax(picoml.run(g, v)) == t for v, t in zip(test, yt, strict=True)])
    acc_q = np.mean(
        np.argmax(dequantize_output(q, picoml.run(q, quantize_input(q, test))).reshape(len(test), -1), 1) == yt
    )
    print(f"{kind}: float accuracy {acc_f:.3f}, int8 {acc_q:.3f}")
    assert acc_f > 0.85 and acc_q >= acc_f - 0.02
