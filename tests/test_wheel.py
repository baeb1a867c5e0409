"""A normal (non-editable) install works: build the wheel, install it into a fresh virtual
environment outside the repository, and run the main commands there.

The wheel's own files are the only asaas code the new environment sees. Its third-party
dependencies are borrowed from the test environment through a path line (not installed again:
torch alone is gigabytes); the test checks that ``asaas`` itself, its SQL views and its
migrations are imported from the new environment, not from the checkout, and that its page
templates are there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", "asaas-home",
        "reports", "bench", "tests"}

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; returns its bin/ directory."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=lambda d, names: [
        n for n in names if n in SKIP or n.endswith((".egg-info", ".duckdb", ".wal"))])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          "-w", str(root / "dist"), str(src)], root, env)
    wheel = next((root / "dist").glob("asaas-*.whl"))
    target = root / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    bindir = target / "bin"
    purelib = subprocess.run([str(bindir / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # Third-party packages from the test environment; a path line does not run that
    # directory's own .pth files, so the checkout's editable asaas stays out of sight.
    (Path(purelib) / "_asaas_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(bindir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
          str(wheel)], root, env)
    return bindir


def test_wheel_installs_and_runs_outside_the_checkout(installed, tmp_path, learnable_source):
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(ASAAS_DB=str(work / "asaas.duckdb"), ASAAS_HOME=str(work / "home"))
    where = _run([str(installed / "python"), "-c",
                  "import asaas, asaas.views, asaas.store.migrate as m; "
                  "print(asaas.__file__); print(asaas.views.SQL_DIR); print(m.MIGRATIONS_DIR)"],
                 work, env).split()
    venv_dir = installed.parent.resolve()
    for path in where:
        assert Path(path).resolve().is_relative_to(venv_dir), where
        assert not Path(path).resolve().is_relative_to(REPO), where
    asaas = str(installed / "asaas")
    assert "upgraded database from empty" in _run([asaas, "db", "upgrade"], work, env)
    _run([asaas, "ingest", "--source", str(learnable_source(120, 60))], work, env)
    _run([asaas, "train", "tfidf-lr"], work, env)
    assert "scored 60 reviews" in _run([asaas, "score", "--model", "tfidf-lr"], work, env)
    report = _run([asaas, "report", "--format", "json"], work, env)
    row = json.loads(report[report.index("{"):])["metrics"][0]
    assert (row["model"], row["version"], row["split"], row["n"]) == ("tfidf-lr", 1, "test", 60)
    # The page templates ship in the wheel (package_data), as the SQL views and migrations do.
    _run([asaas, "report", "--html", str(work / "report.html")], work, env)
    assert (work / "report.html").read_text(encoding="utf-8").count('<svg class="plot"') == 4
