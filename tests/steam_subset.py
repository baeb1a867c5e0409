"""The real Steam reviews of a few products (../shared/data/steam, woctezuma's 80 games), for
tests that check what the docs say about them: the alert ids docs/feedback-over-time.md prints
and the timeline pages of Niche, Commander Cool 2 and Stories Untold. Where the shared data is
absent (a clean clone) these tests skip; nothing from shared/ is ever copied into the repo.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.requires import SHARED

#: ../shared as the other shared-data tests find it; ASAAS_TEST_SHARED points elsewhere (a git
#: worktree that sits one folder deeper than a clone).
STEAM = (Path(os.environ.get("ASAAS_TEST_SHARED", SHARED)) / "data" / "steam"
         / "woctezuma_steam_reviews_80games_2010-2018.parquet")

NICHE, COMMANDER_COOL_2, STORIES_UNTOLD = 440650, 356070, 558420
#: The products the docs and issue 21 talk about.
PRODUCTS = (NICHE, COMMANDER_COOL_2, STORIES_UNTOLD)


def require_steam() -> Path:
    """The shared Steam file, or skip the test (as the other shared-data tests do)."""
    if not STEAM.is_file():
        pytest.skip(f"the shared Steam data is not here ({STEAM})")
    return STEAM


def write_subset(path: Path, appids=PRODUCTS) -> Path:
    """The real records of ``appids`` as a parquet file at ``path`` (ingest with
    ``--format steam --split-before 2017-07-01``, as the docs do)."""
    table = pq.read_table(require_steam())
    table = table.filter(pc.is_in(table["appid"], value_set=pc.cast(list(appids), "int64")))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
