"""`asaas report`, `asaas disagreements`, `asaas sql` and the HTML report (in real Chromium)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests import chromium
from tests.helpers import err as _err
from tests.helpers import ok as _ok


@pytest.fixture
def two_models(invoke, learnable_source):
    _ok(invoke("ingest", "--source", str(learnable_source(300, 200))))
    for kind in ("tfidf-lr", "bow-rf"):
        _ok(invoke("train", kind))
        _ok(invoke("score", "--model", kind, "--quiet"))


def test_report_formats(invoke, two_models):
    table = _ok(invoke("report"))
    assert table.splitlines()[0].split()[:6] == ["model", "version", "scoring", "split", "n",
                                                  "coverage"]
    assert "tfidf-lr" in table and "bow-rf" in table
    built = json.loads(_ok(invoke("report", "--format", "json")))
    rows = built["metrics"]
    assert {r["model"] for r in rows} == {"tfidf-lr", "bow-rf"}
    assert [(p["model_label_a"], p["model_label_b"]) for p in built["pairs"]] in (
        [("tfidf-lr v1", "bow-rf v1")], [("bow-rf v1", "tfidf-lr v1")])
    assert all(r["n"] == 200 and 0 <= r["accuracy"] <= 1 for r in rows)
    parsed = list(csv.DictReader(io.StringIO(_ok(invoke("report", "--format", "csv")))))
    assert len(parsed) == 2 and "roc_auc_ci_low" in parsed[0]
    md = _ok(invoke("report", "--format", "markdown", "--model", "bow-rf"))
    assert md.startswith("| model |") and "tfidf-lr" not in md
    assert "no predictions" in _ok(invoke("report", "--split", "train"))
    assert "unknown model nope" in _err(invoke("report", "--model", "nope"))


def test_report_numbers_match_the_view(invoke, two_models, db_path):
    import duckdb

    rows = json.loads(_ok(invoke("report", "--format", "json", "--model", "tfidf-lr")))["metrics"]
    con = duckdb.connect(str(db_path), read_only=True)
    acc = con.execute("SELECT avg((p.label = r.label)::INT) FROM predictions p JOIN reviews r "
                      "ON r.id = p.review_id JOIN model_versions v ON v.id = p.model_version_id "
                      "JOIN models m ON m.id = v.model_id WHERE m.name = 'tfidf-lr'").fetchone()[0]
    con.close()
    assert rows[0]["accuracy"] == pytest.approx(acc, abs=1e-12)


def _json(result):
    """The JSON a command printed on stdout (notes go to stderr)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_disagreements(invoke, two_models, tiny_bert, db_path):
    """Against a model that really disagrees (a random tiny transformer), so every assertion
    below has rows to check; the counts are recomputed from the predictions table."""
    from tests.helpers import q

    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert), "--max-length", "64"))
    _ok(invoke("score", "--model", "tiny", "--quiet"))
    pairs = q(db_path, """
        SELECT p.review_id, p.label, r.label, m.name FROM predictions p
        JOIN reviews r ON r.id = p.review_id JOIN model_versions v ON v.id = p.model_version_id
        JOIN models m ON m.id = v.model_id WHERE r.split = 'test'""")
    by_review: dict = {}
    for review_id, label, truth, name in pairs:
        by_review.setdefault(review_id, {"truth": truth})[name] = label
    differ = {k: v for k, v in by_review.items() if v["tfidf-lr"] != v["tiny"]}
    tiny_wrong = {k for k, v in differ.items() if v["tiny"] != v["truth"]}
    assert 10 <= len(differ) < len(by_review) and tiny_wrong  # both sides have cases

    rows = _json(invoke("disagreements", "tfidf-lr", "tiny", "--format", "json",
                                 "--limit", "1000"))
    assert {r["review_id"] for r in rows} == set(differ)
    for r in rows:
        assert r["label_a"] != r["label_b"]
        assert r["right_model"] == ("tfidf-lr v1" if r["label_a"] == r["y_true"] else "tiny v1")
    top = _json(invoke("disagreements", "tfidf-lr", "tiny", "--format", "json",
                                "--limit", "5"))
    gaps = [abs(r["score_a"] - r["score_b"]) for r in top]
    assert len(top) == 5 and gaps == sorted(gaps, reverse=True)  # most confident first
    wrong = _json(invoke("disagreements", "tiny:1", "tfidf-lr", "--wrong-only",
                                  "--format", "json", "--limit", "1000"))
    assert {r["review_id"] for r in wrong} == tiny_wrong
    assert all(r["label_a"] != r["y_true"] for r in wrong)
    assert "NAME:VERSION" in _err(invoke("disagreements", "tfidf-lr:x", "bow-rf"))
    assert "no model named 'nope'" in _err(invoke("disagreements", "tfidf-lr", "nope"))
    # A version that does not exist is the same error `score --version` gives, not "none".
    assert "no version 7" in _err(invoke("disagreements", "tfidf-lr:7", "bow-rf"))

    # Snippets are readable lines: IMDB's <br /> tags become spaces.
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute("UPDATE reviews SET text = 'first<br /><br />second<br />third ' || text")
    con.close()
    rows = _json(invoke("disagreements", "tfidf-lr", "tiny", "--format", "json"))
    assert rows and all(r["snippet"].startswith("first second third ") for r in rows)
    assert not any("<br" in r["snippet"] for r in rows)


def test_numbers_and_nested_json_are_readable(invoke, two_models):
    from asaas.tables import format_cell

    # Tiny values (p-values) keep their magnitude instead of printing as 0.0000.
    assert [format_cell(v) for v in (3.2e-07, 0.0, 0.25, -2e-05)] == [
        "3.2e-07", "0.0000", "0.2500", "-2.0e-05"]
    out = _ok(invoke("sql", "SELECT 3.2e-7::DOUBLE AS p_value, 0.25::DOUBLE AS share"))
    assert "3.2e-07" in out and "0.0000" not in out
    # JSON held in text columns is nested in JSON output, not a string of JSON.
    rows = json.loads(_ok(invoke("sql", "SELECT params FROM model_versions", "--format", "json")))
    assert rows and all(isinstance(r["params"], dict) for r in rows)


def test_sql_is_read_only(invoke, two_models):
    out = _ok(invoke("sql", "SELECT count(*) AS n FROM predictions", "--format", "csv"))
    assert out.strip().splitlines() == ["n", "400"]
    out = _ok(invoke("sql", "SELECT model, accuracy FROM latest_metrics ORDER BY model",
                     "--format", "json"))
    assert [r["model"] for r in json.loads(out)] == ["bow-rf", "tfidf-lr"]
    assert "read-only" in _err(invoke("sql", "DELETE FROM predictions"))
    assert "SQL error" in _err(invoke("sql", "SELEC 1"))
    assert _ok(invoke("sql", "SELECT count(*) FROM predictions", "--format", "csv")
               ).strip().endswith("400")


def test_views_install_command(invoke, two_models):
    out = _ok(invoke("views", "install"))
    assert "installed" in out and "metrics" in out and "mcnemar" in out


def test_html_report_renders_in_chromium(invoke, two_models, tmp_path):
    target = tmp_path / "report.html"
    _ok(invoke("report", "--html", str(target)))
    page = target.read_text(encoding="utf-8")
    assert page.count('<svg class="plot"') == 5  # ROC, PR, reliability + 2 confusion matrices
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert chromium.title(target) == "asaas report: 5 plots rendered"
    chromium.screenshot(target, "report")


def test_html_report_without_predictions(invoke, tmp_path):
    _ok(invoke("db", "upgrade"))  # an empty asaas database: read commands never create one
    assert "run `asaas score`" in _err(invoke("report", "--html", str(tmp_path / "r.html")))


def test_partial_runs_are_flagged_and_comparisons_use_shared_reviews(invoke, learnable_source,
                                                                     tmp_path):
    """A version that scored only part of the split says so in every report, and comparisons
    between versions count only the reviews both scored."""
    _ok(invoke("ingest", "--source", str(learnable_source(300, 200))))
    for kind in ("tfidf-lr", "bow-rf"):
        _ok(invoke("train", kind))
    _ok(invoke("score", "--model", "tfidf-lr", "--quiet"))
    _ok(invoke("score", "--model", "bow-rf", "--quiet", "--max-reviews", "80"))
    rows = {r["model"]: r for r in
            json.loads(_ok(invoke("report", "--format", "json")))["metrics"]}
    assert rows["tfidf-lr"]["complete"] is True and rows["tfidf-lr"]["coverage"] == 1.0
    assert rows["bow-rf"]["complete"] is False and rows["bow-rf"]["n"] == 80
    assert rows["bow-rf"]["n_labelled"] == 200 and rows["bow-rf"]["coverage"] == 0.4
    assert "incomplete: 80 of 200 scored" in rows["bow-rf"]["note"]
    table = _ok(invoke("report", "--html", str(tmp_path / "r.html")))
    assert "incomplete: 80 of 200" in table and "paired on the reviews both" in table
    assert "incomplete: 80 of 200" in (tmp_path / "r.html").read_text()
    pair = [line for line in table.splitlines() if line.startswith(("tfidf-lr v1", "bow-rf v1"))]
    assert len(pair) == 1 and " 80 " in pair[0]  # n_shared: the 80 both scored
    out = invoke("disagreements", "tfidf-lr", "bow-rf", "--format", "json")
    assert out.exit_code == 0
    assert "compared on the 80 imdb/test reviews both scored" in out.stderr
    assert all(r["label_a"] != r["label_b"] for r in json.loads(out.stdout))
    # Training data is marked, so a perfect score on it is not mistaken for skill.
    _ok(invoke("score", "--model", "bow-rf", "--split", "train", "--quiet"))
    train = json.loads(_ok(invoke("report", "--split", "train", "--format", "json")))["metrics"]
    assert train[0]["trained_on_split"] is True and "trained on this split" in train[0]["note"]


# -- one report in every format, from the command line and from a job ---------------------------


@pytest.fixture
def partial_models(invoke, learnable_source):
    """Two versions, one of which scored 80 of the 200 test reviews: a note and a pair."""
    _ok(invoke("ingest", "--source", str(learnable_source(300, 200))))
    for kind in ("tfidf-lr", "bow-rf"):
        _ok(invoke("train", kind))
    _ok(invoke("score", "--model", "tfidf-lr", "--quiet"))
    _ok(invoke("score", "--model", "bow-rf", "--quiet", "--max-reviews", "80"))


def test_a_jobs_reports_keep_the_notes_and_pairs(invoke, partial_models, db_path, tmp_path):
    """Issue 21, item 3: the nightly job's markdown and HTML reports are `asaas report`'s, with
    the `note` column and the McNemar pairs, and so are its csv and json."""
    from asaas.jobs import run_job

    job = tmp_path / "jobs" / "reports.toml"
    job.parent.mkdir()
    job.write_text(f'name = "reports"\ndb = "{db_path}"\n' + "".join(
        f'[[steps]]\nkind = "report"\npath = "out/report.{ext}"\nformat = "{fmt}"\n'
        for fmt, ext in (("markdown", "md"), ("html", "html"), ("json", "json"),
                         ("csv", "csv"), ("table", "txt"))), encoding="utf-8")
    assert run_job(job) == 0
    out = job.parent / "out"
    for fmt, ext in (("markdown", "md"), ("json", "json"), ("csv", "csv"), ("table", "txt")):
        printed = _ok(invoke("report", "--format", fmt))
        assert (out / f"report.{ext}").read_text(encoding="utf-8") == printed, fmt
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| note |" in markdown and "incomplete: 80 of 200 scored" in markdown
    assert "paired on the reviews both versions scored" in markdown
    assert "| model_label_a |" in markdown and "McNemar" in markdown
    built = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert built["pairs"] and built["pairs"][0]["n_shared"] == 80
    assert any("incomplete: 80 of 200" in r["note"] for r in built["metrics"])
    assert "incomplete: 80 of 200" in (out / "report.csv").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "incomplete: 80 of 200 scored" in page and "Paired comparisons" in page
    assert "<th>n_\u200bshared</th>" in page and "<th>p_\u200bvalue</th>" in page
    # The page the command writes is the job's (but for the time it was generated).
    _ok(invoke("report", "--html", str(tmp_path / "cli.html")))
    strip = lambda text: re.sub(r"generated [^;]*? by", "", text)  # noqa: E731
    assert strip((tmp_path / "cli.html").read_text(encoding="utf-8")) == strip(page)


def test_the_html_report_fits_a_laptop_screen(invoke, partial_models, tmp_path):
    """At 1400 pixels the metric table, its notes included, is on screen (it overflowed with
    the notes off to the right), and the pairs have their section."""
    target = tmp_path / "report.html"
    _ok(invoke("report", "--html", str(target)))
    probe = """(function () {
      var notes = Array.prototype.map.call(document.querySelectorAll('td.wrap'), function (td) {
        return td.getBoundingClientRect().right; });
      return {window: window.innerWidth, page: document.documentElement.scrollWidth,
              notes: notes, tables: document.querySelectorAll('table').length}; })()"""
    title, seen = chromium.load(target, probe, width=1400)
    assert title == "asaas report: 5 plots rendered"
    assert seen["page"] <= seen["window"] and seen["tables"] == 2
    assert len(seen["notes"]) == 2 and max(seen["notes"]) <= seen["window"]
    chromium.screenshot(target, "report-1400")


def test_a_long_note_is_printed_whole():
    """format_table cuts cells at 80 characters; a report's warning must not be cut."""
    from asaas.report import Report, format_report
    from asaas.tables import Table

    note = ("incomplete: 1,000 of 25,000 scored (4%, a pseudo-random sample); no positive "
            "predictions: precision is undefined")
    report = Report(Table(["model", "n", "note"], [("m", 1000, note)]), Table(["p_value"], []),
                    "test", "imdb")
    for fmt in ("table", "markdown", "csv"):
        assert note in format_report(report, fmt), fmt
