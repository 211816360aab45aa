"""ONNX Slice, Split, Transpose, Squeeze/Unsqueeze and Concat-of-Unsqueeze (stack) vs onnxruntime,
PyTorch and LiteRT (the saved .tflite). Every value is copied, so the comparisons are exact."""

from __future__ import annotations

import numpy as np
import pytest
import test_onnx as T
import torch

import picoml
from picoml.frontends.onnx import from_graph_layout, from_onnx, to_graph_layout

from oracles import litert_run, to_tflite

INT_MAX = 2**63 - 1


def ort_all(model, xs):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, dict(zip([i.name for i in s.get_inputs()], xs, strict=True)))


def check_all(model, xs, torch_module=None):
    """Every output: picoml == onnxruntime == LiteRT (and PyTorch), exactly."""
    g = from_onnx(model)
    ins = [to_graph_layout(x) for x in xs]
    got = picoml.run(g, ins[0] if len(ins) == 1 else ins)
    got = got if isinstance(got, list) else [got]
    want = ort_all(model, xs)
    assert len(got) == len(want)
    lite = to_tflite(g)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_array_equal(from_graph_layout(a), b, err_msg=f"output {k} vs onnxruntime")
    if len(g.outputs) == 1:
        np.testing.assert_array_equal(from_graph_layout(litert_run(lite, [x[None] for x in ins])[0]), want[0])
    if torch_module is not None:
        with torch.no_grad():
            ref = torch_module(*[torch.from_numpy(x) for x in xs])
        ref = ref if isinstance(ref, (tuple, list)) else (ref,)
        for k, (a, b) in enumerate(zip(got, ref, strict=True)):
            np.testing.assert_array_equal(from_graph_layout(a), b.numpy(), err_msg=f"output {k} vs PyTorch")
    return g


SLICES = [  # (starts, ends, axes, steps) on an NCHW (2, 5, 6, 4) input
    ([1], [4], [1], [1]),  # channels
    ([0, 1], [INT_MAX, -1], [2, 3], [2, 1]),  # height every other row, width without its ends
    ([-1], [-INT_MAX], [2], [-1]),  # height reversed
    ([4, 3], [0, -7], [1, 3], [-2, -1]),  # channels backwards from 4 by 2, width reversed to index 0
    ([1], [2], [0], [1]),  # batch
]


@pytest.mark.parametrize("case", SLICES)
def test_slice(case):
    starts, ends, axes, steps = (np.array(v, np.int64) for v in case)
    model = T.make_model(
        [T.node("Slice", ["x", "s", "e", "a", "st"], ["y"])],
        {"x": (2, 5, 6, 4)},
        ["y"],
        {"s": starts, "e": ends, "a": axes, "st": steps},
    )
    g = check_all(model, [T.rnd((2, 5, 6, 4), 1)])
    assert T.types(g) == ["STRIDED_SLICE"]


def test_slice_opset_9_attributes_and_after_flatten():
    model = T.make_model(
        [
            T.node("Flatten", ["x"], ["f"], axis=1),
            T.node("Slice", ["f"], ["y"], starts=[2], ends=[9], axes=[1]),
        ],
        {"x": (1, 3, 2, 2)},
        ["y"],
        opset=9,
    )
    check_all(model, [T.rnd((1, 3, 2, 2), 2)])


@pytest.mark.parametrize("opset,split", [(13, None), (13, [1, 3, 2]), (11, [2, 4]), (18, None)])
def test_split(opset, split):
    k = 3 if split is None else len(split)
    attrs = {"axis": 1}
    inputs = ["x"]
    inits = {}
    if split is not None and opset >= 13:
        inputs.append("sp")
        inits["sp"] = np.array(split, np.int64)
    elif split is not None:
        attrs["split"] = split
    if opset >= 18:
        attrs["num_outputs"] = k
    outs = [f"y{i}" for i in range(k)]
    model = T.make_model([T.node("Split", inputs, outs, **attrs)], {"x": (2, 6, 3, 2)}, outs, inits, opset=opset)
    g = check_all(model, [T.rnd((2, 6, 3, 2), 3)])
    assert T.types(g) == (["SPLIT"] if split is None else ["SPLIT_V"])
    assert g.ops[0].inputs[-1].data.tolist() == [3]  # ONNX channels: picoml's last axis


def test_transpose_that_does_not_fold_is_a_transpose():
    model = T.make_model(
        [T.node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]), T.node("Conv", ["t", "W"], ["y"])],
        {"x": (1, 3, 4, 5)},
        ["y"],
        {"W": T.rnd((2, 3, 1, 1))},
    )
    g = T.check(model, T.rnd((1, 3, 4, 5), 4))
    assert T.types(g) == ["TRANSPOSE", "CONV_2D"]


class Movement(torch.nn.Module):
    """narrow, chunk, split, stack, permute, unsqueeze and squeeze, exported to ONNX."""

    def forward(self, x):
        a, b = torch.chunk(x, 2, dim=1)  # (N, 2, 6, 4) each
        c = torch.stack([a, b], dim=2)  # (N, 2, 2, 6, 4)
        d = c.permute(0, 4, 1, 3, 2).reshape(x.shape[0], 4, 2, 12)
        e = x.narrow(2, 1, 4)[:, :, ::2]  # (N, 4, 2, 4)
        p, q = torch.split(d, [1, 3], dim=1)
        return p.squeeze(1).unsqueeze(1) + e[:, :1, :, :1], q


def test_pytorch_movement_through_onnx():
    x = torch.from_numpy(T.rnd((1, 4, 6, 4), 5))
    model = T.export(Movement(), x)
    check_all(model, [x.numpy()], torch_module=Movement().eval())


class Stack(torch.nn.Module):
    def forward(self, x):
        return torch.stack([x, x * 2.0, x + 1.0], dim=2)


def test_stack_is_unsqueeze_and_concat():
    """torch.stack exports as Unsqueeze + Concat: RESHAPEs (free) and one CONCATENATION, exact."""
    x = torch.from_numpy(T.rnd((1, 3, 4, 5), 6))
    g = check_all(T.export(Stack(), x), [x.numpy()], torch_module=Stack().eval())
    assert T.types(g).count("CONCATENATION") == 1 and "PACK" not in T.types(g)
