"""The model registry: names, numbered versions, and where each version's artifact lives.

A model is a name (``bow-rf``, ``pretrained``, ``finetuned`` or any name a user picks); each
training run or registration adds version n+1. A version records its kind (``sklearn`` pipeline
or ``hf`` sequence classifier), its artifact (a directory, file or Hub id), its parameters (the
label rule among them), the fingerprint of its training data and the library versions.

Every version's row is signed when it is registered, with a key kept outside the database
(``asaas.models.signing``), and scoring checks that signature before it reads a file
(``check_signature``): writing the database alone cannot make a scoring host load a model.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.errors import AsaasError
from asaas.models import checksums, signing
from asaas.models.signing import RegistrySignatureError
from asaas.store import Store
from asaas.store.ids import next_id
from asaas.store.schema import model_versions, models

#: tfidf-multi and e5-stack: models for every language (asaas.models.multilingual);
#: offtopic: what a review is about (asaas.offtopic).
KINDS = ("sklearn", "hf", "tfidf-multi", "e5-stack", "offtopic")

#: Names that work before anyone registers them: what users with internet expect.
BUILTIN_MODELS = {
    "pretrained": "distilbert-base-uncased-finetuned-sst-2-english",
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ModelNotFoundError(AsaasError):
    """No model (or no such version) under that name."""


#: What a transformer version is scored with when nothing else was recorded (Hub models).
DEFAULT_MAX_LENGTH = 512
DEFAULT_TRUNCATION = "head"


@dataclass(frozen=True)
class Recipe:
    """How a version's predictions are made: every prediction of one version uses one recipe,
    so a version never mixes reviews read at 256 tokens with reviews read at 512.

    None everywhere for models without a token limit (scikit-learn pipelines read whole
    reviews). ``quantize`` is None (fp32) or "int8".
    """

    max_length: int | None = None
    truncation: str | None = None
    quantize: str | None = None

    def describe(self) -> str:
        """"256 head+tail", "512 head int8", or "whole review"."""
        if self.max_length is None:
            return "whole review"
        return " ".join(str(p) for p in (self.max_length, self.truncation, self.quantize) if p)


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
    train_split: str | None = None
    max_length: int | None = None
    truncation: str | None = None
    quantize: str | None = None
    #: sha256 of every artifact file, by path relative to the artifact (checked before loading).
    artifact_sha256: dict[str, str] = field(default_factory=dict)
    #: HMAC of the row under the registry key (``signing``); None: unsigned.
    registry_mac: str | None = None
    #: Set by ``check_signature`` only, never read from the database: scorers load nothing
    #: else. Ray actors receive the driver's checked copy.
    signature_checked: bool = field(default=False, compare=False)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def recipe(self) -> Recipe:
        """The scoring recipe; versions registered before it was recorded fall back to the
        settings they were trained with, then to the defaults."""
        if self.kind != "hf":
            return Recipe()
        return Recipe(
            max_length=self.max_length or self.params.get("max_length") or DEFAULT_MAX_LENGTH,
            truncation=self.truncation or self.params.get("truncation") or DEFAULT_TRUNCATION,
            quantize=self.quantize,
        )

    @property
    def ref(self) -> str:
        """``NAME:VERSION``, as commands take it."""
        return f"{self.name}:{self.version}"

    def signed_identity(self) -> bytes:
        """What the registry signature covers (``signing.identity``)."""
        return signing.identity(self.name, self.version, self.kind, self.artifact_uri,
                                self.artifact_sha256, self.params,
                                (self.max_length, self.truncation, self.quantize))

    @property
    def languages(self) -> list[str] | None:
        """Languages the version was trained on (None: not recorded, see scoring)."""
        return self.params.get("languages") or None


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
    model_versions.c.created_at, model_versions.c.train_split, model_versions.c.max_length,
    model_versions.c.truncation, model_versions.c.quantize, model_versions.c.artifact_sha256,
    model_versions.c.registry_mac,
)


def _row_to_version(row: Any) -> ModelVersion:
    return ModelVersion(
        id=row.id, name=row.name, version=row.version, kind=row.kind,
        artifact_uri=row.artifact_uri, params=json.loads(row.params or "{}"),
        train_dataset=row.train_dataset, train_fingerprint=row.train_fingerprint,
        metrics=json.loads(row.metrics or "{}"), environment=json.loads(row.environment or "{}"),
        created_at=row.created_at, train_split=row.train_split, max_length=row.max_length,
        truncation=row.truncation, quantize=row.quantize,
        artifact_sha256=json.loads(row.artifact_sha256 or "{}"), registry_mac=row.registry_mac,
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


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME:VERSION`` -> (name, version or None for the latest)."""
    name, _, version = ref.partition(":")
    if not version or version == "latest":
        return name, None
    try:
        number = int(version)
    except ValueError:
        raise AsaasError(f"bad model reference {ref!r}; use NAME or NAME:VERSION") from None
    if number < 1:
        raise AsaasError(f"bad model reference {ref!r}: versions start at 1")
    return name, number


def resolve_ref(store: Store, ref: str) -> ModelVersion:
    """The version a ``NAME[:VERSION]`` reference names; unknown names or versions are errors."""
    name, version = parse_ref(ref)
    return get_version(store, name, version)


def find_by_recipe(store: Store, name: str, recipe_key: str) -> ModelVersion | None:
    """The newest version of ``name`` trained with the same recipe on the same rows, if any."""
    matches = [v for v in list_versions(store, name) if v.params.get("recipe_key") == recipe_key]
    return matches[-1] if matches else None


@dataclass(frozen=True)
class NewVersion:
    """What a new version records besides its model's name and its number (``register``)."""

    kind: str
    artifact_uri: str
    recipe: Recipe
    #: sha256 of every artifact file (empty for a Hub id).
    artifact_sha256: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    train_dataset: str | None = None
    train_split: str | None = None
    train_fingerprint: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    #: The model's description, when this version creates the model.
    description: str | None = None


def register(
    store: Store,
    name: str,
    *,
    kind: str,
    artifact_uri: str,
    params: dict[str, Any] | None = None,
    train_dataset: str | None = None,
    train_split: str | None = None,
    train_fingerprint: str | None = None,
    metrics: dict[str, Any] | None = None,
    recipe: Recipe | None = None,
    description: str | None = None,
    artifact_sha256: dict[str, str] | None = None,
    conn: sa.Connection | None = None,
) -> ModelVersion:
    """Add version n+1 of ``name`` (creating the model), in one transaction (``conn``'s when
    given).

    ``recipe`` is how the version is scored (transformers: max length, truncation,
    quantisation); a transformer registered without one gets the defaults.
    ``artifact_sha256``: the checksums of the artifact's files; None computes them now for a
    local artifact (see ``asaas.models.checksums``), a Hub id has none.
    """
    check_name(name)
    if kind not in KINDS:
        raise AsaasError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")
    if artifact_sha256 is None:
        artifact_sha256 = checksums.compute(artifact_uri)
    if kind == "hf" and (recipe is None or recipe.max_length is None):
        recipe = Recipe(DEFAULT_MAX_LENGTH, DEFAULT_TRUNCATION, None)
    recipe = recipe or Recipe()
    check_recipe(recipe)
    new = NewVersion(kind=kind, artifact_uri=artifact_uri, recipe=recipe,
                     artifact_sha256=dict(artifact_sha256), params=params or {},
                     train_dataset=train_dataset, train_split=train_split,
                     train_fingerprint=train_fingerprint, metrics=metrics or {},
                     description=description)
    key = host_key(store, create=True)  # before anything is written
    if conn is not None:
        return _insert_version(conn, name, new, key)
    with store.transaction() as own:
        return _insert_version(own, name, new, key)


def host_key(store: Store, *, create: bool = False) -> bytes:
    """This host's registry key for ``store``'s models (ASAAS_REGISTRY_KEY, else registry.key
    in its ASAAS_HOME; see ``signing``)."""
    from asaas.settings import Settings

    settings = Settings()
    return signing.host_key(settings.model_home(store.url), create=create,
                            from_env=settings.registry_key)


def _insert_version(conn: sa.Connection, name: str, new: NewVersion,
                    key: bytes) -> ModelVersion:
    now = utcnow()
    model_id = conn.execute(sa.select(models.c.id).where(models.c.name == name)).scalar()
    if model_id is None:
        model_id = next_id(conn, "models_id_seq")
        conn.execute(sa.insert(models).values(id=model_id, name=name,
                                              description=new.description, created_at=now))
    last = conn.execute(sa.select(sa.func.max(model_versions.c.version))
                        .where(model_versions.c.model_id == model_id)).scalar()
    version_id, version = next_id(conn, "model_versions_id_seq"), (last or 0) + 1
    env, recipe, languages = environment(), new.recipe, new.params.get("languages")
    mac = signing.sign(key, signing.identity(
        name, version, new.kind, new.artifact_uri, new.artifact_sha256, new.params,
        (recipe.max_length, recipe.truncation, recipe.quantize)))
    conn.execute(sa.insert(model_versions).values(
        id=version_id, model_id=model_id, version=version, kind=new.kind,
        artifact_uri=new.artifact_uri, params=json.dumps(new.params),
        train_dataset=new.train_dataset, train_split=new.train_split,
        train_fingerprint=new.train_fingerprint, metrics=json.dumps(new.metrics),
        environment=json.dumps(env), created_at=now, max_length=recipe.max_length,
        truncation=recipe.truncation, quantize=recipe.quantize,
        languages=",".join(languages) if languages else None,
        artifact_sha256=json.dumps(new.artifact_sha256, sort_keys=True), registry_mac=mac,
    ))
    return ModelVersion(
        id=version_id, name=name, version=version, kind=new.kind,
        artifact_uri=new.artifact_uri, params=new.params, train_dataset=new.train_dataset,
        train_fingerprint=new.train_fingerprint, metrics=new.metrics, environment=env,
        created_at=now, train_split=new.train_split, max_length=recipe.max_length,
        truncation=recipe.truncation, quantize=recipe.quantize,
        artifact_sha256=dict(new.artifact_sha256), registry_mac=mac,
    )


TRUNCATIONS = ("head", "head+tail")
QUANTIZATIONS = (None, "int8")


def check_recipe(recipe: Recipe) -> None:
    """Refuse recipes that cannot be scored, naming the option to fix."""
    if recipe.max_length is not None and recipe.max_length < 8:
        raise AsaasError(f"--max-length {recipe.max_length} is too small; use at least 8")
    if recipe.truncation not in (None, *TRUNCATIONS):
        raise AsaasError(f"unknown truncation {recipe.truncation!r}; use head or head+tail")
    if recipe.quantize not in QUANTIZATIONS:
        raise AsaasError(f"unknown quantization {recipe.quantize!r}; use int8 (or none)")


def register_hf(
    store: Store,
    name: str,
    hf: str,
    *,
    positive_label: str | None = None,
    description: str | None = None,
    recipe: Recipe | None = None,
) -> ModelVersion:
    """Register an existing Hugging Face sequence classifier (local path or Hub id).

    The config is loaded first, so a bad path, an offline Hub id or an ambiguous label mapping is
    refused before anything is written. A local folder is stored by its absolute path, so the
    version loads from any working directory (cron runs jobs from the job file's folder).
    """
    from asaas.models import hf as hf_models
    from asaas.models import labels

    check_name(name)
    if recipe is not None:
        check_recipe(recipe)
    config = hf_models.load_config(hf)
    rule = labels.resolve(config.id2label, positive_label)
    local = Path(hf).expanduser()
    artifact = str(local.resolve()) if local.is_dir() else hf
    params = {"hf": hf, "positive_label": positive_label, **rule.to_params()}
    if local.is_dir():
        hf_models.check_weights(local, hf)  # pickled weights are refused now, not at scoring
    else:
        # A Hub model is pinned to the commit the Hub resolved now: later pushes to the
        # repository are not loaded by this version.
        revision = hf_models.hub_revision(hf)
        if revision:
            params["hf_revision"] = revision
    # register() records the local folder's checksums with the version.
    return register(store, name, kind="hf", artifact_uri=artifact, params=params,
                    description=description, recipe=recipe)


def register_variant(store: Store, name: str, source: ModelVersion, recipe: Recipe,
                     description: str | None = None) -> ModelVersion:
    """A new version of ``name`` with ``source``'s weights (same artifact, checksums, training
    facts) and another scoring recipe: how asaas scores one model two ways without mixing them
    in one version."""
    check_name(name)
    if source.kind != "hf":
        raise AsaasError(f"{source.label} is a {source.kind} model, which has no scoring recipe "
                         "to vary (it reads whole reviews)")
    check_recipe(recipe)
    check_signature(store, source)  # a forged row must not gain a signed variant
    params = {**source.params, "variant_of": source.label}
    # The source's checksums, not fresh ones: a variant must not vouch for files changed since.
    mv = register(store, name, kind=source.kind, artifact_uri=source.artifact_uri,
                  params=params, train_dataset=source.train_dataset,
                  train_split=source.train_split, train_fingerprint=source.train_fingerprint,
                  metrics=source.metrics, recipe=recipe, description=description,
                  artifact_sha256=dict(source.artifact_sha256))
    return get_version(store, name, mv.version)


def verify_artifact(mv: ModelVersion) -> None:
    """Check a version's files against the checksums recorded at registration (one-line
    ArtifactIntegrityError naming the file otherwise). Called before every load."""
    checksums.verify(mv.label, mv.artifact_uri, mv.artifact_sha256)


def check_signature(store: Store, mv: ModelVersion) -> ModelVersion:
    """``mv``, marked checked, when its row carries a valid signature under this host's registry
    key; else a one-line RegistrySignatureError naming the fix. Scoring calls this before it
    reads a file: a row written into the database by anyone without the key is refused."""
    if mv.registry_mac is None:
        if not mv.artifact_sha256 and checksums.is_local(mv.artifact_uri):
            raise RegistrySignatureError(
                f"{mv.label} has no recorded checksums for {mv.artifact_uri}, so its files "
                "cannot be checked; if you trust them, record them with `asaas models verify "
                f"{mv.ref} --record`")
        raise RegistrySignatureError(
            f"{mv.label} is not signed (registered before asaas signed the registry, or its "
            "signature was removed from the database), so it is not loaded; if you trust its "
            f"row (`asaas models list`), sign it where the registry key is: `asaas models "
            f"verify {mv.ref} --record`")
    key = host_key(store)
    if not signing.matches(key, mv.signed_identity(), mv.registry_mac):
        raise RegistrySignatureError(
            f"{mv.label}: its registry row does not match its signature (changed in the "
            "database since it was registered, or signed with another registry key); refusing "
            "to load it: use the key it was registered with (copy ASAAS_HOME/registry.key from "
            "that host, or set ASAAS_REGISTRY_KEY), or register the model again")
    return replace(mv, signature_checked=True)


def record_signature(store: Store, mv: ModelVersion) -> tuple[ModelVersion, int]:
    """Sign an unsigned version with this host's key (the user vouches for its row as it is),
    recording its files' checksums first when it has none (registered before asaas recorded
    them). Returns the signed version and the number of checksums recorded now (0: it had
    them, and its files still match them). Signed versions are never re-signed."""
    if mv.registry_mac is not None:
        raise RegistrySignatureError(f"{mv.label} is already signed; signatures are never "
                                     "replaced (register the files again as a new version)")
    digests = dict(mv.artifact_sha256)
    recorded = 0
    if checksums.is_local(mv.artifact_uri):
        if not Path(mv.artifact_uri).expanduser().exists():
            raise AsaasError(f"{mv.label}: artifact {mv.artifact_uri} is missing")
        if digests:
            verify_artifact(mv)  # vouch only for files that still match
        else:
            digests = checksums.compute(mv.artifact_uri)
            recorded = len(digests)
    key = host_key(store, create=True)
    signed = replace(mv, artifact_sha256=digests)
    mac = signing.sign(key, signed.signed_identity())
    with store.transaction() as conn:
        conn.execute(sa.update(model_versions).where(
            model_versions.c.id == mv.id, model_versions.c.registry_mac.is_(None)).values(
            artifact_sha256=json.dumps(digests, sort_keys=True), registry_mac=mac))
    now = get_version(store, mv.name, mv.version)
    if now.registry_mac != mac:
        raise RegistrySignatureError(f"{mv.label} was signed or changed meanwhile; run `asaas "
                                     "models verify` again")
    return now, recorded


def resolve_for_scoring(store: Store, name: str, version: int | None) -> ModelVersion:
    """Like ``get_version``, but a built-in name (``pretrained``) registers itself on first use."""
    if name in BUILTIN_MODELS and version is None and name not in model_names(store):
        try:
            return register_hf(store, name, BUILTIN_MODELS[name],
                               description="off-the-shelf sentiment classifier from the Hub")
        except AsaasError as exc:
            raise type(exc)(f"{exc}; then `asaas models register {name} --hf DIR`") from None
    return get_version(store, name, version)
