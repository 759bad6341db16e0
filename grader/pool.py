"""The sandboxed workers of a grading run, reused for every notebook: `make grade` and plain nbgrader share it.

`Pool` starts its workers at once, one thread each, and grades the notebooks it is given: a worker
records (`worker.py`), the judge here decides (`judge.py`). Importing this module imports neither
torch nor the checks, so a grader can start its workers before it pays for those itself: the judge
is imported by the first notebook judged, or by the warm-up thread the pool starts beside its
workers.
"""

from __future__ import annotations

import gc
import itertools
import math
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.sandbox import Limits, Worker, WorkerGone

if TYPE_CHECKING:
    from grader.judge import Verdict
    from grader.assignment import Assignment


# A worker takes about 2.5 s of a core to start (Python, torch, the checks, the warm-up) and grades a
# notebook in about 0.3 s (benchmarks/RESULTS.md): a second worker pays for itself from about 8 notebooks.
NOTEBOOKS_PER_WORKER = 8


def pool_size(notebooks: int, workers: int | None = None) -> int:
    """How many workers to start for `notebooks`: as asked, or one per 8 notebooks up to one per core."""
    if workers:
        return max(1, min(workers, notebooks))
    return max(1, min(os.cpu_count() or 1, math.ceil(notebooks / NOTEBOOKS_PER_WORKER)))


@dataclass
class Outcome:
    """What grading one notebook gave: the judge's verdicts, the worker's notes, why it stopped early."""

    verdicts: list[Verdict]
    notes: list[str]
    reason: str
    # seconds: "worker start" (when this notebook had to start its worker), "cells" (the instructor's and
    # the learner's cells), "calls" (the learner's functions answering the judge, in the sandbox),
    # "judging" (the checks here, the reference included, calls excluded), "notebook" (all of it)
    timing: dict


# The checks seed PyTorch's global generator (torch.random.fork_rng) to build some of their inputs, so
# two judges in two threads could draw each other's numbers: the checks run one thread at a time, and
# a thread lets go only while it waits for the sandbox's answer (never inside fork_rng: the checks
# call the learner's code outside it).
_JUDGE = threading.Lock()


def _warm_judge() -> None:
    from grader.sandboxed.worker import warm_up

    with _JUDGE:
        warm_up()


def grade(worker: Worker, job_id: str, notebook: str, assignment: Assignment) -> Outcome:
    """One notebook: run by the sandboxed worker, each graded cell decided here as the notebook reaches it."""
    from grader import judge

    start = time.monotonic()
    session = worker.session({"job": job_id, "notebook": notebook, "steps": assignment.steps,
                              "free_cells": assignment.free_cells, "bans": assignment.plan.bans})
    cells = {c.grade_id: c for c in assignment.plan.cells}
    verdicts: dict = {}
    timing: dict = {}
    waiting = [0.0]

    def channel(request: dict) -> dict:
        from mhsa_ref.checks._core import holding

        started = time.monotonic()
        hold = holding()  # inside a CUDA run the global TF32 settings are changed: no other check meanwhile
        if not hold:
            _JUDGE.release()  # other notebooks' checks go on while this one's learner code runs
        try:
            return session.request(request)
        finally:
            if not hold:
                _JUDGE.acquire()
            waiting[0] += time.monotonic() - started

    try:
        _conversation(session, assignment, cells, verdicts, channel, worker, waiting, timing)
    except WorkerGone:  # gone before it took the notebook: the pool retries it on a new worker
        raise
    except Exception as e:  # noqa: BLE001 - whatever the worker sent, this notebook ends here, and only it
        worker.kill()  # the pool starts a new worker for the next notebook
        session.done = {"job": job_id, "done": True, "status": None,
                        "reason": f"the grading worker sent what the grader cannot read ({type(e).__name__}) and was "
                                  f"replaced"}
    judging = timing.pop("_judging", 0.0)
    reason = str((session.done or {}).get("reason") or "")
    ordered = [verdicts.get(c.grade_id) or judge.judge_cell(assignment.plan, c, None) for c in assignment.plan.cells]
    end = time.monotonic()
    return Outcome(ordered, session.notes, reason, {**timing, "judging": judging, "notebook": end - start})


def _conversation(session, assignment, cells, verdicts, channel, worker, waiting, timing) -> None:
    """Read the notebook's messages; judge each graded cell as the notebook reaches it."""
    from grader import judge

    judging = 0.0
    while (message := session.next()) is not None:
        if "test" in message:
            grade_id = str(message["test"])
            cell = cells.get(grade_id)
            if cell is not None and grade_id not in verdicts:  # a repeated cell counts once
                missing = message.get("missing") if isinstance(message.get("missing"), list) else []
                started, waited = time.monotonic(), waiting[0]
                with _JUDGE:
                    verdicts[grade_id] = judge.judge_cell(assignment.plan, cell, channel,
                                                          missing=str(missing[0]) if missing else None,
                                                          cuda=getattr(worker, "cuda", False))
                judging += time.monotonic() - started - (waiting[0] - waited)
            session.end(grade_id)
        elif "note" in message:
            session.notes.append(str(message["note"])[:500])
        elif "timing" in message and isinstance(message["timing"], dict):
            for k, v in message["timing"].items():
                if k in ("cells", "calls") and isinstance(v, (int, float)) and 0 <= v < 1e6:
                    timing[k] = float(v)
    timing["_judging"] = judging


class Pool:
    """Sandboxed workers, one per thread, each reused for every notebook its thread grades.

    `submit` returns a Future of the notebook's Outcome. Requests with a lower `priority` go first
    (a notebook someone is waiting for before ones graded ahead of time). A worker that died is
    replaced for the next notebook. The threads are daemons and `close` kills the workers, so an
    interrupted run leaves nothing behind.
    """

    def __init__(self, workers: int, limits: Limits = Limits(), *, sandboxed: bool = True) -> None:
        self.limits, self.sandboxed = limits, sandboxed
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._workers: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [threading.Thread(target=self._serve, daemon=True, name=f"mhsa-grader-{i}")
                         for i in range(max(1, workers))]
        for thread in self._threads:
            thread.start()
        # the judge's first check would pay PyTorch's first-use imports: paid while the workers start
        threading.Thread(target=_warm_judge, daemon=True, name="mhsa-judge-warm-up").start()

    def submit(self, job_id: str, notebook: str, assignment: Assignment, *, priority: int = 1) -> Future:
        future: Future = Future()
        self._queue.put((priority, next(self._order), future, (job_id, notebook, assignment)))
        return future

    def _start(self, old: Worker | None = None) -> Worker:
        """A new worker for this thread, in place of `old` (closed: a replaced worker keeps no pipes open)."""
        if old is not None:
            old.close()
            with self._lock:
                if old in self._workers:
                    self._workers.remove(old)
        worker = Worker(self.limits, sandboxed=self.sandboxed)
        with self._lock:
            self._workers.append(worker)
            closed = self._closed
        if closed:  # closed while it was starting: it must not outlive the pool
            worker.close()
        return worker

    def _serve(self) -> None:
        worker: Worker | None = None
        started = 0.0
        try:  # at once, not at the first notebook: workers boot while the caller prepares the notebooks
            worker = self._start()
            started = worker.start_s
        except Exception:  # noqa: BLE001 - the first notebook tries again, and its future gets the reason
            pass
        while True:
            _, _, future, task = self._queue.get()
            if future is None or self._closed:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                for attempt in (1, 2):
                    if worker is None or worker.process.poll() is not None:
                        worker = self._start(worker)
                        started = worker.start_s
                    try:
                        outcome = grade(worker, *task)
                        break
                    except WorkerGone:  # killed by the notebook before: this one gets a new worker, once
                        if attempt == 2:
                            raise
                        worker = self._start(worker)
                        started = worker.start_s
                if started:
                    outcome.timing["worker start"], started = started, 0.0
                future.set_result(outcome)
            except BaseException as e:  # noqa: BLE001 - the caller decides (SandboxUnavailable stops a run)
                future.set_exception(e)

    def close(self) -> None:
        """Cancel what is still waiting, stop the threads, kill the workers (a thread mid-notebook ends with it)."""
        pending = []
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for _, _, future, _ in pending:
            if future is not None:
                future.cancel()
        with self._lock:
            self._closed = True
            for worker in self._workers:
                worker.kill()
        for _ in self._threads:
            self._queue.put((-1, next(self._order), None, None))
        for thread in self._threads:
            thread.join(timeout=10)
        with self._lock:
            for worker in self._workers:
                worker.close()
            self._workers.clear()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def quick_exit() -> None:
    """For a grading process about to exit: spare it the garbage collector's last pass over torch's objects.

    With torch._dynamo loaded (the judge's meta checks load it), the interpreter takes 0.9 s to exit,
    0.16 s once the objects alive are frozen out of the collector's reach (measured on the 2-core CI
    machine). Every object is still released as the interpreter ends; only the cycle search is skipped.
    """
    gc.freeze()
