"""Judge raw rows: every value checked the same way whatever the database engine, so a row that
PostgreSQL would refuse (a NUL byte, an over-long id) is one rejected row with its reason on
DuckDB too, instead of an aborted ingest on one engine and a stored oddity on the other.

Times: ISO 8601 strings, Unix epoch seconds (int, float or a string of digits), Arrow / pandas /
Python date-times and dates; ``--time-format`` reads other strings with ``strptime``. A time
with a zone is converted to UTC; one without is taken as UTC. Stored naive UTC.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from asaas.clock import as_naive_utc, naive_utc, utcnow
from asaas.ingest.options import MAX_SPLIT_CHARS
from asaas.ingest.readers import RawBatch, unparseable_reason
from asaas.ingest.readers.base import FIELDS

_POSITIVE = {"1", "pos", "positive", "true"}
_NEGATIVE = {"0", "neg", "negative", "false"}
_UNLABELLED = {"", "-1", "none", "null", "nan", "unsup", "unlabeled", "unlabelled"}

#: Examples kept per rejection reason, for messages and the ingest_runs.details column.
EXAMPLES_PER_REASON = 3

#: Column widths in the schema (asaas/store/schema.py).
MAX_ID_CHARS = 256
MAX_PRODUCT_CHARS = 256
MAX_LANGUAGE_CHARS = 32

#: A review time further ahead than this is a wrong clock or a wrong unit, not a review.
FUTURE_SLACK = timedelta(days=1)

_EPOCH = datetime(1970, 1, 1)
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}

DUPLICATE = "duplicate id within the source (first kept)"


class LabelError(ValueError):
    pass


def normalize_label(value: Any, label_map: dict[str, int | None] | None = None) -> int | None:
    """1 / 0 / None (unlabelled) from 0/1, pos/neg, positive/negative, true/false, -1/empty;
    words of ``label_map`` (lower-case keys) first."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        if value in (0, 1):
            return int(value)
        if value == -1:
            return None
        raise LabelError(str(value))
    text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    key = text.strip().lower()
    if label_map and key in label_map:
        return label_map[key]
    if key in _POSITIVE:
        return 1
    if key in _NEGATIVE:
        return 0
    if key in _UNLABELLED:
        return None
    raise LabelError(text)


class Reject(ValueError):
    """A row that cannot be stored: its reason, and the offending value for the examples."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _storable_text(value: Any, what: str) -> str:
    """``value`` as text every engine stores: bytes decoded as UTF-8; Reject for NUL bytes and
    for what is not UTF-8 (undecodable bytes, lone surrogates from JSON)."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise Reject(f"{what} is not valid UTF-8") from None
    text = str(value)
    if "\x00" in text:
        raise Reject(f"{what} contains NUL bytes")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Reject(f"{what} is not valid UTF-8") from None
    return text


def _clean(value: Any, what: str, limit: int | None = None) -> str | None:
    """A short string field: None when missing or blank; Reject for what no engine stores."""
    if _is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # ids and app ids that went through a float column (NaN elsewhere)
    text = _storable_text(value, what).strip()
    if not text:
        return None
    if limit is not None and len(text) > limit:
        raise Reject(f"{what} is longer than {limit} characters")
    return text


def parse_time(value: Any, time_format: str | None = None) -> datetime | None:
    """Naive UTC from any supported time value; None when missing; ValueError when not a time.

    Date-times, dates and ISO 8601 text are read by ``asaas.clock.as_naive_utc``, as every
    time a user types is; Unix epoch seconds (numbers, or text of digits) and ``--time-format``
    text are what review sources add.
    """
    if _is_missing(value):
        return None
    if isinstance(value, (datetime, date)):
        return as_naive_utc(value)
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return _EPOCH + timedelta(seconds=value)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8")
    text = str(value).strip()
    if not text:
        return None
    if time_format:
        return naive_utc(datetime.strptime(text, time_format))
    if text.lstrip("-").replace(".", "", 1).isdigit():
        return _EPOCH + timedelta(seconds=float(text))
    return as_naive_utc(text)


def _flag(value: Any) -> bool | None:
    if _is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not text:
        return None
    raise Reject("early access flag is not true/false")


@dataclass
class Rules:
    """How rows are judged (from IngestOptions, resolved once per ingest)."""

    max_review_chars: int
    label_map: dict[str, int | None] | None = None
    time_format: str | None = None
    split_before: datetime | None = None
    #: Times after now + FUTURE_SLACK are rejected.
    now: datetime = field(default_factory=utcnow)


#: What a valid row stores in the reviews table, one list per field in ``Prepared.columns``
#: (the writer adds dataset, external_id, product_id and ingest_run_id). A new field is one more
#: name here, one more value appended in ``Validator.prepare`` and its Arrow type in
#: ``asaas.ingest.writer``.
REVIEW_FIELDS = ("split", "text", "label", "rating", "content_hash", "reviewed_at", "language",
                 "early_access", "developer_response", "developer_responded_at")


@dataclass
class Prepared:
    """One batch of valid rows, in source order: their review values as columns, and beside
    them what is not a review column or changes after validation."""

    #: REVIEW_FIELDS -> one value per row.
    columns: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in REVIEW_FIELDS})
    #: External ids ("" where ``derived`` numbers one).
    ids: list[str] = field(default_factory=list)
    #: The product each row is about (its external id, and a name when the source gives one).
    products: list[str | None] = field(default_factory=list)
    product_names: list[str | None] = field(default_factory=list)
    #: Where each row came from, for messages.
    where: list[str] = field(default_factory=list)
    #: Rows of the source read into this batch (rejected ones included).
    read: int = 0
    #: Rows without an id: (index in this batch, base id) to be numbered by the caller.
    derived: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Tally:
    """Rejected and skipped rows of the whole ingest, by reason, with a few examples each."""

    rejected: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, bucket: Counter, reason: str, where: str) -> None:
        bucket[reason] += 1
        if len(self.examples[reason]) < EXAMPLES_PER_REASON:
            self.examples[reason].append(where)


def _rating(value: Any) -> float | None:
    if value is None or value == "":
        return None
    rating = float(value)
    return None if math.isnan(rating) else rating


def _raw_columns(raw: RawBatch) -> tuple[list[None], tuple[list[Any], ...]]:
    """A list of Nones, and the batch's values of every field in FIELDS (ColumnNames) order:
    that list where the source lacks the field."""
    none = [None] * len(raw)
    return none, tuple(raw.values.get(name, none) for name in FIELDS)


class Validator:
    def __init__(self, rules: Rules, tally: Tally, *, selection: frozenset[str] | None) -> None:
        self.rules, self.tally, self.selection = rules, tally, selection
        self.latest = rules.now + FUTURE_SLACK

    def prepare(self, raw: RawBatch) -> Prepared:
        """Validate every row of a batch; ids are checked against the database (and repeats
        within the source found) by the writer."""
        # The ingest's hot loop (bench/ingest_bench.py), kept in one piece on purpose: with
        # a method call and a tuple per row it took 10% more CPU on the Steam file (measured
        # against this loop, same process, same batches). Columns and their appends are local
        # names; a field the source lacks (``none``) is skipped, not checked row by row.
        out = Prepared()
        (add_split, add_text, add_label, add_rating, add_hash, add_time, add_language,
         add_flag, add_response, add_response_at) = [out.columns[name].append
                                                     for name in REVIEW_FIELDS]
        none, (texts, labels, ids, ratings, products, names, times, languages, early, responses,
               responded) = _raw_columns(raw)
        wants_product = "product" in raw.values or raw.file_product is not None
        rules, tally = self.rules, self.tally
        for i in range(len(raw)):
            split = raw.splits[i]
            try:
                moment = self._time(times[i], "time") if times is not none else None
                if rules.split_before is not None:
                    if moment is None:
                        raise Reject("time is missing (--split-before needs it)")
                    split = "train" if moment < rules.split_before else "test"
                    if self.selection and split not in self.selection:
                        continue  # not selected: not read, as when readers filter by split
                text = self._text(texts[i])
                try:
                    label = normalize_label(labels[i], rules.label_map)
                except LabelError as exc:
                    words = "0/1/pos/neg or in --label-map" if rules.label_map else "0/1/pos/neg"
                    raise Reject(f"label is not {words}", repr(str(exc)[:20])) from None
                try:
                    rating = _rating(ratings[i])
                except (TypeError, ValueError):
                    raise Reject("rating is not a number") from None
                split_name = _clean(split, "split name", MAX_SPLIT_CHARS)
                if split_name is None:
                    raise Reject("split name is empty")
                product = _clean(products[i], "product id", MAX_PRODUCT_CHARS) \
                    if products is not none else None
                if product is None and raw.file_product is not None:
                    product = raw.file_product
                if wants_product and product is None:
                    raise Reject("product is missing")
                name = _clean(names[i], "product name") if names is not none else None
                language = (_clean(languages[i], "language", MAX_LANGUAGE_CHARS)
                            if languages is not none else None)
                flag = _flag(early[i]) if early is not none else None
                response = self._response(responses[i]) if responses is not none else None
                response_at = (self._time(responded[i], "developer response time")
                               if responded is not none else None)
                ext = _clean(ids[i], "id", MAX_ID_CHARS)
            except Reject as exc:
                out.read += 1
                where = raw.locate(i)
                tally.note(tally.rejected, exc.reason,
                           f"{where} ({exc.detail})" if exc.detail else where)
                continue
            out.read += 1
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if ext is None:
                # No id in the source: derived from split and content; the caller numbers
                # repeats (#2, #3...) so the same file ingested again maps to the same ids.
                out.derived.append((len(out.ids), f"{split_name}:{digest[:20]}"))
                ext = ""
            out.ids.append(ext)
            out.products.append(product)
            out.product_names.append(name)
            out.where.append(raw.locate(i))
            add_split(split_name)
            add_text(text)
            add_label(label)
            add_rating(rating)
            add_hash(digest)
            add_time(moment)
            add_language(language)
            add_flag(flag)
            add_response(response)
            add_response_at(response_at)
        return out

    def _text(self, text: Any) -> str:
        reason = unparseable_reason(text)
        if reason:
            raise Reject(reason)
        if _is_missing(text):
            raise Reject("text is missing")
        text = _storable_text(text, "text")
        if not text.strip():
            raise Reject("text is empty or whitespace")
        if len(text) > self.rules.max_review_chars:
            raise Reject(f"text is longer than {self.rules.max_review_chars:,} characters "
                         "(--max-review-chars)")
        return text

    def _response(self, value: Any) -> str | None:
        if _is_missing(value):
            return None
        text = _storable_text(value, "developer response")  # kept as written, spaces too
        return text if text.strip() else None

    def _time(self, value: Any, what: str) -> datetime | None:
        try:
            moment = parse_time(value, self.rules.time_format)
        except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
            fmt = (f"does not match --time-format {self.rules.time_format!r}"
                   if self.rules.time_format and isinstance(value, (str, bytes)) else
                   "is not a date-time (ISO 8601, epoch seconds or --time-format)")
            raise Reject(f"{what} {fmt}", repr(str(value)[:20])) from None
        if moment is not None and moment > self.latest:
            raise Reject(f"{what} is in the future", moment.isoformat(" "))
        return moment
