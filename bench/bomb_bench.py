"""Injected review bombs: do the alert rules find them, how early, and how often do they cry wolf?

None of the 80 Steam games in ../shared/data/steam had a real review bomb, so this benchmark
plants real ones: the Steam rows of each of the six annotated incidents in the review-bombing
file (Skyrim paid mods, Firewatch DMCA, Borderlands Epic exclusivity, Mortal Kombat 11,
Assassin's Creed Unity after Notre-Dame, a *positive* bomb, and Ukraine/Russia 2022) are shifted,
keeping their relative timing, to a random onset date inside a random game's real timeline. Each
seed plants the six incidents into six different games; the other 74 games are untouched.

- onset: the incident's first day with at least 3 reviews annotated as review bombing
  (``is-review-bombing = Ja``), so a few early stragglers do not define it;
- found: an alert on the planted game starting within ``--tolerance`` (2) days of the onset;
- onset error: alert start - onset, in days, for the alert that found it (or the nearest one
  overlapping the incident);
- false alarms: alerts on the untouched games per 10 product-years of their data (every alert
  there is false: the games have no bomb, though some alerts mark real releases or sales).

"The usual way" is a plain 3-sigma rule on daily negative counts (mean + 3 sd of the previous 28
days, at least 3 negatives), measured on the same plants.

    python bench/bomb_bench.py [--seeds 20] [--source labels|model [--balanced]]
                               [--rows all|bombs] [--tolerance 2] [--set FIELD=VALUE]

``--source model`` trains the tfidf-lr baseline on the games' reviews before 2017-07-01 and runs
every rule on its predicted labels instead of the recommend flags (planted reviews included):
what alerts see on unlabelled feedback. Target: at least 5 of 6 incident kinds found within 2
days of onset, under 1 false alarm per 10 product-years.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asaas.timeline.alerts import detect_frame  # noqa: E402
from asaas.timeline.rules import AlertRule  # noqa: E402
from asaas.timeline.products import Product  # noqa: E402

STEAM = ROOT.parent / "shared" / "data" / "steam"
GAMES = STEAM / "woctezuma_steam_reviews_80games_2010-2018.parquet"
BOMBS = STEAM / "meckl_review_bombing_annotated_steam_metacritic.parquet"

INCIDENTS = {
    "Skyrim - Paid Mods": "skyrim-paid-mods",
    "Firewatch": "firewatch-dmca",
    "Borderlands - Epic Store": "borderlands-epic",
    "Mortal Kombat 11": "mortal-kombat-11",
    "Assassin's Creed Unity": "ac-unity (positive)",
    "Ukraine-Russia-Support": "ukraine-russia-2022",
}
MIN_ONSET_BOMBS = 3


def load_games(with_text: bool) -> pd.DataFrame:
    import duckdb

    text = ", coalesce(review, '') AS text" if with_text else ""
    con = duckdb.connect()
    frame = con.execute(
        "SELECT appid AS product_id, app_name AS name, "
        "CAST(timezone('UTC', created_at) AS TIMESTAMP) AS at, "
        f"CASE WHEN voted_up THEN 1 ELSE 0 END AS label{text} FROM '{GAMES}'").df()
    return frame


def load_incidents(rows: str) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect()
    frame = con.execute(
        "SELECT project, CAST(timezone('UTC', created_at) AS TIMESTAMP) AS at, "
        "CASE WHEN combined_rating = 'Empfohlen' THEN 1 ELSE 0 END AS label, "
        "\"is-review-bombing\" = 'Ja' AS bomb, coalesce(review, '') AS text "
        f"FROM '{BOMBS}' WHERE source = 'Steam'").df()
    if rows == "bombs":
        frame = frame[frame["bomb"]]
    frame["incident"] = frame["project"].map(INCIDENTS)
    return frame


def onset_of(rows: pd.DataFrame) -> pd.Timestamp:
    per_day = rows[rows["bomb"]].groupby(rows["at"].dt.normalize()).size()
    started = per_day[per_day >= MIN_ONSET_BOMBS]
    return (started.index.min() if len(started) else rows["at"].min().normalize())


def daily(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    day = frame["at"].dt.normalize()
    grouped = frame.assign(day=day, neg=(frame[column] == 0).astype(int)).groupby(
        ["product_id", "day"], as_index=False).agg(n=("neg", "size"), neg=("neg", "sum"))
    return grouped


def plant(games: pd.DataFrame, incidents: pd.DataFrame, rng: np.random.Generator
          ) -> tuple[pd.DataFrame, dict[str, tuple[int, pd.Timestamp]]]:
    """Planted rows (product_id, at, label[, pred]) and {incident: (game, onset)}."""
    spans = games.groupby("product_id")["at"].agg(["min", "max"])
    targets = rng.choice(spans.index.to_numpy(), size=len(INCIDENTS), replace=False)
    planted, where = [], {}
    for (incident, rows), game in zip(incidents.groupby("incident", sort=True), targets):
        onset = onset_of(rows)
        lead = (onset - rows["at"].min().normalize()).days
        tail = (rows["at"].max().normalize() - onset).days
        lo = spans.loc[game, "min"].normalize() + pd.Timedelta(days=90 + lead)
        hi = spans.loc[game, "max"].normalize() - pd.Timedelta(days=tail + 7)
        if hi <= lo:  # a short history: plant right after the baseline
            hi = lo + pd.Timedelta(days=1)
        new_onset = lo + pd.Timedelta(days=int(rng.integers(0, (hi - lo).days)))
        moved = rows.assign(product_id=game, at=rows["at"] + (new_onset - onset))
        planted.append(moved)
        where[incident] = (int(game), new_onset)
    return pd.concat(planted, ignore_index=True), where


def three_sigma(counts: pd.DataFrame, days: int = 28) -> list[tuple[int, pd.Timestamp]]:
    """The usual way: daily negatives above mean + 3 sd of the previous 28 days (and >= 3);
    consecutive days merged. Returns (product, start) per alert."""
    out = []
    for pid, rows in counts.groupby("product_id"):
        s = rows.set_index("day")["neg"].asfreq("D", fill_value=0)
        prev = s.shift(1).rolling(days, min_periods=14)
        flag = ((s > prev.mean() + 3 * prev.std()) & (s >= 3)).to_numpy()
        start = None
        for i, f in enumerate(flag):
            if f and (i == 0 or not flag[i - 1]):
                start = s.index[i]
                out.append((int(pid), start))
    return out


def evaluate(starts: list[tuple[int, pd.Timestamp, str]], where: dict, spans: pd.DataFrame,
             tolerance: int, before: set | frozenset = frozenset()
             ) -> tuple[dict[str, float | None], float, int]:
    """({incident: onset error of the finding alert or None}, false alarms per 10 product-years
    on untouched games, false alarms). Alerts in ``before`` (found without any plant) cannot
    find an incident."""
    planted_games = {g for g, _ in where.values()}
    errors: dict[str, float | None] = {}
    for incident, (game, onset) in where.items():
        near = [(s - onset).days for g, s, k in starts if g == game and (g, s, k) not in before
                and -tolerance - 30 <= (s - onset).days <= 60]
        errors[incident] = min(near, key=abs) if near else None
    untouched = [g for g in spans.index if g not in planted_games]
    years = sum((spans.loc[g, "max"] - spans.loc[g, "min"]).days for g in untouched) / 365.25
    false = sum(1 for g, _, _ in starts if g not in planted_games)
    return errors, 10 * false / years, false


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--source", choices=["labels", "model"], default="labels")
    ap.add_argument("--rows", choices=["all", "bombs"], default="all",
                    help="plant every Steam row of an incident, or only those annotated as bombs")
    ap.add_argument("--tolerance", type=int, default=2, help="days from onset that count as found")
    ap.add_argument("--balanced", action="store_true",
                    help="with --source model: train with balanced class weights (negatives are "
                         "6%% of the training reviews)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override an AlertRule field for every variant, e.g. --set min_volume=15")
    args = ap.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = type(getattr(AlertRule(), key))(value)
    if not GAMES.exists():
        sys.exit(f"needs {GAMES}")
    t0 = time.perf_counter()
    games = load_games(with_text=args.source == "model")
    incidents = load_incidents(args.rows)
    column = "label"
    if args.source == "model":
        from asaas.training.baselines import tfidf_lr_pipeline

        train = games[games["at"] < pd.Timestamp("2017-07-01")]
        pipeline = tfidf_lr_pipeline(class_weight="balanced" if args.balanced else None)
        model = pipeline.fit(train["text"].tolist(), train["label"].to_numpy())
        games["pred"] = model.predict(games["text"].tolist())
        incidents["pred"] = model.predict(incidents["text"].tolist())
        column = "pred"
        real = (games["at"] >= pd.Timestamp("2017-07-01"))
        acc = float((games.loc[real, "pred"] == games.loc[real, "label"]).mean())
        print(f"tfidf-lr trained on {len(train):,} reviews in {time.perf_counter() - t0:.0f} s; "
              f"accuracy on later reviews {acc:.3f}; predicted negative share "
              f"{1 - games['pred'].mean():.3f} (labels {1 - games['label'].mean():.3f}); "
              f"planted reviews predicted negative {1 - incidents['pred'].mean():.3f} "
              f"(labels {1 - incidents['label'].mean():.3f})")
    products = {int(p): Product(int(p), "steam", str(p), n)
                for p, n in games.groupby("product_id")["name"].first().items()}
    spans = games.groupby("product_id")["at"].agg(["min", "max"])
    base_counts = daily(games, column)
    variants = {
        "negative": AlertRule(kinds=("negative",)),
        "negative+volume": AlertRule(kinds=("negative", "volume")),
        "shift": AlertRule(kinds=("shift",)),
    }
    variants = {name: replace(rule, **overrides).check() for name, rule in variants.items()}
    results: dict[str, list] = {name: [] for name in [*variants, "all", "3-sigma"]}
    unplanted = {name: {(a.product_id, pd.Timestamp(a.start), a.kind)
                        for a in detect_frame(base_counts, products, rule).alerts}
                 for name, rule in variants.items()}
    unplanted["all"] = unplanted["negative+volume"] | unplanted["shift"]
    unplanted["3-sigma"] = {(g, s, "3-sigma") for g, s in three_sigma(base_counts)}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        planted, where = plant(games, incidents, rng)
        counts = pd.concat([base_counts, daily(planted, column)]).groupby(
            ["product_id", "day"], as_index=False).sum()
        found_starts = {}
        for name, rule in variants.items():
            det = detect_frame(counts, products, rule)
            found_starts[name] = [(a.product_id, pd.Timestamp(a.start), a.kind)
                                  for a in det.alerts]
            results[name].append(evaluate(found_starts[name], where, spans, args.tolerance,
                                          unplanted[name]))
        results["all"].append(evaluate(found_starts["negative+volume"] + found_starts["shift"],
                                       where, spans, args.tolerance, unplanted["all"]))
        results["3-sigma"].append(evaluate([(g, s, "3-sigma") for g, s in three_sigma(counts)],
                                           where, spans, args.tolerance, unplanted["3-sigma"]))
    model_note = " (balanced class weights)" if args.balanced else ""
    print(f"\n{args.seeds} seeds, source {args.source}{model_note}, planted rows: {args.rows}, "
          f"tolerance ±{args.tolerance} days, {time.perf_counter() - t0:.0f} s"
          f"{', rule changes ' + str(overrides) if overrides else ''}\n")
    sizes = incidents.groupby("incident").agg(rows=("label", "size"),
                                              negative=("label", lambda s: 1 - s.mean()))
    header = ["rules", *sizes.index, "kinds found", "false alarms / 10 product-years"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, runs in results.items():
        cells = [name]
        kinds_found = 0
        for incident in sizes.index:
            errs = [r[0][incident] for r in runs]
            hits = [e for e in errs if e is not None and abs(e) <= args.tolerance]
            near = [e for e in errs if e is not None]
            rate = len(hits) / len(runs)
            kinds_found += rate >= 0.5
            med = f"{int(round(float(np.median(near)))) or 0:+d} d" if near else "-"
            cells.append(f"{len(hits)}/{len(runs)} (median error {med})")
        fa = np.mean([r[1] for r in runs])
        alarms = np.mean([r[2] for r in runs])
        cells += [f"{kinds_found} of {len(sizes)}", f"{fa:.2f} ({alarms:.1f} alerts)"]
        print("| " + " | ".join(cells) + " |")
    print("\nplanted incidents: " + "; ".join(
        f"{i}: {r.rows} rows, {r.negative:.0%} negative" for i, r in sizes.iterrows()))
    print("an incident kind counts as found when at least half the seeds found it within the "
          "tolerance; median error over seeds with an alert near the onset")


if __name__ == "__main__":
    main()
