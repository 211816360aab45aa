"""Fuzz the model loader: corrupted models end in one PicomlError line, never a crash or hang.

Each case mutates one shipped model (``fuzz_mutators``: bit flips, truncations, edited offsets,
vector lengths and vtables, wrong formats, ...), then:

1. ``read_tflite_bytes`` — may raise only a PicomlError naming the file;
2. ``graph.validate()`` — may raise only a PicomlError;
3. if it loads: ``op_macs`` of every op, and one ``picoml.run`` on zeros under a
   ``RUN_MEMORY`` limit — again only PicomlError (a valid but weird graph). A graph that needs
   more memory than that (a mutated shape is the cheapest memory bomb) must be refused by the
   limit before anything is allocated; it is not skipped.

The CLI contract is fuzzed too: cases go through ``picoml info`` and ``picoml verify --target
host`` in a fresh process under a 2 GB address-space limit, and each must exit 0, 1 or 2, with
exactly one stderr line on 2.

Every PicomlError message must be one non-empty line. A case slower than CASE_LIMIT fails; a
watchdog turns a case stuck for HANG_LIMIT into a failure naming the case, and pytest-timeout
bounds the whole test.

Cases are deterministic in (seed, model, index); reproduce one with
``PICOML_FUZZ_CASE=kws_int8:123 pytest tests/test_fuzz.py -k reproduce -s`` (PICOML_FUZZ_SEED
picks another seed for the whole run, default 0).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import random
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from picoml.cli import main as cli_main
from picoml.errors import PicomlError
from picoml.frontends.tflite import read_tflite_bytes
from picoml.graph import Tensor
from picoml.graph.ops import op_macs
from picoml.reference.interpreter import Interpreter

from adversarial import run_cli
from fuzz_mutators import WRONG_FORMATS, Field, case_rng, make_case, redirect_string, redirect_vector, walk
from oracles import MODEL_NAMES, model_path, single_op_graph, to_tflite

MODELS = [f"{n}_{k}" for n in MODEL_NAMES for k in ("int8", "float")]
SEED = int(os.environ.get("PICOML_FUZZ_SEED", "0"))
WHERE = "fuzz.tflite"

CI_CASES_PER_MODEL = 400  # 6 models -> 2,400 cases
SLOW_SHARDS = 20
SLOW_CASES_PER_SHARD = 840  # 6 models x 20 shards x 840 -> 100,800 cases
SLOW_FIRST_INDEX = 1_000_000  # the slow run never repeats the CI cases

# CPU seconds one case may take, its subprocesses included (a case that verifies builds and runs
# C): CPU time, not wall time, so that other jobs on the machine cannot fail the test (under a load
# average of 10 on 2 cores a 1.5 s case took 10 s of wall time)
CASE_LIMIT = 4.0
CLI_VERIFY_PER_RUN = 4  # loadable, novel cases per _fuzz run that `picoml verify --target host` builds
HANG_LIMIT = 20.0  # seconds after which the watchdog interrupts a case
RUN_MEMORY = 32 << 20  # the interpreter's memory limit in a fuzz run: bigger graphs must be refused
RUN_MAX_MACS = 50_000_000  # graphs within the limit but with more MACs are only loaded (time)
MAX_REPORTED = 8  # distinct failures listed per test


# ----------------------------------------------------------------------------- one case
class CaseHang(BaseException):
    """Raised in the main thread by the watchdog when a case runs for HANG_LIMIT seconds."""


def _check_message(e: PicomlError, stage: str) -> None:
    msg = str(e)
    assert msg.strip(), f"{stage}: {type(e).__name__} with an empty message"
    assert len(msg.splitlines()) == 1, f"{stage}: {type(e).__name__} message is not one line: {msg!r}"
    if stage == "parse":  # validate() messages get the file name from read_tflite()
        assert msg.startswith(WHERE), f"parse: message does not name the file: {msg!r}"


def _signature(g) -> tuple:
    """The graph with its int8 constants left out: when only those differ from the shipped model, a
    run tests nothing new (every int8 value is legal weight data), and runs take most of the time."""

    def t(x):
        if x is None:
            return None
        data = None if x.data is None or x.dtype == "int8" else x.data.tobytes()
        return (x.shape, x.dtype, x.scale.tobytes(), x.zero_point.tobytes(), x.quantized_dimension, x.is_const, data)

    ops = tuple((op.type, repr(op.attrs), tuple(map(t, op.inputs)), tuple(map(t, op.outputs))) for op in g.ops)
    return ops, tuple(map(t, g.inputs)), tuple(map(t, g.outputs))


def run_case(data: bytes, skip_run: tuple | None = None) -> str:
    """Load (and maybe run) one model; returns the outcome. Raises anything that is a bug.

    ``skip_run``: the signature of the shipped model; a graph that only differs in int8
    constants is loaded and validated but not run.
    """
    try:
        g = read_tflite_bytes(data, WHERE)
    except PicomlError as e:
        _check_message(e, "parse")
        return f"parse: {type(e).__name__}"
    try:
        g.validate()
    except PicomlError as e:
        _check_message(e, "validate")
        return f"validate: {type(e).__name__}"
    macs = sum(op_macs(op) for op in g.ops)
    try:
        ip = Interpreter(g, max_memory=RUN_MEMORY)  # memory bombs are refused here, before inputs exist
    except PicomlError as e:
        _check_message(e, "run")
        return f"run: {type(e).__name__}"
    if macs >= RUN_MAX_MACS:
        return "loaded (too many MACs to run)"
    if skip_run is not None and _signature(g) == skip_run:
        return "loaded (as shipped but for int8 data)"
    xs = [np.zeros(t.shape, t.np_dtype) for t in g.inputs]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # inf/nan weights make numpy warn; that is not a failure
            ip.run(xs[0] if len(xs) == 1 else xs)
    except PicomlError as e:
        _check_message(e, "run")
        return f"run: {type(e).__name__}"
    return "ran"


class _Watchdog:
    """Interrupts the main thread (SIGUSR1 -> CaseHang) when one case exceeds HANG_LIMIT.

    Only active in the main thread (where signal handlers run); elsewhere pytest-timeout is
    the only guard.
    """

    def __init__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_kill")
        self.started: float | None = None
        self.fired = False
        self._stop = threading.Event()

    def __enter__(self) -> _Watchdog:
        if self.active:
            self._old = signal.signal(signal.SIGUSR1, self._handler)
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            self._stop.set()
            self._thread.join()
            signal.signal(signal.SIGUSR1, self._old)

    def _handler(self, signum, frame) -> None:
        if self.started is not None:
            raise CaseHang()

    def _watch(self) -> None:
        main = threading.main_thread().ident
        while not self._stop.wait(0.25):
            s = self.started
            if s is not None and not self.fired and time.monotonic() - s > HANG_LIMIT:
                self.fired = True
                signal.pthread_kill(main, signal.SIGUSR1)

    def case(self) -> None:
        self.started, self.fired = time.monotonic(), False

    def done(self) -> None:
        self.started = None


@functools.cache
def _model(name: str):
    data = model_path(*name.rsplit("_", 1)).read_bytes()
    return data, walk(data)


@functools.cache
def _pristine_signature(name: str) -> tuple:
    g = read_tflite_bytes(_model(name)[0], WHERE)
    g.validate()
    return _signature(g)


def _where(e: BaseException) -> str:
    frame = traceback.extract_tb(e.__traceback__)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def _main(*args) -> tuple[int, str, str]:
    """The `picoml` command in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def cli_contract(case: bytes, path: Path, outcome: str, verify_budget: list[int]) -> str:
    """`picoml info` and `picoml verify --target host` on one case: exit 0, 1 or 2; on 2 exactly one
    stderr line naming the file. verify compiles and runs C only for graphs that ran in-process
    while ``verify_budget`` lasts (each build takes a second or two); other loadable cases are
    checked through info alone."""
    path.write_bytes(case)
    checks = [("info", path)]
    loaded = outcome == "ran" or outcome.startswith("loaded")
    if not loaded:
        checks.append(("verify", path, "--target", "host", "--inputs", 2))
    elif outcome == "ran" and verify_budget[0] > 0:
        verify_budget[0] -= 1
        checks.append(("verify", path, "--target", "host", "--inputs", 2))
    for args in checks:
        code, _, err = _main(*args)
        lines = err.splitlines()
        assert code in (0, 1, 2), f"cli {args[0]}: exit code {code}, stderr {err!r}"
        if code == 2:
            assert len(lines) == 1 and lines[0].startswith("picoml: error: "), f"cli {args[0]}: {err!r}"
            assert str(path) in lines[0], f"cli {args[0]}: message does not name the file: {err!r}"
        else:
            assert err == "", f"cli {args[0]}: exit {code} with stderr {err!r}"
        if args[0] == "info":  # the CLI agrees with the in-process outcome
            refused = outcome.startswith(("parse", "validate"))
            over_limit = outcome.startswith("run") and code == 2 and "memory limit" in err
            if (code == 2) != refused and not over_limit:
                raise AssertionError(f"cli info: exit {code} but in-process outcome {outcome!r}: {err!r}")
    return outcome


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished subprocesses (the CLI and C builds a case runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _fuzz(model: str, indices: range) -> Counter:
    data, lay = _model(model)
    pristine = _pristine_signature(model)
    failures: dict[tuple, str] = {}
    n_failed = 0
    outcomes: Counter = Counter()
    verify_budget = [CLI_VERIFY_PER_RUN]
    tmp = Path(tempfile.mkdtemp(prefix="picoml-fuzz-"))
    with _Watchdog() as dog:
        for i in indices:
            case, desc = make_case(data, lay, case_rng(SEED, model, i))
            t0, c0 = time.monotonic(), _cpu_seconds()
            dog.case()
            try:
                outcome = run_case(case, pristine)
                cli_contract(case, tmp / "fuzz.tflite", outcome, verify_budget)
                problem = key = None
            except CaseHang as e:
                outcome, problem = "hang", f"still running after {HANG_LIMIT:.0f} s:\n" + traceback.format_exc()
                key = ("hang", _where(e))
            except Exception as e:  # noqa: BLE001 - any other exception is the bug we are looking for
                outcome, problem = "crash", f"{type(e).__name__}: {e}\n" + traceback.format_exc()
                # one report per distinct bug: exception type and where it was raised (and for
                # failed message checks, which check)
                key = (type(e).__name__, _where(e), str(e)[:30] if isinstance(e, AssertionError) else "")
            finally:
                dog.done()
            dt, cpu = time.monotonic() - t0, _cpu_seconds() - c0
            if problem is None and cpu > CASE_LIMIT:
                outcome, problem, key = (
                    "slow",
                    f"took {cpu:.2f} CPU s ({dt:.2f} s wall; limit {CASE_LIMIT} CPU s), outcome {outcome}",
                    ("slow",),
                )
            outcomes[outcome.split(":")[0]] += 1
            if problem is not None:
                n_failed += 1
                if key not in failures and len(failures) < MAX_REPORTED:
                    failures[key] = (
                        f"--- case {model}:{i} (seed {SEED}), {len(case)} bytes: {desc}\n"
                        f"reproduce: PICOML_FUZZ_SEED={SEED} PICOML_FUZZ_CASE={model}:{i} "
                        f"pytest tests/test_fuzz.py -k reproduce -s\n{problem}"
                    )
    shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        pytest.fail(
            f"{n_failed} of {len(indices)} fuzz cases of {model} failed ({len(failures)} distinct shown):\n"
            + "\n".join(failures.values()),
            pytrace=False,
        )
    return outcomes


# ----------------------------------------------------------------------------- tests
@pytest.mark.models
@pytest.mark.timeout(300)
@pytest.mark.parametrize("model", MODELS)
def test_fuzz_model_loading(model):
    """CI: CI_CASES_PER_MODEL cases per shipped model."""
    outcomes = _fuzz(model, range(CI_CASES_PER_MODEL))
    print(f"{model}: {dict(outcomes)}")
    # The mutations must reach every stage, or the test tests less than it claims.
    assert outcomes["parse"] and outcomes["validate"], outcomes
    assert outcomes["ran"] + outcomes["run"], outcomes


@pytest.mark.slow
@pytest.mark.models
@pytest.mark.timeout(600)
@pytest.mark.parametrize("shard", range(SLOW_SHARDS))
@pytest.mark.parametrize("model", MODELS)
def test_fuzz_model_loading_slow(model, shard):
    """Slow: SLOW_SHARDS x SLOW_CASES_PER_SHARD more cases per model (>= 100,000 in all)."""
    first = SLOW_FIRST_INDEX + shard * SLOW_CASES_PER_SHARD
    _fuzz(model, range(first, first + SLOW_CASES_PER_SHARD))


@pytest.mark.parametrize("name", sorted(WRONG_FORMATS))
def test_wrong_format_inputs(name):
    """Every kind of not-a-tflite input, several random variants each."""
    for k in range(20):
        data = WRONG_FORMATS[name](random.Random(f"{SEED}:{name}:{k}"))
        outcome = run_case(data)
        assert outcome.startswith(("parse:", "validate:")), f"{name} variant {k}: {outcome}"


@pytest.mark.models
def test_pristine_models_load_and_walk():
    """The fuzzer's starting points are valid and its flatbuffer walk finds their structure."""
    for model in MODELS:
        data, lay = _model(model)
        assert run_case(data) == "ran", model
        for kind in (
            "root",
            "soffset",
            "vt_entry",
            "uoffset",
            "vec_len",
            "elem_uoffset",
            "shape_dim",
            "tensor_index",
            "type_code",
            "buffer_index",
        ):
            assert lay.by_kind.get(kind), (model, kind)


@pytest.mark.models
def test_fuzz_reproduce():
    """Re-run one case: PICOML_FUZZ_CASE=<model>:<index> (and PICOML_FUZZ_SEED if it was not 0);
    PICOML_FUZZ_SAVE=<path> also writes the mutated file there."""
    spec = os.environ.get("PICOML_FUZZ_CASE")
    if not spec:
        pytest.skip("set PICOML_FUZZ_CASE=<model>:<index> to reproduce one fuzz case")
    model, index = spec.rsplit(":", 1)
    data, lay = _model(model)
    case, desc = make_case(data, lay, case_rng(SEED, model, int(index)))
    print(f"\ncase {spec} (seed {SEED}), {len(case)} bytes: {desc}")
    out = Path(os.environ.get("PICOML_FUZZ_SAVE", "")) if os.environ.get("PICOML_FUZZ_SAVE") else None
    if out:
        out.write_bytes(case)
        print(f"saved to {out}")
    print("outcome:", run_case(case))


# ----------------------------------------------------------------------------- crafted cases
# Bugs the fuzz work found (all fixed), pinned as crafted files built from small picoml-written
# models with the fuzzer's flatbuffer walk: some the random fuzzer hit (its cases change whenever
# the mutators do), some too specific for random mutation to hit.
def _field(data: bytes, what: str) -> Field:
    (f,) = [f for f in walk(data).fields if f.what == what]
    return f


def _put_i32(data: bytes, pos: int, value: int) -> bytes:
    return data[:pos] + struct.pack("<i", value) + data[pos + 4 :]


def _conv_model(**attrs) -> bytes:
    x = Tensor("x", (1, 8, 8, 2), "float32")
    w = Tensor("w", (3, 3, 3, 2), "float32", data=np.ones((3, 3, 3, 2), np.float32))
    return to_tflite(single_op_graph("CONV_2D", [x, w, None], Tensor("y", (1, 8, 8, 3), "float32"), **attrs))


def _crafted_fc_scalar_input() -> bytes:
    # FULLY_CONNECTED keep_num_dims with a rank-0 input: was IndexError in shape inference
    x, y = Tensor("x", (1,), "float32"), Tensor("y", (4,), "float32")
    w = Tensor("w", (4, 1), "float32", data=np.ones((4, 1), np.float32))
    data = to_tflite(single_op_graph("FULLY_CONNECTED", [x, w, None], y, keep_num_dims=True))
    return redirect_vector(data, _field(data, "Tensor[0].shape offset").pos, b"", 0)


def _add_model() -> bytes:
    x, y = Tensor("x", (1,), "float32"), Tensor("y", (1,), "float32")
    c = Tensor("c", (1,), "float32", data=np.ones(1, np.float32))
    return to_tflite(single_op_graph("ADD", [x, c], y))


_WRAPS_TO_1 = (11806113, 409891, 7623851)  # product = 1 + 2 * 2**64: numpy's int64 product says 1


def _crafted_wrapping_constant_shape() -> bytes:
    # a constant whose shape's element count wraps int64 to 1 matched its 4-byte buffer: was
    # ValueError from numpy's reshape
    data = _add_model()
    return redirect_vector(data, _field(data, "Tensor[1].shape offset").pos, struct.pack("<3i", *_WRAPS_TO_1), 3)


def _crafted_wrapping_activation_shape() -> bytes:
    # the same for activations: validated, with sizes and byte counts that are nonsense
    data = _add_model()
    for t in (0, 2):
        data = redirect_vector(data, _field(data, f"Tensor[{t}].shape offset").pos, struct.pack("<3i", *_WRAPS_TO_1), 3)
    return data


def _crafted_custom_op_name() -> bytes:
    # a custom op named with a line break: the "unsupported ops" message had two lines
    data = _conv_model(stride_w=1, stride_h=1)
    entry1 = _field(data, "OperatorCode[0] vtable entry 1").pos
    entry3 = _field(data, "OperatorCode[0] vtable entry 3").pos
    code_pos = _field(data, "OperatorCode[0].builtin_code").pos
    b = bytearray(data)
    b[_field(data, "OperatorCode[0].deprecated_builtin_code").pos] = 32  # CUSTOM
    b[entry1 : entry1 + 2] = b[entry3 : entry3 + 2]  # custom_code lives where builtin_code was
    b[entry3 : entry3 + 2] = b"\0\0"  # builtin_code: absent (0)
    return redirect_string(bytes(b), code_pos, b"My\nOp")


def _crafted_huge_dilation() -> bytes:
    # SAME padding: a dilation of 50331639 passed shape inference; the reference kernel then
    # padded the input to 100,663,279 rows (MemoryError). Found by the fuzzer (resnet8_float).
    data = _conv_model(stride_w=1, stride_h=1)
    return _put_i32(data, _field(data, "Operator[0].Options.5").pos, 50331639)  # dilation_h


def _crafted_huge_pool() -> bytes:
    x, y = Tensor("x", (1, 8, 8, 2), "float32"), Tensor("y", (1, 8, 8, 2), "float32")
    data = to_tflite(single_op_graph("MAX_POOL_2D", [x], y, stride_w=1, stride_h=1, filter_w=2, filter_h=2))
    return _put_i32(data, _field(data, "Operator[0].Options.4").pos, 0x7FFFFFFF)  # filter_h


def _grouped_conv_model() -> bytes:
    x, y = Tensor("x", (1, 8, 8, 4), "float32"), Tensor("y", (1, 8, 8, 4), "float32")
    w = Tensor("w", (4, 3, 3, 2), "float32", data=np.ones((4, 3, 3, 2), np.float32))  # 2 groups
    return to_tflite(single_op_graph("CONV_2D", [x, w, None], y, stride_w=1, stride_h=1))


def _crafted_uneven_groups() -> bytes:
    # 6 input channels / 2 per filter = 3 groups for 4 filters: was ValueError in the kernel's
    # reshape. Found by the fuzzer (kws_int8, an input shape edited to [1, 49, 10, 3]).
    data = _grouped_conv_model()
    return _put_i32(data, _field(data, "Tensor[0].shape[3]").pos, 6)


def _crafted_empty_activation() -> bytes:
    # 0 input channels: was ValueError in the kernel's reshape. Found by the fuzzer (kws_int8).
    data = _grouped_conv_model()
    return _put_i32(data, _field(data, "Tensor[0].shape[3]").pos, 0)


def _crafted_activation_as_bias() -> bytes:
    # a float FULLY_CONNECTED whose bias is the graph input: was AttributeError in the kernel's
    # prepare. Found by the fuzzer (ad_float, an op's input index edited).
    x, y = Tensor("x", (1, 4), "float32"), Tensor("y", (1, 4), "float32")
    w = Tensor("w", (4, 4), "float32", data=np.ones((4, 4), np.float32))
    b = Tensor("b", (4,), "float32", data=np.zeros(4, np.float32))
    data = to_tflite(single_op_graph("FULLY_CONNECTED", [x, w, b], y))
    return _put_i32(data, _field(data, "Operator[0].inputs[2]").pos, 0)


def _crafted_int8_add_scales() -> bytes:
    # int8 ADD with an output scale 2^20 times smaller than its input scales: was ValueError
    # ("multiplier ... is not smaller than one") in the kernel's prepare. Found by the fuzzer (resnet8_int8).
    a, b, y = (Tensor(n, (1, 4), "int8", np.ones(1, np.float32), np.zeros(1, np.int64)) for n in ("a", "b", "y"))
    data = to_tflite(single_op_graph("ADD", [a, b], y))
    return _put_i32(
        data, _field(data, "Tensor[2].Quantization.scale[0]").pos, struct.unpack("<i", struct.pack("<f", 1e-7))[0]
    )


CRAFTED = {
    "fc keep_num_dims scalar input": _crafted_fc_scalar_input,
    "constant shape wraps int64": _crafted_wrapping_constant_shape,
    "activation shape wraps int64": _crafted_wrapping_activation_shape,
    "custom op name with a line break": _crafted_custom_op_name,
    "conv dilation 50331639": _crafted_huge_dilation,
    "pool filter 2**31-1": _crafted_huge_pool,
    "conv filters do not split into groups": _crafted_uneven_groups,
    "empty activation": _crafted_empty_activation,
    "activation as bias": _crafted_activation_as_bias,
    "int8 ADD output scale too small": _crafted_int8_add_scales,
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_corruption(name):
    outcome = run_case(CRAFTED[name]())
    assert outcome.startswith(("parse:", "validate:")), outcome


# ----------------------------------------------------------------------------- the CLI
CLI_ADDRESS_SPACE = 2 << 30  # every CLI fuzz case runs under this RLIMIT_AS
CLI_CASES_PER_MODEL = 40  # random fuzz cases per int8 model through both commands


def _cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli(*args, limit_as=CLI_ADDRESS_SPACE, timeout=timeout)


def _check_cli_contract(what: str, r: subprocess.CompletedProcess, path: Path) -> None:
    """Exit 0, 1 or 2; on 2 exactly one stderr line naming the file; never a traceback."""
    lines = r.stderr.splitlines()
    assert r.returncode in (0, 1, 2), f"{what}: exit code {r.returncode}, stderr {r.stderr!r}"
    assert "Traceback" not in r.stderr, f"{what}: {r.stderr!r}"
    if r.returncode == 2:
        assert len(lines) == 1 and lines[0].startswith("picoml: error: "), (
            f"{what}: stderr is not one line: {r.stderr!r}"
        )
    else:
        assert r.stderr == "", f"{what}: exit {r.returncode} with stderr {r.stderr!r}"


@pytest.mark.models
def test_cli_reports_bad_models_in_one_line(tmp_path):
    """`picoml info BAD` and `picoml verify BAD --target host` exit 2 with exactly one line on stderr,
    naming the file, and no traceback."""
    for k, (what, case) in enumerate(_cli_cases()):
        p = tmp_path / f"bad{k}.tflite"
        p.write_bytes(case)
        for cmd in (["info", p], ["verify", p, "--target", "host", "--inputs", 2]):
            r = _cli(*cmd)
            _check_cli_contract(f"{what} ({cmd[0]})", r, p)
            assert r.returncode == 2, f"{what} ({cmd[0]}): exit code {r.returncode}"
            assert str(p) in r.stderr, f"{what} ({cmd[0]}): {r.stderr!r}"


@pytest.mark.models
@pytest.mark.timeout(600)
@pytest.mark.parametrize("model", [f"{n}_int8" for n in MODEL_NAMES])
def test_cli_contract_on_fuzz_cases(model, tmp_path):
    """Random fuzz cases (the loader's, so most are refused, some load and some run) through
    `picoml info` and `picoml verify --target host` in a fresh process under 2 GB: exit 0, 1 or 2,
    one stderr line on 2, and a case that loads in-process must not be refused by the CLI."""
    data, lay = _model(model)
    seen: Counter = Counter()
    for i in range(CLI_CASES_PER_MODEL):
        case, desc = make_case(data, lay, case_rng(SEED, f"cli-{model}", i))
        p = tmp_path / f"case{i}.tflite"
        p.write_bytes(case)
        for cmd in (["info", p], ["verify", p, "--target", "host", "--inputs", 2]):
            r = _cli(*cmd)
            _check_cli_contract(f"{model}:{i} {desc} ({cmd[0]})", r, p)
            seen[(cmd[0], r.returncode)] += 1
    assert seen[("info", 2)] > 0 and seen[("info", 0)] + seen[("info", 2)] == CLI_CASES_PER_MODEL, seen


def _cli_cases() -> list[tuple[str, bytes]]:
    data, lay = _model("kws_int8")
    cases = [
        ("empty", b""),
        ("text", b"not a model\n"),
        ("truncated to 100 bytes", data[:100]),
        ("truncated to half", data[: len(data) // 2]),
        ("zeroed identifier", data[:4] + bytes(4) + data[8:]),
    ]
    # a few fuzz cases that fail at each stage
    want = {"parse", "validate"}
    for i in range(2000):
        case, desc = make_case(data, lay, case_rng(SEED, "cli", i))
        stage = run_case(case).split(":")[0]
        if stage in want:
            want.discard(stage)
            cases.append((f"{stage} error: {desc}", case))
        if not want:
            break
    return cases + [(f"crafted: {name}", make()) for name, make in sorted(CRAFTED.items())]
