"""Migration 0006 (live feedback) on DuckDB and PostgreSQL: a database at 0005 with reviews
upgrades without losing them, the new tables take rows and refuse what they must, and the
downgrade to 0005 and back keeps the data."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from asaas.errors import DatabaseError
from asaas.store import Store, migrate


def _seed(conn: sa.Connection) -> None:
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
        _seed(conn)
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
