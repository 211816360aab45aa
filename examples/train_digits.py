"""Digits, step by step: train a small CNN in PyTorch and take it to a bit-exact int8 .tflite.

    .venv/bin/python examples/train_digits.py [--seed 0] [--epochs 20] [--quick] [--out build/examples/digits]

Steps: scikit-learn's bundled 8×8 digits → float CNN (PyTorch, best validation epoch) →
``picoml.from_torch`` (float Graph, NHWC, BatchNorm folded) → float accuracy in picoml's
interpreter → post-training int8 quantization → quantization-aware fine-tuning → the three
models written as .tflite, and every test sample run through tflite-micro to check that the
int8 .tflite gives exactly the int8 outputs picoml computes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import picoml
from picoml.compress.qat import qat_finetune
from picoml.frontends.lowering import to_graph_layout
from picoml.quantize.ptq import dequantize_output, quantize_input
from picoml.tasks import QAT_SETTINGS, calibration_subset, digits, graph_macs, graph_weight_bytes
from picoml.tasks.train import count_params, predict, score

ROOT = Path(__file__).resolve().parents[1]


def int8_accuracy(q: picoml.Graph, x_graph: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Accuracy of an int8 graph on float inputs; also returns its int8 inputs and outputs."""
    xq = quantize_input(q, x_graph)
    yq = picoml.run(q, xq)
    return score("accuracy", dequantize_output(q, yq), y), xq, yq


def tflite_micro_outputs(path: Path, xq: np.ndarray) -> np.ndarray:
    """Invoke tflite-micro once per sample on the written .tflite (as tests/oracles.py does)."""
    from tflite_micro.python.tflite_micro import runtime

    model = path.read_bytes()
    ip = runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 1 << 20))
    outs = []
    for x in xq:
        ip.set_input(x, 0)
        ip.invoke()
        outs.append(ip.get_output(0).copy())
    return np.stack(outs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=digits.EPOCHS)
    ap.add_argument("--quick", action="store_true", help=f"{digits.QUICK_EPOCHS} epochs (smoke run)")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "examples" / "digits")
    args = ap.parse_args()
    t_start, cpu_start = time.perf_counter(), time.process_time()

    # 1. data and float training (best validation epoch kept)
    split = digits.load(args.seed)
    model, hist = digits.train(seed=args.seed, epochs=args.epochs, quick=args.quick)
    print(
        f"trained {count_params(model):,} parameters in {hist.seconds:.1f} s; "
        f"best epoch {hist.best_epoch + 1}/{len(hist.val_metric)}, validation accuracy {hist.best_val_metric:.4f}"
    )
    acc_torch = score("accuracy", predict(model, split.x_test), split.y_test)

    # 2. PyTorch -> float Graph (channels-last); score it in picoml's interpreter
    x_test = to_graph_layout(split.x_test)
    g = picoml.from_torch(model, torch.from_numpy(split.x_train[:1]))
    acc_float = score("accuracy", picoml.run(g, x_test), split.y_test)

    # 3. post-training quantization, calibrated on 256 training images
    calib = to_graph_layout(calibration_subset(split.x_train, 256, args.seed))
    q = picoml.quantize(g, calib)
    acc_ptq, xq, yq = int8_accuracy(q, x_test, split.y_test)

    # 4. quantization-aware fine-tuning from the float weights, with the task's recipe (learned
    #    activation ranges, distillation from the float model, cosine learning rate); the epoch
    #    count is chosen among a few candidates by the int8 model's validation accuracy (never by test)
    x_val = to_graph_layout(split.x_val)
    recipe = {k: v for k, v in QAT_SETTINGS["digits"].items() if k != "epochs"}
    best = None
    for n_epochs in QAT_SETTINGS["digits"]["epochs"]:
        cand = qat_finetune(
            g,
            to_graph_layout(split.x_train),
            split.y_train,
            calibration_data=calib,
            epochs=n_epochs,
            seed=args.seed,
            **recipe,
        )
        val_acc = int8_accuracy(cand, x_val, split.y_val)[0]
        print(f"QAT {n_epochs} epochs: validation accuracy {100 * val_acc:.2f} %")
        if best is None or val_acc > best[0]:
            best = (val_acc, cand)
    qat = best[1]
    acc_qat, _, _ = int8_accuracy(qat, x_test, split.y_test)

    # 5. write the three models; the int8 one must run identically in tflite-micro
    args.out.mkdir(parents=True, exist_ok=True)
    for name, graph in (("float", g), ("ptq", q), ("qat", qat)):
        picoml.save(graph, args.out / f"{name}.tflite")
        print(f"wrote {args.out / f'{name}.tflite'}")
    xq_model = xq.reshape((len(xq),) + q.inputs[0].shape)
    tflm = tflite_micro_outputs(args.out / "ptq.tflite", xq_model).reshape(yq.shape)
    mismatches = int(np.sum(np.any(tflm != yq, axis=tuple(range(1, yq.ndim)))))
    print(f"tflite-micro vs picoml on {len(yq)} test samples: {mismatches} samples differ")

    print(f"MACs {graph_macs(g):,}; weights {graph_weight_bytes(g):,} B float, {graph_weight_bytes(q):,} B int8")
    print(f"test accuracy  float (PyTorch) {100 * acc_torch:.2f} %   float (picoml) {100 * acc_float:.2f} %")
    print(
        f"test accuracy  int8 PTQ {100 * acc_ptq:.2f} % ({100 * (acc_ptq - acc_float):+.2f} points)   "
        f"int8 QAT {100 * acc_qat:.2f} % ({100 * (acc_qat - acc_float):+.2f} points)"
    )
    print(f"total time {time.perf_counter() - t_start:.1f} s wall, {time.process_time() - cpu_start:.1f} s CPU")
    if mismatches:
        raise SystemExit("int8 outputs differ between tflite-micro and picoml")


if __name__ == "__main__":
    main()
