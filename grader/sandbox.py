"""The sandbox around the workers: bubblewrap, no network, a read-only view of what grading needs.

Inside: the Python installation, the course's virtual environment and the sandbox's own copies of
`mhsa_ref` and `grader` (read-only; `kit.sandbox_package`: every reference function withheld, no
stored answer, no check; of the grader, `grader.sandboxed` alone), a private /tmp (the one writable place, of limited size), its own process and network
namespaces (no network at all, not even the host's loopback), no other file of the course: not the
reference, not `solutions/`, not the gradebook, not `submitted/` (a notebook arrives through a
pipe, one at a time). A copy of `mhsa_ref` or `grader` installed in the environment itself is hidden
under an empty folder. As root, the worker also gives up root for `nobody`, so limits on processes apply.

Where bubblewrap is missing, grading refuses to start unless the instructor passes
`allow_unsandboxed=True` (`make grade UNSANDBOXED=1`), and says so.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mhsa_ref

# MHSA_BWRAP: where this machine's bubblewrap is, when not on PATH (a test points it at nothing: a machine without it)
BWRAP = os.environ.get("MHSA_BWRAP") or shutil.which("bwrap") or "/usr/bin/bwrap"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"


class SandboxUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Limits:
    """Per notebook: CPU seconds, memory, processes, a cell's and the notebook's wall time, output."""

    cpu_s: int = 300
    memory_mb: int = 4096
    processes: int = 64
    file_mb: int = 64
    cell_s: int = 120
    notebook_s: int = 600
    output_mb: int = 256
    tmp_mb: int = 512

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def package_dir() -> Path:
    """The `mhsa_ref` this process imported: the one the workers must import too."""
    return Path(mhsa_ref.__file__).resolve().parent


def sandbox_dir() -> Path:
    """The folder that holds the sandbox's `mhsa_ref` for this version of the course (built on first use)."""
    from grader.kit import sandbox_package

    return sandbox_package()


def gpu_devices() -> list[str]:
    """NVIDIA's device files (/dev/nvidia0, nvidiactl, nvidia-uvm...), bound into the sandbox when present."""
    import glob

    return sorted(glob.glob("/dev/nvidia*"))


def _installed_copies(paths: list[str]) -> list[str]:
    """Folders named mhsa_ref or grader inside the bound paths (a course installed without -e): hidden in the sandbox."""
    found = []
    for entry in sys.path:
        for name in ("mhsa_ref", "grader"):
            candidate = os.path.join(entry, name)
            if entry and os.path.isdir(candidate) and any(candidate.startswith(p.rstrip("/") + "/") for p in paths):
                found.append(candidate)
    return sorted(set(found))


def _read_only_paths() -> list[str]:
    paths = {"/usr", "/etc", sys.base_prefix, sys.prefix, sysconfig.get_paths()["purelib"], str(sandbox_dir()),
             os.path.realpath(sys.executable)}
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.exists(top):
            paths.add(top)
    return sorted(p for p in paths if os.path.exists(p))


def command(limits: Limits, *, sandboxed: bool = True) -> list[str]:
    """The command that starts one worker, inside bubblewrap unless told otherwise.

    The worker imports `mhsa_ref` from the folder this process imported it from (bound read-only in
    the sandbox), not from wherever the environment's paths point: a copy of the course next to the
    checkout it was installed from grades with its own checks.
    """
    from grader.sandboxed.worker import BOOT

    python = [sys.executable, "-I", "-c", BOOT, str(sandbox_dir())]
    if not sandboxed:
        return python
    if not os.path.exists(BWRAP):
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so notebooks cannot be graded in a sandbox. Install it "
            "(Debian: apt-get install bubblewrap; `make system-packages` does it), or grade without a sandbox "
            "at your own risk with UNSANDBOXED=1 (learner code then runs with your permissions).")
    args = [BWRAP, "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grader", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "MPLBACKEND", "Agg",
            "--setenv", "MPLCONFIGDIR", "/tmp", "--setenv", "OMP_NUM_THREADS", "1",
            "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.tmp_mb * 2**20),
            "--tmpfs", "/tmp", "--chdir", "/tmp"]
    paths = _read_only_paths()
    # the folders above each bound path, traversable by the worker (bwrap would make them 0700)
    ancestors = sorted({str(parent) for p in paths for parent in Path(p).parents if str(parent) not in ("/", "/tmp")}
                       - set(paths), key=lambda a: a.count("/"))
    for folder in ancestors:
        args += ["--perms", "0755", "--dir", folder]
    for path in paths:
        args += ["--ro-bind", path, path]
    for device in gpu_devices():  # the GPU, where the machine has one: the checks' CUDA runs call learner code on it
        args += ["--dev-bind", device, device]
    for copy in _installed_copies(paths):
        if not copy.startswith(str(sandbox_dir())):
            args += ["--tmpfs", copy]
    if os.geteuid() == 0:  # give up root inside: limits on processes do not apply to root
        args += ["--", SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs",
                 "--inh-caps=-all", "--bounding-set=-all"]
    else:
        args += ["--unshare-user", "--cap-drop", "ALL", "--"]
    return args + python + ["--in-sandbox"]


class WorkerGone(RuntimeError):
    """The worker was gone before it took the notebook (a notebook before this one killed it)."""


class Worker:
    """One sandboxed worker process, fed one notebook at a time.

    Every read from it has a deadline, kept here, outside the sandbox: the worker's own time limits
    cannot help if a notebook stops the worker itself (SIGSTOP from its child), and a grader must
    never wait forever on one notebook.
    """

    START_S = 120  # a worker that has not said it is ready by then is not going to
    MARGIN_S = 60  # beyond the notebook's own wall-time limit, which the worker enforces

    def __init__(self, limits: Limits, *, sandboxed: bool = True) -> None:
        self.limits = limits
        started = time.monotonic()
        self._buffer = bytearray()
        self.errors = tempfile.TemporaryFile(mode="w+")  # the worker's own stderr: why it could not start
        self.process = subprocess.Popen(command(limits, sandboxed=sandboxed), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors, bufsize=0)
        first = self._readline(started + self.START_S) or ""
        try:
            ready = json.loads(first or "{}")
        except ValueError:
            ready = {}
        where = "in its sandbox" if sandboxed else "(unsandboxed)"
        if not isinstance(ready, dict) or ready.get("ready") is not True:
            said = self._said(first)
            self.close()
            raise SandboxUnavailable(f"the grading worker did not start {where}: {said}")
        for package in ("mhsa_ref", "grader"):
            expected = str(sandbox_dir() / package)
            if ready.get(package) != expected:
                self.close()
                raise SandboxUnavailable(f"the grading worker imported {package} from {ready.get(package)!r}, not "
                                         f"from {expected!r}, the sandbox's copy of the package this grader uses")
        self.cuda = ready.get("cuda") is True
        self.start_s = time.monotonic() - started  # the worker start: bubblewrap, imports, warm-up

    def _readline(self, deadline: float) -> str | None:
        """The worker's next line; None at the end of its output, or at the deadline (then it is killed)."""
        fd = self.process.stdout.fileno()
        self.timed_out = False
        scanned = 0  # no newline before here: a long line is searched once, not once per chunk
        while (end := self._buffer.find(b"\n", scanned)) < 0:
            scanned = len(self._buffer)
            left = deadline - time.monotonic()
            if left <= 0:
                self.timed_out = True
                self.kill()
                return None
            if not select.select([fd], [], [], min(left, 1.0))[0]:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        return line.decode(errors="replace")

    def _said(self, first: str) -> str:
        """The worker's last words: its stderr (a traceback's last lines), or its first line of output."""
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.errors.seek(0)
        lines = [line for line in self.errors.read().splitlines() if line.strip()]
        if lines:
            return "it said: " + " | ".join(lines[-6:])[-1200:]
        if self.timed_out:
            return f"it said nothing within {self.START_S} s and was killed"
        status = self.process.poll()
        return f"it said {first[:200]!r} and exited with status {status}"

    def session(self, job: dict) -> "Session":
        """Send one notebook; read its messages and send the judge's requests through the returned Session.

        Raises WorkerGone if the worker was gone before it took the notebook.
        """
        deadline = time.monotonic() + self.limits.notebook_s + self.MARGIN_S
        try:
            self._send({**job, "limits": self.limits.as_dict()}, deadline)
        except (OSError, ValueError) as e:  # a broken pipe: the worker has died
            raise WorkerGone(f"the grading worker was gone ({type(e).__name__})") from e
        return Session(self, job["job"], deadline)

    def _send(self, obj: dict, deadline: float | None = None) -> None:
        """Write one line to the worker, reading what it writes meanwhile (kept for `_readline`), by `deadline`.

        A worker whose notebook floods its output while the grader writes a large request would otherwise
        block both sides; past the deadline the worker is killed (then the caller reads its end).
        """
        data = memoryview((json.dumps(obj, separators=(",", ":")) + "\n").encode())
        fd_in, fd_out = self.process.stdin.fileno(), self.process.stdout.fileno()
        os.set_blocking(fd_in, False)
        try:
            while data:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self.timed_out = True
                    self.kill()
                    raise BrokenPipeError("the worker took no input before the deadline")
                readable, writable, _ = select.select([fd_out], [fd_in], [], 1.0 if left is None else min(left, 1.0))
                if writable:
                    try:
                        data = data[os.write(fd_in, data):]
                    except BlockingIOError:
                        pass
                if readable:
                    chunk = os.read(fd_out, 1 << 16)
                    if not chunk:
                        raise BrokenPipeError("the worker closed its output")
                    self._buffer += chunk
        finally:
            os.set_blocking(fd_in, True)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def close(self) -> None:
        self.kill()
        try:
            self.process.wait(timeout=30)
        finally:
            for stream in (self.process.stdin, self.process.stdout, self.errors):
                try:
                    stream.close()
                except OSError:
                    pass


class Session:
    """One notebook on a worker: its messages in order, and the judge's requests during its graded cells.

    Every read has the notebook's deadline (its wall-time limit and a margin); past it the worker is
    killed and the session ends with a message marked done that says why.
    """

    def __init__(self, worker: Worker, job: str, deadline: float) -> None:
        self.worker, self.job, self.deadline = worker, job, deadline
        self.done: dict | None = None
        self.heard = False
        self.notes: list[str] = []
        self._next_request = 0

    def next(self) -> dict | None:
        """The next message about this notebook; the one marked done last; None after it."""
        if self.done is not None:
            return None
        while (line := self.worker._readline(self.deadline)) is not None:
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if not isinstance(message, dict) or message.get("job") != self.job:
                continue
            self.heard = True
            if message.get("done"):
                self.done = message
            return message
        if self.worker.timed_out:
            reason = (f"the grading worker gave no answer within {self.worker.limits.notebook_s + Worker.MARGIN_S} s "
                      f"(stopped by the notebook?) and was killed")
        elif not self.heard:
            raise WorkerGone("the grading worker was gone")
        else:
            reason = "the grading worker itself stopped"
        self.done = {"job": self.job, "done": True, "status": None, "reason": reason}
        return self.done

    def request(self, payload: dict) -> dict:
        """Send the judge's request; the reply. Notes on the way are kept; the notebook's end raises TraceError."""
        from mhsa_ref.codec import TraceError

        if self.done is not None:
            raise TraceError(f"the notebook's process had stopped ({self.done.get('reason') or 'it ended'})")
        self._next_request += 1
        number = self._next_request
        try:
            self.worker._send({**payload, "job": self.job, "request": number}, self.deadline)
        except (OSError, ValueError):
            pass  # the worker is gone or was killed: its end is read below
        while (message := self.next()) is not None:
            if message.get("reply") == number:
                return message
            if "note" in message:
                self.notes.append(str(message["note"])[:500])
            if message.get("done"):
                break
        raise TraceError(f"the notebook's process stopped during this check: {self.done.get('reason') or 'it ended'}")

    def end(self, grade_id: str) -> None:
        """The judge is done with this graded cell: the notebook goes on."""
        if self.done is None:
            try:
                self.worker._send({"job": self.job, "end": grade_id}, self.deadline)
            except (OSError, ValueError):
                pass
