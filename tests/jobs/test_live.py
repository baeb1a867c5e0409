"""The live job (jobs/live.toml, as shipped): fetch -> score -> alerts -> notify, run against the
fake Steam API (tests/fake_steam.py) and a webhook receiver, both on 127.0.0.1 and started here.
A second run fetches only the new pages and sends only the new alert; a failing app or hook is a
partial run (exit 1) that loses nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from asaas.jobs import EXIT_BAD_JOB, EXIT_OK, EXIT_STEP_FAILED, run_job
from tests.fake_steam import FakeSteam, Fault, synthetic_records
from tests.helpers import ok, q
from tests.webhook import Receiver

REPO = Path(__file__).resolve().parents[2]
SECRET = "SECRETliveHOOK0123456789"
TODAY = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)


def day_of(days_ago: int) -> datetime:
    return TODAY - timedelta(days=days_ago)


def steam_days(first: int, last: int, *, burst: int | None, start_id: int,
               per_day: int = 20) -> list[dict[str, Any]]:
    """Steam records for the days ``first`` to ``last`` days ago: ``per_day`` a day, one of
    them negative (5%), and 60 more negative ones on the day ``burst`` days ago."""
    plan = []
    for ago in range(first, last - 1, -1):
        plan += [(ago, j == 0) for j in range(per_day)]
        if ago == burst:
            plan += [(ago, True)] * 60
    out = synthetic_records(len(plan), start_id=start_id)
    for i, (rec, (ago, negative)) in enumerate(zip(out, plan)):
        at = int((day_of(ago) + timedelta(hours=10, seconds=i % 40_000)).timestamp())
        rec.update(timestamp_created=at, timestamp_updated=at, voted_up=not negative,
                   language="english",
                   review=("refund broken crash servers" if negative else "fun great game")
                   + f" #{rec['recommendationid']}")
    return out


@pytest.fixture
def live(monkeypatch, tmp_path, db_path, invoke, learnable_source):
    """jobs/live.toml as shipped, pointed at the test's database and at apps 440 (a negative
    burst 12 days ago) and 620 (quiet) of a fake Steam; a model to score with; a webhook."""
    apps = {"440": steam_days(150, 10, burst=12, start_id=1_000),
            "620": steam_days(30, 10, burst=None, start_id=900_000, per_day=6)}
    hook = Receiver(SECRET)
    with FakeSteam(apps) as steam:
        for name, value in {"ASAAS_STEAM_API_URL": steam.url, "ASAAS_FETCH_RATE": "500",
                            "ASAAS_FETCH_BACKOFF": "0.01", "ASAAS_FETCH_TIMEOUT": "10",
                            "ASAAS_FETCH_ATTEMPTS": "2", "ASAAS_WEBHOOK_URL": hook.url,
                            "ASAAS_WEBHOOK_FORMAT": "json", "ASAAS_NOTIFY_ATTEMPTS": "2",
                            "ASAAS_NOTIFY_TIMEOUT": "10"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr("asaas.fetch.http.pause", lambda _seconds: None)
        ok(invoke("ingest", "--source", str(learnable_source(200, 20))))
        ok(invoke("train", "tfidf-lr"))
        text = (REPO / "jobs" / "live.toml").read_text(encoding="utf-8")
        assert 'apps = ["440", "570"]' in text and 'db = "../asaas.duckdb"' in text
        # The score step's bound raised so that a run scores all it fetched (checked below).
        assert "max_reviews = 500 " in text
        job = tmp_path / "jobs" / "live.toml"
        job.parent.mkdir()
        job.write_text(text.replace('apps = ["440", "570"]', 'apps = ["440", "620"]')
                       .replace('db = "../asaas.duckdb"', f'db = "{db_path}"')
                       .replace("max_reviews = 500 ", "max_reviews = 5000 "), encoding="utf-8")
        yield steam, hook, job
    hook.close()


def run(job: Path, capsys) -> tuple[int, str]:
    code = run_job(job)
    return code, capsys.readouterr().err


def requests_of(steam: FakeSteam, appid: str, since: int = 0) -> int:
    return sum(1 for r in steam.requests[since:] if r.appid == appid)


def steam_reviews(db) -> int:
    return q(db, "SELECT count(*) FROM reviews WHERE dataset = 'steam'")[0][0]


def test_live_job_fetches_only_new_pages_and_sends_each_alert_once(live, db_path, tmp_path,
                                                                   capsys):
    steam, hook, job = live
    first_total = len(steam.apps["440"]) + len(steam.apps["620"])
    code, log = run(job, capsys)
    assert code == EXIT_OK, log
    for line in ("step 1/4 fetch: ok", "step 2/4 score: ok", "step 3/4 alerts: ok",
                 "step 4/4 notify: ok", "fetch steam app 440: 30 pages in 30 requests"):
        assert line in log, log
    assert steam_reviews(db_path) == first_total
    # Everything fetched was scored by the registered model (score step: dataset steam, all).
    assert q(db_path, "SELECT count(*) FROM predictions p JOIN reviews r ON r.id = p.review_id "
                      "WHERE r.dataset = 'steam'") == [(first_total,)]
    first_alert = f"negative:440:{day_of(12).date()}"
    assert first_alert in (tmp_path / "reports" / "live-alerts.md").read_text()
    assert hook.ids() == [first_alert]
    assert hook.received[0]["product"]["id"] == "440"
    steps = json.loads(q(db_path, "SELECT steps FROM job_runs ORDER BY id")[-1][0])
    assert [(s["kind"], s["status"]) for s in steps] == [
        ("fetch", "succeeded"), ("score", "succeeded"), ("alerts", "succeeded"),
        ("notify", "succeeded")]
    assert steps[0]["counts"]["new"] == first_total and steps[3]["counts"]["webhook"]["sent"] == 1
    assert SECRET not in log and SECRET not in json.dumps(steps)

    # Later: 9 more days of 440 with a new burst, some old negatives answered and flipped;
    # 620 unchanged.
    new = steam_days(9, 1, burst=5, start_id=500_000)
    negatives = [r for r in steam.apps["440"] if not r["voted_up"]][:5]
    edit_at = int((day_of(1) + timedelta(hours=20)).timestamp())
    for r in negatives:
        r.update(voted_up=True, timestamp_updated=edit_at, developer_response="Fixed, thanks.",
                 timestamp_dev_responded=edit_at - 60, review=r["review"] + " EDIT: fixed")
    steam.apps["440"] = new + steam.apps["440"]
    seen = len(steam.requests)
    code, log = run(job, capsys)
    assert code == EXIT_OK, log
    # Only the new and edited reviews' pages, plus at most one page held unchanged.
    new_pages = -(-(len(new) + len(negatives)) // 100)
    assert new_pages <= requests_of(steam, "440", seen) <= new_pages + 1
    assert requests_of(steam, "620", seen) == 1  # its first page: all held unchanged
    assert steam_reviews(db_path) == first_total + len(new)
    assert q(db_path, "SELECT count(DISTINCT review_id) FROM review_history "
                      "WHERE field = 'label'") == [(len(negatives),)]
    second_alert = f"negative:440:{day_of(5).date()}"
    assert hook.ids() == [first_alert, second_alert]  # the first one not again
    # The edited texts were scored again, the new ones for the first time.
    assert q(db_path, "SELECT count(*) FROM reviews r LEFT JOIN predictions p ON "
                      "p.review_id = r.id WHERE r.dataset = 'steam' AND p.review_id IS NULL") \
        == [(0,)]

    seen = len(steam.requests)
    code, log = run(job, capsys)  # nothing new at all
    assert code == EXIT_OK, log
    assert requests_of(steam, "440", seen) == requests_of(steam, "620", seen) == 1
    assert hook.ids() == [first_alert, second_alert]
    assert q(db_path, "SELECT count(*) FROM notifications WHERE status = 'sent'") == [(2,)]


def test_a_failing_app_and_a_failing_hook_lose_nothing(live, db_path, capsys):
    """One app that answers 503 on every try: the other app is fetched and its alert sent, the
    run exits 1 with one line for the app. A hook answering 500: the alert stays owed and the
    next run sends it, once."""
    steam, hook, job = live
    steam.faults.append(Fault("620", 1, "status", times=10, status=503))
    hook.mode = "fail"
    code, log = run(job, capsys)
    assert code == EXIT_STEP_FAILED, log
    assert "step 1/4 fetch: PARTIAL" in log and "steam app 620" in log
    assert "step 4/4 notify: PARTIAL" in log and "stays owed" in log
    assert SECRET not in log
    status, error, steps = q(db_path, "SELECT status, error, steps FROM job_runs")[-1]
    assert status == "failed" and "steam app 620" in error and SECRET not in error
    assert [s["status"] for s in json.loads(steps)] == ["partial", "succeeded", "succeeded",
                                                        "partial"]
    assert hook.ids() == []
    steam.faults.clear()
    hook.mode = "ok"
    code, log = run(job, capsys)
    assert code == EXIT_OK, log
    assert hook.ids() == [f"negative:440:{day_of(12).date()}"]
    assert steam_reviews(db_path) == len(steam.apps["440"]) + len(steam.apps["620"])


def test_fetch_stops_at_its_time_limit_and_the_next_run_goes_on(live, db_path, capsys,
                                                                monkeypatch):
    steam, hook, job = live
    monkeypatch.setenv("ASAAS_FETCH_RATE", "10")  # 30 pages: at least 3 s; the limit is 0.6 s
    text = job.read_text().replace("max_minutes = 20", "max_minutes = 0.01")
    job.write_text(text)
    code, log = run(job, capsys)
    assert code == EXIT_OK, log
    assert "time limit" in log
    assert steam_reviews(db_path) < len(steam.apps["440"]) + len(steam.apps["620"])
    job.write_text(text.replace("max_minutes = 0.01", "max_minutes = 20"))
    code, log = run(job, capsys)
    assert code == EXIT_OK, log
    assert steam_reviews(db_path) == len(steam.apps["440"]) + len(steam.apps["620"])
    assert hook.ids() == [f"negative:440:{day_of(12).date()}"]


@pytest.mark.parametrize("step, fragment", [
    ('kind = "fetch"\napps = ["440"]\n', 'needs store = "steam"'),
    ('kind = "fetch"\nstore = "steam"\napps = ["tf2"]\n', "'tf2' is not a Steam app id"),
    ('kind = "fetch"\nstore = "steam"\napps = []\n', "apps must be a list of app ids"),
    ('kind = "fetch"\nstore = "steam"\napps = ["440"]\nlang = "de"\n',
     'lang is for store = "play", not steam'),
    ('kind = "fetch"\nstore = "play"\napps = ["com.example.app"]\nlanguage = "german"\n',
     'language is for store = "steam", not play'),
    ('kind = "fetch"\nstore = "steam"\napps = ["440"]\nmax_minutes = 0\n',
     "max_minutes = 0.0 must be a number of minutes (0.01 or more)"),
    ('kind = "fetch"\nstore = "steam"\napps = ["440"]\nfilter = "top"\n',
     "filter 'top' is not known"),
    ('kind = "notify"\nkinds = ["bombs"]\n', "kinds 'bombs' is not known"),
    ('kind = "notify"\nsince = "yesterday"\n', "since 'yesterday' is not a date"),
    ('kind = "notify"\nchannel = "slack"\n', "unknown key 'channel'"),
])
def test_bad_fetch_and_notify_steps_are_a_bad_job_file(tmp_path, db_path, capsys, step,
                                                       fragment):
    job = tmp_path / "bad.toml"
    job.write_text(f'db = "{db_path}"\n[[steps]]\n{step}')
    assert run_job(job) == EXIT_BAD_JOB
    assert fragment in capsys.readouterr().err
    assert not db_path.exists()  # refused before anything was opened


def test_notify_with_nowhere_to_send_stops_before_the_fetch(live, db_path, capsys,
                                                             monkeypatch):
    steam, hook, job = live
    monkeypatch.delenv("ASAAS_WEBHOOK_URL")
    code, log = run(job, capsys)
    assert code == EXIT_STEP_FAILED
    assert "cannot start: no channel to notify: set ASAAS_WEBHOOK_URL" in log
    assert steam.requests == [] and steam_reviews(db_path) == 0


def test_fetch_flags_and_fetch_step_keys_are_one_set_with_one_default():
    from asaas.cli.fetch import fetch
    from asaas.fetch.options import FetchOptions
    from asaas.notify.options import NotifyRequest
    from asaas.cli.notify import notify
    from asaas.options import keys

    def params(command, *args):
        return dict(command.make_context(command.name, list(args)).params)

    steam = params(fetch.commands["steam"], "440")
    steam["filter"] = steam.pop("order")
    steam["apps"] = list(steam.pop("appids"))
    steam.pop("db_url")
    assert FetchOptions.from_values({"store": "steam", **steam}, "cli") == \
        FetchOptions.from_values({"store": "steam", "apps": [440]}, "job")
    play = params(fetch.commands["play"], "com.example.app")
    play["apps"] = list(play.pop("app_ids"))
    play.pop("db_url")
    assert FetchOptions.from_values({"store": "play", **play}, "cli") == \
        FetchOptions.from_values({"store": "play", "apps": ["com.example.app"]}, "job")
    assert set(steam) | set(play) | {"store"} == set(keys(FetchOptions))
    flags = params(notify)
    flags.pop("db_url")
    flags["kinds"] = list(flags.pop("kinds")) or None
    assert set(flags) == set(keys(NotifyRequest))
    from_cli = NotifyRequest.from_values(flags, "cli")
    assert from_cli.runtime().kinds == NotifyRequest.from_values({}, "job").runtime().kinds
    assert from_cli.first_day() == NotifyRequest().first_day()
