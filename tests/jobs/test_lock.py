"""One run of a job file on a database at a time (asaas/jobs/lock.py): the lock is the same
whatever ASAAS_HOME or the spelling of the database says, and differs per database."""

from __future__ import annotations

from asaas.jobs import EXIT_LOCKED, JobLock, load_job, lock_path, run_job
from tests.helpers import job_file


def test_lock_is_shared_whatever_asaas_home(tmp_path, monkeypatch, db_path, capsys):
    job = job_file(tmp_path, f"""
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
    job = load_job(job_file(tmp_path, """
        [[steps]]
        kind = "views"
    """))
    assert lock_path(job, str(db_path)) != lock_path(job, str(tmp_path / "other.duckdb"))
