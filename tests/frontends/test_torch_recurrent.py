"""nn.LSTM / nn.GRU unrolled onto existing ops: float graph vs PyTorch.

Tolerance 1e-5 absolute: float32 summation order differs between PyTorch's fused gate GEMMs and
the per-step FULLY_CONNECTED + ADD; gate values are bounded by sigmoid/tanh, so errors stay ~1e-7.
"""

import numpy as np
import pytest

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.torch import from_graph_layout, from_torch, to_graph_layout

torch = pytest.importorskip("torch")


class _Wrap(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        o, st = self.m(x)
        return (o, *st) if isinstance(st, tuple) else (o, st)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_recurrent_matches_torch(kind, batch_first, bidirectional, bias):
    torch.manual_seed(1)
    m = getattr(torch.nn, kind)(5, 4, num_layers=2, batch_first=batch_first, bidirectional=bidirectional, bias=bias)
    w = _Wrap(m).eval()
    x = torch.randn(2, 6, 5) if batch_first else torch.randn(6, 2, 5)
    g = from_torch(w, x)
    got = picoml.run(g, to_graph_layout(x.numpy()))
    with torch.no_grad():
        want = w(x)
    assert len(got) == len(want)
    for a, e in zip(got, want, strict=True):
        np.testing.assert_allclose(from_graph_layout(a), e.numpy(), atol=1e-5, rtol=0)


def test_initial_state_refused():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = torch.nn.GRU(3, 2, batch_first=True)

        def forward(self, x):
            return self.m(x, torch.zeros(1, 1, 2))[0]

    with pytest.raises(UnsupportedError, match="constant initial state"):
        from_torch(M().eval(), torch.randn(1, 4, 3))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_initial_state_as_inputs(kind):
    torch.manual_seed(4)
    rnn = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = rnn

        def forward(self, x, h0, c0):
            o, st = self.m(x, (h0, c0)) if kind == "LSTM" else self.m(x, h0)
            return (o, *st) if isinstance(st, tuple) else (o, st)

    w = M().eval()
    x, h0, c0 = torch.randn(5, 2, 3), torch.randn(4, 2, 4), torch.randn(4, 2, 4)
    g = from_torch(w, (x, h0, c0)) if kind == "LSTM" else None
    if kind == "GRU":

        class G(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = rnn

            def forward(self, x, h0):
                o, h = self.m(x, h0)
                return o, h

        w = G().eval()
        g = from_torch(w, (x, h0))
    ins = [x, h0, c0] if kind == "LSTM" else [x, h0]
    got = picoml.run(g, [to_graph_layout(v.numpy()) for v in ins])
    with torch.no_grad():
        want = w(*ins)
    for a, e in zip(got, want, strict=True):
        np.testing.assert_allclose(from_graph_layout(a), e.numpy(), atol=1e-5, rtol=0)
