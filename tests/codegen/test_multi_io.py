"""Models with several inputs and outputs: generated C API (one pointer per tensor, indexed
macros), planning (an output that later ops still read stays intact), and verify bit-exact on
the host with sanitizers and on emulated cores."""

from __future__ import annotations

import re

import numpy as np
import pytest

import picoml
from picoml.codegen import compile_c
from picoml.flows.verify import harness_defines, random_inputs, verify
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType, default_attrs

from oracles import qtensor


def two_by_two() -> Graph:
    """a, b → s = a + b (an output, also read later) → m = s · a → p = relu(m) ; outputs (p, s)."""
    a = qtensor("in_a", (1, 4, 4, 3), 0.05, 3)
    b = qtensor("in_b", (1, 4, 4, 3), 0.08, -7)
    s = qtensor("sum", (1, 4, 4, 3), 0.1, 1)
    m = qtensor("prod", (1, 4, 4, 3), 0.02, -2)
    p = qtensor("relu", (1, 4, 4, 3), 0.02, -128)
    ops = [
        Op(OpType.ADD, [a, b], [s], default_attrs(OpType.ADD), name="add"),
        Op(OpType.MUL, [s, a], [m], default_attrs(OpType.MUL), name="mul"),
        Op(OpType.RELU, [m], [p], default_attrs(OpType.RELU), name="relu"),
    ]
    g = Graph([a, b, s, m, p], ops, [a, b], [p, s], name="two_by_two")
    g.validate()
    return g


def test_c_api_has_one_pointer_per_tensor_and_indexed_macros():
    c = compile_c(two_by_two(), "net")
    h = c.files["net.h"]
    assert "int net_invoke(const int8_t *input0, const int8_t *input1, int8_t *output0, int8_t *output1);" in h
    for macro in (
        "NET_INPUTS 2",
        "NET_OUTPUTS 2",
        "NET_INPUT0_SIZE 48",
        "NET_INPUT1_ZERO_POINT -7",
        "NET_OUTPUT0_ZERO_POINT -128",
        "NET_OUTPUT1_SCALE 0.1",
    ):
        assert f"#define {macro}" in h, macro
    assert "/* output1: sum */" in h
    assert "NET_INPUT_SIZE" not in h  # no unindexed macro that would name only one of them
    src = c.files["net.c"]
    assert len(re.findall(r"memcpy\(pm_arena\.bytes \+ \d+, input[01], 48\);", src)) == 2
    assert len(re.findall(r"memcpy\(output[01], pm_arena\.bytes \+ \d+, 48\);", src)) == 2


def test_two_inputs_one_output_is_indexed_too():
    g = two_by_two()
    g.outputs = g.outputs[:1]
    assert "const int8_t *input0" in compile_c(g, "net").files["net.h"]
    assert harness_defines(g)[0] == "-DPM_HARNESS_IN_BYTES=96"


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4", "riscv32"])
def test_two_inputs_two_outputs_bit_exact(target):
    g = two_by_two()
    xs = random_inputs(g, 6, seed=3)
    xs[0][0] = -128  # extremes
    xs[1][0] = 127
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch
    assert rep.inputs == 6


def test_mismatch_names_the_output(monkeypatch):
    """The verifier compares every output: corrupt the reference's second output and it says which."""
    import picoml.flows.verify as V

    real = V.interpreter.run

    def wrong(g, x, **kw):
        outs = real(g, x, **kw)
        outs[1] = outs[1].copy()
        outs[1][0].flat[5] ^= 1
        return outs

    monkeypatch.setattr(V.interpreter, "run", wrong)
    rep = verify(two_by_two(), "host", n_inputs=2)
    assert not rep.bit_exact and rep.mismatches == 1
    assert "output 1 ('sum')[5]" in rep.first_mismatch


def test_inputs_are_checked():
    g = two_by_two()
    with pytest.raises(picoml.PicomlError, match="has 2 inputs, got 1"):
        verify(g, "host", xs=np.zeros((2, 1, 4, 4, 3), np.int8))
    with pytest.raises(picoml.PicomlError, match="needs int8 values of shape"):
        verify(g, "host", xs=[np.zeros((2, 1, 4, 4, 3), np.int8), np.zeros((2, 1, 4, 4), np.int8)])


def test_cli_run_compile_and_verify(tmp_path, capsys):
    """picoml run (a .npz of input0/input1 in, a .npz of output0/output1 out), compile and verify."""
    from picoml.cli import main

    g = two_by_two()
    model = tmp_path / "net.tflite"
    picoml.save(g, model)
    xs = random_inputs(g, 3, seed=1)
    np.savez(tmp_path / "x.npz", input0=xs[0], input1=xs[1])
    assert main(["run", str(model), "--input", str(tmp_path / "x.npz"), "--output", str(tmp_path / "y.npz")]) == 0
    got = np.load(tmp_path / "y.npz")
    want = picoml.run(picoml.load(model), xs)
    np.testing.assert_array_equal(got["output0"], want[0])
    np.testing.assert_array_equal(got["output1"], want[1])
    # several outputs need a .npz; a lone .npy input for a 2-input model is a user error (exit 2)
    assert main(["run", str(model), "--input", str(tmp_path / "x.npz"), "--output", str(tmp_path / "y.npy")]) == 2
    np.save(tmp_path / "x0.npy", xs[0])
    assert main(["run", str(model), "--input", str(tmp_path / "x0.npy"), "--output", str(tmp_path / "z.npz")]) == 2
    assert main(["compile", str(model), "--target", "cortex-m4", "--out", str(tmp_path / "c")]) == 0
    assert "int model_invoke(const int8_t *input0" in (tmp_path / "c" / "model.h").read_text()
    capsys.readouterr()
    assert main(["verify", str(model), "--target", "cortex-m0plus", "--inputs", "3"]) == 0
    assert "bit-exact" in capsys.readouterr().out
