"""No secrets in logs, errors or tables; one job lock whatever ASAAS_HOME says; job names and
numbers checked before anything runs (issue 12, items 4, 5 and 8)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from asaas.jobs import EXIT_BAD_JOB, EXIT_LOCKED, JobLock, load_job, lock_path, run_job
from asaas.store.urls import mask_secrets, redact
from tests.helpers import err

SECRET = "s3cr3t-Pa55"


def _job(tmp_path: Path, body: str, name: str = "nightly") -> Path:
    path = tmp_path / "jobs" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def _with_password(url: str) -> str:
    return url.replace("://asaas@", f"://asaas:{SECRET}@")


def test_job_log_and_job_runs_never_hold_the_password(pg_server, tmp_path, capsys):
    url = _with_password(pg_server())  # the test server trusts any password
    job = _job(tmp_path, """
        [[steps]]
        kind = "views"

        [[steps]]
        kind = "score"
        models = ["missing"]
    """)
    run_job(job, db_url=url)
    log = capsys.readouterr().err
    assert "job nightly started" in log and "***" in log
    assert SECRET not in log
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT job_file, error, steps FROM job_runs").fetchall()
    engine.dispose()
    assert rows and SECRET not in repr(rows)


@pytest.mark.parametrize("url", [
    f"postgresql://asaas:{SECRET}@localhost:notaport/db",
    f"postgresql+psycopg://asaas:{SECRET}@localhost:99999/db",
    f"postgresql://asaas:{SECRET}@/db?host=/nonexistent-socket-dir",
])
def test_bad_urls_are_reported_without_the_password(invoke, url, tmp_path, capsys):
    line = err(invoke("report", "--db", url))
    assert SECRET not in line and "Error: " in line
    job = _job(tmp_path, """
        [[steps]]
        kind = "views"
    """)
    run_job(job, db_url=url)
    assert SECRET not in capsys.readouterr().err


def test_mask_secrets_covers_urls_and_keyword_strings():
    text = (f"x postgresql://u:{SECRET}@h:5432/db y postgresql://u:{SECRET}@h:bad/db "
            f"host=h password={SECRET} user=u; mysql://root:{SECRET}@db")
    masked = mask_secrets(text)
    assert SECRET not in masked and masked.count("***") == 4
    assert SECRET not in redact(f"postgresql://u:{SECRET}@h:notaport/db")
    assert redact("duckdb:///asaas.duckdb") == "duckdb:///asaas.duckdb"


def test_lock_is_shared_whatever_asaas_home(tmp_path, monkeypatch, db_path, capsys):
    job = _job(tmp_path, f"""
        db = "{db_path}"

        [[steps]]
        kind = "views"
    """)
    monkeypatch.setenv("ASAAS_HOME", str(tmp_path / "home-manual"))
    held = JobLock(lock_path(load_job(job), str(db_path)))
    assert held.acquire()
    try:
        monkeypatch.setenv("ASAAS_HOME", str(tmp_path / "home-cron"))  # cron's environment
        monkeypatch.chdir(tmp_path)
        assert run_job(job) == EXIT_LOCKED
        assert "already running" in capsys.readouterr().err
        # The same database spelled another way is the same lock.
        assert run_job(job, db_url=f"duckdb:///{db_path}") == EXIT_LOCKED
    finally:
        held.release()
    assert run_job(job) == 0


def test_lock_differs_per_database(tmp_path, db_path):
    job = load_job(_job(tmp_path, """
        [[steps]]
        kind = "views"
    """))
    assert lock_path(job, str(db_path)) != lock_path(job, str(tmp_path / "other.duckdb"))


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "x" * 200, "night ly"])
def test_job_names_are_validated(tmp_path, capsys, name):
    job = _job(tmp_path, f"""
        name = "{name}"

        [[steps]]
        kind = "views"
    """, name="job")
    assert run_job(job) == EXIT_BAD_JOB
    assert "job name" in capsys.readouterr().err
    assert not (tmp_path / "x.lock").exists() and not list(tmp_path.rglob("x.lock"))


@pytest.mark.parametrize("field,value,fragment", [
    ("limit", "0", "limit"),
    ("limit", "-5", "limit"),
    ("limit", '"ten"', "limit"),
    ("max_reviews", "0", "max_reviews"),
    ("max_length", "2", "max_length"),
    ("progress_every_s", "-1", "progress_every_s"),
    ("progress_every_s", '"soon"', "progress_every_s"),
    ("limit", "true", "limit"),
])
def test_job_numbers_are_checked_before_anything_runs(tmp_path, capsys, db_path, field, value,
                                                      fragment):
    job = _job(tmp_path, f"""
        [[steps]]
        kind = "score"
        models = "all"
        {field} = {value}
    """)
    assert run_job(job) == EXIT_BAD_JOB
    out = capsys.readouterr().err
    assert fragment in out and "step 1" in out
    assert not db_path.exists()  # refused before the database was opened


@pytest.mark.parametrize("step,fragment", [
    ('kind = "score"\nbatchsize = 5', "(score): unknown key 'batchsize'; use models, engine"),
    ('kind = "score"\nmodels = ["tiny:x"]', "bad model reference 'tiny:x'"),
    ('kind = "score"\nmodels = []', 'models must be "all" or a list of models'),
    ('kind = "score"\nworkers = 2', 'workers is for the Ray engine: add engine = "ray"'),
    ('kind = "views"\npath = "x"', "(views): unknown key 'path'; it takes none"),
    ('kind = "report"\npath = "r.md"\nlatest = "yes"', "latest must be true or false"),
    ('kind = "report"\npath = "r.md"\nmodel = ["a"]', "unknown key 'model'"),
    ('kind = "events"\ndataset = ["steam"]', "dataset must be a string"),
    ('kind = "alerts"\npath = "a.md"\nsince = "July"', "since 'July' is not a date"),
    ('kind = "alerts"\npath = "a.md"\nkinds = ["bombs"]', "kinds 'bombs' is not known"),
    ('kind = "alerts"\npath = "a.md"\nwindow_days = 0', "window_days = 0 must be a whole"),
    ('kind = "alerts"\npath = 7', "path must be a string"),
])
def test_every_step_is_checked_into_its_options_when_loading(tmp_path, capsys, db_path, step,
                                                              fragment):
    """Each step kind's keys are its options' keys, checked before anything runs (exit 2):
    a misspelt key is no longer ignored, a bad reference or date no longer fails at night."""
    job = _job(tmp_path, f"[[steps]]\n{step}\n")
    assert run_job(job) == EXIT_BAD_JOB
    out = capsys.readouterr().err
    assert fragment in out and "step 1 of" in out, out
    assert not db_path.exists()


def test_steps_load_into_typed_options(tmp_path):
    from datetime import date

    from asaas.jobs.steps import AlertsStep, ReportStep, ScoreStep

    job = load_job(_job(tmp_path, """
        [[steps]]
        kind = "score"
        models = ["tiny:1", "other"]
        splits = ["all"]
        engine = "ray"
        workers = 2
        gpus_per_worker = 1

        [[steps]]
        kind = "report"
        path = "r.md"
        models = ["tiny"]

        [[steps]]
        kind = "alerts"
        path = "a.md"
        since = "2018-01-01T23:30:00-02:00"
    """))
    score, report, alerts = (s.options for s in job.steps)
    assert isinstance(score, ScoreStep) and score.models == ["tiny:1", "other"]
    assert score.run.options.splits is None and score.run.ray.gpus_per_worker == 1.0
    assert score.run.options.progress_every_s == 60.0
    assert isinstance(report, ReportStep) and report.report.query()["models"] == ["tiny"]
    assert report.format == "markdown" and report.report.dataset == "imdb"
    assert isinstance(alerts, AlertsStep) and alerts.since == date(2018, 1, 2)  # in UTC
