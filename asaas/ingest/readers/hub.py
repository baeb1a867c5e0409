"""A Hugging Face Hub dataset (``hf:NAME``; ``stanfordnlp/imdb`` when no --source is given).

``datasets`` keeps the downloaded dataset as memory-mapped Arrow files, so iterating it in
batches holds one batch in memory. With ``HF_HUB_OFFLINE=1`` only the local cache is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asaas.errors import NetworkError
from asaas.hub import hub_offline_requested, hub_reachable
from asaas.ingest.readers.base import (
    SOURCE_HELP,
    RawBatch,
    ReadOptions,
    Source,
    SourceKind,
    register,
    resolve_columns,
)

#: stanfordnlp/imdb calls the unlabelled split "unsupervised"; asaas calls it "unsup".
_RENAME = {"unsupervised": "unsup"}


class HubSource(Source):
    def __init__(self, name: str, dataset: str, options: ReadOptions) -> None:
        super().__init__(name)
        self.dataset, self.options = dataset, options
        if not hub_offline_requested():
            ok, detail = hub_reachable()
            if not ok:
                raise NetworkError(
                    f"cannot reach the Hugging Face Hub to load {dataset} ({detail}); with no "
                    f"internet, {SOURCE_HELP}"
                )
        try:
            import datasets

            self.dsd = datasets.load_dataset(dataset)
        except Exception as exc:  # datasets raises many types: network, missing, auth
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            raise NetworkError(f"cannot load {dataset} from the Hugging Face Hub ({first}); "
                               f"{SOURCE_HELP}") from None

    def available_splits(self) -> set[str]:
        return {_RENAME.get(s, s) for s in self.dsd}

    def batches(self, splits: frozenset[str] | None) -> Iterator[RawBatch]:
        size = self.options.batch_rows
        for hub_split, ds in self.dsd.items():
            split = _RENAME.get(hub_split, hub_split)
            if splits and split not in splits:
                continue
            # Only text and label are looked for by their usual names: Hub datasets have always
            # been given ids derived from split and text, and must keep them (idempotency).
            specs = self.options.specs if self.options.preset is not None else {
                k: v for k, v in self.options.specs.items() if k in ("text", "label")}
            mapping = resolve_columns(list(ds.column_names), self.options,
                                      f"{self.dataset}/{hub_split}", specs=specs)
            first = 0
            for rows in ds.select_columns(list(dict.fromkeys(mapping.values()))).iter(size):
                n = len(next(iter(rows.values())))
                values: dict[str, list[Any]] = {f: rows[c] for f, c in mapping.items()}
                if split == "unsup" and "label" in values:
                    values["label"] = [None] * n  # IMDB marks unlabelled reviews -1 anyway
                yield RawBatch(values, [split] * n, (f"{self.dataset}/{hub_split}:", first))
                first += n


def _claims(source: str, path: Path) -> bool:
    return source.startswith("hf:")


register(SourceKind("Hugging Face Hub dataset", 0, _claims,
                    lambda source, path, options: HubSource(source, source[3:], options)))
