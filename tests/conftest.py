"""Fixtures for every test: its own database and model home and never the network, the CLI,
each database engine, tiny models and small review corpora written to files.

What the fixtures build lives in helper modules beside this one (tests/reviews_data.py,
tests/tiny_models.py); the PostgreSQL server is tests/pg.py's; what a test needs from the
machine, tests/requires.py. Fixtures for one part of the package live in that part's folder
(tests/jobs/conftest.py, tests/scoring/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.pg import pg_server  # noqa: F401  (the throwaway PostgreSQL server, for every module)
from tests.reviews_data import learnable_reviews, synthetic_reviews, write_aclimdb, write_tarball


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models run fastest on one thread, and a CI box may be busy: OpenMP threads that
    spin-wait for a core slow a tiny model's steps a hundredfold."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point asaas at a temp database and home; keep Hugging Face libraries offline."""
    db = tmp_path / "test.duckdb"
    monkeypatch.setenv("ASAAS_DB", str(db))
    monkeypatch.setenv("ASAAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ASAAS_BUSY_TIMEOUT", "5")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return db


@pytest.fixture
def db_path(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture(params=["duckdb", "postgresql"])
def db_url(request, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's database on each engine: its DuckDB file, then a fresh PostgreSQL database
    (the throwaway server of tests/pg.py). ASAAS_DB points at it, so commands need no --db;
    ``tests.helpers.q`` queries either."""
    if request.param == "duckdb":
        return str(isolated_env)
    url = request.getfixturevalue("pg_server")()
    monkeypatch.setenv("ASAAS_DB", url)
    return url


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner: CliRunner):
    """Run an asaas command; returns click's Result (exit_code, output)."""
    from asaas.cli import cli

    def _invoke(*args: str, **kwargs):
        return runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return _invoke


@pytest.fixture
def aclimdb_dir(tmp_path: Path) -> Path:
    return write_aclimdb(tmp_path / "src")


@pytest.fixture
def aclimdb_tarball(tmp_path: Path) -> Path:
    return write_tarball(tmp_path / "aclImdb_v1.tar.gz")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    from tests.tiny_models import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("models") / "tiny-bert", "bert")


@pytest.fixture(scope="session")
def trainable_bert(tmp_path_factory) -> Path:
    """A tiny BERT with the standard small init, quick to fine-tune."""
    from tests.tiny_models import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("models") / "trainable-bert", "bert",
                                 init_std=None)


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory) -> Path:
    from tests.tiny_models import build_tiny_classifier

    return build_tiny_classifier(tmp_path_factory.mktemp("models") / "tiny-distilbert",
                                 "distilbert")


@pytest.fixture
def review_file(tmp_path: Path):
    """Write n synthetic labelled reviews as test.parquet and return its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def _make(n: int = 60, seed: int = 0, split: str = "test") -> Path:
        rows = synthetic_reviews(n, seed)
        path = tmp_path / f"{split}.parquet"
        pq.write_table(pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows],
                                 "label": [r[2] for r in rows]}), path)
        return path

    return _make


@pytest.fixture
def learnable_source(tmp_path: Path):
    """A folder with train.parquet and test.parquet of learnable synthetic reviews."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def _make(n_train: int = 200, n_test: int = 100, single_class: bool = False) -> Path:
        src = tmp_path / "learnable"
        src.mkdir(exist_ok=True)
        for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
            rows = learnable_reviews(n, seed, split)
            labels = [1 if single_class else r[2] for r in rows]
            pq.write_table(pa.table({"id": [r[0] for r in rows], "text": [r[1] for r in rows],
                                     "label": labels}), src / f"{split}.parquet")
        return src

    return _make
