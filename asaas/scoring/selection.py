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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from asaas.errors import AsaasError
from asaas.models.registry import ModelVersion
from asaas.scoring.options import DEFAULT_LANGUAGES, ScoreOptions
from asaas.store import Store
from asaas.store.sql import text_query

_PENDING = ("NOT EXISTS (SELECT 1 FROM predictions p "
            "            WHERE p.review_id = s.id AND p.model_version_id = :mv) "
            "AND NOT EXISTS (SELECT 1 FROM prediction_failures f "
            "                WHERE f.review_id = s.id AND f.model_version_id = :mv)")


@dataclass(frozen=True)
class Selection:
    """The reviews one model version is asked to score."""

    model_version_id: int
    dataset: str
    splits: list[str] | None
    languages: list[str] | None  # None: every language
    limit: int | None

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"dataset": self.dataset, "mv": self.model_version_id}
        if self.splits:
            params["splits"] = list(self.splits)
        if self.languages:
            params["languages"] = list(self.languages)
        if self.limit is not None:
            params["limit"] = int(self.limit)
        return params

    def sql(self, columns: str = "r.id, r.text, r.content_hash") -> str:
        """The selection in content-hash order (``--limit`` keeps its first N)."""
        where = ["r.dataset = :dataset"]
        if self.splits:
            where.append("r.split IN :splits")
        if self.languages:
            # Reviews with no language recorded (single-language corpora) are always in.
            where.append("(r.language IS NULL OR r.language IN :languages)")
        limit = " ORDER BY r.content_hash, r.id LIMIT :limit" if self.limit is not None else ""
        return f"SELECT {columns} FROM reviews r WHERE {' AND '.join(where)}{limit}"

    def describe(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "splits": self.splits, "languages": self.languages,
                "limit": self.limit}


def selection_for(mv: ModelVersion, options: ScoreOptions) -> Selection:
    """The selection for ``options``; languages default to those the version was trained on."""
    if options.languages:
        languages = None if [x.lower() for x in options.languages] == ["all"] else [
            x.lower() for x in options.languages]
    else:
        languages = list(mv.languages or DEFAULT_LANGUAGES)
    return Selection(mv.id, options.dataset, options.splits, languages, options.limit)


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
        f"SELECT count(*), COALESCE(SUM(CASE WHEN {_PENDING} THEN 1 ELSE 0 END), 0) "
        f"FROM ({sel.sql()}) s", params)
    with store.transaction() as conn:
        total, pending = conn.execute(query, params).one()
    return int(total or 0), int(pending or 0)


def _page_query(sel: Selection, after: tuple[str, int] | None, size: int,
                lock: bool) -> tuple[sa.TextClause, dict[str, Any]]:
    params = {**sel.params(), "page": size}
    keyset = ""
    if after is not None:
        keyset = " AND (s.content_hash > :after_hash OR (s.content_hash = :after_hash " \
                 "AND s.id > :after_id))"
        params.update(after_hash=after[0], after_id=after[1])
    if lock:
        # Lock the reviews rows themselves: SKIP LOCKED then hands each row to one process.
        sql = (f"SELECT s.id, s.text, s.content_hash FROM reviews s "
               f"WHERE s.id IN ({sel.sql('r.id')}) AND {_PENDING}{keyset} "
               "ORDER BY s.content_hash, s.id LIMIT :page FOR NO KEY UPDATE OF s SKIP LOCKED")
    else:
        sql = (f"SELECT s.id, s.text, s.content_hash FROM ({sel.sql()}) s "
               f"WHERE {_PENDING}{keyset} ORDER BY s.content_hash, s.id LIMIT :page")
    return text_query(sql, params), params


def iter_pages(store: Store, sel: Selection, page_rows: int
               ) -> Iterator[tuple[list[int], list[str]]]:
    """Pending (ids, texts) in content-hash order, a page per short read transaction."""
    after: tuple[str, int] | None = None
    while True:
        query, params = _page_query(sel, after, page_rows, lock=False)
        with store.transaction() as conn:
            rows = conn.execute(query, params).fetchall()
        if not rows:
            return
        yield [r[0] for r in rows], [r[1] for r in rows]
        after = (rows[-1][2], rows[-1][0])
        if len(rows) < page_rows:
            return


def claim_chunk(conn: sa.Connection, sel: Selection, size: int,
                after: tuple[str, int] | None) -> list[tuple[int, str, str]]:
    """Lock and return up to ``size`` pending (id, text, content_hash) rows after ``after``,
    skipping rows other processes hold (PostgreSQL). The locks last until ``conn`` commits."""
    query, params = _page_query(sel, after, size, lock=True)
    return [tuple(r) for r in conn.execute(query, params).fetchall()]


def select_pending(store: Store, mv: ModelVersion, options: ScoreOptions
                   ) -> tuple[int, list[int], list[str]]:
    """(size of the selection, ids and texts of all its pending reviews), in hand-out order.

    For tests and benchmarks: ``asaas score`` itself streams pages and never holds them all.
    """
    sel = selection_for(mv, options)
    total, _ = count(store, sel)
    ids: list[int] = []
    texts: list[str] = []
    for page_ids, page_texts in iter_pages(store, sel, 1 << 20):
        ids += page_ids
        texts += page_texts
    return total, ids, texts
