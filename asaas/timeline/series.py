"""One product's sentiment series, read from the timeline views.

``find_product`` turns what a user typed (a product's external id or a name) into a product,
``pick_versions`` the ``--model`` references into model versions, and ``read_series`` reads
``timeline`` (one row per period and model version) or, when no model has scored the reviews,
``product_timeline`` (labels only). Every number comes from the views; this module only picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from asaas.errors import AsaasError
from asaas.models.registry import parse_ref
from asaas.store import Store
from asaas.tables import Table, query
from asaas.timeline.products import Product, ProductNotFoundError, all_products, find_product

#: Where the functions below read from: a Store (one read transaction per query) or an open
#: connection (``timeline`` runs all its queries in one: on DuckDB each transaction reopens the
#: file, tens of milliseconds apiece).
Source = Store | sa.Connection

FREQS = ("day", "week", "month")
ALL = "all"
#: The automatic period (no ``--freq``) is the shortest whose median period holds at least this
#: many reviews: at 25 a share's 95% interval spans about 30 points, at 10 about 45 (weekly on
#: 10 reviews a week is noise).
AUTO_MIN_REVIEWS = 25

#: Columns of the series with models (`timeline`), in output order.
MODEL_COLUMNS = (
    "product", "period_start", "model", "n_reviews", "n_labelled", "observed_negative_share",
    "observed_ci_low", "observed_ci_high", "predicted_negative_share", "predicted_ci_low",
    "predicted_ci_high", "corrected_negative_share", "corrected_ci_low", "corrected_ci_high",
    "mean_prob_positive", "corrected_reason",
)
#: Columns of the series without models (`product_timeline`).
LABEL_COLUMNS = (
    "product", "period_start", "n_reviews", "n_labelled", "observed_negative_share",
    "observed_ci_low", "observed_ci_high",
)


@dataclass(frozen=True)
class Version:
    id: int
    label: str  # "name vN"


@dataclass
class Series:
    """What `asaas timeline` prints for one or more products."""

    products: list[Product]
    dataset: str
    freq: str
    language: str
    versions: list[Version]
    table: Table
    #: Products with no review in the window: (product, first review, last review) of the dataset.
    empty: list[tuple[Product, datetime | None, datetime | None]] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    #: Why this period length, when it was chosen automatically (``auto_freq``).
    freq_reason: str = ""


def _datasets_of(store: Source, product_ids: Sequence[int]) -> list[str]:
    rows = query(store, "SELECT DISTINCT dataset FROM reviews WHERE product_id IN :ids "
                        "ORDER BY dataset", {"ids": list(product_ids)}).rows
    return [r[0] for r in rows]


def pick_dataset(store: Source, products: Sequence[Product], dataset: str | None) -> str:
    """``dataset`` when given (checked), else the one dataset holding these products' reviews."""
    if dataset is not None:
        known = query(store, "SELECT 1 FROM reviews WHERE dataset = :d LIMIT 1",
                      {"d": dataset}).rows
        if not known:
            have = query(store, "SELECT DISTINCT dataset FROM reviews ORDER BY dataset").rows
            raise AsaasError(f"no reviews in dataset {dataset!r} (datasets: "
                             f"{', '.join(r[0] for r in have) or 'none yet'})")
        return dataset
    found = _datasets_of(store, [p.id for p in products])
    if len(found) == 1:
        return found[0]
    if not found:
        what = products[0].label if len(products) == 1 else "these products"
        raise AsaasError(f"{what} has no reviews yet; ingest some, or pick --dataset")
    raise AsaasError(f"reviews of {'these products' if len(products) > 1 else products[0].label}"
                     f" are in several datasets ({', '.join(found)}): pick one with --dataset")


def pick_versions(store: Source, refs: Sequence[str], dataset: str) -> list[Version]:
    """Model versions for ``--model NAME[:VERSION]`` (latest when no version), each checked to
    have predictions on ``dataset``. No references: the latest version of every model that has
    scored reviews of the dataset (possibly none)."""
    names = query(store, "SELECT model_version_id, model, version, model_label, is_latest "
                         "FROM model_version_names ORDER BY model, version").dicts()
    scored = {r[0] for r in query(
        store, "SELECT DISTINCT p.model_version_id FROM predictions p "
               "JOIN reviews r ON r.id = p.review_id WHERE r.dataset = :dataset "
               "AND r.product_id IS NOT NULL", {"dataset": dataset}).rows}
    if not refs:
        latest: dict[str, dict] = {}
        for n in names:  # the newest version of each model that scored this dataset
            if n["model_version_id"] in scored:
                latest[n["model"]] = n
        return [Version(int(n["model_version_id"]), n["model_label"]) for n in latest.values()]
    out: list[Version] = []
    for ref in refs:
        name, version = parse_ref(ref)
        versions = [n for n in names if n["model"] == name]
        if not versions:
            have = ", ".join(sorted({n["model"] for n in names})) or "none yet"
            raise AsaasError(f"unknown model {name} (models: {have})")
        pick = versions[-1] if version is None else next(
            (n for n in versions if n["version"] == version), None)
        if pick is None:
            have = ", ".join(str(n["version"]) for n in versions)
            raise AsaasError(f"model {name!r} has no version {version} (versions: {have})")
        if pick["model_version_id"] not in scored:
            raise AsaasError(f"{pick['model_label']} has no predictions on {dataset} reviews of "
                             f"products: run `asaas score --model {name} --dataset {dataset} "
                             "--split all`")
        if all(v.id != pick["model_version_id"] for v in out):
            out.append(Version(int(pick["model_version_id"]), pick["model_label"]))
    return out


def period_start(day: date, freq: str) -> date:
    """The first day of the ``freq`` period holding ``day`` (weeks start on Monday, as SQL's
    date_trunc('week') does)."""
    if freq == "day":
        return day
    if freq == "week":
        return day - timedelta(days=day.weekday())
    if freq == "month":
        return day.replace(day=1)
    raise AsaasError(f"unknown period {freq!r}; use {', '.join(FREQS)}")


def read_series(store: Source, products: Sequence[Product], *, dataset: str, freq: str = "week",
                versions: Sequence[Version] = (), language: str = ALL,
                since: date | None = None, until: date | None = None) -> Table:
    """Rows of the periods that overlap [since, until] (each end optional)."""
    if freq not in FREQS:
        raise AsaasError(f"unknown period {freq!r}; use {', '.join(FREQS)}")
    params: dict[str, Any] = {"ids": [p.id for p in products], "dataset": dataset,
                              "freq": freq, "language": language}
    where = ["product_id IN :ids", "dataset = :dataset", "freq = :freq", "language = :language"]
    if since is not None:
        where.append("period_start >= :since")
        params["since"] = period_start(since, freq)
    if until is not None:
        where.append("period_start <= :until")
        params["until"] = until
    if versions:
        where.append("model_version_id IN :versions")
        params["versions"] = [v.id for v in versions]
        cols = ", ".join("model_label AS model" if c == "model" else c for c in MODEL_COLUMNS)
        order = "product, period_start, model_label"
        view = "timeline"
    else:
        cols, order, view = ", ".join(LABEL_COLUMNS), "product, period_start", "product_timeline"
    return query(store, f"SELECT {cols} FROM {view} WHERE {' AND '.join(where)} "
                        f"ORDER BY {order}", params)


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def period_counts(per_day: dict[date, int], freq: str) -> list[int]:
    """Reviews per ``freq`` period from the first review's period to the last one's, periods
    without reviews included (as 0)."""
    if not per_day:
        return []
    sums: dict[date, int] = {}
    for day, n in per_day.items():
        start = period_start(day, freq)
        sums[start] = sums.get(start, 0) + n
    out, at, last = [], min(sums), max(sums)
    while at <= last:
        out.append(sums.get(at, 0))
        at = next_period(at, freq)
    return out


def next_period(start: date, freq: str) -> date:
    """The start of the period after the one starting at ``start``."""
    if freq == "day":
        return start + timedelta(days=1)
    if freq == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def choose_freq(per_day: dict[date, int]) -> tuple[str, dict[str, float]]:
    """The shortest period whose median over the product's span holds ``AUTO_MIN_REVIEWS``
    reviews (month when none does), and the median reviews per period of each length."""
    medians = {f: _median(period_counts(per_day, f)) if per_day else 0.0 for f in FREQS}
    return next((f for f in FREQS if medians[f] >= AUTO_MIN_REVIEWS), "month"), medians


def auto_freq(store: Source, products: Sequence[Product], *, dataset: str, language: str = ALL,
              since: date | None = None, until: date | None = None) -> tuple[str, str]:
    """The period length that suits these products' volume (``choose_freq`` per product; for
    several, the most common choice, the longer on a tie) and a line that says why."""
    params: dict[str, Any] = {"ids": [p.id for p in products], "dataset": dataset}
    where = ["product_id IN :ids", "dataset = :dataset", "reviewed_at IS NOT NULL"]
    if language != ALL:
        where.append("language = :language")
        params["language"] = language
    if since is not None:
        where.append("reviewed_at >= :since")
        params["since"] = datetime.combine(since, datetime.min.time())
    if until is not None:
        where.append("reviewed_at < :until")
        params["until"] = datetime.combine(until + timedelta(days=1), datetime.min.time())
    rows = query(store, "SELECT product_id, CAST(reviewed_at AS DATE) AS day, count(*) AS n "
                        f"FROM reviews WHERE {' AND '.join(where)} GROUP BY product_id, "
                        "CAST(reviewed_at AS DATE)", params).rows
    per_product: dict[int, dict[date, int]] = {}
    for pid, day, n in rows:
        day = day.date() if isinstance(day, datetime) else day
        per_product.setdefault(int(pid), {})[day] = int(n)
    if not per_product:
        return "week", ""
    choices = [choose_freq(days) for days in per_product.values()]
    votes = {f: sum(1 for c, _ in choices if c == f) for f in FREQS}
    freq = max(reversed(FREQS), key=lambda f: votes[f])

    def usual(f: str) -> str:
        return f"{_median([round(m[f]) for _, m in choices]):,.0f} a {f}"

    whose = "" if len(choices) == 1 else f"the {len(choices)} products' "
    shorter = FREQS[FREQS.index(freq) - 1] if freq != "day" else None
    median = f"{usual(shorter)}, {usual(freq)}" if shorter else usual(freq)
    return freq, (f"per {freq}, chosen for {whose}volume (median reviews: {median}; a period "
                  f"should hold {AUTO_MIN_REVIEWS} or more); --freq sets it")


def check_language(store: Source, dataset: str, language: str) -> None:
    if language == ALL:
        return
    have = [r[0] for r in query(store, "SELECT DISTINCT language FROM reviews WHERE dataset = "
                                       ":d AND language IS NOT NULL ORDER BY language",
                                {"d": dataset}).rows]
    if language not in have:
        listed = ", ".join(have[:12]) + (" ..." if len(have) > 12 else "") or "none recorded"
        raise AsaasError(f"no {dataset} reviews in language {language!r} (languages: {listed})")


def timeline(store: Store, product: str, *, freq: str | None = "week",
             models: Sequence[str] = (), dataset: str | None = None, language: str = ALL,
             since: date | None = None, until: date | None = None) -> Series:
    """The series `asaas timeline` prints; ``product`` is an id, a name, or ``all`` (every
    product with reviews in the dataset); ``freq`` None: the period that suits the products'
    volume (``auto_freq``)."""
    if freq is not None and freq not in FREQS:
        raise AsaasError(f"unknown period {freq!r}; use {', '.join(FREQS)}")
    if since is not None and until is not None and since > until:
        raise AsaasError(f"--since {since} is after --until {until}")
    with store.read_transaction() as conn:
        return _timeline(conn, product, freq=freq, models=models, dataset=dataset,
                         language=language, since=since, until=until)


def _timeline(store: sa.Connection, product: str, *, freq: str | None, models: Sequence[str],
              dataset: str | None, language: str, since: date | None,
              until: date | None) -> Series:
    if product.strip().casefold() == ALL:
        if dataset is None:
            everything = all_products(store)
            if not everything:
                raise ProductNotFoundError("the database has no products yet: ingest reviews "
                                           "with products first")
            dataset = pick_dataset(store, everything, None)
        ids = {r[0] for r in query(store, "SELECT DISTINCT product_id FROM reviews WHERE "
                                          "dataset = :d", {"d": dataset}).rows}
        products = [p for p in all_products(store) if p.id in ids]
        if not products:
            raise ProductNotFoundError(f"no product has reviews in dataset {dataset!r}")
    else:
        products = [find_product(store, product, dataset=dataset)]
    dataset = pick_dataset(store, products, dataset)
    check_language(store, dataset, language)
    reason = ""
    if freq is None:
        freq, reason = auto_freq(store, products, dataset=dataset, language=language,
                                 since=since, until=until)
    versions = pick_versions(store, models, dataset)
    table = read_series(store, products, dataset=dataset, freq=freq, versions=versions,
                        language=language, since=since, until=until)
    present = {r[0] for r in table.rows}
    empty = []
    for p in products:
        if p.external_id not in present:
            first, last = query(store, "SELECT MIN(reviewed_at), MAX(reviewed_at) FROM reviews "
                                       "WHERE product_id = :p AND dataset = :d",
                                {"p": p.id, "d": dataset}).rows[0]
            empty.append((p, first, last))
    return Series(products, dataset, freq, language, list(versions), table, empty, since, until,
                  reason)
