"""Front-ends: model files and framework objects in, float or int8 ``Graph`` out.

One dispatcher, ``load_model``, picks the front-end from what the user names:

==============================  ==========================================  ==============
source                          front-end                                   input layout
==============================  ==========================================  ==============
``model.tflite``                ``frontends.tflite.read_tflite``            NHWC (as is)
``model.onnx``                  ``frontends.onnx.from_onnx``                NCHW → NHWC
``model.pt`` (TorchScript)      TorchScript → ONNX (in memory) → from_onnx  NCHW → NHWC
``model.pt2`` (torch.export)    ``frontends.torch.from_torch``              NCHW → NHWC
``pkg.module:factory``          ``factory()`` + ``--weights`` state dict    NCHW → NHWC
                                → ``frontends.torch.from_torch``
==============================  ==========================================  ==============

The framework front-ends take data in the framework's own layout and the graph is
channels-last; ``source_layout`` tells callers (the CLI's ``convert``/``evaluate``) whether
to permute user data with ``to_graph_layout``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from picoml.errors import InputError, ModelFormatError, PicomlError, UnsupportedError
from picoml.frontends.onnx import from_onnx
from picoml.frontends.tflite import read_tflite
from picoml.frontends.torch import from_torch
from picoml.graph import Graph
from picoml.graph.limits import DEFAULT_MAX_MEMORY, check_memory
from picoml.untrusted import for_terminal, read_file

_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def is_factory_spec(source: str) -> bool:
    """``pkg.module:factory`` (and not an existing file such as ``C:model.onnx``)."""
    return bool(_SPEC.match(source)) and not Path(source).exists()


def source_layout(source: str | Path) -> str:
    """ "nhwc" for .tflite sources, "nchw" for the PyTorch and ONNX ones (channels-first)."""
    s = str(source)
    if is_factory_spec(s):
        return "nchw"
    return "nhwc" if Path(s).suffix.lower() in (".tflite", "") else "nchw"


def _need_torch(what: str):
    try:
        import torch
    except ImportError:
        raise PicomlError(f"{what}: reading PyTorch models needs torch: pip install 'picoml[torch]'") from None
    return torch


def _load_factory(spec: str, weights: str | Path | None, limit: int = DEFAULT_MAX_MEMORY):
    torch = _need_torch(spec)
    mod_name, fn_name = spec.split(":")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # a spec names the user's own module, found from where they run
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise InputError(f"{spec}: cannot import module {mod_name!r} ({e})") from None
    factory = getattr(mod, fn_name, None)
    if not callable(factory):
        raise InputError(f"{spec}: module {mod_name!r} has no callable {fn_name!r}")
    module = factory()
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"{spec}: {fn_name}() returned {type(module).__name__}, not a torch.nn.Module")
    if weights is not None:
        wp = Path(weights)
        data = read_file(wp, "weights", limit)
        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for a bad file
            raise ModelFormatError(f"{wp}: not a PyTorch state dict ({type(e).__name__})") from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        try:
            module.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise InputError(f"{wp}: does not match {spec}: {first}") from None
    return module


@contextlib.contextmanager
def _quiet_stdout():
    """Silence file descriptor 1 (torch's exporter prints its IR there from C++ on a failure)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded use): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            with contextlib.redirect_stdout(io.StringIO()):
                yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _torchscript_via_onnx(path: Path, data: bytes, example: np.ndarray) -> Graph:
    """TorchScript cannot be re-traced by torch.fx; its legacy ONNX export is the faithful route."""
    torch = _need_torch(str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as e:
        raise ModelFormatError(f"{path}: not a TorchScript file (torch.jit.save) ({type(e).__name__})") from None
    buf = io.BytesIO()
    try:
        # the legacy exporter's deprecation notices, and the Torch IR it prints on a failure, are not
        # the user's concern: the one error line below names their file and the op
        with warnings.catch_warnings(), _quiet_stdout():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.from_numpy(np.ascontiguousarray(example)),), buf, dynamo=False)
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UnsupportedError(f"{path}: TorchScript model could not be lowered through ONNX: {first}") from None
    import onnx

    try:
        return from_onnx(onnx.load_from_string(buf.getvalue()), name=path.stem)
    except PicomlError as e:  # name the user's file, not the ONNX graph made from it
        msg = re.sub(r"^ONNX model '[^']*': ", "", str(e))
        raise type(e)(f"{path}: {msg} (in its ONNX export)") from None


def load_model(
    source: str | Path,
    *,
    example_input: np.ndarray | None = None,
    weights: str | Path | None = None,
    random_weights: bool = False,
    max_memory: int | None = None,
) -> Graph:
    """Read any supported source into a Graph (see the module table).

    ``example_input`` (framework layout, batch of ≥ 1) is needed to trace PyTorch sources;
    only its first sample is used. A ``module:factory`` spec needs ``weights`` (a state dict)
    unless ``random_weights`` says the factory's own initialisation is wanted. Every graph is
    held against ``max_memory`` (``picoml.graph.limits``, default 256 MiB).
    """
    limit = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    s = str(source)
    if is_factory_spec(s):
        if example_input is None:
            raise InputError(f"{s}: tracing a PyTorch model needs example data (--calibration)")
        if weights is None and not random_weights:
            raise InputError(
                f"{s}: no --weights given: the factory's randomly initialised model would be converted; "
                "pass --weights STATE_DICT.pt, or --random-weights if that is what you want"
            )
        torch = _need_torch(s)

        module = _load_factory(s, weights, limit)
        g = from_torch(module, torch.from_numpy(np.ascontiguousarray(example_input[:1])), name=fn_safe(s))
        check_memory(g, limit, s)
        return g
    p = Path(s)
    where = for_terminal(p)
    if not p.exists():
        raise InputError(f"{where}: no such file")
    if p.is_dir():
        raise InputError(f"{where}: is a directory, not a model file")
    suffix = p.suffix.lower()
    if suffix in (".tflite", ""):
        return read_tflite(p, max_memory=limit)
    if suffix == ".onnx":
        return from_onnx(p, max_memory=limit)
    if suffix in (".pt", ".pth", ".pt2"):
        data = read_file(p, "PyTorch model", limit, ModelFormatError)  # a regular file within the limit
        g = _load_torch_file(p, suffix, data, example_input)
        check_memory(g, limit, where)
        return g
    raise ModelFormatError(
        f"{where}: unknown model format {suffix!r} (picoml reads .tflite, .onnx, TorchScript .pt, torch.export .pt2, "
        "or a Python module:factory spec)"
    )


def _load_torch_file(p: Path, suffix: str, data: bytes, example_input: np.ndarray | None) -> Graph:
    """A TorchScript (.pt) or torch.export (.pt2) file, from the bytes already read and checked."""
    if example_input is None:
        raise InputError(f"{for_terminal(p)}: tracing a PyTorch model needs example data (--calibration)")
    if suffix == ".pt2":
        torch = _need_torch(str(p))

        try:
            ep = torch.export.load(io.BytesIO(data))
        except Exception as e:
            raise ModelFormatError(
                f"{for_terminal(p)}: not a torch.export program (torch.export.save) ({type(e).__name__})"
            ) from None
        return from_torch(ep.module(), torch.from_numpy(np.ascontiguousarray(example_input[:1])), name=p.stem)
    return _torchscript_via_onnx(p, data, np.asarray(example_input[:1], np.float32))


def fn_safe(spec: str) -> str:
    """A graph name from a ``pkg.module:factory`` spec."""
    return re.sub(r"\W+", "_", spec.split(":")[-1])
