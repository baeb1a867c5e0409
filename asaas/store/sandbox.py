"""The session `asaas sql` runs a user's statement in: the layer that holds without the parser.

``asaas.store.readonly`` refuses anything not known to be harmless; this module makes the
database itself refuse the same, bounds the statement in time and rows, and cancels it on the
server when the process is told to stop (SIGTERM, Ctrl-C).

DuckDB
    The file is opened read-only by a connection of its own, with external access (files,
    ATTACH, COPY), extension autoloading/installing and Python replacement scans off, no
    temporary directory (a query that outgrows the memory limit fails instead of spilling
    next to the database) and the configuration locked before the statement runs, so nothing
    in it can lift these. Functions that run SQL given as text (``query()``,
    ``json_execute_serialized_sql``) run inside the same sandbox. The time limit interrupts the
    connection from the supervising thread. While the query runs the reader holds the file,
    and DuckDB lets no writer open it meanwhile: ``asaas score``/``ingest`` wait up to
    ASAAS_BUSY_TIMEOUT, so the time limit also bounds how long a query can hold them up.

PostgreSQL
    A fresh session (``default_transaction_read_only=on``) runs one transaction that is always
    rolled back: ``READ ONLY``, ``statement_timeout``, ``search_path`` fixed to pg_catalog then
    asaas' schema, then ``SET LOCAL ROLE asaas_reader``; the statement is declared as a cursor
    (PostgreSQL refuses anything but a query there, and a second command) and fetched in
    batches. ``asaas_reader`` is a NOLOGIN role that may only read asaas' tables and views;
    migration 0007 creates it and ``views.create_views`` keeps its grants current.

What the database enforces, by the role asaas connects as (say it in the docs):

* Any role: nothing is written (read-only transaction, rolled back), no sequence advances, no
  notification is sent, the statement stops at the time limit.
* A role that is not a superuser (the recommended one): its statement runs with
  ``asaas_reader``'s rights, or at most its own (``set_config('role', 'none', true)`` can
  undo SET ROLE inside a statement, but function rights are checked when the statement starts,
  as asaas_reader): no server files (asaas_reader is in no pg_read_server_files /
  pg_write_server_files / pg_signal_backend role), no admin function, no other session
  signalled, no large object and no SQL-as-text function (query_to_xml...) where migration
  0007 ran as a superuser and revoked them from PUBLIC.
* A superuser: everything above for functions whose rights are checked when the statement
  starts. A superuser session can switch back to itself inside a statement
  (``set_config('role', ...)``), and PostgreSQL checks a few functions' rights only while they
  run: with the revocations of migration 0007 none of those shipped with PostgreSQL is left
  that reads files, runs SQL text or signals sessions, but functions someone added to the
  database, and the visibility of other sessions' queries and of superuser-only settings, are
  then guarded by the parser alone. Do not connect `asaas sql` as a superuser.

Setting it up by hand, when ``asaas db upgrade`` ran as a role that may not create roles, or
for each other role that runs `asaas sql` (``READER_SETUP_SQL``, for the docs)::

    CREATE ROLE asaas_reader NOLOGIN;   -- once per server, by a role with CREATEROLE
    GRANT asaas_reader TO analyst;      -- each role that runs asaas sql
    -- then, as the owner of asaas' tables: `asaas views install`, which grants asaas_reader
    -- USAGE on asaas' schema and SELECT on exactly asaas' tables and views
    -- (never GRANT SELECT ON ALL TABLES: every member of asaas_reader could read them)

and, as a superuser, once per database, what migration 0006 does when it runs as one::

    REVOKE EXECUTE ON FUNCTION lo_create(oid), lo_from_bytea(oid, bytea), ... FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION pg_terminate_backend(integer, bigint),
        pg_cancel_backend(integer) TO pg_signal_backend;

(the full list is ``REVOKED_FROM_PUBLIC``; ``revoke_sql()`` writes the statements). Revoking
from PUBLIC is database-wide: every role of that database that is not a superuser loses large
objects, query_to_xml & co., ts_stat/ts_rewrite with a query text and pg_terminate_backend/
pg_cancel_backend (members of pg_signal_backend keep the last two; Ctrl-C in a client still
cancels its own query). asaas uses none of them; if another application shares the database,
give them back to its role with ``GRANT EXECUTE ON FUNCTION ... TO role``.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from asaas.errors import AsaasError, DatabaseError

#: The NOLOGIN role whose rights `asaas sql` runs with on PostgreSQL (migration 0006).
READER_ROLE = "asaas_reader"

#: Default time limit of `asaas sql`, in seconds (settings: ASAAS_SQL_TIMEOUT, --timeout).
DEFAULT_TIMEOUT_S = 60.0
#: Default row limit of `asaas sql` (--max-rows; 0: all).
DEFAULT_MAX_ROWS = 10_000
#: Rows fetched per round trip.
BATCH_ROWS = 1_000
#: How long a cancelled statement gets to stop before asaas gives up waiting for it.
CANCEL_GRACE_S = 10.0

#: Functions PostgreSQL grants to PUBLIC that migration 0006 revokes (when run as a superuser):
#: large objects (write or read the server's storage, export files with lo_export), functions
#: that run a query given as text or read whole tables by name when they run (after a superuser
#: session switched its role back inside the statement), and signalling other sessions.
REVOKED_FROM_PUBLIC = (
    "lo_create", "lo_creat", "lo_from_bytea", "lo_open", "lo_close", "loread", "lowrite",
    "lo_lseek", "lo_lseek64", "lo_tell", "lo_tell64", "lo_truncate", "lo_truncate64",
    "lo_unlink", "lo_get", "lo_put", "lo_import", "lo_export",
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml",
    "cursor_to_xmlschema", "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
    "schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema", "database_to_xml",
    "database_to_xmlschema", "database_to_xml_and_xmlschema", "ts_stat", "ts_rewrite",
    "pg_terminate_backend", "pg_cancel_backend",
)

READER_SETUP_SQL = f"""\
CREATE ROLE {READER_ROLE} NOLOGIN;
GRANT {READER_ROLE} TO analyst;
"""


def revoke_sql(superuser_check: bool = True) -> str:
    """A PL/pgSQL block that revokes ``REVOKED_FROM_PUBLIC`` from PUBLIC in the current database
    (every signature of each name in pg_catalog) and lets pg_signal_backend keep signalling;
    with ``superuser_check`` it does nothing unless run by a superuser (only the functions'
    owner may revoke). Also what the docs give administrators."""
    names = ", ".join(f"'{n}'" for n in REVOKED_FROM_PUBLIC)
    check = ("    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN\n"
             "        RETURN;\n    END IF;\n") if superuser_check else ""
    return f"""DO $$
DECLARE f regprocedure;
BEGIN
{check}    FOR f IN SELECT p.oid FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND p.proname IN ({names}) LOOP
        EXECUTE 'REVOKE EXECUTE ON FUNCTION ' || f::text || ' FROM PUBLIC';
    END LOOP;
    FOR f IN SELECT p.oid FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND p.proname IN ('pg_terminate_backend', 'pg_cancel_backend') LOOP
        EXECUTE 'GRANT EXECUTE ON FUNCTION ' || f::text || ' TO pg_signal_backend';
    END LOOP;
END $$"""


class QueryCancelled(AsaasError):
    """`asaas sql` stopped a statement: time limit, SIGTERM or Ctrl-C."""


@dataclass
class Rows:
    """What a statement returned: at most ``max_rows`` rows; ``truncated`` when it had more."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False
    max_rows: int | None = field(default=None)


def run_statement(store: Any, statement: str, *, timeout_s: float | None = DEFAULT_TIMEOUT_S,
                  max_rows: int | None = DEFAULT_MAX_ROWS) -> Rows:
    """Run one statement (already checked by ``readonly.check_read_only``) in the sandbox.

    ``timeout_s`` (None or 0: no limit) stops it on the server; ``max_rows`` (None or 0: all)
    stops fetching after that many rows. SIGTERM and Ctrl-C cancel it on the server too.
    """
    timeout = timeout_s if timeout_s and timeout_s > 0 else None
    limit = max_rows if max_rows and max_rows > 0 else None
    if timeout_s is not None and timeout_s < 0:
        raise AsaasError(f"--timeout {timeout_s:g} is negative; give seconds, or 0 for no limit")
    if max_rows is not None and max_rows < 0:
        raise AsaasError(f"--max-rows {max_rows} is negative; give a row count, or 0 for all")
    if store.dialect == "duckdb":
        job: _Job = _DuckDBJob(store, statement, timeout, limit)
    elif store.dialect == "postgresql":
        job = _PostgresJob(store, statement, timeout, limit)
    else:
        job = _PlainJob(store, statement, timeout, limit)
    return _supervise(job, timeout)


# -- supervising: time limit, signals ---------------------------------------------------------


class _Job:
    """A statement run on a worker thread; ``cancel`` may be called from another thread."""

    def __init__(self, store: Any, statement: str, timeout: float | None,
                 limit: int | None) -> None:
        self.store = store
        self.statement = statement
        self.timeout = timeout
        self.limit = limit
        #: Set by ``cancel``: the worker starts no further statement or fetch.
        self.cancelled = threading.Event()

    def run(self) -> Rows:  # pragma: no cover - overridden
        raise NotImplementedError

    def cancel(self) -> None:
        """Stop the statement: no further step starts, and the running one is interrupted
        (the supervisor repeats this until the worker ends, since a cancel that reaches the
        server between two statements is lost)."""
        self.cancelled.set()
        self.interrupt()

    def interrupt(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def go_on(self) -> None:
        if self.cancelled.is_set():
            raise QueryCancelled("asaas sql: the query was cancelled")

    def fetch(self, cursor: Any) -> Rows:
        """Fetch in batches up to ``limit`` rows (one more tells whether there were more)."""
        columns = [d[0] for d in cursor.description] if cursor.description else []
        if not columns:
            return Rows([], [])
        rows: list[tuple[Any, ...]] = []
        wanted = None if self.limit is None else self.limit + 1
        while wanted is None or len(rows) < wanted:
            self.go_on()
            size = BATCH_ROWS if wanted is None else min(BATCH_ROWS, wanted - len(rows))
            batch = cursor.fetchmany(size)
            if not batch:
                break
            rows.extend(tuple(r) for r in batch)
        truncated = self.limit is not None and len(rows) > self.limit
        return Rows(columns, rows[:self.limit] if truncated else rows, truncated, self.limit)


def _supervise(job: _Job, timeout: float | None) -> Rows:
    """Run the job on a worker thread while this one watches the clock and the signals."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["rows"] = job.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the supervising thread
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name="asaas-sql", daemon=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    reason = None
    with _sigterm_flag() as terminated:
        worker.start()
        try:
            while not done.wait(0.05):
                if terminated.is_set():
                    reason = "SIGTERM"
                elif deadline is not None and time.monotonic() > deadline:
                    reason = "timeout"
                if reason:
                    break
        except KeyboardInterrupt:
            reason = "Ctrl-C"
        if reason:
            give_up = time.monotonic() + CANCEL_GRACE_S
            while not done.is_set() and time.monotonic() < give_up:
                with contextlib.suppress(Exception):
                    job.cancel()
                done.wait(0.25)
    if reason == "timeout" or (reason is None and _is_timeout(box.get("error"))):
        raise QueryCancelled(
            f"the query ran longer than the {timeout:g} s limit and was cancelled; narrow it, "
            "or raise --timeout / ASAAS_SQL_TIMEOUT (0: no limit)")
    if reason:
        stopped = "cancelled on the server" if done.is_set() else "cancel sent to the server"
        raise QueryCancelled(f"asaas sql stopped by {reason}: the query was {stopped}")
    if "error" in box:
        raise _translate(box["error"], job)
    return box["rows"]


@contextlib.contextmanager
def _sigterm_flag() -> Iterator[threading.Event]:
    """An event set on SIGTERM while inside (main thread only; elsewhere it is never set)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


def _is_timeout(exc: BaseException | None) -> bool:
    return exc is not None and "statement timeout" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _translate(exc: BaseException, job: _Job) -> BaseException:
    if isinstance(exc, AsaasError):
        return exc
    if not isinstance(exc, Exception):
        return exc  # SystemExit and friends go on as they are
    line = _first_line(exc)
    if "Out of Memory" in line or "out of memory" in line:
        return DatabaseError(
            f"SQL error: {line}; asaas sql never spills to disk: narrow the query (fewer "
            "columns, a WHERE, an aggregate) or raise ASAAS_DUCKDB_MEMORY")
    match = re.search(r"permission denied for (table|view|relation|schema) (\S+)", line)
    if match:
        return DatabaseError(
            f"SQL error: {line}; asaas sql runs as role {READER_ROLE}, which reads asaas' "
            f"tables and views only (if {match.group(2)} is asaas', an administrator grants it: "
            f"GRANT SELECT ON {match.group(2)} TO {READER_ROLE})")
    return DatabaseError(f"SQL error: {line}")


# -- DuckDB --------------------------------------------------------------------------------------


def _duckdb_config() -> dict[str, Any]:
    from asaas.settings import duckdb_config
    from asaas.store.store import DUCKDB_SANDBOX

    return {**DUCKDB_SANDBOX, **duckdb_config(),
            # No spill file next to the database (DuckDB's default for a read-only file is
            # <db>.tmp): a query beyond the memory limit fails instead.
            "temp_directory": "",
            # A table name that matches a Python variable must not read that variable.
            "python_enable_replacements": False}


def _lock_duckdb(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("SET enable_progress_bar = false")
    dbapi_connection.execute("SET lock_configuration = true")  # last: nothing may lift it


class _DuckDBJob(_Job):
    raw: Any = None

    def run(self) -> Rows:
        if self.store.db_file is None:
            raise DatabaseError("an in-memory DuckDB database has nothing to read; pass --db "
                                "with a database file or URL")
        engine = sa.create_engine(self.store.url, poolclass=NullPool,
                                  connect_args={"read_only": True, "config": _duckdb_config()})
        sa.event.listen(engine, "connect", _lock_duckdb)
        try:
            conn = self.store._connect(engine)  # retries while a writer holds the file
            try:
                self.raw = conn.connection.driver_connection
                self.go_on()
                cursor = self.raw.execute(self.statement)
                return self.fetch(cursor)
            finally:
                conn.close()  # at once: writers wait for the file while it is open
        finally:
            engine.dispose()

    def interrupt(self) -> None:
        if self.raw is not None:
            self.raw.interrupt()


# -- PostgreSQL ---------------------------------------------------------------------------------

_CURSOR_NAME = "asaas_sql"
# Statements PostgreSQL can declare as a cursor (fetched in batches); EXPLAIN and SHOW return
# a few rows and run as one prepared statement instead.
_NOT_A_QUERY = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*(EXPLAIN|SHOW)\b",
                          re.IGNORECASE | re.DOTALL)


class _PostgresJob(_Job):
    raw: Any = None

    def run(self) -> Rows:
        url = sa.engine.make_url(self.store.url)
        options = " ".join(filter(None, [url.query.get("options"),
                                         "-c default_transaction_read_only=on"]))
        engine = sa.create_engine(self.store.url, poolclass=NullPool,
                                  connect_args={"options": options})
        try:
            conn = self.store._connect(engine)
            try:
                self.raw = conn.connection.driver_connection
                trans = conn.begin()
                try:
                    self._enter_sandbox(conn)
                    self.go_on()
                    return self._run_statement()
                finally:
                    # Always rolled back: a large object or notification a statement managed
                    # to create is gone with the transaction.
                    with contextlib.suppress(Exception):
                        trans.rollback()
            finally:
                conn.close()
        finally:
            engine.dispose()

    def _enter_sandbox(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        if self.timeout is not None:
            ms = max(1, int(self.timeout * 1000))
            for setting in ("statement_timeout", "lock_timeout",
                            "idle_in_transaction_session_timeout"):
                conn.exec_driver_sql(f"SET LOCAL {setting} = {ms}")
        exists, member, user, schema = conn.exec_driver_sql(
            "SELECT r.oid IS NOT NULL, r.oid IS NOT NULL AND pg_has_role(r.oid, 'MEMBER'), "
            "current_user, current_schema() FROM (SELECT to_regrole(%(role)s) AS oid) r",
            {"role": READER_ROLE}).one()
        if not exists:
            raise DatabaseError(
                f"this PostgreSQL server has no role {READER_ROLE}, which asaas sql runs as: run "
                "`asaas db upgrade` as a role allowed to create roles, or have an administrator "
                f"run: CREATE ROLE {READER_ROLE} NOLOGIN; GRANT {READER_ROLE} TO {user}; then "
                "`asaas views install`")
        if not member:
            raise DatabaseError(
                f"role {user} may not switch to {READER_ROLE}, which asaas sql runs as; have an "
                f"administrator run: GRANT {READER_ROLE} TO {user}")
        if schema is None:
            raise DatabaseError("the connection has no current schema (empty search_path); "
                                "point --db at asaas' database")
        # Functions resolve in pg_catalog first, tables in asaas' schema: "$user" in the
        # search_path would now mean asaas_reader.
        conn.exec_driver_sql("SELECT set_config('search_path', format('pg_catalog, %%I, pg_temp', "
                             "%(schema)s::text), true)", {"schema": schema})
        conn.exec_driver_sql(f"SET LOCAL ROLE {READER_ROLE}")

    def _run_statement(self) -> Rows:
        raw = self.raw
        if _NOT_A_QUERY.match(self.statement):
            with raw.cursor() as cursor:
                # A prepared statement: PostgreSQL itself refuses a second command in it.
                cursor.execute(self.statement, prepare=True)
                return self.fetch(cursor)
        # DECLARE takes only a query, and a single one (extended protocol).
        with raw.cursor(name=_CURSOR_NAME) as cursor:
            cursor.execute(self.statement)
            return self.fetch(cursor)

    def interrupt(self) -> None:
        raw = self.raw
        if raw is None:
            return
        cancel: Callable[[], None] = getattr(raw, "cancel_safe", None) or raw.cancel
        cancel()


# -- anything else (SQLite) --------------------------------------------------------------------


class _PlainJob(_Job):
    def run(self) -> Rows:
        with self.store.read_transaction() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(self.statement)
                return self.fetch(cursor)
            finally:
                cursor.close()

    def interrupt(self) -> None:
        pass  # no portable way; the time limit still ends the wait


# -- grants ---------------------------------------------------------------------------------------


def grant_reader(conn: sa.Connection, views: list[str]) -> None:
    """Give asaas_reader SELECT on asaas' tables and the given views (PostgreSQL; a no-op where
    the role does not exist or the objects are not ours to grant). Called whenever the views
    are (re)built: a view dropped and created again has lost its grants."""
    if conn.dialect.name != "postgresql":
        return
    from asaas.store.schema import metadata

    names = sorted(metadata.tables) + ["alembic_version"] + list(views)
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
    # No % anywhere: psycopg reads it as a placeholder.
    conn.exec_driver_sql(f"""
        DO $$
        BEGIN
            IF to_regrole('{READER_ROLE}') IS NULL THEN
                RETURN;
            END IF;
            BEGIN
                EXECUTE 'GRANT USAGE ON SCHEMA ' || quote_ident(current_schema())
                    || ' TO {READER_ROLE}';
                GRANT SELECT ON {quoted} TO {READER_ROLE};
            EXCEPTION WHEN insufficient_privilege OR undefined_table THEN
                RAISE NOTICE USING MESSAGE =
                    'asaas: could not grant SELECT to {READER_ROLE}: ' || SQLERRM;
            END;
        END $$""")
