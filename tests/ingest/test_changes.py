"""Later edits of stored reviews (issue 19 item 2): an ingest that meets a stored review id with a
changed copy updates the row and records each change in review_history, on DuckDB and
PostgreSQL; the same snapshot again changes nothing; a review whose text changed is scored again;
a failed or killed run puts back what it changed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from tests.fake_steam import second_snapshot, synthetic_records
from tests.helpers import ok, q

NOW = 1_700_000_000


def write_pages(folder: Path, records: list[dict], per_page: int = 10,
                appid: str = "440") -> Path:
    """Steam API pages of ``records``, in order, as `asaas fetch steam` lands them."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for n, start in enumerate(range(0, len(records), per_page), start=1):
        page = {"success": 1, "query_summary": {"num_reviews": per_page},
                "reviews": records[start:start + per_page], "cursor": f"c{n}"}
        (folder / f"page-{n:04d}-review_{appid}.json").write_text(json.dumps(page))
    return folder


def snapshots(tmp_path: Path, new: int = 4) -> tuple[Path, Path, dict[str, set[str]], str]:
    """60 reviews, then the same app later: 6 negative reviews answered, 3 of their authors
    turned positive (text edited), one review's votes moved, ``new`` reviews written. The
    changed reviews come first (filter=updated), then the new ones, then the rest."""
    first = synthetic_records(60, seed=1)
    later, changed = second_snapshot(first, responses=6, flips=3, new=new, now=NOW)
    voted = next(r for r in later if r["recommendationid"] not in changed["answered"])
    voted["votes_up"] += 5
    moved = changed["answered"] | {voted["recommendationid"]}
    order = ([r for r in later if r["recommendationid"] in moved]
             + [r for r in later if r["recommendationid"] in changed["new"]]
             + [r for r in later if r["recommendationid"] not in moved | changed["new"]])
    return (write_pages(tmp_path / "snap1", first), write_pages(tmp_path / "snap2", order),
            changed, voted["recommendationid"])


def history(db) -> list[tuple]:
    return q(db, "SELECT r.external_id, h.field, h.old_value, h.new_value, h.ingest_run_id "
                 "FROM review_history h JOIN reviews r ON r.id = h.review_id "
                 "ORDER BY r.external_id, h.field")


def test_later_edits_update_the_row_and_are_kept_with_their_history(invoke, db_url, tmp_path):
    snap1, snap2, changed, voted = snapshots(tmp_path)
    ok(invoke("ingest", "--format", "steam", "--source", str(snap1)))
    before = dict((r[0], r[1:]) for r in q(db_url, "SELECT external_id, text, reviewed_at, "
                                                    "product_id, id FROM reviews"))
    out = ok(invoke("ingest", "--format", "steam", "--source", str(snap2)))
    assert "inserted 4" in out and "already present 60" in out
    assert ("updated 7 stored reviews whose new copy changed (developer_responded_at 6, "
            "developer_response 6, label 3, review_updated_at 3, text 3, votes_up 1; kept in "
            "review_history), 3 with a new text to score again") in out
    rows = history(db_url)
    assert len(rows) == 6 * 2 + 3 * 3 + 1 and {r[4] for r in rows} == {2}  # run 2 recorded them
    for rid in changed["flipped"]:
        mine = {r[1]: (r[2], r[3]) for r in rows if r[0] == rid}
        assert set(mine) == {"label", "text", "developer_response", "developer_responded_at",
                             "review_updated_at"}
        assert mine["label"] == ("0", "1")
        assert mine["text"][0] == before[rid][0]  # the old text is kept
        assert mine["text"][1] == before[rid][0] + " EDIT: fixed, thanks devs."
        assert mine["developer_response"][0] is None
    for rid in changed["answered"] - changed["flipped"]:
        assert {r[1] for r in rows if r[0] == rid} == {"developer_response",
                                                        "developer_responded_at"}
    [vote] = [r for r in rows if r[0] == voted]
    assert vote[1] == "votes_up" and int(vote[3]) == int(vote[2]) + 5
    # The row is the new copy; its review time, product and id are the first copy's.
    flipped = ",".join(f"'{r}'" for r in sorted(changed["flipped"]))
    now = q(db_url, "SELECT external_id, label, text, content_hash, developer_response IS NOT "
                    "NULL, reviewed_at, product_id, id FROM reviews WHERE external_id IN "
                    f"({flipped}) ORDER BY external_id")
    for ext, label, text, digest, answered, reviewed_at, product_id, rid in now:
        assert label == 1 and answered and text.endswith("EDIT: fixed, thanks devs.")
        assert digest == hashlib.sha256(text.encode()).hexdigest()
        assert (reviewed_at, product_id, rid) == before[ext][1:]
    assert q(db_url, "SELECT count(*), count(DISTINCT external_id) FROM reviews") == [(64, 64)]

    # The same snapshot again: nothing changes, nothing is recorded.
    out = ok(invoke("ingest", "--format", "steam", "--source", str(snap2)))
    assert "inserted 0" in out and "updated" not in out
    assert history(db_url) == rows
    details = q(db_url, "SELECT details FROM ingest_runs ORDER BY id")
    assert [json.loads(d[0])["updated"] for d in details] == [0, 7, 0]


def test_a_text_edit_is_scored_again_by_the_next_score(invoke, db_path, tmp_path):
    snap1, snap2, changed, _ = snapshots(tmp_path)
    ok(invoke("ingest", "--format", "steam", "--source", str(snap1)))
    ok(invoke("train", "tfidf-lr", "--train-dataset", "steam"))
    assert "scored 60 reviews" in ok(invoke("score", "--model", "tfidf-lr", "--dataset", "steam",
                                            "--split", "all"))
    ok(invoke("ingest", "--format", "steam", "--source", str(snap2)))
    flipped = ",".join(f"'{r}'" for r in changed["flipped"])
    assert q(db_path, "SELECT count(*) FROM predictions p JOIN reviews r ON r.id = p.review_id "
                      f"WHERE r.external_id IN ({flipped})") == [(0,)]
    assert q(db_path, "SELECT count(*) FROM predictions") == [(57,)]  # the others are kept
    out = ok(invoke("score", "--model", "tfidf-lr", "--dataset", "steam", "--split", "all"))
    assert "scored 7 reviews" in out  # the 3 new texts and the 4 new reviews
    assert "57 already done" in out


def test_a_review_repeated_in_the_source_keeps_its_first_copy(db_url, tmp_path):
    """Across batches too: otherwise each ingest of the source would flip the row twice."""
    from asaas.ingest import IngestOptions, ingest
    from asaas.store import open_store

    first = synthetic_records(20, seed=2)
    write_pages(tmp_path / "a", first)
    store = open_store(db_url)
    ingest(store, str(tmp_path / "a"), IngestOptions(format="steam"))
    copy_a, copy_b = dict(first[5], votes_up=100), dict(first[5], votes_up=200)
    rest = [r for r in first if r is not first[5]]
    write_pages(tmp_path / "b", [copy_a, *rest[:10], copy_b, *rest[10:]], per_page=4)
    for _ in range(2):
        report = ingest(store, str(tmp_path / "b"), IngestOptions(format="steam", batch_rows=3))
        assert report.already_present == 21 and report.skipped == {}
    assert [r[1:4] for r in history(db_url)] == [("votes_up", str(first[5]["votes_up"]),
                                                  "100")]
    assert q(db_url, "SELECT votes_up FROM reviews WHERE external_id = "
                     f"'{first[5]['recommendationid']}'") == [(100,)]
    store.engine.dispose()


def test_a_source_without_a_field_leaves_it_alone(invoke, db_path, tmp_path):
    """A CSV with ids, texts and labels says nothing about votes or developer answers."""
    snap1, snap2, _, _ = snapshots(tmp_path)
    ok(invoke("ingest", "--format", "steam", "--source", str(snap2)))
    answered = q(db_path, "SELECT count(developer_response), sum(votes_up) FROM reviews")
    csv = tmp_path / "same.csv"
    rows = q(db_path, "SELECT external_id, text, label FROM reviews ORDER BY id")
    import csv as csv_module

    with open(csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv_module.writer(fh)
        writer.writerow(["id", "text", "label"])
        writer.writerows(rows)
    out = ok(invoke("ingest", "--source", str(csv), "--dataset", "steam"))
    assert "already present 64" in out and "updated" not in out
    assert q(db_path, "SELECT count(developer_response), sum(votes_up) FROM reviews") == answered
    assert q(db_path, "SELECT count(*) FROM review_history") == [(0,)]


def _state(db) -> list[tuple]:
    return q(db, "SELECT external_id, label, text, content_hash, developer_response, "
                 "developer_responded_at, review_updated_at, votes_up FROM reviews "
                 "ORDER BY external_id")


def test_a_failed_run_puts_back_what_it_changed(db_path, tmp_path, monkeypatch):
    """DuckDB commits in chunks: a run that fails after a chunk of updates was committed puts
    the changed fields back from its history rows, then deletes them and its new reviews."""
    import asaas.ingest.run as module
    from asaas.ingest import IngestOptions
    from asaas.store import open_store

    snap1, snap2, _, _ = snapshots(tmp_path, new=40)
    store = open_store(str(db_path))
    module.ingest(store, str(snap1), IngestOptions(format="steam"))
    before = _state(db_path)
    monkeypatch.setattr(module, "DUCKDB_COMMIT_ROWS", 10)
    real, calls, seen = module.Validator.prepare, {"n": 0}, []

    def fail_late(self, raw):
        calls["n"] += 1
        if calls["n"] == 4:
            seen.append(q(db_path, "SELECT count(*) FROM review_history")[0][0])
            raise RuntimeError("disk full")
        return real(self, raw)

    monkeypatch.setattr(module.Validator, "prepare", fail_late)
    with pytest.raises(RuntimeError):
        module.ingest(store, str(snap2), IngestOptions(format="steam", batch_rows=10))
    assert seen == [22]  # the changes were committed (and readable) before the failure
    assert _state(db_path) == before
    assert q(db_path, "SELECT count(*) FROM review_history") == [(0,)]
    assert q(db_path, "SELECT status FROM ingest_runs ORDER BY id") == [("succeeded",),
                                                                        ("failed",)]
    monkeypatch.setattr(module.Validator, "prepare", real)
    report = module.ingest(store, str(snap2), IngestOptions(format="steam", batch_rows=10))
    assert (report.inserted, report.updated) == (40, 7)
    assert q(db_path, "SELECT count(*) FROM review_history") == [(22,)]
    store.engine.dispose()


def test_a_killed_run_is_put_back_by_the_next_ingest(db_path, tmp_path):
    """SIGKILL after chunks with updates were committed: the next ingest of the dataset puts the
    changed fields back and removes the run's history and reviews before it starts."""
    from asaas.ingest import IngestOptions
    from asaas.ingest.run import ingest, undo_dead_runs
    from asaas.store import open_store

    snap1, snap2, _, _ = snapshots(tmp_path, new=40)
    store = open_store(str(db_path))
    ingest(store, str(snap1), IngestOptions(format="steam"))
    store.engine.dispose()
    before = _state(db_path)
    script = tmp_path / "slow_ingest.py"
    script.write_text(textwrap.dedent(f"""
        import time
        import asaas.ingest.run as module
        from asaas.ingest import IngestOptions
        from asaas.store import open_store
        module.DUCKDB_COMMIT_ROWS = 10
        real = module.Validator.prepare
        def slow(self, *a, **k):
            time.sleep(0.4)  # outside any transaction: the poller gets the file
            return real(self, *a, **k)
        module.Validator.prepare = slow
        module.ingest(open_store({str(db_path)!r}), {str(snap2)!r},
                      IngestOptions(format="steam", batch_rows=10))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], env=dict(os.environ))
    deadline, changes = time.time() + 90, 0
    try:
        while time.time() < deadline and not changes:
            time.sleep(0.2)
            try:
                changes = q(db_path, "SELECT count(*) FROM review_history")[0][0]
            except (duckdb.IOException, duckdb.CatalogException):
                continue
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert changes == 22 and _state(db_path) != before
    store = open_store(str(db_path))
    undo_dead_runs(store, "steam")
    assert _state(db_path) == before
    assert q(db_path, "SELECT count(*) FROM review_history") == [(0,)]
    assert q(db_path, "SELECT status FROM ingest_runs ORDER BY id") == [("succeeded",),
                                                                        ("interrupted",)]
    report = ingest(store, str(snap2), IngestOptions(format="steam"))
    assert (report.inserted, report.updated) == (40, 7)
    store.engine.dispose()


def test_0008_clears_response_times_of_1970(db_url):
    """Steam's 0 ("no response") was stored as a 1970 answer; 0008 clears those, ingest reads 0
    as none, so the next re-ingest records no change from 1970 to none."""
    import sqlalchemy as sa

    from asaas.store import Store

    store = Store(db_url)
    store.upgrade("0007")
    with store.transaction() as conn:
        conn.execute(sa.text("INSERT INTO ingest_runs (dataset, source, status, started_at) "
                             "VALUES ('steam', 'x', 'succeeded', now())"))
        for ext, at in (("1", "1970-01-01 00:00:00"), ("2", "2018-03-05 08:30:00")):
            conn.execute(sa.text(
                "INSERT INTO reviews (dataset, external_id, split, text, label, content_hash, "
                "developer_response, developer_responded_at, ingest_run_id) SELECT 'steam', "
                f":e, 'train', 'x', 0, 'h', 'ok', CAST(:at AS TIMESTAMP), id FROM ingest_runs"),
                {"e": ext, "at": at})
    store.upgrade()
    assert [(e, str(t)) for e, t in q(db_url, "SELECT external_id, developer_responded_at "
                                              "FROM reviews ORDER BY 1")] == [
        ("1", "None"), ("2", "2018-03-05 08:30:00")]
    store.engine.dispose()


def test_vote_fields_are_checked(invoke, db_path, tmp_path):
    """Counts are whole numbers as the store gives them (Steam gives a few reviews -1 funny
    votes); a count that is not a number rejects the review with its reason."""
    records = synthetic_records(3, seed=4)
    records[0]["votes_funny"] = -1
    records[1]["votes_up"] = "many"
    records[2]["weighted_vote_score"] = "0.5x"
    out = ok(invoke("ingest", "--format", "steam", "--source",
                    str(write_pages(tmp_path / "p", records))))
    assert "inserted 1" in out
    assert "rejected 1: votes up is not a whole number" in out
    assert "rejected 1: weighted vote score is not a number" in out
    assert q(db_path, "SELECT votes_funny FROM reviews") == [(-1,)]
