"""The sentence embedders of the off-topic blocks and of topics, through asaas' embedding cache
(asaas.models.embeddings): a review is embedded once per embedder, whoever asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from asaas.offtopic.features import EMBED_MAX_TOKENS, EmbedFn

#: Key of an identity holding the sha256 of the encoder's files (MiniLM from a local folder):
#: a version loads the encoder only from files that match what it was trained with.
FILES = "files"


def embedder(block: str, *, home: Path | str | None, threads: int | None = None,
             identity: dict[str, Any] | None = None, max_tokens: int | None = None
             ) -> tuple[EmbedFn, dict[str, Any]]:
    """(texts -> L2-normalised vectors, the embedder's identity) for an embedding block.

    ``identity``: what a trained version recorded; the embedder is built with the same token
    limit, from encoder files matching the recorded checksums, and refused (one line) if it
    would make other vectors. ``home``: ASAAS_HOME, whose cache keeps the vectors (None: no
    cache)."""
    from asaas.models.embeddings import cached, check_identity, get_embedder

    recorded = dict(identity or {})
    files = recorded.pop(FILES, None)  # the encoder's files as the version was trained with
    tokens = recorded.get("max_tokens") or max_tokens or EMBED_MAX_TOKENS.get(block)
    model = get_embedder(block, max_tokens=tokens, threads=threads, expected_sha256=files)
    if identity is not None:
        check_identity(f"the {block} block", recorded, model)
    store = cached(model, home)

    def embed(texts: Any) -> np.ndarray:
        return store.embed(list(texts))

    out = dict(model.identity)
    if getattr(model, "sha256", None):  # a local encoder folder: its files' checksums
        out[FILES] = dict(model.sha256)
    return embed, out
