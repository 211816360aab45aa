"""picoml: take a trained neural network to a microcontroller.

Public API::

    g = picoml.load("model.tflite")      # -> Graph
    y = picoml.run(g, x)                 # numpy reference interpreter (bit-exact int8)
    picoml.save(g, "copy.tflite")
"""

from __future__ import annotations

from pathlib import Path

from picoml.errors import GraphError, InputError, ModelFormatError, PicomlError, UnsupportedError
from picoml.graph import Graph, Op, Tensor, supported_ops
from picoml.reference.interpreter import Interpreter, run

__version__ = "0.1.0"


def load(path: str | Path) -> Graph:
    """Read a model file into a validated Graph (.tflite today)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".tflite" or suffix == "":
        from picoml.frontends.tflite import read_tflite

        return read_tflite(p)
    raise ModelFormatError(f"{p}: unknown model format {suffix!r} (picoml reads .tflite)")


def save(graph: Graph, path: str | Path) -> None:
    """Write ``graph`` as a .tflite file (validated first; written atomically)."""
    p = Path(path)
    if p.suffix.lower() != ".tflite":
        raise ModelFormatError(f"{p}: picoml writes .tflite files; use a .tflite suffix")
    from picoml.export.tflite import write_tflite

    write_tflite(graph, p)


__all__ = [
    "Graph",
    "GraphError",
    "InputError",
    "Interpreter",
    "ModelFormatError",
    "Op",
    "PicomlError",
    "Tensor",
    "UnsupportedError",
    "load",
    "run",
    "save",
    "supported_ops",
    "__version__",
]
