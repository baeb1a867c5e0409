"""Artifacts cannot be swapped and model folders cannot run code (issue 12, items 2 and 3):
checksums recorded at registration and checked before every load, a pinned Hub commit,
no remote code, safetensors only, one-line errors for broken folders."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import pytest

from tests.helpers import err, ok, q


class _RunsCode:
    """Unpickling this calls Path.touch(marker): a stand-in for `os.system`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded(db_path, name: str) -> dict:
    rows = q(db_path, "SELECT v.artifact_sha256 FROM model_versions v JOIN models m "
                      f"ON m.id = v.model_id WHERE m.name = '{name}' ORDER BY v.version")
    return json.loads(rows[-1][0] or "{}")


@pytest.fixture
def trained(invoke, learnable_source, db_path):
    ok(invoke("ingest", "--source", str(learnable_source(60, 40))))
    ok(invoke("train", "tfidf-lr"))
    artifact = Path(q(db_path, "SELECT artifact_uri FROM model_versions")[0][0])
    return artifact


def test_training_records_every_files_checksum(trained, db_path):
    recorded = _recorded(db_path, "tfidf-lr")
    assert set(recorded) == {"pipeline.joblib", "asaas.json"}
    assert recorded["pipeline.joblib"] == _sha(trained / "pipeline.joblib")


def test_swapped_pickle_is_refused_before_it_runs(invoke, trained, tmp_path):
    marker = tmp_path / "pwned"
    (trained / "pipeline.joblib").write_bytes(pickle.dumps(_RunsCode(marker)))
    line = err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    assert "pipeline.joblib" in line and "changed after registration" in line
    assert not marker.exists()  # the pickle never ran


def test_changed_added_or_missing_files_are_refused(invoke, trained, db_path):
    (trained / "asaas.json").write_text("{}")
    assert "asaas.json" in err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    ok(invoke("train", "tfidf-lr"))  # v2, in a fresh folder
    v2 = Path(q(db_path, "SELECT artifact_uri FROM model_versions WHERE version = 2")[0][0])
    (v2 / "extra.py").write_text("print('hi')")
    assert "extra.py" in err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    (v2 / "extra.py").unlink()
    (v2 / "asaas.json").unlink()
    assert "missing" in err(invoke("score", "--model", "tfidf-lr", "--quiet"))


def test_version_without_checksums_needs_them_recorded(invoke, trained, db_path):
    from asaas.store import open_store

    store = open_store(str(db_path))
    with store.transaction() as conn:  # as a version registered before checksums were recorded
        conn.exec_driver_sql("UPDATE model_versions SET artifact_sha256 = NULL")
    line = err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    assert "no recorded checksums" in line and "asaas models verify tfidf-lr:1 --record" in line
    assert "recorded checksums of 2 files" in ok(invoke("models", "verify", "--record"))
    assert "ok (2 files match)" in ok(invoke("models", "verify"))
    assert "scored 40" in ok(invoke("score", "--model", "tfidf-lr", "--quiet"))
    (trained / "asaas.json").write_text("{}")
    result = invoke("models", "verify", "tfidf-lr")
    assert result.exit_code == 1 and "FAILED" in result.output and "asaas.json" in result.output
    again = invoke("models", "verify", "tfidf-lr", "--record")  # never re-records over changes
    assert again.exit_code == 1 and "FAILED" in again.output


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_local_hf_folder_checksums_and_variants(invoke, tiny_bert, tmp_path, db_path,
                                                 learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    folder = _copy_model(tiny_bert, tmp_path / "model")
    ok(invoke("models", "register", "local", "--hf", str(folder), "--max-length", "64"))
    recorded = _recorded(db_path, "local")
    assert recorded["model.safetensors"] == _sha(folder / "model.safetensors")
    assert {"config.json", "vocab.txt"} <= set(recorded)
    ok(invoke("models", "register", "local", "--from", "local:1", "--max-length", "32"))
    assert _recorded(db_path, "local") == recorded  # the variant vouches for the same files
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    line = err(invoke("score", "--model", "local", "--quiet"))
    assert "model.safetensors" in line and "changed after registration" in line


def _fake_hub_cache(tiny_bert: Path, cache: Path, repo: str, commit: str) -> None:
    """A Hugging Face cache holding one commit of ``repo``, as `hf download` leaves it."""
    base = cache / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    shutil.copytree(tiny_bert, base / "snapshots" / commit)


def test_hub_model_is_pinned_to_the_resolved_commit(invoke, tiny_bert, tmp_path, monkeypatch,
                                                    db_path, learnable_source):
    commit = "0123456789abcdef0123456789abcdef01234567"
    _fake_hub_cache(tiny_bert, tmp_path / "hub", "acme/tiny", commit)
    from huggingface_hub import constants

    # Both are read when huggingface_hub is first imported, maybe before this test's env.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    ok(invoke("models", "register", "hubby", "--hf", "acme/tiny", "--max-length", "64"))
    params = json.loads(q(db_path, "SELECT params FROM model_versions")[0][0])
    assert params["hf_revision"] == commit
    assert _recorded(db_path, "hubby") == {}
    # A later commit on main is not what this version loads.
    newer = "fedcba9876543210fedcba9876543210fedcba98"
    _fake_hub_cache_commit(tmp_path / "hub", "acme/tiny", newer, tmp_path)
    assert "scored 10" in ok(invoke("score", "--model", "hubby", "--quiet"))


def _fake_hub_cache_commit(cache: Path, repo: str, commit: str, tmp_path: Path) -> None:
    base = cache / f"models--{repo.replace('/', '--')}"
    (base / "refs" / "main").write_text(commit)
    broken = base / "snapshots" / commit
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{not json")


# -- model folders that would run code or cannot load -------------------------------------------


def _with_custom_code(tiny_bert: Path, dst: Path, marker: Path) -> Path:
    folder = _copy_model(tiny_bert, dst)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "custom.CustomConfig",
                          "AutoModelForSequenceClassification": "custom.CustomModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                      "from transformers import BertConfig as CustomConfig\n")
    return folder


def test_model_folder_with_custom_code_is_refused(invoke, tiny_bert, tmp_path, learnable_source):
    marker = tmp_path / "custom-code-ran"
    folder = _with_custom_code(tiny_bert, tmp_path / "custom", marker)
    line = err(invoke("models", "register", "custom", "--hf", str(folder)))
    assert "auto_map" in line and "never runs" in line
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    line = err(invoke("train", "finetuned", "--base", str(folder), "--quiet"),
               after_log_lines=True)
    assert "auto_map" in line
    assert not marker.exists()


def test_truncated_safetensors_is_a_one_line_error(invoke, tiny_bert, tmp_path, learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    folder = _copy_model(tiny_bert, tmp_path / "cut")
    ok(invoke("models", "register", "cut", "--hf", str(folder), "--max-length", "64"))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:300])
    ok(invoke("models", "register", "cut2", "--hf", str(folder), "--max-length", "64"))
    line = err(invoke("score", "--model", "cut2", "--quiet"))
    assert "cannot load model" in line


def test_unknown_model_type_is_a_one_line_error(invoke, tiny_bert, tmp_path):
    folder = _copy_model(tiny_bert, tmp_path / "odd")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "no-such-architecture"
    (folder / "config.json").write_text(json.dumps(config))
    assert "cannot load model config" in err(invoke("models", "register", "odd", "--hf",
                                                    str(folder)))
    (folder / "config.json").write_text("{truncated")
    assert "not valid JSON" in err(invoke("models", "register", "odd", "--hf", str(folder)))


def test_pickled_weights_are_refused(invoke, tiny_bert, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = _copy_model(tiny_bert, tmp_path / "pickled")
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    line = err(invoke("models", "register", "pickled", "--hf", str(folder)))
    assert "pytorch_model.bin" in line and "pickled" in line


def test_finetune_resume_does_not_unpickle_arbitrary_objects(tmp_path):
    """The resume checkpoint is read with torch.load(weights_only=True): a checkpoint holding
    an object that runs code on load is refused."""
    import torch

    from asaas.training.finetune import load_checkpoint

    marker = tmp_path / "ran"
    torch.save({"model": _RunsCode(marker)}, tmp_path / "state.pt")
    with pytest.raises(Exception):
        load_checkpoint(tmp_path / "state.pt")
    assert not marker.exists()
