"""Events (asaas/timeline/events.py, products.py): products by id or name, add, import (all or
nothing), derive (early-access switch, first developer response), list; the library and the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from asaas.timeline import events as ev
from asaas.timeline.products import ProductNotFoundError, find_product
from tests.events_alerts_data import Review, write_reviews
from tests.helpers import err, ok, q

T0 = datetime(2020, 1, 1)


@pytest.fixture
def store(db_path):
    rows = [Review("100", T0 + timedelta(days=i), 1) for i in range(3)]
    rows += [Review("200", T0 + timedelta(days=i), 1) for i in range(3)]
    rows += [Review("300", T0 + timedelta(days=i), 1) for i in range(3)]
    return write_reviews(db_path, rows, names={"100": "Pit People", "200": "Pit Stop",
                                               "300": "Distance"})


# -- products ------------------------------------------------------------------------------------


def test_products_by_external_id_name_and_unique_part(store):
    assert find_product(store, "100").name == "Pit People"
    assert find_product(store, "distance").external_id == "300"  # any case
    assert find_product(store, "stop").external_id == "200"  # unique part of a name


def test_ambiguous_unknown_and_empty_products_are_one_line_errors(store, db_path):
    with pytest.raises(ProductNotFoundError,
                       match="'pit' matches 2 products: Pit People .100.; Pit Stop"):
        find_product(store, "pit")
    with pytest.raises(ProductNotFoundError, match="unknown product 'nope'"):
        find_product(store, "nope")
    with pytest.raises(ProductNotFoundError, match="empty product"):
        find_product(store, " ")


def test_no_products_at_all(db_path):
    from asaas.store import open_store

    with pytest.raises(ProductNotFoundError, match="no products yet"):
        find_product(open_store(str(db_path)), "100")


# -- add -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2020-02-03", datetime(2020, 2, 3)),
    ("2020-02-03 10:30", datetime(2020, 2, 3, 10, 30)),
    ("2020-02-03T10:30:00Z", datetime(2020, 2, 3, 10, 30)),
    ("2020-02-03T10:30:00+02:00", datetime(2020, 2, 3, 8, 30)),  # to UTC
])
def test_times_are_naive_utc(text, expected):
    assert ev.parse_time(text) == expected


def test_add_event_and_refuse_the_same_one_twice(store, db_path):
    event = ev.add_event(store, "Distance", "2020-01-02 12:00", "patch", "Patch 1.1",
                         details={"version": "1.1"})
    assert (event.product, event.kind, event.source) == ("300", "patch", "manual")
    assert q(db_path, "SELECT kind, title, source, details FROM events") == [
        ("patch", "Patch 1.1", "manual", '{"version": "1.1"}')]
    with pytest.raises(ev.EventError, match="already has a patch event"):
        ev.add_event(store, "300", "2020-01-02T12:00:00Z", "patch", "again")


@pytest.mark.parametrize("args, message", [
    (("nope", "2020-01-02", "patch", "t"), "unknown product"),
    (("300", "2020-13-02", "patch", "t"), "bad date"),
    (("300", "yesterday", "patch", "t"), "bad date"),
    (("300", "2020-01-02", "Patch Notes", "t"), "bad event kind"),
    (("300", "2020-01-02", "patch", "  "), "needs a title"),
    (("300", "2020-01-02", "patch", "x" * 501), "keep it under 500"),
])
def test_add_bad_input(store, db_path, args, message):
    with pytest.raises((ev.EventError, ProductNotFoundError), match=message):
        ev.add_event(store, *args)
    assert q(db_path, "SELECT count(*) FROM events") == [(0,)]


def test_cli_add_and_list(store, invoke):
    out = ok(invoke("events", "add", "300", "--at", "2020-01-02", "--kind", "price",
                    "--title", "Price cut", "--details", '{"from": 10, "to": 5}'))
    assert "event 1: price of 300 at 2020-01-02 00:00:00" in out
    out = ok(invoke("events", "list", "Distance", "--format", "json"))
    rows = json.loads(out)
    assert [(r["product"], r["kind"], r["title"], r["source"]) for r in rows] == [
        ("300", "price", "Price cut", "manual")]
    assert "no events yet" in ok(invoke("events", "list", "100"))


@pytest.mark.parametrize("extra, message", [
    (["--details", "{bad"], "--details is not valid JSON"),
    (["--details", "[1, 2]"], "must be a JSON object"),
    (["--at", "2020-99-01"], "bad date"),
])
def test_cli_add_bad_input(store, invoke, extra, message):
    args = ["events", "add", "300", "--kind", "price", "--title", "t", "--at", "2020-01-02"]
    out = err(invoke(*args, *extra))
    assert message in out


def test_cli_unknown_product_is_one_line(store, invoke):
    assert "unknown product 'nope'" in err(invoke("events", "list", "nope"))


# -- import --------------------------------------------------------------------------------------


def test_import_csv_and_jsonl_and_again_adds_nothing(store, tmp_path, db_path):
    csv_file = tmp_path / "events.csv"
    csv_file.write_text("product,at,kind,title,details\n"
                        "100,2020-01-02,patch,Patch 1,\n"
                        "Distance,2020-01-03 08:00,price,\"Sale, 50%\",\"{\"\"pct\"\": 50}\"\n",
                        encoding="utf-8")
    report = ev.import_events(store, csv_file)
    assert (report.rows, report.inserted, report.already_present) == (2, 2, 0)
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text('{"product": "200", "occurred_at": "2020-01-04T00:00:00Z", "kind": "news", '
                     '"title": "Trailer", "details": {"views": 3}}\n\n'
                     '{"product": "100", "at": "2020-01-02", "kind": "patch", "title": "dup"}\n')
    report = ev.import_events(store, jsonl)
    assert (report.rows, report.inserted, report.already_present) == (2, 1, 1)
    assert ev.import_events(store, csv_file).inserted == 0
    assert q(db_path, "SELECT p.external_id, e.kind, e.title, e.source, e.details FROM events e "
                      "JOIN products p ON p.id = e.product_id ORDER BY e.occurred_at") == [
        ("100", "patch", "Patch 1", "import", None),
        ("300", "price", "Sale, 50%", "import", '{"pct": 50}'),
        ("200", "news", "Trailer", "import", '{"views": 3}'),
    ]


def test_import_bad_rows_name_their_lines_and_write_nothing(store, tmp_path, db_path):
    path = tmp_path / "events.csv"
    path.write_text("product,at,kind,title\n"
                    "100,2020-01-02,patch,ok\n"
                    "nope,2020-01-02,patch,unknown product\n"
                    "100,2020-02-30,patch,bad date\n"
                    "100,2020-01-05,Bad Kind,bad kind\n"
                    "100,2020-01-02,patch,same as line 2\n", encoding="utf-8")
    with pytest.raises(ev.EventError) as info:
        ev.import_events(store, path)
    message = str(info.value)
    assert "\n" not in message
    assert "4 bad rows, nothing imported" in message
    assert "line 3: unknown product 'nope'" in message
    assert "line 4: bad date '2020-02-30'" in message
    assert "line 5: bad event kind" in message
    assert "(and 1 more)" in message
    assert q(db_path, "SELECT count(*) FROM events") == [(0,)]


@pytest.mark.parametrize("name, content, message", [
    ("e.csv", "product,when,kind,title\n100,2020-01-01,patch,x\n", "no column at in the header"),
    ("e.csv", "product,at,kind\n100,2020-01-01,patch\n", "no column title"),
    ("e.csv", "product,at,kind,title\n100,2020-01-01,patch,x,extra\n", "line 2: more cells"),
    ("e.csv", "product,at,kind,title,colour\n100,2020-01-01,patch,x,red\n", "unknown field colour"),
    ("e.csv", "product,at,kind,title\n", "has no events"),
    ("e.csv", "product,at,kind,title,details\n100,2020-01-01,patch,x,{bad\n",
     "line 2: details is not valid JSON"),
    ("e.jsonl", '{"product": "100"\n', "line 1: not valid JSON"),
    ("e.jsonl", '["100", "2020-01-01"]\n', "line 1: expected a JSON object"),
    ("e.jsonl", '{"product": "100", "kind": "patch", "title": "x"}\n', "line 1: no time"),
    ("e.jsonl", '{"product": "100", "at": "2020-01-01", "kind": "patch", "title": "x", '
                '"details": [1]}\n', "line 1: details must be a JSON object"),
])
def test_import_bad_files(store, tmp_path, db_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ev.EventError, match=message):
        ev.import_events(store, path)
    assert q(db_path, "SELECT count(*) FROM events") == [(0,)]


def test_import_missing_folder_and_non_utf8(store, tmp_path):
    with pytest.raises(ev.EventError, match="does not exist"):
        ev.import_events(store, tmp_path / "missing.csv")
    with pytest.raises(ev.EventError, match="is a folder"):
        ev.import_events(store, tmp_path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("product,at,kind,title\n100,2020-01-01,patch,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ev.EventError, match="not UTF-8"):
        ev.import_events(store, latin)


def test_cli_import(store, invoke, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("product,at,kind,title\n100,2020-01-02,patch,Patch 1\n", encoding="utf-8")
    assert "imported 1 events" in ok(invoke("events", "import", str(path)))
    assert "imported 0 events" in ok(invoke("events", "import", str(path)))
    bad = tmp_path / "bad.csv"
    bad.write_text("product,at,kind,title\n100,never,patch,x\n", encoding="utf-8")
    assert "line 2: bad date 'never'" in err(invoke("events", "import", str(bad)))


# -- derive --------------------------------------------------------------------------------------


def _switch_reviews(product: str, n_ea: int, n_full: int, noise: int = 0) -> list[Review]:
    """n_ea early-access reviews, then n_full full reviews, one a day; ``noise`` reviews on each
    side carry the wrong flag."""
    out = []
    for i in range(n_ea + n_full):
        early = i < n_ea
        if noise and (i % (n_ea // noise or 1) == 1 and early and i < n_ea - 1):
            early = False
        out.append(Review(product, T0 + timedelta(days=i, hours=10), 1, early_access=early))
    for j in range(noise):  # late early-access reviews after the release
        out[n_ea + 5 + j].early_access = True
    return out


def test_derive_finds_a_noisy_switch_and_is_idempotent(db_url):
    rows = _switch_reviews("400", 60, 80, noise=3)
    rows += [Review("500", T0 + timedelta(days=i), 1, early_access=True) for i in range(50)]
    rows += [Review("600", T0 + timedelta(days=i), 1, early_access=i < 5) for i in range(50)]
    rows += [Review("400", T0 + timedelta(days=3), 0,
                    responded_at=T0 + timedelta(days=4, hours=2)),
             Review("400", T0 + timedelta(days=1), 0,
                    responded_at=T0 + timedelta(days=9))]
    store = write_reviews(db_url, rows)
    report = ev.derive_events(store)
    assert report.products == 3
    assert report.inserted == {"full_release": 1, "first_response": 1}
    found = ev.list_events(store, product="400")
    assert [(e.kind, e.occurred_at, e.source) for e in found] == [
        ("first_response", T0 + timedelta(days=4, hours=2), "derived"),
        ("full_release", T0 + timedelta(days=60, hours=10), "derived"),
    ]
    release = found[1].details
    assert release["early_access_reviews_before"] == 60 - 3 and release["full_reviews_after"] == 77
    assert found[0].details == {"responses": 2}
    # 500 never left early access; 600 has too few early-access reviews: no release for either.
    assert ev.list_events(store, product="500") == [] == ev.list_events(store, product="600")
    again = ev.derive_events(store)
    assert again.inserted == {"full_release": 0, "first_response": 0}
    assert again.unchanged == {"full_release": 1, "first_response": 1}
    assert q(db_url, "SELECT count(*) FROM events") == [(2,)]


def test_derive_follows_the_data_and_leaves_manual_events(db_path, tmp_path):
    store = write_reviews(db_path, _switch_reviews("400", 30, 12))
    ev.derive_events(store)
    assert [e.occurred_at for e in ev.list_events(store)] == [T0 + timedelta(days=30, hours=10)]
    ev.add_event(store, "400", "2020-01-05", "patch", "manual one")
    # Early access went on after all (the 12 "full" reviews were strays): the switch moves.
    write_reviews(db_path, [Review("400", T0 + timedelta(days=42 + i), 1, early_access=True)
                            for i in range(60)]
                  + [Review("400", T0 + timedelta(days=102 + i), 1, early_access=False)
                     for i in range(40)])
    report = ev.derive_events(store)
    assert report.replaced["full_release"] == 1
    kinds = [(e.kind, e.occurred_at, e.source) for e in ev.list_events(store)]
    assert kinds == [("patch", datetime(2020, 1, 5), "manual"),
                     ("full_release", T0 + timedelta(days=102), "derived")]
    # And data that no longer shows a switch removes the derived event (not the manual one).
    write_reviews(db_path, [Review("400", T0 + timedelta(days=150 + i), 1, early_access=True)
                            for i in range(100)])
    assert ev.derive_events(store).removed["full_release"] == 1
    assert [e.kind for e in ev.list_events(store)] == ["patch"]


def test_derive_on_one_dataset_only(db_path):
    write_reviews(db_path, _switch_reviews("400", 30, 30), dataset="other")
    store = write_reviews(db_path, [Review("700", T0, 1)], dataset="steam")
    assert ev.derive_events(store, dataset="steam").inserted["full_release"] == 0
    assert ev.derive_events(store, dataset="other").inserted["full_release"] == 1


@pytest.mark.parametrize("flags, expected", [
    ([True] * 20 + [False] * 20, 20),
    ([True] * 20 + [False, True] + [False] * 20, 20),  # a late straggler does not move it
    ([False] + [True] * 20 + [False] * 20, 21),  # nor does an early "full" review
])
def test_early_access_switch(flags, expected):
    times = [T0 + timedelta(days=i) for i in range(len(flags))]
    switch = ev.early_access_switch(times, flags)
    assert switch.at == times[expected]


def test_early_access_switch_refuses_messy_flags():
    times = [T0 + timedelta(days=i) for i in range(60)]
    assert ev.early_access_switch(times, [i % 2 == 0 for i in range(60)]) is None  # alternating
    assert ev.early_access_switch(times, [i < 5 for i in range(60)]) is None  # too few before
    assert ev.early_access_switch([], []) is None


def test_cli_derive_and_list_filters(db_path, invoke):
    write_reviews(db_path, _switch_reviews("400", 30, 30)
                  + [Review("400", T0, 0, responded_at=T0 + timedelta(hours=5))])
    out = ok(invoke("events", "derive", "--dataset", "steam"))
    assert "full_release: 1 new" in out and "first_response: 1 new" in out
    assert "full_release: 0 new, 0 moved, 0 removed, 1 unchanged" in ok(invoke("events",
                                                                               "derive"))
    ok(invoke("events", "add", "400", "--at", "2020-01-03", "--kind", "patch", "--title", "p"))
    out = ok(invoke("events", "list", "--kind", "full_release", "--format", "csv"))
    assert out.splitlines()[0] == ",".join(ev.EVENT_COLUMNS)
    assert len(out.splitlines()) == 2 and "full_release" in out
    out = ok(invoke("events", "list", "--event-source", "manual", "--format", "markdown"))
    assert "| patch |" in out.replace("  ", " ") and "derived" not in out
