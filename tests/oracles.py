"""Test oracles and model builders shared by the test suite.

- ``tflm_run``: TensorFlow Lite Micro (PyPI ``tflite-micro``), the int8 oracle;
- ``litert_run``: LiteRT (``ai-edge-litert``), the float oracle;
- ``single_op_graph``: a one-op Graph that picoml's writer turns into a .tflite file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.graph import Graph, Op, Tensor
from picoml.graph.ops import default_attrs

ROOT = Path(__file__).resolve().parents[1]
# The MLPerf Tiny models: $PICOML_MODELS (a relative path is taken from the repository root, as
# the Makefile's MODELS), default ../shared/models. Tests that read them are marked `models`;
# conftest.py skips those, all with MODELS_SKIP_REASON, when a model file is missing.
MODELS_DIR = (ROOT / Path(os.environ.get("PICOML_MODELS") or Path("..", "shared", "models")).expanduser()).resolve()
MODEL_NAMES = ["kws", "resnet8", "ad"]
MODEL_KINDS = ["int8", "float"]
MISSING_MODELS = [
    f"{name}_{kind}.tflite"
    for name in MODEL_NAMES
    for kind in MODEL_KINDS
    if not (MODELS_DIR / f"{name}_{kind}.tflite").is_file()
]
MODELS_SKIP_REASON = (
    f"MLPerf Tiny models not found at {MODELS_DIR} (set PICOML_MODELS)"
    if len(MISSING_MODELS) == len(MODEL_NAMES) * len(MODEL_KINDS)
    else f"MLPerf Tiny models incomplete at {MODELS_DIR}: no {', '.join(MISSING_MODELS)} (set PICOML_MODELS)"
)
MODELS_AVAILABLE = not MISSING_MODELS

# Set by conftest.py while a test that is not marked `models` runs (its node id): model_path then
# fails, so a test that reads the models without the marker fails here, where they are present,
# instead of only on machines without them.
unmarked_test: str | None = None


def model_path(name: str, kind: str) -> Path:
    if unmarked_test is not None:
        raise AssertionError(
            f"{unmarked_test} reads the MLPerf Tiny models ({name}_{kind}) but is not marked "
            "@pytest.mark.models: it would fail, not skip, where the models are missing"
        )
    return MODELS_DIR / f"{name}_{kind}.tflite"


def tflm_interpreter(model: bytes, preserve_all: bool = False):
    from tflite_micro.python.tflite_micro import runtime

    cfg = (
        runtime.InterpreterConfig.kPreserveAllTensors
        if preserve_all
        else runtime.InterpreterConfig.kAllocationRecording
    )
    return runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 1 << 20), intrepreter_config=cfg)


def tflm_run(model: bytes, xs: list[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    """Invoke tflite-micro once per sample. ``xs``: one array per model input, each with a leading batch
    axis of samples (each sample of the input tensor's full shape). Returns the first output per sample,
    stacked."""
    if isinstance(xs, np.ndarray):
        xs = [xs]
    ip = tflm_interpreter(model)
    outs = []
    for i in range(len(xs[0])):
        for k, x in enumerate(xs):
            ip.set_input(x[i], k)
        ip.invoke()
        outs.append(ip.get_output(0).copy())
    return np.stack(outs)


def tflm_all_tensors(model: bytes, xs: list[np.ndarray]) -> dict[int, np.ndarray]:
    """One inference with kPreserveAllTensors: tensor index -> value."""
    ip = tflm_interpreter(model, preserve_all=True)
    for k, x in enumerate(xs):
        ip.set_input(x, k)
    ip.invoke()
    return ip


def litert_run(model: bytes, xs: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """LiteRT (XNNPACK off: the builtin reference-accurate kernels), one sample at a time."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if isinstance(xs, np.ndarray):
        xs = [xs]
    ip = Interpreter(
        model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    ip.allocate_tensors()
    ins = ip.get_input_details()
    out = ip.get_output_details()[0]
    outs = []
    for i in range(len(xs[0])):
        for d, x in zip(ins, xs, strict=True):
            ip.set_tensor(d["index"], x[i])
        ip.invoke()
        outs.append(ip.get_tensor(out["index"]).copy())
    return np.stack(outs)


def qtensor(name, shape, scale, zp, dtype="int8", data=None, axis=0) -> Tensor:
    return Tensor(name, tuple(shape), dtype, np.atleast_1d(scale), np.atleast_1d(zp), axis, data)


def single_op_graph(op_type: str, inputs: list[Tensor | None], output: Tensor, **attrs) -> Graph:
    """Build and validate a one-op graph; non-constant inputs become graph inputs."""
    a = default_attrs(op_type)
    a.update(attrs)
    op = Op(op_type, list(inputs), [output], a, name=output.name)
    tensors = [t for t in inputs if t is not None] + [output]
    g = Graph(tensors, [op], [t for t in inputs if t is not None and t.data is None], [output], name="single_op")
    g.validate()
    return g


def to_tflite(g: Graph) -> bytes:
    return write_tflite_bytes(g)


def random_input(t: Tensor, n: int, rng: np.random.Generator) -> np.ndarray:
    """n random samples for tensor t, shape (n,) + t.shape."""
    if t.dtype == "float32":
        return rng.standard_normal((n,) + t.shape).astype(np.float32)
    info = np.iinfo(t.np_dtype)
    return rng.integers(info.min, info.max + 1, (n,) + t.shape, dtype=t.np_dtype)


def assert_int_equal(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    """Exact equality; on failure report count and the first mismatches (index, actual, expected)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected).reshape(actual.shape)
    bad = np.argwhere(actual != expected)
    if bad.size:
        rows = [f"{tuple(i)}: {actual[tuple(i)]} != {expected[tuple(i)]}" for i in bad[:5]]
        raise AssertionError(f"{what}: {len(bad)} of {actual.size} values differ; first: " + "; ".join(rows))


# Float tolerance vs LiteRT: 1e-5 relative. picoml accumulates in float64 and rounds once;
# LiteRT accumulates in float32 in its own order, so the two differ by float32 rounding of
# partial sums (~1e-7 per add). Outputs near zero by cancellation carry the absolute error of
# the large terms, hence atol scaled by the largest output magnitude.
FLOAT_RTOL = 1e-5


def assert_float_close(actual: np.ndarray, expected: np.ndarray, what: str = "") -> None:
    expected = np.asarray(expected).reshape(np.shape(actual))
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=FLOAT_RTOL, atol=FLOAT_RTOL * max(scale, 1e-30), err_msg=what)


def check_against_oracle(g: Graph, xs: list[np.ndarray] | np.ndarray, what: str = "") -> np.ndarray:
    """Run g in picoml and in its oracle (tflite-micro for integer outputs, LiteRT for float) and compare."""
    import picoml

    if isinstance(xs, np.ndarray):
        xs = [xs]
    model = to_tflite(g)
    got = picoml.run(g, xs if len(xs) > 1 else xs[0])
    if g.outputs[0].dtype == "float32":
        assert_float_close(got, litert_run(model, xs), what)
    else:
        assert_int_equal(got, tflm_run(model, xs), what)
    return got
