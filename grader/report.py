"""`python -m grader.report report`: the grade table and where everything is, printed by `make`.

It reads nbgrader's gradebook through nbgrader's own API, so it shows exactly what `nbgrader
export` and the formgrader show.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def grade_rows(db_url: str) -> list[tuple[str, str, float, float]]:
    """(student, assignment, score, max_score) for every submission in the gradebook."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(db_url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                rows.append((submission.student.id, assignment.name, submission.score, submission.max_score))
    return sorted(rows)


def report(root: Path) -> str:
    from tabulate import tabulate

    db = root / "gradebook.db"
    lines = []
    if db.exists():
        rows = grade_rows(f"sqlite:///{db}")
        table = [(s, a, f"{score:g} / {top:g}", f"{100 * score / top:.0f}%" if top else "-") for s, a, score, top in rows]
        lines += ["Grades (nbgrader gradebook):", tabulate(table, headers=["learner", "exercise", "points", "%"]), ""]
    else:
        lines += ["No gradebook yet: run `make` to autograde the demo class.", ""]
    similar = root / "similarity.csv"
    if similar.exists():
        from grader import similarity

        lines += [similarity.summary(similarity.read(similar)), ""]
    where = [
        ("site", root / "_build" / "html" / "index.html"),
        ("learner notebooks", root / "exercises"),
        ("feedback", root / "feedback"),
        ("grades", root / "grades.csv"),
        ("similarity", similar),
        ("gradebook", db),
        ("grading record", root / "grading-record.jsonl"),
        ("learner kit", root / "_build" / "learner-kit.tar.gz"),
    ]
    lines.append("Where things are:")
    for name, path in where:
        mark = "" if path.exists() else "  (not built yet)"
        lines.append(f"  {name:<18} {os.path.relpath(path, Path.cwd())}{mark}")
    lines.append("Next: `make test` runs the tests; `make lab` opens the exercises in JupyterLab; "
                 "`make learner-kit` builds what learners install; `make hub` runs the course on a JupyterHub "
                 "(as root); DASK_SCHEDULER=tcp://host:8786 make grade grades on a Dask cluster.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.report", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["report"])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course directory (default: here)")
    args = parser.parse_args(argv)
    print(report(args.root.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
