"""Small review corpora the tests ingest: an aclImdb-shaped folder and tarball, synthetic reviews
of every length, and learnable reviews whose sentiment words decide the label (the fixtures in
tests/conftest.py write them to files)."""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

from tests.tiny_models import WORDS

# A tiny IMDB-like corpus: (split, class, id, rating, text).
ACL_ROWS = [
    ("train", "pos", 0, 9, "A wonderful film.<br /><br />Loved every minute."),
    ("train", "pos", 1, 7, "Good acting and a clever plot."),
    ("train", "neg", 0, 2, "Dull, slow and far too long."),
    ("train", "neg", 1, 1, "The worst film I have seen this year."),
    ("train", "unsup", 0, 0, "I watched it on a Tuesday."),
    ("test", "pos", 0, 10, "Brilliant! A masterpiece."),
    ("test", "neg", 0, 3, "Not worth the ticket."),
]


def write_aclimdb(root: Path, rows=ACL_ROWS) -> Path:
    """An ``aclImdb/`` folder as the original release lays it out; returns its path."""
    base = root / "aclImdb"
    for split, cls, n, rating, text in rows:
        d = base / split / cls
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{n}_{rating}.txt").write_text(text, encoding="utf-8")
    return base


def write_tarball(path: Path, rows=ACL_ROWS, extra: dict[str, bytes] | None = None) -> Path:
    """``aclImdb_v1.tar.gz`` with ``rows`` (and any ``extra`` members, name -> bytes)."""
    with tarfile.open(path, "w:gz") as tar:
        for split, cls, n, rating, text in rows:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{split}/{cls}/{n}_{rating}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def synthetic_reviews(n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """(id, text, label) with lengths from a few words to well past 128 tokens."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        length = rng.choice([3, 8, 20, 60, 150, 300])
        words = [rng.choice(WORDS) for _ in range(length)]
        rows.append((f"r{i}", " ".join(words).capitalize() + ".", label))
    return rows


POSITIVE_WORDS = "good great wonderful brilliant loved best fun enjoyable masterpiece clever".split()
NEGATIVE_WORDS = "bad awful worst terrible boring dull slow waste hated poor".split()
FILLER = "the film movie story plot acting scene cast music ending i watched it this year".split()


def learnable_reviews(n: int, seed: int = 0, split: str = "train") -> list[tuple[str, str, int]]:
    """(id, text, label): sentiment words decide the label, filler words add noise."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        cue = POSITIVE_WORDS if label else NEGATIVE_WORDS
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 40))]
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
        rows.append((f"{split}{i}", " ".join(words), label))
    return rows
