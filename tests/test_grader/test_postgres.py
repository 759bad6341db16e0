"""The gradebook on PostgreSQL: a real server (Debian's package) on loopback, graded into by plain nbgrader.

Two course folders stand for two grading machines: each has its own copy of the course and its own
share of the submissions, and both name the same `db_url` (through $MHSA_DB_URL, which the repo's
nbgrader_config.py reads). Their grades meet in one gradebook, and `nbgrader export` from either
machine lists the whole class.
"""

from __future__ import annotations

import csv
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import demo_builder
from conftest import ROOT, free_port, tool_env

pytestmark = pytest.mark.slow
ASSIGNMENT = "04_attention"  # quick to grade; ada 13/13, ben 5/13 (tests/test_grader/test_pipeline.py)


def _as_server_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; as root, run its tools as the package's `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="module")
def postgres():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:  # not a skip: `make test` installs the package first
        pytest.fail("PostgreSQL is missing: run `make system-packages` (Debian package postgresql)")
    bin_dir = Path(found[-1]).parent
    # not pytest's tmp folder: as root that is private to root, and the server runs as `postgres`
    home = Path(tempfile.mkdtemp(prefix="mhsa-postgres-"))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "grader", "-A", "trust",
                                    "--no-sync"]), check=True, capture_output=True, timeout=120)
    port = free_port()
    server = subprocess.Popen(_as_server_user([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                                               "-c", "listen_addresses=127.0.0.1", "-k", str(sockets),
                                               "-c", "fsync=off"]),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    import psycopg2

    try:
        for _ in range(120):
            try:
                connection = psycopg2.connect(host="127.0.0.1", port=port, user="grader", dbname="postgres")
                break
            except psycopg2.OperationalError:
                if server.poll() is not None:
                    pytest.fail(f"postgres exited:\n{server.stdout.read().decode()}")
                time.sleep(0.5)
        else:
            pytest.fail("PostgreSQL did not accept connections within 60 s")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE gradebook")
        connection.close()
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/gradebook"  # SQLAlchemy 2.1 would pick psycopg 3
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(home, ignore_errors=True)


def _machine(root: Path, learners: list[str]) -> Path:
    """A grading machine's copy of the course, holding only its share of the submissions."""
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copytree(ROOT / "exercises", root / "exercises")
    for learner in learners:
        target = root / "submitted" / learner / ASSIGNMENT
        target.mkdir(parents=True)
        shutil.copy(demo_builder.path_of(learner, ASSIGNMENT), target / f"{ASSIGNMENT}.ipynb")
    return root


def _nbgrader(machine: Path, db_url: str, *args: str) -> None:
    env = {**tool_env(), "MHSA_DB_URL": db_url, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(["nbgrader", *args, "--log-level=WARN"], cwd=machine, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def test_two_machines_grade_into_one_postgresql_gradebook(postgres, tmp_path):
    first, second = _machine(tmp_path / "machine-1", ["ada"]), _machine(tmp_path / "machine-2", ["ben"])
    _nbgrader(first, postgres, "generate_assignment", ASSIGNMENT, "--force")  # records the assignment's cells
    _nbgrader(first, postgres, "autograde", ASSIGNMENT)
    _nbgrader(second, postgres, "autograde", ASSIGNMENT)
    _nbgrader(second, postgres, "export")

    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert scores == {"ada": 18.0, "ben": 9.0}
    with open(second / "grades.csv") as f:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert exported == scores  # one machine's export has the other's learner too
    assert not (first / "gradebook.db").exists() and not (second / "gradebook.db").exists()  # no SQLite fallback


def test_the_default_gradebook_is_sqlite_in_the_repo():
    env = {k: v for k, v in os.environ.items() if k != "MHSA_DB_URL"}
    script = ("from traitlets.config import PyFileConfigLoader; "
              "c = PyFileConfigLoader('nbgrader_config.py', path=%r).load_config(); "
              "print(c.CourseDirectory.db_url)" % str(ROOT))
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "sqlite:///" + str(ROOT / "gradebook.db"), out.stderr
