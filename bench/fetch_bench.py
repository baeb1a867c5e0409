"""Fetch benchmark: `asaas fetch steam` against the fake Steam API of the tests (127.0.0.1,
real HTTP, keyset cursors), for the two targets of issue 19.

1. Rate: a full fetch of one app of ``--reviews`` reviews (5,000: 50 pages and the empty one
   that ends the list) runs at the configured rate limit, not slower. Printed: requests, their
   rate as the server saw them against ``--rate``, and the whole fetch with its ingest. The
   usual way: a loop of ``requests.get`` and ``time.sleep(1 / rate)`` over the same pages.
2. Incremental: the 80 games of the shared woctezuma copy (synthetic games of the same sizes
   without it) fetched in full, then one new page (100 reviews) of each: the incremental fetch
   makes at most one request per game beyond its new pages.

    python bench/fetch_bench.py                       # both, at 1 request/s for part 1 (~55 s)
    python bench/fetch_bench.py --rate 10 --part rate
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WOCTEZUMA = (ROOT.parent / "shared" / "data" / "steam"
             / "woctezuma_steam_reviews_80games_2010-2018.parquet")

from tests.fake_steam import FakeSteam, synthetic_records, woctezuma_records  # noqa: E402


def _fetch(store, appids, *, url: str, rate: float, landing: Path):
    from asaas.fetch import Http, HttpPolicy, SteamFetchOptions, fetch_steam

    with Http(HttpPolicy(rate_per_s=rate, timeout_s=10, attempts=3, backoff_s=0.1)) as http:
        done, failed = fetch_steam(store, appids, SteamFetchOptions(), http=http, base_url=url,
                                   landing_root=landing)
    assert not failed, failed
    return done


def part_rate(reviews: int, rate: float, work: Path) -> None:
    import requests

    from asaas.store import open_store

    records = synthetic_records(reviews, seed=1)
    with FakeSteam({"440": records}) as fake:
        store = open_store(str(work / "rate.duckdb"))
        t0 = time.perf_counter()
        done = _fetch(store, ["440"], url=fake.url, rate=rate, landing=work / "landing")
        total = time.perf_counter() - t0
        times = [r.at for r in fake.requests]
        n = len(times)
        achieved = (n - 1) / (times[-1] - times[0])
        assert done[0].ingested == reviews, done[0]
        # The usual way: fetch the same pages with a sleep between requests.
        fake.requests.clear()
        cursor, t1 = "*", time.perf_counter()
        session = requests.Session()
        while True:
            page = session.get(f"{fake.url}/appreviews/440", params={
                "json": "1", "language": "all", "filter": "updated", "purchase_type": "all",
                "num_per_page": "100", "cursor": cursor}, timeout=10).json()
            if not page["reviews"]:
                break
            cursor = page["cursor"]
            time.sleep(1 / rate)
        plain_times = [r.at for r in fake.requests]
        plain = (len(plain_times) - 1) / (plain_times[-1] - plain_times[0])
        plain_total = time.perf_counter() - t1
    print(f"rate: {reviews:,} reviews, {n} requests at {achieved:.3f} requests/s against a "
          f"limit of {rate:g}/s ({achieved / rate:.3f}x the limit); fetch + ingest "
          f"{total:.1f} s (ideal {(n - 1) / rate:.1f} s of waiting)")
    print(f"  usual way (requests + sleep(1/rate)): {plain:.3f} requests/s, {plain_total:.1f} s "
          f"without ingest; asaas/usual rate {achieved / plain:.3f}x")


def part_incremental(work: Path, fast_rate: float) -> None:
    from asaas.store import open_store

    if WOCTEZUMA.exists():
        import pyarrow.parquet as pq

        appids = sorted({int(a) for a in pq.read_table(WOCTEZUMA, columns=["appid"])
                         ["appid"].to_pylist()})
        apps = {str(a): woctezuma_records(WOCTEZUMA, a) for a in appids}
        what = "woctezuma copy"
    else:
        apps = {str(10_000 + i): synthetic_records(1000 + 40 * i, start_id=10_000_000 * (i + 1),
                                                   seed=i) for i in range(80)}
        what = "synthetic (no ../shared)"
    n_reviews = sum(len(v) for v in apps.values())
    with FakeSteam(apps) as fake:
        store = open_store(str(work / "incr.duckdb"))
        t0 = time.perf_counter()
        done = _fetch(store, list(apps), url=fake.url, rate=fast_rate, landing=work / "landing")
        full_s, full_requests = time.perf_counter() - t0, len(fake.requests)
        ingested = sum(r.ingested for r in done)
        # One new page of each game, newer than anything it has.
        for i, records in enumerate(apps.values()):
            top = max(int(r["timestamp_updated"]) for r in records)
            fresh = synthetic_records(100, start_id=900_000_000 + 1000 * i, t0=top + 60,
                                      seed=100 + i)
            for j, r in enumerate(fresh):
                r["timestamp_created"] = r["timestamp_updated"] = top + 60 + j
            records += fresh
        fake.requests.clear()
        t1 = time.perf_counter()
        done = _fetch(store, list(apps), url=fake.url, rate=fast_rate, landing=work / "landing")
        incr_s = time.perf_counter() - t1
        per_game = Counter(r.appid for r in fake.requests)
    new = sum(r.new for r in done)
    print(f"incremental ({what}): {len(apps)} games, {n_reviews:,} reviews; full fetch "
          f"{full_requests:,} requests, {ingested:,} ingested in {full_s:.1f} s at "
          f"{fast_rate:g}/s")
    print(f"  one new page each: {sum(per_game.values())} requests ({min(per_game.values())}-"
          f"{max(per_game.values())} per game; target <= 2 = 1 new page + 1), {new:,} new "
          f"reviews, {incr_s:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["rate", "incremental", "both"], default="both")
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=1.0, help="limit for part 1 (req/s)")
    parser.add_argument("--fast-rate", type=float, default=1000.0,
                        help="limit for part 2 (requests/s; the fake server is local)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["ASAAS_HOME"] = str(work / "home")
        if args.part in ("rate", "both"):
            part_rate(args.reviews, args.rate, work)
        if args.part in ("incremental", "both"):
            part_incremental(work, args.fast_rate)


if __name__ == "__main__":
    main()
