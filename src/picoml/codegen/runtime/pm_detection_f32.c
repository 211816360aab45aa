/* DETECTION_POSTPROCESS in float32: see pm_detection_f32.h. Each float operation is its own
 * statement, so that no compiler contracts a multiply and an add into one fused operation. */
#include "pm_detection_f32.h"

#include "pm_math_f32.h"

/* a[0..len) reordered by decreasing key[a[k]], ties in their present order (a stable bottom-up
 * merge sort through tmp). */
static void sort_decreasing(int32_t *a, int32_t *tmp, int32_t len, const float *key) {
  int32_t w, lo, k;
  for (w = 1; w < len; w *= 2) {
    for (lo = 0; lo < len; lo += 2 * w) {
      int32_t mid = lo + w < len ? lo + w : len;
      int32_t hi = lo + 2 * w < len ? lo + 2 * w : len;
      int32_t i = lo, j = mid;
      k = lo;
      while (i < mid && j < hi) tmp[k++] = key[a[j]] > key[a[i]] ? a[j++] : a[i++];
      while (i < mid) tmp[k++] = a[i++];
      while (j < hi) tmp[k++] = a[j++];
    }
    for (k = 0; k < len; ++k) a[k] = tmp[k];
  }
}

/* intersection over union of boxes i and j (ymin, xmin, ymax, xmax); 0 when an area is <= 0 */
static float iou(const float *boxes, int32_t i, int32_t j) {
  const float *bi = boxes + 4 * i, *bj = boxes + 4 * j;
  float hi = bi[2] - bi[0], wi = bi[3] - bi[1], hj = bj[2] - bj[0], wj = bj[3] - bj[1];
  float area_i = hi * wi, area_j = hj * wj;
  float lo_y, hi_y, lo_x, hi_x, ih, iw, inter, denom;
  if (area_i <= 0.0f || area_j <= 0.0f) return 0.0f;
  hi_y = bj[2] < bi[2] ? bj[2] : bi[2];
  lo_y = bj[0] > bi[0] ? bj[0] : bi[0];
  hi_x = bj[3] < bi[3] ? bj[3] : bi[3];
  lo_x = bj[1] > bi[1] ? bj[1] : bi[1];
  ih = hi_y - lo_y;
  iw = hi_x - lo_x;
  if (0.0f > ih) ih = 0.0f;
  if (0.0f > iw) iw = 0.0f;
  inter = ih * iw;
  denom = area_i + area_j;
  denom = denom - inter;
  return inter / denom;
}

/* Greedy NMS of the anchors whose vals[a] >= the score threshold, best first (ties in anchor
 * order), at most limit; writes the selected anchors to selected and returns their number. */
static int32_t nms(const pm_detection_params *p, const float *vals, const float *boxes, int32_t limit,
                   int32_t *keep, int32_t *tmp, int32_t *active, int32_t *selected) {
  int32_t n = 0, i, j, out_size, num_active, count = 0;
  for (i = 0; i < p->num_anchors; ++i)
    if (vals[i] >= p->score_threshold) keep[n++] = i;
  sort_decreasing(keep, tmp, n, vals);
  out_size = n < limit ? n : limit;
  for (i = 0; i < n; ++i) active[i] = 1;
  num_active = n;
  for (i = 0; i < n; ++i) {
    if (count >= out_size || num_active == 0) break;
    if (!active[i]) continue;
    selected[count++] = keep[i];
    active[i] = 0;
    --num_active;
    for (j = i + 1; j < n; ++j) {
      if (active[j] && iou(boxes, keep[i], keep[j]) > p->iou_threshold) {
        active[j] = 0;
        --num_active;
      }
    }
  }
  return count;
}

static void put_row(float *boxes_out, float *classes, float *scores, int32_t r, const float *box, int32_t c,
                    float s) {
  int32_t k;
  for (k = 0; k < 4; ++k) boxes_out[4 * r + k] = box[k];
  classes[r] = (float)c;
  scores[r] = s;
}

int pm_detection_f32(const pm_detection_params *p, const float *enc, const float *cls, const float *anchors,
                     float *fscratch, int32_t *iscratch, float *boxes, float *classes, float *scores, float *num) {
  const int32_t n = p->num_anchors, off = p->cls_stride - p->num_classes;
  float *dec = fscratch, *vals = fscratch + 4 * n;
  int32_t *keep = iscratch, *tmp = iscratch + n, *active = iscratch + 2 * n, *selected = iscratch + 3 * n;
  int32_t *more = iscratch + 5 * n; /* fast: top classes per anchor; regular: candidate lists */
  int32_t a, k, rows = 0;
  if (n < 1 || p->num_classes < 1 || off < 0 || p->enc_stride < 4) return PM_ERROR;
  for (a = 0; a < n; ++a) {
    const float *e = enc + a * p->enc_stride, *an = anchors + 4 * a;
    float yc = e[0] / p->y_scale, xc = e[1] / p->x_scale, hh = e[2] / p->h_scale, hw = e[3] / p->w_scale;
    float *d = dec + 4 * a;
    yc = yc * an[2];
    yc = yc + an[0];
    xc = xc * an[3];
    xc = xc + an[1];
    hh = 0.5f * pm_expf(hh);
    hh = hh * an[2];
    hw = 0.5f * pm_expf(hw);
    hw = hw * an[3];
    d[0] = yc - hh;
    d[1] = xc - hw;
    d[2] = yc + hh;
    d[3] = xc + hw;
    if (d[0] >= d[2] || d[1] >= d[3]) return PM_ERROR; /* tflite-micro's ValidateBoxes */
  }
  for (k = 0; k < 4 * p->count; ++k) boxes[k] = 0.0f;
  for (k = 0; k < p->count; ++k) classes[k] = scores[k] = 0.0f;
  if (p->regular) {
    const int32_t m = p->max_detections + (p->detections_per_class < n ? p->detections_per_class : n);
    int32_t *cand_a = more, *cand_c = more + m, *kept_a = more + 2 * m, *kept_c = more + 3 * m;
    int32_t *idx = more + 4 * m, *itmp = more + 5 * m;
    float *cand_s = vals + n, *kept_s = vals + n + m;
    int32_t nkept = 0, c;
    for (c = 0; c < p->num_classes; ++c) {
      int32_t ns, len = 0;
      for (a = 0; a < n; ++a) vals[a] = cls[a * p->cls_stride + off + c];
      ns = nms(p, vals, dec, p->detections_per_class, keep, tmp, active, selected);
      for (k = 0; k < nkept; ++k, ++len) {
        cand_a[len] = kept_a[k];
        cand_c[len] = kept_c[k];
        cand_s[len] = kept_s[k];
      }
      for (k = 0; k < ns; ++k, ++len) {
        cand_a[len] = selected[k];
        cand_c[len] = c;
        cand_s[len] = vals[selected[k]];
      }
      for (k = 0; k < len; ++k) idx[k] = k;
      sort_decreasing(idx, itmp, len, cand_s);
      nkept = len < p->max_detections ? len : p->max_detections;
      for (k = 0; k < nkept; ++k) {
        kept_a[k] = cand_a[idx[k]];
        kept_c[k] = cand_c[idx[k]];
        kept_s[k] = cand_s[idx[k]];
      }
    }
    for (k = 0; k < nkept; ++k) put_row(boxes, classes, scores, k, dec + 4 * kept_a[k], kept_c[k], kept_s[k]);
    rows = nkept;
  } else {
    const int32_t per = p->per_detection;
    int32_t ns, s;
    for (a = 0; a < n; ++a) {
      const float *row = cls + a * p->cls_stride + off;
      int32_t *top = more + a * per, c, t;
      for (k = 0; k < per; ++k) { /* the k-th best class: ties to the lower class */
        int32_t best = -1;
        for (c = 0; c < p->num_classes; ++c) {
          int32_t taken = 0;
          for (t = 0; t < k; ++t) taken |= top[t] == c;
          if (!taken && (best < 0 || row[c] > row[best])) best = c;
        }
        top[k] = best;
      }
      vals[a] = row[top[0]];
    }
    ns = nms(p, vals, dec, p->max_detections, keep, tmp, active, selected);
    for (s = 0; s < ns; ++s) {
      const float *row = cls + selected[s] * p->cls_stride + off;
      const int32_t *top = more + selected[s] * per;
      for (k = 0; k < per; ++k, ++rows) put_row(boxes, classes, scores, rows, dec + 4 * selected[s], top[k], row[top[k]]);
    }
  }
  num[0] = (float)rows;
  return PM_OK;
}
