"""Explicit PAD folded into the following convolution in the generated C (passes/fold_pad.py).

PyTorch's padding=1 stride-2 convolutions reach picoml as PAD → CONV_2D/DEPTHWISE_CONV_2D
(VALID). Folded, the C is still bit-exact with the reference interpreter (which runs the model
as given) on the host under sanitizers and on emulated Cortex-M0+, Cortex-M4 and RISC-V, with a
smaller arena and fewer instructions; every case that would not be exact stays unfolded.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from picoml.cli.info import model_summary  # noqa: E402
from picoml.codegen import compile_c  # noqa: E402
from picoml.flows.report import write_report  # noqa: E402
from picoml.flows.verify import verify  # noqa: E402
from picoml.frontends.lowering import to_graph_layout  # noqa: E402
from picoml.frontends.torch import from_torch  # noqa: E402
from picoml.graph.ops import OpType  # noqa: E402
from picoml.passes.fold_pad import foldable_pads  # noqa: E402
from picoml.quantize.ptq import quantize  # noqa: E402


def _net(pad_big: bool = False):
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU()]
    layers += [nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), nn.ReLU()]
    if pad_big:  # pads 3 around a 3x3 window: beyond its reach, never folded
        layers += [nn.Conv2d(8, 8, 3, padding=3)]
    layers += [nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)]
    m = nn.Sequential(*layers).eval()
    # 16x16: PyTorch pads stride-2 windows top/left only where TFLite's SAME would pad bottom/right, so
    # the front-end emits PAD + VALID convolution (odd sizes would be SAME: no PAD at all)
    g = from_torch(m, torch.zeros(1, 3, 16, 16))
    x = np.random.default_rng(0).standard_normal((16, 3, 16, 16)).astype(np.float32)
    return quantize(g, to_graph_layout(x))


@pytest.fixture(scope="module")
def q():
    return _net()


def test_pads_fold_into_conv_and_depthwise(q):
    pads = [i for i, op in enumerate(q.ops) if op.type == OpType.PAD]
    folds = compile_c(q).folds
    assert [f.pad for f in folds] == pads[:2] and len(pads) >= 2
    assert [q.ops[f.conv].type for f in folds] == [OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D]
    assert folds[0].pads == (1, 0, 1, 0)  # 16 -> 8 with stride 2: the window never passes the bottom edge
    c = compile_c(q).files["model.c"]
    assert "pm_pad_s8" not in c and "folded into" in c
    assert compile_c(q).files == compile_c(q).files  # deterministic


@pytest.mark.parametrize("target", ["host", "cortex-m0plus", "cortex-m4", "riscv32"])
def test_folded_c_is_bit_exact_and_cheaper(q, target, monkeypatch):
    import picoml.codegen.generate as gen

    folded = verify(q, target, sanitize=target == "host")
    assert folded.bit_exact
    monkeypatch.setattr(gen, "fold_pads", lambda g: (g, []))
    plain = verify(q, target)
    assert plain.bit_exact
    assert folded.arena_bytes < plain.arena_bytes
    if target != "host":
        assert folded.instructions < plain.instructions


def test_what_does_not_fold_stays_exact():
    q = _net(pad_big=True)
    folds = foldable_pads(q)
    pads = [i for i, op in enumerate(q.ops) if op.type == OpType.PAD]
    assert len(pads) == 3 and [f.pad for f in folds] == pads[:2]  # the 3-wide pad stays a PAD
    assert verify(q, "cortex-m0plus").bit_exact

    base = _net()
    i = foldable_pads(base)[0].pad
    # quantization differs between the PAD's input and output: its fill is not the conv's zero point
    g = copy.deepcopy(base)
    g.ops[i].outputs[0].zero_point = np.asarray(g.ops[i].outputs[0].zero_point) + 1
    assert i not in [f.pad for f in foldable_pads(g)]
    # a channel pad, a second reader, a SAME convolution: not folded
    g = copy.deepcopy(base)
    p = g.ops[i].inputs[1]
    p.data = np.asarray(p.data).copy()
    p.data.reshape(-1, 2)[3] = (0, 1)
    assert i not in [f.pad for f in foldable_pads(g)]
    g = copy.deepcopy(base)
    j = foldable_pads(g)[0].conv
    g.ops[j].attrs["padding"] = "SAME"
    assert i not in [f.pad for f in foldable_pads(g)]
    g = copy.deepcopy(base)
    g.outputs.append(g.ops[i].outputs[0])
    assert i not in [f.pad for f in foldable_pads(g)]


def test_info_and_report_name_the_fold(q, tmp_path):
    s = model_summary(q)
    assert [f["pad"] for f in s["compile_folds"]] == [f.pad for f in foldable_pads(q)]
    assert "folded into CONV_2D" in s["compile_folds"][0]["text"]
    data = {"title": "t", "summary": "s", "folded": ["PAD '<b>x</b>' folded into CONV_2D 'c'"]}
    write_report(tmp_path, data)
    html = (tmp_path / "index.html").read_text()
    assert "Folded in the generated C" in html and "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
