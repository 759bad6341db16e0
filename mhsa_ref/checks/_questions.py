"""Predict-then-run questions: read a learner's answer, check its form, then its value.

A question's graded cell runs two checks on the learner's variable (an `answer_…` of the notebook):
`<question>_form` (visible) says whether the answer has the form the question asks for and reveals
nothing of its value; `<question>_question` (hidden) compares the value and, when it is wrong,
explains the answer: that explanation is the feedback the learner reads after grading. The value is
read only through `_core.answer`, which fetches it across the sandbox's wall when a notebook is graded.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

from mhsa_ref.checks._core import CheckFailure, answer, passed


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _wrong_form(what: str, expected: str, got: object, hint: str = "") -> CheckFailure:
    return CheckFailure(f"`{what}` should be {expected}; got {_shown(got)}." + (f"\n  {hint}" if hint else ""))


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_int(obj: object, *, what: str, minimum: int = 0) -> int:
    """The learner's answer as an int (at least `minimum`), or a CheckFailure that says what form was expected."""
    got = answer(obj)
    expected = f"one int (at least {minimum})" if minimum else "one int"
    if isinstance(got, float) and got.is_integer():
        raise _wrong_form(what, expected, got, "Write the count as an int: 12, not 12.0 (or int(...)).")
    if not _is_int(got):
        hint = "Write the number itself, not a string." if isinstance(got, str) else ""
        raise _wrong_form(what, expected, got, hint)
    if got < minimum:
        raise _wrong_form(what, expected, got)
    return got


def read_head(obj: object, heads: int, *, what: str) -> int:
    """The learner's answer as a head index, 0 … heads - 1, or a CheckFailure that says so."""
    got = read_int(obj, what=what)
    if got >= heads:
        raise CheckFailure(f"`{what}` should be a head index, 0 … {heads - 1}; got {got}.")
    return got


def read_float(obj: object, *, what: str) -> float:
    """The learner's answer as a finite float (an int is accepted), or a CheckFailure about its form."""
    got = answer(obj)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        hint = ("Write the number itself, e.g. 0.25 or math.sqrt(2), not a string." if isinstance(got, str)
                else "A tensor's value is a float: use .item()." if type(got).__name__ == "Tensor" else "")
        raise _wrong_form(what, "one number (a float)", got, hint)
    if not math.isfinite(got):
        raise _wrong_form(what, "one finite number (a float)", got)
    return float(got)


def read_ints(obj: object, n: int, *, what: str, minimum: int = 0) -> tuple[int, ...]:
    """The learner's answer as a tuple of `n` ints (a list or torch.Size is accepted), or a CheckFailure."""
    got = answer(obj)
    expected = f"a tuple of {n} ints" + (f" (each at least {minimum})" if minimum else "")
    if not isinstance(got, (tuple, list)) or len(got) != n:
        hint = f"Write the tuple itself, e.g. {tuple(range(1, n + 1))}, not a string." if isinstance(got, str) else ""
        raise _wrong_form(what, expected, got, hint)
    if not all(_is_int(v) and v >= minimum for v in got):
        raise _wrong_form(what, expected, got)
    return tuple(got)


def read_choice(obj: object, letters: str, *, what: str) -> str:
    """The learner's answer as one of `letters` ("abc"), lower case; "(b)" and " B " are accepted as "b"."""
    got = answer(obj)
    expected = "one letter: " + ", ".join(f"'{c}'" for c in letters[:-1]) + f" or '{letters[-1]}'"
    if not isinstance(got, str) or got.strip().strip("()").strip().lower() not in letters:
        raise _wrong_form(what, expected, got)
    return got.strip().strip("()").strip().lower()


def form_passed(name: str, form: str) -> None:
    """The visible half of a question: the form is right; the value is checked when the notebook is graded."""
    passed(name, f"{form}, as asked; whether it is right is checked when your notebook is graded (run the cell "
                 f"below the check to see for yourself)")


def expect_answer(got: object, want: object, *, name: str, summary: str, why: str,
                  wrong: Mapping[object, str] = {}, close: Callable[[object, object], bool] | None = None) -> None:
    """The value of a question: `want`, or a CheckFailure that explains the answer.

    summary: the line printed when the answer is right.
    why: the reasoning that leads to the answer, shown whatever the wrong answer was.
    wrong: known wrong answers mapped to the mistake that usually gives them.
    close: how to compare (floats: within a tolerance); == by default.
    """
    same = close or (lambda a, b: a == b)
    if same(got, want):
        passed(name, summary)
        return
    mistake = next((cause for value, cause in wrong.items() if same(got, value)), None)
    raise CheckFailure(f"Your answer {got!r} is not the right one, {want!r}."
                       + (f"\n  Likely reasoning: {mistake}" if mistake else "")
                       + f"\n  Why: {why}")


def near(rel: float = 1e-3, abs_: float = 1e-3) -> Callable[[object, object], bool]:
    """A comparison for float answers: equal within `rel` (relative) or `abs_` (absolute)."""
    return lambda a, b: math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)
