"""Ingest options: one dataclass for ``asaas ingest``, job files and library calls, built from
command-line flags and from a job step's keys by the same function, ``IngestOptions.from_values``,
and the parsing of the option values that are small languages of their own (``--label-map``,
``--split-before``).

Every impossible value is refused here with a one-line ConfigError naming the option, before a
source is opened or anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from asaas.clock import naive_utc, parse_iso
from asaas.errors import ConfigError
from asaas.ingest.readers import ReadOptions
from asaas.ingest.readers.base import BATCH_ROWS, FIELDS, INGEST_DEFAULT_SPLIT, ColumnNames
from asaas.ingest.readers.presets import FormatPreset, get_preset
from asaas.settings import DEFAULT_DATASET, Settings

#: Column widths in the schema (asaas/store/schema.py), checked before PostgreSQL would abort.
MAX_DATASET_CHARS = 64
MAX_SPLIT_CHARS = 32
MAX_KIND_CHARS = 32

#: What a --label-map value may say.
_LABEL_VALUES = {"1": 1, "0": 0, "-1": None, "pos": 1, "neg": 0, "positive": 1, "negative": 0,
                 "none": None, "unlabelled": None, "unlabeled": None}

#: Options that are names (strings) in a job file, as in ``asaas ingest``.
_TEXT_KEYS = ("dataset", "format", "default_split", "time_format", "product_kind",
              *(f"{name}_column" for name in FIELDS))

#: Keys ``IngestOptions.from_values`` takes: an ingest step's keys (besides kind and source)
#: and ``asaas ingest``'s options, by their parameter names.
OPTION_KEYS = ("dataset", "splits", "format", "default_split", "label_map", "time_format",
               "split_before", "product_kind", "max_review_chars", "detect_language",
               *(f"{name}_column" for name in FIELDS))


@dataclass
class IngestOptions:
    """Everything ``asaas.ingest.ingest()`` can be told besides the source and the store."""

    #: None: settings.DEFAULT_DATASET ("imdb"), or the format preset's ("steam").
    dataset: str | None = None
    splits: list[str] | None = None
    columns: ColumnNames = field(default_factory=ColumnNames)
    default_split: str = INGEST_DEFAULT_SPLIT
    #: None, or the name of a format preset (asaas.ingest.readers.presets).
    format: str | None = None
    #: Words -> 1, 0 or None (unlabelled), matched case-insensitively before the usual words.
    label_map: dict[str, int | None] | None = None
    #: strptime format for time strings that are not ISO 8601.
    time_format: str | None = None
    #: Reviews written before this instant (naive UTC) are "train", the others "test".
    split_before: datetime | None = None
    #: products.kind for new products (None: the preset's, e.g. "game" for steam).
    product_kind: str | None = None
    #: Reviews longer than this are rejected; None: ASAAS_MAX_REVIEW_CHARS.
    max_review_chars: int | None = None
    #: Detect the language of reviews whose source records none (asaas.ingest.language).
    detect_language: bool = False
    batch_rows: int = BATCH_ROWS

    @classmethod
    def from_values(cls, values: Mapping[str, Any], style: str = "cli") -> IngestOptions:
        """Checked options from ``asaas ingest``'s parameters (``style="cli"``) or an ingest
        step's keys (``style="job"``), both named as in OPTION_KEYS; a missing or None value
        takes the default. ConfigError names the bad option the way ``style`` spells it."""
        return check_options(_from_values(values, style), style)

    @property
    def preset(self) -> FormatPreset | None:
        """The format preset (None without --format); ConfigError when it is unknown."""
        return get_preset(self.format)

    def resolved_dataset(self) -> str:
        if self.dataset is not None:
            return self.dataset
        preset = self.preset
        return preset.dataset if preset is not None else DEFAULT_DATASET

    def resolved_product_kind(self) -> str | None:
        preset = self.preset
        return self.product_kind or (preset.product_kind if preset is not None else None)

    def resolved_label_map(self) -> dict[str, int | None] | None:
        """The user's label words, then the preset's."""
        preset = self.preset
        if preset is None or not preset.label_map:
            return self.label_map
        return {**preset.label_map, **(self.label_map or {})}

    def resolved_max_review_chars(self) -> int:
        return self.max_review_chars or Settings().max_review_chars

    def read_options(self) -> ReadOptions:
        """What the readers are told."""
        return ReadOptions(columns=self.columns, preset=self.preset,
                           default_split=self.default_split, batch_rows=self.batch_rows)


def option_name(key: str, style: str) -> str:
    """``label_map`` as the command line (``--label-map``) or a job file (``label_map``) says it."""
    return "--" + key.replace("_", "-") if style == "cli" else key


def parse_label_map(value: str | dict[str, Any] | None, style: str = "cli"
                    ) -> dict[str, int | None] | None:
    """``'Empfohlen=1,Nicht empfohlen=0'`` (or a job file's table) -> {word: 1/0/None}."""
    if value is None:
        return None
    name = option_name("label_map", style)
    if isinstance(value, dict):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, str):
        if not value.strip():
            raise ConfigError(f"{name} is empty; write WORD=1,WORD=0 (e.g. 'Empfohlen=1,"
                              "Nicht empfohlen=0')")
        pairs = []
        for entry in value.split(","):
            if not entry.strip():
                raise ConfigError(f"{name} {value!r} has an empty entry; separate WORD=1 and "
                                  "WORD=0 entries with single commas")
            if "=" not in entry:
                raise ConfigError(f"{name} entry {entry.strip()!r} has no '='; write WORD=1, "
                                  "WORD=0 or WORD=-1 (unlabelled)")
            word, _, label = entry.rpartition("=")
            pairs.append((word, label))
    else:
        raise ConfigError(f"{name} must be 'WORD=1,WORD=0' text or a table of words")
    out: dict[str, int | None] = {}
    for word, label in pairs:
        key = word.strip().lower()
        if not key:
            raise ConfigError(f"{name} has an entry without a word before '='; write WORD=1")
        text = str(label).strip().lower()
        if isinstance(label, bool) or text not in _LABEL_VALUES:
            raise ConfigError(f"{name} maps {word.strip()!r} to {label!r}; use 1 (positive), "
                              "0 (negative) or -1 (unlabelled)")
        if key in out and out[key] != _LABEL_VALUES[text]:
            raise ConfigError(f"{name} maps {word.strip()!r} twice, to different labels; keep "
                              "one")
        out[key] = _LABEL_VALUES[text]
    return out


def parse_split_before(value: str | date | datetime | None, style: str = "cli"
                       ) -> datetime | None:
    """``2017-07-01`` or an ISO 8601 date-time -> naive UTC (a zone, when given, is honoured)."""
    if value is None:
        return None
    name = option_name("split_before", style)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
                raise ValueError(text)  # fromisoformat also takes 20170701; ask for dashes
            moment = parse_iso(text)
        except ValueError:
            raise ConfigError(f"{name} {text!r} is not a date; write YYYY-MM-DD (UTC), e.g. "
                              f"{name} 2017-07-01") from None
    return naive_utc(moment)


def _check_name(value: str | None, what: str, limit: int, style: str) -> None:
    if value is None:
        return
    name = option_name(what, style)
    if not value.strip():
        raise ConfigError(f"{name} must not be empty")
    if len(value) > limit:
        raise ConfigError(f"{name} {value[:20]!r}... is {len(value)} characters; at most {limit}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or value != value.strip():
        raise ConfigError(f"{name} {value!r} holds control characters or surrounding spaces; "
                          "use plain words such as imdb, sst2, steam")


def check_options(options: IngestOptions, style: str = "cli") -> IngestOptions:
    """Refuse impossible values with one line naming the option; returns the options."""
    preset = get_preset(options.format, option_name("format", style))
    if options.detect_language:
        from asaas.ingest.language import check_available

        check_available()
    _check_name(options.resolved_dataset(), "dataset", MAX_DATASET_CHARS, style)
    _check_name(options.default_split, "default_split", MAX_SPLIT_CHARS, style)
    for split in options.splits or []:
        _check_name(split, "split", MAX_SPLIT_CHARS, style)
    _check_name(options.product_kind, "product_kind", MAX_KIND_CHARS, style)
    for name in FIELDS:
        column = getattr(options.columns, name)
        if column is not None and not column.strip():
            raise ConfigError(f"{option_name(name + '_column', style)} must not be empty; "
                              "name a column or leave the option out")
    # A time column is named, or the preset knows where its records keep the time.
    reads_time = options.columns.time is not None or (preset is not None
                                                      and "time" in preset.specs)
    if options.time_format is not None:
        if "%" not in options.time_format:
            raise ConfigError(f"{option_name('time_format', style)} {options.time_format!r} has "
                              "no % directive; write a strptime format such as "
                              "'%d.%m.%Y %H:%M:%S'")
        if not reads_time:
            raise ConfigError(f"{option_name('time_format', style)} needs "
                              f"{option_name('time_column', style)}")
    if options.split_before is not None and not reads_time:
        raise ConfigError(f"{option_name('split_before', style)} splits by review time: name "
                          f"the time column with {option_name('time_column', style)}")
    if options.max_review_chars is not None and options.max_review_chars < 1:
        raise ConfigError(f"{option_name('max_review_chars', style)} must be at least 1")
    if options.batch_rows < 1:
        raise ConfigError("batch_rows must be at least 1")
    return options


def _from_values(values: Mapping[str, Any], style: str) -> IngestOptions:
    """IngestOptions from OPTION_KEYS (unchecked but for the types a job file may get wrong)."""
    unknown = sorted(set(values) - set(OPTION_KEYS))
    if unknown:
        takes = "an ingest step takes source and" if style == "job" else "ingest takes"
        raise ConfigError(f"unknown key {unknown[0]!r}; {takes} {', '.join(OPTION_KEYS)}")
    given = {k: v for k, v in values.items() if v is not None}
    for key in _TEXT_KEYS:
        if key in given and not isinstance(given[key], str):
            raise ConfigError(f"{option_name(key, style)} must be a string, not {given[key]!r}")
    splits = given.get("splits")
    if splits is not None and (not isinstance(splits, list)
                               or not all(isinstance(s, str) for s in splits)):
        raise ConfigError(f"{option_name('splits', style)} must be a list of names such as "
                          f"[\"train\", \"test\"], not {splits!r}")
    limit = given.get("max_review_chars")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise ConfigError(f"{option_name('max_review_chars', style)} must be a whole number, "
                          f"not {limit!r}")
    detect = given.get("detect_language", False)
    if not isinstance(detect, bool):
        raise ConfigError(f"{option_name('detect_language', style)} must be true or false, "
                          f"not {detect!r}")
    return IngestOptions(
        detect_language=detect,
        dataset=given.get("dataset"), splits=splits or None,
        columns=ColumnNames(**{name: given.get(f"{name}_column") for name in FIELDS}),
        default_split=given.get("default_split", INGEST_DEFAULT_SPLIT), format=given.get("format"),
        label_map=parse_label_map(given.get("label_map"), style),
        time_format=given.get("time_format"),
        split_before=parse_split_before(given.get("split_before"), style),
        product_kind=given.get("product_kind"), max_review_chars=limit)


def options_from_job(step: Mapping[str, Any]) -> IngestOptions:
    """IngestOptions from an ingest step of a job file (its kind and source aside);
    ConfigError names the bad key."""
    return IngestOptions.from_values(
        {k: v for k, v in step.items() if k not in ("kind", "source")}, style="job")


__all__ = ["IngestOptions", "OPTION_KEYS", "check_options", "options_from_job",
           "parse_label_map", "parse_split_before"]
