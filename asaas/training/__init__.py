"""Training jobs: scikit-learn baselines and transformer fine-tuning, each a new model version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from asaas.models import registry
from asaas.models.registry import ModelVersion
from asaas.models.sklearn_models import save_pipeline
from asaas.store import Store
from asaas.training.artifacts import staged_artifact
from asaas.training.baselines import BASELINES, fit_baseline
from asaas.training.data import TrainingDataError, load_training_data

__all__ = ["BASELINES", "TrainingDataError", "train_baseline"]


def train_baseline(store: Store, kind: str, home: Path, *, name: str | None = None,
                   dataset: str = "imdb", limit: int | None = None, seed: int = 42,
                   skip_existing: bool = False, languages: list[str] | None = None,
                   class_weight: str | None = None) -> ModelVersion:
    """Fit a BASELINES recipe on the train split and register it as a new version.

    With ``skip_existing``, a version of ``name`` already trained with the same recipe on the
    same rows is returned instead of training again. ``class_weight="balanced"`` weighs the
    rarer class up (Steam reviews are 94% positive).
    """
    from asaas.errors import ConfigError
    from asaas.training.finetune import check_seed

    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1 (got {limit})")
    check_seed(seed)
    data = load_training_data(store, dataset, "train", limit, languages)
    key_parts: list = [kind, seed, limit, data.fingerprint]
    if class_weight:  # absent from keys of runs made before the option existed
        key_parts.append(class_weight)
    recipe_key = hashlib.sha256(json.dumps(key_parts).encode()).hexdigest()[:12]
    if skip_existing:
        existing = registry.find_by_recipe(store, name or kind, recipe_key)
        if existing is not None:
            return existing
    pipeline, info = fit_baseline(kind, data.texts, data.labels, seed, class_weight)
    params = {**info["params"], "limit": limit, "recipe_key": recipe_key,
              "languages": data.languages}
    with staged_artifact(home, name or kind) as (tmp, commit):
        save_pipeline(pipeline, tmp)
        (tmp / "asaas.json").write_text(json.dumps({"params": params, **info}, indent=2,
                                                   default=str))
        final = commit()
        return registry.register(
            store, name or kind, kind="sklearn", artifact_uri=str(final), params=params,
            train_dataset=dataset, train_split=data.split, train_fingerprint=data.fingerprint,
            metrics=info["metrics"],
        )
