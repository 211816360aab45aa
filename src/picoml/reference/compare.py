"""Reference kernels of EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, LOGICAL_AND,
LOGICAL_OR, LOGICAL_NOT and SELECT_V2 (tflite-micro ``micro/kernels/comparisons.cc`` with
``reference/comparisons.h``, ``logical.cc`` with ``reference/binary_function.h``, ``select.cc``
with ``reference/select.h``).

int8 comparisons never compare the raw codes: tflite-micro's Prepare gives *each* input a
multiplier for its own scale (``QuantizeMultiplierSmallerThanOneExp(scale)``, refused at 1 or
more, ``graph/logic_ops.comparison_multiplier``), and Eval compares

    MultiplyByQuantizedMultiplierSmallerThanOneExp((q - zero_point) · 2^8, multiplier, shift)

for the two inputs, whatever their parameters (equal ones included). That is the real value in
units of 2^-8, rounded: with a scale below 2^-9 two neighbouring codes round to the same value and
compare equal (``tests/kernels/test_compare.py::test_int8_small_scales_merge_codes`` pins it).
float32, int32 and bool compare as C does (NaN is unequal to everything). The logical ops work on
bools; SELECT_V2 picks ``x`` where the condition holds, else ``y``, the three broadcast together;
int8 copies the chosen code (no requantization: PTQ gives x, y and the output one set of
parameters, ``Int8Output.JOINED``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from picoml.fixedpoint import multiply_by_quantized_multiplier_smaller_than_one_exp as mbqm_lt1
from picoml.graph.ir import Op
from picoml.graph.logic_ops import comparison_multiplier
from picoml.graph.ops import OpType

#: comparisons.cc: the inputs are shifted left by 8 before rescaling
LEFT_SHIFT = 8

COMPARE: dict[OpType, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    OpType.EQUAL: np.equal,
    OpType.NOT_EQUAL: np.not_equal,
    OpType.GREATER: np.greater,
    OpType.GREATER_EQUAL: np.greater_equal,
    OpType.LESS: np.less,
    OpType.LESS_EQUAL: np.less_equal,
}
LOGICAL: dict[OpType, Callable[..., np.ndarray]] = {
    OpType.LOGICAL_AND: np.logical_and,
    OpType.LOGICAL_OR: np.logical_or,
    OpType.LOGICAL_NOT: np.logical_not,
}


def align(*xs: np.ndarray) -> list[np.ndarray]:
    """Batched operands (leading N axis) at equal rank, unit axes inserted after the batch axis, so
    numpy's broadcasting matches TFLite's trailing-aligned broadcasting of the tensors."""
    r = max(x.ndim for x in xs)
    return [x.reshape(x.shape[:1] + (1,) * (r - x.ndim) + x.shape[1:]) for x in xs]


@dataclass(frozen=True)
class CompareParams:
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    quantized: bool
    input1_zp: int = 0
    input1_multiplier: int = 0
    input1_shift: int = 0
    input2_zp: int = 0
    input2_multiplier: int = 0
    input2_shift: int = 0


def prepare_compare(op: Op) -> CompareParams:
    a, b = op.inputs[0], op.inputs[1]
    if a.dtype != "int8":
        return CompareParams(COMPARE[op.type], False)
    m1, s1 = comparison_multiplier(op, a)
    m2, s2 = comparison_multiplier(op, b)
    return CompareParams(COMPARE[op.type], True, int(a.zero_point[0]), m1, s1, int(b.zero_point[0]), m2, s2)


def scaled(q: np.ndarray, zp: int, multiplier: int, shift: int) -> np.ndarray:
    """An int8 comparison operand in comparisons.h's common units (int64 holding int32 values)."""
    return mbqm_lt1((np.asarray(q, np.int64) - zp) << LEFT_SHIFT, multiplier, shift)


def evaluate_compare(p: CompareParams, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = align(*inputs)
    if p.quantized:
        a = scaled(a, p.input1_zp, p.input1_multiplier, p.input1_shift)
        b = scaled(b, p.input2_zp, p.input2_multiplier, p.input2_shift)
    return np.asarray(p.fn(a, b), np.bool_)


@dataclass(frozen=True)
class LogicalParams:
    fn: Callable[..., np.ndarray]


def prepare_logical(op: Op) -> LogicalParams:
    return LogicalParams(LOGICAL[op.type])


def evaluate_logical(p: LogicalParams, inputs: list[np.ndarray]) -> np.ndarray:
    return np.asarray(p.fn(*align(*inputs)), np.bool_)


@dataclass(frozen=True)
class SelectParams:
    dtype: np.dtype


def prepare_select(op: Op) -> SelectParams:
    return SelectParams(op.outputs[0].np_dtype)


def evaluate_select(p: SelectParams, inputs: list[np.ndarray]) -> np.ndarray:
    cond, x, y = align(*inputs)
    return np.where(cond.astype(np.bool_), x, y).astype(p.dtype, copy=False)
