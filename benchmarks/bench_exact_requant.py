"""Cost of the exact requantization path (issue 14, item 2), emulated on Cortex-M4 and Cortex-M0+.

    .venv/bin/python benchmarks/bench_exact_requant.py

1. One layer each of MobileNetV1-0.25's typical kinds (DEPTHWISE_CONV_2D 3x3 and CONV_2D 1x1 over
   128 channels at 6x6, ordinary scales, so the fast path is provable) compiled as the generator
   chooses (fast) and forced onto the ``_exact`` twin; both verified bit-exact; instructions of
   the layer and per output.
2. The int8 MobileNetV1-0.25 96x96 of tests/codegen/mobilenet_int8.py (trained-scale weights,
   dead channels): how many layers need the exact path, instructions and code bytes as generated
   vs with every accumulating layer exact.

Prints markdown and writes benchmarks/results/exact_requant.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "codegen")]

from picoml.codegen import generate as gen  # noqa: E402
from picoml.codegen.requant import exact_layers  # noqa: E402
from picoml.flows.verify import verify  # noqa: E402

from mobilenet_int8 import mobilenet_v1_int8  # noqa: E402
from oracles import qtensor, single_op_graph  # noqa: E402

TARGETS = ("cortex-m4", "cortex-m0plus")


def layer(kind: str):
    rng = np.random.default_rng(1)
    c = 128
    x = qtensor("x", (1, 6, 6, c), 6 / 255, -128)
    y = qtensor("y", (1, 6, 6, c), 6 / 255, -128)
    sw = rng.uniform(0.002, 0.03, c).astype(np.float32)
    shape = (1, 3, 3, c) if kind == "dw" else (c, 1, 1, c)
    w = qtensor(
        "w", shape, sw, np.zeros(c), data=rng.integers(-127, 128, shape, dtype=np.int8), axis=3 if kind == "dw" else 0
    )
    b = qtensor(
        "b",
        (c,),
        (np.float32(6 / 255) * sw).astype(np.float32),
        np.zeros(c),
        "int32",
        data=rng.integers(-3000, 3000, c, dtype=np.int32),
    )
    attrs = {"stride_h": 1, "stride_w": 1, "padding": "SAME", "fused_activation": "RELU6"}
    if kind == "dw":
        return single_op_graph("DEPTHWISE_CONV_2D", [x, w, b], y, depth_multiplier=1, **attrs)
    return single_op_graph("CONV_2D", [x, w, b], y, **attrs)


def run(g, target, force_exact: bool):
    original = gen.exact_requant
    if force_exact:
        gen.exact_requant = lambda *a, **k: True
    try:
        rep = verify(g, target, n_inputs=2, counted_runs=1)
    finally:
        gen.exact_requant = original
    assert rep.bit_exact, (target, force_exact, rep.first_mismatch)
    return rep


def main() -> None:
    t0 = time.time()
    lines = ["# Exact requantization: cost", ""]
    lines += [
        "## One layer (6x6x128 output = 4,608 outputs), fast vs exact twin, -O2",
        "",
        "| layer | target | fast instructions | exact instructions | extra per output | code bytes fast → exact |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for kind, name in (("dw", "DEPTHWISE_CONV_2D 3x3 (mult1)"), ("pw", "CONV_2D 1x1")):
        g = layer(kind)
        outputs = g.outputs[0].size
        for target in TARGETS:
            fast, exact = run(g, target, False), run(g, target, True)
            fi, ei = fast.layer_instructions[0]["instructions"], exact.layer_instructions[0]["instructions"]
            lines.append(
                f"| {name} | {target} | {fi:,} | {ei:,} | {(ei - fi) / outputs:+.2f} "
                f"({(ei - fi) / fi:+.1%}) | {fast.flash_code_bytes:,} → {exact.flash_code_bytes:,} |"
            )
    g = mobilenet_v1_int8()
    acc = [i for i, op in enumerate(g.ops) if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    ex = exact_layers(g)
    lines += [
        "",
        f"## MobileNetV1-0.25 96x96 (tests/codegen/mobilenet_int8.py): {len(ex)} of {len(acc)} "
        "accumulating layers need the exact path",
        "",
        f"Exact: {', '.join(g.ops[i].name for i in ex)}.",
        "",
        "| target | as generated: instructions | code bytes | every layer exact: instructions | code bytes |",
        "|---|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        mixed, allx = run(g, target, False), run(g, target, True)
        lines.append(
            f"| {target} | {mixed.instructions:,} | {mixed.flash_code_bytes:,} | {allx.instructions:,} "
            f"({(allx.instructions - mixed.instructions) / mixed.instructions:+.1%}) | {allx.flash_code_bytes:,} |"
        )
    lines += ["", f"Measured in {time.time() - t0:.0f} s; every run verified bit-exact against the reference.", ""]
    text = "\n".join(lines)
    print(text)
    (ROOT / "benchmarks" / "results" / "exact_requant.md").write_text(text)


if __name__ == "__main__":
    main()
