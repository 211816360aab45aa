"""On-target validation on the user's data: the generated C on the emulated core over a whole
test set, compared sample by sample with the reference interpreter (and the float model when
given), with the task's metrics.

``picoml validate MODEL --data TEST.npz --target T``. The data is float (quantized here with the
model's input parameters, exactly as TFLite's QUANTIZE) or already int8. Labels, when given,
make the metrics: integer class labels with a vector output give accuracy and a confusion
matrix (of the C's predictions); anything else is compared as a regression target (RMSE of the
dequantized outputs). The check that fails the command is C ≠ reference on any sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from picoml.errors import InputError
from picoml.flows.verify import verify
from picoml.graph.ir import Graph
from picoml.quantize.ptq import dequantize_output, quantize_input
from picoml.reference import interpreter


@dataclass
class ValidateReport:
    target: str
    samples: int
    bit_exact: bool  # the C's outputs equal the reference interpreter's on every sample
    mismatched_samples: int
    first_mismatch: str
    instructions: int | None  # per inference (the first sample's count)
    task: str | None  # "classification", "regression" or None (no labels)
    accuracy: dict[str, float] = field(default_factory=dict)  # "c", "reference", "float"
    rmse: dict[str, float] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)  # C: rows true class, columns predicted

    def to_json(self) -> dict:
        return dict(vars(self))


def model_inputs(g: Graph, x: np.ndarray) -> np.ndarray:
    """The data as the model's int8 inputs: float data quantized with the input's parameters,
    int8 data as it is; samples with or without the model's batch axis of 1."""
    t = g.inputs[0]
    x = np.asarray(x)
    if tuple(x.shape[1:]) == tuple(t.shape[1:]) and t.shape and t.shape[0] == 1:
        x = x.reshape((x.shape[0],) + tuple(t.shape))
    if tuple(x.shape[1:]) != tuple(t.shape):
        raise InputError(
            f"data: samples of shape {list(x.shape[1:])} do not match the model's input {list(t.shape)} "
            "(channels-first data from PyTorch: pass --nchw)"
        )
    if x.dtype == np.int8:
        return x
    if x.dtype.kind not in "fiu":
        raise InputError(f"data: x is {x.dtype}; expected float or int8 values")
    return quantize_input(g, x.astype(np.float32))


def task_metrics(rep: ValidateReport, preds: dict[str, np.ndarray], y: np.ndarray) -> None:
    """Fill the task, accuracy / confusion or RMSE of ``rep`` from predictions by source."""
    n = rep.samples
    flat = {k: v.reshape(n, -1) for k, v in preds.items()}
    width = flat["c"].shape[1]
    if y.dtype.kind in "iu" and y.reshape(-1).size == n and width > 1:
        labels = y.reshape(-1).astype(np.int64)
        if labels.min() < 0 or labels.max() >= width:
            raise InputError(f"data: labels {labels.min()}..{labels.max()} are not classes of a {width}-way output")
        rep.task = "classification"
        for k, v in flat.items():
            rep.accuracy[k] = float(np.mean(np.argmax(v, axis=1) == labels))
        cm = np.zeros((width, width), np.int64)
        np.add.at(cm, (labels, np.argmax(flat["c"], axis=1)), 1)
        rep.confusion = cm.tolist()
        return
    target = y.astype(np.float64).reshape(n, -1)
    if target.shape[1] != width:
        raise InputError(f"data: y has {target.shape[1]} values per sample, the model outputs {width}")
    rep.task = "regression"
    for k, v in flat.items():
        rep.rmse[k] = float(np.sqrt(np.mean((v.astype(np.float64) - target) ** 2)))


def validate(
    g: Graph,
    target: str,
    x: np.ndarray,
    y: np.ndarray | None = None,
    float_graph: Graph | None = None,
    progress=None,
) -> ValidateReport:
    """Run ``g``'s generated C on ``target`` over every sample of ``x`` and compare (see module doc)."""
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise InputError("validate takes models with one input and one output")
    if g.inputs[0].dtype != "int8" or g.outputs[0].dtype != "int8":
        raise InputError("validate runs the generated C, which needs an int8 model (quantize it first)")
    xq = model_inputs(g, x)
    n = len(xq)
    if n == 0:
        raise InputError("data: no samples")
    if y is not None and len(y) != n:
        raise InputError(f"data: {n} samples but {len(y)} labels")
    vr = verify(g, target, xs=xq, counted_runs=1, progress=progress)
    out = g.outputs[0]
    c_q = vr.outputs.reshape((n,) + tuple(out.shape))
    ref_q = np.asarray(interpreter.run(g, xq)).reshape(c_q.shape)
    differs = np.any(c_q.reshape(n, -1) != ref_q.reshape(n, -1), axis=1)
    first = ""
    if differs.any():
        i = int(np.argmax(differs))
        first = f"sample {i}: " + (vr.first_mismatch or "outputs differ")
    rep = ValidateReport(target, n, not differs.any(), int(differs.sum()), first, vr.instructions, None)
    if y is not None:
        preds = {"c": dequantize_output(g, c_q), "reference": dequantize_output(g, ref_q)}
        if float_graph is not None:
            if np.asarray(x).dtype == np.int8:
                raise InputError("data: x is int8; comparing with the float model needs the float data")
            xf = np.asarray(x, np.float32).reshape((n,) + tuple(float_graph.inputs[0].shape))
            preds["float"] = np.asarray(interpreter.run(float_graph, xf))
        task_metrics(rep, preds, np.asarray(y))
    return rep
