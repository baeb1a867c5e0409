"""`asaas report --by language` and the metrics_by_language view: balanced accuracy and ROC AUC
per language equal scikit-learn's, with their intervals, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from asaas.store import open_store
from asaas.views import install_views
from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import query_arrow

LANGUAGES = ["english", "schinese", "koreana", "polish"]


def _seed(store, seed: int = 0):
    """Two versions scoring the same labelled reviews in four languages (a few with none);
    version 2 labels at a threshold per language, as multilingual models do."""
    rng = np.random.default_rng(seed)
    n = 600
    lang = rng.choice(LANGUAGES + [None], n, p=[0.4, 0.25, 0.15, 0.1, 0.1])
    y = (rng.random(n) < 0.8).astype(int)
    y[:10] = [0, 1] * 5
    truth = {}
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'steam', 'test', 'succeeded', now())")
        ids = np.arange(1, n + 1, dtype=np.int64)
        store.insert_arrow(conn, "reviews", pa.table({
            "id": pa.array(ids), "dataset": ["steam"] * n,
            "external_id": [str(i) for i in ids], "split": ["test"] * n,
            "text": ["x"] * n, "label": pa.array(y.astype(np.int16)),
            "language": pa.array(lang.tolist(), pa.string()),
            "content_hash": ["h"] * n, "ingest_run_id": pa.array(np.ones(n, np.int64))}))
        for k in (1, 2):
            conn.exec_driver_sql(f"INSERT INTO models (id, name, created_at) "
                                 f"VALUES ({k}, 'm{k}', now())")
            conn.exec_driver_sql(f"INSERT INTO model_versions (id, model_id, version, kind, "
                                 f"artifact_uri, created_at) VALUES ({k}, {k}, 1, 'hf', 'x', "
                                 "now())")
            conn.exec_driver_sql(f"INSERT INTO scoring_runs (id, model_version_id, dataset, "
                                 f"status, started_at) VALUES ({k}, {k}, 'steam', 'succeeded', "
                                 "now())")
            s = np.round(1 / (1 + np.exp(-(2 * y - 1) * rng.uniform(0.3, 1.5)
                                         - rng.normal(0, 0.8, n))), 2)  # ties
            cut = np.where(lang == "koreana", 0.7, 0.5) if k == 2 else np.full(n, 0.5)
            label = (s >= cut).astype(np.int16)
            scored = rng.random(n) < (0.9 if k == 2 else 1.0)  # version 2: a sample
            store.insert_arrow(conn, "predictions", pa.table({
                "review_id": pa.array(ids[scored]),
                "model_version_id": pa.array(np.full(scored.sum(), k)),
                "scoring_run_id": pa.array(np.full(scored.sum(), k)),
                "label": pa.array(label[scored]), "prob_positive": pa.array(s[scored]),
                "n_tokens": pa.array(np.full(scored.sum(), 5, np.int32)),
                "truncated": pa.array(np.zeros(scored.sum(), bool))}))
            truth[k] = (scored, s, label)
    install_views(store)
    return lang, y, truth


@pytest.fixture
def store(db_url):
    return open_store(db_url)


def test_metrics_by_language_equal_scikit_learn(store):
    lang, y, truth = _seed(store)
    rows = query_arrow(store, "SELECT * FROM metrics_by_language").to_pylist()
    got = {(r["model_version_id"], r["language"]): r for r in rows}
    assert {la for _, la in got} == set(LANGUAGES)  # reviews without a language: no row
    z = stats.norm.ppf(0.975)
    for k, (scored, s, label) in truth.items():
        for la in LANGUAGES:
            m = scored & (lang == la)
            r = got[(k, la)]
            yy, ss, ll = y[m], s[m], label[m]
            assert r["n"] == m.sum() and r["n_negative"] == (yy == 0).sum()
            assert r["n_labelled"] == (lang == la).sum()
            assert r["coverage"] == pytest.approx(m.sum() / (lang == la).sum())
            assert r["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(yy, ll),
                                                           abs=1e-9)
            tpr, tnr = (ll[yy == 1] == 1).mean(), (ll[yy == 0] == 0).mean()
            se = math.sqrt(tpr * (1 - tpr) / (yy == 1).sum()
                           + tnr * (1 - tnr) / (yy == 0).sum()) / 2
            ba = (tpr + tnr) / 2
            assert r["balanced_accuracy_ci_low"] == pytest.approx(max(0, ba - z * se), abs=1e-9)
            assert r["balanced_accuracy_ci_high"] == pytest.approx(min(1, ba + z * se),
                                                                   abs=1e-9)
            assert r["roc_auc"] == pytest.approx(roc_auc_score(yy, ss), abs=1e-9)
            a, n1, n0 = r["roc_auc"], (yy == 1).sum(), (yy == 0).sum()
            q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
            se = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a))
                           / (n1 * n0))
            assert r["roc_auc_ci_low"] == pytest.approx(max(0, a - z * se), abs=1e-9)
            assert r["roc_auc_ci_high"] == pytest.approx(min(1, a + z * se), abs=1e-9)
    # The headline metrics are unchanged by the language slices.
    headline = query_arrow(store, "SELECT n FROM metrics WHERE model_version_id = 1"
                           ).to_pylist()
    assert headline == [{"n": 600}]


def test_report_by_language_cli(invoke, db_path):
    store = open_store(str(db_path))
    lang, y, truth = _seed(store)
    out = json.loads(_ok(invoke("report", "--dataset", "steam", "--by", "language",
                                "--format", "json")))
    assert len(out) == 8
    rows = {(r["model"], r["language"]): r for r in out}
    assert rows[("m1", "english")]["threshold"] == 0.5  # not a multilingual version
    assert "sample:" in rows[("m2", "english")]["note"]  # version 2 scored 90%
    assert rows[("m1", "english")]["note"] == ""
    # Largest languages first within a version.
    m1 = [r["language"] for r in out if r["model"] == "m1"]
    assert m1[0] == "english"
    few = json.loads(_ok(invoke("report", "--dataset", "steam", "--by", "language",
                                "--min-reviews", "100", "--format", "json")))
    assert {r["language"] for r in few} < set(LANGUAGES)
    table = _ok(invoke("report", "--dataset", "steam", "--by", "language", "--latest"))
    assert "balanced_accuracy_ci_low" in table and "koreana" in table
    for fmt in ("csv", "markdown"):
        assert "koreana" in _ok(invoke("report", "--dataset", "steam", "--by", "language",
                                       "--format", fmt))
    assert "drop --by language" in _err(invoke("report", "--dataset", "steam", "--by",
                                               "language", "--html", "x.html"))
    assert "no predictions on labelled reviews with a language" in _ok(invoke(
        "report", "--dataset", "steam", "--by", "language", "--min-reviews", "100000"))


def test_a_job_report_step_by_language(db_path, tmp_path):
    """A job's report step takes by = "language" (and min_reviews) as the CLI takes --by and
    --min-reviews, and writes what `asaas report --by language` prints; html is refused."""
    from asaas.errors import ConfigError, JobError
    from asaas.jobs.loading import load_job
    from asaas.jobs.steps import StepContext, run_report
    from tests.helpers import job_file

    store = open_store(str(db_path))
    _seed(store)
    job = load_job(job_file(tmp_path, """
        [[steps]]
        kind = "report"
        path = "languages.md"
        dataset = "steam"
        by = "language"
        min_reviews = 100
    """))
    step = job.steps[0].options
    assert step.report.by == "language" and step.report.min_reviews == 100
    ctx = StepContext(store, tmp_path, 1, lambda _: None)
    out = run_report(ctx, step)
    written = (tmp_path / "languages.md").read_text()
    assert out["rows"] >= 2 and "| english |" in written and "balanced_accuracy_ci_low" in written
    assert "| polish |" not in written  # 10% of 600 (under 100 reviews)
    step.format = "html"
    with pytest.raises(ConfigError, match='by = "language" writes table'):
        run_report(ctx, step)
    with pytest.raises(JobError, match="by 'product' is not known"):
        load_job(job_file(tmp_path, '[[steps]]\nkind = "report"\npath = "x.md"\nby = "product"'))
