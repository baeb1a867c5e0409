"""Training data: labelled reviews of one dataset and split, with a fingerprint of exactly what
was used, so a model version can always say which rows made it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

from asaas.errors import AsaasError
from asaas.settings import DEFAULT_DATASET
from asaas.store import Store
from asaas.store.sql import text_query


class TrainingDataError(AsaasError):
    """No usable training rows, or rows a classifier cannot learn from."""


@dataclass
class TrainingData:
    dataset: str
    split: str
    ids: list[int]
    texts: list[str]
    labels: list[int]
    fingerprint: str
    #: Languages of the training rows (None when the dataset records none, e.g. IMDB).
    languages: list[str] | None = None
    #: Each row's language (None: not recorded) and content hash, in row order.
    row_languages: list[str | None] | None = None
    content_hashes: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)


def load_training_data(store: Store, dataset: str = DEFAULT_DATASET, split: str = "train",
                       limit: int | None = None, languages: list[str] | None = None
                       ) -> TrainingData:
    """Labelled rows of ``dataset``/``split``; ``limit`` takes a fixed pseudo-random sample
    (content-hash order, as ``asaas score --limit`` does), balanced by nothing but chance.
    ``languages`` keeps only reviews in those languages (reviews with no language recorded are
    kept: single-language corpora such as IMDB record none)."""
    if limit is not None and limit < 2:
        raise TrainingDataError("--limit must be at least 2 for training")
    where = "dataset = :dataset AND split = :split AND label IS NOT NULL"
    params: dict = {"dataset": dataset, "split": split, "limit": limit}
    if languages:
        where += " AND (language IS NULL OR language IN :languages)"
        params["languages"] = list(languages)
    query = (
        f"SELECT id, text, label, external_id, content_hash, language FROM reviews WHERE {where} "
        + ("ORDER BY content_hash, id LIMIT :limit" if limit else "ORDER BY id")
    )
    with store.transaction() as conn:
        rows = conn.execute(text_query(query, params), params).fetchall()
        if not rows:
            have = conn.execute(sa.text(
                "SELECT dataset, split, count(label) FROM reviews GROUP BY dataset, split "
                "ORDER BY dataset, split")).fetchall()
    if not rows:
        labelled = ", ".join(f"{d}/{s} ({n:,} labelled)" for d, s, n in have) or "nothing"
        raise TrainingDataError(
            f"no labelled {split} reviews in dataset {dataset!r} (the database has: {labelled}); "
            f"ingest some with `asaas ingest --dataset {dataset}` or pick --train-dataset"
        )
    rows.sort(key=lambda r: r[0])
    labels = [int(r[2]) for r in rows]
    classes = set(labels)
    if len(classes) < 2:
        raise TrainingDataError(
            f"the {len(rows):,} training rows of {dataset!r} are all label {labels[0]}; a "
            "classifier needs both positive and negative reviews"
        )
    digest = hashlib.sha256()
    for r in rows:
        digest.update(f"{r[3]}\t{r[4]}\t{r[2]}\n".encode())
    langs = sorted({r[5] for r in rows if r[5] is not None})
    return TrainingData(dataset, split, [r[0] for r in rows], [r[1] for r in rows], labels,
                        digest.hexdigest(), langs or None, [r[5] for r in rows],
                        [r[4] for r in rows])
