"""Which fields of a stored review changed: the stored row against a newly seen copy.

Stores change reviews after they are first seen: an author edits the text or flips the
recommendation, a developer answers, readers vote. An ingest keyed on review ids would keep the
first copy forever. ``compare`` says, for each review seen again, what to write to its current
row and which changes to record in ``review_history`` (one row per field: old value, new value).
It is pure (rows in, changes out), so the ingest path and ``asaas fetch``'s stop rule share it.

Rows are dicts keyed by ``reviews`` column names (``label``, ``text``, ``content_hash``,
``developer_response``...), with values as stored: naive UTC datetimes, 1/0 labels, None for
missing. A field the incoming row does not carry (its source has no such column) is never
compared. Two kinds of field:

- ``TRACKED``: a difference is a change, recorded with its old value. The text counts as changed
  when its sha256 (``content_hash``) differs, so rows need not carry whole texts to be compared.
- ``BACKFILLED``: columns added by migration 0006 (edit time, votes). A stored NULL there means
  "never recorded" (the review was ingested before 0006, or by a source without the field): the
  new value is written, but it is not a change by anyone, so no history row.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Fields whose every difference is recorded: the author's and the developer's doing.
TRACKED = ("text", "label", "rating", "developer_response", "developer_responded_at",
           "review_updated_at")

#: Counters that change all the time (votes) and fields 0006 added: updated, recorded in history
#: only when a value that was stored changes.
COUNTERS = ("votes_up", "votes_funny", "comment_count", "weighted_vote_score")

#: Columns added by migration 0006, where a stored NULL means "not recorded yet".
BACKFILLED = ("review_updated_at",) + COUNTERS

#: Every field ``compare`` looks at.
FIELDS = TRACKED + COUNTERS

#: Fields that move a review in Steam's ``filter=updated`` order or say it was answered: a
#: review that differs in one of them is news to a fetch. Votes are not: they change on old
#: reviews every day without moving them, so a fetch that treated them as news would walk an
#: app's whole history on every run (they are refreshed whenever a review is seen again).
NEWS_FIELDS = TRACKED


@dataclass(frozen=True)
class FieldChange:
    """One field of one stored review that the new copy changes."""

    external_id: str
    field: str
    old: Any
    new: Any

    @property
    def old_text(self) -> str | None:
        return encode(self.old)

    @property
    def new_text(self) -> str | None:
        return encode(self.new)


@dataclass
class Comparison:
    """What a batch of newly seen rows means for the stored ones."""

    #: external_id -> {column: new value} for stored rows to update (changes and backfills).
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The changes to record in review_history, in input order.
    history: list[FieldChange] = field(default_factory=list)
    #: Ids not stored yet, in input order (first occurrence).
    new: list[str] = field(default_factory=list)
    #: Ids stored and unchanged in every compared field.
    unchanged: list[str] = field(default_factory=list)

    def changed_fields(self, external_id: str) -> list[str]:
        return [c.field for c in self.history if c.external_id == external_id]


def text_hash(text: str) -> str:
    """sha256 of the UTF-8 text: ``reviews.content_hash``, as ingest computes it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _same(old: Any, new: Any) -> bool:
    if _missing(old) or _missing(new):
        return _missing(old) and _missing(new)
    if isinstance(old, bool) or isinstance(new, bool):
        return int(old) == int(new)
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        # A score stored as DOUBLE comes back as the same float; counters as ints.
        return float(old) == float(new)
    if isinstance(old, datetime) and isinstance(new, datetime):
        return old.replace(tzinfo=None) == new.replace(tzinfo=None)
    return old == new


def _text_changed(stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> bool:
    new_hash = incoming.get("content_hash")
    if new_hash is None and incoming.get("text") is not None:
        new_hash = text_hash(incoming["text"])
    old_hash = stored.get("content_hash")
    if old_hash is None and stored.get("text") is not None:
        old_hash = text_hash(stored["text"])
    if old_hash is None or new_hash is None:
        return False  # nothing to compare with
    return old_hash != new_hash


def compare(stored: Mapping[str, Mapping[str, Any]], incoming: Iterable[Mapping[str, Any]],
            fields: Iterable[str] = FIELDS) -> Comparison:
    """Compare incoming rows (each with ``external_id``) with the stored rows of the same ids
    (``stored``: external_id -> row). A repeated incoming id is compared once (the first
    occurrence wins, as in ingest). ``fields`` limits the comparison (e.g. ``NEWS_FIELDS``)."""
    wanted = tuple(fields)
    out = Comparison()
    seen: set[str] = set()
    for row in incoming:
        ext = str(row["external_id"])
        if ext in seen:
            continue
        seen.add(ext)
        old = stored.get(ext)
        if old is None:
            out.new.append(ext)
            continue
        update: dict[str, Any] = {}
        changes: list[FieldChange] = []
        for name in wanted:
            if name == "text":
                if "text" in row or "content_hash" in row:
                    if _text_changed(old, row):
                        new_text = row.get("text")
                        changes.append(FieldChange(ext, "text", old.get("text"), new_text))
                        update["text"] = new_text
                        update["content_hash"] = row.get("content_hash") or text_hash(new_text)
                continue
            if name not in row:
                continue  # the source does not carry this field
            new_value, old_value = row[name], old.get(name)
            if _same(old_value, new_value):
                continue
            update[name] = new_value
            if name in BACKFILLED and _missing(old_value):
                continue  # first recorded, not changed
            changes.append(FieldChange(ext, name, old_value, new_value))
        if update:
            out.updates[ext] = update
        out.history.extend(changes)
        if not changes:
            out.unchanged.append(ext)
    return out


def encode(value: Any) -> str | None:
    """A value as ``review_history`` keeps it (text): None stays NULL; booleans true/false;
    times ISO 8601 (naive UTC); numbers as Python writes them."""
    if _missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)
