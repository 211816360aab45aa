""".tflite reader: a bounds-checked FlatBuffers walk of TFLite's schema into a Graph.

Written by hand instead of with generated accessors so that a truncated or corrupted file
always ends in one ModelFormatError naming what is broken — never an IndexError,
struct.error, a gigantic allocation or a hang. Every offset and length is checked against
the buffer before it is used, and the walk is a fixed-depth tree (no recursion on data).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
from flatbuffers import flexbuffers

from picoml.errors import ModelFormatError, PicomlError, UnsupportedError
from picoml.frontends import tflite_schema as S
from picoml.frontends.tflite_state import RESOURCE_OPS, RESOURCE_TYPE, lower_resource_variables, read_resource_op
from picoml.graph.extra_ops import MAX_ANCHORS, detection_count
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.limits import DEFAULT_MAX_MEMORY, MAX_OPS, MAX_TENSORS, check_memory
from picoml.graph.ops import BY_CODE, OP_SET, OpDef, OpType, infer_output_shapes
from picoml.reference.fold import fold_constants
from picoml.untrusted import for_terminal, read_model_file

MAX_RANK = 8  # well above the ranks TFLite's kernels handle; guards messages against corrupted shapes
MAX_SUBGRAPHS = 1024  # the first is the model; others only as CALL_ONCE init subgraphs (tflite_state)
MAX_OP_TENSORS = 1024  # inputs or outputs of one operator

_U8 = struct.Struct("<B")
_I8 = struct.Struct("<b")
_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_F32 = struct.Struct("<f")
_I64 = struct.Struct("<q")


class _Buf:
    """Bounds-checked FlatBuffers primitives over one bytes object."""

    def __init__(self, data: bytes, where: str) -> None:
        self.b = data
        self.n = len(data)
        self.where = where

    def fail(self, what: str) -> ModelFormatError:
        return ModelFormatError(f"{self.where}: corrupted model: {what}")

    def _get(self, st: struct.Struct, pos: int, what: str):
        if pos < 0 or pos + st.size > self.n:
            raise self.fail(f"{what} at byte {pos} lies outside the {self.n}-byte file")
        return st.unpack_from(self.b, pos)[0]

    def table(self, pos: int, what: str) -> _Table:
        vt = pos - self._get(_I32, pos, what)
        vsize = self._get(_U16, vt, what)
        if vsize < 4 or vsize % 2 or vt + vsize > self.n:
            raise self.fail(f"{what} has a bad vtable")
        tsize = self._get(_U16, vt + 2, what)
        if pos + tsize > self.n:
            raise self.fail(f"{what} runs past the end of the file")
        return _Table(self, pos, vt, vsize, tsize, what)

    def deref(self, pos: int, what: str) -> int:
        return pos + self._get(_U32, pos, what)

    def vector(self, pos: int, elem: int, what: str) -> tuple[int, int]:
        """(start, count) of the vector whose length word is at pos."""
        count = self._get(_U32, pos, what)
        start = pos + 4
        if start + count * elem > self.n:
            raise self.fail(f"{what} claims {count} elements, more than the file holds")
        return start, count


class _Table:
    def __init__(self, buf: _Buf, pos: int, vt: int, vsize: int, tsize: int, what: str) -> None:
        self.buf, self.pos, self.vt, self.vsize, self.tsize, self.what = buf, pos, vt, vsize, tsize, what

    def _field(self, slot: int) -> int:
        o = 4 + 2 * slot
        if o + 2 > self.vsize:
            return 0
        off = self.buf._get(_U16, self.vt + o, self.what)
        if off and off >= self.tsize:
            raise self.buf.fail(f"{self.what} field {slot} lies outside its table")
        return off

    def has(self, slot: int) -> bool:
        return self._field(slot) != 0

    def scalar(self, slot: int, st: struct.Struct, default):
        off = self._field(slot)
        return default if off == 0 else self.buf._get(st, self.pos + off, self.what)

    def u8(self, slot: int, default: int = 0) -> int:
        return self.scalar(slot, _U8, default)

    def i8(self, slot: int, default: int = 0) -> int:
        return self.scalar(slot, _I8, default)

    def i32(self, slot: int, default: int = 0) -> int:
        return self.scalar(slot, _I32, default)

    def u32(self, slot: int, default: int = 0) -> int:
        return self.scalar(slot, _U32, default)

    def f32(self, slot: int, default: float = 0.0) -> float:
        return self.scalar(slot, _F32, default)

    def i64(self, slot: int, default: int = 0) -> int:
        return self.scalar(slot, _I64, default)

    def ref(self, slot: int, what: str) -> int | None:
        off = self._field(slot)
        return None if off == 0 else self.buf.deref(self.pos + off, f"{self.what}.{what}")

    def table(self, slot: int, what: str) -> _Table | None:
        p = self.ref(slot, what)
        return None if p is None else self.buf.table(p, f"{self.what}.{what}")

    def array(self, slot: int, dtype: str, what: str) -> np.ndarray | None:
        p = self.ref(slot, what)
        if p is None:
            return None
        dt = np.dtype(dtype)
        start, count = self.buf.vector(p, dt.itemsize, f"{self.what}.{what}")
        return np.frombuffer(self.buf.b, dt, count, start).copy()

    def string(self, slot: int, what: str) -> str:
        p = self.ref(slot, what)
        if p is None:
            return ""
        start, count = self.buf.vector(p, 1, f"{self.what}.{what}")
        return self.buf.b[start : start + count].decode("utf-8", errors="replace")

    def tables(self, slot: int, what: str, limit: int) -> list[_Table]:
        p = self.ref(slot, what)
        if p is None:
            return []
        start, count = self.buf.vector(p, 4, f"{self.what}.{what}")
        if count > limit:  # before building a Python object per entry
            raise UnsupportedError(f"{self.buf.where}: the model has {count:,} {what}; picoml handles up to {limit:,}")
        return [self.buf.table(self.buf.deref(start + 4 * i, what), f"{what}[{i}]") for i in range(count)]


def _read_attrs(d: OpDef, opt: _Table | None, where: str) -> dict[str, object]:
    attrs: dict[str, object] = {}
    for a in d.attrs:
        if opt is None:
            attrs[a.name] = a.default
            continue
        if a.kind == "i32":
            v: object = opt.i32(a.slot, a.default)
        elif a.kind == "i8":
            v = opt.i8(a.slot, a.default)
        elif a.kind == "bool":
            v = bool(opt.u8(a.slot, int(a.default)))
        elif a.kind == "f32":
            v = float(opt.f32(a.slot, a.default))
        elif a.kind == "pad":
            code = opt.i8(a.slot, 0)
            if code not in S.PADDING:
                raise ModelFormatError(f"{where}: unknown padding code {code}")
            v = S.PADDING[code]
        elif a.kind == "act":
            code = opt.i8(a.slot, 0)
            if code not in S.ACTIVATION:
                raise ModelFormatError(f"{where}: unknown fused activation code {code}")
            v = S.ACTIVATION[code]
        elif a.kind == "i32[]":
            arr = opt.array(a.slot, "<i4", a.name)
            v = None if arr is None else tuple(int(x) for x in arr)
        else:  # pragma: no cover - spec table is closed
            raise AssertionError(a.kind)
        attrs[a.name] = v
    return attrs


#: custom ops picoml runs, by OperatorCode.custom_code (DETECTION_POSTPROCESS)
CUSTOM_OPS: dict[str, OpDef] = {d.custom_code: d for d in OP_SET.values() if d.custom_code}


def _read_custom_attrs(d: OpDef, raw: np.ndarray | None, label: str) -> dict[str, object]:
    """A custom op's options: a flexbuffer map (absent keys take the defaults, as tflite-micro's Init)."""
    m: object = {}
    if raw is not None and raw.size:
        try:
            m = flexbuffers.Loads(bytes(raw))
        except Exception as e:  # noqa: BLE001 - untrusted bytes: any decoding failure is a format error
            raise ModelFormatError(f"{label}: custom options are not a flexbuffer map ({type(e).__name__})") from None
    if not isinstance(m, dict):
        raise ModelFormatError(f"{label}: custom options are not a flexbuffer map")
    assert isinstance(m, dict)
    if d.attrs and all(a.default is None for a in d.attrs):  # read by position in tflite-micro (signal ops)
        extra, missing = sorted(set(m) - {a.name for a in d.attrs}), [a.name for a in d.attrs if a.name not in m]
        if extra or missing:
            raise ModelFormatError(
                f"{label}: custom options {sorted(m)} must be exactly {sorted(a.name for a in d.attrs)} "
                "(tflite-micro reads them by position)"
            )
    attrs: dict[str, object] = {}
    for a in d.attrs:
        v = m.get(a.name, a.default)
        ok = isinstance(v, (bool, int, float)) and (a.kind != "flex_i" or not isinstance(v, float))
        if not ok or (isinstance(v, float) and not math.isfinite(v)):
            raise ModelFormatError(f"{label}: custom option {a.name!r} is {v!r}")
        if a.kind == "flex_i" and not -(2**31) <= int(v) < 2**31:
            raise ModelFormatError(f"{label}: custom option {a.name!r} = {v} does not fit int32")
        attrs[a.name] = bool(v) if a.kind == "flex_b" else int(v) if a.kind == "flex_i" else float(np.float32(v))
    return attrs


def _op_name(code: int, custom: str) -> str:
    if code == 32 and custom in CUSTOM_OPS:
        return CUSTOM_OPS[custom].type
    if code == 32:  # repr: the name comes from the file and may hold line breaks (error messages are one line)
        return f"CUSTOM({custom!r})" if custom else "CUSTOM"
    if code in BY_CODE:
        return BY_CODE[code].type
    return S.OTHER_BUILTINS.get(code, f"BUILTIN_{code}")


SELECT_V1_CODE = 64  # SELECT (v1): read as SELECT_V2, which tflite-micro and picoml run


def _select_v1(inputs: list[Tensor | None], outputs: list[Tensor], label: str, tensors: list[Tensor]) -> list[Op]:
    """SELECT (v1) as SELECT_V2 (LiteRT's select.cc rules): x and y of one shape, and a condition
    of that shape, a scalar (picks x or y whole) or rank 1 with x's first dimension (picks whole
    slices along axis 0: read as the condition reshaped to [N, 1, ..., 1], which SELECT_V2
    broadcasts). Anything else is refused, as LiteRT's Prepare fails on it."""
    if len(inputs) != 3 or len(outputs) != 1 or any(t is None for t in inputs):
        raise ModelFormatError(f"{label}: has {len(inputs)} inputs and {len(outputs)} outputs, expected 3 and 1")
    cond, x, y = inputs[0], inputs[1], inputs[2]
    assert cond is not None and x is not None and y is not None  # checked above
    if x.shape != y.shape:
        raise UnsupportedError(
            f"{label}: x {x.name!r} {list(x.shape)} and y {y.name!r} {list(y.shape)} differ in shape "
            "(SELECT v1 does not broadcast them)"
        )
    if cond.shape == x.shape or len(cond.shape) == 0:
        return [Op(OpType.SELECT_V2, [cond, x, y], outputs, {}, name=outputs[0].name)]
    if len(cond.shape) != 1 or len(x.shape) < 2 or cond.shape[0] != x.shape[0]:
        raise UnsupportedError(
            f"{label}: condition {cond.name!r} {list(cond.shape)} must have x's shape {list(x.shape)}, be a "
            "scalar, or be rank 1 with x's first dimension"
        )
    names = {t.name for t in tensors}
    base = f"{cond.name}/select_rows"
    name = next(n for n in (base if k == 0 else f"{base}#{k}" for k in range(len(names) + 1)) if n not in names)
    rows = (cond.shape[0],) + (1,) * (len(x.shape) - 1)
    shape = Tensor(name + "/shape", (len(rows),), "int32", data=np.array(rows, np.int32))
    cond_rows = Tensor(name, rows, "bool")
    tensors += [shape, cond_rows]
    return [
        Op(OpType.RESHAPE, [cond, shape], [cond_rows], {"new_shape": None}, name=name),
        Op(OpType.SELECT_V2, [cond_rows, x, y], outputs, {}, name=outputs[0].name),
    ]


def _static_detection_outputs(g: Graph, notes: list[str]) -> None:
    """The TF converter leaves DETECTION_POSTPROCESS outputs dynamic (stored shape []); their shapes
    follow from the op's attributes (boxes [1, D, 4], classes and scores [1, D], count [1], D =
    max_detections · max_classes_per_detection), as LiteRT's Prepare resizes them. Set those, and the
    shapes of the ops after them whose stored output shape is [] as well (the QUANTIZE of an int8
    file), by shape inference. A stored static shape is kept: validate refuses one that contradicts
    the attributes."""
    resolved: set[int] = set()
    for op in g.ops:
        if op.type == OpType.DETECTION_POSTPROCESS and len(op.outputs) == 4:
            mx, per = (op.attrs.get(k, 0) for k in ("max_detections", "max_classes_per_detection"))
            if not (0 < int(mx) <= MAX_ANCHORS and 0 < int(per) <= MAX_ANCHORS):  # validate names the attribute
                continue
            d = detection_count(op)
            shapes = [(1, d, 4), (1, d), (1, d), (1,)]
        elif any(t is not None and id(t) in resolved for t in op.inputs):
            try:
                shapes = infer_output_shapes(op)
            except PicomlError:
                continue  # validate reports it
        else:
            continue
        made = []
        for t, shape in zip(op.outputs, shapes, strict=False):
            if t is not None and t.shape == () and shape != ():
                t.shape = tuple(shape)
                resolved.add(id(t))
                made.append(str(list(shape)))
        if made:
            how = "its attributes (as LiteRT resizes them)" if op.type == OpType.DETECTION_POSTPROCESS else "its input"
            notes.append(
                f"{op.type} {op.name!r}: dynamic output shapes in the file; static {', '.join(made)} from {how}"
            )


def _read_subgraph(sg: _Table, buffers: list, opcodes: list, where: str) -> tuple:
    """(tensors, ops, notes, unsupported op names, inputs, outputs, resource tensor indices) of one subgraph."""
    resources: set[int] = set()
    tensors: list[Tensor] = []
    seen: dict[str, int] = {}
    for i, tt in enumerate(sg.tables(S.SG_TENSORS, "tensors", MAX_TENSORS)):
        name = tt.string(S.T_NAME, "name") or f"tensor_{i}"
        if name in seen:
            name = f"{name}#{i}"
        seen[name] = i
        code = tt.i8(S.T_TYPE)
        if code == RESOURCE_TYPE:  # a resource variable's handle: lowered by tflite_state
            resources.add(i)
            tensors.append(Tensor(name, (), "int32"))
            continue
        if code not in S.TENSOR_TYPES:
            raise UnsupportedError(
                f"{where}: tensor {name!r} has type {S.TENSOR_TYPE_NAMES.get(code, code)}, which picoml does not support"
            )
        dtype = S.TENSOR_TYPES[code]
        shape_arr = tt.array(S.T_SHAPE, "<i4", "shape")
        shape = tuple(int(d) for d in shape_arr) if shape_arr is not None else ()
        if len(shape) > MAX_RANK:  # before printing the shape: a corrupted one can hold thousands of dims
            raise UnsupportedError(f"{where}: tensor {name!r} has rank {len(shape)}; picoml supports up to {MAX_RANK}")
        if any(d < 0 for d in shape):
            raise UnsupportedError(f"{where}: tensor {name!r} has a dynamic shape {list(shape)}")
        variable = bool(tt.u8(S.T_IS_VARIABLE))
        if tt.has(S.T_SPARSITY):
            raise UnsupportedError(f"{where}: tensor {name!r} uses TFLite sparsity, which picoml does not read")
        scale = np.zeros(0, np.float32)
        zp = np.zeros(0, np.int64)
        qdim = 0
        q = tt.table(S.T_QUANT, "quantization")
        if q is not None:
            s = q.array(S.Q_SCALE, "<f4", "scale")
            z = q.array(S.Q_ZERO_POINT, "<i8", "zero_point")
            if s is not None and s.size:
                scale = s
                zp = z if z is not None and z.size else np.zeros(s.size, np.int64)
                qdim = q.i32(S.Q_QUANTIZED_DIMENSION)
                if zp.size != scale.size:
                    if zp.size == 1:
                        zp = np.full(scale.size, zp[0], np.int64)
                    else:
                        raise ModelFormatError(
                            f"{where}: tensor {name!r} has {scale.size} scales but {zp.size} zero points"
                        )
                if len(shape) == 1 and scale.size > 1 and shape[0] == scale.size:
                    # a 1-D tensor's per-axis scales can only run along its one axis, whatever axis
                    # the file states: converters copy the weights' (3 for a depthwise bias, as in
                    # tflite-micro's person-detection model) and tflite-micro reads a bias's
                    # scales by their count. Anything else inconsistent is refused by validate.
                    qdim = 0
        bidx = tt.u32(S.T_BUFFER)
        if bidx >= max(len(buffers), 1) and bidx != 0:
            raise ModelFormatError(f"{where}: tensor {name!r} refers to buffer {bidx}, the model has {len(buffers)}")
        raw = buffers[bidx] if bidx < len(buffers) else None
        t = Tensor(name, shape, dtype, scale, zp, qdim, variable=variable)
        if raw is not None and variable:
            raise UnsupportedError(
                f"{where}: variable tensor {name!r} has data in its buffer; picoml starts state at zero"
            )
        if raw is not None:
            # Exact Python ints: Tensor.nbytes (a numpy int64 product) wraps for shapes like
            # [11806113, 409891, 7623851] and then matched a 4-byte buffer (found by tests/test_fuzz.py).
            nbytes = math.prod(shape) * t.np_dtype.itemsize
            if raw.size != nbytes:
                raise ModelFormatError(
                    f"{where}: tensor {name!r} needs {nbytes} bytes of data, its buffer {bidx} has {raw.size}"
                )
            t.data = raw.view(t.np_dtype).reshape(shape).copy()
            if t.dtype == "bool":  # a byte other than 0 / 1 is true (C's bool conversion)
                t.data = raw.view(np.uint8).reshape(shape) != 0
        tensors.append(t)

    def tensor_list(arr: np.ndarray | None, what: str, allow_missing: bool = False) -> list[Tensor | None]:
        out: list[Tensor | None] = []
        if arr is not None and arr.size > MAX_OP_TENSORS and not what.startswith("subgraph"):
            raise UnsupportedError(
                f"{where}: {what} list has {arr.size:,} entries; picoml handles up to {MAX_OP_TENSORS}"
            )
        for v in [] if arr is None else arr.tolist():
            if v == -1 and allow_missing:
                out.append(None)
            elif 0 <= v < len(tensors):
                out.append(tensors[v])
            else:
                raise ModelFormatError(f"{where}: {what} refers to tensor {v}, the model has {len(tensors)}")
        return out

    ops: list[Op] = []
    notes: list[str] = []
    unsupported: list[str] = []
    for i, ot in enumerate(sg.tables(S.SG_OPERATORS, "operators", MAX_OPS)):
        idx = ot.u32(S.OP_OPCODE_INDEX)
        if idx >= len(opcodes):
            raise ModelFormatError(f"{where}: operator {i} uses opcode {idx}, the model has {len(opcodes)}")
        code, custom = opcodes[idx]
        if code == SELECT_V1_CODE:
            ins = tensor_list(ot.array(S.OP_INPUTS, "<i4", "inputs"), f"SELECT operator {i} input", True)
            outs = tensor_list(ot.array(S.OP_OUTPUTS, "<i4", "outputs"), f"SELECT operator {i} output")
            name = outs[0].name if outs and outs[0] is not None else f"op{i}"
            ops += _select_v1(ins, outs, f"{where}: SELECT {name!r}", tensors)  # type: ignore[arg-type]
            notes.append(f"SELECT {name!r} (builtin v1) is read as SELECT_V2 (and written so)")
            continue
        if code in RESOURCE_OPS:  # VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE, CALL_ONCE: tflite_state lowers them
            ops.append(read_resource_op(ot, code, tensor_list, i, where))
            continue
        d = CUSTOM_OPS.get(custom) if code == 32 else BY_CODE.get(code)
        if d is None:
            unsupported.append(_op_name(code, custom))
            continue
        label = f"{where}: operator {i} ({d.type})"
        inputs = tensor_list(ot.array(S.OP_INPUTS, "<i4", "inputs"), f"{d.type} operator {i} input", True)
        if d.tflite_inputs is not None and sorted(d.tflite_inputs[: len(inputs)]) == list(range(len(inputs))):
            ir_inputs: list[Tensor | None] = [None] * len(inputs)
            for k, j in enumerate(d.tflite_inputs[: len(inputs)]):  # file input k is IR input j
                ir_inputs[j] = inputs[k]
            inputs = ir_inputs
        outputs = tensor_list(ot.array(S.OP_OUTPUTS, "<i4", "outputs"), f"{d.type} operator {i} output")
        otype = ot.u8(S.OP_OPTIONS_TYPE)
        opt = None
        if otype:
            if otype != d.options_type:
                raise ModelFormatError(f"{label}: options of type {otype}, expected {d.options_type}")
            opt = ot.table(S.OP_OPTIONS, "builtin_options")
        if d.custom_code is not None:
            attrs = _read_custom_attrs(d, ot.array(S.OP_CUSTOM_OPTIONS, "u1", "custom_options"), label)
        else:
            attrs = _read_attrs(d, opt, label)
        name = outputs[0].name if outputs and outputs[0] is not None else f"op{i}"
        ops.append(Op(d.type, inputs, outputs, attrs, name=name))
    inputs = tensor_list(sg.array(S.SG_INPUTS, "<i4", "inputs"), "subgraph input")
    outputs = tensor_list(sg.array(S.SG_OUTPUTS, "<i4", "outputs"), "subgraph output")
    return tensors, ops, notes, unsupported, inputs, outputs, resources


def _drop_intermediates(g: Graph, sg: _Table, tensors: list[Tensor], where: str) -> None:
    """Forget the tensors operators list as ``intermediates`` (TFLite's converter gives an int8
    UNIDIRECTIONAL_SEQUENCE_LSTM five, for LiteRT's kernel; tflite-micro's reads none) when no op
    reads or writes them."""
    idx: set[int] = set()
    for ot in sg.tables(S.SG_OPERATORS, "operators", MAX_OPS):
        arr = ot.array(S.OP_INTERMEDIATES, "<i4", "intermediates")
        if arr is not None:
            if arr.size > MAX_OP_TENSORS:
                raise UnsupportedError(f"{where}: an intermediates list has {arr.size:,} entries")
            idx.update(int(v) for v in arr.tolist() if 0 <= v < len(tensors))
    if not idx:
        return
    used = {id(t) for op in g.ops for t in (*op.inputs, *op.outputs) if t is not None}
    used |= {id(t) for t in (*g.inputs, *g.outputs)}
    drop = {id(tensors[k]) for k in idx} - used
    if drop:
        g.tensors = [t for t in g.tensors if id(t) not in drop]
        g.notes.append(f"{len(drop)} intermediate tensor(s) of the file ignored (tflite-micro reads none)")


def read_tflite_bytes(data: bytes, where: str = "<bytes>") -> Graph:
    """Parse a .tflite flatbuffer into a Graph (not yet validated)."""
    if len(data) < 8:
        raise ModelFormatError(f"{where}: not a .tflite model (only {len(data)} bytes)")
    if data[4:8] != S.FILE_IDENTIFIER:
        raise ModelFormatError(f"{where}: not a .tflite model (file identifier {data[4:8]!r}, expected b'TFL3')")
    buf = _Buf(data, where)
    model = buf.table(buf.deref(0, "root"), "model")
    version = model.u32(S.MODEL_VERSION)
    if version != S.SCHEMA_VERSION:
        raise UnsupportedError(f"{where}: schema version {version} is not supported (expected {S.SCHEMA_VERSION})")

    opcodes = []
    for oc in model.tables(S.MODEL_OPERATOR_CODES, "operator_codes", MAX_OPS):
        code = max(oc.i8(S.OPCODE_DEPRECATED_BUILTIN), oc.i32(S.OPCODE_BUILTIN))
        opcodes.append((code, oc.string(S.OPCODE_CUSTOM, "custom_code")))

    buffers: list[np.ndarray | None] = []
    for i, bt in enumerate(model.tables(S.MODEL_BUFFERS, "buffers", MAX_TENSORS + 1)):
        arr = bt.array(S.B_DATA, "u1", f"buffers[{i}].data")
        off, size = bt.i64(S.B_OFFSET), bt.i64(S.B_SIZE)
        if (arr is None or arr.size == 0) and off > 1:
            if off < 0 or size < 0 or off + size > len(data):
                raise buf.fail(f"buffers[{i}] points outside the file")
            arr = np.frombuffer(data, np.uint8, size, off).copy()
        buffers.append(arr if arr is not None and arr.size else None)

    subgraphs = model.tables(S.MODEL_SUBGRAPHS, "subgraphs", MAX_SUBGRAPHS)
    if not subgraphs:
        raise ModelFormatError(f"{where}: model has no subgraph")
    read = [_read_subgraph(sg, buffers, opcodes, where) for sg in subgraphs]
    tensors, ops, notes, unsupported = read[0][:4]
    sg = subgraphs[0]
    if unsupported:
        names = ", ".join(sorted(set(unsupported)))
        raise UnsupportedError(f"{where}: unsupported ops: {names}")

    g = Graph(
        tensors,
        ops,
        read[0][4],
        read[0][5],
        name=sg.string(S.SG_NAME, "name"),
        description=model.string(S.MODEL_DESCRIPTION, "description"),
    )
    _static_detection_outputs(g, notes)
    g.notes = notes
    lower_resource_variables(g, read, where)
    _drop_intermediates(g, sg, read[0][0], where)
    for op in g.ops:
        if any(t is None for t in op.outputs):
            raise ModelFormatError(f"{where}: {op.label} has a missing output")
    return g


def read_tflite(path: str | Path, max_memory: int | None = None) -> Graph:
    """Read and validate a .tflite file: a regular file of at most ``max_memory`` bytes whose
    graph needs at most ``max_memory`` bytes (``picoml.graph.limits``; default 256 MiB)."""
    p = Path(path)
    limit = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    where = for_terminal(p)
    data = read_model_file(p, limit)
    g = read_tflite_bytes(data, where)
    try:
        g.validate()
    except PicomlError as e:
        raise type(e)(f"{where}: {e}") from None
    check_memory(g, limit, where)
    try:
        fold_constants(g)  # shape arithmetic of variable-batch exports: static on the device
    except PicomlError as e:
        raise type(e)(f"{where}: {e}") from None
    return g
