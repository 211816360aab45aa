"""The 16x8 parameters of PTQ (``picoml.quantize(..., activations="int16")``, TFLite's
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8 scheme), used by ptq.py.

- activations: int16 symmetric per tensor, zero point 0, ``scale = max(|lo|, |hi|) / 32767``
  (float32; a range of exactly 0 gives scale 1), what the converter writes;
- fixed outputs: SOFTMAX, LOGISTIC and TANH 2^-15, zero point 0 (tflite-micro's int16 kernels
  require it);
- weights: int8 symmetric per channel, as for int8 (FULLY_CONNECTED per channel too: the
  converter writes that and tflite-micro runs it);
- bias: int64, zero point 0, ``scale[c] = input_scale · weight_scale[c]`` (the int16 kernels'
  int64 accumulator);
- ADD / SUB outputs are widened until 2·max(input scales) / (2^15 · output scale) is below 1
  (tflite-micro's int16 ADD shifts left by 15, not 20).
"""

from __future__ import annotations

import numpy as np

from picoml.errors import InputError
from picoml.qparams import quantize_array

INT16_QMAX = 32767
FIXED_16 = (float(np.float32(2.0**-15)), 0)  # SOFTMAX, LOGISTIC, TANH int16 outputs
ADD_LEFT_SHIFT_16 = 15
ACTIVATION_DTYPES = ("int8", "int16", "mixed")


def check_activations(activations: str) -> str:
    if activations not in ACTIVATION_DTYPES:
        raise InputError(f"quantize: activations must be one of {', '.join(ACTIVATION_DTYPES)}, got {activations!r}")
    return activations


def activation_qparams_int16(lo: float, hi: float) -> tuple[np.float32, int]:
    """(scale, 0) of a symmetric int16 activation with float range [lo, hi]."""
    m = np.float32(max(abs(float(lo)), abs(float(hi))))
    with np.errstate(over="ignore", under="ignore"):
        scale = np.float32(m / np.float32(INT16_QMAX))
    if not np.isfinite(scale):
        raise InputError(f"activation range [{lo}, {hi}] is too wide for float32 scales")
    if scale < np.finfo(np.float32).tiny:
        return np.float32(1.0), 0
    return scale, 0


def quantize_bias_int64(b: np.ndarray, input_scale: float, w_scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values, float32 scales): ``round(b / (input_scale · weight_scale[c]))`` (|q| < 2^47, the
    range TFLite's int64 rescale assumes)."""
    b64 = np.asarray(b, np.float64).reshape(-1)
    prod = float(np.float32(input_scale)) * np.asarray(w_scales, np.float64).reshape(-1)
    prod = np.broadcast_to(prod, b64.shape)
    lim = (1 << 47) - 1
    q = quantize_array(b64, prod, 0, -lim, lim, precision=np.float64, dtype=np.int64)
    return q.reshape(np.shape(b)), prod.astype(np.float32)


def quantize_activation_constant(data: np.ndarray, scale: float) -> np.ndarray:
    """A float constant in an activation position (an ADD operand) as int16 with zero point 0."""
    return quantize_array(data, scale, 0, -INT16_QMAX - 1, INT16_QMAX, precision=np.float64, dtype=np.int16)
