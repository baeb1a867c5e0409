"""What the tests need from outside the repository, and what a test does when it is missing.

Tools (programs and Python packages) that `make test` installs: ``require(name)`` returns the
tool (a program's path, a package's module) or, where it is missing, skips the test, so that a
laptop without Chromium still runs everything else; under CI it fails instead, because CI runs
`make test` on a clean clone and must prove every test. "Under CI" is ``under_ci()``, the one
place that reads the ``CI`` environment variable (CI services set CI=true).

The offline data in ../shared is different: a clean clone (CI included) never has it, so tests
that need it are skipped everywhere (``shared_data(...)``).
"""

from __future__ import annotations

import glob
import importlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

#: ../shared beside the repository (or beside the folder of worktrees): IMDB, Steam, models.
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_IMDB = SHARED / "data" / "imdb"


def under_ci() -> bool:
    """True on a CI runner (CI=true, or 1/yes), where a missing tool is a failure."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(what: str, install: str) -> NoReturn:
    """Skip the test because ``what`` is missing; fail it under CI."""
    if under_ci():
        pytest.fail(f"missing {what}, and under CI that is an error: {install}", pytrace=False)
    pytest.skip(f"missing {what} ({install})")


def _program(*names: str, beside_python: bool = False) -> Callable[[], str | None]:
    def find() -> str | None:
        folders = [str(Path(sys.executable).parent)] if beside_python else []
        for name in names:
            for path in folders + [None]:
                found = shutil.which(name, path=path)
                if found:
                    return found
        return None
    return find


def _module(name: str) -> Callable[[], Any]:
    def find() -> Any:
        try:
            return importlib.import_module(name)
        except ImportError:
            return None
    return find


def _postgres_bindir() -> Path | None:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl): on PATH, or Debian's
    /usr/lib/postgresql/N/bin (the newest N)."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


@dataclass(frozen=True)
class Tool:
    what: str
    find: Callable[[], Any]
    install: str


#: Everything `make test` installs that some test needs, by the name tests ask for.
TOOLS: dict[str, Tool] = {tool.what: tool for tool in [
    Tool("chromium", _program("chromium", "chromium-browser", "google-chrome"),
         "`make test` installs Debian's chromium (needs root and apt)"),
    Tool("postgresql", _postgres_bindir,
         "`make test` installs Debian's postgresql server programs (needs root and apt)"),
    Tool("psycopg", _module("psycopg"), 'pip install -e ".[postgres]" (`make test` does)'),
    Tool("ray", _module("ray.data"), 'pip install -e ".[ray]" (`make test` does)'),
    Tool("duckdb-cli", _program("duckdb", beside_python=True),
         'the duckdb command-line tool: pip install -e ".[dev]" (`make test` does)'),
    Tool("aiosmtpd", _module("aiosmtpd"), 'pip install -e ".[dev]" (`make test` does)'),
    Tool("trustme", _module("trustme"), 'pip install -e ".[dev]" (`make test` does)'),
    Tool("pytest-script", _program("pytest", beside_python=True),
         "the pytest script beside this Python: pip install pytest (`make test` does)"),
]}


def require(name: str) -> Any:
    """The tool ``name`` of TOOLS (a program's path, a package's module, PostgreSQL's bin
    folder); skips the test where it is missing, fails it under CI."""
    tool = TOOLS[name]
    found = tool.find()
    if found is None:
        missing(name, tool.install)
    return found


def shared_data(*parts: str) -> Callable[[Callable], Callable]:
    """Decorates a test of ../shared/<parts>: marked ``shared_data``, and skipped where the path
    is absent (a clean clone, CI included: never a failure)."""
    path = SHARED.joinpath(*parts)
    skip = pytest.mark.skipif(not path.exists(), reason=f"../shared/{'/'.join(parts)} not present")

    def mark(test: Callable) -> Callable:
        return pytest.mark.shared_data(skip(test))
    return mark
