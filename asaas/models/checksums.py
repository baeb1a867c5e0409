"""Artifact checksums: the sha256 of every file of a version, recorded when it is registered and
checked before it is loaded, so a swapped file (a pickle that runs code, other weights) is
refused instead of loaded.

Files and folders whose name starts with "." are left out: nothing loads them, and tools keep
caches there (``.cache/huggingface`` of ``hf download --local-dir``). Every other file of the
folder counts: a file added after registration is refused as well as a changed or missing one,
and so is a symbolic link anywhere in it (a linked folder or file is read from wherever it
points, which the checksums cannot pin) or anything that is not a plain file.

A check and a later load are two reads of the disk: a file swapped in between would be loaded
unchecked. So loaders never read the artifact again after checking it: scikit-learn pipelines
are checked and unpickled from the same bytes in memory (``sklearn_models``), and a model
folder is copied into a private temporary folder while it is hashed (``verified_copy``), and
loaded from that copy, which holds exactly the bytes that matched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from asaas.errors import AsaasError

CHUNK = 1 << 20


class ArtifactIntegrityError(AsaasError):
    """An artifact's files are not the ones recorded when its version was registered."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open_plain_file(path) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def open_plain_file(path: Path, root: Path | None = None) -> Iterator[BinaryIO]:
    """Open a plain file for reading without following a symbolic link, neither the file nor
    (under ``root``) any folder on the way to it: a link swapped in after the folder was
    listed is refused, not followed. FIFOs and devices are refused too (a FIFO would block)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    dir_flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    parts = path.relative_to(root).parts if root is not None else (str(path),)
    dir_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if root is not None \
        else None
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, dir_flags, dir_fd=dir_fd)
            except OSError:
                raise ArtifactIntegrityError(f"{path}: folder {part} is a symbolic link or "
                                             "not a folder; refusing to follow it") from None
            os.close(dir_fd)
            dir_fd = next_fd
        try:
            fd = os.open(parts[-1], flags, dir_fd=dir_fd)
        except OSError as exc:
            if os.path.islink(path):
                raise ArtifactIntegrityError(f"file {path} is a symbolic link; refusing to "
                                             "follow it: replace it with the file itself"
                                             ) from None
            raise ArtifactIntegrityError(f"cannot read {path} ({exc.strerror})") from None
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ArtifactIntegrityError(f"{path} is not a plain file; refusing to read it")
    with os.fdopen(fd, "rb") as f:
        yield f


def is_local(artifact_uri: str) -> bool:
    """Whether an artifact is a file or folder on disk (else a Hugging Face Hub id)."""
    return Path(artifact_uri).expanduser().is_absolute() or Path(artifact_uri).exists()


def artifact_files(root: Path) -> dict[str, Path]:
    """Relative POSIX path -> file, for a folder (hidden names left out) or a single file.

    Raises ArtifactIntegrityError for a symbolic link in the folder (to a file or a folder),
    or the artifact itself being one, and for anything that is not a plain file or folder."""
    if root.is_symlink():
        raise ArtifactIntegrityError(
            f"artifact {root} is a symbolic link; refusing to follow it: point at the folder "
            "itself (a copy without links: cp -rL SRC DST)")
    if root.is_file():
        return {root.name: root}
    files: dict[str, Path] = {}
    for folder, dirs, names in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(n for n in names if not n.startswith(".")) + dirs:
            path = here / name
            rel = path.relative_to(root)
            if path.is_symlink():
                raise ArtifactIntegrityError(
                    f"{path} is a symbolic link (in the model folder {root}); refusing to load "
                    "what it points to: remove it, or register a copy without links "
                    "(cp -rL SRC DST)")
            if name in names:
                mode = path.lstat().st_mode
                if not stat.S_ISREG(mode):
                    raise ArtifactIntegrityError(f"{path} is not a plain file; remove it from "
                                                 "the model folder")
                files[rel.as_posix()] = path
    return dict(sorted(files.items()))


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
    _refuse_extra(label, root, found, expected)


def _refuse_extra(label: str, root: Path, found: dict[str, Path],
                  expected: dict[str, str]) -> None:
    extra = sorted(set(found) - set(expected))
    if extra:
        raise ArtifactIntegrityError(
            f"{label}: file {root / extra[0]} was added after registration; refusing to load "
            "the artifact: remove it, or register the folder again as a new version")


@contextlib.contextmanager
def verified_copy(label: str, artifact_uri: str, expected: dict[str, str]) -> Iterator[Path]:
    """A private copy of a local artifact folder holding exactly the bytes that match the
    checksums recorded at registration: each file is read once, hashed and written as it is
    read, so what is loaded from the copy is what was checked, whatever happens to the
    original meanwhile. The copy lives in a new folder only this user can open (mode 0700),
    and is removed on leaving.

    Refusals are those of ``verify``: no recorded checksums, a file missing, changed, added,
    a symbolic link or not a plain file."""
    root = Path(artifact_uri).expanduser()
    if not expected:
        verify(label, artifact_uri, expected)  # a local artifact without checksums: refused
        raise ArtifactIntegrityError(f"{label}: {artifact_uri} is not a local artifact")
    if not root.exists():
        raise ArtifactIntegrityError(f"{label}: artifact {artifact_uri} is missing; restore it or "
                                     "retrain the model")
    found = artifact_files(root)
    _refuse_extra(label, root, found, expected)
    try:
        target = Path(tempfile.mkdtemp(prefix="asaas-verified-"))  # mode 0700
    except OSError as exc:
        raise AsaasError(f"{label}: cannot create a private temporary folder to load the model "
                         f"from ({exc.strerror}); set TMPDIR to a writable folder") from None
    try:
        base = root if root.is_dir() else root.parent
        for rel, digest in sorted(expected.items()):
            path = found.get(rel)
            if path is None:
                raise ArtifactIntegrityError(f"{label}: file {root / rel} is missing; restore "
                                             "the artifact or retrain the model")
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            sha = hashlib.sha256()
            with open_plain_file(path, base) as src:
                try:
                    with open(out, "xb") as dst:
                        while chunk := src.read(CHUNK):
                            sha.update(chunk)
                            dst.write(chunk)
                except OSError as exc:
                    raise AsaasError(
                        f"{label}: cannot copy {rel} into a private temporary folder to load it "
                        f"({exc.strerror}); set TMPDIR to a folder with room for one copy of "
                        "the model") from None
            if sha.hexdigest() != digest:
                raise ArtifactIntegrityError(
                    f"{label}: file {path} was changed after registration (sha256 differs); "
                    "refusing to load it: restore the original or retrain the model")
        yield target if root.is_dir() else target / root.name
    finally:
        shutil.rmtree(target, ignore_errors=True)
