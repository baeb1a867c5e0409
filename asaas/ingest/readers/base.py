"""What every reader shares: the fields a review can have, how source columns map to them, the
batches readers yield, split checks and the registry of source kinds.

Readers do not judge values: texts may be bytes (checked for UTF-8 later), labels and times may be
any type. ``asaas.ingest.validate`` judges every row; ``asaas.ingest.writer`` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asaas.errors import SourceError

if TYPE_CHECKING:
    from asaas.ingest.readers.presets import FormatPreset

#: Rows per batch: big enough that per-batch database round trips cost little, small enough
#: that a batch of long reviews stays a few tens of MB.
BATCH_ROWS = 20_000

#: The split of rows whose source says none (no split column, a file name that is no split name).
INGEST_DEFAULT_SPLIT = "train"

#: Split names recognised from file names such as ``train.parquet``.
KNOWN_SPLITS = ("train", "test", "unsup", "validation", "dev")

#: Column names tried, in order, when the user does not name one.
TEXT_COLUMNS = ("text", "review", "review_text", "content", "sentence", "body")
LABEL_COLUMNS = ("label", "sentiment", "labels")
ID_COLUMNS = ("id", "review_id", "external_id")
RATING_COLUMNS = ("rating", "stars", "score")
SPLIT_COLUMNS = ("split",)

SOURCE_HELP = (
    "pass --source with an aclImdb/ folder, aclImdb_v1.tar.gz, or Parquet/CSV/JSONL/JSON files"
)


@dataclass
class ColumnNames:
    """Which source column holds which field; None means the usual names (or the preset's)."""

    text: str | None = None
    label: str | None = None
    id: str | None = None
    rating: str | None = None
    product: str | None = None
    product_name: str | None = None
    time: str | None = None
    language: str | None = None
    early_access: str | None = None
    developer_response: str | None = None
    developer_responded_at: str | None = None
    # What a store changes after a review is first seen (asaas.history compares them when a
    # stored review is seen again): when its author last edited it, and its votes.
    updated_at: str | None = None
    votes_up: str | None = None
    votes_funny: str | None = None
    comment_count: str | None = None
    weighted_vote_score: str | None = None


#: Every field a row can carry, in ColumnNames order.
FIELDS = tuple(f.name for f in fields(ColumnNames))

#: The command-line option that names each field's column (for messages).
FIELD_OPTIONS = {name: "--" + name.replace("_", "-") + "-column" for name in FIELDS}


@dataclass(frozen=True)
class FieldSpec:
    """How to find one field's column when the user does not name it."""

    candidates: tuple[str, ...] = ()
    required: bool = False


#: Without a format preset (``presets.py``): the usual names for text, label, id and rating; the
#: product, time and language columns are only read when named (guessing them would mix up
#: unrelated columns).
GENERIC_SPECS: dict[str, FieldSpec] = {
    "text": FieldSpec(TEXT_COLUMNS, required=True),
    "label": FieldSpec(LABEL_COLUMNS),
    "id": FieldSpec(ID_COLUMNS),
    "rating": FieldSpec(RATING_COLUMNS),
}


@dataclass
class ReadOptions:
    """What a reader needs to know besides the source itself."""

    columns: ColumnNames = field(default_factory=ColumnNames)
    #: The format preset (``--format``), or None: columns by their usual names.
    preset: FormatPreset | None = None
    default_split: str = INGEST_DEFAULT_SPLIT
    batch_rows: int = BATCH_ROWS

    @property
    def specs(self) -> Mapping[str, FieldSpec]:
        """Field -> how to find its column: the preset's, else GENERIC_SPECS."""
        return self.preset.specs if self.preset is not None else GENERIC_SPECS

    @property
    def product_from_file_name(self) -> re.Pattern[str] | None:
        """File names that carry the product id (Steam API pages: ``review_<appid>.json``)."""
        return self.preset.product_from_file_name if self.preset is not None else None

    @property
    def format_name(self) -> str | None:
        """What to call the format in messages ("steam"), or None."""
        return self.preset.name if self.preset is not None else None


def resolve_columns(names: list[str], options: ReadOptions, where: str, *,
                    file_product: bool = False,
                    specs: Mapping[str, FieldSpec] | None = None) -> dict[str, str]:
    """Field -> source column for one file or dataset; SourceError names the option to fix.

    A column the user named must exist; a required field must be found among its candidates
    (``specs``, by default the options'). ``file_product``: the file name gives the product, so
    no product column is needed.
    """
    out: dict[str, str] = {}
    lowered = {n.lower(): n for n in names}
    specs = options.specs if specs is None else specs
    for name in FIELDS:
        wanted = getattr(options.columns, name)
        option = FIELD_OPTIONS[name]
        if wanted:
            if wanted not in names:
                raise SourceError(
                    f"{where} has no column {wanted!r} (columns: {_listing(names)}); fix {option}"
                )
            out[name] = wanted
            continue
        spec = specs.get(name, FieldSpec())
        found = next((lowered[c.lower()] for c in spec.candidates if c.lower() in lowered), None)
        if found is not None:
            out[name] = found
        elif spec.required and not (name == "product" and file_product):
            preset = f" for --format {options.format_name}" if options.format_name else ""
            extra = (" and its name is not review_<appid>.json"
                     if name == "product" and options.product_from_file_name else "")
            raise SourceError(
                f"{where} has no {name.replace('_', ' ')} column{preset} (looked for "
                f"{', '.join(spec.candidates)}; columns: {_listing(names)}){extra}; "
                f"name it with {option}"
            )
    return out


def _listing(names: list[str], limit: int = 30) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "") or "none"


def file_split(path: Path, default_split: str) -> str:
    """The split a file's name says (``train.parquet`` -> train), else the default."""
    stem = path.name.split(".")[0].lower()
    return stem if stem in KNOWN_SPLITS else default_split


def check_splits(requested: Iterable[str] | None, available: set[str], source: str) -> None:
    """Refuse a --split the source does not have, before anything is written."""
    if not requested:
        return
    unknown = sorted(set(requested) - available)
    if unknown:
        have = ", ".join(sorted(available)) or "none"
        raise SourceError(
            f"unknown split {', '.join(repr(u) for u in unknown)} for {source}: it has {have}; "
            "pick from those with --split"
        )


class Unparseable:
    """Placeholder text for a record that could not even be parsed; validation rejects it."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def unparseable_reason(value: Any) -> str | None:
    return value.reason if isinstance(value, Unparseable) else None


@dataclass
class RawBatch:
    """Up to ``batch_rows`` rows as read: one list per field the source has, plus each row's
    split and where it came from. A field missing from ``values`` is absent from the source."""

    values: dict[str, list[Any]]
    splits: list[str]
    #: Where each row came from: a list of labels, or (prefix, first row number) for rows that
    #: are numbered consecutively, so a million-row file does not build a million strings.
    where: list[str] | tuple[str, int]
    #: The product every row of this file is about when the file name says so (Steam pages).
    file_product: str | None = None

    def __len__(self) -> int:
        return len(self.splits)

    def locate(self, i: int) -> str:
        if isinstance(self.where, tuple):
            prefix, first = self.where
            return f"{prefix}{first + i}"
        return self.where[i]


@dataclass
class Skipped:
    """A file of a folder that was not read, and why (reported, never silent)."""

    path: str
    reason: str


class Source:
    """A readable source. ``batches`` streams rows; nothing is held beyond one batch."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.skipped_files: list[Skipped] = []

    def available_splits(self) -> set[str] | None:
        """Every split the source holds, when cheap to know up front (None: the reader checks
        a --split selection itself once it has read everything)."""
        return None

    def batches(self, splits: frozenset[str] | None) -> Iterator[RawBatch]:
        """Rows of the selected splits (all when None), batch by batch."""
        raise NotImplementedError


@dataclass(frozen=True)
class SourceKind:
    """One kind of source. ``claims`` looks at what the user passed (a path or ``hf:NAME``);
    the first kind, by ``priority``, that claims it opens it."""

    name: str
    priority: int
    claims: Callable[[str, Path], bool]
    open: Callable[[str, Path, ReadOptions], Source]


#: Filled by each reader module when it is imported (asaas.ingest.readers imports them all).
SOURCE_KINDS: list[SourceKind] = []


def register(kind: SourceKind) -> SourceKind:
    SOURCE_KINDS.append(kind)
    SOURCE_KINDS.sort(key=lambda k: k.priority)
    return kind


def read_error(path: Path | str, exc: OSError, what: str = "read") -> SourceError:
    """A one-line error for a file or folder the operating system refuses."""
    reason = exc.strerror or type(exc).__name__
    fix = ("check its permissions (the user running asaas must be able to read it)"
           if isinstance(exc, PermissionError) else "check the path")
    return SourceError(f"cannot {what} {path}: {reason}; {fix}")
