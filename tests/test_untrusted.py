"""A model file is untrusted input (issue 12).

- Hostile names (tests/adversarial.py) go through every export format: each builds warning-free
  with gcc and clang (zig cc) under -std=c99 -Wall -Wextra -Wpedantic -Werror, the preprocessed
  code equals that of the same model with plain names (so no name changed a token the compiler
  sees: a trigger-gated injection changes nothing), the host build is bit-exact on inputs that
  would trigger the injection, and names reach the terminal, JSON and HTML only escaped.
- ``--name`` must be a C identifier that is not a keyword and cannot collide with runtime files.
- Memory bombs, FIFOs, devices and oversized files end in one line and exit 2, under a 2 GB
  address-space limit, before anything big is allocated.
- Every user mistake is exit 2 with one stderr line; a failed check is exit 1; outputs never mix
  or half-exist.

None of this needs the MLPerf model files: the models are built here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import picoml
from picoml.cli import main
from picoml.errors import InputError, UnsupportedError
from picoml.flows.verify import verify
from picoml.frontends.tflite_writer import write_tflite_bytes
from picoml.outputs import MANIFEST
from picoml.targets.toolchain import WARNINGS, zig_cc
from picoml.untrusted import SAFE_PUNCTUATION, for_terminal, one_line, printable

from adversarial import (
    HOSTILE_NAMES,
    bomb_conv_windows,
    bomb_input,
    bomb_pad,
    memory_bombs,
    rename,
    run_cli,
    tiny_int8_model,
)
from oracles import qtensor, single_op_graph, to_tflite

ADDRESS_SPACE = 2 << 30  # the memory-bomb cases run under this RLIMIT_AS
NAMES = list(HOSTILE_NAMES.items())
GROUP = 6  # the tiny model has 6 ops: each group of names lands on every op output
GROUPS = [NAMES[i : i + GROUP] for i in range(0, len(NAMES), GROUP)]
PLAIN = [f"t{i}" for i in range(20)]


# ----------------------------------------------------------------------------- helpers
def cli(*args, limit_as: int | None = None, timeout: float = 120, cwd=None) -> subprocess.CompletedProcess:
    return run_cli(*args, limit_as=limit_as, timeout=timeout, cwd=cwd)


def assert_user_error(r: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit code 2, exactly one non-empty stderr line without a traceback, naming what it should."""
    lines = r.stderr.splitlines()
    assert r.returncode == 2, f"exit {r.returncode}, stderr {r.stderr!r}"
    assert len(lines) == 1 and lines[0].startswith("picoml: error: "), f"stderr is not one line: {r.stderr!r}"
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    return lines[0]


def run_main(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny():
    return tiny_int8_model()


def _hostile_model(tiny, group) -> picoml.Graph:
    names = [n for _, n in group]
    return rename(tiny, names, graph_name=names[0], description=names[-1])


def _files(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _preprocess(src: Path, include: list[Path]) -> str:
    """What the compiler sees once comments, splices and trigraphs are resolved (gcc -E, C99)."""
    cmd = ["gcc", "-std=c99", "-E", "-P", *[f"-I{d}" for d in include], str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _build_werror(sources: list[Path], include: list[Path], out: Path) -> None:
    """Compile every source with gcc and with clang (zig cc), -std=c99 -Wall -Wextra -Wpedantic -Werror."""
    out.mkdir(parents=True, exist_ok=True)
    inc = [f"-I{d}" for d in include]
    jobs = []
    for src in sources:
        for cc, tag in ((["gcc"], "gcc"), (zig_cc(), "clang")):
            obj = out / f"{src.stem}.{tag}.o"
            cmd = cc + [*WARNINGS, "-O1", *inc, "-c", str(src), "-o", str(obj)]
            jobs.append((cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for cmd, p in jobs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"{' '.join(cmd)}\n{err}"


# ----------------------------------------------------------------------------- the sanitizers
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_printable_is_safe_for_every_generated_format(text):
    s = printable(text)
    assert len(s) <= 64
    assert set(s) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~." + SAFE_PUNCTUATION)
    for bad in ("/*", "*/", "\\", "??", '"', "'", "<", "&", "$", "`", "\n", "\r"):
        assert bad not in s


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_terminal_text_is_one_printable_line(text):
    for s in (for_terminal(text), one_line(text)):
        assert len(s.splitlines()) <= 1 and s.isprintable()
        assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in s)  # bidi controls
    assert len(for_terminal(text)) <= 160


def test_printable_keeps_ordinary_framework_names():
    for name in ("model/conv2d/Relu;StatefulPartitionedCall:0", "layer1.0.conv", "onnx::Conv_12", "dense_1/BiasAdd"):
        assert printable(name) == name


# ----------------------------------------------------------------------------- hostile names
@pytest.mark.parametrize("group", range(len(GROUPS)), ids=[f"names{i}" for i in range(len(GROUPS))])
def test_hostile_names_in_every_export_format(group, tiny, tmp_path, capsys):
    """Every format builds under -Werror on gcc and clang, and compiles to exactly the code of the
    same model with plain names."""
    hostile = tmp_path / "hostile.tflite"
    plain = tmp_path / "plain.tflite"
    hostile.write_bytes(write_tflite_bytes(_hostile_model(tiny, GROUPS[group])))
    plain.write_bytes(write_tflite_bytes(rename(tiny, PLAIN, graph_name="plain")))
    loaded = picoml.load(hostile)
    # the names survive reading: each op carries its hostile name verbatim (the test is real)
    assert {n for _, n in GROUPS[group] if n} <= {op.name for op in loaded.ops}
    for fmt in ("c", "arduino", "cmake"):
        dirs = {}
        for kind, model in (("hostile", hostile), ("plain", plain)):
            d = tmp_path / f"{fmt}_{kind}"
            code, out, err = run_main(capsys, "compile", model, "--out", d, "--format", fmt, "--name", "net")
            assert code == 0, err
            assert err == ""
            dirs[kind] = d
        h = dirs["hostile"]
        src = h if fmt == "c" else h / "src"
        # every file picoml generated from this model is printable ASCII, no splice, no trigraph
        for rel, data in _files(h).items():
            text = data.decode("ascii")  # raises on any non-ASCII byte
            if Path(rel).name.startswith("pm_"):
                continue  # runtime files are copied verbatim, independent of the model
            assert all(line.isprintable() for line in text.splitlines()), rel
            assert "??" not in text and not re.search(r"\\\s*$", text, re.M), rel
        # the compiler sees the same tokens with hostile and with plain names
        for f in ("net.c", "net.h"):
            psrc = dirs["plain"] if fmt == "c" else dirs["plain"] / "src"
            assert _preprocess(src / f, [src]) == _preprocess(psrc / f, [psrc]), (fmt, f)
        sources = sorted(src.glob("*.c"))
        if fmt == "cmake":
            sources.append(h / "example" / "main.c")
        _build_werror(sources, [src, h / "example"] if fmt == "cmake" else [src], tmp_path / f"obj_{fmt}")
    # The example of the CMake project, linked and run on the host: prints the reference output.
    exe = tmp_path / "demo"
    h = tmp_path / "cmake_hostile"
    cmd = ["gcc", *WARNINGS, "-O1", f"-I{h / 'src'}", f"-I{h / 'example'}", *map(str, sorted((h / "src").glob("*.c")))]
    r = subprocess.run(cmd + [str(h / "example" / "main.c"), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "matches reference: yes" in r.stdout, r.stdout


@pytest.mark.parametrize("group", range(len(GROUPS)), ids=[f"names{i}" for i in range(len(GROUPS))])
def test_hostile_names_verify_bit_exact_on_the_trigger(group, tiny, tmp_path):
    """The injections fire only when input[0] == 42: verify on exactly such inputs (and others)."""
    path = tmp_path / "m.tflite"
    path.write_bytes(write_tflite_bytes(_hostile_model(tiny, GROUPS[group])))
    g = picoml.load(path)
    xs = np.random.default_rng(group).integers(-128, 128, (12,) + g.inputs[0].shape, dtype=np.int8)
    xs.reshape(len(xs), -1)[:8, 0] = 42  # the trigger
    rep = verify(g, "host", xs=xs)
    assert rep.bit_exact, rep.first_mismatch
    r = cli("verify", path, "--target", "host", "--inputs", 5, "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert json.loads(r.stdout)["bit_exact"] is True


def test_hostile_names_on_the_terminal_and_in_json(tiny, tmp_path):
    hostile = _hostile_model(tiny, [(k, n) for k, n in NAMES if k != "empty"][:GROUP])
    path = tmp_path / "m.tflite"
    path.write_bytes(write_tflite_bytes(hostile))
    plain = tmp_path / "p.tflite"
    plain.write_bytes(write_tflite_bytes(rename(tiny, PLAIN)))
    r, rp = cli("info", path), cli("info", plain)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # no name adds a line, an escape sequence or a bidi control to the terminal
    assert len(r.stdout.splitlines()) == len(rp.stdout.splitlines())
    assert all(line.isprintable() for line in r.stdout.splitlines())
    # JSON keeps the names exactly (escaped by the encoder)
    loaded = picoml.load(path)
    j = json.loads(cli("info", path, "--json").stdout)
    assert [o["name"] for o in j["ops"]] == [op.name for op in loaded.ops]
    assert [t["name"] for t in j["inputs"]] == [t.name for t in loaded.inputs]


def test_hostile_names_in_error_messages(tmp_path):
    """A name in an error message is escaped: the message stays one printable line."""
    x = qtensor("x\n\x1b[2J\u202eevil", (1, 4), 0.1, 0)
    y = qtensor("y", (1, 4), 0.1, 0)
    path = tmp_path / "m.tflite"
    path.write_bytes(to_tflite(single_op_graph("RELU", [x], y)))
    np.save(tmp_path / "bad.npy", np.zeros((3, 7), np.int8))
    r = cli("run", path, "--input", tmp_path / "bad.npy", "--output", tmp_path / "y.npy")
    line = assert_user_error(r, "does not match")
    assert line.isprintable() and "\\x1b" in line and "\\u202e" in line


def test_hostile_names_in_the_html_report(tmp_path):
    from picoml.flows.report import write_report

    evil = HOSTILE_NAMES["html"] + HOSTILE_NAMES["bidi controls"] + "$x^2$"
    data = {
        "title": evil,
        "summary": evil,
        "memory": {
            "ops": [evil, "b"],
            "buffers": [{"name": evil, "offset": 0, "size": 100, "first": 0, "last": 1}],
            "arena_bytes": 100,
            "lower_bound": 100,
            "live_bytes": [100, 100],
        },
    }
    write_report(tmp_path, data)
    page = (tmp_path / "index.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


# ----------------------------------------------------------------------------- --name
@pytest.mark.parametrize(
    "name",
    [
        "pm_config",
        "pm_common",
        "pm_fully_connected_s8",
        "PM_COMMON",
        "pm",
        "int",
        "while",
        "_Bool",
        "_model",
        "1model",
        "",
        "a-b",
        "a" * 41,
        "model\n",
        "mödel",
        "all",
        "test",
        "main",
    ],
)
def test_bad_model_names_are_refused_before_writing(name, tiny, tmp_path, capsys):
    path = tmp_path / "m.tflite"
    path.write_bytes(write_tflite_bytes(tiny))
    out = tmp_path / "out"
    code, _, err = run_main(capsys, "compile", path, "--out", out, "--name", name)
    assert code == 2 and len(err.splitlines()) == 1 and "model name" in err, err
    assert not out.exists()


def test_good_model_names(tiny, tmp_path, capsys):
    path = tmp_path / "m.tflite"
    path.write_bytes(write_tflite_bytes(tiny))
    for name in ("kws", "Net_2", "model", "pmx", "x" * 40):
        code, _, err = run_main(capsys, "compile", path, "--out", tmp_path / name, "--name", name)
        assert code == 0, err


# ----------------------------------------------------------------------------- memory bombs, FIFOs, devices
@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bombs")
    (d / "pad.tflite").write_bytes(bomb_pad())
    (d / "input.tflite").write_bytes(bomb_input())
    (d / "windows.tflite").write_bytes(bomb_conv_windows())
    np.save(d / "x_pad.npy", np.zeros((1, 4, 4, 1), np.int8))
    np.save(d / "x_win.npy", np.zeros((1, 200, 200, 1), np.int8))
    return d


BOMBS = memory_bombs(seed=0, n=22)


@pytest.mark.parametrize("case", range(len(BOMBS)), ids=[b[0].split(":")[0] for b in BOMBS])
def test_generated_memory_bombs_through_the_cli(case, tmp_path):
    """Seeded bombs across op types (tests/adversarial.py): info, run and verify end in exit 2 and
    one line under a 2 GB address-space limit; one that only the interpreter's working memory
    exceeds loads (info: 0) and is refused when run."""
    desc, data, stage = BOMBS[case]
    m = tmp_path / "bomb.tflite"
    m.write_bytes(data)
    assert len(data) < 100_000, desc
    g_in = None if stage == "load" else picoml.load(m).inputs[0]
    x = tmp_path / "x.npy"
    np.save(x, np.zeros(g_in.shape if g_in is not None else (1,), np.int8))
    t0 = time.perf_counter()
    info = cli("info", m, limit_as=ADDRESS_SPACE)
    if stage == "load":
        assert_user_error(info, "bomb.tflite", "memory limit")
    else:
        assert info.returncode == 0 and info.stderr == "", info.stderr
    for args in (["run", m, "--input", x, "--output", tmp_path / "y.npy"], ["verify", m, "--target", "host"]):
        assert_user_error(cli(*args, limit_as=ADDRESS_SPACE), "memory limit")
    assert time.perf_counter() - t0 < 60, desc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.tflite", "x.npy"]


def test_bomb_files_are_small(bombs):
    assert (bombs / "pad.tflite").stat().st_size < 1000
    assert (bombs / "input.tflite").stat().st_size < 1000


@pytest.mark.parametrize("command", ["info", "run", "compile", "verify"])
def test_pad_bomb_is_refused_under_2gb(command, bombs, tmp_path):
    args = {
        "info": [],
        "run": ["--input", bombs / "x_pad.npy", "--output", tmp_path / "y.npy"],
        "compile": ["--out", tmp_path / "lib"],
        "verify": ["--target", "host"],
    }[command]
    t0 = time.perf_counter()
    r = cli(command, bombs / "pad.tflite", *args, limit_as=ADDRESS_SPACE)
    assert_user_error(r, "pad.tflite", "'y'", "memory limit")
    assert time.perf_counter() - t0 < 30
    assert list(tmp_path.iterdir()) == []  # no output, no partial or temp file


def test_input_bomb_is_refused(bombs):
    assert_user_error(cli("info", bombs / "input.tflite", limit_as=ADDRESS_SPACE), "'x'", "memory limit")


def test_interpreter_working_memory_is_bounded(bombs, tmp_path):
    """Tensors of 40 KB, but the reference interpreter would unfold 1.2 GiB of windows."""
    assert cli("info", bombs / "windows.tflite", limit_as=ADDRESS_SPACE).returncode == 0  # loading is fine
    run = ["run", bombs / "windows.tflite", "--input", bombs / "x_win.npy", "--output", tmp_path / "y.npy"]
    assert_user_error(cli(*run, limit_as=ADDRESS_SPACE), "op 0 (CONV_2D", "memory limit")
    assert not (tmp_path / "y.npy").exists()
    # raising the limit is the user's call: the same run then works (the 2 GB cap is lifted here)
    r = cli(*run, "--max-memory", "3G")
    assert r.returncode == 0, r.stderr


def test_memory_limits_through_the_api(bombs):
    with pytest.raises(UnsupportedError, match="'y'.*memory limit"):
        picoml.load(bombs / "pad.tflite")
    g = picoml.load(bombs / "windows.tflite")
    with pytest.raises(UnsupportedError, match="CONV_2D"):
        picoml.run(g, np.zeros((1, 200, 200, 1), np.int8))
    # a lower limit refuses what the default accepts
    with pytest.raises(UnsupportedError, match="memory limit"):
        picoml.load(bombs / "windows.tflite", max_memory=16 << 10)


def test_fifo_and_devices_are_refused_without_waiting(tmp_path, bombs):
    fifo = tmp_path / "model.tflite"
    os.mkfifo(fifo)
    npy_fifo = tmp_path / "x.npy"
    os.mkfifo(npy_fifo)
    toml_fifo = tmp_path / "c.toml"
    os.mkfifo(toml_fifo)
    cases = [
        (["info", fifo], "not a regular file"),
        (["info", "/dev/zero"], "not a regular file"),
        (["info", "/dev/null"], "not a regular file"),
        (["info", tmp_path], "is a directory"),
        (["run", bombs / "pad.tflite", "--input", npy_fifo, "--output", tmp_path / "y.npy"], "memory limit"),
        (["run", bombs / "windows.tflite", "--input", npy_fifo, "--output", tmp_path / "y.npy"], "not a regular file"),
        (["compress", toml_fifo], "not a regular file"),
        (["convert", fifo, "--out", tmp_path / "o.tflite", "--calibration", npy_fifo], "not a regular file"),
    ]
    for args, needle in cases:
        t0 = time.perf_counter()
        r = cli(*args, limit_as=ADDRESS_SPACE, timeout=60)
        assert_user_error(r, needle)
        assert time.perf_counter() - t0 < 30, args


def test_oversized_model_file_is_refused_unread(tmp_path):
    big = tmp_path / "big.tflite"
    with open(big, "wb") as f:
        f.truncate(300 << 20)  # sparse: 300 MiB declared, nothing on disk
    r = cli("info", big, limit_as=ADDRESS_SPACE)
    assert_user_error(r, "big.tflite", "256 MiB")


def test_npy_header_bomb(tmp_path, bombs):
    """A 128-byte .npy whose header declares 10^12 elements: numpy.load would allocate first."""
    head = tmp_path / "head.npy"
    with open(head, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|i1", "fortran_order": False, "shape": (10**6, 10**6)})
    r = cli("run", bombs / "windows.tflite", "--input", head, "--output", tmp_path / "y.npy", limit_as=ADDRESS_SPACE)
    assert_user_error(r, "head.npy", "memory limit")
    short = tmp_path / "short.npy"
    with open(short, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|i1", "fortran_order": False, "shape": (1, 200, 200, 1)})
        f.write(b"\0" * 100)
    r = cli("run", bombs / "windows.tflite", "--input", short, "--output", tmp_path / "y.npy")
    assert_user_error(r, "short.npy", "truncated")
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_user_error(cli("run", bombs / "windows.tflite", "--input", obj, "--output", tmp_path / "y.npy"), "numeric")


def test_npz_zip_bomb(tmp_path):
    z = tmp_path / "bomb.npz"
    np.savez_compressed(z, x=np.zeros((64 << 20) // 4, np.float32), y=np.zeros(4))  # 64 MiB in ~70 KB
    assert z.stat().st_size < 1 << 20
    onnx_free = tmp_path / "m.tflite"
    g = single_op_graph("RELU", [picoml.Tensor("x", (1, 4))], picoml.Tensor("y", (1, 4)))
    onnx_free.write_bytes(to_tflite(g))
    r = cli("evaluate", onnx_free, "--data", z, "--calibration", z, "--max-memory", "16M")
    assert_user_error(r, "bomb.npz", "inflates")


# ----------------------------------------------------------------------------- exit codes
@pytest.fixture(scope="module")
def small(tmp_path_factory, tiny):
    d = tmp_path_factory.mktemp("small")
    (d / "m.tflite").write_bytes(write_tflite_bytes(tiny))
    np.save(d / "x.npy", np.zeros((2,) + tiny.inputs[0].shape, np.int8))
    return d


def test_run_output_mistakes(small, tmp_path):
    m, x = small / "m.tflite", small / "x.npy"
    outdir = tmp_path / "adir"
    outdir.mkdir()
    assert_user_error(cli("run", m, "--input", x, "--output", outdir), "is a directory")
    assert_user_error(cli("run", m, "--input", x, "--output", tmp_path / "missing" / "y.npy"), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"] and list(outdir.iterdir()) == []
    assert_user_error(cli("run", m, "--input", x, "--output", x), "overwrite an input")
    r = cli("run", m, "--input", x, "--output", tmp_path / "y.npy")
    assert r.returncode == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["adir", "y.npy"]


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1e9", "100001"])
def test_verify_inputs_out_of_range(value, small):
    assert_user_error(cli("verify", small / "m.tflite", "--inputs", value), "--inputs")


@pytest.mark.parametrize("value", ["0", "-1", "12X", "lots"])
def test_max_memory_must_be_a_size(value, small):
    assert_user_error(cli("info", small / "m.tflite", "--max-memory", value), "--max-memory")


def test_verify_exits_1_when_the_model_does_not_fit_the_board(tmp_path):
    """64 KB of activations on a board with 36 KB of RAM: computes exactly, fails the fit check."""
    x = qtensor("x", (1, 64, 64, 16), 0.1, 0)
    y = qtensor("y", (1, 64, 64, 16), 0.1, 0)
    m = tmp_path / "big.tflite"
    m.write_bytes(to_tflite(single_op_graph("RELU", [x], y)))
    r = cli("verify", m, "--target", "stm32g071", "--inputs", 1, "--json")
    assert r.returncode == 1, r.stderr
    rep = json.loads(r.stdout)
    assert rep["bit_exact"] is True and rep["fits"] is False
    r = cli("verify", m, "--target", "stm32g071", "--inputs", 1)
    assert r.returncode == 1 and "does not fit" in r.stdout


def test_api_rejects_masked_and_non_finite_inputs(tiny):
    x = np.zeros((1,) + tiny.inputs[0].shape, np.int8)
    with pytest.raises(InputError, match="masked array"):
        picoml.run(tiny, np.ma.masked_array(x, mask=x == 0))
    with pytest.raises(InputError, match="dtype is object"):
        picoml.run(tiny, [object()])
    f = single_op_graph("RELU", [picoml.Tensor("x", (1, 4))], picoml.Tensor("y", (1, 4)))
    with pytest.raises(InputError, match="NaN or infinity"):
        picoml.run(f, np.array([[1.0, np.inf, 0.0, 1.0]], np.float32))


def test_inf_input_to_run_is_one_line(tmp_path):
    f = single_op_graph("RELU", [picoml.Tensor("x", (1, 4))], picoml.Tensor("y", (1, 4)))
    m = tmp_path / "f.tflite"
    m.write_bytes(to_tflite(f))
    np.save(tmp_path / "x.npy", np.array([[np.inf, -np.inf, np.nan, 1e38]], np.float32))
    assert_user_error(cli("run", m, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy"), "NaN or infinity")


COMPRESS = """task = "digits"
out = "{out}"
[model]
width = {width}
epochs = {epochs}
[[steps]]
kind = "quantize"
"""


@pytest.mark.parametrize(
    "width, epochs, needle",
    [
        (100_000_000, 1, "'width' must be 1 to 1,024"),
        (0, 1, "'width' must be 1 to 1,024"),
        (-3, 1, "'width'"),
        (16, 1_000_000_000, "'epochs' must be 1 to 10,000"),
        (16, 0, "'epochs'"),
    ],
)
def test_compress_config_ranges_before_any_work(width, epochs, needle, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(COMPRESS.format(out=tmp_path / "out", width=width, epochs=epochs))
    t0 = time.perf_counter()
    assert_user_error(cli("compress", cfg), "c.toml", needle)
    assert time.perf_counter() - t0 < 60 and not (tmp_path / "out").exists()


def test_compress_unwritable_out_is_reported_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    cfg = tmp_path / "c.toml"
    cfg.write_text(COMPRESS.format(out=blocker / "sub", width=4, epochs=10_000))
    t0 = time.perf_counter()
    r = cli("compress", cfg)
    assert_user_error(r, "file")
    assert time.perf_counter() - t0 < 60  # 10,000 epochs would take far longer: it failed first
    assert r.stdout == ""


def test_compile_into_a_directory_of_other_files(small, tmp_path, capsys, tiny):
    m = small / "m.tflite"
    other = tmp_path / "other.tflite"
    other.write_bytes(to_tflite(single_op_graph("RELU", [qtensor("x", (1, 8), 0.1, 0)], qtensor("y", (1, 8), 0.1, 0))))
    d = tmp_path / "lib"
    assert run_main(capsys, "compile", m, "--out", d, "--name", "first")[0] == 0
    first = set(_files(d))
    # a second model into the same directory replaces the first: the directory never mixes two models
    assert run_main(capsys, "compile", other, "--out", d, "--name", "second")[0] == 0
    second = set(_files(d))
    assert "second.c" in second and "first.c" not in second and "first.h" not in second
    assert not any(f.startswith("pm_conv2d") for f in second)  # the first model's kernels went too
    manifest = json.loads((d / MANIFEST).read_text())
    assert set(manifest["files"]) == second - {MANIFEST}
    assert first != second
    # a file picoml did not write: refused (nothing touched), or written beside it with --force
    (d / "notes.txt").write_text("mine")
    code, _, err = run_main(capsys, "compile", m, "--out", d, "--name", "first")
    assert code == 2 and "notes.txt" in err and "--force" in err
    assert set(_files(d)) == second | {"notes.txt"}
    code, _, err = run_main(capsys, "compile", m, "--out", d, "--name", "first", "--force")
    assert code == 0, err
    assert (d / "notes.txt").read_text() == "mine" and "first.c" in _files(d) and "second.c" not in _files(d)
    # a generated file the user edited: refused, then replaced only with --force
    (d / "first.c").write_text("/* my edits */")
    code, _, err = run_main(capsys, "compile", m, "--out", d, "--name", "first")
    assert code == 2 and "first.c" in err and "changed" in err
    assert (d / "first.c").read_text() == "/* my edits */"
    # formats: an Arduino library over the C library replaces it (subdirectories included)
    (d / "notes.txt").unlink()
    code, _, err = run_main(capsys, "compile", m, "--out", d, "--name", "first", "--format", "arduino", "--force")
    assert code == 0, err
    files = _files(d)
    assert "src/first.c" in files and "first.h" not in files  # picoml's old files went ...
    assert (d / "first.c").read_text() == "/* my edits */"  # ... the user's edited one stays
    # no temporary files anywhere
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_failed_compile_leaves_nothing(tmp_path, capsys):
    # hybrid FULLY_CONNECTED (float input, int8 weights) has no C kernel: refused mid-generation
    wq = picoml.Tensor("w", (3, 4), "int8", np.array([0.1], np.float32), np.array([0]), 0, np.ones((3, 4), np.int8))
    f = single_op_graph("FULLY_CONNECTED", [picoml.Tensor("x", (1, 4)), wq, None], picoml.Tensor("y", (1, 3)))
    m = tmp_path / "f.tflite"
    m.write_bytes(to_tflite(f))
    code, _, err = run_main(capsys, "compile", m, "--out", tmp_path / "lib")
    assert code == 2 and "hybrid FULLY_CONNECTED" in err
    assert not (tmp_path / "lib").exists()


def test_all_tensors_directory_is_one_output(small, tmp_path):
    m, x = small / "m.tflite", small / "x.npy"
    d = tmp_path / "all"
    d.mkdir()
    (d / "keep.txt").write_text("mine")
    r = cli("run", m, "--input", x, "--output", tmp_path / "y.npy", "--all-tensors", d)
    assert_user_error(r, "keep.txt", "--force")
    assert not (tmp_path / "y.npy").exists()
    r = cli("run", m, "--input", x, "--output", tmp_path / "y.npy", "--all-tensors", d, "--force")
    assert r.returncode == 0, r.stderr
    assert (d / "keep.txt").read_text() == "mine" and (d / "index.json").exists()
    # an input that sits where a tensor file goes is never overwritten, not even with --force
    other = tmp_path / "other"
    other.mkdir()
    trap = other / sorted(p.name for p in d.glob("0000_*.npy"))[0]
    np.save(trap, np.load(x))
    r = cli("run", m, "--input", trap, "--output", tmp_path / "y2.npy", "--all-tensors", other, "--force")
    assert_user_error(r, "is an input of this command")
    np.testing.assert_array_equal(np.load(trap), np.load(x))


def test_exit_codes_are_documented():
    r = cli("--help")
    assert r.returncode == 0
    for code in ("0", "1", "2", "3"):
        assert re.search(rf"^\s+{code}\s+\w", r.stdout, re.M), r.stdout
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "## Exit codes" in readme


def test_warnings_never_reach_stderr(tmp_path):
    """numpy overflow in a float model: the run succeeds and stderr stays empty."""
    f = single_op_graph("RELU", [picoml.Tensor("x", (1, 4))], picoml.Tensor("y", (1, 4)))
    m = tmp_path / "f.tflite"
    m.write_bytes(to_tflite(f))
    np.save(tmp_path / "x.npy", np.full((1, 4), 3e38, np.float32))
    r = cli("run", m, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_picoml_bug_is_exit_3(monkeypatch, small, capsys):
    """Only an unexpected exception is exit 3, in one line."""
    import picoml.cli.info as c

    monkeypatch.setattr(c, "model_summary", lambda g: 1 / 0)
    code, _, err = run_main(capsys, "info", small / "m.tflite")
    assert code == 3 and len(err.splitlines()) == 1 and "internal error" in err
