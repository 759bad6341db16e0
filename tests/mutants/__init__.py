"""Known-wrong implementations of learner functions, one module per exercise, for mutation tests.

Each module defines ASSIGNMENT, CORRECT (learner-style correct answers, written independently of
mhsa_ref), MUTANTS (name -> Mutant) and VISIBLE (mutants that a visible check must already catch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Mutant:
    function: str  # the learner function it replaces
    fn: Callable
    message: str  # a phrase the failing check's message must contain
