"""C emitter of float32 DETECTION_POSTPROCESS (merged into ``emit_float.FLOAT_EMITTERS`` /
``FLOAT_FILES`` by ``generate.py``, like ``emit_float_extra``).

``pm_detection_f32`` (runtime/pm_detection_f32.[ch]) decodes the boxes and runs fast or regular NMS
as the reference kernel does (reference/detection_postprocess.py): the same float32 operations in
the same order and the same stable sorts, so the selection, classes, scores and count are the
reference's; a box corner may differ in its last bits (float32 ``pm_expf`` and float32 arithmetic
where the reference decodes in double, as tflite-micro): within ``verify.FLOAT_TOLERANCE``.

The kernel's scratch (decoded boxes, sort indices, NMS flags, candidate lists) is two static arrays
per layer, sized here by the rules of ``PM_DETECTION_F32_FLOATS`` / ``_INTS``: RAM outside the arena.
The int8 detectors of the TF converter run this op in float after DEQUANTIZE, so it is emitted in
int8 graphs too (the float layers of a float-interface model).
"""

from __future__ import annotations

from picoml.codegen.emit_float import f32, fptr
from picoml.codegen.emit_float_extra import _out, _src
from picoml.errors import UnsupportedError
from picoml.graph.ir import Op
from picoml.graph.ops import OpType
from picoml.reference import KERNELS


def scratch_sizes(op: Op) -> tuple[int, int]:
    """(floats, int32s) of pm_detection_f32's scratch: PM_DETECTION_F32_FLOATS / _INTS."""
    p = KERNELS[op.type].prepare(op)
    n = op.inputs[2].shape[0]
    per = min(p.max_classes_per_detection, p.num_classes)
    m = p.max_detections + min(p.detections_per_class, n) if p.regular else 0
    return 5 * n + 2 * m, (5 + per) * n + 8 * m


def emit_detection(c, op: Op, i: int) -> None:
    p = KERNELS[op.type].prepare(op)
    enc, cls, anchors = op.inputs[0], op.inputs[1], op.inputs[2]
    if any(t.dtype != "float32" for t in op.inputs + op.outputs):
        raise UnsupportedError(f"{op.label}: only float32 DETECTION_POSTPROCESS compiles to C")
    n = anchors.shape[0]
    fields = {
        "num_anchors": n,
        "enc_stride": enc.shape[2],
        "num_classes": p.num_classes,
        "cls_stride": cls.shape[2],
        "max_detections": p.max_detections,
        "per_detection": min(p.max_classes_per_detection, p.num_classes),
        "detections_per_class": p.detections_per_class,
        "regular": int(p.regular),
        "count": p.count,
        "score_threshold": f32(p.score_threshold),
        "iou_threshold": f32(p.iou_threshold),
        "y_scale": f32(p.scales[0]),
        "x_scale": f32(p.scales[1]),
        "h_scale": f32(p.scales[2]),
        "w_scale": f32(p.scales[3]),
    }
    prm = c.struct("pm_detection_params", f"l{i}_params", fields)
    nf, ni = scratch_sizes(op)
    fs, is_ = f"{c.name}_l{i}_fscratch", f"{c.name}_l{i}_iscratch"
    c.decls.append(f"static float {fs}[{nf}];\nstatic int32_t {is_}[{ni}];\n")
    a = _src(c, anchors, f"l{i}_anchors") if anchors.data is not None else fptr(c, anchors, True)
    outs = ", ".join(_out(t, c) for t in op.outputs)
    c.body.append(
        f"status |= pm_detection_f32(&{prm}, {fptr(c, enc, True)}, {fptr(c, cls, True)}, {a}, {fs}, {is_}, {outs});"
    )


DETECTION_EMITTERS = {OpType.DETECTION_POSTPROCESS: emit_detection}
DETECTION_FILES: dict[OpType, tuple[str, ...]] = {
    OpType.DETECTION_POSTPROCESS: ("pm_detection_f32", "pm_math_f32"),
}

__all__ = ["DETECTION_EMITTERS", "DETECTION_FILES", "emit_detection", "scratch_sizes"]
