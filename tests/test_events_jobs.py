"""The nightly job refreshes events and writes the alert tables: `events` and `alerts` steps."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta

import pytest

from asaas.jobs import EXIT_BAD_JOB, run_job
from tests.events_alerts_data import Review, daily_series, write_reviews
from tests.helpers import q

T0 = datetime(2020, 1, 1)


def _job(tmp_path, db, steps: str):
    path = tmp_path / "jobs" / "timeline.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(f'name = "timeline"\ndb = "{db}"\n' + textwrap.dedent(steps),
                    encoding="utf-8")
    return path


def test_events_and_alerts_steps(tmp_path, db_path, capsys):
    rows = daily_series("100", T0, [20] * 120, [0.05] * 120, exact=True)
    rows += [Review("100", T0 + timedelta(days=90, minutes=j), 0, text="paid mods greed")
             for j in range(60)]
    rows += [Review("100", T0 + timedelta(days=i), 1, early_access=i < 50) for i in range(120)]
    write_reviews(db_path, rows)
    steps = """
        [[steps]]
        kind = "events"
        dataset = "steam"
    """
    for table, fmt in (("alerts", "json"), ("responsiveness", "csv"), ("recoveries", "markdown"),
                       ("effects", "json")):
        steps += f"""
        [[steps]]
        kind = "alerts"
        table = "{table}"
        format = "{fmt}"
        path = "out/{table}.{fmt}"
        kinds = ["negative"]
        source = "labels"
        """
    job = _job(tmp_path, db_path, steps)
    assert run_job(job) == 0
    assert q(db_path, "SELECT kind, source FROM events") == [("full_release", "derived")]
    out = tmp_path / "jobs" / "out"
    alerts = json.loads((out / "alerts.json").read_text())
    assert [a["alert_id"] for a in alerts] == ["negative:100:2020-03-31"]
    assert (out / "responsiveness.csv").read_text().splitlines()[0].startswith("rank,product")
    assert "negative:100:2020-03-31" in (out / "recoveries.markdown").read_text()
    effects = json.loads((out / "effects.json").read_text())
    assert [e["kind"] for e in effects] == ["full_release"]
    steps_logged = json.loads(q(db_path, "SELECT steps FROM job_runs")[0][0])
    assert [s["kind"] for s in steps_logged] == ["events", "alerts", "alerts", "alerts",
                                                 "alerts"]
    assert steps_logged[0]["counts"]["new"] == {"full_release": 1, "first_response": 0}
    assert run_job(job) == 0  # a second night: nothing new
    assert q(db_path, "SELECT count(*) FROM events") == [(1,)]


@pytest.mark.parametrize("step, fragment", [
    ('kind = "alerts"\n', 'needs path = "FILE"'),
    ('kind = "alerts"\npath = "a.md"\ntable = "bombs"\n', "table 'bombs' is not known"),
    ('kind = "alerts"\npath = "a.md"\nformat = "html"\n', "format 'html' is not known"),
])
def test_bad_alert_steps(tmp_path, db_path, capsys, step, fragment):
    job = _job(tmp_path, db_path, "[[steps]]\n" + step)
    assert run_job(job) == EXIT_BAD_JOB
    assert fragment in capsys.readouterr().err


def test_a_bad_source_fails_the_step(tmp_path, db_path, capsys):
    write_reviews(db_path, [Review("100", T0, 1)])
    job = _job(tmp_path, db_path, '[[steps]]\nkind = "alerts"\npath = "a.md"\n'
                                  'source = "nomodel"\n')
    assert run_job(job) == 1
    assert "no model named 'nomodel'" in capsys.readouterr().err
