"""Two packages, one direction: `grader` imports `mhsa_ref`, never the reverse, and no grader module reaches a learner.

Read from the source (every import statement, the ones inside functions too), so a lazy import
cannot hide a dependency, and proven on the learner kit as a learner gets it: installed with pip
into a fresh virtual environment, where the grader must not be importable.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, learner_kit

def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py")) if "__pycache__" not in p.parts}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (absolute names; relative imports resolved)."""
    found: set[str] = set()
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # `from grader import run` imports grader.run
    return found


def graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of `package` it imports (its own package's __init__ aside: it imports nothing)."""
    mods = modules(package)
    return {name: {m for m in imports(path) if m in mods and m != name and m != package} for name, path in mods.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `edges` (a list that starts and ends with the same module), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_mhsa_ref_never_imports_the_grader():
    offenders = {name: sorted(m for m in imports(path) if m == "grader" or m.startswith("grader."))
                 for name, path in modules("mhsa_ref").items()}
    assert not {k: v for k, v in offenders.items() if v}
    assert any("mhsa_ref" in m for m in imports(ROOT / "grader" / "judge.py"))  # the control: the grader does


def test_no_import_circle_in_the_grader():
    edges = graph("grader")
    assert len(edges) >= 15 and edges["grader.run"] >= {"grader.pool", "grader.cluster", "grader.assignment"}
    assert cycle(edges) is None, " -> ".join(cycle(edges))
    assert cycle(graph("mhsa_ref")) is None


def test_the_circle_finder_finds_the_circle_this_package_had():
    """run, pool and cluster imported each other before the assignment had a module of its own."""
    old = {"grader.run": {"grader.pool", "grader.cluster"}, "grader.pool": {"grader.run", "grader.sandbox"},
           "grader.cluster": {"grader.pool", "grader.run"}, "grader.sandbox": set()}
    found = cycle(old)
    assert found and found[0] == found[-1] and "grader.run" in found


def test_the_sandboxed_part_imports_nothing_else_of_the_grader():
    """What runs inside the sandbox is copied there whole (kit.sandbox_package): it may need no other grader module."""
    edges = graph("grader")
    for name, deps in edges.items():
        if name.startswith("grader.sandboxed"):
            assert all(d.startswith("grader.sandboxed") for d in deps), (name, deps)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    """The learner kit as a learner installs it, into a virtual environment made now (dependencies aside)."""
    kit = learner_kit()
    work = tmp_path_factory.mktemp("fresh")
    wheels = work / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "-w", str(wheels), str(kit)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = venv / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                           *map(str, wheels.glob("*.whl"))], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return python


PROBE = """
import importlib, importlib.metadata, json, sys
out = {"files": [str(f) for f in importlib.metadata.files("mhsa-course-learner")]}
import mhsa_ref
out["mhsa_ref"] = mhsa_ref.__file__
out["imported"] = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
        out["imported"][name] = "imported"
    except ModuleNotFoundError as e:
        out["imported"][name] = e.name
print(json.dumps(out))
"""


def test_no_grader_module_reaches_a_learner(fresh_venv):
    names = sorted(modules("grader"))
    result = subprocess.run([str(fresh_venv), "-I", "-c", PROBE, json.dumps(names)], capture_output=True,
                            text=True, timeout=300, cwd=fresh_venv.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout)
    assert "site-packages" in out["mhsa_ref"]  # the kit is what it imported
    assert len(out["files"]) > 20 and not [f for f in out["files"] if f.split("/")[0] in ("grader", "grading")]
    assert names and all(out["imported"][n] == "grader" for n in names), out["imported"]  # no `grader` at all


def test_the_tests_mirror_the_packages_without_shadowing_them():
    """tests/test_mhsa_ref and tests/test_grader: a folder of tests/ named like a package would shadow it."""
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert {"test_mhsa_ref", "test_grader", "test_course"} <= folders and not folders & {"mhsa_ref", "grader"}
    for package in ("mhsa_ref", "grader"):  # a test file per module of each package, or a name that says why not
        tested = {p.stem.removeprefix("test_") for p in (ROOT / "tests" / f"test_{package}").glob("test_*.py")}
        assert len(tested) >= 8, (package, tested)
