"""What `asaas sql` accepts (asaas/store/readonly.py): one read-only statement whatever text it is
given, on DuckDB and PostgreSQL (writes, file access and every known bypass refused, by the
parser's allow-list and by the read-only session behind it), with refusals that name what and
why; read commands never create or alter a database."""

from __future__ import annotations

import duckdb
import pytest

from asaas.store.readonly import ReadOnlyViolation, check_read_only
from tests.helpers import err, ok, q


@pytest.fixture
def scored_db(invoke, learnable_source, db_path):
    """A DuckDB database with reviews, one trained model and its predictions."""
    ok(invoke("ingest", "--source", str(learnable_source(60, 40))))
    ok(invoke("train", "tfidf-lr"))
    ok(invoke("score", "--model", "tfidf-lr", "--quiet"))
    return db_path


def _counts(db_path) -> tuple:
    return (q(db_path, "SELECT count(*) FROM reviews")[0][0],
            q(db_path, "SELECT count(*) FROM predictions")[0][0],
            len(q(db_path, "SELECT table_name FROM information_schema.tables")))


# Writes that must be refused, each a bypass once reported against `asaas sql` (or a cousin).
WRITES = [
    "DELETE FROM reviews",
    "SET TRANSACTION READ WRITE; DELETE FROM reviews WHERE dataset='imdb'",
    "COMMIT; DELETE FROM reviews",
    "SELECT 1; DELETE FROM reviews",
    "DROP VIEW metrics",
    "CREATE TABLE stolen AS SELECT * FROM reviews",
    "WITH d AS (DELETE FROM reviews RETURNING *) SELECT count(*) FROM d",
    "SELECT * INTO stolen FROM reviews",
    "SELECT * FROM reviews FOR UPDATE",
    "UPDATE reviews SET label = 0",
    "INSERT INTO models (id, name, created_at) VALUES (99, 'x', now())",
    "BEGIN",
    "SET default_transaction_read_only = off",
    "EXPLAIN ANALYZE DELETE FROM reviews",
]

# DuckDB's ways to reach the file system, extensions and other databases.
DUCKDB_ESCAPES = [
    "COPY (SELECT * FROM reviews) TO '{tmp}/out.csv'",
    "COPY reviews TO '{tmp}/out.csv'",
    "EXPORT DATABASE '{tmp}/export'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM \"{tmp}/x.csv\"",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SELECT * FROM query('DELETE FROM reviews')",
    "PRAGMA database_size",
    "CALL checkpoint()",
]


@pytest.mark.parametrize("sql", WRITES + DUCKDB_ESCAPES)
def test_sql_refuses_writes_and_file_access_on_duckdb(invoke, scored_db, tmp_path, sql):
    before = _counts(scored_db)
    line = err(invoke("sql", sql.format(tmp=tmp_path)))
    assert "Error: " in line
    assert _counts(scored_db) == before
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "export").exists()
    assert not (tmp_path / "other.duckdb").exists()


def test_duckdb_sandbox_holds_without_the_parser(scored_db, tmp_path):
    """The connection itself cannot write or reach files, even for text the parser would pass."""
    from asaas.store import open_store

    store = open_store(str(scored_db), read_only=True)
    for sql in ["DELETE FROM reviews", f"COPY reviews TO '{tmp_path}/out.csv'",
                "SELECT * FROM read_text('/etc/passwd')", "INSTALL httpfs",
                "SET enable_external_access = true", f"ATTACH '{tmp_path}/o.duckdb'"]:
        with pytest.raises(Exception) as info:
            with store.read_transaction() as conn:
                conn.exec_driver_sql(sql).fetchall()
        assert "read-only" in str(info.value) or "disabled" in str(info.value) \
            or "locked" in str(info.value) or "Permission" in str(info.value), (sql, info.value)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "o.duckdb").exists()


@pytest.mark.parametrize("sql,expected", [
    ("SELECT count(*) AS n FROM predictions", "40"),
    ("WITH x AS (SELECT count(*) AS n FROM reviews) SELECT n FROM x", "100"),
    ("VALUES (1, 'a')", "a"),
    ("SELECT 1 AS a UNION ALL SELECT 2", "2"),
    ("EXPLAIN SELECT count(*) FROM reviews", "physical_plan"),
    ("DESCRIBE reviews", "external_id"),
    ("SHOW TABLES", "predictions"),
    ("SUMMARIZE models", "name"),
    ("SELECT 'a :word b' AS s", "a :word b"),
    ("SELECT count(*) AS n FROM reviews WHERE text LIKE '%the%';", "n"),
])
def test_sql_still_answers_read_queries(invoke, scored_db, sql, expected):
    assert expected in ok(invoke("sql", sql, "--format", "csv"))


def test_parser_rejects_what_it_cannot_read():
    for sql in ["", ";", "SELEC 1", "SELECT 1; SELECT 2", "SELECT pg_read_file('/etc/passwd')",
                "SELECT lo_export(1, '/tmp/x')", "SELECT set_config('a', 'b', false)",
                "SELECT * FROM t WHERE a = :word", "EXPLAIN (ANALYZE) SELECT 1",
                "SELECT pg_catalog.pg_read_file('x')",
                "SELECT * FROM dblink('x', 'y') AS t(a int)"]:
        with pytest.raises(ReadOnlyViolation):
            check_read_only(sql, "postgresql")
    assert check_read_only("SELECT 1;  ", "duckdb") == "SELECT 1"


def test_read_commands_never_create_a_database(invoke, tmp_path):
    missing = tmp_path / "missing.duckdb"
    for args in (["sql", "SELECT 1"], ["report"], ["models", "list"],
                 ["disagreements", "a", "b"]):
        line = err(invoke(*args, "--db", str(missing)))
        assert "does not exist" in line, args
        assert not missing.exists(), args


def test_read_commands_never_alter_a_foreign_database(invoke, tmp_path):
    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE sales (id INTEGER, amount DOUBLE)")
    con.close()
    for args in (["sql", "SELECT count(*) FROM sales"], ["report"], ["models", "list"]):
        line = err(invoke(*args, "--db", str(foreign)))
        assert "not an asaas database" in line, args
    assert q(foreign, "SELECT table_name FROM information_schema.tables") == [("sales",)]


def test_read_commands_refuse_an_in_memory_database(invoke):
    assert "in-memory" in err(invoke("sql", "SELECT 1", "--db", "duckdb:///:memory:"))


# -- PostgreSQL --------------------------------------------------------------------------------

POSTGRES_ESCAPES = [
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT * FROM pg_ls_dir('.')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT query_to_xml('DELETE FROM reviews', true, false, '')",
    "COPY reviews TO '/tmp/asaas-pg-copy.csv'",
    "COPY (SELECT 1) TO PROGRAM 'touch /tmp/asaas-pg-program'",
    "SELECT nextval('models_id_seq')",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "ROLLBACK; DELETE FROM reviews",
    "END; DELETE FROM reviews",
]


@pytest.fixture
def pg_scored(pg_server, invoke, learnable_source):
    url = pg_server()
    ok(invoke("ingest", "--db", url, "--source", str(learnable_source(60, 40))))
    ok(invoke("train", "tfidf-lr", "--db", url))
    ok(invoke("score", "--db", url, "--model", "tfidf-lr", "--quiet"))
    return url


def _pg_counts(url: str) -> tuple:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.exec_driver_sql(sql).scalar() for sql in (
                "SELECT count(*) FROM reviews", "SELECT count(*) FROM predictions",
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                "SELECT last_value FROM models_id_seq"))
    finally:
        engine.dispose()


def test_sql_refuses_every_bypass_on_postgres(invoke, pg_scored):
    before = _pg_counts(pg_scored)
    assert before[0] == 100 and before[1] == 40
    for sql in WRITES + POSTGRES_ESCAPES:
        result = invoke("sql", "--db", pg_scored, sql)
        err(result)
        assert _pg_counts(pg_scored) == before, sql
    import os

    assert not os.path.exists("/tmp/asaas-pg-copy.csv")
    assert not os.path.exists("/tmp/asaas-pg-program")
    assert "40" in ok(invoke("sql", "--db", pg_scored, "SELECT count(*) AS n FROM predictions"))
    assert "100%" in ok(invoke("sql", "--db", pg_scored, "SELECT '100%' AS s, ':word' AS w"))


def test_postgres_session_cannot_write_even_without_the_parser(pg_scored):
    """The second layer: the read-only store's session refuses writes on its own, including
    a statement that tries to lift read-only mode first."""
    from asaas.store import open_store

    store = open_store(pg_scored, read_only=True)
    for sql in ["DELETE FROM reviews", "SET TRANSACTION READ WRITE",
                "SELECT set_config('transaction_read_only', 'off', true)",
                "SET default_transaction_read_only = off"]:
        with pytest.raises(Exception) as info:
            with store.read_transaction() as conn:
                conn.exec_driver_sql(sql)
                conn.exec_driver_sql("DELETE FROM reviews")
        assert "read-only" in str(info.value) or "read-write" in str(info.value), sql
    assert _pg_counts(pg_scored)[0] == 100


def test_read_commands_never_create_tables_on_postgres(pg_server, invoke):
    url = pg_server()  # an empty database: not asaas'
    assert "not an asaas database" in err(invoke("report", "--db", url))
    assert "not an asaas database" in err(invoke("sql", "--db", url, "SELECT 1"))
    assert _tables(url) == []


def _tables(url: str) -> list:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'public'").fetchall()
    finally:
        engine.dispose()


def test_truncated_database_file_is_a_one_line_error(invoke, learnable_source, db_path,
                                                     tmp_path):
    """A DuckDB file cut short (a copy that stopped half-way) is named in one line by read
    and write commands alike; nothing else is printed."""
    ok(invoke("db", "upgrade"))
    for size in (4096, 20_000, 300_000):
        cut = tmp_path / f"cut-{size}.duckdb"
        cut.write_bytes(db_path.read_bytes()[:size])
        for args in (["sql", "SELECT count(*) FROM reviews"], ["report"],
                     ["ingest", "--source", str(learnable_source(20, 10))]):
            line = err(invoke(*args, "--db", str(cut)))
            assert "Could not read" in line or "not a valid" in line, (size, args, line)


# -- the allow-list ----------------------------------------------------------------------------

#: Each refused on the engine(s) named, by what it is, not by a name on a list.
NOT_ALLOWED = [
    ("postgresql", "SELECT U&\"pg\\005fread_file\"('/etc/passwd')"),
    ("postgresql", "SELECT U&\"lower\"('A')"),                      # even an allowed one, escaped
    ("postgresql", "SELECT \"lower\"('A')"),
    ("postgresql", "SELECT pg_catalog.lower('A')"),
    ("postgresql", "SELECT ('/etc/passwd').pg_read_file"),
    ("postgresql", "SELECT (1.5).pg_sleep"),
    ("postgresql", "SELECT lo_from_bytea(0, 'x')"),
    ("postgresql", "SELECT pg_ls_dir('.')"),
    ("postgresql", "SELECT current_setting('data_directory')"),
    ("postgresql", "SELECT txid_current()"),
    ("postgresql", "SELECT pg_advisory_lock(1)"),
    ("postgresql", "SELECT 'pg_read_file'::regproc"),
    ("postgresql", "SELECT '<a/>'::xml"),
    ("postgresql", "SELECT x::my_type FROM t"),
    ("postgresql", "SELECT some_function_nobody_listed(1)"),
    ("postgresql", "SHOW ALL; SELECT 1"),
    ("postgresql", "SHOW work_mem, lc_messages"),
    ("duckdb", "SELECT json_execute_serialized_sql(json_serialize_sql('SELECT 1'))"),
    ("duckdb", "SELECT * FROM query('SELECT 1')"),
    ("duckdb", "SELECT * FROM query_table('reviews')"),
    ("duckdb", "SELECT getvariable('x')"),
    ("duckdb", "SELECT getenv('HOME')"),
    ("duckdb", "SELECT current_setting('temp_directory')"),
    ("duckdb", "SELECT * FROM duckdb_settings()"),
    ("duckdb", "SELECT * FROM duckdb_secrets()"),
    ("duckdb", "SELECT 'abc'.upper()"),
    ("duckdb", "SELECT list_transform([1], x -> x + 1)"),
    ("duckdb", "SHOW SELECT 1"),
    ("duckdb", "PREPARE p AS SELECT 1"),
    ("duckdb", "EXECUTE p"),
    ("duckdb", "SET VARIABLE x = 1"),
    ("duckdb", "SELECT * FROM COLUMNS('x')"),
]


@pytest.mark.parametrize("dialect,sql", NOT_ALLOWED)
def test_allow_list_refuses_what_it_does_not_know(dialect, sql):
    with pytest.raises(ReadOnlyViolation) as info:
        check_read_only(sql, dialect)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400


def test_refusals_name_what_and_why():
    with pytest.raises(ReadOnlyViolation, match=r'function name "pg\\005fread_file" at line 1, '
                                                r'column 10: a quoted or escaped name'):
        check_read_only("SELECT U&\"pg\\005fread_file\"('/etc/passwd')", "postgresql")
    with pytest.raises(ReadOnlyViolation, match=r"refuses pg_sleep\(\): not one of the functions "
                                                r"known to be harmless on PostgreSQL"):
        check_read_only("SELECT pg_sleep(1)", "postgresql")
    with pytest.raises(ReadOnlyViolation, match=r"json_execute_serialized_sql\(\).*DuckDB"):
        check_read_only("SELECT json_execute_serialized_sql('x')", "duckdb")
    with pytest.raises(ReadOnlyViolation, match="cast to REGCLASS"):
        check_read_only("SELECT 'reviews'::regclass", "postgresql")
    with pytest.raises(ReadOnlyViolation, match="nested too deeply"):
        check_read_only("SELECT " + "(" * 3000 + "1" + ")" * 3000, "duckdb")


ANALYST_QUERIES = [
    "SELECT model_label, round(accuracy, 4) AS acc FROM latest_metrics WHERE split = 'test' "
    "ORDER BY accuracy DESC NULLS LAST LIMIT 5",
    "WITH x AS (SELECT dataset, count(*) AS n FROM reviews GROUP BY dataset) "
    "SELECT * FROM x WHERE n > 1",
    "SELECT r.dataset, count(*) FILTER (WHERE p.label = 1) AS pos, avg(p.score) AS mean "
    "FROM predictions p JOIN reviews r ON r.id = p.review_id GROUP BY ROLLUP (r.dataset)",
    "SELECT id, rank() OVER (PARTITION BY dataset ORDER BY length(text) DESC) AS r, "
    "lag(id) OVER (ORDER BY id) FROM reviews",
    "SELECT CASE WHEN label = 1 THEN 'pos' ELSE 'neg' END AS l, COALESCE(rating, 0), "
    "NULLIF(split, ''), upper(substr(text, 1, 10)), replace(text, 'a', 'b') FROM reviews",
    "SELECT date_trunc('month', reviewed_at) AS m, extract(year FROM reviewed_at), "
    "CAST(label AS DOUBLE), rating::INTEGER FROM reviews WHERE reviewed_at >= DATE '2017-01-01' "
    "AND reviewed_at < now() - INTERVAL '1 day'",
    "SELECT a FROM (VALUES (1), (2)) v(a) UNION ALL SELECT 3 EXCEPT SELECT 2",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY rating) FROM reviews",
    "SELECT * FROM reviews WHERE text LIKE '%great%' AND id IN (SELECT review_id FROM "
    "predictions) AND EXISTS (SELECT 1 FROM models)",
    "SELECT greatest(1, 2), least(3, 4), abs(-1), sqrt(4), ln(2), power(2, 3), floor(1.5)",
    "EXPLAIN SELECT count(*) FROM reviews",
]


@pytest.mark.parametrize("dialect", ["duckdb", "postgresql"])
def test_allow_list_keeps_what_analysts_write(dialect):
    for sql in ANALYST_QUERIES:
        check_read_only(sql, dialect)
    check_read_only("SHOW ALL" if dialect == "postgresql" else "SHOW TABLES", dialect)


@pytest.mark.parametrize("dialect", ["duckdb", "postgresql"])
def test_allow_list_covers_every_view_asaas_ships(dialect):
    """The views in sql/ are the queries asaas itself writes: each body passes on both engines,
    so the allow-list is wide enough for real analysis."""
    import re

    from asaas.views import _views

    for _, text in _views():  # as installed: sql/macros.sql expanded
        body = re.sub(r"(?is)^.*?CREATE\s+OR\s+REPLACE\s+VIEW\s+\w+\s+AS", "", text, count=1)
        check_read_only(body, dialect)


def test_show_all_is_one_line_on_postgres(invoke, pg_server):
    url = pg_server()
    ok(invoke("db", "upgrade", "--db", url))
    assert "work_mem" in ok(invoke("sql", "--db", url, "SHOW ALL"))
    assert "nested too deeply" in err(invoke("sql", "--db", url,
                                             "SELECT " + "(" * 3000 + "1" + ")" * 3000))
