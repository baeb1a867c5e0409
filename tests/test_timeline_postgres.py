"""The timeline views on PostgreSQL give DuckDB's numbers (same generated reviews and
predictions in both), and `asaas timeline` runs against a PostgreSQL URL."""

from __future__ import annotations

import json

import pytest

from asaas.tables import query
from asaas.store import open_store
from tests import timeline_data as td
from tests.helpers import ok

VIEWS = {
    "product_timeline": ("dataset", "language", "freq", "product_id", "period_start"),
    "prevalence_calibration": ("model_version_id", "dataset", "language"),
    "timeline": ("model_version_id", "dataset", "language", "freq", "product_id",
                 "period_start"),
}


def _by_key(store, view: str) -> dict:
    key = VIEWS[view]
    rows = query(store, f"SELECT * FROM {view}").dicts()  # PostgreSQL's NUMERIC as floats
    return {tuple(r[k] for k in key): r for r in rows}


def test_timeline_views_same_on_postgres(pg_server, db_path, invoke):
    data = td.generate(seed=5, per_month=(40, 90))
    duck = open_store(str(db_path))
    pg_url = pg_server()
    pg = open_store(pg_url)
    for store in (duck, pg):
        td.seed_store(store, data)
    for view in VIEWS:
        a, b = _by_key(duck, view), _by_key(pg, view)
        assert a.keys() == b.keys() and len(a) > 10, view
        for key, row in a.items():
            other = b[key]
            assert row.keys() == other.keys()
            for col, value in row.items():
                if isinstance(value, float):
                    assert other[col] == pytest.approx(value, abs=1e-9), (view, key, col)
                else:
                    assert other[col] == value, (view, key, col)
    outputs = [json.loads(ok(invoke("timeline", "Pit Pals", "--db", url, "--freq", "month",
                                    "--format", "json")))
               for url in (str(db_path), pg_url)]
    assert len(outputs[0]) == len(outputs[1]) == 12  # 6 months x 2 scored versions
    for a, b in zip(*outputs):
        assert a.keys() == b.keys()
        for col in a:
            if isinstance(a[col], float):
                assert b[col] == pytest.approx(a[col], abs=1e-9), col
            else:
                assert b[col] == a[col], col
    pg.engine.dispose()
