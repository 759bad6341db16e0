"""The README's commands: `make` builds everything, a second `make` redoes nothing, CI calls `make test`."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT, tool_env

pytestmark = pytest.mark.slow


def test_readme_starts_with_the_two_setup_commands():
    commands = re.findall(r"^\s*(make[^\n#]*?)\s*$", (ROOT / "README.md").read_text(), flags=re.M)
    assert commands[:2] == ["make", "make test"]


def test_ci_runs_exactly_make_test():
    lines = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines[-1] == "make test"
    assert not any(word in l.split() for l in lines for word in ("pip", "pytest", "python", "python3"))


def test_make_printed_grades_and_locations(made):
    assert re.search(r"ada\s+04_attention\s+13 / 13", made.stdout), made.stdout
    assert re.search(r"ben\s+04_attention\s+5 / 13", made.stdout), made.stdout
    for place in ("_build/html/index.html", "feedback", "grades.csv"):
        assert place in made.stdout
    assert (ROOT / "feedback" / "ben" / "04_attention" / "04_attention.html").exists()


def test_second_make_reinstalls_and_reexecutes_nothing(made):
    dry = subprocess.run(["make", "--dry-run"], cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    for step in ("pip install", "jupyter-book build", "nbgrader generate_assignment", "nbgrader autograde"):
        assert step not in dry.stdout, f"a no-change make would run `{step}`:\n{dry.stdout}"
    again = subprocess.run(["make"], cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "13 / 13" in again.stdout


def test_benchmark_script_runs(tmp_path):
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "benchmarks/bench_attention.py", "--smoke"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| cpu | float32 |" in result.stdout and "mhsa_ref fused" in result.stdout
