"""The step kinds of a job file, one entry each in ``STEPS``: the step's options type, which checks
its keys when the file is loaded, and the function that runs it. A new kind is one options
dataclass, one run function and one line in ``STEPS``.

A step's options are its command's (``asaas score``, ``asaas report``...), built from the step's
keys by the function that builds them from the command's flags, so a key means what its flag
means and has the same default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asaas.errors import ConfigError, JobError
from asaas.fetch.options import FetchOptions
from asaas.notify.options import NotifyRequest
from asaas.options import Options, ReportOptions, option, parse_date
from asaas.scoring.options import ScoreRun
from asaas.store import Store
from asaas.tables import FORMATS
from asaas.timeline.rules import KINDS as ALERT_KINDS

if TYPE_CHECKING:
    from asaas.ingest.options import IngestOptions

#: What an ``alerts`` step can write (``table = ...``).
ALERT_TABLES = ("alerts", "responsiveness", "recoveries", "effects")
#: Output formats of a file a step writes (``format = ...``); a report may also be html.
TABLE_FORMATS = FORMATS  # csv-raw too: see asaas.tables.CSV_HELP


@dataclass
class StepContext:
    """What every step runs with."""

    store: Store
    job_dir: Path  # relative paths in the job file are relative to it
    job_run_id: int
    log: Callable[[str], None]
    #: What a step could not do while doing the rest (an app whose fetch failed, an alert
    #: whose delivery failed and stays owed): the later steps still run, the job exits 1.
    problems: list[str] = field(default_factory=list)

    def path(self, value: str) -> str:
        """A path of the job file, resolved against its folder (``hf:`` and URLs as they are)."""
        if value.startswith("hf:") or "://" in value:
            return value
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (self.job_dir / p).resolve())


def _write(target: Path, text: str) -> None:
    """Write through a temporary file: readers of the file never see half of it (see
    ``pages.write_page``: links followed, devices written in place, one-line errors)."""
    from asaas.pages import write_page

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobError(f"cannot create the folder of {target} ({exc.strerror})") from None
    write_page(target, text + "\n")


# -- ingest --------------------------------------------------------------------------------------


@dataclass
class IngestStep:
    """``asaas ingest``: ``source`` and every option of the command as a snake_case key."""

    source: str
    options: IngestOptions

    @classmethod
    def from_values(cls, values: Mapping[str, Any], style: str = "job") -> IngestStep:
        from asaas.ingest.options import options_from_job

        source = values.get("source")
        if source is None:
            raise ConfigError('needs source = "PATH" (or "hf:NAME")')
        if not isinstance(source, str):
            raise ConfigError(f"source must be a string, not {source!r}")
        # The same checks as asaas ingest's options (asaas.ingest.options).
        return cls(source, options_from_job(values))


def run_ingest(ctx: StepContext, step: IngestStep) -> dict[str, Any]:
    from asaas.ingest import ingest

    report = ingest(ctx.store, ctx.path(step.source), step.options)
    counts: dict[str, Any] = {
        "read": report.rows_read, "inserted": report.inserted,
        "by_split": report.inserted_by_split, "already_present": report.already_present,
        "rejected": report.rows_rejected, "skipped": sum(report.skipped.values())}
    if report.products:
        counts["products_created"] = report.products_created
    if report.skipped_files:
        counts["files_skipped"] = len(report.skipped_files)
    return counts


# -- score ---------------------------------------------------------------------------------------


def _models(value: Any, name: str) -> list[str] | None:
    """``"all"`` (None: every registered model) or a list of NAME / NAME:VERSION."""
    from asaas.models.registry import parse_ref

    if value == "all":
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{name} must be "all" or a list of models such as ["tfidf-lr", '
                          f'"finetuned:1"], not {value!r}')
    for ref in value:
        parse_ref(ref)  # a malformed reference is a bad job file, found before anything runs
    return list(value)


@dataclass
class ScoreStep(Options):
    """``asaas score`` for each model: the latest version of every registered one (``"all"``) or
    the ones named; every option of the command as a key."""

    models: list[str] | None = option(None, parse=_models)  # None: "all"
    run: ScoreRun = field(default_factory=ScoreRun)


def run_score(ctx: StepContext, step: ScoreStep) -> dict[str, Any]:
    from asaas.models.registry import model_names, resolve_ref
    from asaas.scoring import run_score as score_with

    refs = model_names(ctx.store) if step.models is None else step.models
    if not refs:
        raise JobError("no registered models to score: train or register one first")
    counts: dict[str, Any] = {}
    for ref in refs:
        mv = resolve_ref(ctx.store, ref)  # NAME (latest version) or NAME:VERSION
        t0 = time.perf_counter()
        # Scored with each version's own recipe; a step may still name one (checked per model).
        report = score_with(ctx.store, mv, step.run, job_run_id=ctx.job_run_id)
        counts[mv.label] = {"scored": report.scored, "failed": report.failed,
                            "already_done": report.already_done, "left": report.left}
        ctx.log(f"  score {mv.label}: scored {report.scored:,}, failed {report.failed:,}, "
                f"already done {report.already_done:,}, left for the next run "
                f"{report.left:,} in {time.perf_counter() - t0:.1f} s")
    return counts


# -- views, report -------------------------------------------------------------------------------


@dataclass
class ViewsStep(Options):
    """Reinstall the SQL views (``asaas views install``); no keys."""


def run_views(ctx: StepContext, step: ViewsStep) -> dict[str, Any]:
    from asaas.views import install_views

    return {"views": len(install_views(ctx.store))}


@dataclass
class ReportStep(Options):
    """``asaas report``, written to ``path`` in ``format``; its options as keys (``full``: every
    metric column in markdown, table and html, as ``--full``)."""

    path: str = option(example='"FILE"')
    format: str = option("markdown", choices=(*TABLE_FORMATS, "html"))
    full: bool = option(False)
    report: ReportOptions = field(default_factory=ReportOptions)


def run_report(ctx: StepContext, step: ReportStep) -> dict[str, Any]:
    """The report `asaas report` prints, built by the same function and rendered by the same
    one per format: notes and pairs included."""
    from asaas.report import build_report, format_report

    target = Path(ctx.path(step.path))
    if step.report.by == "language":
        from asaas.report_languages import format_languages_report, languages_report

        if step.format == "html":
            raise ConfigError('a report step with by = "language" writes table, markdown, csv '
                              'or json, not html')
        table = languages_report(ctx.store, **step.report.query(),
                                 min_reviews=step.report.min_reviews)
        _write(target, format_languages_report(table, step.format, full=step.full))
        return {"path": str(target), "rows": len(table.rows), "pairs": 0}
    built = build_report(ctx.store, step.report)
    if step.format == "html":
        from asaas.report_page import write_html_report

        target.parent.mkdir(parents=True, exist_ok=True)
        write_html_report(ctx.store, target, built, full=step.full)
    else:
        _write(target, format_report(built, step.format, full=step.full))
    return {"path": str(target), "rows": len(built.metrics.rows),
            "pairs": len(built.pairs.rows)}


# -- events, alerts ------------------------------------------------------------------------------


@dataclass
class EventsStep(Options):
    """``asaas events derive``: early-access releases and first responses follow the data."""

    dataset: str | None = option(None)  # None: every dataset (settings.DATASET_HELP)


def run_events(ctx: StepContext, step: EventsStep) -> dict[str, Any]:
    from asaas.timeline.events import derive_events

    report = derive_events(ctx.store, dataset=step.dataset)
    return {"products": report.products, "new": report.inserted, "moved": report.replaced,
            "removed": report.removed}


@dataclass
class AlertsStep(Options):
    """The alerts (or responsiveness, recoveries, effects) table, written to ``path``."""

    path: str = option(example='"FILE"')
    table: str = option("alerts", choices=ALERT_TABLES)
    format: str = option("markdown", choices=TABLE_FORMATS)
    source: str | None = option(None)  # labels, or MODEL[:VERSION]
    dataset: str | None = option(None)  # None: every dataset (settings.DATASET_HELP)
    kinds: list[str] | None = option(None, choices=ALERT_KINDS, example='["negative"]')
    since: date | None = option(None, parse=parse_date)
    window_days: int = option(30, low=1)  # effects: days before and after each event


def run_alerts(ctx: StepContext, step: AlertsStep) -> dict[str, Any]:
    from asaas.tables import format_table
    from asaas.timeline import alerts, effects, responsiveness
    from asaas.timeline.rules import rule_from_options

    common = {"source": step.source, "dataset": step.dataset}
    if step.table == "alerts":
        rule = rule_from_options(kinds=tuple(step.kinds) if step.kinds else None)
        table = alerts.alerts_table(alerts.detect(ctx.store, rule=rule, since=step.since,
                                                  **common).alerts)
    elif step.table == "effects":
        table = effects.effects_table(effects.event_effects(
            ctx.store, window_days=step.window_days, **common))
    elif step.table == "recoveries":
        table = responsiveness.recoveries_table(responsiveness.recoveries(ctx.store, **common))
    else:
        table = responsiveness.ranking(ctx.store, **common)
    target = Path(ctx.path(step.path))
    _write(target, format_table(table, step.format))
    return {"path": str(target), "table": step.table, "rows": len(table.rows)}


# -- fetch, notify (the live job: fetch -> score -> alerts -> notify) ----------------------------


def run_fetch_step(ctx: StepContext, step: FetchOptions) -> dict[str, Any]:
    """``asaas fetch steam|play``: each app's new pages landed, then ingested. An app that fails
    is a problem of the run (one line), not the end of it: the other apps are fetched and the
    later steps (scoring, alerts, notify) still run on what came."""
    from asaas.fetch.options import run_fetch
    from asaas.settings import Settings

    def echo(line: str) -> None:
        ctx.log(f"  fetch: {line}")

    result = run_fetch(ctx.store, step, landing_root=Settings().model_home(ctx.store.url)
                       / "landing", echo=echo)
    for r in result.done:
        ctx.log(f"  fetch {result.label} {r.appid}: {r.pages:,} pages in {r.requests:,} "
                f"requests, {r.new:,} new, {r.changed:,} changed; {r.stopped}; ingested "
                f"{r.ingested:,}, updated {r.updated:,} in {r.duration_s:.1f} s")
    for note in result.notes:
        ctx.log(f"  fetch: note: {note}")
    ctx.problems += [f"fetch: {line}" for line in result.failed]
    return result.counts()


def run_notify_step(ctx: StepContext, step: NotifyRequest) -> dict[str, Any]:
    """``asaas notify``: each alert not sent yet, once. A failed delivery stays owed (the next
    run sends it) and is a problem of this run."""
    from asaas.notify.options import run_notify
    from asaas.settings import Settings

    run = run_notify(ctx.store, step, home=lambda s: Settings().model_home(s.url),
                     echo=lambda line: ctx.log(f"  notify: {line}"))
    report = run.report
    for note in report.notes:
        ctx.log(f"  notify: note: {run.masker(note)}")
    for name, line in report.failures.items():
        ctx.problems.append(f"notify: {run.masker(line)}; stays owed for the next run")
    counts: dict[str, Any] = {"alerts": report.alerts}
    for ch in run.channels:
        counts[ch.name] = {s: report.count(s, ch.name) for s in (
            "sent", "already sent", "failed", "not tried", "would send")}
    return counts


# -- the registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepKind:
    """A kind of step: its options type (``from_values(keys, "job")``) and what runs it."""

    options: Any
    run: Callable[[StepContext, Any], dict[str, Any]]


STEPS: dict[str, StepKind] = {
    "ingest": StepKind(IngestStep, run_ingest),
    "score": StepKind(ScoreStep, run_score),
    "views": StepKind(ViewsStep, run_views),
    "report": StepKind(ReportStep, run_report),
    "events": StepKind(EventsStep, run_events),
    "alerts": StepKind(AlertsStep, run_alerts),
    "fetch": StepKind(FetchOptions, run_fetch_step),
    "notify": StepKind(NotifyRequest, run_notify_step),
}
STEP_KINDS = tuple(STEPS)
