"""picoml.from_torch for reductions (amax, amin, sum, max/min with and without a dim), argmax /
argmin and products of two computed tensors (matmul, @, bmm, mm): each mapping vs PyTorch, through
fx and torch.export.

max / min / amax / amin select values and argmax / argmin indices: compared exactly. sum and
matmul are compared within ``oracles.assert_float_close`` (1e-5 relative to the largest output:
picoml sums in float64, PyTorch in float32 in its own order). Indices are int32 in the graph and
int64 in PyTorch: the same values."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.torch import from_graph_layout, to_graph_layout

torch = pytest.importorskip("torch")
nn = torch.nn

from oracles import assert_float_close  # noqa: E402


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _ties(*shape: int, seed: int = 0) -> torch.Tensor:
    """Few distinct values: ties everywhere (PyTorch and TFLite both take the first index)."""
    return torch.randint(0, 3, shape, generator=torch.Generator().manual_seed(seed)).float()


def run(fn, xs, export=False, exact=False, whole=False):
    """Convert (fx, or torch.export) with the first sample (``whole``: the whole batch, for products
    that mix the batch axis), run every sample, compare with PyTorch."""
    xs = xs if isinstance(xs, tuple) else (xs,)
    m = Fn(fn).eval()
    first = xs if whole else tuple(x[:1] for x in xs)
    src = torch.export.export(m, first).module() if export else m
    g = picoml.from_torch(src, first)
    got = picoml.run(g, [to_graph_layout(x.numpy()) for x in xs] if len(xs) > 1 else to_graph_layout(xs[0].numpy()))
    with torch.no_grad():
        want = m(*xs)
    got = got if isinstance(got, list) else [got]
    want = want if isinstance(want, tuple) else (want,)
    for gv, w in zip(got, want, strict=True):
        gv, w = from_graph_layout(np.asarray(gv)), w.numpy()
        assert gv.shape == w.shape, (gv.shape, w.shape)
        if exact or w.dtype.kind == "i":
            np.testing.assert_array_equal(gv, w)
        else:
            assert_float_close(gv, w)
    return g


def types(g):
    return [op.type for op in g.ops if op.type != "RESHAPE"]


REDUCTIONS = {
    "amax": (lambda x: torch.amax(x, dim=2), ["REDUCE_MAX"]),
    "amin_keep": (lambda x: x.amin(dim=(2, 3), keepdim=True), ["REDUCE_MIN"]),
    "sum": (lambda x: torch.sum(x, dim=-1), ["SUM"]),
    "sum_keep": (lambda x: x.sum((1, 2, 3), keepdim=True), ["SUM"]),
    "max_dim_values": (lambda x: torch.max(x, 3).values, ["REDUCE_MAX"]),
    "min_dim_getitem": (lambda x: x.min(dim=2, keepdim=True)[0], ["REDUCE_MIN"]),
    "max_dim_both": (lambda x: torch.max(x, 1, keepdim=True), ["REDUCE_MAX", "ARG_MAX"]),
    "argmax_keep": (lambda x: torch.argmax(x, dim=1, keepdim=True), ["ARG_MAX"]),
    "argmin_last": (lambda x: x.argmin(-1), ["ARG_MIN"]),
}


@pytest.mark.parametrize("export", [False, True], ids=["fx", "export"])
@pytest.mark.parametrize("case", sorted(REDUCTIONS))
def test_reductions(case, export):
    fn, ops = REDUCTIONS[case]
    x = _ties(3, 4, 5, 6, seed=1) if "arg" in case or "both" in case else _x(3, 4, 5, 6, seed=1)
    g = run(fn, x, export=export, exact=not case.startswith("sum"))
    assert types(g) == ops


def test_rank2_reductions_and_classifier_argmax():
    """A classifier's logits (N, K): argmax over the classes is one ARG_MAX with an int32 output."""
    lin = nn.Linear(8, 5)
    g = run(lambda x: torch.argmax(lin(x), dim=1), _x(6, 8, seed=2))
    assert types(g) == ["FULLY_CONNECTED", "ARG_MAX"] and g.outputs[0].dtype == "int32"
    run(lambda x: (x.max(dim=1).values, x.sum(1), x.amin(-1, keepdim=True)), _x(6, 8, seed=3))


def test_argmax_over_channels_to_rank3():
    """(N, C, H, W) → (N, H, W): the graph's (N, H, W) indices are not the standard layout of a rank-3
    value ((N, W, H)): a TRANSPOSE moves them."""
    g = run(lambda x: torch.argmax(x, dim=1), _ties(2, 3, 4, 5, seed=2))
    assert types(g) == ["ARG_MAX", "TRANSPOSE"]


def test_reductions_refused():
    x = _x(1, 4, 5, 6)
    with pytest.raises(UnsupportedError, match="reducing over the batch dimension is not supported"):
        picoml.from_torch(Fn(lambda x: x.sum()), x)
    with pytest.raises(UnsupportedError, match=r"argmax over all elements \(dim=None\)"):
        picoml.from_torch(Fn(lambda x: torch.argmax(x)), x)
    assert "MAXIMUM" in types(run(lambda x: torch.max(x, x * 2), _x(3, 4, 5, 6)))  # two tensors: elementwise
    assert "MINIMUM" in types(run(lambda x: x.min(x * 2), _x(3, 4, 5, 6)))
    with pytest.raises(UnsupportedError, match="sum with dtype"):
        picoml.from_torch(Fn(lambda x: torch.sum(x, 1, dtype=torch.float64)), x)


# ---------------------------------------------------------------------- products
def attention(q, k, v):
    return torch.softmax(q @ k.transpose(1, 2) * 0.5, dim=-1) @ v


PRODUCTS = {
    "attention": (attention, [(2, 6, 4), (2, 6, 4), (2, 6, 4)], ["BATCH_MATMUL", "MUL", "SOFTMAX", "BATCH_MATMUL"]),
    "bmm": (lambda a, b: torch.bmm(a, b), [(2, 3, 5), (2, 5, 4)], ["BATCH_MATMUL"]),
    "matmul_rank2": (lambda a, b: torch.matmul(a, b.transpose(0, 1)), [(3, 5), (3, 5)], ["BATCH_MATMUL"]),
    "mm": (lambda a, b: torch.mm(a, b.t()), [(5, 4), (5, 4)], ["BATCH_MATMUL"]),
    "rank2_T": (lambda a, b: a.T @ b, [(5, 3), (5, 4)], ["BATCH_MATMUL"]),
    "rank3_mT": (lambda a, b: a.mT @ b.transpose(-1, -2), [(2, 5, 3), (2, 4, 5)], ["BATCH_MATMUL"]),
    "rank5_broadcast": (lambda a, b: a @ b, [(2, 1, 3, 4, 5), (2, 2, 1, 5, 3)], ["BATCH_MATMUL"]),
    "rank3_const": (lambda a: a @ torch.linspace(-1, 1, 20).reshape(4, 5), [(2, 3, 4)], ["BATCH_MATMUL"]),
}


@pytest.mark.parametrize("export", [False, True], ids=["fx", "export"])
@pytest.mark.parametrize("case", sorted(PRODUCTS))
def test_products(case, export):
    fn, shapes, ops = PRODUCTS[case]
    xs = tuple(_x(*s, seed=i) for i, s in enumerate(shapes))
    g = run(fn, xs, export=export, whole=len(shapes[0]) == 2)
    assert types(g) == ops


def test_linear_by_matmul_stays_fully_connected():
    w = torch.linspace(-1, 1, 12).reshape(4, 3)
    g = run(lambda x: x @ w, _x(5, 4))
    assert types(g) == ["FULLY_CONNECTED"]


def test_products_refused():
    with pytest.raises(UnsupportedError, match="a 4-D operand"):
        picoml.from_torch(Fn(lambda a, b: a @ b), (_x(1, 2, 3, 3), _x(1, 2, 3, 3)))
    with pytest.raises(UnsupportedError, match="a 1-D constant"):
        picoml.from_torch(Fn(lambda a: a @ torch.ones(4)), _x(1, 3, 4))


class SingleHeadAttention(nn.Module):
    """Self-attention over (tokens, features): projections, softmax(q k^T / 2) v."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(8, 4), nn.Linear(8, 4), nn.Linear(8, 4)

    def forward(self, x):
        return torch.softmax(self.q(x) @ self.k(x).T * 0.5, dim=-1) @ self.v(x)


def test_single_head_attention_over_tokens():
    torch.manual_seed(0)
    m = SingleHeadAttention().eval()
    x = _x(6, 8, seed=4)
    g = picoml.from_torch(m, x)
    assert sorted(types(g)) == sorted(["FULLY_CONNECTED"] * 3 + ["BATCH_MATMUL", "MUL", "SOFTMAX", "BATCH_MATMUL"])
    with torch.no_grad():
        assert_float_close(np.asarray(picoml.run(g, x.numpy())), m(x).numpy())


# ---------------------------------------------------------------------- GATHER
GATHERS = {
    "index_select_const": (lambda x: x.index_select(1, torch.tensor([3, 0, 3])), (3, 4, 5, 6), ["GATHER"]),
    "index_select_last": (lambda x: torch.index_select(x, -1, torch.tensor([5, 1])), (3, 4, 5, 6), ["GATHER"]),
    "index_select_rank3": (lambda x: x.index_select(2, torch.tensor([0, 0, 2])), (3, 4, 5), ["GATHER"]),
    "gather_argmax": (
        lambda x: torch.gather(x, 1, torch.argmax(x, dim=1, keepdim=True)),
        (3, 7),
        ["ARG_MAX", "GATHER"],
    ),
    "gather_const": (lambda x: torch.gather(x, -1, torch.tensor([[0, 6]]).expand(1, 2)), (1, 7), ["GATHER"]),
}


@pytest.mark.parametrize("export", [False, True], ids=["fx", "export"])
@pytest.mark.parametrize("case", sorted(GATHERS))
def test_gather(case, export):
    fn, shape, ops = GATHERS[case]
    g = run(fn, _x(*shape, seed=5), export=export, exact=True)
    assert types(g) == ops


def test_embedding_of_an_argmax():
    """An embedding looked up at computed ids (a classifier's argmax): ARG_MAX → GATHER of the table."""
    emb = nn.Embedding(7, 4)
    g = run(lambda x: emb(torch.argmax(x, dim=1)), _x(5, 7, seed=6), exact=True)
    assert types(g) == ["ARG_MAX", "GATHER"] and g.ops[-1].inputs[0].data is not None


def test_gather_refused():
    with pytest.raises(UnsupportedError, match="last dim of an \\(N, K\\) tensor only"):
        picoml.from_torch(Fn(lambda x: torch.gather(x, 1, torch.zeros(1, 2, 4, dtype=torch.long))), _x(1, 3, 4))
    with pytest.raises(UnsupportedError, match="selecting along the batch dimension"):
        picoml.from_torch(Fn(lambda x: x.index_select(0, torch.tensor([0]))), _x(1, 3))
