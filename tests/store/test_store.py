"""The store on each engine (asaas/store/store.py).

PostgreSQL, the way up: the same migrations, ingest, training, scoring and views on a real
server (tests/pg.py's, skipped where PostgreSQL is not installed, a failure under CI), with the
tables that the hand-written migration creates checked against asaas' SQLAlchemy schema by
Alembic's autogenerate comparison, which cannot run on DuckDB (its reflection fails); and COPY
writes exact values. DuckDB: any DuckDB client opens what asaas writes (new files use a storage
format that DuckDB 1.x reads; the `duckdb` command-line tool from duckdb-cli is 1.5), views
included.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import sqlalchemy as sa

from asaas.store import Store, migrate
from asaas.store.schema import metadata
from asaas.views import install_views, view_names
from tests.helpers import err, ok
from tests.requires import require


def test_migration_matches_schema_and_round_trips(pg_server):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = pg_server()
    store = Store(url)
    before, after = store.upgrade()
    assert before is None and after == migrate.head_revision()
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "compare_server_default": False})
        diffs = compare_metadata(ctx, metadata)
    assert diffs == [], diffs  # the hand-written migration creates exactly asaas' schema
    assert len(install_views(store)) == len(view_names())
    with store.engine.connect() as conn:
        views = set(sa.inspect(conn).get_view_names())
    assert {"metrics", "confusion_matrix", "roc_auc_by_slice", "disagreements"} <= views

    with store.engine.begin() as conn:
        migrate.downgrade(conn, "base")
    with store.engine.connect() as conn:
        left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        assert left == set() and not sa.inspect(conn).get_view_names()
    assert store.upgrade() == (None, migrate.head_revision())
    store.engine.dispose()


def test_same_results_as_duckdb(pg_server, invoke, learnable_source, db_path):
    """Ingest, train, score and report on PostgreSQL give DuckDB's numbers to 1e-9."""
    source = str(learnable_source(120, 80))
    reports = {}
    for url in (str(db_path), pg_server()):
        ok(invoke("ingest", "--db", url, "--source", source))
        again = ok(invoke("ingest", "--db", url, "--source", source))
        assert "inserted 0" in again  # idempotent on both engines
        ok(invoke("train", "tfidf-lr", "--db", url))
        ok(invoke("train", "bow-rf", "--db", url))
        ok(invoke("score", "--db", url, "--model", "tfidf-lr"))
        ok(invoke("score", "--db", url, "--model", "bow-rf"))
        reports[url] = json.loads(ok(invoke("report", "--db", url, "--format", "json")))["metrics"]
        out = ok(invoke("disagreements", "tfidf-lr", "bow-rf", "--db", url))
        assert "tfidf-lr" in out
        assert "read-only" in err(invoke("sql", "--db", url, "DELETE FROM predictions"))
        n = ok(invoke("sql", "--db", url, "SELECT count(*) AS n FROM predictions"))
        assert "160" in n  # 80 test reviews x 2 models
    duck, pg = reports.values()
    assert len(duck) == len(pg) == 2
    for d, p in zip(duck, pg):
        assert d.keys() == p.keys()
        for key in d:
            if isinstance(d[key], float):
                assert p[key] == pytest.approx(d[key], abs=1e-9), key
            else:
                assert p[key] == d[key], key


def test_copy_writes_exact_values_and_refuses_what_does_not_fit(pg_server, monkeypatch):
    """insert_arrow's COPY: predictions go in PostgreSQL's binary format (pgpq), cast to the
    columns' own widths from whatever integer types the caller built, and come back exactly
    (doubles to the last bit, NULLs as NULLs); a conflicting chunk skips only the existing keys;
    a value that does not fit its column is a one-line error and writes nothing; the same rows
    without pgpq go as CSV with the same result."""
    import numpy as np
    import pyarrow as pa

    from asaas.errors import DatabaseError
    from asaas.store import store as store_mod

    store = Store(pg_server())
    store.upgrade()
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO models (id, name, created_at) VALUES (1, 'm', now())")
        conn.exec_driver_sql("INSERT INTO model_versions (id, model_id, version, kind, "
                             "artifact_uri, created_at) VALUES (1, 1, 1, 'hf', 'x', now()), "
                             "(2, 1, 2, 'hf', 'x', now())")
    probs = np.array([0.1, 1 / 3, np.nextafter(0.5, 1), 1e-300, 0.999999999999])
    rows = pa.table({  # int64 labels and n_tokens: wider than the columns (smallint, integer)
        "review_id": pa.array(np.arange(1, 6, dtype=np.int64)),
        "model_version_id": pa.array(np.ones(5, dtype=np.int64)),
        "scoring_run_id": pa.array([7] * 5, pa.int32()),
        "label": pa.array((probs >= 0.5).astype(np.int64)),
        "prob_positive": pa.array(probs),
        "n_tokens": pa.array([12, None, 512, 3, None], pa.int64()),
        "truncated": pa.array([False, None, True, False, None]),
    })
    assert store_mod._binary_copy_schema("predictions", rows.schema) is not None
    reviews = pa.schema([("id", pa.int64()), ("reviewed_at", pa.timestamp("us"))])
    assert store_mod._binary_copy_schema("reviews", reviews) is None  # timestamps: CSV
    for other_kind in (rows.set_column(6, "truncated", pa.array([0, 2, 1, 0, 1], pa.int64())),
                       rows.set_column(4, "prob_positive", pa.array(probs, pa.float32()))):
        # an integer for a boolean, a float32 for a double: CSV, where PostgreSQL reads the
        # text (and refuses 2 for a boolean) instead of a cast changing the value
        assert store_mod._binary_copy_schema("predictions", other_kind.schema) is None

    def stored(version: int) -> list[tuple]:
        with store.transaction() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(
                "SELECT review_id, scoring_run_id, label, prob_positive, n_tokens, truncated "
                f"FROM predictions WHERE model_version_id = {version} ORDER BY review_id")]

    expected = [(i + 1, 7, int(p >= 0.5), float(p), n, t) for i, (p, n, t) in enumerate(
        zip(probs, [12, None, 512, 3, None], [False, None, True, False, None]))]
    with store.transaction() as conn:
        assert store.insert_arrow(conn, "predictions", rows) == 5
    assert stored(1) == expected
    overlap = pa.concat_tables([rows.slice(3), rows.slice(0, 1).set_column(
        0, "review_id", pa.array([6], pa.int64()))])
    with store.transaction() as conn:  # keys 4 and 5 exist: only 6 goes in
        assert store.insert_arrow(conn, "predictions", overlap, on_conflict_do_nothing=True) == 1
    assert [r[0] for r in stored(1)] == [1, 2, 3, 4, 5, 6]

    too_big = rows.set_column(3, "label", pa.array([0, 1, 70_000, 0, 1], pa.int64()))
    too_big = too_big.set_column(1, "model_version_id", pa.array([2] * 5, pa.int64()))
    with pytest.raises(DatabaseError, match="cannot write predictions: .*70000"):
        with store.transaction() as conn:
            store.insert_arrow(conn, "predictions", too_big)
    assert stored(2) == []
    no_label = too_big.set_column(3, "label", pa.array([0, None, 1, 0, 1], pa.int64()))
    with pytest.raises(DatabaseError, match='cannot write predictions: null value in column '
                                            '"label"'):  # the server's refusal, in one line
        with store.transaction() as conn:
            store.insert_arrow(conn, "predictions", no_label)
    with pytest.raises(DatabaseError, match="cannot write predictions: duplicate key"):
        with store.transaction() as conn:
            store.insert_arrow(conn, "predictions", rows)  # without on_conflict_do_nothing
    assert stored(2) == []

    monkeypatch.setitem(__import__("sys").modules, "pgpq", None)  # not installed: CSV
    assert store_mod._binary_copy_schema("predictions", rows.schema) is None
    with store.transaction() as conn:
        assert store.insert_arrow(conn, "predictions", rows.set_column(
            1, "model_version_id", pa.array([2] * 5, pa.int64()))) == 5
    assert stored(2) == expected
    store.engine.dispose()


# -- DuckDB files that every DuckDB client reads -------------------------------------------------


def test_duckdb_1x_cli_reads_tables_and_views(invoke, db_path, learnable_source):
    cli = require("duckdb-cli")
    version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v1."), version  # a 1.x client, older than the DuckDB asaas runs
    ok(invoke("ingest", "--source", str(learnable_source(80, 40))))
    ok(invoke("train", "tfidf-lr"))
    ok(invoke("score", "--model", "tfidf-lr"))
    out = subprocess.run([cli, "-readonly", "-csv", str(db_path), "-c",
                          "SELECT model_label, n FROM metrics; SELECT count(*) FROM reviews"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "tfidf-lr v1,40" in out.stdout and "120" in out.stdout


def test_newest_format_on_request(invoke, db_path, learnable_source, monkeypatch):
    cli = require("duckdb-cli")
    monkeypatch.setenv("ASAAS_DUCKDB_STORAGE", "latest")
    ok(invoke("ingest", "--source", str(learnable_source(10, 10))))
    out = subprocess.run([cli, "-readonly", str(db_path), "-c", "SELECT 1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "version" in out.stderr.lower()


def test_bad_storage_setting_is_one_line(invoke, monkeypatch):
    monkeypatch.setenv("ASAAS_DUCKDB_STORAGE", "1.4")
    assert "ASAAS_DUCKDB_STORAGE" in err(invoke("db", "upgrade"))
