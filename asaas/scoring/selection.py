"""Which reviews a scoring run works on, and handing them out in a fixed pseudo-random order.

The selection is a dataset, its splits, the languages the version reads, and optionally the first
``--limit`` reviews. Work is always handed out in content-hash order (a fixed pseudo-random
order, the same for every model), so any prefix of a run, finished or interrupted, is a fair
sample of the selection: IMDB files are sorted by label, and "the first 550 ids" were all
negative reviews.

Two ways to hand work out:
- ``iter_pages``: keyset pages over the pending reviews (one process per database: DuckDB);
- ``claim_chunk``: PostgreSQL row locks (``FOR NO KEY UPDATE SKIP LOCKED``): each process claims
  a chunk inside a transaction and writes its predictions in that same transaction, so several
  processes split the work, and a process killed mid-chunk releases its rows untouched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import sqlalchemy as sa

from asaas.errors import AsaasError
from asaas.models.registry import ModelVersion
from asaas.scoring.options import DEFAULT_LANGUAGES, ScoreOptions
from asaas.store import Store
from asaas.store.sql import text_query

_PENDING = ("NOT EXISTS (SELECT 1 FROM {table} p "
            "            WHERE p.review_id = s.id AND p.model_version_id = :mv) "
            "AND NOT EXISTS (SELECT 1 FROM prediction_failures f "
            "                WHERE f.review_id = s.id AND f.model_version_id = :mv)")


def output_table(mv: ModelVersion) -> str:
    """Where a version's predictions go: ``label_predictions`` for versions that answer several
    labels per review (asaas.offtopic records them in params), else ``predictions``."""
    return "label_predictions" if mv.params.get("labels") else "predictions"
# Row comparisons, which PostgreSQL turns into index bounds (an OR of the parts it cannot).
_AFTER = "(s.content_hash, s.id) > (:{p}_hash, :{p}_id)"
_UPTO = "(s.content_hash, s.id) <= (:{p}_hash, :{p}_id)"


class Page(NamedTuple):
    """Pending reviews in hand-out order: ids, texts and languages (None: not recorded)."""

    ids: list[int]
    texts: list[str]
    languages: list[str | None]


@dataclass(frozen=True)
class Selection:
    """The reviews one model version is asked to score.

    ``--limit N`` (the first N reviews in content-hash order) is kept as ``upto``, the
    (content_hash, id) of the N-th review, found once per run: the selection is then a plain
    range of the order, which the database walks along an index instead of sorting everything
    for every page (PostgreSQL: ``ix_reviews_dataset_hash_order``).
    """

    model_version_id: int
    dataset: str
    splits: list[str] | None
    languages: list[str] | None  # None: every language
    limit: int | None
    upto: tuple[str, int] | None = None
    #: The table holding the version's predictions (``output_table``).
    table: str = "predictions"

    @property
    def pending(self) -> str:
        """The condition on ``reviews s``: neither scored nor failed by the version yet."""
        return _PENDING.format(table=self.table)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"dataset": self.dataset, "mv": self.model_version_id}
        if self.splits:
            params["splits"] = list(self.splits)
        if self.languages:
            params["languages"] = list(self.languages)
        if self.upto is not None:
            params.update(upto_hash=self.upto[0], upto_id=self.upto[1])
        return params

    def where(self, *, bounded: bool = True, duckdb: bool = False) -> str:
        """The selection's conditions on ``reviews s`` (``bounded``: with the --limit bound),
        with SQLAlchemy's ``:name`` parameters, or (``duckdb``) DuckDB's own ``$name``."""
        where = ["s.dataset = :dataset"]
        if self.splits:
            where.append("s.split IN :splits")
        if self.languages:
            # Reviews with no language recorded (single-language corpora) are always in.
            where.append("(s.language IS NULL OR s.language IN :languages)")
        if bounded and self.upto is not None:
            where.append(_UPTO.format(p="upto"))
        sql = " AND ".join(where)
        if duckdb:
            sql = re.sub(r"IN :(\w+)", r"= ANY($\1)", sql)
            sql = re.sub(r":(\w+)", r"$\1", sql)
        return sql

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "splits": self.splits, "languages": self.languages,
                "limit": self.limit}


def selection_for(store: Store, mv: ModelVersion, options: ScoreOptions) -> Selection:
    """The selection for ``options``; languages default to those the version was trained on
    (every language for a multilingual version, English when nothing was recorded)."""
    if options.languages:
        languages = None if [x.lower() for x in options.languages] == ["all"] else [
            x.lower() for x in options.languages]
    elif mv.params.get("multilingual"):
        languages = None  # it has a threshold for any language, or its pooled one
    else:
        languages = list(mv.languages or DEFAULT_LANGUAGES)
    sel = Selection(mv.id, options.dataset, options.splits, languages, options.limit,
                    table=output_table(mv))
    if sel.limit is None:
        return sel
    params = {**sel.params(), "offset": sel.limit - 1}
    query = text_query(f"SELECT s.content_hash, s.id FROM reviews s WHERE {sel.where()} "
                       "ORDER BY s.content_hash, s.id LIMIT 1 OFFSET :offset", params)
    with store.transaction() as conn:
        row = conn.execute(query, params).first()
    # Fewer reviews than --limit: the selection is all of them.
    return replace(sel, upto=(row[0], int(row[1]))) if row is not None else sel


def check_selection(store: Store, options: ScoreOptions) -> None:
    """Refuse an empty dataset or an unknown split with what exists instead."""
    with store.transaction() as conn:
        splits = [r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT split FROM reviews WHERE dataset = :d ORDER BY split"),
            {"d": options.dataset})]
        if not splits:
            datasets = [r[0] for r in conn.execute(sa.text(
                "SELECT DISTINCT dataset FROM reviews ORDER BY dataset"))]
            have = ", ".join(datasets) if datasets else "none: run `asaas ingest` first"
            raise AsaasError(f"no reviews in dataset {options.dataset!r} (datasets: {have})")
    unknown = sorted(set(options.splits or []) - set(splits))
    if unknown:
        raise AsaasError(f"dataset {options.dataset!r} has no split {', '.join(unknown)} "
                         f"(splits: {', '.join(splits)}, or all)")


def count(store: Store, sel: Selection) -> tuple[int, int]:
    """(reviews in the selection, of which not yet scored or failed by the version)."""
    params = sel.params()
    query = text_query(
        f"SELECT count(*), COALESCE(SUM(CASE WHEN {sel.pending} THEN 1 ELSE 0 END), 0) "
        f"FROM reviews s WHERE {sel.where()}", params)
    with store.transaction() as conn:
        total, pending = conn.execute(query, params).one()
    return int(total or 0), int(pending or 0)


def _page_query(sel: Selection, after: tuple[str, int] | None, size: int,
                lock: bool) -> tuple[sa.TextClause, dict[str, Any]]:
    """Pending reviews of ``sel`` after ``after`` in content-hash order, ``size`` at most;
    ``lock``: row-locked for this transaction, skipping rows other transactions hold."""
    params = {**sel.params(), "page": size}
    where = [sel.where(), sel.pending]
    if after is not None:
        where.append(_AFTER.format(p="after"))
        params.update(after_hash=after[0], after_id=after[1])
    # Lock the reviews rows themselves: SKIP LOCKED then hands each row to one process.
    locking = " FOR NO KEY UPDATE OF s SKIP LOCKED" if lock else ""
    sql = (f"SELECT s.id, s.text, s.content_hash, s.language FROM reviews s "
           f"WHERE {' AND '.join(where)} "
           f"ORDER BY s.content_hash, s.id LIMIT :page{locking}")
    return text_query(sql, params), params


#: DuckDB walks the order in windows of about this many reviews (their ids: about 5 MB). A
#: window is a range of content-hash values sized from the selection's count, not an ORDER BY
#: ... LIMIT: DuckDB sorts the whole selection for a LIMIT above 0.7% of it (a 5M-review run
#: then peaked at 1.36 GB, and ran out of memory at a 256 MB limit), while a range sorts only
#: its own rows. A window with nothing pending widens the next one, up to 8 times.
WINDOW_ROWS = 131_072
#: Window bounds are the first 15 hex digits of the SHA-256 content hashes that ingest stores.
_HASH_DIGITS = 15
_HASH_SPAN = 16 ** _HASH_DIGITS


def iter_pages(store: Store, sel: Selection, page_rows: int) -> Iterator[Page]:
    """Pending reviews (ids, texts, languages) in content-hash order, a page per short read
    transaction."""
    if store.is_duckdb:
        yield from _iter_windows(store, sel, page_rows)
        return
    after: tuple[str, int] | None = None
    while True:
        query, params = _page_query(sel, after, page_rows, lock=False)
        with store.transaction() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:
            return
        yield Page([r[0] for r in rows], [r[1] for r in rows], [r[3] for r in rows])
        after = (rows[-1][2], rows[-1][0])
        if len(rows) < page_rows:
            return


# One function on purpose: each query's shape here was measured on 1M and 5M reviews
# (bench/scale_bench.py); split up, the window bounds and the page reads would lose sight of
# each other.
def _iter_windows(store: Store, sel: Selection, page_rows: int) -> Iterator[Page]:
    """DuckDB: the same pages, without an anti-join over every prediction per page.

    DuckDB has no index for a range of (content_hash, id), so the one-query page (pending
    reviews after the last key, sorted, first N) scanned the selection and hashed every
    prediction of the version for every page: each page cost grew with the corpus, a 5,000,000
    review run slowed to a third of the 1,000,000 review rate, and the hash tables grew with
    it. Here no query holds more than a window: the review ids of the next range of content
    hashes in order (a scan of two columns, a sort of the window's rows), the ones of those
    already scored or failed (filtered by the window's ids inside the scan), then the texts of
    the rest by id, a page at a time."""
    params = {k: v for k, v in sel.params().items() if k != "mv"}
    where = sel.where(duckdb=True)
    with store.transaction() as conn:
        total = conn.connection.driver_connection.execute(
            f"SELECT count(*) FROM reviews s WHERE {where}", params).fetchone()[0]
    # The hash range the selection covers (--limit: up to its last review's hash).
    end = _HASH_SPAN
    if sel.upto is not None:
        try:
            end = int(sel.upto[0][:_HASH_DIGITS], 16) + 1
        except ValueError:
            pass  # not a hex digest: one window to the bound
    base = max(1, math.ceil(end * WINDOW_ROWS / max(total, 1)))
    step, low = base, 0
    while low < _HASH_SPAN:
        high = low + step if low + step < end else _HASH_SPAN  # the last window is open
        bounds = ([f"s.content_hash >= '{low:0{_HASH_DIGITS}x}'"] if low else []) + (
            [f"s.content_hash < '{high:0{_HASH_DIGITS}x}'"] if high < _HASH_SPAN else [])
        sql = (f"SELECT s.id FROM reviews s WHERE {' AND '.join([where, *bounds])} "
               "ORDER BY s.content_hash, s.id")
        with store.transaction() as conn:
            raw = conn.connection.driver_connection
            # Straight from DuckDB as an array: a million rows through SQLAlchemy's row
            # objects cost more than the query.
            ids = raw.execute(sql, params).fetchnumpy()["id"].tolist()
            done: set[int] = set()
            if ids:
                done = {int(r[0]) for r in raw.execute(
                    f"SELECT review_id FROM {sel.table} WHERE model_version_id = ? "
                    "AND review_id = ANY(?::BIGINT[]) "
                    "UNION ALL SELECT review_id FROM prediction_failures "
                    "WHERE model_version_id = ? AND review_id = ANY(?::BIGINT[])",
                    [sel.model_version_id, ids, sel.model_version_id, ids]).fetchall()}
        pending = [i for i in ids if i not in done]
        for start in range(0, len(pending), page_rows):
            page = pending[start:start + page_rows]
            with store.transaction() as conn:
                rows = {r[0]: r for r in conn.connection.driver_connection.execute(
                    # = ANY(list) is filtered inside the scan: 3.5x a join with unnest().
                    "SELECT id, text, language FROM reviews WHERE id = ANY(?::BIGINT[])",
                    [page]).fetchall()}
            page = [i for i in page if i in rows]  # a review deleted meanwhile is skipped
            if page:
                yield Page(page, [rows[i][1] for i in page], [rows[i][2] for i in page])
        low = high
        step = base if pending else min(step * 2, base * 8)


def claim_chunk(conn: sa.Connection, sel: Selection, size: int,
                after: tuple[str, int] | None) -> list[tuple[int, str, str, str | None]]:
    """Lock and return up to ``size`` pending (id, text, content_hash, language) rows after
    ``after``,
    skipping rows other processes hold (PostgreSQL). The locks last until ``conn`` commits."""
    query, params = _page_query(sel, after, size, lock=True)
    return [tuple(r) for r in conn.execute(query, params).fetchall()]
