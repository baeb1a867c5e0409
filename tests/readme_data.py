"""Small stand-ins for every file and model the commands of the README and docs/ name, so that
tests/test_readme.py can run those commands as written on any machine.

The Steam stand-in keeps the real records' columns and the products the docs talk about
(Streets of Rogue, Niche with its early-access release on 2017-09-21, Stories Untold with a burst
of negative reviews on 2017-10-07, Pit People), at a few reviews a day.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.reviews_data import FILLER, NEGATIVE_WORDS, POSITIVE_WORDS, learnable_reviews

STEAM_PRODUCTS = {
    512900: "Streets of Rogue",
    440650: "Niche - a genetics survival game",
    558420: "Stories Untold",
    291860: "Pit People",
}
RELEASE = {440650: date(2017, 9, 21)}  # left early access that day
BOMB = (558420, date(2017, 10, 7))  # a burst of negative reviews that day
START, END = date(2016, 12, 1), date(2018, 1, 31)


def _text(rng: random.Random, positive: bool) -> str:
    cue = POSITIVE_WORDS if positive else NEGATIVE_WORDS
    words = [rng.choice(FILLER) for _ in range(rng.randint(5, 25))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
    return " ".join(words)


def _epoch(day: date, rng: random.Random) -> int:
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return int(moment.timestamp()) + rng.randrange(86_400)


def write_steam(path: Path, seed: int = 0) -> Path:
    """Steam appreviews records (woctezuma's columns) for STEAM_PRODUCTS, START to END."""
    rng = random.Random(seed)
    rows = []
    day = START
    while day <= END:
        for appid, name in STEAM_PRODUCTS.items():
            n = rng.randint(1, 4)
            if (appid, day) == BOMB:
                n += 40
            for k in range(n):
                bombing = (appid, day) == BOMB and k >= n - 40
                positive = not bombing and rng.random() < 0.9
                created = _epoch(day, rng)
                answered = not positive and appid == 512900 and rng.random() < 0.5
                rows.append({
                    "appid": appid, "app_name": name, "recommendationid": str(len(rows) + 1),
                    "language": "schinese" if rng.random() < 0.1 else "english",
                    "review": _text(rng, positive), "timestamp_created": created,
                    "voted_up": positive,
                    "written_during_early_access": appid in RELEASE and day < RELEASE[appid],
                    "developer_response": "Thanks, fixed in the next patch" if answered
                    else None,
                    "timestamp_dev_responded": float(created + 7200) if answered else None,
                })
        day += timedelta(days=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_bombs(path: Path, seed: int = 1) -> Path:
    """The annotated review-bombing file's columns, German labels included."""
    rng = random.Random(seed)
    rows = []
    for i in range(30):
        positive = i % 3 == 0
        rows.append({"id": 91872600 + i, "game_name_display": "The Elder Scrolls V: Skyrim",
                     "review": _text(rng, positive),
                     "combined_rating": "Empfohlen" if positive else "Nicht empfohlen",
                     "created_at": datetime(2015, 4, 23, 17, tzinfo=timezone.utc)
                     + timedelta(hours=i)})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_imdb(folder: Path) -> Path:
    """train.parquet and test.parquet of learnable reviews, with IMDB-style ids."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", 120, 1), ("test", 80, 2)):
        rows = learnable_reviews(n, seed, split)
        pq.write_table(pa.table({
            "id": [f"{split}_{'pos' if r[2] else 'neg'}_{i}" for i, r in enumerate(rows)],
            "text": [r[1] for r in rows], "label": [r[2] for r in rows]}),
            folder / f"{split}.parquet")
    return folder


def write_sst2(path: Path) -> Path:
    rows = learnable_reviews(60, 3, "sst")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"idx": list(range(len(rows))), "sentence": [r[1] for r in rows],
                             "label": [r[2] for r in rows]}), path)
    return path


def write_csv(path: Path) -> Path:
    rows = learnable_reviews(20, 4, "csv")
    lines = ["review_id,body,stars_flag"] + [f"{r[0]},{r[1]},{'pos' if r[2] else 'neg'}"
                                             for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_events(path: Path) -> Path:
    path.write_text("product,at,kind,title\n"
                    "440650,2017-08-01,patch,0.9 content update\n"
                    "512900,2017-11-10,price,autumn sale\n", encoding="utf-8")
    return path
