"""`make grade` under attack: sandboxed, fail-closed grading of a class that includes hostile notebooks.

One class is graded once: ada (correct) and ben (typical mistakes) as controls, and one learner
per attack. An attack that could reach what it must not (the solutions, the gradebook, the host's
network, more memory or processes than allowed) would *define correct answers* and earn points;
so "no undeserved points" is the proof that it could not. Every other learner keeps their grade.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

import demo_builder
from conftest import ROOT, tool_env
from grader import assignment, record, sandbox
from grader import run as grading

pytestmark = pytest.mark.slow
A = "04_attention"
FULL, BEN = 18.0, 9.0
# A graded call of these notebooks takes milliseconds (a worker grades a whole notebook in about 0.3 s,
# RESULTS.md): 10 s a cell leaves a wide margin on a loaded machine, and the infinite loop burns no more.
LIMITS = sandbox.Limits(cell_s=10, notebook_s=90, memory_mb=3072, processes=48)


def learner_copy(who: str) -> nbformat.NotebookNode:
    return nbformat.read(demo_builder.path_of(who, A), as_version=4)


def with_cell(nb: nbformat.NotebookNode, source: str, *, before: str = "softmax") -> nbformat.NotebookNode:
    """`nb` with a new code cell (no nbgrader metadata, as a learner adds one) before the solution cell `before`."""
    nb = copy.deepcopy(nb)
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == before)
    nb.cells.insert(index, nbformat.v4.new_code_cell(source))
    return nb


def with_solution(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source = source
    return nb


# every solution cell: the functions and the predictions (ben's differ from ada's in three of them)
SOLUTIONS = ("softmax", "scaled_dot_product_attention", "attention_entropy", "answer_score_scale",
             "answer_masked_entropy", "answer_saturation")


def solution_source(who: str, grade_id: str) -> str:
    return next(c.source for c in learner_copy(who).cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def reward_if(condition: str, setup: str = "") -> nbformat.NotebookNode:
    """ben's notebook, whose solution cells define ada's right answers instead, if `condition` holds there.

    `condition` is what the attack tries (read a file, open a socket, ...), evaluated in the learner's process.
    """
    nb = learner_copy("ben")
    for grade_id in SOLUTIONS:
        indent = lambda src: "\n".join("    " + line for line in src.splitlines())  # noqa: E731
        source = (f"import os, sys, socket, time, torch, math\n{setup}\ntry:\n    _got = bool({condition})\n"
                  f"except BaseException:\n    _got = False\nif _got:\n{indent(solution_source('ada', grade_id))}\n"
                  f"else:\n{indent(solution_source('ben', grade_id))}")
        nb = with_solution(nb, grade_id, source)
    return nb


FORK_200 = """def _fork_200():
    for _ in range(200):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    return True"""


# Any readable copy of the reference's softmax: the sandbox's own mhsa_ref, every mhsa_ref on sys.path, the
# checkout (its path is known to anyone who read the README), whatever a search of the usual places finds.
REFERENCE_SOURCE = """def _reference_source():
    import glob, importlib, inspect
    found = []
    try:
        found.append(inspect.getsource(importlib.import_module("mhsa_ref.attention").softmax))
    except BaseException:
        pass
    places = [p for p in sys.path if p] + [%r, "/work", "/root", "/home", "/opt", "/srv", "/tmp"]
    for place in places:
        for path in glob.glob(place + "/**/mhsa_ref/attention.py", recursive=True)[:50]:
            try:
                found.append(open(path).read())
            except OSError:
                pass
    return any("amax" in text and "def softmax" in text for text in found)"""

# A softmax that turns the grader's hooks off (the profiler, PyTorch's dispatch modes) and hides its call.
HOOKS_OFF = """def softmax(x, dim=-1):
    import sys
    import torch
    from torch.utils._python_dispatch import _disable_current_modes
    sys.setprofile(None)
    with _disable_current_modes():
        return getattr(torch, "soft" + "max")(x, dim).nan_to_num(0.0)
"""

# The learner's process patches the sandbox's side of the wall: every reply claims a pass.
PATCHES_INVOKER = """import grader.sandboxed.remote as _remote
_reply = _remote.Server.reply
def _claims(self, request):
    answer = _reply(self, request)
    answer.update({"passed": True, "earned": 2, "flag": "", "verdict": "pass"})
    answer.pop("violation", None)
    return answer
_remote.Server.reply = _claims
import mhsa_ref.checks._core as _core
_core.CheckFailure = type("Never", (Exception,), {})"""

# Forged lines on the worker's pipe: the job's id found in the process's memory, replies for the judge's next
# requests numbered ahead of it, a record and a verdict in the old protocol's shape, a false end.
FORGES_OUTPUT = """import gc, json, os
_job = next(o for o in gc.get_objects() if isinstance(o, dict) and "notebook" in o and "job" in o)["job"]
_ones = {"tensor": "float32", "shape": [3, 8, 4, 4], "device": "cpu", "data": ""}
_lines = [{"job": _job, "reply": n, "result": {"v": None}, "passed": True} for n in range(1, 40)]
_lines += [{"job": _job, "record": "test_softmax_values", "data": {"events": []}},
           {"job": _job, "verdict": "test_softmax_values", "earned": 2},
           {"job": _job, "timing": {"cells": 10**400}},  # a number no float holds
           {"job": _job, "done": True, "status": 0, "reason": ""}]  # a false end: the next notebook must not pay
_deep = '{"job": %s, "note": %s}' % (json.dumps(_job), "[" * 985 + "]" * 985)  # near the parser's depth limit
_text = "\\n".join(json.dumps(l) for l in _lines) + "\\n" + _deep + "\\n" + "[" * 5000 + "]" * 5000 + '\\n'"""
FORGES_OUTPUT_WRITE = """
for _fd in os.listdir("/proc/self/fd"):
    try:
        if os.readlink(f"/proc/self/fd/{_fd}").startswith("pipe:"):
            os.write(int(_fd), _text.encode())
    except OSError:
        pass"""



def attacks(course: Path, port: int) -> dict[str, object]:
    ben = learner_copy("ben")
    untouched = nbformat.read(ROOT / "exercises" / A / f"{A}.ipynb", as_version=4)
    last = lambda nb, src: with_cell(nb, src, before="scaled_dot_product_attention")  # noqa: E731
    return {
        # the control for every `reward_if` attack: when its condition holds, the cheat does earn the points
        "reward_control": reward_if("1 + 1 == 2"),
        # the learner's process decides nothing: tricks that fooled stock nbgrader earn nothing here
        "transformer": last(ben, "ip = get_ipython()\nip.input_transformers_post.append(lambda lines: ['pass\\n'])"),
        "monkeypatch": last(ben, MONKEYPATCH + "\ncore.CheckFailure = type('Never', (Exception,), {})\nimport builtins\n"
                                 "builtins.AssertionError = type('Never', (Exception,), {})"),
        # no file of the course is visible
        "reads_solutions": reward_if(f"open({str(ROOT / 'solutions' / A / (A + '.ipynb'))!r}).read()"),
        "writes_gradebook": reward_if(f"open({str(course / 'gradebook.db')!r}, 'ab')"),
        "reads_other_learner": reward_if(f"open({str(course / 'submitted' / 'ada' / A / (A + '.ipynb'))!r}).read()"),
        "detached_writer": last(ben, "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(3)\n"
                                     f"    open({str(course / 'gradebook.db')!r}, 'wb').write(b'gone')\n    os._exit(0)"),
        # no network, not even the host's loopback
        "network": reward_if(f"socket.create_connection(('127.0.0.1', {port}), timeout=3)"),
        # limits
        "memory": reward_if("torch.ones(6 * 2**30, dtype=torch.uint8).sum() > 0"),
        "fork_bomb": reward_if("_fork_200()", FORK_200),
        "infinite_loop": with_solution(ben, "scaled_dot_product_attention", "while True:\n    pass"),
        # robustness: each ends only this notebook's grading, with a reason
        "sys_exit": last(learner_copy("ada"), "import sys\nsys.exit(3)"),
        "os_exit": last(learner_copy("ada"), "import os\nos._exit(0)"),
        "segfault": last(learner_copy("ada"), "import ctypes\nctypes.string_at(0)"),
        "malformed": b'{"cells": [ this is not json',
        "duplicated_tests": _duplicated(learner_copy("ada")),
        "edited_tests": _edited_tests(ben),
        "stripped_metadata": _stripped(learner_copy("ada")),
        "deleted_tests": _deleted_tests(learner_copy("ada")),
        "untouched": untouched,
        # issue 16: the sandbox holds no reference, its side of the wall decides nothing, hooks are not the rule
        "copies_reference": reward_if("_reference_source()", REFERENCE_SOURCE % str(ROOT)),
        "delegates_to_reference": with_solution(with_solution(
            learner_copy("ada"), "softmax", "from mhsa_ref.attention import softmax"),
            "scaled_dot_product_attention", "from mhsa_ref.attention import scaled_dot_product_attention"),
        "patches_invoker": last(ben, PATCHES_INVOKER),
        "forges_output": last(ben, FORGES_OUTPUT + FORGES_OUTPUT_WRITE),
        # a program started afresh would load PyTorch without the bans: no program may be started
        "execs_python": reward_if("subprocess.run([sys.executable, '-c', 'import torch; torch.softmax(torch.zeros(2), -1)'],"
                                  " timeout=60).returncode == 0", "import subprocess"),
        "hooks_off": with_solution(learner_copy("ada"), "softmax", HOOKS_OFF),
        "kills_worker": last(learner_copy("ada"), "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
        # issue 25: ada's notebook saved with 300 MiB of printed tensor: graded in seconds, full marks
        "saved_outputs": lambda target: demo_builder.write_with_outputs(learner_copy("ada"), target, 300),
    }


def _duplicated(nb):
    nb = copy.deepcopy(nb)
    test = copy.deepcopy(next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")))
    test.id = "a-second-copy"  # same grade_id: the case that aborts stock nbgrader for the whole class
    nb.cells.insert(0, test)
    return nb


def _edited_tests(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass  # nothing to check here"
    return nb


def _stripped(nb):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def _deleted_tests(nb):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    return nb


EXPECTED = {  # points, and a phrase of the reason or note (or None)
    # the transformer blanks the learner's own later cells too: they lose a point, they gain none
    "ada": (FULL, None), "ben": (BEN, None), "reward_control": (FULL, None), "transformer": (None, None),
    "monkeypatch": (BEN, None),
    "reads_solutions": (BEN, None), "writes_gradebook": (BEN, None), "reads_other_learner": (BEN, None),
    "detached_writer": (BEN, None), "network": (BEN, None), "memory": (BEN, None), "fork_bomb": (BEN, None),
    "infinite_loop": (None, "ran longer than"), "sys_exit": (FULL, "raised SystemExit"),
    "os_exit": (None, "ended early"), "segfault": (None, "crashed"), "malformed": (0.0, "could not be read"),
    "duplicated_tests": (FULL, None), "edited_tests": (BEN, None), "stripped_metadata": (FULL, None),
    "deleted_tests": (FULL, None), "untouched": (0.0, None),
    "copies_reference": (BEN, None), "delegates_to_reference": (None, None), "patches_invoker": (None, None),
    "forges_output": (None, None), "hooks_off": (None, None), "kills_worker": (None, "worker itself stopped"),
    "execs_python": (BEN, None), "saved_outputs": (FULL, None),
}


BASED_ON_BEN = {"transformer", "monkeypatch", "reads_solutions", "writes_gradebook", "reads_other_learner",
                "detached_writer", "network", "memory", "fork_bomb", "infinite_loop", "edited_tests", "copies_reference",
                "patches_invoker", "forges_output", "execs_python"}


# The gradebook as `nbgrader generate_assignment` left it, before any grading: the tests that grade a copy of the
# class afresh start from it (generating it again would start nbgrader and alembic, about 5 s, for the same file).
GENERATED = "gradebook-as-generated.db"


def fresh_gradebook(graded_course: Path, course: Path) -> None:
    shutil.copy(graded_course.parent / GENERATED, course / "gradebook.db")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("class")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copytree(ROOT / "exercises", course / "exercises")
    subprocess.run(["nbgrader", "generate_assignment", A, "--force", "--log-level=ERROR"], cwd=course,
                   env={**tool_env(), "MHSA_DB_URL": ""}, check=True, capture_output=True, timeout=300)
    shutil.copy(course / "gradebook.db", course.parent / GENERATED)
    listener = socket.create_server(("127.0.0.1", 0))  # the host's loopback: unreachable from the sandbox
    port = listener.getsockname()[1]
    threading.Thread(target=lambda: [listener.accept() for _ in range(5)], daemon=True).start()
    learners = {"ada": learner_copy("ada"), "ben": learner_copy("ben"), **attacks(course, port)}
    for who, nb in learners.items():
        folder = course / "submitted" / who / A
        folder.mkdir(parents=True)
        target = folder / f"{A}.ipynb"
        if callable(nb):
            nb(target)
        else:
            target.write_bytes(nb) if isinstance(nb, bytes) else nbformat.write(nb, target)
    os.environ.pop("MHSA_DB_URL", None)
    start = time.monotonic()
    jobs, refused = grading.run(course, workers=2, limits=LIMITS, progress=False)
    seconds = time.monotonic() - start
    time.sleep(4)  # the detached writer's sleep: it must have been killed with its notebook
    listener.close()
    return course, {j.student: j for j in jobs}, refused, seconds


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_every_attack_earns_nothing_undeserved_and_everyone_is_graded(graded, who):
    course, jobs, refused, _ = graded
    assert refused == []
    job = jobs[who]
    points, phrase = EXPECTED[who]
    if points is not None:
        assert job.earned == points, (job.reason, job.notes, [(v.grade_id, v.earned, v.message[:120]) for v in job.verdicts])
    else:
        assert job.earned <= (BEN if who in BASED_ON_BEN else FULL)
    if phrase:
        assert phrase in job.reason + " ".join(job.notes), (job.reason, job.notes)


def test_a_softmax_that_turns_the_hooks_off_still_loses_the_points_for_the_rule(graded):
    """The forbidden operators are switched off in the sandbox itself: hiding from the hooks does not help."""
    _, jobs, _, _ = graded
    softmax = [v for v in jobs["hooks_off"].verdicts if v.grade_id.startswith("test_softmax")]
    assert softmax and all(v.earned == 0 and not v.flag for v in softmax)
    assert all("torch's built-in softmax" in v.message for v in softmax), [v.message[:200] for v in softmax]


def test_the_reference_is_not_in_the_sandbox(graded):
    _, jobs, _, _ = graded
    delegated = {v.grade_id: v for v in jobs["delegates_to_reference"].verdicts}
    for grade_id in ("test_softmax_values", "test_sdpa_values"):
        assert delegated[grade_id].earned == 0 and "reference" in delegated[grade_id].message, delegated[grade_id].message
    assert jobs["copies_reference"].earned == BEN  # reward_control shows the same cheat earns FULL where it works


def test_a_notebook_that_kills_its_worker_keeps_what_was_judged_and_the_others_are_graded(graded):
    _, jobs, refused, _ = graded
    earned = {v.grade_id: v.earned for v in jobs["kills_worker"].verdicts}
    assert earned["test_softmax_values"] == 2.0  # judged before the kill
    assert all(e == 0 for g, e in earned.items() if g.startswith("test_sdpa"))
    assert refused == [] and jobs["ada"].earned == FULL and jobs["ben"].earned == BEN


def test_partial_records_keep_the_cells_graded_before_the_stop(graded):
    _, jobs, _, _ = graded
    for who in ("os_exit", "segfault", "infinite_loop"):
        earned = {v.grade_id: v.earned for v in jobs[who].verdicts}
        assert earned["test_softmax_values"] == 2.0, who  # before the stop: kept
        stopped = [v for v in jobs[who].verdicts if v.grade_id.startswith("test_sdpa")]
        assert all(v.earned == 0 for v in stopped), who
    assert all("stopped" in v.flag for v in jobs["os_exit"].verdicts if v.grade_id.startswith("test_sdpa"))


def test_stripped_metadata_is_graded_by_the_instructors_cells(graded):
    _, jobs, _, _ = graded
    # without metadata no solution cell can be found by its id: the functions are defined by plain cells,
    # which run too, so the checks still find them
    assert jobs["stripped_metadata"].earned == FULL


def test_the_gradebook_holds_every_grade_and_nothing_else_touched_it(graded):
    course, jobs, _, _ = graded
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(A)}
    assert scores == {who: job.earned for who, job in jobs.items()}
    rows = (course / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(jobs)


def test_feedback_teaches_without_leaking_hidden_tests(graded):
    course, jobs, _, _ = graded
    text = (course / "feedback" / "ben" / A / f"{A}.html").read_text()
    assert "exp overflowed" in text and "divided by d_k" in text  # the judge's messages
    for secret in ("BEGIN HIDDEN TESTS", "check.softmax_stability(", "clamp_min", "def _variant"):
        assert secret not in text
    assert "Grading stopped early" in (course / "feedback" / "infinite_loop" / A / f"{A}.html").read_text()


def test_the_summary_says_who_was_graded_and_who_could_not_be(graded):
    course, jobs, refused, _ = graded
    text = grading.summary(list(jobs.values()), refused + [("zoe", A, "no 04_attention.ipynb in the submission")])
    assert "ada" in text and "18 / 18" in text and "zoe" in text and "not graded" in text
    assert "ran longer than" in text and "graded: 30 notebook(s); could not be graded: 1" in text


def test_a_second_run_redoes_nothing_and_changes_nothing(graded):
    course, jobs, _, _ = graded
    before = {p: p.stat().st_mtime_ns for p in (course / "autograded").rglob(grading.VERDICTS)}
    again, refused = grading.run(course, workers=2, limits=LIMITS, progress=False, export=False)
    assert all(j.cached for j in again)
    assert {j.student: j.earned for j in again} == {who: j.earned for who, j in jobs.items()}
    assert {p: p.stat().st_mtime_ns for p in (course / "autograded").rglob(grading.VERDICTS)} == before


def test_a_killed_run_resumes_and_loses_nothing(graded, tmp_path):
    course, jobs, _, _ = graded
    copy_ = tmp_path / "class"
    shutil.copytree(course, copy_, ignore=shutil.ignore_patterns("autograded", "feedback", "grades.csv", "gradebook.db"))
    fresh_gradebook(course, copy_)
    for who in [w for w in jobs if w not in ("ada", "ben", "transformer", "network")]:
        shutil.rmtree(copy_ / "submitted" / who)
    process = subprocess.Popen([sys.executable, "-m", "grader.run", "--course", str(copy_), "--workers", "1"],
                               env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((copy_ / "autograded").rglob(grading.VERDICTS)) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # midway: at least one notebook done, not all
    process.wait()
    kept = {p: p.read_text() for p in (copy_ / "autograded").rglob(grading.VERDICTS)}
    assert 1 <= len(kept) < 4
    resumed, _ = grading.run(copy_, workers=1, limits=LIMITS, progress=False)
    assert sum(j.cached for j in resumed) == len(kept)  # only the missing ones were graded
    assert {j.student: j.earned for j in resumed} == {w: jobs[w].earned for w in ("ada", "ben", "transformer", "network")}
    assert all(p.read_text() == text for p, text in kept.items())


def test_grading_refuses_to_run_unsandboxed_unless_asked(graded, monkeypatch):
    monkeypatch.setattr(sandbox, "BWRAP", "/nonexistent/bwrap")
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.command(sandbox.Limits())
    unsandboxed = sandbox.command(sandbox.Limits(), sandboxed=False)
    assert unsandboxed[-1] == str(sandbox.sandbox_dir()) and "--in-sandbox" not in unsandboxed


def test_make_grade_prints_the_summary(graded):
    course, _, _, _ = graded
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "grader.run", "--course",
                             str(course), "--assignment", A], env=tool_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ada" in result.stdout and "kept from an earlier run" in result.stdout and "grades.csv" in result.stdout
    assert json.loads((course / "autograded" / "ada" / A / grading.VERDICTS).read_text())["verdicts"]
    # the run's record (grader.record): this run graded nothing new, and says so in JSON, not in prose
    rows = record.read(course / record.NAME)
    last = record.read(course / record.NAME, run=record.runs(rows)[-1])
    assert [r["kind"] for r in last][-1] == "run" and last[-1]["tool"] == "make grade"
    assert last[-1]["graded"] == 0 and last[-1]["kept"] > 0 and last[-1]["seconds"] > 0
    first = record.read(course / record.NAME, run=record.runs(rows)[0])  # the fixture's run graded the class
    assert sum(r["kind"] == "notebook" for r in first) > 0 and record.phases(first)["judging"] > 0


# --- the same machinery in plain nbgrader commands ---------------------------------------------------------

STOCK_CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
"""


def _stock_course(root: Path) -> float:
    """The monkeypatch attack graded by stock nbgrader (STOCK_CONFIG: nbgrader's own preprocessors), with its
    feedback; its score."""
    root.mkdir()
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copytree(ROOT / "exercises", root / "exercises")
    (root / "nbgrader_config.py").write_text(STOCK_CONFIG.format(root=str(root)))
    folder = root / "submitted" / "monkeypatch" / A
    folder.mkdir(parents=True)
    nbformat.write(with_cell(learner_copy("ben"), MONKEYPATCH, before="scaled_dot_product_attention"), folder / f"{A}.ipynb")
    env = {**tool_env(), "MHSA_DB_URL": ""}
    for args in (["generate_assignment", A, "--force"], ["autograde", A], ["generate_feedback", A]):
        subprocess.run(["nbgrader", *args, "--log-level=ERROR"], cwd=root, env=env, check=True, capture_output=True,
                       timeout=600)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(A)}["monkeypatch"]


MONKEYPATCH = ("import mhsa_ref.checks._core as core\n"
               "check.expect_close = core.expect_close = lambda *a, **k: None  # every comparison passes")


def test_plain_nbgrader_autograde_uses_the_judge(tmp_path, plain_graded):
    """With the repo's config, `nbgrader autograde` is fooled by nothing that fools it with a stock config.

    The stock course grades the monkeypatch attack (ben's answers with every comparison made to pass); it,
    ben and ada are in the attack class that plain_graded grades with the repo's config.
    """
    assert _stock_course(tmp_path / "stock") > BEN  # the attack works on stock nbgrader: the test below can fail
    plain, _, ours, _ = plain_graded
    assert {who: ours[who] for who in ("ada", "ben", "monkeypatch")} == {"ada": FULL, "ben": BEN, "monkeypatch": BEN}
    feedback = _feedback(plain, "ben")
    assert "exp overflowed" in feedback and "BEGIN HIDDEN TESTS" not in feedback
    assert "check.softmax_stability(" not in feedback  # a hidden check's call, shown by stock feedback
    # and stock feedback shows it (to the attacker too: their notebook is ben's and one cell): the line above can fail
    stock_feedback = (tmp_path / "stock" / "feedback" / "monkeypatch" / A / f"{A}.html").read_text()
    assert "check.softmax_stability(" in stock_feedback


def _feedback(plain: Path, who: str) -> str:
    """`nbgrader generate_feedback` for the plain-graded class (once), and `who`'s feedback."""
    out = plain / "feedback" / who / A / f"{A}.html"
    if not out.exists():
        subprocess.run(["nbgrader", "generate_feedback", A, "--log-level=ERROR"], cwd=plain,
                       env={**tool_env(), "MHSA_DB_URL": ""}, check=True, capture_output=True, timeout=600)
    return out.read_text()


# --- the whole attack class through plain `nbgrader autograde`, in one batch ---------------------------------


@pytest.fixture(scope="module")
def plain_graded(graded, tmp_path_factory):
    """The same 30 submissions, graded by one plain `nbgrader autograde` with the repo's config (same limits)."""
    course, _, _, _ = graded
    plain = tmp_path_factory.mktemp("plain") / "class"
    shutil.copytree(course, plain, ignore=shutil.ignore_patterns("autograded", "feedback", "grades.csv", "gradebook.db",
                                                                record.NAME))
    with open(plain / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.JudgedExecute.limits = {LIMITS.as_dict()!r}\nc.JudgedExecute.workers = 2\n")
    fresh_gradebook(course, plain)
    env = {**tool_env(), "MHSA_DB_URL": ""}
    result = subprocess.run(["nbgrader", "autograde", A, "--log-level=WARN"], cwd=plain, env=env,
                            capture_output=True, text=True, timeout=900)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{plain / 'gradebook.db'}") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(A)}
    return plain, result, scores, record.read(plain / record.NAME)  # the run's record, as make grade writes it


def test_plain_nbgrader_grades_ahead_of_its_loop_on_reused_workers(plain_graded):
    *_, times = plain_graded
    assert {t["tool"] for t in times} == {"nbgrader autograde"} and len(record.runs(times)) == 1
    assert len(times) == len(EXPECTED) and all(t["kind"] == "notebook" and t["ahead"] for t in times)  # each sent ahead
    # two workers, replaced only when a notebook killed its own (os._exit and a crash end only the child)
    assert sum("worker start" in t["seconds"] for t in times) <= 4


def test_plain_nbgrader_grades_the_whole_attack_class_as_make_grade_does(graded, plain_graded):
    _, jobs, _, _ = graded
    _, result, scores, _ = plain_graded
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "There was an error processing" not in log, log[-3000:]
    assert scores == {who: job.earned for who, job in jobs.items()}, log[-3000:]


def test_plain_nbgrader_says_why_a_notebook_could_not_be_graded_in_full(graded, plain_graded):
    _, jobs, _, _ = graded
    _, result, _, _ = plain_graded
    log = result.stdout + result.stderr
    stopped = {who: job.reason for who, job in jobs.items() if job.reason}
    assert {"infinite_loop", "os_exit", "segfault", "malformed"} <= set(stopped)
    for who, reason in stopped.items():
        # the same kind of stop (a timing-dependent reason may name the cell's or the notebook's limit under load)
        line = next((l for l in log.splitlines() if f"{who}/{A} could not be graded in full: " in l), "")
        assert line, (who, reason)
        phrase = EXPECTED.get(who, (None, None))[1]
        assert phrase is None or phrase in line or phrase in reason, (who, reason, line)
    assert f"malformed/{A}: the notebook could not be read" in log  # and the instructor's copy stood in for it
    assert f"duplicated_tests/{A}: a copy of 'test_softmax_values' became a plain cell" in log
    assert f"deleted_tests/{A}: test cell test_sdpa_values was missing and was put back" in log


def test_plain_nbgrader_feedback_shows_the_verdicts_of_repaired_notebooks(plain_graded):
    plain, _, _, _ = plain_graded
    deleted = _feedback(plain, "deleted_tests")
    assert "softmax_values" in deleted and "BEGIN HIDDEN TESTS" not in deleted
    assert "could not be read" in _feedback(plain, "malformed")


# --- the worker imports the mhsa_ref the grader bound, wherever the course folder is -----------------------


def test_a_copy_of_the_course_grades_with_its_own_mhsa_ref(graded, tmp_path):
    """`python -m grader.run` in a copy of the course imports the copy's mhsa_ref: so must its workers."""
    copy_ = tmp_path / "course-copy"
    copy_.mkdir()
    for name in ("solutions", "exercises", "mhsa_ref", "grader"):
        shutil.copytree(ROOT / name, copy_ / name, ignore=shutil.ignore_patterns("__pycache__"))
    core = copy_ / "mhsa_ref" / "checks" / "_core.py"
    core.write_text(core.read_text().replace('line = f"✔ ', 'line = f"(graded by the copy) ✔ '))
    shutil.copy(ROOT / "nbgrader_config.py", copy_)
    fresh_gradebook(graded[0], copy_)
    folder = copy_ / "submitted" / "ada" / A
    folder.mkdir(parents=True)
    nbformat.write(learner_copy("ada"), folder / f"{A}.ipynb")
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "grader.run", "--quiet"],
                            cwd=copy_, env={**tool_env(), "MHSA_DB_URL": ""}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((copy_ / "autograded" / "ada" / A / grading.VERDICTS).read_text())["verdicts"][0]["earned"] > 0
    # the grader (and so the judge) used the copy: its messages carry the copy's mark
    assert "(graded by the copy)" in json.loads((copy_ / "autograded" / "ada" / A / grading.VERDICTS).read_text())[
        "verdicts"][0]["message"]


def test_a_worker_that_cannot_start_says_why(monkeypatch):
    from grader.sandboxed import worker

    monkeypatch.setattr(worker, "BOOT", "import sys; sys.exit('no torch here: the environment is broken')")
    with pytest.raises(sandbox.SandboxUnavailable, match="no torch here: the environment is broken"):
        sandbox.Worker(LIMITS)


# --- the worker's reading of a submission, and the pool's size ----------------------------------------------


def test_the_worker_reads_any_submission_as_nbformat_would_and_tolerates_broken_metadata():
    from grader.sandboxed.worker import learner_cells

    nb = learner_copy("ada")
    expected = [(c.metadata.get("nbgrader", {}).get("grade_id"), c.get("id"), c.source)
                for c in nb.cells if c.cell_type == "code"]
    assert learner_cells(nbformat.writes(nb)) == expected  # nbformat writes sources as lists of lines
    raw = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {"nbgrader": "not a dict"}, "source": ["x = ", "1"]},
        {"cell_type": "code", "metadata": [], "source": 42, "id": 7},
        {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": ["no"]}}, "source": "y = 2"},
        "not a cell", {"cell_type": "markdown", "source": "text"}]}
    assert learner_cells(json.dumps(raw)) == [(None, None, "x = 1"), (None, None, ""), (None, None, "y = 2")]
    v3 = nbformat.v3.new_notebook(worksheets=[nbformat.v3.new_worksheet(cells=[nbformat.v3.new_code_cell("z = 3")])])
    assert [source for _, _, source in learner_cells(nbformat.writes(v3, version=3))] == ["z = 3"]
    for bad in ('{"cells": [ this is not json', "[1, 2]", '{"cells": "none"}'):
        with pytest.raises(ValueError):
            learner_cells(bad)


def test_the_pool_starts_one_worker_per_8_notebooks_up_to_one_per_core(monkeypatch):
    from grader import pool

    monkeypatch.setattr(pool.os, "cpu_count", lambda: 4)
    assert [pool.pool_size(n) for n in (1, 2, 8, 9, 16, 17, 64)] == [1, 1, 1, 2, 2, 3, 4]
    assert pool.pool_size(64, workers=2) == 2 and pool.pool_size(1, workers=3) == 1


# --- one worker, notebooks in a row: what one does to the worker never reaches the next ---------------------


def _in_a_row(notebooks: list, monkeypatch, **limits) -> list:
    """Grade these notebooks one after another on a pool of one worker; their outcomes."""
    from grader import pool

    monkeypatch.setattr(sandbox.Worker, "MARGIN_S", 5)
    loaded = assignment.load(ROOT, A)
    with pool.Pool(1, sandbox.Limits(**{**LIMITS.as_dict(), **limits})) as workers:
        futures = [workers.submit(f"learner{i}/{A}", nbformat.writes(nb), loaded) for i, nb in enumerate(notebooks)]
        return [f.result(timeout=300) for f in futures]


def test_a_notebook_that_stops_or_kills_its_worker_stops_only_itself(monkeypatch):
    stop = with_cell(learner_copy("ada"), "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)",
                     before="scaled_dot_product_attention")
    kill = with_cell(learner_copy("ada"), "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                     before="scaled_dot_product_attention")
    stopped, after_stop, killed, after_kill = _in_a_row([stop, learner_copy("ada"), kill, learner_copy("ada")],
                                                        monkeypatch, notebook_s=10)
    assert "gave no answer within 15 s" in stopped.reason  # the grader's own deadline, outside the sandbox
    assert "worker itself stopped" in killed.reason
    for outcome in (stopped, killed):
        assert 0 < sum(v.earned for v in outcome.verdicts) < FULL  # the cells before the stop keep their points
    for outcome in (after_stop, after_kill):  # a new worker, and full marks
        assert sum(v.earned for v in outcome.verdicts) == FULL and not outcome.reason
        assert "worker start" in outcome.timing


def test_nothing_a_notebook_leaves_in_tmp_reaches_the_next(monkeypatch):
    plant = with_cell(learner_copy("ada"), "import os\nopen('/tmp/planted', 'w').write('x')\n"
                                           "os.makedirs('/tmp/elsewhere', exist_ok=True)\nos.chdir('/tmp')\n"
                                           "import shutil\nshutil.rmtree('/tmp/mhsa-worker/scratch')\n"
                                           "os.symlink('/tmp/elsewhere', '/tmp/mhsa-worker/scratch')")
    # ben's notebook, with ada's answers if anything of the first notebook is still there
    seen = reward_if("os.path.exists('/tmp/planted') or os.path.islink('/tmp/mhsa-worker/scratch')")
    _, second = _in_a_row([plant, seen], monkeypatch)
    assert sum(v.earned for v in second.verdicts) == BEN, second.notes
