"""Judging raw rows (asaas/ingest/validate.py): every engine rejects the same rows for the same
reasons (NUL bytes, over-long values, bad UTF-8), the review length cap and its setting, bad
dataset names, and the label words every source may use."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asaas.ingest import normalize_label
from tests.helpers import err, ok, q


@pytest.mark.parametrize("value,expected", [
    (1, 1), (0, 0), ("pos", 1), ("neg", 0), ("POSITIVE", 1), ("negative", 0), (True, 1),
    ("1", 1), ("0", 0), (-1, None), (None, None), ("", None), (float("nan"), None),
])
def test_normalize_label(value, expected):
    assert normalize_label(value) == expected


BAD_ROWS = [
    ({"id": "ok1", "text": "fine", "lang": "en", "game": "g1"}, None),
    ({"id": "nul", "text": "bad\x00byte", "lang": "en", "game": "g1"}, "text contains NUL bytes"),
    ({"id": "id\x00nul", "text": "x", "lang": "en", "game": "g1"}, "id contains NUL bytes"),
    ({"id": "L" * 257, "text": "x", "lang": "en", "game": "g1"},
     "id is longer than 256 characters"),
    ({"id": "split", "text": "x", "split": "s" * 33, "lang": "en", "game": "g1"},
     "split name is longer than 32 characters"),
    ({"id": "lang", "text": "x", "lang": "l" * 33, "game": "g1"},
     "language is longer than 32 characters"),
    ({"id": "prod", "text": "x", "lang": "en", "game": "p" * 257},
     "product id is longer than 256 characters"),
    ({"id": "pname", "text": "x", "lang": "en", "game": "g2", "name": "a\x00b"},
     "product name contains NUL bytes"),
    ({"id": "long", "text": "y" * 41, "lang": "en", "game": "g1"},
     "text is longer than 40 characters (--max-review-chars)"),
    ({"id": "surrogate", "text": "\ud800 lone", "lang": "en", "game": "g1"},
     "text is not valid UTF-8"),
    ({"id": "ok2", "text": "also fine", "lang": "de", "game": "g2", "name": "Game Two"}, None),
]


def test_bad_values_are_rejected_alike_on_every_engine(invoke, db_url, tmp_path):
    """DuckDB stores NUL bytes and over-long strings that PostgreSQL refuses (aborting the whole
    ingest, unrecorded): asaas rejects each such row, with its reason, on both."""
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(json.dumps(r) for r, _ in BAD_ROWS) + "\n", encoding="utf-8")
    args = ["ingest", "--source", str(f), "--dataset", "hygiene", "--language-column", "lang",
            "--product-column", "game", "--product-name-column", "name",
            "--max-review-chars", "40"]
    out = ok(invoke(*args))
    reasons = [reason for _, reason in BAD_ROWS if reason]
    assert f"read {len(BAD_ROWS)} rows, inserted 2 (train 2)" in out
    assert f"rejected {len(reasons)} in" in out
    for reason in reasons:
        assert f"rejected 1: {reason}" in out, reason
    assert q(db_url, "SELECT r.external_id, r.language, p.external_id, p.name FROM reviews r "
                     "JOIN products p ON p.id = r.product_id ORDER BY 1") == [
        ("ok1", "en", "g1", None), ("ok2", "de", "g2", "Game Two")]
    runs = q(db_url, "SELECT status, rows_read, rows_inserted, rows_rejected FROM ingest_runs")
    assert runs == [("succeeded", len(BAD_ROWS), 2, len(reasons))]
    assert "inserted 0" in ok(invoke(*args))


def test_bad_dataset_name_writes_nothing_on_every_engine(invoke, db_url, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("text\na\n", encoding="utf-8")
    assert "at most 64" in err(invoke("ingest", "--source", str(f), "--dataset", "d" * 65))
    assert "control characters" in err(invoke("ingest", "--source", str(f), "--dataset",
                                              "a\x00b"))


def test_max_review_chars_from_the_environment(invoke, db_path, tmp_path, monkeypatch):
    f = tmp_path / "train.csv"
    f.write_text("text\nshort\nmuch longer than ten\n", encoding="utf-8")
    monkeypatch.setenv("ASAAS_MAX_REVIEW_CHARS", "10")
    out = ok(invoke("ingest", "--source", str(f)))
    assert "inserted 1" in out and "text is longer than 10 characters" in out
    monkeypatch.setenv("ASAAS_MAX_REVIEW_CHARS", "lots")
    assert "ASAAS_MAX_REVIEW_CHARS='lots' is not a positive whole number" in err(
        invoke("ingest", "--source", str(f)))


def test_default_cap_is_a_million_characters(db_path, tmp_path):
    from asaas.ingest import ingest
    from asaas.store import open_store

    f = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": ["x" * 1_000_000, "y" * 1_000_001]}), f)
    report = ingest(open_store(str(db_path)), str(f))
    assert report.inserted == 1
    assert report.rejected == {"text is longer than 1,000,000 characters (--max-review-chars)": 1}
