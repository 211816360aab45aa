"""The names of the closed op set and its element types: ``OpType``, ``DTYPES``, ``Activation``.

Kept apart from ``graph/ops.py`` (which holds one ``OpDef`` per op and re-exports these names) so
the registry module stays small: adding an op means a member here and an ``OpDef`` there (or in
the ``graph/*_ops.py`` module of its group).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

#: dtype name -> numpy dtype. These are the element types the IR knows.
DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "int16": np.dtype(np.int16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "bool": np.dtype(np.bool_),  # comparison results, masks (one byte, 0 or 1)
    "uint32": np.dtype(np.uint32),  # signal library: energies, filter bank channels (branch signal)
    "uint64": np.dtype(np.uint64),  # signal library: filter bank accumulators (branch signal)
}


class Activation(StrEnum):
    """Values of the ``fused_activation`` option (TFLite's ActivationFunctionType, in code order)."""

    NONE = "NONE"
    RELU = "RELU"
    RELU_N1_TO_1 = "RELU_N1_TO_1"
    RELU6 = "RELU6"
    TANH = "TANH"
    SIGN_BIT = "SIGN_BIT"


#: fused_activation values by TFLite code (plain strings: what the reader stores in ``Op.attrs``)
ACTIVATIONS: tuple[str, ...] = tuple(a.value for a in Activation)
PADDINGS = ("SAME", "VALID")


class OpType(StrEnum):
    """The closed op set. Every table keyed by op (reference kernels, quantization rules, C
    emitters, front-end mappings) uses these members, and tests/test_registry.py checks that
    they all cover the same ops. A member equals its TFLite builtin name as a string."""

    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    ADD = "ADD"
    MUL = "MUL"
    RESHAPE = "RESHAPE"
    SOFTMAX = "SOFTMAX"
    LOGISTIC = "LOGISTIC"
    TANH = "TANH"
    RELU = "RELU"
    RELU6 = "RELU6"
    LEAKY_RELU = "LEAKY_RELU"
    HARD_SWISH = "HARD_SWISH"
    PRELU = "PRELU"
    ELU = "ELU"
    ABS = "ABS"
    NEG = "NEG"
    EXP = "EXP"
    LOG = "LOG"
    SQRT = "SQRT"
    RSQRT = "RSQRT"
    SQUARE = "SQUARE"
    SIN = "SIN"
    COS = "COS"
    FLOOR = "FLOOR"
    CEIL = "CEIL"
    ROUND = "ROUND"
    SHAPE = "SHAPE"
    PAD = "PAD"
    MEAN = "MEAN"
    CONCATENATION = "CONCATENATION"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"
    STRIDED_SLICE = "STRIDED_SLICE"
    SLICE = "SLICE"
    SPLIT = "SPLIT"
    SPLIT_V = "SPLIT_V"
    UNPACK = "UNPACK"
    PACK = "PACK"
    TRANSPOSE = "TRANSPOSE"
    SQUEEZE = "SQUEEZE"
    EXPAND_DIMS = "EXPAND_DIMS"
    RESIZE_NEAREST_NEIGHBOR = "RESIZE_NEAREST_NEIGHBOR"
    RESIZE_BILINEAR = "RESIZE_BILINEAR"
    TRANSPOSE_CONV = "TRANSPOSE_CONV"
    DEPTH_TO_SPACE = "DEPTH_TO_SPACE"
    SPACE_TO_DEPTH = "SPACE_TO_DEPTH"
    SUB = "SUB"
    MAXIMUM = "MAXIMUM"
    MINIMUM = "MINIMUM"
    SQUARED_DIFFERENCE = "SQUARED_DIFFERENCE"
    DIV = "DIV"
    REDUCE_MAX = "REDUCE_MAX"
    REDUCE_MIN = "REDUCE_MIN"
    SUM = "SUM"
    ARG_MAX = "ARG_MAX"
    ARG_MIN = "ARG_MIN"
    BATCH_MATMUL = "BATCH_MATMUL"
    GATHER = "GATHER"
    EQUAL = "EQUAL"
    NOT_EQUAL = "NOT_EQUAL"
    GREATER = "GREATER"
    GREATER_EQUAL = "GREATER_EQUAL"
    LESS = "LESS"
    LESS_EQUAL = "LESS_EQUAL"
    LOGICAL_AND = "LOGICAL_AND"
    LOGICAL_OR = "LOGICAL_OR"
    LOGICAL_NOT = "LOGICAL_NOT"
    SELECT_V2 = "SELECT_V2"
    CAST = "CAST"
    ZEROS_LIKE = "ZEROS_LIKE"
    FILL = "FILL"
    BROADCAST_TO = "BROADCAST_TO"
    FLOOR_DIV = "FLOOR_DIV"
    FLOOR_MOD = "FLOOR_MOD"
    ADD_N = "ADD_N"
    MIRROR_PAD = "MIRROR_PAD"
    PADV2 = "PADV2"
    REVERSE_V2 = "REVERSE_V2"
    L2_NORMALIZATION = "L2_NORMALIZATION"
    LOG_SOFTMAX = "LOG_SOFTMAX"
    GELU = "GELU"
    RELU_N1_TO_1 = "RELU_N1_TO_1"
    SPACE_TO_BATCH_ND = "SPACE_TO_BATCH_ND"
    BATCH_TO_SPACE_ND = "BATCH_TO_SPACE_ND"
    CUMSUM = "CUMSUM"
    GATHER_ND = "GATHER_ND"
    EMBEDDING_LOOKUP = "EMBEDDING_LOOKUP"
    L2_POOL_2D = "L2_POOL_2D"
    DETECTION_POSTPROCESS = "DETECTION_POSTPROCESS"
    TILE = "TILE"
    # branch signal: tflite-micro's signal library (custom ops "Signal...", graph/signal_ops.py)
    SIGNAL_WINDOW = "SIGNAL_WINDOW"
    SIGNAL_FFT_AUTO_SCALE = "SIGNAL_FFT_AUTO_SCALE"
    SIGNAL_RFFT = "SIGNAL_RFFT"
    SIGNAL_ENERGY = "SIGNAL_ENERGY"
    SIGNAL_FILTER_BANK = "SIGNAL_FILTER_BANK"
    SIGNAL_FILTER_BANK_SQUARE_ROOT = "SIGNAL_FILTER_BANK_SQUARE_ROOT"
    SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION = "SIGNAL_FILTER_BANK_SPECTRAL_SUBTRACTION"
    SIGNAL_PCAN = "SIGNAL_PCAN"
    SIGNAL_FILTER_BANK_LOG = "SIGNAL_FILTER_BANK_LOG"
    SIGNAL_DELAY = "SIGNAL_DELAY"
    SIGNAL_FRAMER = "SIGNAL_FRAMER"
    SIGNAL_STACKER = "SIGNAL_STACKER"
    SIGNAL_IRFFT = "SIGNAL_IRFFT"
    SIGNAL_OVERLAP_ADD = "SIGNAL_OVERLAP_ADD"
    # branch state (issue 15)
    SVDF = "SVDF"
    UNIDIRECTIONAL_SEQUENCE_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
