"""Grading on Dask: a real scheduler and `dask worker` processes on loopback, one killed mid-run.

The class is graded twice: by `make grade`'s default (a LocalCluster in the grading process) and by
a cluster of three workers, one of which has no bubblewrap and must refuse. In the cluster run a
worker is killed once the first verdicts are in. Both gradebooks must hold every notebook exactly
once with the same scores, the refusing worker must be named with its reason, and a rerun must redo
nothing. A scheduler that cannot be reached is an error that names it, before anything is graded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import demo_builder
from conftest import ROOT, VENV_BIN, free_port, tool_env
from grader import cluster
from grader import run as grading

pytestmark = pytest.mark.slow
ASSIGNMENTS = ("04_attention", "06_split_heads")
LEARNERS = 6  # 12 notebooks: enough that a worker killed after the first verdicts dies with work to do
NOT_THERE = "/nonexistent/bwrap"


def make_class(root: Path) -> Path:
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for name in ("solutions", "exercises"):
        shutil.copytree(ROOT / name, root / name)
    subprocess.run([str(VENV_BIN / "nbgrader"), "generate_assignment", "0[46]_*", "--force", "--log-level=ERROR"],
                   cwd=root, env=env(), check=True, capture_output=True, timeout=300)
    for a in ASSIGNMENTS:
        for i in range(LEARNERS):
            folder = root / "submitted" / f"learner{i:02d}" / a
            folder.mkdir(parents=True)
            shutil.copy(demo_builder.path_of("ada" if i % 2 == 0 else "ben", a), folder / f"{a}.ipynb")
    return root


def env(**extra: str) -> dict[str, str]:
    return {**tool_env(), "MHSA_DB_URL": "", **extra}


def gradebook(root: Path) -> list[tuple[str, str, float]]:
    """Every submission in the gradebook: (learner, assignment, score), one row each, as it stands."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return sorted((s.student.id, a.name, s.score) for a in gb.assignments for s in gb.assignment_submissions(a.name))


def verdict_files(root: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (root / "autograded").rglob(grading.VERDICTS)}


def wait_for_port(port: int, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if process.poll() is not None:
            pytest.fail(f"{what} exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"{what} did not listen on port {port} within 60 s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def dask_cluster(logs: Path, workers: dict[str, dict[str, str]]) -> Iterator[tuple[str, dict]]:
    """A `dask scheduler` and one `dask worker` per name (with that extra environment), on loopback.

    Yields the scheduler's address and {name: (process, worker address)}; everything is killed after.
    """
    processes: list[subprocess.Popen] = []

    def start(name: str, args: list[str], extra: dict[str, str]) -> subprocess.Popen:
        log = logs / f"{name}.log"
        process = subprocess.Popen([str(VENV_BIN / "dask"), *args], env=env(**extra), cwd=logs, stdout=log.open("w"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(process)
        return process

    try:
        port = free_port()
        scheduler = start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], {})
        wait_for_port(port, "dask scheduler", scheduler, logs / "scheduler.log")
        address = f"tcp://127.0.0.1:{port}"
        started = {}
        for name, extra in workers.items():
            worker_port = free_port()
            process = start(name, ["worker", address, "--name", name, "--nthreads", "1", "--host", "127.0.0.1",
                                   "--worker-port", str(worker_port), "--no-dashboard"], extra)
            started[name] = (process, f"tcp://127.0.0.1:{worker_port}")
        from distributed import Client

        with Client(address, timeout=30) as client:  # all of them there before grading starts
            client.wait_for_workers(len(workers), timeout=120)
        yield address, started
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("dask")
    local = make_class(base / "local")
    clustered = base / "cluster"
    shutil.copytree(local, clustered)
    unreachable = base / "unreachable"
    shutil.copytree(local, unreachable)  # ungraded: for the scheduler that cannot be reached
    # make grade's default, a LocalCluster here; checking for a capable worker every 0.2 s without progress
    # (instead of 10 s) takes the coordinator through that path many times in this run
    progress_s, cluster.PROGRESS_S = cluster.PROGRESS_S, 0.2
    try:
        jobs, refused = grading.run(local, progress=False)
    finally:
        cluster.PROGRESS_S = progress_s
    assert refused == [] and len(jobs) == LEARNERS * len(ASSIGNMENTS)

    logs = base / "logs"
    logs.mkdir()
    with dask_cluster(logs, {"one": {}, "two": {}, "no-bwrap": {"MHSA_BWRAP": NOT_THERE}}) as (address, workers):
        coordinator = subprocess.Popen(
            [sys.executable, "-m", "grader.run", "--course", str(clustered), "--quiet", "--scheduler", address],
            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 180
        while not verdict_files(clustered) and coordinator.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        done_before_kill = len(verdict_files(clustered))
        os.killpg(workers["one"][0].pid, signal.SIGKILL)  # the worker and its nanny: gone for good
        out, err = coordinator.communicate(timeout=300)
        rerun, _ = grading.run(clustered, scheduler=address, progress=False)
    return local, clustered, workers, (coordinator.returncode, out, err), done_before_kill, rerun, unreachable


def test_a_killed_worker_loses_no_notebook_and_grades_none_twice(graded):
    local, clustered, _, (code, out, err), done_before_kill, _, _ = graded
    assert code == 0, out + err
    assert 1 <= done_before_kill < LEARNERS * len(ASSIGNMENTS), "the worker was not killed mid-run"
    rows = gradebook(clustered)
    assert len(rows) == len({(who, a) for who, a, _ in rows}) == LEARNERS * len(ASSIGNMENTS)  # each exactly once
    assert rows == gradebook(local)  # the same scores as the LocalCluster's run
    assert f"graded {LEARNERS * len(ASSIGNMENTS)} notebook(s) on the Dask scheduler at" in out


def test_a_worker_without_bubblewrap_refuses_and_the_coordinator_names_it(graded):
    _, _, workers, (code, out, err), _, _, _ = graded
    refusing = workers["no-bwrap"][1]
    assert f"worker {refusing} refused to grade" in err and "bubblewrap" in err
    for name in ("one", "two"):
        assert f"worker {workers[name][1]} refused" not in err


def test_a_rerun_on_the_cluster_redoes_nothing(graded):
    local, clustered, _, _, _, rerun, _ = graded
    assert len(rerun) == LEARNERS * len(ASSIGNMENTS) and all(job.cached for job in rerun)
    assert gradebook(clustered) == gradebook(local)


def test_an_unreachable_scheduler_is_named_before_anything_is_graded(graded):
    course = graded[-1]
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    result = subprocess.run([sys.executable, "-m", "grader.run", "--course", str(course), "--quiet"],
                            env=env(DASK_SCHEDULER=address, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="3s"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"the Dask scheduler at {address} (DASK_SCHEDULER) cannot be reached" in result.stderr
    assert not (course / "autograded").exists() and gradebook(course) == []


def test_a_worker_with_other_grading_code_refuses_and_says_so():
    """Setup on a Dask worker whose mhsa_ref differs from the coordinator's: no pool, no grading resource."""
    import asyncio

    from grader.sandbox import Limits

    plugin = cluster.GradingPlugin(Limits(), True, "0" * 64)  # not this checkout's fingerprint
    asyncio.run(plugin.setup(worker=None))  # refuses before it touches the worker
    assert plugin.pool is None
    assert "is other grading code than the coordinator's (version" in plugin.refusal
    assert "install the same course on it" in plugin.refusal
