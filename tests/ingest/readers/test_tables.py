"""Input hygiene: files the system refuses, odd CSVs (BOM, duplicate headers, a quote never
closed), folders with files that cannot be read, and values every engine must judge alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import err, ok, q


def _deny(monkeypatch, *denied: Path) -> None:
    """Make the system refuse to open (or list) these paths, as chmod 000 does for a normal user;
    tests run as root, where chmod denies nothing."""
    denied_set = {Path(p) for p in denied}
    real_open, real_iterdir = Path.open, Path.iterdir

    def fake_open(self, *args, **kwargs):
        if Path(self) in denied_set:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    def fake_iterdir(self):
        if Path(self) in denied_set:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "open", fake_open)
    monkeypatch.setattr(Path, "iterdir", fake_iterdir)


# -- files the system refuses ------------------------------------------------------------------


@pytest.mark.parametrize("name,content", [
    ("train.csv", "id,text\n1,fine\n"),
    ("train.jsonl", json.dumps({"id": "1", "text": "fine"}) + "\n"),
    ("review_1.json", json.dumps({"reviews": [{"recommendationid": "1", "review": "x"}]})),
])
def test_unreadable_file_is_one_line_error(invoke, db_path, tmp_path, monkeypatch, name,
                                           content):
    f = tmp_path / name
    f.write_text(content, encoding="utf-8")
    _deny(monkeypatch, f)
    out = err(invoke("ingest", "--source", str(f)))
    assert f"cannot read {f}: Permission denied" in out and "permissions" in out
    monkeypatch.undo()
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]
    assert q(db_path, "SELECT status FROM ingest_runs") == [("failed",)]


def test_unreadable_parquet_is_one_line_error(invoke, tmp_path, monkeypatch):
    f = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": ["a"]}), f)
    _deny(monkeypatch, f)
    assert "Permission denied" in err(invoke("ingest", "--source", str(f)))


def test_unreadable_folder_is_one_line_error(invoke, tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "train.csv").write_text("text\na\n", encoding="utf-8")
    _deny(monkeypatch, folder)
    out = err(invoke("ingest", "--source", str(folder)))
    assert f"cannot list the folder {folder}: Permission denied" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_chmod_000_file_is_one_line_error(invoke, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("text\na\n", encoding="utf-8")
    f.chmod(0)
    try:
        assert "Permission denied" in err(invoke("ingest", "--source", str(f)))
    finally:
        f.chmod(0o644)


def test_folder_reports_every_file_it_skips(invoke, db_path, tmp_path, monkeypatch):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "train.csv").write_text("id,text\n1,fine\n", encoding="utf-8")
    (folder / "locked.csv").write_text("id,text\n2,hidden\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not reviews", encoding="utf-8")
    (folder / "older").mkdir()
    (folder / "loop.csv").symlink_to(folder / "loop.csv")
    (folder / "gone.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    _deny(monkeypatch, folder / "locked.csv")
    out = ok(invoke("ingest", "--source", str(folder)))
    assert "inserted 1" in out
    assert f"skipped file {folder / 'locked.csv'}: Permission denied; check its permissions" in out
    assert f"skipped file {folder / 'notes.txt'}: unsupported file type" in out
    assert f"skipped file {folder / 'older'}: subfolder (not searched)" in out
    assert f"skipped file {folder / 'loop.csv'}: broken symbolic link or link loop" in out
    assert f"skipped file {folder / 'gone.jsonl'}: broken symbolic link or link loop" in out
    details = json.loads(q(db_path, "SELECT details FROM ingest_runs")[0][0])
    assert {s["path"] for s in details["skipped_files"]} == {
        str(folder / n) for n in ("locked.csv", "notes.txt", "older", "loop.csv", "gone.jsonl")}


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_with_byte_order_mark(invoke, db_path, tmp_path):
    """Excel's "CSV UTF-8" starts with a BOM; the first header must still be 'id'."""
    f = tmp_path / "train.csv"
    f.write_bytes("\ufeffid,text,label\n1,très bien,1\n".encode("utf-8"))
    ok(invoke("ingest", "--source", str(f)))
    assert q(db_path, "SELECT external_id, text, label FROM reviews") == [("1", "très bien", 1)]


def test_csv_with_duplicate_column_names(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("id,text,label,text\n1,a,1,b\n", encoding="utf-8")
    out = err(invoke("ingest", "--source", str(f)))
    assert "has the column 'text' more than once" in out
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]


def test_csv_quote_never_closed_is_an_error_with_its_line(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text('id,text\n1,"fine"\n2,"multi\nline, legal"\n3,"oops\n4,lost\n5,lost too\n',
                 encoding="utf-8")
    out = err(invoke("ingest", "--source", str(f)))
    assert "quoted field that starts on line 5 is never closed" in out
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]


def test_csv_multiline_quoted_field_at_the_end_is_fine(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text('id,text\n1,"ends\nwith a ""quote"""', encoding="utf-8")
    ok(invoke("ingest", "--source", str(f)))
    assert q(db_path, "SELECT text FROM reviews") == [('ends\nwith a "quote"',)]


# -- values every engine judges alike ----------------------------------------------------------


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


# -- the Hub reader ----------------------------------------------------------------------------


def test_hub_dataset_is_streamed(invoke, db_path, monkeypatch):
    import datasets

    dsd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": ["good", "bad"], "label": [1, 0]}),
        "unsupervised": datasets.Dataset.from_dict({"text": ["meh"], "label": [-1]}),
    })
    monkeypatch.setattr(datasets, "load_dataset", lambda name: dsd)
    out = ok(invoke("ingest", "--source", "hf:someone/reviews"))
    assert "read 3 rows, inserted 3 (train 2, unsup 1)" in out
    assert q(db_path, "SELECT split, label, external_id LIKE split || ':%' FROM reviews "
                      "ORDER BY 1, 2") == [("train", 0, True), ("train", 1, True),
                                          ("unsup", None, True)]
    assert "unknown split 'test'" in err(invoke("ingest", "--source", "hf:someone/reviews",
                                                "--split", "test"))
