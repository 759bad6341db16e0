"""How `make grade` scales on Dask: notebooks per second against the number of local workers, and the
coordinator's own cost per notebook, with a projection to a 5,000-learner class.

For each worker count of --workers (default 1 and 2), two classes (--learners learners and twice as
many; the demo class's ada and ben answers, alternating, × every assignment) are graded by `python -m
grader.run --workers W` in a new process (a LocalCluster in that process, W sandboxed
workers). Printed per worker count: the wall times, notebooks per second, a notebook's cost (the
slope between the two classes), the fixed cost, and the coordinator's milliseconds per notebook
(gradebook, feedback, export, which it does alone). Dask's own cost per task is measured on a
LocalCluster with tasks that do nothing. The projection: how many sandboxed workers grade 5,000
learners × 9 notebooks within an hour, and where the coordinator alone becomes the limit. Usage:

    python benchmarks/bench_scale.py [--learners 2] [--workers 1,2]
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
from bench_grade import PHASE_LINE, course, env, scores  # noqa: E402  (it puts the course on sys.path)
from mhsa_ref.backend import machine  # noqa: E402

CLASS = 5_000 * 9  # a MOOC: 5,000 learners, 9 notebooks each
HOUR = 3600.0


def grade(root: Path, workers: int) -> tuple[float, dict]:
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "grader.run", "--course", str(root), "--quiet",
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


def measure(assignments: list[str], learners: int, workers: int) -> tuple[int, float, dict, dict]:
    """Grade a new class of `learners` × `assignments` with `workers`: (notebooks, wall s, phases, scores)."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp) / "class"
        course(root, assignments, learners, stock=False)
        wall, phases = grade(root, workers)
        return learners * len(assignments), wall, phases, scores(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=2, help="the smaller class; the larger has twice as many")
    parser.add_argument("--workers", default="1,2", help="local worker counts, comma-separated")
    parser.add_argument("--assignments", default=",".join(sorted(p.name for p in (ROOT / "solutions").iterdir()
                                                                 if p.is_dir() and p.name[:2].isdigit())))
    args = parser.parse_args(argv)
    assignments = args.assignments.split(",")
    small, large = args.learners, 2 * args.learners
    print(f"{datetime.date.today()} · {machine()}")
    print(f"Classes of {small} and {large} learners × {len(assignments)} assignments, each graded by `python -m "
          f"grader.run --workers W` in a new process (a LocalCluster). A notebook's cost is the slope "
          f"between the two classes (what one more notebook adds); the fixed cost is what is left of the smaller run "
          f"(Python, torch, Dask, starting the sandboxed workers).")
    print()
    print("| workers | notebooks | wall s | notebooks / s | s per notebook (slope) | fixed s | "
          "coordinator ms per notebook more | scores agree |")
    print("|---|---|---|---|---|---|---|---|")
    slopes, coordinator, agree = {}, [], True
    for workers in map(int, args.workers.split(",")):
        n1, wall1, phases1, scores1 = measure(assignments, small, workers)
        n2, wall2, phases2, scores2 = measure(assignments, large, workers)
        slope = (wall2 - wall1) / (n2 - n1)
        fixed = wall1 - n1 * slope
        slopes[workers] = slope
        own1, own2 = (sum(p.get(k, 0.0) for k in ("gradebook", "feedback", "export")) for p in (phases1, phases2))
        coordinator.append((own2 - own1) / (n2 - n1))  # the coordinator's own work, per notebook more
        ok = len(scores2) == n2 and all(scores2[k] == v for k, v in scores1.items())
        agree &= ok
        print(f"| {workers} | {n1}, {n2} | {wall1:.1f}, {wall2:.1f} | {n2 / wall2:.2f} | {slope:.3f} | {fixed:.1f} | "
              f"{coordinator[-1] * 1000:.0f} (of {own1:.1f} s, {own2:.1f} s) | {ok} |")
    task = dask_task_cost()
    one = slopes[min(slopes)]  # one sandboxed worker's seconds per notebook, all of it (cells to verdict)
    c = max(coordinator) + task  # the coordinator's seconds per notebook, Dask's own task cost included
    print()
    print(f"Dask's own cost per task (LocalCluster, empty tasks): {task * 1000:.2f} ms")
    if len(slopes) > 1:
        w = max(slopes)
        print(f"Speed-up of {w} local workers over 1, per notebook: {one / slopes[w]:.2f}× (the judge runs in the "
              f"grading process, one notebook at a time, so local workers share its core)")
    grading_time = HOUR - CLASS * c
    needed = math.ceil(CLASS * one / grading_time) if grading_time > 0 else None
    print()
    print(f"Projection for 5,000 learners × 9 notebooks = {CLASS:,} notebooks within an hour (the coordinator keeps "
          f"each verdict as it arrives, then writes the gradebook, the feedback and the CSV):")
    print(f"- a notebook costs one sandboxed worker {one:.3f} s (the slope with 1 worker, judging included): "
          f"{CLASS * one / HOUR:.1f} worker-hours in all")
    print(f"- the coordinator's own work is {max(coordinator) * 1000:.0f} ms per notebook (gradebook, feedback, "
          f"export) and Dask's {task * 1000:.1f} ms per task: {CLASS * c / 60:.0f} min for the class, done by it "
          f"alone, whatever the number of workers; that is its limit ({1 / c:.0f} notebooks / s, "
          f"{HOUR / c:,.0f} per hour)")
    if needed:
        print(f"- the hour leaves {grading_time / 60:.0f} min for the workers: **{needed} sandboxed workers** "
              f"(cores, on Dask workers, each judging its own notebooks), {math.ceil(needed / 16)} machine(s) of "
              f"16 cores; with more workers the grading shrinks and the coordinator's {CLASS * c / 60:.0f} min remain")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
