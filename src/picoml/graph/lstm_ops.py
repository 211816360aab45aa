"""Shape inference and dtype rules of UNIDIRECTIONAL_SEQUENCE_LSTM (builtin 44,
UnidirectionalSequenceLSTMOptions; issue 15).

The 24 inputs in TFLite's order (tflite-micro's ``kernels/lstm_shared.h``): 0 input [batch, time,
input] (``time_major``: [time, batch, input]); 1-4 input-to-{input, forget, cell, output} weights
[state, input]; 5-8 recurrent-to-{input, forget, cell, output} weights [state, state]; 9-11
peephole weights; 12-15 {input, forget, cell, output} gate biases [state]; 16-17 projection
weights and bias; 18 output_state (the hidden state) and 19 cell_state, *variable* tensors of
batch · state elements the op rewrites every call (``OpDef.state_inputs``); 20-23 layer-norm
coefficients. One output [batch, time, state] ([time, batch, state] time-major): the hidden
state of every step.

tflite-micro's kernel (``lstm_eval_common.cc``, ``unidirectional_sequence_lstm.cc``) runs the
standard LSTM only: peephole, projection, layer norm and CIFG (no input gate) are refused, as
there; so is a cell-gate activation other than TANH (tflite-micro applies the option to the cell
gate but always TANH to the cell output, LiteRT the option to both: they agree only on TANH) and
``diagonal_recurrent_tensors``. Types, as tflite-micro's Eval dispatches them:

- float32 throughout;
- int8: int8 input, weights (per-tensor, zero point 0), hidden state and output; int32 biases;
  int16 cell state (its scale a power of two: tflite-micro takes its rounded log2);
- 16x8: int16 input, hidden state and output, int8 weights, int64 biases, int16 cell state.

The output's quantization must be the hidden state's (tflite-micro copies the hidden state into
it). Hybrid LSTM (float input, int8 weights) is refused. int8 files from TFLite's converter also
carry five *intermediate* tensors; tflite-micro's kernel does not read them, nor does picoml.
"""

from __future__ import annotations

from picoml.errors import GraphError, UnsupportedError
from picoml.graph.optypes import Activation

INPUT, H_STATE, C_STATE = 0, 18, 19
WEIGHTS_X, WEIGHTS_H, BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
#: inputs of LSTM variants tflite-micro's kernel refuses: (indices, what they are)
VARIANTS = (((9, 10, 11), "peephole weights"), ((16, 17), "a projection"), ((20, 21, 22, 23), "layer norm"))
OPTIONAL = frozenset(i for idx, _ in VARIANTS for i in idx)
MAX_STEPS = 1 << 16


def lstm_dims(op) -> tuple[int, int, int, int]:
    """(batch, time, input size, state size), checked as tflite-micro's ValidateTensorSize."""
    x, h, c = op.inputs[INPUT], op.inputs[H_STATE], op.inputs[C_STATE]
    if x is None or len(x.shape) != 3:
        raise GraphError(f"{op.label}: input must be rank 3 ([batch, time, input] or time-major)")
    time_major = bool(op.attrs["time_major"])
    t_steps, batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_in = x.shape[2]
    w = op.inputs[WEIGHTS_X[1]]
    if w is None or len(w.shape) != 2:
        raise GraphError(f"{op.label}: input-to-forget weights must be rank 2 [state, input]")
    n_state = w.shape[0]
    if min(batch, t_steps, n_in, n_state) < 1:
        raise GraphError(f"{op.label}: empty LSTM (batch {batch}, time {t_steps}, input {n_in}, state {n_state})")
    if t_steps > MAX_STEPS:
        raise UnsupportedError(f"{op.label}: {t_steps} time steps, picoml takes up to {MAX_STEPS}")
    for k in WEIGHTS_X + WEIGHTS_H:
        t, want = op.inputs[k], (n_state, n_in) if k in WEIGHTS_X else (n_state, n_state)
        if t is None:
            raise UnsupportedError(
                f"{op.label}: input {k} (weights) is missing; CIFG LSTM (no input gate) is not supported"
            )
        if tuple(t.shape) != want:
            raise GraphError(f"{op.label}: weights {t.name!r} {list(t.shape)} must be {list(want)}")
    for k in BIASES:
        t = op.inputs[k]
        if t is None:
            raise GraphError(f"{op.label}: gate bias (input {k}) is missing")
        if tuple(t.shape) != (n_state,):
            raise GraphError(f"{op.label}: bias {t.name!r} {list(t.shape)} must be [{n_state}]")
    for t, what in ((h, "output_state"), (c, "cell_state")):
        if t is None or t.size != batch * n_state or len(t.shape) > 2:
            shape = list(t.shape) if t is not None else None
            raise GraphError(f"{op.label}: {what} {shape} must hold batch × state = {batch * n_state} values")
    return batch, t_steps, n_in, n_state


def infer_lstm(op) -> list[tuple[int, ...]]:
    batch, t_steps, _, n_state = lstm_dims(op)
    return [(t_steps, batch, n_state) if op.attrs["time_major"] else (batch, t_steps, n_state)]


def _check_variants(op) -> None:
    for idx, what in VARIANTS:
        if any(k < len(op.inputs) and op.inputs[k] is not None for k in idx):
            raise UnsupportedError(
                f"{op.label}: LSTM with {what} is not supported (tflite-micro's kernel runs the standard LSTM only)"
            )
    if op.attrs["activation"] != Activation.TANH:
        raise UnsupportedError(
            f"{op.label}: cell activation {op.attrs['activation']} is not supported (TANH only: "
            "tflite-micro and LiteRT disagree on the others)"
        )
    if op.attrs["diagonal_recurrent_tensors"]:
        raise UnsupportedError(f"{op.label}: diagonal recurrent weights are not supported")
    clip = float(op.attrs["cell_clip"])
    if not clip >= 0.0:
        raise GraphError(f"{op.label}: cell_clip {clip} must be >= 0 (tflite-micro's Prepare)")


def check_lstm(op) -> None:
    _check_variants(op)
    x, y = op.inputs[INPUT], op.outputs[0]
    h, c = op.inputs[H_STATE], op.inputs[C_STATE]
    consts = [op.inputs[k] for k in WEIGHTS_X + WEIGHTS_H + BIASES]
    for t in consts:
        if t.data is None:
            raise UnsupportedError(f"{op.label}: weights and biases must be constant ({t.name!r} is computed)")
    if x.dtype == "float32":
        for t in (*consts, h, c, y):
            if t.dtype != "float32":
                raise UnsupportedError(
                    f"{op.label}: {t.name!r} is {t.dtype}; float LSTM is float32 throughout (hybrid is not supported)"
                )
        return
    if x.dtype not in ("int8", "int16"):
        raise UnsupportedError(f"{op.label}: input {x.name!r} is {x.dtype}; LSTM takes float32, int8 or int16")
    bias_dtype = "int32" if x.dtype == "int8" else "int64"
    want = [(t, "int8", "weights") for t in consts[:8]] + [(t, bias_dtype, "bias") for t in consts[8:]]
    want += [(h, x.dtype, "output_state"), (y, x.dtype, "output"), (c, "int16", "cell_state")]
    for t, dt, what in want:
        if t.dtype != dt:
            raise UnsupportedError(f"{op.label}: {what} {t.name!r} is {t.dtype}; {x.dtype} LSTM needs {dt}")
    for t in (x, *consts[:8], h, c, y):
        if not t.quantized or t.per_axis:
            raise UnsupportedError(f"{op.label}: {t.name!r} needs per-tensor quantization")
    for t in (*consts[:8], c):
        if int(t.zero_point[0]) != 0:
            raise UnsupportedError(f"{op.label}: {t.name!r} must be symmetric (zero point 0)")
    if x.dtype == "int16" and (int(x.zero_point[0]) or int(h.zero_point[0])):
        raise UnsupportedError(f"{op.label}: int16 input and output_state need zero point 0")
    if float(y.scale[0]) != float(h.scale[0]) or int(y.zero_point[0]) != int(h.zero_point[0]):
        raise UnsupportedError(
            f"{op.label}: output {y.name!r} must share output_state {h.name!r}'s quantization "
            "(tflite-micro copies the hidden state into the output)"
        )
    for t in (x, h, c, *consts[:8]):
        s = float(t.scale[0])
        if not 0.0 < s < float("inf"):
            raise GraphError(f"{op.label}: {t.name!r} has scale {s:g}")


def lstm_macs(op) -> int:
    batch, t_steps, n_in, n_state = lstm_dims(op)
    return batch * t_steps * 4 * n_state * (n_in + n_state + 2)


def op_defs(OpDef, OpType, Attr) -> list:  # noqa: N803 (classes)
    return [
        OpDef(OpType.UNIDIRECTIONAL_SEQUENCE_LSTM, 44, 71,
              (Attr("activation", "act", "NONE", 0), Attr("cell_clip", "f32", 0.0, 1),
               Attr("proj_clip", "f32", 0.0, 2), Attr("time_major", "bool", False, 3),
               Attr("asymmetric_quantize_inputs", "bool", False, 4),
               Attr("diagonal_recurrent_tensors", "bool", False, 5)),
              20, 24, infer_lstm,  # the IR drops trailing absent inputs (layer norm)
              "LSTM over a sequence (forget / input / cell / output gates; hidden and cell state are "
              "variable tensors carried from one call to the next)",
              check_types=check_lstm, int8_version=1, optional_inputs=OPTIONAL, macs=lstm_macs,
              state_inputs=frozenset({H_STATE, C_STATE})),
    ]  # fmt: skip
