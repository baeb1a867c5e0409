"""Scheduled jobs: run a small TOML job file unattended (cron), safely.

A job file lists steps::

    name = "nightly"
    db = "../asaas.duckdb"            # optional; relative paths are relative to this file

    [[steps]]
    kind = "ingest"                   # asaas ingest
    source = "../../shared/data/imdb"
    dataset = "imdb"                  # optional, default imdb (steam with format = "steam")
    splits = ["train", "test"]        # optional, default all

    [[steps]]
    kind = "ingest"                   # every option of asaas ingest, as snake_case keys:
    source = "steam/new"              # e.g. a folder of Steam API pages review_<appid>.json
    format = "steam"                  # the Steam preset (dataset "steam", products of kind game)
    split_before = 2017-07-01         # a TOML date, or "2017-07-01"
    # also: default_split, label_map ("Empfohlen=1,Nicht empfohlen=0" or a table
    # {Empfohlen = 1, "Nicht empfohlen" = 0}), time_format, product_kind, max_review_chars and
    # the columns text_column, label_column, id_column, rating_column, product_column,
    # product_name_column, time_column, language_column, early_access_column,
    # developer_response_column, developer_responded_at_column

    [[steps]]
    kind = "score"                    # asaas score, for each model
    models = "all"                    # or ["tfidf-lr", "finetuned"]; the latest version of each
    splits = ["test"]                 # optional, default ["test"]; ["all"] for every split
    limit = 2000                      # optional; also every other option of asaas score:
                                      # dataset, languages, max_reviews, device, batch_tokens,
                                      # max_length, truncation, quantize, threads, batch_size,
                                      # quiet; and progress_every_s (default 60; 0: every chunk)
    engine = "ray"                    # optional, default "local"; with address, workers and
                                      # gpus_per_worker as for `asaas score --engine ray`

    [[steps]]
    kind = "views"                    # reinstall the SQL views

    [[steps]]
    kind = "report"                   # asaas report, written to a file
    path = "reports/nightly.md"
    format = "markdown"               # table, markdown, csv, csv-raw, json or html:
                                      # asaas report's own output, notes and paired
                                      # comparisons included; also split, dataset,
                                      # models, latest, full as for it

    [[steps]]
    kind = "events"                   # asaas events derive (releases, first responses)
    dataset = "steam"                 # optional, default every dataset

    [[steps]]
    kind = "alerts"                   # an alerts table, written to a file
    path = "reports/alerts.md"
    table = "alerts"                  # alerts, responsiveness, recoveries or effects
    format = "markdown"               # table, markdown, csv, csv-raw or json
    source = "labels"                 # optional: labels or MODEL[:VERSION]; also dataset,
                                      # kinds = ["negative"], since = "2018-01-01" and
                                      # window_days = 30 (effects)

    [[steps]]
    kind = "fetch"                    # asaas fetch steam|play: new and edited reviews,
    store = "steam"                   # landed raw, then ingested; "steam" or "play"
    apps = ["440", "570"]             # Steam app ids, or Play package names
    max_minutes = 20                  # optional: no page asked for after that; also max_pages,
                                      # full, dataset; language and filter (steam); lang,
                                      # country and three_stars (play)

    [[steps]]
    kind = "notify"                   # asaas notify: each new alert once, to ASAAS_WEBHOOK_URL
    max_minutes = 5                   # and/or by mail; optional, also since, kinds, source,
                                      # dataset, no_pages, dry_run

jobs/live.toml chains them: fetch -> score -> alerts -> notify. A fetch step's app that fails
and a notify step's delivery that fails do not stop the run: the later steps still run on what
came, the step is recorded "partial" and the run exits 1 (the alert stays owed, the app is
fetched by the next run). A notify step with no channel configured stops the run before any
step.

Each step's keys are checked when the file is loaded, into the step's options type (``steps``):
an unknown key, a value of the wrong type or out of bounds is a bad job file (``EXIT_BAD_JOB``)
before anything runs. A step takes the keys of its command's flags (``max_reviews`` for
``--max-reviews``) with the same defaults, built by the same function.

The package: ``loading`` (the file and its steps), ``steps`` (one entry per step kind: its options
type and what runs it), ``lock`` (one run of a job at a time), ``runner`` (the run, its log lines
and ``job_runs`` record), ``cron`` (the crontab line).

Safety: a lock per job keeps two runs of the same job on one database from overlapping (a
``flock``ed file for DuckDB, released by the kernel even on SIGKILL; an advisory lock held in
a PostgreSQL database, keyed on the job's name); the second exits at once with ``EXIT_LOCKED``. Every run is a
row in ``job_runs`` (start, end, status, per-step counts and timings, error). A failing step stops
the later ones and the exit code is non-zero. Scoring is resumable, so a rerun after a crash picks
up where it stopped.
"""

from asaas.errors import JobError
from asaas.jobs.cron import crontab_line
from asaas.jobs.loading import Job, Step, load_job
from asaas.jobs.lock import JobLock, lock_path
from asaas.jobs.runner import (EXIT_BAD_JOB, EXIT_LOCKED, EXIT_OK, EXIT_STEP_FAILED, StepResult,
                               run_job)
from asaas.jobs.steps import ALERT_TABLES, STEP_KINDS, STEPS

__all__ = ["ALERT_TABLES", "EXIT_BAD_JOB", "EXIT_LOCKED", "EXIT_OK", "EXIT_STEP_FAILED", "Job",
           "JobError", "JobLock", "STEPS", "STEP_KINDS", "Step", "StepResult", "crontab_line",
           "load_job", "lock_path", "run_job"]
