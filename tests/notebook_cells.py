"""Grade learner functions by running a solutions notebook's own graded test cells, in process.

This is what `nbgrader autograde` does per cell (points if the cell raises nothing), minus the
kernel, so every mutant can be graded in milliseconds against the exact cell sources, hidden
tests included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class GradedCell:
    grade_id: str
    points: float
    source: str


@dataclass
class Outcome:
    grade_id: str
    points: float
    earned: float
    error: BaseException | None


def notebook(assignment: str, folder: str = "solutions") -> nbformat.NotebookNode:
    return nbformat.read(ROOT / folder / assignment / f"{assignment}.ipynb", as_version=4)


def graded_cells(assignment: str) -> list[GradedCell]:
    cells = []
    for cell in notebook(assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cells.append(GradedCell(meta["grade_id"], float(meta["points"]), cell.source))
    return cells


def setup_source(assignment: str) -> str:
    """The locked, ungraded code cells (imports): run before the learner's functions are added."""
    parts = []
    for cell in notebook(assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
            parts.append(cell.source)
    return "\n".join(parts)


def grade(assignment: str, functions: dict) -> list[Outcome]:
    namespace: dict = {}
    exec(compile(setup_source(assignment), f"<{assignment} setup>", "exec"), namespace)
    namespace.update(functions)
    outcomes = []
    for cell in graded_cells(assignment):
        try:
            exec(compile(cell.source, f"<{cell.grade_id}>", "exec"), namespace)
        except Exception as e:  # noqa: BLE001 - any exception loses the cell's points, as in nbgrader
            outcomes.append(Outcome(cell.grade_id, cell.points, 0.0, e))
        else:
            outcomes.append(Outcome(cell.grade_id, cell.points, cell.points, None))
    return outcomes
