"""Artifacts cannot be swapped (asaas/models/checksums.py): the sha256 of every file is recorded at
registration and checked before every load (a swapped pickle never runs), a Hub model is pinned
to the commit it resolved to, and a local folder is loaded from a private copy of the bytes that
were checked: a swap after the check, a symbolic link or a FIFO changes nothing or is refused."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from tests.helpers import RunsCode, err, ok, q


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
    (trained / "pipeline.joblib").write_bytes(pickle.dumps(RunsCode(marker)))
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
        conn.exec_driver_sql("UPDATE model_versions SET artifact_sha256 = NULL, "
                             "registry_mac = NULL")
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


# -- verified until loaded: the bytes checked are the bytes loaded ---------------------------------


def _flip_labels(folder: Path) -> None:
    """Rewrite model.safetensors with the classifier's two rows swapped: every label flips."""
    from safetensors.torch import load_file, save_file

    weights = load_file(str(folder / "model.safetensors"))
    for key in ("classifier.weight", "classifier.bias"):
        weights[key] = weights[key].flip(0).contiguous()
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})


def _labels(db_path, version: int) -> list:
    return q(db_path, "SELECT p.label FROM predictions p JOIN model_versions v "
                      "ON v.id = p.model_version_id JOIN models m ON m.id = v.model_id "
                      f"WHERE m.name = 'local' AND v.version = {version} ORDER BY p.review_id")


@pytest.fixture
def registered_bert(invoke, tiny_bert, tmp_path, learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(20, 10))))
    folder = _copy_model(tiny_bert, tmp_path / "model")
    ok(invoke("models", "register", "local", "--hf", str(folder), "--max-length", "64"))
    return folder


def test_weights_swapped_after_the_check_are_never_loaded(invoke, registered_bert, tmp_path,
                                                          db_path, monkeypatch):
    """The swap the issue made between the check and the load: refused, because the folder is
    hashed as it is copied and loaded from the copy."""
    from asaas.models import registry

    flipped = _copy_model(registered_bert, tmp_path / "flipped")
    _flip_labels(flipped)
    original = registered_bert / "model.safetensors"
    kept = original.read_bytes()
    check = registry.verify_artifact

    def check_then_swap(mv):
        check(mv)
        original.write_bytes((flipped / "model.safetensors").read_bytes())

    monkeypatch.setattr(registry, "verify_artifact", check_then_swap)
    line = err(invoke("score", "--model", "local", "--quiet"))
    assert "model.safetensors" in line and "changed after registration" in line
    assert q(db_path, "SELECT count(*) FROM predictions") == [(0,)]
    original.write_bytes(kept)
    monkeypatch.setattr(registry, "verify_artifact", check)
    assert "scored 10" in ok(invoke("score", "--model", "local", "--quiet"))


def test_model_is_loaded_from_the_bytes_that_were_checked(invoke, registered_bert, tmp_path,
                                                          db_path, monkeypatch):
    """A swap right after the copy was checked changes nothing: the labels are the registered
    model's (the flipped weights would flip every one)."""
    from asaas.models import checksums

    ok(invoke("models", "register", "local", "--from", "local:1", "--max-length", "64"))
    assert "scored 10" in ok(invoke("score", "--model", "local", "--version", "1", "--quiet"))
    flipped = _copy_model(registered_bert, tmp_path / "flipped")
    _flip_labels(flipped)
    ok(invoke("models", "register", "flipped", "--hf", str(flipped), "--max-length", "64"))
    ok(invoke("score", "--model", "flipped", "--quiet"))  # version 1 of "flipped"
    theirs = q(db_path, "SELECT p.label FROM predictions p JOIN model_versions v ON v.id = "
                        "p.model_version_id JOIN models m ON m.id = v.model_id "
                        "WHERE m.name = 'flipped' ORDER BY p.review_id")
    assert [1 - r[0] for r in theirs] == [r[0] for r in _labels(db_path, 1)][:10]
    copy = checksums.verified_copy
    seen = []

    @contextlib.contextmanager
    def copy_then_swap(label, uri, expected):
        with copy(label, uri, expected) as folder:
            seen.append(folder)
            assert oct(folder.stat().st_mode & 0o777) == "0o700"
            (registered_bert / "model.safetensors").write_bytes(
                (flipped / "model.safetensors").read_bytes())
            yield folder

    monkeypatch.setattr(checksums, "verified_copy", copy_then_swap)
    assert "scored 10" in ok(invoke("score", "--model", "local", "--version", "2", "--quiet"))
    assert len(_labels(db_path, 2)) == 10 and _labels(db_path, 2) == _labels(db_path, 1)
    assert seen and not seen[0].exists()  # the private copy is removed after loading
    result = invoke("models", "verify", "local")  # the original was changed, and is refused
    assert result.exit_code == 1 and "changed after registration" in result.output


def test_symbolic_links_in_a_model_folder_are_refused(invoke, registered_bert, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("hello")
    link = registered_bert / "extra"
    link.symlink_to(elsewhere, target_is_directory=True)
    result = invoke("models", "verify", "local")
    assert result.exit_code == 1 and "FAILED" in result.output
    assert "extra is a symbolic link" in result.output
    line = err(invoke("score", "--model", "local", "--quiet"))
    assert "symbolic link" in line
    link.unlink()
    assert "ok (" in ok(invoke("models", "verify", "local"))
    # A file replaced by a link to identical bytes elsewhere is refused as well.
    vocab = registered_bert / "vocab.txt"
    (elsewhere / "vocab.txt").write_bytes(vocab.read_bytes())
    vocab.unlink()
    vocab.symlink_to(elsewhere / "vocab.txt")
    assert "vocab.txt is a symbolic link" in err(invoke("score", "--model", "local", "--quiet"))
    result = invoke("models", "verify", "local")
    assert result.exit_code == 1 and "symbolic link" in result.output
    # Registering a folder with a link in it is refused up front.
    line = err(invoke("models", "register", "linked", "--hf", str(registered_bert)))
    assert "symbolic link" in line


def test_a_fifo_in_a_model_folder_is_refused_not_read(invoke, registered_bert):
    os.mkfifo(registered_bert / "weights.fifo")
    line = err(invoke("score", "--model", "local", "--quiet"))
    assert "weights.fifo is not a plain file" in line


def test_no_room_for_the_private_copy_is_a_one_line_error(invoke, registered_bert, tmp_path,
                                                          monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    line = err(invoke("score", "--model", "local", "--quiet"))
    assert "private temporary folder" in line and "TMPDIR" in line
