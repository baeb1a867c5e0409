"""Model artifacts on disk: written to a temporary folder, renamed into place, then registered.

The order matters: a save that fails (disk full, killed) leaves only a temporary folder, which is
removed, and no version in the database; a registration that fails removes the saved folder. A
run killed outright (SIGKILL, power cut) cannot clean up: `asaas gc` removes what it left.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from asaas.errors import AsaasError


class ArtifactError(AsaasError):
    """A model could not be saved."""


#: Inside a staging folder until its version is registered (see collect_garbage).
STAGING_LOCK = ".asaas-staging.lock"


def models_dir(home: Path, name: str) -> Path:
    return home / "models" / name


@contextlib.contextmanager
def staged_artifact(home: Path, name: str) -> Iterator[tuple[Path, Callable[[], Path]]]:
    """Yield (temporary folder, commit); ``commit()`` renames it into place and returns the path.

    On any error before or after commit the folder is removed, so nothing half-written remains.
    """
    parent = models_dir(home, name)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    final = parent / f"{stamp}-{uuid.uuid4().hex[:8]}"
    tmp = parent / f".tmp-{final.name}"
    try:
        tmp.mkdir(parents=True, exist_ok=False)
        # Held until the version is registered: `asaas gc` leaves a folder alone while its
        # lock is held, and knows one whose lock nobody holds was abandoned (killed).
        lock_fd = os.open(tmp / STAGING_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
    except OSError as exc:
        raise ArtifactError(f"cannot create {tmp} ({exc.strerror}); check ASAAS_HOME") from None
    done: list[Path] = []

    def commit() -> Path:
        tmp.rename(final)
        done.append(final)
        return final

    try:
        yield tmp, commit
        if done:  # registered: the folder is a version now, no longer a staging area
            (final / STAGING_LOCK).unlink(missing_ok=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise ArtifactError(f"disk full while saving the model under {parent}; free space "
                                "and train again (nothing was registered)") from None
        raise ArtifactError(f"cannot save the model under {parent} ({exc.strerror or exc}); "
                            "nothing was registered") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        raise
    finally:
        os.close(lock_fd)


@dataclass
class Leftover:
    path: Path
    reason: str


def collect_garbage(home: Path, registered: Callable[[], set[Path]], *,
                    unregistered: bool = False, dry_run: bool = False) -> list[Leftover]:
    """Remove what killed training runs left under ``home/models``; never a registered version.

    Always: ``.tmp-*`` folders (a save that never finished) and folders whose staging lock
    nobody holds (killed between saving and registering). A folder whose lock is held belongs
    to a training run in progress and is left alone. ``registered()`` is read after the locks
    are taken, so a run that registers meanwhile is seen. With ``unregistered``, any other
    folder no version of this database names goes too (left by asaas versions before the
    staging lock; do not use it when several databases share one ASAAS_HOME).
    """
    root = home / "models"
    if not root.is_dir():
        return []
    candidates: list[tuple[Path, str, int | None]] = []
    try:
        for model_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for folder in sorted(p for p in model_dir.iterdir() if p.is_dir()):
                lock = folder / STAGING_LOCK
                if lock.exists():
                    fd = _try_lock(lock)
                    if fd is None:
                        continue  # a training run is writing or registering it right now
                    candidates.append((folder, "abandoned by a killed training run", fd))
                elif folder.name.startswith(".tmp-"):
                    candidates.append((folder, "unfinished save", None))
                elif unregistered:
                    candidates.append((folder, "not registered in this database", None))
        known = {p.resolve() for p in registered()}
        found: list[Leftover] = []
        for folder, reason, _fd in candidates:
            if folder.resolve() in known:
                if not dry_run:  # killed after registering: only its lock file was left
                    (folder / STAGING_LOCK).unlink(missing_ok=True)
                continue
            found.append(Leftover(folder, reason))
            if not dry_run:
                shutil.rmtree(folder, ignore_errors=True)
        return found
    finally:
        for _folder, _reason, fd in candidates:
            if fd is not None:
                os.close(fd)


def _try_lock(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
