"""Scoring: a model version's predictions for a corpus, stored in SQL.

- ``options``: what a run can be told (ScoreOptions, RayOptions, ScoreRun), reports, the recipe;
- ``scorers``: model in, texts (and languages) in, probabilities out; the registry of scorers by
  model kind (``register_scorer``: scikit-learn and Hugging Face here, other kinds from their
  own modules, e.g. ``multilingual``);
- ``selection``: which reviews, in which order, handed out how;
- ``writer``: bulk writes of predictions with honest counts;
- ``runs``: a run planned (``plan_run``), recorded in ``scoring_runs`` and reported;
- ``engine``: the local engine (``score``) and ``run_score`` (the engine a ScoreRun names);
  ``ray_engine``: the same scorer in Ray actors.
"""

from asaas.scoring.engine import run_score, score
from asaas.scoring.options import RayOptions, ScoreOptions, ScoreReport, ScoreRun, Scored
from asaas.scoring.ray_engine import RayScoreReport, score_ray
from asaas.scoring.scorers import (HFScorer, Scorer, SklearnScorer, load_scorer, register_scorer,
                                   resolve_device)
from asaas.scoring.selection import check_selection

__all__ = ["HFScorer", "RayOptions", "RayScoreReport", "ScoreOptions", "ScoreReport", "ScoreRun",
           "Scored", "Scorer", "SklearnScorer", "check_selection", "load_scorer",
           "register_scorer", "resolve_device", "run_score", "score", "score_ray"]
