"""The judge: points decided outside the learner's process, against mhsa_ref.

A graded cell of this course is a list of named checks, `check.NAME(SYMBOL)` (hidden ones between
nbgrader's markers). `plan` reads them from the instructor's source notebook, never from the
learner's copy, so an edited, deleted, duplicated or metadata-stripped test cell changes nothing.
`judge_cell` runs those checks here, with the reference; each call of the learner's code crosses
the sandbox's wall (`remote`), so the learner's process computes its own outputs and never sees
the expected ones. Anything the judge cannot verify scores 0 with a flag that says why.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the worker imports this module; nbformat would cost it a second (worker.learner_cells)
    import nbformat

from mhsa_ref.checks._core import CheckFailure, Rules, invoker
from grader.sandboxed.remote import Remote, StandIn
from mhsa_ref.codec import TraceError

_CHECKS_IMPORT = re.compile(r"^from mhsa_ref\.checks import (\w+) as check\s*$", re.M)
_CHECK_CALL = re.compile(r"^check\.(\w+)\((\w+)\)$")


def check_calls(source: str) -> list[tuple[str, str]]:
    """(check, symbol) of every `check.NAME(SYMBOL)` line of a cell's source, in order."""
    return [m.groups() for line in source.splitlines() if (m := _CHECK_CALL.match(line.strip()))]


class PlanError(ValueError):
    """The instructor's notebook has a graded cell this grader cannot judge (not only check calls)."""


@dataclass(frozen=True)
class Cell:
    grade_id: str
    points: float
    checks: tuple[tuple[str, str], ...]  # (check function, learner symbol)


@dataclass(frozen=True)
class Plan:
    module: str  # e.g. "mhsa_ref.checks.split_heads"
    cells: tuple[Cell, ...]

    @property
    def total(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def bans(self) -> dict:
        """What the exercise forbids, for the sandbox to switch off (`bans.install`): every `Rules` of its checks."""
        from grader.sandboxed.remote import rules_payload

        checks = importlib.import_module(self.module)
        ops: dict[str, str] = {}
        python: dict[str, str] = {}
        for value in vars(checks).values():
            if isinstance(value, Rules):
                payload = rules_payload(value)
                ops.update(payload["ops"])
                python.update(payload["python"])
        return {"ops": ops, "python": python}


@dataclass
class Verdict:
    grade_id: str
    points: float
    earned: float = 0.0
    message: str = ""  # what the learner sees: the check's output, or why it failed
    flag: str = ""  # set when the record could not be trusted or was missing
    output: list[str] = field(default_factory=list)


def plan(source: nbformat.NotebookNode) -> Plan:
    """The graded cells of the instructor's notebook and the checks each one runs."""
    modules = {m for cell in source.cells if cell.cell_type == "code" for m in _CHECKS_IMPORT.findall(cell.source)}
    if len(modules) != 1:
        raise PlanError(f"expected one `from mhsa_ref.checks import NAME as check` in the notebook; found {sorted(modules)}")
    cells, seen = [], set()
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
        if grade_id in seen:
            raise PlanError(f"the instructor's notebook has two graded cells named {grade_id!r}")
        seen.add(grade_id)
        checks = []
        for line in cell.source.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            match = _CHECK_CALL.match(line)
            if not match:
                raise PlanError(f"graded cell {grade_id!r} has a line that is not a check call: {line!r}")
            checks.append((match.group(1), match.group(2)))
        if not checks:
            raise PlanError(f"graded cell {grade_id!r} calls no check")
        cells.append(Cell(grade_id, float(meta.get("points", 0)), tuple(checks)))
    module = f"mhsa_ref.checks.{modules.pop()}"
    checks_module = importlib.import_module(module)
    for cell in cells:
        for name, _ in cell.checks:
            if name not in getattr(checks_module, "__all__", ()):
                raise PlanError(f"graded cell {cell.grade_id!r} calls check.{name}, which {module} does not export")
    return Plan(module, tuple(cells))


NO_RECORD = "no record: the notebook stopped (a crash, sys.exit, a time or memory limit) before this cell"


def judge_cell(plan: Plan, cell: Cell, channel=None, *, missing: str | None = None, stopped: str = "",
               cuda: bool = False) -> Verdict:
    """The verdict of one graded cell: its checks run here, each learner call sent through `channel`.

    channel: a `remote` channel to the learner's process (None: the notebook never reached this cell);
    missing: a symbol the cell needs that the learner's namespace lacks; stopped: why it never did.
    """
    checks = importlib.import_module(plan.module)
    verdict = Verdict(cell.grade_id, cell.points)
    if channel is None:
        verdict.flag = verdict.message = stopped or NO_RECORD
        return verdict
    if missing:
        verdict.message = f"`{str(missing)[:60]}` is not defined: run the cell that defines it, or write it."
        return verdict
    out: list[str] = []
    remote = Remote(channel, cuda=cuda)
    try:
        with invoker(remote, sink=out):
            for name, symbol in cell.checks:
                getattr(checks, name)(StandIn(symbol))
    except TraceError as e:
        verdict.flag = verdict.message = f"record rejected: {e}"
    except NotImplementedError:
        verdict.message = "NotImplementedError: this function is not written yet."
    except (CheckFailure, AssertionError) as e:
        verdict.message = str(e)
    except Exception as e:  # noqa: BLE001 - fail closed: the judge could not conclude, so no points
        verdict.flag = verdict.message = f"the judge could not conclude ({type(e).__name__}: {e})"
    else:
        verdict.earned = cell.points
        verdict.message = "\n".join(out)
    verdict.output = list(out)
    return verdict
