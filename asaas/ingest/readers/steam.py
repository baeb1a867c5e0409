"""Steam reviews: the ``--format steam`` preset and the JSON that Steam's appreviews API returns.

The preset knows the appreviews record (``recommendationid``, ``review``, ``voted_up``,
``timestamp_created``, ``language``, ``written_during_early_access``, ``developer_response``,
``timestamp_dev_responded``, and what changes later: ``timestamp_updated``, ``votes_up``,
``votes_funny``, ``comment_count``, ``weighted_vote_score``) and where the game is: an
``appid`` / ``app_id`` / ``app id`` column, or, for the API's own pages, which carry no app id
inside the records, the file name
``review_<appid>.json`` (the name woctezuma's steamreviews tool gives them; a fetch of the API
that writes each page to such a file is ingested by this preset as it is).

JSON shapes read from a ``.json`` file (``asaas.ingest.readers.tables`` opens the file and asks
the presets for the shapes it does not know itself):

- an API page: ``{"success": 1, "query_summary": {...}, "reviews": [{...}, ...]}``;
- woctezuma's steamreviews file: ``{"reviews": {"<recommendationid>": {...}}, "query_summary":
  ...}``;
- a plain list of records ``[{...}, ...]``;
- JSON Lines, one record per line (also ``.jsonl``).

Nested objects (the API's ``"author": {...}``) are flattened to ``author_steamid`` and alike (the
readers' usual one-level flattening), the names the Parquet copy in ``../shared/data/steam`` uses.
"""

from __future__ import annotations

import re
from typing import Any

from asaas.ingest.readers.base import FieldSpec
from asaas.ingest.readers.presets import FormatPreset, register_preset

NAME = "steam"

#: The dataset name when --format steam is given without --dataset.
DEFAULT_DATASET = "steam"

#: products.kind for Steam apps.
PRODUCT_KIND = "game"

#: ``review_<appid>.json``: the API page of one game.
PRODUCT_FROM_FILE_NAME = re.compile(r"review_(\d+)\.jsonl?$", re.IGNORECASE)

SPECS: dict[str, FieldSpec] = {
    "text": FieldSpec(("review",), required=True),
    "id": FieldSpec(("recommendationid",), required=True),
    "label": FieldSpec(("voted_up",)),
    "time": FieldSpec(("timestamp_created",)),
    "language": FieldSpec(("language",)),
    "product": FieldSpec(("appid", "app_id", "app id"), required=True),
    "product_name": FieldSpec(("app_name", "app name")),
    "early_access": FieldSpec(("written_during_early_access",)),
    "developer_response": FieldSpec(("developer_response",)),
    "developer_responded_at": FieldSpec(("timestamp_dev_responded",)),
    # What changes after a review is first seen: compared with the stored copy on every ingest
    # (asaas.history), updated, and recorded in review_history.
    "updated_at": FieldSpec(("timestamp_updated",)),
    "votes_up": FieldSpec(("votes_up",)),
    "votes_funny": FieldSpec(("votes_funny",)),
    "comment_count": FieldSpec(("comment_count",)),
    "weighted_vote_score": FieldSpec(("weighted_vote_score",)),
}

#: Keys the API leaves out of a review nobody answered: absent means "no answer", so a page
#: without any answer still says so (and a withdrawn answer is seen as a change).
ABSENT_MEANS_NONE = ("developer_response", "timestamp_dev_responded")


def document_records(doc: Any) -> list[Any] | None:
    """The review records of an API page or a steamreviews file, or None for other documents."""
    if isinstance(doc, dict) and "reviews" in doc:
        reviews = doc["reviews"]
        if isinstance(reviews, list):
            return reviews
        if isinstance(reviews, dict):
            # steamreviews keys each record by its recommendationid; keep the key as the id
            # when the record itself lacks one.
            return [dict(r, recommendationid=r.get("recommendationid", key))
                    if isinstance(r, dict) else r for key, r in reviews.items()]
    return None


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One API record as columns: nested objects one level down (``author_steamid``), and the
    developer fields present (None) when the API left them out."""
    from asaas.ingest.readers.tables import flatten_nested

    out = flatten_nested(record)
    if any(key not in out for key in ABSENT_MEANS_NONE):
        out = dict(out)
        for key in ABSENT_MEANS_NONE:
            out.setdefault(key, None)
    return out


PRESET = register_preset(FormatPreset(
    name=NAME,
    summary="Steam appreviews records (recommendationid, review, voted_up, timestamp_created, "
    "language, appid/app_name, written_during_early_access, developer_response, "
    "timestamp_dev_responded, timestamp_updated, votes_up, votes_funny, comment_count, "
    "weighted_vote_score)",
    specs=SPECS, dataset=DEFAULT_DATASET, product_kind=PRODUCT_KIND,
    product_from_file_name=PRODUCT_FROM_FILE_NAME, document_records=document_records,
    flatten=flatten))
