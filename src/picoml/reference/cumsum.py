"""CUMSUM reference kernel: the running sum along a constant axis (``exclusive``, ``reverse``).

Sources: tflite-micro ``micro/kernels/cumsum.cc`` (CalculateOpData) and ``reference/cumsum.h``.

float32: the float32 running sum in the traversal order (from the end with ``reverse``); with
``exclusive`` each output is the sum before its own element.

int8: ADD_N's arithmetic (reference.add_n): ``left_shift = 20``, the input moved to the 2^20 scale
by QuantizeMultiplierSmallerThanOneExp(1/2), the running sum requantized to the output by
QuantizeMultiplierSmallerThanOneExp(2·in_scale / (2^20·out_scale)). As in ADD_N, tflite-micro
starts each running sum at the scaled ``-zero point`` (its comment says 0): every output carries
one extra ``-zp`` (pinned in tests/kernels/test_cumsum_gather_nd.py; PTQ gives CUMSUM inputs zero
point 0). Sums that can overflow the int32 accumulator (signed overflow in tflite-micro) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from picoml.errors import UnsupportedError
from picoml.fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp, quantize_multiplier
from picoml.graph.extra_ops import cumsum_axis
from picoml.graph.ir import Op
from picoml.reference.add_n import INT32_MAX, LEFT_SHIFT
from picoml.reference.common import INT8_MAX, INT8_MIN


@dataclass(frozen=True)
class CumsumParams:
    axis: int
    exclusive: bool
    reverse: bool
    quantized: bool
    input_zp: int = 0
    output_zp: int = 0
    input_multiplier: int = 0
    input_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0


def prepare(op: Op) -> CumsumParams:
    x, y = op.inputs[0], op.outputs[0]
    axis = cumsum_axis(op)
    ex, rev = bool(op.attrs["exclusive"]), bool(op.attrs["reverse"])
    if x.dtype != "int8":
        return CumsumParams(axis, ex, rev, False)
    s_in, s_out = float(np.float32(x.scale[0])), float(np.float32(y.scale[0]))
    m_in, sh_in = quantize_multiplier(s_in / (2.0 * s_in))
    m_out, sh_out = quantize_multiplier(2.0 * s_in / ((1 << LEFT_SHIFT) * s_out))
    if sh_out > 0 or m_out == 0:
        raise UnsupportedError(
            f"{op.label}: output scale {s_out:g} of {y.name!r} is too small for input scale {s_in:g} "
            "(int8 CUMSUM needs 2·input scale < 2^20 · output scale)"
        )
    zp = int(x.zero_point[0])
    p = CumsumParams(axis, ex, rev, True, zp, int(y.zero_point[0]), m_in, sh_in, m_out, sh_out)
    worst = int(np.abs(_scaled(p, np.array([-128 - zp, 127 - zp]))).max())
    if worst * (x.shape[axis] + 1) > INT32_MAX:
        raise UnsupportedError(
            f"{op.label}: {x.shape[axis]} int8 values along axis {axis} can overflow tflite-micro's int32 running sum"
        )
    return p


def _scaled(p: CumsumParams, v: np.ndarray) -> np.ndarray:
    return multiply_by_quantized_multiplier_smaller_than_one_exp(
        np.asarray(v, np.int64) * (1 << LEFT_SHIFT), p.input_multiplier, p.input_shift
    )


def evaluate(p: CumsumParams, inputs: list[np.ndarray]) -> np.ndarray:
    x = inputs[0]
    ax = p.axis + 1
    v = np.flip(x, ax) if p.reverse else x
    v = np.moveaxis(v, ax, 0)
    if p.quantized:
        acc = np.broadcast_to(_scaled(p, np.int64(-p.input_zp)), v.shape[1:]).astype(np.int64)
        terms = _scaled(p, v.astype(np.int64) - p.input_zp)
    else:
        acc = np.zeros(v.shape[1:], np.float32)
        terms = v.astype(np.float32)
    outs = []
    for k in range(v.shape[0]):
        if p.exclusive:
            outs.append(acc)
        acc = acc + terms[k] if p.quantized else (acc + terms[k]).astype(np.float32)
        if not p.exclusive:
            outs.append(acc)
    out = np.stack(outs)
    if p.quantized:
        out = multiply_by_quantized_multiplier_smaller_than_one_exp(out, p.output_multiplier, p.output_shift)
        out = np.clip(out + p.output_zp, INT8_MIN, INT8_MAX).astype(np.int8)
    out = np.moveaxis(out, 0, ax)
    return np.ascontiguousarray(np.flip(out, ax) if p.reverse else out)
