"""Grading a class of the course: everything that grades, none of what is taught.

`run` is `make grade`; `nbgrader_plugin` puts the same machinery into plain `nbgrader autograde`.
Both find an assignment through `assignment`, grade each notebook on `pool`'s sandboxed workers
(`sandbox`, on a Dask cluster through `cluster`), let `judge` decide the points with `mhsa_ref`'s
checks, and write one `record` of the run. `sandboxed` is the only part that runs inside the
sandbox (the worker, its side of the wall, the bans). `submission` reads a notebook without its
stored outputs, `similarity` flags copied functions, `exchange` collects from nbgrader's exchange,
`kit` builds the learner environment and the sandbox's packages from `mhsa_ref` alone, and `report`
prints `make`'s closing summary. This package imports `mhsa_ref`; `mhsa_ref` never imports it.
"""

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
