"""ONNX front-end: an ``.onnx`` file or ``onnx.ModelProto`` → a validated float32 ``Graph``, channels-last.

Why a converter and not a one-to-one op mapping: ONNX is channels-first (NCHW) and picoml, like
TFLite, is channels-last (NHWC), and a TRANSPOSE copies the tensor. The importer (``frontends/onnx_importer.py``)
tracks every run-time ONNX value with its layout; graph inputs and outputs are channels-last
((N,C,H,W)→(N,H,W,C), (N,C,L)→(N,L,C), other ranks as is, see ``to_graph_layout``). Each node
goes through an explicit table keyed by ONNX op type (``frontends/onnx_ops.py``): ``HANDLERS``
lower run-time values onto picoml ops with the lowering shared with the PyTorch front-end
(``frontends/lowering.py``: padding, convolution, dense, pooling, activations), ``FOLDERS``
evaluate in numpy what is known before run time: initializers, ``Constant`` nodes, and the
Shape/Gather/Unsqueeze/Concat/Cast chains PyTorch's exporters emit for ``x.view(x.size(0), -1)``
(dynamic batch dimensions are fixed to 1 or ``input_shape`` first).

The graph passes of ``picoml.passes`` run afterwards, each exact and what TFLite's converter does
(the int8 quantizer relies on the fused activations):

- ``fold_batchnorm``: a per-channel MUL/ADD by a constant after CONV_2D, DEPTHWISE_CONV_2D or
  FULLY_CONNECTED goes into its weights and bias (BatchNormalization, MatMul+Add bias);
- ``fuse_activations``: a RELU/RELU6 after CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or ADD
  becomes its ``fused_activation`` when nothing else reads the pre-activation value;
- ``collapse_reshapes``: back-to-back RESHAPEs (1-D convolutions run as (N,1,L,C) 2-D ones)
  merge, and a RESHAPE that changes nothing disappears.

Both fold and fuse look through the RESHAPE that brings a 1-D convolution's (N,1,L,C) result
back to (N,L,C).

Operator semantics follow the ONNX operator specification (https://onnx.ai/onnx/operators/);
padding follows TFLite's ``ComputePaddingWithOffset`` (``picoml.graph.ops.same_padding``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from picoml.errors import InputError, ModelFormatError, PicomlError, UnsupportedError
from picoml.frontends.lowering import from_graph_layout, to_graph_layout
from picoml.frontends.onnx_importer import Importer, _first_line
from picoml.frontends.onnx_ops import FOLDERS, HANDLERS, supported_onnx_ops
from picoml.graph.ir import Graph, Op
from picoml.graph.limits import DEFAULT_MAX_MEMORY, check_memory
from picoml.passes import collapse_reshapes, fold_batchnorm, fuse_activations
from picoml.untrusted import for_terminal, read_file

if TYPE_CHECKING:
    import onnx

__all__ = ["from_graph_layout", "from_onnx", "supported_onnx_ops", "to_graph_layout"]


def _need_onnx():
    try:
        import onnx
    except ImportError:
        raise PicomlError("reading ONNX models needs the onnx package: pip install 'picoml[onnx]'") from None
    return onnx


def _bias_name(layer: Op) -> str:
    """A bias ``fold_batchnorm`` adds to a layer (MatMul + Add) is named after its output."""
    return f"{layer.outputs[0].name}/bias"


def _load(onnx_mod, path_or_model, max_memory: int) -> tuple[onnx.ModelProto, str, str]:
    if isinstance(path_or_model, onnx_mod.ModelProto):
        m = onnx_mod.ModelProto()
        m.CopyFrom(path_or_model)  # the caller's model is never modified
        label = f"ONNX model {m.graph.name!r}" if m.graph.name else "ONNX model"
        return m, label, m.graph.name
    if not isinstance(path_or_model, str | Path):
        raise InputError(f"from_onnx: expected a path or onnx.ModelProto, got {type(path_or_model).__name__}")
    p = Path(path_or_model)
    where = for_terminal(p)
    # From bytes, never from the path: onnx.load would follow external-data references to other files.
    data = read_file(p, "ONNX model", max_memory)
    try:
        m = onnx_mod.load_from_string(data)
    except Exception as e:  # protobuf DecodeError, ...
        raise ModelFormatError(f"{where}: not a readable ONNX model ({type(e).__name__}: {_first_line(e)})") from None
    return m, where, p.stem


def _input_shapes(model, label: str, input_shape: tuple[int, ...] | None) -> dict[str, tuple[int, ...]]:
    """Fix every graph input's shape: dynamic dims → ``input_shape`` or 1 (batch); writes them into ``model``."""
    init = {i.name for i in model.graph.initializer}
    real = [vi for vi in model.graph.input if vi.name not in init]
    if input_shape is not None and len(real) != 1:
        raise InputError(f"{label}: input_shape applies to single-input models; this one has {len(real)} inputs")
    out = {}
    for vi in real:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or tt.elem_type != 1:  # TensorProto.FLOAT
            raise UnsupportedError(f"{label}: input {vi.name!r} is not a float32 tensor; picoml imports float models")
        if not tt.HasField("shape"):
            raise InputError(f"{label}: input {vi.name!r} has no shape; pass input_shape")
        dims = list(tt.shape.dim)
        if input_shape is not None and len(input_shape) != len(dims):
            raise InputError(
                f"{label}: input_shape {list(input_shape)} has rank {len(input_shape)}, "
                f"input {vi.name!r} has rank {len(dims)}"
            )
        shape = []
        for i, d in enumerate(dims):
            static = d.HasField("dim_value") and d.dim_value > 0
            if input_shape is not None:
                v = int(input_shape[i])
                if static and d.dim_value != v or v <= 0:
                    raise InputError(
                        f"{label}: input_shape {list(input_shape)} does not fit input {vi.name!r} "
                        f"(dimension {i} is {d.dim_value if static else d.dim_param})"
                    )
            elif static:
                v = int(d.dim_value)
            elif i == 0:
                v = 1  # dynamic batch: one inference per invoke, as on a microcontroller
            else:
                raise InputError(
                    f"{label}: input {vi.name!r} dimension {i} ({d.dim_param or '?'}) is dynamic; pass input_shape"
                )
            d.Clear()
            d.dim_value = v
            shape.append(v)
        out[vi.name] = tuple(shape)
    return out


def from_onnx(
    path_or_model: str | Path | onnx.ModelProto,
    *,
    name: str = "",
    input_shape: tuple[int, ...] | None = None,
    max_memory: int | None = None,
) -> Graph:
    """Import an ONNX model as a validated float32 Graph in picoml's channels-last layout.

    ``input_shape`` (ONNX layout, e.g. (1, 3, 32, 32)) fixes the input's dynamic dimensions; without
    it a dynamic batch dimension becomes 1. Inputs and outputs are permuted channels-last: feed
    ``to_graph_layout(x)`` and read ``from_graph_layout(y)`` to compare with the ONNX model.

    Raises ModelFormatError for a file that is not a valid ONNX model, UnsupportedError for ops or
    options picoml cannot express exactly (naming node, op type and file).
    """
    onnx = _need_onnx()
    limit = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    model, label, stem = _load(onnx, path_or_model, limit)
    shapes = _input_shapes(model, label, input_shape)
    unknown = [(i, n) for i, n in enumerate(model.graph.node) if n.op_type not in HANDLERS and n.op_type not in FOLDERS]
    if unknown:
        i, n = unknown[0]
        who = n.name or f"#{i} → {n.output[0] if n.output else '?'}"
        others = sorted({m.op_type for _, m in unknown} - {n.op_type})
        more = f" (also unsupported: {', '.join(others)})" if others else ""
        raise UnsupportedError(
            f"{label}: node {who!r} ({n.op_type}) is not supported by picoml's ONNX front-end{more}; "
            "see picoml.frontends.onnx.supported_onnx_ops()"
        )
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise ModelFormatError(f"{label}: invalid ONNX model: {_first_line(e)}") from None
    try:
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:
        raise ModelFormatError(f"{label}: ONNX shape inference failed: {_first_line(e)}") from None
    imp = Importer(onnx, model, label, HANDLERS, FOLDERS, limit)
    inputs, outputs = imp.run(shapes)
    g = Graph(
        imp.tensors,
        imp.ops,
        inputs,
        outputs,
        name=name or stem or "onnx_model",
        description=f"imported from ONNX (opset {imp.opset}, producer {model.producer_name or '?'})",
    )
    fold_batchnorm(g, bias_name=_bias_name)
    fuse_activations(g)
    collapse_reshapes(g)
    g.toposort()
    g.prune_unused()
    try:
        g.validate()
    except PicomlError as e:
        raise type(e)(f"{label}: {e}") from None
    check_memory(g, limit, label)
    return g
