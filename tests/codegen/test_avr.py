"""8-bit AVR targets (issue 16 part 2): atmega328p (Arduino Uno) and atmega2560 (Mega 2560).

The generated C is built with avr-gcc (Debian gcc-avr, avr-libc) and run in simavr (Debian
simavr; the driver builds against libsimavr-dev), one inference per input, and compared with the
reference interpreter exactly. Weights, biases, requantization records and lookup tables sit in
program memory (PM_CONST, read through PM_LD_*); the runtime is correct where int is 16 bits.
Cycles come from the simulator's own counter.

Where the AVR tools are missing these tests skip with one line naming the Debian packages; with
PICOML_REQUIRE_TOOLCHAINS=1 (set by .ci/run) they fail instead."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import test_kernel_variants  # the kernel-variant cases (this directory is on sys.path under pytest)
from elftools.elf.elffile import ELFFile
from test_toolchains import _bias, _conv_weights, all_kernels, compile_warning_free, small_model

import picoml
from picoml.codegen import compile_c
from picoml.codegen.firmware import write_arduino
from picoml.codegen.isa import AVR8
from picoml.flows.fit import get_budget
from picoml.flows.trials import measure
from picoml.flows.verify import elf_sizes, random_inputs, verify
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType, default_attrs
from picoml.targets import BOARDS, get_target, simavr
from picoml.targets.toolchain import BuildError, build, configure, harness_dir

from oracles import qtensor

AVR = ("atmega328p", "atmega2560")


def avr_or_skip(target: str = "atmega328p", opt: str = "-O2"):
    """The avr-gcc build, or a skip naming the Debian packages (a failure where CI requires them)."""
    try:
        problem = simavr.missing()
        if problem:
            raise BuildError(problem)
        return configure(get_target(target), None, opt)
    except BuildError as e:
        if os.environ.get("PICOML_REQUIRE_TOOLCHAINS"):
            pytest.fail(f"PICOML_REQUIRE_TOOLCHAINS is set: {e}")
        pytest.skip(str(e))


# ----------------------------------------------------------------------------- the bundled tasks
@functools.cache
def task_model(name: str, n: int = 10, **arch):
    """The task's quick-trained int8 model (PTQ) and n of its test inputs, quantized."""
    import torch

    from picoml.frontends.lowering import to_graph_layout
    from picoml.quantize.ptq import quantize_input
    from picoml.tasks import calibration_subset, get_task

    task = get_task(name)
    model, _ = task.train(seed=0, quick=True, **arch)
    s = task.load(0)
    g = picoml.from_torch(model, torch.from_numpy(s.x_train[:1]))
    q = picoml.quantize(g, to_graph_layout(calibration_subset(s.x_train, 64, 0)))
    xs = quantize_input(q, to_graph_layout(s.x_test[:n])).reshape((n,) + q.inputs[0].shape)
    return q, xs


def _check_measured(rep, target: str) -> None:
    board = BOARDS[target]
    assert rep.bit_exact, rep.first_mismatch
    assert rep.build["toolchain"] == "gcc" and "avr-gcc" in rep.build["compiler"]
    assert rep.measured_cycles and rep.cycles > rep.macs and "simavr's cycle counter" in rep.cycle_model
    assert rep.instructions is None  # simavr counts cycles, not instructions
    assert rep.latency_ms == pytest.approx(rep.cycles / board.clock_hz * 1e3)
    assert rep.board == target and rep.fits, rep.fit_message
    assert 0 < rep.stack_bytes < board.ram_bytes and rep.ram_bytes < board.ram_bytes
    layer = [lay["cycles"] for lay in rep.layer_instructions]
    assert all(c is not None for c in layer) and sum(layer) <= rep.cycles


# ----------------------------------------------------------------------------- descriptions
def test_avr_cores_boards_and_build_choices_are_descriptions():
    for name, ram, flash in (("atmega328p", 2, 32), ("atmega2560", 8, 256)):
        t, b = get_target(name), BOARDS[name]
        assert t.isa is AVR8 and t.isa.progmem and t.isa.word_bits == 8 and t.emulator == "simavr"
        assert t.arch == "avr" and t.default_toolchain == "gcc" and t.measured_cycles
        assert (b.core, b.ram_bytes, b.flash_bytes, b.clock_hz) == (name, ram * 1024, flash * 1024, 16_000_000)
        cfg = configure(t, None, "size", installed=False)
        assert cfg.toolchain.name == "gcc" and cfg.cflags()[:3] == [f"-mmcu={name}", "-DF_CPU=16000000UL", "-Os"]
    with pytest.raises(BuildError, match="--toolchain zig does not build for atmega328p"):
        configure(get_target("atmega328p"), "zig", installed=False)
    with pytest.raises(BuildError, match="atmega328p has no FPU"):
        configure(get_target("atmega328p"), None, None, "hard", installed=False)
    # fit sizes the Uno part on itself, no longer on a Cortex-M0+ stand-in
    assert get_budget("atmega328p").core == "atmega328p"


def test_a_missing_avr_toolchain_is_one_line_naming_the_packages(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BuildError, match=r"needs avr-gcc on PATH \(Debian/Ubuntu: apt-get install gcc-avr avr-libc\)"):
        configure(get_target("atmega2560"), None)
    assert "apt-get install gcc-avr avr-libc simavr libsimavr-dev" in simavr.missing()


def test_tables_are_pm_const_in_program_memory_and_plain_const_elsewhere(tmp_path):
    """Every weight, bias, requantization and table array of the model is PM_CONST; on AVR they
    link into flash (.text, where avr-libc puts .progmem), none into the SRAM image (.data)."""
    avr_or_skip("atmega2560")
    g = small_model()
    lib = compile_c(g, "model", AVR8)
    src = lib.files["model.c"]
    assert "static const int" not in src and "static const uint8_t" not in src  # no table left in RAM
    assert src.count("static PM_CONST ") >= 16  # filters, biases, records, the LOGISTIC table
    # on other ISAs the same declarations with PM_CONST = const (generated code otherwise unchanged)
    assert "static PM_CONST pm_requant model_l0_rq" in compile_c(g, "model", "armv7em").files["model.c"]
    lib.write(tmp_path / "src")
    elf = build(tmp_path / "src", get_target("atmega2560"), tmp_path / "m.elf")
    with open(elf, "rb") as f:
        e = ELFFile(f)
        secs = {s.name: (s["sh_addr"], s["sh_addr"] + s["sh_size"]) for s in e.iter_sections()}
        syms = [s for s in e.get_section_by_name(".symtab").iter_symbols() if s.name.startswith("model_l")]
    tables = [s for s in syms if s.name.rsplit("_", 1)[-1] in ("filter", "weights", "bias", "rq", "lut")]
    assert len(tables) >= 16
    lo, hi = secs[".text"]
    assert all(lo <= s["st_value"] < hi for s in tables), [s.name for s in tables if not lo <= s["st_value"] < hi]
    sizes = elf_sizes(elf, "model_")
    assert sizes.flash_weights_bytes == sum(s["st_size"] for s in tables)


@pytest.mark.parametrize("level", ["-Os", "-O2"])
def test_every_kernel_builds_warning_free_under_avr_gcc(level, tmp_path):
    """The whole runtime (every kernel file, every variant and the sparse kernels switched on),
    the small model's library and the AVR harness: -std=c99 -Wall -Wextra -Wpedantic -Werror."""
    cfg = avr_or_skip("atmega328p", level)
    sources = [p for p in all_kernels(tmp_path, "atmega328p") if p.parent != harness_dir()]
    compile_warning_free(cfg, sources + [harness_dir() / "avr_main.c"], tmp_path / "obj")


# ----------------------------------------------------------------------------- bit-exact in simavr
def test_sine_regressor_bit_exact_on_atmega328p():
    avr_or_skip()
    q, xs = task_model("sine")
    rep = verify(q, "atmega328p", xs=xs)
    _check_measured(rep, "atmega328p")


def test_digits_classifier_bit_exact_on_atmega328p():
    """scikit-learn's digits, the CNN at width 4 (a width-16 arena does not fit 2 KB of SRAM)."""
    avr_or_skip()
    q, xs = task_model("digits", width=4)
    rep = verify(q, "atmega328p", xs=xs)
    _check_measured(rep, "atmega328p")
    assert rep.flash_weights_bytes > 1000  # the weights are in flash, not in the 2 KB of SRAM


def test_activity_1d_cnn_bit_exact_on_atmega2560():
    """aeon's BasicMotions, the three-block 1-D CNN at its default width 16 (6 x 100 inputs)."""
    avr_or_skip("atmega2560")
    q, xs = task_model("activity", n=6)
    rep = verify(q, "atmega2560", xs=xs)
    _check_measured(rep, "atmega2560")
    assert rep.arena_bytes > 1024  # larger than what a 328p could hold beside the stack


@pytest.mark.parametrize("opt", ["speed", "size"])
def test_small_model_every_kernel_kind_bit_exact_on_atmega2560(opt):
    """Convolutions (im2col, depthwise, pointwise), ADD (a left shift of 20: int32, not int),
    pooling, dense, LOGISTIC (a table) and SOFTMAX (its fixed-point math: 16-bit int found a
    shift of 1u by up to 31), with the edge inputs -128 and 127."""
    avr_or_skip("atmega2560")
    g = small_model()
    xs = random_inputs(g, 5, seed=1)
    xs[0], xs[1] = -128, 127
    rep = verify(g, "atmega2560", xs=xs, opt=opt)
    assert rep.bit_exact, rep.first_mismatch
    assert rep.build["opt"] == {"speed": "-O2", "size": "-Os"}[opt]


@pytest.mark.parametrize("case", sorted(test_kernel_variants.ALL_CASES))
def test_kernel_variant_cases_bit_exact_on_avr(case):
    """Every kernel-variant case (odd channels, k % 4 tails, borders, strides, dilation, depth
    multipliers) on the AVR ISA; the sparse cases through the portable ISA, which keeps sparse
    encodings (the compact requantization records are built in RAM: pm_requant_ram_s8). Every
    case fits the ATmega2560's 8 KB since I/O lives in the arena (conv_large_window_direct needed
    more before); the static-data refusal is covered on the ATmega328P below."""
    avr_or_skip("atmega2560")
    g = test_kernel_variants.ALL_CASES[case]()
    xs = random_inputs(g, 3, seed=2)
    xs[0] = -128
    isa = "portable" if case.startswith("sparse_") else None
    rep = verify(g, "atmega2560", xs=xs, isa=isa)
    assert rep.bit_exact, rep.first_mismatch
    if isa:
        assert all(e["encoding"] != "dense" for e in rep.weights_encoding)


def _big_window_conv() -> Graph:
    """One 3x3 convolution over 96 channels: under 2 KB of static data, but its two im2col rows
    (2 x 864 B) on the stack do not fit beside it in an ATmega328P's SRAM."""
    rng = np.random.default_rng(3)
    x = qtensor("input", (1, 3, 3, 96), 0.05, 3)
    w = _conv_weights(rng, (2, 3, 3, 96), 0)
    b = _bias(rng, 0.05, w)
    y = qtensor("y", (1, 1, 1, 2), 0.5, 0)
    attrs = default_attrs(OpType.CONV_2D)
    attrs.update(stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, padding="VALID", fused_activation="NONE")
    g = Graph([x, w, b, y], [Op(OpType.CONV_2D, [x, w, b], [y], attrs, name="c")], [x], [y], name="big")
    g.validate()
    return g


def test_a_model_too_large_for_the_part_is_sized_and_reported_not_run():
    """Static data beyond the SRAM is not run (the linker sizes it); a stack that overflows into
    the static data is caught in simavr. Both are 'does not fit' with the bytes needed."""
    avr_or_skip()
    q, xs = task_model("digits", n=2)  # width 16: a 2.4 KB arena
    rep = verify(q, "atmega328p", xs=xs)
    assert not rep.bit_exact and rep.fits is False and rep.cycles is None
    assert "not run on atmega328p: its static data" in rep.first_mismatch
    m = re.search(r"needs ([\d.]+) KB RAM, atmega328p has 2 KB", rep.fit_message)
    assert m and float(m[1]) > 2.0, rep.fit_message
    g = _big_window_conv()
    rep = verify(g, "atmega328p", n_inputs=1)
    m = re.search(
        r"not run on atmega328p: the stack \(at least ([\d,]+) B\) overflowed the ([\d,]+) B", rep.first_mismatch
    )
    assert m, rep.first_mismatch
    assert int(m[1].replace(",", "")) > int(m[2].replace(",", "")) > 0
    assert rep.fits is False and rep.ram_bytes > 2048
    rep = verify(g, "atmega2560", n_inputs=3)  # 8 KB: it runs
    assert rep.bit_exact and rep.stack_bytes > 2 * 864


def test_cli_verify_reports_measured_cycles_latency_and_fit(tmp_path):
    avr_or_skip()
    q, _ = task_model("sine")
    picoml.save(q, tmp_path / "sine.tflite")
    r = subprocess.run(
        [sys.executable, "-m", "picoml.cli", "verify", str(tmp_path / "sine.tflite"), "--target", "atmega328p"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "bit-exact" in out and "(MEASURED: simavr's cycle counter" in out and "ESTIMATE" not in out
    assert "ms on atmega328p (measured cycles and the board's clock)" in out
    assert "fits atmega328p: RAM" in out and "built with    gcc (avr-gcc" in out


def test_cli_report_on_avr_uses_measured_cycles(tmp_path):
    """`picoml report --target atmega328p`: advice weighs layers by measured cycles; the board's
    latency is the measured cycles at its clock (no instruction counts on AVR)."""
    avr_or_skip()
    q, _ = task_model("sine")
    picoml.save(q, tmp_path / "sine.tflite")
    cmd = [sys.executable, "-m", "picoml.cli", "report", str(tmp_path / "sine.tflite"), "--out", str(tmp_path / "r")]
    r = subprocess.run([*cmd, "--target", "atmega328p"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    (board,) = [b for b in data["boards"] if b["board"] == "atmega328p"]
    assert board["fits"] and board["latency_ms"] > 1.0
    assert all("instructions/MAC" not in a["text"] for a in data["advice"])


def test_fit_measures_the_avr_itself():
    avr_or_skip()
    q, xs = task_model("sine")
    m = measure(q, get_budget("atmega328p").core, xs[:2])
    assert m["bit_exact"] and m["ram_bytes"] < 2048 and m["weight_bytes"] > 0
    assert m["instructions"] is None and m["cycles"] > m["stack_bytes"] > 0  # simavr counts cycles
    assert m["flash_bytes"] == m["code_bytes"] + m["weight_bytes"] + m["data_bytes"]


# ----------------------------------------------------------------------------- Arduino
def test_arduino_library_builds_for_an_uno(tmp_path):
    """The exported library (portable kernels, architectures=*) and its example sketch compile
    and link for an Uno: the library's C with avr-gcc, the .ino as C++ with avr-g++ (the Arduino
    core's Serial is stubbed; the sketch's own code and the library's API are what is checked)."""
    cfg = avr_or_skip("atmega328p", "-Os")
    q, _ = task_model("sine")
    out = tmp_path / "lib"
    write_arduino(q, out, name="sine")
    src = sorted((out / "src").glob("*.c"))
    flags = cfg.cflags()
    objs = []
    for c in src:
        o = tmp_path / (c.stem + ".o")
        r = subprocess.run(["avr-gcc", *flags, "-c", str(c), "-o", str(o)], capture_output=True, text=True)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr
        objs.append(str(o))
    (tmp_path / "Arduino.h").write_text(ARDUINO_STUB)
    ino = out / "examples" / "sine_demo" / "sine_demo.ino"
    main = tmp_path / "main.cpp"
    main.write_text(
        '#include "Arduino.h"\n#include "' + str(ino) + '"\nint main(void) { setup(); loop(); return 0; }\n'
    )
    cxx = ["avr-g++", "-mmcu=atmega328p", "-Os", "-Wall", "-Wextra", "-Werror", "-fno-exceptions"]
    cxx += ["-I", str(tmp_path), "-I", str(out / "src"), "-I", str(ino.parent)]
    elf = tmp_path / "uno.elf"
    r = subprocess.run([*cxx, str(main), *objs, "-o", str(elf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    size = subprocess.run(["avr-size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    text = int(next(ln.split()[1] for ln in size.splitlines() if ln.startswith(".text")))
    assert text < 32 * 1024


#: the few Arduino core names the example sketch uses (Serial.begin/print/println, millis/micros)
ARDUINO_STUB = """#ifndef ARDUINO_STUB_H
#define ARDUINO_STUB_H
#include <stdint.h>
struct StubSerial {
  void begin(unsigned long) {}
  operator bool() const { return true; }
  template <typename T> void print(T) {}
  template <typename T> void print(T, int) {}
  template <typename T> void println(T) {}
  template <typename T> void println(T, int) {}
  void println() {}
};
static StubSerial Serial;
static inline unsigned long millis(void) { return 0; }
static inline unsigned long micros(void) { return 0; }
static inline void delay(unsigned long) {}
#endif
"""
