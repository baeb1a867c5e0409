"""Annotated incidents: the training data of the off-topic classifier.

A table file (Parquet, CSV, JSON Lines) with one review per row: its text, the incident it
belongs to (a review bomb, a controversy: the unit left out in the evaluation), and yes/no
columns, one per question. The defaults read the annotated review-bombing file of Meckl's thesis
(``meckl_review_bombing_annotated_steam_metacritic.parquet``: columns ``review``, ``project``
and German ``Ja``/``Nein`` labels); any other file names its columns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from asaas.errors import ConfigError, SourceError

#: Short label names and the columns of the annotated review-bombing file that hold them.
KNOWN_LABELS = {
    "bomb": "is-review-bombing",
    "about_game": "is-rating-game-related",
    "game_content": "criticism-praise-game-content",
    "developer": "criticism-praise-developer-publisher",
    "ideological": "criticism-praise-ideological",
    "political": "criticism-praise-political",
}
#: What each label asks, for tables and docs.
DESCRIPTIONS = {
    "bomb": "part of a review bomb",
    "about_game": "about the game itself",
    "game_content": "criticises or praises the game's content",
    "developer": "criticises or praises the developer or publisher",
    "ideological": "criticises or praises an ideology",
    "political": "criticises or praises a political stance",
}
DEFAULT_TEXT_COLUMN = "review"
DEFAULT_GROUP_COLUMN = "project"
#: The label whose "no" is "off-topic" (Steam's word), shown first everywhere.
ON_TOPIC_LABEL = "about_game"

YES = {"ja", "yes", "y", "true", "1", "1.0", "t"}
NO = {"nein", "no", "n", "false", "0", "0.0", "f"}

#: Fewest incidents: leave-one-out needs at least two to train on when one is held out.
MIN_GROUPS = 3


@dataclass
class Annotations:
    """The rows used for training: texts, their incident, and one 0/1 array per label."""

    texts: list[str]
    groups: np.ndarray  # incident of each row (str)
    labels: dict[str, np.ndarray]  # label -> 0/1 int array
    source: str
    fingerprint: str  # sha256 of texts, groups and labels: what the version was trained on
    dropped_empty: int = 0

    @property
    def incidents(self) -> list[str]:
        return sorted(set(self.groups.tolist()))


def parse_labels(spec: str | None) -> dict[str, str]:
    """``--labels``: comma-separated ``NAME`` (one of KNOWN_LABELS) or ``NAME=COLUMN``; all the
    known labels by default. Returns {name: column}."""
    if spec is None or not spec.strip():
        return dict(KNOWN_LABELS)
    out: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, column = part.partition("=")
        name = name.strip()
        if not name.replace("_", "").isalnum() or len(name) > 32:
            raise ConfigError(f"--labels: {name!r} is not a label name (letters, digits and _, "
                              "at most 32 characters)")
        if not column:
            if name not in KNOWN_LABELS:
                raise ConfigError(f"--labels: unknown label {name!r}; use one of "
                                  f"{', '.join(KNOWN_LABELS)} or NAME=COLUMN")
            column = KNOWN_LABELS[name]
        out[name] = column.strip()
    if not out:
        raise ConfigError("--labels is empty; name at least one label")
    return out


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True, dtype=False)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path} ({type(exc).__name__}: {exc})".splitlines()[0]
                          ) from None
    raise SourceError(f"{path}: unknown file type {suffix or '(none)'}; use Parquet, CSV, TSV "
                      "or JSON Lines")


def _yes_no(values: pd.Series, column: str, path: Path) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    bad = sorted(set(text[~text.isin(YES | NO)].tolist()))
    if bad:
        shown = ", ".join(repr(b) for b in bad[:4])
        raise SourceError(f"{path}: column {column!r} has values that are neither yes nor no "
                          f"({shown}); use Ja/Nein, yes/no, true/false or 1/0")
    return text.isin(YES).to_numpy().astype(int)


def load_annotations(path: str | Path, labels: dict[str, str], *,
                     text_column: str = DEFAULT_TEXT_COLUMN,
                     group_column: str = DEFAULT_GROUP_COLUMN) -> Annotations:
    """Read and check an annotated file: every named column present, every label yes or no,
    at least MIN_GROUPS incidents, and each label with both answers in the data. Rows with an
    empty text are dropped (and counted)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise SourceError(f"annotated file {file} does not exist; pass --source FILE (e.g. "
                          "../shared/data/steam/meckl_review_bombing_annotated_steam_metacritic"
                          ".parquet)")
    if text_column == group_column or text_column in labels.values():
        raise ConfigError(f"--text-column {text_column!r} is also named as the incident or a "
                          "label column; each must be a column of its own")
    df = _read_table(file)
    wanted = [text_column, group_column, *labels.values()]
    missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
    if missing:
        have = ", ".join(str(c) for c in list(df.columns)[:12])
        raise SourceError(f"{file} has no column {missing[0]!r} (columns: {have}); name the "
                          "columns with --text-column, --group-column or --labels NAME=COLUMN")
    df = df[list(dict.fromkeys(wanted))].copy()
    text = df[text_column].fillna("").astype(str)
    empty = text.str.strip() == ""
    df, text = df[~empty], text[~empty]
    df = df[df[group_column].notna()]
    text = text.loc[df.index]
    if df.empty:
        raise SourceError(f"{file} has no rows with a text and an incident")
    groups = df[group_column].astype(str).to_numpy()
    n_groups = len(set(groups.tolist()))
    if n_groups < MIN_GROUPS:
        raise SourceError(f"{file}: column {group_column!r} has {n_groups} incident(s); the "
                          f"leave-one-incident-out evaluation needs at least {MIN_GROUPS}")
    out: dict[str, np.ndarray] = {}
    for name, column in labels.items():
        y = _yes_no(df[column], column, file)
        if y.min() == y.max():
            raise SourceError(f"{file}: label {name} ({column}) is always "
                              f"{'yes' if y[0] else 'no'}; a classifier needs both answers")
        out[name] = y
    digest = hashlib.sha256()
    for t, g in zip(text.tolist(), groups.tolist()):
        digest.update(t.encode("utf-8", "surrogatepass") + b"\0" + g.encode() + b"\0")
    for name in sorted(out):
        digest.update(name.encode() + out[name].tobytes())
    return Annotations(text.tolist(), groups, out, str(file.resolve()), digest.hexdigest(),
                       int(empty.sum()))
