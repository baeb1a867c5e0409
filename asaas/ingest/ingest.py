"""Ingest: stream a source batch by batch, validate, drop what is already stored, write the rest.

Idempotent by ``(dataset, external_id)``: ingesting the same source twice adds nothing the second
time. Memory stays flat as the source grows: readers yield batches, and each batch is checked
against the database for its own ids only. An id this very run already inserted is a duplicate
within the source (the first is kept); a row whose id an earlier run stored is "already present"
(each occurrence), so the counts never depend on the batch size.

Rows that cannot be stored (empty text, bad UTF-8, unknown label, bad time, NUL bytes...) are
rejected and counted with their reason; they never stop the ingest. A source that cannot be read
at all (missing, unreadable, no text column, a CSV quote never closed) stops it with a one-line
error and leaves nothing written: on PostgreSQL the ingest is one transaction; on DuckDB it
commits every DUCKDB_COMMIT_ROWS reviews (flat memory, readers get their turn) and a failure
deletes what it committed; a run killed outright is undone by the next ingest of the dataset.
Each ingest, failed ones included, is a row of ``ingest_runs``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from asaas.clock import process_gone, this_process, utcnow
from asaas.errors import AsaasError
from asaas.ingest.options import IngestOptions, check_options, max_review_chars
from asaas.ingest.readers import ReadOptions, Source, check_splits, open_source, steam
from asaas.ingest.readers.base import GENERIC_SPECS
from asaas.ingest.validate import DUPLICATE, Prepared, Rules, Tally, Validator
from asaas.settings import DEFAULT_HF_DATASET
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import ingest_runs, products
from asaas.store.sql import text_query

#: Ids per statement where a database takes no array parameter (SQLite).
_IN_CHUNK = 500


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


def _read_options(options: IngestOptions) -> ReadOptions:
    if options.format == steam.NAME:
        specs = dict(steam.SPECS)
        pattern = steam.PRODUCT_FROM_FILE_NAME
    else:
        specs, pattern = dict(GENERIC_SPECS), None
    return ReadOptions(columns=options.columns, specs=specs, default_split=options.default_split,
                       batch_rows=options.batch_rows, product_from_file_name=pattern,
                       format_name=options.format)


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
        src = open_source(label, _read_options(options))
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
    return _run(store, src, options, dataset, label, selection, started, t0)  # records its own


#: DuckDB: commit every this many reviews. One transaction holding millions of new rows keeps the
#: keys of the unique (dataset, external_id) index in memory until commit (measured: about 175 MB
#: per million reviews, 2.3x the memory at 5M rows than at 1M) and holds the file, which DuckDB
#: lets one process open, for the whole ingest. Chunks keep memory flat and let readers in
#: between; a failure deletes what the run committed, so the database ends as it began.
#: PostgreSQL keeps one transaction: its memory stays flat and readers never wait for it.
DUCKDB_COMMIT_ROWS = 100_000


def _run(store: Store, src: Source, options: IngestOptions, dataset: str, label: str,
         selection: frozenset[str] | None, started: datetime, t0: float) -> IngestReport:
    tally = Tally()
    rules = Rules(max_review_chars=max_review_chars(options), label_map=options.label_map,
                  time_format=options.time_format, split_before=options.split_before)
    validator = Validator(rules, tally, selection=selection)
    product_kind = options.product_kind or (steam.PRODUCT_KIND if options.format == steam.NAME
                                            else None)
    chunked = store.is_duckdb
    # The run is recorded first, in its own transaction, so that a failure (or, on DuckDB, a
    # killed process) can be traced to it and its rows removed.
    undo_dead_runs(store, dataset)
    with store.transaction() as conn:
        run_id = next_id(conn, "ingest_runs_id_seq")
        conn.execute(sa.insert(ingest_runs).values(
            id=run_id, dataset=dataset, source=label,
            splits=",".join(options.splits) if options.splits else None, status="running",
            started_at=started,
            details=json.dumps(this_process())))
    derived = DerivedIds()
    stack = contextlib.ExitStack()
    writer: ReviewWriter | None = None
    try:
        writer = ReviewWriter(store, None, dataset, run_id, product_kind)
        # With --split-before the split comes from each row's time, so the reader reads
        # every split and the validator selects.
        reader_selection = None if options.split_before is not None else selection
        rows_read, committed = 0, 0
        for raw in src.batches(reader_selection):
            prepared = validator.prepare(raw)
            rows_read += prepared.read
            if prepared.derived:
                derived.number(prepared)
            if writer.conn is None:
                # Opened only once a batch is read and checked: on DuckDB the file is then
                # free while the source is parsed, so readers get their turn between chunks.
                writer.conn = stack.enter_context(store.transaction())
            writer.write(prepared, tally)
            if chunked and writer.inserted - committed >= DUCKDB_COMMIT_ROWS:
                stack.close()  # commit this chunk
                stack = contextlib.ExitStack()
                writer.conn = None
                committed = writer.inserted
        if writer.conn is None:
            writer.conn = stack.enter_context(store.transaction())
        skipped_files = [(s.path, s.reason) for s in src.skipped_files]
        details = {
            "rejected": dict(tally.rejected),
            "skipped": dict(tally.skipped),
            "already_present": writer.already,
            "examples": dict(tally.examples),
            "inserted_by_split": dict(sorted(writer.by_split.items())),
            "products": len(writer.product_cache),
            "products_created": writer.products_created,
            "skipped_files": [{"path": p, "reason": r} for p, r in skipped_files],
        }
        duration = time.perf_counter() - t0
        writer.conn.execute(sa.update(ingest_runs).where(ingest_runs.c.id == run_id).values(
            status="succeeded", rows_read=rows_read, rows_inserted=writer.inserted,
            rows_skipped=writer.already + sum(tally.skipped.values()),
            rows_rejected=sum(tally.rejected.values()), details=json.dumps(details),
            finished_at=utcnow(), duration_s=duration))
        stack.close()  # commit
    except BaseException as exc:
        stack.__exit__(type(exc), exc, exc.__traceback__)  # roll the open transaction back
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = str(exc) if isinstance(exc, AsaasError) else f"{type(exc).__name__}: {exc}"
        try:
            _undo_run(store, run_id, started, status, error)
        except AsaasError:
            pass  # the original error matters more than failing to clean up after it
        raise
    finally:
        derived.close()
    return IngestReport(
        dataset=dataset, source=label, run_id=run_id, rows_read=rows_read,
        inserted=writer.inserted, already_present=writer.already,
        rejected=dict(tally.rejected), skipped=dict(tally.skipped),
        examples=dict(tally.examples), inserted_by_split=dict(sorted(writer.by_split.items())),
        duration_s=duration, products=len(writer.product_cache),
        products_created=writer.products_created, skipped_files=skipped_files,
    )


def _undo_run(store: Store, run_id: int, started: datetime, status: str, error: str) -> None:
    """Remove what a failed run committed (DuckDB chunks) and mark it ``status``."""
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


class DerivedIds:
    """Numbers repeats of derived ids (``train:<hash>``, ``#2``, ``#3``...) across batches.

    The counts live in a private SQLite file that SQLite deletes on close (``connect("")``), so
    a source without ids costs disk, not memory, however long it is.
    """

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None

    def number(self, prepared: Prepared) -> None:
        if self.db is None:
            self.db = sqlite3.connect("")
            self.db.execute("CREATE TABLE seen (base TEXT PRIMARY KEY, n INTEGER NOT NULL) "
                            "WITHOUT ROWID")
        bases = list(dict.fromkeys(base for _, base in prepared.derived))
        prior: dict[str, int] = {}
        for start in range(0, len(bases), _IN_CHUNK):
            part = bases[start:start + _IN_CHUNK]
            prior.update(self.db.execute(
                f"SELECT base, n FROM seen WHERE base IN ({','.join('?' * len(part))})", part))
        local: Counter = Counter()
        for index, base in prepared.derived:
            local[base] += 1
            k = prior.get(base, 0) + local[base]
            prepared.ids[index] = base if k == 1 else f"{base}#{k}"
        self.db.executemany("INSERT INTO seen (base, n) VALUES (?, ?) "
                            "ON CONFLICT (base) DO UPDATE SET n = n + excluded.n", local.items())

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


class ReviewWriter:
    """Writes validated batches inside the ingest's transaction."""

    def __init__(self, store: Store, conn: sa.Connection | None, dataset: str, run_id: int,
                 product_kind: str | None) -> None:
        self.store, self.conn, self.dataset, self.run_id = store, conn, dataset, run_id
        self.product_kind = product_kind
        self.inserted = 0
        self.already = 0
        self.by_split: Counter = Counter()
        #: products.external_id -> [id, has a name]: products are few next to reviews.
        self.product_cache: dict[str, list[Any]] = {}
        self.products_created = 0

    # -- reviews ---------------------------------------------------------------------------

    def stored(self, ids: list[str]) -> dict[str, int]:
        """external_id -> ingest_run_id for the ids of this batch that are already stored."""
        if not ids:
            return {}
        params: dict[str, Any] = {"dataset": self.dataset, "ids": ids}
        if self.store.is_duckdb:
            # A list parameter unnested into a table: DuckDB probes the unique index instead
            # of scanning every stored id of the dataset.
            sql = ("SELECT external_id, ingest_run_id FROM reviews WHERE dataset = :dataset "
                   "AND external_id IN (SELECT unnest(CAST(:ids AS VARCHAR[])))")
            return dict(self.conn.execute(sa.text(sql), params).fetchall())
        if self.store.dialect == "postgresql":
            sql = ("SELECT external_id, ingest_run_id FROM reviews WHERE dataset = :dataset "
                   "AND external_id = ANY(:ids)")
            return dict(self.conn.execute(sa.text(sql), params).fetchall())
        found: dict[str, int] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            part = {"dataset": self.dataset, "ids": ids[start:start + _IN_CHUNK]}
            found.update(self.conn.execute(text_query(
                "SELECT external_id, ingest_run_id FROM reviews WHERE dataset = :dataset "
                "AND external_id IN :ids", part), part).fetchall())
        return found

    def write(self, batch: Prepared, tally: Tally) -> None:
        stored = self.stored(batch.ids)
        keep: list[int] = []
        fresh: set[str] = set()
        for i, ext in enumerate(batch.ids):
            run = stored.get(ext)
            if run is not None and run != self.run_id:
                # Stored by an earlier run: every occurrence is "already present", so the
                # counts do not depend on which rows shared a batch.
                self.already += 1
            elif run is not None or ext in fresh:
                tally.note(tally.skipped, DUPLICATE, batch.where[i])
            else:
                fresh.add(ext)
                keep.append(i)
        product_ids = self._product_ids(batch)  # products of present rows are filled in too
        if not keep:
            return

        def pick(values: list[Any]) -> list[Any]:
            return values if len(keep) == len(values) else [values[i] for i in keep]

        n = len(keep)
        table = pa.table({
            "dataset": pa.array([self.dataset] * n, pa.string()),
            "external_id": pa.array(pick(batch.ids), pa.string()),
            "split": pa.array(pick(batch.splits), pa.string()),
            "text": pa.array(pick(batch.texts), pa.large_string()),
            "label": pa.array(pick(batch.labels), pa.int16()),
            "rating": pa.array(pick(batch.ratings), pa.float64()),
            "content_hash": pa.array(pick(batch.hashes), pa.string()),
            "product_id": pa.array(pick(product_ids), pa.int64()),
            "reviewed_at": pa.array(pick(batch.times), pa.timestamp("us")),
            "ingest_run_id": pa.array([self.run_id] * n, pa.int64()),
            "language": pa.array(pick(batch.languages), pa.string()),
            "early_access": pa.array(pick(batch.early_access), pa.bool_()),
            "developer_response": pa.array(pick(batch.responses), pa.large_string()),
            "developer_responded_at": pa.array(pick(batch.responded_at), pa.timestamp("us")),
        })
        # The batch was just checked against the database, inside this transaction. DuckDB
        # lets one process write the file at a time, so nothing can collide since; and its
        # ON CONFLICT path costs 200x a plain insert on this table (its secondary indexes).
        # PostgreSQL can have concurrent writers: there a collision is skipped, not an error.
        self.store.insert_arrow(self.conn, "reviews", table,
                                on_conflict_do_nothing=not self.store.is_duckdb)
        self.inserted += n
        self.by_split.update(pick(batch.splits))

    # -- products --------------------------------------------------------------------------

    def _product_ids(self, batch: Prepared) -> list[int | None]:
        """products.id per row; products are created (name and kind filled) when missing."""
        named: dict[str, str | None] = {}
        for ext, name in zip(batch.products, batch.product_names):
            if ext is not None and named.get(ext) is None:
                named[ext] = name
        if not named:
            return [None] * len(batch.products)
        missing = [ext for ext in named if ext not in self.product_cache]
        if missing:
            self._load_products(missing)
            new = [ext for ext in missing if ext not in self.product_cache]
            if new:
                now = utcnow()
                self.conn.execute(sa.insert(products), [
                    {"source": self.dataset, "external_id": ext, "name": named[ext],
                     "kind": self.product_kind, "created_at": now} for ext in new])
                self.products_created += len(new)
                self._load_products(new)
        for ext, name in named.items():
            entry = self.product_cache[ext]
            if name is not None and not entry[1]:
                # A product first seen without a name gets the first name a later row gives.
                self.conn.execute(sa.update(products).where(
                    products.c.id == entry[0], products.c.name.is_(None)).values(name=name))
                entry[1] = True
        return [None if ext is None else self.product_cache[ext][0] for ext in batch.products]

    def _load_products(self, exts: list[str]) -> None:
        for start in range(0, len(exts), _IN_CHUNK):
            part = exts[start:start + _IN_CHUNK]
            rows = self.conn.execute(
                sa.select(products.c.external_id, products.c.id, products.c.name,
                          products.c.kind)
                .where(products.c.source == self.dataset, products.c.external_id.in_(part)))
            for ext, pid, name, kind in rows:
                self.product_cache[ext] = [pid, name is not None]
                if kind is None and self.product_kind:
                    self.conn.execute(sa.update(products).where(products.c.id == pid)
                                      .values(kind=self.product_kind))
