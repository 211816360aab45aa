"""Reference kernels of CAST, ZEROS_LIKE, FILL, BROADCAST_TO, FLOOR_DIV and FLOOR_MOD (tflite-micro
``micro/kernels/cast.cc``, ``zeros_like.cc``, ``fill.cc``, ``broadcast_to.cc``, ``floor_div.cc``,
``floor_mod.cc`` with ``reference/floor_div.h`` / ``floor_mod.h``).

- CAST is C's ``static_cast`` element by element, blind to quantization: an int8 code 5 becomes
  the int32 or float 5 whatever the scale. int32 → int8 keeps the low byte (two's complement);
  float → integer truncates toward zero; bool is 0 or 1. A float outside the target's range is
  undefined behaviour in C: picoml gives what x86 and Arm compilers' truncating conversion gives
  (values beyond int32 and NaN become -2^31 before the int8 low byte is taken) and the C path has
  no float. No bool output: cast.cc's Eval leaves such an output unwritten (refused at validate).
- ZEROS_LIKE writes zeros: for int8 the *code* 0 (real value ``-zero_point · scale``), not the
  zero point.
- FILL repeats its scalar value (int8: its code, the output shares its parameters) to the constant
  dims; BROADCAST_TO repeats the input along broadcast dimensions (any dtype, codes as they are).
- FLOOR_DIV and FLOOR_MOD are float32 only in tflite-micro. FLOOR_DIV is
  ``floor(double(a) / double(b))`` rounded to float; a zero anywhere in the divisor fails the
  inference (its Eval checks every divisor). FLOOR_MOD is float32 ``fmod`` moved to the divisor's
  sign (``fmod(a, b) + b`` when the signs differ), NaN for a zero divisor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import InputError
from picoml.graph.ir import Op
from picoml.graph.logic_ops import const_shape
from picoml.graph.ops import OpType
from picoml.reference.compare import align

INT32_MIN = -(2**31)


@dataclass(frozen=True)
class CastParams:
    src: str
    dst: str


def prepare_cast(op: Op) -> CastParams:
    return CastParams(op.inputs[0].dtype, op.outputs[0].dtype)


def cast_values(x: np.ndarray, src: str, dst: str) -> np.ndarray:
    """C's static_cast from ``src`` to ``dst`` (dtype names) on an array."""
    if dst == "float32":
        return x.astype(np.float32)
    if src == "float32":
        with np.errstate(invalid="ignore"):
            t = np.trunc(x.astype(np.float64))
            bad = ~np.isfinite(t) | (t < INT32_MIN) | (t > 2**31 - 1)
            v = np.where(bad, INT32_MIN, np.where(np.isfinite(t), t, 0)).astype(np.int64)
    else:
        v = x.astype(np.int64)
    if dst == "int8":
        return ((v + 128) % 256 - 128).astype(np.int8)
    return v.astype(np.int32)


def evaluate_cast(p: CastParams, inputs: list[np.ndarray]) -> np.ndarray:
    return cast_values(inputs[0], p.src, p.dst)


@dataclass(frozen=True)
class FillParams:
    dtype: np.dtype
    shape: tuple[int, ...]


def prepare_zeros_like(op: Op) -> FillParams:
    return FillParams(op.outputs[0].np_dtype, tuple(op.outputs[0].shape))


def evaluate_zeros_like(p: FillParams, inputs: list[np.ndarray]) -> np.ndarray:
    return np.zeros(inputs[0].shape[:1] + p.shape, p.dtype)


def prepare_fill(op: Op) -> FillParams:
    return FillParams(op.outputs[0].np_dtype, const_shape(op, 1, "dims"))


def evaluate_fill(p: FillParams, inputs: list[np.ndarray]) -> np.ndarray:
    v = inputs[0]  # (N,): one scalar per inference
    n = v.shape[0]
    return np.broadcast_to(v.reshape((n,) + (1,) * len(p.shape)), (n,) + p.shape).astype(p.dtype)


def prepare_broadcast_to(op: Op) -> FillParams:
    return FillParams(op.outputs[0].np_dtype, const_shape(op, 1, "shape"))


def evaluate_broadcast_to(p: FillParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    x = x.reshape(x.shape[:1] + (1,) * (len(p.shape) + 1 - x.ndim) + x.shape[1:])
    return np.ascontiguousarray(np.broadcast_to(x, x.shape[:1] + p.shape))


@dataclass(frozen=True)
class FloorParams:
    divide: bool
    label: str


def prepare_floor(op: Op) -> FloorParams:
    return FloorParams(op.type == OpType.FLOOR_DIV, op.label)


def evaluate_floor(p: FloorParams, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = align(*inputs)
    a, b = a.astype(np.float32), b.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.divide:
            if (b == 0).any():
                raise InputError(f"{p.label}: division by 0 (tflite-micro fails the inference)")
            return np.floor(a.astype(np.float64) / b.astype(np.float64)).astype(np.float32)
        m = np.fmod(a, b)
        return np.where((m != 0) & ((b < 0) != (m < 0)), m + b, m).astype(np.float32)
