"""mhsa_ref.checks, proven against known-wrong implementations (mutation tests), for every exercise.

Each mutant is graded by its notebook's own test cells (tests/notebook_cells.py), hidden ones
included. It must lose points, and a failing message must name its mistake. The correct
implementations must keep every point, and every graded cell must take points from some mutant.
"""

import contextlib
import functools
import io
import re

import pytest

from mutants import by_assignment
from notebook_cells import grade, graded_cells, setup_source

EXERCISES = by_assignment()
POINTS = {"01_one_hot": 16, "02_word2vec": 15, "03_elmo": 13, "04_attention": 18, "05_self_attention": 17,
          "06_split_heads": 15, "07_concat_and_output": 19, "08_cost_and_gpu": 14,
          "09_trained_heads": 18}
CASES = [(a, name) for a, m in EXERCISES.items() for name in sorted(m.MUTANTS)]


def run(assignment, functions):
    with contextlib.redirect_stdout(io.StringIO()):
        return grade(assignment, {**EXERCISES[assignment].CORRECT, **functions})


@functools.cache
def run_mutant(assignment: str, name: str) -> tuple:
    """A mutant graded once (by every graded cell, hidden tests included) for the tests below that read it."""
    mutant = EXERCISES[assignment].MUTANTS[name]
    return tuple(run(assignment, {mutant.function: mutant.fn}))


def test_every_exercise_has_mutants():
    assert sorted(EXERCISES) == sorted(POINTS)


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_correct_answers_get_full_marks(assignment):
    outcomes = run(assignment, {})
    assert [(o.grade_id, str(o.error)) for o in outcomes if o.error] == []
    assert sum(o.earned for o in outcomes) == sum(c.points for c in graded_cells(assignment)) == POINTS[assignment]


ALTERNATIVE_CASES = [(a, f, fn) for a, m in EXERCISES.items() for f, fns in m.ALTERNATIVES.items() for fn in fns]


@pytest.mark.parametrize("assignment,function,fn", ALTERNATIVE_CASES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_other_correct_answers_keep_full_marks(assignment, function, fn):
    """No false negatives: a correct answer written another way (a list, a clamp, einsum) loses nothing."""
    outcomes = run(assignment, {function: fn})
    assert [(o.grade_id, str(o.error)) for o in outcomes if o.error] == []


@pytest.mark.parametrize("assignment,name", CASES)
def test_mutant_loses_points_with_a_message_naming_the_mistake(assignment, name):
    mutant = EXERCISES[assignment].MUTANTS[name]
    failed = [o for o in run_mutant(assignment, name) if o.error is not None]
    assert failed, f"{name} kept full marks"
    messages = "\n---\n".join(f"{o.grade_id}: {o.error}" for o in failed)
    assert mutant.message in messages, f"{name}: no message names the mistake:\n{messages}"


def is_answer(name: str) -> bool:
    """A predict-then-run question's variable (`answer_…`), not a learner function."""
    return name.startswith("answer_")


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_each_learner_function_has_at_least_three_mutants(assignment):
    """Three for a function; two for a question's answer (at least a wrong value and a wrong form)."""
    module = EXERCISES[assignment]
    for function in module.CORRECT:
        assert sum(m.function == function for m in module.MUTANTS.values()) >= (2 if is_answer(function) else 3), function


def stubs(assignment: str) -> dict:
    """Every learner function of an untouched learner copy: a stub that raises NotImplementedError."""
    def todo(*args, **kwargs):
        raise NotImplementedError()

    return {f: todo for f in EXERCISES[assignment].CORRECT if not is_answer(f)}


def visible_failures(assignment: str, functions: dict, *, answered: bool = True) -> set[str]:
    """The graded cells that fail in the learner's copy, where the hidden tests are left out: the correct answers,
    `functions` in place of some, and with `answered=False` no question's `answer_…` defined."""
    namespace: dict = {}
    exec(compile(setup_source(assignment), f"<{assignment} setup>", "exec"), namespace)
    correct = {name: fn for name, fn in EXERCISES[assignment].CORRECT.items() if answered or not is_answer(name)}
    namespace.update({**correct, **functions})
    failed = set()
    for cell in graded_cells(assignment):
        visible = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", cell.source, flags=re.S)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(visible, f"<{cell.grade_id}>", "exec"), namespace)
        except Exception:  # noqa: BLE001 - as in nbgrader: any exception fails the cell
            failed.add(cell.grade_id)
    return failed


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_visible_cells_already_catch_the_common_mistakes(assignment):
    """Immediate feedback: these mistakes fail a visible check (a question's form check included),
    before any hidden test runs."""
    module = EXERCISES[assignment]
    for name in module.VISIBLE:
        mutant = module.MUTANTS[name]
        assert visible_failures(assignment, {mutant.function: mutant.fn}), f"{name} passes every visible check"


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_an_untouched_notebook_fails_a_visible_check(assignment):
    """Validate (visible checks only) cannot pass a learner copy as released: every function a stub that raises
    NotImplementedError, no question answered. (`nbgrader validate` itself: test_lab.py, test_learner_kit.py.)"""
    failed = visible_failures(assignment, stubs(assignment), answered=False)
    assert failed, f"{assignment}: an untouched notebook passes every visible check"
    assert any("(answer_" in c.source for c in graded_cells(assignment) if c.grade_id in failed)  # a question's too


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_an_unfinished_notebook_fails_with_not_implemented_only(assignment):
    # An unanswered question leaves its `answer_…` undefined (its cell raised NotImplementedError).
    with contextlib.redirect_stdout(io.StringIO()):
        outcomes = grade(assignment, stubs(assignment))
    assert all(isinstance(o.error, NotImplementedError)
               or (isinstance(o.error, NameError) and is_answer(str(o.error.name))) for o in outcomes)


@pytest.mark.parametrize("assignment", sorted(EXERCISES))
def test_every_graded_cell_is_failed_by_some_mutant(assignment):
    """No graded cell is dead weight: each one takes points from at least one known-wrong answer."""
    failing = {cell.grade_id: 0 for cell in graded_cells(assignment)}
    for name in EXERCISES[assignment].MUTANTS:
        for o in run_mutant(assignment, name):
            failing[o.grade_id] += o.error is not None
    assert [cell for cell, n in failing.items() if n == 0] == []
