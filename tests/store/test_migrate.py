"""Migrations (asaas/store/migrate.py runs migrations/): one head, empty -> head -> base -> head
with tables that match asaas' schema on both engines, databases behind, ahead of or foreign to
asaas refused, the `db` commands, and the migrations that move data (0003, 0006) keep it."""

from __future__ import annotations

import duckdb
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from asaas.errors import DatabaseError, SchemaError
from asaas.store import Store, migrate, open_store
from asaas.store.schema import metadata
from asaas.views import view_names


def _type_name(name: str) -> str:
    """Normalise a type name: DuckDB reports VARCHAR for TEXT and drops lengths."""
    base = name.upper().split("(")[0].strip()
    return {"TEXT": "VARCHAR", "DOUBLE PRECISION": "DOUBLE",
            "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP"}.get(base, base)


def _duckdb_columns(path) -> dict[str, dict[str, tuple[bool, str]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT c.table_name, c.column_name, c.is_nullable, c.data_type "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) WHERE c.table_schema = 'main' "
            "AND t.table_type = 'BASE TABLE' AND c.table_name <> 'alembic_version'"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, tuple[bool, str]]] = {}
    for table, column, nullable, data_type in rows:
        out.setdefault(table, {})[column] = (nullable == "YES", _type_name(data_type))
    return out


def test_single_head():
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1
    assert migrate.head_revision() == heads[0]


def test_empty_to_head_tables_match_schema(db_path):
    store = Store(str(db_path))
    before, after = store.upgrade()
    assert before is None and after == migrate.head_revision()
    actual = _duckdb_columns(db_path)
    dialect = store.engine.dialect
    expected = {
        t.name: {c.name: (bool(c.nullable), _type_name(c.type.compile(dialect=dialect)))
                 for c in t.columns}
        for t in metadata.sorted_tables
    }
    assert set(actual) == set(expected)
    for table, cols in expected.items():
        assert actual[table] == cols, f"table {table} differs from asaas/store/schema.py"


def _duckdb_views(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() "
                                          "WHERE NOT internal").fetchall()}
    finally:
        con.close()


def test_downgrade_to_base_and_back(db_path):
    store = Store(str(db_path))
    store.upgrade()
    assert _duckdb_views(db_path) == set(view_names())  # views are rebuilt at head
    with store.transaction() as conn:
        migrate.downgrade(conn, "base")
    assert _duckdb_columns(db_path) == {}
    assert _duckdb_views(db_path) == set()  # no view left reading dropped tables
    store.upgrade()
    assert store.current_revision() == migrate.head_revision()
    assert _duckdb_views(db_path) == set(view_names())


def test_new_database_is_created_at_head(db_path):
    assert not db_path.exists()
    store = open_store(str(db_path))
    assert store.current_revision() == migrate.head_revision()


def test_database_behind_head_is_refused(db_path, monkeypatch):
    open_store(str(db_path))
    known = Store._known_revisions() | {"9999"}
    monkeypatch.setattr(migrate, "head_revision", lambda: "9999")
    monkeypatch.setattr(Store, "_known_revisions", staticmethod(lambda: known))
    with pytest.raises(SchemaError, match="asaas db upgrade"):
        open_store(str(db_path))


def test_database_from_newer_asaas_is_refused(db_path):
    store = open_store(str(db_path))
    with store.transaction() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'zzzz'"))
    with pytest.raises(SchemaError, match="newer asaas"):
        open_store(str(db_path))


def test_foreign_tables_without_migration_record_are_refused(db_path):
    con = duckdb.connect(str(db_path))
    con.execute("CREATE TABLE reviews (x INTEGER)")
    con.close()
    with pytest.raises(SchemaError, match="not created by asaas"):
        open_store(str(db_path))


def test_db_commands(invoke, db_path):
    result = invoke("db", "current")
    assert result.exit_code == 0 and "no database file yet" in result.output
    assert not db_path.exists()  # looking never creates
    head = migrate.head_revision()
    result = invoke("db", "upgrade")
    assert result.exit_code == 0 and f"upgraded database from empty to {head}" in result.output
    result = invoke("db", "upgrade")
    assert f"already at revision {head}" in result.output
    result = invoke("db", "current")
    assert "up to date" in result.output


def test_downgrade_to_0001_and_back_keeps_data(db_path):
    """DuckDB cannot drop columns of referenced tables: 0002's downgrade leaves them, and the
    upgrade after it adds only what is missing, without losing rows."""
    store = Store(str(db_path))
    store.upgrade()
    with store.transaction() as conn:
        conn.execute(sa.text("INSERT INTO products (source, external_id, created_at) "
                             "VALUES ('steam', '1', now())"))
        migrate.downgrade(conn, "0001")
    assert "events" not in _duckdb_columns(db_path)
    store.upgrade()
    cols = _duckdb_columns(db_path)
    assert {"language", "early_access", "developer_response"} <= set(cols["reviews"])
    assert "events" in cols
    with store.transaction() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM products")).scalar() == 1


def test_0003_copies_old_versions_recipes_and_languages_into_columns(db_path):
    store = Store(str(db_path))
    store.upgrade("0001")
    with store.transaction() as conn:
        conn.execute(sa.text("INSERT INTO models (id, name, created_at) VALUES (1, 'm', now())"))
        for id_, kind, params in (
                (1, "hf", '{"max_length": 256, "truncation": "head+tail"}'),
                (2, "hf", "{}"),
                (3, "sklearn", '{"languages": ["english"]}')):
            conn.execute(sa.text(
                "INSERT INTO model_versions (id, model_id, version, kind, artifact_uri, params, "
                "created_at) VALUES (:i, 1, :i, :k, 'x', :p, now())"),
                {"i": id_, "k": kind, "p": params})
    store.upgrade()
    with store.transaction() as conn:
        rows = conn.execute(sa.text("SELECT id, max_length, truncation, languages "
                                    "FROM model_versions ORDER BY id")).fetchall()
    assert [tuple(r) for r in rows] == [(1, 256, "head+tail", None), (2, 512, "head", None),
                                        (3, None, None, "english")]


# -- 0006 (live feedback): a database at 0005 with reviews upgrades without losing them, the new
# tables take rows and refuse what they must, and the downgrade to 0005 and back keeps the data.


def _seed_0005(conn: sa.Connection) -> None:
    conn.execute(sa.text("INSERT INTO products (source, external_id, created_at) "
                         "VALUES ('steam', '440', now())"))
    conn.execute(sa.text("INSERT INTO ingest_runs (dataset, source, status, started_at) "
                         "VALUES ('steam', 'x', 'succeeded', now())"))
    conn.execute(sa.text(
        "INSERT INTO reviews (dataset, external_id, split, text, label, content_hash, "
        "product_id, ingest_run_id) SELECT 'steam', '1', 'train', 'Crashes.', 0, 'h', "
        "p.id, r.id FROM products p, ingest_runs r"))


def _columns(store: Store, table: str) -> set[str]:
    with store.transaction() as conn:
        return {r[0] for r in conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
            "AND table_schema = current_schema()"), {"t": table})}


def test_0005_database_upgrades_and_round_trips(db_url):
    store = Store(db_url)
    store.upgrade("0005")
    with store.transaction() as conn:
        _seed_0005(conn)
    assert "votes_up" not in _columns(store, "reviews")
    store.upgrade("0006")
    assert store.current_revision() == "0006"
    assert {"review_updated_at", "votes_up", "votes_funny", "comment_count",
            "weighted_vote_score"} <= _columns(store, "reviews")
    with store.transaction() as conn:
        row = conn.execute(sa.text("SELECT text, label, votes_up, review_updated_at "
                                   "FROM reviews")).one()
        assert tuple(row) == ("Crashes.", 0, None, None)  # kept; the new fields not recorded
        review_id, run_id = conn.execute(sa.text("SELECT id, ingest_run_id FROM reviews")).one()
        conn.execute(sa.text(
            "INSERT INTO review_history (review_id, field, old_value, new_value, seen_at, "
            "ingest_run_id) VALUES (:r, 'label', '0', '1', now(), :i)"),
            {"r": review_id, "i": run_id})
        # A stored review can be updated while history rows point at it (DuckDB checks
        # foreign keys on updates of indexed columns only; these are not indexed).
        conn.execute(sa.text("UPDATE reviews SET label = 1, votes_up = 4, text = 'Fixed.', "
                             "content_hash = 'h2' WHERE id = :r"), {"r": review_id})
        conn.execute(sa.text(
            "INSERT INTO notifications (alert_id, channel, status, attempts, payload_sha256, "
            "first_tried_at, last_tried_at) VALUES ('negative:440:2018-03-01', 'webhook', "
            "'sent', 1, 'abc', now(), now())"))
    with pytest.raises(DatabaseError):  # the same alert and channel twice
        with store.transaction() as conn:
            conn.execute(sa.text(
                "INSERT INTO notifications (alert_id, channel, status, attempts, "
                "payload_sha256, first_tried_at, last_tried_at) VALUES "
                "('negative:440:2018-03-01', 'webhook', 'failed', 1, 'abc', now(), now())"))
    with pytest.raises(DatabaseError):  # history of a review that does not exist
        with store.transaction() as conn:
            conn.execute(sa.text(
                "INSERT INTO review_history (review_id, field, seen_at, ingest_run_id) "
                "SELECT 999999, 'label', now(), id FROM ingest_runs"))

    with store.transaction() as conn:
        migrate.downgrade(conn, "0005")
    tables = _columns(store, "review_history") | _columns(store, "notifications")
    assert tables == set()
    store.upgrade()
    with store.transaction() as conn:
        assert conn.execute(sa.text("SELECT text, label FROM reviews")).one() == ("Fixed.", 1)
        assert conn.execute(sa.text("SELECT count(*) FROM review_history")).scalar() == 0
    store.engine.dispose()
