"""The database schema, as SQLAlchemy Core tables.

This module describes the schema the code expects; ``migrations/versions`` creates it. They must
agree (``tests/store/test_migrate.py`` checks). Never edit a released migration: add a new one and
change this file to match.

Design notes
- Reviews belong to a *dataset* (``imdb``, ``sst2``, ``steam``...) and are unique by
  ``(dataset, external_id)``, which makes ingest idempotent. Non-IMDB sources fill ``reviewed_at``
  (when the review was written) and ``product_id`` (the game, app or movie reviewed), so feedback
  can later be followed per product over time.
- Surrogate keys come from named sequences (``nextval``), which DuckDB and PostgreSQL both
  understand, so bulk inserts can leave ids to the database.
- Real numbers are DOUBLE: SQLAlchemy's plain Float becomes a 4-byte FLOAT on DuckDB, which
  would round every probability to 7 digits.
- Timestamps are naive UTC. JSON payloads are TEXT holding JSON, which every engine stores.
- Predictions are keyed by ``(review_id, model_version_id)``: one row per review and model version,
  which is what makes scoring resumable without duplicates.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def _id_column(seq_name: str) -> sa.Column:
    return sa.Column(
        "id",
        sa.BigInteger,
        primary_key=True,
        autoincrement=False,
        server_default=sa.text(f"nextval('{seq_name}')"),
    )


#: Sequences used for surrogate keys, in creation order.
SEQUENCES = (
    "products_id_seq",
    "ingest_runs_id_seq",
    "reviews_id_seq",
    "models_id_seq",
    "model_versions_id_seq",
    "job_runs_id_seq",
    "scoring_runs_id_seq",
    "events_id_seq",
    # Added in 0006.
    "review_history_id_seq",
    "notifications_id_seq",
    # Added in 0009.
    "topic_runs_id_seq",
)

products = sa.Table(
    "products",
    metadata,
    _id_column("products_id_seq"),
    sa.Column("source", sa.String(64), nullable=False),  # e.g. steam, imdb, appstore
    sa.Column("external_id", sa.String(256), nullable=False),  # the source's own product id
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("kind", sa.String(32), nullable=True),  # game, app, movie, saas...
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("source", "external_id", name="uq_products_source_external_id"),
)

ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    _id_column("ingest_runs_id_seq"),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # path or hub id as given by the user
    sa.Column("splits", sa.Text, nullable=True),  # comma-separated selection, NULL = all
    sa.Column("status", sa.String(16), nullable=False),  # succeeded | failed
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("duration_s", sa.Double, nullable=True),
    sa.Column("rows_read", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_inserted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_skipped", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("details", sa.Text, nullable=True),  # JSON: skip / reject reasons with counts
    sa.Column("error", sa.Text, nullable=True),
)

reviews = sa.Table(
    "reviews",
    metadata,
    _id_column("reviews_id_seq"),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("external_id", sa.String(256), nullable=False),
    sa.Column("split", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("label", sa.SmallInteger, nullable=True),  # 1 positive, 0 negative, NULL unlabelled
    sa.Column("rating", sa.Double, nullable=True),  # the source's star rating, its own scale
    sa.Column("content_hash", sa.String(64), nullable=False),  # sha256 of the UTF-8 text
    sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id"), nullable=True),
    sa.Column("reviewed_at", sa.DateTime, nullable=True),
    sa.Column("ingest_run_id", sa.BigInteger, sa.ForeignKey("ingest_runs.id"), nullable=False),
    # Added in 0002, for time-stamped product reviews (Steam and alike).
    sa.Column("language", sa.String(32), nullable=True),  # as the source names it: english...
    sa.Column("early_access", sa.Boolean, nullable=True),  # written during early access
    sa.Column("developer_response", sa.Text, nullable=True),
    sa.Column("developer_responded_at", sa.DateTime, nullable=True),
    # Added in 0006: what a store changes after a review is first seen (live fetches). NULL:
    # not recorded (reviews ingested before 0006, or from sources without these fields).
    sa.Column("review_updated_at", sa.DateTime, nullable=True),  # Steam timestamp_updated
    sa.Column("votes_up", sa.BigInteger, nullable=True),  # "helpful" votes
    sa.Column("votes_funny", sa.BigInteger, nullable=True),
    sa.Column("comment_count", sa.BigInteger, nullable=True),
    sa.Column("weighted_vote_score", sa.Double, nullable=True),  # Steam's helpfulness score
    sa.UniqueConstraint("dataset", "external_id", name="uq_reviews_dataset_external_id"),
)
sa.Index("ix_reviews_dataset_split", reviews.c.dataset, reviews.c.split)
sa.Index("ix_reviews_product_time", reviews.c.product_id, reviews.c.reviewed_at)
# Added in 0004, on PostgreSQL only (DuckDB does not scan indexes in order; see the migration):
# scoring hands reviews out in this order.
sa.Index("ix_reviews_dataset_hash_order", reviews.c.dataset, reviews.c.content_hash,
         reviews.c.id, info={"postgresql_only": True})

models = sa.Table(
    "models",
    metadata,
    _id_column("models_id_seq"),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    _id_column("model_versions_id_seq"),
    sa.Column("model_id", sa.BigInteger, sa.ForeignKey("models.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # sklearn | hf
    sa.Column("artifact_uri", sa.Text, nullable=False),  # directory, file or hub id
    sa.Column("params", sa.Text, nullable=True),  # JSON: training or loading parameters
    sa.Column("train_dataset", sa.String(64), nullable=True),
    sa.Column("train_fingerprint", sa.String(64), nullable=True),  # hash of the training rows
    sa.Column("metrics", sa.Text, nullable=True),  # JSON: training-time metrics
    sa.Column("environment", sa.Text, nullable=True),  # JSON: library versions, device
    sa.Column("created_at", sa.DateTime, nullable=False),
    # Added in 0002: JSON {relative file path: sha256} of the artifact, checked before loading.
    sa.Column("artifact_sha256", sa.Text, nullable=True),
    sa.Column("train_split", sa.String(32), nullable=True),
    # The scoring recipe: every prediction of this version is made with these settings
    # (NULL for models without a token limit, such as scikit-learn pipelines).
    sa.Column("max_length", sa.Integer, nullable=True),
    sa.Column("truncation", sa.String(16), nullable=True),
    sa.Column("quantize", sa.String(16), nullable=True),
    # Added in 0003: comma-separated languages the version reads (NULL: not recorded).
    sa.Column("languages", sa.Text, nullable=True),
    # Added in 0010: HMAC-SHA256 of the row under the registry key, which the database never
    # holds (asaas.models.signing); NULL: unsigned, not loaded until signed.
    sa.Column("registry_mac", sa.String(64), nullable=True),
    sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    _id_column("job_runs_id_seq"),
    sa.Column("job_name", sa.String(128), nullable=False),
    sa.Column("job_file", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # running | succeeded | failed
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("steps", sa.Text, nullable=True),  # JSON: per-step status, counts, timings
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("host", sa.String(256), nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
)

scoring_runs = sa.Table(
    "scoring_runs",
    metadata,
    _id_column("scoring_runs_id_seq"),
    sa.Column(
        "model_version_id", sa.BigInteger, sa.ForeignKey("model_versions.id"), nullable=False
    ),
    sa.Column("job_run_id", sa.BigInteger, sa.ForeignKey("job_runs.id"), nullable=True),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("splits", sa.Text, nullable=True),
    sa.Column("device", sa.String(64), nullable=True),
    sa.Column("settings", sa.Text, nullable=True),  # JSON: batch tokens, max length, truncation
    sa.Column("status", sa.String(16), nullable=False),  # running | succeeded | failed
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Column("n_scored", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("n_failed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
)

# The bulk-written fact table: no foreign-key constraints on PostgreSQL since 0005 (their per-row
# triggers were three quarters of its write time; see the migration). DuckDB files keep them.
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("review_id", sa.BigInteger, primary_key=True),  # reviews.id
    sa.Column("model_version_id", sa.BigInteger, primary_key=True),  # model_versions.id
    sa.Column("scoring_run_id", sa.BigInteger, nullable=False),  # scoring_runs.id
    sa.Column("label", sa.SmallInteger, nullable=False),
    sa.Column("prob_positive", sa.Double, nullable=False),
    sa.Column("n_tokens", sa.Integer, nullable=True),  # before truncation; NULL for non-token models
    sa.Column("truncated", sa.Boolean, nullable=True),
)

prediction_failures = sa.Table(
    "prediction_failures",
    metadata,
    sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id"), primary_key=True),
    sa.Column(
        "model_version_id",
        sa.BigInteger,
        sa.ForeignKey("model_versions.id"),
        primary_key=True,
    ),
    sa.Column("scoring_run_id", sa.BigInteger, sa.ForeignKey("scoring_runs.id"), nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("failed_at", sa.DateTime, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    _id_column("events_id_seq"),
    sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("occurred_at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # release, patch, price, response...
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # manual | import | derived
    sa.Column("details", sa.Text, nullable=True),  # JSON
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("product_id", "kind", "occurred_at", name="uq_events_product_kind_time"),
)

# Added in 0006 (live feedback). One row per changed field of a stored review, written when an
# ingest meets a review id it already holds with other values (asaas.history computes them):
# the current row is updated, the old value kept here. Values are text (asaas.history.encode).
review_history = sa.Table(
    "review_history",
    metadata,
    _id_column("review_history_id_seq"),
    sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id"), nullable=False),
    sa.Column("field", sa.String(64), nullable=False),  # a reviews column: label, text...
    sa.Column("old_value", sa.Text, nullable=True),
    sa.Column("new_value", sa.Text, nullable=True),
    sa.Column("seen_at", sa.DateTime, nullable=False),  # when the ingest saw the change
    sa.Column("ingest_run_id", sa.BigInteger, sa.ForeignKey("ingest_runs.id"), nullable=False),
)
sa.Index("ix_review_history_review", review_history.c.review_id, review_history.c.seen_at)

# Added in 0006. One row per alert and channel (webhook, email): a delivery is sent once; a
# failed one stays 'failed' with its attempts and its last error (secrets masked) and is tried
# again by the next `asaas notify`.
notifications = sa.Table(
    "notifications",
    metadata,
    _id_column("notifications_id_seq"),
    sa.Column("alert_id", sa.String(300), nullable=False),  # KIND:PRODUCT:YYYY-MM-DD
    sa.Column("channel", sa.String(32), nullable=False),  # webhook | email
    sa.Column("status", sa.String(16), nullable=False),  # sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("payload_sha256", sa.String(64), nullable=False),  # what was (to be) sent
    sa.Column("source", sa.String(160), nullable=True),  # labels | MODEL:VERSION
    sa.Column("first_tried_at", sa.DateTime, nullable=False),
    sa.Column("last_tried_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=True),
    sa.UniqueConstraint("alert_id", "channel", name="uq_notifications_alert_channel"),
)

# Added in 0009. Versions that answer several yes/no questions per review (the off-topic
# classifier, asaas.offtopic) write one row per review, version and label here instead of into
# ``predictions``, so no sentiment view can read them as sentiment. Written by the scoring engine
# in the same transaction per chunk (resumable the same way); no foreign keys, as predictions.
label_predictions = sa.Table(
    "label_predictions",
    metadata,
    sa.Column("review_id", sa.BigInteger, primary_key=True),  # reviews.id
    sa.Column("model_version_id", sa.BigInteger, primary_key=True),  # model_versions.id
    sa.Column("label_name", sa.String(32), primary_key=True),  # bomb, about_game, developer...
    sa.Column("scoring_run_id", sa.BigInteger, nullable=False),  # scoring_runs.id
    sa.Column("prob", sa.Double, nullable=False),  # the version's score mapped to (0, 1)
    sa.Column("predicted", sa.SmallInteger, nullable=False),  # 1: the label applies
)

# Added in 0009: complaint topics (asaas.topics). One run per `asaas topics` call: the product,
# where its negatives came from, the period clustered and the embedder used.
topic_runs = sa.Table(
    "topic_runs",
    metadata,
    _id_column("topic_runs_id_seq"),
    sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id"), nullable=False),
    sa.Column("dataset", sa.String(64), nullable=True),
    sa.Column("source", sa.String(160), nullable=False),  # labels | MODEL vN
    sa.Column("model_version_id", sa.BigInteger, nullable=True),  # with a model source
    sa.Column("period_start", sa.DateTime, nullable=True),  # first day clustered (NULL: all)
    sa.Column("period_end", sa.DateTime, nullable=True),  # day after the last one clustered
    sa.Column("alert_id", sa.String(300), nullable=True),  # when run for an alert
    sa.Column("embedder", sa.Text, nullable=False),  # JSON: the embedder's identity
    sa.Column("params", sa.Text, nullable=True),  # JSON: distance threshold, sizes...
    sa.Column("n_reviews", sa.Integer, nullable=False),  # negatives clustered
    sa.Column("n_assigned", sa.Integer, nullable=False, server_default="0"),  # outside the period
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# Topic 0 of a run is "other" (reviews in no topic of at least the minimum size); topics 1..k
# by size. ``centroid``: JSON list of floats (the normalised mean embedding), NULL for other.
topics = sa.Table(
    "topics",
    metadata,
    sa.Column("topic_run_id", sa.BigInteger, sa.ForeignKey("topic_runs.id"), primary_key=True),
    sa.Column("topic_no", sa.Integer, primary_key=True),
    sa.Column("n_reviews", sa.Integer, nullable=False),  # in the run's period
    sa.Column("keywords", sa.Text, nullable=False),  # comma-separated, most telling first
    sa.Column("centroid", sa.Text, nullable=True),
    sa.Column("examples", sa.Text, nullable=True),  # JSON: review ids nearest the centre
)

# Each negative review of the run's product: its topic (0: other), its cosine similarity to
# that topic's centre, and whether it was clustered (in the period) or assigned afterwards.
review_topics = sa.Table(
    "review_topics",
    metadata,
    sa.Column("topic_run_id", sa.BigInteger, sa.ForeignKey("topic_runs.id"), primary_key=True),
    sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id"), primary_key=True),
    sa.Column("topic_no", sa.Integer, nullable=False),
    sa.Column("similarity", sa.Double, nullable=True),
    sa.Column("in_period", sa.Boolean, nullable=False),
)
