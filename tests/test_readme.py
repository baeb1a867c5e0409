"""The README and the manual in docs/ cannot drift: every `asaas ...` command in their ```sh
blocks runs, file by file in the order of DOCS, on one database, with small stand-ins for the
files and models they name (tests/readme_data.py); every statement of their ```sql blocks runs
through `asaas sql`, and every ```python snippet runs against the same database.

A command that needs what a test machine lacks (the Hugging Face Hub, a GPU, a running Ray
cluster), or that the docs show being refused, must fail with the one-line error that says so. A
path the docs name that has no stand-in here fails the test: add one when you add a command. A
docs/*.md file missing from DOCS fails the test too, so no page escapes it.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from tests import readme_data as rd
from tests.fake_steam import FakeSteam, synthetic_records
from tests.helpers import err
from tests.webhook import Receiver

REPO = Path(__file__).resolve().parents[1]

#: The README, then the manual's pages in reading order (the index in docs/README.md). Their
#: commands run in this order on one database, so a page may use what an earlier one made: the
#: README's `make demo` commands ingest and train, cli-and-models.md ingests Steam and trains
#: more models, the later pages score, report and follow products over time.
DOCS = (
    "README.md",
    "docs/README.md",
    "docs/setup.md",
    "docs/cli-and-models.md",
    "docs/reports-and-sql.md",
    "docs/feedback-over-time.md",
    "docs/languages.md",
    "docs/complaints.md",
    "docs/security.md",
    "docs/operations.md",
    "docs/live.md",
    "docs/layout.md",
)

#: Markdown files whose relative links must lead somewhere (besides DOCS).
LINKED = ("bench/README.md",)

#: Commands that cannot succeed on a test machine, or that the docs show being refused, and the
#: one-line error each must give (the Ray engine starts Ray only when something is pending: with
#: nothing left, "nothing to score").
EXPECTED_ERRORS = (
    (lambda a: a == ["ingest"], "Hugging Face Hub"),
    (lambda a: "--device" in a and "cuda" in a, "CUDA"),
    (lambda a: "--address" in a, "Ray"),  # no cluster to join (checked before any GPU)
    (lambda a: "--gpus-per-worker" in a, "GPU"),
    # docs/security.md: what `asaas sql` refuses
    (lambda a: a == ["sql", "DELETE FROM reviews"], "read-only: DELETE is not allowed"),
    (lambda a: a[:1] == ["sql"] and "read_csv(" in a[1], "refuses read_csv()"),
    (lambda a: a[:1] == ["sql"] and "; DROP" in a[1], "exactly one read-only statement"),
)

#: Shell words that may come before a command in a line (`for ...; do asaas ...; done`).
_SHELL_LEADERS = {"do", "then", "else", "time"}


def _text(doc: str) -> str:
    return (REPO / doc).read_text(encoding="utf-8")


def _blocks(doc: str, lang: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"```{lang}\n(.*?)```", _text(doc), re.S)]


def _shell_commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line, split at ; & && | || (quotes and comments kept
    as the shell reads them), leading `do`/`then`... dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    commands, current = [], []
    for word in lexer:
        if word and set(word) <= set(";&|"):
            commands.append(current)
            current = []
        else:
            current.append(word)
    commands.append(current)
    out = []
    for words in commands:
        while words and words[0] in _SHELL_LEADERS:
            words = words[1:]
        if words:
            out.append(words)
    return out


def doc_commands(doc: str) -> list[list[str]]:
    """The `asaas` command lines of a file's ```sh blocks, continuations joined, comments
    dropped, arguments without the leading `asaas`."""
    out = []
    for block in _blocks(doc, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            for words in _shell_commands(line):
                if words[0] == "asaas":
                    out.append(words[1:])
    return out


def doc_sql(doc: str) -> list[str]:
    """The statements of a file's ```sql blocks, except the PostgreSQL attach example (it needs
    DuckDB's postgres extension and a server; `asaas sql` refuses INSTALL/ATTACH anyway)."""
    out = []
    for block in _blocks(doc, "sql"):
        body = "\n".join(line for line in block.splitlines()
                         if not line.strip().startswith("--"))
        for statement in body.split(";"):
            statement = statement.strip()
            if statement and not re.match(r"(INSTALL|LOAD|ATTACH)\b", statement) \
                    and "pg." not in statement:
                out.append(statement)
    return out


def doc_python(doc: str) -> list[str]:
    return _blocks(doc, "python")


def test_every_doc_is_in_the_order():
    """A page added to docs/ must be added to DOCS (and so to the tested order)."""
    on_disk = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").rglob("*.md")}
    listed = set(DOCS) - {"README.md"}
    assert not on_disk - listed, f"add {sorted(on_disk - listed)} to DOCS in tests/test_readme.py"
    assert not listed - on_disk, f"DOCS names missing files: {sorted(listed - on_disk)}"
    assert len(DOCS) == len(set(DOCS)) and DOCS[0] == "README.md"


def test_the_index_lists_every_page_in_the_order():
    """docs/README.md's table is the reading order, and the test runs the pages in that order."""
    index = re.findall(r"^\| \[[^\]]+\]\(([^)#]+)\)", _text("docs/README.md"), re.M)
    assert ["docs/" + name for name in index] == [d for d in DOCS if d not in (
        "README.md", "docs/README.md")]


def test_docs_have_commands_to_check():
    commands = [c for doc in DOCS for c in doc_commands(doc)]
    assert len(commands) > 60 and ["models", "list"] in commands
    assert ["score", "--model", "tfidf-lr", "--dataset", "steam", "--split", "all", "--quiet"] \
        in commands  # from inside the `for ... do ... & done` loop of docs/operations.md
    assert len([s for doc in DOCS for s in doc_sql(doc)]) >= 3
    assert doc_python("docs/operations.md")
    for doc in DOCS:  # every page that shows commands has them found
        if "```sh\nasaas" in _text(doc):
            assert doc_commands(doc), doc


def test_shell_lines_split_like_the_shell():
    assert _shell_commands("for i in 1 2 3; do asaas score --model m --quiet & done; wait") == [
        ["for", "i", "in", "1", "2", "3"], ["asaas", "score", "--model", "m", "--quiet"],
        ["done"], ["wait"]]
    assert _shell_commands("asaas sql \"SELECT 1; DROP TABLE reviews\"  # a; comment") == [
        ["asaas", "sql", "SELECT 1; DROP TABLE reviews"]]


def _makefile_demo() -> list[list[str]]:
    """The commands of the Makefile's demo target, with its variables at their offline values."""
    text = (REPO / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "the Makefile has no demo target"
    values = {"$(ASAAS)": "asaas", " --db $(DB)": "",
              "$(if $(IMDB_SOURCE),--source $(IMDB_SOURCE))": "--source ../shared/data/imdb",
              "$(BASE)": "../shared/models/all-MiniLM-L6-v2-bf16"}
    out = []
    for line in recipe.group(1).splitlines():
        for name, value in values.items():
            line = line.replace(name, value)
        assert "$(" not in line, f"Makefile demo line with an unknown variable: {line.strip()}"
        out.append(shlex.split(line)[1:])
    return out


def test_readme_shows_what_make_demo_runs():
    demo, readme = _makefile_demo(), doc_commands("README.md")
    assert demo and readme[:len(demo)] == demo, \
        "README.md's first commands must be exactly what `make demo` runs (Makefile, demo:)"


# GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2... for
# repeats.
def _anchors(text: str) -> set[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#* *$", text, re.M):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_every_relative_link_leads_somewhere():
    broken = []
    for doc in DOCS + LINKED:
        text = re.sub(r"```.*?```", "", _text(doc), flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked offline
            path, _, anchor = target.partition("#")
            file = (REPO / doc).parent / path if path else REPO / doc
            if not file.exists():
                broken.append(f"{doc}: {target} (no such file)")
            elif anchor and (file.is_dir() or anchor not in _anchors(
                    file.read_text(encoding="utf-8"))):
                broken.append(f"{doc}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


@pytest.fixture
def stand_ins(tmp_path, aclimdb_dir, aclimdb_tarball, trainable_bert, tiny_bert, db_path,
              monkeypatch):
    """Path or name in the docs -> what the test runs with instead. Steam's API is the fake
    of tests/fake_steam.py (apps 440 and 570), the webhook a receiver, both on 127.0.0.1."""
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
    live = tmp_path / "jobs" / "live.toml"
    text = (REPO / "jobs" / "live.toml").read_text(encoding="utf-8")
    live.write_text(text.replace('"../asaas.duckdb"', f'"{db_path}"'), encoding="utf-8")
    apps = {"440": synthetic_records(250), "570": synthetic_records(150, start_id=90_000)}
    hook, fake = Receiver(), FakeSteam(apps).__enter__()
    for name, value in {"ASAAS_STEAM_API_URL": fake.url, "ASAAS_FETCH_RATE": "200",
                        "ASAAS_WEBHOOK_URL": hook.url, "ASAAS_WEBHOOK_FORMAT": "json"}.items():
        monkeypatch.setenv(name, value)
    yield {
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
        "steam-test-sample.parquet": steam,
        # docs/complaints.md's real examples: a product and an alert the stand-in lacks.
        "EARTH DEFENSE FORCE 4.1": "Pit People",
        "volume:218410:2014-01-25": "negative:558420:2017-10-07",
        "report.html": tmp_path / "report.html",
        "jobs/nightly.toml": job,
        "jobs/live.toml": live,
    }
    fake.stop()
    hook.close()


def _looks_like_path(arg: str) -> bool:
    # Arguments with spaces are SQL texts and titles, not paths.
    return not arg.startswith("-") and " " not in arg and ("/" in arg or arg.endswith(
        (".csv", ".parquet", ".gz", ".toml", ".html", ".json", ".jsonl")))


def _run_command(invoke, stand_ins, doc: str, args: list[str]) -> None:
    args = [str(stand_ins.get(a, a)) for a in args]
    shown = f"{doc}: asaas {' '.join(args)}"
    # Output files (--html) need not exist yet.
    missing = [a for a in args if _looks_like_path(a) and not Path(a).exists()
               and a != "asaas.duckdb" and not a.endswith(".html")]
    assert not missing, f"{shown} names {missing}: add a stand-in to tests/test_readme.py"
    result = invoke(*args)
    expected = next((fragment for test, fragment in EXPECTED_ERRORS if test(args)), None)
    if expected and not (args[:1] == ["score"] and "--engine" in args
                         and result.output.startswith("nothing to score")):
        line = err(result)
        assert expected in line, f"{shown}: {line}"
    else:
        assert result.exit_code == 0, f"{shown}\n{result.output}"
        assert "Traceback" not in result.output, f"{shown}\n{result.output}"


@pytest.mark.slow
def test_every_doc_command_runs(invoke, stand_ins, db_path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # files the commands write land here, not in the checkout
    from asaas.models import embeddings

    real_embedder = embeddings.get_embedder
    monkeypatch.setattr(embeddings, "get_embedder", lambda name, **kw: (
        rd.StandInE5.make(kw.get("max_tokens"), kw.get("threads")) if name == "e5"
        else real_embedder(name, **kw)))  # docs/languages.md: e5 is too slow for a test
    for doc in DOCS:
        for args in doc_commands(doc):
            _run_command(invoke, stand_ins, doc, args)
        for statement in doc_sql(doc):
            result = invoke("sql", statement)
            assert result.exit_code == 0, f"{doc}: {statement}\n{result.output}"
        for snippet in doc_python(doc):
            # The snippets open ./asaas.duckdb, the default database: here, the test's.
            code = snippet.replace('"asaas.duckdb"', repr(str(db_path)))
            with contextlib.redirect_stdout(io.StringIO()) as shown:
                exec(compile(code, f"{doc} (python snippet)", "exec"), {})  # noqa: S102
            assert shown.getvalue().strip(), f"{doc}: the python snippet printed nothing"
    assert (tmp_path / "report.html").stat().st_size > 1000  # `asaas report --html` wrote it
