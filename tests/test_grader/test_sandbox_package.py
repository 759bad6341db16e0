"""The grading sandbox's own mhsa_ref: nothing in it can answer a check (issue 16: the sandbox holds no reference)."""

from __future__ import annotations

import ast
import inspect
import json

import pytest

from conftest import ROOT
from grader import kit
from grader import judge as J
from notebook_cells import notebook


@pytest.fixture(scope="module")
def package():
    return kit.sandbox_package() / "mhsa_ref"


def learner_functions():
    """(exercise, reference module, name) of every function or class a test cell hands to a check."""
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*/*.ipynb")):
        plan = J.plan(notebook(path.parent.name))
        module = __import__(f"mhsa_ref.{plan.module.rsplit('.', 1)[1]}", fromlist=["_"])
        for symbol in sorted({s for c in plan.cells for _, s in c.checks}):
            if inspect.isfunction(getattr(module, symbol, None)) or inspect.isclass(getattr(module, symbol, None)):
                yield path.parent.name, module, symbol


def body_lines(obj) -> list[str]:
    """The body's code lines (no docstring), normalised as `ast.unparse` writes them."""
    node = ast.parse(inspect.getsource(obj).strip()).body[0]
    body = node.body[1:] if ast.get_docstring(node) else node.body
    return [" ".join(line.split()) for stmt in body for line in ast.unparse(stmt).splitlines() if line.strip()]


def windows(lines: list[str], size: int = 3) -> list[str]:
    """Every run of `size` consecutive lines (the whole body when shorter): what a copy of the code would hold."""
    return ["\n".join(lines[i:i + size]) for i in range(max(1, len(lines) - size + 1))]


def normalised(root) -> str:
    return "\n".join(" ".join(line.split()) for p in sorted(root.rglob("*.py"))
                     for line in ast.unparse(ast.parse(p.read_text())).splitlines() if line.strip())


def test_no_reference_body_is_in_the_sandbox(package):
    text = normalised(package)
    checked = 0
    for exercise, module, name in learner_functions():
        for window in windows(body_lines(getattr(module, name))):
            assert window not in text, f"{exercise} {name}: {window!r} is in the sandbox's mhsa_ref"
            checked += 1
    assert checked > 40
    # the control: the same search finds every body in the course's own package
    full = normalised(kit.PACKAGE)
    assert all(w in full for _, m, n in learner_functions() for w in windows(body_lines(getattr(m, n))))


def test_the_sandbox_stores_no_answer_and_runs_no_check(package):
    store = json.loads((package / "data" / "withheld.json").read_text())
    assert not {k: v for k, v in store.items() if v}, "stored answers in the sandbox"
    assert (package / "data" / "word2vec.pt").is_file() and (package / "data" / "elmo.pt").is_file()
    for path in (package / "checks").glob("*.py"):
        if path.name not in ("__init__.py", "_core.py"):
            assert "runs outside the grading sandbox" in path.read_text() and "def " in path.read_text()
    # of the grader, the sandbox holds grader.sandboxed whole and nothing else: no judge, no runner, no similarity
    grader = package.parent / "grader"
    held = {p.relative_to(grader).as_posix() for p in grader.rglob("*.py")}
    assert held == {"__init__.py"} | {f"sandboxed/{p.name}" for p in kit.SANDBOXED.glob("*.py")}
    assert "judge.py" not in held and {"sandboxed/worker.py", "sandboxed/remote.py", "sandboxed/bans.py"} <= held
    assert not (package / "grading").exists() and not (package / "kit.py").exists()


def test_the_sandbox_copy_follows_the_course(package, tmp_path, monkeypatch):
    """A change to the course is a new sandbox copy (the name carries a digest of the sources)."""
    assert package.parent.name == f"sandbox-{kit.sources_digest()}"
    copy = tmp_path / "mhsa_ref"
    import shutil

    shutil.copytree(kit.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert kit.sources_digest(copy, kit.SANDBOXED) == kit.sources_digest()  # the control: a copy is the same course
    (copy / "attention.py").write_text((copy / "attention.py").read_text() + "\n# changed\n")
    assert kit.sources_digest(copy, kit.SANDBOXED) != kit.sources_digest()
    worker = tmp_path / "sandboxed"  # and so is a change to the grader's part inside the sandbox
    shutil.copytree(kit.SANDBOXED, worker, ignore=shutil.ignore_patterns("__pycache__"))
    (worker / "bans.py").write_text((worker / "bans.py").read_text() + "\n# changed\n")
    assert kit.sources_digest(kit.PACKAGE, worker) != kit.sources_digest()


def test_the_gpu_is_bound_into_the_sandbox_where_there_is_one(monkeypatch):
    from grader import sandbox

    monkeypatch.setattr(sandbox, "gpu_devices", lambda: ["/dev/nvidia0", "/dev/nvidiactl"])
    args = sandbox.command(sandbox.Limits())
    assert args[args.index("/dev/nvidia0") - 1] == "--dev-bind" and "/dev/nvidiactl" in args


def test_the_judge_skips_the_gpu_run_when_the_sandbox_has_no_gpu(monkeypatch):
    """A GPU on the judge's side but none in the sandbox: the CUDA run is skipped and said so, not failed."""
    import torch

    from grader.sandboxed import remote
    from mutants import attention

    plan = J.plan(notebook("04_attention"))
    cell = next(c for c in plan.cells if c.grade_id == "test_softmax_devices")
    ns = dict(attention.CORRECT)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    got = J.judge_cell(plan, cell, remote.Loopback(ns), cuda=False)
    assert got.earned == cell.points and "sandbox has no CUDA device" in got.message
