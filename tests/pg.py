"""A throwaway PostgreSQL server for the tests: one per test session, in a temporary directory,
Unix socket only (no TCP port), each test asking for a fresh empty database.

Where PostgreSQL's server programs (or psycopg) are missing the tests that need it are skipped,
except under CI, where that is a failure (tests/requires.py): `make test` installs the server.

conftest.py imports the fixture from here, as ``tests.pg``, for every test module; no test module
imports it again (a second module object would be a second session fixture: a second server).
"""

from __future__ import annotations

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

from tests.requires import missing, require

if __name__ != "tests.pg":  # e.g. `import pg` with tests/ on sys.path
    raise ImportError(f"tests/pg.py imported as {__name__!r}: import it as tests.pg, once, so "
                      "that one session starts one server")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Callable[[], str]]:
    """Start PostgreSQL once; yields a function that makes a fresh empty database's URL."""
    require("psycopg")
    bindir = require("postgresql")
    # initdb refuses to run as root: run the server as the 'postgres' user when we are root.
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="asaas-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            missing("a 'postgres' user to run the server as (initdb refuses root)",
                    "Debian's postgresql package creates it")
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
