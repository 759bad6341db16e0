"""`make grade`: grade a whole class, sandboxed, in parallel, with verdicts decided by the judge.

    python -m grader.run [--assignment NAME] [--workers N] [--scheduler ADDRESS] [--unsandboxed] [--quiet]

For every `submitted/<student>/<assignment>/<assignment>.ipynb` (of every assignment in
`solutions/`, or of NAME): a sandboxed worker runs the notebook; the judge, here, runs each graded
cell's checks with the reference, calling the learner's functions across the sandbox's wall
(`remote`), and decides it; the points go to nbgrader's gradebook
(the course's `db_url`), the judge's messages to `feedback/<student>/<assignment>/`, and at the end
nbgrader's CSV export writes `grades.csv`. A summary says who was graded and who could not be, and
why, and where the time went. The workers (`Pool`, one per core) are started once and reused for
every notebook; plain `nbgrader autograde` uses the same pool (`nbgrader_plugin.py`).

Nothing is lost: each notebook's verdicts are also kept in `autograded/<student>/<assignment>/`
under a key of the notebook's bytes and the grading code, written atomically. A second run, or a
run after a kill, grades only what has no verdicts yet (or changed), and re-writes the gradebook
from the kept verdicts, so a grade is never silently lost or changed.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader import judge as J
from grader.assignment import Assignment, load as load_assignment
from grader.record import PHASES, WORKER_PHASES, Record, path_for
from grader.pool import pool_size, quick_exit
from grader.submission import read_submission
from grader.sandbox import Limits, SandboxUnavailable

VERDICTS = "mhsa-verdicts.json"


@dataclass
class Job:
    student: str
    assignment: Assignment
    path: Path
    verdicts: list[J.Verdict] = field(default_factory=list)
    reason: str = ""  # why the notebook could not be graded in full (still scored: missing cells are 0)
    notes: list[str] = field(default_factory=list)
    cached: bool = False
    text: str | None = field(default=None, repr=False)  # the notebook as graded, without its stored outputs

    @property
    def earned(self) -> float:
        return sum(v.earned for v in self.verdicts)


def discover(course: Path, only: str | None) -> tuple[list[Job], list[tuple[str, str, str]]]:
    """Every submission to grade, and every one that cannot be (student, assignment, reason)."""
    jobs, refused, assignments = [], [], {}
    submitted = course / "submitted"
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()) if submitted.is_dir() else []:
        for folder in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            name = folder.name
            if only and name != only:
                continue
            if name not in assignments:
                try:
                    assignments[name] = load_assignment(course, name)
                except FileNotFoundError:
                    assignments[name] = f"no assignment {name!r} in solutions/"
                except (J.PlanError, ValueError) as e:
                    assignments[name] = f"the instructor's notebook cannot be judged: {e}"
            assignment = assignments[name]
            if isinstance(assignment, str):
                refused.append((student_dir.name, name, assignment))
                continue
            path = folder / f"{name}.ipynb"
            if not path.is_file():
                refused.append((student_dir.name, name, f"no {name}.ipynb in the submission"))
                continue
            jobs.append(Job(student_dir.name, assignment, path))
    return jobs, refused


def _verdicts_path(course: Path, job: Job) -> Path:
    return course / "autograded" / job.student / job.assignment.name / VERDICTS


def _key(job: Job) -> str:
    with job.path.open("rb") as f:  # streamed: a notebook of any size is hashed in a little memory
        digest = hashlib.file_digest(f, "sha256")
    digest.update(job.assignment.key.encode())
    return digest.hexdigest()


def load_kept(course: Path, job: Job) -> bool:
    path = _verdicts_path(course, job)
    try:
        kept = json.loads(path.read_text())
        if kept["key"] != _key(job):
            return False
        job.verdicts = [J.Verdict(**v) for v in kept["verdicts"]]
        job.reason, job.notes, job.cached = kept["reason"], kept["notes"], True
        return [v.grade_id for v in job.verdicts] == [c.grade_id for c in job.assignment.plan.cells]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def keep(course: Path, job: Job) -> None:
    path = _verdicts_path(course, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"key": _key(job), "student": job.student, "assignment": job.assignment.name, "reason": job.reason,
            "notes": job.notes, "verdicts": [v.__dict__ for v in job.verdicts]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)  # atomic: a kill leaves the old file or the new one, never half of one


def write_gradebook(course: Path, db_url: str, jobs: list[Job]) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    from grader import ignore_nbgrader_session_warning

    with warnings.catch_warnings(), Gradebook(db_url, "mhsa") as gb:
        ignore_nbgrader_session_warning()  # again: a caller (pytest) may have reset the filters since the import
        for job in jobs:
            name = job.assignment.name
            gb.update_or_create_student(job.student)
            try:
                gb.find_submission(name, job.student)
            except MissingEntry:
                gb.add_submission(name, job.student)
            for verdict in job.verdicts:
                cell = gb.find_grade(verdict.grade_id, name, name, job.student)
                cell.auto_score = verdict.earned
                cell.manual_score = None
            gb.db.commit()


def write_feedback(course: Path, job: Job) -> Path:
    """The judge's messages, cell by cell: what was expected, what came, the likely mistake. No test source."""
    out = course / "feedback" / job.student / job.assignment.name / f"{job.assignment.name}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for v in job.verdicts:
        status = "passed" if v.earned == v.points else ("flagged" if v.flag else "failed")
        rows.append(f"<section class='{status}'><h2>{html.escape(v.grade_id)}: {v.earned:g} / {v.points:g}</h2>"
                    f"<pre>{html.escape(v.message or '')}</pre></section>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in job.notes)
    reason = f"<p class='reason'><strong>Grading stopped early:</strong> {html.escape(job.reason)}</p>" if job.reason else ""
    total = job.assignment.plan.total
    out.write_text(
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(job.assignment.name)}: "
        f"feedback for {html.escape(job.student)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}"
        f".passed h2{{color:#1a7f37}}.failed h2,.flagged h2{{color:#b3261e}}pre{{white-space:pre-wrap}}</style></head>"
        f"<body><h1>{html.escape(job.assignment.name)}: {job.earned:g} / {total:g}</h1>{reason}"
        f"{'<ul>' + notes + '</ul>' if notes else ''}{''.join(rows)}</body></html>")
    return out


def export_csv(course: Path) -> Path:
    """grades.csv, as `nbgrader export` writes it (its CSV plugin, run here rather than in a new process)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    out = course / "grades.csv"
    with Gradebook(db_url(course), "mhsa") as gb:
        CsvExportPlugin(to=str(out)).export(gb)
    return out


def db_url(course: Path) -> str:
    return os.environ.get("MHSA_DB_URL") or "sqlite:///" + str(course / "gradebook.db")




def run(course: Path, *, assignment: str | None = None, workers: int | None = None, sandboxed: bool = True,
        limits: Limits = Limits(), progress: bool = True, export: bool = True,
        phases: dict | None = None, scheduler: str | None = None,
        refusals: dict | None = None, similar: list | None = None,
        record: Record | None = None) -> tuple[list[Job], list]:
    """Grade `course`'s class as tasks on Dask: on the scheduler at `scheduler` (an address such as
    tcp://host:8786), or on a LocalCluster in this process of `workers` sandboxed workers.

    `phases`, when given, receives the seconds spent in each of PHASES (the first four summed over
    notebooks, as worker time; the others as wall time here); `refusals`, the Dask workers that
    refused to grade (address -> why); `similar`, the copy-similarity pairs written to similarity.csv
    (`similarity.report`: flags for a person, no grade changes); `record`, the run's record (`record.Record`:
    a line per notebook and per phase; default: one in `record.path_for(course)`). Raises cluster.Unreachable before grading anything when the
    scheduler cannot be reached, and SandboxUnavailable when no worker can grade.
    """
    record = record or Record(path_for(course), "make grade")
    jobs, refused = discover(course, assignment)
    todo = [job for job in jobs if not load_kept(course, job)]
    workers = pool_size(len(todo), workers)
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="grading", unit="notebook", file=sys.stderr)
    spent = dict.fromkeys(PHASES, 0.0)
    if todo:
        from grader import cluster

        with cluster.grader(workers, limits, sandboxed=sandboxed, address=scheduler) as dask:
            items = []
            for job in todo:
                job.text, job.reason = read_submission(job.path)
                items.append((job, f"{job.student}/{job.assignment.name}", job.text, job.assignment))
            for job, outcome in dask.grade(items):  # SandboxUnavailable (no worker can grade) ends the run here
                job.verdicts, job.notes = outcome.verdicts, job.notes + outcome.notes
                job.reason = job.reason or outcome.reason
                for phase in WORKER_PHASES:
                    spent[phase] += outcome.timing.get(phase, 0.0)
                record.notebook(job.student, job.assignment.name, outcome.timing)
                keep(course, job)
                if bar:
                    bar.update()
            if refusals is not None:
                refusals.update(dask.refusals)
    if bar:
        bar.close()
    if jobs:
        t = time.monotonic()
        write_gradebook(course, db_url(course), jobs)
        spent["gradebook"] = time.monotonic() - t
        t = time.monotonic()
        for job in jobs:
            write_feedback(course, job)
        spent["feedback"] = time.monotonic() - t
        if export:
            t = time.monotonic()
            export_csv(course)
            spent["export"] = time.monotonic() - t
        t = time.monotonic()
        from grader import similarity

        pairs = similarity.report(course, jobs)
        if similar is not None:
            similar.extend(pairs)
        spent["similarity"] = time.monotonic() - t
    for phase in PHASES[len(WORKER_PHASES):]:
        if spent[phase]:
            record.phase(phase, spent[phase])
    if phases is not None:
        phases.update(spent)
    return jobs, refused


def summary(jobs: list[Job], refused: list) -> str:
    lines = [f"{'learner':<12} {'assignment':<22} {'points':>9}  note"]
    for job in sorted(jobs, key=lambda j: (j.student, j.assignment.name)):
        flags = sum(bool(v.flag) for v in job.verdicts)
        note = job.reason or (f"{flags} cell(s) flagged" if flags else "")
        note += " (kept from an earlier run)" if job.cached else ""
        lines.append(f"{job.student:<12} {job.assignment.name:<22} {job.earned:>4g} / {job.assignment.plan.total:<3g} {note}")
    for student, name, reason in refused:
        lines.append(f"{student:<12} {name:<22} {'not graded':>9}  {reason}")
    graded = len(jobs)
    lines.append(f"graded: {graded} notebook(s); could not be graded: {len(refused)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade the class: sandboxed, parallel, judged outside the notebooks.")
    parser.add_argument("--assignment", help="only this assignment (default: every one with submissions)")
    parser.add_argument("--workers", type=int,
                        help="sandboxed workers at once (default: one per 8 notebooks, up to one per core)")
    parser.add_argument("--unsandboxed", action="store_true",
                        help="run learner code without bubblewrap, with your own permissions (not recommended)")
    parser.add_argument("--course", type=Path, default=Path.cwd())
    parser.add_argument("--scheduler", help="a running Dask scheduler, e.g. tcp://host:8786 (default: $DASK_SCHEDULER, "
                                            "or a LocalCluster on this machine)")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the last line (and who could not be graded in full), not the table")
    args = parser.parse_args(argv)
    phases: dict = {}
    refusals: dict = {}
    similar: list = []
    from grader.cluster import Unreachable, scheduler_address

    scheduler = args.scheduler or scheduler_address()
    record = Record(path_for(args.course.resolve()), "make grade")
    try:
        start = time.monotonic()
        jobs, refused = run(args.course.resolve(), assignment=args.assignment, workers=args.workers,
                            sandboxed=not args.unsandboxed, progress=not args.quiet, phases=phases,
                            scheduler=scheduler, refusals=refusals, similar=similar, record=record)
    except (SandboxUnavailable, Unreachable) as e:
        print(f"make grade: {e}", file=sys.stderr)
        return 2
    for worker, reason in sorted(refusals.items()):  # the others graded its notebooks
        print(f"make grade: worker {worker} refused to grade: {reason}", file=sys.stderr)
    if args.quiet:
        for job in jobs:
            if job.reason:
                print(f"{job.student}/{job.assignment.name}: {job.reason}")
        for student, name, reason in refused:
            print(f"{student}/{name}: not graded: {reason}")
    else:
        print(summary(jobs, refused))
    if jobs and not args.quiet:  # quiet (make's demo class): `make`'s closing report shows it
        from grader import similarity

        print(similarity.summary(similar))
    graded = sum(not j.cached for j in jobs)
    where = ", ".join(f"{k} {v:.1f} s" for k, v in phases.items() if v)
    on = f"the Dask scheduler at {scheduler}" if scheduler else "this machine"
    record.run(time.monotonic() - start, graded=graded, kept=len(jobs) - graded, refused=len(refused), on=on)
    print(f"graded {graded} notebook(s) on {on}, {len(jobs) - graded} kept from an earlier run, in "
          f"{time.monotonic() - start:.1f} s ({where or 'nothing to do'}); feedback: feedback/   grades: grades.csv   "
          f"similarity: similarity.csv   gradebook: {db_url(args.course.resolve())}   "
          f"record: {os.path.relpath(record.path)}")
    return 0


if __name__ == "__main__":
    code = main()
    quick_exit()
    sys.exit(code)
