"""One run of a job file on a database at a time: an exclusive ``flock`` on a lock file."""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from pathlib import Path

import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.errors import JobError
from asaas.jobs.loading import Job


class JobLock:
    """An exclusive, non-blocking ``flock`` on a per-job lock file (released by the kernel when
    the process ends, even on SIGKILL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JobError(f"cannot create the job lock {self.path} ({exc.strerror}); make the "
                           "job file's folder writable") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            return False
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()} {socket.gethostname()} {utcnow().isoformat()}\n"
                 .encode())
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_path(job: Job, db_url: str) -> Path:
    """The lock of one job file on one database, shared by every run of it whatever its
    ASAAS_HOME, working directory or spelling of the database: beside the job file (in
    ``.locks/``), named after the job file and a hash of its real path and the database."""
    key = f"{job.path.resolve()}\n{_database_identity(db_url)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return job.path.parent / ".locks" / f"{job.path.stem}-{digest}.lock"


def _database_identity(db_url: str) -> str:
    """The database itself: a DuckDB file's real path, a server URL without its password."""
    from asaas.store.urls import duckdb_file_path, normalize_url

    url = normalize_url(db_url)
    db_file = duckdb_file_path(url)
    if db_file is not None:
        return f"duckdb:{db_file.expanduser().resolve()}"
    return sa.engine.make_url(url).set(password=None).render_as_string(hide_password=False)
