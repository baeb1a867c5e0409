"""Readers: turn each kind of source into raw rows, before any validation.

Supported sources
- the original ``aclImdb/`` folder (``{split}/{pos,neg,unsup}/{id}_{rating}.txt``);
- the original ``aclImdb_v1.tar.gz`` archive, streamed without unpacking to disk;
- Parquet, CSV/TSV and JSON Lines files, or a folder of them;
- a Hugging Face Hub dataset (``stanfordnlp/imdb`` by default).

Readers do not judge values: texts may be bytes (checked for UTF-8 later), labels may be any
type. ``asaas.ingest.ingest`` validates, deduplicates and writes.
"""

from __future__ import annotations

import csv
import json
import re
import tarfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asaas.errors import NetworkError, SourceError
from asaas.hub import hub_offline_requested, hub_reachable

#: Split names recognised from file names such as ``train.parquet``.
KNOWN_SPLITS = ("train", "test", "unsup", "validation", "dev")

TABLE_SUFFIXES = {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
                  ".ndjson": "jsonl", ".json": "jsonl"}

#: Column names tried, in order, when the user does not name one.
TEXT_COLUMNS = ("text", "review", "review_text", "content", "sentence", "body")
LABEL_COLUMNS = ("label", "sentiment", "labels")
ID_COLUMNS = ("id", "review_id", "external_id")
RATING_COLUMNS = ("rating", "stars", "score")
SPLIT_COLUMNS = ("split",)

SOURCE_HELP = (
    "pass --source with an aclImdb/ folder, aclImdb_v1.tar.gz, or Parquet/CSV/JSONL files"
)

_ACLIMDB_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")


@dataclass
class ColumnNames:
    """Which columns of a table file hold what; None means detect from the usual names."""

    text: str | None = None
    label: str | None = None
    id: str | None = None


@dataclass
class RawRows:
    """Rows as read, one list per field; ``where`` says where each row came from."""

    texts: list[Any] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    ids: list[Any] = field(default_factory=list)
    ratings: list[Any] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    #: Every split the source holds (before any --split selection).
    available_splits: set[str] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, text: Any, label: Any, id_: Any, rating: Any, split: str, where: str) -> None:
        self.texts.append(text)
        self.labels.append(label)
        self.ids.append(id_)
        self.ratings.append(rating)
        self.splits.append(split)
        self.where.append(where)


def check_splits(requested: Iterable[str] | None, available: set[str], source: str) -> None:
    """Refuse a --split the source does not have, before anything is read or written."""
    if not requested:
        return
    unknown = sorted(set(requested) - available)
    if unknown:
        have = ", ".join(sorted(available)) or "none"
        raise SourceError(
            f"unknown split {', '.join(repr(u) for u in unknown)} for {source}: it has {have}; "
            "pick from those with --split"
        )


# -- dispatch ------------------------------------------------------------------------------------


def read_source(
    source: str,
    splits: list[str] | None = None,
    columns: ColumnNames | None = None,
    default_split: str = "train",
) -> RawRows:
    """Read any supported local source; raise SourceError with the fix if it cannot be read."""
    columns = columns or ColumnNames()
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(f"source {source} does not exist; {SOURCE_HELP}")
    if path.is_dir():
        root = find_aclimdb_root(path)
        if root is not None:
            return read_aclimdb_folder(root, splits)
        files = sorted(p for p in path.iterdir() if p.is_file() and _table_kind(p))
        if not files:
            raise SourceError(
                f"folder {source} holds no aclImdb/ tree and no .parquet/.csv/.tsv/.jsonl files; "
                f"{SOURCE_HELP}"
            )
        return read_table_files(files, splits, columns, default_split, source)
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return read_aclimdb_archive(path, splits)
    if _table_kind(path):
        return read_table_files([path], splits, columns, default_split, source)
    raise SourceError(
        f"cannot read {source}: unsupported file type; {SOURCE_HELP}"
    )


def _table_kind(path: Path) -> str | None:
    return TABLE_SUFFIXES.get(path.suffix.lower())


# -- aclImdb folder and archive -----------------------------------------------------------------


def find_aclimdb_root(path: Path) -> Path | None:
    """``path`` itself or ``path/aclImdb`` when it has the original train/test layout."""
    for candidate in (path, path / "aclImdb"):
        if any((candidate / s / c).is_dir() for s in ("train", "test") for c in ("pos", "neg")):
            return candidate
    return None


def _aclimdb_row(rows: RawRows, split: str, cls: str, n: str, rating: str, data: Any,
                 where: str) -> None:
    # Same ids as the Parquet copy and the original file names: {split}_{pos|neg}_{n}, unsup_{n};
    # so ingesting the folder, the archive and the Parquet copy of one release is idempotent.
    if cls == "unsup":
        rows.add(data, None, f"unsup_{n}", None, "unsup", where)
    else:
        rows.add(data, 1 if cls == "pos" else 0, f"{split}_{cls}_{n}", int(rating), split, where)


def _aclimdb_split(split_dir: str, cls: str) -> str:
    return "unsup" if cls == "unsup" else split_dir


def read_aclimdb_folder(root: Path, splits: list[str] | None) -> RawRows:
    rows = RawRows()
    layout = [(s, c) for s in ("train", "test") for c in ("pos", "neg", "unsup")
              if (root / s / c).is_dir()]
    rows.available_splits = {_aclimdb_split(s, c) for s, c in layout}
    check_splits(splits, rows.available_splits, str(root))
    for split_dir, cls in layout:
        if splits and _aclimdb_split(split_dir, cls) not in splits:
            continue
        for file in sorted((root / split_dir / cls).iterdir()):
            m = re.fullmatch(r"(\d+)_(\d+)\.txt", file.name)
            if not m:
                continue
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise SourceError(f"cannot read {file}: {exc.strerror}; check permissions") from None
            _aclimdb_row(rows, split_dir, cls, m.group(1), m.group(2), data,
                         f"{split_dir}/{cls}/{file.name}")
    return rows


def read_aclimdb_archive(path: Path, splits: list[str] | None) -> RawRows:
    """Stream the original tarball; a truncated or corrupt archive fails before any write."""
    rows = RawRows()
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                m = _ACLIMDB_MEMBER.search(member.name)
                if not m or not member.isfile():
                    continue
                split_dir, cls, n, rating = m.groups()
                split = _aclimdb_split(split_dir, cls)
                rows.available_splits.add(split)
                if splits and split not in splits:
                    continue
                handle = tar.extractfile(member)
                data = handle.read() if handle else b""
                _aclimdb_row(rows, split_dir, cls, n, rating, data, member.name)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise SourceError(
            f"archive {path} is truncated or corrupt ({detail}); download it again "
            "(aclImdb_v1.tar.gz is 84 MB) or point --source at an unpacked aclImdb/ folder"
        ) from None
    if not rows.available_splits:
        raise SourceError(
            f"archive {path} holds no aclImdb/{{train,test}}/{{pos,neg,unsup}}/*.txt reviews; "
            f"{SOURCE_HELP}"
        )
    check_splits(splits, rows.available_splits, str(path))
    return rows


# -- table files ---------------------------------------------------------------------------------


def _pick(names: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
          source: str, option: str, required: bool) -> str | None:
    if wanted:
        if wanted not in names:
            raise SourceError(
                f"{source} has no column {wanted!r} (columns: {', '.join(names)}); fix {option}"
            )
        return wanted
    lowered = {n.lower(): n for n in names}
    for c in candidates:
        if c in lowered:
            return lowered[c]
    if required:
        raise SourceError(
            f"{source} has no {what} column (looked for {', '.join(candidates)}; columns: "
            f"{', '.join(names)}); name it with {option}"
        )
    return None


def _read_parquet(path: Path) -> tuple[list[str], dict[str, list[Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"cannot read Parquet file {path}: {exc}; is it complete?") from None
    data: dict[str, list[Any]] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            try:
                col.validate(full=True)
            except pa.ArrowInvalid:
                # Invalid UTF-8 inside a string column: hand the bytes over, rows get rejected.
                col = col.cast(pa.large_binary() if pa.types.is_large_string(col.type)
                               else pa.binary())
        data[name] = col.to_pylist()
    return table.column_names, data


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], dict[str, list[Any]]]:
    # Decode with surrogateescape so one bad byte sequence rejects one row, not the whole file.
    csv.field_size_limit(1 << 30)
    try:
        with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise SourceError(f"{path} is empty; {SOURCE_HELP}")
            names = [h.strip() for h in header]
            data: dict[str, list[Any]] = {n: [] for n in names}
            for record in reader:
                if not record:
                    continue
                record = record + [""] * (len(names) - len(record))
                for n, value in zip(names, record):
                    data[n].append(_unescape(value))
    except csv.Error as exc:
        raise SourceError(f"cannot parse CSV file {path}: {exc}; check quoting") from None
    return names, data


def _unescape(value: str) -> Any:
    """Strings holding undecodable bytes go back to bytes, so validation can reject them."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", errors="surrogateescape")


def _read_jsonl(path: Path) -> tuple[list[str], dict[str, list[Any]], list[tuple[int, str]]]:
    names: list[str] = []
    records: list[dict[str, Any]] = []
    bad: list[tuple[int, str]] = []
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except UnicodeDecodeError:
                bad.append((lineno, "text is not valid UTF-8"))
                continue
            except json.JSONDecodeError:
                bad.append((lineno, "line is not valid JSON"))
                continue
            if not isinstance(record, dict):
                bad.append((lineno, "line is not a JSON object"))
                continue
            for key in record:
                if key not in names:
                    names.append(key)
            records.append(record)
    data = {n: [r.get(n) for r in records] for n in names}
    return names, data, bad


def read_table_files(
    files: list[Path],
    splits: list[str] | None,
    columns: ColumnNames,
    default_split: str,
    source: str,
) -> RawRows:
    rows = RawRows()
    per_file = []
    for file in files:
        kind = _table_kind(file)
        bad: list[tuple[int, str]] = []
        if kind == "parquet":
            names, data = _read_parquet(file)
        elif kind in ("csv", "tsv"):
            names, data = _read_csv(file, "\t" if kind == "tsv" else ",")
        else:
            names, data, bad = _read_jsonl(file)
        # Each row's split, decided once: its split column, else the file name, else the default.
        stem = file.name.split(".")[0].lower()
        file_split = stem if stem in KNOWN_SPLITS else default_split
        split_col = _pick(names, None, SPLIT_COLUMNS, "split", str(file), "", False)
        n = len(next(iter(data.values()), []))
        row_splits = ([file_split if v is None else str(v) for v in data[split_col]]
                      if split_col else [file_split] * n)
        rows.available_splits.update(row_splits)
        if not split_col:
            rows.available_splits.add(file_split)
        per_file.append((file, names, data, bad, file_split, row_splits))
    check_splits(splits, rows.available_splits, source)

    for file, names, data, bad, file_split, row_splits in per_file:
        text_col = _pick(names, columns.text, TEXT_COLUMNS, "text", str(file), "--text-column",
                         True)
        label_col = _pick(names, columns.label, LABEL_COLUMNS, "label", str(file),
                          "--label-column", False)
        id_col = _pick(names, columns.id, ID_COLUMNS, "id", str(file), "--id-column", False)
        rating_col = _pick(names, None, RATING_COLUMNS, "rating", str(file), "", False)
        none = [None] * len(row_splits)
        texts, labels = data[text_col], data[label_col] if label_col else none
        ids, ratings = data[id_col] if id_col else none, data[rating_col] if rating_col else none
        for i, split in enumerate(row_splits):
            if splits and split not in splits:
                continue
            rows.add(texts[i], labels[i], ids[i], ratings[i], split, f"{file.name}:{i + 1}")
        for lineno, reason in bad:
            # Lines that could not even be parsed: rejected with their reason, like bad values.
            rows.add(_Unparseable(reason), None, None, None, file_split, f"{file.name}:{lineno}")
    return rows


class _Unparseable:
    """Placeholder text for a line that could not be parsed; validation rejects it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def unparseable_reason(value: Any) -> str | None:
    return value.reason if isinstance(value, _Unparseable) else None


# -- Hugging Face Hub ----------------------------------------------------------------------------


def read_hub(name: str, splits: list[str] | None) -> RawRows:
    """Load a dataset from the Hugging Face Hub (or its local cache when HF_HUB_OFFLINE=1)."""
    if not hub_offline_requested():
        ok, detail = hub_reachable()
        if not ok:
            raise NetworkError(
                f"cannot reach the Hugging Face Hub to load {name} ({detail}); with no internet, "
                f"{SOURCE_HELP}"
            )
    try:
        import datasets

        dsd = datasets.load_dataset(name)
    except Exception as exc:  # datasets raises many types: network, missing, auth
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NetworkError(f"cannot load {name} from the Hugging Face Hub ({first}); "
                           f"{SOURCE_HELP}") from None
    rows = RawRows()
    # stanfordnlp/imdb calls the unlabelled split "unsupervised"; asaas calls it "unsup".
    rename = {"unsupervised": "unsup"}
    rows.available_splits = {rename.get(s, s) for s in dsd}
    check_splits(splits, rows.available_splits, name)
    for hub_split, ds in dsd.items():
        split = rename.get(hub_split, hub_split)
        if splits and split not in splits:
            continue
        cols = ds.column_names
        text_col = _pick(cols, None, TEXT_COLUMNS, "text", name, "--source", True)
        label_col = _pick(cols, None, LABEL_COLUMNS, "label", name, "--source", False)
        texts = ds[text_col]
        labels = ds[label_col] if label_col else [None] * len(texts)
        for i, (text, label) in enumerate(zip(texts, labels)):
            if split == "unsup":
                label = None
            rows.add(text, label, None, None, split, f"{name}/{hub_split}:{i}")
    return rows
