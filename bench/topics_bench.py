"""Topics of genuine complaints (issue 20, part 3; research part 4), judged on planted complaints.

Findings: bench/research-issue-20.md.

For a product, its English negative reviews (the whole history, 120-220 reviews for the games
used) get N planted reviews about one specific complaint (paraphrases built from templates
below: "crashes on start", "too short for the price", "no controller support"), dated inside
one random 30-day window. Each method groups the reviews into topics; success for a run: at
least 70% of the planted reviews fall into one topic whose members are at least 70% planted.
Reported per method and N: the success rate over seeds (with its Wilson interval), the mean
recall (planted in their best topic / N) and purity (planted / members of that topic), how far
the topic's share rises in the planted window over the rest of the history (the timeline use:
"did complaints about X fall after the patch?"), and seconds per run on one thread. Each seed
draws a product (of the 8 with most English negatives), a complaint and the planted texts.

Methods (k: number of topics; the embedding cost is counted apart):
  nmf-k        NMF on word 1-2 TF-IDF (English stop words), topic = argmax of W
  lda-k        scikit-learn LatentDirichletAllocation on counts, topic = argmax
  kmeans-k     KMeans on all-MiniLM-L6-v2 embeddings (mean pooled), keywords by c-TF-IDF
  agglo-k      agglomerative clustering (Ward) on the same embeddings
  aggcos-t     average-linkage agglomerative clustering on cosine distance cut at t/100
               (no fixed k), on the same embeddings
  hdbscan-m    scikit-learn HDBSCAN (min_cluster_size m) on the embeddings reduced by PCA to
               10 dimensions; its noise points are no topic (BERTopic's recipe, with PCA for
               UMAP so no numba)

    nice -n 19 python bench/topics_bench.py [--seeds 20] [--sizes 10,20,40] [--methods ...]
    nice -n 19 python bench/topics_bench.py --show 0   # one run's topics, keywords, examples
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _r20  # noqa: E402

# --- planted complaints: templates ---------------------------------------------------------

OPENERS = ["", "", "", "Bought this on sale and ", "Wanted to love this game but ",
           "Honestly, ", "Refunded. ", "Not recommended. ", "I was excited for this, but ",
           "Sadly ", "So yeah, ", "Update: ", "tl;dr ", "Played it for a bit: ",
           "Can't recommend in its current state. ", "Ugh. ", "Disappointed. "]
CLOSERS = ["", "", "", " Avoid.", " Not worth it.", " Dev please fix.", " Refunded.",
           " Would not recommend.", " Maybe after a patch.", " Save your money.",
           " Thumbs down for now.", " :(", " Shame, it looked great.",
           " Will change my review if this gets fixed.", " 2/10."]

COMPLAINTS = {
    "crash-on-start": {
        "core": [
            "the game crashes on start every single time",
            "it crashes to desktop as soon as I launch it",
            "game won't even start, it crashes right after the splash screen",
            "crashes on startup, I never got past the loading screen",
            "it instantly crashes when I hit play",
            "can't get it to launch at all, crash on start",
            "black screen and then a crash every time I start it",
            "the game closes itself a second after launching",
            "crash on launch, no error message, nothing",
            "it doesn't start. just crashes",
            "every time I try to open it it crashes before the main menu",
            "it freezes on the loading screen and then crashes to desktop",
            "launch -> crash. launch -> crash. that's my experience",
            "won't boot, crashes immediately on start",
            "the exe crashes straight away when I start the game",
            "crashed on startup 10 times in a row",
        ],
        "detail": [
            "", "", "Tried verifying the game files, reinstalling and updating my drivers.",
            "My PC is way above the recommended specs.", "Running Windows 10 with a GTX 1070.",
            "Ran it as admin, compatibility mode, nothing helps.",
            "Forums are full of people with the same crash.",
            "Other games run fine on this machine.", "Reinstalled it twice, same crash.",
            "Disabled the overlay and antivirus, still crashes on start.",
            "Got an error about a missing dll once, then just crashes.",
        ],
    },
    "too-short": {
        "core": [
            "it is way too short for the price",
            "I finished it in under two hours and it costs full price",
            "way too short, beat it in one evening",
            "there is barely any content for what they ask",
            "two hours of gameplay for this price is a joke",
            "short game, overpriced for how little there is",
            "I completed everything in about 90 minutes",
            "not enough content to justify the price tag",
            "it's over before it even gets going, too short",
            "the whole game is maybe three hours long and there's no replay value",
            "tiny amount of content, finished it the same day I bought it",
            "way too little game for the money",
            "I got to the credits in 2 hours, that's it",
            "the length is a joke for the price",
            "super short, felt like a demo for a full price game",
        ],
        "detail": [
            "", "", "Wait for a big sale.", "Would be fine at a third of the price.",
            "No new game plus, no extra modes.", "Steam says I played 1.8 hours total.",
            "Refund window barely mattered, I was done before it closed.",
            "Great art, but that doesn't make up for the length.",
            "At this price I expected at least ten hours.", "The story just ends suddenly.",
        ],
    },
    "no-controller": {
        "core": [
            "there is no controller support at all",
            "no gamepad support, keyboard only",
            "my Xbox controller doesn't work in this game",
            "it has no controller support which is unacceptable for this kind of game",
            "can't play it with a controller, the game doesn't detect my gamepad",
            "no native controller support, you have to use keyboard and mouse",
            "the controller doesn't work, not even in the menus",
            "zero gamepad support in 2017",
            "my PS4 controller is not recognised at all",
            "playing this with keyboard is painful and there's no controller option",
            "the store page implies controller support but there is none",
            "no way to use a gamepad, the buttons don't respond",
            "it ignores my controller completely",
            "controller support is missing",
        ],
        "detail": [
            "", "", "Tried Steam's big picture config, still doesn't work.",
            "Even with Steam Input mapping it's a mess.", "Really needs proper gamepad support.",
            "I play on my TV from the couch so this is a deal breaker.",
            "Xbox 360 and Xbox One controllers both fail.",
            "Please add controller support and I'll change my review.",
            "Keyboard controls are awkward for a game like this.",
        ],
    },
}


def plant(kind: str, n: int, rng: np.random.Generator) -> list[str]:
    c = COMPLAINTS[kind]
    out = []
    for _ in range(n):
        core = c["core"][rng.integers(len(c["core"]))]
        opener = OPENERS[rng.integers(len(OPENERS))]
        text = opener + (core if opener and not opener.endswith(". ") else core[0].upper()
                         + core[1:]) + "."
        detail = c["detail"][rng.integers(len(c["detail"]))]
        if detail:
            text += " " + detail
        text += CLOSERS[rng.integers(len(CLOSERS))]
        if rng.random() < 0.3:
            text = text.lower()
        out.append(text)
    return out


# --- methods ---------------------------------------------------------------------------------

STOP = "english"


def nmf(texts, emb, k, seed):
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(ngram_range=(1, 2), stop_words=STOP, min_df=2, max_df=0.9,
                        sublinear_tf=True).fit_transform(texts)
    W = NMF(k, init="nndsvda", random_state=seed, max_iter=400).fit_transform(X)
    return np.where(W.max(1) > 0, W.argmax(1), -1)


def lda(texts, emb, k, seed):
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import CountVectorizer

    X = CountVectorizer(stop_words=STOP, min_df=2, max_df=0.9).fit_transform(texts)
    T = LatentDirichletAllocation(k, random_state=seed, learning_method="batch",
                                  max_iter=30).fit_transform(X)
    return T.argmax(1)


def kmeans(texts, emb, k, seed):
    from sklearn.cluster import KMeans
    return KMeans(k, n_init=5, random_state=seed).fit_predict(emb)


def agglo(texts, emb, k, seed):
    from sklearn.cluster import AgglomerativeClustering
    return AgglomerativeClustering(k, linkage="ward").fit_predict(emb)


def aggcos(texts, emb, t, seed):
    """Average-linkage clustering on cosine distance, cut at t/100: the number of topics
    follows the data instead of a fixed k (a tight complaint stays one topic at any size)."""
    from sklearn.cluster import AgglomerativeClustering
    return AgglomerativeClustering(None, distance_threshold=t / 100, metric="cosine",
                                   linkage="average").fit_predict(emb)


def hdbscan(texts, emb, m, seed):
    from sklearn.cluster import HDBSCAN
    from sklearn.decomposition import PCA

    Z = PCA(10, random_state=seed).fit_transform(emb)
    return HDBSCAN(min_cluster_size=m, min_samples=max(2, m // 2)).fit_predict(Z)


METHODS = {"nmf": nmf, "lda": lda, "kmeans": kmeans, "agglo": agglo, "aggcos": aggcos,
           "hdbscan": hdbscan}
DEFAULT = ["nmf-8", "nmf-16", "lda-8", "lda-16", "kmeans-8", "kmeans-16", "agglo-16",
           "aggcos-50", "aggcos-60", "aggcos-65", "aggcos-70", "hdbscan-5", "hdbscan-8"]


def c_tfidf_keywords(texts: list[str], labels: np.ndarray, top: int = 6) -> dict[int, list[str]]:
    """BERTopic's class-based TF-IDF: a topic's words weighted by how particular they are to it."""
    from sklearn.feature_extraction.text import CountVectorizer

    topics = sorted(set(labels) - {-1})
    docs = [" ".join(t for t, la in zip(texts, labels) if la == k) for k in topics]
    cv = CountVectorizer(ngram_range=(1, 2), stop_words=STOP, min_df=1)
    tf = cv.fit_transform(docs).toarray().astype(float)
    tf /= tf.sum(1, keepdims=True) + 1e-12
    avg = tf.sum() / len(topics)
    idf = np.log(1 + avg / (tf.sum(0) + 1e-12))
    w = tf * idf
    vocab = np.array(cv.get_feature_names_out())
    return {k: list(vocab[np.argsort(-w[i])[:top]]) for i, k in enumerate(topics)}


# --- the benchmark -------------------------------------------------------------------------

def products(n: int = 8) -> pd.DataFrame:
    df = _r20.games(["appid", "app_name", "language", "review"])
    neg = df[(df.language == "english") & df.negative & (df.review.str.len() >= 20)]
    top = neg.groupby("app_name").size().sort_values(ascending=False).head(n).index
    return neg[neg.app_name.isin(top)][["app_name", "review", "created_at"]]


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p, z = k / n, _r20.Z
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def one_run(seed: int, size: int, neg: pd.DataFrame, enc, methods: list[str], show: bool = False
            ) -> list[dict]:
    rng = np.random.default_rng(1000 + seed)
    games = sorted(neg.app_name.unique())
    game = games[seed % len(games)]
    kind = sorted(COMPLAINTS)[(seed // len(games) + seed) % len(COMPLAINTS)]
    real = neg[neg.app_name == game]
    planted = plant(kind, size, rng)
    # plant inside one random 30-day window of the product's history
    t0, t1 = real.created_at.min(), real.created_at.max() - pd.Timedelta(days=30)
    start = t0 + (t1 - t0) * rng.random()
    when = start + pd.to_timedelta(rng.random(size) * 30, unit="D")
    texts = real.review.tolist() + planted
    times = pd.DatetimeIndex(list(real.created_at) + list(when))
    is_p = np.r_[np.zeros(len(real), bool), np.ones(size, bool)]
    in_win = (times >= start) & (times < start + pd.Timedelta(days=30))
    emb = _r20.embed(enc, texts, log=False)
    rows = []
    for m in methods:
        name, k = m.rsplit("-", 1)
        t = time.perf_counter()
        lab = METHODS[name](texts, emb, int(k), seed)
        dt = time.perf_counter() - t
        cand = lab[is_p]
        cand = cand[cand >= 0]
        if len(cand):
            best = np.bincount(cand).argmax()
            rec = (lab[is_p] == best).mean()
            pur = (lab[is_p] == best).sum() / (lab == best).sum()
            members = lab == best
            share_in = members[in_win].mean()
            share_out = members[~in_win].mean() if (~in_win).any() else 0.0
        else:
            best, rec, pur, share_in, share_out = -1, 0.0, 0.0, 0.0, 0.0
        rows.append({"method": m, "seed": seed, "size": size, "game": game, "complaint": kind,
                     "n": len(texts), "recall": rec, "purity": pur,
                     "success": rec >= 0.7 and pur >= 0.7, "share_in": share_in,
                     "share_out": share_out, "topics": len(set(lab) - {-1}),
                     "noise": float((lab == -1).mean()), "seconds": dt})
        if show:
            kw = c_tfidf_keywords(texts, lab)
            print(f"\n## {m}: {game}, {len(real)} real negatives + {size} planted '{kind}'; "
                  f"planted topic {best} (recall {rec:.2f}, purity {pur:.2f})")
            for topic in sorted(kw, key=lambda x: -(lab == x).sum()):
                mem = np.flatnonzero(lab == topic)
                cen = emb[mem].mean(0)
                rep = mem[np.argsort(-(emb[mem] @ cen))[:2]]
                print(f"- topic {topic} ({len(mem)} reviews, {is_p[mem].sum()} planted): "
                      f"{', '.join(kw[topic])}")
                for r in rep:
                    print(f"    > {texts[r][:140]!r}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--sizes", default="10,20,40")
    ap.add_argument("--methods", default=",".join(DEFAULT))
    ap.add_argument("--show", type=int, default=None, help="print one seed's topics (size 20)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    methods = args.methods.split(",")
    neg = products()
    enc = _r20.MiniLM(128)
    t = time.perf_counter()
    _r20.embed(enc, neg.review.tolist())
    print(f"{len(neg):,} real English negatives of {neg.app_name.nunique()} games embedded "
          f"(MiniLM, 128 tokens) in {time.perf_counter() - t:.0f} s (cached after the first run)")
    if args.show is not None:
        one_run(args.show, 20, neg, enc, methods, show=True)
        return
    rows = []
    for size in map(int, args.sizes.split(",")):
        for seed in range(args.seeds):
            rows += one_run(seed, size, neg, enc, methods)
        print(f"[topics] size {size} done", file=sys.stderr, flush=True)
    r = pd.DataFrame(rows)
    out = []
    for (m, size), g in r.groupby(["method", "size"], sort=False):
        k = int(g.success.sum())
        lo, hi = wilson(k, len(g))
        lift = (g.share_in / g.share_out.replace(0, np.nan)).median()
        out.append({"method": m, "planted": size, "success": f"{k}/{len(g)} ({lo:.2f}-{hi:.2f})",
                    "recall": f"{g.recall.mean():.2f}", "purity": f"{g.purity.mean():.2f}",
                    "topics": f"{g.topics.mean():.1f}", "noise": f"{g.noise.mean():.2f}",
                    "window share / rest (median)": f"{lift:.1f}x",
                    "s/run": f"{g.seconds.mean():.2f}"})
    print(f"\nPlanted complaints recovered as their own topic ({args.seeds} seeds each; success: "
          ">= 70% of planted in one topic that is >= 70% planted)\n")
    print(_r20.markdown(pd.DataFrame(out)))
    print("\nSuccess by planted complaint (all sizes; purity is lowered where the game's real "
          "reviews share the complaint)\n")
    by = r.groupby(["method", "complaint"]).agg(success=("success", "mean"),
                                                purity=("purity", "mean"),
                                                runs=("success", "size")).round(2)
    print(_r20.markdown(by.reset_index()))


if __name__ == "__main__":
    main()
