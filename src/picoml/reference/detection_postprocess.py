"""DETECTION_POSTPROCESS reference kernel (the custom op ``TFLite_Detection_PostProcess``): SSD box
decoding and non-max suppression, float32 (tflite-micro runs it on float inputs only; the
converter's int8 detectors feed it through DEQUANTIZE).

Source: tflite-micro ``micro/kernels/detection_postprocess.cc``, followed statement by statement:

- decode (double arithmetic, then float32): ``yc = y / y_scale · a.h + a.y``, ``xc`` likewise,
  ``half_h = 0.5 · exp(h / h_scale) · a.h``, ``half_w`` likewise (C's ``exp`` on doubles: Python's
  ``math.exp`` is the same libm call); corners ``yc ∓ half_h``, ``xc ∓ half_w`` in float32. A box
  with ymin ≥ ymax or xmin ≥ xmax fails the inference (tflite-micro's ValidateBoxes);
- single-class NMS: the scores ≥ ``nms_score_threshold`` in anchor order, sorted by decreasing
  score (a stable merge sort: ties keep anchor order), then greedily selected while fewer than the
  limit, each selection suppressing later candidates whose IoU (float32: areas, clipped overlap,
  ``inter / (area_i + area_j - inter)``; 0 when an area is ≤ 0) exceeds ``nms_iou_threshold``;
- fast NMS (``use_regular_nms`` false): per anchor the top ``min(max_classes_per_detection,
  num_classes)`` classes (decreasing, ties to the lower class), NMS on each anchor's best score
  with ``max_detections``; each selected anchor writes its top classes. Outputs beyond the count
  are not written by tflite-micro (their content is whatever the arena held): picoml writes 0;
- regular NMS: NMS per class with ``detections_per_class``, the running list of (anchor, class)
  kept sorted by decreasing score (ties to the earlier entry), cut to ``max_detections``; unused
  output rows are 0.

A leading background column (class predictions one wider than ``num_classes``) is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from picoml.errors import InputError
from picoml.graph.extra_ops import detection_count
from picoml.graph.ir import Op

F32 = np.float32


@dataclass(frozen=True)
class DetectionParams:
    label: str
    max_detections: int
    max_classes_per_detection: int
    detections_per_class: int
    regular: bool
    score_threshold: np.float32
    iou_threshold: np.float32
    num_classes: int
    scales: tuple[float, float, float, float]  # y, x, h, w (float32 values)
    count: int  # output rows


def prepare(op: Op) -> DetectionParams:
    a = op.attrs
    return DetectionParams(
        op.label,
        int(a["max_detections"]),
        int(a["max_classes_per_detection"]),
        int(a["detections_per_class"]),
        bool(a["use_regular_nms"]),
        F32(a["nms_score_threshold"]),
        F32(a["nms_iou_threshold"]),
        int(a["num_classes"]),
        tuple(float(F32(a[k])) for k in ("y_scale", "x_scale", "h_scale", "w_scale")),  # type: ignore[arg-type]
        detection_count(op),
    )


def decode(p: DetectionParams, enc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(N, 4) float32 corners (ymin, xmin, ymax, xmax) of the (N, ≥4) encodings and (N, 4) anchors."""
    ys, xs, hs, ws = p.scales
    out = np.empty((enc.shape[0], 4), F32)
    for i in range(enc.shape[0]):
        y, x, h, w = (float(v) for v in enc[i, :4])
        ay, ax, ah, aw = (float(v) for v in anchors[i])
        yc = F32(y / ys * ah + ay)
        xc = F32(x / xs * aw + ax)
        half_h = F32(0.5 * math.exp(h / hs) * ah)
        half_w = F32(0.5 * math.exp(w / ws) * aw)
        out[i] = (yc - half_h, xc - half_w, yc + half_h, xc + half_w)
    return out


def _iou(b: np.ndarray, i: int, j: int) -> np.float32:
    bi, bj = b[i], b[j]
    area_i = F32((bi[2] - bi[0]) * (bi[3] - bi[1]))
    area_j = F32((bj[2] - bj[0]) * (bj[3] - bj[1]))
    if area_i <= 0 or area_j <= 0:
        return F32(0.0)
    ih = F32(max(F32(min(bi[2], bj[2]) - max(bi[0], bj[0])), F32(0.0)))
    iw = F32(max(F32(min(bi[3], bj[3]) - max(bi[1], bj[1])), F32(0.0)))
    inter = F32(ih * iw)
    return F32(inter / F32(F32(area_i + area_j) - inter))


def _decreasing(values: np.ndarray) -> list[int]:
    """Indices by decreasing value, ties in index order (tflite-micro's stable sorts)."""
    return sorted(range(len(values)), key=lambda k: (-float(values[k]), k))


def nms(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, limit: int) -> list[int]:
    keep = [i for i in range(len(scores)) if scores[i] >= p.score_threshold]
    order = _decreasing(np.asarray([scores[i] for i in keep], F32))
    out_size = min(len(keep), limit)
    active = [True] * len(keep)
    selected: list[int] = []
    for i in range(len(keep)):
        if len(selected) >= out_size or not any(active):
            break
        if not active[i]:
            continue
        selected.append(keep[order[i]])
        active[i] = False
        for j in range(i + 1, len(keep)):
            if active[j] and _iou(boxes, keep[order[i]], keep[order[j]]) > p.iou_threshold:
                active[j] = False
    return selected


def _one(p: DetectionParams, enc: np.ndarray, cls: np.ndarray, anchors: np.ndarray) -> list[np.ndarray]:
    boxes = decode(p, enc, anchors)
    bad = (boxes[:, 0] >= boxes[:, 2]) | (boxes[:, 1] >= boxes[:, 3])
    if bad.any():
        raise InputError(f"{p.label}: anchor {int(np.argmax(bad))} decodes to an empty box (tflite-micro fails)")
    offset = cls.shape[1] - p.num_classes
    scores = cls[:, offset:].astype(F32)
    ob = np.zeros((p.count, 4), F32)
    oc = np.zeros(p.count, F32)
    os_ = np.zeros(p.count, F32)
    if p.regular:
        kept: list[tuple[int, int]] = []  # (anchor, class)
        kept_scores: list[np.float32] = []
        for c in range(p.num_classes):
            sel = nms(p, boxes, scores[:, c], p.detections_per_class)
            cand = kept + [(a, c) for a in sel]
            cand_s = kept_scores + [scores[a, c] for a in sel]
            top = _decreasing(np.asarray(cand_s, F32))[: min(len(cand), p.max_detections)]
            kept = [cand[k] for k in top]
            kept_scores = [cand_s[k] for k in top]
        for r, ((a, c), s) in enumerate(zip(kept, kept_scores, strict=True)):
            ob[r], oc[r], os_[r] = boxes[a], c, s
        n = len(kept)
    else:
        per = min(p.max_classes_per_detection, p.num_classes)
        top = [_decreasing(scores[a])[:per] for a in range(scores.shape[0])]
        best = np.asarray([scores[a, top[a][0]] for a in range(scores.shape[0])], F32)
        n = 0
        for a in nms(p, boxes, best, p.max_detections):
            for c in top[a]:
                ob[n], oc[n], os_[n] = boxes[a], c, scores[a, c]
                n += 1
    return [ob[None], oc[None], os_[None], np.asarray([n], F32)]


def evaluate(p: DetectionParams, inputs: list[np.ndarray]) -> list[np.ndarray]:
    enc, cls, anchors = inputs
    m = max(enc.shape[0], cls.shape[0])
    outs = [_one(p, enc[min(k, enc.shape[0] - 1), 0], cls[min(k, cls.shape[0] - 1), 0],
                 anchors[min(k, anchors.shape[0] - 1)]) for k in range(m)]  # fmt: skip
    return [np.stack([o[i] for o in outs]) for i in range(4)]
