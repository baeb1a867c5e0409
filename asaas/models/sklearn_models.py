"""scikit-learn text classifiers: saving and loading pipelines (text in, probabilities out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asaas.errors import AsaasError

PIPELINE_FILE = "pipeline.joblib"


def load_pipeline(artifact: str, *, expected_sha256: str | None = None) -> Any:
    """Load a pipeline saved by ``save_pipeline`` (a directory) or a bare ``.joblib`` file.

    joblib files are pickles, which run code when loaded: the bytes are read once and, with
    ``expected_sha256`` (recorded at registration), checked before they are unpickled from
    memory, so a swapped file is refused and cannot be swapped again after the check.
    skops, the safe format, was measured and kept out: see docs/security.md, "How artifacts are verified".
    """
    import io

    import joblib

    from asaas.models.checksums import ArtifactIntegrityError, sha256_bytes

    path = Path(artifact).expanduser()
    if path.is_dir():
        path = path / PIPELINE_FILE
    if not path.is_file():
        raise AsaasError(f"model artifact {path} is missing; retrain the model or fix ASAAS_HOME")
    data = path.read_bytes()
    if expected_sha256 is not None and sha256_bytes(data) != expected_sha256:
        raise ArtifactIntegrityError(f"file {path} was changed after registration (sha256 "
                                     "differs); refusing to load it: restore the original or "
                                     "retrain the model")
    try:
        pipeline = joblib.load(io.BytesIO(data))
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
