"""Later edits of stored reviews: an ingest that meets a review id an earlier run stored compares
the new copy with the stored row (``asaas.history.compare``), updates the row, records each
changed field in ``review_history`` and drops the predictions of a review whose text changed, so
the next ``asaas score`` scores the new text. Undoing a failed or killed run puts the changed
fields back from its history rows.

What is compared: the fields the source has (``Prepared.fields``; a source without votes says
nothing about votes): text (by its sha256), label, rating, developer response and its time, edit
time, votes, comment count, weighted vote score. Never the product or the review time (the id
says which review it is; the first copy says when it was written).

- Idempotent: the same source ingested again compares equal everywhere and writes nothing.
- First copy wins, as for inserts: a review repeated within one source is compared once (the
  first occurrence; ``SeenIds`` remembers the ids compared across batches on disk, so memory
  stays flat however long the source). Otherwise a source holding two copies would flip the
  row back and forth on every ingest.
- Backfills (a column added by migration 0006 that is NULL, "not recorded") are written without
  a history row (``asaas.history``). Undo cannot tell them from what was there, so a failed run's
  backfills stay: values the source gave for fields that held none.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.history import Comparison, compare, text_hash
from asaas.ingest.validate import EDIT_FIELDS, Prepared
from asaas.store import Store

#: ColumnNames field (what the source has) -> the reviews column compared.
SOURCE_COLUMNS: dict[str, str] = {
    "text": "text", "label": "label", "rating": "rating",
    "developer_response": "developer_response",
    "developer_responded_at": "developer_responded_at", **EDIT_FIELDS,
}

#: What is read of each stored row seen again (the text by its hash: the old text is read only
#: for the reviews whose text changed, to keep it in the history).
STORED_COLUMNS = ("id", "label", "rating", "content_hash", "developer_response",
                  "developer_responded_at", "review_updated_at", "votes_up", "votes_funny",
                  "comment_count", "weighted_vote_score")

#: Columns written to a changed row, with their Arrow types (the update's staging table).
_ARROW = {"text": pa.large_string(), "content_hash": pa.string(), "label": pa.int16(),
          "rating": pa.float64(), "developer_response": pa.large_string(),
          "developer_responded_at": pa.timestamp("us"), "review_updated_at": pa.timestamp("us"),
          "votes_up": pa.int64(), "votes_funny": pa.int64(), "comment_count": pa.int64(),
          "weighted_vote_score": pa.float64()}

#: How an old value kept as text in review_history goes back into its column (undo).
_SQL_TYPES = {"label": "SMALLINT", "rating": "DOUBLE PRECISION",
              "developer_responded_at": "TIMESTAMP", "review_updated_at": "TIMESTAMP",
              "votes_up": "BIGINT", "votes_funny": "BIGINT", "comment_count": "BIGINT",
              "weighted_vote_score": "DOUBLE PRECISION"}

_IN_CHUNK = 500
#: Ids per lookup in SeenIds (SQLite takes up to 32,766 parameters since 3.32).
_SEEN_CHUNK = 10_000
#: Changed rows kept back before they are written (one UPDATE per set of changed columns for
#: all of them): each statement costs tens of milliseconds on DuckDB whatever its size.
FLUSH_ROWS = 20_000


class SeenIds:
    """Ids compared by this run, in a private SQLite file that SQLite deletes on close: a
    repeat in a later batch is not compared again (first copy wins), at a cost in disk, not
    memory, however long the source."""

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None

    def first_seen(self, ids: Sequence[str]) -> set[str]:
        """The ids of ``ids`` not seen before; all of them are seen from now on."""
        if not ids:
            return set()
        if self.db is None:
            self.db = sqlite3.connect("")
            self.db.execute("CREATE TABLE seen (ext TEXT PRIMARY KEY) WITHOUT ROWID")
        before: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _SEEN_CHUNK):
            part = unique[start:start + _SEEN_CHUNK]
            before.update(r[0] for r in self.db.execute(
                f"SELECT ext FROM seen WHERE ext IN ({','.join('?' * len(part))})", part))
        fresh = [ext for ext in unique if ext not in before]
        self.db.executemany("INSERT INTO seen (ext) VALUES (?)", ((e,) for e in fresh))
        return set(fresh)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


class ReviewChanges:
    """Compares the present rows of each batch with their stored copies and writes what changed,
    inside the ingest's transaction. Counts for the run's report."""

    def __init__(self, store: Store, dataset: str, run_id: int) -> None:
        self.store, self.dataset, self.run_id = store, dataset, run_id
        self.seen = SeenIds()
        #: Reviews whose row was changed (history recorded), backfilled only, and whose text
        #: changed (their predictions dropped); history rows written, by field.
        self.changed = 0
        self.backfilled = 0
        self.rescore = 0
        self.fields: Counter = Counter()
        #: What apply found and flush writes: reviews.id -> {column: new value}, history rows
        #: (review id, field, old text, new text; the old text of a text change is read at
        #: flush), reviews whose text changed.
        self._updates: dict[int, dict[str, Any]] = {}
        self._history: list[tuple[int, str, str | None, str | None]] = []
        self._new_texts: list[int] = []

    @property
    def history_rows(self) -> int:
        return sum(self.fields.values())

    def apply(self, conn: sa.Connection, batch: Prepared, present: Sequence[int],
              stored: Mapping[str, Sequence[Any]]) -> Comparison | None:
        """``present``: indexes of the batch's rows whose id an earlier run stored;
        ``stored``: external_id -> its row (the values of STORED_COLUMNS, in order)."""
        columns = [SOURCE_COLUMNS[f] for f in SOURCE_COLUMNS if f in batch.fields]
        if not present or not columns:
            return None
        fresh = self.seen.first_seen([batch.ids[i] for i in present])
        # The same values in the same order on both sides (the text by its hash): a plain
        # tuple comparison, at C speed, settles the rows that did not change, which on a
        # re-ingest are nearly all of them; asaas.history.compare judges the rest.
        keys = ["content_hash" if c == "text" else c for c in columns]
        firsts = []
        for i in present:
            if batch.ids[i] in fresh:
                fresh.discard(batch.ids[i])  # its first occurrence in the source
                firsts.append(i)
        ids = [batch.ids[i] for i in firsts]
        new_rows = zip(*[[batch.columns[k][i] for i in firsts] for k in keys], strict=True)
        pick = itemgetter(*[STORED_COLUMNS.index(k) for k in keys])
        old_rows = ((pick(stored[ext]) if len(keys) > 1 else (pick(stored[ext]),))
                    for ext in ids)
        suspects = {ext: i for ext, i, now, was in zip(ids, firsts, new_rows, old_rows)
                    if now != was}
        if not suspects:
            return None
        incoming = []
        for ext, i in suspects.items():
            row = {"external_id": ext, **{c: batch.columns[c][i] for c in columns}}
            if "text" in row:
                row["content_hash"] = batch.columns["content_hash"][i]
            incoming.append(row)
        old = {ext: dict(zip(STORED_COLUMNS, stored[ext], strict=True)) for ext in suspects}
        result = compare(old, incoming, fields=columns)
        if not result.updates:
            return result
        rid = {ext: old[ext]["id"] for ext in result.updates}
        for ext, update in result.updates.items():
            self._updates[rid[ext]] = update
            if "text" in update:
                self._new_texts.append(rid[ext])
        self._history += [(rid[c.external_id], c.field, c.old_text, c.new_text)
                          for c in result.history]
        changed = {c.external_id for c in result.history}
        self.changed += len(changed)
        self.backfilled += len(result.updates) - len(changed)
        self.rescore += sum(1 for u in result.updates.values() if "text" in u)
        self.fields.update(c.field for c in result.history)
        if len(self._updates) >= FLUSH_ROWS:
            self.flush(conn)
        return result

    def flush(self, conn: sa.Connection) -> None:
        """Write what ``apply`` found since the last flush (before each commit: the writer's
        ``flush``): the rows, their history (with the old texts, read first) and the
        predictions of new texts dropped."""
        if not self._updates:
            return
        old_texts = self._texts(conn, self._new_texts) if self._new_texts else {}
        self._update(conn, self._updates)
        if self._history:
            self._record(conn, [(r, f, old_texts.get(r) if f == "text" else old, new)
                                for r, f, old, new in self._history], utcnow())
        if self._new_texts:
            self._forget_predictions(conn, self._new_texts)
        self._updates, self._history, self._new_texts = {}, [], []

    def close(self) -> None:
        self.seen.close()

    # -- writing ---------------------------------------------------------------------------

    def _texts(self, conn: sa.Connection, review_ids: list[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for start in range(0, len(review_ids), _IN_CHUNK):
            part = review_ids[start:start + _IN_CHUNK]
            out.update(conn.execute(
                sa.text("SELECT id, text FROM reviews WHERE id IN :ids")
                .bindparams(sa.bindparam("ids", expanding=True)), {"ids": part}).fetchall())
        return out

    def _update(self, conn: sa.Connection, updates: Mapping[int, Mapping[str, Any]]) -> None:
        """The changed columns of each row, one statement per set of columns that changed
        together (a handful: votes, an answer, a turned review...): a review whose votes
        moved does not get its text written again."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for review_id, update in updates.items():
            groups.setdefault(tuple(sorted(update)), []).append(review_id)
        for cols, rows in groups.items():
            data = pa.table({"id": pa.array(rows, pa.int64()),
                             **{c: pa.array([updates[r][c] for r in rows], _ARROW[c])
                                for c in cols}})
            if self.store.is_duckdb:
                assignments = ", ".join(f'"{c}" = u."{c}"' for c in cols)
                raw = conn.connection.driver_connection
                view = f"_asaas_updates_{id(data):x}"
                # As Store.insert_arrow: the relation names the Arrow data for one statement.
                raw.from_arrow(data).query(
                    view, f'UPDATE reviews SET {assignments} FROM "{view}" u '
                    "WHERE reviews.id = u.id").fetchall()
            else:
                sets = ", ".join(f"{c} = :{c}" for c in cols)
                conn.execute(sa.text(f"UPDATE reviews SET {sets} WHERE id = :id"),
                             data.to_pylist())

    def _record(self, conn: sa.Connection, history: list[tuple[int, str, str | None,
                                                                 str | None]],
                seen_at: datetime) -> None:
        n = len(history)
        data = pa.table({
            "review_id": pa.array([h[0] for h in history], pa.int64()),
            "field": pa.array([h[1] for h in history], pa.string()),
            "old_value": pa.array([h[2] for h in history], pa.large_string()),
            "new_value": pa.array([h[3] for h in history], pa.large_string()),
            "seen_at": pa.array([seen_at] * n, pa.timestamp("us")),
            "ingest_run_id": pa.array([self.run_id] * n, pa.int64()),
        })
        self.store.insert_arrow(conn, "review_history", data)

    def _forget_predictions(self, conn: sa.Connection, review_ids: list[int]) -> None:
        """The text changed: what models said about the old one no longer applies. Without a
        prediction (or a recorded failure) the review is pending again for every model."""
        for table in ("predictions", "prediction_failures"):
            for start in range(0, len(review_ids), _IN_CHUNK):
                conn.execute(sa.text(f"DELETE FROM {table} WHERE review_id IN :ids")
                             .bindparams(sa.bindparam("ids", expanding=True)),
                             {"ids": review_ids[start:start + _IN_CHUNK]})


# -- undo ----------------------------------------------------------------------------------------


def restore_changes(store: Store, run_id: int) -> None:
    """Put back every field run ``run_id`` changed, from its history rows (their old values);
    the caller then deletes those rows. Repeating it is harmless (the same old values again)."""
    if store.is_duckdb:
        digest = "sha256(h.old_value)"
    elif store.dialect == "postgresql":
        digest = "encode(sha256(convert_to(h.old_value, 'UTF8')), 'hex')"
    else:
        digest = None
    # Within one run a field of a review changes at most once (first copy wins); the oldest
    # row is taken all the same.
    first = ("h.review_id = reviews.id AND h.ingest_run_id = :r AND h.field = :f AND h.id = "
             "(SELECT min(h2.id) FROM review_history h2 WHERE h2.review_id = h.review_id "
             "AND h2.field = h.field AND h2.ingest_run_id = :r)")
    with store.transaction() as conn:
        fields = [r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT field FROM review_history WHERE ingest_run_id = :r"),
            {"r": run_id})]
        for name in fields:
            if name not in _ARROW or name == "content_hash":
                continue  # not a field this code records
            if name == "text":
                if digest is None:
                    _restore_texts_in_python(conn, run_id)
                    continue
                value = f'h.old_value, content_hash = {digest}'
            elif name in _SQL_TYPES:
                value = f"CAST(h.old_value AS {_SQL_TYPES[name]})"
            else:
                value = "h.old_value"
            conn.execute(sa.text(f'UPDATE reviews SET "{name}" = {value} '
                                 f"FROM review_history h WHERE {first}"),
                         {"r": run_id, "f": name})


def _restore_texts_in_python(conn: sa.Connection, run_id: int) -> None:
    rows = conn.execute(sa.text(
        "SELECT review_id, old_value FROM review_history WHERE ingest_run_id = :r AND "
        "field = 'text' ORDER BY id DESC"), {"r": run_id}).fetchall()
    for review_id, old in rows:  # oldest last, so it wins
        conn.execute(sa.text("UPDATE reviews SET text = :t, content_hash = :h WHERE id = :i"),
                     {"t": old, "h": text_hash(old), "i": review_id})
