"""Phase ``build`` of benchmarks/conformance.py: the corpus, made with TensorFlow's own converter.

Runs in the TensorFlow venv (``make conformance-corpus``); imports TensorFlow, never picoml.
Each model is exported at batch 1 (a SavedModel with a fixed input signature: the converter then
emits static shapes) or, for the ``dynamic-batch`` group, straight from Keras with the batch
dimension left variable; then converted three times (int8 with int8 interface, int8 with the
converter's default float interface, float32). A conversion that fails is recorded in the
manifest with the converter's first error line, never skipped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # deterministic float kernels for training

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

import conformance as C  # noqa: E402
import conformance_models as M  # noqa: E402

CALIBRATION_SAMPLES = 64
TRAIN_SAMPLES = 384
BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


def read_flatbuffer(data: bytes) -> dict:
    """Ops (with their counts; custom ops by their custom code), inputs and outputs of a .tflite file."""
    m = schema.ModelT.InitFromPackedBuf(data, 0)
    ops = []
    for sg in m.subgraphs:
        for op in sg.operators:
            oc = m.operatorCodes[op.opcodeIndex]
            code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
            ops.append(
                BUILTIN_NAMES.get(code, str(code)) if code != schema.BuiltinOperator.CUSTOM else oc.customCode.decode()
            )
    sg = m.subgraphs[0]

    def describe(i: int) -> dict:
        t = sg.tensors[i]
        q = t.quantization
        d = {
            "name": t.name.decode(),
            "shape": [int(v) for v in t.shape],
            "dtype": TYPE_NAMES.get(t.type, str(t.type)),
        }
        if t.shapeSignature is not None and any(v < 0 for v in t.shapeSignature):
            d["shape_signature"] = [int(v) for v in t.shapeSignature]
        if q is not None and q.scale is not None and len(q.scale):
            d["scale"] = float(q.scale[0])
            d["zero_point"] = int(q.zeroPoint[0])
        return d

    return {
        "ops": dict(sorted(Counter(ops).items())),  # op -> how many times
        "subgraphs": len(m.subgraphs),
        "inputs": [describe(i) for i in sg.inputs],
        "outputs": [describe(i) for i in sg.outputs],
    }


def train(spec: M.Spec, model: keras.Model) -> float:
    xs, labels = C.generate(spec.name, spec.data, spec.inputs, TRAIN_SAMPLES, salt=2)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(xs[0], labels, batch_size=32, epochs=spec.train_epochs, verbose=0, shuffle=True)
    # A few epochs leave BatchNormalization's moving statistics near their initial values (momentum
    # 0.99), so inference would see unnormalised activations and a saturated, constant softmax. Set
    # them to the statistics of all training samples: one training-mode pass with momentum 0.
    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.momentum = 0.0
    if bns:
        model(xs[0], training=True)
    return float(h.history["accuracy"][-1])


def export(spec: M.Spec, d: Path) -> tuple[Path | keras.Model, list[str], dict]:
    """The model in the form the converter reads: a SavedModel directory (batch 1) or, for a variable
    batch, the Keras model itself. Returns it, the signature's input names in the order of
    ``spec.inputs``, and notes for the manifest."""
    keras.utils.set_random_seed(C._seed(spec.name, 0) % (2**31))
    notes: dict = {}
    if spec.make is None:  # the SSD-style detector
        M.ssd_export(str(d))
        return d, ["in0"], notes
    model = spec.make()
    notes["params"] = int(model.count_params())
    if spec.train_epochs:
        notes["train_accuracy"] = round(train(spec, model), 3)
    if spec.variable_batch:
        return model, [f"in{k}" for k in range(len(spec.inputs))], notes
    names = [f"in{k}" for k in range(len(spec.inputs))]
    sig = [tf.TensorSpec((1,) + tuple(s), tf.float32, name=n) for s, n in zip(spec.inputs, names, strict=True)]
    model.export(str(d), verbose=False, input_signature=[sig if len(sig) > 1 else sig[0]])
    return d, names, notes


def convert(spec: M.Spec, src, names: list[str], variant: str) -> bytes:
    if isinstance(src, Path):
        conv = tf.lite.TFLiteConverter.from_saved_model(str(src))
    else:
        conv = tf.lite.TFLiteConverter.from_keras_model(src)
    if spec.make is None:
        conv.allow_custom_ops = True
    kind, interface = C.VARIANTS[variant]
    if kind == "int8":
        xs, _ = C.generate(spec.name, spec.data, spec.inputs, CALIBRATION_SAMPLES, salt=1)

        def representative():
            for i in range(CALIBRATION_SAMPLES):
                sample = [x[i : i + 1] for x in xs]
                yield dict(zip(names, sample, strict=True)) if isinstance(src, Path) else sample

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if spec.make is None:
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        if interface == "int8":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    return conv.convert()


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    for line in text.splitlines():
        line = line.strip()
        if "error:" in line:  # the converter's MLIR diagnostics: "<loc>: error: 'tfl.x' op ..."
            return line[line.index("error:") :][:300]
    return f"{type(e).__name__}: {(text.splitlines() or [''])[0][:300]}"


def build(out: Path, only: list[str] | None) -> None:
    t0 = time.perf_counter()
    specs = [s for s in M.specs() if not only or s.name in only]
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    old = json.loads(manifest_path.read_text()) if only and manifest_path.exists() else {"models": []}
    every = {s.name for s in M.specs()}
    keep = [m for m in old["models"] if m["model"] in every and m["model"] not in {s.name for s in specs}]
    entries = []
    for spec in specs:
        with tempfile.TemporaryDirectory(prefix="conformance_") as tmp:
            try:
                src, names, notes = export(spec, Path(tmp) / "saved")
            except Exception as e:  # noqa: BLE001 - recorded, the build goes on
                src, names, notes = None, [], {"export_error": first_line(e)}
            for variant, (kind, interface) in C.VARIANTS.items():
                entry = {
                    "model": spec.name,
                    "file": f"{spec.name}.{variant}.tflite",
                    "group": spec.group,
                    "kind": kind,
                    "interface": interface,
                    "variable_batch": spec.variable_batch,
                    "exercises": spec.exercises,
                    "data": spec.data,
                    "input_shapes": [list(s) for s in spec.inputs],
                    **notes,
                }
                if spec.note:
                    entry["note"] = spec.note
                path = out / entry["file"]
                path.unlink(missing_ok=True)
                if src is None:
                    entry["conversion_error"] = notes["export_error"]
                    entries.append(entry)
                    continue
                try:
                    data = convert(spec, src, names, variant)
                except Exception as e:  # noqa: BLE001 - recorded, the build goes on
                    entry["conversion_error"] = first_line(e)
                    entry.pop("file")
                    entries.append(entry)
                    print(f"{spec.name}.{variant}: conversion failed: {entry['conversion_error']}", flush=True)
                    continue
                path.write_bytes(data)
                entry.update(read_flatbuffer(data))
                entry["bytes"] = len(data)
                entry["sha256"] = hashlib.sha256(data).hexdigest()
                entries.append(entry)
                print(f"{entry['file']}: {len(data):,} B, ops {list(entry['ops'])}", flush=True)
        keras.backend.clear_session()
    by_name = {s.name: i for i, s in enumerate(M.specs())}
    models = sorted(
        keep + entries,
        key=lambda e: (
            by_name.get(e["model"], 1 << 30),
            list(C.VARIANTS).index(next(v for v, ki in C.VARIANTS.items() if ki == (e["kind"], e["interface"]))),
        ),
    )
    manifest = {
        "builder": "benchmarks/conformance.py build",
        "command": "make conformance-corpus",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "calibration_samples": CALIBRATION_SAMPLES,
        "train_samples": TRAIN_SAMPLES,
        "models": models,
    }
    # one model file per line: the manifest stays small and diffs stay readable
    lines = [json.dumps(m, separators=(",", ":")) for m in models]
    head = json.dumps({k: v for k, v in manifest.items() if k != "models"}, indent=1)[:-2]
    manifest_path.write_text(head + ',\n "models": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n")
    json.loads(manifest_path.read_text())  # still JSON
    listed = {m["file"] for m in models if "file" in m}
    for stale in out.glob("*.tflite"):
        if stale.name not in listed:
            stale.unlink()
    total = sum(p.stat().st_size for p in out.glob("*.tflite"))
    print(f"wrote {len(models)} entries, {total / 1e6:.2f} MB of .tflite in {out} ({time.perf_counter() - t0:.0f} s)")
    if tf.__version__ != C.TF_VERSION:
        print(f"warning: TensorFlow {tf.__version__}, the committed corpus is made with {C.TF_VERSION}")
