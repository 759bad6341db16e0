"""The sandboxed worker: runs learners' notebooks and answers the judge's calls; decides nothing.

Started once per core inside the sandbox (`sandbox.py`), it imports torch once and warms up what
the calls use (PyTorch's dispatch modes import about 800 modules the first time), then forks one
child per notebook, so no notebook pays for a kernel start, `import torch` or that warm-up. The
`mhsa_ref` it imports is the sandbox's copy (`kit.sandbox_package`): the learner environment's,
with every reference function withheld and no stored answer, and no check. The child switches
off the exercise's forbidden APIs for good (`bans.install`), sets hard limits (CPU time, memory,
processes, file size), runs the notebook's cells in an IPython shell in the order of the
instructor's notebook, and at each graded cell answers the judge's requests (`remote.Server`):
the judge, outside, runs the checks with the reference and calls the learner's functions across
the wall. The parent relays lines both ways, stops a cell or a call that runs too long, and after
each notebook kills whatever the notebook left running.

Protocol, one JSON object per line. Out, first: {"ready": true, "mhsa_ref" and "grader": the package
folders it imported, "cuda": bool}. In (stdin): {"job", "notebook" (text), "steps", "bans", "limits"}, then
during a graded cell {"job", "request": n, ...} and {"job", "end": grade_id}. Out (stdout): {"job",
"cell": i} when a step starts; {"job", "test": grade_id, "missing": [...]} when a graded cell waits
for the judge; {"job", "reply": n, ...}; {"job", "note": text}; {"job", "timing": {"cells": s,
"calls": s}}; finally {"job", "done": true, "status", "reason"}. The notebook's own stdout and
stderr go nowhere: only the worker writes to the pipe.

`python -I -c BOOT PACKAGE_PARENT [--in-sandbox]` starts it (`sandbox.command`): isolated from the
environment's paths, it imports `mhsa_ref` from PACKAGE_PARENT, the folder the coordinator bound
into the sandbox.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import sys
import time

WORKER_DIR = "/tmp/mhsa-worker"


BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from grader.sandboxed.worker import main; main(sys.argv[2:])")


def _preload() -> None:
    """What every notebook would import or warm up: done once, before any fork."""
    import IPython.core.interactiveshell  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import torch  # noqa: F401

    import mhsa_ref  # noqa: F401
    from grader.sandboxed import bans, remote  # noqa: F401

    # Every learner call runs under an operator recorder (a TorchDispatchMode), and the hidden checks run the
    # learner's code on `meta` tensors. PyTorch imports what those need on first use, over 1,000 modules
    # (torch._dynamo, sympy: 1 to 2.5 s per notebook here, measured). Done once here, or every forked
    # notebook would pay for it again.
    warm_up()


def warm_up() -> None:
    """Import and run once what the checks need on first use (the judge does it too, before its first notebook)."""
    import torch
    import torch._dynamo  # noqa: F401
    import torch._refs  # noqa: F401

    from mhsa_ref.checks import _core

    def ops(x):
        y = (x - x.amax(-1, keepdim=True)).exp() * 2 + 1
        y = torch.where(y > 0, y / y.sum(-1, keepdim=True), y).masked_fill(x < 0, 0.0)
        return (y @ y.transpose(-2, -1)).sqrt().log().sigmoid().reshape(-1).contiguous()

    for device in ("cpu", "meta"):
        for dtype in (torch.float32, torch.float64):
            _core.watched(ops, (torch.ones(2, 2, 2, device=device, dtype=dtype),), {}, name="warm-up",
                          rules=_core.Rules())


def _not_dumpable() -> None:
    """Same-uid processes (a notebook) may not ptrace or read the memory of this one."""
    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def _emit(out, obj: dict) -> None:
    out.write(json.dumps(obj, separators=(",", ":")) + "\n")
    out.flush()


def _limits(limits: dict) -> None:
    mb = 2**20
    for name, value in (("RLIMIT_CPU", limits["cpu_s"]), ("RLIMIT_DATA", limits["memory_mb"] * mb),
                        ("RLIMIT_NPROC", limits["processes"]), ("RLIMIT_FSIZE", limits["file_mb"] * mb),
                        ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))


def learner_cells(text: str) -> list[tuple[str | None, str | None, str]]:
    """(grade_id, cell id, source) of each code cell of a submission, whatever its metadata holds.

    Read with json, not nbformat: importing nbformat costs a second per worker (jsonschema's format
    checkers), and a notebook in the format nbgrader releases (v4) needs nothing of it. Older formats
    are converted by nbformat. Raises ValueError when the text is not a notebook.
    """
    data = json.loads(text)
    if isinstance(data, dict) and data.get("nbformat") in (1, 2, 3):
        import nbformat

        data = json.loads(nbformat.writes(nbformat.reads(text, as_version=4)))
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise ValueError("this is not a notebook: it has no list of cells")
    cells = []
    for cell in data["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader.get("grade_id"), str) else None
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
        source = cell.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else source if isinstance(source, str) else ""
        cells.append((grade_id, cell_id, source))
    return cells


def _quiet() -> None:
    """The notebook's prints and tracebacks go nowhere: the worker's stdout is the protocol pipe."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


class Lines:
    """Whole lines from a file descriptor, read with os.read (select-friendly: no hidden buffer)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.scanned = 0  # the buffer holds no newline before here: a long line is searched once, not per chunk
        self.closed = False

    def pending(self) -> bool:
        end = self.buffer.find(b"\n", self.scanned)
        self.scanned = len(self.buffer) if end < 0 else end
        return end >= 0

    def feed(self) -> bool:
        """Read what is there (call when select says so); False at the end of the stream."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.closed = True
            return False
        self.buffer += chunk
        return True

    def take(self) -> str | None:
        if not self.pending():
            return None
        line = bytes(self.buffer[:self.scanned])
        del self.buffer[:self.scanned + 1]
        self.scanned = 0
        return line.decode(errors="replace")

    def next(self) -> str | None:
        """The next line, blocking; None at the end of the stream."""
        while not self.pending():
            if self.closed or not self.feed():
                return None
        return self.take()


def _child(job: dict, out, requests: int) -> None:
    """Run one notebook, answering the judge at each graded cell; never returns."""
    status = 0
    spent = {"cells": 0.0, "calls": 0.0}
    try:
        _quiet()
        from grader.sandboxed import bans, remote

        bans.install(job.get("bans", {}).get("ops", {}), job.get("bans", {}).get("python", {}))
        bans.no_exec()  # and no program started afresh, which would load PyTorch without the bans
        _limits(job["limits"])
        scratch = os.path.join(WORKER_DIR, "scratch")
        os.makedirs(scratch, exist_ok=True)
        os.chdir(scratch)
        from IPython.core.interactiveshell import InteractiveShell

        shell = InteractiveShell.instance()
        server = remote.Server(shell.user_ns)
        inbox = Lines(requests)
        try:
            learner = learner_cells(job["notebook"])
        except Exception as e:  # malformed JSON or not a notebook: nothing of it runs
            _emit(out, {"job": job["job"], "note": f"the notebook could not be read: {type(e).__name__}: {e}"[:500]})
            os._exit(3)
        known = {s["grade_id"] for s in job["steps"] if s.get("grade_id")}
        graded = {s["grade_id"]: s["kind"] for s in job["steps"] if s["kind"] in ("solution", "test")}
        free = set(job.get("free_cells", ()))
        # The learner's code cells in order: markers for their solution and test cells (first copy of each
        # grade_id), and every other cell they wrote or kept (helpers, cells whose metadata was stripped),
        # which runs in its place. Locked and test cells run as the instructor wrote them, never the copy.
        order: list[tuple[str, str]] = []
        sources: dict[str, str] = {}
        for grade_id, cell_id, source in learner:
            if grade_id in graded:
                if (graded[grade_id], grade_id) not in order:
                    order.append((graded[grade_id], grade_id))
                    if graded[grade_id] == "solution":
                        sources[grade_id] = source
            elif grade_id in known or cell_id in free:
                continue
            else:
                order.append(("extra", source))
        position = 0  # the next entry of `order` not yet reached

        def run(source: str, label: str) -> None:
            started = time.monotonic()
            try:
                result = shell.run_cell(source, store_history=False, silent=True)
            finally:
                spent["cells"] += time.monotonic() - started
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                _emit(out, {"job": job["job"], "note": f"cell {label} raised {type(error).__name__}: {error}"[:500]})

        def reach(target: tuple[str, str]) -> bool:
            """Run the learner's own cells up to `target` (or, if it is gone, up to the next graded cell)."""
            nonlocal position
            found = target in order[position:]
            while position < len(order):
                kind, payload = order[position]
                if (kind, payload) == target or (not found and kind != "extra"):
                    break
                position += 1
                if kind == "extra":
                    run(payload, f"#{position}")
            if found:
                position += 1
            return found

        def serve(grade_id: str, symbols: list[str]) -> None:
            """Answer the judge's requests for one graded cell, until it says the cell is done."""
            missing = [s for s in symbols if s not in shell.user_ns]
            _emit(out, {"job": job["job"], "test": grade_id, "missing": missing})
            while (line := inbox.next()) is not None:
                try:
                    message = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if not isinstance(message, dict):
                    continue
                if message.get("end") == grade_id:
                    return
                if "request" in message:
                    started = time.monotonic()
                    answer = server.reply(message)
                    spent["calls"] += time.monotonic() - started
                    _emit(out, {**answer, "job": job["job"], "reply": message["request"]})
            os._exit(6)  # the parent closed the requests: the grading run is over

        for i, step in enumerate(job["steps"]):
            _emit(out, {"job": job["job"], "cell": i})
            if step["kind"] == "locked":
                run(step["source"], "setup")
            elif step["kind"] == "solution":
                if reach(("solution", step["grade_id"])):
                    run(sources[step["grade_id"]], step["grade_id"])
            else:
                reach(("test", step["grade_id"]))
                serve(step["grade_id"], sorted({symbol for _, symbol in step["checks"]}))
        _emit(out, {"job": job["job"], "timing": spent})
        _emit(out, {"job": job["job"], "finished": True})
    except SystemExit as e:
        _emit(out, {"job": job["job"], "note": f"the notebook called sys.exit({e.code})"[:200]})
        status = 4
    except BaseException as e:  # noqa: BLE001 - reported, then the child ends
        try:
            _emit(out, {"job": job["job"], "note": f"{type(e).__name__}: {e}"[:500]})
        except BaseException:  # noqa: BLE001
            pass
        status = 5
    finally:
        try:
            out.flush()
        finally:
            os._exit(status)


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id) of every process this worker can see."""
    seen = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        seen[int(entry)] = (int(fields[1]), int(fields[3]))
    return seen


def _leftovers(in_sandbox: bool, child: int) -> list[int]:
    """What a notebook may have left running.

    In the sandbox: every process but the worker and bwrap's init (pid 1), since the sandbox has its
    own process namespace. Unsandboxed (UNSANDBOXED=1) that would be every process of the user, so
    only the notebook's session and the worker's descendants (a process that detached itself and
    left the session escapes: one more reason to grade in the sandbox).
    """
    me = os.getpid()
    table = _processes()
    if in_sandbox:
        return [pid for pid in table if pid not in (me, 1)]

    def descends(pid: int) -> bool:
        for _ in range(64):
            parent = table.get(pid, (0, 0))[0]
            if parent == me:
                return True
            if parent <= 1:
                return False
            pid = parent
        return False

    return [pid for pid, (_, session) in table.items() if pid != me and (session == child or descends(pid))]


def _kill_leftovers(in_sandbox: bool, child: int) -> None:
    """Kill what the notebook left behind: nothing outlives its notebook."""
    for _ in range(3):
        others = _leftovers(in_sandbox, child)
        if not others:
            return
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)
        for pid in others:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _clean(in_sandbox: bool) -> None:
    """Nothing a notebook wrote reaches the next one this worker grades.

    In the sandbox /tmp is the worker's own (a tmpfs): all of it goes, whatever the notebook put
    there (a full disk, a symlink in place of its scratch folder, IPython's or torch's caches).
    Unsandboxed, /tmp is the machine's: only the notebook's scratch folder goes.
    """
    scratch = os.path.join(WORKER_DIR, "scratch")
    places = [os.path.join("/tmp", entry) for entry in os.listdir("/tmp")] if in_sandbox else [scratch]
    for path in places:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.unlink(path)
        except OSError:
            pass
    os.makedirs(WORKER_DIR, exist_ok=True)


def _run(job: dict, in_sandbox: bool, stdin: Lines) -> None:
    read_fd, write_fd = os.pipe()
    request_read, request_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.close(request_write)
        os.close(stdin.fd)
        os.setsid()
        _child(job, os.fdopen(write_fd, "w"), request_read)
    os.close(write_fd)
    os.close(request_read)
    reader = os.fdopen(read_fd, "r")
    limits, started = job["limits"], time.monotonic()
    cell_started, reason, status, finished = started, "", None, False
    budget = limits["output_mb"] * 2**20
    buffer = ""

    def relay(line: str) -> None:
        """A line from the judge: a request or the end of a graded cell, passed on to the notebook's process."""
        nonlocal cell_started
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return
        if isinstance(message, dict) and message.get("job") == job["job"] and ("request" in message or "end" in message):
            cell_started = time.monotonic()  # each call has the cell's time limit
            try:
                os.write(request_write, (line + "\n").encode())
            except OSError:  # the notebook's process is gone; its end is on its way
                pass

    while True:
        now = time.monotonic()
        if now - cell_started > limits["cell_s"]:
            reason = f"a cell ran longer than {limits['cell_s']} s (an infinite loop?) and was stopped"
        elif now - started > limits["notebook_s"]:
            reason = f"the notebook ran longer than {limits['notebook_s']} s and was stopped"
        if reason:
            os.killpg(pid, signal.SIGKILL)
            break
        while stdin.pending():
            relay(stdin.take())
        watch = [reader] + ([stdin.fd] if not stdin.closed else [])
        ready, _, _ = select.select(watch, [], [], 0.2)
        if stdin.fd in ready and not stdin.feed():
            os.killpg(pid, signal.SIGKILL)  # the grader is gone: nothing to answer to
            reason = "the grader stopped"
            break
        if reader not in ready:
            continue
        chunk = os.read(read_fd, 1 << 16).decode(errors="replace")
        if not chunk:
            break
        budget -= len(chunk)
        if budget < 0:
            reason = "the notebook wrote more output than the grader accepts and was stopped"
            os.killpg(pid, signal.SIGKILL)
            break
        buffer += chunk
        *lines, buffer = buffer.split("\n")
        for line in lines:
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(message, dict) and message.get("job") == job["job"]:
                if "cell" in message or "reply" in message or "test" in message:
                    cell_started = time.monotonic()
                if message.get("finished"):
                    finished = True
                    continue
                if "done" in message or "ready" in message:  # only this process says a notebook is done
                    continue
                sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    os.close(request_write)
    _, raw = os.waitpid(pid, 0)
    if status is None:
        status = os.waitstatus_to_exitcode(raw)
    if not reason and status < 0:
        signal_name = signal.Signals(-status).name
        reason = {"SIGXCPU": "the notebook used up its CPU time", "SIGKILL": "the notebook was killed (out of memory?)",
                  "SIGSEGV": "the notebook's process crashed (SIGSEGV)"}.get(signal_name,
                                                                           f"the notebook's process crashed ({signal_name})")
    elif not reason and (status != 0 or not finished):
        reason = {3: "the notebook could not be read", 4: "the notebook called sys.exit"}.get(
            status, f"the notebook's process ended early, with status {status} (os._exit, a crash or memory "
                    f"exhaustion)")
    reader.close()
    _kill_leftovers(in_sandbox, pid)
    _clean(in_sandbox)
    sys.stdout.write(json.dumps({"job": job["job"], "done": True, "status": status, "reason": reason}) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    in_sandbox = "--in-sandbox" in argv
    _not_dumpable()
    _preload()
    os.makedirs(WORKER_DIR, exist_ok=True)
    import torch

    import mhsa_ref

    import grader

    package = os.path.dirname(os.path.abspath(mhsa_ref.__file__))
    ours = os.path.dirname(os.path.abspath(grader.__file__))
    sys.stdout.write(json.dumps({"ready": True, "mhsa_ref": package, "grader": ours,
                                 "cuda": torch.cuda.is_available()}) + "\n")
    sys.stdout.flush()
    stdin = Lines(sys.stdin.fileno())
    while (line := stdin.next()) is not None:
        try:
            job = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(job, dict) and "notebook" in job:  # a stray request of a notebook already over: skipped
            _run(job, in_sandbox, stdin)


if __name__ == "__main__":
    main()
