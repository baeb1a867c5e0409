"""Database URLs (asaas/store/urls.py): settings that are neither a URL nor a file path are refused
with the fix, paths and URLs work as written, and no error, job log or job_runs row shows a
password (mask_secrets, redact)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from asaas.errors import ConfigError
from asaas.jobs import EXIT_OK, EXIT_STEP_FAILED, run_job
from asaas.store.urls import mask_secrets, normalize_url, redact
from tests.helpers import err, job_file, ok

#: Passwords as users type them: one with a space, '@' and '/' not percent-encoded.
SECRETS = ["s3cr3tPa55", "Zq9 xwK@K7Jm/Vv8"]
PIECES = {"s3cr3tPa55": ["s3cr3tPa55"], "Zq9 xwK@K7Jm/Vv8": ["Zq9", "xwK", "K7Jm", "Vv8"]}
#: The password of the job-log tests' URLs (the test server trusts any password).
SECRET = "s3cr3t-Pa55"

#: Each with {pw}: a libpq keyword string, unparsable URLs, mistyped schemes.
BAD = [
    "host=db.example dbname=asaas user=bob password={pw}",
    "host=db.example dbname=asaas user=bob password='{pw}'",
    "dbname=asaas password={pw} host=db.example",
    "postgresql://bob:{pw}@localhost:notaport/asaas",
    "postgresql://bob:{pw}@[::1/asaas",
    "postgresq://bob:{pw}@localhost/asaas",
    "postgresql:/bob:{pw}@localhost/asaas",
    "postgresql//bob:{pw}@localhost/asaas",
    "postgres:bob:{pw}@localhost/asaas",
    "postgresql+psycopg://bob:{pw}@localhost:99999/asaas",
]


def _with_password(url: str) -> str:
    return url.replace("://asaas@", f"://asaas:{SECRET}@")


def _clean(text: str, secret: str) -> bool:
    return not any(piece in text for piece in PIECES[secret])


def _job(tmp_path: Path, db: str | None = None) -> Path:
    head = f'db = "{db}"\n' if db is not None else ""  # (no quote or backslash in these)
    return job_file(tmp_path, head + '\n[[steps]]\nkind = "views"\n')


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("template", BAD)
def test_bad_database_settings_are_refused_without_the_password(invoke, tmp_path, monkeypatch,
                                                                template, secret):
    url = template.format(pw=secret)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for args in (["sql", "SELECT 1 AS a"], ["db", "current"], ["db", "upgrade"],
                 ["ingest", "--source", "reviews.csv"]):
        line = err(invoke(*args, "--db", url))
        assert _clean(line, secret), (args, line)
        monkeypatch.setenv("ASAAS_DB", url)
        line = err(invoke(*args))
        assert _clean(line, secret), (args, line)
        monkeypatch.delenv("ASAAS_DB")
    # The job log (what cron appends to a file), with the URL from --db and from the job file.
    for job, db_url in ((_job(tmp_path), url), (_job(tmp_path, url), None)):
        log = io.StringIO()
        code = run_job(job, db_url=db_url, stream=log)
        assert code == EXIT_STEP_FAILED, log.getvalue()
        assert _clean(log.getvalue(), secret), log.getvalue()
        assert "cannot start" in log.getvalue()
    assert list(work.iterdir()) == []  # no DuckDB file named after the setting


def test_keyword_string_names_the_fix():
    with pytest.raises(ConfigError, match=r"libpq connection string .* write it as a URL, "
                                          r"postgresql://USER:\*\*\*@HOST:5432/DBNAME"):
        normalize_url("host=db dbname=asaas user=bob password=x")
    with pytest.raises(ConfigError, match="no '://' after its scheme"):
        normalize_url("postgresql:/bob@db/asaas")
    with pytest.raises(ConfigError, match="percent-encode an '@'"):
        normalize_url("postgresql://bob:p@ss@db/asaas")
    with pytest.raises(ConfigError, match="control character"):
        normalize_url("reviews.duckdb\n0 * * * * evil")


def test_paths_and_urls_still_work(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalize_url("my reviews.duckdb") == "duckdb:///my reviews.duckdb"
    assert normalize_url("./odd:name.duckdb") == "duckdb:///./odd:name.duckdb"
    assert normalize_url("C:/data/asaas.duckdb") == "duckdb:///C:/data/asaas.duckdb"
    assert normalize_url("postgresql://bob:p%40ss%20w@db:5432/asaas").startswith(
        "postgresql+psycopg://bob:p%40ss%20w@db:5432/")
    ok(invoke("db", "upgrade", "--db", "my reviews.duckdb"))
    assert (tmp_path / "my reviews.duckdb").is_file()


def test_mask_secrets_masks_the_whole_password_whatever_it_holds():
    for secret in SECRETS:
        for template in BAD:
            text = "Error: cannot open " + template.format(pw=secret) + " (see the log)"
            assert _clean(mask_secrets(text), secret), mask_secrets(text)
    text = "a postgresql://u:pw1@h/db b mysql://r:pw2@h c sslpassword=pw3; d password=x y=1"
    assert mask_secrets(text) == ("a postgresql://u:***@h/db b mysql://r:***@h c "
                                  "sslpassword=***; d password=*** y=1")
    # An '@' in the words after a URL is not part of its password.
    assert mask_secrets("url postgresql://u:pw@h/db has an '@' (%40)") == \
        "url postgresql://u:***@h/db has an '@' (%40)"


def test_job_with_a_percent_encoded_password_keeps_it_out_of_log_and_table(pg_server,
                                                                           tmp_path):
    """The test server trusts any password: the job runs, and neither the log nor the job_runs
    row holds the password, encoded or not."""
    import sqlalchemy as sa

    url = pg_server().replace("://asaas@", "://asaas:Zq9%20xwK%40K7Jm%2FVv8@")
    log = io.StringIO()
    assert run_job(_job(tmp_path), db_url=url, stream=log) == EXIT_OK, log.getvalue()
    assert "job nightly started" in log.getvalue()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM job_runs").fetchall()
    engine.dispose()
    assert rows
    for text in (log.getvalue(), repr(rows)):
        assert "Zq9" not in text and "K7Jm" not in text and "Vv8" not in text, text


def test_job_log_and_job_runs_never_hold_the_password(pg_server, tmp_path, capsys):
    url = _with_password(pg_server())  # the test server trusts any password
    job = job_file(tmp_path, """
        [[steps]]
        kind = "views"

        [[steps]]
        kind = "score"
        models = ["missing"]
    """)
    run_job(job, db_url=url)
    log = capsys.readouterr().err
    assert "job nightly started" in log and "***" in log
    assert SECRET not in log
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT job_file, error, steps FROM job_runs").fetchall()
    engine.dispose()
    assert rows and SECRET not in repr(rows)


@pytest.mark.parametrize("url", [
    f"postgresql://asaas:{SECRET}@localhost:notaport/db",
    f"postgresql+psycopg://asaas:{SECRET}@localhost:99999/db",
    f"postgresql://asaas:{SECRET}@/db?host=/nonexistent-socket-dir",
])
def test_bad_urls_are_reported_without_the_password(invoke, url, tmp_path, capsys):
    line = err(invoke("report", "--db", url))
    assert SECRET not in line and "Error: " in line
    job = job_file(tmp_path, """
        [[steps]]
        kind = "views"
    """)
    run_job(job, db_url=url)
    assert SECRET not in capsys.readouterr().err


def test_mask_secrets_covers_urls_and_keyword_strings():
    text = (f"x postgresql://u:{SECRET}@h:5432/db y postgresql://u:{SECRET}@h:bad/db "
            f"host=h password={SECRET} user=u; mysql://root:{SECRET}@db")
    masked = mask_secrets(text)
    assert SECRET not in masked and masked.count("***") == 4
    assert SECRET not in redact(f"postgresql://u:{SECRET}@h:notaport/db")
    assert redact("duckdb:///asaas.duckdb") == "duckdb:///asaas.duckdb"
