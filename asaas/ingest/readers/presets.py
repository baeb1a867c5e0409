"""Format presets: what one store's review records look like, so that ``--format NAME`` (or
``format = "NAME"`` in a job file) reads them without naming every column.

A store (Steam today; Google Play, the App Store next) is one module of this package that calls
``register_preset`` when imported (``asaas.ingest.readers`` imports every module in it). Nothing
else names a store: the ingest options, the table readers and ``asaas ingest`` ask the registry.

A preset says:

- ``specs``: which column holds each field when the user names none (text, id, label, time,
  language, product, product name, early access, developer response...). A required field
  missing from a file stops the ingest with the preset's name and the option that fixes it;
- ``dataset``: the dataset name when no ``--dataset`` is given; ``product_kind``: products.kind
  of the products it creates;
- ``label_map``: label words its records use (the user's ``--label-map`` is read first);
- ``product_from_file_name``: file names that carry the product id, for the API's own pages,
  whose records do not (Steam: ``review_<appid>.json``);
- JSON shapes: ``document_records`` finds the records in a whole-file JSON document that is not
  a plain list of them (Steam: ``{"reviews": [...]}``); ``flatten`` turns one record's nested
  objects into columns (default: one level, ``{"author": {"id": 1}}`` -> ``author_id``).

The selected preset's ``document_records`` is tried first on a JSON document, then the usual
shapes, then every other preset's: a store's files stay readable without ``--format`` too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from asaas.errors import ConfigError
from asaas.ingest.readers.base import FieldSpec


@dataclass(frozen=True)
class FormatPreset:
    """One store's review records (see the module docstring)."""

    #: The ``--format`` value.
    name: str
    #: What ``asaas ingest --help`` says it reads, after "NAME reads".
    summary: str
    #: Field (a ColumnNames name) -> how to find its column.
    specs: Mapping[str, FieldSpec]
    #: Dataset name when none is given.
    dataset: str
    #: products.kind of the products it creates (None: left empty).
    product_kind: str | None = None
    #: Label words -> 1, 0 or None (unlabelled), lower-case; the user's --label-map comes first.
    label_map: Mapping[str, int | None] | None = None
    #: A file name that carries the product id (group 1), for records that do not.
    product_from_file_name: re.Pattern[str] | None = None
    #: A parsed JSON document -> its review records, or None when it is not this store's.
    document_records: Callable[[Any], list[Any] | None] | None = None
    #: One JSON record -> the flat record whose keys are columns (None: one level flattened).
    flatten: Callable[[dict[str, Any]], dict[str, Any]] | None = None


#: name -> preset, filled as each store's module is imported.
PRESETS: dict[str, FormatPreset] = {}


def register_preset(preset: FormatPreset) -> FormatPreset:
    """Make ``preset`` known to ``--format``, job files and the JSON readers; returns it."""
    if preset.name in PRESETS and PRESETS[preset.name] is not preset:
        raise ValueError(f"format preset {preset.name!r} is registered twice")
    PRESETS[preset.name] = preset
    return preset


def unregister_preset(name: str) -> None:
    """Forget a preset (tests that register their own)."""
    PRESETS.pop(name, None)


def preset_names() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str | None, option: str = "--format") -> FormatPreset | None:
    """The preset called ``name`` (None for None); ConfigError naming ``option`` when unknown."""
    if name is None:
        return None
    preset = PRESETS.get(name)
    if preset is None:
        raise ConfigError(f"{option} {name!r} is not known; use one of "
                          f"{', '.join(preset_names())} (or leave it out)")
    return preset


def preset_document_records(doc: Any) -> list[Any] | None:
    """The records of a JSON document in a shape some preset knows, or None."""
    for preset in PRESETS.values():
        if preset.document_records is not None:
            records = preset.document_records(doc)
            if records is not None:
                return records
    return None


__all__ = ["FormatPreset", "PRESETS", "get_preset", "preset_document_records", "preset_names",
           "register_preset", "unregister_preset"]
