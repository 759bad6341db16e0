"""How `make grade` scales on Dask: notebooks per second against the number of local workers, and the
coordinator's own cost per notebook, with a projection to a 5,000-learner class.

For each worker count of --workers (default 1 and 2), a class of --learners learners (the demo
class's ada and ben answers, alternating) × every assignment is graded by `python -m
mhsa_ref.grading.run --workers W` in a new process (a LocalCluster in that process, W sandboxed
workers). Printed per run: the wall time, notebooks per second, the worker seconds per notebook
(cells, recording, judging), each worker's start, and the coordinator's seconds per notebook
(gradebook, feedback, export). Dask's own cost per task is measured on a LocalCluster with tasks that
do nothing. The projection: how many sandboxed workers (cores) grade 5,000 learners × 9 notebooks
within an hour, and at what rate the coordinator alone would become the limit. Usage:

    python benchmarks/bench_scale.py [--learners 4] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import datetime
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_attention import machine  # noqa: E402
from bench_grade import PHASE_LINE, course, env, scores  # noqa: E402

CLASS = 5_000 * 9  # a MOOC: 5,000 learners, 9 notebooks each
HOUR = 3600.0


def grade(root: Path, workers: int) -> tuple[float, dict]:
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mhsa_ref.grading.run", "--course", str(root), "--quiet",
                             "--workers", str(workers)], cwd=ROOT, env=env(), check=True, capture_output=True, text=True)
    wall = time.monotonic() - start
    found = PHASE_LINE.search(result.stdout.splitlines()[-1])
    phases = {name.strip(): float(value) for name, value in
              (part.rsplit(" ", 2)[:2] for part in found.group(1).split(", "))} if found else {}
    return wall, phases


def dask_task_cost(tasks: int = 2000) -> float:
    """Seconds per task of Dask itself (submit, schedule, run nothing, gather) on a LocalCluster in this process."""
    import logging

    from distributed import Client, LocalCluster, wait

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        wait([client.submit(int, i, pure=False) for i in range(50)])  # warm
        start = time.monotonic()
        futures = [client.submit(int, i, pure=False) for i in range(tasks)]
        client.gather(futures)
        return (time.monotonic() - start) / tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=4)
    parser.add_argument("--workers", default="1,2", help="local worker counts, comma-separated")
    parser.add_argument("--assignments", default=",".join(sorted(p.name for p in (ROOT / "solutions").iterdir()
                                                                 if p.is_dir() and p.name[:2].isdigit())))
    args = parser.parse_args(argv)
    assignments = args.assignments.split(",")
    n = args.learners * len(assignments)
    print(f"{datetime.date.today()} · {machine()}")
    print(f"A class of {args.learners} learners × {len(assignments)} assignments = {n} notebooks, graded by "
          f"`python -m mhsa_ref.grading.run --workers W` (a LocalCluster):")
    print()
    print("| workers | wall s | notebooks / s | speed-up vs 1 | worker s / notebook | worker start s | "
          "coordinator s / notebook | scores agree |")
    print("|---|---|---|---|---|---|---|---|")
    rows, want = {}, None
    for workers in map(int, args.workers.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            root = Path(tmp) / "class"
            course(root, assignments, args.learners, stock=False)
            wall, phases = grade(root, workers)
            got = scores(root)
        want = want or got
        per_notebook = sum(phases.get(p, 0.0) for p in ("cells", "recording", "judging")) / n
        start = phases.get("worker start", 0.0) / workers
        coordinator = sum(phases.get(p, 0.0) for p in ("gradebook", "feedback", "export")) / n
        rows[workers] = (wall, per_notebook, start, coordinator)
        base = rows[min(rows)][0]
        print(f"| {workers} | {wall:.1f} | {n / wall:.2f} | {base / wall:.2f}× | {per_notebook:.3f} | {start:.1f} | "
              f"{coordinator * 1000:.1f} ms | {got == want and len(got) == n} |")
    task = dask_task_cost()
    per_notebook = max(r[1] for r in rows.values())
    coordinator = max(r[3] for r in rows.values())
    start = max(r[2] for r in rows.values())
    needed = math.ceil(CLASS * per_notebook / (HOUR - start))
    limit = 1.0 / (coordinator + task)
    print()
    print(f"Dask's own cost per task (LocalCluster, empty tasks): {task * 1000:.2f} ms")
    print()
    print(f"Projection for 5,000 learners × 9 notebooks = {CLASS:,} notebooks within an hour:")
    print(f"- one sandboxed worker grades a notebook in {per_notebook:.3f} s of its core (measured above), so "
          f"{CLASS:,} notebooks need {CLASS * per_notebook / HOUR:.1f} worker-hours: **{needed} workers** (cores) "
          f"grade them within the hour, e.g. {math.ceil(needed / 16)} machines of 16 cores")
    print(f"- the coordinator spends {coordinator * 1000:.1f} ms per notebook (gradebook, feedback, export) and Dask "
          f"{task * 1000:.2f} ms per task: it keeps up with at most {limit:.0f} notebooks / s "
          f"({limit * HOUR:,.0f} per hour), the rate of about {math.floor(limit * per_notebook)} workers; "
          f"beyond that the coordinator, not the workers, is the limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
