"""Fixtures of the scoring tests."""

from __future__ import annotations

import pytest

from asaas.store import open_store
from tests.helpers import ok


@pytest.fixture
def scored_store(db_url, review_file, invoke):
    """60 reviews ingested, on each engine (DuckDB, PostgreSQL)."""
    ok(invoke("ingest", "--source", str(review_file(60))))
    return open_store(db_url)
