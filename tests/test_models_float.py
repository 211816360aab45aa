"""The shipped float models vs LiteRT's builtin kernels.

kws_float is a dynamic-range ("hybrid") quantized model: its five CONV_2D ops read float32
activations with int8 weights, so this also checks picoml's hybrid semantics end to end
(on-the-fly input quantization per sample, integer convolution, float rescale).
"""

import numpy as np
import pytest

import picoml

from oracles import MODEL_NAMES, assert_float_close, litert_run, model_path

pytestmark = pytest.mark.models

N_SAMPLES = 64


def random_float_inputs(shape: tuple[int, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of Gaussian noise, each with its own magnitude (1e-1 .. 3e1), plus an all-zero
    sample and a one-signed one (edge cases of the hybrid input quantization)."""
    mag = 10 ** rng.uniform(-1, 1.5, (n,) + (1,) * len(shape))
    x = (rng.standard_normal((n,) + shape) * mag).astype(np.float32)
    x[0] = 0.0
    x[1] = np.abs(x[1])
    return x


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_float_model_matches_litert(name):
    path = model_path(name, "float")
    g = picoml.load(path)
    t = g.inputs[0]
    xs = random_float_inputs(t.shape, N_SAMPLES, np.random.default_rng(20240607))
    expected = litert_run(path.read_bytes(), xs)
    got = picoml.run(g, xs)
    # Tolerance 1e-5 of each sample's largest |output|, per element: float summation order.
    # picoml sums float layers in float64 and rounds once (DEPTHWISE_CONV_2D and the hybrid
    # layers follow LiteRT's own float32 order and match it bit for bit); LiteRT accumulates
    # CONV_2D / FULLY_CONNECTED in float32 in its GEMM's order, ~1e-7 relative per addition.
    # Measured here: max 5.5e-7 (kws), 2.8e-6 (resnet8), 3.4e-7 (ad).
    for i in range(N_SAMPLES):
        assert_float_close(got[i], expected[i], f"{name}_float sample {i}")


def test_kws_float_is_hybrid():
    """Guard: the kws test above only covers the hybrid kernels if the model still has them."""
    g = picoml.load(model_path("kws", "float"))
    hybrid = [
        op
        for op in g.ops
        if op.inputs[0].dtype == "float32"
        and len(op.inputs) > 1
        and op.inputs[1] is not None
        and op.inputs[1].dtype == "int8"
    ]
    assert [op.type for op in hybrid] == ["CONV_2D"] * 5
