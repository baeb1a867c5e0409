"""Synthetic product reviews with timestamps for the events, alerts and responsiveness tests.

Reviews are written straight into the tables (not through an ingest reader), so these tests do
not depend on any source format; the series they build have answers known in advance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.store import Store, open_store
from asaas.store.ids import next_id
from asaas.store.schema import ingest_runs, products, reviews


@dataclass
class Review:
    product: str  # external id
    at: datetime
    label: int | None  # 1 positive, 0 negative
    text: str = "a review"
    early_access: bool | None = None
    responded_at: datetime | None = None
    response: str | None = None


def write_reviews(db: str, rows: Iterable[Review], *, dataset: str = "steam",
                  names: dict[str, str] | None = None, source: str = "steam") -> Store:
    """Create (or extend) the database at ``db`` with products and these reviews."""
    store = open_store(str(db))
    rows = list(rows)
    names = names or {}
    with store.transaction() as conn:
        run_id = next_id(conn, "ingest_runs_id_seq")
        conn.execute(sa.insert(ingest_runs).values(
            id=run_id, dataset=dataset, source="synthetic", status="succeeded",
            started_at=utcnow()))
        ids = {ext: pid for pid, ext in conn.execute(
            sa.select(products.c.id, products.c.external_id).where(products.c.source == source))}
        for ext in dict.fromkeys(r.product for r in rows):
            if ext not in ids:
                ids[ext] = next_id(conn, "products_id_seq")
                conn.execute(sa.insert(products).values(
                    id=ids[ext], source=source, external_id=ext, name=names.get(ext, f"Game {ext}"),
                    kind="game", created_at=utcnow()))
        batch = []
        start = conn.execute(sa.select(sa.func.count()).select_from(reviews)).scalar_one()
        for i, r in enumerate(rows):
            text = f"{r.text} #{start + i}"
            batch.append(dict(
                dataset=dataset,
                external_id=f"{dataset}-{start + i}", split="train", text=text, label=r.label,
                content_hash=hashlib.sha256(text.encode()).hexdigest(), product_id=ids[r.product],
                reviewed_at=r.at, ingest_run_id=run_id, early_access=r.early_access,
                developer_response=r.response if r.response is not None else (
                    "thanks" if r.responded_at else None),
                developer_responded_at=r.responded_at))
        if batch:
            # One Arrow insert (DuckDB scans it directly), not one statement per row.
            columns = list(batch[0])
            data = pa.table({c: [row[c] for row in batch] for c in columns})
            data = data.cast(pa.schema([
                pa.field(c, pa.int16() if c == "label" else data.schema.field(c).type)
                for c in columns]))
            store.insert_arrow(conn, "reviews", data)
    return store


def daily_series(product: str, start: datetime, daily_n: Iterable[int],
                 daily_share: Iterable[float], *, seed: int = 0, exact: bool = False,
                 hour: int = 12) -> list[Review]:
    """Reviews for one product: on day i, daily_n[i] reviews of which a share daily_share[i]
    are negative (binomial draws, or rounded exactly with ``exact``)."""
    rng = np.random.default_rng(seed)
    out = []
    for i, (n, share) in enumerate(zip(daily_n, daily_share)):
        neg = int(round(n * share)) if exact else int(rng.binomial(n, share))
        day = start + timedelta(days=i)
        for j in range(n):
            at = day + timedelta(hours=hour, minutes=j % 60, seconds=j // 60)
            out.append(Review(product, at, 0 if j < neg else 1,
                              text="refund broken crash" if j < neg else "fun great game"))
    return out


def write_predictions(store: Store, name: str, judge) -> int:
    """Register model ``name`` (a new version) and store its predictions for every review:
    ``judge(review_text, label)`` returns P(positive). Returns the model version id."""
    from asaas.store.schema import model_versions, models, predictions, scoring_runs

    with store.transaction() as conn:
        model_id = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar()
        if model_id is None:
            model_id = next_id(conn, "models_id_seq")
            conn.execute(sa.insert(models).values(id=model_id, name=name, created_at=utcnow()))
        version = conn.execute(sa.select(sa.func.count()).select_from(model_versions).where(
            model_versions.c.model_id == model_id)).scalar_one() + 1
        mv = next_id(conn, "model_versions_id_seq")
        conn.execute(sa.insert(model_versions).values(
            id=mv, model_id=model_id, version=version, kind="sklearn", artifact_uri="none",
            created_at=utcnow()))
        run = next_id(conn, "scoring_runs_id_seq")
        conn.execute(sa.insert(scoring_runs).values(
            id=run, model_version_id=mv, dataset="steam", status="succeeded",
            started_at=utcnow()))
        rows = conn.execute(sa.select(reviews.c.id, reviews.c.text, reviews.c.label)).fetchall()
        batch = []
        for rid, text, label in rows:
            prob = float(judge(text, label))
            batch.append(dict(review_id=rid, model_version_id=mv, scoring_run_id=run,
                              label=int(prob >= 0.5), prob_positive=prob))
        if batch:
            conn.execute(sa.insert(predictions), batch)
    return mv
