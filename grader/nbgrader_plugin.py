"""The hardened machinery inside plain nbgrader: `nbgrader autograde` and `generate_feedback` as usual.

The repo's `nbgrader_config.py` changes three things in `nbgrader autograde`, and one in
`generate_feedback`:

* `SubmissionExporter` (Autograde's exporter): the submission's stored outputs are dropped as it
  is read (`submission.py`), before nbgrader parses or sanitizes anything; a submission that is
  not a notebook (malformed JSON, the wrong structure) or that nbgrader's sanitizing cannot
  handle is graded anyway, in place of the notebook nbgrader keeps: the instructor's release
  copy, with a warning that says why. Stock nbgrader drops such a learner, or stops the whole class.
* `RepairCells` (in place of nbgrader's `DeduplicateIds`): every cell of the instructor's
  notebook exactly once, with the instructor's nbgrader metadata, whatever the learner did to
  the cells: the first copy of a duplicated cell is kept (stock nbgrader leaves an empty metadata
  dict that stops the run, its issues #1083 and #1933), cells whose metadata is broken or names
  no cell of the assignment become plain cells, and deleted or stripped test cells are put back.
* `JudgedExecute` (in place of `Execute`): the submitted file, exactly as `make grade` reads it,
  runs in a sandboxed worker, which only answers the judge's calls; the judge decides each graded cell, and its
  verdict becomes that cell's output: the checks' ✔ lines, or an error whose message is the
  judge's. nbgrader's own `SaveAutoGrades` then scores the cells from those outputs, as it always
  does. Workers are started once per `nbgrader autograde` run (one per core) and reused for every
  notebook; when the first notebook of an assignment arrives, every submission of it that this
  run will grade is sent to them, in nbgrader's order, so the cores grade ahead while nbgrader
  writes each result. A notebook graded ahead is used only if the file still has the same bytes.
* `HideTests` (for `generate_feedback`): each test cell's visible part and the verdict, never the
  hidden tests.

So plain nbgrader and `make grade` give every notebook the same points (tests/test_grader/test_grade.py).
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import os
import re
import threading
import time
import uuid
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output
from traitlets import Bool, Dict, Integer

from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor

# torch-free: the workers start before this process imports torch and the checks (for the judge)
from grader import assignment as located
from grader import pool as pooling
from grader import submission
from grader.record import Record, path_for
from grader.sandbox import Limits

_HIDDEN = "### BEGIN HIDDEN TESTS"


def _converter(preprocessor):
    """nbgrader's converter (Autograde) above a preprocessor or exporter, if there is one."""
    node = getattr(preprocessor, "parent", None)
    for _ in range(4):
        if node is None:
            return None
        if hasattr(node, "coursedir") and hasattr(node, "assignments"):
            return node
        node = getattr(node, "parent", None)
    return None


def _root(configurable) -> Path:
    converter = _converter(configurable)
    if converter is not None and converter.coursedir is not None:
        return Path(converter.coursedir.root)
    config = configurable.config
    root = config.CourseDirectory.get("root") if "CourseDirectory" in config else None
    return Path(root or os.getcwd())


def _directory(configurable, which: str, default: str) -> str:
    converter = _converter(configurable)
    if converter is not None and converter.coursedir is not None:
        return getattr(converter.coursedir, which)
    config = configurable.config
    return (config.CourseDirectory.get(which) if "CourseDirectory" in config else None) or default


def instructor_notebook(configurable, assignment: str, notebook: str) -> nbformat.NotebookNode:
    source = _directory(configurable, "source_directory", "source")
    return nbformat.read(located.instructor_notebook(_root(configurable), assignment, notebook, source=source),
                         as_version=4)


def _names(entry, cls) -> bool:
    """Whether a configured preprocessor (a class or an importable name, as nbgrader_config.py gives it) is `cls`."""
    return entry is cls or entry == f"{cls.__module__}.{cls.__qualname__}"


def _meta(cell) -> dict | None:
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else None


# --- sanitizing: any submission becomes a notebook nbgrader can score ------------------------------------


class SubmissionExporter(NotebookExporter):
    """Autograde's exporter: a submission that cannot be read or sanitized is still graded, never dropped.

    nbgrader creates it once per run, after it has listed the submissions: the moment to start the
    workers and send them every submission the run will grade, before nbgrader sanitizes the first.
    """

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        converter = _converter(self)
        if converter is not None and any(_names(p, JudgedExecute) for p in getattr(converter, "autograde_preprocessors", ())):
            todo = _to_grade(converter)
            if todo:
                _session(JudgedExecute(parent=self), len(todo)).grade_ahead(todo, Path(converter.coursedir.root))

    def from_file(self, file_stream, resources=None, **kw):
        try:
            # the stored outputs are dropped while the file is read, before nbformat or nbgrader parses anything
            name = getattr(file_stream, "name", None)
            text = submission.read(Path(name)) if isinstance(name, str) else file_stream.read()
            nb = nbformat.reads(text, as_version=4)
            if not isinstance(nb.get("cells"), list):
                raise ValueError("it has no list of cells")
        except Exception as e:  # noqa: BLE001 - whatever the file holds, the learner is graded
            return self._stand_in(resources, f"the notebook could not be read ({type(e).__name__}: {e})"[:300], **kw)
        return self.from_notebook_node(nb, resources, **kw)

    def from_notebook_node(self, nb, resources=None, **kw):
        if not getattr(self.parent, "_sanitizing", False):
            return super().from_notebook_node(nb, resources, **kw)
        kept = copy.deepcopy(resources)
        try:
            return super().from_notebook_node(nb, resources, **kw)
        except Exception as e:  # noqa: BLE001 - nbgrader's sanitizing failed on this learner's cells
            return self._stand_in(kept, f"its cells could not be sanitized ({type(e).__name__}: {e})"[:300], **kw)

    def _stand_in(self, resources, reason: str, **kw):
        info = resources["nbgrader"]
        self.log.warning("%s/%s: %s. It is graded from the submitted file as it is; the autograded notebook shows "
                         "the instructor's cells in its place.", info["student"], info["assignment"], reason)
        nb = instructor_notebook(self, info["assignment"], info["notebook"])
        nb, _ = ClearSolutions(parent=self).preprocess(nb, {})
        nb.cells.insert(0, new_markdown_cell(f"**The submitted notebook was not kept:** {reason}."))
        return super().from_notebook_node(nb, resources, **kw)


class RepairCells(NbGraderPreprocessor):
    """Every cell of the instructor's notebook exactly once, with its metadata (before OverwriteCells)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        source = instructor_notebook(self, info["assignment"], info["notebook"])
        theirs = {m["grade_id"]: cell for cell in source.cells if (m := _meta(cell)) and m.get("grade_id")}
        seen: set[str] = set()
        changes: list[str] = []
        cells = []
        for cell in nb.cells:
            if not isinstance(cell.get("metadata"), dict):
                cell["metadata"] = nbformat.NotebookNode()
            if "nbgrader" in cell.metadata:
                meta = _meta(cell)
                grade_id = meta.get("grade_id") if meta else None
                if isinstance(grade_id, str) and grade_id in theirs and grade_id not in seen:
                    seen.add(grade_id)
                    instructor = theirs[grade_id]
                    cell.metadata["nbgrader"] = copy.deepcopy(instructor.metadata["nbgrader"])
                    if cell.get("cell_type") != instructor.cell_type:
                        cell = _retyped(cell, instructor.cell_type)
                        changes.append(f"{grade_id} was turned back into a {instructor.cell_type} cell")
                else:
                    del cell.metadata["nbgrader"]
                    changes.append(f"a copy of {grade_id!r} became a plain cell" if isinstance(grade_id, str)
                                   and grade_id in seen else
                                   f"a cell with unknown nbgrader metadata ({str(grade_id)[:40]!r}) became a plain cell")
            cells.append(cell)
        nb.cells = cells
        # graded cells the learner deleted (or whose metadata was stripped) go back where the instructor had them
        ids = {c.get("id") for c in nb.cells}
        anchor = -1
        for grade_id, instructor in theirs.items():
            present = next((i for i, c in enumerate(nb.cells) if (m := _meta(c)) and m.get("grade_id") == grade_id), None)
            if present is not None:
                anchor = present
            elif instructor.metadata["nbgrader"].get("grade"):
                restored = copy.deepcopy(instructor)
                restored.outputs, restored.execution_count = [], None
                if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
                    restored.pop("id", None)  # cell ids exist from nbformat 4.5 on
                elif restored.get("id") in ids:
                    restored.id = uuid.uuid4().hex[:8]
                ids.add(restored.get("id"))
                anchor += 1
                nb.cells.insert(anchor, restored)
                changes.append(f"test cell {grade_id} was missing and was put back")
        for change in changes:
            self.log.warning("%s/%s: %s", info["student"], info["assignment"], change)
        return nb, resources


def _retyped(cell, cell_type: str):
    make = new_code_cell if cell_type == "code" else new_markdown_cell
    source = cell.get("source", "")
    new = make(source if isinstance(source, str) else "".join(map(str, source)), metadata=cell.metadata)
    if cell.get("id"):
        new.id = cell.id
    return new


# --- grading: sandboxed workers shared by the run, the judge here ----------------------------------------


class _Session:
    """One `nbgrader autograde` run (one converter): its worker pool, its assignments, the notebooks graded ahead."""

    def __init__(self, owner, workers: int, limits: Limits, sandboxed: bool, source: str) -> None:
        self.owner = owner  # the converter of the run; a new run (the formgrader's next autograde) gets a new session
        self.pool = pooling.Pool(workers, limits, sandboxed=sandboxed)
        self.source = source  # the course's nbgrader source directory: where the instructor's notebooks are
        self.record: Record | None = None
        self.assignments: dict = {}  # (course root, name) -> grader.assignment.Assignment
        # (student, assignment, notebook) -> (digest, future, why unread). Only nbgrader's own thread
        # touches it (grade_ahead at the exporter's start, outcome in its loop), so it needs no lock.
        self.ahead: dict[tuple[str, str, str], tuple] = {}

    def close(self) -> None:
        self.pool.close()

    def assignment(self, root: Path, name: str):
        if (root, name) not in self.assignments:
            # imports torch and the checks: the workers are starting by now
            self.assignments[(root, name)] = located.load(root, name, source=self.source)
        return self.assignments[(root, name)]

    def grade_ahead(self, todo: list[tuple[str, str, Path]], root: Path) -> None:
        """Send these submissions (student, assignment, notebook file) to the workers, in this order."""
        refused: set[str] = set()
        for student, name, path in todo:
            if name in refused:
                continue
            try:
                self.ahead[(student, name, path.stem)] = self.submit(student, name, path, root, priority=1)
            except Exception:  # noqa: BLE001 - a broken assignment: the run itself reports it, the others go on
                refused.add(name)

    def submit(self, student: str, name: str, path: Path, root: Path, *, priority: int):
        digest = _digest(path)
        text, reason = submission.read_submission(path)
        future = self.pool.submit(f"{student}/{name}", text, self.assignment(root, name), priority=priority)
        return digest, future, reason

    def outcome(self, root: Path, submitted: Path, student: str, name: str, notebook: str):
        path = submitted / f"{notebook}.ipynb"
        entry = self.ahead.pop((student, name, notebook), None)
        ahead = entry is not None and entry[0] == _digest(path)
        if not ahead:
            entry = self.submit(student, name, path, root, priority=0)  # not graded ahead, or changed since
        _, future, reason = entry
        waited = time.monotonic()
        outcome = future.result()
        waited = time.monotonic() - waited
        if reason:
            outcome.reason = reason
        if self.record is None:  # the run's record (grader.record), as make grade writes it
            self.record = Record(path_for(root), "nbgrader autograde")
        self.record.notebook(student, name, outcome.timing, ahead=ahead, waited=waited)
        return outcome


def _digest(path: Path) -> str:
    """The file's bytes, hashed as they stream by ("" when it cannot be read): graded ahead, then still the same?"""
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return ""


def _to_grade(converter) -> list[tuple[str, str, Path]]:
    """(student, assignment, notebook file) of every submission nbgrader's converter will grade, in its order.

    Only the notebooks the instructor's assignment has: nbgrader skips any other, so a learner who hands
    in extra notebooks does not keep the workers busy with them.
    """
    pattern = _submitted_pattern(converter)
    course = converter.coursedir
    todo = []
    for folder in sorted(converter.assignments):
        match = re.match(pattern, folder)
        if match is None or not _will_grade(converter, match["assignment_id"], match["student_id"]):
            continue
        name = match["assignment_id"]
        todo += [(match["student_id"], name, Path(p)) for p in sorted(converter.assignments[folder])
                 if located.instructor_notebook(Path(course.root), name, Path(p).stem,
                                                source=course.source_directory).is_file()]
    return todo


def _submitted_pattern(converter) -> str:
    course = converter.coursedir
    return course.format_path(course.submitted_directory, "(?P<student_id>.*)", "(?P<assignment_id>.*)", escape=True)


def _will_grade(converter, assignment: str, student: str) -> bool:
    """Whether nbgrader's converter will grade this submission (its init_destination, without its side effects)."""
    course = converter.coursedir
    if course.student_id_exclude and student in course.student_id_exclude.split(","):
        return False
    dest = os.path.normpath(converter._format_dest(assignment, student))
    if not os.path.exists(dest) or converter.force:
        return True
    new = course.get_existing_timestamp(course.format_path(course.submitted_directory, student, assignment))
    old = course.get_existing_timestamp(dest)
    return new is not None and old is not None and new > old


_SESSION: _Session | None = None
_SESSION_LOCK = threading.Lock()


def _session(preprocessor: "JudgedExecute", notebooks: int = 1) -> _Session:
    """The run's session, started for `notebooks` notebooks (the pool's size: pool.pool_size).

    One per converter: a process that runs autograde again (the formgrader's server) closes the last
    run's workers and starts afresh, with the assignments as they are now.
    """
    global _SESSION
    owner = _converter(preprocessor)
    with _SESSION_LOCK:
        if _SESSION is not None and _SESSION.owner is not owner:
            _SESSION.close()
            _SESSION = None
        if _SESSION is None:
            limits = Limits(**preprocessor.limits)
            workers = pooling.pool_size(notebooks, preprocessor.workers)
            source = _directory(preprocessor, "source_directory", "source")
            _SESSION = _Session(owner, workers, limits, preprocessor.sandboxed, source)
        return _SESSION


def _at_exit() -> None:
    if _SESSION is not None:
        _SESSION.close()
    pooling.quick_exit()


atexit.register(_at_exit)


class JudgedExecute(NbGraderPreprocessor):
    """Replaces nbgrader's Execute: the submission is graded by the sandboxed workers and the judge."""

    sandboxed = Bool(True, help="Run learner code in bubblewrap (refuse to run without it).").tag(config=True)
    workers = Integer(0, help="Sandboxed workers grading at once (0: one per 8 notebooks, up to one per core)."
                      ).tag(config=True)
    limits = Dict({}, help="Per-notebook limits: fields of grader.sandbox.Limits, e.g. "
                           "{'cell_s': 60}.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        name, student = info["assignment"], info["student"]
        root = _root(self)
        submitted = root / _directory(self, "submitted_directory", "submitted") / student / name
        outcome = _session(self).outcome(root, submitted, student, name, info["notebook"])
        verdicts = {v.grade_id: v for v in outcome.verdicts}
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            cell.execution_count = None
            verdict = verdicts.get((_meta(cell) or {}).get("grade_id"))
            if verdict is None:
                continue
            if verdict.earned == verdict.points:
                cell.outputs.append(new_output("stream", name="stdout", text=verdict.message + "\n"))
            else:
                ename = ("NotImplementedError" if verdict.message.startswith("NotImplementedError")
                         else "GradingFlag" if verdict.flag else "CheckFailure")
                text = verdict.message + (f"\n(grading stopped early: {outcome.reason})"
                                          if outcome.reason and verdict.flag else "")
                cell.outputs.append(new_output("error", ename=ename, evalue=text, traceback=text.splitlines()))
        if outcome.reason:
            self.log.warning("%s/%s could not be graded in full: %s", student, name, outcome.reason)
        for note in outcome.notes:
            self.log.info("%s/%s: %s", student, name, note)
        return nb, resources


class HideTests(NbGraderPreprocessor):
    """For generate_feedback: a test cell shows its visible lines and its verdict, not its hidden tests."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and _HIDDEN in cell.source:
            kept, hidden = [], False
            for line in cell.source.splitlines():
                if line.strip().startswith(_HIDDEN):
                    hidden = True
                    kept.append("# (hidden tests: their verdict is below)")
                elif line.strip().startswith("### END HIDDEN TESTS"):
                    hidden = False
                elif not hidden:
                    kept.append(line)
            cell.source = "\n".join(kept)
        return cell, resources
