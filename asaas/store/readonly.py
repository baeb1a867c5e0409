"""What `asaas sql` accepts: exactly one statement that only reads the database.

This is the first of two layers. The statement is parsed (sqlglot, in the database's dialect)
and refused unless it is one SELECT / WITH ... SELECT / VALUES / set operation, EXPLAIN without
ANALYZE, DESCRIBE, SHOW or (DuckDB) SUMMARIZE, with no data-changing part anywhere inside it
(``WITH d AS (DELETE ...)``, ``SELECT ... INTO``, ``FOR UPDATE``), no table named by a file path,
and no function that reaches files, servers or settings. The second layer is the connection the
statement runs on (``Store(read_only=True)``): DuckDB opens the file read-only with external
access, extension loading and configuration changes disabled; PostgreSQL runs it in a READ ONLY
transaction of a session whose default is read-only. A deny list can never name every function,
which is why the connection, not this module, is the guarantee.
"""

from __future__ import annotations

import logging
import re

from asaas.errors import AsaasError


class ReadOnlyViolation(AsaasError):
    """SQL text that is not exactly one read-only statement."""


ALLOWED = "SELECT, WITH ... SELECT, VALUES, EXPLAIN, DESCRIBE, SHOW or SUMMARIZE"

#: Functions that read or write files, reach other servers, run SQL given as text, change
#: settings or signal other sessions. Exact names (lower case, without schema).
DENIED_FUNCTIONS = frozenset("""
    read_csv read_csv_auto read_parquet parquet_scan read_json read_json_auto read_json_objects
    read_json_objects_auto read_ndjson read_ndjson_auto read_ndjson_objects read_text read_blob
    read_xlsx glob sniff_csv parquet_metadata parquet_schema parquet_file_metadata
    parquet_kv_metadata parquet_bloom_probe query query_table delta_scan iceberg_scan
    iceberg_metadata iceberg_snapshots sqlite_scan sqlite_attach postgres_scan
    postgres_scan_pushdown postgres_query postgres_execute postgres_attach mysql_query
    mysql_execute mysql_scan st_read st_read_meta duckdb_secrets which_secret
    load_aws_credentials getenv checkpoint force_checkpoint
    pg_read_file pg_read_binary_file pg_ls_dir pg_stat_file lo_import lo_export lo_unlink
    lo_create lo_creat lo_open lo_put lo_from_bytea lo_truncate dblink dblink_exec dblink_connect
    dblink_connect_u dblink_send_query set_config pg_terminate_backend pg_cancel_backend
    pg_reload_conf pg_rotate_logfile pg_switch_wal pg_create_restore_point pg_promote
    pg_sleep pg_sleep_for pg_sleep_until pg_notify pg_logical_emit_message pg_file_write
    pg_file_rename pg_file_unlink pg_file_sync pg_logdir_ls query_to_xml query_to_xmlschema
    query_to_xml_and_xmlschema cursor_to_xml cursor_to_xmlschema table_to_xml
    table_to_xmlschema table_to_xml_and_xmlschema schema_to_xml database_to_xml ts_stat
    ts_rewrite nextval setval pg_export_snapshot pg_import_system_collations
    pg_log_backend_memory_contexts pg_backup_start pg_backup_stop pg_start_backup pg_stop_backup
    pg_wal_replay_pause pg_wal_replay_resume
""".split())

#: Whole families, by prefix: advisory locks, replication slots, statistics resets, foreign
#: servers and large objects.
DENIED_PREFIXES = ("pg_advisory", "pg_try_advisory", "pg_ls_", "pg_stat_reset",
                   "pg_replication_", "pg_create_", "pg_drop_", "pg_copy_", "pg_read_",
                   "pg_file_", "dblink", "lo_", "read_", "postgres_", "mysql_", "sqlite_")

_QUOTED_PATH = re.compile(r"[/\\.:~]")


def _sqlglot():
    import sqlglot
    from sqlglot import exp

    # sqlglot logs a warning for every statement it keeps as an unparsed Command (EXPLAIN);
    # asaas decides about those itself.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return sqlglot, exp


def _dialect(name: str) -> str:
    return {"postgresql": "postgres"}.get(name, name)


def check_read_only(sql: str, dialect: str) -> str:
    """Return the statement (without a trailing semicolon) or raise ReadOnlyViolation."""
    sqlglot, _ = _sqlglot()
    text = sql.strip()
    if not text.rstrip(";").strip():
        raise ReadOnlyViolation("no SQL given: pass one query, e.g. "
                                "\"SELECT model, accuracy FROM latest_metrics\"")
    try:
        statements = [s for s in sqlglot.parse(text, read=_dialect(dialect)) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ReadOnlyViolation(f"SQL error: cannot parse the query ({first}); asaas sql runs "
                                f"one read-only {ALLOWED} statement") from None
    if len(statements) != 1:
        raise ReadOnlyViolation(f"asaas sql runs exactly one read-only statement, got "
                                f"{len(statements)}; run them one at a time")
    _check_statement(statements[0], dialect)
    return text.rstrip().rstrip(";").rstrip()


def _check_statement(stmt, dialect: str) -> None:
    _, exp = _sqlglot()
    if isinstance(stmt, exp.Command):
        _check_command(stmt, dialect)
        return
    allowed = (exp.Query, exp.Values, exp.Describe, exp.Show, exp.Summarize)
    if not isinstance(stmt, allowed):
        raise ReadOnlyViolation(f"asaas sql is read-only: {_kind(stmt)} is not allowed; use "
                                f"{ALLOWED}")
    _check_tree(stmt)


def _kind(node) -> str:
    """The statement's leading keyword, for messages (DELETE, SET, COMMIT, COPY...)."""
    try:
        words = node.sql().split()
    except Exception:  # noqa: BLE001 - only for a message
        words = []
    return (words[0].upper() if words else type(node).__name__.upper())


def _check_command(stmt, dialect: str) -> None:
    """sqlglot keeps EXPLAIN (and PostgreSQL's SHOW) as unparsed commands: check them here."""
    keyword = str(stmt.this).upper()
    expression = stmt.expression
    rest = (expression if isinstance(expression, str) else expression.name) \
        if expression is not None else ""
    if keyword == "SHOW":
        if ";" in rest:
            raise ReadOnlyViolation("asaas sql runs exactly one read-only statement")
        return
    if keyword != "EXPLAIN":
        raise ReadOnlyViolation(f"asaas sql is read-only: {keyword} is not allowed; use "
                                f"{ALLOWED}")
    words = rest.split()
    if rest.lstrip().startswith("(") or (words and words[0].upper() in ("ANALYZE", "ANALYSE")):
        raise ReadOnlyViolation("asaas sql is read-only: EXPLAIN ANALYZE runs the statement and "
                                "EXPLAIN options are not allowed; use plain EXPLAIN")
    if words and words[0].upper() == "VERBOSE":
        rest = rest.lstrip()[len("VERBOSE"):]
    inner = check_read_only(rest, dialect)
    if inner.upper().startswith("EXPLAIN"):
        raise ReadOnlyViolation("asaas sql: EXPLAIN EXPLAIN is not a query")


def _function_names(node) -> set[str]:
    _, exp = _sqlglot()
    if isinstance(node, exp.Anonymous):
        return {node.name.lower()}
    names = {type(node).key.lower()}
    try:
        names |= {n.lower() for n in type(node).sql_names()}
    except Exception:  # noqa: BLE001 - classes without SQL names
        pass
    return names


def _check_tree(stmt) -> None:
    _, exp = _sqlglot()
    changing = (exp.DML, exp.DDL, exp.Command, exp.Set, exp.Copy, exp.Transaction, exp.Commit,
                exp.Rollback, exp.Pragma, exp.Into, exp.Lock)
    for node in stmt.walk():
        if isinstance(node, changing):
            raise ReadOnlyViolation(f"asaas sql is read-only: {_kind(node)} inside the query is "
                                    f"not allowed (no data-changing parts, SELECT ... INTO or "
                                    f"FOR UPDATE); use {ALLOWED}")
        if isinstance(node, (exp.Placeholder, exp.Parameter)):
            raise ReadOnlyViolation("asaas sql takes no parameters (:name, ?, $1); write the "
                                    "values into the query (quote text as 'text')")
        if isinstance(node, (exp.ReadCSV, exp.ReadParquet)) or (
                isinstance(node, exp.Func) and not isinstance(node, exp.Binary)
                and any(n in DENIED_FUNCTIONS or n.startswith(DENIED_PREFIXES)
                        for n in _function_names(node))):
            name = sorted(_function_names(node))[0] if not isinstance(node, exp.Anonymous) \
                else node.name
            raise ReadOnlyViolation(f"asaas sql cannot call {name}(): it reaches files, other "
                                    "servers or settings; query the database's tables and views")
        if isinstance(node, exp.Table):
            target = node.this
            if isinstance(target, exp.Literal) or (
                    isinstance(target, exp.Identifier) and target.quoted
                    and _QUOTED_PATH.search(target.name)):
                raise ReadOnlyViolation(f"asaas sql reads the database's tables and views, not "
                                        f"files: {target.name!r} is not allowed")
