"""PostgreSQL bookkeeping under concurrency (issue 18, item 8), with real processes on the
throwaway server: two ingests of one file at once record what each really inserted (the rows
carrying its run id), and a job's lock is held in the database, so two spellings of one server
cannot run the same job at once.

The overlap is made certain, not left to timing: the test's own transaction holds the first
review's key, so both ingests block on it inside their transactions; it is rolled back once
both wait, and they race from there."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

N = 20_000
GAME_COUNT = 7


def _source(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "test.parquet"
    pq.write_table(pa.table({
        "id": [f"r{i}" for i in range(N)],
        "text": [f"review number {i}, {'good' if i % 2 else 'bad'}" for i in range(N)],
        "label": [i % 2 for i in range(N)],
        "app_id": [str(i % GAME_COUNT) for i in range(N)],
        "app_name": [f"Game {i % GAME_COUNT}" for i in range(N)]}), path)
    return path


def _other_spelling(url: str) -> str:
    """The same database, written another way (query order, a trailing slash on the socket
    folder), as 127.0.0.1 and localhost are for a TCP server."""
    base, query = url.split("?", 1)
    params = dict(p.split("=", 1) for p in query.split("&"))
    return f"{base}?port={params['port']}&host={params['host']}/"


@pytest.fixture
def pg(pg_server):
    from asaas.store import open_store

    url = pg_server()
    open_store(url)  # created at head before the processes start
    engine = sa.create_engine(url)
    yield url, engine
    engine.dispose()


class Gate:
    """A transaction that holds review r0's key: every ingest of the file waits on it."""

    def __init__(self, engine: sa.Engine) -> None:
        self.conn = engine.connect()
        self.conn.execute(sa.text(
            "INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
            "VALUES (999999, 'imdb', 'gate', 'running', now())"))
        self.conn.execute(sa.text(
            "INSERT INTO reviews (dataset, external_id, split, text, content_hash, "
            "ingest_run_id) VALUES ('imdb', 'r0', 'test', 'x', 'x', 999999)"))

    def open(self) -> None:
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None


def _waiting(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")).scalar_one()


def _wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _asaas(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "asaas", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "ASAAS_BUSY_TIMEOUT": "60"})


def _finish(procs: list[subprocess.Popen], gate: Gate) -> list[str]:
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=300)[0])
    finally:
        gate.open()
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outs


@pytest.mark.parametrize("products", [False, True])
def test_concurrent_ingests_record_what_each_inserted(pg, tmp_path, products):
    url, engine = pg
    source = _source(tmp_path / "src")
    args = ["ingest", "--source", str(source)]
    if products:
        args += ["--product-column", "app_id", "--product-name-column", "app_name"]
    gate = Gate(engine)
    procs = []
    try:
        procs = [_asaas(*args, "--db", url), _asaas(*args, "--db", _other_spelling(url))]
        _wait_for(lambda: _waiting(engine) >= 2, "both ingests to wait on the gate")
    finally:
        gate.open()
    outs = _finish(procs, gate)
    for proc, out in zip(procs, outs):
        assert proc.returncode == 0, out
    printed = [int(re.search(r"inserted ([\d,]+)", o).group(1).replace(",", "")) for o in outs]
    with engine.connect() as conn:
        runs = conn.execute(sa.text(
            "SELECT r.id, r.rows_inserted, r.rows_skipped, (SELECT count(*) FROM reviews v "
            "WHERE v.ingest_run_id = r.id) FROM ingest_runs r ORDER BY r.id")).fetchall()
        total = conn.execute(sa.text("SELECT count(*) FROM reviews")).scalar_one()
        games = conn.execute(sa.text("SELECT count(*) FROM products")).scalar_one()
    assert total == N and sorted(printed) == [0, N], outs
    assert len(runs) == 2
    for run_id, recorded, skipped, carrying in runs:
        assert recorded == carrying, (run_id, recorded, carrying)  # what was really inserted
        assert recorded + skipped == N
    if products:
        assert games == GAME_COUNT
        created = [int(m.group(1)) for o in outs
                   for m in [re.search(r"products: \d+ \((\d+) new\)", o)] if m]
        assert sorted(created) == [0, GAME_COUNT], outs


def _job(tmp_path: Path, source: Path) -> Path:
    job = tmp_path / "jobs" / "nightly.toml"
    job.parent.mkdir(parents=True, exist_ok=True)
    job.write_text(f'name = "nightly"\n[[steps]]\nkind = "ingest"\nsource = "{source}"\n')
    return job


def _advisory_locks(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                    "AND granted")).scalar_one()


def test_job_lock_is_held_in_the_database(pg, tmp_path):
    """Two spellings of one database ran the same job at once (the lock file was keyed on the
    URL as written). Now the second exits 75 at once; the lock goes with a killed run's
    connection, and the next run marks that run interrupted."""
    url, engine = pg
    job = _job(tmp_path, _source(tmp_path / "src"))
    gate = Gate(engine)
    first = _asaas("job", "run", str(job), "--db", url)
    try:
        _wait_for(lambda: _waiting(engine) >= 1, "the first run to hold its lock and wait")
        second = subprocess.run([sys.executable, "-m", "asaas", "job", "run", str(job), "--db",
                                 _other_spelling(url)], capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 75, second.stdout + second.stderr
        assert "already running (pid " in second.stderr
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        gate.open()
        if first.poll() is None:
            first.kill()
    _wait_for(lambda: _advisory_locks(engine) == 0, "the server to release the killed run's lock")
    third = subprocess.run([sys.executable, "-m", "asaas", "job", "run", str(job), "--db",
                            _other_spelling(url)], capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    with engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM job_runs ORDER BY id")).fetchall()
        carrying = conn.execute(sa.text("SELECT count(*) FROM reviews")).scalar_one()
    assert [s[0] for s in statuses] == ["interrupted", "succeeded"]
    assert carrying == N
    assert _advisory_locks(engine) == 0  # released at the end of the run


def test_database_lock_keys_and_duckdb_files(tmp_path, db_path):
    from asaas.jobs.lock import advisory_key, uses_database_lock

    assert advisory_key("nightly") == advisory_key("nightly") != advisory_key("hourly")
    assert all(-2**31 <= k < 2**31 for k in advisory_key("nightly"))
    assert uses_database_lock("postgresql+psycopg://u:p@h/db")
    assert not uses_database_lock(str(db_path))
    assert not uses_database_lock(f"duckdb:///{db_path}")
