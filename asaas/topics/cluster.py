"""Complaint topics from sentence embeddings: the method, on matrices (no database here).

Clustering: scikit-learn's agglomerative clustering with average linkage on cosine distance,
cut at DISTANCE (0.65) rather than at a fixed number of topics, so one tight complaint stays one
topic whether 10 or 40 reviews make it (bench/topics_bench.py: NMF and KMeans with a fixed k
split a 40-review complaint into two or three topics, or drown a 10-review one). Clusters of
fewer than MIN_SIZE reviews go to topic 0, "other"; the rest are numbered 1..k by size.

Keywords: class-based TF-IDF (BERTopic's formula): the words of each topic, weighted by how
particular they are to it among all topics, with English stop words and the product's own name
left out (it would top every topic). Representative reviews: those nearest the topic's centre
(the normalised mean of its embeddings), which is also what later reviews are assigned by:
the nearest centre within DISTANCE in cosine distance, else "other".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DISTANCE = 0.65
MIN_SIZE = 3
OTHER = 0
#: A word for keywords: two or more letters (digits, underscores and apostrophes end it).
WORD = r"(?u)\b[^\W\d_]{2,}\b"


@dataclass
class Topics:
    labels: np.ndarray  # topic of each review: 0 other, 1..k by size
    centroids: np.ndarray  # (k, dim): row i is topic i+1's normalised centre
    similarity: np.ndarray  # each review's cosine similarity to its topic's centre (nan: other)

    @property
    def count(self) -> int:
        return len(self.centroids)

    def sizes(self) -> dict[int, int]:
        return {t: int((self.labels == t).sum()) for t in range(self.count + 1)}


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cluster(emb: np.ndarray, *, distance: float = DISTANCE, min_size: int = MIN_SIZE
            ) -> Topics:
    """Topics of the rows of ``emb`` (see the module docstring)."""
    from sklearn.cluster import AgglomerativeClustering

    emb = _normalise(emb)
    n = len(emb)
    if n < 2:
        return Topics(np.zeros(n, dtype=int), np.zeros((0, emb.shape[1] if emb.ndim == 2 else 0)),
                      np.full(n, np.nan))
    raw = AgglomerativeClustering(n_clusters=None, distance_threshold=distance,
                                  metric="cosine", linkage="average").fit_predict(emb)
    counts = np.bincount(raw)
    # Biggest first; ties by first appearance, so the numbering does not depend on sklearn's.
    first = {c: int(np.flatnonzero(raw == c)[0]) for c in range(len(counts))}
    kept = sorted((c for c in range(len(counts)) if counts[c] >= min_size),
                  key=lambda c: (-counts[c], first[c]))
    number = {c: i + 1 for i, c in enumerate(kept)}
    labels = np.array([number.get(c, OTHER) for c in raw], dtype=int)
    centroids = np.array([_normalise(emb[labels == t].mean(axis=0))
                          for t in range(1, len(kept) + 1)]).reshape(len(kept), emb.shape[1])
    sim = np.full(n, np.nan)
    for t in range(1, len(kept) + 1):
        rows = labels == t
        sim[rows] = emb[rows] @ centroids[t - 1]
    return Topics(labels, centroids, sim)


def assign(emb: np.ndarray, centroids: np.ndarray, *, distance: float = DISTANCE
           ) -> tuple[np.ndarray, np.ndarray]:
    """(topic, similarity) of each row: its nearest centre when within ``distance`` in cosine
    distance, else 0 (other; similarity to the nearest centre all the same)."""
    n = len(emb)
    if n == 0 or len(centroids) == 0:
        return np.zeros(n, dtype=int), np.full(n, np.nan)
    sims = _normalise(emb) @ np.asarray(centroids, dtype=np.float64).T
    best = sims.argmax(axis=1)
    top = sims[np.arange(n), best]
    return np.where(1.0 - top <= distance, best + 1, OTHER).astype(int), top


def name_words(names: Iterable[str | None]) -> set[str]:
    """The lower-cased words of product names, to leave out of keywords."""
    out: set[str] = set()
    for name in names:
        out.update(w.lower() for w in re.findall(WORD, name or ""))
    return out


def keywords(texts: Sequence[str], labels: np.ndarray, *, exclude: Iterable[str] = (),
             top: int = 8) -> dict[int, list[str]]:
    """Each topic's (0 included) most particular words and two-word phrases, by class-based
    TF-IDF: term frequency within the topic (its reviews taken as one document) times
    log(1 + mean words per topic / the term's frequency over all topics)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    topics = sorted(set(int(t) for t in labels))
    if not topics:
        return {}
    docs = [" ".join(t for t, la in zip(texts, labels) if la == k) for k in topics]
    stop = sorted(set(ENGLISH_STOP_WORDS) | {w.lower() for w in exclude})
    vec = CountVectorizer(ngram_range=(1, 2), stop_words=stop, token_pattern=WORD,
                          lowercase=True)
    try:
        tf = vec.fit_transform(docs).toarray().astype(float)
    except ValueError:  # nothing but stop words and names
        return {k: [] for k in topics}
    tf /= tf.sum(axis=1, keepdims=True) + 1e-12
    mean_words = tf.sum() / len(topics)
    weight = tf * np.log(1 + mean_words / (tf.sum(axis=0) + 1e-12))
    vocab = np.array(vec.get_feature_names_out())
    out = {}
    for i, k in enumerate(topics):
        order = np.argsort(-weight[i], kind="stable")
        out[k] = [str(vocab[j]) for j in order[:top] if weight[i, j] > 0]
    return out


def representatives(emb: np.ndarray, labels: np.ndarray, centroids: np.ndarray,
                    n: int = 2) -> dict[int, list[int]]:
    """Row indices of each topic's ``n`` reviews nearest its centre."""
    emb = _normalise(emb)
    out = {}
    for t in range(1, len(centroids) + 1):
        rows = np.flatnonzero(labels == t)
        order = np.argsort(-(emb[rows] @ centroids[t - 1]), kind="stable")
        out[t] = rows[order[:n]].tolist()
    return out
