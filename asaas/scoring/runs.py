"""Run bookkeeping: one ``scoring_runs`` row per run, from start to its final status.

A run is ``running`` while it works and ends ``succeeded``, ``failed`` or ``interrupted``; a run
left ``running`` by a process that no longer exists (killed) is marked interrupted by the next
run of the same version on the same host.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from asaas.clock import process_gone, this_process, utcnow
from asaas.progress import Progress
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import scoring_runs


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
