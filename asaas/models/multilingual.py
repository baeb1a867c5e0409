"""Multilingual sentiment models: a decision threshold per language, language names, and the
files of the ``tfidf-multi`` and ``e5-stack`` kinds.

Why a threshold per language: one model pooled over every language ranks reviews well in each
(ROC AUC 0.81-0.94 on Steam) but its probabilities are not comparable across languages (at 0.5
it called almost no Japanese review negative: balanced accuracy 0.54). A threshold per language,
chosen on held-out labelled reviews of the training period to maximise balanced accuracy, fixes
that (issue-20 research: mean balanced accuracy of the ten largest languages 0.68 -> 0.81).
A language with too few held-out negatives (or positives) for its own threshold gets the pooled
one, and the version says so (``LanguageThresholds.describe``).

``prob_positive`` stays the model's own probability (class-balanced training: not the share of
positives among such reviews); the stored label is ``prob_positive >= threshold(language)``.

Files (every one checksummed at registration and checked before loading; no pickle is loaded
unverified):
- ``pipeline.joblib``: the TF-IDF pipeline (scikit-learn; checked in memory, then unpickled);
- ``thresholds.json``: the thresholds, with the held-out counts each was chosen on;
- ``stack.npz`` (e5-stack): the stacked logistic regression's weights, plain arrays;
- ``embedder.json`` (e5-stack): the identity of the embeddings it was trained on;
- ``oof.npz`` (tfidf-multi): out-of-fold TF-IDF scores of the training reviews by text hash,
  which ``e5-stack`` stacks on (a score of a review the model trained on would be too good).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asaas.errors import AsaasError
from asaas.models.checksums import ArtifactIntegrityError, sha256_bytes

THRESHOLDS_FILE = "thresholds.json"
STACK_FILE = "stack.npz"
EMBEDDER_FILE = "embedder.json"
OOF_FILE = "oof.npz"

#: Held-out negatives (and positives) a language needs for a threshold of its own; below,
#: the pooled threshold (a balanced accuracy on 20 negatives is +-0.1 already).
DEFAULT_MIN_NEGATIVES = 20

#: Steam's language names (its API's) and their ISO 639-1 codes, so that a model trained on
#: Steam applies its thresholds to reviews whose language another source (or
#: ``ingest --detect-language``) records as an ISO code. Where two Steam names share a code
#: (schinese and tchinese: zh), the first listed wins.
STEAM_LANGUAGES = {
    "english": "en", "schinese": "zh", "tchinese": "zh", "russian": "ru", "german": "de",
    "spanish": "es", "latam": "es", "french": "fr", "koreana": "ko", "brazilian": "pt",
    "portuguese": "pt", "japanese": "ja", "polish": "pl", "turkish": "tr", "italian": "it",
    "thai": "th", "czech": "cs", "hungarian": "hu", "dutch": "nl", "swedish": "sv",
    "danish": "da", "finnish": "fi", "norwegian": "no", "ukrainian": "uk", "romanian": "ro",
    "bulgarian": "bg", "greek": "el", "vietnamese": "vi", "arabic": "ar", "indonesian": "id",
}


def iso_code(language: str | None) -> str | None:
    """ISO 639-1 code of a Steam language name or an ISO code ("zh-hans" -> "zh")."""
    if not language:
        return None
    lang = language.strip().lower()
    return STEAM_LANGUAGES.get(lang) or lang.split("-")[0].split("_")[0]


def best_threshold(y_positive: np.ndarray, prob: np.ndarray) -> tuple[float, float]:
    """(threshold on P(positive), balanced accuracy) maximising balanced accuracy when
    ``prob >= threshold`` is called positive; ties: the middle of the best run of cut points.
    Both classes must be present."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thr = roc_curve(y_positive, prob)
    j = tpr - fpr
    best = np.flatnonzero(j >= j.max() - 1e-12)
    k = best[len(best) // 2]
    t = float(thr[k]) if np.isfinite(thr[k]) else 1.0
    return t, float((tpr[k] + 1 - fpr[k]) / 2)


@dataclass
class LanguageThreshold:
    threshold: float
    n_negative: int
    n_positive: int
    #: Balanced accuracy at this threshold on the held-out reviews it was chosen on (optimistic).
    balanced_accuracy: float | None
    #: "language": chosen on this language's reviews; "pooled": too few, the pooled one.
    source: str = "language"
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class LanguageThresholds:
    """The threshold on P(positive) for each language a version saw held-out reviews of, and
    the pooled one for every other language (and reviews with no language recorded)."""

    pooled: LanguageThreshold
    languages: dict[str, LanguageThreshold] = field(default_factory=dict)
    min_negatives: int = DEFAULT_MIN_NEGATIVES
    held_out: str = "out-of-fold"

    @classmethod
    def choose(cls, y_positive: Sequence[int], prob: Sequence[float],
               languages: Sequence[str | None], *, min_negatives: int = DEFAULT_MIN_NEGATIVES,
               held_out: str = "out-of-fold") -> LanguageThresholds:
        """Thresholds maximising balanced accuracy on held-out ``prob`` per language."""
        y = np.asarray(y_positive, dtype=int)
        p = np.asarray(prob, dtype=float)
        langs = np.array([la or "" for la in languages], dtype=object)
        if y.min(initial=1) == y.max(initial=0) or len(y) == 0:
            raise AsaasError("held-out reviews of both classes are needed to choose thresholds")
        t, ba = best_threshold(y, p)
        pooled = LanguageThreshold(t, int((y == 0).sum()), int((y == 1).sum()), ba, "pooled")
        out: dict[str, LanguageThreshold] = {}
        for lang in sorted(set(langs) - {""}):
            m = langs == lang
            neg, pos = int((y[m] == 0).sum()), int((y[m] == 1).sum())
            if neg < min_negatives or pos < min_negatives:
                few = f"{neg} held-out negatives" if neg < min_negatives else \
                    f"{pos} held-out positives"
                out[lang] = LanguageThreshold(
                    t, neg, pos, None, "pooled",
                    f"{few}, under {min_negatives}: the pooled threshold")
                continue
            lt, lba = best_threshold(y[m], p[m])
            out[lang] = LanguageThreshold(lt, neg, pos, lba)
        return cls(pooled, out, min_negatives, held_out)

    def lookup(self, language: str | None) -> LanguageThreshold:
        """This language's threshold: by name, else by ISO code (a source that writes "ko"
        gets Steam's "koreana"), else the pooled one."""
        if language:
            lang = language.strip().lower()
            if lang in self.languages:
                return self.languages[lang]
            code = iso_code(lang)
            for name, threshold in self._by_code().items():
                if name == code:
                    return threshold
        return self.pooled

    def _by_code(self) -> dict[str, LanguageThreshold]:
        if not hasattr(self, "_codes"):
            codes: dict[str, LanguageThreshold] = {}
            # The language with the most held-out reviews wins a shared code (schinese: zh).
            for name, t in sorted(self.languages.items(),
                                  key=lambda kv: -(kv[1].n_negative + kv[1].n_positive)):
                codes.setdefault(iso_code(name) or name, t)
            self._codes = codes
        return self._codes

    def thresholds(self, languages: Sequence[str | None]) -> np.ndarray:
        cache: dict[str | None, float] = {}
        out = np.empty(len(languages))
        for i, lang in enumerate(languages):
            if lang not in cache:
                cache[lang] = self.lookup(lang).threshold
            out[i] = cache[lang]
        return out

    def labels(self, prob: np.ndarray, languages: Sequence[str | None]) -> np.ndarray:
        """1 (positive) where ``prob >= threshold(language)``, else 0."""
        return (np.asarray(prob) >= self.thresholds(languages)).astype(np.int16)

    def to_json(self) -> dict[str, Any]:
        return {"score": "prob_positive", "rule": "positive when prob_positive >= threshold",
                "held_out": self.held_out, "min_negatives": self.min_negatives,
                "pooled": self.pooled.to_json(),
                "languages": {k: v.to_json() for k, v in sorted(self.languages.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LanguageThresholds:
        def one(d: dict[str, Any]) -> LanguageThreshold:
            return LanguageThreshold(float(d["threshold"]), int(d["n_negative"]),
                                     int(d["n_positive"]), d.get("balanced_accuracy"),
                                     d.get("source", "language"), d.get("reason"))

        return cls(one(data["pooled"]), {k: one(v) for k, v in data["languages"].items()},
                   int(data.get("min_negatives", DEFAULT_MIN_NEGATIVES)),
                   data.get("held_out", "out-of-fold"))

    def describe(self) -> list[dict[str, Any]]:
        """One row per language (and the pooled threshold): what ``report --by language`` shows."""
        rows = [{"language": "(pooled: other languages, none recorded)",
                 "threshold": round(self.pooled.threshold, 4),
                 "held_out_negatives": self.pooled.n_negative,
                 "held_out_positives": self.pooled.n_positive,
                 "held_out_balanced_accuracy": _round(self.pooled.balanced_accuracy),
                 "note": ""}]
        for name, t in sorted(self.languages.items(),
                              key=lambda kv: -(kv[1].n_negative + kv[1].n_positive)):
            rows.append({"language": name, "threshold": round(t.threshold, 4),
                         "held_out_negatives": t.n_negative, "held_out_positives": t.n_positive,
                         "held_out_balanced_accuracy": _round(t.balanced_accuracy),
                         "note": t.reason or ""})
        return rows


def _round(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 4)


# -- reading a version's files, checked ---------------------------------------------------------


def read_checked(label: str, artifact: str, name: str, expected: dict[str, str]) -> bytes:
    """The bytes of one artifact file, checked against the checksum recorded for it."""
    path = Path(artifact).expanduser() / name
    if name not in expected:
        raise ArtifactIntegrityError(f"{label}: no checksum recorded for {name}; retrain it")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AsaasError(f"{label}: cannot read {path} ({exc.strerror}); restore it or retrain"
                         ) from None
    if sha256_bytes(data) != expected[name]:
        raise ArtifactIntegrityError(f"{label}: file {path} was changed after registration "
                                     "(sha256 differs); refusing to load it: restore the "
                                     "original or retrain the model")
    return data


def load_thresholds(label: str, artifact: str, expected: dict[str, str]) -> LanguageThresholds:
    data = read_checked(label, artifact, THRESHOLDS_FILE, expected)
    try:
        return LanguageThresholds.from_json(json.loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        raise AsaasError(f"{label}: {THRESHOLDS_FILE} is not a thresholds file ({exc}); "
                         "retrain the model") from None


def load_arrays(label: str, artifact: str, name: str, expected: dict[str, str]
                ) -> dict[str, np.ndarray]:
    """An .npz of plain arrays (``allow_pickle=False``: object arrays are refused)."""
    data = read_checked(label, artifact, name, expected)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as exc:
        raise AsaasError(f"{label}: {name} is not a plain array file ({exc}); retrain it"
                         ) from None


def save_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
