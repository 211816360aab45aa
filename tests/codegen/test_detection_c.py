"""Float32 C of DETECTION_POSTPROCESS (codegen/emit_detection.py, runtime/pm_detection_f32.[ch]) vs
the reference interpreter (itself bit-exact with LiteRT and tflite-micro): host under ASan/UBSan,
emulated cortex-m4 (FPU) and cortex-m0plus (soft float).

Tolerance: ``verify.FLOAT_TOLERANCE``. The kernel repeats the reference's float32 operations in
its order, except the box decoding, which the reference does in double (as tflite-micro) and the
C in float32 with pm_expf: a corner may differ in its last bits (seen: 6e-8). The NMS selection,
the classes, the scores (copied inputs) and the count must be identical: a different selection
or class moves an output by far more than the tolerance (boxes and classes differ by whole
units), and ``test_selection_is_identical`` compares them exactly."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

import picoml
import picoml.flows.verify as V
from picoml.codegen.emit_detection import scratch_sizes
from picoml.flows.verify import verify
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs

from mcu_build import build_objects, kernels

RNG = np.random.default_rng(5)


def det_graph(n, ncls, bg, **attrs) -> Graph:
    rng = np.random.default_rng(n * 7 + ncls)
    anchors = np.stack(
        [rng.uniform(0.1, 0.9, n), rng.uniform(0.1, 0.9, n), rng.uniform(0.05, 0.4, n), rng.uniform(0.05, 0.4, n)], 1
    ).astype(np.float32)
    enc, cls = Tensor("enc", (1, n, 4)), Tensor("cls", (1, n, ncls + bg))
    an = Tensor("anchors", (n, 4), data=anchors)
    a = default_attrs("DETECTION_POSTPROCESS")
    a.update(num_classes=ncls, **attrs)
    d = a["max_detections"] * a["max_classes_per_detection"]
    outs = [Tensor("boxes", (1, d, 4)), Tensor("classes", (1, d)), Tensor("scores", (1, d)), Tensor("num", (1,))]
    g = Graph(
        [enc, cls, an, *outs], [Op("DETECTION_POSTPROCESS", [enc, cls, an], outs, a, name="det")], [enc, cls], outs
    )
    g.validate()
    return g


def inputs(g: Graph, k: int, levels: int = 0) -> list[np.ndarray]:
    n, cols = g.inputs[1].shape[1], g.inputs[1].shape[2]
    enc = (RNG.standard_normal((k, 1, n, 4)) * 0.5).astype(np.float32)
    cls = RNG.uniform(0, 1, (k, 1, n, cols)).astype(np.float32)
    if levels:  # scores on a grid: many ties (anchor order, class order)
        cls = (np.floor(cls * levels) / levels).astype(np.float32)
    return [enc, cls]


CASES = {
    "fast": dict(n=40, ncls=3, bg=1, max_detections=6, nms_score_threshold=0.3, nms_iou_threshold=0.5),
    "fast_ties": dict(n=30, ncls=4, bg=0, max_detections=8, nms_score_threshold=0.0, nms_iou_threshold=0.3, levels=4),
    "regular": dict(
        n=40,
        ncls=3,
        bg=1,
        max_detections=7,
        use_regular_nms=True,
        detections_per_class=4,
        nms_score_threshold=0.2,
        nms_iou_threshold=0.5,
    ),  # fmt: skip
    "regular_ties": dict(
        n=25,
        ncls=2,
        bg=0,
        max_detections=5,
        use_regular_nms=True,
        detections_per_class=100,
        nms_score_threshold=0.0,
        nms_iou_threshold=1.0,
        levels=4,
    ),  # fmt: skip
    "none_pass": dict(n=10, ncls=2, bg=1, max_detections=3, nms_score_threshold=0.99),
}


def _case(name):
    kw = dict(CASES[name])
    levels = kw.pop("levels", 0)
    g = det_graph(kw.pop("n"), kw.pop("ncls"), kw.pop("bg"), **kw)
    return g, inputs(g, 4, levels)


def check(g, xs, target):
    rep = verify(g, target, xs=xs, sanitize=target == "host", counted_runs=0)
    assert rep.bit_exact, f"{target}: {rep.mismatches} mismatches; {rep.first_mismatch}"
    assert rep.max_abs_error is None or rep.max_abs_error < 1e-6
    return rep


@pytest.mark.parametrize("name", sorted(CASES))
def test_host(name):
    check(*_case(name), "host")


@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m0plus"])
def test_emulated(target):
    for name in ("fast_ties", "regular"):
        check(*_case(name), target)


@pytest.mark.parametrize("target", ["host", "cortex-m0plus"])
def test_selection_is_identical(target, monkeypatch):
    """The C outputs themselves (captured from verify's comparison, which holds float outputs to
    the tolerance only): count, classes and scores exactly; box corners (of order 1) within 1e-6
    (float32 decoding vs the reference's double; near-cancelling corners differ by up to ~16 ulp)."""
    seen = []
    real = V.compare

    def capture(g, got, expected):
        seen.append((np.asarray(got), np.asarray(expected)))
        return real(g, got, expected)

    monkeypatch.setattr(V, "compare", capture)
    for name in sorted(CASES) if target == "host" else ["fast_ties", "regular_ties"]:
        g, xs = _case(name)
        check(g, xs, target)
        got, want = seen[-1]
        d = g.outputs[1].shape[1]
        assert want[:, -1].max() > 0 or name == "none_pass"  # detections were made
        np.testing.assert_array_equal(got[:, 4 * d :], want[:, 4 * d :], err_msg=f"{name}: classes, scores, count")
        err = np.abs(got[:, : 4 * d] - want[:, : 4 * d]).max()
        assert err <= 1e-6, f"{name}: box corners {err:g} apart"  # corners of order 1: a few float32 ulp


def test_empty_box_fails_invoke_as_the_reference():
    g = det_graph(2, 1, 0)
    g.tensors[2].data = np.array([[0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.0, 0.2]], np.float32)  # height 0
    xs = [np.zeros((1, 1, 2, 4), np.float32), np.ones((1, 1, 2, 1), np.float32)]
    with pytest.raises(picoml.InputError, match="empty box"):
        picoml.run(g, xs)


def test_scratch_sizes():
    g, _ = _case("regular")
    assert scratch_sizes(g.ops[0]) == (5 * 40 + 2 * (7 + 4), (5 + 1) * 40 + 8 * (7 + 4))


@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4"])
def test_kernel_compiles_warning_free_for_mcus(target, tmp_path):
    """zig clang, -Werror, -O2 and -Os (tests/codegen/mcu_build.py)."""
    objs = build_objects({"fast": _case("fast")[0], "regular": _case("regular")[0]}, target, tmp_path)
    assert any(o.stem == "pm_detection_f32" for o in kernels(objs))


def test_runtime_file_uses_allowed_headers_only():
    text = (resources.files("picoml.codegen") / "runtime" / "pm_detection_f32.c").read_text()
    assert "double" not in text and "<math.h>" not in text and "malloc" not in text
