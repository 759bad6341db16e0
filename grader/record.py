"""The record of a grading run: JSON lines, one per notebook and one per phase of the run.

Both graders write it, `make grade` (`run`) and plain `nbgrader autograde` (`nbgrader_plugin`),
and `benchmarks/bench_grade.py` reads it; nothing parses printed prose. Each line is one object:

    {"run": id, "tool": "make grade", "kind": "notebook", "student": s, "assignment": a,
     "seconds": {"worker start": s, "cells": s, "calls": s, "judging": s}, ...}  (worker start: only
     when this notebook started a worker)
    {"run": id, "tool": "make grade", "kind": "phase", "phase": "gradebook", "seconds": s}
    {"run": id, "tool": "make grade", "kind": "run", "seconds": s, "graded": n, "kept": n, "on": where}

A notebook's phases are worker seconds (they overlap between workers); a run's phases and its
total are wall seconds. The plugin's notebook lines add how long nbgrader's loop waited for the
verdicts ("waited") and whether they were graded ahead of it ("ahead"). Lines are appended: a
file holds every run written to it, each under its own id.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

ENV = "MHSA_GRADING_RECORD"  # where to write the record (default: grading-record.jsonl in the course)
NAME = "grading-record.jsonl"
PHASES = ("worker start", "cells", "calls", "judging", "gradebook", "feedback", "export", "similarity")
WORKER_PHASES = PHASES[:4]  # the ones a worker reports per notebook (pool.Outcome.timing); the rest are the run's own


def path_for(course: Path) -> Path:
    """The record's file for a run on `course`: $MHSA_GRADING_RECORD, or grading-record.jsonl in the course."""
    return Path(os.environ.get(ENV) or Path(course) / NAME)


class Record:
    """One run's lines, appended to `path` as they come (a killed run keeps what it wrote)."""

    def __init__(self, path: Path, tool: str) -> None:
        self.path, self.tool, self.id = Path(path), tool, uuid.uuid4().hex[:12]
        self._lock = threading.Lock()

    def _write(self, kind: str, **fields) -> None:
        line = json.dumps({"run": self.id, "tool": self.tool, "kind": kind, **fields})
        with self._lock, self.path.open("a") as f:
            f.write(line + "\n")

    def notebook(self, student: str, assignment: str, timing: dict, **extra) -> None:
        self._write("notebook", student=student, assignment=assignment,
                    seconds={p: float(timing[p]) for p in WORKER_PHASES if p in timing}, **extra)

    def phase(self, phase: str, seconds: float) -> None:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; the phases are {PHASES}")
        self._write("phase", phase=phase, seconds=float(seconds))

    def run(self, seconds: float, **fields) -> None:
        self._write("run", seconds=float(seconds), **fields)


def read(path: Path, run: str | None = None) -> list[dict]:
    """The lines of `path` (of the run `run` only, when given), in order."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [r for r in rows if run is None or r.get("run") == run]


def runs(rows: list[dict]) -> list[str]:
    """The ids of the runs in `rows`, in the order they started."""
    return list(dict.fromkeys(r["run"] for r in rows))


def phases(rows: list[dict]) -> dict[str, float]:
    """Seconds per phase of PHASES: the notebooks' worker phases summed, the run's own phases added up."""
    out = dict.fromkeys(PHASES, 0.0)
    for r in rows:
        if r["kind"] == "notebook":
            for p, s in r["seconds"].items():
                out[p] += s
        elif r["kind"] == "phase":
            out[r["phase"]] += r["seconds"]
    return out
