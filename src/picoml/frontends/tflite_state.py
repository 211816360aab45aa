"""Resource variables of a .tflite file lowered to picoml state (issue 15).

TensorFlow's converter (``experimental_enable_resource_variables``) turns a ``tf.Variable`` into
VAR_HANDLE (a RESOURCE tensor naming the variable by container and shared_name), READ_VARIABLE
(a copy of its value), ASSIGN_VARIABLE (a new value) and a CALL_ONCE of an *init subgraph* that
assigns the initial values (tflite-micro: kernels/var_handle.cc, read_variable.cc,
assign_variable.cc, call_once.cc, micro_resource_variable.cc). picoml keeps none of these ops:

- each variable becomes one ``Tensor.variable`` whose ``initial`` value is what the init subgraph
  assigns (the init subgraph must assign constants: refused otherwise);
- a READ_VARIABLE's output is replaced by the variable's value at that point of the call: the
  variable itself (its value when the call started) or, after an ASSIGN_VARIABLE in the same call,
  the assigned tensor;
- the last value assigned to each variable in a call goes to ``Graph.state_updates`` (applied after
  the last op, all values read first) — what tflite-micro computes, since READ_VARIABLE copies.

tflite-micro refuses to read a variable that no assignment gave a value (its buffer is
unallocated); so does picoml, naming it.
"""

from __future__ import annotations

import numpy as np

from picoml.errors import GraphError, ModelFormatError, UnsupportedError
from picoml.graph.ir import Graph, Op, Tensor

RESOURCE_TYPE = 13  # TensorType RESOURCE
CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE = 129, 142, 143, 144
RESOURCE_OPS = {
    CALL_ONCE: "CALL_ONCE",
    VAR_HANDLE: "VAR_HANDLE",
    READ_VARIABLE: "READ_VARIABLE",
    ASSIGN_VARIABLE: "ASSIGN_VARIABLE",
}
_ARITY = {"CALL_ONCE": (0, 0), "VAR_HANDLE": (0, 1), "READ_VARIABLE": (1, 1), "ASSIGN_VARIABLE": (2, 0)}
MAX_VARIABLES = 1024


def read_resource_op(ot, code: int, tensor_list, i: int, where: str) -> Op:
    """One resource op as an ``Op`` whose type is its name (a string: not an IR op) with its options."""
    kind = RESOURCE_OPS[code]
    ins = tensor_list(ot.array(1, "<i4", "inputs"), f"{kind} operator {i} input")
    outs = tensor_list(ot.array(2, "<i4", "outputs"), f"{kind} operator {i} output")
    if (len(ins), len(outs)) != _ARITY[kind]:
        raise ModelFormatError(f"{where}: {kind} operator {i} has {len(ins)} inputs and {len(outs)} outputs")
    opt = ot.table(4, "builtin_options") if ot.u8(3) else None
    attrs: dict[str, object] = {}
    if kind == "VAR_HANDLE":
        attrs = {"container": "", "shared_name": ""}
        if opt is not None:
            attrs = {"container": opt.string(0, "container"), "shared_name": opt.string(1, "shared_name")}
    elif kind == "CALL_ONCE":
        attrs = {"init_subgraph_index": opt.i32(0, 0) if opt is not None else 0}
    return Op(kind, ins, outs, attrs, name=f"{kind.lower()}{i}")


def _handles(ops: list[Op], resources: set[int], tensors: list[Tensor], where: str) -> dict[int, tuple[str, str]]:
    """id(resource tensor) -> (container, shared_name) from the subgraph's VAR_HANDLE ops."""
    index = {id(t): k for k, t in enumerate(tensors)}
    out: dict[int, tuple[str, str]] = {}
    for op in ops:
        if op.type == "VAR_HANDLE":
            t = op.outputs[0]
            if index.get(id(t)) not in resources:
                raise ModelFormatError(f"{where}: VAR_HANDLE output {t.name!r} is not a RESOURCE tensor")
            out[id(t)] = (str(op.attrs["container"]), str(op.attrs["shared_name"]))
    return out


def _key(op: Op, handles: dict[int, tuple[str, str]], where: str) -> tuple[str, str]:
    h = op.inputs[0]
    if h is None or id(h) not in handles:
        raise UnsupportedError(f"{where}: {op.type} reads a resource {getattr(h, 'name', '?')!r} no VAR_HANDLE makes")
    return handles[id(h)]


def _initial_values(read: list[tuple], inits: list[int], where: str) -> dict[tuple[str, str], Tensor]:
    """What the init subgraphs assign: (container, shared_name) -> the constant tensor."""
    out: dict[tuple[str, str], Tensor] = {}
    for k in inits:
        tensors, ops, _, unsupported, _, _, resources = read[k]
        handles = _handles(ops, resources, tensors, where)
        for op in ops:
            if op.type == "VAR_HANDLE":
                continue
            if op.type != "ASSIGN_VARIABLE":
                raise UnsupportedError(
                    f"{where}: init subgraph {k} runs {op.type}; picoml takes init subgraphs that assign constants"
                )
            v = op.inputs[1]
            if v is None or v.data is None:
                raise UnsupportedError(f"{where}: init subgraph {k} assigns a computed value to a variable")
            out[_key(op, handles, where)] = v
        if unsupported:
            raise UnsupportedError(
                f"{where}: init subgraph {k} uses unsupported ops: {', '.join(sorted(set(unsupported)))}"
            )
    return out


def lower_resource_variables(g: Graph, read: list[tuple], where: str) -> None:
    """Replace the resource ops of the main subgraph ``g`` (``read[0]``) by variable tensors and
    state updates; ``read`` holds every subgraph as ``_read_subgraph`` returns it."""
    tensors, ops, _, _, _, _, resources = read[0]
    calls = [op for op in ops if op.type == "CALL_ONCE"]
    inits = [int(op.attrs["init_subgraph_index"]) for op in calls]
    for k in inits:
        if not 0 < k < len(read):
            raise ModelFormatError(f"{where}: CALL_ONCE runs subgraph {k}, the model has {len(read)}")
    others = sorted(set(range(1, len(read))) - set(inits))
    if others:
        raise UnsupportedError(
            f"{where}: model has {len(read)} subgraphs; picoml runs the first and CALL_ONCE init subgraphs "
            f"(subgraph {others[0]} is neither)"
        )
    if not any(isinstance(op.type, str) and op.type in _ARITY for op in ops) and not resources:
        return
    handles = _handles(ops, resources, tensors, where)
    initial = _initial_values(read, inits, where)
    variables: dict[tuple[str, str], Tensor] = {}
    current: dict[tuple[str, str], Tensor] = {}
    subst: dict[int, Tensor] = {}
    names = {t.name for k, t in enumerate(tensors) if k not in resources}

    def variable(key: tuple[str, str], like: Tensor) -> Tensor:
        if key not in variables:
            if len(variables) >= MAX_VARIABLES:
                raise UnsupportedError(f"{where}: more than {MAX_VARIABLES} resource variables")
            name = key[1] or "variable"
            base, n = name, 1
            while name in names:
                name, n = f"{base}#{n}", n + 1
            names.add(name)
            init = initial.get(key)
            v = Tensor(
                name, like.shape, like.dtype, like.scale, like.zero_point, like.quantized_dimension, variable=True
            )
            if init is not None:
                if init.shape != like.shape or init.dtype != like.dtype:
                    raise GraphError(
                        f"{where}: variable {name!r} is initialized as {init.dtype} {list(init.shape)} "
                        f"but used as {like.dtype} {list(like.shape)}"
                    )
                v.initial = np.array(init.data, copy=True)
            variables[key] = v
        v = variables[key]
        if like.shape != v.shape or like.dtype != v.dtype:
            raise GraphError(
                f"{where}: variable {v.name!r} is used as {like.dtype} {list(like.shape)} and {v.dtype} {list(v.shape)}"
            )
        return v

    kept: list[Op] = []
    for op in ops:
        op.inputs = [subst.get(id(t), t) if t is not None else None for t in op.inputs]
        if op.type in ("CALL_ONCE", "VAR_HANDLE"):
            continue
        if op.type == "READ_VARIABLE":
            key, y = _key(op, handles, where), op.outputs[0]
            v = variable(key, y)
            if key not in current and key not in initial:
                raise UnsupportedError(f"{where}: variable {v.name!r} is read before any value is assigned to it")
            subst[id(y)] = current.get(key, v)
            continue
        if op.type == "ASSIGN_VARIABLE":
            key, x = _key(op, handles, where), op.inputs[1]
            assert x is not None
            variable(key, x)
            current[key] = x
            continue
        kept.append(op)
    g.ops = kept
    g.outputs = [subst.get(id(t), t) for t in g.outputs]
    gone = {id(t) for k, t in enumerate(tensors) if k in resources} | set(subst)
    g.tensors = [t for t in tensors if id(t) not in gone] + list(variables.values())
    g.state_updates = [(variables[k], x) for k, x in current.items() if x is not variables[k]]
    if variables:
        g.notes.append(
            f"{len(variables)} resource variable(s) ({', '.join(v.name for v in variables.values())}) read as state"
        )
