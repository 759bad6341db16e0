"""`make grade` on Dask distributed: every notebook a task, on this machine or on a cluster.

    DASK_SCHEDULER=tcp://host:8786 make grade     # the workers of a running cluster
    make grade                                    # a LocalCluster inside the grading process

Each Dask worker runs the course's sandboxed grading (`pool.Pool`: bubblewrap workers that run the
notebooks, the judge that calls their functions and decides) with one sandboxed worker per Dask thread, started when the worker joins
(`GradingPlugin`), so a task only hands over a notebook's text and gets its `Outcome` back. The
coordinator (`run.py`) alone keeps verdicts and writes the gradebook, the feedback and the CSV: a
task that runs twice (its worker died, Dask ran it again elsewhere) still reaches the gradebook once.

A worker refuses the work, with its reason, when it cannot grade as the coordinator would: no
bubblewrap (and the run is sandboxed), or another version of the grading code. The coordinator
names each refusing worker and why, and sends the notebooks only to the others.

By default the cluster is a LocalCluster of one worker in the coordinator's own process, with one
thread per sandboxed worker: the same processes as before Dask, so grading one machine costs what
it did (benchmarks/bench_grade.py). Workers on other machines: see the README ("Grading on a cluster").
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING, Iterable, Iterator, TypeVar

from distributed import WorkerPlugin, get_worker
from distributed.utils import sync

from grader.pool import Outcome, Pool
from grader.sandbox import Limits, SandboxUnavailable, command, package_dir

if TYPE_CHECKING:
    from distributed import Client

    from grader.assignment import Assignment

PLUGIN = "mhsa-grading"
RESOURCE = "mhsa-grading"  # a Dask worker resource: held by the workers that can grade, one per thread
SCHEDULER_ENV = "DASK_SCHEDULER"
WORKERS_S = 60  # for a scheduler's first worker to be there
PROGRESS_S = 10  # with nothing graded for this long, the coordinator checks that some worker still can
T = TypeVar("T")


class Unreachable(RuntimeError):
    """The scheduler named by DASK_SCHEDULER could not be reached, or has no worker."""


class Refused(RuntimeError):
    """A Dask worker that cannot grade as the coordinator would: `worker` is its address."""

    def __init__(self, worker: str, reason: str) -> None:
        super().__init__(worker, reason)
        self.worker, self.reason = worker, reason

    def __str__(self) -> str:
        return f"worker {self.worker} refuses to grade: {self.reason}"


class GradingPlugin(WorkerPlugin):
    """Set up on every Dask worker (and on any that joins later): a Pool of sandboxed workers, one per thread.

    A worker that can grade says so to the scheduler with the resource RESOURCE (one per thread),
    which every grading task asks for: a worker that cannot never gets one. Setup never fails the
    worker: what stops it from grading is kept in `refusal`, which the coordinator reads.
    """

    name = PLUGIN

    def __init__(self, limits: Limits, sandboxed: bool, version: str) -> None:
        self.limits, self.sandboxed, self.version = limits, sandboxed, version
        self.pool: Pool | None = None
        self.refusal = ""

    async def setup(self, worker) -> None:
        from grader.assignment import code_version

        where = f"on {socket.gethostname()}"
        ours = code_version()
        if ours != self.version:
            self.refusal = (f"its mhsa_ref ({package_dir()} {where}) is other grading code than the coordinator's "
                            f"(version {ours[:12]}, not {self.version[:12]}): install the same course on it")
            return
        try:
            command(self.limits, sandboxed=self.sandboxed)  # bubblewrap must be there for a sandboxed run
        except SandboxUnavailable as e:
            self.refusal = f"{where}: {e}"
            return
        self.pool = Pool(worker.state.nthreads, self.limits, sandboxed=self.sandboxed)
        await worker.set_resources(**{RESOURCE: worker.state.nthreads})

    async def teardown(self, worker) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if worker.state.total_resources.get(RESOURCE):
            await worker.set_resources(**{RESOURCE: 0})


def grade_task(job_id: str, notebook: str, assignment: Assignment) -> Outcome:
    """One notebook, on whichever Dask worker runs this."""
    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN)
    if plugin is None or plugin.pool is None:
        raise Refused(worker.address, _refusal(worker))
    try:
        return plugin.pool.submit(job_id, notebook, assignment).result()
    except SandboxUnavailable as e:  # its sandboxed workers cannot start: it takes no more notebooks
        plugin.refusal = str(e)
        sync(worker.loop, worker.set_resources, **{RESOURCE: 0})
        raise Refused(worker.address, str(e)) from e


def _refusal(dask_worker) -> str:
    plugin = dask_worker.plugins.get(PLUGIN)
    if plugin is None:
        return "the course's grading plugin is not set up on it"
    return plugin.refusal or ("" if plugin.pool is not None else "its sandboxed workers were closed")


class Grader:
    """The coordinator's side: a Dask client whose workers have the grading plugin."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.refusals: dict[str, str] = {}  # worker address -> why it does not grade
        self.refusals.update((a, r) for a, r in client.run(_refusal).items() if r)

    def capable(self) -> list[str]:
        """The workers that can grade now (those that hold the grading resource)."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return sorted(a for a, w in workers.items() if w.get("resources", {}).get(RESOURCE))

    def none_ready(self) -> SandboxUnavailable:
        said = "; ".join(f"worker {w} refuses to grade: {r}" for w, r in sorted(self.refusals.items()))
        return SandboxUnavailable(f"no Dask worker can grade ({said or 'no worker is connected'})")

    def _submit(self, job_id: str, notebook: str, assignment: Assignment):
        return self.client.submit(grade_task, job_id, notebook, assignment, pure=False, resources={RESOURCE: 1},
                                  key=f"grade-{job_id.replace('/', '-')}-{uuid.uuid4().hex[:8]}")

    def grade(self, items: Iterable[tuple[T, str, str, Assignment]]) -> Iterator[tuple[T, Outcome]]:
        """(tag, job id, notebook text, assignment) in; (tag, Outcome) out, as each notebook is graded.

        A notebook whose worker refused goes to another. When nothing has finished for a while and no
        worker can grade any more (all gone, or all refusing), raises SandboxUnavailable.
        """
        from distributed import wait

        if not self.capable():
            raise self.none_ready()
        futures = {}
        for tag, job_id, notebook, assignment in items:
            futures[self._submit(job_id, notebook, assignment)] = (tag, job_id, notebook, assignment)
        pending = set(futures)
        while pending:
            try:
                done, pending = wait(pending, timeout=PROGRESS_S, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished for PROGRESS_S: fine while a worker can still grade
                if not self.capable():
                    raise self.none_ready() from None
                continue
            for future in done:
                tag, job_id, notebook, assignment = item = futures.pop(future)
                try:
                    outcome = future.result()
                except Refused as e:
                    self.refusals[e.worker] = e.reason
                    retry = self._submit(job_id, notebook, assignment)
                    futures[retry] = item
                    pending.add(retry)
                    continue
                yield tag, outcome


def scheduler_address() -> str | None:
    return os.environ.get(SCHEDULER_ENV) or None


@contextlib.contextmanager
def grader(workers: int, limits: Limits = Limits(), *, sandboxed: bool = True,
           address: str | None = None) -> Iterator[Grader]:
    """A Grader on the scheduler at `address`, or on a LocalCluster of `workers` threads in this process."""
    import dask
    from distributed import Client, LocalCluster

    from grader.assignment import code_version

    with contextlib.ExitStack() as stack:
        if address:
            try:
                # how long to try: Dask's own setting (DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s), 30 s by default
                client = stack.enter_context(Client(address, timeout=dask.config.get("distributed.comm.timeouts.connect")))
            except (OSError, TimeoutError) as e:
                raise Unreachable(f"the Dask scheduler at {address} ({SCHEDULER_ENV}) cannot be reached: {e}. Start it "
                                  f"(`dask scheduler`), or unset {SCHEDULER_ENV} to grade on this machine") from None
            try:
                client.wait_for_workers(1, timeout=WORKERS_S)
            except TimeoutError:
                raise Unreachable(f"the Dask scheduler at {address} has no worker after {WORKERS_S} s: start some "
                                  f"with `dask worker {address}` (README: Grading on a cluster)") from None
        else:
            cluster = stack.enter_context(LocalCluster(n_workers=1, threads_per_worker=max(1, workers), processes=False,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        client.register_plugin(GradingPlugin(limits, sandboxed, code_version()), name=PLUGIN)
        yield Grader(client)
        if not address:  # the LocalCluster's pools go with it; a cluster's workers keep theirs for the next run
            client.unregister_worker_plugin(PLUGIN)
