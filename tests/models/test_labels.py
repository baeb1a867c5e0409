"""Label mapping (asaas/models/labels.py) from a model's own id2label; ambiguity is refused, never
guessed."""

from __future__ import annotations

import numpy as np
import pytest

from asaas.models.labels import LabelMappingError, LabelRule, resolve


def _p(rule: LabelRule, rows):
    return rule.prob_positive(np.asarray(rows, dtype=np.float64))


@pytest.mark.parametrize("id2label,expected_pos", [
    ({0: "NEGATIVE", 1: "POSITIVE"}, 1),
    ({0: "POSITIVE", 1: "NEGATIVE"}, 0),
    ({0: "neg", 1: "pos"}, 1),
    ({0: "pos", 1: "neg"}, 0),
    ({"0": "Negative", "1": "Positive"}, 1),
])
def test_binary_names(id2label, expected_pos):
    rule = resolve(id2label)
    assert rule.kind == "binary" and rule.positive_index == expected_pos
    probs = [[0.9, 0.1], [0.2, 0.8]]
    assert np.allclose(_p(rule, probs), [r[expected_pos] for r in probs])


def test_label_0_label_1_is_ambiguous_without_positive_label():
    with pytest.raises(LabelMappingError, match="--positive-label"):
        resolve({0: "LABEL_0", 1: "LABEL_1"})
    assert resolve({0: "LABEL_0", 1: "LABEL_1"}, "LABEL_1").positive_index == 1
    assert resolve({0: "LABEL_0", 1: "LABEL_1"}, "label_0").positive_index == 0


def test_positive_label_must_exist():
    with pytest.raises(LabelMappingError, match="not one of the model's labels"):
        resolve({0: "LABEL_0", 1: "LABEL_1"}, "POSITIVE")


@pytest.mark.parametrize("id2label", [
    {0: "POSITIVE", 1: "POSITIVE"},
    {0: "happy", 1: "sad"},
    {0: "NEGATIVE"},
    {0: "a", 1: "b", 2: "c"},
])
def test_ambiguous_or_unknown_mappings_are_refused(id2label):
    with pytest.raises(LabelMappingError):
        resolve(id2label)


def test_star_models_map_to_expected_rating():
    rule = resolve({i: f"{i + 1} star" + ("s" if i else "") for i in range(5)})
    assert rule.kind == "stars"
    assert np.allclose(_p(rule, [[1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1],
                                 [0.5, 0, 0, 0, 0.5], [0, 0.5, 0, 0.5, 0]]),
                       [0.0, 0.5, 1.0, 0.5, 0.5])


def test_three_way_renormalises_polar_classes():
    rule = resolve({0: "negative", 1: "neutral", 2: "positive"})
    assert rule.kind == "three-way"
    assert np.allclose(_p(rule, [[0.2, 0.6, 0.2], [0.1, 0.5, 0.4], [0, 1, 0]]), [0.5, 0.8, 0.5])


def test_round_trip_through_params():
    rule = resolve({0: "NEGATIVE", 1: "POSITIVE"})
    assert LabelRule.from_params(rule.to_params()) == rule
