"""The step kinds of job files (asaas/jobs/steps.py) at work: an ingest step takes every option of
`asaas ingest`, checked when the job file is loaded, so a nightly job can ingest new Steam
reviews; `events` and `alerts` steps refresh the events and write the alert tables."""

from __future__ import annotations

import io
import json
import textwrap
from datetime import datetime, timedelta

import pytest

from asaas.jobs import EXIT_BAD_JOB, EXIT_OK, run_job
from tests.events_alerts_data import Review, daily_series, write_reviews
from tests.helpers import q

T0 = 1_500_000_000
DAY0 = datetime(2020, 1, 1)


def _pages(folder, first_id, n, appid=2310):
    folder.mkdir(exist_ok=True)
    (folder / f"review_{appid}.json").write_text(json.dumps({"success": 1, "reviews": [
        {"recommendationid": str(first_id + i), "review": f"review {first_id + i}",
         "voted_up": i % 3 != 0, "timestamp_created": T0 + (i - n // 2) * 86_400,
         "language": "english"} for i in range(n)]}), encoding="utf-8")


def _job(tmp_path, db_path, step: str):
    job = tmp_path / "jobs" / "steam.toml"
    job.parent.mkdir(exist_ok=True)
    job.write_text(f'name = "steam"\ndb = "{db_path}"\n\n[[steps]]\nkind = "ingest"\n'
                   + textwrap.dedent(step))
    return job


def test_nightly_steam_ingest(tmp_path, db_path):
    _pages(tmp_path / "new", 100, 6)
    job = _job(tmp_path, db_path, """
        source = "../new"
        format = "steam"
        split_before = 2017-07-14
    """)
    log = io.StringIO()
    assert run_job(job, stream=log) == EXIT_OK, log.getvalue()
    assert '"by_split": {"test": 3, "train": 3}' in log.getvalue()
    assert '"products_created": 1' in log.getvalue()
    _pages(tmp_path / "new", 103, 6)  # the next night's pages overlap the last three
    assert run_job(job, stream=log) == EXIT_OK, log.getvalue()
    assert q(db_path, "SELECT count(*), count(DISTINCT product_id), min(dataset) FROM reviews"
             ) == [(9, 1, "steam")]
    steps = json.loads(q(db_path, "SELECT steps FROM job_runs ORDER BY id DESC LIMIT 1")[0][0])
    assert steps[0]["counts"]["inserted"] == 3 and steps[0]["counts"]["already_present"] == 3


def test_label_map_as_a_table_and_columns(tmp_path, db_path):
    (tmp_path / "bombs.csv").write_text(
        "id,game,review,combined_rating,created_at\n"
        "1,Skyrim,greed,Nicht empfohlen,24.04.2015 17:51:10\n"
        "2,Skyrim,great,Empfohlen,25.04.2015 20:35:05\n", encoding="utf-8")
    job = _job(tmp_path, db_path, """
        source = "../bombs.csv"
        dataset = "steam-bombs"
        text_column = "review"
        label_column = "combined_rating"
        product_column = "game"
        time_column = "created_at"
        time_format = "%d.%m.%Y %H:%M:%S"
        label_map = {Empfohlen = 1, "Nicht empfohlen" = 0}
    """)
    log = io.StringIO()
    assert run_job(job, stream=log) == EXIT_OK, log.getvalue()
    assert q(db_path, "SELECT external_id, label, reviewed_at::VARCHAR FROM reviews ORDER BY 1"
             ) == [("1", 0, "2015-04-24 17:51:10"), ("2", 1, "2015-04-25 20:35:05")]


@pytest.mark.parametrize("step,fragment", [
    ('source = "x"\nlabel_mapp = "a=1"', "unknown key 'label_mapp'"),
    ('source = "x"\nlabel_map = "Empfohlen"', "label_map entry 'Empfohlen' has no '='"),
    ('source = "x"\nsplit_before = "July"', "split_before 'July' is not a date"),
    ('source = "x"\nformat = "metacritic"', "format 'metacritic' is not known"),
    ('source = "x"\ndataset = 7', "dataset must be a string"),
    ('source = "x"\nsplits = "train"', "splits must be a list"),
    ('source = "x"\nmax_review_chars = "big"', "max_review_chars must be a whole number"),
])
def test_bad_ingest_steps_are_refused_when_loading(tmp_path, db_path, step, fragment):
    job = _job(tmp_path, db_path, step)
    log = io.StringIO()
    assert run_job(job, stream=log) == EXIT_BAD_JOB
    assert fragment in log.getvalue() and "(ingest)" in log.getvalue()
    assert not db_path.exists()


def test_flags_and_job_keys_build_the_same_options(invoke, monkeypatch):
    """`asaas ingest`'s flags and an ingest step's keys go through IngestOptions.from_values:
    the same values give equal options, and no values give the dataclass defaults."""
    import asaas.ingest
    from asaas.errors import AsaasError
    from asaas.ingest.options import IngestOptions, options_from_job

    seen = []

    def capture(store, source, options):
        seen.append(options)
        raise AsaasError("captured")

    monkeypatch.setattr(asaas.ingest, "ingest", capture)
    invoke("ingest", "--source", "x")
    invoke("ingest", "--source", "x", "--split", "train,test", "--dataset", "bombs",
           "--format", "steam", "--label-map", "Empfohlen=1,Nicht empfohlen=0",
           "--time-format", "%d.%m.%Y", "--split-before", "2017-07-01", "--product-kind",
           "app", "--max-review-chars", "500", "--default-split", "dev",
           "--text-column", "body", "--developer-response-column", "reply")
    step = {"kind": "ingest", "source": "x", "splits": ["train", "test"], "dataset": "bombs",
            "format": "steam", "label_map": {"Empfohlen": 1, "Nicht empfohlen": 0},
            "time_format": "%d.%m.%Y", "split_before": "2017-07-01", "product_kind": "app",
            "max_review_chars": 500, "default_split": "dev", "text_column": "body",
            "developer_response_column": "reply"}
    assert seen == [options_from_job({"kind": "ingest", "source": "x"}), options_from_job(step)]
    assert seen[0] == IngestOptions()
    assert seen[1].columns.developer_response == "reply" and seen[1].split_before.year == 2017


# -- events and alerts steps ----------------------------------------------------------------------


def _timeline_job(tmp_path, db, steps: str):
    path = tmp_path / "jobs" / "timeline.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'name = "timeline"\ndb = "{db}"\n' + textwrap.dedent(steps),
                    encoding="utf-8")
    return path


def test_events_and_alerts_steps(tmp_path, db_path, capsys):
    rows = daily_series("100", DAY0, [20] * 120, [0.05] * 120, exact=True)
    rows += [Review("100", DAY0 + timedelta(days=90, minutes=j), 0, text="paid mods greed")
             for j in range(60)]
    rows += [Review("100", DAY0 + timedelta(days=i), 1, early_access=i < 50) for i in range(120)]
    write_reviews(db_path, rows)
    steps = """
        [[steps]]
        kind = "events"
        dataset = "steam"
    """
    for table, fmt in (("alerts", "json"), ("responsiveness", "csv"), ("recoveries", "markdown"),
                       ("effects", "json")):
        steps += f"""
        [[steps]]
        kind = "alerts"
        table = "{table}"
        format = "{fmt}"
        path = "out/{table}.{fmt}"
        kinds = ["negative"]
        source = "labels"
        """
    job = _timeline_job(tmp_path, db_path, steps)
    assert run_job(job) == 0
    assert q(db_path, "SELECT kind, source FROM events") == [("full_release", "derived")]
    out = tmp_path / "jobs" / "out"
    alerts = json.loads((out / "alerts.json").read_text())
    assert [a["alert_id"] for a in alerts] == ["negative:100:2020-03-31"]
    assert (out / "responsiveness.csv").read_text().splitlines()[0].startswith("rank,product")
    assert "negative:100:2020-03-31" in (out / "recoveries.markdown").read_text()
    effects = json.loads((out / "effects.json").read_text())
    assert [e["kind"] for e in effects] == ["full_release"]
    steps_logged = json.loads(q(db_path, "SELECT steps FROM job_runs")[0][0])
    assert [s["kind"] for s in steps_logged] == ["events", "alerts", "alerts", "alerts",
                                                 "alerts"]
    assert steps_logged[0]["counts"]["new"] == {"full_release": 1, "first_response": 0}
    assert run_job(job) == 0  # a second night: nothing new
    assert q(db_path, "SELECT count(*) FROM events") == [(1,)]


@pytest.mark.parametrize("step, fragment", [
    ('kind = "alerts"\n', 'needs path = "FILE"'),
    ('kind = "alerts"\npath = "a.md"\ntable = "bombs"\n', "table 'bombs' is not known"),
    ('kind = "alerts"\npath = "a.md"\nformat = "html"\n', "format 'html' is not known"),
])
def test_bad_alert_steps(tmp_path, db_path, capsys, step, fragment):
    job = _timeline_job(tmp_path, db_path, "[[steps]]\n" + step)
    assert run_job(job) == EXIT_BAD_JOB
    assert fragment in capsys.readouterr().err


def test_a_bad_source_fails_the_step(tmp_path, db_path, capsys):
    write_reviews(db_path, [Review("100", DAY0, 1)])
    job = _timeline_job(tmp_path, db_path, '[[steps]]\nkind = "alerts"\npath = "a.md"\n'
                                           'source = "nomodel"\n')
    assert run_job(job) == 1
    assert "no model named 'nomodel'" in capsys.readouterr().err
