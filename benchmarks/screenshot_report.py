"""Render a picoml report (default build/demo/index.html) in headless Chromium and save a PNG.

    python benchmarks/screenshot_report.py [REPORT_DIR] [--out shot.png]

Checks that the page renders (Chromium exits 0 and writes a non-blank screenshot of the
expected size) — the issue asks that the demo report be legible in a real browser, not only
that its files exist. Chromium comes from Debian (`apt-get install chromium`); without it the
script says so and exits 2. The flags keep Chromium off the network (this machine has none)
and out of the user's profile.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def png_size_and_colors(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct pixel rows): a blank page has one distinct row."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    idat = b""
    pos = 8
    while pos < len(data):
        n = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = len(raw) // h
    rows = {raw[i * stride + 1 : (i + 1) * stride] for i in range(h)}
    return w, h, len(rows)


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 2600) -> Path:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        raise FileNotFoundError("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out}",
            page.resolve().as_uri(),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or not out.is_file():
        raise RuntimeError(f"chromium failed ({r.returncode}): {(r.stderr.strip().splitlines() or [''])[-1]}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", default="build/demo")
    ap.add_argument("--out", default=None, help="PNG path (default REPORT/screenshot.png)")
    a = ap.parse_args(argv)
    page = Path(a.report) / "index.html"
    if not page.is_file():
        print(f"{page}: no report here (run `make demo` first)", file=sys.stderr)
        return 2
    out = Path(a.out) if a.out else Path(a.report) / "screenshot.png"
    try:
        screenshot(page, out)
    except (FileNotFoundError, RuntimeError) as e:
        print(f"screenshot_report: {e}", file=sys.stderr)
        return 2
    w, h, rows = png_size_and_colors(out)
    print(f"{out}: {w}x{h} px, {rows} distinct pixel rows")
    if rows < 50:
        print("the page looks blank", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
