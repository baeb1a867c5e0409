"""Format presets are plug-ins (asaas/ingest/readers/presets.py): a store is one module that
registers a FormatPreset. The preset
below exists only in this test; it is ingested end to end (library call, `asaas ingest`, a job
file) through its own column names, dataset, product kind, label words, JSON document shape,
record flattening and product-in-the-file-name, with no line of the generic ingest code (options,
readers, validation, writer, command line) knowing it."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from typing import Any

import pytest

from asaas.errors import ConfigError
from asaas.ingest import ingest
from asaas.ingest.readers.base import FieldSpec
from asaas.ingest.readers.presets import FormatPreset, register_preset, unregister_preset
from asaas.jobs import EXIT_OK, run_job
from asaas.store import open_store
from tests.helpers import err, ok, q


def _items(doc: Any) -> list[Any] | None:
    """The store's export: {"data": {"items": [...]}}."""
    if isinstance(doc, dict) and isinstance(doc.get("data"), dict):
        items = doc["data"].get("items")
        return items if isinstance(items, list) else None
    return None


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    """The reply is nested as {"reply": {"text": ..., "at": ...}}."""
    reply = record.get("reply")
    flat = {k: v for k, v in record.items() if k != "reply"}
    if isinstance(reply, dict):
        flat.update(reply_text=reply.get("text"), reply_at=reply.get("at"))
    return flat


TINY = FormatPreset(
    name="tinystore",
    summary="the Tiny Store's export (key, body, verdict, posted, app, reply)",
    specs={
        "text": FieldSpec(("body",), required=True),
        "id": FieldSpec(("key",), required=True),
        "label": FieldSpec(("verdict",)),
        "time": FieldSpec(("posted",)),
        "language": FieldSpec(("lang",)),
        "product": FieldSpec(("app",), required=True),
        "developer_response": FieldSpec(("reply_text",)),
        "developer_responded_at": FieldSpec(("reply_at",)),
    },
    dataset="tiny",
    product_kind="app",
    label_map={"thumbs up": 1, "thumbs down": 0, "meh": None},
    product_from_file_name=re.compile(r"^tiny_(\w+)\.json$"),
    document_records=_items,
    flatten=_flatten,
)


@pytest.fixture
def tinystore():
    register_preset(TINY)
    yield TINY
    unregister_preset(TINY.name)


def _export(path, app_rows, prefix="k"):
    """The store's export of one app's reviews; the first one has a (nested) reply."""
    items = [{"key": f"{prefix}{i}", "body": text, "verdict": verdict,
              "posted": f"2024-03-0{i + 1}T10:00:00Z", "lang": "en"}
             for i, (text, verdict) in enumerate(app_rows)]
    items[0]["reply"] = {"text": "thanks", "at": 1_709_800_000}
    path.write_text(json.dumps({"data": {"items": items}, "next": None}), encoding="utf-8")
    return path


ROWS = [("love it", "Thumbs up"), ("hate it", "thumbs down"), ("fine", "meh")]


def _stored(db):
    return q(db, "SELECT r.dataset, r.external_id, r.label, r.reviewed_at, r.language, "
                 "r.developer_response, r.developer_responded_at, p.external_id, p.kind "
                 "FROM reviews r JOIN products p ON p.id = r.product_id ORDER BY 2")


def test_a_preset_registered_by_its_own_module_is_ingested_end_to_end(tinystore, tmp_path,
                                                                      db_path):
    page = _export(tmp_path / "tiny_game7.json", ROWS)
    report = ingest(open_store(str(db_path)), str(page), format="tinystore")
    assert (report.dataset, report.inserted, report.rows_rejected) == ("tiny", 3, 0)
    assert report.products_created == 1
    assert _stored(db_path) == [
        ("tiny", "k0", 1, datetime(2024, 3, 1, 10), "en", "thanks",
         datetime(2024, 3, 7, 8, 26, 40), "game7", "app"),
        ("tiny", "k1", 0, datetime(2024, 3, 2, 10), "en", None, None, "game7", "app"),
        ("tiny", "k2", None, datetime(2024, 3, 3, 10), "en", None, None, "game7", "app"),
    ]


def test_the_command_line_and_job_files_take_a_preset_they_were_never_told_of(
        tinystore, tmp_path, db_path, invoke):
    folder = tmp_path / "exports"
    folder.mkdir()
    _export(folder / "tiny_a.json", ROWS[:2])
    assert "tinystore" in ok(invoke("ingest", "--help"))
    out = ok(invoke("ingest", "--source", str(folder), "--format", "tinystore",
                    "--label-map", "thumbs down=1,meh=0", "--split-before", "2024-03-02"))
    assert "ingest tiny from" in out and "inserted 2 (test 1, train 1)" in out
    # The user's label words come before the preset's.
    assert q(db_path, "SELECT external_id, label FROM reviews ORDER BY 1") == [("k0", 1),
                                                                              ("k1", 1)]
    _export(folder / "tiny_b.json", ROWS, prefix="b")
    job = tmp_path / "job.toml"
    job.write_text(f'name = "tiny"\ndb = "{db_path}"\n\n[[steps]]\nkind = "ingest"\n'
                   f'source = "exports"\nformat = "tinystore"\ndataset = "tiny2"\n',
                   encoding="utf-8")
    log = io.StringIO()
    assert run_job(job, stream=log) == EXIT_OK, log.getvalue()
    assert q(db_path, "SELECT dataset, count(*) FROM reviews GROUP BY 1 ORDER BY 1") == [
        ("tiny", 2), ("tiny2", 5)]


def test_a_preset_names_itself_in_refusals(tinystore, tmp_path, invoke):
    page = tmp_path / "export.json"  # no app column and no app in the file name
    page.write_text(json.dumps({"data": {"items": [{"key": "1", "body": "ok"}]}}),
                    encoding="utf-8")
    line = err(invoke("ingest", "--source", str(page), "--format", "tinystore"))
    assert "has no product column for --format tinystore (looked for app" in line
    assert "--product-column" in line


def test_an_unregistered_preset_is_refused_with_the_known_ones(tmp_path, invoke, db_path):
    page = _export(tmp_path / "tiny_a.json", ROWS)
    result = invoke("ingest", "--source", str(page), "--format", "tinystore")
    assert result.exit_code == 2 and "Traceback" not in result.output
    # Every registered preset is named (steam, and googleplay when its module is imported).
    assert "Invalid value for '--format': 'tinystore' is not" in result.output
    assert "'steam'" in result.output
    with pytest.raises(ConfigError, match="--format 'tinystore' is not known; use one of .*steam"):
        ingest(open_store(str(db_path)), str(page), format="tinystore")
