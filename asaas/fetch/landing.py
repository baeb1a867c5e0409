"""The landing folder: every page a store sent, kept raw before anything reads it.

Layout, under ``ASAAS_HOME/landing``::

    steam/<appid>/.lock                                  held while a fetch of the app runs
    steam/<appid>/<run>/state.json                       where the fetch stands (below)
    steam/<appid>/<run>/pages/page-0001-review_<appid>.json   Steam's answers, byte for byte
    steam/<appid>/<run>/page-0013-empty.json             an answer without reviews (the end)

``<run>`` is the UTC start of the fetch (``2026-12-02T101500Z``). The pages folder is what is
ingested (``asaas ingest --format steam --source .../pages`` replays a fetch by hand); the file
names end in ``review_<appid>.json``, the name from which the ``--format steam`` reader takes
the app id, since Steam's records do not carry it.

Where a fetch stands (the next cursor, the cursors already asked for, counts, status
``fetching`` -> ``fetched`` -> ``ingested``) lives in ``state.json`` beside its pages, not in
the database: the state describes those files and must move, be copied or be deleted with them;
writing it never needs the database (a DuckDB file admits one writing process, and a fetch
spends its time waiting on the network); and a page and the state that counts it are written in
the same place in the same order (page, then state), so a fetch killed between the two fetches
that page again and overwrites it, which is harmless. Both are written atomically (a temporary
file, fsync, rename): a reader never sees half a page.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from asaas.clock import utcnow
from asaas.errors import AsaasError

STATE_FILE = "state.json"
PAGES_DIR = "pages"
LOCK_FILE = ".lock"

FETCHING, FETCHED, INGESTED = "fetching", "fetched", "ingested"


class LandingError(AsaasError):
    """The landing folder cannot be used (busy, unwritable, a state file that is not ours)."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise LandingError(f"cannot write {path}: {exc.strerror or exc}; check the disk and "
                           "the permissions of ASAAS_HOME") from None


@dataclass
class FetchRun:
    """One fetch of one product: its folder and its state."""

    path: Path
    state: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def pages_dir(self) -> Path:
        return self.path / PAGES_DIR

    @property
    def status(self) -> str:
        return str(self.state.get("status"))

    def page_path(self, number: int) -> Path:
        return self.pages_dir / f"page-{number:04d}-review_{self.state['product']}.json"

    def write_page(self, number: int, body: bytes, *, empty: bool = False) -> Path:
        """Land a page; one without reviews (the end of the list) goes beside the pages
        folder, which then holds only what there is to ingest."""
        path = (self.path / f"page-{number:04d}-empty.json") if empty else self.page_path(number)
        write_atomic(path, body)
        return path

    def clean_temporary(self) -> None:
        """Remove what a killed write left (never a whole page: those are renamed into place)."""
        for leftover in self.pages_dir.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def landed_pages(self) -> list[Path]:
        return sorted(self.pages_dir.glob("page-*.json"))

    def save(self, **changes: Any) -> None:
        self.state.update(changes)
        self.state["updated_at"] = utcnow().isoformat()
        write_atomic(self.path / STATE_FILE,
                     json.dumps(self.state, indent=1, sort_keys=True).encode("utf-8"))


class Landing:
    """The landing folder of one product of one source (``steam``, ``440``)."""

    def __init__(self, root: Path, source: str, product: str) -> None:
        self.root = root
        self.source, self.product = source, product
        self.path = root / source / product

    @contextlib.contextmanager
    def locked(self) -> Iterator[Landing]:
        """Held while a fetch of this product runs: a second fetch of the same product (cron
        runs that overlap) is refused instead of both writing the same run."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fh = open(self.path / LOCK_FILE, "a+")
        except OSError as exc:
            raise LandingError(f"cannot create the landing folder {self.path}: "
                               f"{exc.strerror or exc}; check ASAAS_HOME") from None
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LandingError(f"{self.source} {self.product} is being fetched by another "
                                   f"process (lock {self.path / LOCK_FILE}); let it finish"
                                   ) from None
            yield self
        finally:
            fh.close()  # releases the lock; the kernel does as much for a killed process

    def runs(self) -> list[FetchRun]:
        """Every fetch of the product, oldest first."""
        out = []
        if not self.path.is_dir():
            return out
        for folder in sorted(p for p in self.path.iterdir() if p.is_dir()):
            state_file = folder / STATE_FILE
            if not state_file.is_file():
                continue
            try:
                state = json.loads(state_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise LandingError(f"cannot read {state_file} ({exc}); move the folder away to "
                                   "start over") from None
            if not isinstance(state, dict) or state.get("product") != self.product:
                raise LandingError(f"{state_file} is not an asaas fetch state for "
                                   f"{self.source} {self.product}; move the folder away")
            out.append(FetchRun(folder, state))
        return out

    def unfinished(self) -> FetchRun | None:
        """The latest fetch that was killed or failed before its pages were ingested."""
        pending = [r for r in self.runs() if r.status in (FETCHING, FETCHED)]
        return pending[-1] if pending else None

    def new_run(self, params: dict[str, Any], dataset: str, now: datetime | None = None,
                **start: Any) -> FetchRun:
        """A new fetch; ``start`` overrides its initial state (cursor, history_complete...)."""
        stamp = (now or utcnow()).strftime("%Y-%m-%dT%H%M%SZ")
        path = self.path / stamp
        n = 1
        while path.exists():
            n += 1
            path = self.path / f"{stamp}-{n}"
        try:
            (path / PAGES_DIR).mkdir(parents=True)
        except OSError as exc:
            raise LandingError(f"cannot create {path}: {exc.strerror or exc}") from None
        run = FetchRun(path, {
            "format": 1, "source": self.source, "product": self.product, "dataset": dataset,
            "params": params, "status": FETCHING, "started_at": utcnow().isoformat(),
            "cursor": "*", "cursors": [], "pages": 0, "reviews": 0, "new": 0, "changed": 0,
            "unchanged": 0, "run_of_unchanged": 0, "total_reviews": None,
            "history_complete": False, "seen_before": 0, "continues": None, **start,
        })
        run.save()
        return run
