"""Grading a class three ways, in the same run: stock nbgrader, `make grade`, and plain nbgrader with our config.

The class: N learners (the demo class's ada and ben answers, alternating, under new names) × every
assignment, for each N of --learners (default 2, 4 and 8: 16, 32 and 64 notebooks).

* stock: `nbgrader autograde` per assignment with a config that holds only the directory names, as
  a new course would; one notebook after another, each in a fresh kernel that imports torch and
  runs every cell (the explorers too).
* make grade: `python -m grader.run` in a new process: sandboxed workers (one per core)
  forked from a pre-imported process, the judge outside them, then the gradebook, the feedback
  files and grades.csv.
* plain nbgrader, our config: `nbgrader autograde` per assignment with the repo's
  nbgrader_config.py (the same workers and judge inside nbgrader's loop, started once per run and
  grading ahead of it). Its `generate_feedback` and `export` are timed too, but not counted in its
  ratio, since stock's wall time does not include them either.

All three gradebooks must give every notebook the same score. Printed, per class size: each
grader's wall time and its ratio to stock, against the targets (make grade ≥ 4× stock at 16
notebooks and ≥ 8× at 64; plain nbgrader with our config ≥ 2× at every size), and where the
time goes: worker start, the notebook's cells, the learner's calls in the sandbox, judging (worker
seconds summed over the notebooks), then gradebook, feedback and export (wall seconds). Usage:

    python benchmarks/bench_grade.py [--learners 2,4,8] [--assignments 04_attention,06_split_heads]
    python benchmarks/bench_grade.py --saved-outputs 300

The second form grades ada and ben with and without a third notebook, ada's saved with 300 MiB of
stored outputs (a learner who printed a large tensor and saved), by all three graders: the
difference is what such a notebook costs each of them.
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
sys.path.insert(0, str(ROOT / "benchmarks"))
import demo_builder  # noqa: E402
from mhsa_ref.backend import machine  # noqa: E402

from grader import record  # noqa: E402
from grader.record import PHASES  # noqa: E402

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


def env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "MHSA_DB_URL": "", record.ENV: ""}


def course(root: Path, assignments: list[str], learners: int, *, stock: bool) -> None:
    root.mkdir(parents=True)
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copytree(ROOT / "exercises", root / "exercises")
    if stock:
        (root / "nbgrader_config.py").write_text(STOCK_CONFIG.format(root=str(root)))
    else:
        shutil.copy(ROOT / "nbgrader_config.py", root)
    for a in assignments:
        subprocess.run([str(BIN / "nbgrader"), "generate_assignment", a, "--force", "--log-level=ERROR"], cwd=root,
                       env=env(), check=True, capture_output=True)
        for i in range(learners):
            source = demo_builder.path_of("ada" if i % 2 == 0 else "ben", a)
            folder = root / "submitted" / f"learner{i:02d}" / a
            folder.mkdir(parents=True)
            shutil.copy(source, folder / f"{a}.ipynb")


def scores(root: Path) -> dict[tuple[str, str], float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {(s.student.id, s.assignment.name): s.score for a in gb.assignments for s in gb.assignment_submissions(a.name)}


def nbgrader(root: Path, *args: str, extra: dict | None = None) -> float:
    start = time.monotonic()
    subprocess.run([str(BIN / "nbgrader"), *args, "--log-level=ERROR"], cwd=root, env={**env(), **(extra or {})},
                   check=True, capture_output=True)
    return time.monotonic() - start


def stock_arm(root: Path, assignments: list[str]) -> float:
    return sum(nbgrader(root, "autograde", a) for a in assignments)


def make_grade_arm(root: Path) -> tuple[float, dict]:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader.run", "--course", str(root), "--quiet"], cwd=ROOT,
                            env=env(), check=True, capture_output=True, text=True)
    wall = time.monotonic() - start
    rows = record.read(root / record.NAME)  # the run's record (grader.record): a fresh course, one run
    return wall, record.phases(rows)


def plain_arm(root: Path, assignments: list[str]) -> tuple[float, dict]:
    wall = sum(nbgrader(root, "autograde", a) for a in assignments)
    rows = record.read(root / record.NAME)  # one run per assignment, each a line per notebook
    phases = record.phases(rows)
    phases["gradebook"] = wall - sum(r["waited"] for r in rows)  # nbgrader's own work: sanitize, write, score
    phases["feedback"] = sum(nbgrader(root, "generate_feedback", a) for a in assignments)
    phases["export"] = nbgrader(root, "export")
    return wall, phases


def saved_outputs(megabytes: int, assignment: str = "04_attention") -> int:
    """ada and ben, with and without a third learner: ada's notebook saved with `megabytes` MiB of stored outputs.

    Each grader grades both classes in the same run; the difference is what the large notebook costs it.
    """
    import nbformat

    print(f"{datetime.date.today()} · {machine()}")
    print(f"| grader | ada, ben: wall s | ada, ben and a notebook with {megabytes} MiB of outputs: wall s | "
          f"the large notebook's cost, s | scores agree |")
    print("|---|---|---|---|---|")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        walls: dict[str, list[float]] = {}
        found: dict[str, list[dict]] = {}
        for with_saved in (False, True):
            for arm in ("stock", "make", "plain"):
                root = Path(tmp) / f"{arm}-{with_saved}"
                course(root, [assignment], 2, stock=arm == "stock")
                if with_saved:
                    folder = root / "submitted" / "saved" / assignment
                    folder.mkdir(parents=True)
                    nb = nbformat.read(demo_builder.path_of("ada", assignment), as_version=4)
                    demo_builder.write_with_outputs(nb, folder / f"{assignment}.ipynb", megabytes)
                wall = (stock_arm(root, [assignment]) if arm == "stock" else
                        make_grade_arm(root)[0] if arm == "make" else plain_arm(root, [assignment])[0])
                walls.setdefault(arm, []).append(wall)
                found.setdefault(arm, []).append(scores(root))
                shutil.rmtree(root)  # the large notebook's copies: hundreds of MB each
        for arm, name in (("stock", "stock nbgrader autograde"), ("make", "make grade"),
                          ("plain", "plain nbgrader autograde, our config")):
            agree = found[arm] == found["stock"]
            ok &= agree and found[arm][1].get(("saved", assignment)) == found[arm][1].get(("learner00", assignment))
            print(f"| {name} | {walls[arm][0]:.1f} | {walls[arm][1]:.1f} | {walls[arm][1] - walls[arm][0]:.1f} | "
                  f"{agree} |")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", default="2,4,8", help="class sizes, comma-separated")
    parser.add_argument("--assignments", default=",".join(sorted(p.name for p in (ROOT / "solutions").iterdir()
                                                                 if p.is_dir() and p.name[:2].isdigit())))
    parser.add_argument("--saved-outputs", type=int, metavar="MB",
                        help="instead: grade ada and ben with and without a notebook that holds MB MiB of outputs")
    args = parser.parse_args(argv)
    if args.saved_outputs:
        return saved_outputs(args.saved_outputs)
    assignments = args.assignments.split(",")
    print(f"{datetime.date.today()} · {machine()}")
    print("| learners | notebooks | grader | wall s | s per notebook | ratio stock / this | target | scores agree |")
    print("|---|---|---|---|---|---|---|---|")
    where = []
    ok = True
    for learners in map(int, args.learners.split(",")):
        n = learners * len(assignments)
        with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
            roots = {arm: Path(tmp) / arm for arm in ("stock", "make", "plain")}
            for arm, root in roots.items():
                course(root, assignments, learners, stock=arm == "stock")
            stock_s = stock_arm(roots["stock"], assignments)
            make_s, make_phases = make_grade_arm(roots["make"])
            plain_s, plain_phases = plain_arm(roots["plain"], assignments)
            want = scores(roots["stock"])
            agree = {arm: scores(roots[arm]) == want and len(want) == n for arm in ("make", "plain")}
            make_target = 8.0 if n >= 64 else 4.0 if n >= 16 else None
            for name, seconds, target, agreed in (
                    ("stock nbgrader autograde", stock_s, None, True),
                    ("make grade", make_s, make_target, agree["make"]),
                    ("plain nbgrader autograde, our config", plain_s, 2.0, agree["plain"])):
                ratio = stock_s / seconds
                verdict = "" if target is None else f"≥ {target:g}× {'met' if ratio >= target else 'MISSED'}"
                ok &= agreed and (target is None or ratio >= target)
                print(f"| {learners} | {n} | {name} | {seconds:.1f} | {seconds / n:.2f} | {ratio:.2f}× | {verdict} | "
                      f"{agreed} |")
            where.append((learners, n, make_phases, plain_phases))
    print()
    print("Where the time goes (s; worker start, cells, calls and judging summed over notebooks as worker time; "
          "for plain nbgrader, gradebook is nbgrader's own work in autograde, and feedback and export are its "
          "generate_feedback and export commands):")
    print()
    print("| learners | notebooks | grader | " + " | ".join(PHASES) + " |")
    print("|---|---|---|" + "---|" * len(PHASES))
    for learners, n, make_phases, plain_phases in where:
        for name, phases in (("make grade", make_phases), ("plain nbgrader", plain_phases)):
            print(f"| {learners} | {n} | {name} | " + " | ".join(f"{phases.get(p, 0.0):.1f}" for p in PHASES) + " |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
