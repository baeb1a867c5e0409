"""asaas.offtopic.model: the late fusion of feature blocks (TF-IDF, embeddings, the burst), its
plain-data artifact scoring like the fitted model, and the TF-IDF transform matching
scikit-learn's."""

from __future__ import annotations

import json

import numpy as np

from asaas.offtopic.data import load_annotations, parse_labels
from asaas.offtopic.features import Tfidf
from tests.helpers import ok, q
from tests.offtopic_data import train_offtopic, write_background


def test_embedding_blocks_and_the_burst_are_fused(invoke, annotated, tmp_path, fake_embeddings,
                                                  db_path):
    background = write_background(tmp_path / "ordinary.parquet")
    out = ok(train_offtopic(invoke, annotated, "--labels", "bomb,about_game", "--features",
                    "tfidf,minilm,burst", "--background", str(background)))
    assert "bomb+burst" in out  # the bomb label is evaluated with and without the burst
    (metrics, params), = q(db_path, "SELECT metrics, params FROM model_versions")
    metrics, params = json.loads(metrics), json.loads(params)
    assert set(metrics["labels"]) == {"bomb", "bomb+burst", "about_game"}
    assert params["burst_labels"] == ["bomb"]
    assert params["embedders"]["minilm"]["weights"] == "fake-hashed-bag-of-words"
    assert ("minilm", 160) in fake_embeddings  # every review embedded once for training


def test_saved_model_scores_like_the_fitted_one(annotated, tmp_path):
    from asaas.offtopic.model import OfftopicModel, fit_model

    data = load_annotations(annotated, parse_labels("bomb,about_game"))
    model = fit_model(data.texts, data.groups, data.labels, ["tfidf"], {})
    model.save(tmp_path)
    again = OfftopicModel.load(tmp_path)
    texts = ["boycott the publisher", "the combat feels great", ""]
    a, b = model.text_scores(texts, {}), again.text_scores(texts, {})
    for label in a:
        np.testing.assert_allclose(a[label], b[label])
    assert a["about_game"][1] > 0 > a["about_game"][0]


def test_tfidf_transform_is_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["the game crashes", "the game is fun fun fun", "crashes and crashes", "fun"]
    ours = Tfidf.fit(texts)
    theirs = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(texts)
    np.testing.assert_allclose(ours.transform(texts).toarray(),
                               theirs.transform(texts).toarray())
