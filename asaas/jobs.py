"""Scheduled jobs: run a small TOML job file unattended (cron), safely.

A job file lists steps::

    name = "nightly"
    db = "../asaas.duckdb"            # optional; relative paths are relative to this file

    [[steps]]
    kind = "ingest"                   # asaas ingest
    source = "../../shared/data/imdb"
    dataset = "imdb"                  # optional, default imdb (steam with format = "steam")
    splits = ["train", "test"]        # optional, default all

    [[steps]]
    kind = "ingest"                   # every option of asaas ingest, as snake_case keys:
    source = "steam/new"              # e.g. a folder of Steam API pages review_<appid>.json
    format = "steam"                  # the Steam preset (dataset "steam", products of kind game)
    split_before = 2017-07-01         # a TOML date, or "2017-07-01"
    # also: default_split, label_map ("Empfohlen=1,Nicht empfohlen=0" or a table
    # {Empfohlen = 1, "Nicht empfohlen" = 0}), time_format, product_kind, max_review_chars and
    # the columns text_column, label_column, id_column, rating_column, product_column,
    # product_name_column, time_column, language_column, early_access_column,
    # developer_response_column, developer_responded_at_column

    [[steps]]
    kind = "score"                    # asaas score, for each model
    models = "all"                    # or ["tfidf-lr", "finetuned"]; the latest version of each
    splits = ["test"]                 # optional, default ["test"]; ["all"] for every split
    limit = 2000                      # optional; also max_length, truncation, device, quantize
    engine = "ray"                    # optional, default "local"; with address, workers and
                                      # gpus_per_worker as for `asaas score --engine ray`

    [[steps]]
    kind = "views"                    # reinstall the SQL views

    [[steps]]
    kind = "report"                   # asaas report, written to a file
    path = "reports/nightly.md"
    format = "markdown"               # table, markdown, csv, json or html

    [[steps]]
    kind = "events"                   # asaas events derive (releases, first responses)
    dataset = "steam"                 # optional, default every dataset

    [[steps]]
    kind = "alerts"                   # an alerts table, written to a file
    path = "reports/alerts.md"
    table = "alerts"                  # alerts, responsiveness, recoveries or effects
    format = "markdown"               # table, markdown, csv or json
    source = "labels"                 # optional: labels or MODEL[:VERSION]; also dataset,
                                      # kinds = ["negative"], since = "2018-01-01"

Safety: a lock file per job (``flock``, released by the kernel even on SIGKILL) keeps two runs
of the same job from overlapping; the second exits at once with ``EXIT_LOCKED``. Every run is a
row in ``job_runs`` (start, end, status, per-step counts and timings, error). A failing step stops
the later ones and the exit code is non-zero. Scoring is resumable, so a rerun after a crash picks
up where it stopped.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import os
import shlex
import socket
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from asaas.clock import process_gone, this_process, utcnow
from asaas.errors import AsaasError
from asaas.settings import Settings
from asaas.store import Store, open_store
from asaas.store.ids import next_id
from asaas.store.urls import mask_secrets, redact
from asaas.store.schema import job_runs

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_BAD_JOB = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: "try again later", which is what an overlapping run should do

STEP_KINDS = ("ingest", "score", "views", "report", "events", "alerts")
#: What an ``alerts`` step can write (``table = ...``).
ALERT_TABLES = ("alerts", "responsiveness", "recoveries", "effects")


class JobError(AsaasError):
    """A job file that cannot be run as written."""


@dataclass
class Job:
    name: str
    path: Path
    db: str | None
    steps: list[dict[str, Any]]


@dataclass
class StepResult:
    kind: str
    status: str
    seconds: float
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def load_job(path: str | Path) -> Job:
    """Parse and check a job file; every problem is a JobError naming the file and the fix."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise JobError(f"job file {path} does not exist; see jobs/nightly.toml for an example")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise JobError(f"job file {path} is not valid TOML ({exc})") from None
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise JobError(f"job file {path} has no [[steps]]; add at least one")
    for i, step in enumerate(steps, start=1):
        kind = step.get("kind") if isinstance(step, dict) else None
        if kind not in STEP_KINDS:
            raise JobError(f"step {i} of {path} has kind {kind!r}; use one of "
                           f"{', '.join(STEP_KINDS)}")
        if kind == "ingest" and "source" not in step:
            raise JobError(f"step {i} of {path} (ingest) needs source = \"PATH\" (or \"hf:NAME\")")
        if kind == "ingest":
            from asaas.ingest.options import options_from_job

            try:
                options_from_job(step)  # the same checks as asaas ingest's options
            except AsaasError as exc:
                raise JobError(f"step {i} of {path} (ingest): {exc}") from None
        if kind == "report" and "path" not in step:
            raise JobError(f"step {i} of {path} (report) needs path = \"FILE\"")
        if kind == "alerts":
            if "path" not in step:
                raise JobError(f"step {i} of {path} (alerts) needs path = \"FILE\"")
            if step.get("table", "alerts") not in ALERT_TABLES:
                raise JobError(f"step {i} of {path} (alerts) has table {step['table']!r}; use "
                               f"{', '.join(ALERT_TABLES)}")
            if step.get("format", "markdown") not in ("table", "markdown", "csv", "json"):
                raise JobError(f"step {i} of {path} (alerts) has format {step['format']!r}; "
                               "use table, markdown, csv or json")
        if kind == "score" and step.get("engine", "local") not in ("local", "ray"):
            raise JobError(f"step {i} of {path} (score) has engine {step['engine']!r}; use "
                           "\"local\" or \"ray\"")
    for i, step in enumerate(steps, start=1):
        if step["kind"] == "score":
            _check_score_numbers(step, f"step {i} of {path} (score)")
    name = str(data.get("name") or file.stem)
    if not _JOB_NAME.match(name):
        raise JobError(f"job name {name!r} in {path} is not allowed: use letters, digits, '.', "
                       "'_' and '-', starting with a letter or digit (e.g. nightly)")
    db = data.get("db")
    if db is not None and "://" not in str(db):
        db = str((file.parent / str(db)).resolve())
    return Job(name=name, path=file, db=db, steps=steps)


_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

#: Whole-number options of a score step and their least value (as asaas score checks them).
_SCORE_INTS = {"limit": 1, "max_reviews": 1, "max_length": 8, "batch_tokens": 8, "threads": 1,
               "workers": 1}


def _check_score_numbers(step: dict[str, Any], where: str) -> None:
    """Impossible numbers in a score step are a bad job file (exit 2), found before anything
    runs, not a failure half-way through the night."""
    for key, low in _SCORE_INTS.items():
        value = step.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise JobError(f"{where}: {key} = {value!r} must be a whole number of at least {low}")
    every = step.get("progress_every_s")
    if every is not None and (isinstance(every, bool) or not isinstance(every, (int, float))
                              or every < 0):
        raise JobError(f"{where}: progress_every_s = {every!r} must be a number of seconds "
                       "(0: a line per chunk)")
    gpus = step.get("gpus_per_worker")
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, (int, float))
                             or gpus < 0):
        raise JobError(f"{where}: gpus_per_worker = {gpus!r} must be a number of GPUs (0 or more)")


def _resolve(job: Job, value: str) -> str:
    if value.startswith("hf:") or "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (job.path.parent / p).resolve())


# -- steps ---------------------------------------------------------------------------------------


def _step_ingest(store: Store, job: Job, step: dict[str, Any]) -> dict[str, Any]:
    from asaas.ingest import ingest
    from asaas.ingest.options import options_from_job

    report = ingest(store, _resolve(job, step["source"]), options_from_job(step))
    counts: dict[str, Any] = {
        "read": report.rows_read, "inserted": report.inserted,
        "by_split": report.inserted_by_split, "already_present": report.already_present,
        "rejected": report.rows_rejected, "skipped": sum(report.skipped.values())}
    if report.products:
        counts["products_created"] = report.products_created
    if report.skipped_files:
        counts["files_skipped"] = len(report.skipped_files)
    return counts


def _step_score(store: Store, job: Job, step: dict[str, Any], job_run_id: int,
                log: Callable[[str], None]) -> dict[str, Any]:
    from asaas.models.registry import model_names, resolve_ref
    from asaas.scoring import ScoreOptions, score

    models = step.get("models", "all")
    refs = model_names(store) if models == "all" else list(models)
    if not refs:
        raise JobError("no registered models to score: train or register one first")
    splits = step.get("splits", ["test"])
    counts: dict[str, Any] = {}
    for ref in refs:
        mv = resolve_ref(store, ref)  # NAME (latest version) or NAME:VERSION
        # Scored with each version's own recipe; a step may still name one (checked per model).
        options = ScoreOptions(
            dataset=step.get("dataset", "imdb"), splits=None if splits == ["all"] else splits,
            limit=step.get("limit"), max_reviews=step.get("max_reviews"),
            languages=step.get("languages"), device=step.get("device", "auto"),
            max_length=step.get("max_length"), truncation=step.get("truncation"),
            quantize=step.get("quantize"), progress=True,
            progress_every_s=float(step.get("progress_every_s", 60)))
        t0 = time.perf_counter()
        if step.get("engine", "local") == "ray":  # same predictions, in Ray actors
            from asaas.scoring.ray_engine import RayOptions, score_ray

            report = score_ray(store, mv, options, RayOptions(
                address=step.get("address"), workers=step.get("workers"),
                gpus_per_worker=float(step.get("gpus_per_worker", 0))), job_run_id=job_run_id)
        else:
            report = score(store, mv, options, job_run_id=job_run_id)
        counts[mv.label] = {"scored": report.scored, "failed": report.failed,
                            "already_done": report.already_done, "left": report.left}
        log(f"  score {mv.label}: scored {report.scored:,}, failed {report.failed:,}, "
            f"already done {report.already_done:,}, left for the next run {report.left:,} in "
            f"{time.perf_counter() - t0:.1f} s")
    return counts


def _step_views(store: Store) -> dict[str, Any]:
    from asaas.views import install_views

    return {"views": len(install_views(store))}


def _step_report(store: Store, job: Job, step: dict[str, Any]) -> dict[str, Any]:
    from asaas.report import metrics_report
    from asaas.tables import format_table

    target = Path(_resolve(job, step["path"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    fmt = step.get("format", "markdown")
    kwargs = {"split": step.get("split", "test"), "dataset": step.get("dataset", "imdb"),
              "models": step.get("models", ()), "latest": step.get("latest", False)}
    table = metrics_report(store, **kwargs)
    if fmt == "html":
        from asaas.report_page import write_html_report

        write_html_report(store, target, table, split=kwargs["split"],
                          dataset=kwargs["dataset"])
    else:
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(format_table(table, fmt) + "\n", encoding="utf-8")
        tmp.replace(target)  # readers of the report never see half a file
    return {"path": str(target), "rows": len(table.rows)}


def _step_events(store: Store, step: dict[str, Any]) -> dict[str, Any]:
    """asaas events derive: early-access releases and first responses follow the data."""
    from asaas.timeline.events import derive_events

    report = derive_events(store, dataset=step.get("dataset"))
    return {"products": report.products, "new": report.inserted, "moved": report.replaced,
            "removed": report.removed}


def _step_alerts(store: Store, job: Job, step: dict[str, Any]) -> dict[str, Any]:
    """Write the alerts (or responsiveness, recoveries, effects) table to a file."""
    from asaas.tables import format_table
    from asaas.timeline import alerts, effects, responsiveness
    from asaas.timeline.rules import rule_from_options

    target = Path(_resolve(job, step["path"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    what = step.get("table", "alerts")
    common = {"source": step.get("source"), "dataset": step.get("dataset")}
    kinds = step.get("kinds")
    rule = rule_from_options(kinds=tuple(kinds) if kinds else None)
    if what == "alerts":
        table = alerts.alerts_table(alerts.detect(store, rule=rule, since=step.get("since"),
                                                  **common).alerts)
    elif what == "effects":
        table = effects.effects_table(effects.event_effects(
            store, window_days=int(step.get("window_days", 30)), **common))
    elif what == "recoveries":
        table = responsiveness.recoveries_table(responsiveness.recoveries(store, **common))
    else:
        table = responsiveness.ranking(store, **common)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(format_table(table, step.get("format", "markdown")) + "\n", encoding="utf-8")
    tmp.replace(target)  # readers never see half a file
    return {"path": str(target), "table": what, "rows": len(table.rows)}


# -- the run -------------------------------------------------------------------------------------


class JobLock:
    """An exclusive, non-blocking ``flock`` on a per-job lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JobError(f"cannot create the job lock {self.path} ({exc.strerror}); make the "
                           "job file's folder writable") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            return False
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()} {socket.gethostname()} {utcnow().isoformat()}\n"
                 .encode())
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_path(job: Job, db_url: str) -> Path:
    """The lock of one job file on one database, shared by every run of it whatever its
    ASAAS_HOME, working directory or spelling of the database: beside the job file (in
    ``.locks/``), named after the job file and a hash of its real path and the database."""
    key = f"{job.path.resolve()}\n{_database_identity(db_url)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return job.path.parent / ".locks" / f"{job.path.stem}-{digest}.lock"


def _database_identity(db_url: str) -> str:
    """The database itself: a DuckDB file's real path, a server URL without its password."""
    from asaas.store.urls import duckdb_file_path, normalize_url

    url = normalize_url(db_url)
    db_file = duckdb_file_path(url)
    if db_file is not None:
        return f"duckdb:{db_file.expanduser().resolve()}"
    return sa.engine.make_url(url).set(password=None).render_as_string(hide_password=False)


def _close_stale_job_runs(conn: sa.Connection, name: str) -> None:
    rows = conn.execute(sa.select(job_runs.c.id, job_runs.c.host, job_runs.c.pid).where(
        job_runs.c.job_name == name, job_runs.c.status == "running")).fetchall()
    for run_id, run_host, pid in rows:
        if process_gone(run_host, pid):
            conn.execute(sa.update(job_runs).where(job_runs.c.id == run_id).values(
                status="interrupted", error="process ended without finishing (killed?)"))


def run_job(path: str | Path, *, db_url: str | None = None, stream: TextIO | None = None) -> int:
    """Run a job file; returns the process exit code (see EXIT_*). Logs one line per step."""
    out = stream or sys.stderr

    def log(message: str) -> None:
        # Cron appends these lines to a file: no password may reach it (URLs, driver errors).
        out.write(f"{utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')} {mask_secrets(message)}\n")
        out.flush()

    try:
        job = load_job(path)
    except JobError as exc:
        log(f"job {path}: {exc}")
        return EXIT_BAD_JOB
    settings = Settings()
    url = db_url or job.db or settings.db_url
    try:
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
        return _run_locked(job, url, settings, log)
    finally:
        lock.release()


def _preflight(store: Store, job: Job) -> str | None:
    """Check, before any step runs, that every model a score step names exists and that its
    files are still where the registry says (cron runs long after models were registered)."""
    from asaas.models.registry import model_names, resolve_ref

    for step in job.steps:
        if step["kind"] != "score":
            continue
        models = step.get("models", "all")
        try:
            versions = [resolve_ref(store, ref) for ref in
                        (model_names(store) if models == "all" else list(models))]
        except AsaasError as exc:
            return str(exc)
        for mv in versions:
            path = Path(mv.artifact_uri)
            if (mv.kind == "sklearn" or path.is_absolute()) and not path.exists():
                return (f"the files of {mv.label} are missing at {mv.artifact_uri} (moved or "
                        "deleted?); restore them or register the model again")
    return None


def _run_locked(job: Job, url: str, settings: Settings, log: Callable[[str], None]) -> int:
    t_job = time.perf_counter()
    try:
        store = open_store(url, busy_timeout_s=settings.busy_timeout_s)
        with store.transaction() as conn:
            _close_stale_job_runs(conn, job.name)
            run_id = next_id(conn, "job_runs_id_seq")
            conn.execute(sa.insert(job_runs).values(
                id=run_id, job_name=job.name, job_file=str(job.path), status="running",
                started_at=utcnow(), **this_process()))
    except AsaasError as exc:
        log(f"job {job.name}: cannot start: {exc}")
        return EXIT_STEP_FAILED
    log(f"job {job.name} started (run {run_id}, {len(job.steps)} steps, db {redact(url)})")
    problem = _preflight(store, job)
    if problem:  # before any step: a nightly run must not ingest, then die at the model
        log(f"job {job.name}: cannot start: {problem}")
        _record(store, run_id, "failed", [], f"preflight: {problem}", EXIT_STEP_FAILED)
        return EXIT_STEP_FAILED
    results: list[StepResult] = []
    exit_code, error = EXIT_OK, None
    for i, step in enumerate(job.steps, start=1):
        kind = step["kind"]
        t0 = time.perf_counter()
        try:
            if kind == "ingest":
                counts = _step_ingest(store, job, step)
            elif kind == "score":
                counts = _step_score(store, job, step, run_id, log)
            elif kind == "views":
                counts = _step_views(store)
            elif kind == "events":
                counts = _step_events(store, step)
            elif kind == "alerts":
                counts = _step_alerts(store, job, step)
            else:
                counts = _step_report(store, job, step)
            results.append(StepResult(kind, "succeeded", time.perf_counter() - t0, counts))
            log(f"job {job.name} step {i}/{len(job.steps)} {kind}: ok in "
                f"{time.perf_counter() - t0:.1f} s {json.dumps(counts, default=str)}")
        except Exception as exc:  # noqa: BLE001 - any failure stops the job and is recorded
            error = f"step {i} ({kind}): {type(exc).__name__}: {exc}"
            results.append(StepResult(kind, "failed", time.perf_counter() - t0, error=str(exc)))
            log(f"job {job.name} step {i}/{len(job.steps)} {kind}: FAILED after "
                f"{time.perf_counter() - t0:.1f} s: {exc}")
            exit_code = EXIT_STEP_FAILED
            break
        _record(store, run_id, "running", results, None, None)
    status = "succeeded" if exit_code == EXIT_OK else "failed"
    _record(store, run_id, status, results, error, exit_code)
    log(f"job {job.name} {status} in {time.perf_counter() - t_job:.1f} s (exit {exit_code})")
    return exit_code


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


# -- cron ----------------------------------------------------------------------------------------


def crontab_line(path: str | Path, schedule: str, *, log_file: str | None = None,
                 db_url: str | None = None) -> str:
    """A crontab line that works under cron's bare environment: absolute paths everywhere,
    this very Python interpreter, output appended to a log file."""
    job = load_job(path)
    fields = schedule.split()
    if len(fields) != 5 and not (len(fields) == 1 and fields[0].startswith("@")):
        raise JobError(f"schedule {schedule!r} is not a cron schedule; use five fields such as "
                       "\"0 3 * * *\" (03:00 every day) or @daily")
    log = Path(log_file).expanduser().resolve() if log_file else \
        job.path.parent / "logs" / f"{job.name}.log"
    python = Path(sys.executable).absolute()
    cmd = [str(python), "-m", "asaas", "job", "run", str(job.path)]
    if db_url:
        cmd += ["--db", db_url]
    env = ""
    for var in ("ASAAS_HOME", "HF_HOME", "HF_HUB_OFFLINE"):
        if os.environ.get(var):
            env += f"{var}={shlex.quote(os.environ[var])} "
    command = (f"mkdir -p {shlex.quote(str(log.parent))} && cd {shlex.quote(str(job.path.parent))}"
               f" && {env}{' '.join(shlex.quote(c) for c in cmd)} >> {shlex.quote(str(log))} 2>&1")
    # cron treats an unescaped % as a newline: escape it.
    return f"{schedule} {command.replace('%', chr(92) + '%')}"
