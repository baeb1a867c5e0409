"""Running a job (asaas/jobs/runner.py): end to end on both engines, a failing step or a missing
model stops it (the models are checked before any step), an overlapping run is refused while
readers keep answering, a SIGKILLed run is finished by the next, long steps log progress."""

from __future__ import annotations

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

from asaas.jobs import EXIT_BAD_JOB, EXIT_LOCKED, EXIT_STEP_FAILED, run_job
from tests.helpers import q as _q

SLOW_JOB = """
import dataclasses, sys, time
import asaas.scoring as scoring
import asaas.scoring.engine as engine
from asaas.jobs import run_job
real = scoring.HFScorer.run
def slow(self, enc):
    time.sleep(0.25)
    return real(self, enc)
scoring.HFScorer.run = slow
real_score = engine._score
def small_commits(store, mv, options, **kw):  # every chunk of 5 committed as it is scored
    return real_score(store, mv, dataclasses.replace(options, chunk_size=5, commit_every_s=0.0),
                      **kw)
engine._score = small_commits
sys.exit(run_job(sys.argv[1]))
"""


def _start_slow_job(tmp_path: Path, job: Path) -> subprocess.Popen:
    script = tmp_path / "slow_job.py"
    script.write_text(SLOW_JOB)
    return subprocess.Popen([sys.executable, str(script), str(job)], env=dict(os.environ),
                            stderr=subprocess.PIPE, text=True)


def _wait_for_predictions(db_path, at_least: int, timeout: float = 60.0) -> int:
    deadline = time.time() + timeout
    seen = 0
    while time.time() < deadline and seen < at_least:
        time.sleep(0.1)
        try:
            seen = _q(db_path, "SELECT count(*) FROM predictions")[0][0]
        except duckdb.IOException:
            continue
    return seen


@pytest.fixture
def any_job(invoke, write_job, db_url, learnable_source, tiny_bert):
    """job_setup on each engine (DuckDB, PostgreSQL)."""
    source = learnable_source(40, 120)
    assert invoke("ingest", "--source", str(source)).exit_code == 0
    assert invoke("models", "register", "tiny", "--hf", str(tiny_bert),
                  "--max-length", "64").exit_code == 0
    return write_job(source, db_url)


def test_job_runs_end_to_end(any_job, db_url, tmp_path, capsys):
    assert run_job(any_job) == 0
    log = capsys.readouterr().err
    assert "step 1/4 ingest: ok" in log and "step 4/4 report: ok" in log
    assert "score tiny v1: scored 120" in log
    runs = _q(db_url, "SELECT job_name, status, exit_code, steps FROM job_runs")
    assert runs[0][:3] == ("nightly", "succeeded", 0)
    steps = json.loads(runs[0][3])
    assert [s["kind"] for s in steps] == ["ingest", "score", "views", "report"]
    assert steps[1]["counts"]["tiny v1"]["scored"] == 120
    report = json.loads((tmp_path / "reports" / "nightly.json").read_text())["metrics"]
    assert report[0]["model"] == "tiny" and report[0]["n"] == 120
    assert run_job(any_job) == 0  # a second night: nothing new, still fine
    assert "scored 0" in capsys.readouterr().err


def test_failing_step_stops_the_job(invoke, write_job, tmp_path, db_path, learnable_source):
    # "all" models while none is registered: the ingest step runs, the score step fails.
    job = write_job(learnable_source(), db_path)
    assert run_job(job) == EXIT_STEP_FAILED
    assert not (tmp_path / "reports" / "nightly.json").exists()
    status, code, error = _q(db_path, "SELECT status, exit_code, error FROM job_runs")[0]
    assert (status, code) == ("failed", 1) and "step 2 (score)" in error
    assert _q(db_path, "SELECT count(*) FROM reviews")[0][0] > 0  # step 1 ran
    result = invoke("job", "run", str(job))
    assert result.exit_code == EXIT_STEP_FAILED


def test_unknown_model_stops_the_job_before_any_step(write_job, db_path, learnable_source):
    job = write_job(learnable_source(), db_path, models='["missing"]')
    assert run_job(job) == EXIT_STEP_FAILED
    status, error = _q(db_path, "SELECT status, error FROM job_runs")[0]
    assert status == "failed" and error.startswith("preflight: no model named 'missing'")
    assert _q(db_path, "SELECT count(*) FROM reviews") == [(0,)]  # the ingest never ran


@pytest.mark.parametrize("text,fragment", [
    ("name = 'x'\n", "has no [[steps]]"),
    ("[[steps]]\nkind = 'train'\n", "kind 'train'"),
    ("[[steps]]\nkind = 'ingest'\n", "needs source"),
    ("[[steps\n", "not valid TOML"),
])
def test_bad_job_files(tmp_path, capsys, text, fragment):
    job = tmp_path / "bad.toml"
    job.write_text(text)
    assert run_job(job) == EXIT_BAD_JOB
    assert fragment in capsys.readouterr().err
    assert run_job(tmp_path / "missing.toml") == EXIT_BAD_JOB


def test_overlapping_run_is_refused_and_readers_still_answer(job_setup, db_path, tmp_path,
                                                             invoke):
    proc = _start_slow_job(tmp_path, job_setup)
    try:
        assert _wait_for_predictions(db_path, 10) >= 10
        second = invoke("job", "run", str(job_setup))
        assert second.exit_code == EXIT_LOCKED and "already running" in second.output
        # Refused at once, not after waiting for the lock: the first job is still running.
        assert proc.poll() is None, "the second run waited for the first job to finish"
        seen = []  # how long readers wait is bench/reader_wait_bench.py's business
        for _ in range(5):  # readers in another process keep answering while the job writes
            result = invoke("sql", "SELECT count(*) AS n FROM predictions", "--format", "csv")
            assert result.exit_code == 0, result.output
            seen.append(int(result.output.split()[-1]))
        assert proc.poll() is None, "the slow job should still be running"
    finally:
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    # Readers saw committed work only: never nothing, never more than the job scores, and
    # never less than an earlier reader saw.
    assert 0 < seen[0] and seen == sorted(seen) and seen[-1] <= 120
    statuses = [r[0] for r in _q(db_path, "SELECT status FROM job_runs")]
    assert statuses == ["succeeded"]


def test_sigkill_mid_scoring_then_rerun(job_setup, db_path, tmp_path):
    proc = _start_slow_job(tmp_path, job_setup)
    seen = _wait_for_predictions(db_path, 20)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 20 <= seen < 120
    assert run_job(job_setup) == 0  # the kernel released the lock with the dead process
    assert _q(db_path, "SELECT count(*), count(DISTINCT review_id) FROM predictions") == \
        [(120, 120)]
    statuses = [r[0] for r in _q(db_path, "SELECT status FROM job_runs ORDER BY id")]
    assert statuses == ["interrupted", "succeeded"]


def test_long_steps_log_progress_and_can_be_capped(invoke, tmp_path, db_path, learnable_source,
                                                   tiny_bert, capsys):
    """A score step logs timestamped progress lines (rows, rate, ETA) as it goes, and
    max_reviews bounds one run's work: the next run continues where it stopped."""
    source = learnable_source(40, 120)
    assert invoke("ingest", "--source", str(source)).exit_code == 0
    assert invoke("models", "register", "tiny", "--hf", str(tiny_bert),
                  "--max-length", "64").exit_code == 0
    job = tmp_path / "capped.toml"
    job.write_text(textwrap.dedent(f"""
        name = "capped"
        db = "{db_path}"

        [[steps]]
        kind = "score"
        models = ["tiny:1"]
        max_reviews = 50
        progress_every_s = 0
    """))
    assert run_job(job) == 0
    log = capsys.readouterr().err
    progress = [line for line in log.splitlines() if "score tiny v1:" in line and "ETA" in line]
    assert progress and all(line[:4].isdigit() and line[19] == "Z" for line in progress)
    assert "scored 50" in log and "left for the next run 70" in log
    assert _q(db_path, "SELECT count(*) FROM predictions") == [(50,)]
    assert run_job(job) == 0 and run_job(job) == 0
    assert _q(db_path, "SELECT count(*) FROM predictions") == [(120,)]
    assert "left for the next run 0" in capsys.readouterr().err


def test_missing_model_files_stop_the_job_before_any_step(invoke, write_job, db_path,
                                                         learnable_source, capsys):
    import shutil

    source = learnable_source(40, 20)
    assert invoke("ingest", "--source", str(source)).exit_code == 0
    assert invoke("train", "tfidf-lr").exit_code == 0
    artifact = _q(db_path, "SELECT artifact_uri FROM model_versions")[0][0]
    shutil.rmtree(artifact)
    job = write_job(source, db_path)
    assert run_job(job) == EXIT_STEP_FAILED
    log = capsys.readouterr().err
    assert "the files of tfidf-lr v1 are missing" in log and "step 1/" not in log
    status, error = _q(db_path, "SELECT status, error FROM job_runs")[0]
    assert status == "failed" and error.startswith("preflight:")


def test_registered_folders_are_stored_absolute(invoke, db_path, tmp_path, tiny_bert,
                                                monkeypatch):
    """`models register --hf ../relative/dir` keeps working from any directory (cron changes
    into the job file's folder)."""
    import os

    monkeypatch.chdir(tiny_bert.parent)
    assert invoke("models", "register", "tiny", "--hf", f"./{tiny_bert.name}").exit_code == 0
    assert _q(db_path, "SELECT artifact_uri FROM model_versions")[0][0] == str(tiny_bert)
    assert os.path.isabs(_q(db_path, "SELECT artifact_uri FROM model_versions")[0][0])
