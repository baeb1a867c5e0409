"""Writing validated batches: numbering derived ids, skipping what is already stored, creating
the products the reviews are about, and the bulk insert of the rest.

Each batch is checked against the database for its own ids only (memory stays flat however long
the source is). A row whose id an earlier run stored is "already present": the same lookup reads
its stored fields, and ``asaas.ingest.changes`` compares them with the new copy, updates the row
and records what changed (developer response, recommendation, text, votes).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.ingest.changes import STORED_COLUMNS, ReviewChanges
from asaas.ingest.validate import DUPLICATE, Prepared, Tally
from asaas.store import Store
from asaas.store.schema import products
from asaas.store.sql import text_query

#: Ids per statement where a database takes no array parameter (SQLite).
_IN_CHUNK = 500

#: The Arrow type of each column of a validated batch (validate.REVIEW_FIELDS), as the reviews
#: table stores it.
_ARROW_TYPES = {
    "split": pa.string(), "text": pa.large_string(), "label": pa.int16(),
    "rating": pa.float64(), "content_hash": pa.string(), "reviewed_at": pa.timestamp("us"),
    "language": pa.string(), "early_access": pa.bool_(),
    "developer_response": pa.large_string(), "developer_responded_at": pa.timestamp("us"),
    "review_updated_at": pa.timestamp("us"), "votes_up": pa.int64(), "votes_funny": pa.int64(),
    "comment_count": pa.int64(), "weighted_vote_score": pa.float64(),
}

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

    #: Compare the rows already present with their stored copies and keep their later edits
    #: (asaas.ingest.changes). bench/ingest_bench.py --edits turns it off to time the plain
    #: re-ingest against it.
    track_changes = True

    def __init__(self, store: Store, conn: sa.Connection | None, dataset: str, run_id: int,
                 product_kind: str | None) -> None:
        self.store, self.conn, self.dataset, self.run_id = store, conn, dataset, run_id
        self.product_kind = product_kind
        self.changes = ReviewChanges(store, dataset, run_id) if self.track_changes else None
        #: external_id -> stored row (the values of STORED_COLUMNS) of the batch being written.
        self._stored_rows: dict[str, Any] = {}
        self.inserted = 0
        self.already = 0
        self.by_split: Counter = Counter()
        #: products.external_id -> [id, has a name]: products are few next to reviews.
        self.product_cache: dict[str, list[Any]] = {}
        self.products_created = 0

    # -- reviews ---------------------------------------------------------------------------

    def stored(self, ids: list[str]) -> dict[str, int]:
        """external_id -> ingest_run_id for the ids of this batch that are already stored
        (with change tracking, their stored rows are kept in ``_stored_rows`` by the same
        query)."""
        if not ids:
            return {}
        extra = STORED_COLUMNS if self.changes is not None else ()
        cols = ", ".join(("external_id", "ingest_run_id", *extra))
        params: dict[str, Any] = {"dataset": self.dataset, "ids": ids}
        if self.store.is_duckdb:
            # A list parameter unnested into a table: DuckDB probes the unique index instead
            # of scanning every stored id of the dataset. Fetched as plain tuples by DuckDB's
            # own cursor, in this transaction: SQLAlchemy's rows cost twice the time here.
            sql = (f"SELECT {cols} FROM reviews WHERE dataset = ? "
                   "AND external_id IN (SELECT unnest(CAST(? AS VARCHAR[])))")
            rows = self.conn.connection.driver_connection.execute(
                sql, [self.dataset, ids]).fetchall()
        elif self.store.dialect == "postgresql":
            sql = (f"SELECT {cols} FROM reviews WHERE dataset = :dataset "
                   "AND external_id = ANY(:ids)")
            rows = self.conn.execute(sa.text(sql), params).fetchall()
        else:
            rows = []
            for start in range(0, len(ids), _IN_CHUNK):
                part = {"dataset": self.dataset, "ids": ids[start:start + _IN_CHUNK]}
                rows += self.conn.execute(text_query(
                    f"SELECT {cols} FROM reviews WHERE dataset = :dataset "
                    "AND external_id IN :ids", part), part).fetchall()
        if extra:
            self._stored_rows = {r[0]: r[2:] for r in rows}
        return {r[0]: r[1] for r in rows}

    def write(self, batch: Prepared, tally: Tally) -> None:
        keep = self._new_rows(batch, tally)
        product_ids = self._product_ids(batch)  # products of present rows are filled in too
        if not keep:
            return

        def pick(values: list[Any]) -> list[Any]:
            return values if len(keep) == len(values) else [values[i] for i in keep]

        n = len(keep)
        table = pa.table({
            "dataset": pa.array([self.dataset] * n, pa.string()),
            "external_id": pa.array(pick(batch.ids), pa.string()),
            **{name: pa.array(pick(values), _ARROW_TYPES[name])
               for name, values in batch.columns.items()},
            "product_id": pa.array(pick(product_ids), pa.int64()),
            "ingest_run_id": pa.array([self.run_id] * n, pa.int64()),
        })
        # The batch was just checked against the database, inside this transaction. DuckDB
        # lets one process write the file at a time, so nothing can collide since; and its
        # ON CONFLICT path costs 200x a plain insert on this table (its secondary indexes).
        # PostgreSQL can have concurrent writers: there a collision is skipped, not an error,
        # and not counted: only rows that carry this run's id count as inserted.
        inserted = self.store.insert_arrow(self.conn, "reviews", table,
                                           on_conflict_do_nothing=not self.store.is_duckdb)
        if inserted == n:
            self.inserted += n
            self.by_split.update(pick(batch.columns["split"]))
            return
        # Another ingest committed some of these ids since they were checked: those are
        # already present, and the splits are counted from the rows this run wrote.
        self.already += n - inserted
        self.inserted += inserted
        self.by_split.update(dict(self.conn.execute(sa.text(
            "SELECT split, count(*) FROM reviews WHERE dataset = :dataset AND "
            "ingest_run_id = :run AND external_id = ANY(:ids) GROUP BY split"),
            {"dataset": self.dataset, "run": self.run_id, "ids": pick(batch.ids)}).fetchall()))

    def _new_rows(self, batch: Prepared, tally: Tally) -> list[int]:
        """Indexes of the rows to insert. A row whose id an earlier run stored is counted as
        already present (every occurrence, so the counts do not depend on which rows shared a
        batch) and compared with its stored copy (asaas.ingest.changes). A repeat of an id this
        run inserted is a duplicate within the source."""
        stored = self.stored(batch.ids)
        keep: list[int] = []
        present: list[int] = []
        fresh: set[str] = set()
        for i, ext in enumerate(batch.ids):
            run = stored.get(ext)
            if run is not None and run != self.run_id:
                self.already += 1
                present.append(i)
            elif run is not None or ext in fresh:
                tally.note(tally.skipped, DUPLICATE, batch.where[i])
            else:
                fresh.add(ext)
                keep.append(i)
        if present and self.changes is not None:
            self.changes.apply(self.conn, batch, present, self._stored_rows)
        self._stored_rows = {}
        return keep

    def flush(self) -> None:
        """Write the changes to stored reviews kept back so far (asaas.ingest.changes): called
        before each commit."""
        if self.changes is not None:
            self.changes.flush(self.conn)

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
                self.products_created += self._insert_products(new, named)
                self._load_products(new)
        for ext, name in named.items():
            entry = self.product_cache[ext]
            if name is not None and not entry[1]:
                # A product first seen without a name gets the first name a later row gives.
                self.conn.execute(sa.update(products).where(
                    products.c.id == entry[0], products.c.name.is_(None)).values(name=name))
                entry[1] = True
        return [None if ext is None else self.product_cache[ext][0] for ext in batch.products]

    def _insert_products(self, new: list[str], named: dict[str, str | None]) -> int:
        """Create the products ``new``; returns how many this run created. On PostgreSQL a
        concurrent ingest may create the same ones first: those are skipped (the insert waits
        for its commit), not a unique-key error that failed the whole ingest."""
        now = utcnow()
        rows = [{"source": self.dataset, "external_id": ext, "name": named[ext],
                 "kind": self.product_kind, "created_at": now} for ext in new]
        if self.store.dialect != "postgresql":
            self.conn.execute(sa.insert(products), rows)
            return len(rows)
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        created = self.conn.execute(pg_insert(products).values(rows).on_conflict_do_nothing()
                                    .returning(products.c.id))
        return len(created.fetchall())

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
