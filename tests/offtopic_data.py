"""Small stand-ins for the off-topic and topics tests: an annotated-incidents file whose answers
follow from its words, ordinary reviews for the burst block, and a fake sentence embedder
(hashed bag of words: reviews sharing words point the same way), so no test loads a model; a
product whose reviews end in a burst of off-topic negatives."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from tests.events_alerts_data import Review, write_reviews
from tests.helpers import ok

#: The first day of product_reviews.
T0 = datetime(2021, 1, 1)

INCIDENTS = ("Alpha store deal", "Beta patch", "Gamma politics", "Delta paid mods")

OFF_TOPIC = ["boycott the exclusive store deal", "greedy publisher betrayed the fans",
             "politics has no place here", "stand with the protest", "the ceo is a clown",
             "exclusive deal is a scam", "the publisher sold out", "we will not forget",
             "support the cause", "review bomb incoming"]
ON_TOPIC = ["the combat feels great", "graphics are stunning and the music is good",
            "the story drags in the middle", "controls are clunky on keyboard",
            "level design is clever", "crashes sometimes but fun", "the boss fights are hard",
            "lots of content for the price", "the map is huge", "co-op with friends is fun"]


def annotated_frame(per_incident: int = 40, seed: int = 0) -> pd.DataFrame:
    """Reviews of four incidents: about half off-topic grievances (a bomb, not about the game,
    criticising the developer), half about the game; German Ja/Nein labels as in the meckl
    file, a little label noise so no label is perfectly separable."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, incident in enumerate(INCIDENTS):
        for i in range(per_incident):
            off = i % 2 == 0
            words = rng.choice(OFF_TOPIC if off else ON_TOPIC, size=2, replace=False)
            text = f"{words[0]}. {words[1]} ({incident.split()[0]} #{i})"
            noisy = rng.random() < 0.05
            bomb = off != noisy
            rows.append({"project": incident, "review": text,
                         "is-review-bombing": "Ja" if bomb else "Nein",
                         "is-rating-game-related": "Nein" if off else "Ja",
                         "criticism-praise-game-content": "Nein" if off else "Ja",
                         "criticism-praise-developer-publisher":
                             "Ja" if (off and i % 4 == 0) or (not off and i % 5 == 0) else "Nein",
                         "criticism-praise-ideological": "Ja" if i % 3 == 0 else "Nein",
                         "criticism-praise-political": "Ja" if i % 7 == 0 else "Nein"})
    return pd.DataFrame(rows)


def write_annotated(path: Path, **kw) -> Path:
    annotated_frame(**kw).to_parquet(path, index=False)
    return path


def write_background(path: Path, n: int = 120, seed: int = 1) -> Path:
    """Ordinary reviews of games (the burst block compares a burst with them)."""
    rng = np.random.default_rng(seed)
    texts = [" and ".join(rng.choice(ON_TOPIC, size=2, replace=False)) + f" (game {i})"
             for i in range(n)]
    pd.DataFrame({"review": texts, "language": "english"}).to_parquet(path, index=False)
    return path


WORD = re.compile(r"[a-z]+")


def fake_vectors(texts: Sequence[str], dim: int = 64) -> np.ndarray:
    """Hashed bag of words, L2-normalised: texts that share words are close."""
    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        for word in WORD.findall(str(text).lower()):
            h = int(hashlib.md5(word.encode()).hexdigest(), 16)
            out[row, h % dim] += 1.0 if (h >> 8) % 2 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out[norms[:, 0] == 0, 0] = 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def fake_embedder(calls: list | None = None):
    """A stand-in for asaas.offtopic.embedding.embedder (same signature and return)."""

    def embedder(block, *, home=None, threads=None, identity=None, max_tokens=None,
                 path=None):
        ident = {"embedder": block, "weights": "fake-hashed-bag-of-words", "max_tokens": 64}
        if identity is not None and identity != ident:
            from asaas.errors import ConfigError

            raise ConfigError(f"the {block} block was trained on other vectors")

        def embed(texts):
            if calls is not None:
                calls.append((block, len(texts)))
            return fake_vectors(list(texts))

        return embed, ident

    return embedder


def train_offtopic(invoke, source, *extra):
    """`asaas train offtopic --source SOURCE EXTRA...`."""
    return invoke("train", "offtopic", "--source", str(source), *extra)


def product_reviews(n_days: int = 60, bomb_day: int = 45, bomb: int = 60) -> list[Review]:
    """A game with a few ordinary reviews a day, then a burst of off-topic negatives."""
    rng = np.random.default_rng(3)
    rows = []
    for d in range(n_days):
        for j in range(4):
            text = " and ".join(rng.choice(ON_TOPIC, 2, replace=False))
            rows.append(Review("700", T0 + timedelta(days=d, hours=j), int(j > 0), text))
    for j in range(bomb):
        text = " ".join(rng.choice(OFF_TOPIC, 2, replace=False))
        rows.append(Review("700", T0 + timedelta(days=bomb_day, minutes=j), 0, text))
    return rows


def bomb_db(invoke, annotated, db_path, tmp_path, *extra):
    """An off-topic classifier (bomb, about_game, developer; tfidf and burst) trained, and the
    product of product_reviews ingested and scored by it."""
    background = write_background(tmp_path / "ordinary.parquet")
    ok(train_offtopic(invoke, annotated, "--labels", "bomb,about_game,developer",
                      "--features", "tfidf,burst", "--background", str(background), *extra))
    write_reviews(str(db_path), product_reviews()).engine.dispose()
    ok(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all"))
