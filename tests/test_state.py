"""State (issue 15): variable tensors, resource variables read from converter-made models, the
interpreter's state across calls and reset, the planner's persistent region."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.errors import GraphError, UnsupportedError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs
from picoml.plan.planner import plan_memory

from oracles import assert_float_close, litert_run, tflm_run

DATA = Path(__file__).parent / "data" / "state"
CONVERTED = ["accumulator", "ema", "delay"]
CALLS = 12


def _inputs(g: Graph, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((CALLS,) + g.inputs[0].shape).astype(np.float32)


@pytest.mark.parametrize("name", CONVERTED)
def test_converter_resource_variables_match_tflm_and_litert(name):
    """VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE / CALL_ONCE from TF's converter: picoml's state over
    12 consecutive calls equals tflite-micro's and LiteRT's (float: the same float32 adds and products
    in the same order; FULLY_CONNECTED (ema) sums in float64 in picoml, hence the oracles' 1e-5)."""
    model = (DATA / f"{name}.float32.tflite").read_bytes()
    g = picoml.load(DATA / f"{name}.float32.tflite")
    assert g.stateful and g.state_updates
    xs = _inputs(g, 1)
    got = picoml.run(g, xs)
    assert got.shape == (CALLS,) + g.outputs[0].shape
    assert_float_close(got, tflm_run(model, xs), f"{name} vs tflite-micro")
    assert_float_close(got, litert_run(model, xs), f"{name} vs LiteRT")


def test_accumulator_state_and_reset():
    g = picoml.load(DATA / "accumulator.float32.tflite")
    acc = [t for t in g.tensors if t.variable][0]
    np.testing.assert_array_equal(acc.initial, np.full((1, 4), 0.5, np.float32))
    ip = picoml.Interpreter(g)
    xs = _inputs(g, 2)
    one_by_one = np.stack([ip.run(x) for x in xs])
    np.testing.assert_array_equal(one_by_one, picoml.run(g, xs))  # a sequence = consecutive calls
    np.testing.assert_allclose(one_by_one[-1], 0.5 + xs.sum(0), rtol=1e-5)
    np.testing.assert_array_equal(ip.variables()[acc.name], one_by_one[-1])
    ip.reset()
    np.testing.assert_array_equal(ip.run(xs[0]), one_by_one[0])


def test_delay_reads_old_values_before_assignments():
    """d2 <- d1 and d1 <- x in one call: both take effect after the call (READ_VARIABLE copies)."""
    g = picoml.load(DATA / "delay.float32.tflite")
    xs = _inputs(g, 3)
    got = picoml.run(g, xs)
    np.testing.assert_array_equal(got[0], np.full((1, 8), 2.0, np.float32))  # d2 starts at ones
    np.testing.assert_array_equal(got[1], np.zeros((1, 8), np.float32))  # d1 starts at zeros
    np.testing.assert_array_equal(got[2:], 2 * xs[:-2])


def _stateful_graph() -> Graph:
    """y = x + s; s <- y, and an ADD after it that the planner could place in place."""
    x = Tensor("x", (1, 16))
    s = Tensor("s", (1, 16), variable=True)
    y = Tensor("y", (1, 16))
    z = Tensor("z", (1, 16))
    ops = [
        Op("ADD", [x, s], [y], default_attrs("ADD"), name="y"),
        Op("ADD", [y, y], [z], default_attrs("ADD"), name="z"),
    ]
    g = Graph([x, s, y, z], ops, [x], [z])
    g.state_updates = [(s, y)]
    g.validate()
    return g


def test_planner_persistent_region_is_never_reused():
    g = _stateful_graph()
    plan = plan_memory(g)
    s = g.tensor("s")
    assert plan.offset_of(s) == 0 and plan.state_bytes == 64
    for b in plan.buffers:
        if s not in b.tensors:
            assert b.offset >= plan.state_bytes, b.name
    assert plan.summary()["state_bytes"] == 64
    # the value assigned to the state lives to the end of the call: z may not take y's place
    assert plan.offset_of(g.tensor("z")) != plan.offset_of(g.tensor("y"))
    # no state: nothing reserved
    g2 = picoml.load(DATA / "delay.float32.tflite")
    assert plan_memory(g2).state_bytes == 2 * 32


def test_stateless_graphs_keep_batches():
    g = _stateful_graph()
    g.state_updates = []
    g.tensor("s").variable = False
    g.inputs.append(g.tensor("s"))
    g.validate()
    assert not g.stateful and plan_memory(g).state_bytes == 0


def test_validate_refuses_bad_state():
    g = _stateful_graph()
    g.state_updates = [(g.tensor("s"), Tensor("w", (1, 8)))]
    g.tensors.append(g.state_updates[0][1])
    with pytest.raises(GraphError, match="does not match"):
        g.validate()
    g = _stateful_graph()
    g.inputs.append(g.tensor("s"))
    with pytest.raises(GraphError, match="variable"):
        g.validate()
    g = _stateful_graph()
    g.tensor("s").initial = np.zeros((2,), np.float32)
    with pytest.raises(GraphError, match="initial value"):
        g.validate()


def test_variable_tensor_round_trips_and_writer_refuses_resource_state():
    g = _stateful_graph()
    g.state_updates = []  # an is_variable tensor only read (state that only an op could update)
    back = read_tflite_bytes(write_tflite_bytes(g))
    assert back.tensor("s").variable and back.equals(g)
    with pytest.raises(UnsupportedError, match="resource variables"):
        write_tflite_bytes(_stateful_graph())


def test_quantize_refuses_state_in_one_line():
    g = picoml.load(DATA / "accumulator.float32.tflite")
    with pytest.raises(UnsupportedError, match="state"):
        picoml.quantize(g, _inputs(g, 4))
