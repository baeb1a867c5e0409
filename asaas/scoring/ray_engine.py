"""The Ray engine: the local engine's scorer in Ray Data actors, its selection, writer and
bookkeeping on the driver.

How a run goes
1. On the driver (this process), as in the local engine: the selection minus the reviews the
   version already scored or failed, counted; the run recorded in ``scoring_runs`` with
   ``{"engine": "ray", ...}``. Nothing starts Ray when nothing is pending.
2. A feeder thread on the driver reads the pending reviews in keyset pages
   (``selection.iter_pages``: bounded memory, content-hash order), cuts them into shards of
   ``--batch-size`` reviews and puts each into Ray's object store behind a small bounded queue.
   Only the driver opens the database, so a DuckDB file works as well as PostgreSQL.
3. One streaming Ray Data pipeline serves the whole run: ``from_items(shard numbers)`` -> a
   zero-CPU fetch task that takes the next shard off the queue -> ``map_batches`` over a fixed
   actor pool (``ActorPoolStrategy(size=workers)``) whose actors each load ONE scorer
   (``scorers.load_scorer``, the local engine's) and keep it for the run -> ``iter_batches``
   back on the driver. Why not one ``from_arrow`` Dataset per shard: each Dataset execution
   starts its own actor pool, so every shard would pay for actor start-up and a model load
   (about 10 s each on the dev box). Why not one ``from_arrow`` of every pending review: the
   whole corpus would sit in the object store at once.
4. Predictions go through the same ``PredictionWriter`` / ``BufferedWriter``, committed every few
   seconds: a killed driver loses at most those seconds (its actors die with it), and the next
   run's anti-join scores exactly the rest; ``ON CONFLICT DO NOTHING`` makes any overlap
   harmless.

Model artifacts are local paths. On one machine the actors load them in place; on a cluster of
several nodes the driver ships the artifact folder through the object store once and each node
unpacks it into its temp directory (``ship_artifact``), so no shared storage is needed. A Hub id
(``models register --hf NAME`` without a local folder) is resolved by each node itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from asaas import errors as errors_mod
from asaas.errors import AsaasError, ConfigError
from asaas.models.registry import ModelVersion, check_signature
from asaas.scoring import selection as sel_mod
from asaas.scoring.options import (DEFAULT_CHUNK, PAGE_ROWS, RayOptions, ScoreOptions,
                                   ScoreReport, Scored, effective_recipe)
from asaas.scoring.runs import Run, RunPlan, plan_run, recorded
from asaas.scoring.scorers import load_scorer, scorer_kind
from asaas.scoring.writer import BufferedWriter
from asaas.store import Store

log = logging.getLogger(__name__)

RAY_MISSING = 'the Ray engine needs Ray: pip install "asaas[ray]" (or "ray[data]")'
#: A local instance's object store: shards are a few MB at most, and Ray spills to disk beyond
#: this, so a small store keeps Ray's footprint modest on a shared machine.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024
#: How long --address gets to answer a TCP connect before the run is refused (ray.init itself
#: waits for an unreachable cluster without end).
CONNECT_TIMEOUT_S = 5.0

_SHARD_SCHEMA = pa.schema([("review_id", pa.int64()), ("text", pa.string()),
                           ("language", pa.string())])
_RESULT_SCHEMA = pa.schema([
    ("review_id", pa.int64()), ("prob_positive", pa.float64()), ("label", pa.int16()),
    ("n_tokens", pa.int32()), ("truncated", pa.bool_()), ("error", pa.string()),
    ("fatal", pa.string()),
])


@dataclass
class RayScoreReport(ScoreReport):
    workers: int = 0
    startup_s: float = 0.0  # from connecting to Ray to the first prediction back on the driver


# -- connecting to Ray -------------------------------------------------------------------------


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the part the engine needs
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast on an address nobody answers at (``ray.init`` would wait forever)."""
    if address in ("auto", "local"):
        return  # Ray finds (or refuses) the cluster on this machine itself, at once
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start "
                          "one there with `ray start --head`, or fix --address") from None


def _quiet_ray_data() -> None:
    """Ray Data's console at warnings (its INFO lines would interleave with asaas' progress)."""
    from ray.util.debug import log_once

    for handler in logging.getLogger("ray.data").handlers:
        if handler.name == "console":
            handler.setLevel(logging.WARNING)
    # asaas shows its own progress; this marks Ray's "progress bars disabled" notice as shown.
    log_once("ray_data_progress_manager_disabled")


@contextlib.contextmanager
def ray_connection(ray_options: RayOptions, local_cpus: int) -> Iterator[Any]:
    """Ray, connected: to --address (or RAY_ADDRESS), else to a new local instance of
    ``local_cpus`` CPUs that is shut down afterwards. A process already connected (a notebook,
    a test, a job that set up its own runtime environment) keeps its connection."""
    ray = _import_ray()
    if ray.is_initialized():
        current = ray.get_runtime_context().gcs_address
        if ray_options.address not in (None, "auto", current):
            raise ConfigError(f"this process is already connected to the Ray cluster at "
                              f"{current}; drop --address or give that one")
        _quiet_ray_data()
        yield ray
        return
    address = ray_options.address or os.environ.get("RAY_ADDRESS") or None
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address:
            _check_reachable(address)
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=local_cpus, include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
    except ConfigError:
        raise
    except ValueError as exc:  # e.g. ray:// without the Ray Client package
        raise ConfigError(f"cannot connect to Ray at {address}: {exc}".splitlines()[0]) from None
    except (ConnectionError, RuntimeError) as exc:
        raise ConfigError(f"cannot connect to Ray at {address or 'a new local instance'}: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; "
                          "check --address (or RAY_ADDRESS)") from None
    try:
        _quiet_ray_data()
        yield ray
    finally:
        ray.shutdown()


def _plan_workers(ray: Any, ray_options: RayOptions, cpus_per_worker: int) -> int:
    """The actor pool's size, refused now if the cluster cannot hold it (Ray Data would wait
    for resources that never come)."""
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    g = ray_options.gpus_per_worker
    if g > 0 and gpus < g:
        raise ConfigError(f"--gpus-per-worker {g:g}: the Ray cluster has {gpus:g} GPUs; drop "
                          "the option to score on CPUs, or use --address with a GPU cluster")
    workers = ray_options.workers
    if workers is None:
        workers = int(gpus // g) if g > 0 else max(1, int(cpus // cpus_per_worker))
    if g > 0 and workers * g > gpus + 1e-9:
        raise ConfigError(f"--workers {workers} x --gpus-per-worker {g:g} needs {workers * g:g} "
                          f"GPUs; the Ray cluster has {gpus:g}: lower --workers")
    if workers * cpus_per_worker > cpus:
        raise ConfigError(f"--workers {workers} x {cpus_per_worker} CPU each needs "
                          f"{workers * cpus_per_worker} CPUs; the Ray cluster has {cpus:g}: "
                          "lower --workers (or --threads)")
    return workers


# -- shipping the artifact to other nodes -------------------------------------------------------


def pack_artifact(artifact_uri: str) -> dict[str, Any] | None:
    """The artifact's files as bytes, for nodes that cannot see this machine's disk; None for
    a Hub id (each node resolves it itself)."""
    from asaas.models.checksums import artifact_files

    path = Path(artifact_uri).expanduser()
    if not path.exists():
        return None
    # The files the version's checksums cover; each actor's load_scorer checks them again
    # after unpacking, so a copy damaged on the way is refused like a swapped one.
    files = {rel: f.read_bytes() for rel, f in artifact_files(path).items()}
    name = path.name if path.is_file() else ""
    digest = hashlib.sha256()
    for rel, data in files.items():
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return {"files": files, "name": name, "digest": digest.hexdigest()}


def unpack_artifact(payload: dict[str, Any]) -> str:
    """Write a packed artifact under this node's temp directory (once per node: actors on the
    same node share it) and return the path to load."""
    root = Path(tempfile.gettempdir()) / "asaas-ray-artifacts"
    target = root / payload["digest"][:32]
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=_mkdir(root)))
        for rel, data in payload["files"].items():
            out = (staging / rel).resolve()
            if staging.resolve() not in out.parents:
                raise AsaasError(f"artifact file {rel!r} points outside the artifact; refused")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        try:
            staging.rename(target)  # atomic: a concurrent actor either wins or finds it there
        except OSError:
            if not target.is_dir():
                raise
    return str(target / payload["name"]) if payload["name"] else str(target)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the actors and the shard feed -------------------------------------------------------------


def _fetch_shards(batch: pa.Table, queue: Any) -> pa.Table:
    """One Ray Data task per shard number: the next shard the driver's feeder queued."""
    import ray

    tables = []
    for _ in range(batch.num_rows):
        item = queue.get()  # blocks until the feeder has read it; None: nothing more
        if item is not None:
            tables.append(ray.get(item[0]))
    return pa.concat_tables(tables) if tables else _SHARD_SCHEMA.empty_table()


class ScoreActor:
    """One Ray actor: one scorer for the whole run, an Arrow batch of reviews in, an Arrow batch
    of probabilities out.

    A model that cannot be loaded is an error the user can fix (a missing artifact, a GPU-less
    node): it comes back in the ``fatal`` column instead of killing the actor, so the driver
    stops with that one-line message rather than Ray retrying the actor without end.

    Two calls may run at once (``ACTOR_CALLS``): one tokenises its batch while the other runs
    the model, as the local engine's helper thread does; the locks keep it to one of each (the
    Rust tokenizer releases the GIL, but one tokenizer must not serve two threads at once).
    """

    def __init__(self, mv: ModelVersion, options: ScoreOptions,
                 packed: list[Any] | None = None) -> None:
        self.fatal: str | None = None
        self.preparing, self.running = threading.Lock(), threading.Lock()
        try:
            if packed is not None:
                import ray

                mv = replace(mv, artifact_uri=unpack_artifact(ray.get(packed[0])))
            self.scorer = load_scorer(mv, options)
        except AsaasError as exc:
            self.fatal = f"{type(exc).__name__}\t{socket.gethostname()}: {exc}"

    def __call__(self, batch: pa.Table) -> pa.Table:
        ids = batch.column("review_id")
        n = len(ids)
        if self.fatal is not None:
            return pa.table({"review_id": ids, "prob_positive": pa.nulls(n, pa.float64()),
                             "label": pa.nulls(n, pa.int16()),
                             "n_tokens": pa.nulls(n, pa.int32()),
                             "truncated": pa.nulls(n, pa.bool_()),
                             "error": pa.nulls(n, pa.string()),
                             "fatal": pa.array([self.fatal] * n, pa.string())},
                            schema=_RESULT_SCHEMA)
        texts = batch.column("text").to_pylist()
        languages = batch.column("language").to_pylist()
        with self.preparing:
            prepared = self.scorer.prepare(texts, languages)
        with self.running:
            scored = self.scorer.run(prepared)
        return pa.table({
            "review_id": ids,
            "prob_positive": pa.array(np.asarray(scored.prob_positive, dtype=np.float64)),
            "label": pa.array(scored.predicted_labels(), pa.int16()),
            "n_tokens": pa.array(scored.n_tokens, pa.int32()),
            "truncated": pa.array(scored.truncated, pa.bool_()),
            "error": pa.array([scored.errors.get(i) for i in range(n)], pa.string()),
            "fatal": pa.nulls(n, pa.string()),
        }, schema=_RESULT_SCHEMA)


def _unbatch(table: pa.Table) -> tuple[list[int], Scored]:
    """A result batch from the actors as the writer takes it (the local engine's ``Scored``)."""
    fatal = table.column("fatal")
    if fatal.null_count < len(fatal):
        kind, _, message = next(v for v in fatal.to_pylist() if v is not None).partition("\t")
        cls = getattr(errors_mod, kind, AsaasError)
        raise (cls if isinstance(cls, type) and issubclass(cls, AsaasError) else AsaasError)(
            message)
    errors = {i: e for i, e in enumerate(table.column("error").to_pylist()) if e is not None}
    scored = Scored(table.column("prob_positive").to_numpy(zero_copy_only=False),
                    table.column("n_tokens").to_pylist(), table.column("truncated").to_pylist(),
                    errors, labels=table.column("label").fill_null(0).to_numpy(
                        zero_copy_only=False))
    return table.column("review_id").to_pylist(), scored


class ShardFeeder:
    """Reads pending reviews in pages on a thread and queues them for Ray, one shard at a time.

    Exactly ``shards`` items are queued (``None`` after the last real shard), one per fetch
    task, so the pipeline ends even when fewer reviews turn up than were counted (a concurrent
    run took some) or the reading failed (its error is re-raised on the driver).
    """

    def __init__(self, ray: Any, store: Store, sel: sel_mod.Selection, shard_rows: int,
                 budget: int, shards: int, depth: int) -> None:
        from ray.util.queue import Queue

        self.ray, self.store, self.sel = ray, store, sel
        self.shard_rows, self.budget, self.shards = shard_rows, budget, shards
        self.queue = Queue(maxsize=depth, actor_options={"num_cpus": 0})
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.fed = 0  # reviews queued
        self.thread = threading.Thread(target=self._run, name="asaas-ray-feeder", daemon=True)

    def start(self) -> ShardFeeder:
        self.thread.start()
        return self

    def _put(self, item: Any) -> bool:
        from ray.util.queue import Full

        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=1.0)
                return True
            except Full:
                continue
        return False

    def _shards(self) -> Iterator[pa.Table]:
        ids: list[int] = []
        texts: list[str] = []
        languages: list[str | None] = []
        left = self.budget

        def shard(n: int) -> pa.Table:
            return pa.table({"review_id": pa.array(ids[:n], pa.int64()),
                             "text": pa.array(texts[:n], pa.string()),
                             "language": pa.array(languages[:n], pa.string())},
                            schema=_SHARD_SCHEMA)

        for page in sel_mod.iter_pages(self.store, self.sel, max(PAGE_ROWS, self.shard_rows)):
            ids += page.ids[:left]
            texts += page.texts[:left]
            languages += page.languages[:left]
            left -= min(left, len(page.ids))
            while len(ids) >= self.shard_rows or (ids and left == 0):
                n = min(self.shard_rows, len(ids))
                yield shard(n)
                ids, texts, languages = ids[n:], texts[n:], languages[n:]
            if left == 0:
                return
        if ids:
            yield shard(len(ids))

    def _run(self) -> None:
        sent = 0
        try:
            for shard in self._shards():
                if sent >= self.shards or not self._put([self.ray.put(shard)]):
                    return
                sent += 1
                self.fed += shard.num_rows
        except BaseException as exc:  # noqa: BLE001 - re-raised on the driver's thread
            self.error = exc
        finally:
            while sent < self.shards and self._put(None):
                sent += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


# -- the engine --------------------------------------------------------------------------------


@contextlib.contextmanager
def _data_context(ray: Any) -> Iterator[None]:
    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars
    ctx.enable_progress_bars = False  # asaas' own progress counts stored predictions
    try:
        yield
    finally:
        ctx.enable_progress_bars = saved


#: Calls one actor runs at once: one tokenising while the other runs the model.
ACTOR_CALLS = 2


def _actor_pool(ray: Any, workers: int) -> Any:
    """A fixed pool of ``workers`` actors, each taking ACTOR_CALLS calls at once where this Ray
    version can; an older one runs one call at a time, tokenising and the model in turn."""
    try:
        return ray.data.ActorPoolStrategy(size=workers, max_concurrent_calls_per_actor=ACTOR_CALLS,
                                          max_tasks_in_flight_per_actor=ACTOR_CALLS,
                                          enable_true_multi_threading=True)
    except TypeError:
        return ray.data.ActorPoolStrategy(size=workers)


def _ray_error(exc: BaseException) -> AsaasError:
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return AsaasError(f"the Ray run failed ({type(exc).__name__}: {first[:300]}); what was "
                      "scored is stored, so running the same command again resumes; Ray's logs "
                      "(/tmp/ray/session_latest/logs on the head node) say more")


def score_ray(
    store: Store,
    mv: ModelVersion,
    options: ScoreOptions | None = None,
    ray_options: RayOptions | None = None,
    *,
    job_run_id: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> RayScoreReport:
    """Score every selected review that ``mv`` has not scored yet, in Ray actors; see the
    module docstring."""
    with store.streaming():  # the driver reads and writes the store as the local engine does
        return _score_ray(store, mv, options, ray_options, job_run_id=job_run_id,
                          on_chunk=on_chunk)


def _score_ray(store: Store, mv: ModelVersion, options: ScoreOptions | None,
               ray_options: RayOptions | None, *, job_run_id: int | None,
               on_chunk: Callable[[int], None] | None) -> RayScoreReport:
    from asaas.scoring.engine import with_home

    options = with_home(store, options or ScoreOptions())
    ray_options = ray_options or RayOptions()
    options.check()
    ray_options.check()
    mv = check_signature(store, mv)  # on the driver: the actors get this checked copy
    effective_recipe(mv, options)  # a different recipe is refused before Ray starts
    device = _actor_device(mv, options, ray_options)
    threads = options.threads or 1
    plan = plan_run(store, mv, options)
    if not plan.pending:
        return plan.empty_report(RayScoreReport)

    step = options.chunk_size or DEFAULT_CHUNK[device]
    local_cpus = threads * (ray_options.workers or max(1, (os.cpu_count() or 1) // threads))
    t0 = time.perf_counter()
    with ray_connection(ray_options, local_cpus) as ray:
        shape = _Shape.plan(ray, ray_options, plan.pending, step, threads)
        packed = pack_artifact(mv.artifact_uri) if shape.ship else None
        run = plan.start(
            device=device, job_run_id=job_run_id, t0=t0,
            label=f" (Ray, {shape.workers} workers)", settings=plan.settings(
                "ray", chunk_size=shape.shard_rows, threads=threads,
                batch_tokens=options.batch_tokens, workers=shape.workers,
                gpus_per_worker=ray_options.gpus_per_worker, cpus_per_worker=threads,
                address=ray_options.address, nodes=shape.nodes, ray_version=ray.__version__,
                artifact_shipped=packed is not None))
        actors = _Actors(mv, replace(options, device=device, threads=threads, progress=False),
                         [ray.put(packed)] if packed is not None else None, threads,
                         ray_options.gpus_per_worker)
        fed, received, startup_s = _stream(ray, store, plan, run, shape, actors, on_chunk)
    # Shards a retried fetch task lost (rare) are simply still pending: say so, not hide it.
    return run.finish(RayScoreReport, lost=max(0, fed - received), workers=shape.workers,
                      startup_s=startup_s)


def _actor_device(mv: ModelVersion, options: ScoreOptions, ray_options: RayOptions) -> str:
    """Where the actors score: CUDA when each reserves GPUs, else CPU (refused if the
    options ask for something else)."""
    g = ray_options.gpus_per_worker
    if g > 0 and not scorer_kind(mv).gpu:
        raise ConfigError(f"{mv.label} is a {mv.kind} model and runs on CPU; drop "
                          "--gpus-per-worker")
    if options.device == "cuda" and g == 0:
        raise ConfigError("with --engine ray, GPUs are asked for with --gpus-per-worker G (Ray "
                          "gives each actor its own); drop --device")
    if options.device == "cpu" and g > 0:
        raise ConfigError("--device cpu and --gpus-per-worker contradict each other; drop one")
    return "cuda" if g > 0 else "cpu"


@dataclass
class _Shape:
    """How a run is cut up: actors, shards and their size, and the cluster's nodes."""

    workers: int
    shard_rows: int
    shards: int
    nodes: int
    ship: bool  # send the artifact's files through the object store

    @classmethod
    def plan(cls, ray: Any, ray_options: RayOptions, pending: int, step: int,
             threads: int) -> _Shape:
        workers = _plan_workers(ray, ray_options, threads)
        # A small run is cut so that every actor gets a shard; no more actors than shards.
        shard_rows = max(1, min(step, math.ceil(pending / workers)))
        shards = math.ceil(pending / shard_rows)
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        ship = ray_options.ship_artifact if ray_options.ship_artifact is not None else nodes > 1
        return cls(min(workers, shards), shard_rows, shards, nodes, ship)


@dataclass
class _Actors:
    """What each ScoreActor is built with, and what it reserves."""

    mv: ModelVersion
    options: ScoreOptions
    packed: list[Any] | None
    cpus: int
    gpus: float


def _stream(ray: Any, store: Store, plan: RunPlan, run: Run, shape: _Shape, actors: _Actors,
            on_chunk: Callable[[int], None] | None) -> tuple[int, int, float]:
    """Run the pipeline and write what comes back; returns (reviews fed, reviews received,
    seconds until the first results came back)."""
    buffered = BufferedWriter(run.writer, plan.options)
    feeder: ShardFeeder | None = None
    received, startup_s = 0, 0.0
    with recorded(store, run.run_id, run.progress, buffered.flush):
        try:
            with _data_context(ray):
                # A couple of shards per actor in flight keeps every actor busy while the
                # driver reads the next page; more would only hold memory.
                feeder = ShardFeeder(ray, store, plan.selection, shape.shard_rows, plan.pending,
                                     shape.shards, depth=max(2, 2 * shape.workers)).start()
                try:
                    for table in _pipeline(ray, feeder, shape, actors).iter_batches(
                            batch_format="pyarrow", batch_size=None):
                        if not table.num_rows:
                            continue
                        ids, scored = _unbatch(table)
                        if not received:
                            startup_s = time.perf_counter() - run.t0
                        buffered.add(ids, scored)
                        received += len(ids)
                        run.progress.update(len(ids))
                        if on_chunk:
                            on_chunk(len(ids))
                except ray.exceptions.RayError as exc:
                    raise _ray_error(exc) from None
            if feeder.error is not None:
                raise feeder.error
        finally:
            if feeder is not None:
                feeder.close()
    return feeder.fed, received, startup_s


def _pipeline(ray: Any, feeder: ShardFeeder, shape: _Shape, actors: _Actors) -> Any:
    """One streaming Ray Data pipeline for the whole run: shard numbers -> the next queued
    shard (a zero-CPU task) -> the actor pool."""
    ds = ray.data.from_items([{"shard": i} for i in range(shape.shards)],
                             override_num_blocks=shape.shards)
    ds = ds.map_batches(_fetch_shards, fn_kwargs={"queue": feeder.queue}, batch_size=1,
                        batch_format="pyarrow", num_cpus=0,
                        compute=ray.data.TaskPoolStrategy(size=1))
    return ds.map_batches(
        ScoreActor, fn_constructor_args=(actors.mv, actors.options, actors.packed),
        batch_size=shape.shard_rows, batch_format="pyarrow", num_cpus=actors.cpus,
        num_gpus=actors.gpus or None, compute=_actor_pool(ray, shape.workers))
