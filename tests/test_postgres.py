"""PostgreSQL, the way up: the same migrations, ingest, training, scoring and views on a real
server, started for these tests in a temporary directory (Unix socket only, no TCP port).

Skipped where PostgreSQL's server programs (initdb, pg_ctl) are not installed (a failure under
CI=true; see tests/pg.py). Here the tables
that the hand-written migration creates are also checked against asaas' SQLAlchemy schema with
Alembic's autogenerate comparison, which cannot run on DuckDB (its reflection fails).
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from asaas.store import Store, migrate
from asaas.store.schema import metadata
from asaas.views import install_views, view_names

from helpers import err, ok
from pg import pg_server  # noqa: F401  (re-exported: other test modules import it from here)


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
        reports[url] = json.loads(ok(invoke("report", "--db", url, "--format", "json")))
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
