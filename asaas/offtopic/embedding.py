"""The sentence embedders of the off-topic blocks and of topics, through asaas' embedding cache
(asaas.models.embeddings): a review is embedded once per embedder, whoever asks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from asaas.offtopic.features import EMBED_MAX_TOKENS, EmbedFn

#: Keys an identity carries besides the embedder's own: the sha256 of the encoder's files and
#: the folder they were read from (MiniLM from a local folder), so a version loads the encoder
#: only from files that match what it was trained with, found where they were.
FILES, PATH = "files", "path"


def embedder(block: str, *, home: Path | str | None, threads: int | None = None,
             identity: dict[str, Any] | None = None, max_tokens: int | None = None,
             path: str | None = None) -> tuple[EmbedFn, dict[str, Any]]:
    """(texts -> L2-normalised vectors, the embedder's identity) for an embedding block.

    ``identity``: what a trained version recorded; the embedder is built with the same token
    limit, from encoder files matching the recorded checksums (in ``ASAAS_MINILM`` when set,
    else the recorded folder), and refused (one line) if it would make other vectors.
    ``path``: the MiniLM folder (else ``ASAAS_MINILM``, else the Hub id). ``home``: ASAAS_HOME,
    whose cache keeps the vectors (None: no cache)."""
    from asaas.models.embeddings import cached, check_identity, get_embedder
    from asaas.settings import EmbeddingSettings

    recorded = dict(identity or {})
    files = recorded.pop(FILES, None)
    folder = path or EmbeddingSettings().minilm or recorded.pop(PATH, None)
    recorded.pop(PATH, None)
    tokens = recorded.get("max_tokens") or max_tokens or EMBED_MAX_TOKENS.get(block)
    model = get_embedder(block, max_tokens=tokens, threads=threads,
                         path=folder if block == "minilm" else None, expected_sha256=files)
    if identity is not None:
        check_identity(f"the {block} block", recorded, model)
    store = cached(model, home)

    def embed(texts: Any) -> np.ndarray:
        return store.embed(list(texts))

    out = dict(model.identity)
    if getattr(model, "sha256", None):  # a local encoder folder: its files and where
        out[FILES] = dict(model.sha256)
        out[PATH] = str(Path(model.ref).expanduser().resolve())
    return embed, out
