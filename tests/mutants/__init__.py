"""Known-wrong implementations of learner functions, one module per exercise, for mutation tests.

Each module defines ASSIGNMENT, CORRECT (learner-style correct answers, written independently of
mhsa_ref: the learner functions, and the values of the predict-then-run questions' `answer_…`
variables), MUTANTS (name -> Mutant) and VISIBLE (mutants that a visible check must already catch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Mutant:
    function: str  # the learner function it replaces, or the `answer_…` variable of a question
    fn: Callable  # the wrong function; for a question, the wrong value (an int, a tuple, a letter, ...)
    message: str  # a phrase the failing check's message must contain


EXERCISES = ("one_hot", "word2vec", "elmo", "attention", "self_attention", "split_heads", "concat_and_output",
             "cost_and_gpu", "trained_heads")  # the mutant modules, in the course's order


def by_assignment() -> dict:
    """Every exercise's mutant module, by its assignment's name ("04_attention" -> mutants.attention)."""
    import importlib

    modules = [importlib.import_module(f"{__name__}.{name}") for name in EXERCISES]
    return {m.ASSIGNMENT: m for m in modules}
