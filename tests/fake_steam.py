"""A fake Steam review API on 127.0.0.1, in the test process: real HTTP, real cursor semantics.

``GET /appreviews/<appid>?json=1&language=&filter=updated|recent&num_per_page=&cursor=`` answers
like Steam: reviews in the filter's order (``updated``: by ``timestamp_updated``, newest first;
``recent``: by ``timestamp_created``), ``num_per_page`` at a time (at most 100), each answer with
the cursor of the next page. A cursor names the last review handed out (its sort key and id), not
an offset, so reviews arriving at the top while a fetch runs do not shift the pages it has yet to
read, as with Steam's. Cursors are base64 with ``+``, ``/`` and ``=`` in them, so a client that
does not URL-encode them gets the wrong page. The page after the last answers an empty list and
the cursor it was given. The first page (cursor ``*``) carries ``query_summary.total_reviews``.

Faults are scripted per app and page (``Fault``): a status with headers (429 with Retry-After,
503), an answer that never comes (``hang``), an HTML error page, ``success: 2``, an empty page,
the cursor that was asked for given back (a loop), a review missing ``voted_up``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_MARK = b"\xfb\xff"  # makes every cursor start with "+/"


def encode_cursor(key: int, rid: str) -> str:
    return base64.b64encode(_MARK + f"{key}:{rid}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, str] | None:
    try:
        raw = base64.b64decode(cursor, validate=True)
    except ValueError:
        return None
    if not raw.startswith(_MARK):
        return None
    key, _, rid = raw[len(_MARK):].decode().partition(":")
    return int(key), rid


@dataclass
class Fault:
    """What the page ``page`` (1-based, by position in the list) of ``appid`` answers, for the
    next ``times`` requests of it."""

    appid: str
    page: int
    kind: str  # status | hang | html | success0 | empty | loop | missing
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 5.0


@dataclass
class Request:
    appid: str
    query: str  # the raw query string, as sent
    params: dict[str, str]
    at: float  # time.perf_counter()
    page: int


class FakeSteam:
    def __init__(self, apps: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.apps: dict[str, list[dict[str, Any]]] = dict(apps or {})
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeSteam:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- behaviour -----------------------------------------------------------------------------

    def ordered(self, appid: str, order: str, language: str) -> list[dict[str, Any]]:
        key = "timestamp_updated" if order == "updated" else "timestamp_created"
        rows = [r for r in self.apps.get(appid, [])
                if language == "all" or r.get("language") == language]
        return sorted(rows, key=lambda r: (int(r.get(key) or r["timestamp_created"]),
                                           int(r["recommendationid"])), reverse=True)

    def _fault(self, appid: str, page: int) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.appid == appid and fault.page == page and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        if not parts.path.startswith("/appreviews/"):
            return self._send(h, 404, b"not found", "text/plain")
        appid = parts.path.rsplit("/", 1)[-1]
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        order = params.get("filter", "all")
        per_page = min(int(params.get("num_per_page", "20")), 100)
        cursor = params.get("cursor", "*")
        rows = self.ordered(appid, order, params.get("language", "all"))
        key_name = "timestamp_updated" if order == "updated" else "timestamp_created"
        if cursor == "*":
            start = 0
        else:
            pos = decode_cursor(cursor)
            if pos is None:  # Steam answers an unknown cursor with an empty page
                start = len(rows)
            else:
                start = next((i for i, r in enumerate(rows)
                              if (int(r.get(key_name) or r["timestamp_created"]),
                                  int(r["recommendationid"])) < (pos[0], int(pos[1]))),
                             len(rows))
        page_no = start // per_page + 1
        with self._lock:
            self.requests.append(Request(appid, parts.query, params, time.perf_counter(),
                                         page_no))
        chunk = [dict(r) for r in rows[start:start + per_page]]
        if chunk:
            last = chunk[-1]
            next_cursor = encode_cursor(int(last.get(key_name) or last["timestamp_created"]),
                                        last["recommendationid"])
        else:
            next_cursor = cursor
        fault = self._fault(appid, page_no)
        if fault is not None:
            if fault.kind == "status":
                return self._send(h, fault.status, b'{"success": 2}', "application/json",
                                  fault.headers)
            if fault.kind == "hang":
                self._stop.wait(fault.hang_s)
                return self._send(h, 200, b'{"success": 2}', "application/json")
            if fault.kind == "html":
                return self._send(h, 200, b"<!DOCTYPE html><html><head><title>Steam Community "
                                  b":: Error</title></head><body>busy</body></html>",
                                  "text/html; charset=UTF-8")
            if fault.kind == "success0":
                return self._send(h, 200, b'{"success": 2}', "application/json")
            if fault.kind == "empty":
                chunk = []
                next_cursor = encode_cursor(1, "1")
            if fault.kind == "loop":
                next_cursor = cursor  # the page asked for, with the cursor asked for
            if fault.kind == "missing" and chunk:
                chunk[len(chunk) // 2].pop("voted_up", None)
        summary: dict[str, Any] = {"num_reviews": len(chunk)}
        if cursor == "*":
            pos_ = sum(1 for r in rows if r.get("voted_up"))
            summary.update(review_score=8, review_score_desc="Very Positive",
                           total_positive=pos_, total_negative=len(rows) - pos_,
                           total_reviews=len(rows))
        body = {"success": 1, "query_summary": summary, "reviews": chunk, "cursor": next_cursor}
        self._send(h, 200, json.dumps(body).encode(), "application/json; charset=utf-8")

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a time-out test)


# -- records -------------------------------------------------------------------------------------


def synthetic_records(n: int, *, start_id: int = 1000, t0: int = 1_500_000_000,
                      seed: int = 0) -> list[dict[str, Any]]:
    """Steam review records of the API's shape (as woctezuma's copy has them), one an hour."""
    import random

    rng = random.Random(seed)
    words = ("great fun game buggy crash love boring worth price update story music hard "
             "refund servers broken masterpiece").split()
    out = []
    for i in range(n):
        created = t0 + 3600 * i
        out.append({
            "recommendationid": str(start_id + i),
            "author": {"steamid": str(76561190000000000 + i),
                       "num_games_owned": rng.randint(1, 900), "num_reviews": rng.randint(1, 50),
                       "playtime_forever": rng.randint(0, 9000), "playtime_last_two_weeks": 0,
                       "last_played": created},
            "language": rng.choice(["english", "english", "schinese", "russian"]),
            "review": " ".join(rng.choice(words) for _ in range(rng.randint(3, 30))) + f" #{i}",
            "timestamp_created": created,
            "timestamp_updated": created,
            "voted_up": rng.random() < 0.85,
            "votes_up": rng.randint(0, 20),
            "votes_funny": rng.randint(0, 3),
            "weighted_vote_score": f"{rng.random():.6f}",
            "comment_count": rng.randint(0, 2),
            "steam_purchase": True,
            "received_for_free": False,
            "written_during_early_access": False,
        })
    return out


def woctezuma_records(path: Any, appid: int, limit: int | None = None) -> list[dict[str, Any]]:
    """The records of one game of the shared woctezuma Parquet copy, back in the API's shape
    (author_* columns nested again, no app id inside, no developer fields when empty)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, filters=[("appid", "=", appid)])
    out = []
    for row in table.to_pylist():
        rec: dict[str, Any] = {"author": {}}
        for key, value in row.items():
            if key in ("appid", "app_name", "source_file", "created_at"):
                continue
            if key.startswith("author_"):
                rec["author"][key.removeprefix("author_")] = value
            elif key in ("developer_response", "timestamp_dev_responded", "flagged_by_developer"):
                if value is not None:
                    rec[key] = int(value) if key == "timestamp_dev_responded" else value
            else:
                rec[key] = value
        out.append(rec)
    out.sort(key=lambda r: (r["timestamp_updated"], int(r["recommendationid"])), reverse=True)
    return out[:limit] if limit else out


def second_snapshot(records: list[dict[str, Any]], *, responses: int, flips: int,
                    new: int, now: int) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """The same app later: ``responses`` of its negative reviews answered by the developer, then
    ``flips`` of those authors turned positive (editing their review), ``new`` reviews written.
    Returns the records and the ids of each kind of change."""
    out = [dict(r) for r in records]
    negatives = [r for r in out if not r.get("voted_up")]
    negatives.sort(key=lambda r: int(r["recommendationid"]))
    answered = negatives[:responses]
    for i, r in enumerate(answered):
        r["developer_response"] = f"Thanks for the report, fixed in patch {i}."
        r["timestamp_dev_responded"] = now - 7200 + i
    flipped = answered[:flips]
    for i, r in enumerate(flipped):
        r["voted_up"] = True
        r["timestamp_updated"] = now - 3600 + i
        r["review"] = r["review"] + " EDIT: fixed, thanks devs."
    top = max(int(r["recommendationid"]) for r in out) + 1
    fresh = synthetic_records(new, start_id=top, t0=now - 600, seed=7)
    for i, r in enumerate(fresh):
        r["timestamp_created"] = r["timestamp_updated"] = now - 600 + i
    out += fresh
    return out, {"answered": {r["recommendationid"] for r in answered},
                 "flipped": {r["recommendationid"] for r in flipped},
                 "new": {r["recommendationid"] for r in fresh}}
