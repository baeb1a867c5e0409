"""Did answering help? (issue 19 item 3): `asaas responsiveness --answers` and the review_flips /
product_flips views, on DuckDB and PostgreSQL, from two snapshots of one app whose every review
has a known story."""

from __future__ import annotations

import csv
import io

import pytest

from tests.helpers import ok, q
from tests.ingest.test_changes import write_pages

T0 = 1_500_000_000
H = 3600


def review(rid: str, i: int, up: bool, **fields) -> dict:
    created = T0 + i * H
    return {"recommendationid": rid, "review": f"review {rid}", "voted_up": up,
            "timestamp_created": created, "timestamp_updated": created, "language": "english",
            "votes_up": 0, "votes_funny": 0, "comment_count": 0,
            "weighted_vote_score": "0.5", **fields}


def stories() -> tuple[list[dict], list[dict]]:
    """Two snapshots of app 440 (see each line)."""
    first, later = [], []

    def add(rid, i, up, before=None, after=None):
        first.append(review(rid, i, up, **(before or {})))
        later.append(review(rid, i, up, **{**(before or {}), **(after or {})}))

    def answer(i, hours):
        return {"developer_response": "Sorry, fixed now.",
                "timestamp_dev_responded": T0 + i * H + hours * H}

    def turn(i, hours):
        return {"voted_up": True, "timestamp_updated": T0 + i * H + hours * H,
                "review": "fixed, thanks"}

    for i, rid in enumerate(("a1", "a2", "a3", "a4")):  # answered after 10 h; a1, a2 turned
        add(rid, i, False, after={**answer(i, 10), **(turn(i, 20) if i < 2 else {})})
    for i, rid in enumerate(("u1", "u2", "u3", "u4", "u5"), start=10):  # never answered
        add(rid, i, False, after=turn(i, 5) if rid == "u1" else None)
    add("late", 20, False, after={**turn(20, 5), **answer(20, 30)})  # answered after it turned
    # Answered 2 h after it was written; the developer edited the answer later (Steam then
    # shows the edit's time): the first answer counts.
    add("edited", 21, False, before=answer(21, 2), after=answer(21, 50))
    add("p1", 30, True, before={**answer(30, 1), "timestamp_updated": T0 + 33 * H})
    add("p2", 31, True)
    return first, later


def answers_table(invoke, *args: str) -> list[dict]:
    out = ok(invoke("responsiveness", "--answers", "--dataset", "steam", "--format", "csv",
                    *args))
    return list(csv.DictReader(io.StringIO(out.split("note:")[0])))


def test_answered_against_unanswered_from_two_snapshots(invoke, db_url, tmp_path):
    from statsmodels.stats.proportion import confint_proportions_2indep

    first, later = stories()
    ok(invoke("ingest", "--format", "steam", "--source", str(write_pages(tmp_path / "1", first))))
    ok(invoke("ingest", "--format", "steam", "--source", str(write_pages(tmp_path / "2", later))))
    flips = {r[0]: r[1:] for r in q(db_url, (
        "SELECT r.external_id, f.first_label, f.answered_negative, f.unanswered_negative, "
        "f.turned, f.hours_to_answer FROM review_flips f JOIN reviews r ON r.id = f.review_id"))}
    assert flips["a1"][:4] == (0, True, False, True) and flips["a1"][4] == 10
    assert flips["a3"][:4] == (0, True, False, False)
    assert flips["u1"][:4] == (0, False, True, True) and flips["u2"][:4] == (0, False, True, False)
    assert flips["late"][:4] == (0, False, True, True)  # turned before it was answered
    assert flips["edited"][:4] == (0, True, False, False) and flips["edited"][4] == 2
    assert flips["p1"][:3] == (1, False, False)
    [row] = answers_table(invoke)
    assert (row["product"], row["negative_first"], row["answered"], row["answered_turned"],
            row["unanswered"], row["unanswered_turned"]) == ("440", "11", "5", "2", "6", "2")
    assert float(row["answered_turned_share"]) == pytest.approx(2 / 5)
    assert float(row["unanswered_turned_share"]) == pytest.approx(2 / 6)
    low, high = confint_proportions_2indep(2, 5, 2, 6, method="newcomb", compare="diff")
    assert float(row["turned_diff"]) == pytest.approx(2 / 5 - 2 / 6, abs=1e-4)
    assert (float(row["turned_diff_ci_low"]), float(row["turned_diff_ci_high"])) == \
        pytest.approx((low, high), abs=1e-4)
    assert float(row["median_hours_to_answer"]) == 10  # a1-a4 after 10 h, edited after 2 h
    # Positive now and edited after the answer: a1, a2 (they turned) and p1 (always positive).
    assert row["edited_after_answer"] == "3" and row["reviews_changed"] == "7"


def test_one_snapshot_shows_no_turn_and_says_so(invoke, db_path, tmp_path):
    _, later = stories()
    ok(invoke("ingest", "--format", "steam", "--source", str(write_pages(tmp_path / "2", later))))
    result = invoke("responsiveness", "--answers", "--dataset", "steam", "--format", "csv")
    assert "note: no review was seen changed yet, so no turn can be seen" in result.output
    [row] = answers_table(invoke)
    # Seen once, the turned reviews are positive reviews: only the rest are negative.
    assert (row["negative_first"], row["answered_turned"], row["unanswered_turned"],
            row["edited_after_answer"]) == ("7", "0", "0", "3")


def test_answers_bad_input(invoke, db_path):
    from asaas.store import open_store
    from tests.helpers import err

    open_store(str(db_path)).engine.dispose()
    assert "pick one" in err(invoke("responsiveness", "--answers", "--recoveries"))
    assert "no negative reviews" in ok(invoke("responsiveness", "--answers"))
