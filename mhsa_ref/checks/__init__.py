"""Named checks that grade learners' notebooks: one module per exercise, one function per graded cell.

A notebook's test cell calls, for example, `check.softmax_values(softmax)`. A check raises
`CheckFailure` (an AssertionError) whose message says what was expected, what came, and the likely
cause; it prints one line when it passes. Keeping the grading logic here makes it library code
with its own tests (tests/test_mhsa_ref/test_checks.py runs it against known-wrong implementations).
"""

from mhsa_ref.checks._core import CheckFailure

__all__ = ["CheckFailure"]
