"""One error family for everything picoml reports to a user.

Every message names the file, op or tensor at fault and, where it helps, what to do.
The CLI prints ``str(err)`` as a single line and exits with code 2.
"""

from __future__ import annotations


class PicomlError(Exception):
    """Base class of every error picoml raises on purpose."""


class ModelFormatError(PicomlError):
    """The model file is truncated, corrupted or not in a format picoml reads."""


class UnsupportedError(PicomlError):
    """The model is well-formed but uses ops, types or options picoml does not support."""


class GraphError(PicomlError):
    """The graph is inconsistent: shapes, dtypes, quantization or connectivity."""


class InputError(PicomlError):
    """Data handed to the interpreter does not match the model's input."""
