"""Writing the database alone cannot make a scoring host run code (issue 18, item 4): every
model version's row is signed with a registry key kept outside the database, and scoring
checks the signature before it reads a file. A row pointed at a folder holding a malicious
pickle, with that folder's checksums recorded, was loaded before: the pickle ran."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import err, ok, q


class _RunsCode:
    """Unpickling this calls Path.touch(marker): a stand-in for `os.system`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _sql(db_url: str, statement: str, **params) -> None:
    """What an attacker with write access to the database (and nothing else) can do."""
    from asaas.store import open_store

    import sqlalchemy as sa

    with open_store(db_url).transaction() as conn:
        conn.execute(sa.text(statement), params)


def _evil_folder(tmp_path: Path) -> tuple[Path, Path, str]:
    """A model folder whose pipeline.joblib runs code when unpickled, and its checksums."""
    marker = tmp_path / "pwned"
    folder = tmp_path / "evil"
    folder.mkdir()
    data = pickle.dumps(_RunsCode(marker))
    (folder / "pipeline.joblib").write_bytes(data)
    digests = {"pipeline.joblib": hashlib.sha256(data).hexdigest()}
    return folder, marker, json.dumps(digests)


@pytest.fixture
def trained(invoke, learnable_source, db_url):
    ok(invoke("ingest", "--source", str(learnable_source(60, 40))))
    ok(invoke("train", "tfidf-lr"))
    return db_url


def test_a_row_pointed_at_a_malicious_pickle_is_refused(trained, invoke, tmp_path):
    folder, marker, digests = _evil_folder(tmp_path)
    _sql(trained, "UPDATE model_versions SET artifact_uri = :u, artifact_sha256 = :d",
         u=str(folder), d=digests)
    line = err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    assert not marker.exists()  # the pickle never ran (before signatures, it did)
    assert "does not match its signature" in line and "registry.key" in line
    result = invoke("models", "verify")
    assert result.exit_code == 1 and "does not match its signature" in result.output


def test_a_forged_version_is_refused(trained, invoke, tmp_path):
    """A new version row written into the database: unsigned, or with another row's MAC."""
    folder, marker, digests = _evil_folder(tmp_path)
    _sql(trained, "INSERT INTO model_versions (model_id, version, kind, artifact_uri, params, "
                  "created_at, artifact_sha256, registry_mac) SELECT model_id, 2, kind, :u, "
                  "params, created_at, :d, NULL FROM model_versions WHERE version = 1",
         u=str(folder), d=digests)
    line = err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    assert "tfidf-lr v2 is not signed" in line and "--record" in line
    _sql(trained, "UPDATE model_versions SET registry_mac = (SELECT registry_mac FROM "
                  "model_versions WHERE version = 1) WHERE version = 2")
    assert "does not match its signature" in err(invoke("score", "--model", "tfidf-lr",
                                                        "--quiet"))
    assert not marker.exists()
    assert "scored 40" in ok(invoke("score", "--model", "tfidf-lr", "--version", "1",
                                    "--quiet"))


@pytest.mark.parametrize("statement,ref", [
    ("UPDATE model_versions SET params = :flipped", "tfidf-lr"),  # the label rule lives here
    ("UPDATE model_versions SET kind = 'hf'", "tfidf-lr"),
    ("UPDATE model_versions SET max_length = 64, truncation = 'head'", "tfidf-lr"),
    ("UPDATE model_versions SET version = 7", "tfidf-lr"),
    ("INSERT INTO models (id, name, created_at) VALUES (99, 'other', CURRENT_TIMESTAMP); "
     "UPDATE model_versions SET model_id = 99", "other"),
])
def test_every_signed_field_counts(trained, invoke, statement, ref):
    """What decides what a version loads and what its scores mean is signed: a changed field
    is a changed row."""
    params = json.loads(q(trained, "SELECT params FROM model_versions")[0][0])
    for one in statement.split("; "):
        _sql(trained, one, flipped=json.dumps({**params, "positive_label": "neg"}))
    assert "does not match its signature" in err(invoke("score", "--model", ref, "--quiet"))


def test_the_key_stays_out_of_the_database_and_is_private(trained, tmp_path):
    key = tmp_path / "home" / "registry.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_text().strip()
    assert len(secret) == 64
    dumped = json.dumps(q(trained, "SELECT * FROM model_versions"), default=str)
    assert secret not in dumped


def test_scoring_host_needs_the_key(trained, invoke, tmp_path, monkeypatch):
    """A second scoring host (another ASAAS_HOME) has no key until it is copied there, or
    given in ASAAS_REGISTRY_KEY; another key does not verify."""
    key = (tmp_path / "home" / "registry.key").read_text().strip()
    other = tmp_path / "host2"
    monkeypatch.setenv("ASAAS_HOME", str(other))
    line = err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    assert "no registry key" in line and "registry.key" in line
    assert not (other / "registry.key").exists()  # scoring never makes one up
    monkeypatch.setenv("ASAAS_REGISTRY_KEY", "x" * 64)
    assert "signed with another registry key" in err(invoke("score", "--model", "tfidf-lr",
                                                            "--quiet"))
    monkeypatch.setenv("ASAAS_REGISTRY_KEY", "short")
    assert "at least 32" in err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    monkeypatch.setenv("ASAAS_REGISTRY_KEY", key)
    assert "scored 40" in ok(invoke("score", "--model", "tfidf-lr", "--quiet"))


def test_a_key_others_can_read_or_a_link_is_refused(trained, invoke, tmp_path):
    key = tmp_path / "home" / "registry.key"
    key.chmod(0o644)
    assert "chmod 600" in err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    key.chmod(0o600)
    real = tmp_path / "elsewhere.key"
    key.rename(real)
    key.symlink_to(real)
    assert "not a link" in err(invoke("score", "--model", "tfidf-lr", "--quiet"))


def test_upgraded_versions_are_signed_knowingly(trained, invoke):
    """A version registered before signatures (NULL after migration 0010) is refused until
    `asaas models verify --record` signs it, on a host holding the key."""
    _sql(trained, "UPDATE model_versions SET registry_mac = NULL")
    line = err(invoke("score", "--model", "tfidf-lr", "--quiet"))
    assert "tfidf-lr v1 is not signed" in line and "asaas models verify tfidf-lr:1 --record" \
        in line
    result = invoke("models", "verify")
    assert result.exit_code == 1 and "FAILED" in result.output
    signed = ok(invoke("models", "verify", "tfidf-lr:1", "--record"))
    assert "tfidf-lr v1: signed" in signed and "signature ok" in signed
    assert "ok (2 files match), signature ok" in ok(invoke("models", "verify"))
    assert "scored 40" in ok(invoke("score", "--model", "tfidf-lr", "--quiet"))
    again = ok(invoke("models", "verify", "--record"))  # signed rows are left as they are
    assert "signed" not in again.replace("signature ok", "")


def test_record_refuses_files_that_changed(trained, invoke, tmp_path):
    """--record vouches for a row whose files still match its checksums, never over changes."""
    artifact = Path(q(trained, "SELECT artifact_uri FROM model_versions")[0][0])
    _sql(trained, "UPDATE model_versions SET registry_mac = NULL")
    (artifact / "asaas.json").write_text("{}")
    result = invoke("models", "verify", "--record")
    assert result.exit_code == 1 and "changed after registration" in result.output
    assert q(trained, "SELECT registry_mac FROM model_versions") == [(None,)]


def test_job_preflight_refuses_a_forged_row(trained, tmp_path):
    from asaas.jobs import EXIT_STEP_FAILED, run_job

    folder, marker, digests = _evil_folder(tmp_path)
    _sql(trained, "UPDATE model_versions SET artifact_uri = :u, artifact_sha256 = :d",
         u=str(folder), d=digests)
    job = tmp_path / "nightly.toml"
    job.write_text('name = "nightly"\n[[steps]]\nkind = "views"\n'
                   '[[steps]]\nkind = "score"\nmodels = "all"\n')
    out = io.StringIO()
    assert run_job(job, db_url=trained, stream=out) == EXIT_STEP_FAILED
    assert "cannot start: tfidf-lr v1: its registry row does not match" in out.getvalue()
    assert "step 1/2" not in out.getvalue() and not marker.exists()


def test_load_scorer_loads_only_checked_versions(trained):
    """The library's load path: a version straight from the database is refused; the engines
    check it first (and Ray actors get the driver's checked copy)."""
    from asaas.models.registry import (RegistrySignatureError, check_signature,
                                       resolve_ref)
    from asaas.scoring import ScoreOptions, load_scorer
    from asaas.store import open_store

    store = open_store(trained)
    mv = resolve_ref(store, "tfidf-lr")
    with pytest.raises(RegistrySignatureError, match="not checked against the registry key"):
        load_scorer(mv, ScoreOptions())
    assert load_scorer(check_signature(store, mv), ScoreOptions()).pipeline is not None


def test_variants_of_a_forged_row_are_refused(invoke, tiny_bert, tmp_path, db_path):
    ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert), "--max-length", "64"))
    _sql(str(db_path), "UPDATE model_versions SET truncation = 'head+tail'")
    line = err(invoke("models", "register", "tiny256", "--from", "tiny:1", "--max-length",
                      "256"))
    assert "does not match its signature" in line
    assert q(db_path, "SELECT count(*) FROM model_versions") == [(1,)]


def test_key_creation_is_atomic(tmp_path):
    from asaas.models import signing

    home = tmp_path / "h"
    first = signing.host_key(home, create=True)
    assert signing.host_key(home, create=True) == first == signing.host_key(home, create=False)
    assert [p.name for p in home.iterdir()] == ["registry.key"]  # no temporary file left
    assert os.stat(home).st_mode & 0o077 == 0


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_both_engines_check_the_row_before_anything_is_read(trained, tmp_path, engine):
    """The library's entry points, not only the CLI: score() and score_ray() refuse a forged
    row before a file is read (the Ray driver before Ray starts: its actors only ever get the
    copy it checked)."""
    from asaas.models.registry import RegistrySignatureError, resolve_ref
    from asaas.scoring import ScoreOptions, score
    from asaas.scoring.ray_engine import RayOptions, score_ray
    from asaas.store import open_store

    folder, marker, digests = _evil_folder(tmp_path)
    _sql(trained, "UPDATE model_versions SET artifact_uri = :u, artifact_sha256 = :d",
         u=str(folder), d=digests)
    store = open_store(trained)
    mv = resolve_ref(store, "tfidf-lr")
    run = ((lambda: score(store, mv, ScoreOptions(progress=False))) if engine == "local" else
           (lambda: score_ray(store, mv, ScoreOptions(progress=False), RayOptions(workers=1))))
    with pytest.raises(RegistrySignatureError, match="does not match its signature"):
        run()
    assert not marker.exists()
    assert q(trained, "SELECT count(*) FROM scoring_runs") == [(0,)]


def test_cron_line_never_carries_the_key(trained, invoke, tmp_path, monkeypatch):
    job = tmp_path / "nightly.toml"
    job.write_text('name = "nightly"\n[[steps]]\nkind = "views"\n')
    secret = "k" * 64
    monkeypatch.setenv("ASAAS_REGISTRY_KEY", secret)
    result = invoke("job", "cron", str(job))
    assert result.exit_code == 0 and secret not in result.output
    assert "ASAAS_REGISTRY_KEY is not written into the crontab line" in result.output


def _columns(url: str) -> set[str]:
    return {r[0] for r in q(url, "SELECT column_name FROM information_schema.columns "
                                 "WHERE table_name = 'model_versions'")}


#: model_versions' columns at revision 0009, as an older asaas wrote them.
_COLUMNS_0009 = ("id", "model_id", "version", "kind", "artifact_uri", "params",
                 "train_dataset", "train_fingerprint", "metrics", "environment", "created_at",
                 "train_split", "max_length", "truncation", "quantize", "languages",
                 "artifact_sha256")


def test_migration_0010_upgrade_and_downgrade(trained, invoke, learnable_source, tmp_path,
                                              request):
    """A database from before 0010, its version row written at 0009: upgraded, the version is
    unsigned and refused until `models verify --record` signs it. Downgrading to 0009 drops the
    column on PostgreSQL (after the next upgrade its versions are unsigned again) and keeps it
    on DuckDB, which cannot drop a column of a referenced table (its signatures stay valid)."""
    from asaas.store import Store, migrate

    on_pg = trained.startswith("postgresql")
    old = request.getfixturevalue("pg_server")() if on_pg else str(tmp_path / "old.duckdb")
    model = dict(zip(("id", "name", "created_at"),
                     q(trained, "SELECT id, name, created_at FROM models")[0]))
    row = dict(zip(_COLUMNS_0009, q(trained, f"SELECT {', '.join(_COLUMNS_0009)} "
                                             "FROM model_versions")[0]))
    store = Store(old)
    store.upgrade("0009")
    assert "registry_mac" not in _columns(old)
    with store.transaction() as conn:
        conn.execute(sa.text("INSERT INTO models (id, name, created_at) "
                             "VALUES (:id, :name, :created_at)"), model)
        conn.execute(sa.text(f"INSERT INTO model_versions ({', '.join(_COLUMNS_0009)}) VALUES "
                             f"({', '.join(':' + c for c in _COLUMNS_0009)})"), row)
    store.engine.dispose()

    assert "upgraded database from 0009" in ok(invoke("db", "upgrade", "--db", old))
    assert q(old, "SELECT registry_mac FROM model_versions") == [(None,)]
    ok(invoke("ingest", "--db", old, "--source", str(learnable_source(60, 40))))
    line = err(invoke("score", "--db", old, "--model", "tfidf-lr", "--quiet"))
    assert "tfidf-lr v1 is not signed" in line and "--record" in line
    assert "signed" in ok(invoke("models", "verify", "--db", old, "tfidf-lr:1", "--record"))
    assert "scored 40" in ok(invoke("score", "--db", old, "--model", "tfidf-lr", "--quiet"))

    store = Store(old)
    with store.transaction() as conn:
        migrate.downgrade(conn, "0009")
    assert store.current_revision() == "0009"
    store.engine.dispose()
    assert ("registry_mac" in _columns(old)) is not on_pg
    ok(invoke("db", "upgrade", "--db", old))
    verified = invoke("models", "verify", "--db", old)
    if on_pg:
        assert verified.exit_code == 1 and "is not signed" in verified.output
    else:
        assert verified.exit_code == 0 and "signature ok" in verified.output
