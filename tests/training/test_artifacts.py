"""Model artifacts on disk (asaas/training/artifacts.py): a run that cannot save (disk full) or
register its model leaves nothing behind and registers nothing, and `asaas gc` removes what killed
runs left under ASAAS_HOME, never a registered version or a run in progress."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asaas.training.artifacts import STAGING_LOCK, staged_artifact
from tests.helpers import err, ok, q

# A training run killed (SIGKILL-like os._exit) while saving, or after saving but before the
# version was registered.
KILLED = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from asaas.training.artifacts import staged_artifact
    home, stage = Path(sys.argv[1]), sys.argv[2]
    with staged_artifact(home, "tfidf-lr") as (tmp, commit):
        (tmp / "pipeline.joblib").write_bytes(b"half")
        if stage == "saved":
            commit()
        os._exit(9)
""")


def _killed_run(tmp_path: Path, home: Path, stage: str) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.run([sys.executable, str(script), str(home), stage], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr


def test_gc_removes_leftovers_and_keeps_versions(invoke, learnable_source, db_path, tmp_path):
    home = tmp_path / "home"  # ASAAS_HOME (conftest)
    ok(invoke("ingest", "--source", str(learnable_source(40, 20))))
    ok(invoke("train", "tfidf-lr"))
    registered = Path(q(db_path, "SELECT artifact_uri FROM model_versions")[0][0])
    assert not (registered / STAGING_LOCK).exists()
    _killed_run(tmp_path, home, "saving")
    _killed_run(tmp_path, home, "saved")
    folders = sorted(p for p in (home / "models" / "tfidf-lr").iterdir())
    assert len(folders) == 3 and any(p.name.startswith(".tmp-") for p in folders)

    dry = ok(invoke("gc", "--dry-run"))
    assert "would remove 2 folders" in dry
    assert len(list((home / "models" / "tfidf-lr").iterdir())) == 3
    out = ok(invoke("gc"))
    assert "removed 2 folders" in out and "abandoned" in out
    assert [p for p in (home / "models" / "tfidf-lr").iterdir()] == [registered]
    assert "scored 20" in ok(invoke("score", "--model", "tfidf-lr", "--quiet"))
    assert "removed 0 folders" in ok(invoke("gc"))


def test_gc_leaves_a_run_in_progress_alone(invoke, db_path, tmp_path):
    ok(invoke("db", "upgrade"))
    home = tmp_path / "home"
    with staged_artifact(home, "busy") as (tmp, _commit):
        (tmp / "weights").write_bytes(b"x")
        assert "removed 0 folders" in ok(invoke("gc"))
        assert tmp.is_dir()


def test_gc_unregistered_and_read_only_rules(invoke, learnable_source, db_path, tmp_path):
    home = tmp_path / "home"
    ok(invoke("ingest", "--source", str(learnable_source(40, 20))))
    ok(invoke("train", "tfidf-lr"))
    stray = home / "models" / "tfidf-lr" / "20200101-000000-deadbeef"
    stray.mkdir()
    assert "removed 0 folders" in ok(invoke("gc"))  # not ours to judge without --unregistered
    out = ok(invoke("gc", "--unregistered"))
    assert "removed 1 folders" in out and not stray.exists()
    assert q(db_path, "SELECT count(*) FROM model_versions") == [(1,)]
    assert "does not exist" in err(invoke("gc", "--db", str(tmp_path / "none.duckdb")))


def test_disk_full_while_saving_registers_nothing(invoke, db_path, learnable_source, tiny_bert,
                                                  tmp_path, monkeypatch):
    from transformers import PreTrainedModel

    ok(invoke("ingest", "--source", str(learnable_source(32))))

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", full)
    out = err(invoke("train", "finetuned", "--base", str(tiny_bert), "--max-length", "32",
                     "--quiet"), after_log_lines=True)
    assert "disk full" in out and "nothing was registered" in out
    assert q(db_path, "SELECT count(*) FROM model_versions")[0][0] == 0
    models_dir = tmp_path / "home" / "models" / "finetuned"
    assert not any(models_dir.iterdir())


def test_registration_failure_removes_the_saved_model(invoke, db_path, learnable_source,
                                                      tmp_path, monkeypatch):
    from asaas.models import registry

    ok(invoke("ingest", "--source", str(learnable_source(32))))

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(registry, "register", broken)
    with pytest.raises(RuntimeError):
        invoke("train", "tfidf-lr")
    assert not any((tmp_path / "home" / "models" / "tfidf-lr").iterdir())
