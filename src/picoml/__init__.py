"""picoml: take a trained neural network to a microcontroller.

Public API::

    g = picoml.load("model.tflite")      # -> Graph
    y = picoml.run(g, x)                 # numpy reference interpreter (bit-exact int8)
    picoml.save(g, "copy.tflite")
    g = picoml.from_torch(module, example_input)   # PyTorch -> float Graph (NHWC)
    g = picoml.from_onnx("model.onnx")             # ONNX -> float Graph (NHWC)
    q = picoml.quantize(g, calibration_data)       # float Graph -> int8 Graph (PTQ)
"""

from __future__ import annotations

from pathlib import Path

from picoml.errors import GraphError, InputError, ModelFormatError, PicomlError, UnsupportedError
from picoml.frontends.onnx import from_onnx
from picoml.frontends.tflite import read_tflite
from picoml.frontends.tflite_writer import write_tflite
from picoml.frontends.torch import from_torch
from picoml.graph import Graph, Op, Tensor, supported_ops
from picoml.quantize.ptq import quantize
from picoml.reference.interpreter import Interpreter, run
from picoml.version import __version__


def load(path: str | Path, max_memory: int | None = None) -> Graph:
    """Read a model file into a validated Graph (.tflite, or .onnx through the ONNX front-end).

    A model file is untrusted input: only a regular file is read, and a file or graph that
    needs more than ``max_memory`` bytes (default 256 MiB, ``picoml.graph.limits``) is refused
    with an UnsupportedError naming the tensor or op, before anything that size is allocated."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".tflite" or suffix == "":
        return read_tflite(p, max_memory=max_memory)
    if suffix == ".onnx":
        return from_onnx(p, max_memory=max_memory)
    raise ModelFormatError(
        f"{p}: unknown model format {suffix!r} (picoml.load reads .tflite and .onnx; "
        "PyTorch models: picoml.from_torch or `picoml convert`)"
    )


def save(graph: Graph, path: str | Path) -> None:
    """Write ``graph`` as a .tflite file (validated first; written atomically)."""
    p = Path(path)
    if p.suffix.lower() != ".tflite":
        raise ModelFormatError(f"{p}: picoml writes .tflite files; use a .tflite suffix")
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
    "from_onnx",
    "from_torch",
    "load",
    "quantize",
    "run",
    "save",
    "supported_ops",
    "__version__",
]
