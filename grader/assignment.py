"""An assignment as the grader sees it, read from the instructor's notebook: the one place that finds it.

`instructor_notebook` says where the instructor's (nbgrader source) notebook of an assignment is;
`load` reads it into an `Assignment`: the judge's plan of its graded cells, the steps a worker runs,
and a key that changes when the notebook or the grading code changes. `make grade` (`run`), plain
`nbgrader autograde` (`nbgrader_plugin`) and the book's exercise lists (`kit.exercises`) all call them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

import mhsa_ref

if TYPE_CHECKING:  # the judge imports torch and the checks: only `load` needs them (nbgrader_config imports this)
    import nbformat

    from grader import judge as J

SOURCE = "solutions"  # the course's nbgrader source directory (nbgrader_config.py: CourseDirectory.source_directory)
GRADER = Path(__file__).resolve().parent


@dataclass
class Assignment:
    name: str
    plan: J.Plan
    steps: list[dict]
    key: str  # changes when the instructor's notebook or the grading code changes
    free_cells: list[str] = field(default_factory=list)  # ids of the ungraded explorer cells: not run


def instructor_notebook(course: Path, name: str, notebook: str | None = None, *, source: str = SOURCE) -> Path:
    """The instructor's notebook `notebook` (default: the assignment's own name) of assignment `name`."""
    return Path(course) / source / name / f"{notebook or name}.ipynb"


def code_version() -> str:
    """A fingerprint of the checks and the grader: verdicts made by other code are redone."""
    root = Path(mhsa_ref.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(list((root / "checks").glob("*.py")) + list(GRADER.rglob("*.py"))):
        h.update(path.name.encode() + path.read_bytes())
    for name in ("attention", "self_attention", "split_heads", "concat_and_output", "cost_and_gpu", "one_hot",
                 "word2vec", "elmo", "trained_heads", "_validate", "codec"):
        h.update((root / f"{name}.py").read_bytes())
    return h.hexdigest()


def steps_of(source: nbformat.NotebookNode, plan: J.Plan) -> list[dict]:
    """The instructor's notebook as the worker runs it: locked code as written, the learner's solutions, the checks."""
    tests = {c.grade_id: c for c in plan.cells}
    steps = []
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        grade_id = meta.get("grade_id")
        if grade_id in tests:
            test = tests[grade_id]
            steps.append({"kind": "test", "grade_id": grade_id, "points": test.points,
                          "checks": [list(c) for c in test.checks]})
        elif meta.get("solution"):
            steps.append({"kind": "solution", "grade_id": grade_id})
        elif meta.get("locked"):
            steps.append({"kind": "locked", "grade_id": grade_id, "source": cell.source})
        # ungraded free cells (the explorers) are not run: they draw, they do not define
    return steps


def load(course: Path, name: str, *, source: str = SOURCE) -> Assignment:
    """Assignment `name` of the course at `course`, from its instructor's notebook.

    Raises FileNotFoundError when there is none, and judge.PlanError (a ValueError) when a graded
    cell is not one this grader can judge.
    """
    import nbformat

    from grader import judge

    notebook = nbformat.read(instructor_notebook(course, name, source=source), as_version=4)
    plan = judge.plan(notebook)
    steps = steps_of(notebook, plan)
    key = hashlib.sha256((json.dumps(steps, sort_keys=True) + code_version()).encode()).hexdigest()
    free = [c.get("id") for c in notebook.cells if c.cell_type == "code" and "nbgrader" not in c.metadata and c.get("id")]
    return Assignment(name, plan, steps, key, free)
