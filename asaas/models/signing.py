"""Registry signatures: a key kept outside the database authenticates each model version's row.

Checksums pin a version's files, but they live in the database: whoever can write it could
point a version at a folder holding a malicious pickle and record that folder's checksums, and
scoring would load it. So every version's row is signed when it is registered, with an
HMAC-SHA256 over what decides what is loaded and how (name, version, kind, artifact path,
artifact checksums, parameters, scoring recipe), under a key the database never holds:

- ``ASAAS_REGISTRY_KEY`` (at least 32 characters), else
- ``registry.key`` in ASAAS_HOME, created (mode 0600, 256 random bits) by the first
  registration on a host that has none; refused when group or others may read or write it.

Scoring checks the signature with the key of the host that scores, before any file is read, so
writing the database alone cannot make a scoring host run code: the key must be on that host
too (the same ``registry.key`` copied into its ASAAS_HOME, or the same ASAAS_REGISTRY_KEY).
Ray workers do not need it: the driver checks the row, and the workers check the files against
the checksums the driver sends them.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from asaas.errors import AsaasError

KEY_FILE = "registry.key"
KEY_ENV = "ASAAS_REGISTRY_KEY"
#: Shortest key accepted (characters of ASAAS_REGISTRY_KEY or of the key file).
MIN_KEY_CHARS = 32
#: Bumped if what is signed changes: old signatures then read as "signed another way".
SCHEME = 1


class RegistrySignatureError(AsaasError):
    """A version's registry row is unsigned, signed with another key, or changed since it was
    signed; or this host has no registry key to check it with."""


def identity(name: str, version: int, kind: str, artifact_uri: str,
             artifact_sha256: dict[str, str], params: dict[str, Any],
             recipe: tuple[int | None, str | None, str | None]) -> bytes:
    """The signed bytes: one canonical JSON text of the fields that decide what is loaded and
    how it scores. ``params`` as the database gives it back (a JSON round trip: tuples become
    lists, keys text), so a row signed when it is written still matches when it is read."""
    params = json.loads(json.dumps(params))
    return json.dumps({
        "scheme": SCHEME, "name": name, "version": int(version), "kind": kind,
        "artifact_uri": artifact_uri, "artifact_sha256": dict(sorted(artifact_sha256.items())),
        "params": params, "max_length": recipe[0], "truncation": recipe[1],
        "quantize": recipe[2],
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(key: bytes, signed: bytes) -> str:
    return hmac.new(key, signed, hashlib.sha256).hexdigest()


def matches(key: bytes, signed: bytes, mac: str | None) -> bool:
    return bool(mac) and hmac.compare_digest(sign(key, signed), str(mac))


def key_path(home: Path) -> Path:
    return home / KEY_FILE


def host_key(home: Path, *, create: bool, from_env: str | None = None) -> bytes:
    """This host's registry key: ``from_env`` (ASAAS_REGISTRY_KEY, settings.Settings), else
    ``home``/registry.key (created when ``create`` and missing). Raises RegistrySignatureError
    naming the fix."""
    if from_env:
        text = from_env.strip()
        if len(text) < MIN_KEY_CHARS:
            raise RegistrySignatureError(
                f"{KEY_ENV} is {len(text)} characters; use at least {MIN_KEY_CHARS} (e.g. the "
                f"contents of ASAAS_HOME/{KEY_FILE}, or `python -c \"import secrets; "
                "print(secrets.token_hex(32))\"`)")
        return text.encode()
    path = key_path(home)
    if not path.exists() and not path.is_symlink():
        if not create:
            raise RegistrySignatureError(
                f"this host has no registry key ({path}, or {KEY_ENV}), so model versions "
                f"cannot be checked before loading: copy {KEY_FILE} from the host where the "
                f"models were registered into ASAAS_HOME (mode 0600), or set {KEY_ENV}")
        _create_key(path)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise RegistrySignatureError(f"cannot read the registry key {path} ({exc.strerror}); "
                                     "it must be a plain file, not a link") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise RegistrySignatureError(f"the registry key {path} is not a plain file")
        if mode & 0o077:
            raise RegistrySignatureError(
                f"the registry key {path} may be read or written by others (mode "
                f"{stat.S_IMODE(mode):04o}); `chmod 600 {path}`")
        text = f.read(4096).decode("ascii", "replace").strip()
    if len(text) < MIN_KEY_CHARS:
        raise RegistrySignatureError(f"the registry key {path} holds {len(text)} characters; "
                                     f"it needs at least {MIN_KEY_CHARS} (restore it)")
    return text.encode()


def _create_key(path: Path) -> None:
    """Write a new key atomically: complete in a private temporary file, then linked into place,
    so two processes creating it at once end with one key, never a half-written one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{KEY_FILE}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: theirs is the key
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    except OSError as exc:
        raise RegistrySignatureError(f"cannot create the registry key {path} ({exc.strerror}); "
                                     f"make ASAAS_HOME writable, or set {KEY_ENV}") from None
