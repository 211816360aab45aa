""".tflite writer: any valid Graph back to a flatbuffer that TFLite Micro and LiteRT load.

Constant data goes into 16-byte aligned buffers (TFLM reads weights in place); buffer 0 is
the empty sentinel the schema reserves. Output is deterministic for the same graph.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
from flatbuffers import flexbuffers

from picoml.errors import PicomlError, UnsupportedError
from picoml.frontends import tflite_schema as S
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import OP_SET, OpDef, OpType
from picoml.outputs import write_file

# LiteRT's CONV_2D/DEPTHWISE_CONV_2D kernels require a bias input (FULLY_CONNECTED's is optional)
_BIAS_REQUIRED = (OpType.CONV_2D, OpType.DEPTHWISE_CONV_2D)


def _vector(b: flatbuffers.Builder, values, kind: str) -> int:
    arr = np.asarray(values)
    dtype = {"i32": "<i4", "i64": "<i8", "f32": "<f4", "u8": "u1"}[kind]
    return b.CreateNumpyVector(arr.astype(dtype).reshape(-1))


def _offsets(b: flatbuffers.Builder, offs: list[int]) -> int:
    b.StartVector(4, len(offs), 4)
    for o in reversed(offs):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def _options(b: flatbuffers.Builder, d: OpDef, attrs: dict) -> int | None:
    if not d.options_type:
        return None
    vecs = {}
    for a in d.attrs:
        if a.kind == "i32[]" and attrs.get(a.name) is not None:
            vecs[a.name] = _vector(b, list(attrs[a.name]), "i32")
    b.StartObject(max((a.slot for a in d.attrs), default=-1) + 1)
    for a in d.attrs:
        v = attrs[a.name]
        if a.kind == "i32":
            b.PrependInt32Slot(a.slot, int(v), 0)
        elif a.kind == "i8":
            b.PrependInt8Slot(a.slot, int(v), 0)
        elif a.kind == "bool":
            b.PrependBoolSlot(a.slot, bool(v), not v)  # always written: defaults differ per field
        elif a.kind == "f32":
            b.PrependFloat32Slot(a.slot, float(v), 0.0)
        elif a.kind == "pad":
            b.PrependInt8Slot(a.slot, S.PADDING_CODES[v], -1)
        elif a.kind == "act":
            b.PrependInt8Slot(a.slot, S.ACTIVATION_CODES[v], -1)
        elif a.kind == "i32[]":
            if a.name in vecs:
                b.PrependUOffsetTRelativeSlot(a.slot, vecs[a.name], 0)
    return b.EndObject()


def _op_version(op: Op) -> int:
    """The lowest version TFLite assigns for what picoml writes (int8 needs the newer kernels; 16x8 ops
    get the int8 version, as TensorFlow 2.21's converter writes them: tests/data/s16/manifest.json)."""
    x = op.inputs[0]
    d = OP_SET[op.type]
    return max(d.int8_version if x is not None and x.dtype in ("int8", "int16") else 1, d.version)


def _with_explicit_bias(g: Graph) -> Graph:
    """LiteRT's CONV_2D/DEPTHWISE_CONV_2D require a bias input: add zeros where it is absent."""
    missing = [op for op in g.ops if op.type in _BIAS_REQUIRED and (len(op.inputs) < 3 or op.inputs[2] is None)]
    if not missing:
        return g
    g = g.copy()
    for op in g.ops:
        if op.type not in _BIAS_REQUIRED or (len(op.inputs) > 2 and op.inputs[2] is not None):
            continue
        x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
        n = y.shape[-1]
        name = f"{op.outputs[0].name}/zero_bias"
        if x.dtype == "float32":
            bias = Tensor(name, (n,), "float32", data=np.zeros(n, np.float32))
        else:
            ws = np.broadcast_to(w.scale.astype(np.float64), (n,))
            scale = (np.float64(x.scale[0]) * ws).astype(np.float32)
            bias = Tensor(name, (n,), "int32", scale, np.zeros(n, np.int64), 0, np.zeros(n, np.int32))
        g.tensors.append(bias)
        op.inputs = [x, w, bias]
    return g


def write_tflite_bytes(g: Graph) -> bytes:
    """Serialize a validated graph."""
    if g.state_updates or any(t.initial is not None for t in g.tensors):
        # TODO(issue 15): write them back as VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE and a
        # CALL_ONCE init subgraph; variable tensors updated in place (SVDF) are written as is_variable
        raise UnsupportedError(
            "writing resource variables (state updates or initial values) to .tflite is not supported yet"
        )
    g = _with_explicit_bias(g)
    b = flatbuffers.Builder(1024)
    tensor_index = {id(t): i for i, t in enumerate(g.tensors)}

    # buffers: 0 = empty sentinel, then one per constant tensor in tensor order
    buffer_of: dict[int, int] = {}
    buf_offs = []
    b.StartObject(S.B_FIELDS)
    buf_offs.append(b.EndObject())
    datas = []
    for t in g.tensors:
        if t.data is not None:
            buffer_of[id(t)] = len(buf_offs) + len(datas)
            datas.append(np.ascontiguousarray(t.data.astype(t.np_dtype, copy=False)).tobytes())
    for raw in datas:
        b.StartVector(1, len(raw), 16)
        b.head = b.head - len(raw)
        b.Bytes[b.head : b.head + len(raw)] = raw
        data_off = b.EndVector()
        b.StartObject(S.B_FIELDS)
        b.PrependUOffsetTRelativeSlot(S.B_DATA, data_off, 0)
        buf_offs.append(b.EndObject())

    # tensors
    t_offs = []
    for t in g.tensors:
        name = b.CreateString(t.name)
        shape = _vector(b, list(t.shape), "i32")
        q = None
        if t.quantized:
            sc = _vector(b, t.scale, "f32")
            zp = _vector(b, t.zero_point, "i64")
            b.StartObject(S.Q_FIELDS)
            b.PrependUOffsetTRelativeSlot(S.Q_SCALE, sc, 0)
            b.PrependUOffsetTRelativeSlot(S.Q_ZERO_POINT, zp, 0)
            b.PrependInt32Slot(S.Q_QUANTIZED_DIMENSION, t.quantized_dimension if t.per_axis else 0, 0)
            q = b.EndObject()
        else:
            b.StartObject(S.Q_FIELDS)
            q = b.EndObject()
        b.StartObject(S.T_FIELDS)
        b.PrependUOffsetTRelativeSlot(S.T_SHAPE, shape, 0)
        b.PrependInt8Slot(S.T_TYPE, S.TENSOR_TYPE_CODES[t.dtype], -1)
        b.PrependUint32Slot(S.T_BUFFER, buffer_of.get(id(t), 0), 0)
        b.PrependUOffsetTRelativeSlot(S.T_NAME, name, 0)
        b.PrependUOffsetTRelativeSlot(S.T_QUANT, q, 0)
        b.PrependBoolSlot(S.T_IS_VARIABLE, t.variable, False)
        t_offs.append(b.EndObject())

    # operator codes in order of first use
    codes: list[tuple[int, int, str | None]] = []
    for op in g.ops:
        key = (OP_SET[op.type].builtin_code, _op_version(op), OP_SET[op.type].custom_code)
        if key not in codes:
            codes.append(key)
    oc_offs = []
    for code, ver, custom in codes:
        custom_s = b.CreateString(custom) if custom is not None else None
        b.StartObject(S.OPCODE_FIELDS)
        if custom_s is not None:
            b.PrependUOffsetTRelativeSlot(S.OPCODE_CUSTOM, custom_s, 0)
        b.PrependInt8Slot(S.OPCODE_DEPRECATED_BUILTIN, min(code, 127), 0)
        b.PrependInt32Slot(S.OPCODE_VERSION, ver, 1)
        b.PrependInt32Slot(S.OPCODE_BUILTIN, code, 0)
        oc_offs.append(b.EndObject())

    op_offs = []
    for op in g.ops:
        d = OP_SET[op.type]
        inputs = list(op.inputs)
        while inputs and inputs[-1] is None:  # LiteRT rejects a trailing -1 (e.g. absent bias)
            inputs.pop()
        if op.type == OpType.UNIDIRECTIONAL_SEQUENCE_LSTM:  # both runtimes want all 24 (-1: absent)
            inputs += [None] * (d.max_inputs - len(inputs))
        if d.tflite_inputs is not None and sorted(d.tflite_inputs[: len(inputs)]) == list(range(len(inputs))):
            inputs = [inputs[j] for j in d.tflite_inputs[: len(inputs)]]  # the file's order
        ins = _vector(b, [tensor_index[id(t)] if t is not None else -1 for t in inputs], "i32")
        outs = _vector(b, [tensor_index[id(t)] for t in op.outputs], "i32")
        opt = _options(b, d, op.attrs)
        custom_opts = (
            b.CreateByteVector(flexbuffers.Dumps(dict(sorted(op.attrs.items())))) if d.custom_code is not None else None
        )
        b.StartObject(S.OP_FIELDS)
        b.PrependUint32Slot(S.OP_OPCODE_INDEX, codes.index((d.builtin_code, _op_version(op), d.custom_code)), 0)
        if custom_opts is not None:  # a flexbuffer map (CustomOptionsFormat FLEXBUFFERS = 0, the default)
            b.PrependUOffsetTRelativeSlot(S.OP_CUSTOM_OPTIONS, custom_opts, 0)
        b.PrependUOffsetTRelativeSlot(S.OP_INPUTS, ins, 0)
        b.PrependUOffsetTRelativeSlot(S.OP_OUTPUTS, outs, 0)
        if opt is not None:
            b.PrependUint8Slot(S.OP_OPTIONS_TYPE, d.options_type, 0)
            b.PrependUOffsetTRelativeSlot(S.OP_OPTIONS, opt, 0)
        op_offs.append(b.EndObject())

    tensors_v = _offsets(b, t_offs)
    ins_v = _vector(b, [tensor_index[id(t)] for t in g.inputs], "i32")
    outs_v = _vector(b, [tensor_index[id(t)] for t in g.outputs], "i32")
    ops_v = _offsets(b, op_offs)
    sg_name = b.CreateString(g.name or "main")
    b.StartObject(S.SG_FIELDS)
    b.PrependUOffsetTRelativeSlot(S.SG_TENSORS, tensors_v, 0)
    b.PrependUOffsetTRelativeSlot(S.SG_INPUTS, ins_v, 0)
    b.PrependUOffsetTRelativeSlot(S.SG_OUTPUTS, outs_v, 0)
    b.PrependUOffsetTRelativeSlot(S.SG_OPERATORS, ops_v, 0)
    b.PrependUOffsetTRelativeSlot(S.SG_NAME, sg_name, 0)
    sg = b.EndObject()

    subgraphs_v = _offsets(b, [sg])
    opcodes_v = _offsets(b, oc_offs)
    buffers_v = _offsets(b, buf_offs)
    desc = b.CreateString(g.description or "written by picoml")
    b.StartObject(S.MODEL_FIELDS)
    b.PrependUint32Slot(S.MODEL_VERSION, S.SCHEMA_VERSION, 0)
    b.PrependUOffsetTRelativeSlot(S.MODEL_OPERATOR_CODES, opcodes_v, 0)
    b.PrependUOffsetTRelativeSlot(S.MODEL_SUBGRAPHS, subgraphs_v, 0)
    b.PrependUOffsetTRelativeSlot(S.MODEL_DESCRIPTION, desc, 0)
    b.PrependUOffsetTRelativeSlot(S.MODEL_BUFFERS, buffers_v, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=S.FILE_IDENTIFIER)
    return bytes(b.Output())


def write_tflite(g: Graph, path: str | Path) -> None:
    """Validate ``g`` and write it to ``path`` (atomically: a failed write leaves no partial file)."""
    p = Path(path)
    try:
        g.validate()
    except PicomlError as e:
        raise type(e)(f"cannot save {p}: {e}") from None
    write_file(p, write_tflite_bytes(g))  # atomic; a bad path is one InputError line


__all__ = ["write_tflite", "write_tflite_bytes", "Tensor"]
