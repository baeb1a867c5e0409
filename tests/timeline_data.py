"""Synthetic product reviews over time with known answers, for the timeline tests.

Each product has a true negative share per month; labels are drawn from it, and each model
version calls a truly negative review negative with probability s and a truly positive one with
probability f, so the biased raw share and the share the correction should recover are known.
Every array is returned so tests can recompute the views' numbers independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

#: (id, external id, name) of the products; product 3 has no reviews.
PRODUCTS = [(1, "1001", "Pit Pals"), (2, "1002", "Rogue Streets"), (3, "1003", "Empty Game")]
MONTHS = [datetime(2017, m, 1) for m in range(1, 7)]
#: True negative share per product and month (product 1 has a bad March).
PREVALENCE = {1: [0.05, 0.08, 0.40, 0.10, 0.05, 0.06], 2: [0.20, 0.15, 0.10, 0.12, 0.30, 0.25]}
SPLIT_BEFORE = datetime(2017, 3, 1)

#: model version id -> (name, train_dataset, s = P(pred neg | neg), f = P(pred neg | pos)).
MODELS = {
    1: ("biased", "steam", 0.70, 0.15),      # trained on steam's train split: biased upwards
    2: ("coinflip", "imdb", 0.55, 0.50),     # out of domain: s - f < 0.1, no correction
    3: ("unscored", "steam", 0.9, 0.1),      # registered, never scored
}


@dataclass
class Seeded:
    review_id: np.ndarray
    product_id: np.ndarray
    dataset: np.ndarray
    language: np.ndarray
    split: np.ndarray
    reviewed_at: np.ndarray  # datetime64[us]
    label: np.ndarray  # float: 1.0, 0.0 or nan (unlabelled)
    truth: np.ndarray  # the true class, also for unlabelled reviews
    pred: dict[int, np.ndarray] = field(default_factory=dict)  # per model version: 0/1
    prob: dict[int, np.ndarray] = field(default_factory=dict)


def generate(seed: int = 0, per_month: tuple[int, int] = (250, 700)) -> Seeded:
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {k: [] for k in ("product_id", "dataset", "at", "truth")}
    for pid, shares in PREVALENCE.items():
        for month, share in zip(MONTHS, shares):
            n = int(rng.integers(*per_month))
            next_month = (month + timedelta(days=32)).replace(day=1)
            span = (next_month - month).total_seconds()
            offsets = np.sort(rng.uniform(0, span, n))
            cols["product_id"] += [pid] * n
            cols["dataset"] += ["steam"] * n
            cols["at"] += [month + timedelta(seconds=float(o)) for o in offsets]
            cols["truth"] += list((rng.random(n) >= share).astype(int))  # 1 = positive
    # A few reviews of product 2 in a second dataset (like the annotated review-bomb file).
    for i in range(30):
        cols["product_id"].append(2)
        cols["dataset"].append("bombs")
        cols["at"].append(datetime(2017, 5, 2) + timedelta(hours=i))
        cols["truth"].append(0 if i % 3 else 1)
    n = len(cols["truth"])
    truth = np.array(cols["truth"])
    label = truth.astype(float)
    label[rng.random(n) < 0.1] = np.nan  # some reviews carry no label
    at = np.array(cols["at"], dtype="datetime64[us]")
    out = Seeded(
        review_id=np.arange(1, n + 1, dtype=np.int64),
        product_id=np.array(cols["product_id"], dtype=np.int64),
        dataset=np.array(cols["dataset"]),
        language=rng.choice(np.array(["english", "schinese"]), n, p=[0.7, 0.3]),
        split=np.where(at < np.datetime64(SPLIT_BEFORE), "train", "test"),
        reviewed_at=at,
        label=label,
        truth=truth,
    )
    for mv, (_, _, s, f) in MODELS.items():
        if mv == 3:
            continue
        p_neg = np.where(truth == 0, s, f)
        pred = (rng.random(n) >= p_neg).astype(int)  # 1 = predicted positive
        out.pred[mv] = pred
        out.prob[mv] = np.where(pred == 1, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.5, n))
    return out


def seed_store(store, data: Seeded | None = None) -> Seeded:
    """Insert the products, reviews, model versions and predictions of ``data``."""
    from asaas.views import install_views

    data = data or generate()
    n = len(data.review_id)
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'steam', 'test', 'succeeded', '2018-01-01')")
        for pid, ext, name in PRODUCTS:
            conn.exec_driver_sql(
                "INSERT INTO products (id, source, external_id, name, kind, created_at) "
                f"VALUES ({pid}, 'steam', '{ext}', '{name}', 'game', '2018-01-01')")
        label = pa.array([None if np.isnan(v) else int(v) for v in data.label], pa.int16())
        store.insert_arrow(conn, "reviews", pa.table({
            "id": pa.array(data.review_id), "dataset": pa.array(data.dataset.tolist()),
            "external_id": [str(i) for i in data.review_id],
            "split": pa.array(data.split.tolist()), "text": ["a review"] * n, "label": label,
            "content_hash": ["h"] * n, "product_id": pa.array(data.product_id),
            "reviewed_at": pa.array(data.reviewed_at, pa.timestamp("us")),
            "language": pa.array(data.language.tolist()),
            "ingest_run_id": pa.array(np.ones(n, np.int64))}))
        for mv, (name, train_dataset, _, _) in MODELS.items():
            conn.exec_driver_sql(f"INSERT INTO models (id, name, created_at) "
                                 f"VALUES ({mv}, '{name}', '2018-01-01')")
            conn.exec_driver_sql(
                "INSERT INTO model_versions (id, model_id, version, kind, artifact_uri, "
                f"train_dataset, train_split, created_at) VALUES ({mv}, {mv}, 1, 'sklearn', 'x', "
                f"'{train_dataset}', 'train', '2018-01-01')")
            if mv not in data.pred:
                continue
            conn.exec_driver_sql(
                "INSERT INTO scoring_runs (id, model_version_id, dataset, status, started_at) "
                f"VALUES ({mv}, {mv}, 'steam', 'succeeded', '2018-01-01')")
            store.insert_arrow(conn, "predictions", pa.table({
                "review_id": pa.array(data.review_id),
                "model_version_id": pa.array(np.full(n, mv, np.int64)),
                "scoring_run_id": pa.array(np.full(n, mv, np.int64)),
                "label": pa.array(data.pred[mv].astype(np.int16)),
                "prob_positive": pa.array(data.prob[mv].astype(np.float64))}))
    install_views(store)
    return data
