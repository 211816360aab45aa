"""`picoml fit`: budgets, the trial runners, size estimates against measured sizes, the search."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from picoml.errors import InputError  # noqa: E402
from picoml.flows.fit import (  # noqa: E402
    BUDGETS,
    Budget,
    LocalRunner,
    SerialRunner,
    fit,
    get_budget,
    search_space,
    size_trial,
)

# --------------------------------------------------------------------------------- budgets


def test_builtin_and_catalog_budgets():
    b = get_budget("small-32k")
    assert (b.ram_bytes, b.flash_bytes, b.core) == (32 * 1024, 128 * 1024, "cortex-m4")
    a = get_budget("atmega328p")  # measured on the AVR itself (avr-gcc, simavr), no stand-in
    assert (a.ram_bytes, a.flash_bytes, a.core) == (2048, 32 * 1024, "atmega328p")
    assert "stand-in" not in a.note and "stand-in" not in a.describe()
    g = get_budget("stm32g071")  # from picoml.targets.catalog.BOARDS
    assert (g.ram_bytes, g.flash_bytes, g.core) == (36 * 1024, 128 * 1024, "cortex-m0plus")
    c = Budget.custom(2, 32)
    assert (c.ram_bytes, c.flash_bytes, c.core) == (2048, 32768, "cortex-m0plus")
    assert get_budget(c) is c
    assert Budget.custom(0.5, 16, core="cortex-m4").ram_bytes == 512
    assert set(BUDGETS) >= {"small-32k", "atmega328p"}


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: get_budget("atmega4809"), "unknown board 'atmega4809'"),
        (lambda: get_budget(32), "board must be a name or a Budget"),
        (lambda: Budget.custom(0, 32), "--ram must be a positive number"),
        (lambda: Budget.custom(2, -1), "--flash must be a positive number"),
        (lambda: Budget.custom(2, 32, core="host"), "unknown core 'host'"),
        (lambda: fit("mnist", "small-32k"), "unknown task 'mnist'"),
        (lambda: fit("sine", "small-32k", max_drop=1.0), "accuracy points"),
        (lambda: fit("digits", "small-32k", max_drop=-1), "--max-drop must be between 0 and 100"),
        (lambda: LocalRunner(0), "jobs must be an integer >= 1"),
    ],
)
def test_bad_input_is_one_line_error(call, words):
    with pytest.raises(InputError) as e:
        call()
    assert words in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------------- runners


def _cfgs():
    base = {"task": "digits", "seed": 0, "core": "cortex-m0plus", "ram_bytes": 2048, "flash_bytes": 32768}
    return [
        {**base, "arch": {"width": 4}, "prune": 0.0, "sparsity": 0.0},  # may fit: compiled and measured
        {**base, "arch": {"width": 16}, "prune": 0.0, "sparsity": 0.0},  # arena + I/O > 2 KB: lower bound only
        {**base, "arch": {"width": 8}, "prune": 0.0, "sparsity": 0.5, "measure": True},
    ]


def test_serial_and_local_runners_agree():
    cfgs = _cfgs()
    serial = SerialRunner().map(size_trial, cfgs)
    local = LocalRunner(2).map(size_trial, cfgs)
    assert serial == local
    assert [r["measured"] for r in serial] == [True, False, True]
    small = serial[0]
    # RAM of the harness build = .data + .bss (the arena, input and output in it: zero-copy) + peak stack
    assert small["ram_bytes"] == small["data_bytes"] + small["arena_bytes"] + small["stack_bytes"]
    assert small["flash_bytes"] == small["code_bytes"] + small["weight_bytes"] + small["data_bytes"]
    assert serial[1]["arena_bytes"] > 2048


# --------------------------------------------------------------------------------- the search


@pytest.fixture(scope="module")
def quick_fit():
    # top_k=6: every trained candidate is verified, so every estimate is checked against a measurement
    return fit("digits", "small-32k", quick=True, seed=0, runner=SerialRunner(), progress=None, top_k=6)


def test_quick_fit_picks_a_model_that_fits(quick_fit):
    r = quick_fit
    b = r.budget
    assert r.pick is not None and r.graph is not None
    v = r.pick.verified
    assert v["bit_exact"] and v["ram_bytes"] <= b.ram_bytes and v["flash_bytes"] <= b.flash_bytes
    trained = [c for c in r.candidates if c.val is not None and c.fits]
    assert r.pick.val == max(c.val for c in trained)  # the most accurate (validation) that fits
    assert r.pick.test is not None and r.pick.test > 0.5
    assert r.message.startswith(f"pick #{r.pick.id} ")


def test_table_lists_every_candidate(quick_fit):
    r = quick_fit
    space = search_space("digits", quick=True)
    assert len(r.candidates) == len(space) == 6
    table = r.table()
    assert "int8 only" in table and r.message in table
    for c in r.candidates:
        assert re.search(rf"^\s*{c.id} {re.escape(c.label())}\s", table, re.M), c.label()
    d = json.loads(json.dumps(r.as_dict()))  # JSON-ready (`picoml fit --json`)
    assert len(d["trials"]) == 6 and d["pick"]["id"] == r.pick.id and d["weight_bits"] == 8
    # every candidate is accounted for: trained with scores, or a reason why not
    for c in r.candidates:
        assert (c.val is not None and c.test is not None) or c.why.startswith("not trained")


# Stated margins of the estimate (sizes of the untrained int8 model, measured before training)
# against the final verify of the trained model: arena, stack, code and RAM exact; dense
# weights exact; sparse weights may only shrink (quantization rounds more trained weights to
# zero), by at most 10 %.
def test_size_estimates_match_final_verify(quick_fit):
    checked = 0
    for c in quick_fit.candidates:
        v = c.verified
        if not v or "error" in v:
            continue
        checked += 1
        assert v["arena_bytes"] == c.arena_bytes, c.label()
        assert v["stack_bytes"] == c.stack_bytes, c.label()
        assert v["code_bytes"] == c.code_bytes, c.label()
        assert v["ram_bytes"] == c.ram_bytes, c.label()
        if c.sparsity:
            assert 0.9 * c.weight_bytes <= v["weight_bytes"] <= c.weight_bytes, c.label()
        else:
            assert v["weight_bytes"] == c.weight_bytes, c.label()
    assert checked == 6


def test_impossible_budget_says_by_how_much():
    b = Budget.custom(0.25, 32, name="tiny")
    r = fit("digits", b, quick=True, runner=SerialRunner(), progress=None)
    assert r.pick is None
    assert all(c.val is None and c.fits is False for c in r.candidates)  # nothing was trained
    m = re.fullmatch(
        r"nothing fits tiny: the smallest candidate \((.+?)\) needs ([\d.]+) KB RAM \(([\d,]+) B: "
        r"arena ([\d,]+) B \+ stack ([\d,]+) B\) for 0\.2 KB \(256 B\), ([\d,]+) B over",
        r.message,
    )
    assert m, r.message

    def n(i):
        return int(m.group(i).replace(",", ""))

    smallest = next(c for c in r.candidates if c.label() == m.group(1))
    assert smallest.measured and n(3) == smallest.ram_bytes
    assert n(3) == n(4) + n(5) and n(6) == n(3) - 256
    assert float(m.group(2)) == pytest.approx(n(3) / 1024, abs=0.05)
    # it is the smallest: every other candidate's lower bound (its arena, input and output in it) is at least its arena
    assert all(c.arena_bytes >= n(4) for c in r.candidates)
    assert r.message in r.table()


@pytest.mark.slow
def test_max_drop_zero_picks_the_best_trained():
    r = fit("activity", "small-32k", quick=True, max_drop=0.0, runner=LocalRunner(2), progress=None)
    best = r.best_trained
    assert best is not None
    if r.pick is None:
        assert "within 0 points" in r.message
    else:
        assert r.pick.val == best.val
