"""The local scoring engine: put a model version's predictions for a corpus into SQL, fast and
resumably, in bounded memory.

How a run goes
1. The selection (dataset, splits, the version's languages, ``--limit``) minus the reviews that
   already have a prediction or a recorded failure from this version: that anti-join is what
   makes runs incremental and resumable. Work is handed out in a fixed pseudo-random order
   (content hash), so an interrupted run has scored a fair sample (``selection.py``).
2. Reviews are read a page at a time and worked through in chunks; a helper thread reads and
   tokenises chunk k+1 (the Rust tokenizer releases the GIL) while the model runs chunk k.
   Memory holds a page and two chunks, whatever the corpus size.
3. DuckDB: predictions are committed every few seconds or few thousand rows (``writer.py``), so a
   kill loses seconds of work and never leaves duplicates or gaps. PostgreSQL: each chunk is
   claimed with row locks and written in the same transaction, so several ``asaas score``
   processes on one version split the work, and one killed mid-chunk gives its rows back.
4. A batch that fails is retried one review at a time; a review that fails on its own is recorded
   in ``prediction_failures`` with the reason, and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from asaas.models.registry import ModelVersion, check_signature
from asaas.scoring import selection as sel_mod
from asaas.scoring.options import DEFAULT_CHUNK, PAGE_ROWS, ScoreOptions, ScoreReport, ScoreRun
from asaas.scoring.runs import plan_run, recorded
from asaas.scoring.scorers import Scorer, check_device, load_scorer
from asaas.scoring.writer import BufferedWriter, PredictionWriter
from asaas.store import Store
from asaas.store.store import database_errors


@dataclass
class Work:
    """One chunk: review ids, the scorer's prepared input, and (PostgreSQL) the open
    transaction holding the chunk's row locks."""

    ids: list[int]
    prepared: Any
    conn: sa.Connection | None = None
    trans: Any = None


class PagedSource:
    """Chunks sliced from keyset pages (DuckDB and other single-writer stores)."""

    def __init__(self, store: Store, sel: sel_mod.Selection, scorer: Scorer, step: int) -> None:
        self.scorer, self.step = scorer, step
        self.pages = sel_mod.iter_pages(store, sel, max(PAGE_ROWS, step))
        self.buffer = sel_mod.Page([], [], [])

    def next(self, most: int) -> Work | None:
        step = min(self.step, most)
        ids, texts, languages = self.buffer
        while len(ids) < step:
            page = next(self.pages, None)
            if page is None:
                break
            ids, texts, languages = ids + page.ids, texts + page.texts, languages + page.languages
        if not ids or step < 1:
            return None
        self.buffer = sel_mod.Page(ids[step:], texts[step:], languages[step:])
        return Work(ids[:step], self.scorer.prepare(texts[:step], languages[:step]))

    def close(self) -> None:
        pass


class ClaimSource:
    """Chunks claimed with ``FOR NO KEY UPDATE SKIP LOCKED`` (PostgreSQL).

    Each claim continues after the last row this process claimed (so claims stay cheap however
    much is done); at the end one more pass from the start picks up rows a killed process gave
    back. Rows other live processes hold are skipped: they are theirs.
    """

    def __init__(self, store: Store, sel: sel_mod.Selection, scorer: Scorer, step: int) -> None:
        self.store, self.sel, self.scorer, self.step = store, sel, scorer, step
        self.after: tuple[str, int] | None = None
        self.swept = False
        self.open: list[Work] = []

    def next(self, most: int) -> Work | None:
        if most < 1:
            return None
        while True:
            # Through the store: its retry while busy and its one-line errors.
            conn, trans = self.store.begin()
            try:
                with database_errors():
                    rows = sel_mod.claim_chunk(conn, self.sel, min(self.step, most), self.after)
            except BaseException:
                trans.rollback()
                conn.close()
                raise
            if rows:
                self.after = (rows[-1][2], rows[-1][0])
                work = Work([r[0] for r in rows],
                            self.scorer.prepare([r[1] for r in rows], [r[3] for r in rows]),
                            conn, trans)
                self.open.append(work)
                return work
            trans.rollback()
            conn.close()
            if self.swept or self.after is None:
                return None
            self.after, self.swept = None, True  # one pass from the start for leftovers

    def release(self, work: Work) -> None:
        if work in self.open:
            self.open.remove(work)
        if work.conn is not None:
            work.conn.close()

    def close(self) -> None:
        for work in list(self.open):  # claimed but not written: roll back, rows go back
            try:
                work.trans.rollback()
            finally:
                self.release(work)


class ClaimSink:
    """Writes each claimed chunk in the transaction that holds its locks, then commits."""

    def __init__(self, writer: PredictionWriter, source: ClaimSource) -> None:
        self.writer, self.source = writer, source

    def add(self, work: Work, scored: Any) -> None:
        try:
            with database_errors():
                self.writer.write(work.conn, [(work.ids, scored)])
                work.trans.commit()
        except BaseException:
            work.trans.rollback()
            raise
        finally:
            self.source.release(work)

    def flush(self) -> None:
        pass  # every chunk is committed as it is written


class BufferSink:
    """Buffers results and commits them in short transactions (see BufferedWriter)."""

    def __init__(self, writer: PredictionWriter, options: ScoreOptions) -> None:
        self.buffered = BufferedWriter(writer, options)

    def add(self, work: Work, scored: Any) -> None:
        self.buffered.add(work.ids, scored)

    def flush(self) -> None:
        self.buffered.flush()


def with_home(store: Store, options: ScoreOptions) -> ScoreOptions:
    """``options`` with the database's ASAAS_HOME (scorers keep their embedding cache there)."""
    if options.home is not None:
        return options
    from dataclasses import replace

    from asaas.settings import Settings

    return replace(options, home=str(Settings().model_home(store.url)))


def _prefetched(pool: ThreadPoolExecutor, source: PagedSource | ClaimSource,
                budget: Callable[[], int]) -> Iterator[Work]:
    """Works from ``source`` while ``budget()`` reviews remain, the next one read and prepared
    on the helper thread meanwhile."""
    upcoming = pool.submit(source.next, budget())
    while True:
        work = upcoming.result()
        if work is None:
            return
        left = budget() - len(work.ids)
        upcoming = pool.submit(source.next, left) if left > 0 else None
        yield work
        if upcoming is None:
            return


def score(
    store: Store,
    mv: ModelVersion,
    options: ScoreOptions | None = None,
    *,
    job_run_id: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> ScoreReport:
    """Score every selected review that ``mv`` has not scored yet; see the module docstring."""
    with store.streaming():
        return _score(store, mv, options, job_run_id=job_run_id, on_chunk=on_chunk)


def run_score(store: Store, mv: ModelVersion, run: ScoreRun, *,
              job_run_id: int | None = None) -> ScoreReport:
    """Score with the engine ``run`` names (``asaas score`` and a job's score step)."""
    if run.engine == "ray":  # the same predictions, in Ray actors
        if sel_mod.output_table(mv) != "predictions":
            from asaas.errors import ConfigError

            raise ConfigError(f"{mv.label} answers several labels per review, which only the "
                              "local engine writes: drop --engine ray")
        from asaas.scoring.ray_engine import score_ray

        return score_ray(store, mv, run.options, run.ray, job_run_id=job_run_id)
    return score(store, mv, run.options, job_run_id=job_run_id)


# The scoring loop stays in one piece, as measured: the helper thread reads and prepares chunk
# k+1 while the model runs chunk k, and a claimed chunk's transaction is handed from the one to
# the other; split up, the hand-over and its clean-up on failure would be harder to follow.
def _score(store: Store, mv: ModelVersion, options: ScoreOptions | None, *,
           job_run_id: int | None, on_chunk: Callable[[int], None] | None) -> ScoreReport:
    options = with_home(store, options or ScoreOptions())
    options.check()
    mv = check_signature(store, mv)  # the row is the key holder's, before any file is read
    check_device(mv, options.device)  # refused even when nothing is pending
    plan = plan_run(store, mv, options)
    if not plan.pending:
        return plan.empty_report()

    scorer = load_scorer(mv, options)
    t0 = time.perf_counter()
    step = options.chunk_size or DEFAULT_CHUNK["cuda" if scorer.device.startswith("cuda")
                                               else "cpu"]
    claims = store.dialect == "postgresql"
    run = plan.start(device=scorer.device, job_run_id=job_run_id, t0=t0, settings=plan.settings(
        "local", chunk_size=step, threads=options.threads, claims=claims,
        batch_tokens=getattr(scorer, "batch_tokens", None)))
    source: PagedSource | ClaimSource = (ClaimSource if claims else PagedSource)(
        store, plan.selection, scorer, step)
    sink = ClaimSink(run.writer, source) if isinstance(source, ClaimSource) else \
        BufferSink(run.writer, options)
    if hasattr(scorer, "on_batch"):  # progress lines on time inside a chunk (asaas.progress)
        scorer.on_batch = run.progress.working
    budget = plan.pending
    with recorded(store, run.run_id, run.progress, sink.flush):
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="asaas-prepare") as pool:
            try:
                for work in _prefetched(pool, source, lambda: budget):
                    scored = scorer.run(work.prepared)
                    budget -= len(work.ids)
                    sink.add(work, scored)
                    run.progress.update(len(work.ids))
                    if on_chunk:
                        on_chunk(len(work.ids))
            finally:
                pool.shutdown(wait=True)  # the helper may still hold a claim: wait, then close
                source.close()
    return run.finish()
