"""A throwaway PostgreSQL server for the tests: one per test session, in a temporary directory,
Unix socket only (no TCP port), each test asking for a fresh empty database.

Where PostgreSQL's server programs are missing the tests that need it are skipped, except under
``CI=true``, where that is a failure: `make test` installs the server, so CI must prove it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa


def pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; `make test` installs PostgreSQL, so under CI this is an error")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Callable[[], str]]:
    """Start PostgreSQL once; yields a function that makes a fresh empty database's URL."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed")
    bindir = pg_bindir()
    if bindir is None:
        _unavailable("PostgreSQL server programs (initdb) are not installed")
    # initdb refuses to run as root: run the server as the 'postgres' user when we are root.
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="asaas-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to run the server")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", 54329

    def run(*args: str) -> None:
        subprocess.run(prefix + list(args), check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "asaas", "-E", "UTF8",
            "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
            f"-k {root} -p {port} -c listen_addresses='' -c fsync=off -c max_connections=200",
            "start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc} {getattr(exc, 'stderr', b'')!r} {log}")
    admin = sa.create_engine(f"postgresql+psycopg://asaas@/postgres?host={root}&port={port}",
                             isolation_level="AUTOCOMMIT")

    def new_database() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        return f"postgresql+psycopg://asaas@/{name}?host={root}&port={port}"

    try:
        yield new_database
    finally:
        admin.dispose()
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
