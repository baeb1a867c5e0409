"""The store: the one object that owns the database engine, transactions and bulk writes.

Commands never build engines: they open a ``Store`` and call library functions with it.
"""

from __future__ import annotations

import contextlib
import random
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.pool import NullPool, StaticPool

from asaas.errors import ConfigError, DatabaseBusyError, DatabaseError, SchemaError
from asaas.store import migrate
from asaas.store.schema import metadata
from asaas.settings import DEFAULT_DUCKDB_STREAM_MEMORY, duckdb_config, duckdb_memory_limit
from asaas.store.urls import duckdb_file_path, normalize_url, redact
from asaas.tables import to_float


#: Rows per statement when a database has no Arrow fast path (PostgreSQL, SQLite).
FALLBACK_BATCH_ROWS = 5_000


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _is_lock_error(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", None) or exc)
    return "Could not set lock" in text or "Conflicting lock" in text


def _quiet_duckdb(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("SET enable_progress_bar = false")


#: DuckDB settings of every read-only connection: no files but the database itself, no
#: extensions installed or loaded behind the statement's back (httpfs, postgres...).
DUCKDB_SANDBOX = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
}


def _sandbox_duckdb(dbapi_connection: Any, _record: Any) -> None:
    _quiet_duckdb(dbapi_connection, _record)
    # Last: from here on no statement can change a setting (external access back on...).
    dbapi_connection.execute("SET lock_configuration = true")


class Store:
    """A database that holds reviews, models and predictions.

    DuckDB lets only one process open a file at a time, so for DuckDB files the store opens a
    connection per transaction and closes it right after (``NullPool``): writers hold the file
    for the length of one chunk and readers in other processes get their turn in between.
    ``busy_timeout_s`` bounds how long a connect retries while another process holds the file.
    """

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0, read_only: bool = False
                 ) -> None:
        self.url = normalize_url(url)
        self.busy_timeout_s = busy_timeout_s
        self.db_file = duckdb_file_path(self.url)
        #: A read-only store never writes, creates or migrates: every transaction is a
        #: read_transaction (read commands: report, sql, models list...).
        self.read_only = read_only
        self._ro_engine: sa.Engine | None = None
        #: DuckDB memory_limit of connections opened inside ``streaming()``; None: the engine's.
        self._memory_limit: str | None = None
        if self.db_file is not None and not self.db_file.parent.exists():
            raise DatabaseError(
                f"cannot open database {self.db_file}: directory {self.db_file.parent} does not "
                "exist; create it or pass another --db"
            )
        try:
            url_obj = sa.engine.make_url(self.url)
            if url_obj.get_backend_name() == "duckdb":
                pool = NullPool if self.db_file is not None else StaticPool
                # DuckDB draws its own progress bar on long statements; asaas reports progress
                # itself, and cron logs must stay clean. New files are written in a storage
                # format that DuckDB 1.x clients read too (settings.duckdb_storage_version).
                self.engine = sa.create_engine(self.url, poolclass=pool,
                                               connect_args={"config": duckdb_config()})
                sa.event.listen(self.engine, "connect", _quiet_duckdb)
                sa.event.listen(self.engine, "connect", self._limit_memory)
            else:
                self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        except (sa.exc.NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
            raise ConfigError(
                f"no database driver for {redact(self.url)} ({_first_line(exc)}); use a duckdb:/// "
                "URL, or install the driver (PostgreSQL: pip install 'asaas[postgres]')"
            ) from None
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"bad database URL {redact(self.url)}: {_first_line(exc)}") from None

    # -- basic facts -------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_duckdb(self) -> bool:
        return self.dialect == "duckdb"

    def __repr__(self) -> str:
        return f"Store({redact(self.url)!r})"

    # -- connections -------------------------------------------------------------------------

    @contextlib.contextmanager
    def streaming(self) -> Iterator[None]:
        """DuckDB connections opened inside get the smaller memory limit of a run that reads
        the corpus once (settings.DEFAULT_DUCKDB_STREAM_MEMORY, unless ASAAS_DUCKDB_MEMORY is
        set): the blocks such a run has read are not read again, and caching them up to the
        default limit made its peak memory grow with the corpus."""
        previous = self._memory_limit
        if self.is_duckdb and self.db_file is not None:  # in memory: one connection for good
            self._memory_limit = duckdb_memory_limit(DEFAULT_DUCKDB_STREAM_MEMORY)
        try:
            yield
        finally:
            self._memory_limit = previous

    def _limit_memory(self, dbapi_connection: Any, _record: Any) -> None:
        if self._memory_limit:  # a checked size (settings.duckdb_memory_limit), not user SQL
            dbapi_connection.execute(f"SET memory_limit = '{self._memory_limit}'")

    def _connect(self, engine: sa.Engine | None = None) -> sa.Connection:
        """Open a connection, retrying with backoff while another process holds a DuckDB file."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.02
        while True:
            try:
                return (engine or self.engine).connect()
            except sa.exc.DBAPIError as exc:
                if not _is_lock_error(exc):
                    raise DatabaseError(
                        f"cannot open database {redact(self.url)}: {_first_line(exc)}"
                    ) from None
                if time.monotonic() >= deadline:
                    raise DatabaseBusyError(
                        f"database {redact(self.url)} is in use by another process "
                        f"(waited {self.busy_timeout_s:g} s); retry when it finishes, or raise "
                        "ASAAS_BUSY_TIMEOUT"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection inside one transaction: committed on success, rolled back on error.
        On a read-only store this is a read_transaction."""
        if self.read_only:
            with self.read_transaction() as conn:
                yield conn
            return
        conn = self._connect()
        try:
            with conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            raise DatabaseError(f"database error: {_first_line(exc)}") from exc
        finally:
            conn.close()

    @contextlib.contextmanager
    def read_transaction(self) -> Iterator[sa.Connection]:
        """A connection that cannot write. For user-supplied SQL (``asaas sql``) and reports.

        DuckDB opens the file read-only with external access (files, ATTACH, COPY), extension
        loading and configuration changes disabled; PostgreSQL runs a READ ONLY transaction in
        a fresh session whose default_transaction_read_only is on, so neither a statement nor
        a later transaction on that session can write.
        """
        engine = self._read_only_engine()
        conn = self._connect(engine)
        try:
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    # A first query fixes the mode: after it PostgreSQL refuses SET TRANSACTION
                    # READ WRITE ("must be set before any query") for the rest of it.
                    conn.exec_driver_sql("SELECT 1")
                yield conn
        except sa.exc.DBAPIError as exc:
            raise DatabaseError(f"database error: {_first_line(exc)}") from exc
        finally:
            conn.close()

    def _read_only_engine(self) -> sa.Engine:
        if self._ro_engine is not None:
            return self._ro_engine
        if self.is_duckdb:
            if self.db_file is None:
                raise DatabaseError("an in-memory DuckDB database has nothing to read; pass "
                                    "--db with a database file or URL")
            self._ro_engine = sa.create_engine(
                self.url, poolclass=NullPool,
                connect_args={"read_only": True, "config": {**DUCKDB_SANDBOX,
                                                             **duckdb_config()}})
            sa.event.listen(self._ro_engine, "connect", _sandbox_duckdb)
        elif self.dialect == "postgresql":
            # A fresh session per transaction (NullPool): nothing a statement sets outlives it.
            url = sa.engine.make_url(self.url)
            options = " ".join(filter(None, [url.query.get("options"),
                                             "-c default_transaction_read_only=on"]))
            self._ro_engine = sa.create_engine(self.url, poolclass=NullPool,
                                               connect_args={"options": options})
        else:
            self._ro_engine = self.engine
        return self._ro_engine

    # -- schema ------------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        with self.transaction() as conn:
            return migrate.current_revision(conn)

    def ensure_schema(self) -> None:
        """Create a brand-new database at head; refuse one that is behind or not asaas'."""
        head = migrate.head_revision()
        with self.transaction() as conn:
            current = migrate.current_revision(conn)
            if current == head:
                return
            if current is None:
                existing = set(sa.inspect(conn).get_table_names()) if not self.is_duckdb else (
                    self._duckdb_tables(conn)
                )
                ours = existing & set(metadata.tables)
                if ours:
                    raise SchemaError(
                        f"database {redact(self.url)} has asaas tables ({', '.join(sorted(ours))}) "
                        "but no migration record; it was not created by asaas"
                    )
                migrate.upgrade(conn, "head")
                return
        self._refuse_revision(current, head)

    def check_readable(self) -> None:
        """For read commands: the database must exist and hold asaas' schema at head. Nothing
        is created, migrated or added (a foreign database stays as it was)."""
        if self.is_duckdb:
            if self.db_file is None:
                raise DatabaseError("an in-memory DuckDB database has nothing to read; pass "
                                    "--db with a database file or URL")
            if not self.db_file.is_file():
                raise DatabaseError(
                    f"database {self.db_file} does not exist (read commands never create one); "
                    "check --db / ASAAS_DB, or create it with `asaas ingest`")
        with self.read_transaction() as conn:
            current = migrate.current_revision(conn)
        head = migrate.head_revision()
        if current is None:
            raise SchemaError(
                f"{redact(self.url)} is not an asaas database (no asaas schema in it); point "
                "--db at one, or create the schema with `asaas db upgrade`")
        if current != head:
            self._refuse_revision(current, head)

    def _refuse_revision(self, current: str, head: str) -> None:
        if current in self._known_revisions():
            raise SchemaError(
                f"database schema is at revision {current}, this asaas needs {head}: "
                "run `asaas db upgrade`"
            )
        raise SchemaError(
            f"database schema is at revision {current}, which this asaas does not know "
            f"(head {head}); it was written by a newer asaas: upgrade asaas"
        )

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Upgrade the schema; returns (before, after) revisions."""
        with self.transaction() as conn:
            before = migrate.current_revision(conn)
            migrate.upgrade(conn, revision)
            after = migrate.current_revision(conn)
        return before, after

    @staticmethod
    def _known_revisions() -> set[str]:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(migrate.alembic_config())
        return {rev.revision for rev in script.walk_revisions()}

    @staticmethod
    def _duckdb_tables(conn: sa.Connection) -> set[str]:
        # SQLAlchemy's inspector cannot reflect DuckDB; ask DuckDB's information_schema instead.
        rows = conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in rows}

    # -- bulk writes and reads ---------------------------------------------------------------

    def insert_arrow(
        self,
        conn: sa.Connection,
        table: str,
        data: pa.Table,
        columns: Sequence[str] | None = None,
        *,
        on_conflict_do_nothing: bool = False,
    ) -> int:
        """Insert an Arrow table inside the caller's transaction; returns the rows inserted.

        Never one row per transaction: on DuckDB the Arrow table is scanned directly; on
        PostgreSQL rows stream in with COPY (psycopg 3); elsewhere they go in multi-row batches.
        With ``on_conflict_do_nothing`` rows whose key already exists are dropped, not errors,
        and not counted.
        """
        if data.num_rows == 0:
            return 0
        cols = list(columns or data.column_names)
        if self.is_duckdb:
            raw = conn.connection.driver_connection
            view = f"_asaas_stage_{id(data):x}"
            col_sql = ", ".join(f'"{c}"' for c in cols)
            conflict = " ON CONFLICT DO NOTHING" if on_conflict_do_nothing else ""
            # Not raw.register(): inside a transaction DuckDB keeps an unregistered view's
            # catalog entry, and the Arrow data it holds, until commit, so a long ingest kept
            # every batch in memory. A relation's query() names the data for one statement.
            try:
                result = raw.from_arrow(data).query(
                    view, f'INSERT INTO "{table}" ({col_sql}) SELECT {col_sql} FROM "{view}"'
                    f"{conflict}")
                return int(result.fetchall()[0][0])
            except duckdb.Error as exc:
                raise DatabaseError(f"database error: {_first_line(exc)}") from None
        if self.dialect == "postgresql" and _is_psycopg3(conn):
            return _copy_into_postgres(conn, table, data.select(cols), on_conflict_do_nothing)
        target = metadata.tables[table]
        stmt: Any = sa.insert(target)
        if on_conflict_do_nothing:
            if self.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                stmt = pg_insert(target).on_conflict_do_nothing()
            else:
                stmt = stmt.prefix_with("OR IGNORE")  # SQLite
        inserted = 0
        for batch in data.select(cols).to_batches(FALLBACK_BATCH_ROWS):
            result = conn.execute(stmt, batch.to_pylist())
            inserted += result.rowcount if result.rowcount >= 0 else batch.num_rows
        return inserted

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run a read query and return an Arrow table."""
        with self.transaction() as conn:
            if self.is_duckdb and not params:
                relation = conn.connection.driver_connection.sql(sql)
                # DuckDB 2 renamed fetch_arrow_table() to to_arrow_table().
                fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
                return fetch()
            result = conn.execute(sa.text(sql), params or {})
            names = list(result.keys())
            rows = result.fetchall()
        # PostgreSQL computes ratios in NUMERIC; hand them over as doubles, as DuckDB does.
        return pa.table({n: [to_float(r[i]) for r in rows] for i, n in enumerate(names)})


def _is_psycopg3(conn: sa.Connection) -> bool:
    return type(conn.connection.driver_connection).__module__.startswith("psycopg")


def _copy_into_postgres(conn: sa.Connection, table: str, data: pa.Table,
                        on_conflict_do_nothing: bool) -> int:
    """Stream the rows in with COPY ... FROM STDIN, PostgreSQL's bulk-load path. COPY has no ON
    CONFLICT: where keys may already exist the rows are first copied straight in under a
    savepoint (the usual case: a claimed chunk cannot collide), and only if that meets an
    existing key do they go through a staging table and ``INSERT ... ON CONFLICT DO NOTHING``
    (half the speed)."""
    import psycopg

    raw = conn.connection.driver_connection
    cols = ", ".join(f'"{c}"' for c in data.column_names)
    binary = _binary_copy_schema(table, data.schema)
    if binary is not None:
        try:
            data = data.cast(binary)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DatabaseError(f"cannot write {table}: {_first_line(exc)}") from None

    def copy(cur: Any, target: str) -> None:
        if binary is not None:
            # PostgreSQL's binary format, encoded from the Arrow buffers in native code
            # (pgpq): nothing to format as text here, nothing to parse there; 1.3x the rate
            # of CSV into predictions (bench/README.md).
            from pgpq import ArrowToPostgresBinaryEncoder

            encoder = ArrowToPostgresBinaryEncoder(data.schema)
            with cur.copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT binary)") as stream:
                stream.write(encoder.write_header())
                for batch in data.to_batches(FALLBACK_BATCH_ROWS * 4):
                    stream.write(encoder.write_batch(batch))
                stream.write(encoder.finish())
            return
        # Arrow writes the CSV in C (an unquoted empty field is NULL to PostgreSQL); building
        # the rows in Python was half of the time.
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with cur.copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT csv)") as stream:
            for batch in data.to_batches(FALLBACK_BATCH_ROWS * 4):
                buffer = pa.BufferOutputStream()
                pacsv.write_csv(pa.Table.from_batches([batch]), buffer, options)
                stream.write(buffer.getvalue().to_pybytes())

    # The server's refusals (a NULL for a NOT NULL column, a key that exists) come from the
    # driver itself here, not through SQLAlchemy: said in one line like every other.
    try:
        with raw.cursor() as cur:
            if not on_conflict_do_nothing:
                copy(cur, f'"{table}"')
                return data.num_rows
            try:
                with raw.transaction():  # a savepoint inside the caller's transaction
                    copy(cur, f'"{table}"')
                return data.num_rows
            except psycopg.errors.UniqueViolation:
                pass  # rolled back to the savepoint: some keys exist, skip those rows instead
            # Same column types as the target, without its defaults (no sequence draws); one
            # staging table per table and column list, kept for the session, emptied per use.
            stage = f'"_asaas_stage_{table}_{zlib.crc32(cols.encode()):08x}"'
            cur.execute(f'CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols} FROM "{table}" '
                        "WITH NO DATA")
            cur.execute(f"TRUNCATE {stage}")
            copy(cur, stage)
            cur.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM {stage} '
                        "ON CONFLICT DO NOTHING")
            inserted = cur.rowcount
            cur.execute(f"TRUNCATE {stage}")
            return inserted
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot write {table}: {_first_line(exc)}") from None


#: Column types whose PostgreSQL binary form pgpq writes from these Arrow types. Binary COPY
#: hands each field to the column's own receive function, so the widths must match exactly
#: (8 bytes for BIGINT, 2 for SMALLINT): the data is cast to them first. Most specific first:
#: BigInteger and SmallInteger are Integers.
_BINARY_TYPES: list[tuple[type, pa.DataType]] = [
    (sa.BigInteger, pa.int64()), (sa.SmallInteger, pa.int16()), (sa.Integer, pa.int32()),
    (sa.Double, pa.float64()), (sa.Boolean, pa.bool_()), (sa.Text, pa.large_string()),
    (sa.String, pa.large_string()),
]


def _binary_copy_schema(table: str, schema: pa.Schema) -> pa.Schema | None:
    """The Arrow schema to binary-COPY data of ``schema`` into ``table`` with, or None (CSV)
    when pgpq is not installed, the table is not asaas's, a column has another type
    (timestamps: their binary form depends on the column's time zone handling), or the data is
    of another kind than its column (an integer for a boolean, a float32 or decimal for a
    double): a cast there would change values that PostgreSQL's own parsing of the CSV text
    refuses or reads exactly."""
    try:
        import pgpq  # noqa: F401  (the postgres extra installs it)
    except ImportError:
        return None
    target = metadata.tables.get(table)
    if target is None:
        return None
    fields = []
    for field in schema:
        column = target.columns.get(field.name)
        kind = next((arrow for sa_type, arrow in _BINARY_TYPES
                     if column is not None and isinstance(column.type, sa_type)), None)
        if kind is None or not _same_kind(field.type, kind):
            return None
        fields.append(pa.field(field.name, kind))
    return pa.schema(fields)


def _same_kind(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a cast from ``source`` to ``target`` only changes the width (and fails loudly
    where a value does not fit)."""
    if pa.types.is_null(source):
        return True  # a column of NULLs
    if pa.types.is_integer(target):
        return pa.types.is_integer(source)
    if pa.types.is_floating(target):
        return pa.types.is_float64(source)
    if pa.types.is_boolean(target):
        return pa.types.is_boolean(source)
    return pa.types.is_string(source) or pa.types.is_large_string(source)


def open_store(url: str, *, busy_timeout_s: float = 30.0, check_schema: bool = True,
               read_only: bool = False) -> Store:
    """Open a store; a brand-new database is created at head, an old one must be upgraded.

    ``read_only``: for read commands. The database must already exist at head; it is never
    created or migrated, and every transaction is read-only (see ``Store.read_transaction``).
    """
    store = Store(url, busy_timeout_s=busy_timeout_s, read_only=read_only)
    if read_only:
        if check_schema:
            store.check_readable()
        return store
    if check_schema:
        store.ensure_schema()  # a new database is migrated to head, views included
    return store
