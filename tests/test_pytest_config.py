"""Plain `pytest` from the repository root works as well as `python -m pytest` (issue 12,
item 12): the tests import `tests.helpers` and `helpers`, which needs the root on sys.path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.requires import require

ROOT = Path(__file__).resolve().parents[1]


def test_plain_pytest_collects_from_the_repository_root():
    script = require("pytest-script")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(script), "--collect-only", "-q", "-p", "no:cacheprovider",
                           "tests/test_report.py", "tests/store/test_store.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "test_sql_is_read_only" in proc.stdout
