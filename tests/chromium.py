"""Headless Chromium for the page tests: the one place that finds the browser, loads a page,
runs a probe in it, and takes screenshots (tests/test_report.py, tests/timeline/test_page.py,
tests/timeline/test_series.py, tests/test_page_escaping.py).

A probe is a JavaScript expression evaluated after the page's own load handlers; its value comes
back as JSON. It runs in a copy of the page (the page itself is never changed), so what a probe
sees is what a reader's browser builds from the file: the DOM, the layout at the window's size,
what the page's script did.

To look at the pages yourself: set ASAAS_SCREENSHOTS=DIR and run the page tests; each test that
draws a page leaves its PNG there (``screenshot``), under a name that says what it shows.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from pathlib import Path

from tests.requires import require

#: Window width of the probes and screenshots: a laptop screen.
WIDTH = 1400


def browser() -> str:
    """Chromium's path; skips the test when it is not installed (fails under CI=true, where
    `make test` installs it)."""
    return require("chromium")


def _run(args: list[str], target: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *args,
         target.as_uri()], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines()
               if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    return proc


_PROBE = """<script>window.addEventListener('load', function () {{ setTimeout(function () {{
  var out; try {{ out = {{value: ({expr})}}; }} catch (e) {{ out = {{error: String(e)}}; }}
  var pre = document.createElement('pre'); pre.id = 'asaas-probe';
  pre.textContent = JSON.stringify(out); document.documentElement.appendChild(pre);
}}, 0); }});</script>"""


def load(page: Path, probe: str = "null", *, width: int = WIDTH, height: int = 900
         ) -> tuple[str, object]:
    """Load ``page`` at ``width`` x ``height``: (the document's title, the probe's value)."""
    text = page.read_text(encoding="utf-8")
    probed = page.with_name(f".probe-{page.name}")
    probed.write_text(text.replace("</body>", _PROBE.format(expr=probe) + "</body>"),
                      encoding="utf-8")
    try:
        dom = _run([f"--window-size={width},{height}", "--dump-dom"], probed).stdout
    finally:
        probed.unlink()
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    found = re.search(r'<pre id="asaas-probe">(.*?)</pre>', dom, re.S)
    assert title and found, dom[-2000:]
    out = json.loads(html.unescape(found.group(1)))
    assert "error" not in out, out
    return title.group(1), out["value"]


def title(page: Path) -> str:
    """The page's title once its script ran (the pages write their self-check there)."""
    return load(page)[0]


def screenshot(page: Path, name: str, *, width: int = WIDTH, height: int | None = None) -> Path:
    """A PNG of ``page`` at ``width`` (the whole page when ``height`` is None), in
    ASAAS_SCREENSHOTS when set, else beside the page."""
    if height is None:
        _, height = load(page, "document.documentElement.scrollHeight", width=width)
        height = min(int(height) + 16, 16000)
    folder = Path(os.environ.get("ASAAS_SCREENSHOTS") or page.parent)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    _run([f"--window-size={width},{height}", f"--screenshot={target}"], page)
    assert target.stat().st_size > 1000
    return target
