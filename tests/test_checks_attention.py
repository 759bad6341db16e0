"""mhsa_ref.checks.attention, proven against known-wrong implementations (mutation tests).

Each mutant is graded by the notebook's own test cells (tests/notebook_cells.py). It must lose
points, and the first failing message must name its mistake. The correct implementations must
keep every point.
"""

import contextlib
import io

import pytest

from mutants import attention as mutants
from notebook_cells import grade, graded_cells

CORRECT = {"softmax": mutants.softmax, "scaled_dot_product_attention": mutants.scaled_dot_product_attention}


def run(functions):
    with contextlib.redirect_stdout(io.StringIO()):
        return grade("04_attention", functions)


def test_correct_answers_get_full_marks():
    outcomes = run(CORRECT)
    assert [o.grade_id for o in outcomes if o.error] == []
    assert sum(o.earned for o in outcomes) == sum(c.points for c in graded_cells("04_attention")) == 13


@pytest.mark.parametrize("name", sorted(mutants.MUTANTS))
def test_mutant_loses_points_with_a_message_naming_the_mistake(name):
    mutant = mutants.MUTANTS[name]
    outcomes = run({**CORRECT, mutant.function: mutant.fn})
    failed = [o for o in outcomes if o.error is not None]
    assert failed, f"{name} kept full marks"
    messages = "\n---\n".join(f"{o.grade_id}: {o.error}" for o in failed)
    assert mutant.message in messages, f"{name}: no message names the mistake:\n{messages}"


@pytest.mark.parametrize("function", sorted(CORRECT))
def test_each_learner_function_has_at_least_three_mutants(function):
    assert sum(m.function == function for m in mutants.MUTANTS.values()) >= 3


def test_visible_cells_already_catch_the_common_mistakes():
    """Immediate feedback: these mistakes fail a visible cell, before any hidden test runs."""
    visible = {"test_softmax_values", "test_sdpa_values"}
    for name in ["softmax_torch_builtin", "softmax_wrong_dim", "sdpa_scale_by_d_k", "sdpa_inverted_mask", "sdpa_functional"]:
        mutant = mutants.MUTANTS[name]
        failed = {o.grade_id for o in run({**CORRECT, mutant.function: mutant.fn}) if o.error}
        assert failed & visible, f"{name} passes every visible check"


def test_an_unfinished_notebook_fails_with_not_implemented_only():
    def todo(*args, **kwargs):
        raise NotImplementedError()

    outcomes = run({"softmax": todo, "scaled_dot_product_attention": todo})
    assert all(isinstance(o.error, NotImplementedError) for o in outcomes)


def test_every_graded_cell_is_failed_by_some_mutant():
    """No graded cell is dead weight: each one takes points from at least one known-wrong answer."""
    failing = {cell.grade_id: 0 for cell in graded_cells("04_attention")}
    for mutant in mutants.MUTANTS.values():
        for o in run({**CORRECT, mutant.function: mutant.fn}):
            failing[o.grade_id] += o.error is not None
    assert [cell for cell, n in failing.items() if n == 0] == []
