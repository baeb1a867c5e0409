"""Artifact checksums: the sha256 of every file of a version, recorded when it is registered and
checked before it is loaded, so a swapped file (a pickle that runs code, other weights) is
refused instead of loaded.

Files and folders whose name starts with "." are left out: nothing loads them, and tools keep
caches there (``.cache/huggingface`` of ``hf download --local-dir``). Every other file of the
folder counts: a file added after registration is refused as well as a changed or missing one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from asaas.errors import AsaasError

CHUNK = 1 << 20


class ArtifactIntegrityError(AsaasError):
    """An artifact's files are not the ones recorded when its version was registered."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_local(artifact_uri: str) -> bool:
    """Whether an artifact is a file or folder on disk (else a Hugging Face Hub id)."""
    return Path(artifact_uri).expanduser().is_absolute() or Path(artifact_uri).exists()


def artifact_files(root: Path) -> dict[str, Path]:
    """Relative POSIX path -> file, for a folder (hidden names left out) or a single file."""
    if root.is_file():
        return {root.name: root}
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.is_dir():
            continue
        files[rel.as_posix()] = path
    return files


def compute(artifact_uri: str) -> dict[str, str]:
    """The checksums to record for a local artifact ({} for a Hub id)."""
    root = Path(artifact_uri).expanduser()
    if not root.exists():
        return {}
    return {rel: sha256_file(path) for rel, path in artifact_files(root).items()}


def verify(label: str, artifact_uri: str, expected: dict[str, str]) -> None:
    """Raise a one-line ArtifactIntegrityError naming the first file that differs from the
    checksums recorded at registration. A local artifact without recorded checksums is refused
    too (registered before asaas recorded them): the fix is to record them knowingly."""
    root = Path(artifact_uri).expanduser()
    if not expected:
        if is_local(artifact_uri):
            raise ArtifactIntegrityError(
                f"{label} has no recorded checksums for {artifact_uri}, so its files cannot be "
                f"checked; if you trust them, record them with `asaas models verify "
                f"{label.replace(' v', ':')} --record`")
        return  # a Hub id: pinned to the commit recorded at registration, see registry
    if not root.exists():
        raise ArtifactIntegrityError(f"{label}: artifact {artifact_uri} is missing; restore it or "
                                     "retrain the model")
    found = artifact_files(root)
    for rel, digest in sorted(expected.items()):
        path = found.get(rel)
        if path is None:
            raise ArtifactIntegrityError(f"{label}: file {root / rel} is missing; restore the "
                                         "artifact or retrain the model")
        if sha256_file(path) != digest:
            raise ArtifactIntegrityError(
                f"{label}: file {path} was changed after registration (sha256 differs); "
                "refusing to load it: restore the original or retrain the model")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise ArtifactIntegrityError(
            f"{label}: file {root / extra[0]} was added after registration; refusing to load "
            "the artifact: remove it, or register the folder again as a new version")
