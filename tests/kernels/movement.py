"""Helpers of the data-movement kernel tests (test_slicing.py, test_split_pack.py): every output of a
graph from tflite-micro (int8) or LiteRT (float32), picoml's outputs, and graphs of one op with
constant int32 arguments and any number of outputs."""

from __future__ import annotations

import numpy as np

import picoml
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OP_SET, default_attrs

from oracles import qtensor, tflm_interpreter, to_tflite


def ints(name: str, values, shape=None) -> Tensor:
    v = np.asarray(values, np.int32)
    return Tensor(
        name, v.shape if shape is None else shape, "int32", data=v.reshape(v.shape if shape is None else shape)
    )


def act(name: str, shape, dtype: str, q=(0.05, 3)) -> Tensor:
    return qtensor(name, shape, *q) if dtype == "int8" else Tensor(name, tuple(shape), dtype)


def graph(op_type, inputs: list[Tensor], out_shapes, dtype: str, q=(0.05, 3), **attrs) -> Graph:
    """A validated one-op graph; outputs ``y0``, ``y1``, ... (``y`` for one) with the given shapes."""
    names = ["y"] if len(out_shapes) == 1 else [f"y{k}" for k in range(len(out_shapes))]
    ys = [act(n, s, dtype, q) for n, s in zip(names, out_shapes, strict=True)]
    op = Op(op_type, list(inputs), ys, {**default_attrs(op_type), **attrs}, name="op")
    g = Graph([*inputs, *ys], [op], [t for t in inputs if t.data is None], ys, name="single_op")
    g.validate()
    return g


def oracle_outputs(g: Graph, xs: list[np.ndarray]) -> list[np.ndarray]:
    """Every output of ``g`` on each sample of ``xs`` (one batch per graph input), stacked: tflite-micro
    for an int8 graph, LiteRT (reference kernels) for a float one."""
    model = to_tflite(g)
    n_out = len(g.outputs)
    outs: list[list[np.ndarray]] = [[] for _ in range(n_out)]
    if g.outputs[0].dtype == "int8":
        ip = tflm_interpreter(model)
        for i in range(len(xs[0])):
            for k, x in enumerate(xs):
                ip.set_input(x[i], k)
            ip.invoke()
            for k in range(n_out):
                outs[k].append(ip.get_output(k).copy())
    else:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        ip = Interpreter(
            model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        ip.allocate_tensors()
        ins, od = ip.get_input_details(), ip.get_output_details()
        for i in range(len(xs[0])):
            for d, x in zip(ins, xs, strict=True):
                ip.set_tensor(d["index"], x[i])
            ip.invoke()
            for k in range(n_out):
                outs[k].append(ip.get_tensor(od[k]["index"]).copy())
    return [np.stack(o) for o in outs]


def picoml_outputs(g: Graph, xs: list[np.ndarray]) -> list[np.ndarray]:
    y = picoml.run(g, xs if len(xs) > 1 else xs[0])
    return list(y) if isinstance(y, list) else [y]


def check(g: Graph, xs: list[np.ndarray], what: str = "") -> list[np.ndarray]:
    """picoml == the oracle, shapes and values exactly (a copy has no rounding, float included)."""
    got, want = picoml_outputs(g, xs), oracle_outputs(g, xs)
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a.shape == b.shape, f"{what} output {k}: shape {a.shape} != oracle {b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=f"{what} output {k}")
    return got


def samples(g: Graph, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for t in g.inputs:
        if t.dtype == "float32":
            out.append(rng.standard_normal((n, *t.shape)).astype(np.float32))
        else:
            out.append(rng.integers(-128, 128, (n, *t.shape)).astype(t.np_dtype))
    return out


def shape_args(op_type) -> frozenset[int]:
    return OP_SET[op_type].shape_inputs
