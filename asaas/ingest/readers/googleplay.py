"""Google Play reviews: the ``--format googleplay`` preset, for what google-play-scraper's
``reviews()`` returns and ``asaas fetch play`` lands.

A record is one dict of the library's output: ``reviewId``, ``userName``, ``userImage``,
``content``, ``score`` (1-5 stars), ``thumbsUpCount``, ``reviewCreatedVersion``, ``at``,
``replyContent``, ``repliedAt``, ``appVersion``. The library gives ``at`` and ``repliedAt`` as
naive local times of the machine that ran it; ``asaas fetch play`` lands them as UTC ISO 8601
(``2024-05-01T10:00:00+00:00``), and a file of naive times is read as UTC like every other
time without a zone.

Mapping: ``reviewId`` -> id; ``content`` -> text; ``score`` -> rating and label; ``at`` -> the
review time and its edit time (Play shows the latest edit's time: the first copy's is kept as
the review time, later ones are edits); ``replyContent`` / ``repliedAt`` -> the developer's
response and its time; ``thumbsUpCount`` -> helpful votes; the page's ``lang`` -> language.

Labels from stars: 4 and 5 are positive, 1 and 2 negative, 3 unlabelled (a 3-star review says
"it is fine, but..." as often as "it is bad": neither class fits it). ``--label-map 3=1`` (or
``3=0``) counts them positive (negative); ``asaas fetch play --three-stars`` says the same.

The app: an ``appId`` / ``app_id`` column, or the file name ``..review_<package>.json`` that
``asaas fetch play`` gives each page (``review_com.example.app.json``). A landed page is
``{"source": "google-play-scraper", "app_id": ..., "lang": ..., "country": ..., "reviews":
[...]}``.
"""

from __future__ import annotations

import re
from typing import Any

from asaas.ingest.readers.base import FieldSpec
from asaas.ingest.readers.presets import FormatPreset, register_preset

NAME = "googleplay"
DEFAULT_DATASET = "googleplay"
PRODUCT_KIND = "app"

#: What ``asaas fetch play`` writes in each landed page, so the reader knows it.
PAGE_SOURCE = "google-play-scraper"

#: Stars -> label: 4-5 positive, 1-2 negative, 3 unlabelled (see the module docstring).
LABELS: dict[str, int | None] = {"1": 0, "2": 0, "3": None, "4": 1, "5": 1}

#: ``review_<package>.json``: a Java package name, at least two dot-separated parts.
PRODUCT_FROM_FILE_NAME = re.compile(r"review_([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)"
                                    r"\.jsonl?$")

SPECS: dict[str, FieldSpec] = {
    "text": FieldSpec(("content",), required=True),
    "id": FieldSpec(("reviewId",), required=True),
    "label": FieldSpec(("score",)),
    "rating": FieldSpec(("score",)),
    "time": FieldSpec(("at",)),
    "updated_at": FieldSpec(("at",)),
    "language": FieldSpec(("lang",)),
    "product": FieldSpec(("appId", "app_id"), required=True),
    "developer_response": FieldSpec(("replyContent",)),
    "developer_responded_at": FieldSpec(("repliedAt",)),
    "votes_up": FieldSpec(("thumbsUpCount",)),
}


def document_records(doc: Any) -> list[Any] | None:
    """The reviews of a page ``asaas fetch play`` landed, each with the page's language (and
    the developer fields, None when the library left them out), or None for other documents."""
    if not (isinstance(doc, dict) and doc.get("source") == PAGE_SOURCE
            and isinstance(doc.get("reviews"), list)):
        return None
    lang = doc.get("lang")
    return [{"replyContent": None, "repliedAt": None, **r, "lang": lang}
            if isinstance(r, dict) else r for r in doc["reviews"]]


PRESET = register_preset(FormatPreset(
    name=NAME,
    summary="Google Play reviews as google-play-scraper returns them (reviewId, content, score "
    "1-5: 4-5 positive, 1-2 negative, 3 unlabelled unless --label-map 3=1 or 3=0; at, "
    "replyContent, repliedAt, thumbsUpCount; appId or the file name review_<package>.json)",
    specs=SPECS, dataset=DEFAULT_DATASET, product_kind=PRODUCT_KIND, label_map=LABELS,
    product_from_file_name=PRODUCT_FROM_FILE_NAME, document_records=document_records))
