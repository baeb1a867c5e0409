"""Topic runs: a product's negative reviews in a period grouped into topics, stored, and every
other negative of the product assigned to the nearest topic, so each topic's share of the
negatives can be followed over time (``asaas topics``; ``asaas events effects --topic``).

Negatives come from the reviews' own labels or from one model version's predictions, as for
alerts. The embedder is MiniLM when every review read is English (or of no recorded language),
e5 otherwise (or as asked), through asaas' embedding cache, so a review is embedded once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.errors import AsaasError
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import topic_runs
from asaas.tables import Table, query
from asaas.timeline.daily import SeriesSource, resolve_source
from asaas.timeline.products import Product, find_product
from asaas.topics import cluster as method

#: Fewest negative reviews a period needs for topics (the method was judged on 120-260).
MIN_REVIEWS = 50
ENGLISH = ("english", "en")
EMBEDDERS = ("auto", "minilm", "e5")
SNIPPET_CHARS = 160


class TopicsError(AsaasError):
    """Topics that cannot be found or shown as asked."""


@dataclass
class TopicInfo:
    no: int  # 0: other
    n_reviews: int
    keywords: list[str]
    examples: list[tuple[int, str]] = field(default_factory=list)  # (review id, snippet)

    @property
    def title(self) -> str:
        if self.no == method.OTHER:
            return "other (in no topic)"
        return ", ".join(self.keywords[:4]) or "(no words: emoji, digits or names only)"


@dataclass
class TopicRun:
    id: int
    product: Product
    source: str
    dataset: str | None
    since: datetime | None
    until: datetime | None  # exclusive: the day after the last day read
    alert_id: str | None
    embedder: dict[str, Any]
    params: dict[str, Any]
    n_reviews: int
    n_assigned: int
    created_at: datetime
    topics: list[TopicInfo] = field(default_factory=list)

    @property
    def period(self) -> str:
        lo = self.since.date().isoformat() if self.since else "the first review"
        hi = (self.until - timedelta(days=1)).date().isoformat() if self.until else "the last"
        return f"{lo} to {hi}"


def _snippet(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS - 1] + "…"


def negatives(store: Store | sa.Connection, product_id: int, src: SeriesSource, *,
              dataset: str | None = None, language: str | None = None,
              since: datetime | None = None, until: datetime | None = None,
              exclude_run: int | None = None) -> pd.DataFrame:
    """The product's negative reviews with a text (columns review_id, reviewed_at, language,
    text), oldest first; ``until`` exclusive; ``exclude_run``: leave out those the run has.
    ``attrs["empty"]``: how many negatives were left out for an empty text."""
    params: dict[str, Any] = {"pid": product_id}
    where = ["r.product_id = :pid", "r.reviewed_at IS NOT NULL"]
    if src.kind == "model":
        frm = "reviews r JOIN predictions p ON p.review_id = r.id AND p.model_version_id = :mv"
        where.append("p.label = 0")
        params["mv"] = src.model_version_id
    else:
        frm = "reviews r"
        where.append("r.label = 0")
    for name, value, cond in (("dataset", dataset, "r.dataset = :dataset"),
                              ("language", language, "r.language = :language"),
                              ("lo", since, "r.reviewed_at >= :lo"),
                              ("hi", until, "r.reviewed_at < :hi"),
                              ("run", exclude_run, "NOT EXISTS (SELECT 1 FROM review_topics rt "
                               "WHERE rt.topic_run_id = :run AND rt.review_id = r.id)")):
        if value is not None:
            where.append(cond)
            params[name] = value
    rows = query(store, f"SELECT r.id, r.reviewed_at, r.language, r.text FROM {frm} "
                        f"WHERE {' AND '.join(where)} ORDER BY r.reviewed_at, r.id", params).rows
    frame = pd.DataFrame(rows, columns=["review_id", "reviewed_at", "language", "text"])
    blank = frame["text"].fillna("").str.strip() == ""
    frame = frame[~blank].reset_index(drop=True)
    frame.attrs["empty"] = int(blank.sum())  # negatives left out for an empty text
    return frame


def pick_embedder(choice: str, languages: Sequence[str | None]) -> str:
    """``auto``: MiniLM when every review is English (or of unknown language), else e5."""
    if choice not in EMBEDDERS:
        raise TopicsError(f"unknown embedder {choice!r}; use {', '.join(EMBEDDERS)}")
    if choice != "auto":
        return choice
    english = all(lang is None or str(lang).lower() in ENGLISH for lang in languages)
    return "minilm" if english else "e5"


EmbedderFactory = Callable[[str], tuple[Callable[[Sequence[str]], np.ndarray], dict[str, Any]]]


@dataclass
class FindOptions:
    """What ``asaas topics`` can be told."""

    since: date | None = None
    until: date | None = None  # inclusive day
    alert: str | None = None
    source: str | None = None  # labels | MODEL[:VERSION]
    dataset: str | None = None
    language: str | None = None
    embedder: str = "auto"
    distance: float = method.DISTANCE
    min_size: int = method.MIN_SIZE
    min_reviews: int = MIN_REVIEWS
    assign: bool = True  # assign the product's other negatives to the topics
    examples: int = 2
    keywords: int = 8

    def check(self) -> None:
        if not 0.0 < self.distance < 2.0:
            raise TopicsError(f"--distance {self.distance} is out of range; cosine distances "
                              "lie between 0 and 2 (the measured best: 0.65)")
        if self.min_size < 2:
            raise TopicsError(f"--min-size must be at least 2 (got {self.min_size})")
        if self.min_reviews < 10:
            raise TopicsError(f"--min-reviews must be at least 10 (got {self.min_reviews})")
        if self.since and self.until and self.since > self.until:
            raise TopicsError(f"--since {self.since} is after --until {self.until}")
        if self.alert and (self.since or self.until):
            raise TopicsError("--alert sets the period: drop --since and --until")


def _period(store: Store, product: str | None, opts: FindOptions
            ) -> tuple[Product, datetime | None, datetime | None]:
    if opts.alert:
        from asaas.timeline.alerts import find_alert

        alert = find_alert(store, opts.alert, source=opts.source, dataset=opts.dataset)
        prod = find_product(store, alert.product_id)
        if (product is not None
                and find_product(store, product, dataset=opts.dataset).id != prod.id):
            raise TopicsError(f"alert {opts.alert} is of {prod.label}, not {product}")
        return (prod, datetime.combine(alert.start, datetime.min.time()),
                datetime.combine(alert.end + timedelta(days=1), datetime.min.time()))
    if product is None:
        raise TopicsError("name a PRODUCT (or --alert ID)")
    prod = find_product(store, product, dataset=opts.dataset)
    since = datetime.combine(opts.since, datetime.min.time()) if opts.since else None
    until = (datetime.combine(opts.until + timedelta(days=1), datetime.min.time())
             if opts.until else None)
    return prod, since, until


def find_topics(store: Store, product: str | None, opts: FindOptions, *,
                embedder_factory: EmbedderFactory,
                log: Callable[[str], None] | None = None) -> TopicRun:
    """Group the negatives of ``product`` in the period (or the alert's) into topics, store
    the run, and (``opts.assign``) assign the product's other negatives to them."""
    opts.check()
    src = resolve_source(store, opts.source)
    prod, since, until = _period(store, product, opts)
    reviews = negatives(store, prod.id, src, dataset=opts.dataset, language=opts.language,
                        since=since, until=until)
    where = f"{prod.label}" + (f" from {since:%Y-%m-%d}" if since else "") + (
        f" to {(until - timedelta(days=1)):%Y-%m-%d}" if until else "")
    blank = reviews.attrs.get("empty", 0)
    if reviews.empty:
        why = f" with a text ({blank} have an empty one)" if blank else ""
        raise TopicsError(f"no negative reviews{why} of {where} ({src.label}"
                          f"{', language ' + opts.language if opts.language else ''}); "
                          "widen --since/--until, or check --source")
    if len(reviews) < opts.min_reviews:
        raise TopicsError(f"too few negative reviews for topics: {len(reviews)} of {where} "
                          f"({src.label}); need {opts.min_reviews} (widen --since/--until, or "
                          "lower --min-reviews)")
    choice = pick_embedder(opts.embedder, reviews["language"].tolist())
    embed, identity = embedder_factory(choice)
    if log:
        log(f"embedding {len(reviews):,} negative reviews with {choice}")
    emb = np.asarray(embed(reviews["text"].tolist()), dtype=np.float64)
    found = method.cluster(emb, distance=opts.distance, min_size=opts.min_size)
    texts = reviews["text"].tolist()
    words = method.keywords(texts, found.labels, exclude=method.name_words([prod.name]),
                            top=opts.keywords)
    reps = method.representatives(emb, found.labels, found.centroids, n=opts.examples)
    ids = reviews["review_id"].to_numpy()
    params = {"distance": opts.distance, "min_size": opts.min_size,
              "min_reviews": opts.min_reviews, "language": opts.language,
              "embedder": choice}
    with store.transaction() as conn:
        run_id = next_id(conn, "topic_runs_id_seq")
        conn.execute(sa.insert(topic_runs).values(
            id=run_id, product_id=prod.id, dataset=opts.dataset, source=src.label,
            model_version_id=src.model_version_id, period_start=since, period_end=until,
            alert_id=opts.alert, embedder=json.dumps(identity, sort_keys=True),
            params=json.dumps(params), n_reviews=len(reviews), n_assigned=0,
            created_at=utcnow()))
        sizes = found.sizes()
        store.insert_arrow(conn, "topics", pa.table({
            "topic_run_id": pa.array([run_id] * len(sizes), pa.int64()),
            "topic_no": pa.array(list(sizes), pa.int32()),
            "n_reviews": pa.array(list(sizes.values()), pa.int32()),
            "keywords": pa.array([", ".join(words.get(t, [])) for t in sizes], pa.string()),
            "centroid": pa.array([None] + [json.dumps([round(float(v), 6) for v in c])
                                           for c in found.centroids], pa.string()),
            "examples": pa.array([json.dumps([int(ids[i]) for i in reps.get(t, [])])
                                  for t in sizes], pa.string()),
        }))
        _write_assignments(store, conn, run_id, ids, found.labels, found.similarity, True)
    n_assigned = 0
    if opts.assign:
        n_assigned = assign_rest(store, run_id, embed=embed, log=log)
    return get_run(store, run_id)


def _write_assignments(store: Store, conn: sa.Connection, run_id: int, ids: np.ndarray,
                       labels: np.ndarray, sims: np.ndarray, in_period: bool) -> int:
    n = len(ids)
    return store.insert_arrow(conn, "review_topics", pa.table({
        "topic_run_id": pa.array(np.full(n, run_id, dtype=np.int64)),
        "review_id": pa.array(np.asarray(ids, dtype=np.int64)),
        "topic_no": pa.array(np.asarray(labels, dtype=np.int32)),
        "similarity": pa.array([None if np.isnan(s) else float(s) for s in sims], pa.float64()),
        "in_period": pa.array(np.full(n, in_period, dtype=bool)),
    }), on_conflict_do_nothing=True)


def _run_row(store: Store | sa.Connection, run_id: int) -> dict[str, Any]:
    rows = query(store, "SELECT * FROM topic_runs WHERE id = :id", {"id": run_id}).dicts()
    if not rows:
        have = query(store, "SELECT id FROM topic_runs ORDER BY id DESC LIMIT 5").rows
        listed = ", ".join(str(r[0]) for r in have) or "none yet: run `asaas topics PRODUCT`"
        raise TopicsError(f"no topic run {run_id} (latest runs: {listed})")
    return rows[0]


def assign_rest(store: Store, run_id: int, *, embed: Callable[[Sequence[str]], np.ndarray],
                log: Callable[[str], None] | None = None, batch: int = 512) -> int:
    """Assign the run's product's negatives that the run does not hold yet (outside its period,
    or written since) to the nearest topic centre; returns how many."""
    row = _run_row(store, run_id)
    params = json.loads(row["params"] or "{}")
    src = (SeriesSource("model", int(row["model_version_id"]), row["source"])
           if row["model_version_id"] is not None else SeriesSource("labels"))
    rest = negatives(store, int(row["product_id"]), src, dataset=row["dataset"],
                     language=params.get("language"), exclude_run=run_id)
    if rest.empty:
        return 0
    cents = query(store, "SELECT topic_no, centroid FROM topics WHERE topic_run_id = :id AND "
                         "centroid IS NOT NULL ORDER BY topic_no", {"id": run_id}).rows
    centroids = np.array([json.loads(c) for _, c in cents], dtype=np.float64)
    if log:
        log(f"assigning {len(rest):,} other negative reviews of the product to the topics")
    done = 0
    for start in range(0, len(rest), batch):
        part = rest.iloc[start:start + batch]
        emb = np.asarray(embed(part["text"].tolist()), dtype=np.float64)
        labels, sims = method.assign(emb, centroids, distance=float(params.get(
            "distance", method.DISTANCE)))
        with store.transaction() as conn:
            done += _write_assignments(store, conn, run_id, part["review_id"].to_numpy(),
                                       labels, sims, False)
            conn.execute(sa.update(topic_runs).where(topic_runs.c.id == run_id).values(
                n_assigned=topic_runs.c.n_assigned + len(part)))
    return done


def get_run(store: Store | sa.Connection, run_id: int) -> TopicRun:
    row = _run_row(store, run_id)
    prod = find_product(store, int(row["product_id"]))
    topics = []
    rows = query(store, "SELECT topic_no, n_reviews, keywords, examples FROM topics WHERE "
                        "topic_run_id = :id ORDER BY topic_no", {"id": run_id}).rows
    wanted = {i for r in rows for i in json.loads(r[3] or "[]")}
    texts = dict(query(store, "SELECT id, text FROM reviews WHERE id IN :ids",
                       {"ids": sorted(wanted)}).rows) if wanted else {}
    for no, n, kw, ex in rows:
        topics.append(TopicInfo(int(no), int(n), [w for w in (kw or "").split(", ") if w],
                                [(int(i), _snippet(texts.get(i, ""))) for i in
                                 json.loads(ex or "[]")]))
    # Topics 1..k by size, then other.
    topics.sort(key=lambda t: (t.no == method.OTHER, t.no))
    return TopicRun(int(row["id"]), prod, row["source"], row["dataset"], row["period_start"],
                    row["period_end"], row["alert_id"], json.loads(row["embedder"] or "{}"),
                    json.loads(row["params"] or "{}"), int(row["n_reviews"]),
                    int(row["n_assigned"]), row["created_at"], topics)


def list_runs(store: Store, product: str | None = None) -> Table:
    params: dict[str, Any] = {}
    where = ""
    if product is not None:
        where = "WHERE t.product_id = :pid"
        params["pid"] = find_product(store, product).id
    return query(store, "SELECT t.id AS run, p.external_id AS product, p.name, t.source, "
                        "CAST(t.period_start AS DATE) AS since, "
                        "CAST(t.period_end AS DATE) - 1 AS until, t.alert_id, t.n_reviews, "
                        "(SELECT COUNT(*) FROM topics x WHERE x.topic_run_id = t.id "
                        " AND x.topic_no > 0) AS topics, t.n_assigned, t.created_at "
                        f"FROM topic_runs t JOIN products p ON p.id = t.product_id {where} "
                        "ORDER BY t.id", params)


def topics_table(run: TopicRun, top: int | None = None) -> Table:
    """One row per topic (largest first, "other" last): reviews, share of the period's
    negatives, keywords and the review nearest its centre."""
    shown = [t for t in run.topics if t.no != method.OTHER]
    hidden = shown[top:] if top is not None else []
    shown = shown[:top] if top is not None else shown
    rows = [(t.no, t.n_reviews, t.n_reviews / run.n_reviews,
             ", ".join(t.keywords[:6]) or t.title, t.examples[0][1] if t.examples else None)
            for t in shown]
    other = next((t for t in run.topics if t.no == method.OTHER), None)
    rest = sum(t.n_reviews for t in hidden) + (other.n_reviews if other else 0)
    if rest:
        what = f"other: {len(hidden)} smaller topics and reviews in none" if hidden else \
            "other: reviews in no topic"
        rows.append(("other", rest, rest / run.n_reviews, what, None))
    return Table(["topic", "reviews", "share", "keywords", "example"], rows)


def parse_topic(ref: str) -> tuple[int | None, int]:
    """``RUN:TOPIC`` or ``TOPIC`` (the product's latest run) -> (run or None, topic)."""
    run, _, topic = str(ref).strip().rpartition(":")
    try:
        return (int(run) if run else None), int(topic)
    except ValueError:
        raise TopicsError(f"bad topic {ref!r}; use RUN:TOPIC as `asaas topics` prints it "
                          "(e.g. 3:2), or TOPIC for the product's latest run") from None


def resolve_topic(store: Store, ref: str, product_id: int | None) -> tuple[TopicRun, int]:
    """The run and topic number ``ref`` names, checked to exist (and to be of the product)."""
    run_id, topic = parse_topic(ref)
    if run_id is None:
        if product_id is None:
            raise TopicsError(f"--topic {ref}: name the run too (RUN:TOPIC) or a PRODUCT")
        rows = query(store, "SELECT MAX(id) FROM topic_runs WHERE product_id = :p",
                     {"p": product_id}).rows
        if not rows or rows[0][0] is None:
            raise TopicsError("the product has no topic runs yet: `asaas topics PRODUCT` first")
        run_id = int(rows[0][0])
    run = get_run(store, run_id)
    if product_id is not None and run.product.id != product_id:
        raise TopicsError(f"topic run {run_id} is of {run.product.label}, not of this product")
    if topic not in {t.no for t in run.topics}:
        have = ", ".join(str(t.no) for t in run.topics if t.no) or "none"
        raise TopicsError(f"topic run {run_id} has no topic {topic} (topics: {have}; 0 is "
                          "other)")
    return run, topic


def topic_daily(store: Store, run_id: int, topic: int) -> pd.DataFrame:
    """The daily series of one topic (product_id, day, n, neg): n the run's negatives that day
    (every topic and other), neg those in ``topic``; days without negatives are absent. The
    effects of events read it as they read the negative share."""
    rows = query(store, "SELECT r.product_id, CAST(r.reviewed_at AS DATE) AS day, "
                        "COUNT(*) AS n, SUM(CASE WHEN rt.topic_no = :t THEN 1 ELSE 0 END) AS neg "
                        "FROM review_topics rt JOIN reviews r ON r.id = rt.review_id "
                        "WHERE rt.topic_run_id = :run GROUP BY r.product_id, "
                        "CAST(r.reviewed_at AS DATE) ORDER BY day",
                 {"run": run_id, "t": topic}).rows
    frame = pd.DataFrame(rows, columns=["product_id", "day", "n", "neg"])
    frame["product_id"] = frame["product_id"].astype("int64")
    frame["day"] = pd.to_datetime(frame["day"])
    frame["n"] = frame["n"].astype("int64")
    frame["neg"] = frame["neg"].astype("int64")
    return frame


def home_of(store: Store) -> Path:
    from asaas.settings import Settings

    return Settings().model_home(store.url)
