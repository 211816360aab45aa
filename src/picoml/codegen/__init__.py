"""C code generation: Graph → C99 library of static-const weights, one arena, pm_* kernels."""

from picoml.codegen.generate import CompiledModel, compile_c, generate_c, write_c
from picoml.codegen.sparse import layer_encodings

__all__ = ["CompiledModel", "compile_c", "generate_c", "layer_encodings", "write_c"]
