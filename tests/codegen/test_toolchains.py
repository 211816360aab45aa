"""GNU toolchains beside zig's clang (issue 16): the generated C, the runtime (every kernel
variant) and the harness build warning-free (-std=c99 -Wall -Wextra -Wpedantic -Werror) at -O0,
-Os, -O2 and -O3 under arm-none-eabi-gcc, riscv64-unknown-elf-gcc and zig for cortex-m0plus,
m3, m4 (hard and soft float), m7, m33 and rv32imc; gcc-built ELFs run bit-exact in the
emulator; the CMake export cross-builds with arm-none-eabi-gcc through its hard- and soft-float
toolchain files and links into a program of that ABI.

Where a GNU compiler is missing these tests skip with one line saying what to install; with
PICOML_REQUIRE_TOOLCHAINS=1 (set by .ci/run) they fail instead. The default run builds a small
model (every kernel file of the runtime, every variant switched on) at all four levels and the
MLPerf Tiny models at -O2; the models at the other levels are marked slow."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import test_kernel_variants  # the kernel-variant cases (this directory is on sys.path under pytest)

import picoml
from picoml.codegen import compile_c
from picoml.codegen.firmware import DEFAULT_CROSS, write_cmake
from picoml.flows.verify import random_inputs, verify
from picoml.graph.ir import Graph, Op
from picoml.graph.ops import OpType, default_attrs
from picoml.targets import get_target
from picoml.targets.emulator import Emulator
from picoml.targets.toolchain import GCC, BuildConfig, BuildError, build, cmake_cross, configure, harness_dir

from oracles import MODEL_NAMES, model_path, qtensor

LEVELS = ("-O0", "-Os", "-O2", "-O3")
#: (core, float ABI) of the matrix: None is the core's default
CORES = [
    ("cortex-m0plus", None),
    ("cortex-m3", None),
    ("cortex-m4", "hard"),
    ("cortex-m4", "soft"),
    ("cortex-m7", None),
    ("cortex-m33", None),
    ("riscv32", None),
]


def config_or_skip(target: str, toolchain: str, opt: str = "-O2", float_abi: str | None = None) -> BuildConfig:
    """The build, or a skip naming what to install (a failure where CI requires the toolchains)."""
    try:
        return configure(get_target(target), toolchain, opt, float_abi)
    except BuildError as e:
        if os.environ.get("PICOML_REQUIRE_TOOLCHAINS"):
            pytest.fail(f"PICOML_REQUIRE_TOOLCHAINS is set: {e}")
        pytest.skip(str(e))


# ----------------------------------------------------------------------------- a small model
def _conv_weights(rng, shape, axis):
    n = shape[axis]
    return qtensor(
        f"w{rng.integers(1 << 30)}",
        shape,
        rng.uniform(0.002, 0.03, n).astype(np.float32),
        np.zeros(n),
        data=rng.integers(-127, 128, shape, dtype=np.int8),
        axis=axis,
    )


def _bias(rng, x_scale, w):
    n = len(w.scale)
    return qtensor(
        f"{w.name}_bias",
        (n,),
        (x_scale * w.scale).astype(np.float32),
        np.zeros(n),
        "int32",
        data=rng.integers(-3000, 3000, n).astype(np.int32),
    )


def small_model(seed: int = 0) -> Graph:
    """A small DS-CNN-like chain over every kind of kernel: a strided 3x3 convolution (im2col,
    k = 27: zero-padded rows on Armv7E-M), a 3x3 depthwise (channel groups, assembly block), ADD,
    a pointwise convolution (4x2 kernel), a depthwise with multiplier 2 (generic loop), max and
    average pooling, a dense layer, LOGISTIC (a table on MCUs) and SOFTMAX."""
    rng = np.random.default_rng(seed)
    x = qtensor("input", (1, 10, 8, 3), 0.05, 3)
    t: list = [x]
    ops: list[Op] = []

    def op(kind, inputs, out, name, **attrs):
        a = default_attrs(kind)
        a.update(attrs)
        ops.append(Op(kind, inputs, [out], a, name=name))
        t.extend([i for i in inputs if i is not None and i not in t] + [out])
        return out

    def conv(kind, xin, w, out, name, **attrs):
        if kind != OpType.FULLY_CONNECTED:
            attrs = {"stride_h": 1, "stride_w": 1, "dilation_h": 1, "dilation_w": 1, **attrs}
        b = _bias(rng, float(xin.scale[0]), w)
        return op(kind, [xin, w, b], out, name, **attrs)

    y1 = conv(
        OpType.CONV_2D,
        x,
        _conv_weights(rng, (16, 3, 3, 3), 0),
        qtensor("c0", (1, 5, 4, 16), 0.08, -5),
        "c0",
        stride_h=2,
        stride_w=2,
        padding="SAME",
        fused_activation="RELU",
    )
    y2 = conv(
        OpType.DEPTHWISE_CONV_2D,
        y1,
        _conv_weights(rng, (1, 3, 3, 16), 3),
        qtensor("d1", (1, 5, 4, 16), 0.06, 2),
        "d1",
        padding="SAME",
        depth_multiplier=1,
        fused_activation="RELU6",
    )
    y3 = op(OpType.ADD, [y1, y2], qtensor("add", (1, 5, 4, 16), 0.1, 1), "add")
    y4 = conv(
        OpType.CONV_2D,
        y3,
        _conv_weights(rng, (12, 1, 1, 16), 0),
        qtensor("pw", (1, 5, 4, 12), 0.07, -3),
        "pw",
        padding="SAME",
        fused_activation="NONE",
    )
    y5 = conv(
        OpType.DEPTHWISE_CONV_2D,
        y4,
        _conv_weights(rng, (1, 3, 3, 24), 3),
        qtensor("d2", (1, 5, 4, 24), 0.05, 0),
        "d2",
        padding="SAME",
        depth_multiplier=2,
        fused_activation="NONE",
    )
    y6 = op(
        OpType.MAX_POOL_2D,
        [y5],
        qtensor("mp", (1, 2, 2, 24), 0.05, 0),
        "mp",
        filter_h=2,
        filter_w=2,
        stride_h=2,
        stride_w=2,
        padding="VALID",
    )
    y7 = op(
        OpType.AVERAGE_POOL_2D,
        [y6],
        qtensor("ap", (1, 1, 1, 24), 0.05, 0),
        "ap",
        filter_h=2,
        filter_w=2,
        stride_h=1,
        stride_w=1,
        padding="VALID",
    )
    y8 = conv(OpType.FULLY_CONNECTED, y7, _conv_weights(rng, (10, 24), 0), qtensor("fc", (1, 10), 0.1, -4), "fc")
    y9 = op(OpType.LOGISTIC, [y8], qtensor("sig", (1, 10), 1 / 256, -128), "sig")
    y10 = op(OpType.SOFTMAX, [y9], qtensor("prob", (1, 10), 1 / 256, -128), "prob", beta=1.0)
    g = Graph(t, ops, [x], [y10], name="small")
    g.validate()
    return g


# ----------------------------------------------------------------------------- build choices
def test_build_choices_are_descriptions_and_bad_ones_are_one_line():
    m4 = get_target("cortex-m4")
    assert get_target("cortex-m3").isa.name == "armv7m" and not get_target("cortex-m3").dsp
    assert get_target("cortex-m33").isa.name == "armv7em" and get_target("cortex-m33").dsp
    assert m4.float_abis == ("hard", "soft") and get_target("cortex-m0plus").float_abis == ("soft",)
    cfg = configure(m4, "gcc", "size", "soft", installed=False)
    assert cfg.cflags()[:5] == ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "-Os", "-std=c99"]
    assert configure(get_target("riscv32"), "gcc", installed=False).cflags()[:3] == [
        "-march=rv32imc",
        "-mabi=ilp32",
        "-O2",
    ]
    zig_soft = configure(m4, "zig", None, "soft", installed=False).cflags()
    assert zig_soft[:4] == ["-target", "thumb-freestanding-eabi", "-mcpu=cortex_m4", "-mfloat-abi=soft"]
    for args, msg in [
        (("cortex-m0plus", "gcc", None, "hard"), "cortex-m0plus has no FPU"),
        (("cortex-m4", "msvc", None, None), "unknown toolchain 'msvc'"),
        (("cortex-m4", None, "fast", None), "unknown optimization 'fast'"),
        (("host", "gcc", None, None), "host target uses the host C compiler"),
    ]:
        with pytest.raises(BuildError, match=msg):
            configure(get_target(args[0]), *args[1:], installed=False)
    # the CMake export's default toolchain files are the Cortex-M4F pair cmake_cross makes
    assert cmake_cross(m4) == DEFAULT_CROSS
    assert [c.file for c in cmake_cross(get_target("riscv32"))] == ["riscv64-unknown-elf-riscv32.cmake"]


def test_a_missing_gcc_is_one_line_saying_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(
        BuildError, match=r"needs arm-none-eabi-gcc on PATH \(Debian/Ubuntu: apt-get install gcc-arm-none-eabi"
    ):
        configure(get_target("cortex-m4"), "gcc")
    with pytest.raises(BuildError, match="apt-get install gcc-riscv64-unknown-elf"):
        configure(get_target("riscv32"), "gcc")


# ----------------------------------------------------------------------------- warning-free matrix
VARIANT_SWITCH = re.compile(r"#define (PM_(?:CONV2D|DEPTHWISE_CONV2D)_S8_\w+|PM_SPARSE_WEIGHTS) 0\b")


def all_kernels(tmp: Path, target: str) -> list[Path]:
    """The small model's library for the core's ISA plus every runtime file of the package, with
    every named kernel variant and the sparse kernels switched on; its sources and the harness's."""
    d = tmp / f"src_{target}"
    if not d.exists():
        d.mkdir()
        pkg = resources.files("picoml.codegen.runtime")
        files = {
            p.name: p.read_text() for p in pkg.iterdir() if p.name.startswith("pm_") and p.name[-2:] in (".c", ".h")
        }
        files.update(compile_c(small_model(), "model", get_target(target).isa).files)
        files["pm_config.h"] = VARIANT_SWITCH.sub(r"#define \1 1", files["pm_config.h"])
        assert " 0\n" not in "".join(re.findall(r"#define PM_(?:CONV2D|DEPTHWISE).*\n", files["pm_config.h"]))
        for name, text in files.items():
            (d / name).write_text(text)
    h = harness_dir()
    return sorted(d.glob("*.c")) + [h / "mcu_main.c", h / "pm_libc.c"]


def _bare(cfg: BuildConfig) -> tuple[str, ...]:
    """-ffreestanding where the cross compiler comes without a C library (its <stdint.h> needs it)."""
    return ("-ffreestanding",) if cfg.target.arch in GCC.notes else ()


def compile_warning_free(cfg: BuildConfig, sources: list[Path], obj_dir: Path, extra: tuple[str, ...] = ()) -> None:
    """Compile (no link) with the user's flags only: target, -O level, -std=c99 -W... -Werror."""
    obj_dir.mkdir(parents=True, exist_ok=True)
    inc = ["-I", str(harness_dir() / "include"), "-I", str(sources[0].parent)]  # <string.h> for the bare compilers
    cmd = cfg.compiler() + cfg.cflags() + list(extra) + inc + ["-c", *map(str, sources)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=obj_dir, timeout=600)
    assert r.returncode == 0 and not r.stderr.strip(), (
        f"{cfg.describe()['cflags']} {' '.join(extra)}:\n{r.stderr[-3000:]}"
    )


def _core_id(c) -> str:
    return c[0] + (f"-{c[1]}" if c[1] else "")


#: the cores whose assembly differs: Armv6-M's file-scope loop, Armv7E-M and Armv8-M's inline ones
ASM_CORES = [("cortex-m0plus", None), ("cortex-m4", "hard"), ("cortex-m33", None)]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("core", CORES, ids=_core_id)
def test_every_kernel_builds_warning_free_under_gcc(core, level, tmp_path):
    """-O0 keeps the frame pointer, so there the widest assembly loops take their C paths."""
    target, abi = core
    cfg = config_or_skip(target, "gcc", level, abi)
    compile_warning_free(cfg, all_kernels(tmp_path, target), tmp_path / "obj", _bare(cfg))


def _zig_matrix():
    for core in CORES:
        for level in LEVELS:
            slow = () if core in ASM_CORES and level == "-O0" else (pytest.mark.slow,)
            yield pytest.param(core, level, marks=slow, id=f"{_core_id(core)}{level}")


@pytest.mark.parametrize("core, level", list(_zig_matrix()))
def test_every_kernel_builds_warning_free_under_zig(core, level, tmp_path):
    """picoml's own builds (frame pointer omitted: every assembly loop) and clang's default
    (frame pointer kept: the widest loops' C paths) at each level; -O0 of the assembly cores runs
    by default, the rest with the slow tests (every emulator test builds zig at -O2 anyway)."""
    target, abi = core
    cfg = config_or_skip(target, "zig", level, abi)
    sources = all_kernels(tmp_path, target)
    compile_warning_free(cfg, sources, tmp_path / "obj_speed", cfg.toolchain.speed_flags)
    compile_warning_free(cfg, sources, tmp_path / "obj_default")


# ----------------------------------------------------------------------------- bit-exact
def _xs(g: Graph, n: int = 6) -> np.ndarray:
    xs = random_inputs(g, n, seed=1)
    xs[0], xs[1] = -128, 127
    return xs


@pytest.mark.parametrize("core", CORES, ids=_core_id)
def test_small_model_gcc_bit_exact(core):
    target, abi = core
    config_or_skip(target, "gcc", "-O2", abi)
    g = small_model()
    rep = verify(g, target, xs=_xs(g), toolchain="gcc", float_abi=abi, counted_runs=1)
    assert rep.bit_exact, rep.first_mismatch
    b = rep.build
    assert b["toolchain"] == "gcc" and b["opt"] == "-O2" and "gcc" in b["compiler"]
    assert b["float_abi"] == (abi or get_target(target).float_abis[0])
    assert rep.to_json()["build"] == b


@pytest.mark.parametrize(
    "toolchain, opt, extra",
    [
        ("gcc", "-O0", ()),
        pytest.param("gcc", "-Os", (), marks=pytest.mark.slow),
        pytest.param("gcc", "-O3", (), marks=pytest.mark.slow),
        ("zig", "-O2", ("-UPM_ASM_ALL_REGS", "-DPM_ASM_ALL_REGS=0")),
    ],
    ids=["gcc-O0", "gcc-Os", "gcc-O3", "zig-frame-pointer-paths"],
)
def test_small_model_other_levels_bit_exact_on_cortex_m4(toolchain, opt, extra, tmp_path):
    """Builds that keep the frame pointer (gcc -O0; zig without -DPM_ASM_ALL_REGS=1, the later
    define winning) run the C paths of the widest assembly loops: same outputs."""
    config_or_skip("cortex-m4", toolchain, opt)
    g = small_model()
    if extra:  # verify has no flag hook: build through the toolchain module directly
        lib = compile_c(g, "model", get_target("cortex-m4").isa)
        lib.write(tmp_path / "src")
        elf = build(
            tmp_path / "src", get_target("cortex-m4"), tmp_path / "m.elf", opt, toolchain=toolchain, extra=extra
        )
        xs = _xs(g)
        em = Emulator(elf, "arm-thumb", "cortex-m4", lib.inputs, lib.outputs)
        want = picoml.run(g, xs).reshape(len(xs), -1)
        for x, w in zip(xs, want, strict=True):
            np.testing.assert_array_equal(em.run(x, count=False).output, w)
        return
    rep = verify(g, "cortex-m4", xs=_xs(g), toolchain=toolchain, opt=opt, counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch
    assert rep.build["opt"] == opt


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
@pytest.mark.parametrize("case", sorted(test_kernel_variants.ALL_CASES))
def test_kernel_variant_cases_gcc_bit_exact(case, target):
    """Every kernel-variant case (odd channels, k % 4 tails, borders, strides, dilation, depth
    multipliers, sparse encodings) built by gcc for the core's ISA, against the reference."""
    config_or_skip(target, "gcc")
    g = test_kernel_variants.ALL_CASES[case]()
    rep = verify(g, target, xs=_xs(g), toolchain="gcc", counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(test_kernel_variants.ALL_CASES))
def test_kernel_variant_cases_gcc_warning_free_at_every_level(case, tmp_path):
    """The library of every kernel-variant case, for each core's ISA, at every level: its
    pm_config.h sizes the stack arrays and compiles paths in and out, which moves GCC's
    register allocation and its may-be-uninitialized analysis."""
    g = test_kernel_variants.ALL_CASES[case]()
    h = harness_dir()
    for target, abi in CORES:
        src = tmp_path / f"src_{target}"
        if not src.exists():
            compile_c(g, "model", get_target(target).isa).write(src)
        sources = sorted(src.glob("*.c")) + [h / "mcu_main.c", h / "pm_libc.c"]
        for level in LEVELS:
            cfg = config_or_skip(target, "gcc", level, abi)
            compile_warning_free(cfg, sources, tmp_path / f"obj_{target}{abi}{level}", _bare(cfg))


# ----------------------------------------------------------------------------- MLPerf Tiny models
@pytest.mark.models
@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m4", "riscv32"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_mlperf_models_gcc_bit_exact(name, target):
    config_or_skip(target, "gcc")
    g = picoml.load(model_path(name, "int8"))
    rep = verify(g, target, n_inputs=4, toolchain="gcc", counted_runs=0)
    assert rep.bit_exact, rep.first_mismatch
    assert rep.build["toolchain"] == "gcc" and rep.build["opt"] == "-O2"


@pytest.mark.models
@pytest.mark.parametrize(
    "core",
    [
        ("cortex-m4", "soft"),
        ("cortex-m7", None),
        pytest.param(("cortex-m3", None), marks=pytest.mark.slow),  # the small model covers them by default
        pytest.param(("cortex-m33", None), marks=pytest.mark.slow),
    ],
    ids=_core_id,
)
def test_kws_gcc_bit_exact_on_the_other_cores(core):
    target, abi = core
    config_or_skip(target, "gcc", "-O2", abi)
    rep = verify(
        picoml.load(model_path("kws", "int8")), target, n_inputs=3, toolchain="gcc", float_abi=abi, counted_runs=0
    )
    assert rep.bit_exact, rep.first_mismatch


@pytest.mark.slow
@pytest.mark.models
@pytest.mark.parametrize("core", CORES, ids=_core_id)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_mlperf_models_gcc_warning_free_at_every_level(name, core, tmp_path):
    target, abi = core
    src = tmp_path / "src"
    compile_c(picoml.load(model_path(name, "int8")), "model", get_target(target).isa).write(src)
    h = harness_dir()
    sources = sorted(src.glob("*.c")) + [h / "mcu_main.c", h / "pm_libc.c"]
    for level in LEVELS:
        cfg = config_or_skip(target, "gcc", level, abi)
        compile_warning_free(cfg, sources, tmp_path / f"obj{level}", _bare(cfg))


# ----------------------------------------------------------------------------- CMake export
needs_cmake = pytest.mark.skipif(
    shutil.which("cmake") is None and not os.environ.get("PICOML_REQUIRE_TOOLCHAINS"), reason="cmake is not installed"
)


def _link(cfg: BuildConfig, lib: Path, include: Path, out: Path) -> subprocess.CompletedProcess:
    h = harness_dir()
    tc = cfg.toolchain
    cmd = cfg.compiler() + cfg.cflags() + list(tc.bare_cflags) + list(tc.link_flags)
    cmd += ["-I", str(h / "include"), "-I", str(include), str(h / "mcu_main.c"), str(h / "pm_libc.c"), str(lib)]
    cmd += [f"-Wl,-T,{h / 'link.ld'}", "-Wl,-e,pm_start", "-Wl,--gc-sections", *tc.libs, "-o", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@needs_cmake
def test_cmake_export_builds_with_arm_none_eabi_gcc_hard_and_soft(tmp_path):
    """The export's toolchain files build the static library with arm-none-eabi-gcc (-Werror on);
    each links into a bare-metal program of its float ABI and runs bit-exact; the hard-float
    library refuses to link into a soft-float program (the check is not vacuous)."""
    g = small_model()
    proj = tmp_path / "proj"
    files = write_cmake(g, proj, cross=cmake_cross(get_target("cortex-m4")))
    assert {"cmake/arm-none-eabi-cortex-m4-hard.cmake", "cmake/arm-none-eabi-cortex-m4-soft.cmake"} <= set(files)
    io = compile_c(g)  # the library write_cmake exported (portable C): where its input and output live
    xs = _xs(g, 4)
    want = picoml.run(g, xs).reshape(len(xs), -1)
    libs = {}
    for abi in ("hard", "soft"):
        cfg = config_or_skip("cortex-m4", "gcc", "-O2", abi)
        build = tmp_path / f"build_{abi}"
        for cmd in (
            [
                "cmake",
                "-S",
                str(proj),
                "-B",
                str(build),
                f"-DCMAKE_TOOLCHAIN_FILE={proj}/cmake/arm-none-eabi-cortex-m4-{abi}.cmake",
                "-DMODEL_BUILD_DEMO=OFF",
            ],
            ["cmake", "--build", str(build), "-j", "2"],
        ):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "CMAKE_BUILD_TYPE:STRING=Release" in (build / "CMakeCache.txt").read_text()
        (compiler,) = build.glob("CMakeFiles/*/CMakeCCompiler.cmake")
        assert re.search(r'set\(CMAKE_C_COMPILER "\S*arm-none-eabi-gcc"\)', compiler.read_text())
        libs[abi] = build / "libmodel.a"
        elf = tmp_path / f"model_{abi}.elf"
        r = _link(cfg, libs[abi], proj / "src", elf)
        assert r.returncode == 0, r.stderr
        em = Emulator(elf, "arm-thumb", "cortex-m4", io.inputs, io.outputs)
        for x, w in zip(xs, want, strict=True):
            np.testing.assert_array_equal(em.run(x, count=False).output, w)
    r = _link(config_or_skip("cortex-m4", "gcc", "-O2", "soft"), libs["hard"], proj / "src", tmp_path / "mixed.elf")
    assert r.returncode != 0 and "VFP register arguments" in r.stderr
