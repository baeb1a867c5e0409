"""Which reviews a scoring run works on (asaas/scoring/selection.py): the same --limit sample for
every model, the version's languages unless told otherwise, pages that walk the content-hash
order in windows, and one-line errors for selections that cannot be made."""

from __future__ import annotations

import pytest

from asaas.scoring import ScoreOptions
from asaas.store import open_store
from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import q as _q


def test_limit_picks_the_same_sample_for_every_model(invoke, db_url, review_file, tiny_bert,
                                                      tiny_distilbert):
    _ok(invoke("ingest", "--source", str(review_file(60))))
    _ok(invoke("models", "register", "a", "--hf", str(tiny_bert)))
    _ok(invoke("models", "register", "b", "--hf", str(tiny_distilbert)))
    _ok(invoke("score", "--model", "a", "--limit", "15", "--quiet"))
    _ok(invoke("score", "--model", "b", "--limit", "15", "--quiet"))
    rows = _q(db_url, "SELECT model_version_id, review_id FROM predictions ORDER BY 1, 2")
    sets = [[r for m, r in rows if m == mv] for mv in sorted({m for m, _ in rows})]
    assert len(sets) == 2 and sets[0] == sets[1] and len(sets[0]) == 15
    labels = _q(db_url, "SELECT DISTINCT r.label FROM predictions p "
                         "JOIN reviews r ON r.id = p.review_id")
    assert len(labels) == 2  # a sample of both classes, not the first rows of one


def test_bad_selection(invoke, review_file, tiny_bert):
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    assert "run `asaas ingest` first" in _err(invoke("score", "--model", "tiny"))
    _ok(invoke("ingest", "--source", str(review_file(5))))
    assert "has no split unsup" in _err(invoke("score", "--model", "tiny", "--split", "unsup"))
    assert "--device cpu" in _err(invoke("score", "--model", "tiny", "--device", "cuda"))
    assert "--limit must be" in _err(invoke("score", "--model", "tiny", "--limit", "0"))
    assert "--batch-tokens" in _err(invoke("score", "--model", "tiny", "--batch-tokens", "16"))


def test_language_filter_defaults_to_the_versions_languages(invoke, db_url, tmp_path, tiny_bert):
    """An English model does not score Chinese reviews unless asked; reviews of unknown
    language are always scored."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "test.parquet"
    pq.write_table(pa.table({"id": ["e1", "e2", "z1", "n1"],
                             "text": ["good film", "bad film", "好电影", "fine"],
                             "label": [1, 0, 1, 1]}), path)
    _ok(invoke("ingest", "--source", str(path)))
    from tests.helpers import q

    import sqlalchemy as sa

    engine = sa.create_engine(db_url if "://" in db_url else f"duckdb:///{db_url}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE reviews SET language = CASE external_id WHEN 'z1' THEN "
                             "'schinese' WHEN 'n1' THEN NULL ELSE 'english' END"))
    engine.dispose()
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert), "--max-length", "64"))
    assert "scored 3 reviews" in _ok(invoke("score", "--model", "tiny", "--quiet"))
    scored = {r[0] for r in q(db_url, "SELECT r.external_id FROM predictions p "
                                      "JOIN reviews r ON r.id = p.review_id")}
    assert scored == {"e1", "e2", "n1"}
    assert "scored 1 reviews" in _ok(invoke("score", "--model", "tiny", "--language", "all",
                                            "--quiet"))


@pytest.mark.parametrize("limit", [None, 45])
def test_pages_walk_the_order_in_windows(invoke, db_url, review_file, tiny_bert, monkeypatch,
                                         limit):
    """Pending reviews come out in content-hash order, each once, whatever the window sizes:
    tiny windows here, so a run crosses many of them (some empty), skips (and widens past)
    windows whose reviews are all scored, and stops at the --limit bound."""
    from asaas.models.registry import get_version
    from asaas.scoring import selection as sel_mod

    _ok(invoke("ingest", "--source", str(review_file(60))))
    _ok(invoke("models", "register", "a", "--hf", str(tiny_bert)))
    _ok(invoke("score", "--model", "a", "--limit", "20", "--quiet"))  # the first 20 in order
    monkeypatch.setattr(sel_mod, "WINDOW_ROWS", 3)  # about 20 windows of hash values
    store = open_store(db_url)
    mv = get_version(store, "a")
    sel = sel_mod.selection_for(store, mv, ScoreOptions(limit=limit, progress=False))
    pages = list(sel_mod.iter_pages(store, sel, 4))
    got = [i for ids, _ in pages for i in ids]
    expected = [r[0] for r in _q(db_url, "SELECT id FROM reviews ORDER BY content_hash, id")]
    expected = expected[20:limit]
    assert got == expected and len(got) == (limit or 60) - 20
    assert all(len(ids) <= 4 for ids, _ in pages)
    texts = dict(_q(db_url, "SELECT id, text FROM reviews"))
    assert all(t == texts[i] for ids, ts in pages for i, t in zip(ids, ts))
