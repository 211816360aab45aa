"""Bad UNIDIRECTIONAL_SEQUENCE_LSTM files (issue 15): wrong tensor counts, shapes, a missing or
non-variable state, the LSTM variants tflite-micro refuses. Each is the converter's int8 file
(tests/data/lstm) with one thing changed, written back by picoml's writer (which does not
validate); every command that reads it ends in one stderr line and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from picoml.frontends.tflite import read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph import Tensor

from adversarial import run_cli

DATA = Path(__file__).resolve().parent / "data" / "lstm"


def _lstm(g):
    return next(op for op in g.ops if op.type == "UNIDIRECTIONAL_SEQUENCE_LSTM")


def _set(k, t):
    return lambda g, op: op.inputs.__setitem__(k, t)


def _extra(g, op):
    op.inputs += [None] * (24 - len(op.inputs)) + [op.inputs[0]] * 3  # 27 inputs


def _w(shape):
    return Tensor("w_bad", shape, "int8", np.array([0.01], np.float32), np.array([0]), 0, np.ones(shape, np.int8))


def _reshape(k, shape):
    def change(g, op):
        op.inputs[k].shape = shape

    return change


CASES = {
    "too few inputs": (lambda g, op: setattr(op, "inputs", op.inputs[:5]), "takes 20..24 inputs, has 5"),
    "too many inputs": (_extra, "takes 20..24 inputs, has 27"),
    "no cell state": (_set(19, None), "takes 20..24 inputs, has 19"),  # the last present input is 18
    "no hidden state": (_set(18, None), "input 18 must be a variable tensor"),
    "state not variable": (lambda g, op: setattr(op.inputs[18], "variable", False), "input 18 must be a variable"),
    "cell state shape": (_reshape(19, (1, 5)), "cell_state [1, 5] must hold batch"),
    "hidden state rank": (_reshape(18, (1, 2, 4)), "output_state [1, 2, 4] must hold batch"),
    "weights shape": (_set(6, _w((8, 7))), "must be [8, 8]"),
    "input rank": (_reshape(0, (8, 6)), "input must be rank 3"),
    "peephole": (_set(10, _w((8,))), "peephole"),
    "no input gate": (_set(1, None), "input 1 is missing"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_lstm_file_is_one_line_exit_2(case, tmp_path):
    change, needle = CASES[case]
    g = read_tflite_bytes((DATA / "lstm_seq.int8.tflite").read_bytes())
    op = _lstm(g)
    change(g, op)
    g.tensors += [t for t in op.inputs if t is not None and all(t is not u for u in g.tensors)]
    path = tmp_path / "bad.tflite"
    path.write_bytes(write_tflite_bytes(g))
    for cmd in (["info", path], ["compile", path, "--out", tmp_path / "c"]):
        r = run_cli(*cmd)
        lines = r.stderr.splitlines()
        assert r.returncode == 2, (cmd[0], r.returncode, r.stderr)
        assert len(lines) == 1 and lines[0].startswith("picoml: error: "), r.stderr
        assert "Traceback" not in r.stderr and needle in lines[0], (needle, lines[0])


def test_the_unchanged_file_is_accepted(tmp_path):
    """The cases above fail for what they change: the file they start from loads and compiles."""
    r = run_cli("compile", DATA / "lstm_seq.int8.tflite", "--out", tmp_path / "c")
    assert r.returncode == 0, r.stderr
    assert "pm_lstm_s8(" in (tmp_path / "c" / "model.c").read_text()
