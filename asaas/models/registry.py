"""The model registry: names, numbered versions, and where each version's artifact lives.

A model is a name (``bow-rf``, ``pretrained``, ``finetuned`` or any name a user picks); each
training run or registration adds version n+1. A version records its kind (``sklearn`` pipeline
or ``hf`` sequence classifier), its artifact (a directory, file or Hub id), its parameters (the
label rule among them), the fingerprint of its training data and the library versions.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.errors import AsaasError
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import model_versions, models

KINDS = ("sklearn", "hf")

#: Names that work before anyone registers them: what users with internet expect.
BUILTIN_MODELS = {
    "pretrained": "distilbert-base-uncased-finetuned-sst-2-english",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ModelNotFoundError(AsaasError):
    """No model (or no such version) under that name."""


@dataclass(frozen=True)
class ModelVersion:
    id: int
    name: str
    version: int
    kind: str
    artifact_uri: str
    params: dict[str, Any]
    train_dataset: str | None
    train_fingerprint: str | None
    metrics: dict[str, Any]
    environment: dict[str, Any]
    created_at: datetime

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise AsaasError(
            f"model name {name!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(e.g. finetuned, bow-rf)"
        )
    return name


def environment() -> dict[str, Any]:
    """Library versions and platform, stored with every version for reproducibility."""
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for lib in ("asaas", "torch", "transformers", "sklearn", "numpy", "tokenizers"):
        try:
            module = __import__(lib)
            env[lib] = getattr(module, "__version__", "?")
        except ImportError:
            continue
    return env


_COLUMNS = (
    model_versions.c.id, models.c.name, model_versions.c.version, model_versions.c.kind,
    model_versions.c.artifact_uri, model_versions.c.params, model_versions.c.train_dataset,
    model_versions.c.train_fingerprint, model_versions.c.metrics, model_versions.c.environment,
    model_versions.c.created_at,
)


def _row_to_version(row: Any) -> ModelVersion:
    return ModelVersion(
        id=row.id, name=row.name, version=row.version, kind=row.kind,
        artifact_uri=row.artifact_uri, params=json.loads(row.params or "{}"),
        train_dataset=row.train_dataset, train_fingerprint=row.train_fingerprint,
        metrics=json.loads(row.metrics or "{}"), environment=json.loads(row.environment or "{}"),
        created_at=row.created_at,
    )


def list_versions(store: Store, name: str | None = None) -> list[ModelVersion]:
    query = sa.select(*_COLUMNS).join(models, models.c.id == model_versions.c.model_id)
    if name is not None:
        query = query.where(models.c.name == name)
    query = query.order_by(models.c.name, model_versions.c.version)
    with store.transaction() as conn:
        return [_row_to_version(r) for r in conn.execute(query)]


def model_names(store: Store) -> list[str]:
    with store.transaction() as conn:
        return [r[0] for r in conn.execute(sa.select(models.c.name).order_by(models.c.name))]


def get_version(store: Store, name: str, version: int | None = None) -> ModelVersion:
    """The given version of ``name`` (latest when None); a clear error lists what exists."""
    versions = list_versions(store, name)
    if not versions:
        known = model_names(store)
        have = ", ".join(known) if known else "none registered yet"
        raise ModelNotFoundError(
            f"no model named {name!r} (models: {have}); train one with `asaas train` or "
            "register one with `asaas models register NAME --hf PATH`"
        )
    if version is None:
        return versions[-1]
    for v in versions:
        if v.version == version:
            return v
    have = ", ".join(str(v.version) for v in versions)
    raise ModelNotFoundError(f"model {name!r} has no version {version} (versions: {have})")


def find_by_recipe(store: Store, name: str, recipe_key: str) -> ModelVersion | None:
    """The newest version of ``name`` trained with the same recipe on the same rows, if any."""
    matches = [v for v in list_versions(store, name) if v.params.get("recipe_key") == recipe_key]
    return matches[-1] if matches else None


def register(
    store: Store,
    name: str,
    *,
    kind: str,
    artifact_uri: str,
    params: dict[str, Any] | None = None,
    train_dataset: str | None = None,
    train_fingerprint: str | None = None,
    metrics: dict[str, Any] | None = None,
    description: str | None = None,
    conn: sa.Connection | None = None,
) -> ModelVersion:
    """Add version n+1 of ``name`` (creating the model), in one transaction."""
    check_name(name)
    if kind not in KINDS:
        raise AsaasError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")
    if conn is None:
        with store.transaction() as own:
            return register(store, name, kind=kind, artifact_uri=artifact_uri, params=params,
                            train_dataset=train_dataset, train_fingerprint=train_fingerprint,
                            metrics=metrics, description=description, conn=own)
    now = utcnow()
    model_id = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar()
    if model_id is None:
        model_id = next_id(conn, "models_id_seq")
        conn.execute(sa.insert(models).values(id=model_id, name=name, description=description,
                                              created_at=now))
    last = conn.execute(
        sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.model_id == model_id)
    ).scalar()
    version_id = next_id(conn, "model_versions_id_seq")
    env = environment()
    conn.execute(sa.insert(model_versions).values(
        id=version_id, model_id=model_id, version=(last or 0) + 1, kind=kind,
        artifact_uri=artifact_uri, params=json.dumps(params or {}), train_dataset=train_dataset,
        train_fingerprint=train_fingerprint, metrics=json.dumps(metrics or {}),
        environment=json.dumps(env), created_at=now,
    ))
    return ModelVersion(
        id=version_id, name=name, version=(last or 0) + 1, kind=kind, artifact_uri=artifact_uri,
        params=params or {}, train_dataset=train_dataset, train_fingerprint=train_fingerprint,
        metrics=metrics or {}, environment=env, created_at=now,
    )


def register_hf(
    store: Store,
    name: str,
    hf: str,
    *,
    positive_label: str | None = None,
    description: str | None = None,
) -> ModelVersion:
    """Register an existing Hugging Face sequence classifier (local path or Hub id).

    The config is loaded first, so a bad path, an offline Hub id or an ambiguous label mapping is
    refused before anything is written.
    """
    from asaas.models import hf as hf_models
    from asaas.models import labels

    check_name(name)
    config = hf_models.load_config(hf)
    rule = labels.resolve(config.id2label, positive_label)
    params = {"hf": hf, "positive_label": positive_label, **rule.to_params()}
    return register(store, name, kind="hf", artifact_uri=hf, params=params,
                    description=description)


def resolve_for_scoring(store: Store, name: str, version: int | None) -> ModelVersion:
    """Like ``get_version``, but a built-in name (``pretrained``) registers itself on first use."""
    if name in BUILTIN_MODELS and version is None and name not in model_names(store):
        try:
            return register_hf(store, name, BUILTIN_MODELS[name],
                               description="off-the-shelf sentiment classifier from the Hub")
        except AsaasError as exc:
            raise type(exc)(f"{exc}; then `asaas models register {name} --hf DIR`") from None
    return get_version(store, name, version)
