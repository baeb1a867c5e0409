"""Time-stamped product reviews: the --format steam preset (asaas/ingest/readers/steam.py) on every
Steam shape (API page, steamreviews dict, JSON Lines, CSV, Parquet), products, times, languages,
developer responses, --label-map, --split-before and the bad rows each of them can produce."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asaas.ingest import parse_time
from tests.helpers import err, ok, q

T0 = 1_500_000_000  # 2017-07-14 02:40:00 UTC
UTC0 = datetime(2017, 7, 14, 2, 40)


def _record(rid, text, up, ts, **extra):
    base = {"recommendationid": str(rid), "author": {"steamid": "7656119", "num_reviews": 3},
            "language": "english", "review": text, "timestamp_created": ts,
            "timestamp_updated": ts, "voted_up": up, "votes_up": 0,
            "written_during_early_access": False}
    base.update(extra)
    return base


def _api_page(path, records):
    path.write_text(json.dumps({"success": 1, "query_summary": {"num_reviews": len(records)},
                                "reviews": records, "cursor": "AoJ4"}), encoding="utf-8")
    return path


def _reviews(db, dataset="steam"):
    return q(db, "SELECT r.external_id, r.split, r.label, r.reviewed_at, r.language, "
                 "r.early_access, r.developer_response, r.developer_responded_at, "
                 "p.external_id, p.name, p.kind "
                 f"FROM reviews r LEFT JOIN products p ON p.id = r.product_id "
                 f"WHERE r.dataset = '{dataset}' ORDER BY r.external_id")


def test_api_page_named_by_app_id(invoke, db_path, tmp_path):
    page = _api_page(tmp_path / "review_2310.json", [
        _record(101, "One of the best FPSes ever made.", True, T0,
                developer_response="Thanks!", timestamp_dev_responded=T0 + 3600),
        _record(102, "Too old for me.", False, T0 + 86_400, language="german",
                written_during_early_access=True),
    ])
    out = ok(invoke("ingest", "--format", "steam", "--source", str(page)))
    assert out.startswith(f"ingest steam from {page}: read 2 rows, inserted 2 (train 2)")
    assert "products: 1 (1 new)" in out
    assert _reviews(db_path) == [
        ("101", "train", 1, UTC0, "english", False, "Thanks!", datetime(2017, 7, 14, 3, 40),
         "2310", None, "game"),
        ("102", "train", 0, datetime(2017, 7, 15, 2, 40), "german", True, None, None,
         "2310", None, "game"),
    ]


def test_steamreviews_dict_keyed_by_id_and_folder_of_pages(invoke, db_path, tmp_path):
    """woctezuma's files: reviews keyed by recommendationid; a folder of them, one per game."""
    folder = tmp_path / "steam-reviews-data"
    folder.mkdir()
    rec = _record(0, "x", True, T0)
    del rec["recommendationid"]
    (folder / "review_440.json").write_text(json.dumps({
        "reviews": {"201": dict(rec, review="Hats."), "202": dict(rec, review="Bots.",
                                                                  voted_up=False)},
        "query_summary": {"total_reviews": 2}}), encoding="utf-8")
    _api_page(folder / "review_570.json", [_record(301, "Dota.", True, T0)])
    out = ok(invoke("ingest", "--format", "steam", "--source", str(folder)))
    assert "inserted 3" in out and "products: 2 (2 new)" in out
    got = {r[0]: (r[2], r[8]) for r in _reviews(db_path)}
    assert got == {"201": (1, "440"), "202": (0, "440"), "301": (1, "570")}
    again = ok(invoke("ingest", "--format", "steam", "--source", str(folder)))
    assert "inserted 0" in again and "products: 2 (0 new)" in again


def test_jsonl_csv_and_parquet_with_app_columns(invoke, db_path, tmp_path):
    """One record per line with appid/app_name; the same columns as CSV and Parquet."""
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text("\n".join(json.dumps(_record(i, f"review {i}", i % 2 == 0, T0 + i,
                                                  appid=10, app_name="Half-Life"))
                               for i in range(3)) + "\n", encoding="utf-8")
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text(
        "recommendationid,appid,app_name,review,voted_up,timestamp_created,language,"
        "written_during_early_access,developer_response,timestamp_dev_responded\n"
        f"c1,20,Portal,\"Cake, lie\",True,{T0},english,False,,\n"
        f"c2,20,Portal,Short,False,{T0 + 60},french,True,Merci,{T0 + 120}\n", encoding="utf-8")
    parquet = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({
        "appid": pa.array([30, 30], pa.int64()), "app_name": ["Quake", "Quake"],
        "recommendationid": ["p1", "p2"], "review": ["Fast.", "Old."],
        "timestamp_created": [T0, T0 + 1], "voted_up": [True, False], "language": ["english"] * 2,
        "written_during_early_access": [False, False],
        "timestamp_dev_responded": [math.nan, float(T0 + 5)],
        "developer_response": [None, "We patched it."]}), parquet)
    for src in (jsonl, csv_file, parquet):
        ok(invoke("ingest", "--format", "steam", "--source", str(src)))
    rows = {r[0]: r for r in _reviews(db_path)}
    assert len(rows) == 7
    assert rows["0"][2] == 1 and rows["1"][2] == 0 and rows["2"][8:10] == ("10", "Half-Life")
    assert rows["c1"][1:] == ("train", 1, UTC0, "english", False, None, None, "20", "Portal",
                              "game")
    assert rows["c2"][2:8] == (0, datetime(2017, 7, 14, 2, 41), "french", True, "Merci",
                               datetime(2017, 7, 14, 2, 42))
    assert rows["p1"][6:8] == (None, None)  # NaN: no response
    assert rows["p2"][6:10] == ("We patched it.", datetime(2017, 7, 14, 2, 40, 5), "30", "Quake")


def test_product_name_is_filled_when_it_was_missing(invoke, db_path, tmp_path):
    """API pages carry no game name; a later file that has one fills it in, once."""
    _api_page(tmp_path / "review_2310.json", [_record(1, "a", True, T0)])
    ok(invoke("ingest", "--format", "steam", "--source", str(tmp_path / "review_2310.json")))
    f = tmp_path / "more.jsonl"
    f.write_text(json.dumps(_record(2, "b", True, T0, appid=2310, app_name="Quake")) + "\n"
                 + json.dumps(_record(3, "c", True, T0, appid=2310, app_name="Quake II")) + "\n",
                 encoding="utf-8")
    out = ok(invoke("ingest", "--format", "steam", "--source", str(f)))
    assert "products: 1 (0 new)" in out
    assert q(db_path, "SELECT external_id, name, kind FROM products") == [("2310", "Quake", "game")]


def test_bad_steam_rows_are_rejected_with_reasons(invoke, db_path, tmp_path):
    f = tmp_path / "reviews.jsonl"
    good = _record(1, "fine", True, T0, appid=1)
    rows = [
        good,
        _record(2, "future", True, 4_102_444_800, appid=1),        # 2100-01-01
        _record(3, "garbled", True, "last tuesday", appid=1),
        _record(4, "no app", True, T0),
        _record(5, "no app either", True, T0, appid=""),
        _record(6, "maybe", "maybe", T0, appid=1),
        _record(7, "odd reply time", True, T0, appid=1, timestamp_dev_responded="soon"),
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = ok(invoke("ingest", "--format", "steam", "--source", str(f)))
    assert "read 7 rows, inserted 1" in out and "rejected 6" in out
    assert "rejected 1: time is in the future (e.g. reviews.jsonl:2 (2100-01-01 00:00:00))" in out
    assert ("rejected 1: time is not a date-time (ISO 8601, epoch seconds or --time-format) "
            "(e.g. reviews.jsonl:3 ('last tuesday'))") in out
    assert "rejected 2: product is missing (e.g. reviews.jsonl:4, reviews.jsonl:5)" in out
    assert "rejected 1: label is not 0/1/pos/neg (e.g. reviews.jsonl:6 ('maybe'))" in out
    assert "rejected 1: developer response time is not a date-time" in out
    details = json.loads(q(db_path, "SELECT details FROM ingest_runs")[0][0])
    assert details["rejected"]["product is missing"] == 2


def test_steam_file_without_app_id_is_refused(invoke, db_path, tmp_path):
    f = _api_page(tmp_path / "page.json", [_record(1, "a", True, T0)])
    out = err(invoke("ingest", "--format", "steam", "--source", str(f)))
    assert "no product column for --format steam" in out and "review_<appid>.json" in out
    assert "--product-column" in out
    assert not db_path.exists()  # a failed first ingest leaves no database behind


def test_steam_preset_columns_can_be_overridden(invoke, db_path, tmp_path):
    f = tmp_path / "games.csv"
    f.write_text("recommendationid,game,review,voted_up\n1,Portal,fine,true\n", encoding="utf-8")
    ok(invoke("ingest", "--format", "steam", "--source", str(f), "--product-column", "game",
              "--dataset", "mine"))
    assert _reviews(db_path, "mine")[0][8:] == ("Portal", None, "game")


# -- label map ---------------------------------------------------------------------------------


def _german(tmp_path):
    f = tmp_path / "annotated.csv"
    f.write_text("id,game,review,combined_rating,created_at\n"
                 "1,Skyrim,greed,Nicht empfohlen,2015-04-24T15:51:10Z\n"
                 "2,Skyrim,great,Empfohlen,2015-04-25T20:35:05+00:00\n"
                 "3,Firewatch,hmm,EMPFOHLEN,2017-09-12 20:52:00\n"
                 "4,Firewatch,what,Vielleicht,2017-09-13\n", encoding="utf-8")
    return f


def test_label_map_maps_words_case_insensitively(invoke, db_path, tmp_path):
    args = ["ingest", "--source", str(_german(tmp_path)), "--dataset", "bombs",
            "--text-column", "review", "--label-column", "combined_rating",
            "--product-column", "game", "--time-column", "created_at"]
    out = ok(invoke(*args))
    assert "inserted 0" in out and "rejected 4: label is not 0/1/pos/neg" in out  # no guessing
    out = ok(invoke(*args, "--label-map", "Empfohlen=1, Nicht empfohlen = 0"))
    assert "inserted 3" in out
    assert "rejected 1: label is not 0/1/pos/neg or in --label-map (e.g. annotated.csv:5 " \
           "('Vielleicht'))" in out
    rows = q(db_path, "SELECT external_id, label, reviewed_at FROM reviews ORDER BY 1")
    assert rows == [("1", 0, datetime(2015, 4, 24, 15, 51, 10)),
                    ("2", 1, datetime(2015, 4, 25, 20, 35, 5)),
                    ("3", 1, datetime(2017, 9, 12, 20, 52))]
    assert q(db_path, "SELECT source, external_id, name, kind FROM products ORDER BY 2") == [
        ("bombs", "Firewatch", None, None), ("bombs", "Skyrim", None, None)]


@pytest.mark.parametrize("value,fragment", [
    ("Empfohlen=1,,Nicht empfohlen=0", "has an empty entry"),
    ("Empfohlen", "has no '='"),
    ("=1", "without a word"),
    ("Empfohlen=2", "maps 'Empfohlen' to '2'"),
    ("Empfohlen=1,empfohlen=0", "maps 'empfohlen' twice"),
    ("  ", "is empty"),
])
def test_impossible_label_maps_are_refused(invoke, db_path, tmp_path, value, fragment):
    out = err(invoke("ingest", "--source", str(_german(tmp_path)), "--label-map", value))
    assert fragment in out and "--label-map" in out
    assert not db_path.exists()  # refused before the database is even opened


# -- times and --split-before ------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("2020-01-01T12:00:00+02:00", datetime(2020, 1, 1, 10)),
    ("2020-01-01T12:00:00Z", datetime(2020, 1, 1, 12)),
    ("2020-01-01 12:00:00", datetime(2020, 1, 1, 12)),       # naive: taken as UTC
    ("2020-01-01", datetime(2020, 1, 1)),
    (1_577_880_000, datetime(2020, 1, 1, 12)),                # epoch seconds
    (1_577_880_000.5, datetime(2020, 1, 1, 12, 0, 0, 500_000)),
    ("1577880000", datetime(2020, 1, 1, 12)),
    (datetime(2020, 1, 1, 12), datetime(2020, 1, 1, 12)),
    (None, None), (float("nan"), None), ("", None),
])
def test_parse_time(value, expected):
    assert parse_time(value) == expected


def test_parse_time_with_format_and_refusals():
    assert parse_time("24.04.2015 17:51:10", "%d.%m.%Y %H:%M:%S") == datetime(2015, 4, 24, 17,
                                                                                51, 10)
    for bad in ("yesterday", "2020-13-01", True):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_arrow_timestamps_with_a_zone_become_utc(invoke, db_path, tmp_path):
    f = tmp_path / "train.parquet"
    berlin = pa.array([datetime(2015, 4, 24, 15, 51, 10)], pa.timestamp("ms", tz="UTC")).cast(
        pa.timestamp("ms", tz="Europe/Berlin"))
    pq.write_table(pa.table({"text": ["a"], "when": berlin,
                             "naive": pa.array([datetime(2015, 1, 1)], pa.timestamp("ns"))}), f)
    ok(invoke("ingest", "--source", str(f), "--time-column", "when"))
    ok(invoke("ingest", "--source", str(f), "--time-column", "naive", "--dataset", "n"))
    assert q(db_path, "SELECT dataset, reviewed_at FROM reviews ORDER BY 1") == [
        ("imdb", datetime(2015, 4, 24, 15, 51, 10)), ("n", datetime(2015, 1, 1))]


def test_time_format(invoke, db_path, tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("text,date\na,24.04.2015 17:51:10\nb,2015-04-24\n", encoding="utf-8")
    out = ok(invoke("ingest", "--source", str(f), "--time-column", "date",
                    "--time-format", "%d.%m.%Y %H:%M:%S"))
    assert "inserted 1" in out
    assert "time does not match --time-format '%d.%m.%Y %H:%M:%S'" in out


def test_split_before(invoke, db_path, tmp_path):
    f = tmp_path / "reviews.jsonl"
    times = [T0 - 10, T0 - 1, T0, T0 + 1, None]
    f.write_text("\n".join(json.dumps(_record(i, f"r{i}", True, t, appid=1))
                           for i, t in enumerate(times)) + "\n", encoding="utf-8")
    cut = UTC0.isoformat()
    out = ok(invoke("ingest", "--format", "steam", "--source", str(f), "--split-before", cut,
                    "--split", "test"))
    assert "read 3 rows, inserted 2 (test 2)" in out  # train rows are not selected, not read
    assert "rejected 1: time is missing (--split-before needs it)" in out
    out = ok(invoke("ingest", "--format", "steam", "--source", str(f), "--split-before", cut))
    assert "inserted 2 (train 2), already present 2" in out
    assert q(db_path, "SELECT external_id, split FROM reviews ORDER BY 1") == [
        ("0", "train"), ("1", "train"), ("2", "test"), ("3", "test")]


@pytest.mark.parametrize("args,fragment", [
    (["--split-before", "01/07/2017", "--format", "steam"], "is not a date; write YYYY-MM-DD"),
    (["--split-before", "20170701", "--format", "steam"], "is not a date"),
    (["--split-before", "2017-07-01"], "name the time column with --time-column"),
    (["--split-before", "2017-07-01", "--format", "steam", "--split", "validation"],
     "unknown split 'validation'"),
    (["--time-format", "dd.mm.yyyy", "--time-column", "t"], "has no % directive"),
    (["--time-format", "%d.%m.%Y"], "needs --time-column"),
    (["--dataset", "x" * 65], "at most 64"),
    (["--dataset", "a\tb"], "control characters"),
    (["--dataset", " "], "must not be empty"),
    (["--split", "s" * 33], "at most 32"),
    (["--product-kind", "k" * 33], "at most 32"),
    (["--text-column", ""], "--text-column must not be empty"),
    (["--max-review-chars", "0"], "--max-review-chars must be at least 1"),
])
def test_impossible_options_are_refused(invoke, db_path, tmp_path, args, fragment):
    f = _api_page(tmp_path / "review_1.json", [_record(1, "a", True, T0)])
    out = err(invoke("ingest", "--source", str(f), *args))
    assert fragment in out
    assert not db_path.exists() or q(db_path, "SELECT count(*) FROM reviews") == [(0,)]


def test_default_dataset_follows_the_format(invoke, db_path, tmp_path):
    f = _api_page(tmp_path / "review_1.json", [_record(1, "a", True, T0)])
    assert "ingest steam from" in ok(invoke("ingest", "--source", str(f), "--format", "steam"))
    assert "ingest imdb from" in ok(invoke("ingest", "--source", str(f)))  # no preset: imdb
    assert q(db_path, "SELECT dataset, product_id IS NULL FROM reviews ORDER BY 1") == [
        ("imdb", True), ("steam", False)]


# -- other shapes and the remaining column options ---------------------------------------------


def test_json_list_and_documents_without_reviews(invoke, db_path, tmp_path):
    f = tmp_path / "train.json"
    f.write_text(json.dumps([{"id": "1", "text": "fine"}, "not a record", {"id": "2",
                                                                           "text": "also"}],
                            indent=2), encoding="utf-8")
    out = ok(invoke("ingest", "--source", str(f)))
    assert "inserted 2" in out and "rejected 1: record is not a JSON object (e.g. train.json:#2)" \
        in out
    other = tmp_path / "config.json"
    other.write_text(json.dumps({"settings": {"a": 1}}, indent=2), encoding="utf-8")
    assert "JSON document without a list of reviews" in err(invoke("ingest", "--source",
                                                                   str(other)))
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "reviews": [\n', encoding="utf-8")
    assert "neither JSON Lines nor one JSON document" in err(invoke("ingest", "--source",
                                                                    str(broken)))


def test_tsv_with_every_column_option(invoke, db_path, tmp_path):
    f = tmp_path / "test.tsv"
    f.write_text("rid\tbody\tverdict\tstars\tshop\tshop_name\twhen\tlang\tbeta\treply\treplied\n"
                 "1\tgood\tpos\t4.5\ts1\tShop One\t2020-01-01T00:00:00Z\ten\tyes\tthanks\t"
                 "2020-01-02T00:00:00Z\n"
                 "2\tbad\tneg\t\ts1\t\t2020-01-03T00:00:00Z\ten\tmaybe\t\t\n", encoding="utf-8")
    out = ok(invoke("ingest", "--source", str(f), "--dataset", "shop", "--id-column", "rid",
                    "--text-column", "body", "--label-column", "verdict", "--rating-column",
                    "stars", "--product-column", "shop", "--product-name-column", "shop_name",
                    "--time-column", "when", "--language-column", "lang",
                    "--early-access-column", "beta", "--developer-response-column", "reply",
                    "--developer-responded-at-column", "replied", "--product-kind", "store"))
    assert "inserted 1 (test 1)" in out
    assert "rejected 1: early access flag is not true/false (e.g. test.tsv:3)" in out
    assert q(db_path, "SELECT r.external_id, r.label, r.rating, r.reviewed_at, r.language, "
                      "r.early_access, r.developer_response, r.developer_responded_at, "
                      "p.external_id, p.name, p.kind FROM reviews r JOIN products p "
                      "ON p.id = r.product_id") == [
        ("1", 1, 4.5, datetime(2020, 1, 1), "en", True, "thanks", datetime(2020, 1, 2), "s1",
         "Shop One", "store")]
