"""Grading a class: the judge that decides points outside the learner's process (`judge`, `trace`)."""

import warnings


def ignore_nbgrader_session_warning() -> None:
    """Silence one warning of nbgrader's own, and only it.

    nbgrader 0.9.6's Gradebook.add_submission builds a SubmittedAssignment and its SubmittedNotebooks
    before they are in the SQLAlchemy session, and SQLAlchemy 2 warns when its autoflush meets them
    ("Object of type <SubmittedAssignment> not in session, add operation along 'Student.submissions'
    will not proceed", from nbgrader/api.py: add_submission and Notebook.grade_cells). nbgrader adds
    them right after, so nothing is lost. SQLAlchemy's other warnings still show.
    """
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted(Assignment|Notebook)> not in session",
                            module=r"nbgrader\.api")


# every grading command: make grade, and plain nbgrader, which imports this package through nbgrader_config.py
ignore_nbgrader_session_warning()
