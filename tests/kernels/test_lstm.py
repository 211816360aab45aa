"""UNIDIRECTIONAL_SEQUENCE_LSTM (issue 15): picoml's reference against tflite-micro (int8: exact;
float: within the oracles' FLOAT_RTOL, and LiteRT too) over 12 consecutive calls with the hidden
and cell state carried. Two sources: the files TensorFlow's converter made from Keras 2 LSTM
layers (tests/data/lstm, ``benchmarks/lstm_models.py``: batch-major, cell_clip 10), and
picoml-built graphs written by picoml's writer for what the converter does not emit (time-major,
batch > 1 time-major, a cell clip that bites, 16x8, which TF 2.21's converter refuses)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import picoml
from picoml.errors import GraphError, UnsupportedError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import OpType, default_attrs

from oracles import assert_float_close, assert_int_equal, litert_run, qtensor, tflm_run, to_tflite

DATA = Path(__file__).resolve().parents[1] / "data" / "lstm"
CALLS = 12
FILES = sorted(json.loads((DATA / "manifest.json").read_text())["models"])


def lstm_graph(
    batch=2, steps=3, n_in=4, n_state=5, dtype="float32", time_major=False, clip=0.0, seed=0, cell_power=-11, h_zp=None
) -> Graph:
    """One LSTM layer; int8 / int16 (16x8) with symmetric int8 weights and an int16 cell state at
    2^cell_power (int8: hidden zero point ``h_zp``, default -2)."""
    rng = np.random.default_rng(seed)
    xshape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    yshape = (steps, batch, n_state) if time_major else (batch, steps, n_state)
    ins: list[Tensor | None] = [None] * 24
    if dtype == "float32":
        ins[0] = Tensor("x", xshape)
        for k in range(1, 9):
            shape = (n_state, n_in if k < 5 else n_state)
            ins[k] = Tensor(f"w{k}", shape, data=rng.normal(0, 0.5, shape).astype(np.float32))
        for k in range(12, 16):
            ins[k] = Tensor(f"b{k}", (n_state,), data=rng.normal(0, 0.3, n_state).astype(np.float32))
        ins[18] = Tensor("h", (batch, n_state), variable=True)
        ins[19] = Tensor("c", (batch, n_state), variable=True)
        y = Tensor("y", yshape)
    else:
        act, bias_dt = (dtype, "int32") if dtype == "int8" else ("int16", "int64")
        xs, xz = (0.04, 3) if dtype == "int8" else (0.0004, 0)
        hs, hz = (1 / 128, -2 if h_zp is None else h_zp) if dtype == "int8" else (1 / 32768, 0)
        ins[0] = qtensor("x", xshape, xs, xz, act)
        for k in range(1, 9):
            shape = (n_state, n_in if k < 5 else n_state)
            ws = float(rng.uniform(0.004, 0.01))
            ins[k] = qtensor(f"w{k}", shape, ws, 0, "int8", data=rng.integers(-127, 128, shape, dtype=np.int8))
        for k in range(12, 16):
            bs = xs * float(ins[k - 11].scale[0])
            ins[k] = qtensor(
                f"b{k}", (n_state,), bs, 0, bias_dt, data=rng.integers(-3000, 3000, n_state).astype(bias_dt)
            )
        ins[18] = qtensor("h", (batch, n_state), hs, hz, act)
        ins[19] = qtensor("c", (batch, n_state), 2.0**cell_power, 0, "int16")
        ins[18].variable = ins[19].variable = True
        y = qtensor("y", yshape, hs, hz, act)
    attrs = {**default_attrs(OpType.UNIDIRECTIONAL_SEQUENCE_LSTM), "activation": "TANH", "cell_clip": clip,
             "time_major": time_major}  # fmt: skip
    g = Graph([t for t in ins if t is not None] + [y],
              [Op(OpType.UNIDIRECTIONAL_SEQUENCE_LSTM, ins, [y], attrs, name="lstm")], [ins[0]], [y])  # fmt: skip
    g.validate()
    return g


def _xs(g: Graph, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = g.inputs[0]
    if t.dtype == "float32":
        return (rng.standard_normal((CALLS,) + t.shape) * 1.5).astype(np.float32)
    info = np.iinfo(t.np_dtype)
    return rng.integers(info.min, info.max + 1, (CALLS,) + t.shape).astype(t.np_dtype)


@pytest.mark.parametrize("name", FILES)
def test_converter_lstm_matches_tflm(name):
    """The converter's fused LSTM files: int8 exact with tflite-micro over 12 consecutive calls; float
    within FLOAT_RTOL of tflite-micro and LiteRT."""
    model = (DATA / name).read_bytes()
    g = picoml.load(DATA / name)
    assert g.stateful and OpType.UNIDIRECTIONAL_SEQUENCE_LSTM in {op.type for op in g.ops}
    xs = _xs(g, 1)
    got = picoml.run(g, xs)
    if g.inputs[0].dtype == "float32":
        assert_float_close(got, tflm_run(model, xs), f"{name} vs tflite-micro")
        assert_float_close(got, litert_run(model, xs), f"{name} vs LiteRT")
    else:
        assert_int_equal(got, tflm_run(model, xs), f"{name} vs tflite-micro")
        # picoml's writer keeps what tflite-micro reads (24 inputs, variable states; no intermediates)
        assert_int_equal(tflm_run(to_tflite(g), xs), got, f"{name} written back by picoml")


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("clip", [0.0, 0.6])
def test_built_lstm_matches_tflm(dtype, time_major, clip):
    """Time-major / batch-major, batch 2, a cell clip that bites (0.6) or none; int8, 16x8 and float."""
    g = lstm_graph(2, 3, 4, 5, dtype, time_major, clip, seed=int(time_major) + 2 * int(clip > 0))
    model = to_tflite(g)
    xs = _xs(g, 3)
    got = picoml.run(g, xs)
    if dtype == "float32":
        assert_float_close(got, tflm_run(model, xs), "vs tflite-micro")
        assert_float_close(got, litert_run(model, xs), "vs LiteRT")
    else:
        assert_int_equal(got, tflm_run(model, xs), f"{dtype} time_major={time_major} clip={clip}")
    if clip:  # the clip is reached: the cell state sits at ±clip somewhere
        c = picoml.Interpreter(g)
        c.run(xs[0])
        cell = c.variables()["c"].astype(np.float64)
        scale = 1.0 if dtype == "float32" else 2.0**-11
        assert np.isclose(np.abs(cell * scale).max(), clip, atol=scale), np.abs(cell * scale).max()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dims=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 6), st.integers(1, 6)),
    dtype=st.sampled_from(["int8", "int16"]),
    time_major=st.booleans(),
    clip=st.sampled_from([0.0, 0.3, 1.0, 10.0]),
    cell_power=st.integers(-15, -8),  # the cell tanh's input shift in both directions
    h_zp=st.integers(-20, 20),
    seed=st.integers(0, 2**16),
)
def test_random_integer_lstm_exact_with_tflm(dims, dtype, time_major, clip, cell_power, h_zp, seed):
    g = lstm_graph(*dims, dtype, time_major, clip, seed, cell_power, h_zp)
    xs = _xs(g, seed)
    assert_int_equal(picoml.run(g, xs), tflm_run(to_tflite(g), xs), f"{dims} {dtype} tm={time_major} 2^{cell_power}")


def test_state_carries_and_resets():
    g = picoml.load(DATA / "lstm_seq.int8.tflite")
    x = _xs(g, 5)[0]
    ip = picoml.Interpreter(g)
    first = ip.run(x)
    second = ip.run(x)
    assert not np.array_equal(first, second)  # the same input, another state
    ip.reset()
    np.testing.assert_array_equal(ip.run(x), first)
    assert not any(t.shape == (0,) for t in g.tensors)  # the five intermediates are dropped


def test_round_trip_writes_24_inputs():
    g = lstm_graph(1, 2, 3, 4, "int8")
    back = read_tflite_bytes(to_tflite(g))
    back.validate()
    assert back.equals(g)


@pytest.mark.parametrize(
    "change, err, match",
    [
        (
            lambda op: op.inputs.__setitem__(9, Tensor("p", (5,), data=np.ones(5, np.float32))),
            UnsupportedError,
            "peephole",
        ),
        (lambda op: op.inputs.__setitem__(1, None), GraphError, "input 1 is missing"),  # CIFG
        (lambda op: op.attrs.__setitem__("activation", "RELU"), UnsupportedError, "TANH only"),
        (lambda op: op.attrs.__setitem__("cell_clip", -1.0), GraphError, "cell_clip"),
        (lambda op: setattr(op.inputs[18], "variable", False), GraphError, "variable"),
        (lambda op: setattr(op.inputs[19], "shape", (2, 4)), GraphError, "cell_state"),
        (
            lambda op: op.inputs.__setitem__(6, Tensor("w", (5, 4), data=np.ones((5, 4), np.float32))),
            GraphError,
            "must be",
        ),
    ],
)
def test_lstm_refusals(change, err, match):
    g = lstm_graph()
    op = g.ops[0]
    change(op)
    known = {id(t) for t in g.tensors}
    g.tensors += [t for t in op.inputs if t is not None and id(t) not in known]
    with pytest.raises(err, match=match):
        g.validate()
