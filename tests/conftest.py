"""Shared test setup: the gpu marker skips cleanly without CUDA; helpers for random inputs."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import torch

from mhsa_ref.checks._core import random_mask, tolerance

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
# The tests mirror the code: tests/test_mhsa_ref/, tests/test_grader/, and tests/test_course/ for the book, the
# Makefile, the lab and the hub. Not tests/mhsa_ref/: with tests/ on sys.path (pytest puts it there, and so do the
# tests' subprocesses) a folder named like a package would shadow it as a namespace package.



# `make test` hands whole files to pytest-xdist's workers in this order (--dist loadfile
# --no-loadscope-reorder): the longest first, so no long file starts last and holds up the end. The first two
# start together: test_book.py runs the suite's `make` (conftest.py: made) and test_grade.py needs none of it;
# test_pipeline.py, which reads what `make` graded, went first once and waited 50 s for it on an idle core.
# A file left off the list runs after all of these, in the order pytest found it: leave off only files of a few
# seconds (test_trained_heads.py, 23 s and off the list, was once the last and ran 20 s alone on one core).
LONGEST_FIRST = ("test_grade.py", "test_book.py", "test_pipeline.py", "test_learner_kit.py", "test_hub.py",
                 "test_browser.py", "test_dask.py", "test_judge.py", "test_checks.py", "test_languages.py",
                 "test_postgres.py", "test_trained_heads.py", "test_bans.py", "test_exchange.py", "test_elmo.py",
                 "test_submission.py", "test_lab.py", "test_make.py", "test_editions.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file keeps its own order
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failure (browser screenshots)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def assert_close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype | None = None) -> None:
    atol, rtol = tolerance(dtype or a.dtype)  # the course's tolerances, as the graders use them
    torch.testing.assert_close(a, b, atol=atol, rtol=rtol)


def rand(*shape: int, dtype=torch.float64, device="cpu", seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def rand_mask(*shape: int, seed: int = 0, device="cpu") -> torch.Tensor:
    """A random bool mask (True = may attend) in which every row keeps at least one key."""
    return random_mask(shape, seed=seed, device=device)


def tool_env() -> dict[str, str]:
    """The environment for running the course's tools (nbgrader needs its venv first on PATH)."""
    env = dict(os.environ)
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):  # a clean make, even when pytest runs under make
        env.pop(var, None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


# Debian's Chromium (`make test-packages`), driven by Playwright; no browser is ever downloaded.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "_build" / "browser-failures"  # what a failing browser test saw


@pytest.fixture(scope="module")  # closed with its module: Playwright's event loop must not outlive it
def browser():
    if not Path(CHROMIUM).exists():  # not a skip: `make test` installs it, so its absence is a failure
        pytest.fail(f"{CHROMIUM} is missing: run `make test-packages` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def made():
    """Run the README's first command, `make`, once for the session (it builds in the repo itself).

    Under pytest-xdist each worker process has its own session: a file lock lets the first one build
    and the others wait, then run their own `make`, which finds everything built and redoes nothing.
    """
    from filelock import FileLock

    (ROOT / "_build").mkdir(exist_ok=True)
    with FileLock(str(ROOT / "_build" / "make.lock")):
        result = subprocess.run(["make"], cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"make failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    return result


@functools.cache
def learner_kit() -> Path:
    """`python -m grader.kit`, built once for the whole test run (all xdist workers) in _build/test-learner-kit.

    The folder is rebuilt when anything it is built from changed (mhsa_ref, exercises/, exercises-zh/, solutions/,
    or the grader's kit.py that builds it);
    tests only read it. It is reachable by other Unix users (the hub's accounts bind it). Checked once per
    process (the sources are hashed once).
    """
    import hashlib

    from filelock import FileLock

    out = ROOT / "_build" / "test-learner-kit"
    h = hashlib.sha256()
    for folder in ("mhsa_ref", "exercises", "exercises-zh", "solutions", "grader"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    key = h.hexdigest()
    (ROOT / "_build").mkdir(exist_ok=True)
    with FileLock(str(ROOT / "_build" / "test-learner-kit.lock")):
        stamp = out.parent / "test-learner-kit.key"
        if not (out.is_dir() and stamp.exists() and stamp.read_text() == key):
            shutil.rmtree(out, ignore_errors=True)
            result = subprocess.run([str(VENV_BIN / "python"), "-m", "grader.kit", str(out)], cwd=ROOT,
                                    env=tool_env(), capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            stamp.write_text(key)
    return out


def free_port() -> int:
    """A free loopback port (closed again before the server takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_lab(folder: Path, token: str) -> Iterator[str]:
    """`make lab` on `folder`, on loopback with `token`; yields its base URL once it answers."""
    port = free_port()
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    server = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_DIR={folder}", f"LAB_ARGS={args}"],
                              cwd=ROOT, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"make lab exited:\n{server.stdout.read().decode()}")
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 120 s")
        yield base
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


@contextlib.contextmanager
def learner_lab(folder: Path, token: str, untouched: str, filled: str) -> Iterator[str]:
    """`make lab` on `folder`, which holds exercise `untouched` as released and ada's `filled` exercise."""
    import demo_builder

    shutil.copy(ROOT / "exercises" / untouched / f"{untouched}.ipynb", folder / "untouched.ipynb")
    shutil.copy(demo_builder.path_of("ada", filled), folder / "filled.ipynb")
    with running_lab(folder, token) as base:
        yield base
