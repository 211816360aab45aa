"""DETECTION_POSTPROCESS (custom op TFLite_Detection_PostProcess) vs tflite-micro and LiteRT: float32,
exact (bit for bit) on the rows the op reports (``num_detections``) and on the count; fast and
regular NMS, with and without a background class, score and IoU thresholds, ties.

Pinned tflite-micro behaviour: fast NMS with more than one class per detection writes its rows at
a stride that runs past the outputs (picoml refuses it); the TF converter's detector leaves the
outputs without a static shape, and tflite-micro then writes past 4-byte buffers (picoml takes
LiteRT's static shapes from the attributes, and writes them)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs

from oracles import qtensor, tflm_interpreter, to_tflite

ROOT = Path(__file__).resolve().parents[2]


def det_graph(n, ncls, bg, anchors=None, **attrs):
    rng = np.random.default_rng(1)
    if anchors is None:
        anchors = np.stack(
            [rng.uniform(0.1, 0.9, n), rng.uniform(0.1, 0.9, n), rng.uniform(0.05, 0.4, n), rng.uniform(0.05, 0.4, n)],
            1,
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


def oracle(model: bytes, xs) -> list[list[np.ndarray]]:
    """tflite-micro's 4 outputs per sample."""
    ip = tflm_interpreter(model)
    res = []
    for i in range(len(xs[0])):
        for k, x in enumerate(xs):
            ip.set_input(x[i], k)
        ip.invoke()
        res.append([ip.get_output(j).copy() for j in range(4)])
    return res


def litert(model: bytes, xs) -> list[list[np.ndarray]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    ip = Interpreter(
        model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    ip.allocate_tensors()
    res = []
    for i in range(len(xs[0])):
        for d, x in zip(ip.get_input_details(), xs, strict=True):
            ip.set_tensor(d["index"], x[i])
        ip.invoke()
        res.append([ip.get_tensor(d["index"]).copy() for d in ip.get_output_details()])
    return res


def check(g, xs, what):
    got = picoml.run(g, xs)
    model = to_tflite(g)
    for name, ref in (("tflite-micro", oracle(model, xs)), ("LiteRT", litert(model, xs))):
        for i, r in enumerate(ref):
            n = int(got[3][i][0])
            assert n == int(r[3][0]), f"{what} ({name}, sample {i}): {n} detections, expected {int(r[3][0])}"
            for j in range(3):
                np.testing.assert_array_equal(
                    got[j][i][0][:n].view(np.int32), r[j][0][:n].view(np.int32), err_msg=f"{what} ({name}) output {j}"
                )
    return got


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), ncls=st.integers(1, 4), bg=st.integers(0, 1), regular=st.booleans(),
       max_det=st.integers(1, 8), per_class=st.integers(1, 6), score=st.sampled_from([0.0, 0.3, 0.6, 0.95]),
       iou=st.sampled_from([0.1, 0.5, 1.0]), levels=st.sampled_from([0, 4]), seed=st.integers(0, 2**31))  # fmt: skip
def test_detection_postprocess(n, ncls, bg, regular, max_det, per_class, score, iou, levels, seed):
    """levels 4: scores on a 4-level grid (many ties), else continuous."""
    rng = np.random.default_rng(seed)
    g = det_graph(n, ncls, bg, max_detections=max_det, use_regular_nms=regular, detections_per_class=per_class,
                  nms_score_threshold=score, nms_iou_threshold=iou)  # fmt: skip
    enc = (rng.standard_normal((3, 1, n, 4)) * 0.5).astype(np.float32)
    cls = rng.uniform(0, 1, (3, 1, n, ncls + bg)).astype(np.float32)
    if levels:
        cls = (np.floor(cls * levels) / levels).astype(np.float32)
    check(g, [enc, cls], f"n={n} classes={ncls}+{bg} regular={regular} max={max_det} score={score} iou={iou}")


def test_custom_options_round_trip_and_defaults():
    g = det_graph(6, 2, 1, max_detections=4, use_regular_nms=True, nms_score_threshold=0.25, y_scale=7.5)
    data = to_tflite(g)
    g2 = read_tflite_bytes(data)
    assert g.diff(g2) == [] and to_tflite(g2) == data
    assert g2.ops[0].attrs["y_scale"] == 7.5 and g2.ops[0].attrs["detections_per_class"] == 100


def test_refusals():
    with pytest.raises(picoml.GraphError, match="nms_iou_threshold 0.0 must be in"):
        det_graph(6, 2, 0, nms_iou_threshold=0.0)
    with pytest.raises(picoml.UnsupportedError, match="fast NMS with 2 classes per detection"):
        det_graph(6, 2, 0, max_classes_per_detection=2)
    with pytest.raises(picoml.GraphError, match="num_classes 3 for class predictions of 5 columns"):
        det_graph(6, 3, 2)
    enc, cls = qtensor("enc", (1, 4, 4), 0.1, 0), qtensor("cls", (1, 4, 2), 0.1, 0)
    an = Tensor("anchors", (4, 4), data=np.full((4, 4), 0.5, np.float32))
    outs = [Tensor("b", (1, 10, 4)), Tensor("c", (1, 10)), Tensor("s", (1, 10)), Tensor("n", (1,))]
    with pytest.raises(picoml.PicomlError, match="DETECTION_POSTPROCESS"):
        a = default_attrs("DETECTION_POSTPROCESS")
        Graph(
            [enc, cls, an, *outs], [Op("DETECTION_POSTPROCESS", [enc, cls, an], outs, a, name="d")], [enc, cls], outs
        ).validate()


def test_empty_box_fails_the_inference_as_in_tflite_micro():
    anchors = np.array([[0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.0, 0.2]], np.float32)  # height 0
    g = det_graph(2, 1, 0, anchors=anchors)
    xs = [np.zeros((1, 1, 2, 4), np.float32), np.ones((1, 1, 2, 1), np.float32)]
    with pytest.raises(picoml.InputError, match="anchor 1 decodes to an empty box"):
        picoml.run(g, xs)
    with pytest.raises(RuntimeError):
        oracle(to_tflite(g), xs)


def test_tflite_micro_fast_nms_with_two_classes_per_detection_misplaces_rows():
    """Pinned: tflite-micro's fast NMS writes row ``per · k + col`` after incrementing k per class, so
    with 2 classes per detection rows land at 0, 3, 4, 7, ... past the outputs; LiteRT's rows are
    contiguous. picoml refuses the configuration (test_refusals)."""
    g = det_graph(20, 3, 0, max_detections=3, nms_score_threshold=0.0, nms_iou_threshold=0.9)
    op = g.ops[0]
    op.attrs["max_classes_per_detection"] = 2  # past picoml's check, as a file could say
    for t, shape in zip(op.outputs, [(1, 6, 4), (1, 6), (1, 6), (1,)], strict=True):
        t.shape = shape
    model = to_tflite(g)
    rng = np.random.default_rng(0)
    xs = [
        (rng.standard_normal((1, 1, 20, 4)) * 0.5).astype(np.float32),
        rng.uniform(0, 1, (1, 1, 20, 3)).astype(np.float32),
    ]
    t, lite = oracle(model, xs)[0], litert(model, xs)[0]
    assert int(lite[3][0]) == 3 and set(lite[1].reshape(-1).tolist()) <= {0.0, 1.0, 2.0}
    assert not set(t[1].reshape(-1).tolist()) <= {0.0, 1.0, 2.0}  # tflite-micro's classes hold other values


@pytest.mark.parametrize("kind", ["float32", "int8", "int8_fio"])
def test_converter_detector_dynamic_outputs_get_static_shapes(kind):
    """The TF converter leaves the detection outputs (and the int8 file's QUANTIZE after them) with
    shape []: picoml takes LiteRT's shapes from the attributes, says so in Graph.notes, and matches
    LiteRT on the four outputs; the file picoml writes back has static shapes and runs in tflite-micro."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import conformance as C

    path = C.CORPUS / f"ssd_tiny.{kind}.tflite"
    entries = {e["file"]: e for e in json.loads((C.CORPUS / "manifest.json").read_text())["models"] if "file" in e}
    assert all(o["shape"] == [] for o in entries[path.name]["outputs"])
    g = picoml.load(path)
    assert sorted(t.shape for t in g.outputs) == [(1,), (1, 10), (1, 10), (1, 10, 4)]
    assert any("DETECTION_POSTPROCESS" in n and "dynamic output shapes" in n for n in g.notes)
    rng = np.random.default_rng(0)
    t = g.inputs[0]
    x = rng.uniform(0, 1, (2, *t.shape)).astype(np.float32)
    if t.dtype == "int8":
        x = np.clip(np.round(x / t.scale[0]) + t.zero_point[0], -128, 127).astype(np.int8)
    got = picoml.run(g, x)
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    for model in (path.read_bytes(), to_tflite(g)):
        ip = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        ip.allocate_tensors()
        by_name = {d["name"]: d["index"] for d in ip.get_output_details()}
        for i in range(len(x)):
            ip.set_tensor(ip.get_input_details()[0]["index"], x[i])
            ip.invoke()
            for k, t in enumerate(g.outputs):
                ref, what = ip.get_tensor(by_name[t.name]), f"{kind} output {t.name}"
                if kind == "float32":  # float convolutions before the op: LiteRT's summation order (1 ulp)
                    np.testing.assert_allclose(got[k][i], ref, rtol=1e-5, atol=1e-6, err_msg=what)
                else:
                    np.testing.assert_array_equal(got[k][i], ref, err_msg=what)
    tm = tflm_interpreter(to_tflite(g))  # static shapes: tflite-micro runs picoml's file
    tm.set_input(x[0], 0)
    tm.invoke()
    for k in range(4):
        np.testing.assert_allclose(got[k][0], tm.get_output(k), rtol=1e-5 if kind == "float32" else 0, atol=0)


def test_stored_static_shape_contradicting_the_attributes_is_refused():
    g = det_graph(6, 2, 1, max_detections=4)
    g.ops[0].outputs[0].shape = (1, 3, 4)
    with pytest.raises(picoml.GraphError, match=r"output 'boxes' has shape \[1, 3, 4\], inferred \[1, 4, 4\]"):
        read_tflite_bytes(to_tflite(g)).validate()
