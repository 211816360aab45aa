"""benchmarks/profile_c.py: per-function totals add up to verify's instruction and cycle counts."""

import subprocess
import sys
from pathlib import Path

import pytest

from oracles import model_path

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("unicorn")


@pytest.mark.models
def test_profile_totals_equal_verify():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "profile_c.py"), str(model_path("ad", "int8")), "--blocks", "2"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("profiled:"))
    ours, theirs = line.split("(verify:")
    i, c = (int(v.split()[0].replace(",", "")) for v in ours.removeprefix("profiled:").split(" instructions,"))
    vi, vc = (int(v.strip(" )").replace(",", "")) for v in theirs.split("/"))
    assert (i, c) == (vi, vc) and i > 250_000  # AD: 264,192 MACs
    assert "bit-exact True" in out and "pm_fully_connected_s8" in out and "smlad" in out
