"""C code generation: Graph → C99 library of static-const weights, one arena, pm_* kernels."""

from picoml.codegen.generate import generate_c, write_c

__all__ = ["generate_c", "write_c"]
