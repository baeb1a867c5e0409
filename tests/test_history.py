"""asaas.history.compare: which fields of stored reviews a newly seen copy changes."""

from __future__ import annotations

from datetime import datetime

from asaas.history import FIELDS, NEWS_FIELDS, FieldChange, compare, encode, text_hash

T0 = datetime(2018, 3, 1, 12, 0, 0)
T1 = datetime(2018, 3, 5, 8, 30, 0)


def stored_row(**changes):
    row = {"label": 0, "content_hash": text_hash("Crashes every level."),
           "developer_response": None, "developer_responded_at": None,
           "review_updated_at": T0, "votes_up": 3, "votes_funny": 0, "comment_count": 0,
           "weighted_vote_score": 0.52}
    row.update(changes)
    return row


def incoming(ext="1", **changes):
    row = {"external_id": ext, "text": "Crashes every level.", "label": 0,
           "developer_response": None, "developer_responded_at": None,
           "review_updated_at": T0, "votes_up": 3, "votes_funny": 0, "comment_count": 0,
           "weighted_vote_score": 0.52}
    row.update(changes)
    return row


def test_unchanged_new_and_repeated_ids():
    result = compare({"1": stored_row()}, [incoming("1"), incoming("2"), incoming("1", label=1)])
    assert result.unchanged == ["1"] and result.new == ["2"]
    assert result.history == [] and result.updates == {}  # the repeat of "1" is ignored


def test_answered_then_flipped_review_records_each_field():
    row = incoming(label=1, developer_response="Fixed in 1.0.3, sorry!",
                   developer_responded_at=T1, review_updated_at=T1,
                   text="Crashes every level. EDIT: fixed, thanks.")
    result = compare({"1": stored_row()}, [row])
    fields = [(c.field, c.old_text, c.new_text) for c in result.history]
    assert fields == [
        ("text", None, "Crashes every level. EDIT: fixed, thanks."),
        ("label", "0", "1"),
        ("developer_response", None, "Fixed in 1.0.3, sorry!"),
        ("developer_responded_at", None, "2018-03-05T08:30:00"),
        ("review_updated_at", "2018-03-01T12:00:00", "2018-03-05T08:30:00"),
    ]
    update = result.updates["1"]
    assert update["label"] == 1 and update["content_hash"] == text_hash(row["text"])
    assert result.unchanged == [] and result.changed_fields("1")[0] == "text"


def test_text_compared_by_hash_and_the_old_text_kept_when_given():
    stored = {"1": stored_row(text="Crashes every level.")}
    result = compare(stored, [incoming(text="Crashes every level!")])
    assert result.history == [FieldChange("1", "text", "Crashes every level.",
                                          "Crashes every level!")]
    # Rows may carry the hash alone: the same hash is the same text.
    same = incoming(content_hash=text_hash("Crashes every level."))
    del same["text"]
    assert compare({"1": stored_row()}, [same]).unchanged == ["1"]


def test_votes_are_updated_and_recorded_but_are_not_news():
    row = incoming(votes_up=10, weighted_vote_score=0.61)
    everything = compare({"1": stored_row()}, [row])
    assert [c.field for c in everything.history] == ["votes_up", "weighted_vote_score"]
    assert everything.updates["1"] == {"votes_up": 10, "weighted_vote_score": 0.61}
    news = compare({"1": stored_row()}, [row], fields=NEWS_FIELDS)
    assert news.unchanged == ["1"] and news.history == [] and news.updates == {}


def test_fields_stored_as_null_before_0006_are_backfilled_without_history():
    old = stored_row(review_updated_at=None, votes_up=None, votes_funny=None, comment_count=None,
                     weighted_vote_score=None)
    result = compare({"1": old}, [incoming()])
    assert result.history == [] and result.unchanged == ["1"]
    assert result.updates["1"] == {"review_updated_at": T0, "votes_up": 3, "votes_funny": 0,
                                   "comment_count": 0, "weighted_vote_score": 0.52}
    # A developer response that goes away is a change, not a backfill.
    answered = {"1": stored_row(developer_response="Thanks!", developer_responded_at=T1)}
    gone = compare(answered, [incoming()])
    assert [(c.field, c.old, c.new) for c in gone.history] == [
        ("developer_response", "Thanks!", None), ("developer_responded_at", T1, None)]


def test_fields_the_source_does_not_carry_are_not_compared():
    row = {"external_id": "1", "text": "Crashes every level.", "label": 0}
    result = compare({"1": stored_row(votes_up=99)}, [row])
    assert result.unchanged == ["1"] and result.updates == {}


def test_equal_values_of_other_types_are_equal():
    stored = {"1": stored_row(label=1, votes_up=3, weighted_vote_score=1.0,
                              review_updated_at=T0.replace(microsecond=0))}
    row = incoming(label=True, votes_up=3.0, weighted_vote_score=1,
                   review_updated_at=T0)
    assert compare(stored, [row]).unchanged == ["1"]
    assert compare({"1": stored_row(votes_up=float("nan"))}, [incoming(votes_up=None)]
                   ).updates == {}


def test_encode():
    assert [encode(v) for v in (None, True, False, 3, 0.5, 2.0, T1, "x", float("nan"))] == [
        None, "true", "false", "3", "0.5", "2.0", "2018-03-05T08:30:00", "x", None]
    assert set(FIELDS) >= set(NEWS_FIELDS)
