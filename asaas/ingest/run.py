"""Ingest: stream a source batch by batch, validate, drop what is already stored, write the rest.

Idempotent by ``(dataset, external_id)``: ingesting the same source twice adds nothing the second
time. A review an earlier run stored is compared with the new copy: what changed (recommendation,
developer response, text, votes...) updates the row and is recorded in ``review_history``
(asaas.ingest.changes); the same source again changes nothing. Memory stays flat as the source
grows: readers yield batches, and each batch is checked against the database for its own ids
only. An id this very run already inserted is a duplicate within the source (the first is kept);
a row whose id an earlier run stored is "already present" (each occurrence), so the counts never
depend on the batch size.

Rows that cannot be stored (empty text, bad UTF-8, unknown label, bad time, NUL bytes...) are
rejected and counted with their reason; they never stop the ingest. A source that cannot be read
at all (missing, unreadable, no text column, a CSV quote never closed) stops it with a one-line
error and leaves nothing written: on PostgreSQL the ingest is one transaction; on DuckDB it
commits every DUCKDB_COMMIT_ROWS reviews (flat memory, readers get their turn) and a failure
deletes what it committed (and puts back the fields it changed, from its history rows); a run
killed outright is undone by the next ingest of the dataset. Each ingest, failed ones included,
is a row of ``ingest_runs``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from asaas.clock import process_gone, this_process, utcnow
from asaas.errors import AsaasError
from asaas.ingest.options import IngestOptions, check_options
from asaas.ingest.readers import Source, check_splits, open_source
from asaas.ingest.validate import Prepared, Rules, Tally, Validator
from asaas.ingest.changes import ReviewChanges, restore_changes
from asaas.ingest.writer import DerivedIds, ReviewWriter
from asaas.settings import DEFAULT_HF_DATASET
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import ingest_runs


@dataclass
class IngestReport:
    dataset: str
    source: str
    run_id: int | None
    rows_read: int
    inserted: int
    already_present: int
    rejected: dict[str, int]
    skipped: dict[str, int]
    examples: dict[str, list[str]]
    inserted_by_split: dict[str, int]
    duration_s: float
    #: Distinct products the inserted and present reviews are about, and how many were new.
    products: int = 0
    products_created: int = 0
    #: Files of a folder that were not read: (path, reason).
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    #: Stored reviews whose new copy changed them (recorded in review_history, by field), whose
    #: columns added by 0006 were only filled in, and whose text changed (predictions dropped,
    #: so the next `asaas score` scores them again).
    updated: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    backfilled: int = 0
    rescore: int = 0

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def rows_skipped(self) -> int:
        return self.already_present + sum(self.skipped.values())


def _record_failure(store: Store, dataset: str, source: str, splits: list[str] | None,
                    started: datetime, t0: float, error: str) -> None:
    try:
        with store.transaction() as conn:
            conn.execute(sa.insert(ingest_runs).values(
                id=next_id(conn, "ingest_runs_id_seq"), dataset=dataset, source=source,
                splits=",".join(splits) if splits else None, status="failed",
                started_at=started, finished_at=utcnow(), duration_s=time.perf_counter() - t0,
                error=error,
            ))
    except AsaasError:
        pass  # the original error matters more than failing to record it


def ingest(
    store: Store,
    source: str | None = None,
    options: IngestOptions | None = None,
    **changes: Any,
) -> IngestReport:
    """Read ``source`` (a path, ``hf:NAME``, or the default Hub dataset when None) into the
    ``reviews`` table. ``changes`` override fields of ``options`` (``dataset="sst2"``,
    ``splits=["train"]``, ``columns=ColumnNames(...)``...)."""
    options = check_options(replace(options or IngestOptions(), **changes))
    dataset = options.resolved_dataset()
    started, t0 = utcnow(), time.perf_counter()
    label = source or f"hf:{DEFAULT_HF_DATASET}"
    try:
        src = open_source(label, options.read_options())
        selection = frozenset(options.splits) if options.splits else None
        if selection:
            # Refused before anything is written: the split column alone is read for this.
            available = ({"train", "test"} if options.split_before is not None
                         else src.available_splits())
            if available is not None:
                check_splits(selection, available, src.name)
    except AsaasError as exc:
        _record_failure(store, dataset, label, options.splits, started, t0, str(exc))
        raise
    return _Run(store, options, dataset, label, started, t0).run(src, selection)


#: DuckDB: commit every this many reviews. One transaction holding millions of new rows keeps the
#: keys of the unique (dataset, external_id) index in memory until commit (measured: about 175 MB
#: per million reviews, 2.3x the memory at 5M rows than at 1M) and holds the file, which DuckDB
#: lets one process open, for the whole ingest. Chunks keep memory flat and let readers in
#: between; a failure deletes what the run committed, so the database ends as it began.
#: PostgreSQL keeps one transaction: its memory stays flat and readers never wait for it.
DUCKDB_COMMIT_ROWS = 100_000


class _Run:
    """One ingest run, once its source is open: recorded in ``ingest_runs`` first, in its own
    transaction, so that a failure (or, on DuckDB, a killed process) can be traced to it and its
    rows removed; its batches written in transactions of DUCKDB_COMMIT_ROWS reviews on DuckDB,
    in one on PostgreSQL; marked succeeded in the last; undone when anything fails."""

    def __init__(self, store: Store, options: IngestOptions, dataset: str, label: str,
                 started: datetime, t0: float) -> None:
        self.store, self.options, self.dataset, self.label = store, options, dataset, label
        self.started, self.t0 = started, t0
        self.tally = Tally()
        self.rows_read = 0
        self.duration = 0.0

    def run(self, src: Source, selection: frozenset[str] | None) -> IngestReport:
        undo_dead_runs(self.store, self.dataset)
        run_id = self._record_start()
        writer = ReviewWriter(self.store, None, self.dataset, run_id,
                              self.options.resolved_product_kind())
        derived = DerivedIds()
        try:
            self._write_all(self._prepared(src, selection, derived), writer,
                            lambda conn: self._finish(conn, run_id, writer, src))
        except BaseException as exc:
            self._fail(run_id, exc)
            raise
        finally:
            derived.close()
            if writer.changes is not None:
                writer.changes.close()
        tally = self.tally
        changes = writer.changes
        return IngestReport(
            dataset=self.dataset, source=self.label, run_id=run_id, rows_read=self.rows_read,
            inserted=writer.inserted, already_present=writer.already,
            rejected=dict(tally.rejected), skipped=dict(tally.skipped),
            examples=dict(tally.examples),
            inserted_by_split=dict(sorted(writer.by_split.items())), duration_s=self.duration,
            products=len(writer.product_cache), products_created=writer.products_created,
            skipped_files=[(s.path, s.reason) for s in src.skipped_files],
            **(_change_counts(changes) if changes is not None else {}),
        )

    def _record_start(self) -> int:
        splits = self.options.splits
        with self.store.transaction() as conn:
            run_id = next_id(conn, "ingest_runs_id_seq")
            conn.execute(sa.insert(ingest_runs).values(
                id=run_id, dataset=self.dataset, source=self.label,
                splits=",".join(splits) if splits else None, status="running",
                started_at=self.started, details=json.dumps(this_process())))
        return run_id

    def _prepared(self, src: Source, selection: frozenset[str] | None,
                  derived: DerivedIds) -> Iterator[Prepared]:
        """The source's batches, validated, derived ids numbered across batches."""
        options = self.options
        rules = Rules(max_review_chars=options.resolved_max_review_chars(),
                      label_map=options.resolved_label_map(), time_format=options.time_format,
                      split_before=options.split_before)
        validator = Validator(rules, self.tally, selection=selection)
        # With --split-before the split comes from each row's time, so the reader reads every
        # split and the validator selects.
        for raw in src.batches(None if options.split_before is not None else selection):
            prepared = validator.prepare(raw)
            if options.detect_language:  # rows whose source gave no language
                from asaas.ingest.language import fill_missing

                fill_missing(prepared.columns["text"], prepared.columns["language"])
            self.rows_read += prepared.read
            if prepared.derived:
                derived.number(prepared)
            yield prepared

    def _write_all(self, batches: Iterator[Prepared], writer: ReviewWriter,
                   finish: Callable[[sa.Connection], None]) -> None:
        """Write every batch, then ``finish`` in the last transaction. A transaction opens only
        once a batch is read and checked: on DuckDB the file is then free while the source is
        parsed, so readers get their turn between chunks."""
        batch = next(batches, None)
        while True:
            with self.store.transaction() as conn:
                writer.conn = conn
                more = self._write_chunk(batch, batches, writer)
                writer.flush()  # the chunk's changes to stored reviews, before its commit
                if not more:
                    finish(conn)
                    return
            writer.conn = None  # this chunk is committed
            batch = next(batches, None)

    def _write_chunk(self, batch: Prepared | None, batches: Iterator[Prepared],
                     writer: ReviewWriter) -> bool:
        """Write ``batch`` and the next ones; True when a DuckDB chunk is full (commit it and
        go on), False when the source is done."""
        start = writer.inserted
        while batch is not None:
            writer.write(batch, self.tally)
            if self.store.is_duckdb and writer.inserted - start >= DUCKDB_COMMIT_ROWS:
                return True
            batch = next(batches, None)
        return False

    def _finish(self, conn: sa.Connection, run_id: int, writer: ReviewWriter,
                src: Source) -> None:
        tally = self.tally
        details = {
            "rejected": dict(tally.rejected),
            "skipped": dict(tally.skipped),
            "already_present": writer.already,
            "examples": dict(tally.examples),
            "inserted_by_split": dict(sorted(writer.by_split.items())),
            "products": len(writer.product_cache),
            "products_created": writer.products_created,
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in src.skipped_files],
        }
        if writer.changes is not None:
            details.update(_change_counts(writer.changes))
        self.duration = time.perf_counter() - self.t0
        conn.execute(sa.update(ingest_runs).where(ingest_runs.c.id == run_id).values(
            status="succeeded", rows_read=self.rows_read, rows_inserted=writer.inserted,
            rows_skipped=writer.already + sum(tally.skipped.values()),
            rows_rejected=sum(tally.rejected.values()), details=json.dumps(details),
            finished_at=utcnow(), duration_s=self.duration))

    def _fail(self, run_id: int, exc: BaseException) -> None:
        """Remove what the run committed and mark it failed (interrupted by Ctrl-C)."""
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = str(exc) if isinstance(exc, AsaasError) else f"{type(exc).__name__}: {exc}"
        try:
            _undo_run(self.store, run_id, self.started, status, error)
        except AsaasError:
            pass  # the original error matters more than failing to clean up after it


def _change_counts(changes: ReviewChanges) -> dict[str, Any]:
    """What a run changed in stored reviews, as IngestReport fields (and ingest_runs.details)."""
    return {"updated": changes.changed, "changes": dict(sorted(changes.fields.items())),
            "backfilled": changes.backfilled, "rescore": changes.rescore}


def _undo_run(store: Store, run_id: int, started: datetime, status: str, error: str) -> None:
    """Remove what a failed run committed (DuckDB chunks), put back the fields it changed in
    reviews stored before it, and mark it ``status``."""
    restore_changes(store, run_id)
    _delete_run_rows(store, run_id, started)
    with store.transaction() as conn:
        conn.execute(sa.update(ingest_runs).where(ingest_runs.c.id == run_id).values(
            status=status, finished_at=utcnow(), error=error[:2000]))


#: What a run's rows are removed with, children before parents. Each step is its own
#: transaction: DuckDB checks a foreign key against the state before the transaction, so
#: reviews whose predictions were deleted in the same transaction still count as referenced
#: ("key ... is still referenced by a foreign key"), and the run could never be undone. Until
#: the last step the run stays as it was, so an interrupted clean-up is finished by the next.
_DELETE_RUN_ROWS = (
    # The changes the run recorded (their fields were put back first: restore_changes), and
    # history that a later run recorded about the run's own reviews, before those reviews.
    "DELETE FROM review_history WHERE ingest_run_id = :r",
    "DELETE FROM review_history WHERE review_id IN "
    "(SELECT id FROM reviews WHERE ingest_run_id = :r)",
    # A scorer may have reached reviews of committed chunks meanwhile: theirs go first.
    "DELETE FROM predictions WHERE review_id IN "
    "(SELECT id FROM reviews WHERE ingest_run_id = :r)",
    "DELETE FROM prediction_failures WHERE review_id IN "
    "(SELECT id FROM reviews WHERE ingest_run_id = :r)",
    "DELETE FROM reviews WHERE ingest_run_id = :r",
    # Products first created by the run and now without reviews go too.
    "DELETE FROM products WHERE created_at >= :t AND NOT EXISTS "
    "(SELECT 1 FROM reviews r WHERE r.product_id = products.id) AND NOT EXISTS "
    "(SELECT 1 FROM events e WHERE e.product_id = products.id)",
)


def _delete_run_rows(store: Store, run_id: int, started: datetime) -> None:
    for sql in _DELETE_RUN_ROWS:
        with store.transaction() as conn:
            conn.execute(sa.text(sql), {"r": run_id, "t": started})


def undo_dead_runs(store: Store, dataset: str) -> None:
    """Runs of ``dataset`` left 'running' by a process of this host that no longer exists
    (killed mid-ingest): their committed rows are removed and they are marked interrupted."""
    with store.transaction() as conn:
        rows = conn.execute(sa.select(ingest_runs.c.id, ingest_runs.c.details,
                                      ingest_runs.c.started_at)
                            .where(ingest_runs.c.dataset == dataset,
                                   ingest_runs.c.status == "running")).fetchall()
    for run_id, details, started in rows:
        info = json.loads(details or "{}")
        if process_gone(info.get("host"), info.get("pid")):
            _undo_run(store, run_id, started, "interrupted",
                      "process ended without finishing (killed?); its rows were removed")
