"""Graph IR: tensors, ops, the op set, shape inference and validation."""

from picoml.graph.ir import DTYPES, Graph, Op, Tensor
from picoml.graph.ops import OP_SET, OpDef, supported_ops

__all__ = ["DTYPES", "Graph", "Op", "OpDef", "OP_SET", "Tensor", "supported_ops"]
