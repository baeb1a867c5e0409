"""Product lookup honours --dataset, and errors quote names cut short (issue 18, item 10): an
id present in two datasets is ambiguous only without --dataset; `asaas events add` (and list,
import) take --dataset; a 10,000-character product name is not printed whole."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from asaas.timeline.products import ProductNotFoundError, find_product
from tests.events_alerts_data import Review, daily_series, write_reviews
from tests.helpers import err, ok, q

T0 = datetime(2021, 3, 1)
LONG = "Long " + "x" * 10_000


@pytest.fixture
def two_datasets(db_path):
    """App 570 in the Steam dataset and in a second dataset (as the annotated review-bombing
    file holds Steam apps again); app 42 in both with a 10,000-character name."""
    write_reviews(db_path, daily_series("570", T0, [20] * 40, [0.2] * 40), dataset="steam",
                  source="steam", names={"570": "Dota 2"})
    write_reviews(db_path, [Review("42", T0, 1)], dataset="steam", source="steam",
                  names={"42": LONG})
    write_reviews(db_path, daily_series("570", T0, [20] * 40, [0.5] * 40, seed=1),
                  dataset="bombs", source="bombs", names={"570": "Dota 2"})
    return write_reviews(db_path, [Review("42", T0, 1)], dataset="bombs", source="bombs",
                         names={"42": LONG + " too"})


def test_dataset_picks_the_product(two_datasets):
    with pytest.raises(ProductNotFoundError, match="matches 2 products.*--dataset"):
        find_product(two_datasets, "570")
    assert find_product(two_datasets, "570", dataset="bombs").source == "bombs"
    assert find_product(two_datasets, "dota 2", dataset="steam").source == "steam"
    with pytest.raises(ProductNotFoundError, match="in dataset 'imdb'"):
        find_product(two_datasets, "570", dataset="imdb")


def test_events_add_takes_dataset(two_datasets, invoke, db_path):
    args = ["events", "add", "570", "--at", "2021-03-10", "--kind", "patch", "--title", "1.1"]
    assert "--dataset" in err(invoke(*args))
    ok(invoke(*args, "--dataset", "bombs"))
    ok(invoke(*args, "--dataset", "steam"))
    rows = q(db_path, "SELECT p.source FROM events e JOIN products p ON p.id = e.product_id "
                      "ORDER BY e.id")
    assert rows == [("bombs",), ("steam",)]
    listed = ok(invoke("events", "list", "570", "--dataset", "bombs", "--format", "csv"))
    assert len(listed.strip().splitlines()) == 2  # the header and the bombs event
    assert "--dataset" in err(invoke("events", "list", "570"))


def test_events_import_takes_dataset(two_datasets, invoke, tmp_path, db_path):
    path = tmp_path / "events.csv"
    path.write_text("product,at,kind,title\n570,2021-03-12,patch,1.2\n")
    assert "570" in err(invoke("events", "import", str(path)))
    ok(invoke("events", "import", str(path), "--dataset", "bombs"))
    assert q(db_path, "SELECT p.source FROM events e JOIN products p "
                      "ON p.id = e.product_id") == [("bombs",)]


def test_product_commands_look_up_in_the_dataset(two_datasets, invoke):
    """alerts, responsiveness, effects and timeline: --dataset ends the ambiguity."""
    from asaas.timeline.alerts import detect
    from asaas.timeline.effects import event_effects
    from asaas.timeline.responsiveness import ranking

    assert detect(two_datasets, product="570", dataset="bombs").alerts is not None
    ranking(two_datasets, "570", dataset="steam")
    event_effects(two_datasets, "570", dataset="steam")
    with pytest.raises(ProductNotFoundError):
        detect(two_datasets, product="570")
    ok(invoke("alerts", "list", "570", "--dataset", "bombs"))
    ok(invoke("timeline", "570", "--dataset", "bombs", "--format", "csv"))
    assert "--dataset" in err(invoke("timeline", "570"))


def test_errors_quote_long_names_cut_short(two_datasets, invoke):
    line = err(invoke("events", "add", "42", "--at", "2021-03-10", "--kind", "patch",
                      "--title", "x"))
    assert "matches 2 products" in line and len(line) < 600, len(line)
    assert "10,00" in line  # says how long the name was
    typed = "y" * 5000
    line = err(invoke("alerts", "list", typed, "--dataset", "steam"))
    assert "unknown product" in line and len(line) < 600, len(line)
    added = ok(invoke("events", "add", "Long x", "--dataset", "steam", "--at", "2021-03-10",
                      "--kind", "patch", "--title", "x"))  # a unique part of the name
    assert added.startswith("event 1: patch of 42")


def test_errors_show_control_characters_in_names(db_path, invoke):
    """A product name from the data holding ESC sequences or a line break reaches the terminal
    only as text, in one line (every one-line error passes through the CLI's fail_cleanly)."""
    write_reviews(db_path, [Review("1", T0, 1), Review("2", T0, 1)], dataset="steam",
                  source="steam", names={"1": "Evil\x1b]0;pwned\x07\x1b[2J one",
                                         "2": "Evil two\u202e"})
    result = invoke("events", "add", "evil", "--at", "2021-03-10", "--kind", "patch",
                    "--title", "x")
    line = err(result)
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;pwned\\x07" in line and "\\u202e" in line
