"""SELECT (builtin v1) vs LiteRT: tflite-micro has only SELECT_V2, so LiteRT's select.cc is the oracle.

The reader lowers SELECT to SELECT_V2 (frontends/tflite.py ``_select_v1``): x and y of one shape and a
condition of that shape, a scalar, or rank 1 along x's first dimension (reshaped to [N, 1, ..., 1]).
int8 and float32 are compared exactly: select copies values (int8: codes) and computes nothing.
"""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import UnsupportedError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType

from oracles import assert_int_equal, litert_run, qtensor, tflm_run
from strategies import act_quant

SELECT_V1 = 64


def _t(name, shape, dtype, q):
    return qtensor(name, shape, *q) if dtype == "int8" else Tensor(name, tuple(shape), dtype)


def select_v1_model(cond_shape, x_shape, dtype="float32", q=(0.1, 0), y_shape=None) -> bytes:
    """A one-op SELECT (v1) .tflite: picoml writes the op as SELECT_V2 (without validating), then the
    operator code becomes SELECT and its options NONE, as TensorFlow's converter writes tf.where v1."""
    c = Tensor("c", tuple(cond_shape), "bool")
    x, y = _t("x", x_shape, dtype, q), _t("y", y_shape or x_shape, dtype, q)
    o = _t("o", x_shape, dtype, q)
    g = Graph([c, x, y, o], [Op(OpType.SELECT_V2, [c, x, y], [o], {}, name="o")], [c, x, y], [o])
    m = schema.ModelT.InitFromPackedBuf(write_tflite_bytes(g), 0)
    for oc in m.operatorCodes:
        oc.builtinCode = oc.deprecatedBuiltinCode = SELECT_V1
    m.subgraphs[0].operators[0].builtinOptionsType = 0
    m.subgraphs[0].operators[0].builtinOptions = None
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _load(model: bytes) -> Graph:
    g = read_tflite_bytes(model)
    g.validate()
    return g


def _inputs(g: Graph, n: int, rng) -> list[np.ndarray]:
    out = []
    for t in g.inputs:
        shape = (n, *t.shape)
        if t.dtype == "bool":
            out.append(rng.integers(0, 2, shape).astype(np.bool_))
        elif t.dtype == "int8":
            out.append(rng.integers(-128, 128, shape, dtype=np.int8))
        else:
            out.append(rng.standard_normal(shape).astype(np.float32))
    return out


@st.composite
def v1_shapes(draw):
    """(condition shape, x shape): same shape, scalar, or rank 1 along x's first dimension."""
    x = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    kind = draw(st.sampled_from(["same", "scalar", "rows"]))
    return {"same": x, "scalar": (), "rows": x[:1]}[kind], x


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from(["int8", "float32"]), shapes=v1_shapes(), q=act_quant(-2, 0), seed=st.integers(0, 2**31))
def test_select_v1_against_litert(dtype, shapes, q, seed):
    model = select_v1_model(*shapes, dtype=dtype, q=q)
    g = _load(model)
    assert [op.type for op in g.ops][-1] == OpType.SELECT_V2
    assert any("SELECT" in n and "SELECT_V2" in n for n in g.notes)
    xs = _inputs(g, 3, np.random.default_rng(seed))
    got = picoml.run(g, xs)
    assert_int_equal(got.view(np.int32) if dtype == "float32" else got, _as(litert_run(model, xs), dtype), "SELECT")


def _as(a: np.ndarray, dtype: str) -> np.ndarray:
    return a.view(np.int32) if dtype == "float32" else a  # float32 compared bit for bit


def test_rank_one_condition_picks_whole_rows_and_round_trips():
    """A rank-1 condition selects slices along axis 0 (read as RESHAPE to [N, 1, 1] + SELECT_V2); the
    graph picoml writes back runs in LiteRT and tflite-micro with the same result."""
    model = select_v1_model((3,), (3, 2, 2), "int8", (0.05, -3))
    g = _load(model)
    assert [op.type for op in g.ops] == [OpType.RESHAPE, OpType.SELECT_V2]
    assert g.ops[0].outputs[0].shape == (3, 1, 1)
    c = np.array([[True, False, True]])
    x = np.arange(12, dtype=np.int8).reshape(1, 3, 2, 2)
    y = -x - 1
    want = np.where(c[0][:, None, None], x[0], y[0])[None]
    got = picoml.run(g, [c, x, y])
    assert_int_equal(got, want, "rows")
    assert_int_equal(litert_run(model, [c, x, y]), want, "LiteRT v1")
    written = write_tflite_bytes(g)
    assert_int_equal(litert_run(written, [c, x, y]), want, "LiteRT, picoml's file")
    assert_int_equal(tflm_run(written, [c, x, y]), want, "tflite-micro, picoml's file")
    assert picoml.run(_load(written), [c, x, y]).tobytes() == got.tobytes()


@pytest.mark.parametrize(
    "cond, x, y, match",
    [
        ((2,), (3, 2), None, r"condition 'c' \[2\] must have x's shape \[3, 2\]"),  # rank 1, not x's first dim
        ((3, 1), (3, 2), None, r"condition 'c' \[3, 1\] must have x's shape"),  # v1 does not broadcast
        ((3,), (3, 2), (1, 2), r"x 'x' \[3, 2\] and y 'y' \[1, 2\] differ in shape"),
    ],
)
def test_invalid_v1_shapes_refused_as_litert_does(cond, x, y, match):
    model = select_v1_model(cond, x, y_shape=y)
    with pytest.raises(UnsupportedError, match="SELECT 'o': " + match):
        read_tflite_bytes(model)
    with pytest.raises(RuntimeError):  # LiteRT's Prepare fails on the same files
        litert_run(model, [np.zeros((1, *t), dt) for t, dt in ((cond, bool), (x, np.float32), (y or x, np.float32))])
