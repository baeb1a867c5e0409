"""The README cannot drift: every `asaas ...` command in its ```sh blocks runs, in order, on one
database, with small stand-ins for the files and models it names (tests/readme_data.py), and
every statement of its ```sql blocks runs through `asaas sql`.

A command that needs what a test machine lacks (the Hugging Face Hub, a GPU, a running Ray
cluster) must fail with the one-line error that says so. A path the README names that has no
stand-in here fails the test: add one when you add a command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests import readme_data as rd
from tests.helpers import err, ok

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

pytestmark = pytest.mark.slow

#: Commands that cannot succeed on a test machine, and the one-line error each must give (the
#: Ray engine starts Ray only when something is pending: with nothing left, "nothing to score").
EXPECTED_ERRORS = (
    (lambda a: a == ["ingest"], "Hugging Face Hub"),
    (lambda a: "--device" in a and "cuda" in a, "CUDA"),
    (lambda a: "--address" in a, "Ray"),  # no cluster to join (checked before any GPU)
    (lambda a: "--gpus-per-worker" in a, "GPU"),
)


def _blocks(lang: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [m.group(1) for m in re.finditer(rf"```{lang}\n(.*?)```", text, re.S)]


def readme_commands() -> list[list[str]]:
    """The `asaas` command lines of the ```sh blocks, continuations joined, comments dropped."""
    out = []
    for block in _blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            args = shlex.split(line, comments=True)
            if args and args[0] == "asaas":
                out.append(args[1:])
    return out


def readme_sql() -> list[str]:
    """The statements of the ```sql blocks, except the PostgreSQL attach example (it needs
    DuckDB's postgres extension and a server; `asaas sql` refuses INSTALL/ATTACH anyway)."""
    out = []
    for block in _blocks("sql"):
        body = "\n".join(line for line in block.splitlines()
                         if not line.strip().startswith("--"))
        for statement in body.split(";"):
            statement = statement.strip()
            if statement and not re.match(r"(INSTALL|LOAD|ATTACH)\b", statement) \
                    and "pg." not in statement:
                out.append(statement)
    return out


def test_readme_has_commands_to_check():
    commands = readme_commands()
    assert len(commands) > 40 and ["models", "list"] in commands
    assert len(readme_sql()) >= 3


@pytest.fixture
def stand_ins(tmp_path, aclimdb_dir, aclimdb_tarball, trainable_bert, tiny_bert, db_path):
    """README path or name -> what the test runs with instead."""
    data = tmp_path / "data"
    steam = rd.write_steam(data / "steam" / "steam.parquet")
    job = tmp_path / "jobs" / "nightly.toml"
    job.parent.mkdir()
    imdb = rd.write_imdb(data / "imdb")
    # The shipped job file itself, pointed at the test's database and data.
    text = (REPO / "jobs" / "nightly.toml").read_text(encoding="utf-8")
    text = text.replace('"../asaas.duckdb"', f'"{db_path}"').replace(
        '"../../shared/data/imdb"', f'"{imdb}"')
    job.write_text(text, encoding="utf-8")
    return {
        "path/to/aclImdb": aclimdb_dir,
        "aclImdb_v1.tar.gz": aclimdb_tarball,
        "../shared/data/imdb": imdb,
        "../shared/data/sst2/train.parquet": rd.write_sst2(data / "sst2" / "train.parquet"),
        "reviews.csv": rd.write_csv(data / "reviews.csv"),
        "../shared/data/steam/woctezuma_steam_reviews_80games_2010-2018.parquet": steam,
        "../shared/data/steam/meckl_review_bombing_annotated_steam_metacritic.parquet":
            rd.write_bombs(data / "bombs.parquet"),
        "reviews/": steam.parent,
        "distilbert-base-uncased": trainable_bert,
        "../shared/models/all-MiniLM-L6-v2-bf16": trainable_bert,
        "...": trainable_bert,
        "distilbert-base-uncased-finetuned-sst-2-english": tiny_bert,
        "events.csv": rd.write_events(data / "events.csv"),
        "report.html": tmp_path / "report.html",
        "jobs/nightly.toml": job,
    }


def _looks_like_path(arg: str) -> bool:
    return not arg.startswith("-") and ("/" in arg or arg.endswith(
        (".csv", ".parquet", ".gz", ".toml", ".html", ".json", ".jsonl")))


def test_every_readme_command_runs(invoke, stand_ins, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # files the commands write land here, not in the checkout
    ran = 0
    for args in readme_commands():
        args = [str(stand_ins.get(a, a)) for a in args]
        missing = [a for a in args if _looks_like_path(a) and not Path(a).exists()
                   and a not in ("asaas.duckdb",)]
        # Output files (--html) need not exist yet.
        missing = [a for a in missing if not a.endswith(".html")]
        assert not missing, f"README command `asaas {' '.join(args)}` names {missing}: add a " \
            "stand-in to tests/test_readme.py"
        result = invoke(*args)
        expected = next((fragment for test, fragment in EXPECTED_ERRORS if test(args)), None)
        if expected and not (args[:1] == ["score"] and "--engine" in args
                             and result.output.startswith("nothing to score")):
            line = err(result)
            assert expected in line, f"asaas {' '.join(args)}: {line}"
        else:
            assert result.exit_code == 0, f"asaas {' '.join(args)}\n{result.output}"
            assert "Traceback" not in result.output
        ran += 1
    assert ran == len(readme_commands())
    for statement in readme_sql():
        result = invoke("sql", statement)
        ok(result)
    assert (tmp_path / "report.html").stat().st_size > 1000  # `asaas report --html` wrote it
