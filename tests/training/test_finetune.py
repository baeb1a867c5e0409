"""Fine-tuning (asaas/training/finetune.py): `asaas train finetuned` registers a standard Hugging
Face folder, is reproducible from a seed and resumes mid-epoch to the same weights (from a
checkpoint that cannot run code), batches by length, weighs classes on request, skips a recipe
already trained, and refuses bases that are not models in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from asaas.store import open_store
from asaas.training.finetune import FinetuneOptions, finetune, length_grouped_batches
from tests.helpers import RunsCode, accuracy, err
from tests.helpers import ok as _ok
from tests.helpers import q as _q


def _err(result):
    return err(result, after_log_lines=True)


def test_length_grouped_batches_are_seeded_and_cover_everything():
    lengths = [(i * 37) % 101 for i in range(1000)]
    a = length_grouped_batches(lengths, 16, seed=1, epoch=0)
    assert a == length_grouped_batches(lengths, 16, seed=1, epoch=0)
    assert a != length_grouped_batches(lengths, 16, seed=1, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in a) / len(a)
    assert spread < 10  # batches hold similar lengths, so little padding


def _opts(base: Path, **kw) -> FinetuneOptions:
    defaults = dict(base=str(base), max_length=32, batch_size=8, lr=1e-3, seed=3,
                    progress=False, warmup_ratio=0.0)
    defaults.update(kw)
    return FinetuneOptions(**defaults)


def _weights(path: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(Path(path) / "model.safetensors"))


def test_finetune_registers_a_standard_hf_directory(invoke, db_path, learnable_source,
                                                   trainable_bert, tmp_path):
    _ok(invoke("ingest", "--source", str(learnable_source())))
    out = _ok(invoke("train", "finetuned", "--base", str(trainable_bert), "--max-length", "32",
                     "--batch-size", "8", "--lr", "3e-3", "--epochs", "5", "--quiet"))
    assert "registered finetuned v1" in out
    artifact = _q(db_path, "SELECT artifact_uri FROM model_versions")[0][0]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(artifact)
    assert model.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}
    assert AutoTokenizer.from_pretrained(artifact).is_fast
    params = json.loads(_q(db_path, "SELECT params FROM model_versions")[0][0])
    assert params["lr"] == 3e-3 and params["epochs"] == 5 and params["max_length"] == 32
    metrics = json.loads(_q(db_path, "SELECT metrics FROM model_versions")[0][0])
    assert len(metrics["history"]) == 5 and metrics["rows_per_second"] > 0
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    _ok(invoke("score", "--model", "finetuned", "--quiet"))
    assert accuracy(db_path, "finetuned") >= 0.85


@pytest.fixture(scope="module")
def headless_encoder(tmp_path_factory) -> Path:
    from tests.tiny_models import build_tiny_encoder

    return build_tiny_encoder(tmp_path_factory.mktemp("models") / "encoder")


def test_finetune_is_reproducible(invoke, db_path, learnable_source, headless_encoder, tmp_path):
    """From an encoder without a head (as base models are), so the new head's initialisation
    must be seeded too."""
    _ok(invoke("ingest", "--source", str(learnable_source(64))))
    store = open_store(str(db_path))
    a = finetune(store, tmp_path / "h", _opts(headless_encoder, name="a"))
    b = finetune(store, tmp_path / "h", _opts(headless_encoder, name="b"))
    c = finetune(store, tmp_path / "h", _opts(headless_encoder, name="c", seed=4))
    wa, wb, wc = _weights(a.artifact_uri), _weights(b.artifact_uri), _weights(c.artifact_uri)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_continues_mid_epoch_to_the_same_weights(invoke, db_path, learnable_source,
                                                        tiny_bert, tmp_path, monkeypatch):
    _ok(invoke("ingest", "--source", str(learnable_source(64))))
    store = open_store(str(db_path))
    straight = finetune(store, tmp_path / "h1", _opts(tiny_bert, name="ft", epochs=2))

    calls = {"n": 0}
    real_step = torch.optim.AdamW.step

    def interrupt_after_five(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", interrupt_after_five)
    home = tmp_path / "h2"
    with pytest.raises(KeyboardInterrupt):
        finetune(store, home, _opts(tiny_bert, name="ft", epochs=2, checkpoint_minutes=0))
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    assert list((home / "checkpoints").glob("ft-*/state.pt"))
    assert _q(db_path, "SELECT count(*) FROM model_versions")[0][0] == 1  # nothing half-done
    resumed = finetune(store, home, _opts(tiny_bert, name="ft", epochs=2, resume=True))
    w1, w2 = _weights(straight.artifact_uri), _weights(resumed.artifact_uri)
    assert all(torch.allclose(w1[k], w2[k], atol=1e-6) for k in w1)
    assert not list((home / "checkpoints").glob("ft-*/state.pt"))
    # the resumed run reports the whole run (both epochs' losses, every row), not only its part
    assert [h["epoch"] for h in resumed.metrics["history"]] == [1, 2]
    for a, b in zip(straight.metrics["history"], resumed.metrics["history"]):
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-6)
    assert resumed.metrics["rows_seen"] == straight.metrics["rows_seen"] == 2 * 64


# -- bad input ------------------------------------------------------------------------------------


def test_base_that_is_not_a_model(invoke, learnable_source, tmp_path):
    _ok(invoke("ingest", "--source", str(learnable_source())))
    (tmp_path / "empty").mkdir()
    out = _err(invoke("train", "finetuned", "--base", str(tmp_path / "empty")))
    assert "not a Hugging Face model directory" in out


def test_base_without_tokenizer(invoke, learnable_source, tiny_bert, tmp_path):
    import shutil

    _ok(invoke("ingest", "--source", str(learnable_source())))
    base = tmp_path / "no-tok"
    shutil.copytree(tiny_bert, base)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (base / name).unlink(missing_ok=True)
    out = _err(invoke("train", "finetuned", "--base", str(base)))
    assert "no tokenizer files" in out


def test_skip_existing_does_not_retrain_the_same_recipe(invoke, db_path, learnable_source,
                                                        trainable_bert):
    _ok(invoke("ingest", "--source", str(learnable_source(64))))
    _ok(invoke("train", "tfidf-lr", "--skip-existing"))
    assert "already trained: tfidf-lr v1" in _ok(invoke("train", "tfidf-lr", "--skip-existing"))
    assert "trained tfidf-lr v2" in _ok(invoke("train", "tfidf-lr", "--skip-existing",
                                               "--seed", "7"))
    assert "trained tfidf-lr v3" in _ok(invoke("train", "tfidf-lr"))
    args = ("train", "finetuned", "--base", str(trainable_bert), "--max-length", "32", "--quiet",
            "--skip-existing")
    assert "registered finetuned v1" in _ok(invoke(*args))
    assert "already trained: finetuned v1" in _ok(invoke(*args))
    assert "registered finetuned v2" in _ok(invoke(*args, "--lr", "1e-4"))


def test_balanced_class_weight_weighs_the_loss(db_path, tmp_path, trainable_bert, monkeypatch):
    """--class-weight balanced: each class weighs n / (2 n_c) in the loss; without it, no
    weights (HF's own loss), and the option is recorded with the version."""
    from asaas.ingest import ingest
    from asaas.store import open_store
    from tests.reviews_data import learnable_reviews

    rows = learnable_reviews(40, 5, "train")
    labels = [1] * 36 + [0] * 4  # 90% positive
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows],
                             "label": labels}), path)
    store = open_store(str(db_path))
    ingest(store, str(path))
    seen: list = []
    real = torch.nn.functional.cross_entropy

    def spy(logits, target, weight=None, **kw):
        seen.append(None if weight is None else weight.tolist())
        return real(logits, target, weight=weight, **kw)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    mv = finetune(store, tmp_path / "home", _opts(trainable_bert, class_weight="balanced",
                                                  name="balanced"))
    assert seen and all(w == pytest.approx([40 / 8, 40 / 72]) for w in seen)
    assert mv.params["class_weight"] == "balanced"
    seen.clear()
    finetune(store, tmp_path / "home", _opts(trainable_bert, name="plain"))
    assert seen and all(w is None for w in seen)
    with pytest.raises(Exception, match="balanced"):
        finetune(store, tmp_path / "home", _opts(trainable_bert, class_weight="heavy"))


def test_finetune_resume_does_not_unpickle_arbitrary_objects(tmp_path):
    """The resume checkpoint is read with torch.load(weights_only=True): a checkpoint holding
    an object that runs code on load is refused."""
    import torch

    from asaas.training.finetune import load_checkpoint

    marker = tmp_path / "ran"
    torch.save({"model": RunsCode(marker)}, tmp_path / "state.pt")
    with pytest.raises(Exception):
        load_checkpoint(tmp_path / "state.pt")
    assert not marker.exists()
