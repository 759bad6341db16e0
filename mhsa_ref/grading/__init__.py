"""Grading a class: the judge that decides points outside the learner's process (`judge`, `trace`)."""
