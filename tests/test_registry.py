"""The op registry: one ``OpDef`` per ``OpType``, every op-keyed table covers the same ops, and no
module outside ``graph/ops.py`` names an op by a bare string (issue 13: one home per concept).

Each check is a function returning the problems it finds, so the tests below can also prove it
fails: a table with an op dropped or a stray entry added, a duplicated builtin code, a bare
``"CONV_2D"`` in source must each be reported, and reported exactly.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.signal_samples import SIGNAL_OPS, signal_sample

from picoml.codegen import emit_nonlinear as nl
from picoml.codegen import generate as gen
from picoml.compress import qat
from picoml.frontends import tflite_schema as S
from picoml.frontends.tflite import _op_name, read_tflite_bytes
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph.ir import Graph, Op, Tensor
from picoml.graph.ops import (
    ACTIVATIONS,
    BY_CODE,
    OP_SET,
    Activation,
    Int8Output,
    OpDef,
    OpType,
    Weights,
    default_attrs,
)
from picoml.reference import KERNELS
from picoml.reference.compare import COMPARE
from picoml.reference.interpreter import run

SRC = Path(__file__).resolve().parents[1] / "src" / "picoml"

#: ops that run in float32 only (OpDef.int8_kernel False: tflite-micro has no int8 kernel)
FLOAT_ONLY = tuple(op for op in OpType if not OP_SET[op].int8_kernel and op not in SIGNAL_OPS)

#: ops the C generator deliberately does not emit, and why
NOT_GENERATED_IN_C: dict[OpType, str] = {
    OpType.DEQUANTIZE: "generated C is int8 end to end (generate_c refuses float tensors); the caller "
    "dequantizes the output with <NAME>_OUTPUT_SCALE / _ZERO_POINT",
    **{op: "float32 only (no int8 kernel in tflite-micro) and generated C is int8" for op in FLOAT_ONLY},
    OpType.SHAPE: "shapes are static on the device: reference.fold folds SHAPE to a constant at load",
}


#: ops QAT deliberately has no float computation for, and why
NOT_IN_QAT: dict[OpType, str] = {
    OpType.QUANTIZE: "QAT trains float graphs: prepare_float_graph strips boundary QUANTIZE and refuses others",
    OpType.DEQUANTIZE: "QAT trains float graphs: prepare_float_graph strips boundary DEQUANTIZE and refuses others",
    **{op: "float32 only (no int8 kernel in tflite-micro): nothing to fake-quantize" for op in FLOAT_ONLY},
    OpType.SHAPE: "no gradient flows through a shape; reference.fold folds it to a constant at load",
    OpType.ARG_MAX: "its output is an int32 index: nothing to fake-quantize, no gradient",
    OpType.ARG_MIN: "its output is an int32 index: nothing to fake-quantize, no gradient",
    **{
        op: "its output is bool: nothing to fake-quantize, no gradient"
        for op in (*COMPARE, OpType.LOGICAL_AND, OpType.LOGICAL_OR, OpType.LOGICAL_NOT)
    },
    OpType.SELECT_V2: "QAT does not carry bool conditions yet (PTQ quantizes SELECT_V2 graphs)",
    OpType.CAST: "a dtype conversion: nothing to fake-quantize, and int8 CAST ignores quantization",
    OpType.ZEROS_LIKE: "a constant result: no gradient",
    OpType.FILL: "QAT does not train FILL yet (PTQ quantizes it: its output shares the value's parameters)",
    OpType.BROADCAST_TO: "QAT does not train BROADCAST_TO yet (PTQ quantizes it: it copies codes)",
    **{op: "the audio front end (int16 / uint32 / uint64 fixed point, no weights to train)" for op in SIGNAL_OPS},
    OpType.SVDF: "QAT does not train state (variable tensors) yet",
    OpType.UNIDIRECTIONAL_SEQUENCE_LSTM: "QAT does not train state (variable tensors) yet",
}


def op_tables() -> dict[str, tuple[Mapping, Mapping[OpType, str]]]:
    """Every table keyed by op: name -> (table, ops it deliberately lacks -> reason)."""
    return {
        "graph.ops.OP_SET": (OP_SET, {}),
        "reference.KERNELS": (KERNELS, {}),
        "compress.qat.FLOAT_OPS": (qat.FLOAT_OPS, NOT_IN_QAT),
        "codegen.generate.EMITTERS": (gen.EMITTERS, NOT_GENERATED_IN_C),
        "codegen.generate.KERNEL_FILES": (gen.KERNEL_FILES, NOT_GENERATED_IN_C),
    }


#: tables that cover only some ops: name -> (keys, the full table they must agree with)
def partial_tables() -> dict[str, tuple[object, Mapping]]:
    return {
        "codegen.emit_nonlinear.NONLINEAR_EMITTERS": (nl.NONLINEAR_EMITTERS, gen.EMITTERS),
        "codegen.emit_nonlinear.NONLINEAR_FILES": (nl.NONLINEAR_FILES, gen.KERNEL_FILES),
        "codegen.emit_nonlinear.LUT_OPS": (nl.LUT_OPS, gen.EMITTERS),
    }


def registry_problems(tables, partial=None) -> list[str]:
    """What is wrong between the op tables and OpType: missing ops, unknown keys, stale exemptions."""
    ops = set(OpType)
    problems = []
    for name, (table, exempt) in tables.items():
        keys = set(table)
        for op in sorted(ops - keys - set(exempt)):
            problems.append(f"{name}: no entry for {op}")
        for k in sorted(map(str, keys - ops)):
            problems.append(f"{name}: {k} is not an OpType")
        for op in sorted(set(exempt) & keys):
            problems.append(f"{name}: {op} is exempt but has an entry (drop the exemption)")
        for k in sorted(str(k) for k in keys if type(k) is not OpType and k in ops):
            problems.append(f"{name}: key {k!r} is a bare string, not an OpType member")
    for name, (keys, full) in (partial or {}).items():
        for k in sorted(str(k) for k in keys if type(k) is not OpType and k in ops):
            problems.append(f"{name}: key {k!r} is a bare string, not an OpType member")
        for k in sorted(map(str, keys)):
            if k not in ops:
                problems.append(f"{name}: {k} is not an OpType")
            elif k not in full:
                problems.append(f"{name}: {k} is missing from the full table")
    return problems


def builtin_code_problems(defs: Mapping[OpType, OpDef]) -> list[str]:
    """Builtin codes: one per op, unique, not the code of a builtin picoml names as unsupported."""
    problems = []
    seen: dict[int, OpType] = {}
    seen_custom: set[str] = set()
    for op, d in defs.items():
        if d.type != op:
            problems.append(f"{op}: OpDef.type is {d.type}")
        if d.custom_code is not None:  # custom ops share CUSTOM (32): unique by custom_code
            if d.builtin_code != 32 or d.custom_code in seen_custom:
                problems.append(f"{op}: custom op with builtin code {d.builtin_code} / custom code {d.custom_code!r}")
            seen_custom.add(d.custom_code)
            continue
        if d.builtin_code in seen:
            problems.append(f"{op}: builtin code {d.builtin_code} is also {seen[d.builtin_code]}'s")
        seen.setdefault(d.builtin_code, op)
        if d.builtin_code in S.OTHER_BUILTINS and d.custom_code is None:
            problems.append(
                f"{op}: builtin code {d.builtin_code} is {S.OTHER_BUILTINS[d.builtin_code]} in tflite_schema"
            )
    return problems


def fact_problems(defs: Mapping[OpType, OpDef]) -> list[str]:
    """OpDef fields that contradict each other or the op's arity."""
    problems = []
    for op, d in defs.items():
        used = set(d.shape_inputs) | set(d.optional_inputs)
        if d.weights is not None:
            used |= {d.weights.input, d.weights.bias}
            if d.weights.bias not in d.optional_inputs:
                problems.append(f"{op}: the bias input is not optional")
            if len({0, d.weights.input, d.weights.bias}) != 3:
                problems.append(f"{op}: weights, bias and input 0 must be distinct inputs")
        if any(not 0 < i < d.max_inputs for i in used):
            problems.append(f"{op}: weights/bias/shape/optional inputs {sorted(used)} outside 1..{d.max_inputs - 1}")
        if d.shape_inputs & d.optional_inputs:
            problems.append(f"{op}: a shape argument is optional")
        if sum((bool(d.aliases_input), bool(d.in_place), bool(d.streams))) > 1:
            problems.append(f"{op}: aliases_input, in_place and streams exclude each other")
        if d.streams < 0:
            problems.append(f"{op}: streams (output pixels per kernel block) must be >= 0")
        if d.as_activation is not None and d.max_inputs != 1:
            problems.append(f"{op}: an activation op takes one input")
        if d.fuses_activation and "fused_activation" not in {a.name for a in d.attrs}:
            problems.append(f"{op}: fuses_activation without a fused_activation option")
    return problems


def bare_op_strings(source: str) -> list[tuple[int, str]]:
    """(line, value) of every string constant equal to an OpType value, docstrings excepted."""
    tree = ast.parse(source)
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    names = {op.value for op in OpType}
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in names
        and id(node) not in docs
    )


#: where bare op names may appear: the registry itself (everywhere else: OpType members)
SCAN_ALLOWED = (
    "graph/ops.py",  # the registry: OpType's values are defined here
    "graph/optypes.py",  # OpType itself (split out of graph/ops.py to keep the registry under 900 lines)
)


def source_problems(root: Path = SRC, allowed=SCAN_ALLOWED) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if any(rel == a or (a.endswith("/") and rel.startswith(a)) for a in allowed):
            continue
        out += [f"src/picoml/{rel}:{line}: bare {v!r}" for line, v in bare_op_strings(path.read_text())]
    return out


# ============================================================================ the registry holds
def test_every_op_type_is_in_every_op_table():
    assert registry_problems(op_tables(), partial_tables()) == []


def test_exemptions_state_a_reason():
    assert all(reason.strip() for reason in (*NOT_GENERATED_IN_C.values(), *NOT_IN_QAT.values()))


def test_op_holds_the_member_for_a_known_name():
    x, y = Tensor("x", (1, 4)), Tensor("y", (1, 4))
    assert type(Op("RELU", [x], [y]).type) is OpType
    assert Op("RELU", [x], [y]).type == OpType.RELU == "RELU"
    assert type(Op("LSH_PROJECTION", [x], [y]).type) is str  # unknown: left for validate to report


def test_nonlinear_emitters_are_the_generators_own():
    for op, fn in nl.NONLINEAR_EMITTERS.items():
        assert getattr(gen.EMITTERS[op], "__wrapped__", gen.EMITTERS[op]) is fn  # int16 dispatch: emit_s16
        assert gen.KERNEL_FILES[op] == nl.NONLINEAR_FILES[op]
    assert set(nl.NONLINEAR_EMITTERS) == set(nl.NONLINEAR_FILES)


def test_op_type_values_are_their_names():
    # StrEnum members hash and compare as their value; the tables rely on value == name
    assert all(op.name == op.value for op in OpType)
    assert all(a.name == a.value for a in Activation)


def test_builtin_codes_are_unique_and_known():
    assert builtin_code_problems(OP_SET) == []
    builtin = {op for op, d in OP_SET.items() if d.custom_code is None}
    assert {d.type for d in BY_CODE.values()} == builtin and len(BY_CODE) == len(builtin)
    for op, d in OP_SET.items():
        assert _op_name(d.builtin_code, d.custom_code or "") == op


def test_op_facts_are_consistent():
    assert fact_problems(OP_SET) == []


def test_activation_codes_follow_the_schema():
    assert S.ACTIVATION == {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
    assert ACTIVATIONS == tuple(S.ACTIVATION.values())
    assert all(type(a) is str for a in ACTIVATIONS)  # Op.attrs hold plain strings, as the reader stores them


def test_no_bare_op_strings_in_source():
    assert source_problems() == []


# ============================================================================ .tflite round trip
def _f(name, shape, data=None, dtype="float32"):
    return Tensor(name, shape, dtype, data=None if data is None else np.asarray(data, dtype))


def _q(name, shape):
    return Tensor(name, shape, "int8", np.array([0.05], np.float32), np.array([3]))


def sample_op(op: OpType) -> Graph:
    """A small valid float graph of one ``op`` (QUANTIZE / DEQUANTIZE convert to / from int8)."""
    rng = np.random.default_rng(0)

    def const(name, shape):
        return _f(name, shape, rng.standard_normal(shape).astype(np.float32))

    nhwc, vec = _f("x", (1, 4, 4, 2)), _f("x", (1, 4))
    attrs: dict = {}
    consts: list[Tensor] = []
    extra_inputs: list[Tensor] = []
    if op == OpType.CONV_2D:
        x, y = nhwc, _f("y", (1, 4, 4, 3))
        consts = [const("w", (3, 1, 1, 2)), const("b", (3,))]
        attrs = {"stride_h": 1, "stride_w": 1}
    elif op == OpType.DEPTHWISE_CONV_2D:
        x, y = nhwc, _f("y", (1, 4, 4, 2))
        consts = [const("w", (1, 1, 1, 2)), const("b", (2,))]
        attrs = {"stride_h": 1, "stride_w": 1, "depth_multiplier": 1}
    elif op == OpType.FULLY_CONNECTED:
        x, y = vec, _f("y", (1, 3))
        consts = [const("w", (3, 4)), const("b", (3,))]
    elif op in (OpType.AVERAGE_POOL_2D, OpType.MAX_POOL_2D):
        x, y = nhwc, _f("y", (1, 2, 2, 2))
        attrs = {"stride_h": 2, "stride_w": 2, "filter_h": 2, "filter_w": 2, "padding": "VALID"}
    elif op in (
        OpType.ADD,
        OpType.MUL,
        OpType.SUB,
        OpType.MAXIMUM,
        OpType.MINIMUM,
        OpType.SQUARED_DIFFERENCE,
        OpType.DIV,
    ):
        x, y = vec, _f("y", (1, 4))
        extra_inputs = [_f("x2", (1, 4))]
    elif op == OpType.RESHAPE:
        x, y = vec, _f("y", (2, 2))
        consts = [_f("shape", (2,), [2, 2], "int32")]
    elif op == OpType.PAD:
        x, y = vec, _f("y", (1, 6))
        consts = [_f("paddings", (2, 2), [[0, 0], [1, 1]], "int32")]
    elif op == OpType.MEAN:
        x, y = nhwc, _f("y", (1, 2))
        consts = [_f("axes", (2,), [1, 2], "int32")]
    elif op == OpType.CONCATENATION:
        x, y = vec, _f("y", (1, 7))
        extra_inputs = [_f("x2", (1, 3))]
        attrs = {"axis": 1}
    elif op == OpType.SHAPE:
        x, y = nhwc, _f("y", (4,), dtype="int32")
    elif op == OpType.QUANTIZE:
        x, y = vec, _q("y", (1, 4))
    elif op == OpType.DEQUANTIZE:
        x, y = _q("x", (1, 4)), _f("y", (1, 4))
    elif op == OpType.PRELU:
        x, y = vec, _f("y", (1, 4))
        consts = [const("alpha", (4,))]
    elif op == OpType.STRIDED_SLICE:
        x, y = nhwc, _f("y", (1, 2, 4, 1))
        consts = [_f(n, (4,), v, "int32") for n, v in (("b", [0, 3, 0, 1]), ("e", [1, 0, 4, 2]), ("s", [1, -2, 1, 1]))]
        attrs = {"end_mask": 1}
    elif op == OpType.SLICE:
        x, y = nhwc, _f("y", (1, 2, 3, 2))
        consts = [_f("begin", (4,), [0, 1, 1, 0], "int32"), _f("size", (4,), [-1, 2, 3, -1], "int32")]
    elif op in (OpType.SPLIT, OpType.SPLIT_V, OpType.UNPACK):
        x, ys = nhwc, [_f(f"y{k}", (1, 4, 2, 2) if op != OpType.UNPACK else (1, 4, 2)) for k in range(2)]
        if op == OpType.SPLIT_V:
            ys[0], ys[1] = _f("y0", (1, 4, 1, 2)), _f("y1", (1, 4, 3, 2))
            consts = [_f("size_splits", (2,), [1, -1], "int32"), _f("axis", (1,), [2], "int32")]
        elif op == OpType.SPLIT:
            consts = [_f("axis", (), -2, "int32")]
        else:
            x = _f("x", (1, 4, 2, 2))
        attrs = {"num_splits": 2} if op != OpType.UNPACK else {"num": 2, "axis": -1}
        inputs = [x, *consts]
        g = Graph([*inputs, *ys], [Op(op, inputs, ys, {**default_attrs(op), **attrs}, name="op")], [x], ys)
        g.validate()
        return g
    elif op == OpType.PACK:
        x, y = vec, _f("y", (1, 4, 2))
        extra_inputs = [_f("x2", (1, 4))]
        attrs = {"values_count": 2, "axis": -1}
    elif op == OpType.TRANSPOSE:
        x, y = nhwc, _f("y", (2, 4, 1, 4))
        consts = [_f("perm", (4,), [3, 1, 0, 2], "int32")]
    elif op == OpType.SQUEEZE:
        x, y = _f("x", (1, 4, 1, 2)), _f("y", (1, 4, 2))
        attrs = {"squeeze_dims": (2,)}
    elif op == OpType.EXPAND_DIMS:
        x, y = vec, _f("y", (1, 4, 1))
        consts = [_f("axis", (1,), [-1], "int32")]
    elif op in (OpType.RESIZE_NEAREST_NEIGHBOR, OpType.RESIZE_BILINEAR):
        x, y = nhwc, _f("y", (1, 6, 3, 2))
        consts = [_f("size", (2,), [6, 3], "int32")]
        attrs = {"half_pixel_centers": True}
    elif op == OpType.TRANSPOSE_CONV:
        x, y = nhwc, _f("y", (1, 8, 8, 3))
        consts = [const("w", (3, 3, 3, 2)), _f("output_shape", (4,), [1, 8, 8, 3], "int32"), const("b", (3,))]
        attrs = {"stride_h": 2, "stride_w": 2}
    elif op == OpType.DEPTH_TO_SPACE:
        x, y = _f("x", (1, 2, 2, 8)), _f("y", (1, 4, 4, 2))
        attrs = {"block_size": 2}
    elif op == OpType.SPACE_TO_DEPTH:
        x, y = nhwc, _f("y", (1, 2, 2, 8))
        attrs = {"block_size": 2}
    elif op in (OpType.REDUCE_MAX, OpType.REDUCE_MIN, OpType.SUM):
        x, y = nhwc, _f("y", (1, 4, 1, 2))
        consts = [_f("axes", (1,), [-2], "int32")]
        attrs = {"keep_dims": True}
    elif op in (OpType.ARG_MAX, OpType.ARG_MIN):
        x, y = nhwc, _f("y", (1, 4, 4), dtype="int32")
        consts = [_f("axis", (1,), [3], "int32")]
    elif op == OpType.GATHER:
        x, y = nhwc, _f("y", (1, 4, 3, 2))
        consts = [_f("positions", (3,), [3, 0, 3], "int32")]
        attrs = {"axis": -2}
    elif op == OpType.BATCH_MATMUL:
        x, y = nhwc, _f("y", (1, 4, 2, 2))
        extra_inputs = [_f("x2", (4, 4, 2))]
        attrs = {"adj_x": True}
    elif op in COMPARE:
        x, y = vec, _f("y", (2, 4), dtype="bool")
        extra_inputs = [_f("x2", (2, 1))]
    elif op in (OpType.LOGICAL_AND, OpType.LOGICAL_OR, OpType.LOGICAL_NOT):
        x, y = _f("x", (2, 4), dtype="bool"), _f("y", (2, 4), dtype="bool")
        extra_inputs = [] if op == OpType.LOGICAL_NOT else [_f("x2", (4,), dtype="bool")]
    elif op == OpType.SELECT_V2:
        x, y = _f("x", (2, 1), dtype="bool"), _f("y", (2, 4))
        extra_inputs = [_f("x2", (1, 4)), _f("x3", (2, 4))]
    elif op == OpType.CAST:
        x, y = vec, _f("y", (1, 4), dtype="int32")
        attrs = {"in_data_type": 0, "out_data_type": 2}
    elif op == OpType.ZEROS_LIKE:
        x, y = vec, _f("y", (1, 4))
    elif op == OpType.FILL:
        x, y = _f("x", ()), _f("y", (2, 3))
        consts = [_f("dims", (2,), [2, 3], "int32")]
    elif op == OpType.BROADCAST_TO:
        x, y = vec, _f("y", (3, 1, 4))
        consts = [_f("shape", (3,), [3, 1, 4], "int32")]
    elif op == OpType.TILE:
        x, y = vec, _f("y", (2, 8))
        consts = [_f("multiples", (2,), [2, 2], "int32")]
    elif op in (OpType.FLOOR_DIV, OpType.FLOOR_MOD):
        x, y = vec, _f("y", (2, 4))
        extra_inputs = [_f("x2", (2, 1))]
    elif op == OpType.ADD_N:
        x, y = vec, _f("y", (1, 4))
        extra_inputs = [_f("x2", (1, 4)), _f("x3", (1, 4))]
    elif op in (OpType.MIRROR_PAD, OpType.PADV2):
        x, y = nhwc, _f("y", (1, 6, 5, 2))
        consts = [_f("paddings", (4, 2), [[0, 0], [1, 1], [0, 1], [0, 0]], "int32")]
        if op == OpType.PADV2:
            consts.append(_f("constant_values", (), 1.5))
        attrs = {"mode": 1} if op == OpType.MIRROR_PAD else {}
    elif op == OpType.REVERSE_V2:
        x, y = nhwc, _f("y", (1, 4, 4, 2))
        consts = [_f("axis", (2,), [-2, 1], "int32")]
    elif op in (OpType.SPACE_TO_BATCH_ND, OpType.BATCH_TO_SPACE_ND):
        s2b = op == OpType.SPACE_TO_BATCH_ND
        x, y = (nhwc, _f("y", (4, 3, 2, 2))) if s2b else (_f("x", (4, 2, 2, 2)), _f("y", (1, 3, 4, 2)))
        pads = [[1, 1], [0, 0]] if s2b else [[1, 0], [0, 0]]
        consts = [_f("block", (2,), [2, 2], "int32"), _f("pads", (2, 2), pads, "int32")]
    elif op == OpType.CUMSUM:
        x, y = nhwc, _f("y", (1, 4, 4, 2))
        consts = [_f("axis", (1,), [2], "int32")]
        attrs = {"exclusive": True, "reverse": True}
    elif op == OpType.GATHER_ND:
        x, y = nhwc, _f("y", (3, 4, 2))
        consts = [_f("indices", (3, 2), [[0, 1], [0, 3], [0, 0]], "int32")]
    elif op == OpType.EMBEDDING_LOOKUP:
        x, y = _f("x", (5, 4)), _f("y", (3, 4))
        consts = [_f("ids", (3,), [4, 0, 2], "int32")]
    elif op == OpType.L2_POOL_2D:
        x, y = nhwc, _f("y", (1, 2, 2, 2))
        attrs = {"stride_h": 2, "stride_w": 2, "filter_h": 2, "filter_w": 2, "padding": "VALID"}
    elif op == OpType.DETECTION_POSTPROCESS:
        enc, cls = _f("enc", (1, 6, 4)), _f("cls", (1, 6, 3))
        anchors = _f("anchors", (6, 4), np.tile(np.array([0.5, 0.5, 0.2, 0.2], np.float32), (6, 1)))
        ys = [_f("boxes", (1, 3, 4)), _f("classes", (1, 3)), _f("scores", (1, 3)), _f("num", (1,))]
        attrs = {"max_detections": 3, "num_classes": 2, "nms_score_threshold": 0.25, "use_regular_nms": True}
        inputs = [enc, cls, anchors]
        g = Graph([*inputs, *ys], [Op(op, inputs, ys, {**default_attrs(op), **attrs}, name="op")], [enc, cls], ys)
        g.validate()
        return g
    elif op == OpType.GELU:
        x, y = vec, _f("y", (1, 4))
        attrs = {"approximate": True}
    elif op in SIGNAL_OPS:  # branch signal: int16 / uint32 / uint64 graphs (tests/signal_samples.py)
        return signal_sample(op)
    elif op == OpType.UNIDIRECTIONAL_SEQUENCE_LSTM:  # 24 inputs, most absent; two variable tensors
        ins: list = [None] * 24
        ins[0] = _f("x", (1, 2, 4))
        for k in range(1, 9):
            ins[k] = _f(f"w{k}", (3, 4 if k < 5 else 3), np.full((3, 4 if k < 5 else 3), 0.1))
        for k in range(12, 16):
            ins[k] = _f(f"b{k}", (3,), np.zeros(3))
        ins[18], ins[19] = Tensor("h", (1, 3), variable=True), Tensor("c", (1, 3), variable=True)
        y = _f("y", (1, 2, 3))
        attrs = {**default_attrs(op), "activation": "TANH", "cell_clip": 10.0}
        g = Graph([t for t in ins if t is not None] + [y], [Op(op, ins, [y], attrs, name="op")], [ins[0]], [y])
        g.validate()
        return g
    elif op == OpType.SVDF:  # branch state: the state is a variable tensor
        x, y = vec, _f("y", (1, 2))
        consts = [_f("wf", (2, 4), np.ones((2, 4))), _f("wt", (2, 3), np.ones((2, 3))), _f("b", (2,), [0.5, 1])]
        consts.append(Tensor("state", (1, 6), variable=True))
    else:  # SOFTMAX, LOGISTIC, TANH, RELU, RELU6: elementwise on one input
        x, y = vec, _f("y", (1, 4))
        attrs = {"beta": 1.0} if op == OpType.SOFTMAX else {}
    inputs = [x, *extra_inputs, *consts]
    g = Graph([*inputs, y], [Op(op, inputs, [y], {**default_attrs(op), **attrs}, name="op")], [x, *extra_inputs], [y])
    g.validate()
    return g


@pytest.mark.parametrize("op", list(OpType))
def test_every_op_round_trips_through_tflite(op):
    g = sample_op(op)
    data = write_tflite_bytes(g)
    g2 = read_tflite_bytes(data)
    g2.validate()
    assert [o.type for o in g2.ops] == [op] and type(g2.ops[0].type) is OpType
    assert g.diff(g2) == []
    assert write_tflite_bytes(g2) == data


@pytest.mark.parametrize("op", list(OpType))
def test_every_op_runs_in_the_reference(op):
    g = sample_op(op)
    xs = [
        np.zeros((2, *t.shape), np.int8) if t.dtype == "int8" else np.ones((2, *t.shape), t.np_dtype) for t in g.inputs
    ]
    y = run(g, xs if len(xs) > 1 else xs[0])
    assert np.asarray(y[0] if isinstance(y, list) else y).shape == (2, *g.outputs[0].shape)


@pytest.mark.parametrize("op", sorted(qat.FLOAT_OPS))
def test_every_qat_float_op_matches_the_reference(op):
    g = sample_op(op)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((8, *t.shape)).astype(np.float32) for t in g.inputs]
    if op in (OpType.RSQRT, OpType.SQRT):  # defined for positive inputs only
        xs = [np.abs(v) + np.float32(0.1) for v in xs]
    x = xs if len(xs) > 1 else xs[0]
    model = qat.QATModel(g, x)
    model.fake_quant = False
    with torch.no_grad():
        y = model(x)
    ys, refs = (y if isinstance(y, tuple) else (y,)), run(g, x)  # one per output (SPLIT: several)
    refs = refs if isinstance(refs, list) else [refs]
    assert len(ys) == len(refs)
    for a, b in zip(ys, refs, strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-5)


# ============================================================================ the checks can fail
def test_check_reports_an_op_dropped_from_a_table(monkeypatch):
    monkeypatch.delitem(KERNELS, OpType.MEAN)
    assert registry_problems(op_tables(), partial_tables()) == ["reference.KERNELS: no entry for MEAN"]


def test_check_reports_an_op_missing_from_the_generator(monkeypatch):
    monkeypatch.delitem(gen.EMITTERS, OpType.PAD)
    assert registry_problems(op_tables(), partial_tables()) == ["codegen.generate.EMITTERS: no entry for PAD"]


def test_check_reports_an_entry_for_an_unknown_op(monkeypatch):
    monkeypatch.setitem(gen.KERNEL_FILES, "LSH_PROJECTION", ("pm_lsh_s8",))
    assert registry_problems(op_tables(), partial_tables()) == [
        "codegen.generate.KERNEL_FILES: LSH_PROJECTION is not an OpType"
    ]


def test_check_reports_a_stale_exemption(monkeypatch):
    monkeypatch.setitem(gen.EMITTERS, OpType.DEQUANTIZE, lambda c, op, i: None)
    assert registry_problems(op_tables(), partial_tables()) == [
        "codegen.generate.EMITTERS: DEQUANTIZE is exempt but has an entry (drop the exemption)"
    ]


def test_check_reports_a_string_key_in_a_converted_table(monkeypatch):
    kernel = KERNELS[OpType.RELU]
    monkeypatch.delitem(KERNELS, OpType.RELU)
    monkeypatch.setitem(KERNELS, "RELU", kernel)
    assert registry_problems(op_tables(), partial_tables()) == [
        "reference.KERNELS: key 'RELU' is a bare string, not an OpType member"
    ]


def test_check_reports_a_string_key_in_a_codegen_table(monkeypatch):
    monkeypatch.setattr(nl, "LUT_OPS", ("LOGISTIC", OpType.TANH))
    assert registry_problems(op_tables(), partial_tables()) == [
        "codegen.emit_nonlinear.LUT_OPS: key 'LOGISTIC' is a bare string, not an OpType member"
    ]


def test_check_reports_a_partial_table_out_of_step(monkeypatch):
    monkeypatch.setitem(nl.NONLINEAR_EMITTERS, "LSH_PROJECTION", lambda c, op, i: None)
    monkeypatch.delitem(gen.EMITTERS, OpType.TANH)
    tables = {k: v for k, v in op_tables().items() if k != "codegen.generate.EMITTERS"}
    assert registry_problems(tables, partial_tables()) == [
        "codegen.emit_nonlinear.NONLINEAR_EMITTERS: LSH_PROJECTION is not an OpType",
        "codegen.emit_nonlinear.NONLINEAR_EMITTERS: TANH is missing from the full table",
        "codegen.emit_nonlinear.LUT_OPS: TANH is missing from the full table",
    ]


def test_builtin_code_check_reports_a_duplicate():
    defs = dict(OP_SET)
    defs[OpType.MUL] = OpDef(**{**vars(OP_SET[OpType.MUL]), "builtin_code": OP_SET[OpType.ADD].builtin_code})
    assert builtin_code_problems(defs) == ["MUL: builtin code 0 is also ADD's"]


def test_fact_check_reports_a_required_bias():
    defs = {OpType.CONV_2D: OpDef(**{**vars(OP_SET[OpType.CONV_2D]), "optional_inputs": frozenset()})}
    assert fact_problems(defs) == ["CONV_2D: the bias input is not optional"]
    bad = Weights(input=1, axis=0, bias=5)
    defs = {OpType.FULLY_CONNECTED: OpDef(**{**vars(OP_SET[OpType.FULLY_CONNECTED]), "weights": bad})}
    assert fact_problems(defs) == [
        "FULLY_CONNECTED: the bias input is not optional",
        "FULLY_CONNECTED: weights/bias/shape/optional inputs [1, 2, 5] outside 1..2",
    ]


def test_op_def_refuses_fixed_parameters_without_the_fixed_rule():
    with pytest.raises(AssertionError, match="fixed_qparams"):
        OpDef(**{**vars(OP_SET[OpType.SOFTMAX]), "int8_output": Int8Output.FREE})


def test_source_scan_reports_a_bare_op_string(tmp_path):
    src = '''"""Module doc naming CONV_2D is fine."""


def f(op):
    """A docstring "CONV_2D" is fine too."""
    msg = f"{op.label}: CONV_2D needs weights"  # part of a longer string: fine
    return op.type == "CONV_2D" or op.type in ("MEAN", OpType.PAD), msg
'''
    assert bare_op_strings(src) == [(7, "CONV_2D"), (7, "MEAN")]
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "m.py").write_text(src)
    (tmp_path / "m.py").write_text(src)
    assert source_problems(tmp_path, allowed=("ok/",)) == [
        "src/picoml/m.py:7: bare 'CONV_2D'",
        "src/picoml/m.py:7: bare 'MEAN'",
    ]
