"""An ingest run streams batches (asaas/ingest/run.py, writer.py): results do not depend on the
batch size, duplicates and derived ids are counted across batches and runs, and a failure late in
the source leaves nothing written."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asaas.errors import SourceError
from asaas.ingest import ingest
from asaas.store import open_store
from tests.helpers import err, ok, q
from tests.reviews_data import write_aclimdb, write_tarball

ROWS = [("a", "first", 1), ("b", "second", 0), ("a", "again a", 1), ("c", "third", 0),
        ("b", "again b", 0), ("d", "same text", 1), ("e", "fourth", 1)]


def _parquet(path, rows=ROWS, **extra):
    pq.write_table(pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows],
                             "label": [r[2] for r in rows], **extra}), path)
    return path


def _ids(db, dataset="imdb"):
    return q(db, f"SELECT external_id, text FROM reviews WHERE dataset = '{dataset}' "
                 "ORDER BY external_id")


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_same_result_whatever_the_batch_size(db_path, tmp_path, batch_rows):
    src = _parquet(tmp_path / "train.parquet")
    store = open_store(str(db_path))
    report = ingest(store, str(src), batch_rows=batch_rows)
    assert (report.rows_read, report.inserted, report.already_present) == (7, 5, 0)
    assert report.skipped == {"duplicate id within the source (first kept)": 2}
    assert report.examples["duplicate id within the source (first kept)"] == [
        "train.parquet:3", "train.parquet:5"]
    assert _ids(db_path) == [("a", "first"), ("b", "second"), ("c", "third"), ("d", "same text"),
                             ("e", "fourth")]
    again = ingest(store, str(src), batch_rows=batch_rows)
    # Every row's id is stored by the first run: all 7 rows are already present.
    assert (again.inserted, again.already_present, again.skipped) == (0, 7, {})


@pytest.mark.parametrize("batch_rows", [1, 2, 1000])
def test_derived_ids_are_numbered_across_batches(db_path, tmp_path, batch_rows):
    """Without an id column, repeats of one text get #2, #3... even in different batches, and
    ingesting the file again (or with another batch size) finds every row present."""
    f = tmp_path / "train.csv"
    f.write_text("text,label\nsame,1\nother,0\nsame,1\nsame,1\nlast,0\n", encoding="utf-8")
    store = open_store(str(db_path))
    report = ingest(store, str(f), batch_rows=batch_rows)
    assert report.inserted == 5
    ids = [r[0] for r in _ids(db_path)]
    same = sorted(i for i, t in _ids(db_path) if t == "same")
    assert len(set(ids)) == 5 and same[0].startswith("train:")
    assert same[1:] == [same[0] + "#2", same[0] + "#3"]
    again = ingest(store, str(f), batch_rows=7 - batch_rows if batch_rows < 7 else 1)
    assert (again.inserted, again.already_present) == (0, 5)


def test_more_repeats_in_a_later_file_are_new(db_path, tmp_path):
    """Run 1 stores one 'x'; a file with 'x' three times adds exactly #2 and #3."""
    store = open_store(str(db_path))
    one, three = tmp_path / "one" / "train.csv", tmp_path / "three" / "train.csv"
    for path, n in ((one, 1), (three, 3)):
        path.parent.mkdir()
        path.write_text("text\n" + "x\n" * n, encoding="utf-8")
    ingest(store, str(one))
    report = ingest(store, str(three), batch_rows=1)
    assert (report.inserted, report.already_present) == (2, 1)
    assert len(_ids(db_path)) == 3


def test_id_present_from_an_earlier_run_is_already_present(db_path, tmp_path):
    store = open_store(str(db_path))
    ingest(store, str(_parquet(tmp_path / "train.parquet", ROWS[:2])))
    report = ingest(store, str(_parquet(tmp_path / "more.parquet", ROWS)), batch_rows=2)
    # a and b were stored by run 1: present (each of their 4 rows); c, d, e are new.
    assert (report.inserted, report.already_present, report.skipped) == (3, 4, {})


def test_failure_in_a_late_batch_leaves_nothing_written(db_path, tmp_path, invoke):
    """Batches written before a fatal error are rolled back with the rest: all or nothing."""
    folder = tmp_path / "src"
    folder.mkdir()
    _parquet(folder / "a_train.parquet")
    (folder / "b_test.csv").write_text('id,text\nx,"fine"\ny,"never closed\nz,more\n',
                                       encoding="utf-8")
    store = open_store(str(db_path))
    with pytest.raises(SourceError, match="never closed"):
        ingest(store, str(folder), batch_rows=2)
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]
    runs = q(db_path, "SELECT status, rows_inserted, error FROM ingest_runs")
    assert len(runs) == 1 and runs[0][:2] == ("failed", 0) and "line 3" in runs[0][2]
    assert "never closed" in err(invoke("ingest", "--source", str(folder)))


def test_unknown_split_is_refused_before_anything_is_written(db_path, tmp_path, monkeypatch):
    """Parquet: only the split column is read to check --split."""
    f = _parquet(tmp_path / "all.parquet", split=["train", "test"] * 3 + ["unsup"])
    read: list = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        read.append(kwargs.get("columns"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    store = open_store(str(db_path))
    with pytest.raises(SourceError, match="unknown split 'dev'.*test, train, unsup"):
        ingest(store, str(f), splits=["dev"])
    assert read == [["split"]]
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]
    report = ingest(store, str(f), splits=["test"])
    assert report.inserted_by_split == {"test": 3}


def test_unknown_split_in_an_archive_leaves_nothing_written(db_path, tmp_path, invoke):
    """The archive's splits are known only once it is read: the transaction is rolled back."""
    tarball = write_tarball(tmp_path / "aclImdb_v1.tar.gz")
    out = err(invoke("ingest", "--source", str(tarball), "--split", "validation"))
    assert "unknown split 'validation'" in out
    assert not db_path.exists()  # a failed first ingest leaves no database behind


def test_big_folder_streams_in_batches(db_path, tmp_path):
    """An aclImdb folder larger than a batch: every file read once, in order."""
    rows = [("train", "pos", i, 8, f"good film number {i}") for i in range(25)]
    root = write_aclimdb(tmp_path / "big", rows)
    report = ingest(open_store(str(db_path)), str(root), batch_rows=4)
    assert report.inserted == 25 and report.inserted_by_split == {"train": 25}


def test_jsonl_streams_and_counts_bad_lines(db_path, tmp_path):
    f = tmp_path / "train.jsonl"
    lines = [json.dumps({"id": str(i), "text": f"t{i}"}) for i in range(9)]
    lines.insert(4, "{not json")
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(open_store(str(db_path)), str(f), batch_rows=3)
    assert report.inserted == 9 and report.rejected == {"line is not valid JSON": 1}
    assert report.examples["line is not valid JSON"] == ["train.jsonl:5"]
    assert report.rows_read == 10


def test_ingest_output_of_the_cli_is_unchanged(invoke, tmp_path):
    src = _parquet(tmp_path / "train.parquet")
    out = ok(invoke("ingest", "--source", str(src)))
    assert out.splitlines()[0].startswith(f"ingest imdb from {src}: read 7 rows, inserted 5 "
                                          "(train 5), already present 0, rejected 0 in ")
    assert "skipped 2: duplicate id within the source (first kept) (e.g. train.parquet:3, " \
           "train.parquet:5)" in out
