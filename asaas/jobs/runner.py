"""Running a job: its lock, a ``job_runs`` row from start to exit code, a preflight of the models
it scores, then the steps in order, one log line each; the first failing step stops the run."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from asaas.clock import process_gone, this_process, utcnow
from asaas.errors import AsaasError, JobError
from asaas.jobs.loading import Job, load_job
from asaas.jobs.lock import DatabaseJobLock, JobLock, lock_path, uses_database_lock
from asaas.jobs.steps import STEPS, NotifyRequest, ScoreStep, StepContext
from asaas.settings import Settings
from asaas.store import Store, open_store
from asaas.store.ids import next_id
from asaas.store.schema import job_runs
from asaas.store.urls import mask_secrets, redact

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_BAD_JOB = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: "try again later", which is what an overlapping run should do

Log = Callable[[str], None]

#: Control characters, shown escaped (\\n, \\x1b) in log lines.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass
class StepResult:
    kind: str
    status: str
    seconds: float
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def run_job(path: str | Path, *, db_url: str | None = None, stream: TextIO | None = None) -> int:
    """Run a job file; returns the process exit code (see EXIT_*). Logs one line per step."""
    out = stream or sys.stderr

    def log(message: str) -> None:
        # Cron appends these lines to a file: no password may reach it (URLs, driver errors),
        # and no line break either: a path, product name or driver error holding one would
        # write a line of its own into the log, one that looks like asaas wrote it.
        line = _CONTROL.sub(lambda m: repr(m.group())[1:-1], mask_secrets(message))
        out.write(f"{utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')} {line}\n")
        out.flush()

    try:
        job = load_job(path)
    except JobError as exc:
        log(f"job {path}: {exc}")
        return EXIT_BAD_JOB
    settings = Settings()
    url = db_url or job.db or settings.db_url
    store: Store | None = None
    lock: JobLock | DatabaseJobLock
    try:
        if uses_database_lock(url):  # PostgreSQL: the lock lives in the database itself
            store = open_store(url, busy_timeout_s=settings.busy_timeout_s)
            lock = DatabaseJobLock(store, job.name)
        else:  # DuckDB: a lock file keyed on the database file's real path
            lock = JobLock(lock_path(job, url))
        acquired = lock.acquire()
    except AsaasError as exc:
        log(f"job {job.name}: cannot start: {exc}")
        return EXIT_STEP_FAILED
    if not acquired:
        log(f"job {job.name}: already running ({lock.holder()}); this run exits without "
            f"doing anything (exit {EXIT_LOCKED})")
        return EXIT_LOCKED
    try:
        return _run_locked(job, url, settings, log, store)
    finally:
        lock.release()


def _run_locked(job: Job, url: str, settings: Settings, log: Log,
                store: Store | None = None) -> int:
    t_job = time.perf_counter()
    try:
        any_host = store is not None  # the database lock: no other run of this job is alive
        store = store or open_store(url, busy_timeout_s=settings.busy_timeout_s)
        run_id = _start(store, job, any_host=any_host)
    except AsaasError as exc:
        log(f"job {job.name}: cannot start: {exc}")
        return EXIT_STEP_FAILED
    log(f"job {job.name} started (run {run_id}, {len(job.steps)} steps, db {redact(url)})")
    problem = _preflight(store, job)
    if problem:  # before any step: a nightly run must not ingest, then die at the model
        log(f"job {job.name}: cannot start: {problem}")
        _record(store, run_id, "failed", [], f"preflight: {problem}", EXIT_STEP_FAILED)
        return EXIT_STEP_FAILED
    ctx = StepContext(store, job.path.parent, run_id, log)
    results, error = _run_steps(ctx, job)
    if ctx.problems:  # steps that did part of their work (the run went on past them)
        error = "; ".join([*ctx.problems, *([error] if error else [])])
    exit_code = EXIT_OK if error is None else EXIT_STEP_FAILED
    status = "succeeded" if exit_code == EXIT_OK else "failed"
    _record(store, run_id, status, results, error, exit_code)
    log(f"job {job.name} {status} in {time.perf_counter() - t_job:.1f} s (exit {exit_code})")
    return exit_code


def _start(store: Store, job: Job, *, any_host: bool = False) -> int:
    """Record the run as running (runs of this job left running by a dead process are marked
    interrupted first: of this host, or of any host under the database lock, which no live run
    of the job can hold beside this one); returns its id."""
    with store.transaction() as conn:
        _close_stale_job_runs(conn, job.name, any_host=any_host)
        run_id = next_id(conn, "job_runs_id_seq")
        conn.execute(sa.insert(job_runs).values(
            id=run_id, job_name=job.name, job_file=str(job.path), status="running",
            started_at=utcnow(), **this_process()))
    return run_id


def _close_stale_job_runs(conn: sa.Connection, name: str, *, any_host: bool = False) -> None:
    rows = conn.execute(sa.select(job_runs.c.id, job_runs.c.host, job_runs.c.pid).where(
        job_runs.c.job_name == name, job_runs.c.status == "running")).fetchall()
    for run_id, run_host, pid in rows:
        if any_host or process_gone(run_host, pid):
            conn.execute(sa.update(job_runs).where(job_runs.c.id == run_id).values(
                status="interrupted", error="process ended without finishing (killed?)"))


def _preflight(store: Store, job: Job) -> str | None:
    """Check, before any step runs, that every model a score step names exists, is signed with
    this host's registry key and that its files are still where the registry says (cron runs
    long after models were registered)."""
    from asaas.models.registry import check_signature, model_names, resolve_ref

    if any(isinstance(step.options, NotifyRequest) for step in job.steps):
        # A notify step with nowhere to send is found before the fetch, not after it.
        from asaas.notify.deliver import channels_from_settings
        from asaas.settings import NotifySettings

        try:
            channels_from_settings(NotifySettings(), http=None)
        except AsaasError as exc:
            return str(exc)
    for step in job.steps:
        if not isinstance(step.options, ScoreStep):
            continue
        models = step.options.models
        try:
            versions = [resolve_ref(store, ref) for ref in
                        (model_names(store) if models is None else models)]
        except AsaasError as exc:
            return str(exc)
        for mv in versions:
            try:
                check_signature(store, mv)
            except AsaasError as exc:
                return str(exc)
            path = Path(mv.artifact_uri)
            if (mv.kind == "sklearn" or path.is_absolute()) and not path.exists():
                return (f"the files of {mv.label} are missing at {mv.artifact_uri} (moved or "
                        "deleted?); restore them or register the model again")
    return None


def _run_steps(ctx: StepContext, job: Job) -> tuple[list[StepResult], str | None]:
    """Every step in order, each recorded as it ends; stops at the first that fails (a step
    that did part of its work, ``ctx.problems``, is "partial" and the next ones still run).
    Returns the results and the failure (None: none failed)."""
    results: list[StepResult] = []
    for i, step in enumerate(job.steps, start=1):
        where = f"job {job.name} step {i}/{len(job.steps)} {step.kind}"
        t0 = time.perf_counter()
        before = len(ctx.problems)
        try:
            counts = STEPS[step.kind].run(ctx, step.options)
        except Exception as exc:  # noqa: BLE001 - any failure stops the job and is recorded
            results.append(StepResult(step.kind, "failed", time.perf_counter() - t0,
                                      error=str(exc)))
            ctx.log(f"{where}: FAILED after {time.perf_counter() - t0:.1f} s: {exc}")
            return results, f"step {i} ({step.kind}): {type(exc).__name__}: {exc}"
        problems = ctx.problems[before:]
        results.append(StepResult(step.kind, "partial" if problems else "succeeded",
                                  time.perf_counter() - t0, counts,
                                  error="; ".join(problems) if problems else None))
        ctx.log(f"{where}: {'PARTIAL' if problems else 'ok'} in "
                f"{time.perf_counter() - t0:.1f} s {json.dumps(counts, default=str)}")
        for line in problems:
            ctx.log(f"{where}: {line}")
        _record(ctx.store, ctx.job_run_id, "running", results, None, None)
    return results, None


def _record(store: Store, run_id: int, status: str, results: list[StepResult],
            error: str | None, exit_code: int | None) -> None:
    steps = [{"kind": r.kind, "status": r.status, "seconds": round(r.seconds, 2),
              "counts": r.counts, "error": r.error} for r in results]
    # Errors may quote a URL or a driver's message: job_runs never holds a password.
    values: dict[str, Any] = {"status": status,
                              "steps": mask_secrets(json.dumps(steps, default=str)),
                              "error": mask_secrets(error) if error else error}
    if exit_code is not None:
        values.update(exit_code=exit_code, finished_at=utcnow())
    with store.transaction() as conn:
        conn.execute(sa.update(job_runs).where(job_runs.c.id == run_id).values(**values))
