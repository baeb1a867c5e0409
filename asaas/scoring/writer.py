"""Writing predictions: one bulk insert per batch of results, counting what really went in.

Keyed by (review, model version) with ``ON CONFLICT DO NOTHING``, so a retried or concurrent
write never duplicates a prediction; the count returned is the rows actually inserted, so two
runs racing over the same reviews report (and record in ``scoring_runs``) only their own rows.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.scoring.options import ScoreOptions, Scored
from asaas.store import Store
from asaas.store.schema import scoring_runs


class PredictionWriter:
    """Writes results for one model version and run; keeps the run's honest totals."""

    def __init__(self, store: Store, model_version_id: int, run_id: int) -> None:
        self.store, self.mv_id, self.run_id = store, model_version_id, run_id
        self.scored = self.failed = self.truncated = 0

    def write(self, conn: sa.Connection, results: list[tuple[list[int], Scored]]) -> int:
        """Insert ``results`` inside the caller's transaction; returns predictions inserted."""
        if any(s.label_scores is not None for _, s in results):
            return self._write_labels(conn, results)
        ids: list[int] = []
        probs: list[float] = []
        labels: list[int] = []
        n_tokens: list[int | None] = []
        truncated: list[bool | None] = []
        failures: list[dict[str, Any]] = []
        now = utcnow()
        for chunk_ids, s in results:
            chunk_labels = s.predicted_labels()
            for pos, review_id in enumerate(chunk_ids):
                if pos in s.errors:
                    failures.append({"review_id": review_id, "model_version_id": self.mv_id,
                                     "scoring_run_id": self.run_id, "error": s.errors[pos],
                                     "failed_at": now})
                    continue
                ids.append(review_id)
                probs.append(float(s.prob_positive[pos]))
                labels.append(int(chunk_labels[pos]))
                n_tokens.append(s.n_tokens[pos])
                truncated.append(s.truncated[pos])
        n = len(ids)
        p = np.asarray(probs, dtype=np.float64)
        table = pa.table({
            "review_id": pa.array(ids, pa.int64()),
            "model_version_id": pa.array(np.full(n, self.mv_id, dtype=np.int64)),
            "scoring_run_id": pa.array(np.full(n, self.run_id, dtype=np.int64)),
            "label": pa.array(np.asarray(labels, dtype=np.int16)),
            "prob_positive": pa.array(p),
            "n_tokens": pa.array(n_tokens, pa.int32()),
            "truncated": pa.array(truncated, pa.bool_()),
        })
        inserted = self.store.insert_arrow(conn, "predictions", table,
                                           on_conflict_do_nothing=True)
        self.truncated += sum(1 for t in truncated if t)
        return self._count(conn, inserted, failures)

    def _count(self, conn: sa.Connection, inserted: int, failures: list[dict[str, Any]]
               ) -> int:
        """Write the chunk's failures and the run's counts, in the chunk's transaction."""
        failed = 0
        if failures:
            failed = self.store.insert_arrow(conn, "prediction_failures",
                                             pa.Table.from_pylist(failures),
                                             on_conflict_do_nothing=True)
        self.scored += inserted
        self.failed += failed
        conn.execute(sa.update(scoring_runs).where(scoring_runs.c.id == self.run_id).values(
            n_scored=self.scored, n_failed=self.failed))
        return inserted

    def _write_labels(self, conn: sa.Connection, results: list[tuple[list[int], Scored]]
                      ) -> int:
        """A multi-label version (asaas.offtopic): one ``label_predictions`` row per review and
        label, all of a review's rows in this one statement, so a review is either done (every
        label) or pending; returns the reviews inserted."""
        ids: list[int] = []
        names: list[str] = []
        probs: list[float] = []
        failures: list[dict[str, Any]] = []
        now = utcnow()
        n_labels = 0
        for chunk_ids, s in results:
            labels = s.label_scores or {}
            n_labels = max(n_labels, len(labels))
            for pos, review_id in enumerate(chunk_ids):
                if pos in s.errors:
                    failures.append({"review_id": review_id, "model_version_id": self.mv_id,
                                     "scoring_run_id": self.run_id, "error": s.errors[pos],
                                     "failed_at": now})
                    continue
                for name, values in labels.items():
                    ids.append(review_id)
                    names.append(name)
                    probs.append(float(values[pos]))
        n = len(ids)
        p = np.asarray(probs, dtype=np.float64)
        table = pa.table({
            "review_id": pa.array(ids, pa.int64()),
            "model_version_id": pa.array(np.full(n, self.mv_id, dtype=np.int64)),
            "label_name": pa.array(names, pa.string()),
            "scoring_run_id": pa.array(np.full(n, self.run_id, dtype=np.int64)),
            "prob": pa.array(p),
            "predicted": pa.array((p >= 0.5).astype(np.int16)),
        })
        rows = self.store.insert_arrow(conn, "label_predictions", table,
                                       on_conflict_do_nothing=True)
        return self._count(conn, rows // n_labels if n_labels else 0, failures)


class BufferedWriter:
    """Buffers results and commits them in short transactions: every ``commit_every_s``
    seconds or ``commit_rows`` rows, whichever comes first (one process per DuckDB file)."""

    def __init__(self, writer: PredictionWriter, options: ScoreOptions) -> None:
        self.writer, self.options = writer, options
        self.buffer: list[tuple[list[int], Scored]] = []
        self.rows = 0
        self.last_commit = time.perf_counter()

    def add(self, ids: list[int], scored: Scored) -> None:
        self.buffer.append((ids, scored))
        self.rows += len(ids)
        if (self.rows >= self.options.commit_rows
                or time.perf_counter() - self.last_commit >= self.options.commit_every_s):
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        with self.writer.store.transaction() as conn:
            self.writer.write(conn, self.buffer)
        self.buffer, self.rows, self.last_commit = [], 0, time.perf_counter()
