"""Render a report page in headless Chromium and say what a reader would see: every image
loaded with a size, every table's rows, and whether the page fits the window's width (tables
scroll inside their own box). Debian's ``chromium``; callers skip when it is missing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images).map(function (i) {
    var r = i.getBoundingClientRect();
    return {src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0, w: r.width, h: r.height};
  });
  var tables = Array.from(document.querySelectorAll('table')).map(function (t) {
    var r = t.getBoundingClientRect(); return {w: r.width, h: r.height, rows: t.rows.length};
  });
  var out = {imgs: imgs, tables: tables, page_width: document.documentElement.scrollWidth,
             viewport: window.innerWidth, text: document.body.innerText.length};
  var pre = document.createElement('pre'); pre.id = 'picoml-check'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(page: Path, width: int = 390, height: int = 844) -> dict:
    """What Chromium shows of ``page`` in a ``width`` × ``height`` window (a phone by default)."""
    check = page.with_name("picoml-check.html")
    check.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"]
    cmd += ["--virtual-time-budget=5000", "--dump-dom", check.resolve().as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    check.unlink()
    m = re.search(r'<pre id="picoml-check">([^<]*)</pre>', dom)
    if not m:
        raise AssertionError(f"chromium rendered no check result for {page}")
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
