"""Shape inference and dtype rules of SVDF (builtin 27, SVDFOptions; issue 15).

Inputs as tflite-micro's ``kernels/svdf_common.cc`` PrepareSvdf: x [batch, input_size],
weights_feature [num_filters, input_size], weights_time [num_filters, memory_size], bias
[num_units] (optional in float; tflite-micro's int8 Prepare reads its scale, so picoml needs it
there), activation_state [batch, memory_size · num_filters], a *variable* tensor the op rewrites
every call (``OpDef.state_inputs``); output [batch, num_units], num_units = num_filters / rank.

int8 (tflite-micro's integer SVDF): int8 input, feature weights and output; time weights and
state both int16 or both int8 (int16 here is only SVDF's own state and weights: branch ``i16``
makes int16 activations first-class); int32 bias whose scale is state_scale · time_scale within
1e-5 (Prepare's check). tflite-micro ignores ``fused_activation`` on this path (its output is
only clamped to int8); picoml does the same. Hybrid SVDF (float input, int8 weights) is refused.
"""

from __future__ import annotations

from picoml.errors import GraphError, UnsupportedError

MAX_MEMORY_SIZE = 1 << 16


def svdf_dims(op) -> tuple[int, int, int, int, int, int]:
    """(batch, input_size, num_filters, num_units, memory_size, rank), checked as PrepareSvdf does."""
    x, wf, wt = op.inputs[0], op.inputs[1], op.inputs[2]
    bias = op.inputs[3] if len(op.inputs) > 3 else None
    state = op.inputs[4] if len(op.inputs) > 4 else None
    for t, what in ((x, "input"), (wf, "weights_feature"), (wt, "weights_time"), (state, "activation_state")):
        if t is None or len(t.shape) != 2:
            raise GraphError(f"{op.label}: {what} must be rank 2")
    batch, n_in = x.shape
    n_filter, m = wt.shape
    rank = int(op.attrs["rank"])
    if rank < 1 or n_filter % rank:
        raise GraphError(f"{op.label}: rank {rank} does not divide the {n_filter} filters")
    if wf.shape != (n_filter, n_in):
        raise GraphError(f"{op.label}: weights_feature {list(wf.shape)} must be [{n_filter}, {n_in}]")
    if not 1 <= m <= MAX_MEMORY_SIZE:
        raise UnsupportedError(f"{op.label}: memory size {m} outside 1..{MAX_MEMORY_SIZE}")
    if state.shape != (batch, m * n_filter):
        raise GraphError(f"{op.label}: activation_state {list(state.shape)} must be [{batch}, {m * n_filter}]")
    n_unit = n_filter // rank
    if bias is not None and bias.shape != (n_unit,):
        raise GraphError(f"{op.label}: bias {list(bias.shape)} must be [{n_unit}]")
    return batch, n_in, n_filter, n_unit, m, rank


def infer_svdf(op) -> list[tuple[int, ...]]:
    batch, _, _, n_unit, _, _ = svdf_dims(op)
    return [(batch, n_unit)]


def check_svdf(op) -> None:
    x, wf, wt, y = op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]
    bias = op.inputs[3] if len(op.inputs) > 3 else None
    state = op.inputs[4]
    for t, what in ((wf, "weights_feature"), (wt, "weights_time"), (bias, "bias")):
        if t is not None and t.data is None:
            raise UnsupportedError(f"{op.label}: {what} {t.name!r} must be constant")
    if x.dtype == "float32":
        for t in (wf, wt, bias, state, y):
            if t is not None and t.dtype != "float32":
                raise UnsupportedError(
                    f"{op.label}: {t.name!r} is {t.dtype}; float SVDF is float32 throughout (hybrid is not supported)"
                )
        return
    if x.dtype != "int8":
        raise UnsupportedError(f"{op.label}: input {x.name!r} is {x.dtype}; SVDF takes float32 or int8")
    want = {
        "weights_feature": (wf, ("int8",)),
        "weights_time": (wt, ("int16", "int8")),
        "activation_state": (state, ("int16", "int8")),
        "output": (y, ("int8",)),
    }
    for what, (t, dts) in want.items():
        if t.dtype not in dts:
            raise UnsupportedError(f"{op.label}: {what} {t.name!r} is {t.dtype}; int8 SVDF needs {' or '.join(dts)}")
    if bias is None or bias.dtype != "int32":
        raise UnsupportedError(f"{op.label}: int8 SVDF needs an int32 bias (tflite-micro's Prepare reads its scale)")
    for t in (x, wf, wt, state, y, bias):
        if not t.quantized or t.per_axis:
            raise GraphError(f"{op.label}: {t.name!r} needs per-tensor quantization")
    if abs(float(bias.scale[0]) - float(state.scale[0]) * float(wt.scale[0])) >= 1e-5:
        raise UnsupportedError(
            f"{op.label}: bias scale {float(bias.scale[0]):g} must equal activation_state scale × weights_time scale"
        )


def op_defs(OpDef, OpType, Attr) -> list:  # noqa: N803 (classes)
    return [
        OpDef(OpType.SVDF, 27, 6,
              (Attr("rank", "i32", 1, 0), Attr("fused_activation", "act", "NONE", 1),
               Attr("asymmetric_quantize_inputs", "bool", False, 2)),
              5, 5, infer_svdf,
              "singular value decomposition filter: a feature matmul into a state of the last memory_size "
              "frames, then per-filter time weights (the state is a variable tensor, updated every call)",
              check_types=check_svdf, int8_version=3, optional_inputs=frozenset({3}),
              state_inputs=frozenset({4})),
    ]  # fmt: skip
