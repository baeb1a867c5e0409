"""The original IMDB release: the ``aclImdb/`` folder and the ``aclImdb_v1.tar.gz`` archive.

Layout: ``aclImdb/{train,test}/{pos,neg,unsup}/{id}_{rating}.txt``. Ids are the ones the Parquet
copy uses (``train_pos_123``, ``unsup_42``), so ingesting the folder, the archive and the Parquet
copy of one release is idempotent. The archive is streamed without unpacking to disk.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asaas.errors import SourceError
from asaas.ingest.readers.base import (
    SOURCE_HELP,
    RawBatch,
    ReadOptions,
    Source,
    SourceKind,
    Unparseable,
    check_splits,
    read_error,
    register,
)

_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")
_FILE = re.compile(r"(\d+)_(\d+)\.txt")


def find_root(path: Path) -> Path | None:
    """``path`` itself or ``path/aclImdb`` when it has the original train/test layout."""
    for candidate in (path, path / "aclImdb"):
        if any((candidate / s / c).is_dir() for s in ("train", "test") for c in ("pos", "neg")):
            return candidate
    return None


def _split(split_dir: str, cls: str) -> str:
    return "unsup" if cls == "unsup" else split_dir


class _Rows:
    """Collects aclImdb rows into batches."""

    def __init__(self, batch_rows: int) -> None:
        self.batch_rows = batch_rows
        self._new()

    def _new(self) -> None:
        self.texts: list[Any] = []
        self.labels: list[Any] = []
        self.ids: list[str] = []
        self.ratings: list[Any] = []
        self.splits: list[str] = []
        self.where: list[str] = []

    def add(self, split_dir: str, cls: str, n: str, rating: str, data: Any, where: str) -> None:
        if cls == "unsup":
            self.labels.append(None)
            self.ids.append(f"unsup_{n}")
            self.ratings.append(None)
        else:
            self.labels.append(1 if cls == "pos" else 0)
            self.ids.append(f"{split_dir}_{cls}_{n}")
            self.ratings.append(int(rating))
        self.texts.append(data)
        self.splits.append(_split(split_dir, cls))
        self.where.append(where)

    def full(self) -> bool:
        return len(self.texts) >= self.batch_rows

    def take(self) -> RawBatch:
        batch = RawBatch({"text": self.texts, "label": self.labels, "id": self.ids,
                          "rating": self.ratings}, self.splits, self.where)
        self._new()
        return batch


class FolderSource(Source):
    def __init__(self, name: str, root: Path, options: ReadOptions) -> None:
        super().__init__(name)
        self.root, self.options = root, options
        self.layout = [(s, c) for s in ("train", "test") for c in ("pos", "neg", "unsup")
                       if (root / s / c).is_dir()]

    def available_splits(self) -> set[str]:
        return {_split(s, c) for s, c in self.layout}

    def batches(self, splits: frozenset[str] | None) -> Iterator[RawBatch]:
        rows = _Rows(self.options.batch_rows)
        for split_dir, cls in self.layout:
            if splits and _split(split_dir, cls) not in splits:
                continue
            folder = self.root / split_dir / cls
            try:
                files = sorted(folder.iterdir())
            except OSError as exc:
                raise read_error(folder, exc, "list the folder") from None
            for file in files:
                m = _FILE.fullmatch(file.name)
                if not m:
                    continue
                try:
                    data: Any = file.read_bytes()
                except OSError as exc:
                    # One review that cannot be read is one rejected row, not a failed ingest.
                    data = Unparseable(f"file cannot be read ({exc.strerror or 'error'})")
                rows.add(split_dir, cls, m.group(1), m.group(2), data,
                         f"{split_dir}/{cls}/{file.name}")
                if rows.full():
                    yield rows.take()
        if rows.texts:
            yield rows.take()


class ArchiveSource(Source):
    """The tarball, streamed once; its splits are known only after reading it, so a --split
    selection is checked at the end (the ingest transaction is then rolled back)."""

    def __init__(self, name: str, path: Path, options: ReadOptions) -> None:
        super().__init__(name)
        self.path, self.options = path, options

    def batches(self, splits: frozenset[str] | None) -> Iterator[RawBatch]:
        rows = _Rows(self.options.batch_rows)
        available: set[str] = set()
        try:
            with tarfile.open(self.path, mode="r|*") as tar:
                for member in tar:
                    m = _MEMBER.search(member.name)
                    if not m or not member.isfile():
                        continue
                    split_dir, cls, n, rating = m.groups()
                    split = _split(split_dir, cls)
                    available.add(split)
                    if splits and split not in splits:
                        continue
                    handle = tar.extractfile(member)
                    rows.add(split_dir, cls, n, rating, handle.read() if handle else b"",
                             member.name)
                    if rows.full():
                        yield rows.take()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            if isinstance(exc, PermissionError):
                raise read_error(self.path, exc) from None
            detail = str(exc).strip() or type(exc).__name__
            raise SourceError(
                f"archive {self.path} is truncated or corrupt ({detail}); download it again "
                "(aclImdb_v1.tar.gz is 84 MB) or point --source at an unpacked aclImdb/ folder"
            ) from None
        if not available:
            raise SourceError(
                f"archive {self.path} holds no aclImdb/{{train,test}}/{{pos,neg,unsup}}/*.txt "
                f"reviews; {SOURCE_HELP}"
            )
        check_splits(splits, available, str(self.path))
        if rows.texts:
            yield rows.take()


def _claims_folder(source: str, path: Path) -> bool:
    return path.is_dir() and find_root(path) is not None


def _open_folder(source: str, path: Path, options: ReadOptions) -> Source:
    root = find_root(path)
    assert root is not None
    return FolderSource(str(root), root, options)


def _claims_archive(source: str, path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith((".tar.gz", ".tgz", ".tar"))


register(SourceKind("aclImdb folder", 10, _claims_folder, _open_folder))
register(SourceKind("aclImdb archive", 20, _claims_archive,
                    lambda source, path, options: ArchiveSource(source, path, options)))
