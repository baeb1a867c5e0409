"""Table files (asaas/ingest/readers/tables.py): files and folders the system refuses to read
are one-line errors, a folder reports every file it skips and why, and odd CSVs (a BOM,
duplicate headers, a quote never closed, a multi-line field at the end) read as they should."""

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
    ok(invoke("db", "upgrade"))  # into an existing database, so the failed run is recorded
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
    assert not db_path.exists()  # a failed first ingest leaves no database behind


def test_csv_quote_never_closed_is_an_error_with_its_line(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text('id,text\n1,"fine"\n2,"multi\nline, legal"\n3,"oops\n4,lost\n5,lost too\n',
                 encoding="utf-8")
    out = err(invoke("ingest", "--source", str(f)))
    assert "quoted field that starts on line 5 is never closed" in out
    assert not db_path.exists()  # a failed first ingest leaves no database behind


def test_csv_multiline_quoted_field_at_the_end_is_fine(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text('id,text\n1,"ends\nwith a ""quote"""', encoding="utf-8")
    ok(invoke("ingest", "--source", str(f)))
    assert q(db_path, "SELECT text FROM reviews") == [('ends\nwith a "quote"',)]
