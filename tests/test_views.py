"""The metric views (sql/0*.sql, installed by asaas/views.py): every metric equals scikit-learn's
on random prediction sets with ties, and the degenerate cases give NULL with a reason instead of an
error."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from scipy import stats
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score,
                             brier_score_loss, confusion_matrix, precision_recall_fscore_support,
                             roc_auc_score)

from asaas.store import open_store
from asaas.views import install_views, view_names
from tests.helpers import query_arrow

TOL = 1e-9


def _seed_predictions(store, sets: list[tuple[np.ndarray, np.ndarray]], split: str = "test"):
    """Reviews for the longest label vector; one model version per (labels, scores) set.

    Every set scores the first len(scores) reviews, whose labels are overwritten per set by
    giving each set its own dataset, so sets can differ in labels too.
    """
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'x', 'test', 'succeeded', now())")
        review_id = 0
        for k, (y, s) in enumerate(sets, start=1):
            n = len(y)
            ids = np.arange(review_id + 1, review_id + n + 1, dtype=np.int64)
            review_id += n
            lengths = np.resize([10, 600, 1500, 2500, 5000], n)
            store.insert_arrow(conn, "reviews", pa.table({
                "id": pa.array(ids), "dataset": [f"set{k}"] * n,
                "external_id": [str(i) for i in ids], "split": [split] * n,
                "text": ["x" * int(m) for m in lengths],
                "label": pa.array(np.asarray(y, dtype=np.int16)),
                "content_hash": ["h"] * n, "ingest_run_id": pa.array(np.ones(n, np.int64))}))
            conn.exec_driver_sql(f"INSERT INTO models (id, name, created_at) "
                                 f"VALUES ({k}, 'm{k}', now())")
            conn.exec_driver_sql(f"INSERT INTO model_versions (id, model_id, version, kind, "
                                 f"artifact_uri, created_at) VALUES ({k}, {k}, 1, 'hf', 'x', now())")
            conn.exec_driver_sql(f"INSERT INTO scoring_runs (id, model_version_id, dataset, status,"
                                 f" started_at) VALUES ({k}, {k}, 'set{k}', 'succeeded', now())")
            s = np.asarray(s, dtype=np.float64)
            store.insert_arrow(conn, "predictions", pa.table({
                "review_id": pa.array(ids), "model_version_id": pa.array(np.full(n, k)),
                "scoring_run_id": pa.array(np.full(n, k)),
                "label": pa.array((s >= 0.5).astype(np.int16)),
                "prob_positive": pa.array(s),
                "n_tokens": pa.array(np.resize([100, 700], n).astype(np.int32)),
                "truncated": pa.array(np.resize([False, True], n))}))
    install_views(store)


def _random_sets(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(count):
        n = int(rng.integers(20, 400))
        y = (rng.random(n) < rng.uniform(0.2, 0.8)).astype(int)
        y[:2] = [0, 1]  # both classes present
        noise = rng.normal(0, rng.uniform(0.1, 0.6), n)
        s = 1 / (1 + np.exp(-(2 * y - 1) * rng.uniform(0.2, 2.0) - noise))
        s = np.round(s, int(rng.integers(1, 3)))  # 1-2 decimals: plenty of tied scores
        sets.append((y, s))
    return sets


def _metrics(store):
    rows = query_arrow(store, "SELECT * FROM metrics ORDER BY model_version_id").to_pylist()
    return {r["model_version_id"]: r for r in rows}


@pytest.fixture
def store(db_url):
    """Every view test runs on DuckDB and on PostgreSQL."""
    return open_store(db_url)


def test_metrics_equal_scikit_learn(store):
    sets = _random_sets(25)
    _seed_predictions(store, sets)
    got = _metrics(store)
    z = stats.norm.ppf(0.975)
    for k, (y, s) in enumerate(sets, start=1):
        m = got[k]
        pred = (s >= 0.5).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
        assert m["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=TOL)
        p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
        if tp + fp:
            assert m["precision"] == pytest.approx(p, abs=TOL)
        assert m["recall"] == pytest.approx(r, abs=TOL)
        if tp:
            assert m["f1"] == pytest.approx(f, abs=TOL)
        assert m["specificity"] == pytest.approx(tn / (tn + fp), abs=TOL)
        assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred), abs=TOL)
        assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=TOL)
        assert m["average_precision"] == pytest.approx(average_precision_score(y, s), abs=TOL)
        assert m["brier_score"] == pytest.approx(brier_score_loss(y, s), abs=TOL)
        # Wilson interval for accuracy
        n, acc = len(y), accuracy_score(y, pred)
        centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert m["accuracy_ci_low"] == pytest.approx(centre - half, abs=1e-9)
        assert m["accuracy_ci_high"] == pytest.approx(centre + half, abs=1e-9)
        # Hanley-McNeil interval for AUC (from the view's AUC: near 1 the square root would
        # magnify scikit-learn's last-bit rounding past the tolerance)
        a, n1, n2 = m["roc_auc"], int(y.sum()), int(len(y) - y.sum())
        q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
        se = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a))
                       / (n1 * n2))
        assert m["roc_auc_ci_low"] == pytest.approx(max(0.0, a - z * se), abs=1e-9)
        assert m["roc_auc_ci_high"] == pytest.approx(min(1.0, a + z * se), abs=1e-9)
        # expected calibration error, 10 equal-width bins
        bins = np.minimum(np.floor(s * 10).astype(int), 9)
        ece = sum((bins == b).sum() / n * abs(y[bins == b].mean() - s[bins == b].mean())
                  for b in range(10) if (bins == b).any())
        assert m["expected_calibration_error"] == pytest.approx(ece, abs=TOL)
        assert m["reason"] is None


def test_roc_and_pr_curves_match_scikit_learn(store):
    from sklearn.metrics import precision_recall_curve, roc_curve

    sets = _random_sets(5, seed=1)
    _seed_predictions(store, sets)
    for k, (y, s) in enumerate(sets, start=1):
        pts = query_arrow(store, f"SELECT fpr, tpr FROM roc_curve WHERE model_version_id = {k} "
                                 "ORDER BY threshold DESC").to_pydict()
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        assert np.allclose(pts["fpr"], fpr[1:], atol=TOL)
        assert np.allclose(pts["tpr"], tpr[1:], atol=TOL)
        pr = query_arrow(store, f"SELECT precision, recall FROM pr_curve "
                                f"WHERE model_version_id = {k} ORDER BY threshold").to_pydict()
        precision, recall, _ = precision_recall_curve(y, s, drop_intermediate=False)
        assert np.allclose(pr["precision"], precision[:-1], atol=TOL)
        assert np.allclose(pr["recall"], recall[:-1], atol=TOL)


def test_slices_by_length_and_truncation(store):
    sets = _random_sets(3, seed=2)
    _seed_predictions(store, sets)
    rows = query_arrow(store, "SELECT * FROM metrics_by_slice WHERE model_version_id = 1"
                              ).to_pylist()
    y, s = sets[0]
    n = len(y)
    lengths = np.resize([10, 600, 1500, 2500, 5000], n)
    truncated = np.resize([False, True], n)
    by = {(r["slice_kind"], r["slice"]): r for r in rows}
    assert by[("all", "all")]["n"] == n
    for length, name in [(10, "0000-0499 chars"), (600, "0500-0999 chars"),
                         (1500, "1000-1999 chars"), (2500, "2000-3999 chars"),
                         (5000, "4000+ chars")]:
        mask = lengths == length
        r = by[("length", name)]
        assert r["n"] == mask.sum()
        assert r["accuracy"] == pytest.approx(accuracy_score(y[mask], s[mask] >= 0.5), abs=TOL)
    for flag, name in [(True, "truncated"), (False, "not truncated")]:
        mask = truncated == flag
        r = by[("truncated", name)]
        assert r["n"] == mask.sum()
        if len(set(y[mask])) == 2 and len(set(s[mask])) > 1:
            assert r["roc_auc"] == pytest.approx(roc_auc_score(y[mask], s[mask]), abs=TOL)


def test_mcnemar_matches_chi_square(store):
    rng = np.random.default_rng(5)
    n = 300
    y = rng.integers(0, 2, n)
    s1 = np.clip(y * 0.6 + rng.random(n) * 0.5, 0, 1)
    s2 = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1)
    _seed_predictions(store, [(y, s1)])
    with store.transaction() as conn:  # a second version scoring the same reviews
        conn.exec_driver_sql("INSERT INTO model_versions (id, model_id, version, kind, "
                             "artifact_uri, created_at) VALUES (2, 1, 2, 'hf', 'x', now())")
        conn.exec_driver_sql("INSERT INTO scoring_runs (id, model_version_id, dataset, status, "
                             "started_at) VALUES (2, 2, 'set1', 'succeeded', now())")
        store.insert_arrow(conn, "predictions", pa.table({
            "review_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "model_version_id": pa.array(np.full(n, 2)), "scoring_run_id": pa.array(np.full(n, 2)),
            "label": pa.array((s2 >= 0.5).astype(np.int16)), "prob_positive": pa.array(s2),
            "n_tokens": pa.array(np.full(n, 5, np.int32)), "truncated": pa.array([False] * n)}))
    row = query_arrow(store, "SELECT * FROM mcnemar").to_pylist()[0]
    right1, right2 = (s1 >= 0.5) == y, (s2 >= 0.5) == y
    b, c = int((right1 & ~right2).sum()), int((~right1 & right2).sum())
    assert (row["b"], row["c"], row["n_shared"]) == (b, c, n)
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    assert row["statistic"] == pytest.approx(stat, abs=TOL)
    assert row["p_value"] == pytest.approx(stats.chi2.sf(stat, 1), rel=1e-6)
    latest = query_arrow(store, "SELECT model_label FROM latest_metrics").to_pylist()
    assert latest == [{"model_label": "m1 v2"}]
    dis = query_arrow(store, "SELECT * FROM disagreements WHERE version_a = 1").to_pylist()
    assert len(dis) == int(((s1 >= 0.5) != (s2 >= 0.5)).sum())
    for d in dis:
        assert d["right_model"] == ("m1 v1" if d["label_a"] == d["y_true"] else "m1 v2")


@pytest.mark.parametrize("case,y,s,reason", [
    ("one class", [1, 1, 1, 1], [0.2, 0.7, 0.9, 0.4], "one class only"),
    ("all tied", [0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], "all scores tied"),
])
def test_degenerate_auc_is_null_with_reason(store, case, y, s, reason):
    _seed_predictions(store, [(np.array(y), np.array(s))])
    m = _metrics(store)[1]
    assert m["roc_auc"] is None and m["roc_auc_ci_low"] is None
    row = query_arrow(store, "SELECT roc_auc_reason FROM roc_auc_by_slice "
                             "WHERE slice_kind = 'all'").to_pylist()[0]
    assert reason in row["roc_auc_reason"]


def test_no_positive_predictions_and_no_positives(store):
    _seed_predictions(store, [(np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])),
                              (np.array([0, 0, 0]), np.array([0.1, 0.9, 0.3]))])
    m = _metrics(store)
    assert m[1]["precision"] is None and m[1]["f1"] is None
    assert "no positive predictions" in m[1]["reason"]
    assert m[1]["roc_auc"] == pytest.approx(0.75)  # 3 of 4 positive-negative pairs ordered
    assert m[2]["recall"] is None and m[2]["average_precision"] is None
    assert "no positive reviews" in m[2]["reason"]


def test_versions_without_predictions_are_listed_with_a_reason(store):
    _seed_predictions(store, _random_sets(1))
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO models (id, name, created_at) VALUES (9, 'idle', now())")
        conn.exec_driver_sql("INSERT INTO model_versions (id, model_id, version, kind, "
                             "artifact_uri, created_at) VALUES (9, 9, 1, 'hf', 'x', now())")
    m = _metrics(store)
    assert m[9]["accuracy"] is None and m[9]["n"] == 0
    assert "no predictions" in m[9]["reason"]


def test_views_install_is_idempotent_and_queryable_with_plain_duckdb(db_path):
    import duckdb

    store = open_store(str(db_path))
    _seed_predictions(store, _random_sets(2, seed=3))
    counts = {name: query_arrow(store, f"SELECT count(*) AS n FROM {name}").to_pylist()[0]["n"]
              for name in view_names()}
    install_views(store)
    install_views(store)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        installed = {r[0] for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert installed == set(view_names())  # each once, nothing left over
        for name in view_names():  # a plain DuckDB client sees the same rows as asaas
            assert con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == counts[name], name
        versions = con.execute("SELECT DISTINCT model_version_id FROM metrics ORDER BY 1")
        assert versions.fetchall() == [(1,), (2,)]
    finally:
        con.close()


def test_empty_database_views_return_nothing(store):
    install_views(store)
    with store.transaction() as conn:
        for name in view_names():
            rows = conn.execute(sa.text(f"SELECT * FROM {name}")).fetchall()
            assert rows == [], name


def test_wilson_bounds_stay_in_zero_one_at_perfect_and_hopeless_accuracy(store):
    """At accuracy 1 or 0 the Wilson formula rounds a hair outside [0, 1] for some n (9 and 13
    reviews: 1.0000000000000002; 4, 5, 8 and 10: -5.6e-17): the shared macro clips it, as
    statsmodels does."""
    from statsmodels.stats.proportion import proportion_confint

    sizes = (9, 13, 4, 5, 8, 10)
    sets = []
    for k, n in enumerate(sizes):
        y = np.resize([0, 1], n)
        right = k < 2  # the first two sets are perfect, the others always wrong
        sets.append((y, np.where(y == 1, 0.9, 0.1) if right else np.where(y == 1, 0.1, 0.9)))
    _seed_predictions(store, sets)
    got = _metrics(store)
    for k, n in enumerate(sizes, start=1):
        m = got[k]
        assert m["accuracy"] == (1.0 if k <= 2 else 0.0)
        lo, hi = proportion_confint(n if k <= 2 else 0, n, alpha=1 - 0.95, method="wilson")
        assert 0.0 <= m["accuracy_ci_low"] <= m["accuracy_ci_high"] <= 1.0, (n, m)
        assert (m["accuracy_ci_low"], m["accuracy_ci_high"]) == pytest.approx((lo, hi), abs=1e-12)


def test_view_files_expand_their_macros():
    """Every view installs as plain SQL: the macros of sql/macros.sql are expanded (a misspelt
    one fails the install), and the 95% z is written in that one file."""
    from asaas.views import SQL_DIR, _views

    for name, sql in _views():
        assert "{{" not in sql and "{%" not in sql and "{#" not in sql, name
    holding_z = [p.name for p in sorted(SQL_DIR.glob("*.sql"))
                 if "1.959963984540054" in p.read_text(encoding="utf-8")]
    assert holding_z == ["macros.sql"]
