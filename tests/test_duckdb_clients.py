"""Any DuckDB client opens what asaas writes: new files use a storage format that DuckDB 1.x
reads (the `duckdb` command-line tool from `pip install duckdb-cli` is 1.5), views included."""

from __future__ import annotations

import subprocess

from tests.helpers import err, ok
from tests.requires import require


def test_duckdb_1x_cli_reads_tables_and_views(invoke, db_path, learnable_source):
    cli = require("duckdb-cli")
    version = subprocess.run([cli, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("v1."), version  # a 1.x client, older than the DuckDB asaas runs
    ok(invoke("ingest", "--source", str(learnable_source(80, 40))))
    ok(invoke("train", "tfidf-lr"))
    ok(invoke("score", "--model", "tfidf-lr"))
    out = subprocess.run([cli, "-readonly", "-csv", str(db_path), "-c",
                          "SELECT model_label, n FROM metrics; SELECT count(*) FROM reviews"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "tfidf-lr v1,40" in out.stdout and "120" in out.stdout


def test_newest_format_on_request(invoke, db_path, learnable_source, monkeypatch):
    cli = require("duckdb-cli")
    monkeypatch.setenv("ASAAS_DUCKDB_STORAGE", "latest")
    ok(invoke("ingest", "--source", str(learnable_source(10, 10))))
    out = subprocess.run([cli, "-readonly", str(db_path), "-c", "SELECT 1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "version" in out.stderr.lower()


def test_bad_storage_setting_is_one_line(invoke, monkeypatch):
    monkeypatch.setenv("ASAAS_DUCKDB_STORAGE", "1.4")
    assert "ASAAS_DUCKDB_STORAGE" in err(invoke("db", "upgrade"))
