/* DETECTION_POSTPROCESS (the custom op TFLite_Detection_PostProcess) in float32: SSD box decoding
 * with anchors and scales, then fast (class-agnostic) or regular (per-class) non-max suppression,
 * as picoml's reference kernel (reference/detection_postprocess.py): the same float32 operations
 * in the same order, stable sorts (ties keep anchor order, then class order), the same selection.
 * Only float32 arithmetic: decoding uses pm_expf where the reference uses double exp, so a box
 * corner may differ from the reference's in its last bits; classes, scores and the count are
 * copied values. No malloc: the caller passes scratch sized by pm_detection_f32_scratch_*. */
#ifndef PM_DETECTION_F32_H
#define PM_DETECTION_F32_H

#include "pm_common.h"

typedef struct {
  int32_t num_anchors;
  int32_t enc_stride;   /* values per anchor in the box encodings (>= 4) */
  int32_t num_classes;
  int32_t cls_stride;   /* columns of the class predictions (num_classes, +1 with a background) */
  int32_t max_detections;
  int32_t per_detection; /* fast NMS: min(max_classes_per_detection, num_classes) */
  int32_t detections_per_class;
  int32_t regular;       /* 1: regular (per-class) NMS, 0: fast NMS */
  int32_t count;         /* rows of the outputs: max_detections * max_classes_per_detection */
  float score_threshold;
  float iou_threshold;
  float y_scale, x_scale, h_scale, w_scale;
} pm_detection_params;

/* Scratch the kernel needs: floats (decoded boxes, best scores, candidate scores) and int32s
 * (indices); the generator sizes the two arrays with the same rules (emit_detection.py). */
#define PM_DETECTION_F32_FLOATS(n, m) (5 * (n) + 2 * (m))
#define PM_DETECTION_F32_INTS(n, m, per) ((5 + (per)) * (n) + 8 * (m))

/* enc [num_anchors, enc_stride], cls [num_anchors, cls_stride], anchors [num_anchors, 4] (y, x, h,
 * w); writes boxes [count, 4] (ymin, xmin, ymax, xmax), classes [count], scores [count] (rows past
 * the detections 0) and num [1]. m = max_detections + detections_per_class (regular NMS; else 0).
 * PM_ERROR when an anchor decodes to an empty box (tflite-micro fails the inference). */
int pm_detection_f32(const pm_detection_params *p, const float *enc, const float *cls, const float *anchors,
                     float *fscratch, int32_t *iscratch, float *boxes, float *classes, float *scores, float *num);

#endif /* PM_DETECTION_F32_H */
