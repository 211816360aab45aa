"""The emulator's instruction cap scales with the model (MACs; soft float on cores without an FPU)
and, when reached, the error names it instead of a bare "did not finish"."""

from __future__ import annotations

import numpy as np
import pytest

import picoml.flows.verify as V
from picoml.errors import PicomlError
from picoml.graph import Tensor
from picoml.graph.ops import OpType
from picoml.targets.emulator import MAX_INSTRUCTIONS, instruction_cap

from oracles import qtensor, single_op_graph


def test_cap_grows_with_macs_and_soft_float():
    assert instruction_cap(0, False) == instruction_cap(0, True) == MAX_INSTRUCTIONS
    # mobilenet_v2_035_96 (10.7 M MACs) took more than 2e9 instructions in soft float on cortex-m0plus
    assert instruction_cap(10_666_928, True) > 5 * 200 * 10_666_928
    assert instruction_cap(10_666_928, False) < instruction_cap(10_666_928, True)


@pytest.mark.parametrize("dtype", ["int8", "float32"])
def test_reaching_the_cap_names_it(dtype, monkeypatch, tmp_path):
    caps = []

    def tiny(macs, soft):
        caps.append((macs, soft))
        return 1000

    monkeypatch.setattr(V, "instruction_cap", tiny)
    x = qtensor("x", (1, 64), 0.05, 0) if dtype == "int8" else Tensor("x", (1, 64))
    y = qtensor("y", (1, 64), 0.05, 0) if dtype == "int8" else Tensor("y", (1, 64))
    g = single_op_graph(OpType.RELU, [x], y)
    xs = np.zeros((1, 1, 64), np.int8 if dtype == "int8" else np.float32)
    with pytest.raises(PicomlError, match=r"did not finish within 1,000 instructions \(the emulator's cap"):
        V.verify(g, "cortex-m0plus", xs=xs, counted_runs=0, work_dir=tmp_path)
    assert caps == [(0, dtype == "float32")]  # cortex-m0plus has no FPU: float runs soft
