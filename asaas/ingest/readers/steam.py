"""Steam reviews: the ``--format steam`` preset and the JSON that Steam's appreviews API returns.

The preset knows the appreviews record (``recommendationid``, ``review``, ``voted_up``,
``timestamp_created``, ``language``, ``written_during_early_access``, ``developer_response``,
``timestamp_dev_responded``) and where the game is: an ``appid`` / ``app_id`` / ``app id`` column,
or, for the API's own pages, which carry no app id inside the records, the file name
``review_<appid>.json`` (the name woctezuma's steamreviews tool gives them).

JSON shapes read from a ``.json`` file (``asaas.ingest.readers.tables`` opens the file):

- an API page: ``{"success": 1, "query_summary": {...}, "reviews": [{...}, ...]}``;
- woctezuma's steamreviews file: ``{"reviews": {"<recommendationid>": {...}}, "query_summary":
  ...}``;
- a plain list of records ``[{...}, ...]``;
- JSON Lines, one record per line (also ``.jsonl``).

Nested objects (the API's ``"author": {...}``) are flattened to ``author_steamid`` and alike, the
names the Parquet copy in ``../shared/data/steam`` uses.
"""

from __future__ import annotations

import re
from typing import Any

from asaas.ingest.readers.base import FieldSpec

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
}


def document_records(doc: Any) -> list[Any] | None:
    """The review records of a parsed JSON document, or None when it holds no list of them."""
    if isinstance(doc, list):
        return doc
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


def is_document(doc: Any) -> bool:
    """A one-line JSON object that is a whole page (``{"reviews": [...]}``), not a record."""
    return isinstance(doc, dict) and isinstance(doc.get("reviews"), (list, dict))


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One level of nesting flattened: ``{"author": {"steamid": 1}}`` -> ``author_steamid``."""
    if not any(isinstance(v, dict) for v in record.values()):
        return record
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for sub, v in value.items():
                out.setdefault(f"{key}_{sub}", v)
        else:
            out[key] = value
    return out
