"""The hardened machinery inside plain nbgrader: `nbgrader autograde` and `generate_feedback` as usual.

The repo's `nbgrader_config.py` puts `JudgedExecute` where nbgrader's `Execute` was. After nbgrader
has sanitised a submission (its own copies of the locked and test cells restored), the notebook
runs in a sandboxed worker, which only records; the judge decides each graded cell, and its verdict
becomes that cell's output: the checks' ✔ lines, or an error whose message is the judge's. nbgrader's
own `SaveAutoGrades` then scores the cells from those outputs, as it always does, so the gradebook,
`generate_feedback` and `export` need nothing else. `HideTests` (for `generate_feedback`) shows each
test cell's visible part and the verdict, never the hidden tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from traitlets import Bool

from nbgrader.preprocessors import NbGraderPreprocessor

from mhsa_ref.grading import judge as J
from mhsa_ref.grading import run as grading
from mhsa_ref.grading.sandbox import Limits, Worker

_HIDDEN = "### BEGIN HIDDEN TESTS"


def _course_root(config) -> Path:
    root = config.CourseDirectory.get("root") if "CourseDirectory" in config else None
    return Path(root or os.getcwd())


class JudgedExecute(NbGraderPreprocessor):
    """Replaces nbgrader's Execute: run the submission sandboxed, then write the judge's verdicts as outputs."""

    sandboxed = Bool(True, help="Run learner code in bubblewrap (refuse to run without it).").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        name = info["assignment"]
        root = _course_root(self.config)
        assignment = grading.load_assignment(root, name)
        # the worker runs the instructor's checks from the plan; the test cells' sources (hidden tests
        # included, which nbgrader has just restored) never enter the learner's process
        tests = {c.grade_id for c in assignment.plan.cells}
        sent = nbformat.reads(nbformat.writes(nb), as_version=4)
        for cell in sent.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in tests:
                cell.source = ""
        worker = Worker(Limits(), sandboxed=self.sandboxed)
        try:
            records, notes, reason = grading.run_notebook(worker, f"{info['student']}/{name}",
                                                          nbformat.writes(sent), assignment)
        finally:
            worker.close()
        verdicts = {v.grade_id: v for v in J.judge(assignment.plan, records)}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            cell.execution_count = None
            verdict = verdicts.get(grade_id)
            if verdict is None:
                continue
            if verdict.earned == verdict.points:
                cell.outputs.append(new_output("stream", name="stdout", text=verdict.message + "\n"))
            else:
                ename = ("NotImplementedError" if verdict.message.startswith("NotImplementedError")
                         else "GradingFlag" if verdict.flag else "CheckFailure")
                text = verdict.message + (f"\n(grading stopped early: {reason})" if reason and verdict.flag else "")
                cell.outputs.append(new_output("error", ename=ename, evalue=text, traceback=text.splitlines()))
        if reason:
            self.log.warning("%s/%s: %s", info["student"], name, reason)
        for note in notes:
            self.log.info("%s/%s: %s", info["student"], name, note)
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
