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
