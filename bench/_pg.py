"""A throwaway PostgreSQL server for benchmarks (the same way tests/pg.py starts one): a temp
folder, Unix socket only, fsync on (benchmarks should pay for durable commits)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bindir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise SystemExit("PostgreSQL server programs (initdb) are not installed; `make test` "
                         "installs them, or pass --db URL of a server")
    return Path(candidates[-1]).parent


@contextlib.contextmanager
def temp_server() -> Iterator[str]:
    """Start PostgreSQL in a temp folder; yields the URL of its (empty) 'bench' database."""
    bindir, root = _bindir(), Path(tempfile.mkdtemp(prefix="asaas-pg-bench-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", 54331
    run = lambda *a: subprocess.run(prefix + list(a), check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "asaas", "-E", "UTF8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
        f"-k {root} -p {port} -c listen_addresses=''", "start")
    try:
        run(str(bindir / "createdb"), "-h", str(root), "-p", str(port), "-U", "asaas", "bench")
        yield f"postgresql+psycopg://asaas@/bench?host={root}&port={port}"
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
