"""A mistyped --db never leaves a database behind (issue 21, item 5): a write command that fails
removes the DuckDB file it created; one that succeeds keeps it, and a failing command never
touches a database that was there before."""

from __future__ import annotations

import pytest

from tests.helpers import err, ok


@pytest.mark.parametrize("args, message", [
    (["score", "--model", "tfidf-lr"], "no model named 'tfidf-lr'"),
    (["ingest", "--source", "missing-folder"], "missing-folder"),
    (["train", "tfidf-lr"], "no labelled train reviews"),
    (["events", "add", "440650", "--at", "2017-09-21", "--kind", "patch", "--title", "x"],
     "unknown product"),
])
def test_a_failing_command_leaves_no_new_database(invoke, tmp_path, args, message):
    typo = tmp_path / "asaas.duckbd"
    out = err(invoke(*args, "--db", str(typo)))
    assert message in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [], out  # no file, no .wal


def test_a_new_database_stays_when_the_command_succeeds(invoke, tmp_path, learnable_source):
    new = tmp_path / "new.duckdb"
    ok(invoke("ingest", "--source", str(learnable_source(20, 10)), "--db", str(new)))
    assert new.is_file()
    # A failing command on a database that was there before leaves it as it was.
    assert "no model named" in err(invoke("score", "--model", "nope", "--db", str(new)))
    assert new.is_file()
    assert "read 30 rows" in ok(invoke("ingest", "--source", str(learnable_source(20, 10)),
                                       "--db", str(new)))
