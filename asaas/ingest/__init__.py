"""Ingest reviews from files, archives and the Hugging Face Hub into the store.

- ``run``: ``ingest()``, one ingest run from an open source to a row of ``ingest_runs``;
- ``options``: ``IngestOptions``, built from ``asaas ingest``'s flags and from job files alike;
- ``readers/``: one module per kind of source, and the format presets (``--format steam``);
- ``validate``: every row judged the same way on every engine;
- ``writer``: new rows written, stored ones skipped, products created.

The names below are loaded on first use, so that importing a submodule (the command line reads
the format presets) does not load pyarrow, SQLAlchemy and the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asaas.ingest.options import IngestOptions, parse_label_map, parse_split_before
    from asaas.ingest.readers import ColumnNames, open_source
    from asaas.ingest.run import IngestReport, ingest
    from asaas.ingest.validate import normalize_label, parse_time

#: Exported name -> the submodule that defines it.
_EXPORTS = {
    "ColumnNames": "readers", "open_source": "readers",
    "IngestOptions": "options", "parse_label_map": "options", "parse_split_before": "options",
    "IngestReport": "run", "ingest": "run",
    "normalize_label": "validate", "parse_time": "validate",
}

__all__ = ["ColumnNames", "IngestOptions", "IngestReport", "ingest", "normalize_label",
           "open_source", "parse_label_map", "parse_split_before", "parse_time"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
