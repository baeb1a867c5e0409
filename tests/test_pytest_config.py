"""The test suite's own setup: plain `pytest` from the repository root works as well as
`python -m pytest`; every helper module is one module object (``tests.NAME``), so one session
starts one PostgreSQL server; a missing tool skips here and fails under CI, decided in one place
(tests/requires.py)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import requires
from tests.requires import require

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def _sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(TESTS.rglob("*.py"))}


def test_plain_pytest_collects_from_the_repository_root():
    script = require("pytest-script")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(script), "--collect-only", "-q", "-p", "no:cacheprovider",
                           "tests/test_report.py", "tests/store/test_store.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "test_sql_is_read_only" in proc.stdout
    assert "test_copy_writes_exact_values_and_refuses_what_does_not_fit" in proc.stdout


def test_every_test_file_is_one_module_named_after_its_path():
    """Every file under tests/ that this session imported is in sys.modules once, under its
    dotted path: a helper imported bare (``import helpers``, ``from pg import ...``) would be a
    second module object with its own state (a second session fixture, a second server)."""
    seen: dict[Path, list[str]] = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(TESTS):
            seen.setdefault(Path(path).resolve(), []).append(name)
    assert TESTS / "pg.py" in seen and TESTS / "conftest.py" in seen
    for path, names in seen.items():
        parts = path.relative_to(ROOT).with_suffix("").parts
        expected = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        assert names == [expected], (path, names)


def test_every_import_of_a_test_helper_names_the_tests_package():
    helpers = {path.stem for path in TESTS.glob("*.py")} - {"__init__"}
    for path, source in _sources().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module.split(".")[0] not in helpers, (path, node.lineno)
            elif isinstance(node, ast.Import):
                bare = {alias.name.split(".")[0] for alias in node.names} & helpers
                assert not bare, (path, node.lineno, bare)


def test_pg_refuses_a_second_module_object():
    """tests/pg.py imported bare, as `import pg` would with tests/ on sys.path, stops at once."""
    proc = subprocess.run([sys.executable, "-c", "import pg"], cwd=TESTS,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert "ImportError: tests/pg.py imported as 'pg': import it as tests.pg" in proc.stderr


def test_one_fixture_starts_postgresql():
    """Only conftest.py takes pg_server from tests/pg.py, and no module defines its own."""
    takers = []
    for path, source in _sources().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "tests.pg":
                takers.append(path.relative_to(TESTS).as_posix())
            if isinstance(node, ast.FunctionDef) and node.name == "pg_server":
                assert path == TESTS / "pg.py", path
    assert takers == ["conftest.py"]


def test_the_ci_variable_is_read_in_one_place():
    """Only tests/requires.py decides what "under CI" means; every other test asks it."""
    for path, source in _sources().items():
        if path in (TESTS / "requires.py", Path(__file__).resolve()):
            continue  # (this file sets CI to check what requires.py makes of it)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and node.value == "CI":
                pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} reads CI: use "
                            "tests.requires (require, missing, under_ci)")


@pytest.mark.parametrize("ci,outcome", [(None, pytest.skip.Exception), ("", pytest.skip.Exception),
                                        ("false", pytest.skip.Exception),
                                        ("true", pytest.fail.Exception),
                                        ("TRUE", pytest.fail.Exception),
                                        ("1", pytest.fail.Exception)])
def test_a_missing_tool_skips_here_and_fails_under_ci(monkeypatch, ci, outcome):
    monkeypatch.setitem(requires.TOOLS, "nothing",
                        requires.Tool("nothing", lambda: None, "`make test` installs it"))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match=r"missing nothing.*`make test` installs it"):
        require("nothing")


def test_a_present_tool_is_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert Path(require("pytest-script")).name == "pytest"
    assert require("psycopg").__name__ == "psycopg"
