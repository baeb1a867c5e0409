"""Models for every language (issue 20): ``tfidf-multi`` and ``e5-stack``, each a new version.

``tfidf-multi`` (``train_tfidf_multi``): one pooled character n-gram model for all languages of
the training split: TF-IDF over char_wb 2-5-grams (sublinear tf, at most 500,000 n-grams seen in
two reviews), logistic regression with class_weight="balanced", and a threshold per language
(asaas.models.multilingual) chosen on out-of-fold probabilities of the training reviews (folds
stratified by language and label; the vocabulary is fitted once on all of them). The final
model is fitted on every training review; the out-of-fold scores are kept (``oof.npz``) for the
stack. Issue-20 research, Steam time split: mean balanced accuracy 0.808 on the ten largest
languages (0.536 for a plain char 1-4 model at 0.5), 1,215 reviews/s.

``e5-stack`` (``train_e5_stack``): logistic regression (balanced, C by cross-validated AUC) on
[multilingual-e5-small embedding, the tfidf-multi version's out-of-fold logit], with its own
thresholds per language from out-of-fold probabilities. e5 embeds 3-8 reviews a second on a
CPU core, so it trains on a sample of the training split: per language the first negatives and
positives in content-hash order (asaas' fixed pseudo-random order), up to
``--negatives-per-language`` and ``--positives-per-language``. Research: mean 0.837, 9/10.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asaas.errors import ConfigError
from asaas.models import registry
from asaas.models.multilingual import (DEFAULT_MIN_NEGATIVES, EMBEDDER_FILE, OOF_FILE,
                                       STACK_FILE, THRESHOLDS_FILE, LanguageThresholds,
                                       load_arrays, save_json)
from asaas.models.registry import ModelVersion
from asaas.settings import DEFAULT_DATASET
from asaas.store import Store
from asaas.training.artifacts import staged_artifact
from asaas.training.data import TrainingData, TrainingDataError, load_training_data
from asaas.training.options import DEFAULT_SEED, check_seed


@dataclass
class TfidfMultiOptions:
    """Every setting of ``asaas train tfidf-multi`` with its default."""

    name: str = "tfidf-multi"
    train_dataset: str = DEFAULT_DATASET
    limit: int | None = None
    seed: int = DEFAULT_SEED
    #: Folds of the out-of-fold probabilities the thresholds are chosen on.
    folds: int = 3
    #: Held-out negatives (and positives) a language needs for its own threshold.
    min_negatives: int = DEFAULT_MIN_NEGATIVES
    C: float = 1.0
    max_features: int = 500_000
    languages: list[str] | None = None
    skip_existing: bool = False

    def check(self) -> None:
        registry.check_name(self.name)
        check_seed(self.seed)
        if self.limit is not None and self.limit < 2:
            raise ConfigError(f"--limit must be at least 2 for training (got {self.limit})")
        if self.folds < 2:
            raise ConfigError(f"--folds must be at least 2 (got {self.folds}): the thresholds "
                              "are chosen on out-of-fold probabilities")
        if self.min_negatives < 1:
            raise ConfigError(f"--min-negatives must be at least 1 (got {self.min_negatives})")
        if not self.C > 0:
            raise ConfigError(f"--C must be above 0 (got {self.C})")
        if self.max_features < 1:
            raise ConfigError(f"--max-features must be at least 1 (got {self.max_features})")


def tfidf_multi_pipeline(seed: int = DEFAULT_SEED, C: float = 1.0,
                         max_features: int = 500_000) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from asaas.training.baselines import strip_html

    return Pipeline([
        ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                  max_features=max_features, sublinear_tf=True,
                                  preprocessor=strip_html, dtype=np.float32)),
        ("lr", LogisticRegression(C=C, max_iter=2000, solver="liblinear",
                                  class_weight="balanced", random_state=seed)),
    ])


def _strata(languages: list[str | None], labels: list[int], folds: int) -> np.ndarray:
    """Fold strata: language x label; strata too small to split share one."""
    strata = np.array([f"{la or ''}|{y}" for la, y in zip(languages, labels)], dtype=object)
    values, counts = np.unique(strata, return_counts=True)
    small = set(values[counts < folds])
    return np.array(["rare" if s in small else s for s in strata], dtype=object)


def out_of_fold(make: Any, X: Any, y: np.ndarray, strata: np.ndarray, folds: int,
                seed: int) -> np.ndarray:
    """Out-of-fold P(positive) of every row (``make()`` builds a fresh classifier)."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for tr, te in split.split(np.zeros(len(y)), strata):
        model = make().fit(X[tr], y[tr])
        out[te] = model.predict_proba(X[te])[:, list(model.classes_).index(1)]
    return out


def _recipe_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _log(out: Any, message: str) -> None:
    if out is not None:
        out.write(message + "\n")
        out.flush()


def train_tfidf_multi(store: Store, home: Path, opts: TfidfMultiOptions,
                      log_stream: Any = sys.stderr) -> ModelVersion:
    """Fit tfidf-multi on the train split of ``opts.train_dataset`` and register it."""
    from sklearn.base import clone

    opts.check()
    data = load_training_data(store, opts.train_dataset, "train", opts.limit, opts.languages)
    _check_both_classes(data, opts.folds)
    settings = {k: v for k, v in asdict(opts).items()
                if k not in ("name", "skip_existing", "languages")}
    settings["languages_asked"] = opts.languages  # what --language asked for (None: all)
    recipe_key = _recipe_key({"recipe": "tfidf-multi", **settings, "data": data.fingerprint})
    if opts.skip_existing:
        existing = registry.find_by_recipe(store, opts.name, recipe_key)
        if existing is not None:
            return existing
    langs = data.row_languages or [None] * len(data)
    y = np.asarray(data.labels, dtype=int)
    t0 = time.perf_counter()
    pipeline = tfidf_multi_pipeline(opts.seed, opts.C, opts.max_features)
    vectorizer, lr = pipeline.named_steps["tfidf"], pipeline.named_steps["lr"]
    _log(log_stream, f"tfidf-multi: vectorising {len(data):,} reviews in "
                     f"{len(data.languages or [])} languages")
    try:
        X = vectorizer.fit_transform(data.texts)
    except ValueError as exc:
        if "vocabulary" not in str(exc) and "no terms remain" not in str(exc):
            raise
        raise TrainingDataError(f"tfidf-multi: no character n-gram of the {len(data):,} "
                                "training reviews occurs twice; train on more reviews") from None
    t_vec = time.perf_counter() - t0
    _log(log_stream, f"tfidf-multi: {X.shape[1]:,} n-grams in {t_vec:.0f} s; "
                     f"{opts.folds} out-of-fold fits for the thresholds")
    oof = out_of_fold(lambda: clone(lr), X, y, _strata(langs, data.labels, opts.folds),
                      opts.folds, opts.seed)
    thresholds = LanguageThresholds.choose(y, oof, langs, min_negatives=opts.min_negatives,
                                           held_out=f"{opts.folds}-fold out-of-fold")
    _log(log_stream, "tfidf-multi: final fit on every training review")
    lr.fit(X, y)
    seconds = time.perf_counter() - t0
    params = {"recipe": "tfidf-multi", "multilingual": True, **settings,
              "languages": data.languages, "recipe_key": recipe_key,
              "steps": {"tfidf": "TfidfVectorizer(char_wb 2-5, sublinear)",
                        "lr": "LogisticRegression(balanced, liblinear)"}}
    metrics = {"train_seconds": round(seconds, 2), "train_rows": len(data),
               "vocabulary": int(X.shape[1]), "oof_balanced_accuracy": _oof_ba(
                   y, oof, thresholds, langs)}
    oof_keys = np.array([bytes.fromhex(h[:32]) for h in data.content_hashes or []], dtype="S16")
    from asaas.models.sklearn_models import save_pipeline

    with staged_artifact(home, opts.name) as (tmp, commit):
        save_pipeline(pipeline, tmp)
        save_json(tmp / THRESHOLDS_FILE, thresholds.to_json())
        # Out-of-fold logits by text hash: what e5-stack stacks on.
        logit = np.log(np.clip(oof, 1e-9, 1 - 1e-9) / np.clip(1 - oof, 1e-9, 1))
        np.savez(tmp / OOF_FILE, keys=oof_keys, logit=logit.astype(np.float64))
        save_json(tmp / "asaas.json", {"params": params, "metrics": metrics})
        final = commit()
        return registry.register(
            store, opts.name, kind="tfidf-multi", artifact_uri=str(final), params=params,
            train_dataset=data.dataset, train_split=data.split,
            train_fingerprint=data.fingerprint, metrics=metrics,
            description="every language: char n-gram TF-IDF + LR, a threshold per language")


def _check_both_classes(data: TrainingData, folds: int) -> None:
    y = np.asarray(data.labels)
    for cls, word in ((0, "negative"), (1, "positive")):
        if (y == cls).sum() < folds:
            raise TrainingDataError(f"only {(y == cls).sum()} {word} training reviews: the "
                                    f"{folds}-fold thresholds need at least {folds}")


def _oof_ba(y: np.ndarray, prob: np.ndarray, thresholds: LanguageThresholds,
            langs: list[str | None]) -> dict[str, float]:
    """Held-out balanced accuracy per language at the chosen thresholds (optimistic: the
    thresholds were chosen on the same scores)."""
    labels = thresholds.labels(prob, langs)
    out = {}
    arr = np.array([la or "" for la in langs], dtype=object)
    for lang in sorted(set(arr) - {""}):
        m = arr == lang
        if (y[m] == 0).any() and (y[m] == 1).any():
            tpr = (labels[m][y[m] == 1] == 1).mean()
            tnr = (labels[m][y[m] == 0] == 0).mean()
            out[lang] = round(float((tpr + tnr) / 2), 4)
    return out


# -- the stack ----------------------------------------------------------------------------------


@dataclass
class StackOptions:
    """Every setting of ``asaas train e5-stack`` with its default."""

    name: str = "e5-stack"
    #: The tfidf-multi version stacked on (NAME or NAME:VERSION; its training split is used).
    base: str = "tfidf-multi"
    negatives_per_language: int = 500
    positives_per_language: int = 300
    #: Positives of languages with under SMALL_LANGUAGE training reviews (they have few).
    small_language_positives: int = 100
    seed: int = DEFAULT_SEED
    folds: int = 5
    min_negatives: int = DEFAULT_MIN_NEGATIVES
    max_tokens: int = 128
    threads: int | None = None
    skip_existing: bool = False

    def check(self) -> None:
        registry.check_name(self.name)
        check_seed(self.seed)
        for flag, value in (("--negatives-per-language", self.negatives_per_language),
                            ("--positives-per-language", self.positives_per_language),
                            ("--small-language-positives", self.small_language_positives),
                            ("--min-negatives", self.min_negatives)):
            if value < 1:
                raise ConfigError(f"{flag} must be at least 1 (got {value})")
        if self.folds < 2:
            raise ConfigError(f"--folds must be at least 2 (got {self.folds})")
        if self.max_tokens < 8:
            raise ConfigError(f"--max-tokens must be at least 8 (got {self.max_tokens})")


#: A language with fewer training reviews than this gets ``small_language_positives``.
SMALL_LANGUAGE = 1000
#: C values tried for the stack's logistic regression (by out-of-fold ROC AUC).
STACK_C = (0.1, 1.0, 10.0)


def stack_sample(data: TrainingData, opts: StackOptions) -> list[int]:
    """Row positions of the stack's training sample: per language (and for reviews with none),
    the first negatives and positives in content-hash order, up to the per-language caps."""
    langs = data.row_languages or [None] * len(data)
    hashes = data.content_hashes or [""] * len(data)
    order = sorted(range(len(data)), key=lambda i: (hashes[i], data.ids[i]))
    sizes: dict[str | None, int] = {}
    for la in langs:
        sizes[la] = sizes.get(la, 0) + 1
    taken: dict[tuple[str | None, int], int] = {}
    keep = []
    for i in order:
        la, y = langs[i], data.labels[i]
        cap = opts.negatives_per_language if y == 0 else (
            opts.positives_per_language if sizes[la] >= SMALL_LANGUAGE
            else opts.small_language_positives)
        if taken.get((la, y), 0) < cap:
            taken[(la, y)] = taken.get((la, y), 0) + 1
            keep.append(i)
    return sorted(keep)


def train_e5_stack(store: Store, home: Path, opts: StackOptions,
                   log_stream: Any = sys.stderr) -> ModelVersion:
    """Fit the e5 stack on a sample of the base version's training split and register it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from asaas.models import embeddings
    from asaas.models.registry import resolve_ref, verify_artifact
    from asaas.models.sklearn_models import PIPELINE_FILE

    opts.check()
    base = resolve_ref(store, opts.base)
    if base.kind != "tfidf-multi":
        raise ConfigError(f"--base {opts.base} is {base.label}, a {base.kind} model; the stack "
                          "needs a tfidf-multi version (`asaas train tfidf-multi`)")
    verify_artifact(base)
    embedder = embeddings.get_embedder("e5", max_tokens=opts.max_tokens, threads=opts.threads)
    data = load_training_data(store, base.train_dataset or DEFAULT_DATASET,
                              base.train_split or "train", base.params.get("limit"),
                              base.params.get("languages_asked"))
    if data.fingerprint != base.train_fingerprint:
        raise TrainingDataError(f"the {data.dataset} training reviews changed since {base.label} "
                                "was trained (its out-of-fold scores would not cover them); "
                                "train tfidf-multi again first")
    settings = {k: v for k, v in asdict(opts).items()
                if k not in ("name", "skip_existing", "threads", "base")}
    recipe_key = _recipe_key({"recipe": "e5-stack", **settings, "base": base.artifact_sha256,
                              "embedder": embedder.identity, "data": data.fingerprint})
    if opts.skip_existing:
        existing = registry.find_by_recipe(store, opts.name, recipe_key)
        if existing is not None:
            return existing
    rows = stack_sample(data, opts)
    texts = [data.texts[i] for i in rows]
    langs = [(data.row_languages or [None] * len(data))[i] for i in rows]
    y = np.asarray([data.labels[i] for i in rows], dtype=int)
    hashes = [(data.content_hashes or [])[i] for i in rows]
    oof = load_arrays(base.label, base.artifact_uri, OOF_FILE, base.artifact_sha256)
    index = {k: j for j, k in enumerate(oof["keys"].tolist())}
    keys = embeddings.hash_keys(hashes)
    tfidf = np.array([oof["logit"][index[k]] if k in index else np.nan for k in keys.tolist()])
    if np.isnan(tfidf).any():
        raise TrainingDataError(f"{int(np.isnan(tfidf).sum())} sampled reviews have no "
                                f"out-of-fold score in {base.label}; train tfidf-multi again")
    t0 = time.perf_counter()
    _log(log_stream, f"e5-stack: embedding {len(rows):,} training reviews ({int((y == 0).sum()):,}"
                     f" negative) with e5 (cached under ASAAS_HOME/embeddings: a killed run "
                     "resumes)")
    cached = embeddings.cached(embedder, home)
    vectors = _embed_in_chunks(cached, texts, keys, log_stream)
    t_embed = time.perf_counter() - t0
    mean, scale = float(tfidf.mean()), float(tfidf.std() or 1.0)
    X = np.hstack([vectors.astype(np.float64), ((tfidf - mean) / scale)[:, None]])
    strata = _strata(langs, list(y), opts.folds)
    best: tuple[float, float, np.ndarray] | None = None
    for c in STACK_C:
        def make(c: float = c) -> Any:
            return LogisticRegression(C=c, class_weight="balanced", max_iter=3000)

        p = out_of_fold(make, X, y, strata, opts.folds, opts.seed)
        auc = float(roc_auc_score(y, p))
        if best is None or auc > best[0]:
            best = (auc, c, p)
    assert best is not None
    auc, c, oof_prob = best
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(X, y)
    positive = list(model.classes_).index(1)
    sign = 1.0 if positive == 1 else -1.0
    thresholds = LanguageThresholds.choose(y, oof_prob, langs, min_negatives=opts.min_negatives,
                                           held_out=f"{opts.folds}-fold out-of-fold, sample")
    params = {"recipe": "e5-stack", "multilingual": True, **settings, "base": base.label,
              "C": c, "languages": data.languages, "recipe_key": recipe_key,
              "embedder": embedder.identity}
    metrics = {"train_seconds": round(time.perf_counter() - t0, 2),
               "embed_seconds": round(t_embed, 2), "train_rows": len(rows),
               "train_negatives": int((y == 0).sum()), "oof_roc_auc": round(auc, 4),
               "oof_balanced_accuracy": _oof_ba(y, oof_prob, thresholds, langs)}
    with staged_artifact(home, opts.name) as (tmp, commit):
        with open(Path(base.artifact_uri) / PIPELINE_FILE, "rb") as src:
            data_bytes = src.read()
        from asaas.models.checksums import ArtifactIntegrityError, sha256_bytes

        if sha256_bytes(data_bytes) != base.artifact_sha256.get(PIPELINE_FILE):
            raise ArtifactIntegrityError(f"{base.label}: {PIPELINE_FILE} changed after "
                                         "registration; refusing to copy it")
        (tmp / PIPELINE_FILE).write_bytes(data_bytes)
        np.savez(tmp / STACK_FILE, coef=sign * model.coef_.ravel(),
                 intercept=np.array([sign * float(model.intercept_[0])]),
                 tfidf_mean=np.array([mean]), tfidf_scale=np.array([scale]))
        save_json(tmp / THRESHOLDS_FILE, thresholds.to_json())
        save_json(tmp / EMBEDDER_FILE, embedder.identity)
        save_json(tmp / "asaas.json", {"params": params, "metrics": metrics})
        final = commit()
        return registry.register(
            store, opts.name, kind="e5-stack", artifact_uri=str(final), params=params,
            train_dataset=data.dataset, train_split=data.split,
            train_fingerprint=data.fingerprint, metrics=metrics,
            description="every language: LR on [e5 embedding, tfidf-multi score], a threshold "
                        "per language")


def _embed_in_chunks(cached: Any, texts: list[str], keys: np.ndarray, log_stream: Any,
                     chunk: int = 64) -> np.ndarray:
    """Embed through the cache a chunk at a time (each chunk is stored as it is done), with a
    progress line now and then."""
    out = np.zeros((len(texts), cached.dim), np.float32)
    t0, last = time.perf_counter(), 0.0
    for start in range(0, len(texts), chunk):
        out[start:start + chunk] = cached.embed(texts[start:start + chunk],
                                                keys[start:start + chunk])
        now = time.perf_counter() - t0
        if now - last > 30 or start + chunk >= len(texts):
            last = now
            _log(log_stream, f"e5-stack: {min(start + chunk, len(texts)):,}/{len(texts):,} "
                             f"embedded ({now:.0f} s)")
    return out
