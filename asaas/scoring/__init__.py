"""Scoring: a model version's predictions for a corpus, stored in SQL.

- ``options``: what a run can be told (ScoreOptions), reports, the scoring recipe;
- ``scorers``: model in, texts in, probabilities out (scikit-learn and Hugging Face);
- ``selection``: which reviews, in which order, handed out how;
- ``writer``: bulk writes of predictions with honest counts;
- ``runs``: the ``scoring_runs`` bookkeeping;
- ``engine``: the local engine (``score``); ``ray_engine``: the same scorer in Ray actors.
"""

from asaas.scoring.engine import score
from asaas.scoring.options import ScoreOptions, ScoreReport, Scored
from asaas.scoring.ray_engine import RayOptions, RayScoreReport, score_ray
from asaas.scoring.scorers import HFScorer, SklearnScorer, load_scorer, resolve_device
from asaas.scoring.selection import check_selection

__all__ = ["HFScorer", "RayOptions", "RayScoreReport", "ScoreOptions", "ScoreReport", "Scored",
           "SklearnScorer", "check_selection", "load_scorer", "resolve_device", "score",
           "score_ray"]
