"""Reading a job file (asaas/jobs/loading.py): its name, numbers and every step's keys are checked
into the step's typed options when the file is loaded, before the database is opened."""

from __future__ import annotations

import pytest

from asaas.jobs import EXIT_BAD_JOB, load_job, run_job
from tests.helpers import job_file


@pytest.mark.parametrize("name", ["../../x", "a/b", ".hidden", "x" * 200, "night ly"])
def test_job_names_are_validated(tmp_path, capsys, name):
    job = job_file(tmp_path, f"""
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
    job = job_file(tmp_path, f"""
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
    job = job_file(tmp_path, f"[[steps]]\n{step}\n")
    assert run_job(job) == EXIT_BAD_JOB
    out = capsys.readouterr().err
    assert fragment in out and "step 1 of" in out, out
    assert not db_path.exists()


def test_steps_load_into_typed_options(tmp_path):
    from datetime import date

    from asaas.jobs.steps import AlertsStep, ReportStep, ScoreStep

    job = load_job(job_file(tmp_path, """
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
