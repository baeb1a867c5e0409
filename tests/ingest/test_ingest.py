"""`asaas ingest` end to end (asaas/ingest/, its ``ingest`` function and the command): every source
kind, idempotency, split selection, undoing a failed or killed ingest, every kind of bad input,
and the full offline IMDB copy where ../shared has it."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asaas.store import Store
from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import q
from tests.requires import SHARED_IMDB, shared_data
from tests.reviews_data import ACL_ROWS, write_aclimdb, write_tarball


def _rows(db_path, sql="SELECT dataset, external_id, split, label, rating, text FROM reviews "
          "ORDER BY external_id"):
    return q(db_path, sql)


def _count(db_path, table="reviews"):
    # A failed first command leaves no database at all (cli/base.fail_cleanly): nothing in it.
    if not Path(db_path).exists():
        return 0
    return _rows(db_path, f"SELECT count(*) FROM {table}")[0][0]


# -- sources --------------------------------------------------------------------------------------


def test_aclimdb_folder(invoke, db_path, aclimdb_dir):
    out = _ok(invoke("ingest", "--source", str(aclimdb_dir)))
    assert "inserted 7" in out
    rows = {r[1]: r for r in _rows(db_path)}
    assert rows["train_pos_0"] == ("imdb", "train_pos_0", "train", 1, 9.0, ACL_ROWS[0][4])
    assert rows["train_neg_1"][3:5] == (0, 1.0)
    assert rows["unsup_0"][2:5] == ("unsup", None, None)
    assert rows["test_pos_0"][2:5] == ("test", 1, 10.0)


def test_parent_of_aclimdb_folder_is_accepted(invoke, db_path, aclimdb_dir):
    _ok(invoke("ingest", "--source", str(aclimdb_dir.parent)))
    assert _count(db_path) == len(ACL_ROWS)


def test_tarball_is_read_without_unpacking(invoke, db_path, aclimdb_tarball, tmp_path):
    before = set(tmp_path.rglob("*"))
    _ok(invoke("ingest", "--source", str(aclimdb_tarball)))
    assert set(tmp_path.rglob("*")) - before <= {db_path, db_path.with_suffix(".duckdb.wal")}
    assert _count(db_path) == len(ACL_ROWS)


def test_folder_archive_and_parquet_of_one_release_share_ids(invoke, db_path, aclimdb_dir,
                                                              aclimdb_tarball, tmp_path):
    _ok(invoke("ingest", "--source", str(aclimdb_dir)))
    out = _ok(invoke("ingest", "--source", str(aclimdb_tarball)))
    assert "inserted 0" in out and "already present 7" in out
    ids = [r[1] for r in _rows(db_path)]
    table = pa.table({"id": ids, "text": ["x"] * len(ids)})
    pq.write_table(table, tmp_path / "copy.parquet")
    out = _ok(invoke("ingest", "--source", str(tmp_path / "copy.parquet")))
    assert "inserted 0" in out


def test_parquet_csv_jsonl_files_and_folder(invoke, db_path, tmp_path):
    src = tmp_path / "tables"
    src.mkdir()
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["good", "bad"], "label": [1, 0],
                             "rating": [8, 2]}), src / "train.parquet")
    (src / "test.csv").write_text("review_id,review,sentiment\nc,\"great, really\",pos\n"
                                  "d,awful,neg\n", encoding="utf-8")
    (src / "extra.jsonl").write_text(
        json.dumps({"text": "meh", "label": "negative", "split": "test", "id": "e"}) + "\n"
        + json.dumps({"text": "fine", "id": "f", "split": "unsup"}) + "\n", encoding="utf-8")
    out = _ok(invoke("ingest", "--source", str(src), "--dataset", "mixed"))
    assert "inserted 6" in out
    rows = {r[1]: r for r in _rows(db_path)}
    assert rows["a"] == ("mixed", "a", "train", 1, 8.0, "good")
    assert rows["c"][2:4] == ("test", 1) and rows["c"][5] == "great, really"
    assert rows["d"][3] == 0 and rows["e"][2:4] == ("test", 0)
    assert rows["f"][2:4] == ("unsup", None)


def test_split_selection(invoke, db_path, aclimdb_dir):
    out = _ok(invoke("ingest", "--source", str(aclimdb_dir), "--split", "test"))
    assert "inserted 2 (test 2)" in out
    _ok(invoke("ingest", "--source", str(aclimdb_dir), "--split", "train,unsup"))
    assert _count(db_path) == len(ACL_ROWS)


def test_idempotent_and_recorded(invoke, db_path, aclimdb_dir):
    _ok(invoke("ingest", "--source", str(aclimdb_dir)))
    out = _ok(invoke("ingest", "--source", str(aclimdb_dir)))
    assert "inserted 0" in out and "nothing new" in out
    assert _count(db_path) == len(ACL_ROWS)
    runs = _rows(db_path, "SELECT status, rows_read, rows_inserted, rows_skipped, rows_rejected, "
                 "duration_s > 0, source FROM ingest_runs ORDER BY id")
    assert [r[:5] for r in runs] == [("succeeded", 7, 7, 0, 0), ("succeeded", 7, 0, 7, 0)]
    assert all(r[5] for r in runs) and runs[0][6] == str(aclimdb_dir)


def test_datasets_are_kept_apart(invoke, db_path, tmp_path):
    f = tmp_path / "train.parquet"
    pq.write_table(pa.table({"id": ["1"], "text": ["same id"], "label": [1]}), f)
    _ok(invoke("ingest", "--source", str(f), "--dataset", "one"))
    _ok(invoke("ingest", "--source", str(f), "--dataset", "two"))
    assert sorted(r[0] for r in _rows(db_path)) == ["one", "two"]


def test_sources_without_ids_get_stable_ids(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("text,label\nsame text,1\nsame text,1\nother,0\n", encoding="utf-8")
    _ok(invoke("ingest", "--source", str(f)))
    out = _ok(invoke("ingest", "--source", str(f)))
    assert "inserted 0" in out
    ids = sorted(r[1] for r in _rows(db_path))
    assert len(ids) == 3 and ids[0].startswith("train:") and ids[1].endswith("#2")


def test_reviews_are_queryable_with_plain_duckdb(invoke, db_path, aclimdb_dir):
    _ok(invoke("ingest", "--source", str(aclimdb_dir)))
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT split, count(*) FROM reviews GROUP BY split ORDER BY split"
                       ).fetchall() == [("test", 2), ("train", 4), ("unsup", 1)]
    con.close()


# -- bad input ------------------------------------------------------------------------------------


def test_missing_path(invoke, db_path):
    out = _err(invoke("ingest", "--source", "/no/such/aclImdb"))
    assert "does not exist" in out and "--source" in out
    assert _count(db_path) == 0


def test_truncated_archive_writes_nothing(invoke, db_path, tmp_path):
    good = write_tarball(tmp_path / "full.tar.gz",
                         ACL_ROWS * 1, extra={f"aclImdb/train/pos/{i}_8.txt": b"x" * 5000
                                              for i in range(100, 140)})
    data = good.read_bytes()
    bad = tmp_path / "aclImdb_v1.tar.gz"
    bad.write_bytes(data[: len(data) // 2])
    out = _err(invoke("ingest", "--source", str(bad)))
    assert "truncated or corrupt" in out
    assert _count(db_path) == 0


def test_unreadable_archive(invoke, db_path, tmp_path):
    bad = tmp_path / "aclImdb_v1.tar.gz"
    bad.write_bytes(b"this is not a gzip file at all")
    out = _err(invoke("ingest", "--source", str(bad)))
    assert "truncated or corrupt" in out


def test_archive_without_reviews(invoke, tmp_path):
    other = write_tarball(tmp_path / "other.tar.gz", rows=[], extra={"README": b"hello"})
    assert "holds no aclImdb" in _err(invoke("ingest", "--source", str(other)))


def test_file_without_text_column(invoke, db_path, tmp_path):
    f = tmp_path / "train.parquet"
    pq.write_table(pa.table({"body_html": ["x"], "label": [1]}), f)
    out = _err(invoke("ingest", "--source", str(f)))
    assert "no text column" in out and "--text-column" in out and "body_html" in out
    assert _count(db_path) == 0
    _ok(invoke("ingest", "--source", str(f), "--text-column", "body_html"))
    assert _count(db_path) == 1


def test_named_column_that_does_not_exist(invoke, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("text,label\nhi,1\n", encoding="utf-8")
    assert "no column 'stars'" in _err(invoke("ingest", "--source", str(f), "--label-column",
                                              "stars"))


def test_empty_and_whitespace_text_are_rejected_and_counted(invoke, db_path, tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "text": "fine film", "label": 1},
        {"id": "2", "text": "", "label": 0},
        {"id": "3", "text": "   \n\t ", "label": 0},
        {"id": "4", "text": None, "label": 0},
    ]), encoding="utf-8")
    out = _ok(invoke("ingest", "--source", str(f)))
    assert "rejected 3" in out and "text is empty or whitespace" in out
    assert "text is missing" in out
    assert _count(db_path) == 1


def test_non_utf8_bytes_are_rejected(invoke, db_path, tmp_path):
    rows = [r for r in ACL_ROWS]
    d = tmp_path / "src"
    base = write_aclimdb(d, rows)
    (base / "train" / "pos" / "9_8.txt").write_bytes(b"caf\xe9 latte \xff\xfe")
    csv_file = tmp_path / "test.csv"
    csv_file.write_bytes(b"id,text,label\na,good,1\nb,bad \xff byte,0\n")
    out = _ok(invoke("ingest", "--source", str(base)))
    assert "rejected 1" in out and "not valid UTF-8" in out and "9_8.txt" in out
    out = _ok(invoke("ingest", "--source", str(csv_file), "--dataset", "csv"))
    assert "inserted 1" in out and "not valid UTF-8" in out
    assert _count(db_path) == len(ACL_ROWS) + 1


def test_bad_labels_are_rejected(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("id,text,label\n1,a,pos\n2,b,5\n3,c,maybe\n4,d,neg\n", encoding="utf-8")
    out = _ok(invoke("ingest", "--source", str(f)))
    assert "rejected 2: label is not 0/1/pos/neg" in out
    assert sorted(r[1] for r in _rows(db_path)) == ["1", "4"]


def test_duplicate_ids_in_one_file_are_skipped(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("id,text,label\n1,first,1\n1,second,0\n2,third,0\n", encoding="utf-8")
    out = _ok(invoke("ingest", "--source", str(f)))
    assert "skipped 1: duplicate id within the source" in out
    assert [r[5] for r in _rows(db_path)] == ["first", "third"]


def test_invalid_json_lines_are_rejected(invoke, db_path, tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_bytes(b'{"id": "1", "text": "ok", "label": 1}\n{"id": "2", "text": "trunc\n')
    out = _ok(invoke("ingest", "--source", str(f)))
    assert "line is not valid JSON" in out and "train.jsonl:2" in out
    assert _count(db_path) == 1


def test_unknown_split(invoke, db_path, aclimdb_dir):
    out = _err(invoke("ingest", "--source", str(aclimdb_dir), "--split", "validation"))
    assert "unknown split 'validation'" in out and "test, train, unsup" in out
    assert _count(db_path) == 0


def test_unsupported_file_type(invoke, tmp_path):
    f = tmp_path / "reviews.xlsx"
    f.write_bytes(b"PK")
    assert "unsupported file type" in _err(invoke("ingest", "--source", str(f)))


def test_folder_with_nothing_to_read(invoke, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "holds no aclImdb" in _err(invoke("ingest", "--source", str(tmp_path / "empty")))


@pytest.mark.parametrize("url,fragment", [
    ("duckdb:////no/such/dir/x.duckdb", "does not exist"),
    ("nosuchdriver://localhost/db", "no database driver"),
    ("postgresql://nobody@127.0.0.1:9/none", "cannot open database"),
])
def test_database_url_that_cannot_be_opened(invoke, aclimdb_dir, url, fragment):
    out = _err(invoke("ingest", "--source", str(aclimdb_dir), "--db", url))
    assert fragment in out


def test_not_a_duckdb_file(invoke, tmp_path, aclimdb_dir):
    f = tmp_path / "junk.duckdb"
    f.write_text("definitely not a database")
    assert "not a valid DuckDB database" in _err(
        invoke("ingest", "--source", str(aclimdb_dir), "--db", str(f)))


def test_failure_during_write_leaves_no_half_ingest(invoke, db_path, aclimdb_dir, monkeypatch):
    def boom(self, conn, table, data, columns=None, **kwargs):
        conn.exec_driver_sql("SELECT 1")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Store, "insert_arrow", boom)
    _ok(invoke("db", "upgrade"))  # an existing database keeps the failed run's record
    with pytest.raises(RuntimeError):
        invoke("ingest", "--source", str(aclimdb_dir))
    monkeypatch.undo()
    assert _count(db_path) == 0
    assert _rows(db_path, "SELECT status, error FROM ingest_runs") == [
        ("failed", "RuntimeError: disk full")]


def test_duckdb_commits_in_chunks_and_a_failure_removes_them(invoke, db_path, tmp_path,
                                                            monkeypatch):
    """On DuckDB ingest commits every DUCKDB_COMMIT_ROWS reviews (flat memory, readers get their
    turn); a failure after some chunks deletes what the run committed."""
    import asaas.ingest.run as ingest_module
    rows = [{"id": f"r{i}", "text": f"review number {i}", "label": i % 2} for i in range(50)]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    monkeypatch.setattr(ingest_module, "DUCKDB_COMMIT_ROWS", 10)
    real = Store.insert_arrow
    calls = {"n": 0, "seen": []}

    def flaky(self, conn, table, data, *args, **kwargs):
        if table == "reviews":
            calls["n"] += 1
            with self.transaction() as other:  # what another connection sees: committed rows
                calls["seen"].append(other.exec_driver_sql(
                    "SELECT count(*) FROM reviews").scalar())
            if calls["n"] == 4:
                raise RuntimeError("disk full")
        return real(self, conn, table, data, *args, **kwargs)

    monkeypatch.setattr(Store, "insert_arrow", flaky)
    store = Store(str(db_path))
    store.upgrade()
    with pytest.raises(RuntimeError):
        ingest_module.ingest(store, str(path), batch_rows=10)
    assert calls["seen"][-1] == 30  # three chunks were committed (and readable) before it
    assert _count(db_path) == 0  # ... and removed when the fourth failed
    assert _rows(db_path, "SELECT status FROM ingest_runs") == [("failed",)]
    monkeypatch.setattr(Store, "insert_arrow", real)
    assert ingest_module.ingest(store, str(path), batch_rows=10).inserted == 50


def test_killed_ingest_is_undone_by_the_next_one(invoke, db_path, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    rows = [{"id": f"r{i}", "text": f"review number {i}", "label": i % 2} for i in range(300)]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    script = tmp_path / "slow_ingest.py"
    script.write_text(textwrap.dedent(f"""
        import time
        import asaas.ingest.run as module
        from asaas.store import open_store
        module.DUCKDB_COMMIT_ROWS = 10
        # A slow source: each batch takes 0.3 s to read and check, time during which the
        # ingest must not hold the file, so the poller below sees the committed chunks.
        real = module.Validator.prepare
        def slow(self, *a, **k):
            time.sleep(0.3)
            return real(self, *a, **k)
        module.Validator.prepare = slow
        module.ingest(open_store({str(db_path)!r}), {str(path)!r}, batch_rows=10)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], env=dict(os.environ))
    deadline, seen = time.time() + 90, 0
    while time.time() < deadline and seen < 30:
        time.sleep(0.2)
        try:
            seen = _count(db_path)
        except (duckdb.IOException, duckdb.CatalogException):
            continue  # the writer holds the file for a moment, or has not made the tables
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 30 <= seen < 300
    out = _ok(invoke("ingest", "--source", str(path)))
    assert "inserted 300" in out  # the killed run's rows were removed first, then all went in
    runs = _rows(db_path, "SELECT status, error FROM ingest_runs ORDER BY id")
    assert runs[0][0] == "interrupted" and "rows were removed" in runs[0][1]
    assert runs[1][0] == "succeeded"


def test_failed_ingest_is_recorded(invoke, db_path):
    _err(invoke("ingest", "--source", "/no/such/file.parquet"))
    assert not db_path.exists()  # a database it created is removed again (a mistyped --db)
    _ok(invoke("db", "upgrade"))
    _err(invoke("ingest", "--source", "/no/such/file.parquet"))
    rows = _rows(db_path, "SELECT status, error FROM ingest_runs")
    assert rows[0][0] == "failed" and "does not exist" in rows[0][1]


@pytest.mark.parametrize("ends", ["failure", "kill"])
def test_a_run_whose_rows_were_scored_or_made_products_is_still_undone(db_path, tmp_path,
                                                                       monkeypatch, ends):
    """The committed chunks of a failed (or killed) DuckDB ingest are removed even when other
    rows now point at them: predictions a scorer wrote meanwhile (it may, since the file is free
    between chunks) and the products the run created. DuckDB refuses to delete a parent in the
    transaction that deleted its children, so the clean-up goes step by step; before, it failed,
    the rows stayed, and every later ingest of the dataset failed on the same clean-up."""
    import asaas.ingest.run as module
    from asaas.ingest.readers.base import ColumnNames

    rows = [{"id": f"r{i}", "text": f"review number {i}", "label": i % 2,
             "product": f"p{i % 3}"} for i in range(50)]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    monkeypatch.setattr(module, "DUCKDB_COMMIT_ROWS", 10)
    store = Store(str(db_path))
    store.upgrade()
    real = module.Validator.prepare
    calls = {"n": 0}

    def score_then_fail(self, raw):
        calls["n"] += 1
        if calls["n"] == 4:  # three chunks are committed: a scorer gets to them, then it ends
            with store.transaction() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO models (id, name, created_at) VALUES (1, 'm', now());"
                    "INSERT INTO model_versions (id, model_id, version, kind, artifact_uri, "
                    "created_at) VALUES (1, 1, 1, 'hf', 'x', now());"
                    "INSERT INTO scoring_runs (id, model_version_id, dataset, status, "
                    "started_at) VALUES (1, 1, 'imdb', 'succeeded', now());"
                    "INSERT INTO predictions (review_id, model_version_id, scoring_run_id, label, "
                    "prob_positive) SELECT id, 1, 1, 1, 0.9 FROM reviews;"
                    "INSERT INTO prediction_failures (review_id, model_version_id, "
                    "scoring_run_id, error, failed_at) SELECT id, 1, 1, 'x', now() "
                    "FROM reviews LIMIT 1")
            if ends == "kill":  # as if the process died here: its run stays 'running'
                raise SystemExit
            raise RuntimeError("disk full")
        return real(self, raw)

    monkeypatch.setattr(module.Validator, "prepare", score_then_fail)
    options = module.IngestOptions(columns=ColumnNames(product="product"))
    if ends == "kill":
        undo = module._undo_run
        monkeypatch.setattr(module, "_undo_run", lambda *a, **k: None)  # nothing ran after
        with pytest.raises(SystemExit):
            module.ingest(store, str(path), options, batch_rows=10)
        monkeypatch.setattr(module, "_undo_run", undo)  # the next ingest's clean-up runs it
        monkeypatch.setattr(module, "process_gone", lambda host, pid: True)
    else:
        with pytest.raises(RuntimeError):
            module.ingest(store, str(path), options, batch_rows=10)
        assert _rows(db_path, "SELECT status FROM ingest_runs") == [("failed",)]
        assert _count(db_path) == 0 and _count(db_path, "products") == 0
    assert _count(db_path, "predictions") == (0 if ends == "failure" else 30)
    monkeypatch.setattr(module.Validator, "prepare", real)
    assert module.ingest(store, str(path), options, batch_rows=10).inserted == 50
    assert _count(db_path) == 50 and _count(db_path, "products") == 3
    assert _count(db_path, "predictions") == 0 and _count(db_path, "prediction_failures") == 0
    assert _rows(db_path, "SELECT status FROM ingest_runs ORDER BY id")[-1] == ("succeeded",)


# -- the full offline IMDB copy (../shared/data/imdb), where it is there --------------------------


@shared_data("data", "imdb", "train.parquet")
def test_full_imdb_ingest(invoke, db_path):
    result = invoke("ingest", "--source", str(SHARED_IMDB))
    assert result.exit_code == 0, result.output
    assert "inserted 100,000 (test 25,000, train 25,000, unsup 50,000)" in result.output
    con = duckdb.connect(str(db_path), read_only=True)
    counts = dict(con.execute("SELECT split, count(*) FROM reviews GROUP BY split").fetchall())
    assert counts == {"train": 25_000, "test": 25_000, "unsup": 50_000}
    per_class = con.execute(
        "SELECT split, label, count(*) FROM reviews WHERE split IN ('train', 'test') "
        "GROUP BY split, label ORDER BY split, label").fetchall()
    assert per_class == [("test", 0, 12_500), ("test", 1, 12_500),
                         ("train", 0, 12_500), ("train", 1, 12_500)]
    assert con.execute("SELECT count(*) FROM reviews WHERE split = 'unsup' AND label IS NOT NULL"
                       ).fetchone()[0] == 0
    assert con.execute("SELECT min(rating), max(rating) FROM reviews WHERE label = 1"
                       ).fetchone() == (7.0, 10.0)
    con.close()
    again = invoke("ingest", "--source", str(SHARED_IMDB))
    assert "inserted 0" in again.output and "already present 100,000" in again.output
