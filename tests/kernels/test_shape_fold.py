"""SHAPE and constant folding at load.

SHAPE is exact vs tflite-micro (int8 and float inputs, both out_types) and LiteRT; a model
whose RESHAPE takes its shape from SHAPE (the shape arithmetic of variable-batch exports) loads
with the shape computation folded to constants, runs exactly like the file in tflite-micro,
and compiles to C bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

import picoml
from picoml.errors import GraphError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OpType, default_attrs
from picoml.reference.fold import fold_constants

from oracles import litert_run, qtensor, single_op_graph, tflm_run, to_tflite


@pytest.mark.parametrize("dtype", ["int8", "float32"])
@pytest.mark.parametrize("shape", [(1, 5), (1, 3, 4, 2), (2, 1, 3)])
def test_shape_matches_the_oracles(dtype, shape):
    x = qtensor("x", shape, 0.1, 3) if dtype == "int8" else Tensor("x", shape)
    y = Tensor("y", (len(shape),), "int32")
    g = single_op_graph(OpType.SHAPE, [x], y)
    xs = np.zeros((2, *shape), np.int8 if dtype == "int8" else np.float32)
    want = np.asarray(shape, y.np_dtype)
    got = picoml.run(g, xs)
    np.testing.assert_array_equal(got, np.stack([want, want]))
    model = to_tflite(g)
    np.testing.assert_array_equal(tflm_run(model, xs), got)
    if dtype == "float32":
        np.testing.assert_array_equal(litert_run(model, xs), got)


@pytest.mark.parametrize("code", [4, 9])  # INT64: tflite-micro fails Eval ("Output type INT64 (4) not supported")
def test_shape_refuses_other_out_types(code):
    g = single_op_graph(OpType.SHAPE, [Tensor("x", (1, 4))], Tensor("y", (2,), "int32"))
    g.ops[0].attrs["out_type"] = code
    with pytest.raises(GraphError, match=f"out_type {code} is not supported"):
        g.validate()


def variable_batch_flatten() -> Graph:
    """x (1, 4, 4, 2) int8 → SHAPE → MUL by a constant 1 in int32? No: the converter's chain is
    SHAPE → STRIDED_SLICE → PACK → RESHAPE; with the ops picoml has, SHAPE → RESHAPE(shape=SHAPE(c))
    of a constant of the wanted output shape stands in: the reshape's shape is computed, not stored."""
    x = qtensor("x", (1, 4, 4, 2), 0.05, -3)
    like = Tensor("like", (1, 32), "int8", np.array([1.0]), np.array([0]), data=np.zeros((1, 32), np.int8))
    sh = Tensor("flat_shape", (2,), "int32")
    y = qtensor("y", (1, 32), 0.05, -3)
    r = qtensor("r", (1, 32), 0.05, -128)
    ops = [
        Op(OpType.SHAPE, [like], [sh], default_attrs(OpType.SHAPE), name="shape"),
        Op(OpType.RESHAPE, [x, sh], [y], default_attrs(OpType.RESHAPE), name="flatten"),
        Op(OpType.RELU, [y], [r], default_attrs(OpType.RELU), name="relu"),
    ]
    g = Graph([x, like, sh, y, r], ops, [x], [r], name="varbatch")
    g.validate()
    return g


def test_load_folds_computed_shapes(tmp_path):
    g = variable_batch_flatten()
    path = tmp_path / "varbatch.tflite"
    picoml.save(g, path)
    raw = read_tflite_bytes(path.read_bytes())
    assert [op.type for op in raw.ops] == [OpType.SHAPE, OpType.RESHAPE, OpType.RELU]  # the file keeps SHAPE
    loaded = picoml.load(path)
    assert [op.type for op in loaded.ops] == [OpType.RESHAPE, OpType.RELU]
    np.testing.assert_array_equal(loaded.tensor("flat_shape").data, [1, 32])
    xs = np.random.default_rng(0).integers(-128, 128, (5, 1, 4, 4, 2), dtype=np.int8)
    got = picoml.run(loaded, xs)
    np.testing.assert_array_equal(got, tflm_run(path.read_bytes(), xs))
    np.testing.assert_array_equal(got, picoml.run(raw, xs))


def test_folded_model_compiles_bit_exact(tmp_path):
    from picoml.flows.verify import verify

    path = tmp_path / "varbatch.tflite"
    picoml.save(variable_batch_flatten(), path)
    rep = verify(picoml.load(path), "host", n_inputs=4, sanitize=True)
    assert rep.bit_exact, rep.first_mismatch


def test_fold_keeps_outputs_and_ops_fed_by_inputs():
    g = variable_batch_flatten()
    g.outputs = [g.tensor("flat_shape"), *g.outputs]  # a graph output is computed, never folded
    assert fold_constants(g) == 0
    g = variable_batch_flatten()
    assert fold_constants(g) == 1 and fold_constants(g) == 0  # RESHAPE reads x: stays
    assert [t.name for t in g.tensors] == ["x", "flat_shape", "y", "r"]  # "like" went with SHAPE


def keras_variable_batch_flatten() -> Graph:
    """The chain the TFLite converter emits for Flatten with a variable batch size:
    SHAPE(x) → STRIDED_SLICE (the batch, shrunk to a scalar) → PACK(batch, 32) → RESHAPE."""
    x = qtensor("x", (1, 4, 4, 2), 0.05, -3)
    sh = Tensor("shape", (4,), "int32")
    i32 = lambda name, v: Tensor(name, (len(v),), "int32", data=np.asarray(v, np.int32))  # noqa: E731
    batch = Tensor("batch", (), "int32")
    flat = Tensor("flat", (), "int32", data=np.asarray(32, np.int32))
    new_shape = Tensor("new_shape", (2,), "int32")
    y = qtensor("y", (1, 32), 0.05, -3)
    r = qtensor("r", (1, 32), 0.05, -128)
    begin, end, strides = i32("begin", [0]), i32("end", [1]), i32("strides", [1])
    ops = [
        Op(OpType.SHAPE, [x], [sh], default_attrs(OpType.SHAPE), name="shape"),
        Op(
            OpType.STRIDED_SLICE,
            [sh, begin, end, strides],
            [batch],
            {**default_attrs(OpType.STRIDED_SLICE), "shrink_axis_mask": 1},
            name="batch",
        ),
        Op(OpType.PACK, [batch, flat], [new_shape], {**default_attrs(OpType.PACK), "values_count": 2}, name="pack"),
        Op(OpType.RESHAPE, [x, new_shape], [y], default_attrs(OpType.RESHAPE), name="flatten"),
        Op(OpType.RELU, [y], [r], default_attrs(OpType.RELU), name="relu"),
    ]
    g = Graph([x, sh, begin, end, strides, batch, flat, new_shape, y, r], ops, [x], [r], name="keras_flatten")
    g.validate()
    return g


def test_keras_variable_batch_chain_folds_at_load(tmp_path):
    """The whole shape computation becomes one constant; tflite-micro runs the file as written
    and agrees with picoml's folded graph, in the interpreter and in C."""
    from picoml.flows.verify import verify

    path = tmp_path / "keras_flatten.tflite"
    picoml.save(keras_variable_batch_flatten(), path)
    loaded = picoml.load(path)
    assert [op.type for op in loaded.ops] == [OpType.RESHAPE, OpType.RELU]
    np.testing.assert_array_equal(loaded.tensor("new_shape").data, [1, 32])
    xs = np.random.default_rng(2).integers(-128, 128, (4, 1, 4, 4, 2), dtype=np.int8)
    np.testing.assert_array_equal(picoml.run(loaded, xs), tflm_run(path.read_bytes(), xs))
    rep = verify(loaded, "cortex-m0plus", n_inputs=3)
    assert rep.bit_exact, rep.first_mismatch
