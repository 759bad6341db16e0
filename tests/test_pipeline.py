"""The exercise pipeline end to end, through plain nbgrader commands and the repo's nbgrader_config.py.

A throwaway course directory gets the repo's config and solutions/; nbgrader regenerates the
learner copy (which must equal the committed exercises/), autogrades a class of four (the
solutions, the untouched learner copy, the two demo learners), writes feedback and exports grades.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

import demo_builder
from conftest import ROOT, tool_env

pytestmark = pytest.mark.slow

ASSIGNMENT = "04_attention"
NB = f"{ASSIGNMENT}.ipynb"
FULL = 13.0


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["nbgrader", *args], cwd=course, env=tool_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--log-level=WARN")
    learners = {
        "solution": ROOT / "solutions" / ASSIGNMENT / NB,
        "untouched": ROOT / "exercises" / ASSIGNMENT / NB,
        "ada": demo_builder.path_of("ada", ASSIGNMENT),
        "ben": demo_builder.path_of("ben", ASSIGNMENT),
    }
    for learner, source in learners.items():
        target = course / "submitted" / learner / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copy(source, target / NB)
    nbgrader(course, "autograde", ASSIGNMENT, "--log-level=WARN")
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--log-level=WARN")
    nbgrader(course, "export", "--log-level=WARN")
    return course


def scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}


def cell_errors(course: Path, learner: str) -> dict[str, str | None]:
    """grade_id -> the error name in that graded cell's output (None if it passed)."""
    nb = nbformat.read(course / "autograded" / learner / ASSIGNMENT / NB, as_version=4)
    errors = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            errs = [o for o in cell.outputs if o.output_type == "error"]
            errors[meta["grade_id"]] = errs[0].ename if errs else None
    return errors


def test_generated_learner_copy_equals_the_committed_one(course):
    generated = sorted(p.relative_to(course / "exercises") for p in (course / "exercises").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "exercises") for p in (ROOT / "exercises").rglob("*") if p.is_file())
    assert generated == committed
    for rel in generated:
        assert (course / "exercises" / rel).read_bytes() == (ROOT / "exercises" / rel).read_bytes(), (
            f"exercises/{rel} is stale: run `make exercises` and commit the result"
        )


def test_learner_copy_hides_solutions_and_hidden_tests():
    text = (ROOT / "exercises" / ASSIGNMENT / NB).read_text()
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "softmax_stability(", "sdpa_masks(", "clamp_min"):
        assert secret not in text
    nb = nbformat.reads(text, as_version=4)
    stubs = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(stubs) == 2 and all("raise NotImplementedError()" in s for s in stubs)


def test_solutions_get_full_marks(course):
    assert scores(course)["solution"] == FULL
    assert set(cell_errors(course, "solution").values()) == {None}


def test_untouched_learner_copy_gets_zero_and_fails_only_with_not_implemented(course):
    assert scores(course)["untouched"] == 0
    errors = cell_errors(course, "untouched")
    assert len(errors) == 9 and set(errors.values()) == {"NotImplementedError"}


def test_demo_class_grades(course):
    assert scores(course)["ada"] == FULL
    assert scores(course)["ben"] == 5
    ben = cell_errors(course, "ben")
    assert ben["test_softmax_stability"] == "CheckFailure" and ben["test_sdpa_values"] == "CheckFailure"
    assert ben["test_softmax_values"] is None and ben["test_sdpa_devices"] is None


def test_feedback_names_the_mistakes(course):
    html = (course / "feedback" / "ben" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "exp overflowed" in html and "divided by d_k" in html
    assert "clamp_min" not in html  # the solution code never reaches a learner


def test_export_writes_every_learner(course):
    with open(course / "grades.csv") as f:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert rows == scores(course)


def test_validate_fails_untouched_and_passes_solutions(course, tmp_path):
    for name, source, verdict in [
        ("untouched", ROOT / "exercises" / ASSIGNMENT / NB, "VALIDATION FAILED"),
        ("solution", ROOT / "solutions" / ASSIGNMENT / NB, "Success! Your notebook passes all the tests."),
    ]:
        copy = tmp_path / f"{name}.ipynb"
        shutil.copy(source, copy)
        result = subprocess.run(["nbgrader", "validate", str(copy)], cwd=course, env=tool_env(),
                                capture_output=True, text=True, timeout=300)
        assert verdict in result.stdout, result.stdout + result.stderr


def test_committed_demo_submissions_are_up_to_date():
    for learner, assignments in demo_builder.ANSWERS.items():
        for assignment in assignments:
            rebuilt = demo_builder.build(learner, assignment)
            committed = nbformat.read(demo_builder.path_of(learner, assignment), as_version=4)
            assert rebuilt == committed, f"run `python tests/demo_builder.py`: {learner}/{assignment} is stale"
