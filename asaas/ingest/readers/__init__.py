"""Readers: turn each kind of source into batches of raw rows, before any validation.

Supported sources, one module each (a new kind of source is one new module that calls
``base.register``; this package imports every module in it):

- ``aclimdb``: the original ``aclImdb/`` folder and ``aclImdb_v1.tar.gz`` archive;
- ``tables``: Parquet, CSV/TSV, JSON Lines and JSON files, or a folder of them;
- ``hub``: a Hugging Face Hub dataset (``hf:NAME``).

Format presets are the other kind of module here: not a kind of source but one store's records
(``--format NAME``: its column names, dataset, product kind, label words and JSON shapes). A new
store is one new module that calls ``presets.register_preset``:

- ``steam``: Steam's appreviews records and API pages.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from asaas.errors import SourceError
from asaas.ingest.readers.base import (
    BATCH_ROWS,
    SOURCE_HELP,
    SOURCE_KINDS,
    ColumnNames,
    RawBatch,
    ReadOptions,
    Skipped,
    Source,
    check_splits,
    read_error,
    unparseable_reason,
)
from asaas.ingest.readers.presets import FormatPreset, get_preset, preset_names, register_preset

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["BATCH_ROWS", "ColumnNames", "FormatPreset", "RawBatch", "ReadOptions", "Skipped",
           "Source", "check_splits", "get_preset", "open_source", "preset_names",
           "register_preset", "unparseable_reason"]


def open_source(source: str, options: ReadOptions | None = None) -> Source:
    """Open any supported source; SourceError (one line, with the fix) when it cannot be."""
    options = options or ReadOptions()
    path = Path(source).expanduser()
    try:
        if not source.startswith("hf:") and not path.exists():
            raise SourceError(f"source {source} does not exist; {SOURCE_HELP}")
        for kind in SOURCE_KINDS:
            if kind.claims(source, path):
                return kind.open(source, path, options)
    except OSError as exc:
        raise read_error(source, exc) from None
    raise SourceError(f"cannot read {source}: unsupported file type; {SOURCE_HELP}")
