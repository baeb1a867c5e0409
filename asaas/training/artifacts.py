"""Model artifacts on disk: written to a temporary folder, renamed into place, then registered.

The order matters: a save that fails (disk full, killed) leaves only a temporary folder, which is
removed, and no version in the database; a registration that fails removes the saved folder.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from asaas.errors import AsaasError


class ArtifactError(AsaasError):
    """A model could not be saved."""


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
    except OSError as exc:
        raise ArtifactError(f"cannot create {tmp} ({exc.strerror}); check ASAAS_HOME") from None
    done: list[Path] = []

    def commit() -> Path:
        tmp.rename(final)
        done.append(final)
        return final

    try:
        yield tmp, commit
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
