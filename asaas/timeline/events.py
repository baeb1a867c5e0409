"""Products and their events: what happened to a product, and when.

Events come from three places, recorded in ``events.source``:

- ``manual``: ``asaas events add PRODUCT --at DATE --kind KIND --title TEXT``;
- ``import``: ``asaas events import FILE`` (CSV or JSON Lines; all rows or none);
- ``derived``: ``asaas events derive``, computed from the reviews themselves:

  - ``full_release``: the product left early access. Steam marks each review "written during
    early access", but not cleanly: on the 80 shared games 1-3% of reviews sit on the wrong side
    of the switch (late early-access reviews, a few "full" reviews during early access). The
    switch is therefore the instant that best separates the two kinds of review: the split of
    the time-ordered reviews that leaves the fewest early-access reviews after it plus full
    reviews before it (a one-dimensional step fit). It is kept only when at least
    ``MIN_SIDE_REVIEWS`` reviews lie on each side and the step agrees with at least
    ``MIN_AGREEMENT`` of the product's reviews; the event time is the first review after the
    split. Products that never left early access (every review early access) get no event.
  - ``first_response``: the first developer response (the smallest ``developer_responded_at``).

  Deriving is idempotent: derived events follow the data, so a product whose switch moves when
  new reviews arrive gets its derived event replaced, not a second one. Manual and imported
  events are never touched by ``derive``.

Products are named by their external id (a Steam app id) or by their name, as in every command
(asaas/timeline/products.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from asaas.clock import naive_utc, parse_iso, utcnow
from asaas.errors import AsaasError
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import events as events_table_def
from asaas.store.schema import products, reviews
from asaas.tables import Table
from asaas.timeline.products import (Narrow, Product, ProductNotFoundError, all_products,
                                     find_product, in_dataset, match_product)

#: Kinds of derived events.
KIND_FULL_RELEASE = "full_release"
KIND_FIRST_RESPONSE = "first_response"
DERIVED_KINDS = (KIND_FULL_RELEASE, KIND_FIRST_RESPONSE)

#: Event sources, as stored in ``events.source``.
SOURCES = ("manual", "import", "derived")

#: The early-access switch needs this many reviews on each side ...
MIN_SIDE_REVIEWS = 10
#: ... and must agree with this share of the product's early-access flags.
MIN_AGREEMENT = 0.9

_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_TITLE = 500


class EventError(AsaasError):
    """An event or an events file that cannot be recorded as given."""


# -- times ---------------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime:
    """A date or date-time as naive UTC: ``2017-09-12``, ``2017-09-12 10:30``,
    ``2017-09-12T10:30:00Z``, ``...+02:00``; an aware time is converted to UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        try:
            parsed = parse_iso(str(value))
        except ValueError:
            raise EventError(f"bad date {value!r}; use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS] "
                             "(UTC, or with an offset such as +02:00)") from None
    return naive_utc(parsed)


def check_kind(kind: str) -> str:
    kind = str(kind).strip()
    if not _KIND.match(kind):
        raise EventError(f"bad event kind {kind!r}; use 1-32 lower-case letters, digits, _ or - "
                         "starting with a letter (e.g. patch, price, release)")
    return kind


def check_title(title: str) -> str:
    title = str(title).strip()
    if not title:
        raise EventError("an event needs a title; pass --title TEXT")
    if len(title) > MAX_TITLE:
        raise EventError(f"event title is {len(title)} characters; keep it under {MAX_TITLE}")
    return title


# -- events --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    product_id: int
    product: str  # external id
    product_name: str | None
    occurred_at: datetime
    kind: str
    title: str
    source: str
    details: dict[str, Any] = field(default_factory=dict)


EVENT_COLUMNS = ["event_id", "product", "name", "occurred_at", "kind", "title", "source"]


def events_table(events: Iterable[Event]) -> Table:
    return Table(list(EVENT_COLUMNS), [
        (e.id, e.product, e.product_name, e.occurred_at, e.kind, e.title, e.source)
        for e in events])


def list_events(store: Store, product_id: int | None = None, *, product: str | None = None,
                kinds: Sequence[str] | None = None, sources: Sequence[str] | None = None,
                dataset: str | None = None) -> list[Event]:
    """Events, oldest first; of one product (``product_id``, or ``product`` by external id or
    name), of some kinds or sources, of ``dataset``'s products only (when given)."""
    if product is not None:
        product_id = find_product(store, product, dataset=dataset).id
    e, p = events_table_def, products
    query = (sa.select(e.c.id, e.c.product_id, p.c.external_id, p.c.name, e.c.occurred_at,
                       e.c.kind, e.c.title, e.c.source, e.c.details)
             .join(p, p.c.id == e.c.product_id)
             .order_by(e.c.occurred_at, e.c.product_id, e.c.kind, e.c.id))
    if product_id is not None:
        query = query.where(e.c.product_id == product_id)
    if kinds:
        query = query.where(e.c.kind.in_(list(kinds)))
    if sources:
        query = query.where(e.c.source.in_(list(sources)))
    if dataset is not None:
        query = query.where(p.c.source == dataset)
    with store.read_transaction() as conn:
        rows = conn.execute(query).fetchall()
    return [Event(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], r[7],
                  json.loads(r[8]) if r[8] else {}) for r in rows]


def _existing_event(conn: sa.Connection, product_id: int, kind: str, at: datetime) -> int | None:
    e = events_table_def
    found = conn.execute(sa.select(e.c.id).where(e.c.product_id == product_id, e.c.kind == kind,
                                                 e.c.occurred_at == at)).first()
    return int(found[0]) if found else None


def _insert(conn: sa.Connection, product_id: int, at: datetime, kind: str, title: str,
            source: str, details: dict[str, Any] | None) -> int:
    event_id = next_id(conn, "events_id_seq")
    conn.execute(sa.insert(events_table_def).values(
        id=event_id, product_id=product_id, occurred_at=at, kind=kind, title=title,
        source=source, details=json.dumps(details, sort_keys=True) if details else None,
        created_at=utcnow()))
    return event_id


def add_event(store: Store, product: str | int, at: Any, kind: str, title: str, *,
              details: dict[str, Any] | None = None, dataset: str | None = None) -> Event:
    """Record one manual event of ``product`` (among ``dataset``'s products when given); the
    same product, kind and time twice is an error."""
    prod = find_product(store, product, dataset=dataset)
    when, kind, title = parse_time(at), check_kind(kind), check_title(title)
    if details is not None and not isinstance(details, dict):
        raise EventError("event details must be a JSON object, e.g. '{\"version\": \"1.2\"}'")
    with store.transaction() as conn:
        existing = _existing_event(conn, prod.id, kind, when)
        if existing is not None:
            raise EventError(f"{prod.label} already has a {kind} event at {when} (event "
                             f"{existing}); pick another time or kind")
        event_id = _insert(conn, prod.id, when, kind, title, "manual", details)
    return Event(event_id, prod.id, prod.external_id, prod.name, when, kind, title, "manual",
                 details or {})


# -- import --------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    path: str
    rows: int
    inserted: int
    already_present: int


_TIME_KEYS = ("at", "occurred_at")
_MAX_SHOWN_ERRORS = 3


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) of a CSV or JSON Lines file; a file that cannot be parsed raises."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EventError(f"events file {path} does not exist") from None
    except IsADirectoryError:
        raise EventError(f"{path} is a folder; pass an events file (.csv or .jsonl)") from None
    except UnicodeDecodeError:
        raise EventError(f"events file {path} is not UTF-8 text; save it as UTF-8") from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json") or (
            suffix not in (".csv", ".tsv") and text.lstrip().startswith("{")):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EventError(f"{path} line {number}: not valid JSON ({exc.msg}); nothing "
                                 "was imported") from None
            if not isinstance(obj, dict):
                raise EventError(f"{path} line {number}: expected a JSON object with product, "
                                 "at, kind and title; nothing was imported")
            rows.append((number, obj))
        return rows
    delimiter = "\t" if suffix == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ("product", "kind", "title") if c not in header]
    if not any(k in header for k in _TIME_KEYS):
        missing.append("at")
    if missing:
        raise EventError(f"{path}: no column {', '.join(missing)} in the header (found: "
                         f"{', '.join(header) or 'nothing'}); the header needs product, at, "
                         "kind, title")
    reader.fieldnames = header
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))  # the row's (last) physical line
    except csv.Error as exc:
        raise EventError(f"{path} line {reader.line_num}: {exc}; nothing was imported") from None
    return rows


@dataclass(frozen=True)
class _Row:
    """One checked row of an events file."""

    product: Product
    at: datetime
    kind: str
    title: str
    details: dict[str, Any] | None


def _import_row(row: dict[str, Any], candidates: Sequence[Product],
                narrow: Narrow | None = None) -> _Row:
    """One row of an events file, checked; raises on the first problem."""
    extra = [k for k in row if k is None or (row[k] is not None and k not in (
        "product", "kind", "title", "details", *_TIME_KEYS))]
    if None in row:
        raise EventError("more cells than header columns")
    if extra:
        raise EventError(f"unknown field {', '.join(map(str, extra))}")
    raw_at = next((row[k] for k in _TIME_KEYS if row.get(k) not in (None, "")), None)
    if raw_at is None:
        raise EventError("no time (at)")
    prod = match_product(candidates, str(row.get("product") or ""), narrow=narrow)
    when = parse_time(raw_at)
    kind, title = check_kind(row.get("kind") or ""), check_title(row.get("title") or "")
    details = row.get("details")
    if isinstance(details, str):
        details = json.loads(details) if details.strip() else None
    if details is not None and not isinstance(details, dict):
        raise EventError("details must be a JSON object")
    return _Row(prod, when, kind, title, details)


def import_events(store: Store, path: str | Path, *, dataset: str | None = None) -> ImportReport:
    """Import events from a CSV (header: product, at, kind, title[, details]) or JSON Lines file
    (objects with the same keys; ``occurred_at`` is accepted for ``at``).

    Every row is checked first; any bad row stops the import with one line naming the bad lines,
    and nothing is written. Events already recorded (same product, kind and time) are skipped, so
    importing a file twice adds nothing. ``dataset``: the rows name products of that dataset
    (an id present in two datasets is otherwise ambiguous)."""
    file = Path(path).expanduser()
    rows = _read_rows(file)
    if not rows:
        raise EventError(f"{file} has no events; write one row per event with product, at, "
                         "kind, title")
    candidates, narrow = all_products(store), in_dataset(store, dataset)
    errors: list[str] = []
    good: list[_Row] = []
    seen: dict[tuple[int, str, datetime], int] = {}
    for line, row in rows:
        try:
            event = _import_row(row, candidates, narrow)
            key = (event.product.id, event.kind, event.at)
            if key in seen:
                raise EventError(f"same product, kind and time as line {seen[key]}")
            seen[key] = line
            good.append(event)
        except (EventError, ProductNotFoundError, json.JSONDecodeError) as exc:
            message = ("details is not valid JSON" if isinstance(exc, json.JSONDecodeError)
                       else str(exc))
            errors.append(f"line {line}: {message.split('; ')[0]}")
    if errors:
        shown = "; ".join(errors[:_MAX_SHOWN_ERRORS])
        more = f" (and {len(errors) - _MAX_SHOWN_ERRORS} more)" if len(errors) > 3 else ""
        raise EventError(f"{file}: {len(errors)} bad row{'s' if len(errors) > 1 else ''}, "
                         f"nothing imported: {shown}{more}")
    inserted = 0
    with store.transaction() as conn:
        for e in good:
            if _existing_event(conn, e.product.id, e.kind, e.at) is None:
                _insert(conn, e.product.id, e.at, e.kind, e.title, "import", e.details)
                inserted += 1
    return ImportReport(str(file), len(good), inserted, len(good) - inserted)


# -- derived events ------------------------------------------------------------------------------


@dataclass
class DeriveReport:
    products: int = 0
    inserted: dict[str, int] = field(default_factory=lambda: {k: 0 for k in DERIVED_KINDS})
    replaced: dict[str, int] = field(default_factory=lambda: {k: 0 for k in DERIVED_KINDS})
    removed: dict[str, int] = field(default_factory=lambda: {k: 0 for k in DERIVED_KINDS})
    unchanged: dict[str, int] = field(default_factory=lambda: {k: 0 for k in DERIVED_KINDS})

    def summary(self) -> str:
        parts = []
        for kind in DERIVED_KINDS:
            parts.append(f"{kind}: {self.inserted[kind]} new, {self.replaced[kind]} moved, "
                         f"{self.removed[kind]} removed, {self.unchanged[kind]} unchanged")
        return f"{self.products} products checked; " + "; ".join(parts)


@dataclass(frozen=True)
class Switch:
    """Where a product's early-access flags switch from true to false."""

    at: datetime
    early_access_before: int
    full_before: int
    early_access_after: int
    full_after: int

    @property
    def agreement(self) -> float:
        total = (self.early_access_before + self.full_before + self.early_access_after
                 + self.full_after)
        return (self.early_access_before + self.full_after) / total


def early_access_switch(times: Sequence[datetime], flags: Sequence[bool]) -> Switch | None:
    """The best one-step split of time-ordered early-access flags (see the module docstring);
    None when the product has no credible switch."""
    import numpy as np

    order = sorted(range(len(times)), key=lambda i: times[i])
    ea = np.array([1 if flags[i] else 0 for i in order], dtype=np.int64)
    n = len(ea)
    if n == 0 or ea.sum() == 0 or ea.sum() == n:
        return None
    # errors(k) = full reviews among the first k + early-access reviews after them.
    full_before = np.concatenate([[0], np.cumsum(1 - ea)])
    ea_before = np.concatenate([[0], np.cumsum(ea)])
    errors = full_before + (ea.sum() - ea_before)
    k = int(np.argmin(errors))  # the first best split: ties go to the earliest switch
    if k == 0 or k == n:
        return None
    switch = Switch(times[order[k]], int(ea_before[k]), int(full_before[k]),
                    int(ea.sum() - ea_before[k]), int((n - k) - (ea.sum() - ea_before[k])))
    if (switch.early_access_before < MIN_SIDE_REVIEWS or switch.full_after < MIN_SIDE_REVIEWS
            or switch.agreement < MIN_AGREEMENT):
        return None
    return switch


def _wanted_events(store: Store, dataset: str | None
                   ) -> tuple[set[int], dict[tuple[int, str], tuple[datetime, str, dict]]]:
    """(products with reviews, {(product, kind): (time, title, details)}) from the reviews."""
    r = reviews
    where = [r.c.product_id.is_not(None), r.c.reviewed_at.is_not(None)]
    if dataset is not None:
        where.append(r.c.dataset == dataset)
    wanted: dict[tuple[int, str], tuple[datetime, str, dict]] = {}
    with store.read_transaction() as conn:
        checked = {int(row[0]) for row in conn.execute(
            sa.select(r.c.product_id).where(*where).distinct())}
        flags: dict[int, tuple[list[datetime], list[bool]]] = {}
        for pid, at, ea in conn.execute(
                sa.select(r.c.product_id, r.c.reviewed_at, r.c.early_access)
                .where(*where, r.c.early_access.is_not(None))):
            times, values = flags.setdefault(int(pid), ([], []))
            times.append(at)
            values.append(bool(ea))
        first_responses = conn.execute(
            sa.select(r.c.product_id, sa.func.min(r.c.developer_responded_at),
                      sa.func.count(r.c.developer_responded_at))
            .where(*where, r.c.developer_responded_at.is_not(None))
            .group_by(r.c.product_id)).fetchall()
    for pid, (times, values) in flags.items():
        switch = early_access_switch(times, values)
        if switch is not None:
            wanted[(pid, KIND_FULL_RELEASE)] = (switch.at, "Left early access (full release)", {
                "early_access_reviews_before": switch.early_access_before,
                "full_reviews_before": switch.full_before,
                "early_access_reviews_after": switch.early_access_after,
                "full_reviews_after": switch.full_after,
                "agreement": round(switch.agreement, 4),
                "rule": "best one-step split of the reviews' early-access flags"})
    for pid, first, count in first_responses:
        wanted[(int(pid), KIND_FIRST_RESPONSE)] = (first, "First developer response", {
            "responses": int(count)})
    return checked, wanted


def derive_events(store: Store, *, dataset: str | None = None) -> DeriveReport:
    """Derive early-access releases and first developer responses from the reviews (of
    ``dataset``, or all); idempotent, one transaction."""
    checked, wanted = _wanted_events(store, dataset)
    report = DeriveReport(products=len(checked))
    e = events_table_def
    with store.transaction() as conn:
        existing: dict[tuple[int, str], list[tuple[int, datetime]]] = {}
        for eid, pid, kind, at in conn.execute(
                sa.select(e.c.id, e.c.product_id, e.c.kind, e.c.occurred_at)
                .where(e.c.source == "derived", e.c.kind.in_(DERIVED_KINDS))):
            if int(pid) in checked:
                existing.setdefault((int(pid), kind), []).append((int(eid), at))
        for key in sorted(set(existing) | set(wanted)):
            pid, kind = key
            have, want = existing.get(key, []), wanted.get(key)
            if want is not None and [at for _, at in have] == [want[0]]:
                report.unchanged[kind] += 1
                conn.execute(sa.update(e).where(e.c.id == have[0][0]).values(
                    details=json.dumps(want[2], sort_keys=True)))
                continue
            if have:
                conn.execute(sa.delete(e).where(e.c.id.in_([eid for eid, _ in have])))
            if want is None:
                report.removed[kind] += 1
                continue
            if _existing_event(conn, pid, kind, want[0]) is not None:
                # A manual or imported event already marks this very instant: keep it.
                report.unchanged[kind] += 1
                continue
            _insert(conn, pid, want[0], kind, want[1], "derived", want[2])
            if have:
                report.replaced[kind] += 1
            else:
                report.inserted[kind] += 1
    return report
