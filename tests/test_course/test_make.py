"""The README's commands: `make` builds everything, a second `make` redoes nothing, CI calls `make test`."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import torch

from conftest import ROOT, tool_env

pytestmark = pytest.mark.slow


def test_readme_starts_with_the_two_setup_commands():
    commands = re.findall(r"^\s*(make[^\n#]*?)\s*$", (ROOT / "README.md").read_text(), flags=re.M)
    assert commands[:2] == ["make", "make test"]


def test_ci_runs_exactly_make_test():
    lines = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines[-1] == "make test"
    assert not any(word in l.split() for l in lines for word in ("pip", "pytest", "python", "python3"))


# The grade table `make` prints for the demo class (tests/demo_submissions): ada full marks, ben's mistakes
# cost him some points of every assignment (tests/test_grader/test_pipeline.py names the cells they fail).
DEMO_GRADES = {
    "ada": {"01_one_hot": "16 / 16", "02_word2vec": "15 / 15", "03_elmo": "13 / 13", "04_attention": "18 / 18",
            "05_self_attention": "17 / 17", "06_split_heads": "15 / 15", "07_concat_and_output": "19 / 19",
            "08_cost_and_gpu": "14 / 14", "09_trained_heads": "18 / 18"},
    "ben": {"01_one_hot": "15 / 16", "02_word2vec": "11 / 15", "03_elmo": "10 / 13", "04_attention": "9 / 18",
            "05_self_attention": "14 / 17", "06_split_heads": "13 / 15", "07_concat_and_output": "16 / 19",
            "08_cost_and_gpu": "9 / 14", "09_trained_heads": "9 / 18"},
}
if torch.cuda.is_available():  # the hidden CUDA runs catch two of ben's mistakes once more (see test_pipeline.py)
    DEMO_GRADES["ben"].update({"01_one_hot": "14 / 16", "04_attention": "7 / 18"})


def test_make_printed_grades_and_locations(made):
    for learner, grades in DEMO_GRADES.items():
        for assignment, points in grades.items():
            assert re.search(rf"{learner}\s+{assignment}\s+{points}\b", made.stdout), made.stdout
    for place in ("_build/html/index.html", "feedback", "grades.csv"):
        assert place in made.stdout
    # ben's new functions are ada's (tests/demo_builder.py): the copy-similarity summary names them
    assert "similarity:" in made.stdout and "attention_entropy:\n    ada and ben: 100% / 100%" in made.stdout
    for assignment in DEMO_GRADES["ben"]:
        assert (ROOT / "feedback" / "ben" / assignment / f"{assignment}.html").exists()


def test_second_make_reinstalls_and_reexecutes_nothing(made):
    dry = subprocess.run(["make", "--dry-run"], cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    for step in ("pip install", "jupyter-book build", "nbgrader generate_assignment", "grader.run"):
        assert step not in dry.stdout, f"a no-change make would run `{step}`:\n{dry.stdout}"
    again = subprocess.run(["make"], cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "18 / 18" in again.stdout


def test_benchmark_script_runs(tmp_path):
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "benchmarks/bench_attention.py", "--smoke"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| cpu | float32 |" in result.stdout and "mhsa_ref fused" in result.stdout


def test_layer_benchmark_writes_what_chapter_08_reads(tmp_path):
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "benchmarks/bench_layer.py", "--smoke",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| float32 | 1 | 32 | 32 | 4 | explicit |" in result.stdout
    recorded = json.loads((tmp_path / "layer_cpu.json").read_text())
    assert recorded["device"] == "cpu" and recorded["peak_tflops"]["float32"] > 0
    paths = {(r["T"], r["path"]): r for r in recorded["rows"]}
    assert sorted(paths) == [(T, path) for T in (16, 32) for path in ("explicit", "fused", "sdpa math")]
    for r in recorded["rows"]:
        assert r["error"] is None and r["median_ms"] > 0 and r["flops"] == 8 * 32 * 32 * r["T"] + 4 * r["T"] ** 2 * 32
        assert r["score_bytes"] == 4 * r["T"] ** 2 * 4 and abs(r["tflops"] - r["flops"] / r["median_ms"] / 1e9) < 1e-9
    assert paths[(16, "explicit")]["ratio_to_fused"] > 0 and paths[(16, "sdpa math")]["ratio_to_fused"] > 0
    assert "ratio_to_fused" not in paths[(16, "fused")]


def test_recorded_layer_results_are_complete():
    """Chapter 08 prints benchmarks/results/: the recorded CPU run must be whole and say where it ran."""
    recorded = json.loads((ROOT / "benchmarks" / "results" / "layer_cpu.json").read_text())
    assert recorded["date"] and "cores" in recorded["machine"]
    for path in ("explicit", "sdpa math", "fused"):
        assert [r["T"] for r in recorded["rows"] if r["path"] == path] == [256, 512, 1024, 2048], path
    assert all(r["error"] is None and r["median_ms"] > 0 for r in recorded["rows"])


# --- `make` installs the system packages it needs, before any other work ---------------------------------


def _fake_apt(tmp_path):
    """An apt-get that only writes down how it was called."""
    log = tmp_path / "apt.log"
    apt = tmp_path / "apt-get"
    apt.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    apt.chmod(0o755)
    return apt, log


def _make(args, cwd=ROOT):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=tool_env(), capture_output=True,
                          text=True, timeout=300)


def test_make_installs_the_sandbox_package_as_root(tmp_path):
    """SYSTEM_ROOT=<empty folder>: every package looks missing, whatever this machine has."""
    apt, log = _fake_apt(tmp_path)
    result = _make(["system-packages", f"SYSTEM_ROOT={tmp_path}", f"APT_GET={apt}", "AS_ROOT=yes"])
    assert result.returncode == 0, result.stderr
    assert "installing Debian packages: bubblewrap" in result.stdout
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq" and calls[1].startswith("install -y") and calls[1].split()[-1] == "bubblewrap"


def test_make_test_installs_the_test_packages_too(tmp_path):
    apt, log = _fake_apt(tmp_path)
    result = _make(["test-packages", f"SYSTEM_ROOT={tmp_path}", f"APT_GET={apt}", "AS_ROOT=yes"])
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines()[1].split()[-5:] == ["bubblewrap", "chromium", "postgresql", "nodejs", "npm"]
    assert _make(["-n", "test"]).stdout.splitlines()[0].count("chromium") >= 1  # the check comes first


def test_make_hub_installs_node_and_npm_for_the_proxy(tmp_path):
    apt, log = _fake_apt(tmp_path)
    result = _make(["hub-packages", f"SYSTEM_ROOT={tmp_path}", f"APT_GET={apt}", "AS_ROOT=yes"])
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines()[1].split()[-3:] == ["bubblewrap", "nodejs", "npm"]


def test_make_installs_nothing_that_is_there(tmp_path):
    apt, log = _fake_apt(tmp_path)
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    (tmp_path / "usr" / "bin" / "bwrap").touch()
    result = _make(["system-packages", f"SYSTEM_ROOT={tmp_path}", f"APT_GET={apt}", "AS_ROOT=yes"])
    assert result.returncode == 0 and not log.exists(), result.stdout


def test_make_without_root_stops_before_any_work_and_says_what_to_run(tmp_path):
    """A fresh folder with the Makefile: `make` as a user who cannot install stops first, with one line to run."""
    for name in ("Makefile", "pyproject.toml", "constraints.txt"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    empty = tmp_path / "root"
    empty.mkdir()
    result = _make([f"SYSTEM_ROOT={empty}", "AS_ROOT="], cwd=tmp_path)
    assert result.returncode != 0
    assert "install them with:  sudo apt-get update && sudo apt-get install -y bubblewrap" in result.stdout
    assert not (tmp_path / ".venv").exists() and not (tmp_path / "_build").exists()  # nothing else was started


def test_unsandboxed_grading_does_not_ask_for_bubblewrap(tmp_path):
    """UNSANDBOXED=1 make grade is how one grades where bubblewrap cannot be installed."""
    args = ["-n", "grade", f"SYSTEM_ROOT={tmp_path}", "AS_ROOT="]
    assert "sudo apt-get install" in _make(args).stdout  # the check is there for a sandboxed run
    assert "sudo apt-get install" not in _make([*args, "UNSANDBOXED=1"]).stdout


def test_make_prints_no_library_warning_or_log_noise(made):
    """Issue 25: no library warning in make's output; jieba's dictionary log (the zh search) is silenced too."""
    output = made.stdout + made.stderr
    noise = re.findall(r".*(?:\b\w*Warning\b|Building prefix dict|Loading model cost).*", output)
    assert noise == [], noise[:5]


def test_lang_on_the_command_line_picks_the_books_language_and_the_locale_does_not():
    """`make book LANG=zh` plans the zh build; the environment's LANG (a locale) plans the English one."""
    zh = _make(["-n", "-B", "book", "LANG=zh"])
    assert zh.returncode == 0 and "--config _build/zh/_config.yml" in zh.stdout, zh.stderr
    chinese_locale = subprocess.run(["make", "--no-print-directory", "-n", "-B", "book"], cwd=ROOT,
                                    env={**tool_env(), "LANG": "zh_CN.UTF-8"}, capture_output=True, text=True, timeout=300)
    assert chinese_locale.returncode == 0 and "jupyter-book build" in chinese_locale.stdout
    assert "--config _build/zh" not in chinese_locale.stdout
    for args, says in ((["LANG=fr"], "LANG=fr: the book has the languages en (the default) and zh"),
                       (["LANG=zh", "EDITION=reader"], "the Chinese edition is the class edition")):
        refused = _make(["-n", "book", *args])
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
