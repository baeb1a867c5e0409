"""Ray engine benchmark: `asaas score --engine ray` against the local engine, same model, same
reviews, same machine, same run; prints the Ray engine's rate as a ratio of the local one.

Each engine scores the same ``--limit`` sample into its own registration of the same model
(the stored probabilities are compared too). Two rates per engine:
- end to end: selection, Ray start-up (a new local instance), actor start, model loads, scoring
  and the database writes, over the reviews scored;
- steady: reviews per second over the second half of the reviews, once every model is loaded
  (the overhead Ray adds per review, not its start-up);
and the CPU seconds per review, end to end (this process and, for Ray, every process of its
local instance), which a busy shared machine distorts far less than wall time.

CPU (the dev box): the local engine and one Ray actor with the same torch threads (1, then
every CPU), and Ray with one single-thread actor per CPU; each Ray row's ratio is against the
local row with the same threads (the one-actor-per-CPU row against local on 1 thread):

    python bench/ray_bench.py --model-dir minilm-random --reviews 300 --max-length 256

GPU: local on the GPU vs Ray with one actor per GPU (--gpus-per-worker 1):

    python bench/ray_bench.py --model-dir distilbert-random --device cuda --reviews 25000 \
        --max-length 512
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from asaas.ingest import ingest
from asaas.models.registry import Recipe, register_hf
from asaas.scoring import RayOptions, ScoreOptions, score, score_ray
from asaas.scoring.ray_engine import LOCAL_OBJECT_STORE_BYTES
from asaas.store import open_store

from _models import SHARED, device_name, model_dir_for


def _tree_cpu_seconds() -> float:
    """CPU time of this process and every live descendant, each with its reaped children
    (Linux /proc): a Ray instance started from here (GCS, raylet, workers; finished actors
    are reaped by the raylet) counts whole. Unlike wall time, it hardly moves when other work
    shares the CPUs."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        # After the command: state, ppid, ... utime, stime, cutime, cstime are fields 12-15.
        stats[int(entry.name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / ticks)
    mine, total = {os.getpid()}, 0.0
    for _ in range(16):  # a few generations deep is plenty (driver -> raylet -> workers)
        mine |= {pid for pid, (ppid, _) in stats.items() if ppid in mine}
    for pid in mine:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def run(store, name: str, model_dir: str, args, ray: RayOptions | None,
        threads: int | None) -> dict:
    mv = register_hf(store, name, model_dir, recipe=Recipe(args.max_length, "head"))
    marks: list[tuple[float, int]] = []

    def on_chunk(n: int) -> None:
        marks.append((time.perf_counter(), n))

    options = ScoreOptions(limit=args.reviews, device=args.device if ray is None else "auto",
                           threads=threads, chunk_size=args.batch_size, progress=False)
    cpu0 = _tree_cpu_seconds()
    t0 = time.perf_counter()
    if ray is None:
        report = score(store, mv, options, on_chunk=on_chunk)
        cpu = _tree_cpu_seconds() - cpu0
    else:
        # The local instance score_ray would start, started here so that its processes can
        # be counted before they end; its start-up stays inside the timings.
        import ray as ray_mod

        ray_mod.init(num_cpus=ray.workers * (threads or 1), include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, log_to_driver=False,
                     logging_level=logging.ERROR)
        try:
            report = score_ray(store, mv, options, ray, on_chunk=on_chunk)
            cpu = _tree_cpu_seconds() - cpu0
        finally:
            ray_mod.shutdown()
    seconds = time.perf_counter() - t0
    assert report.scored == args.reviews, report
    # Steady rate: over the second half of the reviews, from the chunk that passed half way to
    # the last one. Results that queued up while the driver was still starting (Ray) arrive in
    # a burst at first, which a rate from the first chunk on would count as speed.
    done, half = 0, None
    for t, n in marks:
        done += n
        if half is None and done >= args.reviews / 2:
            half = (t, done)
    steady = ((args.reviews - half[1]) / (marks[-1][0] - half[0])
              if half and marks[-1][0] > half[0] else float("nan"))
    with store.transaction() as conn:
        probs = dict(conn.exec_driver_sql(
            f"SELECT review_id, prob_positive FROM predictions WHERE model_version_id = {mv.id}"
        ).fetchall())
    return {"seconds": round(seconds, 2), "end_to_end_per_s": round(args.reviews / seconds, 2),
            "cpu_s": round(cpu, 1), "cpu_ms_per_review": round(1000 * cpu / args.reviews, 1),
            "steady_per_s": round(steady, 2), "chunks": len(marks),
            "first_chunk_after_s": round(marks[0][0] - t0, 2) if marks else None,
            "marks": [(round(t - t0, 2), n) for t, n in marks],
            "probs": probs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="minilm-random",
                        help="trained HF classifier folder, or minilm-random / distilbert-random")
    parser.add_argument("--source", default=str(SHARED / "data" / "imdb" / "test.parquet"))
    parser.add_argument("--reviews", type=int, default=300)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=None,
                        help="reviews per step / per actor call, the same for both engines "
                             "[default: 32 on CPU, 1024 on CUDA: enough chunks to time]")
    parser.add_argument("--json", default=None, help="write the figures to this file too")
    args = parser.parse_args()
    args.batch_size = args.batch_size or (1024 if args.device == "cuda" else 32)

    cpus = os.cpu_count() or 1
    if args.device == "cuda":
        import torch

        gpus = torch.cuda.device_count()
        configs = [("local", None, None, None),
                   (f"ray {gpus} GPU actor(s)", RayOptions(workers=gpus, gpus_per_worker=1), None,
                    "local")]
    else:
        # Pairs with the same torch threads isolate what Ray adds; the last row is how the Ray
        # engine is meant to use a CPU machine (one single-thread model copy per CPU).
        configs = [("local", None, 1, None),
                   ("ray 1 actor x 1 thread", RayOptions(workers=1), 1, "local"),
                   (f"local {cpus} threads", None, cpus, None),
                   (f"ray 1 actor x {cpus} threads", RayOptions(workers=1), cpus,
                    f"local {cpus} threads"),
                   (f"ray {cpus} actors x 1 thread", RayOptions(workers=cpus), 1, "local")]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model_dir_for(args.model_dir, Path(tmp))
        store = open_store(str(Path(tmp) / "bench.duckdb"))
        ingest(store, args.source, splits=["test"])
        for i, (label, ray, threads, pair) in enumerate(configs):
            results[label] = run(store, f"m{i}", model_dir, args, ray, threads)
            results[label]["against"] = pair

    base = results["local"]
    ids = sorted(base["probs"])
    print(f"{args.reviews:,} IMDB test reviews at {args.max_length} tokens, model "
          f"{args.model_dir}, {device_name(args.device)}, {cpus} CPUs, batch size "
          f"{args.batch_size}")
    for label, r in results.items():
        diff = max(abs(r["probs"][i] - base["probs"][i]) for i in ids)
        pair = results[r["against"]] if r["against"] else None
        ratios = (f"  Ray/local ({r['against']}): end to end "
                  f"x{r['end_to_end_per_s'] / pair['end_to_end_per_s']:.2f}, steady "
                  f"x{r['steady_per_s'] / pair['steady_per_s']:.2f}, CPU per review "
                  f"x{r['cpu_ms_per_review'] / pair['cpu_ms_per_review']:.2f}") if pair else ""
        print(f"  {label:26s} {r['seconds']:7.1f} s  end to end {r['end_to_end_per_s']:7.1f}/s  "
              f"steady {r['steady_per_s']:7.1f}/s  CPU {r['cpu_ms_per_review']:6.1f} ms/review  "
              f"first chunk after {r['first_chunk_after_s']} s  max |dp| vs local "
              f"{diff:.1e}{ratios}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"device": device_name(args.device), "reviews": args.reviews, "cpus": cpus,
             "results": {k: {kk: vv for kk, vv in v.items() if kk != "probs"}
                         for k, v in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
