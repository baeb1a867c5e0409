"""Table files: Parquet, CSV, TSV, JSON Lines and JSON documents, one file or a folder of them.

Every format is streamed in batches: Parquet row batches of only the columns used, CSV and JSON
Lines record by record. A JSON document that is not JSON Lines (a Steam API page, a list of
records) has to be parsed whole, so its size bounds memory: use JSON Lines for big files.

A row's split is decided once: its split column, else the file name (``train.csv``), else the
default split. Files of a folder that cannot be read (unknown type, subfolder, broken link,
permission denied) are skipped and reported, never silently.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asaas.errors import SourceError
from asaas.ingest.readers.base import (
    SOURCE_HELP,
    SPLIT_COLUMNS,
    RawBatch,
    ReadOptions,
    Skipped,
    Source,
    SourceKind,
    Unparseable,
    file_split,
    read_error,
    register,
    resolve_columns,
)
from asaas.ingest.readers.presets import preset_document_records

SUFFIXES = {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
            ".ndjson": "jsonl", ".json": "json"}

#: CSV fields may hold whole reviews; the csv module's default limit (128 KiB) is too small.
csv.field_size_limit(1 << 30)


class _Unreadable(SourceError):
    """The operating system refused to open a file (a folder skips it, a lone file fails)."""


def table_kind(path: Path) -> str | None:
    return SUFFIXES.get(path.suffix.lower())


def _check_unique(names: list[str], where: str) -> None:
    twice = [n for n, c in Counter(names).items() if c > 1]
    if twice:
        raise SourceError(
            f"{where} has the column {twice[0]!r} more than once; rename the copies so each "
            "column name appears once"
        )


@dataclass
class _Chunk:
    """Up to batch_rows records of one file: wanted column -> values, plus unparseable ones."""

    data: dict[str, list[Any]]
    n: int
    where: list[str] | tuple[str, int]
    bad: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)


class _File:
    """One table file. ``prepare`` reads what is cheap (schema, header, first lines)."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self.path, self.options = path, options
        self.names: list[str] | None = None

    def prepare(self) -> None:
        raise NotImplementedError

    def load_names(self) -> list[str]:
        """Column names, reading the file when ``prepare`` could not (JSON documents)."""
        assert self.names is not None
        return self.names

    def chunks(self, wanted: list[str]) -> Iterator[_Chunk]:
        raise NotImplementedError

    def _open_text(self, **kwargs: Any) -> Any:
        """``Path.open``; the system's refusal becomes _Unreadable (one line, with the fix)."""
        try:
            return self.path.open(**kwargs)
        except OSError as exc:
            raise _Unreadable(str(read_error(self.path, exc))) from None


# -- Parquet -------------------------------------------------------------------------------------


class _Parquet(_File):
    def prepare(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with self._open_text(mode="rb"):
            pass  # a file the system refuses is named as such, not as a broken Parquet file
        try:
            # pre_buffer off: with it on, pyarrow keeps every column chunk it has read cached
            # for the file's lifetime (5M short reviews: 508 MB of Arrow memory, against 12 MB
            # streamed), so memory grew with the file after all.
            self.file = pq.ParquetFile(self.path, pre_buffer=False)
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"cannot read Parquet file {self.path}: {exc}; is it complete?"
                              ) from None
        self.names = list(self.file.schema_arrow.names)
        _check_unique(self.names, str(self.path))

    def chunks(self, wanted: list[str]) -> Iterator[_Chunk]:
        import pyarrow as pa

        first = 1
        try:
            for rb in self.file.iter_batches(batch_size=self.options.batch_rows, columns=wanted):
                data = {name: _python_values(rb.column(i)) for i, name in
                        enumerate(rb.schema.names)}
                yield _Chunk(data, rb.num_rows, (f"{self.path.name}:", first))
                first += rb.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(f"cannot read Parquet file {self.path} after row {first - 1:,}: "
                              f"{exc}; is it complete?") from None


def _python_values(arr: Any) -> list[Any]:
    import pyarrow as pa

    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            arr.validate(full=True)
        except pa.ArrowInvalid:
            # Invalid UTF-8 inside a string column: hand the bytes over, their rows get rejected.
            arr = arr.cast(pa.large_binary() if pa.types.is_large_string(t) else pa.binary())
    elif pa.types.is_timestamp(t):
        # Arrow keeps instants in UTC: dropping the zone gives naive UTC, the database's
        # convention; nanoseconds would come back as pandas Timestamps.
        arr = arr.cast(pa.timestamp("us"), safe=False)
    return arr.to_pylist()


# -- CSV / TSV -----------------------------------------------------------------------------------


class _Csv(_File):
    def __init__(self, path: Path, options: ReadOptions, delimiter: str) -> None:
        super().__init__(path, options)
        self.delimiter = delimiter

    def _reader(self, fh: Any, lines: list[list[str]]) -> Any:
        def feed() -> Iterator[str]:
            for line in fh:
                lines[0].append(line)
                yield line

        return csv.reader(feed(), delimiter=self.delimiter)

    def _open(self) -> Any:
        # utf-8-sig drops the byte-order mark Excel writes; surrogateescape keeps a bad byte
        # sequence to one rejected row instead of failing the file.
        return self._open_text(mode="r", encoding="utf-8-sig", errors="surrogateescape",
                               newline="")

    def prepare(self) -> None:
        with self._open() as fh:
            try:
                header = next(csv.reader(fh, delimiter=self.delimiter), None)
            except csv.Error as exc:
                raise SourceError(f"cannot parse the header of {self.path}: {exc}; check quoting"
                                  ) from None
        if header is None:
            raise SourceError(f"{self.path} is empty; {SOURCE_HELP}")
        self.names = [h.strip() for h in header]
        _check_unique(self.names, f"CSV file {self.path}")

    def chunks(self, wanted: list[str]) -> Iterator[_Chunk]:
        assert self.names is not None
        positions = [self.names.index(w) for w in wanted]
        width = len(self.names)
        lines: list[list[str]] = [[]]
        last: list[str] = []
        start = 1
        with self._open() as fh:
            reader = self._reader(fh, lines)
            try:
                next(reader, None)  # the header
                lines[0], start = [], reader.line_num + 1
                data: dict[str, list[Any]] = {w: [] for w in wanted}
                where: list[str] = []
                for record in reader:
                    last, lines[0] = lines[0], []
                    line, start = start, reader.line_num + 1
                    if not record:
                        continue
                    if len(record) < width:
                        record = record + [""] * (width - len(record))
                    for w, p in zip(wanted, positions):
                        data[w].append(_unescape(record[p]))
                    where.append(f"{self.path.name}:{line}")
                    if len(where) >= self.options.batch_rows:
                        yield _Chunk(data, len(where), where)
                        data, where = {w: [] for w in wanted}, []
            except csv.Error as exc:
                raise SourceError(f"cannot parse CSV file {self.path} at line {reader.line_num}: "
                                  f"{exc}; check quoting") from None
            except UnicodeDecodeError as exc:
                raise SourceError(f"cannot decode {self.path}: {exc}") from None
            self._check_closed(last, line if last else start)
            if where:
                yield _Chunk(data, len(where), where)

    def _check_closed(self, last: list[str], line: int) -> None:
        """A quote that is never closed makes the csv module read every later line into one
        field; re-parse the file's last record strictly to tell that from a legal one."""
        if not last:
            return
        try:
            list(csv.reader(last, delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise SourceError(
                    f"CSV file {self.path}: the quoted field that starts on line {line} is never "
                    f"closed, so the {len(last):,} lines after it would be read as one value; "
                    "close the quote (a quote inside a quoted field is written twice: \"\")"
                ) from None


def _unescape(value: str) -> Any:
    """Strings holding undecodable bytes go back to bytes, so validation can reject them."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", errors="surrogateescape")


# -- JSON Lines and JSON documents ---------------------------------------------------------------


def flatten_nested(record: dict[str, Any]) -> dict[str, Any]:
    """One level of nesting flattened: ``{"author": {"steamid": 1}}`` -> ``author_steamid``
    (what a format preset gets unless it flattens its records its own way)."""
    if not any(isinstance(v, dict) for v in record.values()):
        return record
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                out.setdefault(f"{key}_{sub}", v)
        else:
            out[key] = value
    return out


def _flattener(options: ReadOptions) -> Callable[[dict[str, Any]], dict[str, Any]]:
    preset = options.preset
    return preset.flatten if preset is not None and preset.flatten else flatten_nested


def document_records(doc: Any, options: ReadOptions) -> list[Any] | None:
    """The review records of a parsed JSON document, or None when it holds no list of them:
    a shape the selected preset knows, a plain list of records, or a shape any preset knows
    (Steam's ``{"reviews": [...]}`` is read with or without --format steam)."""
    preset = options.preset
    if preset is not None and preset.document_records is not None:
        records = preset.document_records(doc)
        if records is not None:
            return records
    if isinstance(doc, list):
        return doc
    return preset_document_records(doc)


def is_document(line: Any, options: ReadOptions) -> bool:
    """A one-line JSON object that is a whole page (``{"reviews": [...]}``), not a record."""
    return isinstance(line, dict) and document_records(line, options) is not None


def _parse_line(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    try:
        record = json.loads(line)
    except UnicodeDecodeError:
        return None, "text is not valid UTF-8"
    except json.JSONDecodeError:
        return None, "line is not valid JSON"
    if not isinstance(record, dict):
        return None, "line is not a JSON object"
    return record, None


class _JsonLines(_File):
    """One JSON object per line. Column names: the keys of the first batch of records."""

    def prepare(self) -> None:
        names: dict[str, None] = {}
        for records, _bad, _where in self._records(limit=self.options.batch_rows):
            for record in records:
                names.update(dict.fromkeys(record))
        self.names = list(names)

    def _records(self, limit: int | None = None
                 ) -> Iterator[tuple[list[dict[str, Any]], list[tuple[str, str]], list[str]]]:
        records: list[dict[str, Any]] = []
        bad: list[tuple[str, str]] = []
        where: list[str] = []
        seen = 0
        flatten = _flattener(self.options)
        with self._open_text(mode="rb") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                record, reason = _parse_line(line)
                if record is None:
                    bad.append((f"{self.path.name}:{lineno}", reason or "bad line"))
                else:
                    records.append(flatten(record))
                    where.append(f"{self.path.name}:{lineno}")
                seen += 1
                if len(records) + len(bad) >= self.options.batch_rows:
                    yield records, bad, where
                    records, bad, where = [], [], []
                if limit is not None and seen >= limit:
                    break
        if records or bad:
            yield records, bad, where

    def chunks(self, wanted: list[str]) -> Iterator[_Chunk]:
        for records, bad, where in self._records():
            data = {w: [r.get(w) for r in records] for w in wanted}
            yield _Chunk(data, len(records), where, bad)


class _JsonDocument(_File):
    """A ``.json`` file: JSON Lines, or one document (a list of records, a Steam API page)."""

    def prepare(self) -> None:
        with self._open_text(mode="rb") as fh:
            first = fh.readline()
        record, _ = _parse_line(first)
        self.lines: _JsonLines | None = None
        self._loaded: list[Any] | None = None
        if record is not None and not is_document(record, self.options):
            self.lines = _JsonLines(self.path, self.options)
            self.lines.prepare()
            self.names = self.lines.names

    def _load(self) -> list[Any]:
        with self._open_text(mode="rb") as fh:
            try:
                doc = json.load(fh)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise SourceError(f"{self.path} is neither JSON Lines nor one JSON document "
                                  f"({exc}); fix the file or name it .jsonl") from None
        records = document_records(doc, self.options)
        if records is None:
            raise SourceError(f"{self.path} holds a JSON document without a list of reviews "
                              "(expected [{...}, ...] or {\"reviews\": [...]}); "
                              f"{SOURCE_HELP}")
        return records

    def load_names(self) -> list[str]:
        if self.lines is None and self._loaded is None:
            flatten = _flattener(self.options)
            self._loaded = [flatten(r) if isinstance(r, dict) else r for r in self._load()]
            names: dict[str, None] = {}
            for r in self._loaded:
                if isinstance(r, dict):
                    names.update(dict.fromkeys(r))
            self.names = list(names)
        assert self.names is not None
        return self.names

    def chunks(self, wanted: list[str]) -> Iterator[_Chunk]:
        if self.lines is not None:
            yield from self.lines.chunks(wanted)
            return
        self.load_names()
        records, self._loaded = self._loaded or [], None  # released once chunked
        size = self.options.batch_rows
        for start in range(0, len(records), size):
            part = records[start:start + size]
            good = [r for r in part if isinstance(r, dict)]
            where = [f"{self.path.name}:#{start + i + 1}" for i, r in enumerate(part)
                     if isinstance(r, dict)]
            bad = [(f"{self.path.name}:#{start + i + 1}", "record is not a JSON object")
                   for i, r in enumerate(part) if not isinstance(r, dict)]
            yield _Chunk({w: [r.get(w) for r in good] for w in wanted}, len(good), where, bad)


def _file_reader(path: Path, options: ReadOptions) -> _File:
    kind = table_kind(path)
    if kind == "parquet":
        return _Parquet(path, options)
    if kind in ("csv", "tsv"):
        return _Csv(path, options, "\t" if kind == "tsv" else ",")
    if kind == "jsonl":
        return _JsonLines(path, options)
    return _JsonDocument(path, options)


# -- the source ----------------------------------------------------------------------------------


class TableFiles(Source):
    """Table files of one kind or several. In a folder, files the system refuses are skipped
    and reported; a single file that cannot be opened stops the ingest."""

    def __init__(self, name: str, files: list[Path], options: ReadOptions, *,
                 in_folder: bool, skipped: list[Skipped]) -> None:
        super().__init__(name)
        self.options, self.in_folder = options, in_folder
        self.skipped_files = skipped
        self.files: list[_File] = []
        for path in files:
            reader = _file_reader(path, options)
            if self._try(reader.prepare, path):
                self.files.append(reader)

    def _try(self, step: Any, path: Path) -> bool:
        try:
            step()
            return True
        except _Unreadable as exc:
            if not self.in_folder:
                raise SourceError(str(exc)) from None
            self.skipped_files.append(Skipped(str(path), str(exc).split(": ", 1)[-1]))
            return False

    def _file_product(self, path: Path) -> str | None:
        pattern = self.options.product_from_file_name
        m = pattern.search(path.name) if pattern else None
        return m.group(1) if m else None

    def _layout(self, reader: _File) -> tuple[dict[str, str], str | None]:
        names = reader.load_names()
        mapping = resolve_columns(names, self.options, str(reader.path),
                                  file_product=self._file_product(reader.path) is not None)
        lowered = {n.lower(): n for n in names}
        split_col = next((lowered[c] for c in SPLIT_COLUMNS if c in lowered), None)
        return mapping, split_col

    def available_splits(self) -> set[str]:
        out: set[str] = set()
        for reader in list(self.files):
            fsplit = file_split(reader.path, self.options.default_split)
            values: set[str] = set()
            if not self._try(lambda: values.update(self._file_splits(reader, fsplit)),
                             reader.path):
                self.files.remove(reader)
                continue
            out |= values
        return out

    def _file_splits(self, reader: _File, fsplit: str) -> set[str]:
        _mapping, split_col = self._layout(reader)
        if split_col is None:
            return {fsplit}
        found: set[str] = set()
        for chunk in reader.chunks([split_col]):
            found.update(_split_value(v, fsplit) for v in chunk.data[split_col])
            if chunk.bad:
                found.add(fsplit)
        return found

    def batches(self, splits: frozenset[str] | None) -> Iterator[RawBatch]:
        for reader in self.files:
            fsplit = file_split(reader.path, self.options.default_split)
            product = self._file_product(reader.path)
            try:
                mapping, split_col = self._layout(reader)
                wanted = list(dict.fromkeys([*mapping.values(), *([split_col] if split_col
                                                                  else [])]))
                for chunk in reader.chunks(wanted):
                    batch = _batch(chunk, mapping, split_col, fsplit, splits, product)
                    if batch is not None:
                        yield batch
            except _Unreadable as exc:
                if not self.in_folder:
                    raise SourceError(str(exc)) from None
                self.skipped_files.append(Skipped(str(reader.path),
                                                  str(exc).split(": ", 1)[-1]))


def _split_value(value: Any, fsplit: str) -> str:
    if value is None:
        return fsplit
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    return text if text else fsplit


def _batch(chunk: _Chunk, mapping: dict[str, str], split_col: str | None, fsplit: str,
           splits: frozenset[str] | None, product: str | None) -> RawBatch | None:
    n = chunk.n
    row_splits = ([_split_value(v, fsplit) for v in chunk.data[split_col]] if split_col
                  else [fsplit] * n)
    values = {fld: chunk.data[col] for fld, col in mapping.items()}
    where: list[str] | tuple[str, int] = chunk.where
    if splits and any(s not in splits for s in row_splits):
        keep = [i for i, s in enumerate(row_splits) if s in splits]
        values = {fld: [col[i] for i in keep] for fld, col in values.items()}
        row_splits = [row_splits[i] for i in keep]
        where = [_where(chunk.where, i) for i in keep]
    if chunk.bad and (not splits or fsplit in splits):
        # Records that could not even be parsed: rejected with their reason, like bad values.
        if isinstance(where, tuple):
            where = [_where(where, i) for i in range(len(row_splits))]
        for place, reason in chunk.bad:
            for fld, col in values.items():
                col.append(Unparseable(reason) if fld == "text" else None)
            row_splits.append(fsplit)
            where.append(place)
    if not row_splits:
        return None
    return RawBatch(values, row_splits, where, product)


def _where(where: list[str] | tuple[str, int], i: int) -> str:
    if isinstance(where, tuple):
        return f"{where[0]}{where[1] + i}"
    return where[i]


def _list_folder(folder: Path) -> tuple[list[Path], list[Skipped]]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise read_error(folder, exc, "list the folder") from None
    files: list[Path] = []
    skipped: list[Skipped] = []
    for entry in entries:
        try:
            if entry.is_symlink() and not entry.exists():
                skipped.append(Skipped(str(entry), "broken symbolic link or link loop"))
            elif entry.is_dir():
                skipped.append(Skipped(str(entry), "subfolder (not searched)"))
            elif not entry.is_file():
                skipped.append(Skipped(str(entry), "not a regular file"))
            elif table_kind(entry) is None:
                skipped.append(Skipped(str(entry), "unsupported file type"))
            else:
                files.append(entry)
        except OSError as exc:
            skipped.append(Skipped(str(entry), exc.strerror or type(exc).__name__))
    return files, skipped


def _claims(source: str, path: Path) -> bool:
    return path.is_dir() or (path.is_file() and table_kind(path) is not None)


def _open(source: str, path: Path, options: ReadOptions) -> Source:
    if not path.is_dir():
        return TableFiles(source, [path], options, in_folder=False, skipped=[])
    files, skipped = _list_folder(path)
    if not files:
        raise SourceError(
            f"folder {source} holds no aclImdb/ tree and no .parquet/.csv/.tsv/.jsonl/.json "
            f"files; {SOURCE_HELP}"
        )
    return TableFiles(source, files, options, in_folder=True, skipped=skipped)


register(SourceKind("table files", 50, _claims, _open))
