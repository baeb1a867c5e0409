"""Shared fixtures: every test gets its own database and model home, and never the network."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.pg import pg_server  # noqa: F401  (the throwaway PostgreSQL server, for every module)

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_IMDB = SHARED / "data" / "imdb"


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


# A tiny IMDB-like corpus: (split, class, id, rating, text).
ACL_ROWS = [
    ("train", "pos", 0, 9, "A wonderful film.<br /><br />Loved every minute."),
    ("train", "pos", 1, 7, "Good acting and a clever plot."),
    ("train", "neg", 0, 2, "Dull, slow and far too long."),
    ("train", "neg", 1, 1, "The worst film I have seen this year."),
    ("train", "unsup", 0, 0, "I watched it on a Tuesday."),
    ("test", "pos", 0, 10, "Brilliant! A masterpiece."),
    ("test", "neg", 0, 3, "Not worth the ticket."),
]


def write_aclimdb(root: Path, rows=ACL_ROWS) -> Path:
    base = root / "aclImdb"
    for split, cls, n, rating, text in rows:
        d = base / split / cls
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{n}_{rating}.txt").write_text(text, encoding="utf-8")
    return base


@pytest.fixture
def aclimdb_dir(tmp_path: Path) -> Path:
    return write_aclimdb(tmp_path / "src")


def write_tarball(path: Path, rows=ACL_ROWS, extra: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for split, cls, n, rating, text in rows:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{split}/{cls}/{n}_{rating}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


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


def synthetic_reviews(n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """(id, text, label) with lengths from a few words to well past 128 tokens."""
    import random

    from tests.tiny_models import WORDS

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        length = rng.choice([3, 8, 20, 60, 150, 300])
        words = [rng.choice(WORDS) for _ in range(length)]
        rows.append((f"r{i}", " ".join(words).capitalize() + ".", label))
    return rows


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


POSITIVE_WORDS = "good great wonderful brilliant loved best fun enjoyable masterpiece clever".split()
NEGATIVE_WORDS = "bad awful worst terrible boring dull slow waste hated poor".split()
FILLER = "the film movie story plot acting scene cast music ending i watched it this year".split()


def learnable_reviews(n: int, seed: int = 0, split: str = "train") -> list[tuple[str, str, int]]:
    """(id, text, label): sentiment words decide the label, filler words add noise."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        cue = POSITIVE_WORDS if label else NEGATIVE_WORDS
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 40))]
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
        rows.append((f"{split}{i}", " ".join(words), label))
    return rows


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
