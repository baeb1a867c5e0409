"""A scoring run from plan to report, the same for every engine: what it selects and counts
(``plan_run``), its ``scoring_runs`` row from start to final status, and the report it returns.

A run is ``running`` while it works and ends ``succeeded``, ``failed`` or ``interrupted``; a run
left ``running`` by a process that no longer exists (killed) is marked interrupted by the next
run of the same version on the same host. An engine plans, returns the plan's empty report when
nothing is pending, starts the run with its own settings, scores through ``run.writer`` inside
``recorded``, and returns ``run.finish()``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from asaas.clock import process_gone, this_process, utcnow
from asaas.models.registry import ModelVersion
from asaas.progress import Progress
from asaas.scoring import selection as sel_mod
from asaas.scoring.options import ScoreOptions, ScoreReport
from asaas.scoring.writer import PredictionWriter
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import scoring_runs

R = TypeVar("R", bound=ScoreReport)


def _close_stale_runs(conn: sa.Connection, model_version_id: int) -> None:
    """Mark runs of this version left 'running' by a process that no longer exists."""
    rows = conn.execute(sa.select(scoring_runs.c.id, scoring_runs.c.settings).where(
        scoring_runs.c.model_version_id == model_version_id,
        scoring_runs.c.status == "running")).fetchall()
    for run_id, settings in rows:
        info = json.loads(settings or "{}")
        if process_gone(info.get("host"), info.get("pid")):
            conn.execute(sa.update(scoring_runs).where(scoring_runs.c.id == run_id).values(
                status="interrupted", error="process ended without finishing (killed?)"))


def start_run(store: Store, model_version_id: int, *, dataset: str, splits: list[str] | None,
              device: str, settings: dict[str, Any], job_run_id: int | None = None) -> int:
    """Record a new running run; returns its id."""
    settings = {**settings, **this_process()}
    with store.transaction() as conn:
        _close_stale_runs(conn, model_version_id)
        run_id = next_id(conn, "scoring_runs_id_seq")
        conn.execute(sa.insert(scoring_runs).values(
            id=run_id, model_version_id=model_version_id, job_run_id=job_run_id,
            dataset=dataset, splits=",".join(splits) if splits else None, device=device,
            settings=json.dumps(settings, default=str), status="running", started_at=utcnow()))
    return run_id


def finish_run(store: Store, run_id: int, status: str, error: str | None = None) -> None:
    with store.transaction() as conn:
        conn.execute(sa.update(scoring_runs).where(scoring_runs.c.id == run_id).values(
            status=status, finished_at=utcnow(), error=error[:2000] if error else None))


@contextlib.contextmanager
def recorded(store: Store, run_id: int, progress: Progress, flush: Callable[[], None]
             ) -> Iterator[None]:
    """How every engine ends a run: on success, flush the last predictions; on any exception,
    still flush what was finished (a rerun resumes after it), mark the run ``interrupted``
    (Ctrl-C) or ``failed`` with the error, and re-raise. The caller marks success itself, once
    it has taken its timings."""
    try:
        yield
        flush()
    except BaseException as exc:
        progress.close()
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            flush()
        finally:
            finish_run(store, run_id, status, f"{type(exc).__name__}: {exc}")
        raise
    progress.close()


# -- planning and reporting ----------------------------------------------------------------------


@dataclass
class RunPlan:
    """What a run will score: the selection, its size, and what is pending in it."""

    store: Store
    mv: ModelVersion
    options: ScoreOptions
    selection: sel_mod.Selection
    total: int  # reviews in the selection
    pending_all: int  # of which neither scored nor failed by the version yet
    pending: int  # of which this run takes (--max-reviews)

    def empty_report(self, cls: type[R] = ScoreReport) -> R:  # type: ignore[assignment]
        """The report of a run with nothing to do: no run recorded, nothing loaded."""
        return cls(self.mv.name, self.mv.version, None, self.total,
                   self.total - self.pending_all, 0, 0, 0, "-", 0.0, self.mv.recipe.describe())

    def settings(self, engine: str, *, chunk_size: int, threads: int | None,
                 batch_tokens: int | None, **extra: Any) -> dict[str, Any]:
        """What ``scoring_runs.settings`` records: the engine's own settings (``extra``), the
        recipe and the selection."""
        recipe = self.mv.recipe
        return {"engine": engine, **extra, "recipe": recipe.describe(),
                "max_length": recipe.max_length, "truncation": recipe.truncation,
                "quantize": recipe.quantize, "selection": self.selection.describe(),
                "chunk_size": chunk_size, "threads": threads, "batch_tokens": batch_tokens}

    def start(self, *, device: str, settings: dict[str, Any], job_run_id: int | None,
              t0: float, label: str = "") -> Run:
        """Record the run as running; its writer and progress."""
        run_id = start_run(self.store, self.mv.id, dataset=self.options.dataset,
                           splits=self.options.splits, device=device, settings=settings,
                           job_run_id=job_run_id)
        progress = Progress(self.pending, f"score {self.mv.label}{label}",
                            enabled=self.options.progress,
                            log_every_s=self.options.progress_every_s)
        return Run(self, run_id, device, PredictionWriter(self.store, self.mv.id, run_id),
                   progress, t0)


@dataclass
class Run:
    """A started run: what it writes with, how it shows progress, since when it runs."""

    plan: RunPlan
    run_id: int
    device: str
    writer: PredictionWriter
    progress: Progress
    t0: float  # perf_counter() when the engine started the clock

    def finish(self, cls: type[R] = ScoreReport, *, lost: int = 0,  # type: ignore[assignment]
               **extra: Any) -> R:
        """Mark the run succeeded and report it; ``lost``: reviews handed out but never
        written back (they are pending again), counted with those --max-reviews left."""
        seconds = time.perf_counter() - self.t0
        finish_run(self.plan.store, self.run_id, "succeeded")
        plan, w = self.plan, self.writer
        return cls(plan.mv.name, plan.mv.version, self.run_id, plan.total,
                   plan.total - plan.pending_all, w.scored, w.failed, w.truncated, self.device,
                   seconds, plan.mv.recipe.describe(),
                   left=max(0, plan.pending_all - plan.pending) + lost, **extra)


def plan_run(store: Store, mv: ModelVersion, options: ScoreOptions) -> RunPlan:
    """Check the selection (an empty dataset or an unknown split is refused with what exists)
    and count what is pending. The engine has checked ``options`` already."""
    sel_mod.check_selection(store, options)
    selection = sel_mod.selection_for(store, mv, options)
    total, pending_all = sel_mod.count(store, selection)
    pending = min(pending_all, options.max_reviews or pending_all)
    return RunPlan(store, mv, options, selection, total, pending_all, pending)
