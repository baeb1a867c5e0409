"""One run of a job on a database at a time.

DuckDB: an exclusive ``flock`` on a lock file beside the job file, keyed on the database file's
real path. PostgreSQL: a session-level advisory lock held in the database itself, keyed on the
job's name, for as long as the run lasts; so two spellings of one server (``localhost`` and
``127.0.0.1``, another port order), two copies of the job file or two hosts still exclude each
other, and the server releases it when the run's connection ends (a killed run included).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.errors import JobError
from asaas.jobs.loading import Job

if TYPE_CHECKING:
    from asaas.store import Store


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


#: The first key of every asaas job's advisory lock (the second is the job name's hash), so
#: that they stay apart from advisory locks other applications take in the same database.
ADVISORY_NAMESPACE = int.from_bytes(hashlib.sha256(b"asaas job lock").digest()[:4], "big",
                                    signed=True)


def advisory_key(job_name: str) -> tuple[int, int]:
    """The two 32-bit keys of a job's advisory lock."""
    digest = hashlib.sha256(job_name.encode()).digest()
    return ADVISORY_NAMESPACE, int.from_bytes(digest[:4], "big", signed=True)


class DatabaseJobLock:
    """A session-level advisory lock in the PostgreSQL database, keyed on the job name, on a
    connection of its own that stays open (and idle, outside any transaction) for the run."""

    def __init__(self, store: Store, job_name: str) -> None:
        self.store, self.job_name = store, job_name
        self.key = advisory_key(job_name)
        self.conn: sa.Connection | None = None

    def acquire(self) -> bool:
        try:
            conn = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except sa.exc.SQLAlchemyError as exc:
            raise JobError(f"cannot take the job lock in the database: {_first_line(exc)}"
                           ) from None
        try:
            # A server-wide idle_session_timeout would end this idle session, and the lock
            # with it, in the middle of a long run (PostgreSQL 14+; older ones lack it).
            if conn.dialect.server_version_info >= (14,):
                conn.execute(sa.text("SET idle_session_timeout = 0"))
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"),
                               {"a": self.key[0], "b": self.key[1]}).scalar()
        except sa.exc.SQLAlchemyError as exc:
            conn.close()
            raise JobError(f"cannot take the job lock in the database: {_first_line(exc)}"
                           ) from None
        if not got:
            conn.close()
            return False
        self.conn = conn
        return True

    def holder(self) -> str:
        """Who holds the lock, as its run recorded itself in job_runs (pid, host, start)."""
        from asaas.store.schema import job_runs

        try:
            with self.store.transaction() as conn:
                row = conn.execute(sa.select(job_runs.c.pid, job_runs.c.host,
                                             job_runs.c.started_at)
                                   .where(job_runs.c.job_name == self.job_name,
                                          job_runs.c.status == "running")
                                   .order_by(job_runs.c.id.desc()).limit(1)).first()
        except Exception:  # noqa: BLE001 - only a description for the log line
            row = None
        if row is None:
            return "a run holding its lock in the database"
        return f"pid {row.pid} on {row.host} since {row.started_at:%Y-%m-%d %H:%M:%S} UTC"

    def release(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.execute(sa.text("SELECT pg_advisory_unlock(:a, :b)"),
                              {"a": self.key[0], "b": self.key[1]})
        except sa.exc.SQLAlchemyError:
            pass  # closing the session below releases it anyway
        finally:
            self.conn.close()
            self.conn = None


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(exc).__name__])[0]


def uses_database_lock(db_url: str) -> bool:
    """Whether a job on ``db_url`` locks in the database (PostgreSQL) rather than a file."""
    from asaas.store.urls import duckdb_file_path, normalize_url

    url = normalize_url(db_url)
    if duckdb_file_path(url) is not None:
        return False
    return sa.engine.make_url(url).get_backend_name() == "postgresql"
