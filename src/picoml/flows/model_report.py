"""``picoml report MODEL``: the report for any int8 model — which boards it fits and with how
much headroom, where flash, RAM and instructions go, accuracy on the user's data, and advice
ranked by the gain measured on the emulated core.

Everything is measured, nothing estimated from formulas: the model is compiled and run on each
target's emulated core (``verify``, bit-exact first), the flash split comes from the compiled
library (``CompiledModel``: weights, requantization records, biases and tables) and the ELF
(code), the RAM timeline from the arena plan the C uses. Advice quotes the share of the
instructions (or bytes) the pattern costs, so the largest gain comes first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from picoml.errors import InputError
from picoml.flows.validate import ValidateReport, model_inputs, task_metrics
from picoml.flows.verify import VerifyReport, fit_check, random_inputs, verify
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OP_SET, OpType
from picoml.quantize.ptq import dequantize_output
from picoml.reference import interpreter
from picoml.targets import BOARDS
from picoml.untrusted import for_terminal, printable

DEFAULT_TARGETS = ("cortex-m0plus", "cortex-m4")
AFFINE_OPS = (OpType.MUL, OpType.ADD)


def _per_channel_const(op: Op) -> bool:
    """MUL/ADD of an activation by a constant that varies at most along the last (channel) axis."""
    consts = [t for t in op.inputs[1:] if t is not None and t.data is not None]
    return (
        op.type in AFFINE_OPS
        and len(consts) == 1
        and op.inputs[0].data is None
        and all(d == 1 for d in consts[0].shape[:-1])
    )


def advice(g: Graph, rep: VerifyReport) -> list[dict]:
    """What to change, each with the gain measured on ``rep``'s core, largest first."""
    # per-layer cost: instructions on the emulated cores, measured cycles on AVR (simavr)
    layers = [
        {**lay, "instructions": lay["instructions"] if lay["instructions"] is not None else lay.get("cycles") or 0}
        for lay in rep.layer_instructions
    ]
    total = sum(lay["instructions"] for lay in layers) or 1
    unit = "instructions" if rep.instructions is not None else "cycles"
    out: list[dict] = []

    def share(indices: Sequence[int]) -> float:
        return sum(layers[i]["instructions"] for i in indices if i < len(layers)) / total

    affine = [i for i, op in enumerate(g.ops) if _per_channel_const(op)]
    if affine and share(affine) > 0.01:
        names = ", ".join(f"{i} {printable(g.ops[i].name, 24)}" for i in affine[:6])
        out.append(
            {
                "gain": share(affine),
                "kind": "fold",
                "text": f"per-channel scale/shift ops (an unfused BatchNorm, e.g. after an activation) at layers "
                f"{names} cost {100 * share(affine):.1f} % of the {unit}: put BatchNorm before the "
                "activation (or drop the activation between) so it folds into the convolution",
            }
        )
    pads = [i for i, op in enumerate(g.ops) if op.type == OpType.PAD]
    if pads and share(pads) > 0.005:
        out.append(
            {
                "gain": share(pads),
                "kind": "pad",
                "text": f"explicit PAD at layers {', '.join(map(str, pads[:6]))} costs {100 * share(pads):.1f} % of "
                f"the {unit}: use 'same' padding in the convolution (Keras padding='same'; PyTorch "
                "padding=k//2 where the output size allows) so the kernel pads on the fly",
            }
        )
    macs = sum(lay["macs"] for lay in layers) or 1
    avg = total / macs
    for i, lay in enumerate(layers):
        if i < len(g.ops) and OP_SET[g.ops[i].type].weights is None:
            continue  # element-wise ops count one MAC per element: not comparable (and handled above)
        if lay["macs"] and lay["instructions"] / lay["macs"] > 3 * avg and lay["instructions"] / total > 0.1:
            op = g.ops[i]
            mult = op.attrs.get("depth_multiplier")
            what = f"{op.type}" + (f", depth multiplier {mult}" if mult and mult > 1 else "")
            out.append(
                {
                    "gain": lay["instructions"] / total * (1 - avg * lay["macs"] / lay["instructions"]),
                    "kind": "slow-layer",
                    "text": f"layer {i} {printable(op.name, 24)} ({what}) runs at "
                    f"{lay['instructions'] / lay['macs']:.1f} {unit}/MAC, the model averages {avg:.2f}: "
                    f"it takes {100 * lay['instructions'] / total:.1f} % of the time",
                }
            )
    enc = rep.compiled.encodings if rep.compiled is not None else ()
    wtotal = sum(e["bytes"] for e in enc) or 1
    flash = rep.flash_code_bytes + rep.flash_weights_bytes or 1
    if enc:
        big = max(enc, key=lambda e: e["bytes"])
        if big["bytes"] / wtotal > 0.3 and len(enc) > 1 and big["bytes"] / flash > 0.1:
            out.append(
                {
                    "gain": 0.8 * big["bytes"] / flash,  # the flash 80 % sparsity there would save
                    "kind": "prune",
                    "text": f"layer {big['op']} {printable(big['name'], 24)} holds {100 * big['bytes'] / wtotal:.0f} % "
                    f"of the weights ({100 * big['bytes'] / flash:.0f} % of the flash): prune it (picoml compress: "
                    "sparsity or channel pruning) or narrow it; 80 % sparsity there saves the gain shown",
                }
            )
    return sorted(out, key=lambda a: -a["gain"])


def _flash_split(rep: VerifyReport) -> dict:
    """Flash by kind: code (the ELF), and the model's constants (the ELF's ``model_*`` bytes) split
    into weights and requantization records (as the compiled library encoded them) and the rest:
    biases, lookup tables, the layers' parameter structs and pair-stream records (codegen/pair_records.py)."""
    c = rep.compiled
    weights = sum(e["bytes"] for e in c.encodings)
    requant = sum(e["requant_bytes"] for e in c.encodings)
    return {
        "code": rep.flash_code_bytes,
        "weights": weights,
        "requantization": requant,
        "biases_and_tables": max(0, rep.flash_weights_bytes - weights - requant),
    }


def build_model_report(
    g: Graph,
    name: str,
    targets: Sequence[str] = DEFAULT_TARGETS,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    float_graph: Graph | None = None,
    n_inputs: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """The report's data (``picoml.flows.report.write_report`` renders it)."""
    if len(g.inputs) != 1 or len(g.outputs) != 1 or g.inputs[0].dtype != "int8" or g.outputs[0].dtype != "int8":
        raise InputError("report takes int8 models with one input and one output (quantize it first)")
    xq = model_inputs(g, x) if x is not None else random_inputs(g, n_inputs)
    xs = xq[: max(1, n_inputs)]
    reports: dict[str, VerifyReport] = {}
    for t in targets:
        cb = None if progress is None else (lambda i, n, t=t: progress(t, i, n))
        reports[t] = verify(g, t, xs=xs, counted_runs=1, progress=cb)
    first = reports[targets[0]]
    boards = []
    for b in BOARDS.values():
        r = reports.get(b.core)
        if r is None or b.clock_hz is None:
            continue
        flash = r.flash_code_bytes + r.flash_weights_bytes
        fits, msg = fit_check(b, flash, r.ram_bytes)
        boards.append(
            {
                "board": b.name,
                "core": b.core,
                "ram_kb": b.ram_bytes / 1024,
                "flash_kb": b.flash_bytes / 1024,
                "fits": bool(fits),
                "ram_headroom_bytes": b.ram_bytes - r.ram_bytes,
                "flash_headroom_bytes": b.flash_bytes - flash,
                "message": msg,
                "latency_ms": (r.cycles / b.clock_hz * 1e3 if r.measured_cycles and r.cycles and b.clock_hz else None)
                if r.instructions is None
                else b.latency_ms(r.instructions),
            }
        )
    s = first.compiled.plan.summary()
    data: dict = {
        "title": f"picoml report: {for_terminal(name, 80)}",  # write_report escapes it for HTML
        "summary": (
            f"{len(g.ops)} layers, {first.macs:,} MACs; compiled and run bit-exact on "
            f"{', '.join(t for t, r in reports.items() if r.bit_exact)}"
            + ("" if all(r.bit_exact for r in reports.values()) else " — MISMATCH on the others")
            + f" with {len(xs)} inputs."
        ),
        "targets": {t: r.to_json() for t, r in reports.items()},
        "flash": {t: _flash_split(r) for t, r in reports.items()},
        "boards": boards,
        "memory": {
            "ops": [f"{i} {op.type}" for i, op in enumerate(g.ops)],
            "live_bytes": s["live_bytes_per_op"],
            "arena_bytes": s["arena_bytes"],
            "lower_bound": s["arena_lower_bound_bytes"],
            "buffers": [
                {
                    "name": ", ".join(b["tensors"]) or b["name"],  # tensors, or what a scratch buffer is for
                    "tensors": b["tensors"],
                    "offset": b["offset"],
                    "size": b["size"],
                    "first": b["first_op"],
                    "last": b["last_op"],
                }
                for b in s["buffers"]
            ],
        },
        "advice": advice(g, first) if first.layer_instructions else [],
        "folded": [f.describe() for f in first.compiled.folds] if first.compiled is not None else [],
    }
    if x is not None and y is not None:
        n = len(xq)
        if len(y) != n:
            raise InputError(f"data: {n} samples but {len(y)} labels")
        ref = np.asarray(interpreter.run(g, xq))
        preds = {"c": dequantize_output(g, ref)}  # the C equals the reference (verified above)
        if float_graph is not None:
            preds["float"] = np.asarray(
                interpreter.run(
                    float_graph, np.asarray(x, np.float32).reshape((n,) + tuple(float_graph.inputs[0].shape))
                )
            )
        m = ValidateReport(first.target, n, True, 0, "", None, None)
        task_metrics(m, preds, np.asarray(y))
        data["quality"] = {"task": m.task, "samples": n, "accuracy": m.accuracy, "rmse": m.rmse}
    return data
