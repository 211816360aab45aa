"""Arduino and CMake exports: they build for cortex-m4 (and the host) and their examples print
exactly what the reference interpreter computes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import picoml
from picoml.codegen import compile_c
from picoml.codegen.firmware import sample, write_arduino, write_cmake
from picoml.targets.catalog import get_target
from picoml.targets.emulator import Emulator
from picoml.targets.toolchain import WARNINGS, harness_dir

from oracles import model_path

STUB = Path(__file__).resolve().parent / "arduino_stub"
pytestmark = pytest.mark.models


def _zig(kind: str = "cc") -> list[str]:
    return [sys.executable, "-m", "ziglang", kind]


def _check(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stdout}\n{r.stderr}"
    return r


def _expected_lines(g) -> tuple[str, str]:
    _, y = sample(g)
    return "output " + " ".join(str(int(v)) for v in y), f"argmax {int(np.argmax(y))}"


@pytest.fixture(scope="module")
def ad():
    return picoml.load(model_path("ad", "int8"))


@pytest.fixture(scope="module")
def kws():
    return picoml.load(model_path("kws", "int8"))


def test_sample_output_is_the_reference(ad):
    x, y = sample(ad)
    np.testing.assert_array_equal(picoml.run(ad, x.reshape(1, *ad.inputs[0].shape[1:])).reshape(-1), y)


def test_arduino_layout(tmp_path, kws):
    files = write_arduino(kws, tmp_path / "lib", name="kws")
    assert "library.properties" in files
    props = dict(line.split("=", 1) for line in files["library.properties"].splitlines())
    assert props["name"] == "kws" and props["includes"] == "kws.h" and props["architectures"] == "*"
    assert {"src/kws.h", "src/kws.c", "examples/kws_demo/kws_demo.ino", "examples/kws_demo/kws_sample.h"} <= set(files)
    assert all((tmp_path / "lib" / f).read_text() == t for f, t in files.items())
    # deterministic: a second export is byte-identical
    again = write_arduino(kws, tmp_path / "lib2", name="kws")
    assert again == files


def test_arduino_sketch_runs_on_cortex_m4(tmp_path, kws):
    """The library's sources as plain C99, the sketch as C++ against a stubbed Arduino core."""
    lib = tmp_path / "kws"
    write_arduino(kws, lib, name="kws")
    t = get_target("cortex-m4")
    h = harness_dir()
    common = ["-target", t.zig_target, *t.cflags, "-O2", "-ffreestanding", "-g", "-ffunction-sections"]
    objs = []
    for c in sorted((lib / "src").glob("*.c")):
        o = tmp_path / (c.stem + ".o")
        _check(_zig() + common + list(WARNINGS) + ["-I", str(h / "include"), "-c", str(c), "-o", str(o)])
        objs.append(o)
    for cpp, extra in (
        (lib / "examples/kws_demo/kws_demo.ino", ["-x", "c++", "-include", "Arduino.h"]),
        (STUB / "arduino_main.cpp", []),
    ):
        o = tmp_path / (cpp.stem + ".o")
        cmd = _zig("c++") + common + ["-std=c++11", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti"]
        cmd += ["-I", str(STUB), "-I", str(lib / "src"), "-I", str(lib / "examples/kws_demo"), *extra]
        _check(cmd + ["-c", str(cpp), "-o", str(o)])
        objs.append(o)
    elf = tmp_path / "sketch.elf"
    link = _zig() + [
        "-target",
        t.zig_target,
        *t.cflags,
        "-O2",
        "-ffreestanding",
        "-nostdlib",
        "-g",
        "-I",
        str(h / "include"),
    ]
    link += [str(o) for o in objs] + [str(h / "pm_libc.c")]
    link += [f"-Wl,-T,{h / 'link.ld'}", "-Wl,-e,pm_start", "-Wl,--gc-sections", "-o", str(elf)]
    _check(link)
    status, text = Emulator(elf, "arm-thumb", "cortex-m4", io=False).run_program()
    assert status == 0
    out_line, argmax_line = _expected_lines(kws)
    lines = text.splitlines()
    assert lines[0] == "status 0"
    assert lines[1] == out_line
    assert lines[2] == argmax_line
    assert lines[3] == "matches reference: yes"


needs_cmake = pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")


@needs_cmake
def test_cmake_project_builds_and_runs_on_host(tmp_path, ad):
    proj = tmp_path / "proj"
    write_cmake(ad, proj, name="ad")
    build = tmp_path / "build"
    _check(["cmake", "-S", str(proj), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"])
    _check(["cmake", "--build", str(build), "-j", "2"])
    r = subprocess.run([str(build / "ad_demo")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out_line, argmax_line = _expected_lines(ad)
    assert r.stdout.splitlines() == ["status 0", out_line, argmax_line, "matches reference: yes"]


@needs_cmake
def test_cmake_library_cross_builds_for_cortex_m4_and_is_exact(tmp_path, ad):
    """The CMake static library target cross-compiled with zig cc, linked with the bare-metal
    harness and run in the emulator on 5 inputs: equal to the reference interpreter."""
    proj = tmp_path / "proj"
    write_cmake(ad, proj, name="model")
    t = get_target("cortex-m4")
    wrapper = tmp_path / "zigcc"
    h = harness_dir()  # its include/ holds the string.h a freestanding zig target lacks (newlib has one)
    flags = " ".join([f"-target {t.zig_target}", *t.cflags, "-ffreestanding", "-I", str(h / "include")])
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ziglang cc {flags} "$@"\n')
    wrapper.chmod(0o755)
    ar = tmp_path / "zigar"
    ar.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ziglang ar "$@"\n')
    ar.chmod(0o755)
    tc = tmp_path / "toolchain.cmake"
    tc.write_text(
        "set(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_SYSTEM_PROCESSOR arm)\n"
        "set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\n"
        f"set(CMAKE_C_COMPILER {wrapper})\nset(CMAKE_AR {ar})\n"
    )
    build = tmp_path / "build"
    # Release: without an -O flag zig cc builds in its Debug mode, which links the UBSan runtime
    _check(
        [
            "cmake",
            "-S",
            str(proj),
            "-B",
            str(build),
            f"-DCMAKE_TOOLCHAIN_FILE={tc}",
            "-DMODEL_BUILD_DEMO=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
    )
    _check(["cmake", "--build", str(build), "-j", "2"])
    lib = build / "libmodel.a"
    assert lib.is_file()
    elf = tmp_path / "model.elf"
    cmd = _zig() + ["-target", t.zig_target, *t.cflags, "-O2", "-ffreestanding", "-g", *WARNINGS]
    cmd += ["-I", str(h / "include"), "-I", str(proj / "src"), str(h / "mcu_main.c"), str(h / "pm_libc.c"), str(lib)]
    cmd += [f"-Wl,-T,{h / 'link.ld'}", "-Wl,-e,pm_start", "-Wl,--gc-sections", "-o", str(elf)]
    _check(cmd)
    io = compile_c(ad)  # the exported library (portable C): where its input and output live in the arena
    em = Emulator(elf, "arm-thumb", "cortex-m4", io.inputs, io.outputs)
    xs = np.random.default_rng(3).integers(-128, 128, (5, *ad.inputs[0].shape), dtype=np.int8)
    want = picoml.run(ad, xs).reshape(5, -1)
    for x, w in zip(xs, want, strict=True):
        r = em.run(x, count=False)
        assert r.status == 0
        np.testing.assert_array_equal(r.output, w)
