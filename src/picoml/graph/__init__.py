"""Graph IR: tensors, ops, the op set, shape inference and validation."""

from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import DTYPES, OP_SET, OpDef, OpType, supported_ops

__all__ = ["DTYPES", "Graph", "Op", "OpDef", "OpType", "OP_SET", "Tensor", "supported_ops"]
