"""scikit-learn text classifiers: saving and loading pipelines (text in, probabilities out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asaas.errors import AsaasError

PIPELINE_FILE = "pipeline.joblib"


def load_pipeline(artifact: str) -> Any:
    """Load a pipeline saved by ``save_pipeline`` (a directory) or a bare ``.joblib`` file."""
    import joblib

    path = Path(artifact).expanduser()
    if path.is_dir():
        path = path / PIPELINE_FILE
    if not path.is_file():
        raise AsaasError(f"model artifact {path} is missing; retrain the model or fix ASAAS_HOME")
    try:
        pipeline = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - pickles fail in many ways
        raise AsaasError(f"cannot load {path} ({type(exc).__name__}: {exc}); retrain the model"
                         ) from None
    if not hasattr(pipeline, "predict_proba"):
        raise AsaasError(f"{path} holds no classifier with predict_proba")
    return pipeline


def save_pipeline(pipeline: Any, directory: Path) -> Path:
    import joblib

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / PIPELINE_FILE
    joblib.dump(pipeline, target)
    return target
