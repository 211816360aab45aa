"""The numpy reference interpreter: the living spec of every op's arithmetic.

``KERNELS`` maps each op type to its (prepare, evaluate) pair: *prepare* turns the op's
tensors and options into a frozen parameter record (all float work happens there, once);
*evaluate* is integer-only on the int8 path and vectorized over a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from picoml.graph.ops import OpType
from picoml.reference import (
    add,
    add_n,
    arg_min_max,
    axis_gather,
    batch_matmul,
    cast,
    compare,
    concatenation,
    conv2d,
    cumsum,
    depth_space,
    depthwise_conv2d,
    dequantize,
    detection_postprocess,
    div,
    elu,
    extra_activations,
    fully_connected,
    gather,
    gather_nd,
    hard_swish,
    l2_normalization,
    l2_pool,
    leaky_relu,
    log_softmax,
    logistic,
    lstm,
    maximum_minimum,
    mean,
    mul,
    pad,
    pooling,
    prelu,
    quantize,
    reduce,
    relu,
    reshape,
    resize,
    s16,
    shape,
    signal_fft,
    slicing,
    softmax,
    space_batch,
    split,
    squared_difference,
    sub,
    svdf,
    tanh,
    tile,
    transpose_conv,
    unary,
)
from picoml.reference import signal as sig
from picoml.reference import signal_stream as sst
from picoml.reference.common import no_windows, window_elems


class Kernel(NamedTuple):
    prepare: Callable[[Any], Any]
    evaluate: Callable[[Any, list], Any]
    # elements of unfolded windows one inference needs (the interpreter's memory estimate)
    windows: Callable[[Any], int] = no_windows


def _filter_windows(op) -> int:  # CONV_2D / DEPTHWISE_CONV_2D: the window is the filter's H×W
    return window_elems(op, *op.inputs[1].shape[1:3])


def _pool_windows(op) -> int:
    return window_elems(op, op.attrs["filter_h"], op.attrs["filter_w"])


def _resize_windows(op) -> int:  # bilinear: four int64 corner gathers and the weighted sum per output value
    return 6 * op.outputs[0].size if op.type == OpType.RESIZE_BILINEAR else 0


KERNELS: dict[OpType, Kernel] = {
    OpType.CONV_2D: Kernel(conv2d.prepare, conv2d.evaluate, _filter_windows),
    OpType.DEPTHWISE_CONV_2D: Kernel(depthwise_conv2d.prepare, depthwise_conv2d.evaluate, _filter_windows),
    OpType.FULLY_CONNECTED: Kernel(fully_connected.prepare, fully_connected.evaluate),
    OpType.AVERAGE_POOL_2D: Kernel(pooling.prepare, pooling.evaluate_average, _pool_windows),
    OpType.MAX_POOL_2D: Kernel(pooling.prepare, pooling.evaluate_max, _pool_windows),
    OpType.ADD: Kernel(add.prepare, add.evaluate),
    OpType.MUL: Kernel(mul.prepare, mul.evaluate),
    OpType.RESHAPE: Kernel(reshape.prepare, reshape.evaluate),
    OpType.SOFTMAX: Kernel(softmax.prepare, softmax.evaluate),
    OpType.LOGISTIC: Kernel(logistic.prepare, logistic.evaluate),
    OpType.TANH: Kernel(tanh.prepare, tanh.evaluate),
    OpType.RELU: Kernel(relu.prepare_relu, relu.evaluate),
    OpType.RELU6: Kernel(relu.prepare_relu6, relu.evaluate),
    OpType.PAD: Kernel(pad.prepare, pad.evaluate),
    OpType.MEAN: Kernel(mean.prepare, mean.evaluate),
    OpType.CONCATENATION: Kernel(concatenation.prepare, concatenation.evaluate),
    OpType.QUANTIZE: Kernel(quantize.prepare, quantize.evaluate),
    OpType.DEQUANTIZE: Kernel(dequantize.prepare, dequantize.evaluate),
    OpType.LEAKY_RELU: Kernel(leaky_relu.prepare, leaky_relu.evaluate),
    OpType.HARD_SWISH: Kernel(hard_swish.prepare, hard_swish.evaluate),
    OpType.PRELU: Kernel(prelu.prepare, prelu.evaluate),
    OpType.ELU: Kernel(elu.prepare, elu.evaluate),
    OpType.ABS: Kernel(unary.prepare, unary.evaluate),
    OpType.NEG: Kernel(unary.prepare, unary.evaluate),
    OpType.EXP: Kernel(unary.prepare, unary.evaluate),
    OpType.LOG: Kernel(unary.prepare, unary.evaluate),
    OpType.SQRT: Kernel(unary.prepare, unary.evaluate),
    OpType.RSQRT: Kernel(unary.prepare, unary.evaluate),
    OpType.SQUARE: Kernel(unary.prepare, unary.evaluate),
    OpType.SIN: Kernel(unary.prepare, unary.evaluate),
    OpType.COS: Kernel(unary.prepare, unary.evaluate),
    OpType.FLOOR: Kernel(unary.prepare, unary.evaluate),
    OpType.CEIL: Kernel(unary.prepare, unary.evaluate),
    OpType.ROUND: Kernel(unary.prepare, unary.evaluate),
    OpType.SHAPE: Kernel(shape.prepare, shape.evaluate),
    OpType.STRIDED_SLICE: Kernel(slicing.prepare_strided_slice, slicing.evaluate),
    OpType.SLICE: Kernel(slicing.prepare_slice, slicing.evaluate),
    OpType.TRANSPOSE: Kernel(slicing.prepare_transpose, slicing.evaluate),
    OpType.SPLIT: Kernel(split.prepare_split, split.evaluate_split),
    OpType.SPLIT_V: Kernel(split.prepare_split, split.evaluate_split),
    OpType.UNPACK: Kernel(split.prepare_unpack, split.evaluate_split),
    OpType.PACK: Kernel(split.prepare_pack, split.evaluate_pack),
    OpType.SQUEEZE: Kernel(reshape.prepare, reshape.evaluate),
    OpType.EXPAND_DIMS: Kernel(reshape.prepare, reshape.evaluate),
    OpType.RESIZE_NEAREST_NEIGHBOR: Kernel(resize.prepare, resize.evaluate),
    OpType.RESIZE_BILINEAR: Kernel(resize.prepare, resize.evaluate, _resize_windows),
    OpType.TRANSPOSE_CONV: Kernel(transpose_conv.prepare, transpose_conv.evaluate, transpose_conv.windows),
    OpType.DEPTH_TO_SPACE: Kernel(depth_space.prepare, depth_space.evaluate),
    OpType.SPACE_TO_DEPTH: Kernel(depth_space.prepare, depth_space.evaluate),
    OpType.SUB: Kernel(sub.prepare, sub.evaluate),
    OpType.MAXIMUM: Kernel(maximum_minimum.prepare, maximum_minimum.evaluate),
    OpType.MINIMUM: Kernel(maximum_minimum.prepare, maximum_minimum.evaluate),
    OpType.SQUARED_DIFFERENCE: Kernel(squared_difference.prepare, squared_difference.evaluate),
    OpType.DIV: Kernel(div.prepare, div.evaluate),
    OpType.REDUCE_MAX: Kernel(reduce.prepare_min_max, reduce.evaluate_min_max),
    OpType.REDUCE_MIN: Kernel(reduce.prepare_min_max, reduce.evaluate_min_max),
    OpType.SUM: Kernel(reduce.prepare_sum, reduce.evaluate_sum),
    OpType.ARG_MAX: Kernel(arg_min_max.prepare, arg_min_max.evaluate),
    OpType.ARG_MIN: Kernel(arg_min_max.prepare, arg_min_max.evaluate),
    OpType.BATCH_MATMUL: Kernel(batch_matmul.prepare, batch_matmul.evaluate),
    OpType.GATHER: Kernel(gather.prepare, gather.evaluate),
    OpType.ADD_N: Kernel(add_n.prepare, add_n.evaluate),
    OpType.MIRROR_PAD: Kernel(axis_gather.prepare, axis_gather.evaluate),
    OpType.PADV2: Kernel(axis_gather.prepare, axis_gather.evaluate),
    OpType.REVERSE_V2: Kernel(axis_gather.prepare, axis_gather.evaluate),
    OpType.L2_NORMALIZATION: Kernel(l2_normalization.prepare, l2_normalization.evaluate),
    OpType.LOG_SOFTMAX: Kernel(log_softmax.prepare, log_softmax.evaluate),
    OpType.GELU: Kernel(extra_activations.prepare, extra_activations.evaluate),
    OpType.RELU_N1_TO_1: Kernel(extra_activations.prepare, extra_activations.evaluate),
    OpType.SPACE_TO_BATCH_ND: Kernel(space_batch.prepare, space_batch.evaluate),
    OpType.BATCH_TO_SPACE_ND: Kernel(space_batch.prepare, space_batch.evaluate),
    OpType.CUMSUM: Kernel(cumsum.prepare, cumsum.evaluate),
    OpType.GATHER_ND: Kernel(gather_nd.prepare, gather_nd.evaluate),
    OpType.EMBEDDING_LOOKUP: Kernel(gather_nd.prepare, gather_nd.evaluate),
    OpType.L2_POOL_2D: Kernel(l2_pool.prepare, l2_pool.evaluate),
    OpType.DETECTION_POSTPROCESS: Kernel(detection_postprocess.prepare, detection_postprocess.evaluate),
    OpType.TILE: Kernel(tile.prepare, tile.evaluate),
}
_COMPARE = Kernel(compare.prepare_compare, compare.evaluate_compare)
_LOGICAL = Kernel(compare.prepare_logical, compare.evaluate_logical)
_FLOOR = Kernel(cast.prepare_floor, cast.evaluate_floor)
KERNELS.update(
    {
        **dict.fromkeys(compare.COMPARE, _COMPARE),
        **dict.fromkeys(compare.LOGICAL, _LOGICAL),
        OpType.SELECT_V2: Kernel(compare.prepare_select, compare.evaluate_select),
        OpType.CAST: Kernel(cast.prepare_cast, cast.evaluate_cast),
        OpType.ZEROS_LIKE: Kernel(cast.prepare_zeros_like, cast.evaluate_zeros_like),
        OpType.FILL: Kernel(cast.prepare_fill, cast.evaluate_fill),
        OpType.BROADCAST_TO: Kernel(cast.prepare_broadcast_to, cast.evaluate_broadcast_to),
        OpType.FLOOR_DIV: _FLOOR,
        OpType.FLOOR_MOD: _FLOOR,
        OpType.SVDF: Kernel(svdf.prepare, svdf.evaluate),  # branch state (issue 15)
        OpType.UNIDIRECTIONAL_SEQUENCE_LSTM: Kernel(lstm.prepare, lstm.evaluate),  # issue 15
    }
)
# branch signal: tflite-micro's signal library (reference/signal.py, signal_fft.py)
KERNELS.update(
    {
        OpType.SIGNAL_WINDOW: Kernel(sig.prepare_window, sig.evaluate_window),
        OpType.SIGNAL_FFT_AUTO_SCALE: Kernel(sig.prepare_none, sig.evaluate_fft_auto_scale),
        OpType.SIGNAL_RFFT: Kernel(signal_fft.prepare, signal_fft.evaluate),
        OpType.SIGNAL_ENERGY: Kernel(sig.prepare_energy, sig.evaluate_energy),
        OpType.SIGNAL_FILTER_BANK: Kernel(sig.prepare_filter_bank, sig.evaluate_filter_bank),
        OpType.SIGNAL_FILTER_BANK_SQUARE_ROOT: Kernel(sig.prepare_none, sig.evaluate_square_root),
        OpType.SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION: Kernel(
            sig.prepare_spectral_subtraction, sig.evaluate_spectral_subtraction
        ),
        OpType.SIGNAL_PCAN: Kernel(sig.prepare_pcan, sig.evaluate_pcan),
        OpType.SIGNAL_FILTER_BANK_LOG: Kernel(sig.prepare_log, sig.evaluate_log),
        OpType.SIGNAL_DELAY: Kernel(sst.prepare_delay, sst.evaluate_delay),
        OpType.SIGNAL_FRAMER: Kernel(sst.prepare_framer, sst.evaluate_framer),
        OpType.SIGNAL_STACKER: Kernel(sst.prepare_stacker, sst.evaluate_stacker),
        OpType.SIGNAL_IRFFT: Kernel(signal_fft.prepare_irfft, signal_fft.evaluate_irfft),
        OpType.SIGNAL_OVERLAP_ADD: Kernel(sst.prepare_overlap_add, sst.evaluate_overlap_add),
    }
)
# int16 activations (16x8): these ops dispatch on the input dtype (reference/s16.py)
KERNELS.update(s16.wrap(KERNELS))
