"""PyTorch slicing, narrow, select, chunk, split, unbind, stack, permute, transpose, squeeze and
unsqueeze vs PyTorch (exact: values are copied) and the saved .tflite in LiteRT; the lowering keeps
RESHAPEs (or nothing) where the data is already in place and adds a TRANSPOSE only where the
channels-last layout needs one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import picoml
from picoml.frontends.onnx import from_graph_layout, to_graph_layout

from oracles import assert_float_close, litert_run, to_tflite

torch.set_num_threads(1)


def _x(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


class F(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def check(fn, x, export: bool = False, exact: bool = True) -> picoml.Graph:
    """picoml == PyTorch exactly on every output (and LiteRT on the saved model, one output);
    ``exact`` False: within oracles.FLOAT_RTOL (a convolution sums in another order)."""
    m = F(fn).eval()
    src = torch.export.export(m, (x[:1],)).module() if export else m
    g = picoml.from_torch(src, x[:1])
    got = picoml.run(g, to_graph_layout(x.numpy()))
    got = got if isinstance(got, list) else [got]
    with torch.no_grad():
        want = m(x)
    want = want if isinstance(want, (tuple, list)) else (want,)
    assert len(got) == len(want)
    same = np.testing.assert_array_equal if exact else assert_float_close
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        same(from_graph_layout(a), b.numpy(), f"output {k}")
    if len(got) == 1:
        lite = litert_run(to_tflite(g), [to_graph_layout(x[:1].numpy())[None]])[0]
        same(from_graph_layout(lite), want[0][:1].numpy(), "LiteRT")
    return g


def types(g):
    return [op.type for op in g.ops]


SLICES = {
    "channels": lambda x: x[:, 1:3],
    "rows-every-other": lambda x: x[:, :, ::2, 1:],
    "last-channel": lambda x: x[:, -1],  # rank 3: lands in the (N, W, H) layout via a TRANSPOSE
    "ellipsis-int": lambda x: x[..., 0],
    "none-and-int": lambda x: x[:, None, 2],
    "negative": lambda x: x[:, -2:, 1:-1],
    "constant-index": lambda x: x[:, torch.tensor([0, 2])],  # an arithmetic progression: a strided slice
    "narrow": lambda x: x.narrow(3, 1, 3),
    "torch-narrow": lambda x: torch.narrow(x, 2, 2, 2),
    "select": lambda x: x.select(1, 0),
    "slice-then-conv-layout": lambda x: x[:, :, 1:4].permute(0, 1, 3, 2).contiguous(),
}


@pytest.mark.parametrize("name", SLICES)
def test_slicing(name):
    check(SLICES[name], _x(2, 4, 5, 6))


def test_slicing_exports_through_aten():
    check(lambda x: x[:, 1:3, ::2].narrow(3, 1, 4).select(2, 1), _x(2, 4, 5, 6), export=True)


def test_channel_slice_is_one_strided_slice_and_no_transpose():
    g = check(lambda x: x[:, 1:3], _x(1, 4, 5, 6))
    assert types(g) == ["STRIDED_SLICE"]


SPLITS = {
    "chunk-channels": lambda x: torch.chunk(x, 2, dim=1),
    "chunk-uneven": lambda x: x.chunk(3, dim=2),
    "split-sizes": lambda x: torch.split(x, [1, 3], dim=1),
    "split-width": lambda x: x.split(2, dim=3),
    "unbind-channels": lambda x: torch.unbind(x, 1),
    "unbind-height": lambda x: x.unbind(dim=-2),
    "chunk-then-add": lambda x: (lambda p: p[0] + p[1] * p[3] + p[2])(torch.chunk(x, 4, dim=1)),
}


@pytest.mark.parametrize("name", SPLITS)
def test_split_family(name):
    g = check(SPLITS[name], _x(2, 4, 5, 6))
    if name.startswith(("chunk", "split")):
        assert types(g)[0] in ("SPLIT", "SPLIT_V")
    elif name.startswith("unbind"):
        assert types(g)[0] == "UNPACK"


def test_split_family_through_aten():
    check(lambda x: torch.split(x, [1, 3], dim=1)[1] + torch.chunk(x, 4, 1)[0], _x(2, 4, 5, 6), export=True)
    check(lambda x: torch.unbind(x, 2)[1], _x(2, 4, 5, 6), export=True)


@pytest.mark.parametrize("dim", [1, 2, 3, 4, -1, -4])  # (not the batch axis: picoml's graph is per sample)
def test_stack(dim):
    g = check(lambda x: torch.stack([x, x * 2.0, x + 1.0], dim=dim), _x(2, 3, 4, 5))
    assert "PACK" in types(g)


def test_stack_through_aten():
    check(lambda x: torch.stack([x[:, 0], x[:, 1]], dim=1), _x(2, 3, 4, 5), export=True)


PERMUTES = {
    "nchw-to-nhwc": lambda x: x.permute(0, 2, 3, 1),  # the graph's own layout: no data moves
    "swap-hw": lambda x: x.transpose(2, 3),
    "movedim": lambda x: torch.movedim(x, 1, 3),
    "rank3": lambda x: x.flatten(2).transpose(1, 2),
    "squeeze-unsqueeze": lambda x: x[:, :1].squeeze(1).unsqueeze(2),
}


@pytest.mark.parametrize("name", PERMUTES)
def test_permutes(name):
    check(PERMUTES[name], _x(2, 4, 5, 6))


def test_flatten_then_slice_features():
    """A flattened channels-last map sliced by feature: moved into PyTorch's order first."""
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    check(lambda x: m(x)[:, 5:20], _x(2, 3, 6, 6), exact=False)


def test_refusals():
    with pytest.raises(picoml.errors.UnsupportedError, match="reads an element twice"):
        picoml.from_torch(F(lambda x: x[:, torch.tensor([0, 0])]), _x(1, 4, 5))
    with pytest.raises(picoml.errors.UnsupportedError, match="no transpose"):
        picoml.from_torch(F(lambda x: x[:, torch.tensor([2, 0, 1])]), _x(1, 4, 5, 2))
