"""Collecting from nbgrader's exchange: what a learner may have left in the inbound is sorted out, with reasons.

`nbgrader collect`, with the repo's nbgrader_config.py (grader/exchange.py), on a course whose
gradebook lists ada and ben, and an inbound folder holding: ada's two submissions, ben's one, one from
zoe (not on the roster), one whose time is not a time, and one that claims to be another Unix account's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, VENV_BIN, tool_env

A = "04_attention"
EARLY, LATE = "2026-11-30 10:00:00.000001 UTC", "2026-11-30 11:00:00.000001 UTC"


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "nbgrader"), *args, f"--Exchange.root={course / 'exchange'}"], cwd=course,
                          env={**tool_env(), "MHSA_DB_URL": ""}, capture_output=True, text=True, timeout=300)


def entry(course: Path, name: str, text: str, owner: int | None = None) -> None:
    folder = course / "exchange" / "mhsa" / "inbound" / name
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_text(text)
    if owner is not None:
        for path in (folder, folder / f"{A}.ipynb"):
            os.chown(path, owner, owner)


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    course = tmp_path_factory.mktemp("exchange")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    (course / "exchange" / "mhsa" / "outbound" / A).mkdir(parents=True)
    for learner in ("ada", "ben"):
        assert nbgrader(course, "db", "student", "add", learner).returncode == 0
    entry(course, f"ada+{A}+{EARLY}+aaaaaaaaaaaa", "ada, first try")
    entry(course, f"ada+{A}+{LATE}+bbbbbbbbbbbb", "ada, second try")
    entry(course, f"ben+{A}+{EARLY}+cccccccccccc", "ben")
    entry(course, f"zoe+{A}+{EARLY}+dddddddddddd", "zoe")
    entry(course, f"ben+{A}+yesterday+eeeeeeeeeeee", "a time that is not a time")
    if os.geteuid() == 0:  # 'daemon' is a Unix account: an entry it does not own claims to be someone else's
        entry(course, f"daemon+{A}+{LATE}+ffffffffffff", "forged", owner=65534)
    result = nbgrader(course, "collect", A)
    never = nbgrader(course, "collect", "99_never_released")
    return course, result, never


def test_each_learner_on_the_roster_is_collected_once_and_the_latest(collected):
    course, result, _ = collected
    assert result.returncode == 0, result.stdout + result.stderr
    submitted = sorted(p.name for p in (course / "submitted").iterdir())
    assert submitted == ["ada", "ben"]
    assert (course / "submitted" / "ada" / A / f"{A}.ipynb").read_text() == "ada, second try"
    assert "ada submitted 04_attention 2 times: the latest" in result.stderr


def test_every_entry_left_behind_is_named_with_its_reason(collected):
    _, result, _ = collected
    log = result.stderr
    assert "zoe+04_attention" in log and "zoe is not on the course's roster" in log
    assert "its time 'yesterday' is not a time" in log
    if os.geteuid() == 0:
        assert "it claims to be daemon's but belongs to nobody" in log


def test_an_assignment_never_released_collects_nothing_and_says_why(collected):
    course, _, never = collected
    entry(course, "ada+99_never_released+" + EARLY + "+gggggggggggg", "sneaked in")
    again = nbgrader(course, "collect", "99_never_released")
    assert never.returncode == 0 and again.returncode == 0, again.stderr
    assert "99_never_released was never released, so it cannot be submitted" in again.stderr
    assert not (course / "submitted" / "ada" / "99_never_released").exists()
