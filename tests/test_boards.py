"""The one board catalogue: built-in boards, fit's budgets as entries, and user boards from a
TOML data file (untrusted: every field checked, one line and exit 2 on a mistake)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from picoml.codegen.isa import ISAS
from picoml.errors import InputError
from picoml.flows.fit import BUDGETS, get_budget
from picoml.targets.catalog import BOARDS, TARGETS, get_target, load_boards

from oracles import qtensor, single_op_graph, to_tflite

GOOD = """
[boards.my-m4]
core = "cortex-m4"
ram_kb = 96
flash_kb = 256.5
clock_mhz = 48
flash_wait_states = 2
note = "a test board"
"""


def cli(*args):
    return subprocess.run([sys.executable, "-m", "picoml.cli", *map(str, args)], capture_output=True, text=True)


def test_every_core_has_an_isa_and_budgets_are_catalogue_entries():
    assert all(t.isa in ISAS.values() for t in TARGETS.values())
    assert get_target("cortex-m4").dsp and not get_target("cortex-m0plus").dsp
    # fit's budgets keep their names and numbers; atmega328p is a real AVR board since issue 16
    assert BOARDS["small-32k"].clock_hz is None and BOARDS["atmega328p"].clock_hz == 16_000_000
    assert (BUDGETS["small-32k"].ram_bytes, BUDGETS["small-32k"].flash_bytes) == (32 * 1024, 128 * 1024)
    assert (BUDGETS["atmega328p"].ram_bytes, BUDGETS["atmega328p"].core) == (2 * 1024, "atmega328p")
    assert get_budget("stm32g071").ram_bytes == 36 * 1024
    assert get_target("small-32k").name == "cortex-m4"


def test_load_boards(tmp_path):
    f = tmp_path / "b.toml"
    f.write_text(GOOD)
    (b,) = load_boards(f).values()
    assert (b.name, b.core, b.ram_bytes, b.flash_bytes) == ("my-m4", "cortex-m4", 96 * 1024, 256 * 1024 + 512)
    assert (b.clock_hz, b.flash_wait_states, b.note) == (48_000_000, 2, "a test board")
    assert "my-m4" not in BOARDS  # loading does not change the catalogue


BAD = {
    "not TOML": ("[boards.x\ncore=", "not valid TOML"),
    "no boards": ("[other]\na = 1\n", "unknown table"),
    "empty": ("", "no boards"),
    "bad name": ('[boards."Bad Name"]\ncore="cortex-m4"\n', "board name"),
    "clash": ('[boards.rp2040]\ncore="cortex-m4"\n', "already in the catalogue"),
    "clash core": ('[boards.host]\ncore="cortex-m4"\n', "already in the catalogue"),
    "unknown core": (GOOD.replace('"cortex-m4"', '"avr5"'), "not a picoml core"),
    "core not text": (GOOD.replace('"cortex-m4"', "4"), "not a picoml core"),
    "unknown key": (GOOD + "voltage = 3\n", "unknown key"),
    "missing key": (GOOD.replace("clock_mhz = 48\n", ""), "missing key 'clock_mhz'"),
    "ram zero": (GOOD.replace("ram_kb = 96", "ram_kb = 0"), "ram_kb must be"),
    "ram negative": (GOOD.replace("ram_kb = 96", "ram_kb = -4"), "ram_kb must be"),
    "ram huge": (GOOD.replace("ram_kb = 96", "ram_kb = 1e12"), "ram_kb must be"),
    "ram nan": (GOOD.replace("ram_kb = 96", "ram_kb = nan"), "ram_kb must be"),
    "ram text": (GOOD.replace("ram_kb = 96", 'ram_kb = "96"'), "ram_kb must be"),
    "ram bool": (GOOD.replace("ram_kb = 96", "ram_kb = true"), "ram_kb must be"),
    "clock inf": (GOOD.replace("clock_mhz = 48", "clock_mhz = inf"), "clock_mhz must be"),
    "wait states": (GOOD.replace("flash_wait_states = 2", "flash_wait_states = 99"), "flash_wait_states must"),
    "wait float": (GOOD.replace("flash_wait_states = 2", "flash_wait_states = 1.5"), "flash_wait_states must"),
    "note control": (GOOD.replace('"a test board"', '"bad\\u001b[31m"'), "note must be"),
    "not a table": ("boards = 3\n", "no boards"),
    "entry not a table": ("[boards]\nx = 3\n", "must be a table"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_board_files_are_one_line(case, tmp_path):
    text, message = BAD[case]
    f = tmp_path / "b.toml"
    f.write_text(text)
    with pytest.raises(InputError, match=message) as e:
        load_boards(f)
    assert "\n" not in str(e.value) and len(str(e.value)) < 400


@pytest.mark.parametrize("case", ["not TOML", "unknown core", "ram nan", "note control"])
def test_bad_board_files_cli(case, tmp_path):
    text, message = BAD[case]
    f = tmp_path / "b.toml"
    f.write_text(text)
    for cmd in (("targets",), ("verify", f, "--target", "x")):
        r = cli(*cmd, "--boards", f)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


def test_board_file_not_a_regular_file(tmp_path):
    r = cli("targets", "--boards", tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_user_board_in_targets_and_verify(tmp_path):
    f = tmp_path / "b.toml"
    f.write_text(GOOD.replace("cortex-m4", "cortex-m0plus"))
    d = json.loads(cli("targets", "--json", "--boards", f).stdout)
    mine = next(b for b in d["boards"] if b["name"] == "my-m4")
    assert (mine["core"], mine["clock_hz"], mine["flash_wait_states"]) == ("cortex-m0plus", 48_000_000, 2)
    assert {t["name"]: t["isa"] for t in d["targets"]}["cortex-m0plus"] == "armv6m"
    rng = np.random.default_rng(0)
    w = qtensor("w", (5, 16), [0.01] * 5, [0] * 5, data=rng.integers(-127, 128, (5, 16), dtype=np.int8))
    b = qtensor("b", (5,), [0.0005] * 5, [0] * 5, "int32", data=rng.integers(-300, 300, 5).astype(np.int32))
    g = single_op_graph("FULLY_CONNECTED", [qtensor("x", (1, 16), 0.05, 3), w, b], qtensor("y", (1, 5), 0.1, -4))
    model = tmp_path / "fc.tflite"
    model.write_bytes(to_tflite(g))
    r = cli("verify", model, "--target", "my-m4", "--boards", f, "--inputs", "3", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["bit_exact"] and rep["target"] == "cortex-m0plus" and rep["board"] == "my-m4"
    assert rep["latency_ms_lower_bound"] == pytest.approx(rep["instructions"] / 48e3)
    assert rep["fits"] is True
    # without the file the board is unknown: one line, exit 2
    r = cli("verify", model, "--target", "my-m4", "--inputs", "1")
    assert r.returncode == 2 and "unknown target 'my-m4'" in r.stderr
