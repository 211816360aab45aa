"""Field ids and enums of TFLite's ``schema.fbs`` that picoml reads and writes.

Shared by the reader (``frontends/tflite.py``) and the writer (``frontends/tflite_writer.py``) so
the two cannot drift apart. Field ids are the order of fields in schema.fbs (vtable slot).
"""

from __future__ import annotations

from picoml.graph.ops import ACTIVATIONS

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3

# table Model
MODEL_VERSION, MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS = 0, 1, 2, 3, 4
MODEL_FIELDS = 8
# table OperatorCode
OPCODE_DEPRECATED_BUILTIN, OPCODE_CUSTOM, OPCODE_VERSION, OPCODE_BUILTIN = 0, 1, 2, 3
OPCODE_FIELDS = 4
# table SubGraph
SG_TENSORS, SG_INPUTS, SG_OUTPUTS, SG_OPERATORS, SG_NAME = 0, 1, 2, 3, 4
SG_FIELDS = 5
# table Tensor
T_SHAPE, T_TYPE, T_BUFFER, T_NAME, T_QUANT, T_IS_VARIABLE, T_SPARSITY, T_SHAPE_SIGNATURE = range(8)
T_FIELDS = 8
# table QuantizationParameters
Q_MIN, Q_MAX, Q_SCALE, Q_ZERO_POINT, Q_DETAILS_TYPE, Q_DETAILS, Q_QUANTIZED_DIMENSION = range(7)
Q_FIELDS = 7
# table Buffer
B_DATA, B_OFFSET, B_SIZE = 0, 1, 2
B_FIELDS = 3
# table Operator
OP_OPCODE_INDEX, OP_INPUTS, OP_OUTPUTS, OP_OPTIONS_TYPE, OP_OPTIONS, OP_CUSTOM_OPTIONS = range(6)
OP_FIELDS = 6
OP_INTERMEDIATES = 8  # Operator.intermediates (LSTM's quantization scratch tensors)

# enum TensorType -> picoml dtype name (others are rejected with the tensor's name)
TENSOR_TYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 6: "bool", 7: "int16", 9: "int8"}
TENSOR_TYPES.update({15: "uint32", 12: "uint64"})  # branch signal: the signal library's types
TENSOR_TYPE_CODES = {v: k for k, v in TENSOR_TYPES.items()}
TENSOR_TYPE_NAMES = {
    0: "FLOAT32",
    1: "FLOAT16",
    2: "INT32",
    3: "UINT8",
    4: "INT64",
    5: "STRING",
    6: "BOOL",
    7: "INT16",
    8: "COMPLEX64",
    9: "INT8",
    10: "FLOAT64",
    11: "COMPLEX128",
    12: "UINT64",
    13: "RESOURCE",
    14: "VARIANT",
    15: "UINT32",
    16: "UINT16",
    17: "INT4",
    18: "BFLOAT16",
}

PADDING = {0: "SAME", 1: "VALID"}
PADDING_CODES = {v: k for k, v in PADDING.items()}
ACTIVATION = dict(enumerate(ACTIVATIONS))  # "NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"
ACTIVATION_CODES = {v: k for k, v in ACTIVATION.items()}

# Names of builtin ops picoml does not run, so "unsupported op" errors can name them.
OTHER_BUILTINS = {
    10: "HASHTABLE_LOOKUP",
    13: "LOCAL_RESPONSE_NORMALIZATION",
    15: "LSH_PROJECTION",
    16: "LSTM",
    24: "RNN",
    29: "CONCAT_EMBEDDINGS",
    30: "SKIP_GRAM",
    31: "CALL",
    32: "CUSTOM",
    33: "EMBEDDING_LOOKUP_SPARSE",
    35: "UNIDIRECTIONAL_SEQUENCE_RNN",
    46: "BIDIRECTIONAL_SEQUENCE_RNN",
    48: "TOPK_V2",
    51: "DELEGATE",
    52: "BIDIRECTIONAL_SEQUENCE_LSTM",
    64: "SELECT",
    68: "SPARSE_TO_DENSE",
    78: "POW",
    80: "FAKE_QUANT",
    81: "REDUCE_PROD",
    85: "ONE_HOT",
    91: "REDUCE_ANY",
    96: "RANGE",
    103: "UNIQUE",
    109: "WHERE",
    110: "RANK",
    112: "REVERSE_SEQUENCE",
    113: "MATRIX_DIAG",
    115: "MATRIX_SET_DIAG",
    118: "IF",
    119: "WHILE",
    120: "NON_MAX_SUPPRESSION_V4",
    121: "NON_MAX_SUPPRESSION_V5",
    122: "SCATTER_ND",
    124: "DENSIFY",
    125: "SEGMENT_SUM",
}
