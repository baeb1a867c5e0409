"""asaas.topics.cluster on plain matrices: average-linkage clusters cut by distance, small
groups to "other", class-based TF-IDF keywords without the excluded words, nearest-centre
assignment and the representative reviews."""

from __future__ import annotations

import numpy as np

from asaas.topics import cluster as method


def test_clustering_on_matrices():
    texts = ["crash on start"] * 5 + ["too short"] * 4 + ["lonely review"]
    rng = np.random.default_rng(0)
    axes = np.eye(8)
    emb = np.array([axes[0]] * 5 + [axes[1]] * 4 + [axes[2]]) + 0.05 * rng.random((10, 8))
    found = method.cluster(emb, min_size=3)
    assert found.sizes() == {0: 1, 1: 5, 2: 4}
    words = method.keywords(texts, found.labels, exclude={"short"})
    assert words[1][:2] == ["crash", "crash start"] or "crash" in words[1]
    assert "short" not in " ".join(words[2])
    topic, sim = method.assign(np.array([axes[0] + 0.3 * axes[3], axes[4]]), found.centroids)
    assert list(topic) == [1, 0] and sim[0] > 0.5
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    nearest = {}
    for t, rows in ((1, np.arange(5)), (2, np.arange(5, 9))):
        centre = unit[rows].mean(axis=0)
        nearest[t] = [int(rows[np.argmax(unit[rows] @ centre)])]
    assert method.representatives(emb, found.labels, found.centroids, n=1) == nearest
