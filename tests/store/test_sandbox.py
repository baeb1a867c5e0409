"""The session `asaas sql` runs a statement in (asaas/store/sandbox.py), on PostgreSQL and DuckDB:
the database refuses what the parser would, and every query is bounded in time and rows, and
cancelled on SIGTERM.

The bypass list runs four ways on PostgreSQL: as a superuser and as a
SELECT-only role, through the parser (`asaas sql`) and straight into the sandbox session
(``sandbox.run_statement``), with the side effects each would have had checked afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from asaas.errors import AsaasError
from tests.helpers import err, ok

ANALYST = "asaas_test_analyst"
OUTSIDER = "asaas_test_outsider"
LO_FILE = f"/tmp/asaas-lo-export-{uuid.uuid4().hex[:8]}"
PASSWD_LINE = "root:x:0:0"

#: The bypasses reported against `asaas sql` (escaped names) and the other spellings that reach
#: the same functions; {victim} is another session's pid. Second field: what the sandbox session
#: alone does with it: "denied" (permission denied), "stopped" (the time limit), "harmless"
#: (runs, leaves nothing behind).
BYPASSES = [
    ("SELECT U&\"pg\\005fread_file\"('/etc/passwd')", "denied"),
    ("SELECT * FROM U&\"pg\\005fls_dir\"('.')", "denied"),
    ("SELECT U&\"pg\\005fread_binary_file\"('/etc/passwd')", "denied"),
    ("SELECT U&\"pg\\005freload_conf\"()", "denied"),
    ("SELECT U&\"pg\\005fswitch_wal\"()", "denied"),
    ("SELECT U&\"pg\\005fstat_reset\"()", "denied"),
    ("SELECT U&\"pg\\005fsleep\"(30)", "stopped"),
    ("SELECT U&\"set\\005fconfig\"('work_mem', '64kB', false)", "harmless"),
    ("SELECT U&\"query\\005fto_xml\"('SELECT 1', true, false, '')", "denied"),
    ("SELECT U&\"pg\\005fterminate_backend\"({victim})", "denied"),
    ("SELECT U&\"lo\\005ffrom_bytea\"(0, decode(repeat('ab', 100000), 'hex'))", "denied"),
    (f"SELECT U&\"lo\\005fexport\"(U&\"lo\\005ffrom_bytea\"(0, 'x'), '{LO_FILE}')", "denied"),
    ("SELECT pg_read_file('/etc/passwd')", "denied"),
    ("SELECT \"pg_read_file\"('/etc/passwd')", "denied"),
    ("SELECT pg_catalog.pg_read_file('/etc/passwd')", "denied"),
    ("SELECT ('/etc/passwd').pg_read_file", "denied"),
    ("SELECT pg_sleep(30)", "stopped"),
    ("SELECT pg_terminate_backend({victim})", "denied"),
    ("SELECT lo_from_bytea(0, 'x')", "denied"),
    # A superuser session may switch back to itself inside the statement; the functions are
    # still checked as asaas_reader (at start), and the SQL-as-text ones are revoked.
    ("SELECT set_config('role', session_user::text, true), "
     "query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, false, '')", "denied"),
    ("SELECT set_config('role', session_user::text, true), pg_terminate_backend({victim})",
     "denied"),
    ("SELECT set_config('role', 'none', true), lo_from_bytea(0, 'x')", "denied"),
    ("SELECT set_config('statement_timeout', '0', true), pg_sleep(30)", "stopped"),
]


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _as(url: str, user: str) -> str:
    return url.replace("://asaas@", f"://{user}@")


@pytest.fixture
def pg_db(pg_server):
    """An asaas database at head on the test server (created by its superuser) and a
    SELECT-only login role that may switch to asaas_reader."""
    from asaas.store import Store

    url = pg_server()
    store = Store(url)
    store.upgrade()
    store.engine.dispose()
    engine = _admin(url)
    with engine.connect() as conn:
        for role in (ANALYST, OUTSIDER):
            conn.exec_driver_sql(f"DO $$ BEGIN IF to_regrole('{role}') IS NULL THEN "
                                 f"CREATE ROLE {role} LOGIN; END IF; END $$")
            conn.exec_driver_sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        # (Guarded only so that this file runs against code without the role, to show it fail.)
        conn.exec_driver_sql(f"DO $$ BEGIN IF to_regrole('asaas_reader') IS NOT NULL THEN "
                             f"GRANT asaas_reader TO {ANALYST}; END IF; END $$")
        conn.exec_driver_sql("INSERT INTO models (id, name, created_at) VALUES (1, 'm', now())")
    engine.dispose()
    return url


class _Effects:
    """What a bypass would leave behind: large objects, a file, another session killed, stats
    reset, a WAL switch, a setting changed for good."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.engine = _admin(url)
        params = sa.engine.make_url(url)
        self.victim = psycopg.connect(dbname=params.database, user="asaas",
                                      host=params.query["host"], port=params.query["port"],
                                      autocommit=True)
        self.victim_pid = self.victim.info.backend_pid
        self.before = self.snapshot()

    def snapshot(self) -> tuple:
        with self.engine.connect() as conn:
            return tuple(conn.exec_driver_sql(sql).scalar() for sql in (
                "SELECT count(*) FROM pg_largeobject_metadata",
                "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()",
                "SELECT pg_walfile_name(pg_current_wal_lsn())",
                "SHOW work_mem",
                "SELECT count(*) FROM models"))

    def check(self, sql: str) -> None:
        assert self.snapshot() == self.before, sql
        assert not os.path.exists(LO_FILE), sql
        assert self.victim.execute("SELECT 1").fetchone() == (1,), sql  # still alive

    def close(self) -> None:
        self.victim.close()
        self.engine.dispose()


@pytest.fixture
def effects(pg_db):
    watcher = _Effects(pg_db)
    yield watcher
    watcher.close()


@pytest.mark.parametrize("role", ["superuser", "select-only"])
def test_bypass_list_is_refused_by_the_parser(invoke, pg_db, effects, role):
    url = pg_db if role == "superuser" else _as(pg_db, ANALYST)
    for sql, _ in BYPASSES:
        sql = sql.format(victim=effects.victim_pid)
        line = err(invoke("sql", "--db", url, sql))
        assert "refuses" in line or "cannot parse" in line, (sql, line)
        assert PASSWD_LINE not in line
        effects.check(sql)


@pytest.mark.parametrize("role", ["superuser", "select-only"])
def test_bypass_list_is_refused_by_the_database_without_the_parser(pg_db, effects, role):
    from asaas.store import open_store
    from asaas.store.sandbox import QueryCancelled, run_statement

    store = open_store(pg_db if role == "superuser" else _as(pg_db, ANALYST), read_only=True)
    for sql, expected in BYPASSES:
        sql = sql.format(victim=effects.victim_pid)
        if expected == "harmless":
            rows = run_statement(store, sql, timeout_s=5, max_rows=10)
            assert PASSWD_LINE not in repr(rows.rows)
        elif expected == "stopped":
            with pytest.raises(QueryCancelled, match="2 s limit"):
                run_statement(store, sql, timeout_s=2, max_rows=10)
        else:
            with pytest.raises(AsaasError, match="permission denied") as info:
                run_statement(store, sql, timeout_s=5, max_rows=10)
            assert PASSWD_LINE not in str(info.value)
        effects.check(sql)
    store.engine.dispose()


def test_nothing_a_statement_does_is_committed(pg_db, effects):
    """Where large objects are still granted to PUBLIC (0007 run by a role that could not
    revoke them), an object a statement stores is rolled back with its transaction."""
    from asaas.store import open_store
    from asaas.store.sandbox import run_statement

    with effects.engine.connect() as conn:
        conn.exec_driver_sql("GRANT EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) TO PUBLIC")
    store = open_store(_as(pg_db, ANALYST), read_only=True)
    rows = run_statement(store, "SELECT lo_from_bytea(0, 'x')", timeout_s=5, max_rows=1)
    assert rows.rows and rows.rows[0][0] > 0
    effects.check("lo_from_bytea")


def test_reader_reads_asaas_tables_and_views_only(invoke, pg_db):
    """asaas_reader reads every asaas table and view (views install re-grants the views), not
    a table someone else put in the same schema, even when the connecting role may."""
    from asaas.store.schema import metadata
    from asaas.views import view_names

    analyst = _as(pg_db, ANALYST)
    for name in sorted(metadata.tables) + view_names():
        ok(invoke("sql", "--db", analyst, f"SELECT count(*) AS n FROM {name}"))
    engine = _admin(pg_db)
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE payroll (salary INTEGER)")
        conn.exec_driver_sql(f"GRANT SELECT ON payroll TO {ANALYST}")
    engine.dispose()
    line = err(invoke("sql", "--db", analyst, "SELECT * FROM payroll"))
    assert "permission denied for table payroll" in line and "asaas_reader" in line
    ok(invoke("views", "install", "--db", pg_db))
    assert "m" in ok(invoke("sql", "--db", analyst, "SELECT name FROM models"))
    ok(invoke("sql", "--db", analyst, "SELECT count(*) AS n FROM metrics"))


def test_role_that_may_not_switch_is_told_the_grant(invoke, pg_db, monkeypatch):
    line = err(invoke("sql", "--db", _as(pg_db, OUTSIDER), "SELECT 1 AS one"))
    assert f"GRANT asaas_reader TO {OUTSIDER}" in line
    monkeypatch.setattr("asaas.store.sandbox.READER_ROLE", "asaas_reader_missing")
    line = err(invoke("sql", "--db", pg_db, "SELECT 1 AS one"))
    assert "CREATE ROLE asaas_reader_missing NOLOGIN" in line


# -- bounded queries -----------------------------------------------------------------------------

PG_LONG = ("SELECT count(*) AS n FROM generate_series(1, 100000) a "
           "CROSS JOIN generate_series(1, 100000) b")
PG_MANY = ("SELECT a.g FROM generate_series(1, 100000) a(g) "
           "CROSS JOIN generate_series(1, 100000) b(h)")
DUCK_LONG = "SELECT count(*) AS n FROM range(100000) a(i) CROSS JOIN range(100000000) b(j)"
DUCK_MANY = "SELECT a.i FROM range(100000) a(i) CROSS JOIN range(100000) b(j)"


def _active(url: str) -> list:
    engine = _admin(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND pid <> pg_backend_pid()").fetchall()
    finally:
        engine.dispose()


def _wait_for(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_postgres_query_stops_at_the_time_limit(invoke, pg_db):
    line = err(invoke("sql", "--db", pg_db, "--timeout", "1", PG_LONG))
    assert "1 s limit" in line and "ASAAS_SQL_TIMEOUT" in line
    assert _wait_for(lambda: not _active(pg_db), 5)


def test_time_limit_comes_from_the_environment(invoke, db_path, monkeypatch):
    ok(invoke("db", "upgrade"))
    monkeypatch.setenv("ASAAS_SQL_TIMEOUT", "1")
    assert "1 s limit" in err(invoke("sql", DUCK_LONG))
    monkeypatch.setenv("ASAAS_SQL_TIMEOUT", "soon")
    assert "ASAAS_SQL_TIMEOUT='soon' is not a number" in err(invoke("sql", "SELECT 1 AS a"))


def test_duckdb_query_stops_at_the_time_limit(invoke, db_path):
    ok(invoke("db", "upgrade"))
    line = err(invoke("sql", "--timeout", "1", DUCK_LONG))
    assert "1 s limit" in line
    assert "1" in ok(invoke("sql", "SELECT 1 AS one"))  # the file is free again


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_rows_are_fetched_up_to_the_limit_with_a_note(invoke, db_path, request, engine):
    """A result of 10 billion rows prints its first rows at once (fetched in batches, never
    held whole), with a note on stderr; csv output stays machine-readable."""
    if engine == "duckdb":
        ok(invoke("db", "upgrade"))
        args, many = [], DUCK_MANY
    else:
        args, many = ["--db", request.getfixturevalue("pg_db")], PG_MANY
    result = invoke("sql", *args, "--timeout", "60", "--max-rows", "5", "--format", "csv", many)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 6  # header and 5 rows
    assert result.stderr.strip() == ("asaas sql: showing the first 5 rows; the query returned "
                                     "more (--max-rows N for more, 0 for all)")
    result = invoke("sql", *args, "--max-rows", "2", "SELECT 1 AS a UNION ALL SELECT 2")
    assert "showing" not in result.output
    default = invoke("sql", *args, "--timeout", "60", "--format", "csv", many)
    assert len(default.stdout.strip().splitlines()) == 10_001
    assert "showing the first 10,000 rows" in default.stderr
    everything = invoke("sql", *args, "--max-rows", "0", "--format", "csv",
                        "SELECT x FROM (VALUES (1), (2), (3)) v(x)")
    assert everything.stdout.strip().splitlines() == ["x", "1", "2", "3"]


def test_duckdb_never_spills_next_to_the_database(invoke, db_path, monkeypatch):
    ok(invoke("db", "upgrade"))
    monkeypatch.setenv("ASAAS_DUCKDB_MEMORY", "30MB")
    # A window over 5M strings sorts them all (about 100 MB): DuckDB spilled it to
    # test.duckdb.tmp; asaas sql has no temp directory, so it fails instead.
    line = err(invoke("sql", "SELECT max(r) AS m FROM (SELECT row_number() OVER (ORDER BY s) "
                      "AS r FROM (SELECT CAST(i AS VARCHAR) || 'x' AS s FROM range(5000000) "
                      "t(i)) x) y"))
    assert "Out of Memory" in line and "never spills" in line
    assert sorted(p.name for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)) \
        == [db_path.name]


def test_duckdb_sandbox_without_the_parser(db_path, tmp_path, invoke):
    """SQL given as text (query(), json_execute_serialized_sql) runs inside the same sandbox;
    no spill directory, no Python replacement scans."""
    from asaas.store import open_store
    from asaas.store.sandbox import run_statement

    ok(invoke("db", "upgrade"))
    store = open_store(str(db_path), read_only=True)
    for sql in ["SELECT json_execute_serialized_sql(json_serialize_sql("
                "'SELECT * FROM read_text(''/etc/passwd'')'))",
                "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
                f"SELECT * FROM query('COPY models TO ''{tmp_path}/out.csv''')",
                "SELECT * FROM query_table('/etc/passwd')",
                "SELECT current_setting('temp_directory') = '' "
                "AND NOT current_setting('python_enable_replacements') AS t"]:
        try:
            rows = run_statement(store, sql, timeout_s=10, max_rows=5)
        except AsaasError as exc:
            assert PASSWD_LINE not in str(exc)
            continue
        assert rows.rows == [(True,)], sql  # only the last one runs
    assert not (tmp_path / "out.csv").exists()


def _asaas(*args: str, env: dict) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("asaas")
    return subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_sigterm_cancels_the_query_and_exits_cleanly(invoke, db_path, request, engine):
    env = {**os.environ, "ASAAS_SQL_TIMEOUT": "120"}
    pg_db = request.getfixturevalue("pg_db") if engine == "postgresql" else None
    if engine == "duckdb":
        ok(invoke("db", "upgrade"))
        proc = _asaas("sql", DUCK_LONG, env=env)
        time.sleep(6)  # started and running (the import takes a few seconds on a busy box)
    else:
        proc = _asaas("sql", "--db", pg_db, PG_LONG, env=env)
        # The statement itself, not the command's earlier queries (schema check, role setup),
        # which run before the SIGTERM handler is in place: a signal then ends the process.
        # The statement runs as a server-side cursor: psycopg's DECLARE, then FETCHes.
        if not _wait_for(lambda: any("generate_series" in q or "FETCH" in q.upper()
                                     for _, q in _active(pg_db)), 60):
            proc.kill()
            pytest.fail(f"the query never started: {proc.communicate()}")
    try:
        proc.send_signal(signal.SIGTERM)
        out, errors = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, (proc.returncode, errors)
    assert errors.strip().splitlines() == [
        "Error: asaas sql stopped by SIGTERM: the query was cancelled on the server"], errors
    if engine == "postgresql":
        try:
            assert _wait_for(lambda: not _active(pg_db), 5), _active(pg_db)
        finally:
            engine_ = _admin(pg_db)
            with engine_.connect() as conn:  # old code left it running: end it here
                conn.exec_driver_sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()")
            engine_.dispose()
