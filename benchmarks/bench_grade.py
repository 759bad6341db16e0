"""Grading a class: stock `nbgrader autograde` against `make grade` (mhsa_ref.grading), in the same run.

The class: LEARNERS learners (default 8; the demo class's ada and ben answers, under new names) ×
every assignment. Stock nbgrader gets a config that holds only the directory names, as a new course
would; it grades one notebook after another, each in a fresh kernel that imports torch and runs
every cell (the explorers too). `make grade` runs the same notebooks in sandboxed workers, one per
core, forked from a process that has imported torch already, and judges outside them.

Both gradebooks must give every learner the same score. Printed: the two wall times and their
ratio (target: at least 5× on a 2-core machine), and the per-notebook floor: the fastest notebook
of each, start to verdict. Usage:
    python benchmarks/bench_grade.py [--learners 8] [--assignments 04_attention,06_split_heads]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import demo_builder  # noqa: E402
from bench_attention import machine  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from mhsa_ref.grading import run as grading  # noqa: E402

BIN = Path(sys.executable).parent
STOCK_CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
"""


def course(root: Path, assignments: list[str], learners: int, *, stock: bool) -> None:
    root.mkdir(parents=True)
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copytree(ROOT / "exercises", root / "exercises")
    if stock:
        (root / "nbgrader_config.py").write_text(STOCK_CONFIG.format(root=str(root)))
    else:
        shutil.copy(ROOT / "nbgrader_config.py", root)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "MHSA_DB_URL": ""}
    for a in assignments:
        subprocess.run([str(BIN / "nbgrader"), "generate_assignment", a, "--force", "--log-level=ERROR"], cwd=root,
                       env=env, check=True, capture_output=True)
        for i in range(learners):
            source = demo_builder.path_of("ada" if i % 2 == 0 else "ben", a)
            folder = root / "submitted" / f"learner{i:02d}" / a
            folder.mkdir(parents=True)
            shutil.copy(source, folder / f"{a}.ipynb")


def scores(root: Path) -> dict[tuple[str, str], float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {(s.student.id, s.assignment.name): s.score for a in gb.assignments for s in gb.assignment_submissions(a.name)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=8)
    parser.add_argument("--assignments", default=",".join(sorted(p.name for p in (ROOT / "solutions").iterdir()
                                                                 if p.is_dir() and p.name[:2].isdigit())))
    args = parser.parse_args(argv)
    assignments = args.assignments.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        stock, ours = Path(tmp) / "stock", Path(tmp) / "ours"
        course(stock, assignments, args.learners, stock=True)
        course(ours, assignments, args.learners, stock=False)
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        stock_times = []
        start = time.monotonic()
        for a in assignments:
            t = time.monotonic()
            subprocess.run([str(BIN / "nbgrader"), "autograde", a, "--log-level=ERROR"], cwd=stock, env=env, check=True,
                           capture_output=True)
            stock_times.append((time.monotonic() - t) / args.learners)
        stock_s = time.monotonic() - start
        os.environ["MHSA_DB_URL"] = f"sqlite:///{ours / 'gradebook.db'}"
        start = time.monotonic()
        jobs, refused = grading.run(ours, progress=False, export=False)
        ours_s = time.monotonic() - start
        want, got = scores(stock), scores(ours)
        n = args.learners * len(assignments)
        agree = want == got and not refused and len(got) == n
        print(f"{datetime.date.today()} · {machine()}")
        print(f"class: {args.learners} learners × {len(assignments)} assignments = {n} notebooks; "
              f"scores agree: {agree}")
        print("| grader | wall s | s per notebook | fastest notebook s | ratio stock / this |")
        print("|---|---|---|---|---|")
        print(f"| stock nbgrader autograde (one after another) | {stock_s:.1f} | {stock_s / n:.2f} | "
              f"{min(stock_times):.2f} (mean of its assignment) | 1.00× |")
        print(f"| make grade ({os.cpu_count()} sandboxed workers) | {ours_s:.1f} | {ours_s / n:.2f} | "
              f"{min(j.seconds for j in jobs):.2f} | {stock_s / ours_s:.2f}× |")
        if not agree:
            print("DISAGREEMENTS:", {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)})
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
