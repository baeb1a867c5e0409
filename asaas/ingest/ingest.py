"""Ingest: validate raw rows, drop what is already stored, write the rest in one transaction.

Idempotent by ``(dataset, external_id)``: ingesting the same source twice adds nothing the second
time. Rows that cannot be stored (empty text, bad UTF-8, unknown label, duplicate id) are
rejected or skipped and counted with their reason; they never stop the ingest. A source that
cannot be read at all stops it before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.errors import AsaasError, SourceError
from asaas.ingest import readers
from asaas.ingest.readers import ColumnNames, RawRows
from asaas.settings import DEFAULT_HF_DATASET
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import ingest_runs, reviews

_POSITIVE = {"1", "pos", "positive", "true"}
_NEGATIVE = {"0", "neg", "negative", "false"}
_UNLABELLED = {"", "-1", "none", "null", "nan", "unsup", "unlabeled", "unlabelled"}

#: Examples kept per rejection reason, for messages and the ingest_runs.details column.
EXAMPLES_PER_REASON = 3


class LabelError(ValueError):
    pass


def normalize_label(value: Any) -> int | None:
    """1 / 0 / None (unlabelled) from 0/1, pos/neg, positive/negative, true/false, -1/empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        if value in (0, 1):
            return int(value)
        if value == -1:
            return None
        raise LabelError(str(value))
    text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    key = text.strip().lower()
    if key in _POSITIVE:
        return 1
    if key in _NEGATIVE:
        return 0
    if key in _UNLABELLED:
        return None
    raise LabelError(text)


def _rating(value: Any) -> float | None:
    if value is None or value == "":
        return None
    rating = float(value)
    return None if math.isnan(rating) else rating


@dataclass
class Prepared:
    """Validated rows ready to insert, plus what was rejected or skipped and why."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[int | None] = field(default_factory=list)
    ratings: list[float | None] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, bucket: Counter, reason: str, where: str) -> None:
        bucket[reason] += 1
        if len(self.examples[reason]) < EXAMPLES_PER_REASON:
            self.examples[reason].append(where)


def prepare(raw: RawRows) -> Prepared:
    """Validate every row; generate stable ids for sources that have none."""
    out = Prepared()
    seen: set[str] = set()
    repeats: Counter = Counter()
    for text, label, id_, rating, split, where in zip(
        raw.texts, raw.labels, raw.ids, raw.ratings, raw.splits, raw.where
    ):
        reason = readers.unparseable_reason(text)
        if reason:
            out.note(out.rejected, reason, where)
            continue
        if isinstance(text, (bytes, bytearray)):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                out.note(out.rejected, "text is not valid UTF-8", where)
                continue
        if text is None or (isinstance(text, float) and math.isnan(text)):
            out.note(out.rejected, "text is missing", where)
            continue
        text = str(text)
        if not text.strip():
            out.note(out.rejected, "text is empty or whitespace", where)
            continue
        try:
            lab = normalize_label(label)
        except LabelError as exc:
            out.note(out.rejected, "label is not 0/1/pos/neg", f"{where} ({str(exc)[:20]!r})")
            continue
        try:
            rat = _rating(rating)
        except (TypeError, ValueError):
            out.note(out.rejected, "rating is not a number", where)
            continue
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if id_ is None or (isinstance(id_, float) and math.isnan(id_)) or str(id_).strip() == "":
            # No id in the source: derive one from split and content, numbering repeats, so the
            # same file ingested again maps every row to the same id.
            base = f"{split}:{digest[:20]}"
            repeats[base] += 1
            ext = base if repeats[base] == 1 else f"{base}#{repeats[base]}"
        else:
            ext = str(id_).strip()
        if ext in seen:
            out.note(out.skipped, "duplicate id within the source (first kept)", where)
            continue
        seen.add(ext)
        out.ids.append(ext)
        out.texts.append(text)
        out.labels.append(lab)
        out.ratings.append(rat)
        out.splits.append(split)
        out.hashes.append(digest)
    return out


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
    *,
    dataset: str = "imdb",
    splits: list[str] | None = None,
    columns: ColumnNames | None = None,
    default_split: str = "train",
) -> IngestReport:
    """Read ``source`` (a path, or the Hub dataset when None) into the ``reviews`` table."""
    if not dataset or not dataset.strip():
        raise SourceError("--dataset must not be empty; use e.g. --dataset imdb")
    started, t0 = utcnow(), time.perf_counter()
    label = source or f"hf:{DEFAULT_HF_DATASET}"
    try:
        if source is None:
            raw = readers.read_hub(DEFAULT_HF_DATASET, splits)
        elif source.startswith("hf:"):
            raw = readers.read_hub(source[3:], splits)
        else:
            raw = readers.read_source(source, splits, columns, default_split)
        prepared = prepare(raw)
    except AsaasError as exc:
        _record_failure(store, dataset, label, splits, started, t0, str(exc))
        raise

    with store.transaction() as conn:
        existing = {
            row[0]
            for row in conn.execute(
                sa.select(reviews.c.external_id).where(reviews.c.dataset == dataset)
            )
        }
        keep = [i for i, ext in enumerate(prepared.ids) if ext not in existing]
        already = len(prepared.ids) - len(keep)
        run_id = next_id(conn, "ingest_runs_id_seq")
        details = {
            "rejected": dict(prepared.rejected),
            "skipped": dict(prepared.skipped),
            "already_present": already,
            "examples": dict(prepared.examples),
        }
        by_split = Counter(prepared.splits[i] for i in keep)
        conn.execute(sa.insert(ingest_runs).values(
            id=run_id, dataset=dataset, source=label,
            splits=",".join(splits) if splits else None, status="succeeded",
            started_at=started, rows_read=len(raw), rows_inserted=len(keep),
            rows_skipped=already + sum(prepared.skipped.values()),
            rows_rejected=sum(prepared.rejected.values()), details=json.dumps(details),
        ))
        if keep:
            table = pa.table({
                "dataset": pa.array([dataset] * len(keep), pa.string()),
                "external_id": pa.array([prepared.ids[i] for i in keep], pa.string()),
                "split": pa.array([prepared.splits[i] for i in keep], pa.string()),
                "text": pa.array([prepared.texts[i] for i in keep], pa.large_string()),
                "label": pa.array([prepared.labels[i] for i in keep], pa.int16()),
                "rating": pa.array([prepared.ratings[i] for i in keep], pa.float64()),
                "content_hash": pa.array([prepared.hashes[i] for i in keep], pa.string()),
                "ingest_run_id": pa.array([run_id] * len(keep), pa.int64()),
            })
            store.insert_arrow(conn, "reviews", table)
        duration = time.perf_counter() - t0
        conn.execute(sa.update(ingest_runs).where(ingest_runs.c.id == run_id).values(
            finished_at=utcnow(), duration_s=duration))
    return IngestReport(
        dataset=dataset, source=label, run_id=run_id, rows_read=len(raw), inserted=len(keep),
        already_present=already, rejected=dict(prepared.rejected),
        skipped=dict(prepared.skipped), examples=dict(prepared.examples),
        inserted_by_split=dict(sorted(by_split.items())), duration_s=duration,
    )
